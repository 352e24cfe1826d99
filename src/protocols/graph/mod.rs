//! The Microsoft Graph wire style: `logTeleconferenceDeviceQuality`, the
//! action through which Cloud Video Interop partners report the quality of
//! the media leg between their bot and a VTC device, under `/v1.0/` and
//! `/beta/` (the two versions share one schema).
//!
//! Laid out as every style is (see `protocols`):
//! - `handler`: the HTTP exchange, and the 404/405 answers;
//! - `auth`: bearer token → tenant, and the `Calls.AccessMedia.All` role;
//! - `request`: the body's schema, validated property by property,
//!   normalized into the model's units (with `odata`, OData JSON properties
//!   read by their EDM type, and `duration`, `Edm.Duration` values);
//! - `error`: Graph's OData error body and correlation headers.

mod auth;
pub(crate) mod duration;
mod error;
mod handler;
mod odata;
pub(crate) mod request;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{any, post};

use crate::state::StyleState;
use crate::style::Style;

/// The action's path under each version prefix.
const ACTION: &str = "communications/calls/logTeleconferenceDeviceQuality";

/// The action's path under `version`, one of `Style::Graph.prefixes()`.
pub fn action_path(version: &str) -> String {
    format!("{version}{ACTION}")
}

/// This style's routes: the action under both versions, and for anything
/// else below the version prefixes `handler::other_path`, which still
/// serves the spellings of the action Graph also takes and answers a
/// Graph-style 404 for the rest.
pub fn router() -> Router<StyleState> {
    let action =
        || post(handler::log_teleconference_device_quality).fallback(handler::method_not_allowed);
    let mut router = Router::new();
    for version in Style::Graph.prefixes() {
        router = router
            .route(&action_path(version), action())
            .route(&format!("{version}{{*rest}}"), any(handler::other_path));
    }
    router
}

/// Prefix of a namespace-qualified action name.
const NAMESPACE_PREFIX: &str = "microsoft.graph.";

/// True when `rest` (the path after the version prefix) names the action
/// in a spelling Graph also accepts: path segments are case-insensitive
/// there, and a bound action may be called by its namespace-qualified name
/// (`microsoft.graph.logTeleconferenceDeviceQuality`).
fn is_action_alias(rest: &str) -> bool {
    let Some((collection, action)) = rest.rsplit_once('/') else {
        return false;
    };
    let action = match action.get(..NAMESPACE_PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(NAMESPACE_PREFIX) => {
            &action[NAMESPACE_PREFIX.len()..]
        }
        _ => action,
    };
    collection.eq_ignore_ascii_case("communications/calls")
        && action.eq_ignore_ascii_case("logTeleconferenceDeviceQuality")
}

/// 503 + Retry-After in Graph's error body.
pub fn unavailable(headers: &HeaderMap, retry_after_secs: u64) -> Response {
    error::GraphError::unavailable(retry_after_secs).respond(headers)
}

/// 415 for a `Content-Encoding` callq cannot decode, in Graph's error body.
pub fn unsupported_encoding(headers: &HeaderMap, coding: &str) -> Response {
    error::GraphError::unsupported_encoding(coding).respond(headers)
}

#[cfg(test)]
mod tests {
    use super::is_action_alias;

    #[test]
    fn the_action_is_recognized_in_graphs_other_spellings() {
        for rest in [
            "communications/calls/logteleconferencedevicequality",
            "Communications/Calls/LogTeleconferenceDeviceQuality",
            "communications/calls/microsoft.graph.logTeleconferenceDeviceQuality",
            "communications/calls/Microsoft.Graph.logteleconferencedevicequality",
        ] {
            assert!(is_action_alias(rest), "{rest}");
        }
        for rest in [
            "communications/calls",
            "communications/calls/",
            "communications/calls/logTeleconferenceDeviceQuality/",
            "communications/calls/other.logTeleconferenceDeviceQuality",
            "communications/calls/microsoft.graph.",
            "me/calls/logTeleconferenceDeviceQuality",
            "communications/calls/x/logTeleconferenceDeviceQuality",
            "communications/calls/logTeleconferenceDeviceQualityX",
        ] {
            assert!(!is_action_alias(rest), "{rest}");
        }
    }
}
