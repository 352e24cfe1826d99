//! Request plumbing every wire style shares: body reading under the size
//! limit, and the per-request facts a report records (request id,
//! idempotency key, user agent, content type).

use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, Method, Uri, header, request::Parts};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::model::Report;

/// The `x-request-id` header name, set on every request and echoed on every response.
pub const REQUEST_ID: &str = "x-request-id";

/// Set by the outermost middleware when the client itself sent an
/// `x-request-id` (as opposed to one callq generated), because only a
/// client-chosen id can identify a retry.
#[derive(Debug, Clone)]
pub struct ClientRequestId(pub Option<String>);

/// Facts about the request that go into the stored report.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The request id (client-sent or generated).
    pub request_id: Option<String>,
    /// `Idempotency-Key`, or a client-sent `X-Request-Id`, exactly as sent
    /// (less surrounding white space). Never shortened: the writer refuses
    /// a key over [`crate::store::MAX_IDEMPOTENCY_KEY_CHARS`] with 400, since a
    /// cut key could make two different requests look like one.
    pub idempotency_key: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    /// The request's method, path and query: part of its fingerprint.
    pub target: String,
}

impl RequestMeta {
    pub fn from_parts(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        client_request_id: Option<&ClientRequestId>,
    ) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        // A key that is not visible ASCII is kept (lossily) rather than
        // ignored, so that the writer refuses it instead of storing the
        // request as if no key had been sent.
        let idempotency_key = headers
            .get("idempotency-key")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
            .filter(|s| !s.is_empty())
            .or_else(|| client_request_id.and_then(|c| c.0.clone()));
        let target = uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
        RequestMeta {
            request_id: text(REQUEST_ID),
            idempotency_key,
            user_agent: text(header::USER_AGENT.as_str()),
            content_type: text(header::CONTENT_TYPE.as_str()),
            target: format!("{method} {target}"),
        }
    }

    /// Copies these facts into `report`, and fingerprints the request: the
    /// report's style and operation (protocol and kind), this request's
    /// method, path and query, its `Content-Type` (which says how the body
    /// is read) and its body (the raw payload).
    pub fn apply(&self, report: &mut Report) {
        report.request_id = self.request_id.clone();
        report.idempotency_key = self.idempotency_key.clone();
        report.user_agent = self.user_agent.clone();
        report.content_type = self.content_type.clone();
        report.fingerprint = Some(fingerprint(&[
            report.protocol.as_str().as_bytes(),
            report.kind.as_str().as_bytes(),
            self.target.as_bytes(),
            self.content_type.as_deref().unwrap_or_default().as_bytes(),
            report.raw_payload.as_bytes(),
        ]));
    }
}

/// SHA-256 over the parts that make two requests the same request. Each
/// part is length-prefixed, so no two different requests hash the same
/// input (`"ab" + "c"` vs `"a" + "bc"`).
pub fn fingerprint(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(b"callq request v1");
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize().into()
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestMeta::from_parts(
            &parts.method,
            &parts.uri,
            &parts.headers,
            parts.extensions.get::<ClientRequestId>(),
        ))
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body could not be read: {0}")]
    Unreadable(String),
}

/// Reads the whole body, refusing more than `limit` bytes (counted after
/// decompression, so a small gzip bomb cannot grow past it).
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() || is_length_limit(&*e) => {
            Err(BodyError::TooLarge { limit })
        }
        Err(e) => Err(BodyError::Unreadable(e.to_string())),
    }
}

/// Length-limit errors can arrive wrapped by inner layers (decompression).
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<LengthLimitError>()
            || err.is::<http_body_util::LengthLimitError>()
            || err.to_string().contains("length limit exceeded")
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The body limit in force, put into request extensions by the app so that
/// handlers need no access to the settings.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl<S: Send + Sync> FromRequestParts<S> for BodyLimit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<BodyLimit>()
            .copied()
            .unwrap_or(BodyLimit(1 << 20)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_every_part_apart() {
        let base = fingerprint(&[
            b"plivo",
            b"feedback",
            b"POST /v1/x",
            b"application/json",
            b"{}",
        ]);
        assert_eq!(
            base,
            fingerprint(&[
                b"plivo",
                b"feedback",
                b"POST /v1/x",
                b"application/json",
                b"{}"
            ])
        );
        for other in [
            fingerprint(&[
                b"graph",
                b"feedback",
                b"POST /v1/x",
                b"application/json",
                b"{}",
            ]),
            fingerprint(&[
                b"plivo",
                b"feedback",
                b"POST /v1/y",
                b"application/json",
                b"{}",
            ]),
            fingerprint(&[
                b"plivo",
                b"feedback",
                b"POST /v1/x",
                b"application/xml",
                b"{}",
            ]),
            fingerprint(&[
                b"plivo",
                b"feedback",
                b"POST /v1/x",
                b"application/json",
                b"{ }",
            ]),
            // Moving bytes from one part to the next is another request.
            fingerprint(&[
                b"plivo",
                b"feedback",
                b"POST /v1/",
                b"xapplication/json",
                b"{}",
            ]),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn keys_are_kept_whole_and_unreadable_ones_are_not_dropped() {
        let mut headers = HeaderMap::new();
        let long = "k".repeat(300);
        headers.insert("idempotency-key", long.parse().unwrap());
        let uri: Uri = "/v1/Call/x/Feedback/?a=1".parse().unwrap();
        let meta = RequestMeta::from_parts(&Method::POST, &uri, &headers, None);
        assert_eq!(meta.idempotency_key.as_deref(), Some(long.as_str()));
        assert_eq!(meta.target, "POST /v1/Call/x/Feedback/?a=1");
        headers.insert(
            "idempotency-key",
            axum::http::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
        let meta = RequestMeta::from_parts(&Method::POST, &uri, &headers, None);
        assert!(meta.idempotency_key.is_some(), "refused later, not ignored");
    }
}
