//! What the ops read API asks the store for, and what it gets back: report
//! filters, keyset cursors, list rows and per-group quality statistics.
//!
//! These types are backend-neutral; `read/sql.rs` turns them into SQL for
//! either database and `read/run.rs` runs that SQL.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::quality::PoorReason;
use crate::model::{Kind, Protocol};

/// Which reports a list, export or statistics request covers. Every field
/// narrows the set; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportFilter {
    pub call_id: Option<String>,
    pub protocol: Option<Protocol>,
    pub kind: Option<Kind>,
    /// Received at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Received strictly before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Rating at least this (reports without a rating are left out).
    pub min_rating: Option<f64>,
    /// Rating at most this (reports without a rating are left out).
    pub max_rating: Option<f64>,
    /// The report lists this canonical issue name.
    pub issue: Option<String>,
    /// `device_name` is exactly this (Graph `deviceName`).
    pub device: Option<String>,
}

/// A position in the newest-first order `(received_at DESC, id DESC)`: the
/// next page holds the rows strictly after it. Keyset, not offset, so pages
/// stay exact and cheap while new reports arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub received_at: DateTime<Utc>,
    pub id: Uuid,
}

/// A cursor string that is not one this server handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a cursor returned by this API")]
pub struct BadCursor;

impl Cursor {
    /// The position of the row `row`.
    pub fn after(row: &ReportRow) -> Cursor {
        Cursor {
            received_at: row.received_at,
            id: row.id,
        }
    }

    /// Opaque, URL-safe text: clients pass it back unchanged.
    pub fn encode(&self) -> String {
        let plain = format!(
            "{}|{}",
            self.received_at.timestamp_micros(),
            self.id.as_hyphenated()
        );
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(plain)
    }

    pub fn decode(text: &str) -> Result<Cursor, BadCursor> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| BadCursor)?;
        let plain = String::from_utf8(bytes).map_err(|_| BadCursor)?;
        let (micros, id) = plain.split_once('|').ok_or(BadCursor)?;
        let micros: i64 = micros.parse().map_err(|_| BadCursor)?;
        Ok(Cursor {
            received_at: DateTime::from_timestamp_micros(micros).ok_or(BadCursor)?,
            id: Uuid::parse_str(id).map_err(|_| BadCursor)?,
        })
    }
}

/// One report as a list or CSV row: its normalized columns (not the raw
/// payload, the opaque QoE document or device/cloud details, which
/// `GET /api/v1/reports/{id}` returns) and the worst values of its streams.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReportRow {
    pub id: Uuid,
    pub received_at: DateTime<Utc>,
    pub protocol: Protocol,
    pub kind: Kind,
    pub call_id: String,
    pub participant_id: Option<String>,
    pub media_leg_id: Option<String>,
    pub rating: Option<f64>,
    pub issues: Vec<String>,
    pub notes: Option<String>,
    pub error_code: Option<String>,
    pub error_subcode: Option<String>,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// Number of media streams stored with the report.
    pub stream_count: i64,
    /// Highest jitter of any stream, either direction, average or maximum (ms).
    pub worst_jitter_ms: Option<f64>,
    /// Highest packet loss of any stream, either direction (percent).
    pub worst_loss_pct: Option<f64>,
    /// Highest round-trip time of any stream, either direction (ms).
    pub worst_rtt_ms: Option<f64>,
    /// Lowest MOS of any stream.
    pub min_mos: Option<f64>,
}

/// How statistics are split into groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Protocol,
    Kind,
    /// One group per issue name (a report with two issues counts in both;
    /// reports without issues form the group with a `null` key).
    Issue,
    /// `device_name` (`null` key: no device named).
    Device,
    /// UTC hour, key `YYYY-MM-DDTHH:00:00Z`.
    Hour,
    /// UTC day, key `YYYY-MM-DD`.
    Day,
    /// UCWA `errorCode` (`null` key: reports without one).
    ErrorCode,
    /// UCWA `errorSubcode` (`null` key: reports without one).
    ErrorSubcode,
}

crate::model::text_enum!(GroupBy {
    Protocol => "protocol",
    Kind => "kind",
    Issue => "issue",
    Device => "device",
    Hour => "hour",
    Day => "day",
    ErrorCode => "error_code",
    ErrorSubcode => "error_subcode",
});

/// A statistics request: the reports (a filter) and how to group them
/// (`None`: one group, key `null`, over everything).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsQuery {
    pub filter: ReportFilter,
    pub group_by: Option<GroupBy>,
}

/// Percentiles of one stream metric over a group's streams. Linear
/// interpolation between closest ranks (PostgreSQL's `percentile_cont`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Percentiles {
    /// Number of streams that carried the metric.
    pub count: i64,
    pub p10: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

/// The subjective ratings of a group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RatingStats {
    /// Reports with a rating.
    pub count: i64,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    /// Sample standard deviation (n − 1); `null` below two ratings.
    pub stddev: Option<f64>,
    /// Reports per rating value (`"4"`, `"4.5"`, …).
    pub distribution: BTreeMap<String, i64>,
}

