//! Per-stream metrics from an [MS-QoE] `VQReportEvent` document.
//!
//! Lync / Skype for Business endpoints describe a finished (or ongoing) call in
//! an XML quality-of-experience report; UCWA clients are expected to put that
//! document in the `mediaQualityOfExperience` string of
//! `publishCallQualityFeedback`. To UCWA the string is opaque: a client may send
//! anything there, and the request succeeds regardless. So this extractor never
//! fails. It turns each `MediaLine` of a well-formed `VQReportEvent` into one
//! [`MediaStream`] in callq's units, and yields nothing for anything else (other
//! XML, plain text, base64, truncated or malicious documents). The raw string is
//! stored by the caller either way.
//!
//! Leniency follows `docs/reference/ms-qoe.md` §7: elements are matched by local name
//! in the `ms-rtcp-metrics` namespaces (any `ms-rtcp-metrics.vN`) or in none at
//! all, elements from foreign namespaces are ignored with everything below them,
//! order is not relied upon, every metric is optional, and a value that does not
//! parse or is out of range is dropped on its own without discarding the rest.
//!
//! Safety: a document type declaration makes the whole document unacceptable
//! (no DTD is processed, so no entity is ever defined or expanded; only the five
//! predefined entities and character references are decoded). Work is bounded
//! by the input size and the caps of `xml_bounds` (attributes per element,
//! namespace declarations, elements, nesting depth), checked on each start tag
//! before its attributes are looked at, so the walk is linear in the input; and
//! by the number of media lines read. A character XML does not allow (U+0000
//! among them) makes the document unusable.

use std::net::IpAddr;

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::xml_bounds::{Budget, Limits, forbidden_character};
use crate::explain::{Ignored, Provenance, Source, SourceKind, Trace, number_text};
use crate::model::{MediaStream, Modality};

/// The Microsoft server refuses QoE reports larger than 300 KB, so no real
/// producer sends more; anything bigger is not worth parsing.
const MAX_DOCUMENT_BYTES: usize = 300 * 1024;
/// A call has at most a dozen media lines per session (audio, video, panoramic
/// video, six extra video lines, data, sharing); several sessions may share a
/// document. Media lines past this many are not extracted.
const MAX_MEDIA_LINES: usize = 64;
/// Leaf values are short numbers and addresses; longer text is not a value.
const MAX_LEAF_BYTES: usize = 256;
/// Labels the spec lists are a dozen characters; keep room for unknown ones.
const MAX_LABEL_CHARS: usize = 128;

/// The media streams described by `qoe`, one per `MediaLine`, numbered from 0
/// in document order across all session reports. Empty when `qoe` is not a
/// well-formed `VQReportEvent` document (see the module documentation).
pub fn extract_streams(qoe: &str) -> Vec<MediaStream> {
    extract_streams_traced(qoe, &Trace::off())
}

/// [`extract_streams`], recording provenance into `trace`: a row per value
/// kept, an ignored row per value dropped, and one when the document as a
/// whole yields nothing. Rows of a walk that ends unusable are discarded
/// with its streams.
pub fn extract_streams_traced(qoe: &str, trace: &Trace) -> Vec<MediaStream> {
    let document = qoe.trim_start_matches('\u{feff}');
    let unusable = |why: &str| {
        trace.ignored(|| Ignored {
            source: xml_path("/".into()),
            reason: format!("mediaQualityOfExperience {why}: no streams, the text is kept as sent"),
        });
        Vec::new()
    };
    if document.len() > MAX_DOCUMENT_BYTES {
        return unusable("is larger than 300 KB");
    }
    if forbidden_character(document).is_some() {
        return unusable("holds a character XML does not allow");
    }
    let walked = trace.child();
    let Ok(lines) = walk(document, &walked) else {
        return unusable("is not a well-formed MS-QoE VQReportEvent document");
    };
    let streams = lines
        .into_iter()
        .enumerate()
        .map(|(ordinal, line)| line.into_stream(ordinal as i32, &walked))
        .collect();
    trace.absorb(walked);
    streams
}

fn xml_path(at: String) -> Source {
    Source {
        kind: SourceKind::XmlPath,
        at,
    }
}

/// Where in the document the media line being read sits, for its rows.
#[derive(Clone, Copy)]
struct Place {
    /// `VQSessionReport` or `VQSessionIntervalReport`.
    report: &'static str,
    /// The line's position among the document's media lines (its stream
    /// ordinal).
    ordinal: usize,
}

impl Place {
    /// The XML path of the element `rest` below the media line.
    fn at(self, rest: &[&str]) -> Source {
        let mut at = format!(
            "/VQReportEvent/{}/MediaLine[{}]",
            self.report,
            self.ordinal + 1
        );
        for name in rest {
            at.push('/');
            at.push_str(name);
        }
        xml_path(at)
    }

    fn field(self, name: &str) -> String {
        format!("streams[{}].{name}", self.ordinal)
    }

    /// `parsed` (the value of the element at `rest`, read from `raw`), with
    /// its row: kept as `field` with `conversion`, or dropped as unusable.
    fn keep<T: Copy>(
        self,
        trace: &Trace,
        rest: &[&str],
        field: impl FnOnce() -> String,
        raw: &str,
        parsed: Option<T>,
        conversion: impl FnOnce(T) -> Option<String>,
    ) -> Option<T> {
        match parsed {
            Some(value) => trace.field(|| Provenance {
                field: self.field(&field()),
                source: self.at(rest),
                raw: Some(raw.to_owned()),
                conversion: conversion(value),
                model: None,
            }),
            None => trace.ignored(|| Ignored {
                source: self.at(rest),
                reason: format!("{raw:?} is not a usable value here: dropped"),
            }),
        }
        parsed
    }
}

/// Why a document yields nothing. Only used to leave the walk early; callers
/// see an empty result, never the reason.
struct Unusable;

