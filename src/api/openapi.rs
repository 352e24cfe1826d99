//! `GET /openapi.json`: an OpenAPI 3.1 document of every endpoint of callq.
//!
//! The read API's operations are generated from the handlers' annotations.
//! The ingest endpoints belong to the style modules, which stay free of
//! documentation concerns; they are described here from one table (path,
//! method, body types, answers), and a test requests every documented path
//! on the real server to keep the two in step.

use axum::Json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, OpenApi as Document, Required, Response, Type,
};
use utoipa::{Modify, OpenApi};

use super::calls::{CallSummary, CallView};
use super::error::ErrorBody;
use super::reports::ReportPage;
use super::stats::StatsAnswer;
use crate::model::quality::{PoorReason, QualityClass};
use crate::model::{Kind, MediaStream, Modality, Protocol, Report};
use crate::store::query::{GroupBy, GroupStats, Percentiles, RatingStats, ReportRow};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "callq",
        description = "Call-quality ingestion server: UCWA, Microsoft Graph and Plivo wire styles \
                       in, one normalized store, an ops read API out."
    ),
    paths(
        super::reports::list,
        super::reports::get_one,
        super::calls::get_call,
        super::stats::stats,
    ),
    components(schemas(
        ReportPage, ReportRow, Report, MediaStream, Modality, QualityClass, PoorReason, Protocol, Kind,
        CallView,
        CallSummary, StatsAnswer, GroupStats, RatingStats, Percentiles, GroupBy, ErrorBody
    )),
    modifiers(&SecuritySchemes, &ServiceEndpoints, &IngestEndpoints),
    tags(
        (name = "ops", description = "Read API for operators (bearer ops token)"),
        (name = "ingest", description = "Vendor-compatible ingest endpoints"),
        (name = "service", description = "Health, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The document, served as is.
pub async fn document() -> Json<Document> {
    Json(ApiDoc::openapi())
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = || SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer));
        components.add_security_scheme("ops_token", bearer());
        // UCWA tokens are sent as `Bearer cwt=…`.
        components.add_security_scheme("ucwa_token", bearer());
        components.add_security_scheme("graph_token", bearer());
        components.add_security_scheme(
            "plivo_basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// One documented operation that is not generated from a handler.
struct Endpoint {
    method: HttpMethod,
    path: &'static str,
    summary: &'static str,
    tag: &'static str,
    security: Option<&'static str>,
    /// Request body media types (none: no body).
    consumes: &'static [&'static str],
    responses: &'static [(&'static str, &'static str)],
}

const UCWA_TYPES: &[&str] = &[
    "application/json",
    "application/xml",
    "application/vnd.microsoft.com.ucwa+json",
    "application/vnd.microsoft.com.ucwa+xml",
];

const UCWA_ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "BadRequest: malformed body or a value outside its enumeration (UCWA error body)",
    ),
    (
        "401",
        "Missing or unknown cwt token (two WWW-Authenticate challenges)",
    ),
    ("403", "The token lacks the operation's scope"),
    ("405", "MethodNotAllowed"),
    ("413", "EntityTooLarge"),
    ("415", "UnsupportedMediaType"),
    ("503", "ServiceUnavailable, with Retry-After"),
];

fn ingest_endpoints() -> Vec<Endpoint> {
    // The UCWA style's own route template, under its `Style` prefix.
    let ucwa_base = crate::protocols::ucwa::audio_video();
    let graph_responses: &'static [(&str, &str)] = &[
        ("200", "Stored as one device_quality report; empty body"),
        (
            "400",
            "BadRequest: invalid JSON or schema violation (Graph error body)",
        ),
        ("401", "InvalidAuthenticationToken"),
        ("403", "Forbidden: the token lacks Calls.AccessMedia.All"),
        ("413", "Body too large"),
        ("415", "Content-Type is not JSON"),
        ("503", "Unavailable, with Retry-After"),
    ];
    let mut ucwa_publish = vec![("204", "Stored as one feedback report")];
    ucwa_publish.extend_from_slice(UCWA_ERRORS);
    let mut ucwa_diag = vec![("204", "Stored as one diagnostics report")];
    ucwa_diag.extend_from_slice(UCWA_ERRORS);
    let ucwa_session: &'static [(&str, &str)] = &[
        (
            "200",
            "The audioVideoSession resource (JSON or XML by Accept)",
        ),
        ("401", "Missing or unknown cwt token"),
        (
            "403",
            "The token lacks Conversations.Initiate or Conversations.Receive",
        ),
        ("405", "MethodNotAllowed"),
    ];
    vec![
        Endpoint {
            method: HttpMethod::Post,
            path: leak(format!(
                "{ucwa_base}/audioVideoSession/publishCallQualityFeedback"
            )),
            summary: "UCWA publishCallQualityFeedback (mediaEndpoint, mediaQualityOfExperience)",
            tag: "ingest",
            security: Some("ucwa_token"),
            consumes: UCWA_TYPES,
            responses: ucwa_publish.leak(),
        },
        Endpoint {
            method: HttpMethod::Post,
            path: leak(format!("{ucwa_base}/reportMediaDiagnostics")),
            summary: "UCWA reportMediaDiagnostics (errorCode, errorSubcode)",
            tag: "ingest",
            security: Some("ucwa_token"),
            consumes: UCWA_TYPES,
            responses: ucwa_diag.leak(),
        },
        Endpoint {
            method: HttpMethod::Get,
            path: leak(format!("{ucwa_base}/audioVideoSession")),
            summary: "UCWA audioVideoSession resource",
            tag: "ingest",
            security: Some("ucwa_token"),
            consumes: &[],
            responses: ucwa_session,
        },
        Endpoint {
            method: HttpMethod::Post,
            path: "/v1.0/communications/calls/logTeleconferenceDeviceQuality",
            summary: "Microsoft Graph logTeleconferenceDeviceQuality (v1.0)",
            tag: "ingest",
            security: Some("graph_token"),
            consumes: &["application/json"],
            responses: graph_responses,
        },
        Endpoint {
            method: HttpMethod::Post,
            path: "/beta/communications/calls/logTeleconferenceDeviceQuality",
            summary: "Microsoft Graph logTeleconferenceDeviceQuality (beta)",
            tag: "ingest",
            security: Some("graph_token"),
            consumes: &["application/json"],
            responses: graph_responses,
        },
        Endpoint {
            method: HttpMethod::Post,
            path: "/v1/Call/{call_uuid}/Feedback/",
            summary: "Plivo call quality feedback (rating, issues, notes); also without the trailing slash",
            tag: "ingest",
            security: Some("plivo_basic"),
            consumes: &["application/json"],
            responses: &[
                ("201", "Feedback has been posted"),
                ("401", "Authentication failed"),
                (
                    "404",
                    "Please check the Call UUID / Resource cannot be found",
                ),
                ("405", "HTTP method not allowed"),
                ("413", "Body too large"),
                ("422", "Rating or issues invalid (Plivo's messages)"),
                ("503", "Unavailable, with Retry-After"),
            ],
        },
    ]
}

