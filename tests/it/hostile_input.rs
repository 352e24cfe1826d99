//! Hostile input over real HTTP (issue 10, items 1, 2 and 9): text the
//! database cannot hold, XML shaped to cost quadratic time, oversized stream
//! lists, unusual content codings, broken percent-encoding and HEAD. Each
//! answer is checked for status and the style's own error body, and the store
//! for what was (not) kept. U+0000 is checked on PostgreSQL and SQLite alike.

use std::io::Write;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::wire::{
    GRAPH_SEED_CALL as GRAPH_CALL, GRAPH_V1 as GRAPH_ACTION, PLIVO_CALL, UCWA_AV as AV,
    UCWA_FEEDBACK, graph_error, plivo_error,
};
use crate::support::{Backend, TestServer, TestTenant};

const UCWA_NS: &str = "http://schemas.microsoft.com/rtc/2012/03/ucwa";

fn graph_body(streams: Vec<Value>) -> Value {
    json!({"quality": {
        "callChainId": GRAPH_CALL,
        "participantId": "ea078406-b5d4-4d3c-b85e-90103dcec7f6",
        "mediaLegId": "bd9ee398-4b9d-42c7-8b8d-4e8efad9435f",
        "deviceName": "TestAgent",
        "deviceDescription": "TestDescription",
        "mediaQualityList": streams
    }})
}

fn graph_stream() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.teleconferenceDeviceAudioQuality",
        "channelIndex": 1,
        "mediaDuration": "PT20M",
        "inboundPackets": 5500
    })
}

/// Status and UCWA's JSON error body (`code`, `subcode`, `message`).
async fn ucwa_error(response: reqwest::Response, status: u16, subcode: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["x-ms-ucwaversion"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["subcode"], subcode, "{body}");
    assert!(
        body["code"].is_string() && body["message"].is_string(),
        "{body}"
    );
    body
}

/// U+0000 in JSON strings: free text is stored with U+FFFD in its column and
/// the raw payload verbatim; Graph refuses it by property name; the same on
/// either backend.
async fn nul_in_json_strings(server: &TestServer, acme: &TestTenant) {
    let body = r#"{"rating": 2, "issues": ["ECHO"], "notes": "before\u0000after"}"#;
    let response = server.plivo(acme, PLIVO_CALL, body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored = server.reports_about(&acme.id, PLIVO_CALL).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].notes.as_deref(), Some("before\u{FFFD}after"));
    assert_eq!(stored[0].raw_payload, body);

    let body = r#"{"mediaEndpoint": "a\u0000b", "mediaQualityOfExperience": "\u0000"}"#;
    let response = server
        .ucwa(UCWA_FEEDBACK, &acme.ucwa_token, "application/json", body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let stored = server.reports_about(&acme.id, "192/137").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].media_endpoint.as_deref(), Some("a\u{FFFD}b"));
    assert_eq!(
        stored[0].media_quality_of_experience.as_deref(),
        Some("\u{FFFD}")
    );
    assert_eq!(stored[0].raw_payload, body);

    // An enum property holding U+0000 is simply not a member.
    let body = r#"{"errorCode": "BadRequest\u0000"}"#;
    let response = server
        .ucwa(
            &format!("{AV}/reportMediaDiagnostics"),
            &acme.ucwa_token,
            "application/json",
            body,
        )
        .send()
        .await
        .unwrap();
    let e = ucwa_error(response, 400, "ParameterValidationFailure").await;
    assert!(e["parameters"]["errorCode"].is_string(), "{e}");
    // The XML form of that error, which echoes the value, stays well-formed.
    let response = server
        .ucwa(
            &format!("{AV}/reportMediaDiagnostics"),
            &acme.ucwa_token,
            "application/json",
            body,
        )
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let xml = response.text().await.unwrap();
    assert!(
        xml.contains("<subcode>ParameterValidationFailure</subcode>"),
        "{xml}"
    );
    assert!(
        !xml.contains('\0') && xml.contains("BadRequest\u{FFFD}"),
        "{xml:?}"
    );

    let mut body = graph_body(vec![graph_stream()]);
    body["quality"]["deviceName"] = json!("Test\u{0}Agent");
    let response = server
        .graph(GRAPH_ACTION, &acme.graph_token, body.to_string())
        .send()
        .await
        .unwrap();
    let message = graph_error(response, 400, "BadRequest").await;
    assert!(message.contains("'quality.deviceName'"), "{message}");
    assert_eq!(server.count(&acme.id).await, 2);
}

