//! One module per wire style. Each knows its own paths, request and response
//! types, codec, error body and auth header, and the model; none knows SQL.
//!
//! Every style module offers the same two things to the app:
//! - `router()`: its routes (full paths), including a catch-all under its
//!   prefix that answers 404 in the style's own error body;
//! - `unavailable(headers, retry_after_secs)`: 503 + Retry-After in the style's
//!   own error body, used when the database is down, the queue is full or the
//!   request ran out of time;
//! - `unsupported_encoding(headers, coding)`: 415 in the style's own error
//!   body for a `Content-Encoding` callq cannot decode.

pub mod graph;
pub mod plivo;
pub mod ucwa;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

/// All styles' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(ucwa::router())
        .merge(graph::router())
        .merge(plivo::router())
}

/// 503 + Retry-After in the error format of the style that owns `path`.
pub fn unavailable(path: &str, headers: &HeaderMap, retry_after_secs: u64) -> Response {
    match crate::telemetry::style_of(path) {
        "ucwa" => ucwa::unavailable(headers, retry_after_secs),
        "graph" => graph::unavailable(headers, retry_after_secs),
        "plivo" => plivo::unavailable(headers, retry_after_secs),
        _ => plain_unavailable(retry_after_secs),
    }
}

/// 415 for a `Content-Encoding` callq cannot decode, in the error format of
/// the style that owns `path` (the ops API's JSON error body elsewhere).
pub fn unsupported_encoding(path: &str, headers: &HeaderMap, coding: &str) -> Response {
    match crate::telemetry::style_of(path) {
        "ucwa" => ucwa::unsupported_encoding(headers, coding),
        "graph" => graph::unsupported_encoding(headers, coding),
        "plivo" => plivo::unsupported_encoding(headers, coding),
        _ => (
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            axum::Json(serde_json::json!({
                "error": "unsupported_media_type",
                "message": format!(
                    "Content-Encoding {:?} is not supported; send gzip, deflate, br or no encoding.",
                    coding.chars().take(100).collect::<String>()
                ),
            })),
        )
            .into_response(),
    }
}

/// 503 for paths no style owns (the ops API, health checks).
pub fn plain_unavailable(retry_after_secs: u64) -> Response {
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(
            axum::http::header::RETRY_AFTER,
            retry_after_secs.to_string(),
        )],
        axum::Json(serde_json::json!({
            "error": "unavailable",
            "message": "The service is temporarily unavailable; retry later."
        })),
    )
        .into_response()
}
