//! `GET /api/v1/calls/{call_id}`: everything stored about one call, across
//! styles, in arrival order, with a summary an engineer reads first.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::auth::OpsTenant;
use super::error::{ApiError, ErrorBody};
use crate::model::{Kind, MediaStream, Protocol, Report};
use crate::protocols::{self, ucwa};
use crate::state::Reads;
use crate::store::{CallCaps, CallReport};

/// The call at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CallSummary {
    pub reports: usize,
    pub first_received_at: DateTime<Utc>,
    pub last_received_at: DateTime<Utc>,
    /// Styles and kinds that reported on the call, sorted.
    pub protocols: Vec<Protocol>,
    pub kinds: Vec<Kind>,
    /// The most recent rating (feedback may be given again and replaces the
    /// earlier opinion).
    pub rating: Option<f64>,
    /// Mean of every rating given.
    pub mean_rating: Option<f64>,
    /// Every issue named in any report, sorted, once each.
    pub issues: Vec<String>,
    /// Every UCWA error code (and subcode, as `code/subcode`) reported.
    pub errors: Vec<String>,
    pub streams: usize,
    /// Highest jitter of any stream, either direction, average or maximum (ms).
    pub worst_jitter_ms: Option<f64>,
    /// Highest packet loss of any stream, either direction (percent).
    pub worst_loss_pct: Option<f64>,
    /// Highest round-trip time of any stream, either direction (ms).
    pub worst_rtt_ms: Option<f64>,
    /// Lowest and mean MOS over the streams that carry one.
    pub min_mos: Option<f64>,
    pub mean_mos: Option<f64>,
}

/// Most reports one call view loads (the newest ones); a call normally has a
/// handful, but nothing stops a client from sending many under one id.
pub const MAX_CALL_REPORTS: usize = 1000;

/// Largest `raw_payload` (and `media_quality_of_experience`) shown inline in
/// a call view, in bytes. A larger one is left out, with
/// `raw_payload_truncated: true` (`media_quality_of_experience_truncated`)
/// and its size in `raw_payload_bytes`; `/api/v1/reports/{id}` has it whole.
pub const MAX_INLINE_TEXT_BYTES: usize = 4096;

/// Largest UCWA feedback payload a call view reads to show its MS-QoE
/// document, in bytes. The document is stored only inside the raw payload
/// (migration 0008), so the view decodes it from there: a document of up to
/// [`MAX_INLINE_TEXT_BYTES`] is shown whenever its payload is at most this
/// size (4 KiB of document, entity-escaped in XML or JSON-escaped, stays far
/// below it). Of a larger payload only the size is read, to keep one view's
/// memory bounded (1000 reports × 16 KiB); its document is then marked
/// `media_quality_of_experience_truncated` without a size, which is not
/// known without reading the payload.
pub const MAX_QOE_SOURCE_BYTES: usize = 16 << 10;

/// What the call view loads of each raw payload.
const CAPS: CallCaps = CallCaps {
    inline: MAX_INLINE_TEXT_BYTES,
    source: MAX_QOE_SOURCE_BYTES,
    sources: &[(Protocol::Ucwa, Kind::Feedback)],
};

/// Bound on the `reports` of one call view answer, in bytes of JSON: the
/// newest reports are listed until the next would pass it; the older rest is
/// counted in `reports_omitted` (still summarized).
pub const MAX_CALL_VIEW_BYTES: usize = 8 << 20;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallView {
    pub call_id: String,
    /// True when the call has more than 1000 reports: only the newest 1000
    /// are shown and summarized (list the rest with `/api/v1/reports?call_id=`).
    pub truncated: bool,
    pub summary: CallSummary,
    /// The reports (with streams), oldest first. Each has its `raw_payload`
    /// and `media_quality_of_experience` only when at most 4096 bytes; a
    /// larger one is absent, `raw_payload_truncated` (or
    /// `media_quality_of_experience_truncated`) is `true`, and
    /// `raw_payload_bytes` (`media_quality_of_experience_bytes`) gives its
    /// size: fetch it from `/api/v1/reports/{id}`. A UCWA document whose
    /// raw payload is over 16 KiB is not read by this view: it is marked
    /// truncated without a size.
    #[schema(value_type = Vec<Report>)]
    pub reports: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Summarized reports left out of `reports` because the answer reached
    /// its size bound (8 MiB of reports); the oldest go first.
    pub reports_omitted: usize,
}