#[tokio::test]
async fn nul_in_json_strings_is_stored_replaced_or_refused_by_name_on_postgres() {
    let (server, acme, _) = TestServer::postgres().await;
    nul_in_json_strings(&server, &acme).await;
}

#[tokio::test]
async fn nul_in_json_strings_is_stored_replaced_or_refused_by_name_on_sqlite() {
    let acme = TestTenant::new("acme");
    let server = TestServer::on(Backend::Sqlite, std::slice::from_ref(&acme), |_| {}).await;
    nul_in_json_strings(&server, &acme).await;
}

/// Raw NUL bytes and `%00` ids: the style's 400 (or Plivo's 404 for a call
/// UUID), nothing stored.
async fn raw_nul_and_percent_zero(server: &TestServer, acme: &TestTenant) {
    let xml = format!(
        "<input xmlns=\"{UCWA_NS}\"><property name=\"mediaEndpoint\">a\0b</property></input>"
    );
    let response = server
        .ucwa(UCWA_FEEDBACK, &acme.ucwa_token, "application/xml", xml)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let e = ucwa_error(response, 400, "DeserializationFailure").await;
    assert!(
        e["message"].as_str().unwrap().contains("not well-formed"),
        "{e}"
    );

    let response = server
        .ucwa(
            UCWA_FEEDBACK,
            &acme.ucwa_token,
            "application/json",
            "{\"mediaEndpoint\": \"a\0b\"}",
        )
        .send()
        .await
        .unwrap();
    ucwa_error(response, 400, "DeserializationFailure").await;

    for (path, parameter) in [
        (
            "/ucwa/v1/applications/19%002/communication/conversations/137/audioVideo/audioVideoSession/publishCallQualityFeedback",
            "applicationId",
        ),
        (
            "/ucwa/v1/applications/192/communication/conversations/%00/audioVideo/reportMediaDiagnostics",
            "conversationId",
        ),
    ] {
        let response = server
            .ucwa(path, &acme.ucwa_token, "application/json", "{}")
            .send()
            .await
            .unwrap();
        let e = ucwa_error(response, 400, "ParameterValidationFailure").await;
        assert!(e["parameters"][parameter].is_string(), "{e}");
    }
    let response = server
        .client
        .get(server.url(
            "/ucwa/v1/applications/1%00/communication/conversations/2/audioVideo/audioVideoSession",
        ))
        .header("authorization", format!("Bearer {}", acme.ucwa_token))
        .send()
        .await
        .unwrap();
    ucwa_error(response, 400, "ParameterValidationFailure").await;

    let response = server
        .plivo(acme, PLIVO_CALL, "{\"rating\": 5, \"notes\": \"a\0b\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        plivo_error(response, 400).await,
        "Request body has to be a JSON object"
    );
    let response = server
        .client
        .post(server.url("/v1/Call/b38149eb-b8fe-45d5-85b2-78ee4424788%00/Feedback/"))
        .basic_auth(&acme.plivo_auth_id, Some(&acme.plivo_auth_token))
        .header("content-type", "application/json")
        .body(r#"{"rating": 5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        plivo_error(response, 404).await,
        "Please check the Call UUID"
    );

    let response = server
        .graph(
            GRAPH_ACTION,
            &acme.graph_token,
            format!("{{\"quality\": \0{}}}", graph_body(vec![])["quality"]),
        )
        .send()
        .await
        .unwrap();
    graph_error(response, 400, "BadRequest").await;
    assert_eq!(server.count(&acme.id).await, 0);
}

#[tokio::test]
async fn raw_nul_bytes_and_percent_zero_ids_are_the_styles_4xx_on_postgres() {
    let (server, acme, _) = TestServer::postgres().await;
    raw_nul_and_percent_zero(&server, &acme).await;
}

#[tokio::test]
async fn raw_nul_bytes_and_percent_zero_ids_are_the_styles_4xx_on_sqlite() {
    let acme = TestTenant::new("acme");
    let server = TestServer::on(Backend::Sqlite, std::slice::from_ref(&acme), |_| {}).await;
    raw_nul_and_percent_zero(&server, &acme).await;
}

