//! Decoding and validation of a Plivo call-feedback request, as Plivo
//! documents it and as its SDKs actually send it. Pure: no I/O, no state.
//!
//! Checks run in the order of Plivo's argument table (rating, issues, notes)
//! and the first failure is the answer, so a request with several faults gets
//! the same text from callq as from Plivo.

use serde_json::{Map, Value};

use super::error::PlivoError;
use super::issue::Issue;
use crate::explain::{Ignored, Provenance, Source, SourceKind, Tolerated, Trace};
use crate::model::{Kind, Protocol, Report};

/// Longest `notes` accepted, in characters. Plivo states no limit for the
/// REST API; a bound keeps one client from filling the store with one row.
pub const NOTES_MAX_CHARS: usize = 4096;

/// A valid feedback, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    /// 1.0 ..= 5.0.
    pub rating: f64,
    /// Canonical issues, each once, in the order first sent.
    pub issues: Vec<Issue>,
    /// Absent when not sent, null or blank.
    pub notes: Option<String>,
}

/// The call UUID of the path, in canonical (lowercase, hyphenated) form.
///
/// A Plivo call UUID is the 36-character hyphenated form. Two of Plivo's own
/// documentation examples (the curl and Go ones) carry UUIDs whose last group
/// is one or two hex digits short, and whether Plivo's server checks UUID
/// syntax at all is not documented; so the last group may have 10 to 12 hex
/// digits, which lets the doc's own examples through while anything else that
/// is not UUID-shaped still gets Plivo's 404 `Please check the Call UUID`.
#[cfg(test)]
pub fn call_uuid(raw: &str) -> Result<String, PlivoError> {
    call_uuid_traced(raw, &Trace::off())
}

/// [`call_uuid`], recording where the call id came from.
pub fn call_uuid_traced(raw: &str, trace: &Trace) -> Result<String, PlivoError> {
    let groups: Vec<&str> = raw.split('-').collect();
    let shaped = groups.len() == 5
        && groups
            .iter()
            .zip([8..=8, 4..=4, 4..=4, 4..=4, 10..=12])
            .all(|(g, len)| len.contains(&g.len()) && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if !shaped {
        return Err(PlivoError::BadCallUuid);
    }
    let canonical = raw.to_ascii_lowercase();
    trace.field(|| Provenance {
        field: "call_id".into(),
        source: Source {
            kind: SourceKind::PathSegment,
            at: "{call_uuid}".into(),
        },
        raw: Some(raw.to_owned()),
        conversion: (canonical != raw).then(|| format!("{raw} → {canonical} (lower case)")),
        model: None,
    });
    if groups[4].len() < 12 {
        trace.tolerated(|| Tolerated {
            shape: "short-call-uuid".into(),
            source: Source {
                kind: SourceKind::PathSegment,
                at: "{call_uuid}".into(),
            },
            description: "a call UUID whose last group has fewer than 12 hex digits, as two of \
                          Plivo's own documentation examples write it"
                .into(),
        });
    }
    Ok(canonical)
}

/// The feedback report of `tenant` about call `call_uuid` (already checked
/// with [`call_uuid`]): `body` decoded and validated as [`decode`] does, and
/// kept whole as the raw payload.
pub fn decode_report(
    tenant: &str,
    call_uuid: String,
    body: &[u8],
    trace: &Trace,
) -> Result<Report, PlivoError> {
    let text = body_text(body)?;
    let feedback = decode_traced(text, trace)?;
    let mut report = Report::new(tenant, Protocol::Plivo, Kind::Feedback, call_uuid, text);
    report.rating = Some(feedback.rating);
    report.issues = feedback
        .issues
        .iter()
        .map(|i| i.as_str().to_owned())
        .collect();
    report.notes = feedback.notes;
    Ok(report)
}

/// The body as text: JSON is UTF-8, and the text is what gets stored.
pub fn body_text(body: &[u8]) -> Result<&str, PlivoError> {
    std::str::from_utf8(body).map_err(|_| PlivoError::MalformedBody)
}

/// Decodes and validates a feedback body.
///
/// An empty (or blank) body is read as an object with no fields: the current
/// Node SDK sends exactly that, and the right answer to it is the missing
/// rating's 422, not a 400. Keys other than rating, issues and notes (the Go,
/// PHP and .NET SDKs add the call UUID and internal flags) are ignored; they
/// stay in the stored raw payload.
pub fn decode(text: &str) -> Result<Feedback, PlivoError> {
    decode_traced(text, &Trace::off())
}

/// The keys of a feedback body callq reads.
const KNOWN_KEYS: [&str; 4] = ["rating", "issues", "notes", "Notes"];

/// [`decode`], recording provenance into `trace`.
pub fn decode_traced(text: &str, trace: &Trace) -> Result<Feedback, PlivoError> {
    let stripped = text.strip_prefix('\u{feff}');
    if stripped.is_some() {
        trace.tolerated(|| {
            tolerated(
                "utf8-byte-order-mark",
                "",
                "a UTF-8 byte-order mark before the JSON; dropped",
            )
        });
    }
    let text = stripped.unwrap_or(text);
    let fields = if text.trim().is_empty() {
        trace.tolerated(|| {
            tolerated(
                "empty-body",
                "",
                "an empty body, as current plivo-node SDKs send every feedback (their HTTP \
                 client drops it); read as {} (so the missing rating's 422 follows)",
            )
        });
        Map::new()
    } else {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(fields)) => fields,
            _ => return Err(PlivoError::MalformedBody),
        }
    };
    let rating = rating(fields.get("rating"))?;
    let issues = issues(fields.get("issues"), rating)?;
    let notes = notes(&fields)?;
    // The real path pays one branch here; every row is built below.
    if trace.enabled() {
        trace_feedback(trace, &fields, rating, notes.as_deref());
    }
    Ok(Feedback {
        rating,
        issues,
        notes,
    })
}

