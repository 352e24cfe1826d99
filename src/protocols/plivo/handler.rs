//! The call-feedback endpoint and the style's 404/405 answers.
//!
//! Order of checks, as Plivo's API would apply them: routing (unknown path
//! 404, wrong method 405), then credentials (401, even when the body or the
//! call UUID is also wrong), then the call UUID (404), then the body (413,
//! 400, 422). Nothing is stored unless every check passed, and the 201 is sent
//! only after the report is committed.

use axum::Json;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use uuid::Uuid;

use super::auth::authenticate;
use super::error::PlivoError;
use super::request::{self, body_text, call_uuid_traced};
use crate::http::{BodyError, decode_off_thread, read_body};
use crate::protocols::Submission;

/// Plivo's success text for a stored feedback.
pub const POSTED: &str = "Feedback has been posted";

/// `POST /v1/Call/{call_uuid}/Feedback/`: stores one feedback report.
pub async fn post_feedback(
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    submission: Submission,
) -> Response {
    match accept(path, &headers, submission).await {
        Ok(posted) => posted.into_response(),
        Err(error) => error.into_response(),
    }
}

/// Every step between the request and its commit, in the order of the
/// module's doc.
async fn accept(
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    submission: Submission,
) -> Result<Posted, PlivoError> {
    let principal = authenticate(&submission.credentials, headers)?;
    // A path segment that does not even decode is as wrong a call UUID as any.
    let Path(raw_uuid) = path.map_err(|_| PlivoError::BadCallUuid)?;
    let trace = submission.ingest.trace();
    let call = call_uuid_traced(&raw_uuid, &trace)?;
    let body = read_body(submission.body, submission.limit.0)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => PlivoError::BodyTooLarge { limit },
            BodyError::Unreadable(_) => PlivoError::MalformedBody,
        })?;
    // An explain call counts nothing.
    if body_text(&body)?.trim().is_empty() && !submission.ingest.is_dry_run() {
        count_empty_body(submission.meta.user_agent.as_deref());
    }
    let tenant = principal.tenant.to_string();
    let (report, trace) = decode_off_thread(body.len(), move || {
        let report = request::decode_report(&tenant, call, &body, &trace);
        (report, trace)
    })
    .await;
    let mut report = report?;
    submission.meta.apply(&mut report, &trace);
    report
        .make_storable()
        .map_err(|e| PlivoError::Unstorable(e.to_string()))?;
    match submission.ingest.submit_traced(report, trace).await {
        Ok(committed) => Ok(Posted::new(committed.id)),
        Err(e) => {
            tracing::warn!(error = %e, "plivo feedback not stored");
            Err(PlivoError::from_write(&e))
        }
    }
}

/// The 201 answer for a stored feedback.
#[derive(Debug, Serialize)]
pub struct Posted {
    /// The committed report's id, so that a deduplicated retry (which gets
    /// the first report's id back from the store) is answered byte for byte
    /// as the first attempt was, and ops can find the report by it.
    pub api_id: Uuid,
    pub message: &'static str,
    pub status: &'static str,
}

impl Posted {
    pub fn new(report_id: Uuid) -> Posted {
        Posted {
            api_id: report_id,
            message: POSTED,
            status: "success",
        }
    }
}

impl IntoResponse for Posted {
    fn into_response(self) -> Response {
        (StatusCode::CREATED, Json(self)).into_response()
    }
}

/// Current plivo-node SDKs send every feedback with an empty body (their
/// HTTP client drops it). Such a request is answered with the missing
/// rating's 422 like any other, but counting it by client lets ops see a
/// broken SDK instead of silently missing feedback. The label is one of a
/// fixed set, so a client cannot grow the metric without bound.
fn count_empty_body(user_agent: Option<&str>) {
    const KNOWN: [&str; 7] = [
        "plivo-node",
        "plivo-python",
        "plivo-go",
        "plivo-ruby",
        "plivo-php",
        "plivo-java",
        "plivo-dotnet",
    ];
    let product = user_agent
        .and_then(|ua| ua.split('/').next())
        .unwrap_or_default();
    let client = KNOWN
        .iter()
        .find(|k| product.eq_ignore_ascii_case(k))
        .copied()
        .unwrap_or("other");
    tracing::warn!(client, user_agent, "plivo feedback with an empty body");
    metrics::counter!("callq_plivo_empty_feedback_total", "client" => client).increment(1);
}

/// Any method but POST on the feedback path.
pub async fn method_not_allowed() -> PlivoError {
    PlivoError::MethodNotAllowed
}

/// Any other path under `/v1/`.
pub async fn not_found() -> PlivoError {
    PlivoError::ResourceNotFound
}