/// Reads the whole document, collecting media lines; `Err` for anything that is
/// not a complete, well-formed `VQReportEvent`.
fn walk(document: &str, trace: &Trace) -> Result<Vec<MediaLine>, Unusable> {
    let mut reader = NsReader::from_str(document);
    reader.config_mut().expand_empty_elements = true;

    // Local names of the open elements; unknown or foreign ones are "" so that
    // nothing below them matches a known path.
    let mut path: Vec<&'static str> = Vec::new();
    let mut root_seen = false;
    let mut lines: Vec<MediaLine> = Vec::new();
    let mut current: Option<MediaLine> = None;
    let mut text = Leaf::default();
    // Real reports are about ten levels deep; deeper documents are refused
    // rather than walked (see `Limits::MS_QOE`).
    let mut budget = Budget::new(Limits::MS_QOE);

    loop {
        let (namespace, event) = reader.read_resolved_event().map_err(|_| Unusable)?;
        match event {
            Event::DocType(_) => return Err(Unusable),
            Event::Start(start) => {
                if path.is_empty() {
                    if root_seen {
                        return Err(Unusable); // a second root element
                    }
                    root_seen = true;
                }
                budget.admit(&start, path.len()).map_err(|_| Unusable)?;
                let name = if is_qoe_namespace(&namespace) {
                    known_name(start.local_name().as_ref())
                } else {
                    ""
                };
                path.push(name);
                text.clear();
                match path.as_slice() {
                    [root] if *root != "VQReportEvent" => return Err(Unusable),
                    [_, report, "MediaLine"] if is_session_report(report) => {
                        let place = Place {
                            report,
                            ordinal: lines.len(),
                        };
                        current =
                            (lines.len() < MAX_MEDIA_LINES).then(|| MediaLine::open(&start, place));
                        if current.is_none() {
                            trace.ignored(|| Ignored {
                                source: xml_path(format!("/VQReportEvent/{report}/MediaLine")),
                                reason: format!(
                                    "media lines past the first {MAX_MEDIA_LINES} are not read"
                                ),
                            });
                        }
                    }
                    [_, report, "MediaLine", rest @ ..] if is_session_report(report) => {
                        if let Some(line) = current.as_mut() {
                            line.on_start(rest);
                        }
                    }
                    _ => {}
                }
            }
            Event::End(_) => {
                match path.as_slice() {
                    [_, report, "MediaLine"] if is_session_report(report) => {
                        lines.extend(current.take());
                    }
                    [_, report, "MediaLine", rest @ ..] if is_session_report(report) => {
                        if let (Some(line), Some(value)) = (current.as_mut(), text.value()) {
                            line.on_value(rest, value, trace);
                        }
                    }
                    _ => {}
                }
                text.clear();
                path.pop();
            }
            Event::Text(chunk) => {
                if path.is_empty() {
                    // Only markup and white space may surround the root element.
                    if !chunk.iter().all(u8::is_ascii_whitespace) {
                        return Err(Unusable);
                    }
                } else if current.is_some() {
                    match chunk.unescape() {
                        Ok(decoded) => text.push(&decoded),
                        Err(_) => text.spoil(),
                    }
                }
            }
            Event::CData(chunk) => {
                if path.is_empty() {
                    return Err(Unusable);
                }
                if current.is_some() {
                    match chunk.decode() {
                        Ok(decoded) => text.push(&decoded),
                        Err(_) => text.spoil(),
                    }
                }
            }
            Event::Eof => {
                return if root_seen && path.is_empty() {
                    Ok(lines)
                } else {
                    Err(Unusable) // empty, or truncated inside an element
                };
            }
            // Declarations, comments and processing instructions carry no metrics.
            _ => {}
        }
    }
}

/// Whether an element belongs to the QoE vocabulary: one of the
/// `ms-rtcp-metrics` namespaces, no namespace at all (producers and public
/// parsers that ignore namespaces), or an undeclared prefix (a sloppy producer
/// writing `v3:` without binding it). A prefix bound to any other namespace is
/// an extension and is ignored.
fn is_qoe_namespace(namespace: &ResolveResult) -> bool {
    match namespace {
        ResolveResult::Unbound | ResolveResult::Unknown(_) => true,
        ResolveResult::Bound(uri) => {
            let uri = uri.as_ref();
            uri == b"ms-rtcp-metrics"
                || uri
                    .strip_prefix(b"ms-rtcp-metrics.v")
                    .is_some_and(|version| {
                        !version.is_empty() && version.iter().all(u8::is_ascii_digit)
                    })
        }
    }
}

/// End-of-call and interval (mid-call) reports share one type; both describe
/// media lines the same way.
fn is_session_report(name: &str) -> bool {
    name == "VQSessionReport" || name == "VQSessionIntervalReport"
}

/// The element names the extractor looks at, as static strings so the open
/// element path can be matched with slice patterns; every other name is "".
fn known_name(local: &[u8]) -> &'static str {
    const KNOWN: &[&str] = &[
        "VQReportEvent",
        "VQSessionReport",
        "VQSessionIntervalReport",
        "MediaLine",
        "Description",
        "LocalAddr",
        "RemoteAddr",
        "IPAddr",
        "Port",
        "InboundStream",
        "OutboundStream",
        "Network",
        "Jitter",
        "InterArrival",
        "InterArrivalMax",
        "PacketLoss",
        "LossRate",
        "LossRateMax",
        "Delay",
        "RoundTrip",
        "RoundTripMax",
        "Utilization",
        "Packets",
        "Payload",
        "Audio",
        "Video",
        "ApplicationSharing",
        "VideoBitRateAvg",
        "VideoFrameRateAvg",
        "QualityEstimates",
        "RecvListenMOS",
        "NetworkMOS",
        "OverallAvg",
        "LocalConversationalMOS",
    ];
    KNOWN
        .iter()
        .copied()
        .find(|known| known.as_bytes() == local)
        .unwrap_or("")
}

/// The text content of the element being read, bounded.
#[derive(Default)]
struct Leaf {
    text: String,
    /// Too long, or held an undecodable reference: not a usable value.
    spoiled: bool,
}

impl Leaf {
    fn clear(&mut self) {
        self.text.clear();
        self.spoiled = false;
    }

    fn push(&mut self, chunk: &str) {
        if self.text.len() + chunk.len() > MAX_LEAF_BYTES {
            self.spoiled = true;
        } else if !self.spoiled {
            self.text.push_str(chunk);
        }
    }

    fn spoil(&mut self) {
        self.spoiled = true;
    }

    fn value(&self) -> Option<&str> {
        let value = self.text.trim();
        (!self.spoiled && !value.is_empty()).then_some(value)
    }
}

