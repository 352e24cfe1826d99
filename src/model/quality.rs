//! Poor-stream classification: Microsoft Call Quality Dashboard's audio
//! classifier (Microsoft Learn, "Stream Classification in Call Quality
//! Dashboard (CQD)", section "Audio Classifier"), applied to every audio
//! stream once, when a report is accepted.
//!
//! CQD calls an audio stream **Poor** when at least one of
//! - average round trip > 500 ms,
//! - average packet loss > 10 % (CQD states 0.1 as a fraction),
//! - average jitter > 30 ms
//!
//! holds *and* the stream carried more than 500 packets; **Unclassified**
//! when the metrics are missing; otherwise **Good**. CQD's own caveat holds
//! here too: Poor means the network conditions for good audio were not met,
//! not that a person heard bad audio.
//!
//! callq's streams carry one average per direction where CQD's are
//! one-directional, so the inputs are read as follows (and [`CLASSIFIER`]
//! names this reading):
//! - each metric is the **worse** (larger) of the inbound and outbound
//!   averages present; a round trip is the same path either way;
//! - the packet count is the **larger** of the inbound and outbound counts
//!   present (the stream carried that many in at least one direction);
//! - the stream is **Unclassified** when it has no packet count in either
//!   direction, or none of the three averages in either direction; maxima
//!   never stand in for averages (CQD classifies on averages);
//! - with a packet count and at least one average, the averages present
//!   decide: a stream missing, say, its round trip is Poor only through
//!   jitter or loss, and Good when neither exceeds its threshold;
//! - a non-finite value counts as missing.
//!
//! Streams that are not audio (video, screen sharing, unknown) get no class:
//! the classifier is CQD's audio classifier only.

use serde::{Deserialize, Serialize};

use super::{MediaStream, Modality};

/// Classifier name and version stored beside every class
/// (`quality_classifier`), so that classes from a later rule set are never
/// mixed up with these.
pub const CLASSIFIER: &str = "cqd-audio/1";

/// Poor when the average round trip exceeds this (ms).
pub const ROUND_TRIP_MS: f64 = 500.0;
/// Poor when the average packet loss exceeds this (percent; CQD's 0.1).
pub const PACKET_LOSS_PCT: f64 = 10.0;
/// Poor when the average jitter exceeds this (ms).
pub const JITTER_MS: f64 = 30.0;
/// A stream is Poor only when it carried more packets than this.
pub const MIN_PACKETS: i64 = 500;

/// The class of one audio stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QualityClass {
    Good,
    Poor,
    Unclassified,
}

super::text_enum!(QualityClass {
    Good => "good",
    Poor => "poor",
    Unclassified => "unclassified",
});

/// Which condition made a stream Poor (CQD's "Poor due to"); several can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PoorReason {
    RoundTrip,
    PacketLoss,
    Jitter,
}

super::text_enum!(PoorReason {
    RoundTrip => "round_trip",
    PacketLoss => "packet_loss",
    Jitter => "jitter",
});

/// The outcome for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub class: QualityClass,
    /// Empty unless `class` is Poor; in [`PoorReason::ALL`] order.
    pub reasons: Vec<PoorReason>,
}

/// Classifies an audio stream's metrics; `None` for any other stream.
pub fn classify(stream: &MediaStream) -> Option<Classification> {
    if stream.modality != Some(Modality::Audio) {
        return None;
    }
    let Inputs {
        packets,
        rtt,
        loss,
        jitter,
    } = inputs(stream);
    let unclassified = Classification {
        class: QualityClass::Unclassified,
        reasons: Vec::new(),
    };
    let Some(packets) = packets else {
        return Some(unclassified);
    };
    if rtt.is_none() && loss.is_none() && jitter.is_none() {
        return Some(unclassified);
    }
    let over = |value: Option<f64>, limit: f64| value.is_some_and(|v| v > limit);
    let reasons: Vec<PoorReason> = [
        (PoorReason::RoundTrip, over(rtt, ROUND_TRIP_MS)),
        (PoorReason::PacketLoss, over(loss, PACKET_LOSS_PCT)),
        (PoorReason::Jitter, over(jitter, JITTER_MS)),
    ]
    .into_iter()
    .filter_map(|(reason, fired)| fired.then_some(reason))
    .collect();
    if packets > MIN_PACKETS && !reasons.is_empty() {
        Some(Classification {
            class: QualityClass::Poor,
            reasons,
        })
    } else {
        Some(Classification {
            class: QualityClass::Good,
            reasons: Vec::new(),
        })
    }
}

