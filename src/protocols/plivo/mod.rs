//! The Plivo wire style: call-quality feedback as Plivo's call-insights API
//! takes it (`POST /v1/Call/{call_uuid}/Feedback/`, HTTP Basic, JSON), with
//! Plivo's statuses and error texts, tolerant of what each Plivo SDK really
//! sends. See docs/plivo.md for the choices made where Plivo is silent.
//!
//! Laid out as every style is (see `protocols`): `handler` (the feedback
//! endpoint, its 201, the 404/405 answers), `auth` (HTTP Basic), `request`
//! (body and call UUID → report), `error` (Plivo's error body); `issue`: the
//! issue names and their spellings.

mod auth;
mod error;
mod handler;
mod issue;
pub(crate) mod request;

pub use error::PlivoError;
pub use issue::Issue;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};

use crate::state::StyleState;
use crate::style::Style;

/// The feedback endpoint below the style's prefix.
const FEEDBACK: &str = "Call/{call_uuid}/Feedback/";

/// The feedback endpoint's route, as Plivo documents it (with the slash).
pub fn feedback_path() -> String {
    format!("{}{FEEDBACK}", Style::Plivo.prefix())
}

/// This style's routes: the feedback endpoint (with and without its trailing
/// slash, as clients differ) and a catch-all for the rest of the prefix.
pub fn router() -> Router<StyleState> {
    let prefix = Style::Plivo.prefix();
    let path = feedback_path();
    let feedback = || post(handler::post_feedback).fallback(handler::method_not_allowed);
    Router::new()
        .route(&path, feedback())
        .route(path.trim_end_matches('/'), feedback())
        .route(prefix, any(handler::not_found))
        .route(&format!("{prefix}{{*rest}}"), any(handler::not_found))
}

/// 503 + Retry-After in this style's error body.
pub fn unavailable(_headers: &HeaderMap, retry_after_secs: u64) -> Response {
    PlivoError::Unavailable { retry_after_secs }.into_response()
}

/// 415 for a `Content-Encoding` callq cannot decode, in this style's error body.
pub fn unsupported_encoding(_headers: &HeaderMap, coding: &str) -> Response {
    PlivoError::UnsupportedEncoding(coding.to_owned()).into_response()
}
