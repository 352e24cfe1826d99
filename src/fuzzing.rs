//! Entry points for the `cargo fuzz` targets in `fuzz/` (see docs/fuzzing.md).
//!
//! Not an API: hidden from the docs and free to change. Each function takes
//! the raw bytes a client could send, turns them into what the handler would
//! hand its decoder (UTF-8 text, parsed JSON) and calls the decoder's stable
//! entry point, so the targets exercise exactly the production code paths and
//! the decoders themselves stay private to their style modules. Every
//! function must return normally for every input: a panic, a hang or a
//! blow-up in time or memory is a bug the fuzzer reports.

use crate::protocols::graph::{duration, quality};
use crate::protocols::plivo::request;
use crate::protocols::ucwa::{input, qoe};

/// The properties the two UCWA operations read from their input.
const UCWA_PROPERTIES: &[&str] = &[
    "mediaEndpoint",
    "mediaQualityOfExperience",
    "errorCode",
    "errorSubcode",
];

/// What the UCWA handlers do with a decoded input: read each property and
/// extract the streams of a QoE document, as `publishCallQualityFeedback` does.
fn use_ucwa_input(decoded: Result<input::Input, input::DecodeError>) {
    let Ok(input) = decoded else { return };
    for name in UCWA_PROPERTIES {
        if let Ok(Some(text)) = input.optional_text(name)
            && *name == "mediaQualityOfExperience"
        {
            let _ = qoe::extract_streams(text);
        }
    }
}

/// A UCWA JSON input body (`application/json`).
pub fn ucwa_json(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        use_ucwa_input(input::decode_json(text));
    }
}

/// A UCWA XML input body (`application/xml`).
pub fn ucwa_xml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        use_ucwa_input(input::decode_xml(text));
    }
}

/// An MS-QoE document, as found in `mediaQualityOfExperience`.
pub fn ms_qoe(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = qoe::extract_streams(text);
    }
}

/// A Microsoft Graph `logTeleconferenceDeviceQuality` body: parsed as the
/// handler parses it, then decoded into a `DeviceQuality`.
pub fn graph_body(data: &[u8]) {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = quality::decode_body(&json);
    }
}

/// A Graph `Edm.Duration` value (ISO 8601 or .NET TimeSpan text).
pub fn graph_duration(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(d) = duration::parse(text)
    {
        let _ = (d.is_negative(), d.as_millis_f64());
    }
}

/// A Plivo feedback request body.
pub fn plivo_body(data: &[u8]) {
    if let Ok(text) = request::body_text(data) {
        let _ = request::decode(text);
    }
}
