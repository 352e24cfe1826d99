//! The promises of `/openapi.json`, checked against the real server: every
//! enumerated query value is accepted and anything else is a 400 naming the
//! parameter, every documented bound holds both ways, an empty value is an
//! absent one, undocumented parameters are refused, the ingest bodies'
//! requirements are the decoders', and every content type the server
//! answers with is documented for that answer (and every header documented
//! for an answer is sent).
//!
//! The document is read from the server, not from the code, so what is
//! checked is what a client (or Schemathesis, `scripts/schemathesis.sh`)
//! sees.

use serde_json::Value;

use crate::support::{TestServer, TestTenant};

/// The read API's operations whose query parameters are checked.
const READ_OPERATIONS: &[&str] = &["/api/v1/reports", "/api/v1/stats"];

const UCWA_PUBLISH: &str = "/ucwa/v1/applications/app1/communication/conversations/conv1/audioVideo/audioVideoSession/publishCallQualityFeedback";
const UCWA_PUBLISH_TEMPLATE: &str = "/ucwa/v1/applications/{applicationId}/communication/conversations/{conversationId}/audioVideo/audioVideoSession/publishCallQualityFeedback";
const GRAPH: &str = "/v1.0/communications/calls/logTeleconferenceDeviceQuality";
const PLIVO_TEMPLATE: &str = "/v1/Call/{call_uuid}/Feedback/";
const PLIVO: &str = "/v1/Call/0b8e3f9a-1c2d-4e5f-8a9b-0c1d2e3f4a01/Feedback/";

async fn document(server: &TestServer) -> Value {
    server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `schema`, with a `$ref` to a component resolved.
fn resolved<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} does not resolve")),
        None => schema,
    }
}

fn query_parameters<'a>(doc: &'a Value, path: &str) -> Vec<&'a Value> {
    let parameters = doc["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{path} documents no parameters"));
    parameters.iter().filter(|p| p["in"] == "query").collect()
}

/// Status and JSON body (or `Null`) of an ops GET of `path?query`; the
/// query is sent as written (the URL parser percent-encodes only what must be).
async fn ops_get(server: &TestServer, t: &TestTenant, path: &str, query: &str) -> (u16, Value) {
    let response = server
        .client
        .get(server.url(&format!("{path}?{query}")))
        .bearer_auth(&t.ops_token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn assert_refused(status: u16, body: &Value, parameter: &str, what: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(body["error"], "invalid_parameter", "{what}: {body}");
    assert_eq!(body["parameter"], parameter, "{what}: {body}");
}

#[tokio::test]
async fn every_enumerated_query_value_is_accepted_and_no_other() {
    let (server, acme, _globex) = TestServer::postgres().await;
    let doc = document(&server).await;
    let mut checked = Vec::new();
    for path in READ_OPERATIONS {
        for parameter in query_parameters(&doc, path) {
            let name = parameter["name"].as_str().unwrap();
            let schema = resolved(&doc, &parameter["schema"]);
            let Some(members) = schema["enum"].as_array() else {
                continue;
            };
            assert!(!members.is_empty(), "{path} {name}");
            for member in members {
                let value = member.as_str().unwrap();
                let (status, body) =
                    ops_get(&server, &acme, path, &format!("{name}={value}")).await;
                assert_eq!(status, 200, "{path}?{name}={value}: {body}");
            }
            let (status, body) =
                ops_get(&server, &acme, path, &format!("{name}=not-a-member")).await;
            assert_refused(status, &body, name, &format!("{path} {name}"));
            checked.push(format!("{path} {name}"));
        }
    }
    // The enumerations the issue names are among them.
    for expected in [
        "/api/v1/reports protocol",
        "/api/v1/reports kind",
        "/api/v1/reports format",
        "/api/v1/stats group_by",
        "/api/v1/stats protocol",
        "/api/v1/stats kind",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} is not an enumeration: {checked:?}"
        );
    }
    // The answer names its grouping with the same member names.
    let (_, stats) = ops_get(&server, &acme, "/api/v1/stats", "group_by=error_subcode").await;
    assert_eq!(stats["group_by"], "error_subcode");
    server.shutdown().await;
}