/// The rows of a valid feedback: the rating, each issue, the notes, and the
/// keys that are not feedback arguments.
fn trace_feedback(trace: &Trace, fields: &Map<String, Value>, rating: f64, notes: Option<&str>) {
    let sent = fields.get("rating");
    let as_string = matches!(sent, Some(Value::String(_)));
    trace.field(|| {
        let raw = sent.map(Value::to_string).unwrap_or_default();
        Provenance {
            field: "rating".into(),
            source: pointer("/rating"),
            conversion: as_string.then(|| format!("{raw} → {rating:?}")),
            raw: Some(raw),
            model: None,
        }
    });
    if as_string {
        trace.tolerated(|| {
            tolerated(
                "rating-as-string",
                "/rating",
                "the rating as a numeric string, as Plivo's curl example and its Python and Go \
                 SDKs send it; read as the number",
            )
        });
    }
    trace_issues(trace, fields.get("issues"));
    if let Some(text) = notes {
        // The lowercase key wins when both carry text (see `notes`).
        let key = match fields.get("notes") {
            Some(Value::String(t)) if !t.trim().is_empty() => "notes",
            _ => "Notes",
        };
        trace.field(|| Provenance {
            field: "notes".into(),
            source: pointer(&format!("/{key}")),
            raw: Some(Value::String(text.to_owned()).to_string()),
            conversion: None,
            model: None,
        });
    }
    for key in fields.keys().filter(|k| !KNOWN_KEYS.contains(&k.as_str())) {
        trace.ignored(|| Ignored {
            source: pointer(&format!("/{}", key.replace('~', "~0").replace('/', "~1"))),
            reason: "not a feedback argument (the Go, PHP and .NET SDKs add the call UUID and \
                     internal flags)"
                .into(),
        });
    }
}

