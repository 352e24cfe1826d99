//! The UCWA (Skype for Business Unified Communications Web API) wire style:
//! publishCallQualityFeedback, reportMediaDiagnostics and the
//! audioVideoSession resource, in JSON and XML, with UCWA's error bodies and
//! `Bearer cwt=` authentication.
//!
//! Laid out as every style is (see `protocols`):
//! - `handler`: the operations and the 404/405 answers;
//! - `auth`: tokens, scopes and the 401 challenges;
//! - `request`: path ids and JSON or XML input → report;
//! - `error`: UCWA's error body;
//! - `qoe`: MS-QoE stream extraction from the feedback's QoE text;
//!   `media`: content negotiation; `session`: the audioVideoSession
//!   resource; `enums`: ErrorCode, ErrorSubcode, SessionState;
//!   `xml_bounds`: the caps that keep both XML readers linear; `stored`:
//!   the MS-QoE document of a stored report, read back from its raw payload.

mod auth;
mod enums;
mod error;
mod handler;
mod media;
pub(crate) mod qoe;
pub(crate) mod request;
mod session;
pub mod stored;
mod xml_bounds;

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;
use axum::routing::{any, get, post};

use crate::state::StyleState;
use crate::style::Style;

pub use enums::{ErrorCode, ErrorSubcode, SessionState};

/// The XML namespace of every UCWA document.
pub const UCWA_NAMESPACE: &str = "http://schemas.microsoft.com/rtc/2012/03/ucwa";

/// The revision of every resource callq serves (sent as `X-MS-UcwaVersion`).
const RESOURCE_REVISION: u32 = 1;

/// The audio/video modality of one conversation, below the style's prefix.
const AUDIO_VIDEO: &str =
    "v1/applications/{applicationId}/communication/conversations/{conversationId}/audioVideo";

/// The route template of a conversation's audio/video modality; the
/// operations live under it.
pub fn audio_video() -> String {
    format!("{}{AUDIO_VIDEO}", Style::Ucwa.prefix())
}

/// This style's routes.
pub fn router() -> Router<StyleState> {
    let audio_video = audio_video();
    Router::new()
        .route(
            &format!("{audio_video}/audioVideoSession/publishCallQualityFeedback"),
            post(handler::publish_call_quality_feedback).fallback(handler::post_only),
        )
        .route(
            &format!("{audio_video}/reportMediaDiagnostics"),
            post(handler::report_media_diagnostics).fallback(handler::post_only),
        )
        .route(
            &format!("{audio_video}/audioVideoSession"),
            // UCWA resources answer GET only; axum would otherwise answer
            // HEAD with the GET handler.
            get(handler::audio_video_session)
                .head(handler::get_only)
                .fallback(handler::get_only),
        )
        .route(
            &format!("{}{{*rest}}", Style::Ucwa.prefix()),
            any(handler::not_found),
        )
}

/// 503 + Retry-After in this style's error body.
pub fn unavailable(headers: &HeaderMap, retry_after_secs: u64) -> Response {
    error::UcwaError::unavailable(retry_after_secs).render(media::reply_type(headers))
}

/// 415 for a `Content-Encoding` callq cannot decode, in this style's error body.
pub fn unsupported_encoding(headers: &HeaderMap, coding: &str) -> Response {
    error::UcwaError::unsupported_encoding(coding).render(media::reply_type(headers))
}

/// Adds the headers every UCWA response carries: the served resource
/// revision, and no caching (answers depend on the caller's token).
fn stamp(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("x-ms-ucwaversion"),
        HeaderValue::from(RESOURCE_REVISION),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