/// Everything the statistics endpoint says about one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupStats {
    /// The group's value of the `group_by` dimension (`null`: none / no grouping).
    pub key: Option<String>,
    /// Reports in the group.
    pub reports: i64,
    pub rating: RatingStats,
    /// Reports naming each issue.
    pub issues: BTreeMap<String, i64>,
    /// Per stream: the worse direction's average jitter (ms).
    pub jitter_ms: Percentiles,
    /// Per stream: the worse direction's average packet loss (percent).
    pub loss_pct: Percentiles,
    /// Per stream: the worse direction's average round-trip time (ms).
    pub rtt_ms: Percentiles,
    /// Per stream: MOS as stored (reported or estimated).
    pub mos: Percentiles,
    /// Audio streams of the group's reports.
    pub audio_streams: i64,
    /// Audio streams the CQD audio classifier called Poor.
    pub poor_audio_streams: i64,
    /// Audio streams without a class: inputs missing (`unclassified`), or
    /// stored before callq classified streams.
    pub unclassified_audio_streams: i64,
    /// `poor / (audio − unclassified)`; `null` when no audio stream was classified.
    pub poor_rate: Option<f64>,
    /// Poor audio streams per reason (`round_trip`, `packet_loss`, `jitter`);
    /// a stream may count under several.
    pub poor_reasons: BTreeMap<String, i64>,
    /// Reports per wire style (`ucwa`, `graph`, `plivo`), every style listed.
    pub protocols: BTreeMap<String, i64>,
    /// Reports per kind (`feedback`, `diagnostics`, `device_quality`), every kind listed.
    pub kinds: BTreeMap<String, i64>,
}

impl GroupStats {
    /// A group with no reports yet: zero counts, and every style, kind and
    /// poor reason listed with 0, so clients see the same keys in every group.
    pub fn empty(key: Option<String>) -> GroupStats {
        let zeros = |names: &mut dyn Iterator<Item = &'static str>| {
            names.map(|n| (n.to_owned(), 0)).collect::<BTreeMap<_, _>>()
        };
        GroupStats {
            key,
            poor_reasons: zeros(&mut PoorReason::ALL.iter().map(|r| r.as_str())),
            protocols: zeros(&mut Protocol::ALL.iter().map(|p| p.as_str())),
            kinds: zeros(&mut Kind::ALL.iter().map(|k| k.as_str())),
            ..GroupStats::default()
        }
    }

    /// Sets the poor-stream counts and derives the rate.
    pub fn set_stream_classes(&mut self, audio: i64, poor: i64, unclassified: i64) {
        self.audio_streams = audio;
        self.poor_audio_streams = poor;
        self.unclassified_audio_streams = unclassified;
        let classified = audio - unclassified;
        self.poor_rate = (classified > 0).then(|| poor as f64 / classified as f64);
    }
}

impl Percentiles {
    /// Sets the value of percentile `PERCENTILES[index]`.
    pub fn set(&mut self, index: usize, value: Option<f64>) {
        match index {
            0 => self.p10 = value,
            1 => self.p50 = value,
            2 => self.p90 = value,
            3 => self.p99 = value,
            _ => {}
        }
    }
}

/// The percentiles every statistics group reports, in the order of
/// [`Percentiles`]' fields.
pub const PERCENTILES: [f64; 4] = [0.1, 0.5, 0.9, 0.99];

/// Linear-interpolation percentile from the two closest ranks, as
/// `percentile_cont` computes it: `lower` is the value of rank
/// `floor(p·(n−1))` (0-based), `upper` the next one (absent at the end).
pub fn interpolate(p: f64, n: i64, lower: f64, upper: Option<f64>) -> f64 {
    let position = p * (n - 1) as f64;
    let fraction = position - position.floor();
    match upper {
        Some(upper) if fraction > 0.0 => lower + fraction * (upper - lower),
        _ => lower,
    }
}

/// Sample standard deviation from count, sum and sum of squares (for SQLite,
/// which has no `stddev`); `None` below two values.
pub fn stddev_from_sums(n: i64, sum: f64, sum_squares: f64) -> Option<f64> {
    if n < 2 {
        return None;
    }
    let n = n as f64;
    let variance = (sum_squares - sum * sum / n) / (n - 1.0);
    // Rounding can push a zero variance slightly below zero.
    Some(variance.max(0.0).sqrt())
}

/// The text a rating value is keyed by in a distribution: `4` for 4.0,
/// `4.5` for 4.5.
pub fn rating_key(rating: f64) -> String {
    format!("{rating}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor {
            received_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        for bad in ["", "abc", "!!!", "MTIzfG5vdC1hLXV1aWQ"] {
            assert_eq!(Cursor::decode(bad), Err(BadCursor), "{bad:?}");
        }
    }

    #[test]
    fn interpolation_matches_percentile_cont() {
        // Values 1..=10: p50 = 5.5, p90 = 9.1, p99 = 9.91.
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        for (p, expected) in [
            (0.5, 5.5),
            (0.9, 9.1),
            (0.99, 9.91),
            (0.0, 1.0),
            (1.0, 10.0),
        ] {
            let lo = (p * 9.0_f64).floor() as usize;
            let got = interpolate(p, 10, values[lo], values.get(lo + 1).copied());
            assert!((got - expected).abs() < 1e-9, "p{p}: {got} != {expected}");
        }
        assert_eq!(interpolate(0.99, 1, 7.0, None), 7.0);
    }

    #[test]
    fn stddev_is_the_sample_one() {
        // 2, 4, 4, 4, 5, 5, 7, 9: population sd 2, sample sd sqrt(32/7).
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let sum: f64 = v.iter().sum();
        let sq: f64 = v.iter().map(|x| x * x).sum();
        let sd = stddev_from_sums(8, sum, sq).unwrap();
        assert!((sd - (32.0_f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(stddev_from_sums(1, 3.0, 9.0), None);
    }

    #[test]
    fn rating_keys_drop_needless_fractions() {
        assert_eq!(rating_key(4.0), "4");
        assert_eq!(rating_key(4.5), "4.5");
    }
}
