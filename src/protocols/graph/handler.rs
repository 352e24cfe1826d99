//! `POST /{v1.0|beta}/communications/calls/logTeleconferenceDeviceQuality`:
//! authenticate, check the headers Graph requires, read and validate the
//! body, store one `device_quality` report with a stream row per
//! `mediaQualityList` element, and answer `200 OK` with an empty body only
//! once the report is committed.

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::authenticate;
use super::error::{self, CorrelationIds, GraphError};
use super::request;
use crate::http::{BodyError, decode_off_thread, read_body};
use crate::protocols::Submission;

/// `POST …/communications/calls/logTeleconferenceDeviceQuality`.
pub async fn log_teleconference_device_quality(
    headers: HeaderMap,
    submission: Submission,
) -> Response {
    match accept(&headers, submission).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            CorrelationIds::of(&headers).write(response.headers_mut());
            response
        }
        Err(e) => e.respond(&headers),
    }
}

/// Every step between the request and its commit, each answering in
/// Graph's error body: token and role (401/403), User-Agent (400), body
/// type (415), size (413), JSON (400) and schema (400).
async fn accept(headers: &HeaderMap, submission: Submission) -> Result<(), GraphError> {
    let meta = submission.meta;
    let principal = authenticate(&submission.credentials, headers)?;
    if meta.user_agent.is_none() {
        return Err(GraphError::bad_request(
            "The User-Agent header is required; send ApplicationName/Version.",
        ));
    }
    require_json(meta.content_type.as_deref())?;
    let bytes = read_body(submission.body, submission.limit.0)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => GraphError::too_large(limit),
            BodyError::Unreadable(_) => GraphError::bad_request(error::UNREADABLE_JSON),
        })?;
    let tenant = principal.tenant.to_string();
    let trace = submission.ingest.trace();
    let (report, trace) = decode_off_thread(bytes.len(), move || {
        let report = request::decode_report(&tenant, &bytes, &trace);
        (report, trace)
    })
    .await;
    let mut report = report?;
    meta.apply(&mut report, &trace);
    report
        .make_storable()
        .map_err(|e| GraphError::bad_request(format!("The request cannot be stored: {e}.")))?;
    if report.idempotency_key.is_none() {
        // Graph clients correlate a call and its retries by client-request-id
        // (Microsoft's SDKs resend the same request, header included), so it
        // identifies a retry just as an Idempotency-Key would.
        report.idempotency_key = error::client_request_id(headers);
        if report.idempotency_key.is_some() {
            trace.field(|| crate::explain::Provenance {
                field: "idempotency_key".into(),
                source: crate::explain::Source {
                    kind: crate::explain::SourceKind::Header,
                    at: "client-request-id".into(),
                },
                raw: report.idempotency_key.clone(),
                conversion: Some(
                    "no Idempotency-Key: Graph's client-request-id identifies a retry".into(),
                ),
                model: None,
            });
        }
    }
    submission
        .ingest
        .submit_traced(report, trace)
        .await
        .map(drop)
        .map_err(|e| GraphError::from_write(&e))
}

/// Graph reads only JSON bodies; parameters (`charset`, `odata.metadata`, …)
/// are allowed.
fn require_json(content_type: Option<&str>) -> Result<(), GraphError> {
    let Some(ct) = content_type else {
        return Err(GraphError::unsupported_media_type(None));
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(GraphError::unsupported_media_type(Some(ct)))
    }
}

/// 405 for any method but POST on the action's path.
pub async fn method_not_allowed(headers: HeaderMap) -> Response {
    GraphError::method_not_allowed("POST").respond(&headers)
}

/// Every other path under `/v1.0/` and `/beta/`: the action when the path
/// is one of its other accepted spellings, else Graph's 404.
pub async fn other_path(
    path: Result<Path<String>, PathRejection>,
    method: Method,
    headers: HeaderMap,
    submission: Submission,
) -> Response {
    // A path that does not percent-decode to UTF-8 gets Graph's error body,
    // not the extractor's plain-text 400.
    let Ok(Path(rest)) = path else {
        return GraphError::bad_request(
            "The request URI is not valid: its path is not percent-encoded UTF-8.",
        )
        .respond(&headers);
    };
    if !super::is_action_alias(&rest) {
        return GraphError::not_found("The requested resource does not exist.").respond(&headers);
    }
    if method != Method::POST {
        return method_not_allowed(headers).await;
    }
    log_teleconference_device_quality(headers, submission).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognized() {
        assert!(require_json(Some("application/json")).is_ok());
        assert!(require_json(Some("Application/JSON; charset=utf-8")).is_ok());
        assert!(require_json(Some("application/json;odata.metadata=minimal")).is_ok());
        for bad in ["text/plain", "application/xml", "application/jsonx", ""] {
            let e = require_json(Some(bad)).unwrap_err();
            assert_eq!(e.status, 415, "{bad}");
        }
        assert_eq!(require_json(None).unwrap_err().status, 415);
    }
}