/// What [`classify`] decides from: the larger packet count and the worse
/// direction of each average (explain shows them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inputs {
    pub packets: Option<i64>,
    pub rtt: Option<f64>,
    pub loss: Option<f64>,
    pub jitter: Option<f64>,
}

/// The inputs [`classify`] reads from `stream`.
pub fn inputs(stream: &MediaStream) -> Inputs {
    let worse = |a: Option<f64>, b: Option<f64>| {
        [a, b]
            .into_iter()
            .flatten()
            .filter(|v| v.is_finite())
            .reduce(f64::max)
    };
    Inputs {
        packets: [stream.inbound_packets, stream.outbound_packets]
            .into_iter()
            .flatten()
            .max(),
        rtt: worse(stream.avg_inbound_rtt_ms, stream.avg_outbound_rtt_ms),
        loss: worse(stream.avg_inbound_loss_pct, stream.avg_outbound_loss_pct),
        jitter: worse(stream.avg_inbound_jitter_ms, stream.avg_outbound_jitter_ms),
    }
}

/// Stores the classification of `stream` in it (class, reasons and
/// [`CLASSIFIER`]); a non-audio stream is left with none.
pub fn annotate(stream: &mut MediaStream) {
    match classify(stream) {
        Some(c) => {
            stream.quality_class = Some(c.class);
            stream.poor_reasons = c.reasons;
            stream.quality_classifier = Some(CLASSIFIER.to_owned());
        }
        None => {
            stream.quality_class = None;
            stream.poor_reasons = Vec::new();
            stream.quality_classifier = None;
        }
    }
}

