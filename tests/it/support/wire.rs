//! What the styles look like on the wire, shared by the tests: endpoint
//! paths, the seed bodies, and checks of each style's own error body.

use serde_json::Value;

/// Graph's action on v1.0 and on beta.
pub const GRAPH_V1: &str = "/v1.0/communications/calls/logTeleconferenceDeviceQuality";
pub const GRAPH_BETA: &str = "/beta/communications/calls/logTeleconferenceDeviceQuality";
/// Seed 002's example request body, byte for byte (the fenced JSON block).
pub const GRAPH_SEED: &str = include_str!("../../data/graph-seed-002.json");
/// The `callChainId` of [`GRAPH_SEED`].
pub const GRAPH_SEED_CALL: &str = "0622673d-9f69-49b3-9d4f-5ec64f42ecce";

/// The seed's UCWA audio/video resource (application 192, conversation 137).
pub const UCWA_AV: &str = "/ucwa/v1/applications/192/communication/conversations/137/audioVideo";
pub const UCWA_FEEDBACK: &str = "/ucwa/v1/applications/192/communication/conversations/137/audioVideo/audioVideoSession/publishCallQualityFeedback";
pub const UCWA_DIAGNOSTICS: &str =
    "/ucwa/v1/applications/192/communication/conversations/137/audioVideo/reportMediaDiagnostics";
pub const UCWA_SESSION: &str =
    "/ucwa/v1/applications/192/communication/conversations/137/audioVideo/audioVideoSession";

/// The seed's Plivo call UUID.
pub const PLIVO_CALL: &str = "b38149eb-b8fe-45d5-85b2-78ee4424788f";

/// An MS-QoE `VQReportEvent`: the illustrative example document of
/// docs/reference/ms-qoe.md §8.
pub const MS_QOE_SAMPLE: &str = include_str!("../../data/ms-qoe-sample.xml");

/// Plivo's feedback path for `call`.
pub fn plivo_path(call: &str) -> String {
    format!("/v1/Call/{call}/Feedback/")
}

/// Plivo's feedback path for a new call.
pub fn new_plivo_path() -> String {
    plivo_path(&uuid::Uuid::new_v4().to_string())
}

/// The body of a response that says it is JSON (`application/json`, any
/// parameters), parsed.
pub async fn json_body(response: reqwest::Response) -> Value {
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    response.json().await.unwrap()
}

/// Asserts a Graph error answer (status, request ids, the OData `error`
/// body with its `innerError`) and returns its message.
pub async fn graph_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status().as_u16(), status);
    let request_id = response.headers()["request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!request_id.is_empty());
    assert_eq!(response.headers()["x-request-id"], request_id.as_str());
    assert!(response.headers().contains_key("client-request-id"));
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert_eq!(error["innerError"]["request-id"], request_id.as_str());
    let date = error["innerError"]["date"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").is_ok(),
        "{date}"
    );
    error["message"].as_str().unwrap().to_owned()
}

/// Asserts Plivo's error shape `{"api_id": "<uuid>", "error": "<text>"}`
/// with `status`, and returns the error text.
pub async fn plivo_error(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.unwrap();
    assert!(
        uuid::Uuid::parse_str(body["api_id"].as_str().unwrap_or_default()).is_ok(),
        "{body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    body["error"].as_str().unwrap().to_owned()
}
