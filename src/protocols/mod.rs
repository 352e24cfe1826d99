//! One module per wire style. Each knows its own paths, request and response
//! types, codec, error body and auth header, and the model; none knows SQL.
//! A style submits what it accepted through [`Ingest`], extracted from the
//! router's state (`crate::state`) with the rest of its [`Submission`].
//!
//! # One layout for every style
//!
//! The same file names for the same steps in `ucwa/`, `graph/` and `plivo/`:
//! - `mod.rs`: `router()`, the routes under the style's prefixes
//!   ([`Style::prefixes`]) with a catch-all answering 404 in the style's
//!   error body; `unavailable(headers, retry_after_secs)`, 503 + Retry-After
//!   in that body (database down, queue full, out of time);
//!   `unsupported_encoding(headers, coding)`, 415 for a `Content-Encoding`
//!   callq cannot decode.
//! - `handler.rs`: the axum handlers. Each ingest handler takes the path
//!   and headers it needs and a [`Submission`], and runs `accept`:
//!   `auth::authenticate`, the style's header checks, `read_body`,
//!   `request::decode_report` (off the async workers when the body is
//!   large), `meta.apply`, `make_storable`, then [`Ingest::submit`]; it
//!   answers 2xx only after `Ok`. Also the style's 404/405 answers.
//! - `auth.rs`: `authenticate(credentials, headers, …)`, the caller's
//!   tenant or the style's 401/403.
//! - `request.rs`: wire → model, pure (no axum state, no I/O):
//!   `decode_report(tenant, …, body)` returns the report or the style's
//!   error.
//! - `error.rs`: the style's error type and body, and what a write failure
//!   becomes in it (`from_write`).
//!
//! Besides these, modules named for what they are: UCWA's `qoe` (MS-QoE
//! streams), `media` (content negotiation), `enums`, `session` (the
//! audioVideoSession resource) and `xml_bounds`; Graph's `odata`
//! (properties by EDM type) and `duration` (`Edm.Duration`); Plivo's
//! `issue`.
//!
//! A new style adds a [`Style`] variant with its prefixes (`src/style.rs`)
//! and its `model::Protocol`, a module here in this layout, a line in
//! [`router`], [`unavailable`] and [`unsupported_encoding`], and its
//! operations in `api/openapi.rs`.

pub mod graph;
pub mod plivo;
pub mod ucwa;

/// Refills the fields of a report read back from the store that its style
/// keeps only inside the raw payload (UCWA's MS-QoE document, since
/// migration 0008), so that the read API shows the report as ingest
/// decoded it. The store knows no wire format; this is where reports
/// leave it for the read API.
pub fn refill_from_raw_payload(report: &mut crate::model::Report) {
    ucwa::stored::refill(report);
}

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::auth::Credentials;
use crate::http::{BodyLimit, RequestMeta};
use crate::ingest::Ingest;
use crate::state::StyleState;
use crate::style::Style;

/// What every ingest handler takes from its request besides the path and
/// headers: where to submit, whose credentials to check, the request's
/// facts for the report, and the body with its limit. An extractor that
/// takes the body, so a handler names it last.
#[derive(FromRequest)]
#[from_request(state(StyleState))]
pub struct Submission {
    pub ingest: State<Ingest>,
    pub credentials: State<Arc<Credentials>>,
    pub meta: RequestMeta,
    pub limit: BodyLimit,
    pub body: Body,
}

/// All styles' routes, on the state they need: the server serves them with
/// its writer, explain with an ingest that captures.
pub fn router() -> Router<StyleState> {
    Router::new()
        .merge(ucwa::router())
        .merge(graph::router())
        .merge(plivo::router())
}

/// 503 + Retry-After in the error format of the style that owns `path`.
pub fn unavailable(path: &str, headers: &HeaderMap, retry_after_secs: u64) -> Response {
    match Style::of_path(path) {
        Some(Style::Ucwa) => ucwa::unavailable(headers, retry_after_secs),
        Some(Style::Graph) => graph::unavailable(headers, retry_after_secs),
        Some(Style::Plivo) => plivo::unavailable(headers, retry_after_secs),
        None => plain_unavailable(retry_after_secs),
    }
}

/// 415 for a `Content-Encoding` callq cannot decode, in the error format of
/// the style that owns `path` (the ops API's JSON error body elsewhere).
pub fn unsupported_encoding(path: &str, headers: &HeaderMap, coding: &str) -> Response {
    match Style::of_path(path) {
        Some(Style::Ucwa) => ucwa::unsupported_encoding(headers, coding),
        Some(Style::Graph) => graph::unsupported_encoding(headers, coding),
        Some(Style::Plivo) => plivo::unsupported_encoding(headers, coding),
        None => (
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            axum::Json(serde_json::json!({
                "error": "unsupported_media_type",
                "message": format!(
                    "Content-Encoding {:?} is not supported; send gzip, deflate, br or no encoding.",
                    coding.chars().take(100).collect::<String>()
                ),
            })),
        )
            .into_response(),
    }
}

/// 503 for paths no style owns (the ops API, health checks).
pub fn plain_unavailable(retry_after_secs: u64) -> Response {
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(
            axum::http::header::RETRY_AFTER,
            retry_after_secs.to_string(),
        )],
        axum::Json(serde_json::json!({
            "error": "unavailable",
            "message": "The service is temporarily unavailable; retry later."
        })),
    )
        .into_response()
}
