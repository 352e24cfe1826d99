//! The ingest and service operations of `/openapi.json`, written as JSON.
//!
//! The style modules stay free of documentation concerns, so their
//! operations are described here, by hand, from what each decoder enforces:
//! which body types it reads, which properties it requires, the ranges and
//! enumerations it checks, and every status and content type it answers
//! with. The enumerations and caps are taken from the decoders' own
//! constants, so they cannot drift. JSON (not utoipa's builders) because
//! these bodies need JSON Schema that the builders do not model (`type`
//! lists with `null`, `anyOf` between two shapes of Plivo's body, XML
//! names and attributes). `tests/it/openapi.rs` checks the promises against
//! the real server, and `scripts/schemathesis.sh` fuzzes them.

use serde_json::{Map, Value, json};

use crate::protocols::graph::request::MAX_MEDIA_QUALITY_LIST;
use crate::protocols::plivo::Issue;
use crate::protocols::plivo::request::NOTES_MAX_CHARS;
use crate::protocols::ucwa::{ErrorCode, ErrorSubcode};
use crate::style::Style;

/// The XML namespace of UCWA's `<input>`.
const UCWA_NAMESPACE: &str = "http://schemas.microsoft.com/rtc/2012/03/ucwa";

/// "No U+0000": the character no backend can store; the decoders refuse it
/// where it cannot be replaced.
const NO_NUL: &str = "^[^\\u0000]*$";

/// The media types a UCWA operation reads and answers in.
const UCWA_JSON: &[&str] = &[
    "application/json",
    "application/vnd.microsoft.com.ucwa+json",
];
const UCWA_XML: &[&str] = &["application/xml", "application/vnd.microsoft.com.ucwa+xml"];

/// Every operation that is not generated from a handler: `(path, method,
/// operation)`.
pub fn operations() -> Vec<(String, &'static str, Value)> {
    let ucwa_base = crate::protocols::ucwa::audio_video();
    let mut operations = vec![
        (
            format!("{ucwa_base}/audioVideoSession/publishCallQualityFeedback"),
            "post",
            ucwa_operation(
                "UCWA publishCallQualityFeedback (mediaEndpoint, mediaQualityOfExperience)",
                "Stored as one feedback report",
                json!({
                    "mediaEndpoint": {
                        "type": ["string", "null"],
                        "description": "The endpoint's description (opaque text)"
                    },
                    "mediaQualityOfExperience": {
                        "type": ["string", "null"],
                        "description": "The MS-QoE VQReportEvent XML document, as text; its \
                                        streams are read when it parses, and it is kept whole either way"
                    }
                }),
            ),
        ),
        (
            format!("{ucwa_base}/reportMediaDiagnostics"),
            "post",
            ucwa_operation(
                "UCWA reportMediaDiagnostics (errorCode, errorSubcode)",
                "Stored as one diagnostics report",
                json!({
                    "errorCode": ucwa_enum(ErrorCode::ALL.iter().map(|c| c.as_str())),
                    "errorSubcode": ucwa_enum(ErrorSubcode::ALL.iter().map(|c| c.as_str())),
                }),
            ),
        ),
        (
            format!("{ucwa_base}/audioVideoSession"),
            "get",
            json!({
                "summary": "UCWA audioVideoSession resource",
                "operationId": "get_ucwa_audioVideoSession",
                "tags": ["ingest"],
                "security": [{"ucwa_token": []}],
                "parameters": ucwa_path_parameters(),
                "responses": {
                    "200": answer("The audioVideoSession resource (JSON or XML by Accept)", ucwa_types(), json!({"type": "object"})),
                    "400": ucwa_error("An id in the path is not usable"),
                    "401": ucwa_error("Missing or unknown cwt token (two WWW-Authenticate challenges)"),
                    "403": ucwa_error("The token lacks Conversations.Initiate or Conversations.Receive"),
                    "405": ucwa_error("MethodNotAllowed"),
                    "503": ucwa_error("ServiceUnavailable, with Retry-After"),
                }
            }),
        ),
        (
            crate::protocols::plivo::feedback_path(),
            "post",
            plivo_operation(),
        ),
    ];
    // One Graph operation per API version prefix (`/v1.0/`, `/beta/`).
    for prefix in Style::Graph.prefixes() {
        let version = prefix.trim_matches('/');
        operations.push((
            crate::protocols::graph::action_path(prefix),
            "post",
            graph_operation(version),
        ));
    }
    operations
}

