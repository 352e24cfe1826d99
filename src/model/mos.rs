//! A listening-quality estimate for audio streams: the ITU-T G.107 E-model
//! in its widely used simplified form (Cole & Rosenbluth, "Voice over IP
//! performance monitoring", ACM SIGCOMM CCR 31(2), 2001), computed from the
//! network metrics a report carries (round-trip time, jitter, packet loss).
//!
//! The model, step by step (every constant is named below with its source):
//!
//! 1. One-way mouth-to-ear delay `d` (ms):
//!    `d = RTT/2 + JITTER_BUFFER_FACTOR * jitter + CODEC_DELAY_MS`.
//!    The network delay is half the round trip (RTT is measured there and
//!    back; using the whole RTT, as some calculators do, doubles it).
//! 2. Delay impairment (Cole & Rosenbluth's fit of G.107's Id for the
//!    default parameter set): `Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)`,
//!    where `H` is the unit step.
//! 3. Effective equipment impairment from packet loss (G.107 §7.4, with
//!    random loss, `BurstR = 1`): `Ie_eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl)`,
//!    with `Ppl` the loss in **percent** (0..100). Loss enters the model
//!    here and only here: some open calculators subtract a further
//!    `2.5 × loss`, counting it twice, and some pass a fraction (0..1) where
//!    the formula wants percent, under-weighting loss 100-fold.
//! 4. `R = R0 - Id - Ie_eff`, clamped to 0..100.
//! 5. MOS (G.107 Annex B, eq. B-4): `1` for `R <= 0`, `4.5` for `R >= 100`,
//!    else `1 + 0.035 R + 7e-6 R (R - 60) (100 - R)`.
//!
//! The codec is not known from the wire (Graph's device-quality type does
//! not carry it), so the impairment constants are those of G.711 with packet
//! loss concealment, the baseline every VTC device and Teams media path can
//! fall back to. A codec-aware variant would change [`MODEL`].

use super::{MediaStream, Modality};

/// Model name and version stored beside every estimate (`mos_model`), so
/// that scores computed by a later, different model are never mixed up.
pub const MODEL: &str = "g107-simplified/1";

/// `R0`: the basic signal-to-noise ratio less the simultaneous impairments
/// (`Ro - Is`) for the G.107 default parameter set; the R of a perfect
/// narrow-band connection.
pub const R0: f64 = 93.2;

/// Packetization delay, ms: one 20 ms frame, the default RTP packet time for
/// G.711 (RFC 3551 §4.5).
pub const CODEC_DELAY_MS: f64 = 20.0;

/// A de-jitter buffer sized at twice the mean jitter, the usual rule in the
/// simplified E-model.
pub const JITTER_BUFFER_FACTOR: f64 = 2.0;

/// Delay beyond which interactivity suffers faster (Cole & Rosenbluth), ms.
pub const DELAY_KNEE_MS: f64 = 177.3;

/// Equipment impairment factor `Ie` of G.711 (ITU-T G.113 Appendix I).
pub const CODEC_IE: f64 = 0.0;

/// Packet-loss robustness factor `Bpl` of G.711 with its Appendix I packet
/// loss concealment, random loss (ITU-T G.113 Appendix I).
pub const CODEC_BPL: f64 = 25.1;

/// An estimate and the inputs it was computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Transmission rating factor, 0..100.
    pub r_factor: f64,
    /// Mean opinion score, 1..4.5.
    pub mos: f64,
}

/// Estimates R and MOS from a round-trip time and mean jitter (ms) and the
/// packet loss in percent (0..100). Inputs outside their domain are brought
/// into it (negative → 0, loss above 100 → 100) so the result is always
/// defined; callers validate client input before this.
pub fn estimate(rtt_ms: f64, jitter_ms: f64, loss_pct: f64) -> Estimate {
    let rtt = non_negative(rtt_ms);
    let jitter = non_negative(jitter_ms);
    let loss = non_negative(loss_pct).min(100.0);
    let d = rtt / 2.0 + JITTER_BUFFER_FACTOR * jitter + CODEC_DELAY_MS;
    let r = (R0 - delay_impairment(d) - loss_impairment(loss)).clamp(0.0, 100.0);
    Estimate {
        r_factor: r,
        mos: mos_from_r(r),
    }
}

/// `Id` for a one-way mouth-to-ear delay of `d_ms` (Cole & Rosenbluth).
pub fn delay_impairment(d_ms: f64) -> f64 {
    let excess = (d_ms - DELAY_KNEE_MS).max(0.0);
    0.024 * d_ms + 0.11 * excess
}

/// `Ie_eff` for a packet loss of `loss_pct` percent (G.107, random loss).
pub fn loss_impairment(loss_pct: f64) -> f64 {
    CODEC_IE + (95.0 - CODEC_IE) * loss_pct / (loss_pct + CODEC_BPL)
}

