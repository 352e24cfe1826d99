//! The provenance recorder the decoders write into, and what it records.
//!
//! A [`Trace`] is either off (the real ingest path: every method returns at
//! once after one branch, and the closures that would format a row are never
//! called) or on (an explain call: rows are collected). The decoders take
//! `&Trace` (rows are pushed through a `RefCell`, so several closures of one
//! decoder can record without fighting over a `&mut`).

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where a value was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Source {
    pub kind: SourceKind,
    /// A JSON pointer (`/quality/mediaQualityList/0/averageInboundJitter`),
    /// an XML path (`/VQReportEvent/VQSessionReport/MediaLine[1]/…`), a path
    /// segment's name (`{conversationId}`), a header name, or for a computed
    /// value the model's name.
    pub at: String,
}

/// The kinds of [`Source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    JsonPointer,
    XmlPath,
    PathSegment,
    Header,
    /// Derived by callq from other fields (MOS, R-factor, quality class).
    Computed,
}

/// Where one normalized field came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Provenance {
    /// The normalized field: a report column (`rating`, `call_id`) or a
    /// stream's (`streams[0].avg_inbound_jitter_ms`).
    pub field: String,
    pub source: Source,
    /// The value as sent: JSON text for JSON (`"PT0.015S"`, `0.07`), the
    /// text for XML, headers and path segments. `null` for computed values.
    pub raw: Option<String>,
    /// What was done to it (`"PT0.015S" → 15 ms`), `null` when taken as is.
    pub conversion: Option<String>,
    /// For a computed value: the model, its version and its inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ComputedBy>,
}

/// The model behind a computed value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComputedBy {
    pub name: String,
    pub version: String,
    /// Input name → value, as the model used them.
    #[schema(value_type = Object)]
    pub inputs: BTreeMap<String, serde_json::Value>,
}

/// A part of the request accepted but not normalized: kept only in the
/// stored raw payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ignored {
    pub source: Source,
    /// Why it was not read (`not a property of teleconferenceDeviceAudioQuality`).
    pub reason: String,
}

/// A client shape outside the vendor's documentation that callq accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tolerated {
    /// A stable name for the shape (`untyped-screen-sharing-item`).
    pub shape: String,
    pub source: Source,
    /// Who sends it and how callq reads it.
    pub description: String,
}

#[derive(Debug, Default)]
struct Rows {
    provenance: Vec<Provenance>,
    ignored: Vec<Ignored>,
    tolerated: Vec<Tolerated>,
}

/// The recorder: off on the real path, on for an explain call.
#[derive(Debug, Default)]
pub struct Trace {
    rows: Option<RefCell<Rows>>,
}

impl Trace {
    /// A trace that records nothing (the real ingest path).
    pub const fn off() -> Trace {
        Trace { rows: None }
    }

    /// A trace that records.
    pub fn on() -> Trace {
        Trace {
            rows: Some(RefCell::default()),
        }
    }

    /// True when recording; a decoder checks it before work done only for
    /// the trace (listing unknown properties).
    #[inline]
    pub fn enabled(&self) -> bool {
        self.rows.is_some()
    }

    /// Records the row `row` makes, if recording. A field recorded again
    /// (a value sent twice, the last one kept) replaces its earlier row.
    #[inline]
    pub fn field(&self, row: impl FnOnce() -> Provenance) {
        if let Some(rows) = &self.rows {
            let row = row();
            let provenance = &mut rows.borrow_mut().provenance;
            match provenance.iter_mut().find(|r| r.field == row.field) {
                Some(earlier) => *earlier = row,
                None => provenance.push(row),
            }
        }
    }

    /// An empty trace recording if this one does: for a part whose rows
    /// count only if it succeeds ([`Trace::absorb`]).
    pub fn child(&self) -> Trace {
        if self.enabled() {
            Trace::on()
        } else {
            Trace::off()
        }
    }

    /// Takes over the rows of `child`.
    pub fn absorb(&self, child: Trace) {
        if let (Some(rows), Some(child)) = (&self.rows, child.rows) {
            let child = child.into_inner();
            let mut rows = rows.borrow_mut();
            for row in child.provenance {
                match rows.provenance.iter_mut().find(|r| r.field == row.field) {
                    Some(earlier) => *earlier = row,
                    None => rows.provenance.push(row),
                }
            }
            rows.ignored.extend(child.ignored);
            rows.tolerated.extend(child.tolerated);
        }
    }

    /// Records an ignored part, if recording.
    #[inline]
    pub fn ignored(&self, row: impl FnOnce() -> Ignored) {
        if let Some(rows) = &self.rows {
            rows.borrow_mut().ignored.push(row());
        }
    }

    /// Records a tolerated shape, if recording.
    #[inline]
    pub fn tolerated(&self, row: impl FnOnce() -> Tolerated) {
        if let Some(rows) = &self.rows {
            rows.borrow_mut().tolerated.push(row());
        }
    }

    /// The rows recorded (empty when off).
    pub fn into_rows(self) -> (Vec<Provenance>, Vec<Ignored>, Vec<Tolerated>) {
        let rows = self.rows.map(RefCell::into_inner).unwrap_or_default();
        (rows.provenance, rows.ignored, rows.tolerated)
    }
}

/// A number as a provenance row shows it: at most nine decimals, without
/// the binary noise of a conversion (`0.07 × 100` shows as `7`, not
/// `7.000000000000001`); the stored value is in `streams`.
pub fn number_text(value: f64) -> String {
    let text = format!("{value:.9}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(field: &str) -> Provenance {
        Provenance {
            field: field.into(),
            source: Source {
                kind: SourceKind::Header,
                at: "x".into(),
            },
            raw: None,
            conversion: None,
            model: None,
        }
    }

    #[test]
    fn an_off_trace_never_builds_a_row() {
        let trace = Trace::off();
        trace.field(|| panic!("an off trace formats nothing"));
        trace.ignored(|| panic!("an off trace formats nothing"));
        trace.tolerated(|| panic!("an off trace formats nothing"));
        let child = trace.child();
        assert!(!child.enabled());
        trace.absorb(child);
        assert_eq!(trace.into_rows(), (vec![], vec![], vec![]));
    }

    #[test]
    fn a_field_recorded_again_keeps_its_last_row_in_its_first_place() {
        let trace = Trace::on();
        trace.field(|| row("a"));
        trace.field(|| row("b"));
        let mut again = row("a");
        again.raw = Some("2".into());
        trace.field(|| again);
        let child = trace.child();
        child.field(|| row("c"));
        trace.absorb(child);
        let (rows, _, _) = trace.into_rows();
        let fields: Vec<_> = rows.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(fields, ["a", "b", "c"]);
        assert_eq!(rows[0].raw.as_deref(), Some("2"));
    }

    #[test]
    fn numbers_are_shown_without_conversion_noise() {
        assert_eq!(number_text(0.07 * 100.0), "7");
        assert_eq!(number_text(1.2000000000000002), "1.2");
        assert_eq!(number_text(15.0), "15");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(0.000_000_000_1), "0");
    }
}
