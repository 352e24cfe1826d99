//! ucwa wire style (to be implemented).

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::app::AppState;

/// This style's routes.
pub fn router() -> Router<AppState> {
    Router::new()
}

/// 503 + Retry-After in this style's error body.
pub fn unavailable(_headers: &HeaderMap, retry_after_secs: u64) -> Response {
    super::plain_unavailable(retry_after_secs)
}

// The UCWA handler calls `qoe::extract_streams` on `mediaQualityOfExperience`;
// until that handler lands in this branch the module is only exercised by its tests.
#[allow(dead_code)]
mod qoe;
