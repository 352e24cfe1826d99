//! Request plumbing every wire style shares: body reading under the size
//! limit, and the per-request facts a report records (request id,
//! idempotency key, user agent, content type).

use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, Method, Uri, header, request::Parts};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::explain::{Provenance, Source, SourceKind, Trace};
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
    /// The header [`RequestMeta::idempotency_key`] came from
    /// (`idempotency-key` or `x-request-id`), for explain.
    pub idempotency_key_header: &'static str,
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
        let explicit_key = headers
            .get("idempotency-key")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
            .filter(|s| !s.is_empty());
        let idempotency_key_header = if explicit_key.is_some() {
            "idempotency-key"
        } else {
            REQUEST_ID
        };
        let idempotency_key = explicit_key.or_else(|| {
            // A client's own `X-Request-Id` is a key only when it is a
            // usable one: it was sent to trace the request, not as a
            // promise, so a long or odd trace id must not turn every
            // report into a 400 (the request is then deduplicated by its
            // fingerprint, as a keyless one).
            client_request_id
                .and_then(|c| c.0.clone())
                .filter(|id| usable_request_id_key(id))
        });
        let target = uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
        RequestMeta {
            request_id: text(REQUEST_ID),
            idempotency_key,
            user_agent: text(header::USER_AGENT.as_str()),
            content_type: text(header::CONTENT_TYPE.as_str()),
            target: format!("{method} {target}"),
            idempotency_key_header,
        }
    }

    /// Copies these facts into `report`, and fingerprints the request: the
    /// report's style and operation (protocol and kind), this request's
    /// method, path and query, its `Content-Type` (which says how the body
    /// is read) and its body (the raw payload).
    pub fn apply(&self, report: &mut Report, trace: &Trace) {
        report.request_id = self.request_id.clone();
        report.idempotency_key = self.idempotency_key.clone();
        report.user_agent = self.user_agent.clone();
        report.content_type = self.content_type.clone();
        if trace.enabled() {
            let header = |field: &str, name: &str, value: &Option<String>| {
                if let Some(value) = value {
                    trace.field(|| Provenance {
                        field: field.into(),
                        source: Source {
                            kind: SourceKind::Header,
                            at: name.into(),
                        },
                        raw: Some(value.clone()),
                        conversion: None,
                        model: None,
                    });
                }
            };
            header("request_id", REQUEST_ID, &self.request_id);
            header(
                "idempotency_key",
                self.idempotency_key_header,
                &self.idempotency_key,
            );
            header("user_agent", "user-agent", &self.user_agent);
            header("content_type", "content-type", &self.content_type);
        }
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

/// True when a client-sent `X-Request-Id` can serve as an idempotency key:
/// printable ASCII and no longer than a key may be.
fn usable_request_id_key(id: &str) -> bool {
    id.len() <= crate::store::MAX_IDEMPOTENCY_KEY_CHARS
        && id.bytes().all(|b| (0x20..=0x7e).contains(&b))
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

/// Bodies at least this large are decoded on the blocking pool rather than
/// on an async worker thread. Real requests of every style are far smaller
/// (a UCWA feedback with an MS-QoE report is a few KiB; a Graph body with a
/// dozen streams about 6 KiB), so they keep the cheaper inline path.
pub const OFF_THREAD_DECODE_BYTES: usize = 16 * 1024;

/// How many large bodies may be decoded at once: twice the CPUs, so that a
/// burst of large (or hostile) bodies queues here instead of occupying every
/// blocking thread, while a multi-core machine still decodes in parallel.
fn decode_permits() -> std::sync::Arc<tokio::sync::Semaphore> {
    static PERMITS: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::OnceLock::new();
    PERMITS
        .get_or_init(|| {
            let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
            std::sync::Arc::new(tokio::sync::Semaphore::new(cpus * 2))
        })
        .clone()
}

/// Runs `decode` (CPU-bound work on a body of `body_len` bytes) where it
/// cannot stall the async workers: inline for small bodies, else on the
/// blocking pool under a shared semaphore. `/healthz`, other tenants and
/// other requests keep being served while a large body is decoded; the
/// decoders' own caps keep each decode linear and bounded.
///
/// A panic inside `decode` is resumed here, so it reaches the same
/// panic-catching layer as a panic in the handler itself would.
pub async fn decode_off_thread<T, F>(body_len: usize, decode: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if body_len < OFF_THREAD_DECODE_BYTES {
        return decode();
    }
    // The semaphore is never closed, so acquiring only waits. The permit
    // moves into the blocking task: should the request time out meanwhile,
    // the decode still runs to its end and only then frees its place.
    let permit = decode_permits().acquire_owned().await;
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        decode()
    });
    match task.await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("a decoding task was cancelled: {e}"),
    }
}

