//! Graph's error answer: an OData error object,
//! `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`,
//! plus the `request-id` and `client-request-id` headers Graph puts on every
//! response. Clients branch on `code`; `message` is for people.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::REQUEST_ID;
use crate::store::{WriteAnswer, WriteError};

/// Graph's name for the request id header on responses.
const GRAPH_REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
/// The client's correlation id, echoed back.
pub const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// Longest client-request-id echoed back; a longer one is replaced by ours
/// rather than reflected.
const MAX_CLIENT_REQUEST_ID: usize = 128;

/// The gateway's answer to a body that is not JSON (Graph's own text).
pub const UNREADABLE_JSON: &str = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.";

/// An error to answer in Graph's format.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra response headers (`WWW-Authenticate`, `Allow`, `Retry-After`).
    pub headers: Vec<(HeaderName, String)>,
}

impl GraphError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// 400 `BadRequest`: a body or header that breaks the contract.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// 401 `InvalidAuthenticationToken`, with a Bearer challenge. `error` is
    /// the RFC 6750 error code for a token that was presented and refused.
    pub fn unauthenticated(message: &str, presented: bool) -> Self {
        let challenge = if presented {
            r#"Bearer realm="", error="invalid_token""#
        } else {
            r#"Bearer realm="""#
        };
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
        .with_header(header::WWW_AUTHENTICATE, challenge)
    }

    /// 403 `Forbidden`: a valid token without the application role.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    /// 404 `NotFound`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 405 with the methods the resource does take.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("The HTTP method is not allowed on this resource; use {allow}."),
        )
        .with_header(header::ALLOW, allow)
    }

    /// 413: the body is over the configured limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("The request body is larger than the limit of {limit} bytes."),
        )
    }

    /// 415 `RequestBodyRead`, the code Graph's OData reader uses for a body
    /// in a media type it cannot read.
    pub fn unsupported_media_type(content_type: Option<&str>) -> Self {
        let message = match content_type {
            Some(ct) => format!(
                "A supported MIME type could not be found that matches the content type of the request. None of the supported type(s) 'application/json' matches the content type '{ct}'."
            ),
            None => "The Content-Type header is required; send application/json.".to_owned(),
        };
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "RequestBodyRead",
            message,
        )
    }

    /// 415 for a `Content-Encoding` callq cannot decode.
    pub fn unsupported_encoding(coding: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "RequestBodyRead",
            format!(
                "The content encoding '{}' is not supported; send the body uncompressed or with gzip, deflate or br.",
                coding.chars().take(100).collect::<String>()
            ),
        )
    }

    /// 503 `serviceNotAvailable` (a code of Graph's documented list) with
    /// `Retry-After`, which Microsoft's SDKs honour.
    pub fn unavailable(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            format!(
                "The service is temporarily unavailable. Retry after {retry_after_secs} seconds."
            ),
        )
        .with_header(header::RETRY_AFTER, retry_after_secs.to_string())
    }

    /// What a failed write becomes in Graph's format: 503 or 429
    /// (`TooManyRequests`, as Graph throttles) with Retry-After, 400 for
    /// content the store refuses or an unusable `Idempotency-Key`, 422 for a
    /// key reused with another request.
    pub fn from_write(error: &WriteError) -> Self {
        match error.answer() {
            WriteAnswer::RetryLater(secs) => Self::unavailable(secs),
            WriteAnswer::TooManyRequests(secs) => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                format!("Too many requests are waiting to be stored. Retry after {secs} seconds."),
            )
            .with_header(header::RETRY_AFTER, secs.to_string()),
            WriteAnswer::BadRequest(reason) => {
                Self::bad_request(format!("The request cannot be stored: {reason}."))
            }
            WriteAnswer::BadIdempotencyKey(reason) => {
                Self::bad_request(format!("The Idempotency-Key header is invalid: {reason}."))
            }
            WriteAnswer::KeyReused => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UnprocessableEntity",
                "This idempotency key was already used for a different request.",
            ),
        }
    }

    /// The response, correlated with the request whose `headers` are given.
    pub fn respond(self, request: &HeaderMap) -> Response {
        let ids = CorrelationIds::of(request);
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                    "request-id": ids.request_id,
                    "client-request-id": ids.client_request_id,
                }
            }
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        ids.write(headers);
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// The ids Graph returns on every response: ours (`request-id`, equal to
/// the `x-request-id` the app assigned) and the client's (`client-request-id`,
/// echoed, or equal to ours when the client sent none).
pub struct CorrelationIds {
    pub request_id: String,
    pub client_request_id: String,
}

impl CorrelationIds {
    pub fn of(request: &HeaderMap) -> CorrelationIds {
        let text = |name: &str| {
            request
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let request_id = text(REQUEST_ID).unwrap_or_default();
        let client_request_id = client_request_id(request).unwrap_or_else(|| request_id.clone());
        CorrelationIds {
            request_id,
            client_request_id,
        }
    }

    /// Sets `request-id` and `client-request-id` on a response.
    pub fn write(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            (GRAPH_REQUEST_ID, &self.request_id),
            (CLIENT_REQUEST_ID, &self.client_request_id),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
    }
}

/// The client's `client-request-id`, when it sent a usable one.
pub fn client_request_id(request: &HeaderMap) -> Option<String> {
    request
        .get(CLIENT_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= MAX_CLIENT_REQUEST_ID)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn errors_carry_graph_body_and_correlation_headers() {
        let mut request = HeaderMap::new();
        request.insert(REQUEST_ID, "ours-1".parse().unwrap());
        request.insert("client-request-id", "theirs-1".parse().unwrap());
        let response = GraphError::bad_request("nope").respond(&request);
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["request-id"], "ours-1");
        assert_eq!(response.headers()["client-request-id"], "theirs-1");
        let body = body_of(response).await;
        assert_eq!(body["error"]["code"], "BadRequest");
        assert_eq!(body["error"]["message"], "nope");
        assert_eq!(body["error"]["innerError"]["request-id"], "ours-1");
        assert_eq!(body["error"]["innerError"]["client-request-id"], "theirs-1");
        let date = body["error"]["innerError"]["date"].as_str().unwrap();
        assert!(
            chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").is_ok(),
            "{date}"
        );
        assert_eq!(date.len(), 19, "no zone, no fraction: {date}");
    }

    #[tokio::test]
    async fn without_a_client_id_the_request_id_stands_in() {
        let mut request = HeaderMap::new();
        request.insert(REQUEST_ID, "ours-2".parse().unwrap());
        request.insert("client-request-id", "x".repeat(500).parse().unwrap());
        let response = GraphError::unavailable(7).respond(&request);
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(response.headers()["client-request-id"], "ours-2");
        let body = body_of(response).await;
        assert_eq!(body["error"]["innerError"]["client-request-id"], "ours-2");
    }
}
