//! The `logTeleconferenceDeviceQuality` request body,
//! `{"quality": teleconferenceDeviceQuality}`, decoded and validated against
//! the v1.0 schema (beta's is the same), with units normalized on the way:
//! durations to milliseconds, loss kept in percent, rates in bits/s and
//! frames/s.
//!
//! Both types are OData open types, so properties the schema does not name
//! are tolerated; they stay in the stored raw payload. Pure: no I/O, no state.

use serde_json::Value;
use uuid::Uuid;

use super::error::{self, GraphError};
use super::odata::{Object, SchemaError};
use crate::explain::{Ignored, Provenance, Source, SourceKind, Tolerated, Trace, number_text};
use crate::model::{Kind, MediaStream, Modality, Protocol, Report};

/// A validated `teleconferenceDeviceQuality`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceQuality {
    pub call_chain_id: Uuid,
    pub participant_id: Uuid,
    pub media_leg_id: Uuid,
    pub device_name: String,
    pub device_description: String,
    pub cloud_service_deployment_environment: Option<String>,
    pub cloud_service_deployment_id: Option<String>,
    pub cloud_service_instance_name: Option<String>,
    pub cloud_service_name: Option<String>,
    /// One per `mediaQualityList` element, in order.
    pub streams: Vec<MediaStream>,
}

/// Most `mediaQualityList` items one request may carry. A device reports one
/// item per media channel (audio, a few video channels, screen sharing): a
/// dozen at most. The cap keeps one request's stream rows, and the work of
/// writing them, bounded.
pub const MAX_MEDIA_QUALITY_LIST: usize = 64;

const NAMESPACE: &str = "microsoft.graph.";
const DEVICE_QUALITY: &str = "teleconferenceDeviceQuality";

/// The concrete types a `mediaQualityList` element may declare, and the
/// modality each stands for. The base type is abstract and so not listed.
const MEDIA_TYPES: &[(&str, Modality)] = &[
    ("teleconferenceDeviceAudioQuality", Modality::Audio),
    ("teleconferenceDeviceVideoQuality", Modality::Video),
    (
        "teleconferenceDeviceScreenSharingQuality",
        Modality::ScreenSharing,
    ),
];

/// Properties that only `teleconferenceDeviceVideoQuality` (and screen
/// sharing, which derives from it) define.
const VIDEO_ONLY: &[&str] = &[
    "averageInboundBitRate",
    "averageInboundFrameRate",
    "averageOutboundBitRate",
    "averageOutboundFrameRate",
];

/// The `device_quality` report of `tenant`: `body` parsed, validated and
/// normalized, and its text kept as the raw payload (less a UTF-8
/// byte-order mark, which .NET-based clients may send and Graph tolerates).
/// `call_id` is the callChainId (lower-case, the canonical GUID form, so
/// that searches match whatever case clients used); there is one stream per
/// `mediaQualityList` element.
pub fn decode_report(tenant: &str, body: &[u8], trace: &Trace) -> Result<Report, GraphError> {
    let stripped = body.strip_prefix(b"\xEF\xBB\xBF");
    if stripped.is_some() {
        trace.tolerated(|| Tolerated {
            shape: "utf8-byte-order-mark".into(),
            source: pointer(String::new()),
            description: "a UTF-8 byte-order mark before the JSON, as .NET clients may send; \
                          dropped (Graph tolerates it)"
                .into(),
        });
    }
    let body = stripped.unwrap_or(body);
    let json: Value = serde_json::from_slice(body)
        .map_err(|_| GraphError::bad_request(error::UNREADABLE_JSON))?;
    let q = decode_body_traced(&json, trace).map_err(|e| GraphError::bad_request(e.to_string()))?;
    // Valid JSON is valid UTF-8, so this never loses anything.
    let raw = String::from_utf8_lossy(body).into_owned();
    let mut report = Report::new(
        tenant,
        Protocol::Graph,
        Kind::DeviceQuality,
        q.call_chain_id.to_string(),
        raw,
    );
    report.participant_id = Some(q.participant_id.to_string());
    report.media_leg_id = Some(q.media_leg_id.to_string());
    report.device_name = Some(q.device_name);
    report.device_description = Some(q.device_description);
    report.cloud_service_name = q.cloud_service_name;
    report.cloud_service_instance_name = q.cloud_service_instance_name;
    report.cloud_service_deployment_id = q.cloud_service_deployment_id;
    report.cloud_service_deployment_environment = q.cloud_service_deployment_environment;
    report.streams = q.streams;
    Ok(report)
}

