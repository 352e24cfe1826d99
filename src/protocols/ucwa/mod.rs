//! The UCWA (Skype for Business Unified Communications Web API) wire style:
//! publishCallQualityFeedback, reportMediaDiagnostics and the
//! audioVideoSession resource, in JSON and XML, with UCWA's error bodies and
//! `Bearer cwt=` authentication.
//!
//! - `handlers`: the operations and the 404/405 answers;
//! - `input`: JSON and XML input decoding; `session`: the resource rendering;
//! - `media`: content negotiation; `error`: the error body; `auth`: tokens,
//!   scopes and the 401 challenges; `enums`: ErrorCode, ErrorSubcode,
//!   SessionState; `qoe`: MS-QoE stream extraction from the feedback's QoE text;
//! - `xml_bounds`: the caps that keep both XML readers linear.

mod auth;
mod enums;
mod error;
mod handlers;
pub(crate) mod input;
mod media;
pub(crate) mod qoe;
mod session;
mod xml_bounds;

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;
use axum::routing::{any, get, post};

use crate::app::AppState;

pub use enums::{ErrorCode, ErrorSubcode, SessionState};

/// The XML namespace of every UCWA document.
pub const UCWA_NAMESPACE: &str = "http://schemas.microsoft.com/rtc/2012/03/ucwa";

/// The revision of every resource callq serves (sent as `X-MS-UcwaVersion`).
const RESOURCE_REVISION: u32 = 1;

/// The audio/video modality of one conversation; the operations live under it.
const AUDIO_VIDEO: &str =
    "/ucwa/v1/applications/{applicationId}/communication/conversations/{conversationId}/audioVideo";

/// This style's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{AUDIO_VIDEO}/audioVideoSession/publishCallQualityFeedback"),
            post(handlers::publish_call_quality_feedback).fallback(handlers::post_only),
        )
        .route(
            &format!("{AUDIO_VIDEO}/reportMediaDiagnostics"),
            post(handlers::report_media_diagnostics).fallback(handlers::post_only),
        )
        .route(
            &format!("{AUDIO_VIDEO}/audioVideoSession"),
            // UCWA resources answer GET only; axum would otherwise answer
            // HEAD with the GET handler.
            get(handlers::audio_video_session)
                .head(handlers::get_only)
                .fallback(handlers::get_only),
        )
        .route("/ucwa/{*rest}", any(handlers::not_found))
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
