//! Ops authentication: `Authorization: Bearer <ops token>` names the tenant
//! whose data the request may read, and nothing else.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use super::error::ApiError;
use crate::auth::{Credentials, bearer_token};

/// The tenant an authenticated ops request acts for.
#[derive(Debug, Clone)]
pub struct OpsTenant(pub String);

impl<S> FromRequestParts<S> for OpsTenant
where
    Arc<Credentials>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or(ApiError::MissingToken)?;
        let credentials = Arc::<Credentials>::from_ref(state);
        let principal = credentials.ops(token).ok_or(ApiError::InvalidToken)?;
        Ok(OpsTenant(principal.tenant.to_string()))
    }
}
