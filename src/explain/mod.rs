//! Explain: a request dry-run through the real style code, answered with
//! what callq made of it, field by field, and stored nowhere.
//!
//! Integrators ask "what did you make of what I sent?": which unit was
//! assumed, which property was ignored, which SDK quirk was tolerated. The
//! answer must come from the code that ingests, not from a second decoder
//! that could drift; so [`explain`] re-issues the request on the same style
//! routers the server serves (`protocols::router`), with an
//! `Ingest` that captures instead of submitting and
//! a [`Trace`] the decoders write provenance into. On the real path the
//! trace is off and records nothing (`trace.rs`).
//!
//! The JSON shape of `POST /api/v1/explain` is [`ExplainRequest`] in and
//! [`Explanation`] out (docs/explain.md).

mod computed;
mod trace;

pub use trace::{
    ComputedBy, Ignored, Provenance, Source, SourceKind, Tolerated, Trace, number_text,
};

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use base64::Engine;
use http_body_util::BodyExt;
use tower::ServiceExt;

use utoipa::openapi::schema::{
    AdditionalProperties, Object, ObjectBuilder, OneOfBuilder, Schema, Type,
};

use crate::auth::{Credentials, basic_credentials, bearer_token};
use crate::http::{ClientRequestId, REQUEST_ID};
use crate::ingest::{Captured, Ingest};
use crate::state::StyleState;
use crate::style::Style;

/// A request as a client would send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExplainRequest {
    /// `POST` for every ingest operation; `GET` for UCWA's session resource.
    #[schema(pattern = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]
    pub method: String,
    /// The path and optional query (`/v1/Call/{uuid}/Feedback/`), or an
    /// absolute URL, whose scheme and authority are ignored. Under a wire
    /// style's prefix (`/ucwa/`, `/v1.0/`, `/beta/`, `/v1/`).
    #[schema(
        pattern = "^(https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)?/(ucwa|v1\\.0|beta|v1)/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*$"
    )]
    pub path: String,
    /// Header name → value, as sent (`Authorization`, `Content-Type`, …).
    #[serde(default)]
    #[schema(schema_with = headers_schema)]
    pub headers: BTreeMap<String, String>,
    /// The body; absent means empty.
    #[serde(default)]
    #[schema(schema_with = body_schema)]
    pub body: Option<ExplainBody>,
}

/// The document's schema of [`ExplainRequest::headers`]: header names are
/// tokens, values visible ASCII, space and tab.
fn headers_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(TOKEN)),
        ))
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[\\t\\x20-\\x7e]*$")),
        ))
        .build()
}

/// The document's schema of [`ExplainRequest::body`]: absent, text, or
/// padded standard base64.
fn body_schema() -> Schema {
    let tagged = |name: &str, value: Object| {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(name, value)
            .required(name)
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .build()
    };
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Null).build())
        .item(tagged(
            "text",
            ObjectBuilder::new().schema_type(Type::String).build(),
        ))
        .item(tagged(
            "base64",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(
                    "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
                ))
                .build(),
        ))
        .build()
        .into()
}

/// An HTTP token (RFC 9110): a method or a header name.
const TOKEN: &str = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

/// Base64 as the document describes it: the standard alphabet, padded;
/// bits after the last byte are not checked (any text of that form decodes).
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// A request body: UTF-8 text as is, or any bytes in base64 (standard
/// alphabet, padded), e.g. a gzip-encoded body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExplainBody {
    Text(String),
    Base64(String),
}

/// What callq made of an [`ExplainRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Explanation {
    /// The style owning the path (`ucwa`, `graph`, `plivo`). Always set by
    /// [`explain`], which refuses paths no style owns; optional so that the
    /// shape can grow.
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
    #[schema(value_type = Vec<crate::model::MediaStream>)]
    pub streams: Vec<serde_json::Value>,
    /// Where every normalized field came from.
    pub provenance: Vec<Provenance>,
    /// What was accepted but not normalized: kept only in the raw payload.
    pub ignored: Vec<Ignored>,
    /// Client shapes outside the vendor's documentation that callq accepts.
    pub tolerated: Vec<Tolerated>,
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExplainedResponse {
    pub status: u16,
    /// Every header the style's code set (lower-case names, in order; a
    /// name twice when it was sent twice, as UCWA's two challenges are).
    pub headers: Vec<Header>,
    /// The body: text when it is UTF-8 (every style's body is), else base64.
    pub body: ExplainBody,
}

