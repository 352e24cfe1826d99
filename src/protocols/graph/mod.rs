//! The Microsoft Graph wire style: `logTeleconferenceDeviceQuality`, the
//! action through which Cloud Video Interop partners report the quality of
//! the media leg between their bot and a VTC device, under `/v1.0/` and
//! `/beta/` (the two versions share one schema).
//!
//! - `auth`: bearer token → tenant, and the `Calls.AccessMedia.All` role;
//! - `quality` (with `decode` and `duration`): the body's schema, validated
//!   property by property, normalized into the model's units;
//! - `handler`: the HTTP exchange;
//! - `error`: Graph's OData error body and correlation headers.

mod auth;
mod decode;
mod duration;
mod error;
mod handler;
mod quality;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{any, post};

use crate::app::AppState;

/// The action's path under each version prefix.
const ACTION: &str = "/communications/calls/logTeleconferenceDeviceQuality";

/// This style's routes: the action under both versions, and a Graph-style
/// 404 for anything else below the version prefixes.
pub fn router() -> Router<AppState> {
    let action =
        || post(handler::log_teleconference_device_quality).fallback(handler::method_not_allowed);
    let mut router = Router::new();
    for version in ["/v1.0", "/beta"] {
        router = router
            .route(&format!("{version}{ACTION}"), action())
            .route(&format!("{version}/{{*rest}}"), any(handler::not_found));
    }
    router
}

/// 503 + Retry-After in Graph's error body.
pub fn unavailable(headers: &HeaderMap, retry_after_secs: u64) -> Response {
    error::GraphError::unavailable(retry_after_secs).respond(headers)
}
