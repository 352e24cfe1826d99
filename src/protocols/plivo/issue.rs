//! Plivo's call-quality issue names, and the spellings clients really use.

use crate::model::text_enum;

/// One problem a caller observed on a call, as Plivo's feedback API names it.
///
/// The stored name is always the canonical one from Plivo's argument table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Issue {
    AudioLag,
    BrokenAudio,
    CallDropped,
    CalleridIssue,
    DigitsNotCaptured,
    Echo,
    HighConnectTime,
    LowAudioLevel,
    OneWayAudio,
    Others,
    RoboticAudio,
}

text_enum!(Issue {
    AudioLag => "AUDIO_LAG",
    BrokenAudio => "BROKEN_AUDIO",
    CallDropped => "CALL_DROPPED",
    CalleridIssue => "CALLERID_ISSUE",
    DigitsNotCaptured => "DIGITS_NOT_CAPTURED",
    Echo => "ECHO",
    HighConnectTime => "HIGH_CONNECT_TIME",
    LowAudioLevel => "LOW_AUDIO_LEVEL",
    OneWayAudio => "ONE_WAY_AUDIO",
    Others => "OTHERS",
    RoboticAudio => "ROBOTIC_AUDIO",
});

impl Issue {
    /// Reads an issue name as a client sent it.
    ///
    /// Plivo's own 422 text spells two names differently from its argument
    /// table (`CALL_DROPPPED`, `CALLERID_ISSUES`), and its browser and mobile
    /// SDKs use `CALLERID_ISSUES` and lowercase tokens; a client that copied
    /// any of those must not be turned away. So surrounding blanks and case
    /// are ignored and both misspellings map to their canonical member.
    pub fn from_wire(name: &str) -> Option<Issue> {
        let name = name.trim().to_ascii_uppercase();
        match name.as_str() {
            "CALL_DROPPPED" => Some(Issue::CallDropped),
            "CALLERID_ISSUES" => Some(Issue::CalleridIssue),
            canonical => canonical.parse().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_canonical_name_reads_back_as_itself() {
        assert_eq!(Issue::ALL.len(), 11);
        for issue in Issue::ALL {
            assert_eq!(Issue::from_wire(issue.as_str()), Some(*issue));
        }
    }

    #[test]
    fn the_spellings_of_plivos_error_text_are_normalized() {
        assert_eq!(Issue::from_wire("CALL_DROPPPED"), Some(Issue::CallDropped));
        assert_eq!(
            Issue::from_wire("CALLERID_ISSUES"),
            Some(Issue::CalleridIssue)
        );
    }

    #[test]
    fn case_and_surrounding_blanks_do_not_matter() {
        assert_eq!(Issue::from_wire(" audio_lag "), Some(Issue::AudioLag));
        assert_eq!(
            Issue::from_wire("callerid_issue"),
            Some(Issue::CalleridIssue)
        );
    }

    #[test]
    fn other_names_are_not_issues() {
        for name in [
            "",
            "AUDIOLAG",
            "AUDIO LAG",
            "CALL_DROPPPPED",
            "NOISE",
            "ÉCHO",
        ] {
            assert_eq!(Issue::from_wire(name), None, "{name:?}");
        }
    }
}