/// MOS for a rating factor R (G.107 Annex B). The cubic dips a little below
/// 1 for R under about 6.5, so the result is also held at 1 or above: MOS
/// is a 1..4.5 scale and a score must never fall as R rises.
pub fn mos_from_r(r: f64) -> f64 {
    if r.is_nan() || r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + 7.0e-6 * r * (r - 60.0) * (100.0 - r)).max(1.0)
    }
}

/// Fills `mos`, `r_factor` and `mos_model` of an audio stream whose source
/// did not report a MOS of its own, from what the receiving side saw:
/// average inbound jitter and loss, and the average round trip (inbound,
/// else outbound: a round trip is the same path either way). Streams that
/// lack any of the three inputs get no estimate rather than one built on a
/// guessed value.
pub fn annotate(stream: &mut MediaStream) {
    if stream.modality != Some(Modality::Audio) || stream.mos.is_some() {
        return;
    }
    let Some(inputs) = inputs(stream) else {
        return;
    };
    let e = estimate(inputs.rtt_ms, inputs.jitter_ms, inputs.loss_pct);
    stream.mos = Some(e.mos);
    stream.r_factor = Some(e.r_factor);
    stream.mos_model = Some(MODEL.to_owned());
}

/// What [`annotate`] estimates from, and which stream field each came from
/// (explain shows them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inputs {
    pub rtt_ms: f64,
    /// `avg_inbound_rtt_ms`, or `avg_outbound_rtt_ms` when inbound is unset.
    pub rtt_field: &'static str,
    /// `avg_inbound_jitter_ms`.
    pub jitter_ms: f64,
    /// `avg_inbound_loss_pct`.
    pub loss_pct: f64,
}

/// The inputs of the estimate for `stream`, `None` when one is missing.
pub fn inputs(stream: &MediaStream) -> Option<Inputs> {
    let (rtt_ms, rtt_field) = match (stream.avg_inbound_rtt_ms, stream.avg_outbound_rtt_ms) {
        (Some(rtt), _) => (rtt, "avg_inbound_rtt_ms"),
        (None, Some(rtt)) => (rtt, "avg_outbound_rtt_ms"),
        (None, None) => return None,
    };
    Some(Inputs {
        rtt_ms,
        rtt_field,
        jitter_ms: stream.avg_inbound_jitter_ms?,
        loss_pct: stream.avg_inbound_loss_pct?,
    })
}