fn service_endpoints() -> Vec<Endpoint> {
    let get = |path, summary, responses| Endpoint {
        method: HttpMethod::Get,
        path,
        summary,
        tag: "service",
        security: None,
        consumes: &[],
        responses,
    };
    vec![
        get(
            "/healthz",
            "Liveness: the process answers",
            &[("200", "ok")],
        ),
        get(
            "/readyz",
            "Readiness: the database answers",
            &[("200", "ready"), ("503", "database not answering")],
        ),
        get(
            "/metrics",
            "Prometheus metrics (on CALLQ_METRICS_LISTEN instead, when that is set)",
            &[("200", "Prometheus text format 0.0.4")],
        ),
        get(
            "/openapi.json",
            "This document",
            &[("200", "OpenAPI 3.1 JSON")],
        ),
    ]
}

/// Makes a path built at start-up live as long as the (static) document text.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn method_name(m: &HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Delete => "delete",
        HttpMethod::Options => "options",
        HttpMethod::Head => "head",
        HttpMethod::Patch => "patch",
        HttpMethod::Trace => "trace",
    }
}

/// The `{name}` segments of a path template.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn add(doc: &mut Document, e: Endpoint) {
    let mut op = OperationBuilder::new()
        .summary(Some(e.summary))
        .tag(e.tag)
        .operation_id(Some(format!(
            "{}_{}",
            method_name(&e.method),
            e.path.trim_matches('/').replace(['/', '{', '}', '.'], "_")
        )));
    for name in path_parameters(e.path) {
        op = op.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
        );
    }
    if !e.consumes.is_empty() {
        let mut body = RequestBodyBuilder::new().required(Some(Required::True));
        for media_type in e.consumes {
            body = body.content(
                *media_type,
                ContentBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                    .build(),
            );
        }
        op = op.request_body(Some(body.build()));
    }
    for (status, description) in e.responses {
        op = op.response(*status, Response::new(*description));
    }
    if let Some(scheme) = e.security {
        op = op.security(SecurityRequirement::new(scheme, Vec::<String>::new()));
    }
    doc.paths
        .add_path_operation(e.path, vec![e.method], op.build());
}

struct IngestEndpoints;

impl Modify for IngestEndpoints {
    fn modify(&self, doc: &mut Document) {
        for e in ingest_endpoints() {
            add(doc, e);
        }
    }
}

struct ServiceEndpoints;

impl Modify for ServiceEndpoints {
    fn modify(&self, doc: &mut Document) {
        for e in service_endpoints() {
            add(doc, e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_endpoint() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/api/v1/reports",
            "/api/v1/reports/{id}",
            "/api/v1/calls/{call_id}",
            "/api/v1/stats",
            "/v1/Call/{call_uuid}/Feedback/",
            "/v1.0/communications/calls/logTeleconferenceDeviceQuality",
            "/beta/communications/calls/logTeleconferenceDeviceQuality",
            "/metrics",
            "/openapi.json",
        ] {
            assert!(paths.contains_key(p), "{p} is not documented");
        }
        let plivo = &paths["/v1/Call/{call_uuid}/Feedback/"]["post"];
        assert_eq!(plivo["parameters"][0]["name"], "call_uuid");
        assert!(plivo["responses"]["201"].is_object());
        assert!(doc["components"]["securitySchemes"]["ops_token"].is_object());
    }
}