/// Which side of the media line a `StreamType` element describes: media the
/// reporting endpoint received (`InboundStream`) or sent (`OutboundStream`).
#[derive(Clone, Copy)]
enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    fn of(name: &str) -> Option<Direction> {
        match name {
            "InboundStream" => Some(Direction::Inbound),
            "OutboundStream" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// Metrics of one stream direction, in callq units.
#[derive(Default)]
struct Flow {
    packets: Option<i64>,
    avg_jitter_ms: Option<f64>,
    max_jitter_ms: Option<f64>,
    avg_loss_pct: Option<f64>,
    max_loss_pct: Option<f64>,
    avg_rtt_ms: Option<f64>,
    max_rtt_ms: Option<f64>,
    avg_bitrate_bps: Option<f64>,
    avg_frame_rate: Option<f64>,
}

impl Flow {
    /// Stores the value of the element at `path` (below `InboundStream` or
    /// `OutboundStream`, which `full` includes), if it is one callq keeps.
    fn on_value(
        &mut self,
        path: &[&str],
        value: &str,
        direction: &str,
        full: &[&str],
        place: Place,
        trace: &Trace,
    ) {
        let ms = |field: &str| {
            let field = || field.replace("{dir}", direction);
            place.keep(trace, full, field, value, milliseconds(value), |v| {
                Some(format!("{value} → {} ms", number_text(v)))
            })
        };
        let percent = |field: &str, name: &str| {
            let field = || field.replace("{dir}", direction);
            place.keep(trace, full, field, value, fraction_as_percent(value), |v| {
                Some(format!("{name} {value} → {} %", number_text(v)))
            })
        };
        let plain = |field: &str| {
            let field = || field.replace("{dir}", direction);
            place.keep(trace, full, field, value, non_negative(value), |_| None)
        };
        match path {
            ["Network", "Jitter", "InterArrival"] => self.avg_jitter_ms = ms("avg_{dir}_jitter_ms"),
            ["Network", "Jitter", "InterArrivalMax"] => {
                self.max_jitter_ms = ms("max_{dir}_jitter_ms")
            }
            ["Network", "PacketLoss", "LossRate"] => {
                self.avg_loss_pct = percent("avg_{dir}_loss_pct", "LossRate")
            }
            ["Network", "PacketLoss", "LossRateMax"] => {
                self.max_loss_pct = percent("max_{dir}_loss_pct", "LossRateMax")
            }
            ["Network", "Delay", "RoundTrip"] => self.avg_rtt_ms = ms("avg_{dir}_rtt_ms"),
            ["Network", "Delay", "RoundTripMax"] => self.max_rtt_ms = ms("max_{dir}_rtt_ms"),
            ["Network", "Utilization", "Packets"] => {
                let field = || format!("{direction}_packets");
                self.packets = place.keep(trace, full, field, value, count(value), |n| {
                    (n.to_string() != value).then(|| format!("{value} → {n}"))
                });
            }
            ["Payload", "Video", "VideoBitRateAvg"] => {
                self.avg_bitrate_bps = plain("avg_{dir}_bitrate_bps")
            }
            ["Payload", "Video", "VideoFrameRateAvg"] => {
                self.avg_frame_rate = plain("avg_{dir}_frame_rate")
            }
            _ => {}
        }
    }
}

/// The MOS a media line reports, where it sits and the model name it is
/// stored under.
struct ReportedMos<'a> {
    score: f64,
    /// The text as sent (kept only when explain records).
    raw: Option<&'a str>,
    model: &'static str,
    /// Its element path below the media line.
    at: &'static [&'static str],
}

/// One `MediaLine` being read.
struct MediaLine {
    place: Place,
    label: Option<String>,
    /// The `Label` attribute as sent when it was not kept as `label`, for
    /// explain.
    raw_label: Option<String>,
    /// The payload element kind seen under a stream (`Audio`, `Video`,
    /// `ApplicationSharing`): the fallback when the label says nothing.
    payload_modality: Option<Modality>,
    local: Address,
    remote: Address,
    inbound: Flow,
    outbound: Flow,
    /// Each MOS, with its text as sent when explain is recording.
    network_mos: Option<(f64, Option<String>)>,
    listening_mos: Option<(f64, Option<String>)>,
    conversational_mos: Option<(f64, Option<String>)>,
}

/// An `AddrType` element (`LocalAddr`, `RemoteAddr`).
#[derive(Default)]
struct Address {
    ip: Option<String>,
    port: Option<i32>,
}

impl Address {
    /// `side` is `local` or `remote`; `full` the element's path below the
    /// media line.
    fn on_value(
        &mut self,
        name: &str,
        value: &str,
        side: &str,
        full: &[&str],
        place: Place,
        trace: &Trace,
    ) {
        match name {
            // Canonical text, so one address is always written one way.
            "IPAddr" => {
                let ip = value.parse::<IpAddr>().ok();
                let field = || format!("{side}_ip");
                self.ip = place
                    .keep(trace, full, field, value, ip, |ip| {
                        (ip.to_string() != value)
                            .then(|| format!("{value} → {ip} (canonical form)"))
                    })
                    .map(|ip| ip.to_string());
            }
            "Port" => {
                let port = count(value)
                    .and_then(|port| u16::try_from(port).ok())
                    .map(i32::from);
                let field = || format!("{side}_port");
                self.port = place.keep(trace, full, field, value, port, |p| {
                    (p.to_string() != value).then(|| format!("{value} → {p}"))
                });
            }
            _ => {}
        }
    }
}

impl MediaLine {
    fn open(start: &BytesStart, place: Place) -> MediaLine {
        let sent = start
            .attributes()
            .flatten()
            .find(|attribute| attribute.key.as_ref() == b"Label")
            .and_then(|attribute| attribute.unescape_value().ok())
            .map(|label| label.trim().to_owned());
        // A label that is not kept is kept aside, for explain's row only.
        let (label, raw_label) = match sent {
            Some(label) if !label.is_empty() && label.chars().count() <= MAX_LABEL_CHARS => {
                (Some(label), None)
            }
            other => (None, other),
        };
        MediaLine {
            place,
            label,
            raw_label,
            payload_modality: None,
            local: Address::default(),
            remote: Address::default(),
            inbound: Flow::default(),
            outbound: Flow::default(),
            network_mos: None,
            listening_mos: None,
            conversational_mos: None,
        }
    }

    /// An element opened at `path` below the `MediaLine`.
    fn on_start(&mut self, path: &[&str]) {
        if let [stream, "Payload", payload] = path
            && Direction::of(stream).is_some()
            && self.payload_modality.is_none()
        {
            self.payload_modality = match *payload {
                "Audio" => Some(Modality::Audio),
                "Video" => Some(Modality::Video),
                "ApplicationSharing" => Some(Modality::ScreenSharing),
                _ => None,
            };
        }
    }

    /// The text of the element at `path` below the `MediaLine`, closed.
    fn on_value(&mut self, path: &[&str], value: &str, trace: &Trace) {
        let place = self.place;
        // A MOS is kept as `mos` only if it is the one chosen
        // (`reported_mos`); its row is written then, so a dropped one is
        // reported here.
        let mos_or_dropped = |value: &str| {
            let score = mos(value);
            if score.is_none() {
                trace.ignored(|| Ignored {
                    source: place.at(path),
                    reason: format!("{value:?} is not a MOS on the 1..5 scale: dropped"),
                });
            }
            score.map(|score| (score, trace.enabled().then(|| value.to_owned())))
        };
        match path {
            ["Description", "LocalAddr", name] => self
                .local
                .on_value(name, value, "local", path, place, trace),
            ["Description", "RemoteAddr", name] => self
                .remote
                .on_value(name, value, "remote", path, place, trace),
            [
                "InboundStream",
                "QualityEstimates",
                "Audio",
                "NetworkMOS",
                "OverallAvg",
            ] => {
                self.network_mos = mos_or_dropped(value);
            }
            [
                "InboundStream",
                "QualityEstimates",
                "Audio",
                "RecvListenMOS",
            ] => self.listening_mos = mos_or_dropped(value),
            ["LocalConversationalMOS"] => self.conversational_mos = mos_or_dropped(value),
            [stream, rest @ ..] => match Direction::of(stream) {
                Some(Direction::Inbound) => self
                    .inbound
                    .on_value(rest, value, "inbound", path, place, trace),
                Some(Direction::Outbound) => self
                    .outbound
                    .on_value(rest, value, "outbound", path, place, trace),
                None => {}
            },
            [] => {}
        }
    }

