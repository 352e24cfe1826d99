//! The Plivo style's error body, for every way a request can fail.
//!
//! Plivo answers errors as `{"api_id": "<uuid>", "error": "<text>"}` and its
//! SDKs surface the `error` text to the caller (Python raises it, PHP checks
//! for the key), so the documented texts below are wire data and are kept
//! exactly as Plivo writes them, typos included.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use uuid::Uuid;

use super::request::NOTES_MAX_CHARS;
use crate::store::{WriteAnswer, WriteError};

/// Plivo's text for missing or wrong Basic credentials.
pub const AUTHENTICATION_FAILED: &str = "Authentication failed";
/// Plivo's generic 404 text: the path names no resource.
pub const RESOURCE_NOT_FOUND: &str = "Resource cannot be found";
/// Plivo's specific 404 text: the call UUID in the path is wrong.
pub const CHECK_CALL_UUID: &str = "Please check the Call UUID";
/// Plivo's 405 text.
pub const METHOD_NOT_ALLOWED: &str = "HTTP method not allowed";
/// Plivo's 422 text for a missing or out-of-range rating (sic: "1 -5").
pub const INVALID_RATING: &str = "Rating has to be a float between 1 -5";
/// Plivo's 422 text for missing or unknown issues (sic: its list spells
/// `CALL_DROPPPED` and `CALLERID_ISSUES`; both spellings are accepted).
pub const INVALID_ISSUES: &str = "Issues have to be an array of one or more than one of the following: AUDIO_LAG, BROKEN_AUDIO, CALL_DROPPPED, CALLERID_ISSUES, DIGITS_NOT_CAPTURED, ECHO, HIGH_CONNECT_TIME, LOW_AUDIO_LEVEL, ONE_WAY_AUDIO, OTHERS, ROBOTIC_AUDIO";
/// callq's own 400 text: Plivo documents no answer for a body that is not JSON.
pub const MALFORMED_BODY: &str = "Request body has to be a JSON object";
/// callq's own 429 text (Plivo's APIs answer 429 "too many requests").
pub const TOO_MANY_REQUESTS: &str = "Too many requests, please retry later";
/// callq's own 422 text for an `Idempotency-Key` reused with another body.
pub const IDEMPOTENCY_KEY_REUSED: &str =
    "Idempotency-Key has already been used for a different request";
/// callq's own 503 text (database down, write queue full, request timed out).
pub const UNAVAILABLE: &str = "Service temporarily unavailable, please retry later";

/// Every way a Plivo-style request can fail, each with its status and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlivoError {
    Unauthenticated,
    ResourceNotFound,
    BadCallUuid,
    MethodNotAllowed,
    MalformedBody,
    BodyTooLarge {
        limit: usize,
    },
    InvalidRating,
    InvalidIssues,
    InvalidNotes,
    Unavailable {
        retry_after_secs: u64,
    },
    /// 429: this account has too many feedbacks waiting to be stored.
    TooManyRequests {
        retry_after_secs: u64,
    },
    /// 400: the content cannot be stored (callq's own text).
    Unstorable(String),
    /// 400: the `Idempotency-Key` header cannot be used.
    BadIdempotencyKey(String),
    /// 422: the `Idempotency-Key` was used before for another request.
    IdempotencyKeyReused,
    /// 415: a `Content-Encoding` callq cannot decode (callq's own text).
    UnsupportedEncoding(String),
}

impl PlivoError {
    pub fn status(&self) -> StatusCode {
        match self {
            PlivoError::Unauthenticated => StatusCode::UNAUTHORIZED,
            PlivoError::ResourceNotFound | PlivoError::BadCallUuid => StatusCode::NOT_FOUND,
            PlivoError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            PlivoError::MalformedBody => StatusCode::BAD_REQUEST,
            PlivoError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            PlivoError::InvalidRating | PlivoError::InvalidIssues | PlivoError::InvalidNotes => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            PlivoError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            PlivoError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            PlivoError::Unstorable(_) | PlivoError::BadIdempotencyKey(_) => StatusCode::BAD_REQUEST,
            PlivoError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            PlivoError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    /// The `error` text of the body.
    pub fn message(&self) -> String {
        match self {
            PlivoError::Unauthenticated => AUTHENTICATION_FAILED.into(),
            PlivoError::ResourceNotFound => RESOURCE_NOT_FOUND.into(),
            PlivoError::BadCallUuid => CHECK_CALL_UUID.into(),
            PlivoError::MethodNotAllowed => METHOD_NOT_ALLOWED.into(),
            PlivoError::MalformedBody => MALFORMED_BODY.into(),
            PlivoError::BodyTooLarge { limit } => {
                format!("Request body is larger than {limit} bytes")
            }
            PlivoError::InvalidRating => INVALID_RATING.into(),
            PlivoError::InvalidIssues => INVALID_ISSUES.into(),
            PlivoError::InvalidNotes => {
                format!("Notes has to be text of at most {NOTES_MAX_CHARS} characters")
            }
            PlivoError::Unavailable { .. } => UNAVAILABLE.into(),
            PlivoError::TooManyRequests { .. } => TOO_MANY_REQUESTS.into(),
            PlivoError::Unstorable(reason) => format!("Feedback cannot be stored: {reason}"),
            PlivoError::BadIdempotencyKey(reason) => {
                format!("Idempotency-Key header is invalid: {reason}")
            }
            PlivoError::IdempotencyKeyReused => IDEMPOTENCY_KEY_REUSED.into(),
            PlivoError::UnsupportedEncoding(coding) => format!(
                "Content-Encoding {:?} is not supported; send the body uncompressed or with gzip, deflate or br",
                coding.chars().take(100).collect::<String>()
            ),
        }
    }

    /// What a failed write becomes in Plivo's format.
    pub fn from_write(error: &WriteError) -> PlivoError {
        match error.answer() {
            WriteAnswer::RetryLater(retry_after_secs) => {
                PlivoError::Unavailable { retry_after_secs }
            }
            WriteAnswer::TooManyRequests(retry_after_secs) => {
                PlivoError::TooManyRequests { retry_after_secs }
            }
            WriteAnswer::BadRequest(reason) => PlivoError::Unstorable(reason),
            WriteAnswer::BadIdempotencyKey(reason) => PlivoError::BadIdempotencyKey(reason),
            WriteAnswer::KeyReused => PlivoError::IdempotencyKeyReused,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    api_id: Uuid,
    error: String,
}

impl IntoResponse for PlivoError {
    /// An error gets a fresh `api_id`: nothing was stored that it could name.
    fn into_response(self) -> Response {
        let body = Json(ErrorBody {
            api_id: Uuid::new_v4(),
            error: self.message(),
        });
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        match self {
            PlivoError::Unauthenticated => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Basic realm=\"callq\""),
                );
            }
            PlivoError::MethodNotAllowed => {
                headers.insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            }
            PlivoError::Unavailable { retry_after_secs }
            | PlivoError::TooManyRequests { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, retry_after_secs.into());
            }
            _ => {}
        }
        response
    }
}
