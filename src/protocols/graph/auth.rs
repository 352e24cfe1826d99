//! Graph's application-permission check: a bearer token that belongs to one
//! of the tenant's `graph` credentials, and that credential must carry the
//! application role the operation needs (`Calls.AccessMedia.All`).

use axum::http::HeaderMap;

use super::error::GraphError;
use crate::auth::{Credentials, Principal, bearer_token};
use crate::config::GRAPH_ROLE;

/// The caller, or the 401/403 to answer.
pub fn authenticate(
    credentials: &Credentials,
    headers: &HeaderMap,
) -> Result<Principal, GraphError> {
    let presented = headers.contains_key(axum::http::header::AUTHORIZATION);
    let Some(token) = bearer_token(headers) else {
        return Err(GraphError::unauthenticated(
            "Access token is empty.",
            presented,
        ));
    };
    let Some(principal) = credentials.graph(token) else {
        return Err(GraphError::unauthenticated(
            "Access token validation failure.",
            true,
        ));
    };
    if !principal.has(GRAPH_ROLE) {
        return Err(GraphError::forbidden(format!(
            "The application does not have the {GRAPH_ROLE} role required for this operation."
        )));
    }
    Ok(principal)
}
