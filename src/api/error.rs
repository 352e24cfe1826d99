//! The read API's one error type and its JSON body:
//! `{"error": "<code>", "message": "<text>", "parameter": "<name>"}`
//! (`parameter` only when a query or path parameter is to blame).

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// Seconds a client is told to wait when the database is unavailable.
const RETRY_AFTER_SECS: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization: Bearer` header.
    #[error("an ops bearer token is required")]
    MissingToken,
    /// A bearer token that is no tenant's ops token.
    #[error("the bearer token is not valid")]
    InvalidToken,
    /// A query or path parameter that cannot be used as given.
    #[error("{message}")]
    BadParameter { parameter: String, message: String },
    /// Authenticated, but not allowed this (explain: another tenant's request).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The database did not answer: retryable.
    #[error("the database is unavailable")]
    Unavailable,
    /// Anything else the server got wrong (logged, not detailed to the client).
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn bad(parameter: &str, message: impl Into<String>) -> ApiError {
        ApiError::BadParameter {
            parameter: parameter.to_owned(),
            message: message.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingToken | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::BadParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::MissingToken | ApiError::InvalidToken => "unauthorized",
            ApiError::BadParameter { .. } => "invalid_parameter",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal => "internal",
        }
    }
}

/// The JSON error body (also the OpenAPI schema of every error answer).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code: `unauthorized`, `invalid_parameter`,
    /// `not_found`, `method_not_allowed`, `unavailable`, `internal`.
    pub error: &'static str,
    pub message: String,
    /// The parameter at fault, for `invalid_parameter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "read query: database unavailable");
            ApiError::Unavailable
        } else {
            tracing::error!(error = %e, "read query failed");
            ApiError::Internal
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
            parameter: match &self {
                ApiError::BadParameter { parameter, .. } => Some(parameter.clone()),
                _ => None,
            },
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            ApiError::MissingToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"callq\""),
                );
            }
            ApiError::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static(
                        "Bearer realm=\"callq\", error=\"invalid_token\"",
                    ),
                );
            }
            ApiError::MethodNotAllowed => {
                headers.insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
            }
            ApiError::Unavailable => {
                headers.insert(header::RETRY_AFTER, RETRY_AFTER_SECS.into());
            }
            _ => {}
        }
        response
    }
}