/// An answer with the same schema in each of `types`.
fn answer(description: &str, types: Vec<&str>, schema: Value) -> Value {
    let content: Map<String, Value> = types
        .into_iter()
        .map(|t| (t.to_owned(), json!({ "schema": schema.clone() })))
        .collect();
    json!({ "description": description, "content": content })
}

fn ucwa_types() -> Vec<&'static str> {
    UCWA_JSON.iter().chain(UCWA_XML).copied().collect()
}

/// A UCWA error: JSON or XML, by the request's `Accept`.
fn ucwa_error(description: &str) -> Value {
    let content: Map<String, Value> = ucwa_types()
        .into_iter()
        .map(|t| {
            let schema = if t.ends_with("json") {
                json!({
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "subcode": {"type": "string"},
                        "message": {"type": "string"}
                    }
                })
            } else {
                json!({"type": "object", "xml": {"name": "reason", "namespace": UCWA_NAMESPACE}})
            };
            (t.to_owned(), json!({ "schema": schema }))
        })
        .collect();
    json!({ "description": description, "content": content })
}

/// A UCWA enumeration property: a member name, or absent/null/empty.
fn ucwa_enum<'a>(names: impl Iterator<Item = &'a str>) -> Value {
    let mut members: Vec<Value> = names.map(|n| json!(n)).collect();
    members.push(json!(""));
    members.push(Value::Null);
    json!({ "enum": members })
}

fn ucwa_path_parameters() -> Value {
    let id = |name: &str| {
        json!({
            "name": name,
            "in": "path",
            "required": true,
            "description": "Opaque id, at most 256 bytes once percent-decoded; no U+0000",
            "schema": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": NO_NUL}
        })
    };
    json!([id("applicationId"), id("conversationId")])
}

/// A UCWA ingest operation: a flat bag of named `properties`, as a JSON
/// object or an XML `<input>` of `<property name="…">` elements; an empty
/// body is an operation with no property given.
fn ucwa_operation(summary: &str, stored: &str, properties: Value) -> Value {
    let names: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let json_body = json!({
        "type": "object",
        "description": "The operation's properties; other members are ignored (kept in the raw payload)",
        "properties": properties,
    });
    // OpenAPI cannot describe an element's text content, so the XML schema
    // names the shape (`<input>` in UCWA's namespace, `<property name="…">`
    // children) and not the values; an empty `<property>` is an absent one.
    let xml_body = json!({
        "type": "object",
        "description": "`<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">` with \
                        `<property name=\"…\">value</property>` children (an empty one is absent); \
                        other children are ignored",
        "xml": {"name": "input", "namespace": UCWA_NAMESPACE},
        "properties": {
            "property": {
                "type": "array",
                "xml": {"wrapped": false},
                "items": {
                    "type": "object",
                    "xml": {"name": "property", "namespace": UCWA_NAMESPACE},
                    // Any name is taken (unknown ones are ignored), and an
                    // attribute is text whatever a schema says: no type.
                    "required": ["name"],
                    "properties": {
                        "name": {
                            "description": format!("The property's name: {}", names.join(", ")),
                            "xml": {"attribute": true}
                        }
                    },
                    "additionalProperties": false
                }
            }
        }
    });
    let mut content = Map::new();
    for t in UCWA_JSON {
        content.insert((*t).into(), json!({ "schema": json_body.clone() }));
    }
    for t in UCWA_XML {
        content.insert((*t).into(), json!({ "schema": xml_body.clone() }));
    }
    json!({
        "summary": summary,
        "operationId": format!("post_ucwa_{}", summary.split_whitespace().nth(1).unwrap_or("operation")),
        "tags": ["ingest"],
        "security": [{"ucwa_token": []}],
        "parameters": ucwa_path_parameters(),
        "requestBody": {
            "required": false,
            "description": "No body (or a blank one) gives no property; a body needs its Content-Type",
            "content": content
        },
        "responses": {
            "204": {"description": stored},
            "400": ucwa_error("BadRequest: malformed body, a property of the wrong type or a value outside its enumeration"),
            "401": ucwa_error("Missing or unknown cwt token (two WWW-Authenticate challenges)"),
            "403": ucwa_error("The token lacks the operation's scope"),
            "405": ucwa_error("MethodNotAllowed"),
            "413": ucwa_error("EntityTooLarge"),
            "415": ucwa_error("UnsupportedMediaType"),
            "422": ucwa_error("The idempotency key was used for another request"),
            "429": ucwa_error("The tenant holds its share of the write queue; Retry-After"),
            "503": ucwa_error("ServiceUnavailable, with Retry-After"),
        }
    })
}

