//! The call-feedback endpoint and the style's 404/405 answers.
//!
//! Order of checks, as Plivo's API would apply them: routing (unknown path
//! 404, wrong method 405), then credentials (401, even when the body or the
//! call UUID is also wrong), then the call UUID (404), then the body (413,
//! 400, 422). Nothing is stored unless every check passed, and the 201 is sent
//! only after the report is committed.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::auth::authenticate;
use super::request::{body_text, call_uuid, decode};
use super::response::{PlivoError, Posted};
use crate::app::AppState;
use crate::http::{BodyError, BodyLimit, RequestMeta, decode_off_thread, read_body};
use crate::model::{Kind, Protocol, Report};

/// `POST /v1/Call/{call_uuid}/Feedback/`: stores one feedback report.
pub async fn post_feedback(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    meta: RequestMeta,
    BodyLimit(limit): BodyLimit,
    body: Body,
) -> Response {
    match accept(state, path, &headers, meta, limit, body).await {
        Ok(posted) => posted.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn accept(
    state: AppState,
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    meta: RequestMeta,
    limit: usize,
    body: Body,
) -> Result<Posted, PlivoError> {
    let principal = authenticate(headers, &state.credentials)?;
    // A path segment that does not even decode is as wrong a call UUID as any.
    let Path(raw_uuid) = path.map_err(|_| PlivoError::BadCallUuid)?;
    let call = call_uuid(&raw_uuid)?;
    let body = read_body(body, limit).await.map_err(|e| match e {
        BodyError::TooLarge { limit } => PlivoError::BodyTooLarge { limit },
        BodyError::Unreadable(_) => PlivoError::MalformedBody,
    })?;
    let text = body_text(&body)?;
    if text.trim().is_empty() {
        count_empty_body(meta.user_agent.as_deref());
    }
    let (feedback, text) = decode_off_thread(body.len(), move || {
        let text = body_text(&body)?;
        decode(text).map(|feedback| (feedback, text.to_owned()))
    })
    .await?;

    let mut report = Report::new(
        &*principal.tenant,
        Protocol::Plivo,
        Kind::Feedback,
        call,
        text,
    );
    report.rating = Some(feedback.rating);
    report.issues = feedback
        .issues
        .iter()
        .map(|i| i.as_str().to_owned())
        .collect();
    report.notes = feedback.notes;
    meta.apply(&mut report);
    report
        .make_storable()
        .map_err(|e| PlivoError::Unstorable(e.to_string()))?;

    match state.commit(report).await {
        Ok(committed) => Ok(Posted::new(committed.id)),
        Err(e) => {
            tracing::warn!(error = %e, "plivo feedback not stored");
            Err(PlivoError::from_write(&e))
        }
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
