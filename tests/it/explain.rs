//! `POST /api/v1/explain`: each seed example explained with its provenance
//! rows; each documented refusal explained with the real route's answer
//! (sent to the real route too and compared); nothing stored, claimed or
//! counted by any explain call.

use base64::Engine;
use serde_json::{Value, json};

use crate::support::wire::{
    GRAPH_SEED, GRAPH_SEED_CALL, GRAPH_V1, MS_QOE_SAMPLE, UCWA_DIAGNOSTICS, UCWA_FEEDBACK,
    UCWA_SESSION, plivo_path,
};
use crate::support::{TestServer, TestTenant};

const EXPLAIN: &str = "/api/v1/explain";

/// The answer of `POST /api/v1/explain` with `token`.
async fn explain_with(server: &TestServer, token: &str, request: &Value) -> reqwest::Response {
    server
        .client
        .post(server.url(EXPLAIN))
        .bearer_auth(token)
        .json(request)
        .send()
        .await
        .unwrap()
}

/// The explanation of `request` (which must be answered 200).
async fn explained(server: &TestServer, tenant: &TestTenant, request: &Value) -> Value {
    let response = explain_with(server, &tenant.ops_token, request).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{request}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// An explain request (headers as a JSON object, the body as text).
fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut r = json!({"method": method, "path": path, "headers": headers});
    if let Some(body) = body {
        r["body"] = json!({"text": body});
    }
    r
}

/// The provenance row of `field`.
fn row<'a>(explanation: &'a Value, field: &str) -> &'a Value {
    explanation["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["field"] == field)
        .unwrap_or_else(|| panic!("no row for {field} in {:#}", explanation["provenance"]))
}

/// Asserts the row of `field`: its source, raw value and conversion.
fn assert_row(
    explanation: &Value,
    field: &str,
    kind: &str,
    at: &str,
    raw: Option<&str>,
    conversion: Option<&str>,
) {
    let r = row(explanation, field);
    assert_eq!(r["source"]["kind"], kind, "{field}: {r}");
    assert_eq!(r["source"]["at"], at, "{field}: {r}");
    assert_eq!(r["raw"].as_str(), raw, "{field}: {r}");
    assert_eq!(r["conversion"].as_str(), conversion, "{field}: {r}");
}

fn has_tolerated(explanation: &Value, shape: &str) -> bool {
    explanation["tolerated"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["shape"] == shape)
}

