//! What text the store can hold, decided once for every wire style.
//!
//! PostgreSQL's `text` cannot hold U+0000 (it refuses the whole statement,
//! which used to look like an outage and drop a batch into one-row-at-a-time
//! mode); SQLite can. So that both backends store the same thing, every report
//! passes [`Report::make_storable`] before it reaches the writer:
//!
//! - free text (notes, device names, the opaque UCWA properties, stream labels,
//!   …) keeps everything else a client sent and has each U+0000 replaced by
//!   U+FFFD, the Unicode replacement character;
//! - identifiers (call id, participant and media-leg ids) are refused instead:
//!   a changed id would silently file the report under another call;
//! - the raw payload is never changed. A raw NUL byte cannot occur in it,
//!   because every style refuses such a body as malformed before a report is
//!   built (JSON forbids unescaped control characters, XML 1.0 forbids the
//!   character outright); an escaped `\u0000` in JSON is six ordinary
//!   characters and is stored verbatim. Should a NUL still get there, the
//!   report is refused rather than stored altered.

use std::borrow::Cow;

use super::Report;

/// The replacement for U+0000 in free text.
pub const REPLACEMENT: char = '\u{FFFD}';

/// `text` with each U+0000 replaced by U+FFFD; borrowed when there is none.
pub fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// True when `text` can be stored as it is.
pub fn is_storable(text: &str) -> bool {
    !text.contains('\0')
}

/// A report field that cannot be stored and may not be altered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} contains the character U+0000, which cannot be stored")]
pub struct Unstorable {
    /// The report field at fault (`call_id`, `participant_id`, …).
    pub field: &'static str,
}

fn replace_in(value: &mut String) {
    if let Cow::Owned(fixed) = storable(value) {
        *value = fixed;
    }
}

fn replace_in_opt(value: &mut Option<String>) {
    if let Some(v) = value {
        replace_in(v);
    }
}

fn require(field: &'static str, value: &str) -> Result<(), Unstorable> {
    if is_storable(value) {
        Ok(())
    } else {
        Err(Unstorable { field })
    }
}

impl Report {
    /// Makes every text field storable on both backends (see the module
    /// documentation): U+0000 in free text becomes U+FFFD; in an identifier
    /// or the raw payload it is an error naming the field.
    pub fn make_storable(&mut self) -> Result<(), Unstorable> {
        require("call_id", &self.call_id)?;
        require("tenant", &self.tenant)?;
        if let Some(id) = &self.participant_id {
            require("participant_id", id)?;
        }
        if let Some(id) = &self.media_leg_id {
            require("media_leg_id", id)?;
        }
        if let Some(key) = &self.idempotency_key {
            require("idempotency_key", key)?;
        }
        require("raw_payload", &self.raw_payload)?;
        self.issues.iter_mut().for_each(replace_in);
        for field in [
            &mut self.notes,
            &mut self.error_code,
            &mut self.error_subcode,
            &mut self.device_name,
            &mut self.device_description,
            &mut self.cloud_service_name,
            &mut self.cloud_service_instance_name,
            &mut self.cloud_service_deployment_id,
            &mut self.cloud_service_deployment_environment,
            &mut self.media_endpoint,
            &mut self.media_quality_of_experience,
            &mut self.request_id,
            &mut self.user_agent,
            &mut self.content_type,
        ] {
            replace_in_opt(field);
        }
        for stream in &mut self.streams {
            replace_in_opt(&mut stream.label);
            replace_in_opt(&mut stream.local_ip);
            replace_in_opt(&mut stream.remote_ip);
            replace_in_opt(&mut stream.mos_model);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, MediaStream, Protocol};

    #[test]
    fn nul_in_free_text_becomes_the_replacement_character() {
        assert_eq!(storable("a\0b\0"), "a\u{FFFD}b\u{FFFD}");
        assert!(matches!(storable("plain"), Cow::Borrowed("plain")));
        let mut r = Report::new(
            "t",
            Protocol::Plivo,
            Kind::Feedback,
            "c",
            "{\"n\":\"\\u0000\"}",
        );
        r.notes = Some("x\0y".into());
        r.media_quality_of_experience = Some("\0".into());
        r.issues = vec!["A\0".into()];
        r.streams = vec![MediaStream {
            label: Some("l\0".into()),
            ..MediaStream::default()
        }];
        r.make_storable().unwrap();
        assert_eq!(r.notes.as_deref(), Some("x\u{FFFD}y"));
        assert_eq!(r.media_quality_of_experience.as_deref(), Some("\u{FFFD}"));
        assert_eq!(r.issues, vec!["A\u{FFFD}".to_owned()]);
        assert_eq!(r.streams[0].label.as_deref(), Some("l\u{FFFD}"));
        // The escaped form in the raw payload is ordinary text, kept verbatim.
        assert_eq!(r.raw_payload, "{\"n\":\"\\u0000\"}");
    }

    #[test]
    fn nul_in_an_identifier_or_the_raw_payload_is_refused_by_name() {
        let base = Report::new("t", Protocol::Graph, Kind::DeviceQuality, "c", "{}");
        let mut r = base.clone();
        r.call_id = "a\0b".into();
        assert_eq!(r.make_storable().unwrap_err().field, "call_id");
        let mut r = base.clone();
        r.participant_id = Some("\0".into());
        assert_eq!(r.make_storable().unwrap_err().field, "participant_id");
        let mut r = base.clone();
        r.raw_payload = "{\0}".into();
        assert_eq!(r.make_storable().unwrap_err().field, "raw_payload");
        let mut r = base;
        assert!(r.make_storable().is_ok());
    }
}
