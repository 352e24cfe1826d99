//! `POST /api/v1/explain`: a request dry-run through the real style code,
//! answered with what callq made of it and stored nowhere (see
//! `crate::explain` and docs/explain.md).
//!
//! The ops token names the tenant; the explained request's own credentials
//! must be that tenant's (an ops user explains the tenant's traffic, not
//! another tenant's), else 403.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;

use super::auth::OpsTenant;
use super::error::ApiError;
use crate::explain::{self, ExplainError, ExplainRequest, Explainer, Explanation};

/// `POST /api/v1/explain`.
pub async fn explain(
    tenant: OpsTenant,
    State(explainer): State<Explainer>,
    request: Result<Json<ExplainRequest>, JsonRejection>,
) -> Result<Json<Explanation>, ApiError> {
    let Json(request) = request.map_err(|e| ApiError::bad("body", e.body_text()))?;
    explain::explain(&explainer, Some(&tenant.0), request)
        .await
        .map(Json)
        .map_err(|e| match e {
            ExplainError::Invalid { field, message } => ApiError::bad(field, message),
            ExplainError::OtherTenant => ApiError::Forbidden(e.to_string()),
        })
}
