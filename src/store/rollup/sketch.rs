//! A mergeable quantile sketch: counts per logarithmic bucket
//! (DDSketch's mapping, Masson et al., VLDB 2019), so that hours rolled up
//! separately merge by adding counts and any percentile of the merged set
//! is known within a fixed relative error.
//!
//! A positive value `v` falls into bucket `i = ceil(ln v / ln γ)`, the
//! interval `(γ^(i−1), γ^i]`, and reads back as `2·γ^i / (γ + 1)`, which is
//! within [`RELATIVE_ERROR`] of every value of the bucket. Zero is counted
//! exactly; negative values mirror the positive buckets. With
//! `γ = (1 + α) / (1 − α)` and α = 1 %, one decade of values takes about
//! 115 buckets, so a metric spread over 0.01..1000 ms stays under 1,000
//! buckets whatever the number of values.
//!
//! Stored as bytes: the number of negative buckets, of positive buckets, the
//! zero count, then per bucket its index (zigzag, as the difference to the
//! previous index) and count, every number a LEB128 varint. A few bytes per
//! occupied bucket, the same on both backends.

use crate::store::query::{PERCENTILES, Percentiles, interpolate};

/// α: each percentile read from a sketch is within this fraction of the
/// exact value (for values of one sign; see [`Sketch::percentiles`]).
pub const RELATIVE_ERROR: f64 = 0.01;

/// γ = (1 + α) / (1 − α).
fn gamma() -> f64 {
    (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)
}

/// Counts per bucket index, dense from `offset`: merging thousands of
/// hourly sketches is then additions into one array, not map inserts.
#[derive(Debug, Clone, Default)]
struct Buckets {
    offset: i32,
    counts: Vec<u64>,
}