/// Graph's error body.
fn graph_error(description: &str) -> Value {
    answer(
        description,
        vec!["application/json"],
        json!({
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "innerError": {"type": "object"}
                    }
                }
            }
        }),
    )
}

fn graph_operation(version: &str) -> Value {
    let text = json!({"type": "string", "pattern": NO_NUL});
    let optional_text = json!({"type": ["string", "null"], "pattern": NO_NUL});
    let guid = json!({
        "type": "string",
        "format": "uuid",
        "pattern": "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
    });
    // Edm.Duration; ISO 8601 seconds are what clients send (the decoder
    // also reads minutes, hours, days and Python's timedelta text).
    let duration = json!({
        "type": ["string", "null"],
        "pattern": "^PT[0-9]{1,6}(\\.[0-9]{1,6})?S$",
        "description": "ISO 8601 duration, e.g. PT0.03S"
    });
    // Edm.Int64, also as a decimal string (IEEE754Compatible); never negative.
    let count = json!({
        "type": ["integer", "string", "null"],
        "minimum": 0,
        "maximum": i64::MAX,
        "pattern": "^[0-9]{1,18}$"
    });
    let percent = json!({"type": ["number", "null"], "minimum": 0, "maximum": 100});
    let port = json!({"type": ["integer", "null"], "minimum": 0, "maximum": 65535});
    let rate = json!({"type": ["number", "null"], "minimum": 0});
    let media_types: Vec<Value> = [
        "teleconferenceDeviceAudioQuality",
        "teleconferenceDeviceVideoQuality",
        "teleconferenceDeviceScreenSharingQuality",
    ]
    .iter()
    .map(|t| json!(format!("#microsoft.graph.{t}")))
    .collect();
    let mut media = Map::new();
    // `null` is an absent property, in Graph's decoder as in OData.
    let mut media_types = media_types;
    media_types.push(Value::Null);
    media.insert("@odata.type".into(), json!({"enum": media_types}));
    media.insert(
        "channelIndex".into(),
        json!({"type": "integer", "minimum": 0, "maximum": i32::MAX}),
    );
    for name in [
        "mediaDuration",
        "averageInboundJitter",
        "maximumInboundJitter",
        "averageOutboundJitter",
        "maximumOutboundJitter",
        "averageInboundRoundTripDelay",
        "maximumInboundRoundTripDelay",
        "averageOutboundRoundTripDelay",
        "maximumOutboundRoundTripDelay",
    ] {
        media.insert(name.into(), duration.clone());
    }
    for name in [
        "inboundPackets",
        "outboundPackets",
        "networkLinkSpeedInBytes",
    ] {
        media.insert(name.into(), count.clone());
    }
    for name in [
        "averageInboundPacketLossRateInPercentage",
        "maximumInboundPacketLossRateInPercentage",
        "averageOutboundPacketLossRateInPercentage",
        "maximumOutboundPacketLossRateInPercentage",
    ] {
        media.insert(name.into(), percent.clone());
    }
    media.insert("localIPAddress".into(), optional_text.clone());
    media.insert("remoteIPAddress".into(), optional_text.clone());
    media.insert("localPort".into(), port.clone());
    media.insert("remotePort".into(), port);
    // The video rates are checked on video, screen sharing and untyped
    // items; on an audio item they are undeclared properties, not read.
    let mut rates = Map::new();
    for name in [
        "averageInboundBitRate",
        "averageOutboundBitRate",
        "averageInboundFrameRate",
        "averageOutboundFrameRate",
    ] {
        rates.insert(name.into(), rate.clone());
    }
    let audio = json!("#microsoft.graph.teleconferenceDeviceAudioQuality");
    let body = json!({
        "type": "object",
        "required": ["quality"],
        "properties": {
            "quality": {
                "type": "object",
                "description": "teleconferenceDeviceQuality; other properties are kept in the raw payload",
                "required": ["callChainId", "participantId", "mediaLegId", "deviceName", "deviceDescription", "mediaQualityList"],
                "properties": {
                    "@odata.type": {"enum": ["#microsoft.graph.teleconferenceDeviceQuality", null]},
                    "callChainId": guid,
                    "participantId": guid,
                    "mediaLegId": guid,
                    "deviceName": text,
                    "deviceDescription": text,
                    "cloudServiceDeploymentEnvironment": optional_text,
                    "cloudServiceDeploymentId": optional_text,
                    "cloudServiceInstanceName": optional_text,
                    "cloudServiceName": optional_text,
                    "mediaQualityList": {
                        "type": "array",
                        "maxItems": MAX_MEDIA_QUALITY_LIST,
                        "items": {
                            "type": "object",
                            "description": "teleconferenceDeviceAudioQuality, …VideoQuality or …ScreenSharingQuality",
                            "required": ["channelIndex"],
                            "properties": media,
                            "anyOf": [
                                {"required": ["@odata.type"], "properties": {"@odata.type": {"enum": [audio]}}},
                                {"properties": rates}
                            ]
                        }
                    }
                }
            }
        }
    });
    json!({
        "summary": format!("Microsoft Graph logTeleconferenceDeviceQuality ({version})"),
        "operationId": format!("post_graph_{}_logTeleconferenceDeviceQuality", version.replace('.', "_")),
        "tags": ["ingest"],
        "security": [{"graph_token": []}],
        // A required `User-Agent` header, in words: as a header parameter
        // Schemathesis cannot test it (its HTTP client always sends one),
        // and tests/it/openapi.rs checks the 400 instead.
        "description": "Needs a `User-Agent` header (ApplicationName/Version, visible ASCII), as \
                        Graph does: without one the answer is 400 BadRequest.",
        "requestBody": {
            "required": true,
            "content": {"application/json": {"schema": body}}
        },
        "responses": {
            "200": {"description": "Stored as one device_quality report; empty body"},
            "400": graph_error("BadRequest: invalid JSON or a schema violation, naming the property"),
            "401": graph_error("InvalidAuthenticationToken"),
            "403": graph_error("Forbidden: the token lacks Calls.AccessMedia.All"),
            "405": graph_error("Method not allowed"),
            "413": graph_error("Body too large"),
            "415": graph_error("Content-Type is not JSON"),
            "422": graph_error("The idempotency key was used for another request"),
            "429": graph_error("The tenant holds its share of the write queue; Retry-After"),
            "503": graph_error("Unavailable, with Retry-After"),
        }
    })
}