/// Rows for each issue name: canonical names as sent, other spellings with
/// their mapping, repeats as ignored.
fn trace_issues(trace: &Trace, value: Option<&Value>) {
    let Some(Value::Array(names)) = value else {
        if matches!(value, Some(Value::Null)) {
            trace.tolerated(|| {
                tolerated(
                    "null-issues",
                    "/issues",
                    "issues: null, as the Go SDK sends for no issues; read as absent",
                )
            });
        }
        return;
    };
    let mut seen = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let Some(issue) = name.as_str().and_then(Issue::from_wire) else {
            continue;
        };
        let at = format!("/issues/{i}");
        if seen.contains(&issue) {
            trace.ignored(|| Ignored {
                source: pointer(&at),
                reason: format!("{} again: each issue is kept once", issue.as_str()),
            });
            continue;
        }
        let index = seen.len();
        seen.push(issue);
        let sent = name.as_str().unwrap_or_default();
        trace.field(|| Provenance {
            field: format!("issues[{index}]"),
            source: pointer(&at),
            raw: Some(name.to_string()),
            conversion: (sent != issue.as_str()).then(|| format!("{sent} → {}", issue.as_str())),
            model: None,
        });
    }
}

fn pointer(at: &str) -> Source {
    Source {
        kind: SourceKind::JsonPointer,
        at: at.to_owned(),
    }
}

fn tolerated(shape: &str, at: &str, description: &str) -> Tolerated {
    Tolerated {
        shape: shape.into(),
        source: pointer(at),
        description: description.into(),
    }
}

