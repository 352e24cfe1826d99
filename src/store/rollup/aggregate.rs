//! [`Aggregate`]: the statistics of a set of reports in a form that merges
//! by addition. A rollup row is one (an hour of one tenant, style and
//! kind); the raw rows at the edges of a range are folded into more; a
//! statistics group is their sum, finished into a [`GroupStats`].
//!
//! Everything but the stream-metric percentiles merges exactly: counts,
//! rating sums, ratings per exact value (so the median is exact too),
//! issues and poor reasons per name. The percentiles come from
//! [`Sketch`]es, within [`RELATIVE_ERROR`](super::sketch::RELATIVE_ERROR).

use std::collections::BTreeMap;

use crate::model::quality::{PoorReason, QualityClass};
use crate::model::{Kind, Modality, Protocol};
use crate::store::query::{GroupStats, interpolate, rating_key, stddev_from_sums};

use super::sketch::Sketch;

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Aggregate {
    pub reports: i64,
    pub protocols: BTreeMap<String, i64>,
    pub kinds: BTreeMap<String, i64>,
    pub rated: i64,
    pub rating_sum: f64,
    pub rating_sum_squares: f64,
    /// Reports per rating value, keyed by [`rating_key`].
    pub ratings: BTreeMap<String, i64>,
    pub issues: BTreeMap<String, i64>,
    pub audio_streams: i64,
    pub poor_audio_streams: i64,
    pub unclassified_streams: i64,
    pub poor_reasons: BTreeMap<String, i64>,
    pub jitter_ms: Sketch,
    pub loss_pct: Sketch,
    pub rtt_ms: Sketch,
    pub mos: Sketch,
}

/// One media stream's part of the statistics, as the raw statistics see it.
pub(crate) struct StreamFacts {
    pub modality: Option<Modality>,
    pub class: Option<QualityClass>,
    pub reasons: Vec<PoorReason>,
    pub jitter_ms: Option<f64>,
    pub loss_pct: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub mos: Option<f64>,
}

fn add_all(into: &mut BTreeMap<String, i64>, from: &BTreeMap<String, i64>) {
    for (k, n) in from {
        *into.entry(k.clone()).or_default() += n;
    }
}

impl Aggregate {
    /// Counts one report.
    pub fn add_report(
        &mut self,
        protocol: Protocol,
        kind: Kind,
        rating: Option<f64>,
        issues: &[String],
    ) {
        self.add_reports(protocol, kind, 1);
        if let Some(r) = rating {
            self.rated += 1;
            self.rating_sum += r;
            self.rating_sum_squares += r * r;
            *self.ratings.entry(rating_key(r)).or_default() += 1;
        }
        for issue in issues {
            *self.issues.entry(issue.clone()).or_default() += 1;
        }
    }

    /// Counts `n` reports of `protocol` and `kind` (their other figures
    /// come separately, as in a rollup row).
    pub fn add_reports(&mut self, protocol: Protocol, kind: Kind, n: i64) {
        self.reports += n;
        *self
            .protocols
            .entry(protocol.as_str().to_owned())
            .or_default() += n;
        *self.kinds.entry(kind.as_str().to_owned()).or_default() += n;
    }

    /// Counts one stream: the CQD audio classes as `stream_class_counts`
    /// in `read/sql.rs` counts them, and its metrics into the sketches.
    pub fn add_stream(&mut self, s: &StreamFacts) {
        if s.modality == Some(Modality::Audio) {
            self.audio_streams += 1;
            match s.class {
                Some(QualityClass::Poor) => {
                    self.poor_audio_streams += 1;
                    for reason in &s.reasons {
                        *self
                            .poor_reasons
                            .entry(reason.as_str().to_owned())
                            .or_default() += 1;
                    }
                }
                None | Some(QualityClass::Unclassified) => self.unclassified_streams += 1,
                Some(QualityClass::Good) => {}
            }
        }
        for (sketch, value) in [
            (&mut self.jitter_ms, s.jitter_ms),
            (&mut self.loss_pct, s.loss_pct),
            (&mut self.rtt_ms, s.rtt_ms),
            (&mut self.mos, s.mos),
        ] {
            if let Some(v) = value {
                sketch.add(v);
            }
        }
    }

