//! Every style's real endpoint feeds the one model the ops API reads: reports
//! ingested as UCWA (JSON and XML), Graph and Plivo are found by call id,
//! listed, summarized and counted, and only by their own tenant.

use serde_json::Value;

use crate::support::wire::{
    GRAPH_BETA, GRAPH_SEED, GRAPH_SEED_CALL as GRAPH_CALL, MS_QOE_SAMPLE, PLIVO_CALL,
    UCWA_DIAGNOSTICS, UCWA_FEEDBACK,
};
use crate::support::{TestServer, TestTenant};

/// One report in each style: Plivo feedback, Graph device quality (beta),
/// UCWA feedback with an MS-QoE document (JSON) and diagnostics (XML).
async fn ingest_one_of_each(server: &TestServer, t: &TestTenant) {
    let r = server
        .plivo(
            t,
            PLIVO_CALL,
            r#"{"issues": ["ECHO", "AUDIO_LAG"], "rating": "3", "notes": "echo on the far end"}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = server
        .graph(GRAPH_BETA, &t.graph_token, GRAPH_SEED)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let feedback = serde_json::json!({"mediaEndpoint": "ws-fin-0142", "mediaQualityOfExperience": MS_QOE_SAMPLE});
    let r = server
        .ucwa(
            UCWA_FEEDBACK,
            &t.ucwa_token,
            "application/json",
            feedback.to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = server
        .ucwa(UCWA_DIAGNOSTICS, &t.ucwa_token, "application/xml", "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">\n  <property name=\"errorCode\">TooManyRequests</property>\n  <property name=\"errorSubcode\">MediaNegotiationFailure</property>\n</input>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

/// Status and JSON body (null when there is none) of an ops GET.
async fn read(server: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let r = server.ops_get(token, path).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn reports_ingested_through_every_style_are_found_listed_summarized_and_counted() {
    let (server, acme, globex) = TestServer::postgres().await;
    ingest_one_of_each(&server, &acme).await;
    let ops = &acme.ops_token;

    // Listing and filters.
    let (status, all) = read(&server, ops, "/api/v1/reports").await;
    assert_eq!(status, 200);
    assert_eq!(all["reports"].as_array().unwrap().len(), 4);
    for (filter, call_id) in [
        ("protocol=plivo", PLIVO_CALL),
        ("protocol=graph", GRAPH_CALL),
        ("kind=diagnostics", "192/137"),
        ("issue=ECHO", PLIVO_CALL),
        ("max_rating=3", PLIVO_CALL),
    ] {
        let (_, page) = read(&server, ops, &format!("/api/v1/reports?{filter}")).await;
        let rows = page["reports"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{filter}: {page}");
        assert_eq!(rows[0]["call_id"], call_id, "{filter}");
    }

    // The Graph call: three streams in common units and an E-model MOS on the audio one.
    let (status, call) = read(&server, ops, &format!("/api/v1/calls/{GRAPH_CALL}")).await;
    assert_eq!(status, 200, "{call}");
    let report = &call["reports"][0];
    assert_eq!(report["device_name"], "TestAgent");
    let streams = report["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 3);
    assert_eq!(streams[0]["avg_inbound_jitter_ms"], 10.0);
    assert_eq!(streams[0]["max_outbound_rtt_ms"], 140.0);
    assert_eq!(streams[0]["media_duration_ms"], 1_200_000.0);
    assert!(streams[0]["mos"].as_f64().unwrap() > 4.0);
    assert!(streams[1]["mos"].is_null(), "no MOS estimate for video");
    let summary = &call["summary"];
    assert_eq!(summary["worst_rtt_ms"], 140.0, "{summary}");
    assert_eq!(summary["worst_loss_pct"], 0.06, "{summary}");

    // The UCWA conversation: feedback with its MS-QoE stream, and the diagnosis.
    let (status, call) = read(&server, ops, "/api/v1/calls/192%2F137").await;
    assert_eq!(status, 200, "{call}");
    assert_eq!(call["reports"].as_array().unwrap().len(), 2);
    let summary = &call["summary"];
    assert_eq!(summary["min_mos"], 4.02, "{summary}");
    assert!(
        summary["errors"].to_string().contains("TooManyRequests"),
        "{summary}"
    );
    assert!(
        summary["errors"]
            .to_string()
            .contains("MediaNegotiationFailure"),
        "{summary}"
    );

    // The Plivo call: rating and issues.
    let (_, call) = read(&server, ops, &format!("/api/v1/calls/{PLIVO_CALL}")).await;
    assert_eq!(call["summary"]["rating"], 3.0);
    assert_eq!(
        call["reports"][0]["raw_payload"],
        r#"{"issues": ["ECHO", "AUDIO_LAG"], "rating": "3", "notes": "echo on the far end"}"#
    );

    // Stats by protocol.
    let (_, stats) = read(&server, ops, "/api/v1/stats?group_by=protocol").await;
    let count = |key: &str| {
        stats["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == key)
            .map(|g| g["reports"].as_i64().unwrap())
    };
    assert_eq!(
        (count("graph"), count("plivo"), count("ucwa")),
        (Some(1), Some(1), Some(2)),
        "{stats}"
    );

    assert_eq!(call["truncated"], false);

    // Another tenant sees none of it.
    let (_, theirs) = read(&server, &globex.ops_token, "/api/v1/reports").await;
    assert_eq!(theirs["reports"].as_array().unwrap().len(), 0);
    let (status, _) = read(
        &server,
        &globex.ops_token,
        &format!("/api/v1/calls/{GRAPH_CALL}"),
    )
    .await;
    assert_eq!(status, 404);
}