/// Decodes and validates a whole request body (already parsed as JSON).
pub fn decode_body(body: &Value) -> Result<DeviceQuality, SchemaError> {
    decode_body_traced(body, &Trace::off())
}

/// [`decode_body`], recording provenance into `trace`.
pub fn decode_body_traced(body: &Value, trace: &Trace) -> Result<DeviceQuality, SchemaError> {
    let root = match body {
        Value::Object(_) => Object::at(body, "")?,
        _ => {
            return Err(SchemaError::invalid(
                "(body)",
                "expected a JSON object with a 'quality' property",
            ));
        }
    };
    let quality = root.require("quality", root.get("quality"))?;
    if trace.enabled() {
        ignore_unknown(
            trace,
            &root,
            "",
            &["quality"],
            "not a parameter of the action",
        );
    }
    decode_quality(quality, trace)
}

/// The properties of `teleconferenceDeviceQuality` callq reads.
const QUALITY_PROPERTIES: &[&str] = &[
    "@odata.type",
    "callChainId",
    "participantId",
    "mediaLegId",
    "deviceName",
    "deviceDescription",
    "cloudServiceDeploymentEnvironment",
    "cloudServiceDeploymentId",
    "cloudServiceInstanceName",
    "cloudServiceName",
    "mediaQualityList",
];

fn decode_quality(value: &Value, trace: &Trace) -> Result<DeviceQuality, SchemaError> {
    let q = Object::at(value, "quality")?;
    if let Some(declared) = odata_type(&q)?
        && declared != DEVICE_QUALITY
    {
        return Err(unknown_type(&q, declared));
    }
    let guid = |name: &str, field: &'static str| -> Result<Uuid, SchemaError> {
        let id = q.require(name, q.guid(name)?)?;
        trace.field(|| {
            let raw = q.get(name).map(Value::to_string).unwrap_or_default();
            let canonical = id.to_string();
            let conversion = (raw.trim_matches('"') != canonical)
                .then(|| format!("{raw} → \"{canonical}\" (canonical lower-case GUID)"));
            Provenance {
                field: field.into(),
                source: pointer(format!("/quality/{name}")),
                raw: Some(raw),
                conversion,
                model: None,
            }
        });
        Ok(id)
    };
    let text = |name: &str, field: &'static str| -> Result<Option<String>, SchemaError> {
        let value = q.string(name)?;
        if value.is_some() {
            trace.field(|| taken(field.into(), format!("/quality/{name}"), q.get(name)));
        }
        Ok(value)
    };
    let call_chain_id = guid("callChainId", "call_id")?;
    let participant_id = guid("participantId", "participant_id")?;
    let media_leg_id = guid("mediaLegId", "media_leg_id")?;
    let device_name = q.require("deviceName", text("deviceName", "device_name")?)?;
    let device_description = q.require(
        "deviceDescription",
        text("deviceDescription", "device_description")?,
    )?;
    let cloud_service_deployment_environment = text(
        "cloudServiceDeploymentEnvironment",
        "cloud_service_deployment_environment",
    )?;
    let cloud_service_deployment_id =
        text("cloudServiceDeploymentId", "cloud_service_deployment_id")?;
    let cloud_service_instance_name =
        text("cloudServiceInstanceName", "cloud_service_instance_name")?;
    let cloud_service_name = text("cloudServiceName", "cloud_service_name")?;
    if trace.enabled() {
        ignore_unknown(
            trace,
            &q,
            "/quality",
            QUALITY_PROPERTIES,
            "not a property of teleconferenceDeviceQuality (an open type: accepted)",
        );
    }
    let list = q.require("mediaQualityList", q.array("mediaQualityList")?)?;
    if list.len() > MAX_MEDIA_QUALITY_LIST {
        return Err(SchemaError::invalid(
            q.path_of("mediaQualityList"),
            format!(
                "at most {MAX_MEDIA_QUALITY_LIST} items are accepted, found {}",
                list.len()
            ),
        ));
    }
    let streams = list
        .iter()
        .enumerate()
        .map(|(i, item)| decode_media(item, i, trace))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DeviceQuality {
        call_chain_id,
        participant_id,
        media_leg_id,
        device_name,
        device_description,
        cloud_service_deployment_environment,
        cloud_service_deployment_id,
        cloud_service_instance_name,
        cloud_service_name,
        streams,
    })
}