/// Plivo's answers: `{"api_id", "message"}` or `{"api_id", "error"}`.
fn plivo_answer(description: &str) -> Value {
    answer(
        description,
        vec!["application/json"],
        json!({
            "type": "object",
            "required": ["api_id"],
            "properties": {
                "api_id": {"type": "string"},
                "message": {"type": "string"},
                "error": {"type": "string"}
            }
        }),
    )
}

fn plivo_operation() -> Value {
    let issues: Vec<Value> = Issue::ALL
        .iter()
        .map(|i| json!(i.as_str()))
        // The two spellings of Plivo's own error text are read too.
        .chain([json!("CALL_DROPPPED"), json!("CALLERID_ISSUES")])
        .collect();
    let body = json!({
        "type": "object",
        "description": "Other keys (the SDKs add some) are ignored and kept in the raw payload",
        "required": ["rating"],
        "properties": {
            "rating": {
                "description": "1 to 5; a number or a string holding one",
                "anyOf": [
                    {"type": "number", "minimum": 1, "maximum": 5},
                    {"type": "string", "pattern": "^([1-4](\\.[0-9]{1,6})?|5(\\.0{1,6})?)$"}
                ]
            },
            "issues": {
                "description": "Required (one at least) below rating 5; names case-insensitive",
                "type": ["array", "null"],
                "items": {"enum": issues}
            },
            "notes": {"type": ["string", "null"], "maxLength": NOTES_MAX_CHARS},
            "Notes": {"type": ["string", "null"], "maxLength": NOTES_MAX_CHARS}
        },
        // Below 5 at least one issue; at 5 issues are optional.
        "anyOf": [
            {"required": ["issues"], "properties": {"issues": {"type": "array", "minItems": 1}}},
            {"properties": {"rating": {"enum": [5, "5"]}}}
        ]
    });
    json!({
        "summary": "Plivo call quality feedback (rating, issues, notes); also without the trailing slash",
        "operationId": "post_plivo_call_feedback",
        "tags": ["ingest"],
        "security": [{"plivo_basic": []}],
        "parameters": [{
            "name": "call_uuid",
            "in": "path",
            "required": true,
            "description": "The call UUID (the last group may be 10 to 12 hex digits, as in Plivo's own examples)",
            "schema": {
                "type": "string",
                "pattern": "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{10,12}$"
            }
        }],
        "requestBody": {
            "required": true,
            "description": "Read as JSON whatever the Content-Type says (as Plivo's SDKs send it); \
                            an empty body is a missing rating (422)",
            "content": {"application/json": {"schema": body}}
        },
        "responses": {
            "201": plivo_answer("Feedback has been posted"),
            "400": plivo_answer("The body is not a JSON object, or cannot be stored"),
            "401": plivo_answer("Authentication failed"),
            "404": plivo_answer("Please check the Call UUID / Resource cannot be found"),
            "405": plivo_answer("HTTP method not allowed"),
            "413": plivo_answer("Body too large"),
            "415": plivo_answer("Content-Encoding not supported"),
            "422": plivo_answer("Rating, issues or notes invalid (Plivo's messages)"),
            "429": plivo_answer("The tenant holds its share of the write queue; Retry-After"),
            "503": plivo_answer("Unavailable, with Retry-After"),
        }
    })
}