    pub fn merge(&mut self, other: &Aggregate) {
        self.reports += other.reports;
        add_all(&mut self.protocols, &other.protocols);
        add_all(&mut self.kinds, &other.kinds);
        self.rated += other.rated;
        self.rating_sum += other.rating_sum;
        self.rating_sum_squares += other.rating_sum_squares;
        add_all(&mut self.ratings, &other.ratings);
        add_all(&mut self.issues, &other.issues);
        self.audio_streams += other.audio_streams;
        self.poor_audio_streams += other.poor_audio_streams;
        self.unclassified_streams += other.unclassified_streams;
        add_all(&mut self.poor_reasons, &other.poor_reasons);
        self.jitter_ms.merge(&other.jitter_ms);
        self.loss_pct.merge(&other.loss_pct);
        self.rtt_ms.merge(&other.rtt_ms);
        self.mos.merge(&other.mos);
    }

    /// The median rating from the exact distribution, as `percentile_cont(0.5)`.
    fn median_rating(&self) -> Option<f64> {
        let mut values: Vec<(f64, i64)> = self
            .ratings
            .iter()
            .filter_map(|(k, n)| Some((k.parse::<f64>().ok()?, *n)))
            .collect();
        values.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n: i64 = values.iter().map(|(_, c)| c).sum();
        if n == 0 {
            return None;
        }
        let lower_rank = (0.5 * (n - 1) as f64).floor() as i64;
        let at = |rank: i64| {
            let mut seen = 0;
            values.iter().find_map(|(v, c)| {
                seen += c;
                (rank < seen).then_some(*v)
            })
        };
        Some(interpolate(0.5, n, at(lower_rank)?, at(lower_rank + 1)))
    }

    /// The group's statistics, as the raw computation reports them.
    pub fn finish(self, key: Option<String>) -> GroupStats {
        let mut g = GroupStats::empty(key);
        g.reports = self.reports;
        g.rating.count = self.rated;
        g.rating.mean = (self.rated > 0).then(|| self.rating_sum / self.rated as f64);
        g.rating.median = self.median_rating();
        g.rating.stddev = stddev_from_sums(self.rated, self.rating_sum, self.rating_sum_squares);
        g.rating.distribution = self.ratings.into_iter().filter(|(_, n)| *n > 0).collect();
        g.issues = self.issues.into_iter().filter(|(_, n)| *n > 0).collect();
        g.set_stream_classes(
            self.audio_streams,
            self.poor_audio_streams,
            self.unclassified_streams,
        );
        for (reason, n) in self.poor_reasons {
            g.poor_reasons.insert(reason, n);
        }
        for (p, n) in self.protocols {
            g.protocols.insert(p, n);
        }
        for (k, n) in self.kinds {
            g.kinds.insert(k, n);
        }
        g.jitter_ms = self.jitter_ms.percentiles();
        g.loss_pct = self.loss_pct.percentiles();
        g.rtt_ms = self.rtt_ms.percentiles();
        g.mos = self.mos.percentiles();
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_parts_finish_like_the_whole() {
        let mut whole = Aggregate::default();
        let mut parts = [Aggregate::default(), Aggregate::default()];
        for (i, rating) in [Some(1.0), Some(4.5), None, Some(5.0), Some(4.5)]
            .into_iter()
            .enumerate()
        {
            let issues = vec!["ECHO".to_owned()];
            whole.add_report(Protocol::Plivo, Kind::Feedback, rating, &issues);
            parts[i % 2].add_report(Protocol::Plivo, Kind::Feedback, rating, &issues);
        }
        let [mut a, b] = parts;
        a.merge(&b);
        assert_eq!(a, whole);
        let g = whole.finish(None);
        assert_eq!(g.reports, 5);
        assert_eq!(g.rating.count, 4);
        assert_eq!(g.rating.median, Some(4.5));
        assert_eq!(g.rating.mean, Some(15.0 / 4.0));
        assert_eq!(g.issues.get("ECHO"), Some(&5));
        assert_eq!(g.protocols.get("plivo"), Some(&5));
        assert_eq!(g.protocols.get("ucwa"), Some(&0));
    }
}