impl Buckets {
    fn add(&mut self, index: i32, n: u64) {
        if n == 0 {
            return;
        }
        if self.counts.is_empty() {
            self.offset = index;
        }
        if index < self.offset {
            let grow = (self.offset - index) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = index;
        }
        let at = (index - self.offset) as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] += n;
    }

    /// The occupied buckets, lowest index first.
    fn occupied(&self) -> impl DoubleEndedIterator<Item = (i32, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(at, n)| (self.offset + at as i32, *n))
    }

    fn merge(&mut self, other: &Buckets) {
        if other.counts.is_empty() {
            return;
        }
        if self.counts.is_empty() {
            *self = other.clone();
            return;
        }
        let end = |b: &Buckets| b.offset + b.counts.len() as i32;
        let low = self.offset.min(other.offset);
        let high = end(self).max(end(other));
        if low < self.offset {
            let grow = (self.offset - low) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = low;
        }
        self.counts.resize((high - low) as usize, 0);
        let start = (other.offset - low) as usize;
        for (slot, n) in self.counts[start..].iter_mut().zip(&other.counts) {
            *slot += n;
        }
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Equal when the same buckets hold the same counts, however allocated.
impl PartialEq for Buckets {
    fn eq(&self, other: &Buckets) -> bool {
        self.occupied().eq(other.occupied())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    /// Buckets of negative values, by the bucket of their magnitude.
    negative: Buckets,
    zero: u64,
    positive: Buckets,
}

/// The bucket of magnitude `v` (> 0). Non-finite values saturate to the
/// outermost buckets (the float-to-int cast saturates; NaN maps to 0);
/// the range is kept within what a dense array can span.
fn index_of(v: f64) -> i32 {
    ((v.ln() / gamma().ln()).ceil() as i32).clamp(-MAX_INDEX, MAX_INDEX)
}

/// γ^±40000 = e^±800 lies beyond every finite double (subnormals included),
/// so only infinities are clamped.
const MAX_INDEX: i32 = 40_000;

/// The value a bucket reads back as.
fn value_of(index: i32) -> f64 {
    let g = gamma();
    2.0 * g.powi(index) / (g + 1.0)
}

impl Sketch {
    pub fn add(&mut self, v: f64) {
        if v > 0.0 {
            self.positive.add(index_of(v), 1);
        } else if v < 0.0 {
            self.negative.add(index_of(-v), 1);
        } else {
            self.zero += 1;
        }
    }

    pub fn merge(&mut self, other: &Sketch) {
        self.negative.merge(&other.negative);
        self.zero += other.zero;
        self.positive.merge(&other.positive);
    }

    pub fn count(&self) -> u64 {
        self.negative.total() + self.zero + self.positive.total()
    }

    /// The value at 0-based rank `rank` of the sorted values, within α.
    fn at_rank(&self, rank: u64) -> Option<f64> {
        let mut seen = 0;
        // Most negative first: the largest magnitude of the negative side.
        for (i, n) in self.negative.occupied().rev() {
            seen += n;
            if rank < seen {
                return Some(-value_of(i));
            }
        }
        seen += self.zero;
        if rank < seen {
            return Some(0.0);
        }
        for (i, n) in self.positive.occupied() {
            seen += n;
            if rank < seen {
                return Some(value_of(i));
            }
        }
        None
    }

    /// p10/p50/p90/p99 the way `percentile_cont` computes them (linear
    /// interpolation between the two closest ranks), from bucket values.
    /// Each rank's value is within α of the exact one, so for values of one
    /// sign the interpolation is too; across zero the error is at most α
    /// times the larger magnitude of the two ranks.
    pub fn percentiles(&self) -> Percentiles {
        let n = self.count();
        let mut out = Percentiles {
            count: n as i64,
            ..Percentiles::default()
        };
        if n == 0 {
            return out;
        }
        for (index, p) in PERCENTILES.iter().enumerate() {
            let position = p * (n - 1) as f64;
            let lower_rank = position.floor() as u64;
            let Some(lower) = self.at_rank(lower_rank) else {
                continue;
            };
            let upper = self.at_rank(lower_rank + 1);
            out.set(index, Some(interpolate(*p, n as i64, lower, upper)));
        }
        out
    }

    pub fn encode(&self) -> Vec<u8> {
        let negatives = self.negative.occupied().count();
        let positives = self.positive.occupied().count();
        let mut out = Vec::with_capacity(3 + 3 * (negatives + positives));
        put(&mut out, negatives as u64);
        put(&mut out, positives as u64);
        put(&mut out, self.zero);
        for side in [&self.negative, &self.positive] {
            let mut previous = 0i64;
            for (i, n) in side.occupied() {
                let delta = i64::from(i) - previous;
                previous = i64::from(i);
                put(&mut out, zigzag(delta));
                put(&mut out, n);
            }
        }
        out
    }

    /// The sketch `bytes` encode; `None` for bytes [`Sketch::encode`] did
    /// not write.
    pub fn decode(bytes: &[u8]) -> Option<Sketch> {
        let mut at = 0;
        let negatives = take(bytes, &mut at)?;
        let positives = take(bytes, &mut at)?;
        let mut sketch = Sketch {
            zero: take(bytes, &mut at)?,
            ..Sketch::default()
        };
        for (side, len) in [
            (&mut sketch.negative, negatives),
            (&mut sketch.positive, positives),
        ] {
            let mut previous = 0i64;
            for _ in 0..len {
                previous = previous.checked_add(unzigzag(take(bytes, &mut at)?))?;
                let index = i32::try_from(previous).ok()?;
                if !(-MAX_INDEX..=MAX_INDEX).contains(&index) {
                    return None;
                }
                side.add(index, take(bytes, &mut at)?);
            }
        }
        (at == bytes.len()).then_some(sketch)
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// percentile_cont over exact values, for comparison.
    fn exact(values: &mut [f64], p: f64) -> f64 {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let lo = (p * (n - 1) as f64).floor() as usize;
        interpolate(p, n as i64, values[lo], values.get(lo + 1).copied())
    }

    #[test]
    fn percentiles_stay_within_the_relative_error() {
        let mut values: Vec<f64> = (0..5000)
            .map(|i| {
                let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                (h % 100_000) as f64 / 97.0
            })
            .collect();
        values.extend([0.0, 0.0, 1e-6, 12345.678]);
        let mut a = Sketch::default();
        let mut b = Sketch::default();
        for (i, v) in values.iter().enumerate() {
            if i % 3 == 0 { a.add(*v) } else { b.add(*v) }
        }
        a.merge(&b);
        let got = a.percentiles();
        assert_eq!(got.count, values.len() as i64);
        for (index, p) in PERCENTILES.iter().enumerate() {
            let want = exact(&mut values, *p);
            let have = [got.p10, got.p50, got.p90, got.p99][index].unwrap();
            assert!(
                (have - want).abs() <= RELATIVE_ERROR * want.abs() + 1e-12,
                "p{p}: {have} vs {want}"
            );
        }
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let mut s = Sketch::default();
        for v in [
            -3.0,
            -0.5,
            0.0,
            0.0,
            1e-9,
            0.25,
            7.0,
            7.01,
            1e9,
            f64::INFINITY,
        ] {
            s.add(v);
        }
        assert_eq!(Sketch::decode(&s.encode()), Some(s.clone()));
        assert_eq!(
            Sketch::decode(&Sketch::default().encode()),
            Some(Sketch::default())
        );
        let mut bytes = s.encode();
        bytes.push(0);
        assert_eq!(Sketch::decode(&bytes), None);
        assert_eq!(Sketch::decode(&[0x80]), None);
        assert_eq!(Sketch::default().percentiles(), Percentiles::default());
    }

    #[test]
    fn negative_and_zero_values_keep_their_order() {
        let mut s = Sketch::default();
        for v in [-10.0, -1.0, 0.0, 1.0, 10.0] {
            s.add(v);
        }
        let p = s.percentiles();
        assert_eq!(p.p50, Some(0.0));
        assert!((p.p10.unwrap() - (-10.0 + 0.4 * 9.0)).abs() < 0.1);
    }
}