/// One report as the call view lists it: its MS-QoE document refilled from
/// the raw payload, large texts replaced by their size.
fn listed(r: CallReport) -> serde_json::Map<String, serde_json::Value> {
    let CallReport {
        mut report,
        raw_payload_bytes,
        raw_payload_omitted,
        raw_payload_loaded,
    } = r;
    // `None`: no document; `Some(None)`: one of unknown size (its payload
    // was not read).
    let mut qoe_bytes = None;
    if ucwa::stored::carries_stored_qoe(report.protocol, report.kind) {
        if raw_payload_loaded {
            protocols::refill_from_raw_payload(&mut report);
            qoe_bytes = report
                .media_quality_of_experience
                .as_ref()
                .map(|q| Some(q.len()));
        } else {
            qoe_bytes = Some(None);
        }
    }
    if raw_payload_omitted {
        report.raw_payload = String::new();
    }
    let mut fields = match serde_json::to_value(&report) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    if raw_payload_omitted {
        fields.remove("raw_payload");
        fields.insert("raw_payload_truncated".into(), true.into());
    }
    fields.insert("raw_payload_bytes".into(), raw_payload_bytes.into());
    match qoe_bytes {
        Some(Some(n)) if n <= MAX_INLINE_TEXT_BYTES => {}
        None => {}
        Some(size) => {
            fields.remove("media_quality_of_experience");
            fields.insert("media_quality_of_experience_truncated".into(), true.into());
            if let Some(n) = size {
                fields.insert("media_quality_of_experience_bytes".into(), n.into());
            }
        }
    }
    fields
}

/// The newest of `reports` (oldest first) whose JSON fits in `budget` bytes,
/// oldest first, and how many older ones did not fit.
fn within_budget(
    reports: Vec<CallReport>,
    budget: usize,
) -> (Vec<serde_json::Map<String, serde_json::Value>>, usize) {
    let total = reports.len();
    let mut used = 0usize;
    let mut kept = Vec::new();
    for r in reports.into_iter().rev() {
        let fields = listed(r);
        let size = serde_json::to_vec(&fields).map_or(usize::MAX, |v| v.len() + 1);
        if used.saturating_add(size) > budget {
            break;
        }
        used += size;
        kept.push(fields);
    }
    kept.reverse();
    let omitted = total - kept.len();
    (kept, omitted)
}