/// Reasons as stored: names joined by `,` in [`PoorReason::ALL`] order
/// (`""` for none). Both databases store this text, so the statistics can
/// count a reason with one `LIKE` on either.
pub fn join_reasons(reasons: &[PoorReason]) -> String {
    reasons
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses [`join_reasons`]' text back.
pub fn split_reasons(text: &str) -> Result<Vec<PoorReason>, super::UnknownName> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An audio stream that carried `packets` packets inbound, with the given
    /// inbound averages.
    fn audio(
        packets: Option<i64>,
        rtt: Option<f64>,
        loss: Option<f64>,
        jitter: Option<f64>,
    ) -> MediaStream {
        MediaStream {
            modality: Some(Modality::Audio),
            inbound_packets: packets,
            avg_inbound_rtt_ms: rtt,
            avg_inbound_loss_pct: loss,
            avg_inbound_jitter_ms: jitter,
            ..MediaStream::default()
        }
    }

    fn class_of(s: &MediaStream) -> (QualityClass, Vec<PoorReason>) {
        let c = classify(s).expect("audio is classified");
        (c.class, c.reasons)
    }

    const GOOD: (QualityClass, Vec<PoorReason>) = (QualityClass::Good, Vec::new());

    #[test]
    fn round_trip_is_poor_only_above_500_ms() {
        assert_eq!(class_of(&audio(Some(1000), Some(500.0), None, None)), GOOD);
        assert_eq!(
            class_of(&audio(Some(1000), Some(500.001), None, None)),
            (QualityClass::Poor, vec![PoorReason::RoundTrip])
        );
    }

    #[test]
    fn packet_loss_is_poor_only_above_10_percent() {
        assert_eq!(class_of(&audio(Some(1000), None, Some(10.0), None)), GOOD);
        assert_eq!(
            class_of(&audio(Some(1000), None, Some(10.001), None)),
            (QualityClass::Poor, vec![PoorReason::PacketLoss])
        );
    }

    #[test]
    fn jitter_is_poor_only_above_30_ms() {
        assert_eq!(class_of(&audio(Some(1000), None, None, Some(30.0))), GOOD);
        assert_eq!(
            class_of(&audio(Some(1000), None, None, Some(30.001))),
            (QualityClass::Poor, vec![PoorReason::Jitter])
        );
    }

    #[test]
    fn a_stream_is_poor_only_when_it_carried_more_than_500_packets() {
        let bad = |packets| audio(Some(packets), Some(900.0), Some(50.0), Some(90.0));
        assert_eq!(class_of(&bad(500)), GOOD);
        assert_eq!(
            class_of(&bad(501)),
            (
                QualityClass::Poor,
                vec![
                    PoorReason::RoundTrip,
                    PoorReason::PacketLoss,
                    PoorReason::Jitter
                ]
            )
        );
    }

    #[test]
    fn missing_inputs_leave_a_stream_unclassified() {
        let unclassified = (QualityClass::Unclassified, Vec::new());
        // No packet count in either direction.
        assert_eq!(
            class_of(&audio(None, Some(900.0), Some(50.0), Some(90.0))),
            unclassified
        );
        // A packet count but none of the three averages.
        assert_eq!(class_of(&audio(Some(1000), None, None, None)), unclassified);
        // Maxima do not stand in for averages.
        let maxima_only = MediaStream {
            max_inbound_jitter_ms: Some(90.0),
            max_inbound_rtt_ms: Some(900.0),
            ..audio(Some(1000), None, None, None)
        };
        assert_eq!(class_of(&maxima_only), unclassified);
        // Non-finite values count as missing.
        assert_eq!(
            class_of(&audio(
                Some(1000),
                Some(f64::NAN),
                None,
                Some(f64::INFINITY)
            )),
            unclassified
        );
        // A packet count of zero is a count: Good (it carried nothing).
        assert_eq!(class_of(&audio(Some(0), None, None, Some(90.0))), GOOD);
    }

    #[test]
    fn the_worse_direction_and_the_larger_packet_count_decide() {
        // Inbound fine, outbound jitter bad; packets only counted outbound.
        let s = MediaStream {
            modality: Some(Modality::Audio),
            outbound_packets: Some(501),
            avg_inbound_jitter_ms: Some(5.0),
            avg_outbound_jitter_ms: Some(31.0),
            avg_outbound_rtt_ms: Some(40.0),
            ..MediaStream::default()
        };
        assert_eq!(class_of(&s), (QualityClass::Poor, vec![PoorReason::Jitter]));
        // 400 inbound, 600 outbound: more than 500 in one direction.
        let s = MediaStream {
            inbound_packets: Some(400),
            outbound_packets: Some(600),
            avg_inbound_loss_pct: Some(12.0),
            ..audio(None, None, None, None)
        };
        assert_eq!(
            class_of(&s),
            (QualityClass::Poor, vec![PoorReason::PacketLoss])
        );
    }

    #[test]
    fn only_audio_streams_are_classified() {
        for modality in [
            Some(Modality::Video),
            Some(Modality::ScreenSharing),
            Some(Modality::Unknown),
            None,
        ] {
            let mut s = MediaStream {
                modality,
                ..audio(Some(1000), Some(900.0), None, None)
            };
            assert_eq!(classify(&s), None);
            annotate(&mut s);
            assert_eq!(s.quality_class, None);
            assert_eq!(s.quality_classifier, None);
        }
        let mut s = audio(Some(1000), Some(900.0), None, Some(31.0));
        annotate(&mut s);
        assert_eq!(s.quality_class, Some(QualityClass::Poor));
        assert_eq!(
            s.poor_reasons,
            vec![PoorReason::RoundTrip, PoorReason::Jitter]
        );
        assert_eq!(s.quality_classifier.as_deref(), Some(CLASSIFIER));
    }

    #[test]
    fn reasons_round_trip_through_their_stored_text() {
        for reasons in [vec![], vec![PoorReason::Jitter], PoorReason::ALL.to_vec()] {
            assert_eq!(split_reasons(&join_reasons(&reasons)).unwrap(), reasons);
        }
        assert_eq!(
            join_reasons(PoorReason::ALL),
            "round_trip,packet_loss,jitter"
        );
        assert!(split_reasons("latency").is_err());
    }
}
