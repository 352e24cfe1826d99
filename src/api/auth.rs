//! Ops authentication: `Authorization: Bearer <ops token>` names the tenant
//! whose data the request may read, and nothing else.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::bearer_token;

/// The tenant an authenticated ops request acts for.
#[derive(Debug, Clone)]
pub struct OpsTenant(pub String);

impl FromRequestParts<AppState> for OpsTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or(ApiError::MissingToken)?;
        let principal = state.credentials.ops(token).ok_or(ApiError::InvalidToken)?;
        Ok(OpsTenant(principal.tenant.to_string()))
    }
}