/// The properties of the media-quality types callq reads (the video rates
/// only on video and screen sharing).
const MEDIA_PROPERTIES: &[&str] = &[
    "@odata.type",
    "channelIndex",
    "mediaDuration",
    "inboundPackets",
    "outboundPackets",
    "averageInboundJitter",
    "maximumInboundJitter",
    "averageOutboundJitter",
    "maximumOutboundJitter",
    "averageInboundPacketLossRateInPercentage",
    "maximumInboundPacketLossRateInPercentage",
    "averageOutboundPacketLossRateInPercentage",
    "maximumOutboundPacketLossRateInPercentage",
    "averageInboundRoundTripDelay",
    "maximumInboundRoundTripDelay",
    "averageOutboundRoundTripDelay",
    "maximumOutboundRoundTripDelay",
    "networkLinkSpeedInBytes",
    "localIPAddress",
    "localPort",
    "remoteIPAddress",
    "remotePort",
];

/// One `mediaQualityList` element as a stream row.
fn decode_media(value: &Value, index: usize, trace: &Trace) -> Result<MediaStream, SchemaError> {
    let m = Object::at(value, format!("quality.mediaQualityList[{index}]"))?;
    let at = |name: &str| format!("/quality/mediaQualityList/{index}/{name}");
    let field = |name: &str| format!("streams[{index}].{name}");
    let modality = match odata_type(&m)? {
        Some(declared) => {
            let modality = MEDIA_TYPES
                .iter()
                .find(|(name, _)| *name == declared)
                .map(|(_, modality)| *modality)
                .ok_or_else(|| unknown_type(&m, declared))?;
            trace.field(|| {
                let raw = m
                    .get("@odata.type")
                    .map(Value::to_string)
                    .unwrap_or_default();
                Provenance {
                    field: field("modality"),
                    source: pointer(at("@odata.type")),
                    conversion: Some(format!("{raw} → {}", modality.as_str())),
                    raw: Some(raw),
                    model: None,
                }
            });
            modality
        }
        None => {
            let modality = inferred_modality(&m);
            trace.field(|| Provenance {
                field: field("modality"),
                source: pointer(at("@odata.type")),
                raw: None,
                conversion: Some(match modality {
                    Modality::ScreenSharing => {
                        "no @odata.type, video rates present → screen_sharing".into()
                    }
                    _ => "no @odata.type, no video rates → unknown".into(),
                }),
                model: None,
            });
            if modality == Modality::ScreenSharing {
                trace.tolerated(|| Tolerated {
                    shape: "untyped-screen-sharing-item".into(),
                    source: pointer(format!("/quality/mediaQualityList/{index}")),
                    description: "a mediaQualityList item without @odata.type that carries \
                                  video rates: Microsoft's Python Graph SDK sends screen-sharing \
                                  items so; read as teleconferenceDeviceScreenSharingQuality"
                        .into(),
                });
            }
            modality
        }
    };
    trace.field(|| Provenance {
        field: field("ordinal"),
        source: pointer(format!("/quality/mediaQualityList/{index}")),
        raw: None,
        conversion: Some(format!("position {index} in mediaQualityList")),
        model: None,
    });
    let ms = |name: &str, to: &str| -> Result<Option<f64>, SchemaError> {
        match m.duration(name)? {
            Some(d) if d.is_negative() => Err(SchemaError::invalid(
                m.path_of(name),
                "a duration must not be negative",
            )),
            Some(d) => {
                let millis = d.as_millis_f64();
                if trace.enabled() {
                    trace_duration(trace, &m, name, field(to), at(name), millis, index);
                }
                Ok(Some(millis))
            }
            None => Ok(None),
        }
    };
    let count = |name: &str, to: &str| -> Result<Option<i64>, SchemaError> {
        match m.int64(name)? {
            Some(n) if n < 0 => Err(SchemaError::invalid(
                m.path_of(name),
                "must not be negative",
            )),
            Some(n) => {
                trace.field(|| {
                    let mut row = taken(field(to), at(name), m.get(name));
                    if matches!(m.get(name), Some(Value::String(_))) {
                        row.conversion = Some(format!(
                            "\"{n}\" (Int64 as a string, OData IEEE754Compatible) → {n}"
                        ));
                    }
                    row
                });
                Ok(Some(n))
            }
            None => Ok(None),
        }
    };
    let percent = |name: &str, to: &str| -> Result<Option<f64>, SchemaError> {
        match m.double(name)? {
            Some(p) if !(0.0..=100.0).contains(&p) => Err(SchemaError::invalid(
                m.path_of(name),
                format!("{p} is not a percentage between 0 and 100"),
            )),
            Some(p) => {
                trace.field(|| {
                    let mut row = taken(field(to), at(name), m.get(name));
                    row.conversion = Some(format!("{p} → {p} % (Graph sends percent)"));
                    row
                });
                Ok(Some(p))
            }
            None => Ok(None),
        }
    };
    let port = |name: &str, to: &str| -> Result<Option<i32>, SchemaError> {
        match m.int32(name)? {
            Some(p) if !(0..=65_535).contains(&p) => Err(SchemaError::invalid(
                m.path_of(name),
                format!("{p} is not a port number (0 to 65535)"),
            )),
            p => {
                if p.is_some() {
                    trace.field(|| taken(field(to), at(name), m.get(name)));
                }
                Ok(p)
            }
        }
    };
    let text = |name: &str, to: &str| -> Result<Option<String>, SchemaError> {
        let value = m.string(name)?;
        if value.is_some() {
            trace.field(|| taken(field(to), at(name), m.get(name)));
        }
        Ok(value)
    };
    let channel_index = match m.int32("channelIndex")? {
        Some(i) if i < 0 => {
            return Err(SchemaError::invalid(
                m.path_of("channelIndex"),
                "must not be negative",
            ));
        }
        i => m.require("channelIndex", i)?,
    };
    trace.field(|| {
        taken(
            field("channel_index"),
            at("channelIndex"),
            m.get("channelIndex"),
        )
    });
    let mut stream = MediaStream {
        ordinal: i32::try_from(index).unwrap_or(i32::MAX),
        modality: Some(modality),
        channel_index: Some(channel_index),
        media_duration_ms: ms("mediaDuration", "media_duration_ms")?,
        inbound_packets: count("inboundPackets", "inbound_packets")?,
        outbound_packets: count("outboundPackets", "outbound_packets")?,
        avg_inbound_jitter_ms: ms("averageInboundJitter", "avg_inbound_jitter_ms")?,
        max_inbound_jitter_ms: ms("maximumInboundJitter", "max_inbound_jitter_ms")?,
        avg_outbound_jitter_ms: ms("averageOutboundJitter", "avg_outbound_jitter_ms")?,
        max_outbound_jitter_ms: ms("maximumOutboundJitter", "max_outbound_jitter_ms")?,
        avg_inbound_loss_pct: percent(
            "averageInboundPacketLossRateInPercentage",
            "avg_inbound_loss_pct",
        )?,
        max_inbound_loss_pct: percent(
            "maximumInboundPacketLossRateInPercentage",
            "max_inbound_loss_pct",
        )?,
        avg_outbound_loss_pct: percent(
            "averageOutboundPacketLossRateInPercentage",
            "avg_outbound_loss_pct",
        )?,
        max_outbound_loss_pct: percent(
            "maximumOutboundPacketLossRateInPercentage",
            "max_outbound_loss_pct",
        )?,
        avg_inbound_rtt_ms: ms("averageInboundRoundTripDelay", "avg_inbound_rtt_ms")?,
        max_inbound_rtt_ms: ms("maximumInboundRoundTripDelay", "max_inbound_rtt_ms")?,
        avg_outbound_rtt_ms: ms("averageOutboundRoundTripDelay", "avg_outbound_rtt_ms")?,
        max_outbound_rtt_ms: ms("maximumOutboundRoundTripDelay", "max_outbound_rtt_ms")?,
        network_link_speed_bytes: count("networkLinkSpeedInBytes", "network_link_speed_bytes")?,
        local_ip: text("localIPAddress", "local_ip")?,
        local_port: port("localPort", "local_port")?,
        remote_ip: text("remoteIPAddress", "remote_ip")?,
        remote_port: port("remotePort", "remote_port")?,
        ..MediaStream::default()
    };
    // The video rates exist on video and screen sharing (which derives from
    // video), and on items that declare no type; on audio they would be
    // undeclared open properties, kept only in the raw payload.
    if modality != Modality::Audio {
        let rate = |name: &str, to: &str| -> Result<Option<f64>, SchemaError> {
            match m.double(name)? {
                Some(r) if r < 0.0 => Err(SchemaError::invalid(
                    m.path_of(name),
                    "must not be negative",
                )),
                r => {
                    if r.is_some() {
                        trace.field(|| taken(field(to), at(name), m.get(name)));
                    }
                    Ok(r)
                }
            }
        };
        stream.avg_inbound_bitrate_bps = rate("averageInboundBitRate", "avg_inbound_bitrate_bps")?;
        stream.avg_outbound_bitrate_bps =
            rate("averageOutboundBitRate", "avg_outbound_bitrate_bps")?;
        stream.avg_inbound_frame_rate = rate("averageInboundFrameRate", "avg_inbound_frame_rate")?;
        stream.avg_outbound_frame_rate =
            rate("averageOutboundFrameRate", "avg_outbound_frame_rate")?;
    }
    if trace.enabled() {
        let prefix = format!("/quality/mediaQualityList/{index}");
        let mut known = MEDIA_PROPERTIES.to_vec();
        if modality != Modality::Audio {
            known.extend_from_slice(VIDEO_ONLY);
        } else {
            ignore_listed(
                trace,
                &m,
                &prefix,
                VIDEO_ONLY,
                "a video rate on an audio item: teleconferenceDeviceAudioQuality has no such \
                 property (an open type: accepted)",
            );
            known.extend_from_slice(VIDEO_ONLY);
        }
        ignore_unknown(
            trace,
            &m,
            &prefix,
            &known,
            "not a property of the media-quality types (an open type: accepted)",
        );
    }
    Ok(stream)
}