fn non_negative(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.max(0.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn an_unimpaired_connection_scores_about_4_41() {
        let mos = mos_from_r(93.2);
        assert!(close(mos, 4.41, 0.005), "{mos}");
    }

    #[test]
    fn mos_matches_the_g107_r_to_mos_reference_points() {
        // R → MOS pairs of the G.107 Annex B curve at the G.109 category
        // boundaries (best / high / medium / low / poor).
        for (r, expected) in [
            (90.0, 4.34),
            (80.0, 4.03),
            (70.0, 3.60),
            (60.0, 3.10),
            (50.0, 2.58),
        ] {
            // The published table is rounded (R=80 gives 4.024, listed as 4.03).
            let mos = mos_from_r(r);
            assert!(close(mos, expected, 0.01), "R={r}: {mos} != {expected}");
        }
    }

    #[test]
    fn mos_is_clamped_to_its_range() {
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(0.0), 1.0);
        assert_eq!(mos_from_r(100.0), 4.5);
        assert_eq!(mos_from_r(140.0), 4.5);
        assert_eq!(mos_from_r(f64::NAN), 1.0);
        // Where the cubic would dip under 1 (R < 6.5), it is held at 1.
        assert_eq!(mos_from_r(3.0), 1.0);
    }

    #[test]
    fn mos_never_falls_as_r_rises() {
        let mut previous = mos_from_r(0.0);
        for tenth in 1..=1000 {
            let mos = mos_from_r(tenth as f64 / 10.0);
            assert!(
                mos >= previous,
                "R={}: {mos} < {previous}",
                tenth as f64 / 10.0
            );
            previous = mos;
        }
    }

    #[test]
    fn delay_impairment_follows_cole_and_rosenbluth() {
        assert_eq!(delay_impairment(0.0), 0.0);
        assert!(close(delay_impairment(100.0), 2.4, 1e-12));
        assert!(close(delay_impairment(177.3), 4.2552, 1e-12));
        // Past the knee the slope grows from 0.024 to 0.134 per ms.
        assert!(close(delay_impairment(277.3), 0.024 * 277.3 + 11.0, 1e-9));
    }

    #[test]
    fn loss_impairment_uses_percent_and_the_g711_plc_robustness() {
        assert_eq!(loss_impairment(0.0), 0.0);
        // 1 % loss: 95 · 1 / (1 + 25.1).
        assert!(close(loss_impairment(1.0), 95.0 / 26.1, 1e-12));
        // All packets lost: the whole 95 points.
        assert!(close(loss_impairment(100.0), 95.0 * 100.0 / 125.1, 1e-12));
    }

    #[test]
    fn a_clean_lan_call_scores_near_the_top() {
        // d = 0/2 + 0 + 20 ms → Id = 0.48; no loss.
        let e = estimate(0.0, 0.0, 0.0);
        assert!(close(e.r_factor, 93.2 - 0.48, 1e-9), "{e:?}");
        assert!(e.mos > 4.35 && e.mos < 4.41, "{e:?}");
    }

    #[test]
    fn loss_is_counted_once() {
        let clean = estimate(100.0, 10.0, 0.0);
        let lossy = estimate(100.0, 10.0, 5.0);
        // The only difference between the two is Ie_eff, nothing more.
        assert!(close(
            clean.r_factor - lossy.r_factor,
            loss_impairment(5.0),
            1e-9
        ));
    }

    #[test]
    fn loss_is_read_as_percent_not_fraction() {
        // 0.01 means 0.01 %, a negligible impairment, not 1 %.
        let tiny = estimate(0.0, 0.0, 0.01);
        let one_percent = estimate(0.0, 0.0, 1.0);
        assert!(estimate(0.0, 0.0, 0.0).r_factor - tiny.r_factor < 0.05);
        assert!(estimate(0.0, 0.0, 0.0).r_factor - one_percent.r_factor > 3.0);
    }

    #[test]
    fn the_delay_is_half_the_round_trip_plus_buffer_and_codec() {
        // RTT 300 ms, jitter 20 ms: d = 150 + 40 + 20 = 210 ms.
        let e = estimate(300.0, 20.0, 0.0);
        let expected = 93.2 - (0.024 * 210.0 + 0.11 * (210.0 - 177.3));
        assert!(close(e.r_factor, expected, 1e-9), "{e:?}");
    }

    #[test]
    fn worse_networks_never_score_better() {
        let mut previous = estimate(0.0, 0.0, 0.0).mos;
        for step in 1..=50 {
            let s = step as f64;
            let mos = estimate(s * 20.0, s * 2.0, s).mos;
            assert!(mos <= previous, "step {step}: {mos} > {previous}");
            previous = mos;
        }
    }

    #[test]
    fn terrible_networks_bottom_out_at_r_zero_and_mos_one() {
        let e = estimate(5_000.0, 500.0, 100.0);
        assert_eq!(e.r_factor, 0.0);
        assert_eq!(e.mos, 1.0);
        // Out-of-domain input is brought into range, never NaN.
        let e = estimate(-1.0, f64::NAN, 250.0);
        assert!(e.r_factor.is_finite() && e.mos.is_finite());
    }

    #[test]
    fn only_audio_streams_with_all_inputs_are_annotated() {
        let audio = MediaStream {
            modality: Some(Modality::Audio),
            avg_inbound_rtt_ms: Some(30.0),
            avg_inbound_jitter_ms: Some(10.0),
            avg_inbound_loss_pct: Some(0.01),
            ..MediaStream::default()
        };
        let mut s = audio.clone();
        annotate(&mut s);
        let e = estimate(30.0, 10.0, 0.01);
        assert_eq!(s.mos, Some(e.mos));
        assert_eq!(s.r_factor, Some(e.r_factor));
        assert_eq!(s.mos_model.as_deref(), Some(MODEL));

        let mut video = MediaStream {
            modality: Some(Modality::Video),
            ..audio.clone()
        };
        annotate(&mut video);
        assert_eq!(video.mos, None);

        let mut no_loss = MediaStream {
            avg_inbound_loss_pct: None,
            ..audio.clone()
        };
        annotate(&mut no_loss);
        assert_eq!(no_loss.mos, None);

        // The round trip may come from the outbound side.
        let mut outbound_rtt = MediaStream {
            avg_inbound_rtt_ms: None,
            avg_outbound_rtt_ms: Some(30.0),
            ..audio.clone()
        };
        annotate(&mut outbound_rtt);
        assert_eq!(outbound_rtt.mos, Some(e.mos));

        // A MOS the source reported is kept, not overwritten.
        let mut reported = MediaStream {
            mos: Some(3.9),
            mos_model: Some("ms-qoe/OverallAvgNetworkMOS".into()),
            ..audio
        };
        annotate(&mut reported);
        assert_eq!(reported.mos, Some(3.9));
        assert_eq!(reported.r_factor, None);
    }
}