#[tokio::test]
async fn the_read_api_answers_400_for_nul_or_broken_encoding_in_any_parameter() {
    let (server, acme, _) = TestServer::postgres().await;
    for (path, parameter) in [
        ("/api/v1/calls/a%00b", "call_id"),
        ("/api/v1/calls/192/%00", "call_id"),
        ("/api/v1/calls/%FF", "call_id"),
        ("/api/v1/reports?call_id=a%00b", "call_id"),
        ("/api/v1/reports?call_id=a%00b&format=csv", "call_id"),
        ("/api/v1/reports?issue=ECHO%00", "issue"),
        ("/api/v1/reports?protocol=plivo%00", "protocol"),
        ("/api/v1/reports?since=2026-01-01%00", "since"),
        ("/api/v1/reports?cursor=%00", "cursor"),
        ("/api/v1/reports?limit=1%00", "limit"),
        ("/api/v1/reports/%00", "id"),
        ("/api/v1/reports/%FF", "id"),
        ("/api/v1/stats?group_by=issue%00", "group_by"),
        ("/api/v1/stats?kind=%00", "kind"),
    ] {
        let response = server.ops_get(&acme.ops_token, path).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_parameter", "{path}: {body}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
    }
    // The database still answers: nothing above was an outage.
    let response = server
        .ops_get(&acme.ops_token, "/api/v1/reports?call_id=a")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// `<input>` with one `<property>` carrying `n` distinct attributes (~7 bytes each).
fn many_attributes(n: usize) -> String {
    let mut body = format!("<input xmlns=\"{UCWA_NS}\"><property name=\"mediaEndpoint\"");
    for i in 0..n {
        body.push_str(&format!(" a{i}=\"\""));
    }
    body.push_str(">x</property></input>");
    body
}

/// `<input>` declaring `n` namespaces on one element.
fn many_namespaces(n: usize) -> String {
    let mut body = format!("<input xmlns=\"{UCWA_NS}\"><x");
    for i in 0..n {
        body.push_str(&format!(" xmlns:p{i}=\"u\""));
    }
    body.push_str("/></input>");
    body
}

/// UCWA feedback whose `mediaQualityOfExperience` is an MS-QoE document with
/// `n` attributes on its root, XML-escaped into the `<property>`.
fn hostile_qoe(n: usize) -> String {
    let mut qoe = String::from("<VQReportEvent xmlns=\"ms-rtcp-metrics\"");
    for i in 0..n {
        qoe.push_str(&format!(" a{i}=\"\""));
    }
    qoe.push_str("/>");
    json!({ "mediaQualityOfExperience": qoe }).to_string()
}

#[tokio::test]
async fn hostile_xml_is_refused_quickly_while_healthz_keeps_answering() {
    let (server, acme, _) = TestServer::postgres().await;
    let attributes = many_attributes(40_000);
    let namespaces = many_namespaces(30_000);
    assert!(attributes.len() > 280_000, "{}", attributes.len());
    let bodies = [
        attributes.clone(),
        namespaces.clone(),
        attributes,
        namespaces,
    ];
    let started = Instant::now();
    let hostile: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let request = server
                .ucwa(UCWA_FEEDBACK, &acme.ucwa_token, "application/xml", body)
                .header("accept", "application/json");
            tokio::spawn(async move { request.send().await.unwrap() })
        })
        .collect();
    // /healthz while the hostile bodies are in flight.
    let mut slowest = Duration::ZERO;
    let mut asked_times = 0;
    while asked_times < 5 || (asked_times < 200 && !hostile.iter().all(|t| t.is_finished())) {
        asked_times += 1;
        let asked = Instant::now();
        let response = server
            .client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        slowest = slowest.max(asked.elapsed());
    }
    for task in hostile {
        let response = task.await.unwrap();
        let e = ucwa_error(response, 400, "DeserializationFailure").await;
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("attributes") || message.contains("namespaces"),
            "{message}"
        );
    }
    let all = started.elapsed();
    assert!(
        slowest < Duration::from_millis(500),
        "/healthz took {slowest:?}"
    );
    // Generous: refusing four bodies of this size takes milliseconds, against
    // seconds each when quick-xml checked 40,000 attributes pairwise.
    assert!(
        all < Duration::from_secs(3),
        "the hostile bodies took {all:?}"
    );

    // The MS-QoE document inside a feedback is opaque to UCWA: the feedback is
    // stored, the hostile document simply yields no streams.
    let response = server
        .ucwa(
            UCWA_FEEDBACK,
            &acme.ucwa_token,
            "application/json",
            hostile_qoe(40_000),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let stored = server.reports_about(&acme.id, "192/137").await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].streams.is_empty());
}