/// The row of a duration read as milliseconds, and the tolerated shape when
/// it was written as Python's `timedelta`.
fn trace_duration(
    trace: &Trace,
    m: &Object,
    name: &str,
    field: String,
    at: String,
    millis: f64,
    index: usize,
) {
    let Some(Value::String(text)) = m.get(name) else {
        return;
    };
    let iso = super::duration::is_iso8601(text);
    trace.field(|| Provenance {
        field,
        source: pointer(at.clone()),
        raw: Some(format!("\"{text}\"")),
        conversion: Some(if iso {
            format!("\"{text}\" → {} ms", number_text(millis))
        } else {
            format!(
                "\"{text}\" (Python SDK timedelta) → {} ms",
                number_text(millis)
            )
        }),
        model: None,
    });
    if !iso {
        trace.tolerated(|| Tolerated {
            shape: "python-timedelta-duration".into(),
            source: pointer(at),
            description: format!(
                "an Edm.Duration written as Python's str(timedelta), as Microsoft's Python \
                 Graph SDK sends it (item {index}); read as H:MM:SS[.ffffff]"
            ),
        });
    }
}

/// A JSON pointer source.
fn pointer(at: String) -> Source {
    Source {
        kind: SourceKind::JsonPointer,
        at,
    }
}

/// A row for a value taken as sent.
fn taken(field: String, at: String, raw: Option<&Value>) -> Provenance {
    Provenance {
        field,
        source: pointer(at),
        raw: raw.map(Value::to_string),
        conversion: None,
        model: None,
    }
}