/// One response header line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
/// (`protocols::router`) on a [`StyleState`] whose ingest captures instead
/// of submitting, behind the same body layers the server puts in front of
/// them. Built once at start-up; cheap to clone.
#[derive(Clone)]
pub struct Explainer {
    router: Router,
    credentials: Arc<Credentials>,
}

impl Explainer {
    /// Explains with `credentials` (the server's, or for an offline
    /// explain those of a configuration file) and the server's body limit.
    pub fn new(credentials: Arc<Credentials>, body_limit: usize) -> Explainer {
        let styles = StyleState {
            ingest: Ingest::dry_run(),
            credentials: credentials.clone(),
        };
        let router = crate::protocols::router()
            .route_layer(middleware::from_fn(answer_with_matched_path))
            .with_state(styles);
        let router = crate::http::with_body_layers(router, body_limit);
        Explainer {
            router,
            credentials,
        }
    }
}

/// The route template that served a request, carried on its answer so that
/// explain can name the operation.
async fn answer_with_matched_path(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
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
    let request = build(request)?;
    let Some(style) = Style::of_path(request.uri().path()) else {
        return Err(ExplainError::Invalid {
            field: "path",
            message: format!(
                "no wire style owns this path (ingest paths start with {})",
                Style::ALL
                    .iter()
                    .flat_map(|s| s.prefixes())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    };
    if let Some(tenant) = tenant
        && let Some(owner) = credential_tenant(&explainer.credentials, style, request.headers())
        && *owner != *tenant
    {
        return Err(ExplainError::OtherTenant);
    }
    let (answer, captured) =
        crate::ingest::capture(explainer.router.clone().oneshot(request)).await;
    let Ok(answer) = answer;
    let matched = answer.extensions().get::<MatchedPath>().cloned();
    let response = read_response(answer).await;
    let captured = captured.filter(|_| (200..300).contains(&response.status));
    // The check above looked the credentials up as the routes do; should a
    // route ever authenticate otherwise, the report says whose it is.
    if let (Some(tenant), Some(captured)) = (tenant, &captured)
        && captured.report.tenant != tenant
    {
        return Err(ExplainError::OtherTenant);
    }
    let operation = operation(
        style,
        matched.as_ref().map(MatchedPath::as_str),
        captured.is_some(),
    );
    let mut explanation = Explanation {
        style: Some(style.name().to_owned()),
        operation: operation.map(str::to_owned),
        would_store: captured.is_some(),
        response,
        report: None,
        streams: Vec::new(),
        provenance: Vec::new(),
        ignored: Vec::new(),
        tolerated: Vec::new(),
    };
    if let Some(Captured { report, trace }) = captured {
        computed::record(&report, &trace);
        let (provenance, ignored, tolerated) = trace.into_rows();
        explanation.provenance = provenance;
        explanation.ignored = ignored;
        explanation.tolerated = tolerated;
        explanation.streams = report
            .streams
            .iter()
            .map(|s| serde_json::to_value(s).unwrap_or_default())
            .collect();
        let mut json = serde_json::to_value(&report).unwrap_or_default();
        if let Some(object) = json.as_object_mut() {
            object.remove("streams");
        }
        explanation.report = Some(json);
    }
    Ok(explanation)
}

/// The HTTP request `request` describes, marked as the server's outer
/// layers mark a real one (request id, client-sent request id).
fn build(request: ExplainRequest) -> Result<Request, ExplainError> {
    let invalid = |field, message: String| ExplainError::Invalid { field, message };
    let method = Method::from_bytes(request.method.trim().as_bytes()).map_err(|_| {
        invalid(
            "method",
            format!("{:?} is not an HTTP method", request.method),
        )
    })?;
    let uri: Uri = request
        .path
        .trim()
        .parse()
        .map_err(|_| invalid("path", "not a path or URL".into()))?;
    let target = uri
        .path_and_query()
        .filter(|pq| pq.as_str().starts_with('/'))
        .ok_or_else(|| {
            invalid(
                "path",
                "expected a path starting with / or an absolute URL".into(),
            )
        })?;
    let uri: Uri = target
        .as_str()
        .parse()
        .map_err(|_| invalid("path", "not a path".into()))?;
    let body = match request.body {
        None => Vec::new(),
        Some(ExplainBody::Text(text)) => text.into_bytes(),
        Some(ExplainBody::Base64(encoded)) => BASE64
            .decode(encoded.trim())
            .map_err(|e| invalid("body", format!("not base64: {e}")))?,
    };
    let mut built = Request::new(Body::from(body));
    *built.method_mut() = method;
    *built.uri_mut() = uri;
    for (name, value) in &request.headers {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| invalid("headers", format!("{name:?} is not a header name")))?;
        // Framing is the connection's business, and a saved request's
        // `Content-Length` often no longer matches its body (the seeds' does
        // not once `&quot;` is undone): the body given is the body.
        if FRAMING_HEADERS.contains(&name.as_str()) {
            continue;
        }
        // As the document states: visible ASCII, space and tab (a JSON
        // string cannot say which bytes other characters stood for).
        if !value
            .bytes()
            .all(|b| b == b'\t' || (0x20..=0x7e).contains(&b))
        {
            return Err(invalid(
                "headers",
                format!("the value of {name} is not visible ASCII text"),
            ));
        }
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| invalid("headers", format!("the value of {name} is not header text")))?;
        built.headers_mut().append(name, value);
    }
    let client_request_id = built
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if client_request_id.is_none() {
        let generated = uuid::Uuid::new_v4().to_string();
        if let Ok(value) = HeaderValue::from_str(&generated) {
            built.headers_mut().insert(REQUEST_ID, value);
        }
    }
    built
        .extensions_mut()
        .insert(ClientRequestId(client_request_id));
    Ok(built)
}

/// Headers about the connection rather than the request, not re-issued.
const FRAMING_HEADERS: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// The tenant whose credential the request presents for `style`, when it
/// presents a known one (else the route's own 401 is the answer).
fn credential_tenant(
    credentials: &Credentials,
    style: Style,
    headers: &axum::http::HeaderMap,
) -> Option<Arc<str>> {
    let principal = match style {
        Style::Ucwa => credentials.ucwa(bearer_token(headers)?),
        Style::Graph => credentials.graph(bearer_token(headers)?),
        Style::Plivo => {
            let (id, token) = basic_credentials(headers)?;
            credentials.plivo(&id, &token)
        }
    }?;
    Some(principal.tenant)
}

/// The operation a route template serves.
fn operation(style: Style, matched: Option<&str>, reached_ingest: bool) -> Option<&'static str> {
    let matched = matched?;
    let known = [
        ("/publishCallQualityFeedback", "publishCallQualityFeedback"),
        ("/reportMediaDiagnostics", "reportMediaDiagnostics"),
        ("/audioVideoSession", "audioVideoSession"),
        (
            "/logTeleconferenceDeviceQuality",
            "logTeleconferenceDeviceQuality",
        ),
        ("/Feedback/", "feedback"),
        ("/Feedback", "feedback"),
    ];
    if let Some((_, name)) = known.iter().find(|(end, _)| matched.ends_with(end)) {
        return Some(name);
    }
    // Graph's other spellings of its action are served by its catch-all.
    (style == Style::Graph && reached_ingest).then_some("logTeleconferenceDeviceQuality")
}

/// The whole answer, its body as text when it is UTF-8.
async fn read_response(answer: Response) -> ExplainedResponse {
    let (parts, body) = answer.into_parts();
    let bytes = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| Header {
            name: name.as_str().to_owned(),
            value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
        })
        .collect();
    let body = match String::from_utf8(bytes.to_vec()) {
        Ok(text) => ExplainBody::Text(text),
        Err(_) => ExplainBody::Base64(base64::engine::general_purpose::STANDARD.encode(&bytes)),
    };
    ExplainedResponse {
        status: parts.status.as_u16(),
        headers,
        body,
    }
}