fn ignored_at(explanation: &Value) -> Vec<String> {
    explanation["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["source"]["at"].as_str().unwrap().to_owned())
        .collect()
}

/// Rows in the tables an ingest writes.
async fn stored_rows(server: &TestServer) -> [i64; 3] {
    let callq::store::Store::Postgres(pool) = server.store() else {
        panic!("a PostgreSQL test server");
    };
    let mut counts = [0; 3];
    for (i, table) in ["reports", "media_streams", "ingest_claims"]
        .iter()
        .enumerate()
    {
        counts[i] = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .unwrap();
    }
    counts
}

/// The seed's UCWA feedback JSON (with the `&quot;` artefacts undone).
const UCWA_FEEDBACK_JSON: &str = "{\n  \"mediaEndpoint\" : \"samplevalue\",\n  \"mediaQualityOfExperience\" : \"samplevalue\"\n}";
const UCWA_FEEDBACK_XML: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">\n  <property name=\"mediaEndpoint\">samplevalue</property>\n  <property name=\"mediaQualityOfExperience\">samplevalue</property>\n</input>";
const UCWA_DIAGNOSTICS_JSON: &str =
    "{\n  \"errorCode\" : \"BadRequest\",\n  \"errorSubcode\" : \"InviteesOnly\"\n}";
const UCWA_DIAGNOSTICS_XML: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">\n  <property name=\"errorCode\">TooManyRequests</property>\n  <property name=\"errorSubcode\">MediaNegotiationFailure</property>\n</input>";
/// Seed 003's curl example body.
const PLIVO_SEED: &str =
    r#"{"issues": ["AUDIO_LAG"], "rating": "4", "notes": "Call quality was good"}"#;

#[tokio::test]
async fn every_seed_example_is_explained_with_its_provenance_and_nothing_is_stored() {
    let (server, acme, _) = TestServer::postgres().await;
    let before = stored_rows(&server).await;
    let committed_before = server.state().writer.stats().reports_committed;
    let ucwa = |ct: &'static str| {
        vec![
            ("Authorization", format!("Bearer {}", acme.ucwa_token)),
            ("Host", "fe1.contoso.com".to_owned()),
            ("Content-Type", ct.to_owned()),
            // As the seeds write it: no longer the body's length.
            ("Content-Length", "72".to_owned()),
        ]
    };
    let owned = |h: &[(&str, String)]| -> Vec<(String, String)> {
        h.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    };
    let req = |method: &str, path: &str, h: Vec<(String, String)>, body: Option<&str>| {
        let refs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        request(method, path, &refs, body)
    };

    // Seed 000, JSON: the QoE text is not an MS-QoE document.
    let e = explained(
        &server,
        &acme,
        &req(
            "POST",
            UCWA_FEEDBACK,
            owned(&ucwa("application/json")),
            Some(UCWA_FEEDBACK_JSON),
        ),
    )
    .await;
    assert_eq!(e["style"], "ucwa");
    assert_eq!(e["operation"], "publishCallQualityFeedback");
    assert_eq!(e["would_store"], true);
    assert_eq!(e["response"]["status"], 204);
    assert_eq!(e["report"]["call_id"], "192/137");
    assert_eq!(e["report"]["tenant"], "acme");
    assert_row(
        &e,
        "call_id",
        "path_segment",
        "{applicationId}/{conversationId}",
        Some("192/137"),
        None,
    );
    assert_row(
        &e,
        "media_endpoint",
        "json_pointer",
        "/mediaEndpoint",
        Some("samplevalue"),
        None,
    );
    assert_row(
        &e,
        "content_type",
        "header",
        "content-type",
        Some("application/json"),
        None,
    );
    assert!(ignored_at(&e).contains(&"/".to_owned()), "{e:#}");

    // Seed 000, XML: XML paths.
    let e = explained(
        &server,
        &acme,
        &req(
            "POST",
            UCWA_FEEDBACK,
            owned(&ucwa("application/xml")),
            Some(UCWA_FEEDBACK_XML),
        ),
    )
    .await;
    assert_eq!(e["response"]["status"], 204);
    assert_row(
        &e,
        "media_endpoint",
        "xml_path",
        "/input/property[@name='mediaEndpoint']",
        Some("samplevalue"),
        None,
    );

    // Seed 000 carrying a real MS-QoE report: a stream, with XML paths,
    // the fraction → percent conversion and the endpoint's own MOS.
    let with_qoe = json!({"mediaEndpoint": "samplevalue", "mediaQualityOfExperience": MS_QOE_SAMPLE, "vendorNote": 1}).to_string();
    let e = explained(
        &server,
        &acme,
        &req(
            "POST",
            UCWA_FEEDBACK,
            owned(&ucwa("application/json")),
            Some(&with_qoe),
        ),
    )
    .await;
    assert_eq!(e["streams"].as_array().unwrap().len(), 1, "{e:#}");
    assert_row(
        &e,
        "streams[0].avg_inbound_loss_pct",
        "xml_path",
        "/VQReportEvent/VQSessionReport/MediaLine[1]/InboundStream/Network/PacketLoss/LossRate",
        Some("0.012"),
        Some("LossRate 0.012 → 1.2 %"),
    );
    assert_row(
        &e,
        "streams[0].avg_inbound_jitter_ms",
        "xml_path",
        "/VQReportEvent/VQSessionReport/MediaLine[1]/InboundStream/Network/Jitter/InterArrival",
        Some("4"),
        Some("4 → 4 ms"),
    );
    assert_row(
        &e,
        "streams[0].modality",
        "xml_path",
        "/VQReportEvent/VQSessionReport/MediaLine[1]/@Label",
        Some("main-audio"),
        Some("label \"main-audio\" → audio"),
    );
    let mos = row(&e, "streams[0].mos");
    assert_eq!(mos["raw"], "4.02", "{mos}");
    assert_eq!(e["streams"][0]["mos_model"], "ms-qoe/OverallAvgNetworkMOS");
    let class = row(&e, "streams[0].quality_class");
    assert_eq!(class["source"]["kind"], "computed");
    assert_eq!(class["model"]["version"], "cqd-audio/1");
    assert_eq!(class["model"]["inputs"]["packets"], 15012);
    assert!(ignored_at(&e).contains(&"/vendorNote".to_owned()), "{e:#}");

    // Seed 001, JSON and XML.
    for (ct, body, code, source) in [
        (
            "application/json",
            UCWA_DIAGNOSTICS_JSON,
            "BadRequest",
            "/errorCode",
        ),
        (
            "application/xml",
            UCWA_DIAGNOSTICS_XML,
            "TooManyRequests",
            "/input/property[@name='errorCode']",
        ),
    ] {
        let e = explained(
            &server,
            &acme,
            &req("POST", UCWA_DIAGNOSTICS, owned(&ucwa(ct)), Some(body)),
        )
        .await;
        assert_eq!(e["operation"], "reportMediaDiagnostics");
        assert_eq!(e["response"]["status"], 204);
        assert_eq!(e["report"]["error_code"], code);
        assert_eq!(row(&e, "error_code")["source"]["at"], source);
    }

    // Seed 004: the session resource is read-only, explained as its GET.
    let e = explained(
        &server,
        &acme,
        &req("GET", UCWA_SESSION, owned(&ucwa("application/json")), None),
    )
    .await;
    assert_eq!(e["operation"], "audioVideoSession");
    assert_eq!(e["response"]["status"], 200);
    assert_eq!(e["would_store"], false);
    assert!(e["report"].is_null());

    // Seed 002: JSON pointers, ISO 8601 durations to ms, percent kept.
    let graph = [
        ("Authorization", format!("Bearer {}", acme.graph_token)),
        ("Content-Type", "application/json".to_owned()),
        ("User-Agent", "cvi-bot/1.0".to_owned()),
    ];
    let e = explained(
        &server,
        &acme,
        &req("POST", GRAPH_V1, owned(&graph), Some(GRAPH_SEED)),
    )
    .await;
    assert_eq!(e["style"], "graph");
    assert_eq!(e["operation"], "logTeleconferenceDeviceQuality");
    assert_eq!(e["response"]["status"], 200);
    assert_eq!(e["report"]["call_id"], GRAPH_SEED_CALL);
    assert_eq!(e["streams"].as_array().unwrap().len(), 3);
    assert_row(
        &e,
        "streams[1].avg_outbound_jitter_ms",
        "json_pointer",
        "/quality/mediaQualityList/1/averageOutboundJitter",
        Some("\"PT0.015S\""),
        Some("\"PT0.015S\" → 15 ms"),
    );
    assert_row(
        &e,
        "streams[0].modality",
        "json_pointer",
        "/quality/mediaQualityList/0/@odata.type",
        Some("\"#microsoft.graph.teleconferenceDeviceAudioQuality\""),
        Some("\"#microsoft.graph.teleconferenceDeviceAudioQuality\" → audio"),
    );
    assert_row(
        &e,
        "streams[0].avg_inbound_loss_pct",
        "json_pointer",
        "/quality/mediaQualityList/0/averageInboundPacketLossRateInPercentage",
        Some("0.01"),
        Some("0.01 → 0.01 % (Graph sends percent)"),
    );
    assert_row(
        &e,
        "device_name",
        "json_pointer",
        "/quality/deviceName",
        Some("\"TestAgent\""),
        None,
    );
    // The audio stream's MOS is computed: model, version, inputs.
    let mos = row(&e, "streams[0].mos");
    assert_eq!(mos["source"]["kind"], "computed");
    assert_eq!(mos["model"]["version"], "g107-simplified/1");
    assert_eq!(mos["model"]["inputs"]["avg_inbound_rtt_ms"], 30.0);
    assert_eq!(mos["model"]["inputs"]["avg_inbound_jitter_ms"], 10.0);
    assert_eq!(mos["model"]["inputs"]["avg_inbound_loss_pct"], 0.01);
    assert!(e["streams"][0]["mos"].as_f64().unwrap() > 4.0);
    row(&e, "streams[0].r_factor");

    // Seed 003 (curl): the string rating, Basic credentials.
    let plivo = [
        ("Authorization", acme.plivo_authorization()),
        ("Content-Type", "application/json".to_owned()),
    ];
    let path = plivo_path("B38149EB-B8FE-45D5-85B2-78EE4424788F");
    let e = explained(
        &server,
        &acme,
        &req("POST", &path, owned(&plivo), Some(PLIVO_SEED)),
    )
    .await;
    assert_eq!(e["style"], "plivo");
    assert_eq!(e["operation"], "feedback");
    assert_eq!(e["response"]["status"], 201);
    let body: Value =
        serde_json::from_str(e["response"]["body"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(body["message"], "Feedback has been posted");
    assert_eq!(body["api_id"], e["report"]["id"], "the id it would have");
    assert_row(
        &e,
        "rating",
        "json_pointer",
        "/rating",
        Some("\"4\""),
        Some("\"4\" → 4.0"),
    );
    assert_row(
        &e,
        "call_id",
        "path_segment",
        "{call_uuid}",
        Some("B38149EB-B8FE-45D5-85B2-78EE4424788F"),
        Some(
            "B38149EB-B8FE-45D5-85B2-78EE4424788F → b38149eb-b8fe-45d5-85b2-78ee4424788f (lower case)",
        ),
    );
    assert_row(
        &e,
        "issues[0]",
        "json_pointer",
        "/issues/0",
        Some("\"AUDIO_LAG\""),
        None,
    );
    assert_row(
        &e,
        "notes",
        "json_pointer",
        "/notes",
        Some("\"Call quality was good\""),
        None,
    );
    assert!(has_tolerated(&e, "rating-as-string"), "{e:#}");

    assert_eq!(stored_rows(&server).await, before, "explain stores nothing");
    assert_eq!(
        server.state().writer.stats().reports_committed,
        committed_before,
        "nothing reached the writer"
    );
}

#[tokio::test]
async fn tolerated_client_shapes_and_spelling_fixes_are_named() {
    let (server, acme, _) = TestServer::postgres().await;
    // Microsoft's Python Graph SDK: timedelta durations, an untyped
    // screen-sharing item, an Int64 as a string, an unknown property.
    let body = json!({"quality": {
        "callChainId": "0622673D-9F69-49B3-9D4F-5EC64F42ECCE",
        "participantId": "ea078406-b5d4-4d3c-b85e-90103dcec7f6",
        "mediaLegId": "bd9ee398-4b9d-42c7-8b8d-4e8efad9435f",
        "deviceName": "a", "deviceDescription": "b",
        "vendorExtension": {"x": 1},
        "mediaQualityList": [
            {"@odata.type": "#microsoft.graph.teleconferenceDeviceAudioQuality",
             "channelIndex": 1, "averageInboundRoundTripDelay": "0:00:00.030000",
             "inboundPackets": "5500", "averageInboundBitRate": 64000.0},
            {"channelIndex": 2, "averageInboundBitRate": 1500000.0}
        ]
    }})
    .to_string();
    let e = explained(
        &server,
        &acme,
        &request(
            "POST",
            GRAPH_V1,
            &[
                ("Authorization", &format!("Bearer {}", acme.graph_token)),
                ("Content-Type", "application/json"),
                ("User-Agent", "python-httpx/0.28.1 kiota-python/1.16.0"),
            ],
            Some(&body),
        ),
    )
    .await;
    assert_eq!(e["response"]["status"], 200, "{e:#}");
    assert_row(
        &e,
        "streams[0].avg_inbound_rtt_ms",
        "json_pointer",
        "/quality/mediaQualityList/0/averageInboundRoundTripDelay",
        Some("\"0:00:00.030000\""),
        Some("\"0:00:00.030000\" (Python SDK timedelta) → 30 ms"),
    );
    assert_row(
        &e,
        "streams[0].inbound_packets",
        "json_pointer",
        "/quality/mediaQualityList/0/inboundPackets",
        Some("\"5500\""),
        Some("\"5500\" (Int64 as a string, OData IEEE754Compatible) → 5500"),
    );
    assert_eq!(e["report"]["call_id"], GRAPH_SEED_CALL);
    assert_eq!(
        row(&e, "call_id")["conversion"],
        format!(
            "\"0622673D-9F69-49B3-9D4F-5EC64F42ECCE\" → \"{GRAPH_SEED_CALL}\" (canonical lower-case GUID)"
        )
    );
    assert_eq!(e["streams"][1]["modality"], "screen_sharing");
    assert!(has_tolerated(&e, "untyped-screen-sharing-item"), "{e:#}");
    assert!(has_tolerated(&e, "python-timedelta-duration"), "{e:#}");
    let ignored = ignored_at(&e);
    assert!(
        ignored.contains(&"/quality/vendorExtension".to_owned()),
        "{ignored:?}"
    );
    assert!(
        ignored.contains(&"/quality/mediaQualityList/0/averageInboundBitRate".to_owned()),
        "a video rate on audio: {ignored:?}"
    );

    // Plivo: misspelt issue names are mapped, repeats dropped, SDK extras ignored.
    let e = explained(
        &server,
        &acme,
        &request(
            "POST",
            &plivo_path(crate::support::wire::PLIVO_CALL),
            &[
                ("Authorization", &acme.plivo_authorization()),
                ("Content-Type", "application/json"),
            ],
            Some(r#"{"rating": 3, "issues": ["CALLERID_ISSUES", "callerid_issue", "ECHO"], "call_uuid": "x"}"#),
        ),
    )
    .await;
    assert_row(
        &e,
        "issues[0]",
        "json_pointer",
        "/issues/0",
        Some("\"CALLERID_ISSUES\""),
        Some("CALLERID_ISSUES → CALLERID_ISSUE"),
    );
    assert_row(
        &e,
        "issues[1]",
        "json_pointer",
        "/issues/2",
        Some("\"ECHO\""),
        None,
    );
    assert_row(&e, "rating", "json_pointer", "/rating", Some("3"), None);
    let ignored = ignored_at(&e);
    assert!(ignored.contains(&"/issues/1".to_owned()), "{ignored:?}");
    assert!(ignored.contains(&"/call_uuid".to_owned()), "{ignored:?}");
    assert_eq!(e["report"]["issues"], json!(["CALLERID_ISSUE", "ECHO"]));
}

/// The real route's answer to `request`: status, headers, body.
async fn real(server: &TestServer, request: &Value) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let method =
        reqwest::Method::from_bytes(request["method"].as_str().unwrap().as_bytes()).unwrap();
    let mut builder = server
        .client
        .request(method, server.url(request["path"].as_str().unwrap()));
    for (name, value) in request["headers"].as_object().unwrap() {
        builder = builder.header(name.as_str(), value.as_str().unwrap());
    }
    let body = match &request["body"] {
        Value::Null => Vec::new(),
        b if b["text"].is_string() => b["text"].as_str().unwrap().as_bytes().to_vec(),
        b => base64::engine::general_purpose::STANDARD
            .decode(b["base64"].as_str().unwrap())
            .unwrap(),
    };
    let response = builder.body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// `body` with the parts that differ between any two answers (Plivo's fresh
/// `api_id` on errors, the second in Graph's `innerError.date`) masked.
fn masked(body: &[u8]) -> Vec<u8> {
    let Ok(mut json) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    if json.get("api_id").is_some() {
        json["api_id"] = json!("*");
    }
    if json.pointer("/error/innerError/date").is_some() {
        json["error"]["innerError"]["date"] = json!("*");
    }
    serde_json::to_vec(&json).unwrap()
}

#[tokio::test]
async fn every_refusal_is_explained_with_the_real_routes_answer() {
    let (server, acme, _) = TestServer::postgres().await;
    let before = stored_rows(&server).await;
    let ucwa_auth = format!("Bearer {}", acme.ucwa_token);
    let graph_auth = format!("Bearer {}", acme.graph_token);
    let graph_no_role = format!("Bearer {}", acme.graph_token_no_role);
    let ucwa_no_scope = format!("Bearer {}", acme.ucwa_token_no_scopes);
    let plivo_auth = acme.plivo_authorization();
    let plivo_path = plivo_path(crate::support::wire::PLIVO_CALL);
    let long_key = "k".repeat(300);
    let bad_seed = GRAPH_SEED.replace("\"PT0.01S\"", "\"-PT1S\"");
    let gzip_seed = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(br#"{"rating": 9}"#).unwrap();
        base64::engine::general_purpose::STANDARD.encode(encoder.finish().unwrap())
    };
    let u =
        |extra: &[(&'static str, &str)], ct: &str, body: Option<&str>, path: &str, method: &str| {
            let mut h = vec![
                ("Host", "fe1.contoso.com"),
                ("X-Request-Id", "explain-test-1"),
            ];
            if !ct.is_empty() {
                h.push(("Content-Type", ct));
            }
            h.extend_from_slice(extra);
            request(method, path, &h, body)
        };
    let g = |extra: &[(&'static str, &str)], body: Option<&str>, path: &str, method: &str| {
        let mut h = vec![
            ("X-Request-Id", "explain-test-2"),
            ("client-request-id", "5e0e8e7c-0000-4000-8000-000000000001"),
        ];
        h.extend_from_slice(extra);
        request(method, path, &h, body)
    };
    let p = |extra: &[(&'static str, &str)], body: Option<&str>, path: &str| {
        let mut h = vec![("Content-Type", "application/json")];
        h.extend_from_slice(extra);
        request("POST", path, &h, body)
    };
    let mut cases = vec![
        // UCWA: 401, 403, 404 revision, 400 ids, 415, 400 syntax, 400 values, DTD, 405, 404.
        u(&[], "application/json", Some("{}"), UCWA_FEEDBACK, "POST"),
        u(
            &[("Authorization", &ucwa_no_scope)],
            "application/json",
            Some("{}"),
            UCWA_FEEDBACK,
            "POST",
        ),
        u(
            &[
                ("Authorization", &ucwa_auth),
                ("X-MS-RequiresMinResourceVersion", "2"),
            ],
            "application/json",
            Some("{}"),
            UCWA_FEEDBACK,
            "POST",
        ),
        u(
            &[("Authorization", &ucwa_auth)],
            "text/plain",
            Some("{}"),
            UCWA_FEEDBACK,
            "POST",
        ),
        u(
            &[("Authorization", &ucwa_auth)],
            "application/json",
            Some("{"),
            UCWA_FEEDBACK,
            "POST",
        ),
        u(
            &[("Authorization", &ucwa_auth)],
            "application/json",
            Some(r#"{"errorCode": "Nope"}"#),
            UCWA_DIAGNOSTICS,
            "POST",
        ),
        u(
            &[("Authorization", &ucwa_auth)],
            "application/json",
            Some(r#"{"mediaEndpoint": 5}"#),
            UCWA_FEEDBACK,
            "POST",
        ),
        u(
            &[("Authorization", &ucwa_auth), ("Accept", "application/xml")],
            "application/xml",
            Some(
                "<!DOCTYPE x [<!ENTITY a \"b\">]><input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"/>",
            ),
            UCWA_FEEDBACK,
            "POST",
        ),
        u(
            &[("Authorization", &ucwa_auth)],
            "",
            None,
            UCWA_FEEDBACK,
            "GET",
        ),
        u(
            &[("Authorization", &ucwa_auth)],
            "application/json",
            Some("{}"),
            "/ucwa/v1/nothing",
            "POST",
        ),
        u(
            &[
                ("Authorization", &ucwa_auth),
                ("Content-Encoding", "compress"),
            ],
            "application/json",
            Some("{}"),
            UCWA_FEEDBACK,
            "POST",
        ),
        // Graph: 401, 403, 400 User-Agent, 415, 400 JSON, 400 schema, 405, 404.
        g(
            &[
                ("Content-Type", "application/json"),
                ("User-Agent", "bot/1"),
            ],
            Some(GRAPH_SEED),
            GRAPH_V1,
            "POST",
        ),
        g(
            &[
                ("Authorization", &graph_no_role),
                ("Content-Type", "application/json"),
                ("User-Agent", "bot/1"),
            ],
            Some(GRAPH_SEED),
            GRAPH_V1,
            "POST",
        ),
        g(
            &[
                ("Authorization", &graph_auth),
                ("Content-Type", "application/json"),
            ],
            Some(GRAPH_SEED),
            GRAPH_V1,
            "POST",
        ),
        g(
            &[
                ("Authorization", &graph_auth),
                ("Content-Type", "text/plain"),
                ("User-Agent", "bot/1"),
            ],
            Some(GRAPH_SEED),
            GRAPH_V1,
            "POST",
        ),
        g(
            &[
                ("Authorization", &graph_auth),
                ("Content-Type", "application/json"),
                ("User-Agent", "bot/1"),
            ],
            Some("{nope"),
            GRAPH_V1,
            "POST",
        ),
        g(
            &[
                ("Authorization", &graph_auth),
                ("Content-Type", "application/json"),
                ("User-Agent", "bot/1"),
            ],
            Some(&bad_seed),
            GRAPH_V1,
            "POST",
        ),
        g(
            &[
                ("Authorization", &graph_auth),
                ("Content-Type", "application/json"),
                ("User-Agent", "bot/1"),
            ],
            Some(r#"{"quality": {}}"#),
            "/beta/communications/calls/microsoft.graph.logTeleconferenceDeviceQuality",
            "POST",
        ),
        g(&[("Authorization", &graph_auth)], None, GRAPH_V1, "GET"),
        g(&[("Authorization", &graph_auth)], None, "/v1.0/me", "POST"),
        // Plivo: 401, 404 call UUID, 422 rating, 422 issues, 400 body, 400 key, 405, 404, gzip 422.
        p(&[], Some(PLIVO_SEED), &plivo_path),
        p(
            &[("Authorization", &plivo_auth)],
            Some(PLIVO_SEED),
            "/v1/Call/not-a-uuid/Feedback/",
        ),
        p(&[("Authorization", &plivo_auth)], Some(""), &plivo_path),
        p(
            &[("Authorization", &plivo_auth)],
            Some(r#"{"rating": 2, "issues": ["NOISE"]}"#),
            &plivo_path,
        ),
        p(&[("Authorization", &plivo_auth)], Some("[1]"), &plivo_path),
        p(
            &[
                ("Authorization", &plivo_auth),
                ("Idempotency-Key", &long_key),
            ],
            Some(PLIVO_SEED),
            &plivo_path,
        ),
        request("GET", &plivo_path, &[("Authorization", &plivo_auth)], None),
        p(
            &[("Authorization", &plivo_auth)],
            Some(PLIVO_SEED),
            "/v1/Account/",
        ),
    ];
    let mut gzip = p(
        &[("Authorization", &plivo_auth), ("Content-Encoding", "gzip")],
        None,
        &plivo_path,
    );
    gzip["body"] = json!({"base64": gzip_seed});
    cases.push(gzip);

    for case in &cases {
        let e = explained(&server, &acme, case).await;
        let (status, headers, body) = real(&server, case).await;
        assert!(status >= 400, "{case}: a refusal, got {status}");
        assert_eq!(e["response"]["status"], status, "{case}: {e:#}");
        assert_eq!(e["would_store"], false, "{case}");
        assert!(
            e["report"].is_null() && e["provenance"] == json!([]),
            "{case}"
        );
        let explained_body = match &e["response"]["body"] {
            b if b["text"].is_string() => b["text"].as_str().unwrap().as_bytes().to_vec(),
            b => base64::engine::general_purpose::STANDARD
                .decode(b["base64"].as_str().unwrap())
                .unwrap(),
        };
        assert_eq!(
            String::from_utf8_lossy(&masked(&explained_body)),
            String::from_utf8_lossy(&masked(&body)),
            "{case}: the body, byte for byte"
        );
        for header in e["response"]["headers"].as_array().unwrap() {
            let name = header["name"].as_str().unwrap();
            let values: Vec<_> = headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect();
            assert!(
                values
                    .iter()
                    .any(|v| v == header["value"].as_str().unwrap()),
                "{case}: header {name}: explained {header}, real {values:?}"
            );
        }
    }
    assert_eq!(stored_rows(&server).await, before);
}

#[tokio::test]
async fn an_explained_request_leaves_no_claim_and_other_tenants_requests_are_refused() {
    let (server, acme, globex) = TestServer::postgres().await;
    let path = plivo_path(&uuid::Uuid::new_v4().to_string());
    let headers = [
        ("Authorization", acme.plivo_authorization()),
        ("Content-Type", "application/json".to_owned()),
        ("Idempotency-Key", "explain-key-1".to_owned()),
    ];
    let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = request("POST", &path, &refs, Some(PLIVO_SEED));
    for _ in 0..3 {
        let e = explained(&server, &acme, &r).await;
        assert_eq!(e["response"]["status"], 201);
        assert_row(
            &e,
            "idempotency_key",
            "header",
            "idempotency-key",
            Some("explain-key-1"),
            None,
        );
    }
    assert_eq!(stored_rows(&server).await, [0, 0, 0]);
    // The real request after them is a first request: no claim was left.
    let explanation = explained(&server, &acme, &r).await;
    let (status, _, body) = real(&server, &r).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    assert_eq!(server.count("acme").await, 1);
    // And it stored what explain said it would, field by field (less what
    // is new per request: the id, the time, the generated request id).
    let id = serde_json::from_slice::<Value>(&body).unwrap()["api_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stored = server
        .ops_json(&acme.ops_token, &format!("/api/v1/reports/{id}"))
        .await;
    let mut predicted = explanation["report"].clone();
    for report in [&mut stored, &mut predicted] {
        let object = report.as_object_mut().unwrap();
        for volatile in ["id", "received_at", "request_id", "streams"] {
            object.remove(volatile);
        }
    }
    assert_eq!(stored, predicted);

    // globex's ops token may not explain acme's traffic.
    let response = explain_with(&server, &globex.ops_token, &r).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "forbidden");
    // Another method: 405 naming POST.
    let response = server
        .client
        .get(server.url(EXPLAIN))
        .bearer_auth(&acme.ops_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    // No or a wrong ops token: the ops API's 401.
    let response = explain_with(&server, "nope-nope-nope-nope", &r).await;
    assert_eq!(response.status(), 401);
    // Unusable explain requests: 400 naming the field.
    for (bad, field) in [
        (json!({"method": "POST", "path": "/api/v1/reports"}), "path"),
        (json!({"method": "P O", "path": "/v1/"}), "method"),
        (
            json!({"method": "POST", "path": "/v1/", "body": {"base64": "!!"}}),
            "body",
        ),
        (json!({"path": "/v1/"}), "body"),
    ] {
        let response = explain_with(&server, &acme.ops_token, &bad).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["parameter"], field, "{bad}: {body}");
    }
    assert_eq!(server.count("acme").await, 1);

    // The OpenAPI document describes the exchange.
    let doc: Value = server.get("/openapi.json").await.json().await.unwrap();
    let post = &doc["paths"][EXPLAIN]["post"];
    assert!(post["responses"]["200"].is_object(), "{post}");
    for schema in [
        "ExplainRequest",
        "Explanation",
        "Provenance",
        "Source",
        "Tolerated",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} in the document"
        );
    }
}

#[tokio::test]
async fn what_explain_predicts_is_what_the_real_route_stores() {
    let (server, acme, _) = TestServer::postgres().await;
    let qoe = json!({"mediaQualityOfExperience": MS_QOE_SAMPLE}).to_string();
    let cases = [
        request(
            "POST",
            GRAPH_V1,
            &[
                ("Authorization", &format!("Bearer {}", acme.graph_token)),
                ("Content-Type", "application/json"),
                ("User-Agent", "cvi-bot/1.0"),
            ],
            Some(GRAPH_SEED),
        ),
        request(
            "POST",
            UCWA_FEEDBACK,
            &[
                ("Authorization", &format!("Bearer {}", acme.ucwa_token)),
                ("Content-Type", "application/json"),
            ],
            Some(&qoe),
        ),
    ];
    for (i, case) in cases.iter().enumerate() {
        let e = explained(&server, &acme, case).await;
        let (status, _, _) = real(&server, case).await;
        assert_eq!(e["response"]["status"], status, "{case}");
        let call = e["report"]["call_id"].as_str().unwrap();
        let stored = server.reports_about("acme", call).await;
        assert_eq!(stored.len(), 1, "case {i}");
        let stored = serde_json::to_value(&stored[0].streams).unwrap();
        assert_eq!(stored, e["streams"], "case {i}: the streams as stored");
    }
}