#[tokio::test]
async fn every_documented_bound_holds_both_ways() {
    let (server, acme, _globex) = TestServer::postgres().await;
    let doc = document(&server).await;
    let mut bounds = 0;
    for path in READ_OPERATIONS {
        for parameter in query_parameters(&doc, path) {
            let name = parameter["name"].as_str().unwrap();
            let schema = resolved(&doc, &parameter["schema"]);
            let integer = schema["type"] == "integer";
            // Outside a bound by a whole step for integers, by half of one otherwise.
            let step = if integer { 1.0 } else { 0.5 };
            let text = |v: f64| {
                if integer {
                    format!("{}", v as i64)
                } else {
                    format!("{v}")
                }
            };
            if let Some(min) = schema["minimum"].as_f64() {
                let (status, body) =
                    ops_get(&server, &acme, path, &format!("{name}={}", text(min))).await;
                assert_eq!(status, 200, "{path} {name} at its minimum: {body}");
                let (status, body) = ops_get(
                    &server,
                    &acme,
                    path,
                    &format!("{name}={}", text(min - step)),
                )
                .await;
                assert_refused(
                    status,
                    &body,
                    name,
                    &format!("{path} {name} below its minimum"),
                );
                bounds += 1;
            }
            if let Some(max) = schema["maximum"].as_f64() {
                let (status, body) =
                    ops_get(&server, &acme, path, &format!("{name}={}", text(max))).await;
                assert_eq!(status, 200, "{path} {name} at its maximum: {body}");
                let (status, body) = ops_get(
                    &server,
                    &acme,
                    path,
                    &format!("{name}={}", text(max + step)),
                )
                .await;
                assert_refused(
                    status,
                    &body,
                    name,
                    &format!("{path} {name} above its maximum"),
                );
                bounds += 1;
            }
            if let Some(max) = schema["maxLength"].as_u64() {
                // Characters, as JSON Schema counts them: two bytes each here.
                let at = "é".repeat(max as usize);
                let (status, body) = ops_get(&server, &acme, path, &format!("{name}={at}")).await;
                assert_eq!(status, 200, "{path} {name} at its maxLength: {body}");
                let over = "é".repeat(max as usize + 1);
                let (status, body) = ops_get(&server, &acme, path, &format!("{name}={over}")).await;
                assert_refused(
                    status,
                    &body,
                    name,
                    &format!("{path} {name} over its maxLength"),
                );
                bounds += 1;
            }
            if schema["pattern"] == "^[^\\u0000]*$" {
                let (status, body) = ops_get(&server, &acme, path, &format!("{name}=a%00b")).await;
                assert_refused(status, &body, name, &format!("{path} {name} with U+0000"));
            }
        }
    }
    // limit's minimum, the two ratings' ranges, three texts' lengths.
    assert!(bounds >= 8, "only {bounds} bounds documented");
    server.shutdown().await;
}

#[tokio::test]
async fn documented_parameters_may_be_empty_and_undocumented_ones_are_refused() {
    let (server, acme, _globex) = TestServer::postgres().await;
    let doc = document(&server).await;
    for path in READ_OPERATIONS {
        let parameters = query_parameters(&doc, path);
        for parameter in &parameters {
            let name = parameter["name"].as_str().unwrap();
            assert_eq!(parameter["allowEmptyValue"], true, "{path} {name}");
            assert_ne!(parameter["required"], true, "{path} {name}");
            let (status, body) = ops_get(&server, &acme, path, &format!("{name}=")).await;
            assert_eq!(status, 200, "{path}?{name}= : {body}");
            let (status, body) = ops_get(&server, &acme, path, &format!("{name}=&{name}=")).await;
            assert_refused(status, &body, name, &format!("{path} {name} twice"));
        }
        let (status, body) = ops_get(&server, &acme, path, "colour=red").await;
        assert_refused(status, &body, "colour", path);
    }
    // The stats operation documents no `limit`, and refuses it.
    assert!(
        query_parameters(&doc, "/api/v1/stats")
            .iter()
            .all(|p| p["name"] != "limit")
    );
    let (status, body) = ops_get(&server, &acme, "/api/v1/stats", "limit=5").await;
    assert_refused(status, &body, "limit", "stats limit");
    server.shutdown().await;
}

fn request_body<'a>(doc: &'a Value, path: &str) -> &'a Value {
    &doc["paths"][path]["post"]["requestBody"]
}

