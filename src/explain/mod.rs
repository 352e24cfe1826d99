//! Explain: a request dry-run through the real style code, answered with
//! what callq made of it, field by field, and stored nowhere.
//!
//! Integrators ask "what did you make of what I sent?": which unit was
//! assumed, which property was ignored, which SDK quirk was tolerated. The
//! answer must come from the code that ingests, not from a second decoder
//! that could drift; so [`explain`] re-issues the request on the same style
//! routers the server serves (`protocols::router`), with an
//! [`Ingest`](crate::ingest::Ingest) that captures instead of submitting and
//! a [`Trace`] the decoders write provenance into. On the real path the
//! trace is off and records nothing (`trace.rs`).
//!
//! The JSON shape of `POST /api/v1/explain` is [`ExplainRequest`] in and
//! [`Explanation`] out (docs/explain.md).

mod trace;

pub use trace::{ComputedBy, Ignored, Provenance, Source, SourceKind, Tolerated, Trace};

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::auth::Credentials;

/// A request as a client would send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainRequest {
    /// `POST` for every ingest operation; `GET` for UCWA's session resource.
    pub method: String,
    /// The path and optional query (`/v1/Call/{uuid}/Feedback/`), or an
    /// absolute URL, whose scheme and authority are ignored.
    pub path: String,
    /// Header name → value, as sent (`Authorization`, `Content-Type`, …).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body; absent means empty.
    #[serde(default)]
    pub body: Option<ExplainBody>,
}

/// A request body: UTF-8 text as is, or any bytes in base64 (standard
/// alphabet, padded), e.g. a gzip-encoded body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplainBody {
    Text(String),
    Base64(String),
}

/// What callq made of an [`ExplainRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The style owning the path (`ucwa`, `graph`, `plivo`), `null` when no
    /// style does (the answer is then the server's plain 404).
    pub style: Option<String>,
    /// The operation matched (`publishCallQualityFeedback`,
    /// `reportMediaDiagnostics`, `audioVideoSession`,
    /// `logTeleconferenceDeviceQuality`, `feedback`), `null` when none is.
    pub operation: Option<String>,
    /// True when the real endpoint would store the report (a 2xx).
    pub would_store: bool,
    /// The answer the real endpoint would give, byte for byte in its body.
    pub response: ExplainedResponse,
    /// The report as it would be stored (the read API's report JSON without
    /// `streams`), `null` for a refusal.
    pub report: Option<serde_json::Value>,
    /// Its streams as they would be stored, after the derived quality (MOS,
    /// R-factor, class).
    pub streams: Vec<serde_json::Value>,
    /// Where every normalized field came from.
    pub provenance: Vec<Provenance>,
    /// What was accepted but not normalized: kept only in the raw payload.
    pub ignored: Vec<Ignored>,
    /// Client shapes outside the vendor's documentation that callq accepts.
    pub tolerated: Vec<Tolerated>,
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainedResponse {
    pub status: u16,
    /// Every header the style's code set (lower-case names, in order; a
    /// name twice when it was sent twice, as UCWA's two challenges are).
    pub headers: Vec<Header>,
    /// The body: text when it is UTF-8 (every style's body is), else base64.
    pub body: ExplainBody,
}

/// One response header line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// Why a request cannot be explained (as opposed to a request the real
/// route refuses, which is explained with that refusal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// The method, path, a header or the base64 body is not usable.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The request's credentials belong to another tenant than the caller's.
    #[error("the request's credentials belong to another tenant")]
    OtherTenant,
}

/// The dry-run style routers explain calls run on: the server's own
/// (`protocols::router`) with an ingest that captures instead of
/// submitting. Built once at start-up; cheap to clone.
#[derive(Clone)]
pub struct Explainer {
    credentials: Arc<Credentials>,
    body_limit: usize,
}

impl Explainer {
    /// Explains with `credentials` (the server's, or for an offline
    /// explain those of a configuration file) and the server's body limit.
    pub fn new(credentials: Arc<Credentials>, body_limit: usize) -> Explainer {
        Explainer {
            credentials,
            body_limit,
        }
    }
}

/// Runs `request` through the real style code and says what it would have
/// done, storing nothing. With `tenant` (the ops caller's), a request whose
/// credentials are another tenant's is refused with
/// [`ExplainError::OtherTenant`] before anything runs; `None` (offline, from
/// the command line) explains any tenant's.
pub async fn explain(
    explainer: &Explainer,
    tenant: Option<&str>,
    request: ExplainRequest,
) -> Result<Explanation, ExplainError> {
    let _ = (explainer, tenant, request);
    Err(ExplainError::Invalid {
        field: "request",
        message: "explain is not implemented yet".into(),
    })
}