fn largest(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    values
        .flatten()
        .fold(None, |acc, v| Some(acc.map_or(v, |a: f64| a.max(v))))
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Summarizes `reports` (oldest first, at least one).
pub fn summarize(reports: &[&Report]) -> Option<CallSummary> {
    let first = reports.first()?;
    let last = reports.last()?;
    let streams: Vec<&MediaStream> = reports.iter().flat_map(|r| &r.streams).collect();
    let ratings: Vec<f64> = reports.iter().filter_map(|r| r.rating).collect();
    let mos: Vec<f64> = streams.iter().filter_map(|s| s.mos).collect();
    let protocols: BTreeSet<&str> = reports.iter().map(|r| r.protocol.as_str()).collect();
    let kinds: BTreeSet<&str> = reports.iter().map(|r| r.kind.as_str()).collect();
    let issues: BTreeSet<String> = reports.iter().flat_map(|r| r.issues.clone()).collect();
    let errors: BTreeSet<String> = reports
        .iter()
        .filter_map(|r| match (&r.error_code, &r.error_subcode) {
            (Some(code), Some(sub)) => Some(format!("{code}/{sub}")),
            (Some(code), None) => Some(code.clone()),
            (None, Some(sub)) => Some(format!("/{sub}")),
            (None, None) => None,
        })
        .collect();
    Some(CallSummary {
        reports: reports.len(),
        first_received_at: first.received_at,
        last_received_at: last.received_at,
        protocols: protocols.iter().filter_map(|p| p.parse().ok()).collect(),
        kinds: kinds.iter().filter_map(|k| k.parse().ok()).collect(),
        rating: reports.iter().rev().find_map(|r| r.rating),
        mean_rating: mean(&ratings),
        issues: issues.into_iter().collect(),
        errors: errors.into_iter().collect(),
        streams: streams.len(),
        worst_jitter_ms: largest(streams.iter().flat_map(|s| {
            [
                s.avg_inbound_jitter_ms,
                s.max_inbound_jitter_ms,
                s.avg_outbound_jitter_ms,
                s.max_outbound_jitter_ms,
            ]
        })),
        worst_loss_pct: largest(streams.iter().flat_map(|s| {
            [
                s.avg_inbound_loss_pct,
                s.max_inbound_loss_pct,
                s.avg_outbound_loss_pct,
                s.max_outbound_loss_pct,
            ]
        })),
        worst_rtt_ms: largest(streams.iter().flat_map(|s| {
            [
                s.avg_inbound_rtt_ms,
                s.max_inbound_rtt_ms,
                s.avg_outbound_rtt_ms,
                s.max_outbound_rtt_ms,
            ]
        })),
        min_mos: mos.iter().copied().reduce(f64::min),
        mean_mos: mean(&mos),
    })
}

/// Everything about one call.
#[utoipa::path(
    get,
    path = "/api/v1/calls/{call_id}",
    tag = "ops",
    security(("ops_token" = [])),
    params(("call_id" = String, Path, description = "The call id; UCWA ids `{applicationId}/{conversationId}` may be given with the slash as is")),
    responses(
        (status = 200, description = "Reports and summary", body = CallView),
        (status = 400, description = "`call_id` is not percent-encoded UTF-8, or holds U+0000", body = ErrorBody),
        (status = 401, description = "Missing or unknown ops token", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"callq\"` (with `error=\"invalid_token\"` for an unknown token)"))),
        (status = 404, description = "No report about this call for this tenant", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn get_call(
    State(Reads(reads)): State<Reads>,
    OpsTenant(tenant): OpsTenant,
    call_id: Result<Path<String>, PathRejection>,
) -> Result<Json<CallView>, ApiError> {
    let Path(call_id) =
        call_id.map_err(|_| ApiError::bad("call_id", "`call_id` is not percent-encoded UTF-8"))?;
    if !crate::model::text::is_storable(&call_id) {
        return Err(ApiError::bad(
            "call_id",
            "the character U+0000 (%00) is not allowed",
        ));
    }
    let (reports, truncated) = reads
        .call_reports(&tenant, &call_id, MAX_CALL_REPORTS, CAPS)
        .await?;
    let summary = {
        let plain: Vec<&Report> = reports.iter().map(|r| &r.report).collect();
        summarize(&plain)
    }
    .ok_or_else(|| ApiError::NotFound(format!("no report about call {call_id:?}")))?;
    let (reports, reports_omitted) = within_budget(reports, MAX_CALL_VIEW_BYTES);
    Ok(Json(CallView {
        call_id,
        truncated,
        summary,
        reports,
        reports_omitted,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_takes_the_worst_of_every_stream_and_direction() {
        let mut a = Report::new("t", Protocol::Graph, Kind::DeviceQuality, "c", "{}");
        a.streams = vec![
            MediaStream {
                avg_inbound_jitter_ms: Some(12.0),
                max_outbound_jitter_ms: Some(40.0),
                avg_inbound_loss_pct: Some(1.5),
                mos: Some(3.9),
                ..MediaStream::default()
            },
            MediaStream {
                ordinal: 1,
                max_inbound_rtt_ms: Some(180.0),
                avg_outbound_loss_pct: Some(4.0),
                mos: Some(4.3),
                ..MediaStream::default()
            },
        ];
        let mut b = Report::new("t", Protocol::Plivo, Kind::Feedback, "c", "{}");
        b.rating = Some(2.0);
        b.issues = vec!["ECHO".into(), "AUDIO_LAG".into()];
        let mut c = Report::new("t", Protocol::Plivo, Kind::Feedback, "c", "{}");
        c.rating = Some(4.0);
        c.issues = vec!["ECHO".into()];
        let s = summarize(&[&a, &b, &c]).unwrap();
        assert_eq!(s.reports, 3);
        assert_eq!(s.protocols, vec![Protocol::Graph, Protocol::Plivo]);
        assert_eq!(s.rating, Some(4.0));
        assert_eq!(s.mean_rating, Some(3.0));
        assert_eq!(s.issues, vec!["AUDIO_LAG".to_string(), "ECHO".to_string()]);
        assert_eq!(s.worst_jitter_ms, Some(40.0));
        assert_eq!(s.worst_loss_pct, Some(4.0));
        assert_eq!(s.worst_rtt_ms, Some(180.0));
        assert_eq!(s.min_mos, Some(3.9));
        assert!((s.mean_mos.unwrap() - 4.1).abs() < 1e-12);
        assert_eq!(s.streams, 2);
    }

    fn call_report(raw: &str) -> CallReport {
        CallReport {
            report: Report::new("t", Protocol::Plivo, Kind::Feedback, "c", raw),
            raw_payload_bytes: raw.len() as i64,
            raw_payload_omitted: false,
            raw_payload_loaded: true,
        }
    }

    #[test]
    fn the_newest_reports_that_fit_the_budget_are_listed_oldest_first() {
        let reports: Vec<CallReport> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| call_report(&n.repeat(100)))
            .collect();
        let one = serde_json::to_vec(&listed(reports[0].clone()))
            .unwrap()
            .len()
            + 1;
        let (kept, omitted) = within_budget(reports.clone(), 2 * one + one / 2);
        assert_eq!(omitted, 2);
        let raws: Vec<&str> = kept
            .iter()
            .map(|r| &r["raw_payload"].as_str().unwrap()[..1])
            .collect();
        assert_eq!(raws, ["c", "d"], "the newest, oldest first");
        let (kept, omitted) = within_budget(reports.clone(), usize::MAX);
        assert_eq!((kept.len(), omitted), (4, 0));
        let (kept, omitted) = within_budget(reports, 10);
        assert_eq!((kept.len(), omitted), (0, 4));
    }

    /// A UCWA feedback report: its document from the loaded payload, shown
    /// when small, else replaced by its size; the payload itself capped on
    /// its own.
    fn ucwa(qoe: &str, loaded: bool) -> CallReport {
        let raw = serde_json::json!({ "mediaQualityOfExperience": qoe }).to_string();
        let bytes = raw.len() as i64;
        let mut report = Report::new("t", Protocol::Ucwa, Kind::Feedback, "c", raw);
        if !loaded {
            report.raw_payload = String::new();
        }
        CallReport {
            report,
            raw_payload_bytes: bytes,
            raw_payload_omitted: bytes > MAX_INLINE_TEXT_BYTES as i64,
            raw_payload_loaded: loaded,
        }
    }

    #[test]
    fn a_large_text_is_replaced_by_its_size() {
        let mut r = call_report("");
        r.raw_payload_bytes = 5000;
        r.raw_payload_omitted = true;
        r.raw_payload_loaded = false;
        let fields = listed(r);
        assert!(!fields.contains_key("raw_payload"));
        assert!(fields["media_quality_of_experience"].is_null(), "not UCWA");
        assert!(!fields.contains_key("media_quality_of_experience_truncated"));
        assert_eq!(fields["raw_payload_truncated"], true);
        assert_eq!(fields["raw_payload_bytes"], 5000);

        // A 4000-byte document in a payload over the inline cap (its
        // quotes are escaped in JSON): shown.
        let doc = "<q a=\"1\"/>".repeat(400);
        let fields = listed(ucwa(&doc, true));
        assert_eq!(fields["raw_payload_truncated"], true);
        assert!(fields["raw_payload_bytes"].as_i64().unwrap() > 4096);
        assert!(!fields.contains_key("raw_payload"));
        assert_eq!(fields["media_quality_of_experience"], doc);
        assert!(!fields.contains_key("media_quality_of_experience_truncated"));
        // A 7000-byte document: replaced by its size.
        let fields = listed(ucwa(&"<q/>".repeat(1750), true));
        assert!(!fields.contains_key("media_quality_of_experience"));
        assert_eq!(fields["media_quality_of_experience_truncated"], true);
        assert_eq!(fields["media_quality_of_experience_bytes"], 7000);
        // A payload the view did not read: truncated, size unknown.
        let fields = listed(ucwa(&"<q/>".repeat(5000), false));
        assert!(!fields.contains_key("media_quality_of_experience"));
        assert_eq!(fields["media_quality_of_experience_truncated"], true);
        assert!(!fields.contains_key("media_quality_of_experience_bytes"));
        // Small: both inline.
        let fields = listed(ucwa("<q/>", true));
        assert_eq!(fields["media_quality_of_experience"], "<q/>");
        assert_eq!(
            fields["raw_payload"],
            r#"{"mediaQualityOfExperience":"<q/>"}"#
        );
    }

    #[test]
    fn no_reports_no_summary() {
        assert!(summarize(&[]).is_none());
    }
}