/// `router` behind the layers that hand a handler its body: the body limit
/// (as the [`BodyLimit`] extension and axum's default), `Content-Encoding`
/// normalization and decompression. The server puts them innermost, under
/// its other middleware; explain's dry-run routers put the same ones in
/// front of the same handlers, so an explained request reads its body as a
/// real one does.
pub fn with_body_layers(router: axum::Router, limit: usize) -> axum::Router {
    router.layer(
        tower::ServiceBuilder::new()
            .layer(axum::middleware::from_fn(
                move |mut req: axum::extract::Request, next: axum::middleware::Next| {
                    req.extensions_mut().insert(BodyLimit(limit));
                    next.run(req)
                },
            ))
            .layer(axum::extract::DefaultBodyLimit::max(limit))
            // Before decompression: codings are matched case-insensitively
            // and unknown ones refused in the style's format.
            .layer(axum::middleware::from_fn(content_encoding))
            // Innermost: it changes the body type, which the layers above
            // (axum middleware) could not take.
            .layer(tower_http::decompression::RequestDecompressionLayer::new()),
    )
}

/// The content codings callq decodes (RFC 9110 §8.4.1), lower-case.
pub const CONTENT_CODINGS: [&str; 3] = ["gzip", "deflate", "br"];

/// Normalizes `Content-Encoding` before the decompression layer sees it:
/// codings are case-insensitive (`GZIP` is gzip), `identity` means none, and
/// gzip, deflate and br are decoded. Anything else (another coding, or a list
/// of several) cannot be read and is answered 415 in the format of the style
/// that owns the path, instead of the decompression layer's bare empty 415.
pub async fn content_encoding(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let Some(value) = req.headers().get(header::CONTENT_ENCODING) else {
        return next.run(req).await;
    };
    let coding = value
        .to_str()
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_else(|_| String::from("(not text)"));
    // Two header lines are a list of codings, like `gzip, br` in one.
    let several = req
        .headers()
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .count()
        > 1;
    if several {
        let shown = req
            .headers()
            .get_all(header::CONTENT_ENCODING)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        return crate::protocols::unsupported_encoding(req.uri().path(), req.headers(), &shown);
    }
    if coding.is_empty() || coding == "identity" {
        req.headers_mut().remove(header::CONTENT_ENCODING);
    } else if let Some(known) = CONTENT_CODINGS.iter().find(|c| **c == coding) {
        req.headers_mut().insert(
            header::CONTENT_ENCODING,
            axum::http::HeaderValue::from_static(known),
        );
    } else {
        let shown = String::from_utf8_lossy(value.as_bytes()).into_owned();
        return crate::protocols::unsupported_encoding(req.uri().path(), req.headers(), &shown);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_usable_client_request_id_is_an_idempotency_key() {
        let meta = |id: &str| {
            RequestMeta::from_parts(
                &Method::POST,
                &Uri::from_static("/v1/x"),
                &HeaderMap::new(),
                Some(&ClientRequestId(Some(id.to_owned()))),
            )
            .idempotency_key
        };
        assert_eq!(meta("trace-1").as_deref(), Some("trace-1"));
        // A trace id too long or not printable is no key (fingerprint
        // deduplication applies), instead of a 400 for every report.
        assert_eq!(meta(&"t".repeat(300)), None);
        assert_eq!(meta("a\tb"), None);
        // An explicit Idempotency-Key is kept as sent, so that a bad one is refused.
        let mut headers = HeaderMap::new();
        headers.insert("idempotency-key", "k".repeat(300).parse().unwrap());
        let explicit =
            RequestMeta::from_parts(&Method::POST, &Uri::from_static("/v1/x"), &headers, None);
        assert_eq!(explicit.idempotency_key.map(|k| k.len()), Some(300));
    }

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

    #[tokio::test]
    async fn small_bodies_decode_inline_and_large_ones_on_the_blocking_pool() {
        let here = std::thread::current().id();
        let small = decode_off_thread(OFF_THREAD_DECODE_BYTES - 1, move || {
            std::thread::current().id() == here
        })
        .await;
        assert!(small, "a small body is decoded on the calling thread");
        let large = decode_off_thread(OFF_THREAD_DECODE_BYTES, move || {
            std::thread::current().id() == here
        })
        .await;
        assert!(!large, "a large body is decoded on another thread");
    }

    #[tokio::test]
    async fn a_panicking_decode_panics_in_the_caller() {
        let outcome = tokio::spawn(decode_off_thread(1 << 20, || -> u8 {
            panic!("decoder bug")
        }))
        .await
        .unwrap_err();
        assert!(outcome.is_panic());
    }

    #[tokio::test]
    async fn concurrent_large_decodes_never_exceed_the_permits() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (running, peak) = (running.clone(), peak.clone());
                tokio::spawn(decode_off_thread(1 << 20, move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        assert!(peak.load(Ordering::SeqCst) <= cpus * 2);
    }
}