/// Records the properties of `object` outside `known` as ignored.
fn ignore_unknown(trace: &Trace, object: &Object, prefix: &str, known: &[&str], reason: &str) {
    for name in object.names() {
        if !known.contains(&name) {
            trace.ignored(|| Ignored {
                source: pointer(format!("{prefix}/{}", escape_pointer(name))),
                reason: reason.into(),
            });
        }
    }
}

/// Records the set properties of `object` among `names` as ignored.
fn ignore_listed(trace: &Trace, object: &Object, prefix: &str, names: &[&str], reason: &str) {
    for name in names {
        if object.get(name).is_some() {
            trace.ignored(|| Ignored {
                source: pointer(format!("{prefix}/{name}")),
                reason: reason.into(),
            });
        }
    }
}

/// A property name as a JSON pointer token (RFC 6901: `~` → `~0`, `/` → `~1`).
fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The modality of an element that names no `@odata.type`.
///
/// Microsoft's Python SDK writes `@odata.type` for audio and video items but
/// leaves it out for screen sharing. An untyped item that carries the
/// video-family rates is therefore a screen-sharing item (the only
/// video-family type that arrives untyped); one without them cannot be told
/// apart from a bare media-quality item and is stored as unknown.
fn inferred_modality(m: &Object) -> Modality {
    if m.has_any(VIDEO_ONLY) {
        Modality::ScreenSharing
    } else {
        Modality::Unknown
    }
}