/// `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.
pub fn service_operations() -> Vec<(String, &'static str, Value)> {
    let get = |path: &str, id: &str, summary: &str, responses: Value| {
        (
            path.to_owned(),
            "get",
            json!({"summary": summary, "operationId": id, "tags": ["service"], "responses": responses}),
        )
    };
    let status = |d: &str| {
        answer(
            d,
            vec!["application/json"],
            json!({"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}),
        )
    };
    let text = |d: &str| answer(d, vec!["text/plain"], json!({"type": "string"}));
    vec![
        get(
            "/healthz",
            "get_healthz",
            "Liveness: the process answers",
            json!({"200": status("`{\"status\": \"ok\"}`")}),
        ),
        get(
            "/readyz",
            "get_readyz",
            "Readiness: the primary database answers (the read database is reported, not required)",
            json!({"200": status("`ready`, or `degraded` when only the read database fails: status, database, queue_depth, primary, read_database"), "503": status("The primary database is not answering")}),
        ),
        get(
            "/metrics",
            "get_metrics",
            "Prometheus metrics (on CALLQ_METRICS_LISTEN instead, when that is set)",
            json!({"200": text("Prometheus text format 0.0.4")}),
        ),
        get(
            "/openapi.json",
            "get_openapi_json",
            "This document",
            json!({"200": answer("OpenAPI 3.1 JSON", vec!["application/json"], json!({"type": "object"}))}),
        ),
    ]
}