#[tokio::test]
async fn graph_media_quality_lists_past_the_cap_are_refused_and_int64_strings_accepted() {
    let (server, acme, _) = TestServer::postgres().await;
    let response = server
        .graph(
            GRAPH_ACTION,
            &acme.graph_token,
            graph_body(vec![graph_stream(); 65]).to_string(),
        )
        .send()
        .await
        .unwrap();
    let message = graph_error(response, 400, "BadRequest").await;
    assert!(
        message.contains("'quality.mediaQualityList'") && message.contains("at most 64"),
        "{message}"
    );
    assert_eq!(server.count(&acme.id).await, 0);

    // OData IEEE754Compatible=true clients send Int64 values as strings.
    let mut stream = graph_stream();
    stream["inboundPackets"] = json!("9007199254740993");
    stream["outboundPackets"] = json!("5400");
    stream["networkLinkSpeedInBytes"] = json!("13000");
    let response = server
        .graph(
            GRAPH_ACTION,
            &acme.graph_token,
            graph_body(vec![stream; 64]).to_string(),
        )
        .header(
            "content-type",
            "application/json;odata.metadata=minimal;IEEE754Compatible=true",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let stored = server.reports_about(&acme.id, GRAPH_CALL).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].streams.len(), 64);
    assert_eq!(
        stored[0].streams[0].inbound_packets,
        Some(9_007_199_254_740_993)
    );
    assert_eq!(stored[0].streams[63].outbound_packets, Some(5400));
    assert_eq!(stored[0].streams[0].network_link_speed_bytes, Some(13000));

    let mut stream = graph_stream();
    stream["inboundPackets"] = json!("12 packets");
    let response = server
        .graph(
            GRAPH_ACTION,
            &acme.graph_token,
            graph_body(vec![stream]).to_string(),
        )
        .send()
        .await
        .unwrap();
    let message = graph_error(response, 400, "BadRequest").await;
    assert!(
        message.contains("'quality.mediaQualityList[0].inboundPackets'"),
        "{message}"
    );
    assert_eq!(server.count(&acme.id).await, 1);
}