/// The declared `@odata.type`, without its `#` and namespace: OData accepts
/// `#microsoft.graph.x` (the usual form), `microsoft.graph.x` and the
/// namespace alias `#graph.x`. A name in another namespace is returned whole
/// so that it fails the comparison with the known names.
fn odata_type<'a>(object: &Object<'a>) -> Result<Option<&'a str>, SchemaError> {
    const KEY: &str = "@odata.type";
    match object.get(KEY) {
        None => Ok(None),
        Some(Value::String(name)) => {
            let name = name.strip_prefix('#').unwrap_or(name);
            let short = name
                .strip_prefix(NAMESPACE)
                .or_else(|| name.strip_prefix("graph."))
                .unwrap_or(name);
            Ok(Some(short))
        }
        Some(_) => Err(SchemaError::invalid(
            object.path_of(KEY),
            "expected a type name string",
        )),
    }
}

fn unknown_type(object: &Object, declared: &str) -> SchemaError {
    let known: Vec<String> = if object.path().starts_with("quality.mediaQualityList") {
        MEDIA_TYPES
            .iter()
            .map(|(name, _)| format!("#{NAMESPACE}{name}"))
            .collect()
    } else {
        vec![format!("#{NAMESPACE}{DEVICE_QUALITY}")]
    };
    SchemaError::invalid(
        object.path_of("@odata.type"),
        format!(
            "'{}' is not a known type here (expected {})",
            declared.chars().take(100).collect::<String>(),
            known.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unparseable_bodies_get_the_gateway_message() {
        for bad in [
            &b""[..],
            b"{",
            b"not json",
            b"\xff\xfe{}",
            b"{\"quality\": \"\\ud800\"}",
        ] {
            let e = decode_report("acme", bad, &Trace::off()).unwrap_err();
            assert_eq!(e.message, error::UNREADABLE_JSON, "{bad:?}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_tolerated() {
        let body = "\u{feff}{\"quality\":{\"callChainId\":\"0622673d-9f69-49b3-9d4f-5ec64f42ecce\",\"participantId\":\"ea078406-b5d4-4d3c-b85e-90103dcec7f6\",\"mediaLegId\":\"bd9ee398-4b9d-42c7-8b8d-4e8efad9435f\",\"deviceName\":\"a\",\"deviceDescription\":\"b\",\"mediaQualityList\":[]}}";
        let report = decode_report("acme", body.as_bytes(), &Trace::off()).unwrap();
        assert!(report.raw_payload.starts_with('{'));
        assert_eq!(report.call_id, "0622673d-9f69-49b3-9d4f-5ec64f42ecce");
    }

    fn item(odata_type: Option<&str>) -> Value {
        let mut item = json!({
            "channelIndex": 1,
            "mediaDuration": "PT20M",
            "averageInboundJitter": "PT0.01S",
            "averageInboundRoundTripDelay": "0:00:00.030000",
            "averageInboundPacketLossRateInPercentage": 0.01,
            "inboundPackets": 5500,
            "localPort": 6300
        });
        if let Some(t) = odata_type {
            item["@odata.type"] = json!(t);
        }
        item
    }

    fn body(items: Vec<Value>) -> Value {
        json!({"quality": {
            "callChainId": "0622673d-9f69-49b3-9d4f-5ec64f42ecce",
            "participantId": "ea078406-b5d4-4d3c-b85e-90103dcec7f6",
            "mediaLegId": "bd9ee398-4b9d-42c7-8b8d-4e8efad9435f",
            "deviceName": "TestAgent",
            "deviceDescription": "TestDescription",
            "mediaQualityList": items
        }})
    }

    fn error_of(body: &Value) -> String {
        decode_body(body).unwrap_err().to_string()
    }

    #[test]
    fn a_minimal_body_decodes_with_units_normalized() {
        let q = decode_body(&body(vec![item(Some(
            "#microsoft.graph.teleconferenceDeviceAudioQuality",
        ))]))
        .unwrap();
        assert_eq!(q.device_name, "TestAgent");
        assert_eq!(q.cloud_service_name, None);
        let s = &q.streams[0];
        assert_eq!(s.modality, Some(Modality::Audio));
        assert_eq!(s.media_duration_ms, Some(1_200_000.0));
        assert_eq!(s.avg_inbound_jitter_ms, Some(10.0));
        assert_eq!(s.avg_inbound_rtt_ms, Some(30.0));
        assert_eq!(s.avg_inbound_loss_pct, Some(0.01));
        assert_eq!(s.inbound_packets, Some(5500));
        assert_eq!(s.local_port, Some(6300));
        assert_eq!(s.max_inbound_jitter_ms, None);
    }

    #[test]
    fn element_types_map_to_modalities_in_every_accepted_spelling() {
        for (declared, modality) in [
            (
                "#microsoft.graph.teleconferenceDeviceAudioQuality",
                Modality::Audio,
            ),
            (
                "microsoft.graph.teleconferenceDeviceVideoQuality",
                Modality::Video,
            ),
            (
                "#graph.teleconferenceDeviceScreenSharingQuality",
                Modality::ScreenSharing,
            ),
        ] {
            let q = decode_body(&body(vec![item(Some(declared))])).unwrap();
            assert_eq!(q.streams[0].modality, Some(modality), "{declared}");
        }
    }

    #[test]
    fn untyped_elements_are_unknown_or_screen_sharing_by_their_fields() {
        let q = decode_body(&body(vec![item(None)])).unwrap();
        assert_eq!(q.streams[0].modality, Some(Modality::Unknown));
        let mut with_rates = item(None);
        with_rates["averageInboundBitRate"] = json!(1_500_000.0);
        let q = decode_body(&body(vec![with_rates])).unwrap();
        assert_eq!(q.streams[0].modality, Some(Modality::ScreenSharing));
        assert_eq!(q.streams[0].avg_inbound_bitrate_bps, Some(1_500_000.0));
    }

    #[test]
    fn unknown_and_abstract_types_are_refused() {
        for declared in [
            "#microsoft.graph.teleconferenceDeviceMediaQuality",
            "#microsoft.graph.teleconferenceDeviceFaxQuality",
            "#other.teleconferenceDeviceAudioQuality",
            "",
        ] {
            let e = error_of(&body(vec![item(Some(declared))]));
            assert!(
                e.contains("'quality.mediaQualityList[0].@odata.type'"),
                "{e}"
            );
        }
        let mut b = body(vec![]);
        b["quality"]["@odata.type"] = json!("#microsoft.graph.call");
        assert!(error_of(&b).contains("'quality.@odata.type'"));
    }

    #[test]
    fn video_rates_are_read_on_video_and_ignored_on_audio() {
        let mut video = item(Some("#microsoft.graph.teleconferenceDeviceVideoQuality"));
        video["averageOutboundFrameRate"] = json!(29.97);
        let mut audio = item(Some("#microsoft.graph.teleconferenceDeviceAudioQuality"));
        audio["averageOutboundFrameRate"] = json!("not even a number");
        let q = decode_body(&body(vec![video, audio])).unwrap();
        assert_eq!(q.streams[0].avg_outbound_frame_rate, Some(29.97));
        assert_eq!(q.streams[1].avg_outbound_frame_rate, None);
        assert_eq!(q.streams[1].ordinal, 1);
    }

    #[test]
    fn every_violation_names_its_property() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|b| {
                    b["quality"]
                        .as_object_mut()
                        .unwrap()
                        .remove("callChainId")
                        .map(drop)
                        .unwrap()
                }),
                "'quality.callChainId' is required",
            ),
            (
                Box::new(|b| b["quality"]["participantId"] = json!(null)),
                "'quality.participantId' is required",
            ),
            (
                Box::new(|b| b["quality"]["mediaLegId"] = json!("nope")),
                "'quality.mediaLegId'",
            ),
            (
                Box::new(|b| b["quality"]["deviceName"] = json!(7)),
                "'quality.deviceName'",
            ),
            (
                Box::new(|b| {
                    b["quality"]
                        .as_object_mut()
                        .unwrap()
                        .remove("deviceDescription")
                        .map(drop)
                        .unwrap()
                }),
                "'quality.deviceDescription' is required",
            ),
            (
                Box::new(|b| b["quality"]["mediaQualityList"] = json!({})),
                "'quality.mediaQualityList'",
            ),
            (
                Box::new(|b| b["quality"]["cloudServiceName"] = json!(["x"])),
                "'quality.cloudServiceName'",
            ),
            (
                Box::new(|b| b["quality"]["mediaQualityList"][0] = json!(3)),
                "'quality.mediaQualityList[0]'",
            ),
            (
                Box::new(|b| {
                    b["quality"]["mediaQualityList"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("channelIndex")
                        .map(drop)
                        .unwrap()
                }),
                "'quality.mediaQualityList[0].channelIndex' is required",
            ),
            (
                Box::new(|b| b["quality"]["mediaQualityList"][0]["channelIndex"] = json!(-1)),
                "'quality.mediaQualityList[0].channelIndex'",
            ),
            (
                Box::new(|b| b["quality"]["mediaQualityList"][0]["inboundPackets"] = json!(-5)),
                "'quality.mediaQualityList[0].inboundPackets'",
            ),
            (
                Box::new(|b| {
                    b["quality"]["mediaQualityList"][0]["networkLinkSpeedInBytes"] = json!(-1)
                }),
                "'quality.mediaQualityList[0].networkLinkSpeedInBytes'",
            ),
            (
                Box::new(|b| {
                    b["quality"]["mediaQualityList"][0]["averageInboundPacketLossRateInPercentage"] =
                        json!(100.5)
                }),
                "'quality.mediaQualityList[0].averageInboundPacketLossRateInPercentage'",
            ),
            (
                Box::new(|b| {
                    b["quality"]["mediaQualityList"][0]["maximumOutboundPacketLossRateInPercentage"] =
                        json!(-0.1)
                }),
                "'quality.mediaQualityList[0].maximumOutboundPacketLossRateInPercentage'",
            ),
            (
                Box::new(|b| {
                    b["quality"]["mediaQualityList"][0]["averageInboundJitter"] = json!("10ms")
                }),
                "'quality.mediaQualityList[0].averageInboundJitter'",
            ),
            (
                Box::new(|b| {
                    b["quality"]["mediaQualityList"][0]["maximumInboundRoundTripDelay"] =
                        json!("-PT1S")
                }),
                "'quality.mediaQualityList[0].maximumInboundRoundTripDelay'",
            ),
            (
                Box::new(|b| b["quality"]["mediaQualityList"][0]["localPort"] = json!(70000)),
                "'quality.mediaQualityList[0].localPort'",
            ),
            (
                Box::new(|b| b["quality"]["mediaQualityList"][0]["remotePort"] = json!("6301")),
                "'quality.mediaQualityList[0].remotePort'",
            ),
        ];
        for (break_it, expected) in cases {
            let mut b = body(vec![item(Some(
                "#microsoft.graph.teleconferenceDeviceVideoQuality",
            ))]);
            break_it(&mut b);
            let e = error_of(&b);
            assert!(e.contains(expected), "expected {expected:?} in {e:?}");
        }
        let mut video = item(Some("#microsoft.graph.teleconferenceDeviceVideoQuality"));
        video["averageInboundBitRate"] = json!(-1.0);
        assert!(
            error_of(&body(vec![video]))
                .contains("'quality.mediaQualityList[0].averageInboundBitRate'")
        );
    }

    #[test]
    fn the_media_quality_list_is_capped() {
        let items = |n: usize| (0..n).map(|_| item(None)).collect::<Vec<_>>();
        let q = decode_body(&body(items(MAX_MEDIA_QUALITY_LIST))).unwrap();
        assert_eq!(q.streams.len(), MAX_MEDIA_QUALITY_LIST);
        let e = error_of(&body(items(MAX_MEDIA_QUALITY_LIST + 1)));
        assert!(
            e.contains("'quality.mediaQualityList'") && e.contains("at most 64"),
            "{e}"
        );
    }

    #[test]
    fn int64_properties_may_be_strings() {
        let mut it = item(None);
        it["inboundPackets"] = json!("9007199254740993");
        it["networkLinkSpeedInBytes"] = json!("125000000");
        let q = decode_body(&body(vec![it])).unwrap();
        assert_eq!(q.streams[0].inbound_packets, Some(9_007_199_254_740_993));
        assert_eq!(q.streams[0].network_link_speed_bytes, Some(125_000_000));
        let mut it = item(None);
        it["outboundPackets"] = json!("-1");
        assert!(error_of(&body(vec![it])).contains("outboundPackets"));
    }

    #[test]
    fn the_body_must_be_an_object_with_quality() {
        assert!(error_of(&json!([])).contains("(body)"));
        assert!(error_of(&json!({})).contains("'quality' is required"));
        assert!(error_of(&json!({"quality": "x"})).contains("'quality'"));
    }

    #[test]
    fn extra_properties_are_tolerated_and_an_empty_list_is_valid() {
        let mut b = body(vec![]);
        b["quality"]["vendorExtension"] = json!({"anything": [1, 2]});
        b["extraTopLevel"] = json!(true);
        let q = decode_body(&b).unwrap();
        assert!(q.streams.is_empty());
    }
}