/// A JSON number, or a string holding one (`"4"`, `"4.0"`, `"4.5"`: Plivo's
/// own curl example and the Python and Go SDKs send strings), within 1..=5.
fn rating(value: Option<&Value>) -> Result<f64, PlivoError> {
    let number = match value {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    number
        .filter(|r| r.is_finite() && (1.0..=5.0).contains(r))
        .ok_or(PlivoError::InvalidRating)
}

/// Required (at least one) below rating 5. With rating 5 issues may be left
/// out, but any that are sent are checked and kept: a client that names an
/// issue meant it, and an unknown name is an error whatever the rating.
/// `null` counts as absent (the Go SDK sends it for "no issues").
fn issues(value: Option<&Value>, rating: f64) -> Result<Vec<Issue>, PlivoError> {
    let names: &[Value] = match value {
        None | Some(Value::Null) => &[],
        Some(Value::Array(names)) => names,
        Some(_) => return Err(PlivoError::InvalidIssues),
    };
    let mut issues = Vec::with_capacity(names.len().min(Issue::ALL.len()));
    for name in names {
        let issue = name
            .as_str()
            .and_then(Issue::from_wire)
            .ok_or(PlivoError::InvalidIssues)?;
        if !issues.contains(&issue) {
            issues.push(issue);
        }
    }
    if issues.is_empty() && rating < 5.0 {
        return Err(PlivoError::InvalidIssues);
    }
    Ok(issues)
}

/// `notes` as every SDK sends it, or `Notes` as Plivo's argument table spells
/// it; the lowercase key wins when both carry text. Null or blank is absent.
fn notes(fields: &Map<String, Value>) -> Result<Option<String>, PlivoError> {
    let mut found = None;
    for key in ["notes", "Notes"] {
        match fields.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => {
                if text.chars().count() > NOTES_MAX_CHARS {
                    return Err(PlivoError::InvalidNotes);
                }
                if found.is_none() && !text.trim().is_empty() {
                    found = Some(text.clone());
                }
            }
            Some(_) => return Err(PlivoError::InvalidNotes),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Feedback {
        decode(body).unwrap_or_else(|e| panic!("{body}: {e:?}"))
    }

    fn err(body: &str) -> PlivoError {
        decode(body).expect_err(body)
    }

    #[test]
    fn ratings_are_numbers_or_numeric_strings_within_one_to_five() {
        for (body, expected) in [
            (r#"{"rating": "4", "issues": ["ECHO"]}"#, 4.0),
            (r#"{"rating": "4.0", "issues": ["ECHO"]}"#, 4.0),
            (r#"{"rating": 4, "issues": ["ECHO"]}"#, 4.0),
            (r#"{"rating": 4.5, "issues": ["ECHO"]}"#, 4.5),
            (r#"{"rating": " 2.25 ", "issues": ["ECHO"]}"#, 2.25),
            (r#"{"rating": 1, "issues": ["ECHO"]}"#, 1.0),
            (r#"{"rating": "5"}"#, 5.0),
            (r#"{"rating": 5.0}"#, 5.0),
        ] {
            assert_eq!(ok(body).rating, expected, "{body}");
        }
    }

    #[test]
    fn anything_else_is_plivos_rating_error() {
        for body in [
            "",
            "  \n",
            "{}",
            r#"{"rating": null}"#,
            r#"{"rating": 0}"#,
            r#"{"rating": 0.99}"#,
            r#"{"rating": 5.01}"#,
            r#"{"rating": "7"}"#,
            r#"{"rating": -3}"#,
            r#"{"rating": ""}"#,
            r#"{"rating": "four"}"#,
            r#"{"rating": "NaN"}"#,
            r#"{"rating": "inf"}"#,
            r#"{"rating": true}"#,
            r#"{"rating": [4]}"#,
            r#"{"rating": {"value": 4}}"#,
            r#"{"Rating": 4, "issues": ["ECHO"]}"#,
        ] {
            assert_eq!(err(body), PlivoError::InvalidRating, "{body:?}");
        }
    }

    #[test]
    fn the_rating_is_checked_before_the_issues() {
        assert_eq!(
            err(r#"{"rating": 9, "issues": ["NOPE"]}"#),
            PlivoError::InvalidRating
        );
    }

    #[test]
    fn issues_are_required_below_five_and_must_be_known_names() {
        for body in [
            r#"{"rating": 4}"#,
            r#"{"rating": 4, "issues": null}"#,
            r#"{"rating": 4, "issues": []}"#,
            r#"{"rating": 4, "issues": "ECHO"}"#,
            r#"{"rating": 4, "issues": ["ECHO", "NOISE"]}"#,
            r#"{"rating": 4, "issues": [""]}"#,
            r#"{"rating": 4, "issues": [1]}"#,
            r#"{"rating": 4, "issues": [null]}"#,
            r#"{"rating": 4.99, "issues": []}"#,
            r#"{"rating": 5, "issues": ["NOISE"]}"#,
        ] {
            assert_eq!(err(body), PlivoError::InvalidIssues, "{body}");
        }
    }

    #[test]
    fn issues_are_normalized_and_deduplicated_in_order() {
        let f = ok(
            r#"{"rating": 2, "issues": ["CALL_DROPPPED", "echo", "CALLERID_ISSUES", "CALL_DROPPED", "ECHO"]}"#,
        );
        assert_eq!(
            f.issues,
            vec![Issue::CallDropped, Issue::Echo, Issue::CalleridIssue]
        );
    }

    #[test]
    fn rating_five_needs_no_issues_but_keeps_those_sent() {
        assert!(ok(r#"{"rating": 5}"#).issues.is_empty());
        assert!(ok(r#"{"rating": 5, "issues": null}"#).issues.is_empty());
        assert_eq!(
            ok(r#"{"rating": "5", "issues": ["OTHERS"]}"#).issues,
            vec![Issue::Others]
        );
    }

    #[test]
    fn notes_come_from_either_spelling_and_blank_is_absent() {
        let with = |notes: &str| ok(&format!(r#"{{"rating": 5, {notes}}}"#)).notes;
        assert_eq!(with(r#""notes": "good""#).as_deref(), Some("good"));
        assert_eq!(with(r#""Notes": "good""#).as_deref(), Some("good"));
        assert_eq!(with(r#""notes": "a", "Notes": "b""#).as_deref(), Some("a"));
        assert_eq!(with(r#""notes": "", "Notes": "b""#).as_deref(), Some("b"));
        assert_eq!(with(r#""notes": """#), None);
        assert_eq!(with(r#""notes": "   ""#), None);
        assert_eq!(with(r#""notes": null"#), None);
        assert_eq!(ok(r#"{"rating": 5}"#).notes, None);
    }

    #[test]
    fn notes_must_be_text_within_the_cap() {
        let at_cap = "é".repeat(NOTES_MAX_CHARS);
        let body = serde_json::json!({"rating": 5, "notes": at_cap}).to_string();
        assert_eq!(ok(&body).notes.as_deref(), Some(at_cap.as_str()));
        let over = serde_json::json!({"rating": 5, "notes": "x".repeat(NOTES_MAX_CHARS + 1)});
        assert_eq!(err(&over.to_string()), PlivoError::InvalidNotes);
        let over_caps = serde_json::json!({"rating": 5, "Notes": "x".repeat(NOTES_MAX_CHARS + 1)});
        assert_eq!(err(&over_caps.to_string()), PlivoError::InvalidNotes);
        assert_eq!(
            err(r#"{"rating": 5, "notes": 12}"#),
            PlivoError::InvalidNotes
        );
        assert_eq!(
            err(r#"{"rating": 5, "notes": ["a"]}"#),
            PlivoError::InvalidNotes
        );
    }

    #[test]
    fn sdk_extras_are_tolerated() {
        // Go: whole struct, unset fields as "" and null, trailing newline.
        let go = "{\"call_uuid\":\"b38149eb-b8fe-45d5-85b2-78ee4424788f\",\"notes\":\"\",\"rating\":5,\"issues\":null}\n";
        assert_eq!(
            ok(go),
            Feedback {
                rating: 5.0,
                issues: vec![],
                notes: None
            }
        );
        // PHP: callUUID and its internal flag in the body; a leading BOM.
        let php = "\u{feff}{\"callUUID\":\"x\",\"rating\":4,\"issues\":[\"AUDIO_LAG\"],\"isCallInsightsRequest\":true}";
        assert_eq!(ok(php).issues, vec![Issue::AudioLag]);
    }

    #[test]
    fn bodies_that_are_not_a_json_object_are_malformed() {
        for body in [
            "rating=4",
            "[]",
            "null",
            "4",
            r#""rating""#,
            r#"{"rating": 4"#,
            "{} {}",
        ] {
            assert_eq!(err(body), PlivoError::MalformedBody, "{body}");
        }
        assert_eq!(
            body_text(b"{\"notes\": \"\xff\"}"),
            Err(PlivoError::MalformedBody)
        );
    }

    #[test]
    fn call_uuids_must_be_uuid_shaped() {
        let u = call_uuid("B38149EB-B8FE-45D5-85B2-78EE4424788F").unwrap();
        assert_eq!(u, "b38149eb-b8fe-45d5-85b2-78ee4424788f");
        // The seed's curl and Go examples, one and two digits short.
        assert!(call_uuid("f6bf3c48-afdf-4e42-a30e-9e00fda351d").is_ok());
        assert!(call_uuid("f18149eb-b8fe-45d5-85b2-78ee442478").is_ok());
        for bad in [
            "",
            "f18149eb-b8fe-45d5-85b2-78ee44247",
            "f18149eb-b8fe-45d5-85b2-78ee4424788f0",
            "f18149eb-b8fe-45d5-85b2",
            "b38149ebb8fe45d585b278ee4424788f",
            "{b38149eb-b8fe-45d5-85b2-78ee4424788f}",
            "urn:uuid:b38149eb-b8fe-45d5-85b2-78ee4424788f",
            "b38149eb-b8fe-45d5-85b2-78ee4424788g",
            "b38149eb+b8fe-45d5-85b2-78ee4424788f",
            "b38149eb-b8fe-45d5-85b2-78ee4424788f0",
            "b38149eb-b8fe-45d5-85b2-78ee4424788é",
        ] {
            assert_eq!(call_uuid(bad), Err(PlivoError::BadCallUuid), "{bad}");
        }
    }
}