    /// The modality the label names (`main-audio`, `main-video`,
    /// `panoramic-video`, `main-video1`…), else the payload kind, else unknown.
    fn modality(&self) -> Modality {
        let label = self
            .label
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if label.contains("audio") {
            Modality::Audio
        } else if label.contains("video") {
            Modality::Video
        } else if label.contains("applicationsharing") {
            Modality::ScreenSharing
        } else {
            self.payload_modality.unwrap_or(Modality::Unknown)
        }
    }

    /// The reported MOS callq keeps, with its source. The network MOS comes
    /// first: it rates only what the network did to the received audio (codec,
    /// loss, jitter), which is what callq's own E-model estimates rate, and the
    /// Microsoft degradation figures are measured against it. The received
    /// listening MOS (which also reflects the sender's microphone and room) and
    /// the conversational MOS (a whole-conversation estimate) are fallbacks. The
    /// send listening MOS is never used: it rates audio before it crossed the
    /// network.
    fn reported_mos(&self) -> Option<ReportedMos<'_>> {
        let candidates: [(_, _, &'static [&'static str]); 3] = [
            (
                &self.network_mos,
                "ms-qoe/OverallAvgNetworkMOS",
                &[
                    "InboundStream",
                    "QualityEstimates",
                    "Audio",
                    "NetworkMOS",
                    "OverallAvg",
                ],
            ),
            (
                &self.listening_mos,
                "ms-qoe/RecvListenMOS",
                &[
                    "InboundStream",
                    "QualityEstimates",
                    "Audio",
                    "RecvListenMOS",
                ],
            ),
            (
                &self.conversational_mos,
                "ms-qoe/LocalConversationalMOS",
                &["LocalConversationalMOS"],
            ),
        ];
        candidates.into_iter().find_map(|(mos, model, at)| {
            mos.as_ref().map(|(score, raw)| ReportedMos {
                score: *score,
                raw: raw.as_deref(),
                model,
                at,
            })
        })
    }

    /// The rows of what is decided only once the line is complete: its
    /// ordinal, label, modality and reported MOS.
    fn trace_line(&self, modality: Modality, trace: &Trace) {
        let place = self.place;
        trace.field(|| Provenance {
            field: place.field("ordinal"),
            source: place.at(&[]),
            raw: None,
            conversion: Some(format!("media line {} of the document", place.ordinal + 1)),
            model: None,
        });
        let label_at = || {
            let mut source = place.at(&[]);
            source.at.push_str("/@Label");
            source
        };
        match (&self.label, &self.raw_label) {
            (Some(label), _) => trace.field(|| Provenance {
                field: place.field("label"),
                source: label_at(),
                raw: Some(label.clone()),
                conversion: None,
                model: None,
            }),
            (None, Some(raw)) if !raw.is_empty() => trace.ignored(|| Ignored {
                source: label_at(),
                reason: format!("a label longer than {MAX_LABEL_CHARS} characters: dropped"),
            }),
            _ => {}
        }
        let from_label = self.label.as_deref().is_some_and(|l| {
            ["audio", "video", "applicationsharing"]
                .iter()
                .any(|k| l.to_ascii_lowercase().contains(k))
        });
        trace.field(|| Provenance {
            field: place.field("modality"),
            source: if from_label {
                label_at()
            } else {
                place.at(&["InboundStream|OutboundStream", "Payload"])
            },
            raw: if from_label { self.label.clone() } else { None },
            conversion: Some(if from_label {
                format!(
                    "label {:?} → {}",
                    self.label.as_deref().unwrap_or_default(),
                    modality.as_str()
                )
            } else {
                format!(
                    "the payload element (label says nothing) → {}",
                    modality.as_str()
                )
            }),
            model: None,
        });
        if let Some(ReportedMos {
            score,
            raw,
            model,
            at,
        }) = self.reported_mos()
        {
            trace.field(|| Provenance {
                field: place.field("mos"),
                source: place.at(at),
                raw: raw.map(str::to_owned),
                conversion: Some(format!(
                    "{} → {} (reported by the endpoint; mos_model {model})",
                    raw.unwrap_or_default(),
                    number_text(score)
                )),
                model: None,
            });
        }
    }

    fn into_stream(self, ordinal: i32, trace: &Trace) -> MediaStream {
        let modality = self.modality();
        if trace.enabled() {
            self.trace_line(modality, trace);
        }
        let (mos, mos_model) = match self.reported_mos() {
            Some(reported) => (Some(reported.score), Some(reported.model.to_owned())),
            None => (None, None),
        };
        MediaStream {
            ordinal,
            modality: Some(modality),
            label: self.label,
            inbound_packets: self.inbound.packets,
            outbound_packets: self.outbound.packets,
            avg_inbound_jitter_ms: self.inbound.avg_jitter_ms,
            max_inbound_jitter_ms: self.inbound.max_jitter_ms,
            avg_outbound_jitter_ms: self.outbound.avg_jitter_ms,
            max_outbound_jitter_ms: self.outbound.max_jitter_ms,
            avg_inbound_loss_pct: self.inbound.avg_loss_pct,
            max_inbound_loss_pct: self.inbound.max_loss_pct,
            avg_outbound_loss_pct: self.outbound.avg_loss_pct,
            max_outbound_loss_pct: self.outbound.max_loss_pct,
            avg_inbound_rtt_ms: self.inbound.avg_rtt_ms,
            max_inbound_rtt_ms: self.inbound.max_rtt_ms,
            avg_outbound_rtt_ms: self.outbound.avg_rtt_ms,
            max_outbound_rtt_ms: self.outbound.max_rtt_ms,
            avg_inbound_bitrate_bps: self.inbound.avg_bitrate_bps,
            avg_outbound_bitrate_bps: self.outbound.avg_bitrate_bps,
            avg_inbound_frame_rate: self.inbound.avg_frame_rate,
            avg_outbound_frame_rate: self.outbound.avg_frame_rate,
            local_ip: self.local.ip,
            local_port: self.local.port,
            remote_ip: self.remote.ip,
            remote_port: self.remote.port,
            mos,
            mos_model,
            ..MediaStream::default()
        }
    }
}

/// A finite number; `xs:int` fields are read as floats too, since some
/// producers write `12.0`.
fn number(value: &str) -> Option<f64> {
    value
        .parse::<f64>()
        .ok()
        .filter(|number| number.is_finite())
}

fn non_negative(value: &str) -> Option<f64> {
    number(value).filter(|number| *number >= 0.0)
}

/// Jitter and round-trip times are reported in milliseconds already.
fn milliseconds(value: &str) -> Option<f64> {
    non_negative(value)
}

/// MS-QoE loss rates are fractions 0..1; callq stores percent 0..100. A value
/// above 1 comes from a broken producer and is dropped, not clamped.
fn fraction_as_percent(value: &str) -> Option<f64> {
    number(value)
        .filter(|fraction| (0.0..=1.0).contains(fraction))
        .map(|fraction| fraction * 100.0)
}