#[tokio::test]
async fn graph_answers_broken_percent_encoding_in_its_own_error_body() {
    let (server, acme, _) = TestServer::postgres().await;
    for path in ["/v1.0/communications/%FF", "/beta/%C3%28/calls"] {
        let response = server
            .graph(path, &acme.graph_token, "{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        let message = graph_error(response, 400, "BadRequest").await;
        assert!(message.contains("percent-encoded"), "{message}");
    }
}

#[tokio::test]
async fn head_on_the_session_is_ucwas_405_allowing_get() {
    let (server, acme, _) = TestServer::postgres().await;
    let response = server
        .client
        .request(Method::HEAD, server.url(&format!("{AV}/audioVideoSession")))
        .header("authorization", format!("Bearer {}", acme.ucwa_token))
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET");
    assert_eq!(response.headers()["x-ms-ucwaversion"], "1");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    // GET itself still works.
    let response = server
        .client
        .get(server.url(&format!("{AV}/audioVideoSession")))
        .header("authorization", format!("Bearer {}", acme.ucwa_token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn br(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).unwrap();
    }
    out
}

#[tokio::test]
async fn content_codings_are_decoded_in_any_case_or_refused_in_the_styles_format() {
    let (server, acme, _) = TestServer::postgres().await;
    let feedback = br#"{"rating": 5, "notes": "compressed"}"#;
    // Each body differs (an identical keyless request would be a retry,
    // stored once: docs/write-path.md).
    let mut sent = Vec::new();
    type Encode = fn(&[u8]) -> Vec<u8>;
    let codings: [(&str, Encode); 9] = [
        ("gzip", gzip),
        ("GZIP", gzip),
        (" Gzip ", gzip),
        ("deflate", deflate),
        ("Deflate", deflate),
        ("br", br),
        ("BR", br),
        ("identity", <[u8]>::to_vec),
        ("", <[u8]>::to_vec),
    ];
    for (n, (coding, encode)) in codings.into_iter().enumerate() {
        let plain = format!(r#"{{"rating": 5, "notes": "compressed {n}"}}"#);
        let response = server
            .plivo(&acme, PLIVO_CALL, encode(plain.as_bytes()))
            .header("content-encoding", coding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{coding:?}");
        sent.push(plain);
    }
    let reports = server.reports_about(&acme.id, PLIVO_CALL).await;
    let mut stored: Vec<&str> = reports.iter().map(|r| r.raw_payload.as_str()).collect();
    stored.sort_unstable();
    sent.sort_unstable();
    assert_eq!(stored, sent, "each stored once, decoded to the bytes sent");

    for coding in ["compress", "zstd", "gzip, br", "x-gzip"] {
        let response = server
            .plivo(&acme, PLIVO_CALL, gzip(feedback))
            .header("content-encoding", coding)
            .send()
            .await
            .unwrap();
        let error = plivo_error(response, 415).await;
        assert!(error.contains("Content-Encoding"), "{error}");

        let response = server
            .ucwa(
                UCWA_FEEDBACK,
                &acme.ucwa_token,
                "application/json",
                gzip(b"{}"),
            )
            .header("content-encoding", coding)
            .send()
            .await
            .unwrap();
        let e = ucwa_error(response, 415, "UnsupportedMediaType").await;
        assert_eq!(e["code"], "UnsupportedMediaType");

        let response = server
            .graph(
                GRAPH_ACTION,
                &acme.graph_token,
                gzip(graph_body(vec![]).to_string().as_bytes()),
            )
            .header("content-encoding", coding)
            .send()
            .await
            .unwrap();
        let message = graph_error(response, 415, "RequestBodyRead").await;
        assert!(message.contains("content encoding"), "{message}");
    }
    // Two header lines are two codings, refused like a list in one line.
    let response = server
        .plivo(&acme, PLIVO_CALL, gzip(feedback))
        .header("content-encoding", "gzip")
        .header("content-encoding", "br")
        .send()
        .await
        .unwrap();
    plivo_error(response, 415).await;
    // Paths no style owns get the ops API's JSON error.
    let response = server
        .client
        .get(server.url("/api/v1/reports"))
        .bearer_auth(&acme.ops_token)
        .header("content-encoding", "zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_media_type", "{body}");
    // A compressed body still counts against the limit once decompressed.
    let bomb = gzip(&vec![b' '; 4 << 20]);
    let response = server
        .plivo(&acme, PLIVO_CALL, bomb)
        .header("content-encoding", "GZIP")
        .send()
        .await
        .unwrap();
    plivo_error(response, 413).await;
    assert_eq!(server.count(&acme.id).await, sent.len() as i64);
}

#[tokio::test]
async fn large_valid_bodies_decoded_off_thread_are_stored() {
    // Above the off-thread threshold, each style still stores what it must.
    let (server, acme, _) = TestServer::postgres().await;
    let padding = "x".repeat(callq::http::OFF_THREAD_DECODE_BYTES);
    let body = json!({"rating": 5, "vendorPadding": padding}).to_string();
    let response = server
        .plivo(&acme, PLIVO_CALL, body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let xml = format!(
        "<input xmlns=\"{UCWA_NS}\"><property name=\"mediaEndpoint\">{padding}</property></input>"
    );
    let response = server
        .ucwa(UCWA_FEEDBACK, &acme.ucwa_token, "application/xml", xml)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let mut g = graph_body(vec![graph_stream()]);
    g["quality"]["vendorPadding"] = json!(padding);
    let response = server
        .graph(GRAPH_ACTION, &acme.graph_token, g.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.count(&acme.id).await, 3);
    let ucwa = server.reports_about(&acme.id, "192/137").await;
    assert_eq!(ucwa[0].media_endpoint.as_deref(), Some(padding.as_str()));
}
