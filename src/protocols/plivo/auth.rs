//! Plivo authenticates every request with HTTP Basic `auth_id:auth_token`.

use axum::http::HeaderMap;

use super::error::PlivoError;
use crate::auth::{Credentials, Principal, basic_credentials};

/// The tenant owning the presented Plivo credentials.
///
/// Anything else (no header, another scheme, undecodable Basic, an unknown
/// auth id, a wrong token) is the same 401: the answer must not tell which
/// half of a guess was right.
pub fn authenticate(
    credentials: &Credentials,
    headers: &HeaderMap,
) -> Result<Principal, PlivoError> {
    let (auth_id, auth_token) = basic_credentials(headers).ok_or(PlivoError::Unauthenticated)?;
    credentials
        .plivo(&auth_id, &auth_token)
        .ok_or(PlivoError::Unauthenticated)
}
