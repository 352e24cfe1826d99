//! `POST /api/v1/explain`: a request dry-run through the real style code,
//! answered with what callq made of it and stored nowhere (see
//! `crate::explain` and docs/explain.md).
//!
//! The ops token names the tenant; the explained request's own credentials
//! must be that tenant's (an ops user explains the tenant's traffic, not
//! another tenant's), else 403.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::OpsTenant;
use super::error::{ApiError, ErrorBody};
use crate::explain::{self, ExplainError, ExplainRequest, Explainer, Explanation};
use crate::http::{BodyError, BodyLimit, read_body};

/// Room for the JSON around an explained body: its method, path and headers.
const ENVELOPE_BYTES: usize = 64 * 1024;

/// Runs a request as a client would send it through the real style code,
/// stores nothing, and answers what the real endpoint would have answered,
/// the report and streams it would have stored, and where every normalized
/// field came from (docs/explain.md).
#[utoipa::path(
    post,
    path = "/api/v1/explain",
    tag = "ops",
    security(("ops_token" = [])),
    request_body(content = ExplainRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The request explained (its own outcome is in `response`)", body = Explanation),
        (status = 400, description = "The explain request is unusable", body = ErrorBody),
        (status = 401, description = "Missing or unknown ops token", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"callq\"` (with `error=\"invalid_token\"` for an unknown token)"))),
        (status = 403, description = "The explained request's credentials are another tenant's", body = ErrorBody),
        (status = 405, description = "Another method than POST", body = ErrorBody,
         headers(("Allow" = String, description = "`POST`"))),
    )
)]
pub async fn explain(
    tenant: OpsTenant,
    State(explainer): State<Explainer>,
    BodyLimit(limit): BodyLimit,
    body: Body,
) -> Result<Json<Explanation>, ApiError> {
    // The explained body may be as large as the ingest limit allows, and in
    // base64 a third larger; the envelope adds a little.
    let allowed = limit
        .saturating_add(limit / 3)
        .saturating_add(ENVELOPE_BYTES);
    let bytes = read_body(body, allowed).await.map_err(|e| match e {
        BodyError::TooLarge { limit } => ApiError::bad(
            "body",
            format!("the explain request is larger than {limit} bytes"),
        ),
        BodyError::Unreadable(why) => ApiError::bad("body", why),
    })?;
    let request: ExplainRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad("body", format!("not an explain request: {e}")))?;
    explain::explain(&explainer, Some(&tenant.0), request)
        .await
        .map(Json)
        .map_err(|e| match e {
            ExplainError::Invalid { field, message } => ApiError::bad(field, message),
            ExplainError::OtherTenant => ApiError::Forbidden(e.to_string()),
        })
}

/// Any method but POST.
pub async fn post_only() -> Response {
    let mut response = ApiError::MethodNotAllowed.into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    debug_assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    response
}