/// A whole, non-negative count (packets, ports); `"15012.0"` is accepted.
fn count(value: &str) -> Option<i64> {
    let number = non_negative(value)?;
    // Below 2^53 every whole f64 is exact, and the cast cannot saturate.
    (number.fract() == 0.0 && number < 9_007_199_254_740_992.0).then_some(number as i64)
}

/// A mean opinion score on the 1..5 scale; anything else is not a MOS.
fn mos(value: &str) -> Option<f64> {
    number(value).filter(|score| (1.0..=5.0).contains(score))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The example document of `docs/reference/ms-qoe.md` §8: a five-minute
    /// wideband audio call reported by the caller.
    const SAMPLE: &str = include_str!("../../../tests/data/ms-qoe-sample.xml");

    /// Streams equal field by field, floats within rounding noise (the
    /// fraction-to-percent conversion is not exact in binary).
    fn assert_streams_eq(actual: &[MediaStream], expected: &[MediaStream]) {
        fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
            match (a, b) {
                (serde_json::Value::Number(a), serde_json::Value::Number(b)) => {
                    (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-9
                }
                (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                    a.len() == b.len()
                        && a.iter()
                            .all(|(key, value)| b.get(key).is_some_and(|other| close(value, other)))
                }
                (serde_json::Value::Array(a), serde_json::Value::Array(b)) => {
                    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| close(a, b))
                }
                (a, b) => a == b,
            }
        }
        let actual_json = serde_json::to_value(actual).unwrap();
        let expected_json = serde_json::to_value(expected).unwrap();
        assert!(
            close(&actual_json, &expected_json),
            "actual:   {actual:#?}\nexpected: {expected:#?}"
        );
    }

    /// What §8 "Expected extraction" says, in callq's model and units.
    fn sample_stream() -> MediaStream {
        MediaStream {
            ordinal: 0,
            modality: Some(Modality::Audio),
            label: Some("main-audio".into()),
            inbound_packets: Some(14950),
            outbound_packets: Some(15012),
            avg_inbound_jitter_ms: Some(4.0),
            max_inbound_jitter_ms: Some(19.0),
            avg_outbound_jitter_ms: Some(3.0),
            max_outbound_jitter_ms: Some(11.0),
            avg_inbound_loss_pct: Some(1.2),
            max_inbound_loss_pct: Some(6.3),
            avg_outbound_loss_pct: Some(0.4),
            max_outbound_loss_pct: Some(2.0),
            avg_inbound_rtt_ms: None,
            max_inbound_rtt_ms: None,
            avg_outbound_rtt_ms: Some(48.0),
            max_outbound_rtt_ms: Some(112.0),
            local_ip: Some("10.20.30.41".into()),
            local_port: Some(50012),
            remote_ip: Some("10.20.44.17".into()),
            remote_port: Some(50388),
            mos: Some(4.02),
            mos_model: Some("ms-qoe/OverallAvgNetworkMOS".into()),
            ..MediaStream::default()
        }
    }

    /// A minimal document around the given media lines.
    fn document(media_lines: &str) -> String {
        format!(
            r#"<VQReportEvent xmlns="ms-rtcp-metrics"><VQSessionReport SessionId="s"><Endpoint Name="e"/><DialogInfo CallId="c" FromTag="f" ToTag="t"/>{media_lines}</VQSessionReport></VQReportEvent>"#
        )
    }

    /// One audio media line whose inbound stream holds `inbound`.
    fn with_inbound(inbound: &str) -> Vec<MediaStream> {
        extract_streams(&document(&format!(
            r#"<MediaLine Label="main-audio"><InboundStream>{inbound}</InboundStream></MediaLine>"#
        )))
    }

    #[test]
    fn sample_document_gives_the_expected_extraction() {
        assert_streams_eq(&extract_streams(SAMPLE), &[sample_stream()]);
    }

    #[test]
    fn sample_inside_whitespace_and_a_byte_order_mark_is_read() {
        let padded = format!("\u{feff}\n  {SAMPLE}\n\n");
        assert_streams_eq(&extract_streams(&padded), &[sample_stream()]);
    }

    #[test]
    fn other_prefixes_for_the_same_namespaces_are_accepted() {
        let prefixed = SAMPLE
            .replace(r#"xmlns="ms-rtcp-metrics""#, r#"xmlns:q="ms-rtcp-metrics""#)
            .replace("<", "<q:")
            .replace("<q:/", "</q:")
            .replace("<q:?xml", "<?xml")
            .replace("q:v2:", "v2:")
            .replace("q:v3:", "v3:");
        assert!(prefixed.contains("<q:VQReportEvent") && prefixed.contains("</q:MediaLine>"));
        assert_streams_eq(&extract_streams(&prefixed), &[sample_stream()]);
    }

    #[test]
    fn documents_without_namespaces_are_accepted() {
        let bare = SAMPLE
            .replace(r#" xmlns="ms-rtcp-metrics""#, "")
            .replace(r#" xmlns:v2="ms-rtcp-metrics.v2""#, "")
            .replace(r#" xmlns:v3="ms-rtcp-metrics.v3""#, "");
        assert!(!bare.contains("xmlns"));
        assert_streams_eq(&extract_streams(&bare), &[sample_stream()]);
    }

    #[test]
    fn elements_in_later_versioned_namespaces_are_read() {
        let streams = extract_streams(
            r#"<VQReportEvent xmlns="ms-rtcp-metrics" xmlns:v5="ms-rtcp-metrics.v5" xmlns:v12="ms-rtcp-metrics.v12">
                 <v5:VQSessionReport><v12:MediaLine Label="main-audio"><v5:InboundStream><Network><Jitter>
                   <v12:InterArrival>7</v12:InterArrival></Jitter></Network></v5:InboundStream></v12:MediaLine>
                 </v5:VQSessionReport></VQReportEvent>"#,
        );
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].avg_inbound_jitter_ms, Some(7.0));
    }

    #[test]
    fn undeclared_prefixes_are_tolerated() {
        let streams = with_inbound(
            "<v9:Network><Jitter><InterArrival>5</InterArrival></Jitter></v9:Network>",
        );
        assert_eq!(streams[0].avg_inbound_jitter_ms, Some(5.0));
    }

    #[test]
    fn foreign_namespace_elements_are_ignored_with_their_content() {
        let streams = with_inbound(
            r#"<x:Network xmlns:x="urn:example:other"><Jitter><InterArrival>99</InterArrival></Jitter></x:Network>
               <Network xmlns:y="ms-rtcp-metrics.vX"><y:Jitter><InterArrival>98</InterArrival></y:Jitter>
               <Jitter><InterArrivalMax>12</InterArrivalMax></Jitter></Network>"#,
        );
        assert_eq!(streams[0].avg_inbound_jitter_ms, None);
        assert_eq!(streams[0].max_inbound_jitter_ms, Some(12.0));
    }

    #[test]
    fn a_root_outside_the_qoe_namespaces_yields_nothing() {
        let foreign = SAMPLE.replace(r#"xmlns="ms-rtcp-metrics""#, r#"xmlns="urn:example:other""#);
        assert!(extract_streams(&foreign).is_empty());
    }

    #[test]
    fn separators_and_unknown_extensions_change_nothing() {
        let extended = SAMPLE
            .replace(
                "<v3:MidCallReport>",
                "<v3:Separator3/><v4:WifiRSSI xmlns:v4=\"ms-rtcp-metrics.v4\">-60</v4:WifiRSSI><v3:MidCallReport>",
            )
            .replace("<InboundStream>", "<InboundStream Unknown=\"1\"><v2:Separator/><Future><Jitter>1</Jitter></Future>");
        assert_streams_eq(&extract_streams(&extended), &[sample_stream()]);
    }

    #[test]
    fn element_order_does_not_matter() {
        let reordered = document(
            r#"<MediaLine Label="main-audio">
                 <LocalConversationalMOS>3.1</LocalConversationalMOS>
                 <OutboundStream><Network><Delay><RoundTripMax>90</RoundTripMax><RoundTrip>40</RoundTrip></Delay></Network></OutboundStream>
                 <Description><RemoteAddr><Port>2</Port><IPAddr>192.0.2.2</IPAddr></RemoteAddr></Description>
               </MediaLine>"#,
        );
        let stream = &extract_streams(&reordered)[0];
        assert_eq!(
            (stream.avg_outbound_rtt_ms, stream.max_outbound_rtt_ms),
            (Some(40.0), Some(90.0))
        );
        assert_eq!(
            (stream.remote_ip.as_deref(), stream.remote_port),
            (Some("192.0.2.2"), Some(2))
        );
        assert_eq!(stream.mos, Some(3.1));
    }

    #[test]
    fn a_media_line_without_streams_keeps_only_what_it_has() {
        let streams = extract_streams(&document(
            r#"<MediaLine Label="main-audio"><Description><LocalAddr><IPAddr>10.0.0.1</IPAddr></LocalAddr></Description></MediaLine>"#,
        ));
        let expected = MediaStream {
            ordinal: 0,
            modality: Some(Modality::Audio),
            label: Some("main-audio".into()),
            local_ip: Some("10.0.0.1".into()),
            ..MediaStream::default()
        };
        assert_eq!(streams, vec![expected]);
    }

    #[test]
    fn every_media_line_of_every_session_is_a_stream_in_order() {
        let streams = extract_streams(
            r#"<VQReportEvent xmlns="ms-rtcp-metrics" xmlns:v3="ms-rtcp-metrics.v3">
                 <VQSessionIntervalReport SessionId="a">
                   <MediaLine Label="main-audio"/>
                   <MediaLine Label="main-video">
                     <InboundStream><Payload><Video><VideoBitRateAvg>512000</VideoBitRateAvg>
                       <VideoFrameRateAvg>29.5</VideoFrameRateAvg></Video></Payload></InboundStream>
                     <OutboundStream><Payload><Video><VideoBitRateAvg>256000</VideoBitRateAvg>
                       <VideoFrameRateAvg>15</VideoFrameRateAvg></Video></Payload></OutboundStream>
                   </MediaLine>
                 </VQSessionIntervalReport>
                 <VQSessionIntervalReport SessionId="b">
                   <MediaLine Label="panoramic-video"/>
                   <MediaLine Label="applicationsharing"/>
                   <MediaLine Label="data"><InboundStream><Payload><v3:ApplicationSharing/></Payload></InboundStream></MediaLine>
                   <MediaLine Label="main-vbss"><OutboundStream><Payload><Video/></Payload></OutboundStream></MediaLine>
                   <MediaLine Label="something-new"/>
                   <MediaLine/>
                 </VQSessionIntervalReport>
               </VQReportEvent>"#,
        );
        let summary: Vec<_> = streams
            .iter()
            .map(|s| (s.ordinal, s.modality, s.label.as_deref()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, Some(Modality::Audio), Some("main-audio")),
                (1, Some(Modality::Video), Some("main-video")),
                (2, Some(Modality::Video), Some("panoramic-video")),
                (3, Some(Modality::ScreenSharing), Some("applicationsharing")),
                (4, Some(Modality::ScreenSharing), Some("data")),
                (5, Some(Modality::Video), Some("main-vbss")),
                (6, Some(Modality::Unknown), Some("something-new")),
                (7, Some(Modality::Unknown), None),
            ]
        );
        let video = &streams[1];
        assert_eq!(
            (video.avg_inbound_bitrate_bps, video.avg_inbound_frame_rate),
            (Some(512000.0), Some(29.5))
        );
        assert_eq!(
            (
                video.avg_outbound_bitrate_bps,
                video.avg_outbound_frame_rate
            ),
            (Some(256000.0), Some(15.0))
        );
    }

    #[test]
    fn media_lines_outside_a_session_report_are_not_streams() {
        let streams = extract_streams(
            r#"<VQReportEvent><MediaLine Label="main-audio"/><Other><MediaLine Label="main-audio"/></Other>
               <VQSessionReport><Other><MediaLine Label="main-audio"/></Other></VQSessionReport></VQReportEvent>"#,
        );
        assert!(streams.is_empty());
    }

    #[test]
    fn network_mos_is_preferred_then_listening_then_conversational() {
        let network = SAMPLE;
        let listening = SAMPLE.replace("<OverallAvg>4.02</OverallAvg>", "");
        let conversational = listening.replace("<RecvListenMOS>3.95</RecvListenMOS>", "");
        let none =
            conversational.replace("<LocalConversationalMOS>3.90</LocalConversationalMOS>", "");
        let picked = |doc: &str| {
            let stream = extract_streams(doc).remove(0);
            (stream.mos, stream.mos_model)
        };
        assert_eq!(
            picked(network),
            (Some(4.02), Some("ms-qoe/OverallAvgNetworkMOS".into()))
        );
        assert_eq!(
            picked(&listening),
            (Some(3.95), Some("ms-qoe/RecvListenMOS".into()))
        );
        assert_eq!(
            picked(&conversational),
            (Some(3.90), Some("ms-qoe/LocalConversationalMOS".into()))
        );
        // SendListenMOS (4.12) is still in the document, and never picked.
        assert!(none.contains("<SendListenMOS>4.12</SendListenMOS>"));
        assert_eq!(picked(&none), (None, None));
    }

    #[test]
    fn scores_outside_one_to_five_are_not_mos() {
        for bad in ["0", "5.01", "-3", "NaN", "inf", "4,2", ""] {
            let doc = SAMPLE.replace(
                "<OverallAvg>4.02</OverallAvg>",
                &format!("<OverallAvg>{bad}</OverallAvg>"),
            );
            let stream = extract_streams(&doc).remove(0);
            assert_eq!(
                stream.mos_model.as_deref(),
                Some("ms-qoe/RecvListenMOS"),
                "OverallAvg {bad:?}"
            );
        }
        let network_only_outbound = with_inbound("")
            .into_iter()
            .chain(extract_streams(&document(
                r#"<MediaLine Label="main-audio"><OutboundStream><QualityEstimates><Audio><NetworkMOS>
                     <OverallAvg>4.1</OverallAvg></NetworkMOS></Audio></QualityEstimates></OutboundStream></MediaLine>"#,
            )))
            .all(|stream| stream.mos.is_none());
        assert!(
            network_only_outbound,
            "a network MOS is only taken from the inbound stream"
        );
    }

    #[test]
    fn numbers_are_read_leniently_and_bad_ones_dropped_alone() {
        let stream = with_inbound(
            r#"<Network>
                 <Jitter><InterArrival> 12.0 </InterArrival><InterArrivalMax>-1</InterArrivalMax></Jitter>
                 <PacketLoss><LossRate>1.5</LossRate><LossRateMax>1</LossRateMax></PacketLoss>
                 <Delay><RoundTrip>abc</RoundTrip><RoundTripMax>1e2</RoundTripMax></Delay>
                 <Utilization><Packets>15012.0</Packets></Utilization>
               </Network>"#,
        )
        .remove(0);
        assert_eq!(stream.avg_inbound_jitter_ms, Some(12.0));
        assert_eq!(stream.max_inbound_jitter_ms, None, "negative jitter");
        assert_eq!(
            stream.avg_inbound_loss_pct, None,
            "a loss fraction above 1 is broken, not clamped"
        );
        assert_eq!(stream.max_inbound_loss_pct, Some(100.0));
        assert_eq!(stream.avg_inbound_rtt_ms, None);
        assert_eq!(stream.max_inbound_rtt_ms, Some(100.0));
        assert_eq!(stream.inbound_packets, Some(15012));
    }

    #[test]
    fn packet_counts_must_be_whole() {
        for (text, expected) in [
            ("7", Some(7)),
            ("7.5", None),
            ("-7", None),
            ("1e300", None),
            ("0", Some(0)),
        ] {
            let stream = with_inbound(&format!(
                "<Network><Utilization><Packets>{text}</Packets></Utilization></Network>"
            ));
            assert_eq!(stream[0].inbound_packets, expected, "{text:?}");
        }
    }

    #[test]
    fn addresses_are_validated_and_written_canonically() {
        let cases = [
            ("10.1.2.3", "5060", Some("10.1.2.3"), Some(5060)),
            ("2001:DB8:0:0::1", "65535", Some("2001:db8::1"), Some(65535)),
            ("not-an-ip", "65536", None, None),
            ("10.1.2.3; DROP TABLE", "-1", None, None),
            ("fe80::1%12", "80.0", None, Some(80)),
        ];
        for (ip, port, expected_ip, expected_port) in cases {
            let streams = extract_streams(&document(&format!(
                r#"<MediaLine Label="main-audio"><Description><LocalAddr><IPAddr>{ip}</IPAddr><Port>{port}</Port></LocalAddr></Description></MediaLine>"#
            )));
            assert_eq!(
                (streams[0].local_ip.as_deref(), streams[0].local_port),
                (expected_ip, expected_port),
                "{ip} {port}"
            );
        }
    }

    #[test]
    fn predefined_entities_and_character_references_are_decoded() {
        let streams = extract_streams(&document(
            r#"<MediaLine Label="main&#45;audio &amp; more"><InboundStream><Network><Jitter><InterArrival>&#52;2</InterArrival></Jitter></Network></InboundStream></MediaLine>"#,
        ));
        assert_eq!(streams[0].label.as_deref(), Some("main-audio & more"));
        assert_eq!(streams[0].avg_inbound_jitter_ms, Some(42.0));
        let cdata = with_inbound(
            "<Network><Jitter><InterArrival><![CDATA[ 8 ]]></InterArrival></Jitter></Network>",
        );
        assert_eq!(cdata[0].avg_inbound_jitter_ms, Some(8.0));
    }

    #[test]
    fn undefined_entities_are_never_substituted() {
        let stream = with_inbound(
            "<Network><Jitter><InterArrival>&ten;</InterArrival><InterArrivalMax>3</InterArrivalMax></Jitter></Network>",
        );
        assert_eq!(stream[0].avg_inbound_jitter_ms, None);
        assert_eq!(stream[0].max_inbound_jitter_ms, Some(3.0));
    }

    #[test]
    fn any_document_type_declaration_yields_nothing() {
        let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE VQReportEvent [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<VQReportEvent><VQSessionReport><MediaLine Label="&lol3;"/></VQSessionReport></VQReportEvent>"#;
        let external = r#"<?xml version="1.0"?>
<!DOCTYPE VQReportEvent [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<VQReportEvent><VQSessionReport><MediaLine Label="&xxe;"/></VQSessionReport></VQReportEvent>"#;
        let harmless = SAMPLE.replacen(
            "<VQReportEvent",
            "<!DOCTYPE VQReportEvent>\n<VQReportEvent",
            1,
        );
        let unterminated = "<!DOCTYPE VQReportEvent [ <!ENTITY a \"";
        for doc in [laughs, external, harmless.as_str(), unterminated] {
            assert!(extract_streams(doc).is_empty(), "{doc}");
        }
    }

    #[test]
    fn things_that_are_not_a_vq_report_event_yield_nothing() {
        let not_qoe = [
            "",
            "   ",
            "samplevalue",
            r#"{"mediaQualityOfExperience": "x"}"#,
            "VQSessionReport: CallTerm\r\nLocalMetrics:\r\nPacketLoss:NLR=5.0 JDR=2.0\r\n",
            "PFZRUmVwb3J0RXZlbnQ+PC9WUVJlcG9ydEV2ZW50Pg==",
            r#"<CallQualityFeedbackReport xmlns="ms-cqf"><MediaLine Label="main-audio"/></CallQualityFeedbackReport>"#,
            r#"<VQReportEventList ID="1"><VQReportEvent><VQSessionReport><MediaLine Label="main-audio"/></VQSessionReport></VQReportEvent></VQReportEventList>"#,
            "<VQReportEvent>",
            "<VQReportEvent><VQSessionReport><MediaLine Label=\"main-audio\"></VQSessionReport></VQReportEvent>",
            "<VQReportEvent></VQReportEvent><VQReportEvent></VQReportEvent>",
            "<VQReportEvent></VQReportEvent>trailing text",
            "text before<VQReportEvent></VQReportEvent>",
            "<VQReportEvent><![CDATA[x]]></VQReportEvent><![CDATA[y]]>",
            "<VQReportEvent attr=\"unterminated></VQReportEvent>",
            "<?xml version=\"1.0\"?>",
            "<!-- only a comment -->",
        ];
        for doc in not_qoe {
            assert!(extract_streams(doc).is_empty(), "{doc:?}");
        }
    }

    #[test]
    fn an_empty_report_event_has_no_streams() {
        assert!(extract_streams("<VQReportEvent xmlns=\"ms-rtcp-metrics\"/>").is_empty());
    }

    #[test]
    fn every_truncation_of_the_sample_yields_nothing() {
        let end = SAMPLE.trim_end().len();
        for cut in (0..end).filter(|cut| SAMPLE.is_char_boundary(*cut)) {
            assert!(extract_streams(&SAMPLE[..cut]).is_empty(), "cut at {cut}");
        }
    }

    #[test]
    fn documents_over_the_size_limit_are_not_parsed() {
        let padding = " ".repeat(MAX_DOCUMENT_BYTES - SAMPLE.len());
        let at_limit = format!("{SAMPLE}{padding}");
        assert_eq!(at_limit.len(), MAX_DOCUMENT_BYTES);
        assert_eq!(extract_streams(&at_limit).len(), 1);
        assert!(extract_streams(&format!("{at_limit} ")).is_empty());
    }

    #[test]
    fn nesting_deeper_than_the_limit_yields_nothing() {
        let nested = |depth: usize| {
            let inner = depth - 4; // root, session, media line, InboundStream
            with_inbound(&format!("{}{}", "<x>".repeat(inner), "</x>".repeat(inner)))
        };
        let max_depth = Limits::MS_QOE.depth;
        assert_eq!(nested(max_depth).len(), 1);
        assert!(nested(max_depth + 1).is_empty());
    }

    /// The shapes that used to cost seconds each: refused outright, whatever
    /// else the document holds.
    #[test]
    fn hostile_attribute_and_namespace_counts_yield_nothing() {
        use super::super::xml_bounds::{MAX_ATTRIBUTES, MAX_NAMESPACE_BINDINGS};
        let attributes = |n: usize, same: bool| {
            (0..n)
                .map(|i| {
                    if same {
                        " a=\"1\"".to_owned()
                    } else {
                        format!(" a{i}=\"1\"")
                    }
                })
                .collect::<String>()
        };
        let line = |attrs: &str| document(&format!("<MediaLine Label=\"x\"{attrs}/>"));
        assert_eq!(
            extract_streams(&line(&attributes(MAX_ATTRIBUTES - 1, false))).len(),
            1
        );
        assert!(extract_streams(&line(&attributes(MAX_ATTRIBUTES, false))).is_empty());
        assert!(extract_streams(&line(&attributes(40_000, false))).is_empty());
        assert!(extract_streams(&line(&attributes(40_000, true))).is_empty());
        let bindings = |n: usize| {
            (0..n)
                .map(|i| format!(" xmlns:p{i}=\"urn:x:{i}\""))
                .collect::<String>()
        };
        // Spread over several elements, so no single one exceeds its attribute cap.
        let spread = |total: usize| {
            let per = 16;
            let lines: String = (0..total.div_ceil(per))
                .map(|k| {
                    let n = per.min(total - k * per);
                    format!("<MediaLine{}/>", bindings(n))
                })
                .collect();
            document(&lines)
        };
        // The document itself declares one (its default namespace).
        assert!(!extract_streams(&spread(MAX_NAMESPACE_BINDINGS - 1)).is_empty());
        assert!(extract_streams(&spread(MAX_NAMESPACE_BINDINGS)).is_empty());
        assert!(extract_streams(&spread(30_000)).is_empty());
    }

    #[test]
    fn too_many_elements_or_a_nul_yield_nothing() {
        let many = "<x/>".repeat(Limits::MS_QOE.elements);
        assert!(with_inbound(&many).is_empty());
        assert!(with_inbound("<x>\0</x>").is_empty());
    }

    #[test]
    fn media_lines_past_the_limit_are_not_extracted() {
        let lines = r#"<MediaLine Label="main-audio"><LocalConversationalMOS>4</LocalConversationalMOS></MediaLine>"#
            .repeat(MAX_MEDIA_LINES + 10);
        let streams = extract_streams(&document(&lines));
        assert_eq!(streams.len(), MAX_MEDIA_LINES);
        assert!(
            streams
                .iter()
                .enumerate()
                .all(|(i, s)| s.ordinal == i as i32 && s.mos == Some(4.0))
        );
    }

    #[test]
    fn overlong_labels_and_values_are_dropped() {
        let label = "a".repeat(MAX_LABEL_CHARS + 1);
        let streams = extract_streams(&document(&format!(r#"<MediaLine Label="{label}"/>"#)));
        assert_eq!(streams[0].label, None);
        let digits = format!("4{}", "0".repeat(MAX_LEAF_BYTES));
        let stream = with_inbound(&format!(
            "<Network><Jitter><InterArrival>{digits}</InterArrival></Jitter></Network>"
        ));
        assert_eq!(stream[0].avg_inbound_jitter_ms, None);
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(input in "\\PC*") {
            let _ = extract_streams(&input);
        }

        #[test]
        fn xml_like_input_never_panics(
            parts in prop::collection::vec(
                prop_oneof![
                    Just("<VQReportEvent xmlns=\"ms-rtcp-metrics\">".to_owned()),
                    Just("</VQReportEvent>".to_owned()),
                    Just("<VQSessionReport>".to_owned()),
                    Just("</VQSessionReport>".to_owned()),
                    Just("<MediaLine Label=\"main-audio\">".to_owned()),
                    Just("</MediaLine>".to_owned()),
                    Just("<InboundStream><Network><Jitter><InterArrival>".to_owned()),
                    Just("</InterArrival></Jitter></Network></InboundStream>".to_owned()),
                    Just("<!DOCTYPE x>".to_owned()),
                    Just("&amp;&#x41;&bogus;&#99999999;".to_owned()),
                    Just("<![CDATA[".to_owned()),
                    Just("]]>".to_owned()),
                    Just("<x:y xmlns:x=\"\">".to_owned()),
                    "[<>/=\"'&;!?a-z0-9 .:-]{0,12}",
                ],
                0..40,
            )
        ) {
            let streams = extract_streams(&parts.concat());
            prop_assert!(streams.len() <= MAX_MEDIA_LINES);
            for (i, stream) in streams.iter().enumerate() {
                prop_assert_eq!(stream.ordinal, i as i32);
            }
        }

        #[test]
        fn mutated_samples_never_panic_and_stay_in_range(position in 0usize..4000, byte in any::<u8>(), delete in any::<bool>()) {
            let mut bytes = SAMPLE.as_bytes().to_vec();
            let position = position % bytes.len();
            if delete { bytes.remove(position); } else { bytes[position] = byte; }
            let mutated = String::from_utf8_lossy(&bytes);
            for stream in extract_streams(&mutated) {
                for loss in [stream.avg_inbound_loss_pct, stream.max_inbound_loss_pct,
                             stream.avg_outbound_loss_pct, stream.max_outbound_loss_pct].into_iter().flatten() {
                    prop_assert!((0.0..=100.0).contains(&loss));
                }
                if let Some(mos) = stream.mos { prop_assert!((1.0..=5.0).contains(&mos)); }
            }
        }
    }
}
