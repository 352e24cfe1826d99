//! Entry points for the `cargo fuzz` targets in `fuzz/` (see docs/fuzzing.md).
//!
//! Not an API: hidden from the docs and free to change. Each function takes
//! the raw bytes a client could send, turns them into what the handler would
//! hand its decoder (UTF-8 text, parsed JSON) and calls the decoder's stable
//! entry point, so the targets exercise exactly the production code paths and
//! the decoders themselves stay private to their style modules. Every
//! function must return normally for every input: a panic, a hang or a
//! blow-up in time or memory is a bug the fuzzer reports. Besides, what a
//! decoder accepts is checked against what the store and the read API rely
//! on (no raw U+0000 in an accepted body, [`check_stream`],
//! [`graph_duration`], [`plivo_body`]): an `assert!`
//! here failing is a finding too.

use crate::model::MediaStream;
use crate::protocols::graph::{self, duration};
use crate::protocols::plivo;
use crate::protocols::ucwa::{self, qoe};

/// The properties the two UCWA operations read from their input.
const UCWA_PROPERTIES: &[&str] = &[
    "mediaEndpoint",
    "mediaQualityOfExperience",
    "errorCode",
    "errorSubcode",
];

/// The store keeps an accepted body verbatim as the raw payload, and relies
/// on every decoder refusing a body with a raw U+0000, which PostgreSQL
/// cannot store (see `model::text`).
fn check_accepted_body(body: &str) {
    assert!(
        !body.contains('\0'),
        "a body with a raw U+0000 was accepted"
    );
}

/// What the UCWA handlers do with a decoded input: read each property and
/// extract the streams of a QoE document, as `publishCallQualityFeedback` does.
fn use_ucwa_input(body: &str, decoded: Result<ucwa::request::Input, ucwa::request::DecodeError>) {
    let Ok(input) = decoded else { return };
    check_accepted_body(body);
    for name in UCWA_PROPERTIES {
        if let Ok(Some(text)) = input.optional_text(name)
            && *name == "mediaQualityOfExperience"
        {
            check_streams(qoe::extract_streams(text));
        }
    }
}

/// What every decoded stream must satisfy: every number finite (PostgreSQL
/// would store NaN and infinities, SQLite would turn NaN into NULL, and JSON
/// cannot carry them), loss a percentage, a MOS on its 1..5 scale, counts
/// and durations not negative.
pub fn check_stream(s: &MediaStream) {
    let numbers = s
        .direction_metrics()
        .into_iter()
        .chain([s.media_duration_ms, s.mos, s.r_factor]);
    for n in numbers.flatten() {
        assert!(n.is_finite(), "a stream number is not finite: {s:?}");
    }
    for loss in [
        s.avg_inbound_loss_pct,
        s.max_inbound_loss_pct,
        s.avg_outbound_loss_pct,
        s.max_outbound_loss_pct,
    ]
    .into_iter()
    .flatten()
    {
        assert!((0.0..=100.0).contains(&loss), "loss {loss} %: {s:?}");
    }
    if let Some(mos) = s.mos {
        assert!((1.0..=5.0).contains(&mos), "MOS {mos}: {s:?}");
    }
    for count in [
        s.inbound_packets,
        s.outbound_packets,
        s.network_link_speed_bytes,
    ]
    .into_iter()
    .flatten()
    {
        assert!(count >= 0, "negative count: {s:?}");
    }
}

/// Derives what `Ingest::submit` derives for every accepted report (E-model
/// MOS, CQD class) and checks the result.
fn check_streams(mut streams: Vec<MediaStream>) {
    for stream in &mut streams {
        crate::model::mos::annotate(stream);
        crate::model::quality::annotate(stream);
        check_stream(stream);
    }
}

/// A UCWA JSON input body (`application/json`).
pub fn ucwa_json(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        use_ucwa_input(text, ucwa::request::decode_json(text));
    }
}

/// A UCWA XML input body (`application/xml`).
pub fn ucwa_xml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        use_ucwa_input(text, ucwa::request::decode_xml(text));
    }
}

/// An MS-QoE document, as found in `mediaQualityOfExperience`.
pub fn ms_qoe(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        check_streams(qoe::extract_streams(text));
    }
}

/// A Microsoft Graph `logTeleconferenceDeviceQuality` body: parsed as the
/// handler parses it, decoded into a `DeviceQuality`, and its streams given
/// what every accepted report gets (E-model MOS, CQD class).
pub fn graph_body(data: &[u8]) {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data)
        && let Ok(q) = graph::request::decode_body(&json)
    {
        check_accepted_body(&String::from_utf8_lossy(data));
        check_streams(q.streams);
    }
}

/// A Graph `Edm.Duration` value (ISO 8601 or .NET TimeSpan text).
pub fn graph_duration(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(d) = duration::parse(text)
    {
        let millis = d.as_millis_f64();
        assert!(millis.is_finite(), "{text:?} → {millis} ms");
        assert!(
            millis == 0.0 || d.is_negative() == (millis < 0.0),
            "{text:?}: sign of {millis} ms"
        );
    }
}

/// A Plivo feedback request body.
pub fn plivo_body(data: &[u8]) {
    if let Ok(text) = plivo::request::body_text(data)
        && let Ok(feedback) = plivo::request::decode(text)
    {
        check_accepted_body(text);
        assert!(
            (1.0..=5.0).contains(&feedback.rating),
            "rating {} accepted",
            feedback.rating
        );
        if let Some(notes) = &feedback.notes {
            assert!(notes.chars().count() <= plivo::request::NOTES_MAX_CHARS);
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every committed seed goes through its target's entry point (and its
    /// checks) as the fuzzer would start: keeps the facade and the seeds
    /// from rotting between fuzzing runs. Not fuzzing: `cargo test` runs no
    /// generated input.
    #[test]
    fn every_seed_passes_its_target() {
        type Target = (&'static str, fn(&[u8]));
        let targets: [Target; 6] = [
            ("ucwa_json", super::ucwa_json),
            ("ucwa_xml", super::ucwa_xml),
            ("ms_qoe", super::ms_qoe),
            ("graph_body", super::graph_body),
            ("graph_duration", super::graph_duration),
            ("plivo_body", super::plivo_body),
        ];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
        for (name, target) in targets {
            let mut seeds = 0;
            for entry in std::fs::read_dir(root.join(name)).unwrap() {
                let data = std::fs::read(entry.unwrap().path()).unwrap();
                target(&data);
                seeds += 1;
            }
            assert!(seeds > 0, "{name} has seeds");
        }
    }
}