#[tokio::test]
async fn the_ingest_bodies_are_required_as_documented() {
    let (server, acme, _globex) = TestServer::postgres().await;
    let doc = document(&server).await;

    // Graph: a body is required, and in it `quality`.
    let graph = request_body(&doc, GRAPH);
    assert_eq!(graph["required"], true);
    let schema = &graph["content"]["application/json"]["schema"];
    assert_eq!(schema["required"], serde_json::json!(["quality"]));
    // The required User-Agent is stated in words (see openapi_ingest.rs).
    let description = doc["paths"][GRAPH]["post"]["description"].as_str().unwrap();
    assert!(description.contains("User-Agent"), "{description}");
    let no_user_agent = server
        .client
        .post(server.url(GRAPH))
        .bearer_auth(&acme.graph_token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(no_user_agent.status(), 400);
    for body in ["{}", r#"{"quality": null}"#] {
        let response = server
            .client
            .post(server.url(GRAPH))
            .bearer_auth(&acme.graph_token)
            .header("user-agent", "openapi-test/1.0")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("'quality'"),
            "{error}"
        );
    }

    // UCWA: no body is a valid request, and XML in the vendor type is read.
    let ucwa = request_body(&doc, UCWA_PUBLISH_TEMPLATE);
    assert_eq!(ucwa["required"], false);
    let types: Vec<&String> = ucwa["content"].as_object().unwrap().keys().collect();
    for t in [
        "application/json",
        "application/xml",
        "application/vnd.microsoft.com.ucwa+xml",
    ] {
        assert!(types.iter().any(|k| *k == t), "{t} not in {types:?}");
    }
    let xml = &ucwa["content"]["application/vnd.microsoft.com.ucwa+xml"]["schema"]["xml"];
    assert_eq!(xml["name"], "input");
    let empty = server
        .client
        .post(server.url(UCWA_PUBLISH))
        .bearer_auth(&acme.ucwa_token)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 204);
    let xml_body = format!(
        r#"<input xmlns="{}"><property name="mediaEndpoint">ep</property></input>"#,
        xml["namespace"].as_str().unwrap()
    );
    let response = server
        .client
        .post(server.url(UCWA_PUBLISH))
        .bearer_auth(&acme.ucwa_token)
        .header("content-type", "application/vnd.microsoft.com.ucwa+xml")
        .body(xml_body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    // Plivo: `rating` is required; a documented issue name is accepted.
    let plivo = &request_body(&doc, PLIVO_TEMPLATE)["content"]["application/json"]["schema"];
    assert_eq!(plivo["required"], serde_json::json!(["rating"]));
    let issue = plivo["properties"]["issues"]["items"]["enum"][0]
        .as_str()
        .unwrap();
    for (body, status) in [
        ("{}".to_owned(), 422),
        (format!(r#"{{"rating": 3, "issues": ["{issue}"]}}"#), 201),
        (r#"{"rating": 5}"#.to_owned(), 201),
        (r#"{"rating": 3}"#.to_owned(), 422),
    ] {
        let response = server
            .client
            .post(server.url(PLIVO))
            .basic_auth(&acme.plivo_auth_id, Some(&acme.plivo_auth_token))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body}");
    }
    server.shutdown().await;
}

/// The media type of a `Content-Type` value, lower-cased.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[tokio::test]
async fn every_content_type_answered_is_documented_for_that_answer() {
    let (server, acme, _globex) = TestServer::postgres().await;
    let doc = document(&server).await;
    let ucwa_xml = [("accept", "application/xml")];
    let cases: Vec<(&str, &str, reqwest::RequestBuilder)> = vec![
        (
            "/api/v1/reports",
            "get",
            server
                .client
                .get(server.url("/api/v1/reports"))
                .bearer_auth(&acme.ops_token),
        ),
        (
            "/api/v1/reports",
            "get",
            server
                .client
                .get(server.url("/api/v1/reports?format=csv"))
                .bearer_auth(&acme.ops_token),
        ),
        (
            "/api/v1/reports",
            "get",
            server
                .client
                .get(server.url("/api/v1/reports?limit=0"))
                .bearer_auth(&acme.ops_token),
        ),
        (
            "/api/v1/stats",
            "get",
            server.client.get(server.url("/api/v1/stats")),
        ),
        ("/healthz", "get", server.client.get(server.url("/healthz"))),
        ("/readyz", "get", server.client.get(server.url("/readyz"))),
        ("/metrics", "get", server.client.get(server.url("/metrics"))),
        (
            "/openapi.json",
            "get",
            server.client.get(server.url("/openapi.json")),
        ),
        (
            UCWA_PUBLISH_TEMPLATE,
            "post",
            server
                .client
                .post(server.url(UCWA_PUBLISH))
                .header(ucwa_xml[0].0, ucwa_xml[0].1),
        ),
        (
            UCWA_PUBLISH_TEMPLATE,
            "post",
            server
                .client
                .post(server.url(UCWA_PUBLISH))
                .bearer_auth(&acme.ucwa_token)
                .header("content-type", "application/json")
                .body("[1]"),
        ),
        (GRAPH, "post", server.client.post(server.url(GRAPH))),
        (
            PLIVO_TEMPLATE,
            "post",
            server
                .client
                .post(server.url(PLIVO))
                .basic_auth(&acme.plivo_auth_id, Some(&acme.plivo_auth_token))
                .body("{}"),
        ),
    ];
    for (template, method, request) in cases {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16().to_string();
        let answer = &doc["paths"][template][method]["responses"][&status];
        assert!(
            answer.is_object(),
            "{method} {template}: {status} is not documented"
        );
        // Every header the document promises for this answer is sent.
        if let Some(promised) = answer["headers"].as_object() {
            for name in promised.keys() {
                assert!(
                    response.headers().contains_key(name.as_str()),
                    "{method} {template} {status}: no {name} header"
                );
            }
        }
        let received = response
            .headers()
            .get("content-type")
            .map(|v| essence(v.to_str().unwrap()));
        let documented: Vec<String> = answer["content"]
            .as_object()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        match received {
            Some(t) => assert!(
                documented.contains(&t),
                "{method} {template} {status}: {t} not in {documented:?}"
            ),
            None => assert!(
                documented.is_empty(),
                "{method} {template} {status}: no body, documented {documented:?}"
            ),
        }
    }
    server.shutdown().await;
}
