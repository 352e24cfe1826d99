//! `GET /openapi.json`: an OpenAPI 3.1 document of every endpoint of callq.
//!
//! The read API's operations are generated from the handlers' annotations
//! and the parameter structs of `params` (so the document states what the
//! parser enforces). The ingest endpoints belong to the style modules, which
//! stay free of documentation concerns; `openapi_ingest` describes them.
//! `tests/it/openapi.rs` checks the document's promises against the real
//! server, and `scripts/schemathesis.sh` fuzzes every operation with it.

use axum::Json;
use serde_json::{Value, json};
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::calls::{CallSummary, CallView};
use super::error::ErrorBody;
use super::openapi_ingest;
use super::params::{Format, GroupBy};
use super::reports::ReportPage;
use super::stats::StatsAnswer;
use crate::model::quality::{PoorReason, QualityClass};
use crate::model::{Kind, MediaStream, Modality, Protocol, Report};
use crate::store::query::{GroupStats, Percentiles, RatingStats, ReportRow};

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
        super::explain::explain,
    ),
    components(schemas(
        ReportPage, ReportRow, Report, MediaStream, Modality, QualityClass, PoorReason, Protocol, Kind,
        CallView,
        CallSummary, StatsAnswer, GroupStats, RatingStats, Percentiles, GroupBy, Format, ErrorBody
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "ops", description = "Read API for operators (bearer ops token)"),
        (name = "ingest", description = "Vendor-compatible ingest endpoints"),
        (name = "service", description = "Health, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The document, served as is.
pub async fn document() -> Json<Value> {
    Json(document_json())
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

/// The whole document as JSON: the generated read API plus the hand-written
/// ingest and service operations.
pub fn document_json() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
    let operations = openapi_ingest::operations()
        .into_iter()
        .chain(openapi_ingest::service_operations());
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, method, operation) in operations {
            let item = paths.entry(path).or_insert_with(|| json!({}));
            if let Some(item) = item.as_object_mut() {
                item.insert(method.to_owned(), operation);
            }
        }
    }
    empty_means_absent(&mut doc);
    listed_report_schema(&mut doc);
    doc
}

/// The read API takes an empty query value as an absent parameter
/// (`strict_query`): every query parameter of an ops operation says so.
fn empty_means_absent(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/api/") {
            continue;
        }
        let operations = item
            .as_object_mut()
            .into_iter()
            .flat_map(|i| i.values_mut());
        for parameter in operations
            .filter_map(|op| op.get_mut("parameters").and_then(Value::as_array_mut))
            .flatten()
        {
            if parameter["in"] == "query" {
                parameter["allowEmptyValue"] = json!(true);
            }
        }
    }
}

/// The call view lists reports whose large texts may be replaced by their
/// size (`calls::listed`): the `Report` schema with those two texts
/// optional and the size fields added, as `ListedReport`.
fn listed_report_schema(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(mut listed) = schemas.get("Report").cloned() else {
        return;
    };
    if let Some(required) = listed.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|r| r != "raw_payload" && r != "media_quality_of_experience");
    }
    if let Some(properties) = listed.get_mut("properties").and_then(Value::as_object_mut) {
        let count = |d: &str| json!({"type": "integer", "minimum": 0, "description": d});
        let flag = |d: &str| json!({"type": "boolean", "description": d});
        properties.insert(
            "raw_payload_bytes".into(),
            count("Size of raw_payload in bytes"),
        );
        properties.insert(
            "raw_payload_truncated".into(),
            flag("raw_payload is left out (larger than 4096 bytes)"),
        );
        properties.insert(
            "media_quality_of_experience_bytes".into(),
            count(
                "Size of media_quality_of_experience in bytes, when left out and known (absent \
                 when its raw payload, over 16384 bytes, was not read by the call view)",
            ),
        );
        properties.insert(
            "media_quality_of_experience_truncated".into(),
            flag(
                "media_quality_of_experience is left out (larger than 4096 bytes, or in a raw \
                 payload over 16384 bytes)",
            ),
        );
    }
    listed["description"] = json!(
        "A report as the call view lists it: a raw_payload or media_quality_of_experience larger \
         than 4096 bytes is left out and its size given; GET /api/v1/reports/{id} has it whole."
    );
    schemas.insert("ListedReport".into(), listed);
    if let Some(items) = doc.pointer_mut("/components/schemas/CallView/properties/reports/items") {
        *items = json!({"$ref": "#/components/schemas/ListedReport"});
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_endpoint() {
        let doc = document_json();
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
        let unauthorized = &paths["/api/v1/reports"]["get"]["responses"]["401"];
        assert!(unauthorized["headers"]["WWW-Authenticate"].is_object());
        let list = &paths["/api/v1/reports"]["get"]["responses"]["200"]["content"];
        assert!(list["application/json"].is_object() && list["text/csv"].is_object());
    }
}
