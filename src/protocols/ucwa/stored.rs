//! The MS-QoE document of a stored UCWA feedback report, read back from its
//! raw payload. Pure: no I/O, no state.
//!
//! Since migration 0008 the document is stored once, inside `raw_payload`
//! (the body exactly as received), and no longer in a column of its own: a
//! feedback row with the typical 4 KB document carried it twice, which no
//! TOAST compression could bring under PostgreSQL's inline threshold
//! (docs/storage.md). The read API refills `Report::media_quality_of_experience`
//! with [`media_quality_of_experience`], which decodes the payload exactly as
//! ingest did (`request::decode_json` / `decode_xml`, then
//! `model::text::storable`), so the text is byte for byte what ingest decoded
//! and the store used to hold: JSON escapes, XML entities, character
//! references and CDATA resolved the same way, U+0000 replaced by U+FFFD the
//! same way.
//!
//! What `raw_payload` holds: the request body after any `Content-Encoding`
//! was undone (gzip, deflate, … are decoded before the handler reads the
//! body), as UTF-8 text (a body that is not UTF-8 is refused with 400 and
//! never stored), BOM included. The format is recognised from the payload
//! itself rather than from the stored `Content-Type`: ingest decoded the
//! body as its declared type, and a body accepted as JSON starts (after a
//! BOM and JSON whitespace) with `{`, one accepted as XML with `<`, so the
//! first character names the decoder ingest used.

use std::borrow::Cow;

use super::request::{Input, decode_json, decode_xml};
use crate::model::text::storable;
use crate::model::{Kind, Protocol, Report};

/// The property that carries the document.
const PROPERTY: &str = "mediaQualityOfExperience";

/// The MS-QoE document ingest decoded from `raw_payload`, a stored UCWA
/// `publishCallQualityFeedback` body; `None` when the body has none (absent,
/// `null`, empty) or is not a body ingest would have accepted.
pub fn media_quality_of_experience(raw_payload: &str) -> Option<String> {
    let text = raw_payload.strip_prefix('\u{feff}').unwrap_or(raw_payload);
    // The whitespace both JSON and XML allow before the document.
    let start = text.trim_start_matches([' ', '\t', '\n', '\r']);
    let input: Input = match start.as_bytes().first()? {
        b'{' => decode_json(raw_payload).ok()?,
        b'<' => decode_xml(raw_payload).ok()?,
        _ => return None,
    };
    let value = input.optional_text(PROPERTY).ok()??;
    Some(match storable(value) {
        Cow::Borrowed(v) => v.to_owned(),
        Cow::Owned(v) => v,
    })
}

/// Whether `report` is one whose MS-QoE document lives in its raw payload.
pub fn carries_stored_qoe(protocol: Protocol, kind: Kind) -> bool {
    protocol == Protocol::Ucwa && kind == Kind::Feedback
}

