//! The Plivo wire style: call-quality feedback as Plivo's call-insights API
//! takes it (`POST /v1/Call/{call_uuid}/Feedback/`, HTTP Basic, JSON), with
//! Plivo's statuses and error texts, tolerant of what each Plivo SDK really
//! sends. See docs/plivo.md for the choices made where Plivo is silent.

mod auth;
mod handler;
mod issue;
pub(crate) mod request;
mod response;

pub use issue::Issue;
pub use response::PlivoError;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};

use crate::app::AppState;

/// This style's routes: the feedback endpoint (with and without its trailing
/// slash, as clients differ) and a catch-all for the rest of `/v1/`.
pub fn router() -> Router<AppState> {
    let feedback = || post(handler::post_feedback).fallback(handler::method_not_allowed);
    Router::new()
        .route("/v1/Call/{call_uuid}/Feedback/", feedback())
        .route("/v1/Call/{call_uuid}/Feedback", feedback())
        .route("/v1/", any(handler::not_found))
        .route("/v1/{*rest}", any(handler::not_found))
}

/// 415 for a `Content-Encoding` callq cannot decode, in this style's error body.
pub fn unsupported_encoding(_headers: &HeaderMap, coding: &str) -> Response {
    PlivoError::UnsupportedEncoding(coding.to_owned()).into_response()
}

/// 503 + Retry-After in this style's error body.
pub fn unavailable(_headers: &HeaderMap, retry_after_secs: u64) -> Response {
    PlivoError::Unavailable { retry_after_secs }.into_response()
}