/// Refills `report.media_quality_of_experience` from its raw payload, for a
/// UCWA feedback report read back from the store; other reports are left
/// as they are.
pub fn refill(report: &mut Report) {
    if carries_stored_qoe(report.protocol, report.kind) {
        report.media_quality_of_experience = media_quality_of_experience(&report.raw_payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Trace;
    use crate::protocols::ucwa::media::MediaType;
    use crate::protocols::ucwa::request::{Operation, decode_report};

    const SAMPLE: &str = include_str!("../../../tests/data/ms-qoe-sample.xml");

    /// What ingest puts in the report for `body` declared as `declared`,
    /// after `make_storable`, as the handler does.
    fn ingested(declared: MediaType, body: &str) -> Option<String> {
        let mut report = decode_report(
            "t",
            Operation::PublishCallQualityFeedback,
            "a/c".into(),
            Some(declared),
            body.as_bytes(),
            &Trace::off(),
        )
        .expect("accepted");
        report.make_storable().unwrap();
        assert_eq!(report.raw_payload, body, "the body is kept whole");
        report.media_quality_of_experience
    }

    fn xml_body(property: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">\n  <property name=\"mediaEndpoint\">ep</property>\n  <property name=\"mediaQualityOfExperience\">{property}</property>\n</input>"
        )
    }

    fn escaped(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }

    /// Every body: the read side gives exactly what ingest decoded.
    fn same_as_ingest(declared: MediaType, body: &str, expected: Option<&str>) {
        let at_ingest = ingested(declared, body);
        assert_eq!(at_ingest.as_deref(), expected, "ingest decodes {body:.80}");
        assert_eq!(media_quality_of_experience(body), at_ingest, "{body:.80}");
    }

    #[test]
    fn json_bodies_give_the_document_ingest_decoded() {
        let json = MediaType::JSON;
        same_as_ingest(
            json,
            r#"{"mediaEndpoint":"samplevalue","mediaQualityOfExperience":"samplevalue"}"#,
            Some("samplevalue"),
        );
        let sample = serde_json::json!({ "mediaEndpoint": "ep", PROPERTY: SAMPLE }).to_string();
        same_as_ingest(json, &sample, Some(SAMPLE));
        // Escapes of every kind, a surrogate pair, U+0000 (stored as U+FFFD).
        same_as_ingest(
            json,
            r#"{"mediaQualityOfExperience":"<a b=\"1\">\u00e9\ud83d\ude00\n\t\/\\\u0000</a>"}"#,
            Some("<a b=\"1\">é😀\n\t/\\\u{FFFD}</a>"),
        );
        // BOM and leading whitespace; a name sent twice keeps the last value.
        same_as_ingest(
            json,
            "\u{feff} \r\n{\"mediaQualityOfExperience\":\"first\",\"mediaQualityOfExperience\":\"last\"}",
            Some("last"),
        );
        for none in [
            "{}",
            r#"{"mediaQualityOfExperience":null}"#,
            r#"{"mediaQualityOfExperience":""}"#,
            r#"{"mediaEndpoint":"only"}"#,
            "",
            "  ",
        ] {
            same_as_ingest(json, none, None);
        }
    }

    #[test]
    fn xml_bodies_give_the_document_ingest_decoded() {
        let xml = MediaType::XML;
        same_as_ingest(xml, &xml_body("samplevalue"), Some("samplevalue"));
        same_as_ingest(xml, &xml_body(&escaped(SAMPLE)), Some(SAMPLE));
        same_as_ingest(
            xml,
            &xml_body(&format!("<![CDATA[{SAMPLE}]]>")),
            Some(SAMPLE),
        );
        // Character references, predefined entities, CDATA mixed with text.
        same_as_ingest(
            xml,
            &xml_body("&#233;&#x1F600;&apos;&quot;x<![CDATA[<&amp;>]]>y&lt;"),
            Some("é😀'\"x<&amp;>y<"),
        );
        same_as_ingest(
            xml,
            "\u{feff}<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"><property name=\"mediaQualityOfExperience\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:nil=\"true\"/></input>",
            None,
        );
        same_as_ingest(xml, &xml_body(""), None);
        same_as_ingest(
            xml,
            "<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"/>",
            None,
        );
    }

    #[test]
    fn a_large_document_comes_back_whole() {
        let big = SAMPLE.repeat(40);
        assert!(big.len() > 150_000);
        let json = serde_json::json!({ PROPERTY: big }).to_string();
        same_as_ingest(MediaType::JSON, &json, Some(&big));
        same_as_ingest(MediaType::XML, &xml_body(&escaped(&big)), Some(&big));
    }

    #[test]
    fn only_ucwa_feedback_is_refilled_and_garbage_gives_none() {
        let body = r#"{"mediaQualityOfExperience":"q"}"#;
        let mut r = Report::new("t", Protocol::Ucwa, Kind::Feedback, "c", body);
        refill(&mut r);
        assert_eq!(r.media_quality_of_experience.as_deref(), Some("q"));
        let mut d = Report::new("t", Protocol::Ucwa, Kind::Diagnostics, "c", body);
        refill(&mut d);
        assert_eq!(d.media_quality_of_experience, None);
        let mut p = Report::new("t", Protocol::Plivo, Kind::Feedback, "c", body);
        refill(&mut p);
        assert_eq!(p.media_quality_of_experience, None);
        for garbage in [
            "not json",
            "{",
            "<input",
            "[1]",
            r#"{"mediaQualityOfExperience":1}"#,
        ] {
            assert_eq!(media_quality_of_experience(garbage), None, "{garbage}");
        }
    }
}
