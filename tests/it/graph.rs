//! The Microsoft Graph style: logTeleconferenceDeviceQuality on v1.0 and
//! beta, over real HTTP against a real PostgreSQL.

use callq::model::{Kind, MediaStream, Modality, Protocol, mos};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::wire::{
    GRAPH_BETA as ACTION_BETA, GRAPH_SEED as SEED_EXAMPLE, GRAPH_SEED_CALL as SEED_CALL,
    GRAPH_V1 as ACTION_V1, graph_error,
};
use crate::support::{self, Backend, TestServer, TestTenant, pg};

/// What msgraph-sdk 1.65.0 / msgraph-beta-sdk 1.66.0 (Python) sent for the
/// same example (docs/reference/sdk-wire.md §2): one line, no trailing newline.
const SDK_BODY: &str = r##"{"quality": {"callChainId": "0622673d-9f69-49b3-9d4f-5ec64f42ecce", "deviceDescription": "TestDescription", "deviceName": "TestAgent", "mediaLegId": "bd9ee398-4b9d-42c7-8b8d-4e8efad9435f", "mediaQualityList": [{"averageInboundJitter": "0:00:00.010000", "averageInboundPacketLossRateInPercentage": 0.01, "averageInboundRoundTripDelay": "0:00:00.030000", "averageOutboundJitter": "0:00:00.015000", "averageOutboundPacketLossRateInPercentage": 0.02, "averageOutboundRoundTripDelay": "0:00:00.040000", "channelIndex": 1, "inboundPackets": 5500, "localIPAddress": "127.0.0.1", "localPort": 6300, "maximumInboundJitter": "0:00:00.023000", "maximumInboundPacketLossRateInPercentage": 0.05, "maximumInboundRoundTripDelay": "0:00:00.130000", "maximumOutboundJitter": "0:00:00.024000", "maximumOutboundPacketLossRateInPercentage": 0.06, "maximumOutboundRoundTripDelay": "0:00:00.140000", "mediaDuration": "0:20:00", "networkLinkSpeedInBytes": 13000, "@odata.type": "#microsoft.graph.teleconferenceDeviceAudioQuality", "outboundPackets": 5400, "remoteIPAddress": "102.1.1.101", "remotePort": 6301}, {"averageInboundJitter": "0:00:00.010000", "averageInboundPacketLossRateInPercentage": 0.01, "averageInboundRoundTripDelay": "0:00:00.030000", "averageOutboundJitter": "0:00:00.015000", "averageOutboundPacketLossRateInPercentage": 0.02, "averageOutboundRoundTripDelay": "0:00:00.040000", "channelIndex": 1, "inboundPackets": 5500, "localIPAddress": "127.0.0.1", "localPort": 6300, "maximumInboundJitter": "0:00:00.023000", "maximumInboundPacketLossRateInPercentage": 0.05, "maximumInboundRoundTripDelay": "0:00:00.130000", "maximumOutboundJitter": "0:00:00.024000", "maximumOutboundPacketLossRateInPercentage": 0.06, "maximumOutboundRoundTripDelay": "0:00:00.140000", "mediaDuration": "0:20:00", "networkLinkSpeedInBytes": 13000, "@odata.type": "#microsoft.graph.teleconferenceDeviceVideoQuality", "outboundPackets": 5400, "remoteIPAddress": "102.1.1.101", "remotePort": 6301}, {"averageInboundJitter": "0:00:00.010000", "averageInboundPacketLossRateInPercentage": 0.01, "averageInboundRoundTripDelay": "0:00:00.030000", "averageOutboundJitter": "0:00:00.015000", "averageOutboundPacketLossRateInPercentage": 0.02, "averageOutboundRoundTripDelay": "0:00:00.040000", "channelIndex": 1, "inboundPackets": 5500, "localIPAddress": "127.0.0.1", "localPort": 6300, "maximumInboundJitter": "0:00:00.023000", "maximumInboundPacketLossRateInPercentage": 0.05, "maximumInboundRoundTripDelay": "0:00:00.130000", "maximumOutboundJitter": "0:00:00.024000", "maximumOutboundPacketLossRateInPercentage": 0.06, "maximumOutboundRoundTripDelay": "0:00:00.140000", "mediaDuration": "0:20:00", "networkLinkSpeedInBytes": 13000, "outboundPackets": 5400, "remoteIPAddress": "102.1.1.101", "remotePort": 6301}], "participantId": "ea078406-b5d4-4d3c-b85e-90103dcec7f6"}}"##;

const SEED_SHA256: &str = "d721d176e645bf7142ae51f9f8406130e0c7671b7f79426a44c4178491ee8821";
const SDK_SHA256: &str = "4f9210d6b7337a0776a20b1714e8e61bc71b17a21badd4e1fe98e1c54088b86b";

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[test]
fn the_embedded_bodies_are_the_published_ones_byte_for_byte() {
    assert_eq!(sha256_hex(SEED_EXAMPLE), SEED_SHA256);
    assert_eq!(SDK_BODY.len(), 2834);
    assert_eq!(sha256_hex(SDK_BODY), SDK_SHA256);
}

#[tokio::test]
async fn the_seed_example_is_stored_as_one_report_with_three_streams_on_beta_and_v1() {
    let (server, acme, globex) = TestServer::postgres().await;
    for path in [ACTION_BETA, ACTION_V1] {
        let r = server
            .graph(path, &acme.graph_token, SEED_EXAMPLE)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let request_id = r.headers()["request-id"].to_str().unwrap().to_owned();
        assert_eq!(r.headers()["client-request-id"], request_id.as_str());
        assert!(
            r.bytes().await.unwrap().is_empty(),
            "200 with an empty body"
        );
    }
    assert_eq!(server.count(&acme.id).await, 2);
    assert_eq!(server.count(&globex.id).await, 0);

    let reports = server.reports_about(&acme.id, SEED_CALL).await;
    assert_eq!(reports.len(), 2);
    for report in &reports {
        assert_eq!(report.protocol, Protocol::Graph);
        assert_eq!(report.kind, Kind::DeviceQuality);
        assert_eq!(report.call_id, SEED_CALL);
        assert_eq!(
            report.participant_id.as_deref(),
            Some("ea078406-b5d4-4d3c-b85e-90103dcec7f6")
        );
        assert_eq!(
            report.media_leg_id.as_deref(),
            Some("bd9ee398-4b9d-42c7-8b8d-4e8efad9435f")
        );
        assert_eq!(report.device_name.as_deref(), Some("TestAgent"));
        assert_eq!(
            report.device_description.as_deref(),
            Some("TestDescription")
        );
        assert_eq!(report.cloud_service_name, None);
        assert_eq!(report.raw_payload, SEED_EXAMPLE, "the body is kept exactly");
        assert_eq!(report.content_type.as_deref(), Some("application/json"));
        assert!(
            report
                .user_agent
                .as_deref()
                .unwrap()
                .starts_with("python-httpx/")
        );
        assert!(report.request_id.is_some());

        let modalities: Vec<_> = report.streams.iter().map(|s| s.modality).collect();
        assert_eq!(
            modalities,
            [
                Some(Modality::Audio),
                Some(Modality::Video),
                Some(Modality::ScreenSharing)
            ]
        );
        for (i, s) in report.streams.iter().enumerate() {
            assert_eq!(s.ordinal, i as i32);
            assert_seed_metrics(s);
        }
        assert_estimated_mos_on_audio_only(&report.streams);
    }
}

/// The metric values every item of the seed and SDK bodies carries, in model units.
fn assert_seed_metrics(s: &MediaStream) {
    assert_eq!(s.channel_index, Some(1));
    assert_eq!(s.media_duration_ms, Some(1_200_000.0));
    assert_eq!(s.network_link_speed_bytes, Some(13000));
    assert_eq!(s.local_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(s.local_port, Some(6300));
    assert_eq!(s.remote_ip.as_deref(), Some("102.1.1.101"));
    assert_eq!(s.remote_port, Some(6301));
    assert_eq!(s.inbound_packets, Some(5500));
    assert_eq!(s.outbound_packets, Some(5400));
    assert_eq!(s.avg_inbound_loss_pct, Some(0.01));
    assert_eq!(s.avg_outbound_loss_pct, Some(0.02));
    assert_eq!(s.max_inbound_loss_pct, Some(0.05));
    assert_eq!(s.max_outbound_loss_pct, Some(0.06));
    assert_eq!(s.avg_inbound_rtt_ms, Some(30.0));
    assert_eq!(s.avg_outbound_rtt_ms, Some(40.0));
    assert_eq!(s.max_inbound_rtt_ms, Some(130.0));
    assert_eq!(s.max_outbound_rtt_ms, Some(140.0));
    assert_eq!(s.avg_inbound_jitter_ms, Some(10.0));
    assert_eq!(s.avg_outbound_jitter_ms, Some(15.0));
    assert_eq!(s.max_inbound_jitter_ms, Some(23.0));
    assert_eq!(s.max_outbound_jitter_ms, Some(24.0));
    assert_eq!(s.avg_inbound_bitrate_bps, None);
    assert_eq!(s.avg_inbound_frame_rate, None);
}

fn assert_estimated_mos_on_audio_only(streams: &[MediaStream]) {
    let audio = &streams[0];
    // Inbound: RTT 30 ms, jitter 10 ms, loss 0.01 %.
    let expected = mos::estimate(30.0, 10.0, 0.01);
    assert_eq!(audio.mos, Some(expected.mos));
    assert_eq!(audio.r_factor, Some(expected.r_factor));
    assert_eq!(audio.mos_model.as_deref(), Some(mos::MODEL));
    // d = 15 + 20 + 20 = 55 ms → Id = 1.32; Ie_eff = 95 · 0.01 / 25.11.
    assert!((expected.r_factor - (93.2 - 1.32 - 0.95 / 25.11)).abs() < 1e-9);
    assert!(expected.mos > 4.35 && expected.mos < 4.41, "{expected:?}");
    for other in &streams[1..] {
        assert_eq!(
            (other.mos, other.r_factor, other.mos_model.as_deref()),
            (None, None, None)
        );
    }
}

#[tokio::test]
async fn the_python_sdk_body_is_accepted_on_both_versions() {
    let (server, acme, _) = TestServer::postgres().await;
    for path in [ACTION_V1, ACTION_BETA] {
        // As the SDK sends it: lower-case header names, `accept`, no client-request-id.
        let r = server
            .client
            .post(server.url(path))
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", acme.graph_token))
            .header("user-agent", "python-httpx/0.28.1 kiota-python/1.16.0")
            .body(SDK_BODY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.bytes().await.unwrap().is_empty());
    }
    let reports = server.reports_about(&acme.id, SEED_CALL).await;
    assert_eq!(reports.len(), 2);
    for report in &reports {
        assert_eq!(report.raw_payload, SDK_BODY);
        assert_eq!(report.device_name.as_deref(), Some("TestAgent"));
        let modalities: Vec<_> = report.streams.iter().map(|s| s.modality).collect();
        // The SDK leaves @odata.type off the screen-sharing item and it has
        // no video-only field: nothing says what it is.
        assert_eq!(
            modalities,
            [
                Some(Modality::Audio),
                Some(Modality::Video),
                Some(Modality::Unknown)
            ]
        );
        // "0:00:00.010000" and friends: the same milliseconds as the seed's ISO form.
        report.streams.iter().for_each(assert_seed_metrics);
        assert_estimated_mos_on_audio_only(&report.streams);
    }
}

#[tokio::test]
async fn video_rates_days_and_cloud_service_fields_are_stored() {
    let (server, acme, _) = TestServer::postgres().await;
    let mut body: Value = serde_json::from_str(SEED_EXAMPLE).unwrap();
    let q = &mut body["quality"];
    q["callChainId"] = json!("AAAAAAAA-9F69-49B3-9D4F-5EC64F42ECCE");
    q["cloudServiceName"] = json!("contoso.cloudapp.net");
    q["cloudServiceInstanceName"] = json!("FrontEnd_IN_3");
    q["cloudServiceDeploymentId"] = json!("deployment-7");
    q["cloudServiceDeploymentEnvironment"] = json!("ProdNoam");
    q["vendorExtension"] = json!({"firmware": "9.15"});
    let video = &mut q["mediaQualityList"][1];
    video["averageInboundBitRate"] = json!(1_500_000.5);
    video["averageOutboundBitRate"] = json!(2_000_000);
    video["averageInboundFrameRate"] = json!(29.97);
    video["averageOutboundFrameRate"] = json!(30.0);
    video["mediaDuration"] = json!("P1DT2H");
    q["mediaQualityList"][2]["mediaDuration"] = json!("1 day, 2:00:00");
    let text = body.to_string();
    let r = server
        .graph(ACTION_V1, &acme.graph_token, text.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let call = "aaaaaaaa-9f69-49b3-9d4f-5ec64f42ecce";
    let reports = server.reports_about(&acme.id, call).await;
    assert_eq!(
        reports.len(),
        1,
        "the callChainId is stored in canonical lower case"
    );
    let report = &reports[0];
    assert_eq!(
        report.raw_payload, text,
        "unknown properties stay in the raw payload"
    );
    assert_eq!(
        report.cloud_service_name.as_deref(),
        Some("contoso.cloudapp.net")
    );
    assert_eq!(
        report.cloud_service_instance_name.as_deref(),
        Some("FrontEnd_IN_3")
    );
    assert_eq!(
        report.cloud_service_deployment_id.as_deref(),
        Some("deployment-7")
    );
    assert_eq!(
        report.cloud_service_deployment_environment.as_deref(),
        Some("ProdNoam")
    );
    let video = &report.streams[1];
    assert_eq!(video.avg_inbound_bitrate_bps, Some(1_500_000.5));
    assert_eq!(video.avg_outbound_bitrate_bps, Some(2_000_000.0));
    assert_eq!(video.avg_inbound_frame_rate, Some(29.97));
    assert_eq!(video.avg_outbound_frame_rate, Some(30.0));
    assert_eq!(video.media_duration_ms, Some(93_600_000.0));
    assert_eq!(report.streams[2].media_duration_ms, Some(93_600_000.0));
}

/// The seed example with one change made by `edit`.
fn seed_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut body: Value = serde_json::from_str(SEED_EXAMPLE).unwrap();
    edit(&mut body);
    body.to_string()
}

#[tokio::test]
async fn schema_violations_are_400_naming_the_property_and_nothing_is_stored() {
    let (server, acme, _) = TestServer::postgres().await;
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let item = |i: usize, name: &'static str, value: Value| -> Edit {
        Box::new(move |b| b["quality"]["mediaQualityList"][i][name] = value)
    };
    let remove = |name: &'static str| -> Edit {
        Box::new(move |b| {
            b["quality"].as_object_mut().unwrap().remove(name);
        })
    };
    let cases: Vec<(&str, Edit)> = vec![
        ("quality.callChainId", remove("callChainId")),
        (
            "quality.participantId",
            Box::new(|b| b["quality"]["participantId"] = json!(null)),
        ),
        ("quality.mediaLegId", remove("mediaLegId")),
        ("quality.deviceName", remove("deviceName")),
        ("quality.deviceDescription", remove("deviceDescription")),
        ("quality.mediaQualityList", remove("mediaQualityList")),
        (
            "quality.callChainId",
            Box::new(|b| b["quality"]["callChainId"] = json!("0622673d9f6949b39d4f5ec64f42ecce")),
        ),
        (
            "quality.participantId",
            Box::new(|b| b["quality"]["participantId"] = json!("not-a-guid")),
        ),
        (
            "quality.deviceName",
            Box::new(|b| b["quality"]["deviceName"] = json!(42)),
        ),
        (
            "quality.mediaQualityList",
            Box::new(|b| b["quality"]["mediaQualityList"] = json!("audio")),
        ),
        (
            "quality.@odata.type",
            Box::new(|b| b["quality"]["@odata.type"] = json!("#microsoft.graph.call")),
        ),
        (
            "quality.mediaQualityList[1].@odata.type",
            item(
                1,
                "@odata.type",
                json!("#microsoft.graph.teleconferenceDeviceHologramQuality"),
            ),
        ),
        (
            "quality.mediaQualityList[0].@odata.type",
            item(
                0,
                "@odata.type",
                json!("#microsoft.graph.teleconferenceDeviceMediaQuality"),
            ),
        ),
        (
            "quality.mediaQualityList[2].channelIndex",
            item(2, "channelIndex", json!(null)),
        ),
        (
            "quality.mediaQualityList[0].channelIndex",
            item(0, "channelIndex", json!("1")),
        ),
        (
            "quality.mediaQualityList[0].averageInboundJitter",
            item(0, "averageInboundJitter", json!("10 ms")),
        ),
        (
            "quality.mediaQualityList[1].mediaDuration",
            item(1, "mediaDuration", json!("P1M")),
        ),
        (
            "quality.mediaQualityList[0].maximumOutboundRoundTripDelay",
            item(0, "maximumOutboundRoundTripDelay", json!("-PT0.14S")),
        ),
        (
            "quality.mediaQualityList[0].averageInboundRoundTripDelay",
            item(0, "averageInboundRoundTripDelay", json!(0.03)),
        ),
        (
            "quality.mediaQualityList[0].inboundPackets",
            item(0, "inboundPackets", json!(-1)),
        ),
        (
            "quality.mediaQualityList[2].outboundPackets",
            item(2, "outboundPackets", json!(1.5)),
        ),
        (
            "quality.mediaQualityList[0].networkLinkSpeedInBytes",
            item(0, "networkLinkSpeedInBytes", json!(-13000)),
        ),
        (
            "quality.mediaQualityList[0].averageInboundPacketLossRateInPercentage",
            item(0, "averageInboundPacketLossRateInPercentage", json!(101)),
        ),
        (
            "quality.mediaQualityList[1].maximumOutboundPacketLossRateInPercentage",
            item(1, "maximumOutboundPacketLossRateInPercentage", json!(-0.5)),
        ),
        (
            "quality.mediaQualityList[0].localPort",
            item(0, "localPort", json!(65536)),
        ),
        (
            "quality.mediaQualityList[1].averageInboundBitRate",
            item(1, "averageInboundBitRate", json!("fast")),
        ),
        ("quality", Box::new(|b| b["quality"] = json!([]))),
    ];
    for (path, edit) in cases {
        let body = seed_with(edit);
        let r = server
            .graph(ACTION_V1, &acme.graph_token, body)
            .send()
            .await
            .unwrap();
        let message = graph_error(r, 400, "BadRequest").await;
        assert!(
            message.contains(&format!("'{path}'")),
            "{path}: message {message:?} does not name it"
        );
    }
    assert_eq!(server.count(&acme.id).await, 0);
}

#[tokio::test]
async fn unreadable_bodies_and_bad_headers_are_refused_and_nothing_is_stored() {
    let (server, acme, _) = TestServer::postgres().await;
    for body in ["", "{", "{\"quality\": }", "[1, 2", "quality=1"] {
        let r = server
            .graph(ACTION_V1, &acme.graph_token, body)
            .send()
            .await
            .unwrap();
        let message = graph_error(r, 400, "BadRequest").await;
        assert_eq!(
            message,
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."
        );
    }
    // A JSON value that is not an object.
    let r = server
        .graph(ACTION_V1, &acme.graph_token, "[]")
        .send()
        .await
        .unwrap();
    graph_error(r, 400, "BadRequest").await;

    // No User-Agent.
    let r = server
        .client
        .post(server.url(ACTION_V1))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", acme.graph_token))
        .body(SEED_EXAMPLE)
        .send()
        .await
        .unwrap();
    let message = graph_error(r, 400, "BadRequest").await;
    assert!(message.contains("User-Agent"), "{message}");

    // Not JSON, or no Content-Type at all.
    for content_type in [Some("text/plain"), Some("application/xml"), None] {
        let mut request = server
            .client
            .post(server.url(ACTION_BETA))
            .header("user-agent", "vtc-bot/1.0")
            .header("authorization", format!("Bearer {}", acme.graph_token))
            .body(SEED_EXAMPLE);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let r = request.send().await.unwrap();
        graph_error(r, 415, "RequestBodyRead").await;
    }

    // Over the body limit (1 MiB by default).
    let padded = seed_with(|b| b["quality"]["padding"] = json!("x".repeat(1 << 20)));
    let r = server
        .graph(ACTION_V1, &acme.graph_token, padded)
        .send()
        .await
        .unwrap();
    graph_error(r, 413, "RequestEntityTooLarge").await;

    // Content-Type with parameters is still JSON.
    let r = server
        .graph(ACTION_V1, &acme.graph_token, SEED_EXAMPLE)
        .header("content-type", "application/json; charset=utf-8")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        server.count(&acme.id).await,
        1,
        "only the last, valid request is stored"
    );
}

#[tokio::test]
async fn missing_or_unknown_tokens_are_401_and_a_token_without_the_role_is_403() {
    let (server, acme, _) = TestServer::postgres().await;
    let unauthenticated = |authorization: Option<String>| {
        let mut request = server
            .client
            .post(server.url(ACTION_V1))
            .header("content-type", "application/json")
            .header("user-agent", "vtc-bot/1.0")
            .body(SEED_EXAMPLE);
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        request.send()
    };
    for authorization in [
        None,
        Some("Bearer ".to_owned()),
        Some(format!("Basic {}", acme.graph_token)),
        Some("Bearer not-a-known-token-0123456789".to_owned()),
        // Another style's credential is not a Graph credential.
        Some(format!("Bearer {}", acme.ucwa_token)),
        Some(format!("Bearer {}", acme.ops_token)),
    ] {
        let r = unauthenticated(authorization.clone()).await.unwrap();
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("Bearer realm="), "{challenge}");
        let message = graph_error(r, 401, "InvalidAuthenticationToken").await;
        assert!(!message.is_empty(), "{authorization:?}");
    }
    let r = server
        .graph(ACTION_BETA, &acme.graph_token_no_role, SEED_EXAMPLE)
        .send()
        .await
        .unwrap();
    let message = graph_error(r, 403, "Forbidden").await;
    assert!(message.contains("Calls.AccessMedia.All"), "{message}");
    assert_eq!(server.count(&acme.id).await, 0);
}

#[tokio::test]
async fn each_tenant_stores_under_its_own_token() {
    let (server, acme, globex) = TestServer::postgres().await;
    let r = server
        .graph(ACTION_V1, &globex.graph_token, SEED_EXAMPLE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(server.count(&globex.id).await, 1);
    assert_eq!(server.count(&acme.id).await, 0);
    assert!(server.reports_about(&acme.id, SEED_CALL).await.is_empty());
}

#[tokio::test]
async fn client_request_ids_are_echoed_and_retries_are_stored_once() {
    let (server, acme, _) = TestServer::postgres().await;
    let client_id = "5c8e5d0e-2a5b-4f0e-9a59-0d1e6c1f6a01";
    let mut request_ids = Vec::new();
    for attempt in 0..2 {
        let mut request = server
            .graph(ACTION_V1, &acme.graph_token, SEED_EXAMPLE)
            .header("client-request-id", client_id);
        if attempt == 1 {
            // Microsoft's retry handler adds this and resends the same request.
            request = request.header("Retry-Attempt", "1");
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 200, "attempt {attempt}");
        assert_eq!(r.headers()["client-request-id"], client_id);
        request_ids.push(r.headers()["request-id"].to_str().unwrap().to_owned());
    }
    assert_ne!(
        request_ids[0], request_ids[1],
        "each response has its own request-id"
    );
    assert_eq!(
        server.count(&acme.id).await,
        1,
        "the retry is not stored twice"
    );
    let stored = &server.reports_about(&acme.id, SEED_CALL).await[0];
    assert_eq!(stored.idempotency_key.as_deref(), Some(client_id));

    // An error answer echoes it too, in the header and in innerError.
    let r = server
        .graph(ACTION_V1, &acme.graph_token, "{")
        .header("client-request-id", "my-correlation-id")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["client-request-id"], "my-correlation-id");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["innerError"]["client-request-id"],
        "my-correlation-id"
    );
}

#[tokio::test]
async fn wrong_methods_are_405_and_unknown_paths_are_graph_404s() {
    let (server, acme, _) = TestServer::postgres().await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let r = server
            .client
            .request(method.clone(), server.url(ACTION_V1))
            .header("authorization", format!("Bearer {}", acme.graph_token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["allow"], "POST", "{method}");
        graph_error(r, 405, "MethodNotAllowed").await;
    }
    for path in [
        "/v1.0/me",
        "/beta/communications/calls",
        "/v1.0/communications/calls/logTeleconferenceDeviceQuality/extra",
        "/beta/communications/calls/logSomethingElse",
    ] {
        let r = server
            .graph(path, &acme.graph_token, SEED_EXAMPLE)
            .send()
            .await
            .unwrap();
        graph_error(r, 404, "NotFound").await;
    }
    assert_eq!(server.count(&acme.id).await, 0);
}

#[tokio::test]
async fn an_overloaded_writer_answers_503_with_retry_after_in_graph_format() {
    let acme = TestTenant::new("acme");
    let mut settings = support::settings(pg::fresh_database().await, std::slice::from_ref(&acme));
    // A write queue of 1 KiB cannot take a 3 KiB report: every submit is
    // refused as overload, deterministically.
    settings.queue_max_bytes = 1024;
    let server = TestServer::start(settings).await;
    let r = server
        .graph(ACTION_V1, &acme.graph_token, SEED_EXAMPLE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["retry-after"], "1");
    graph_error(r, 503, "serviceNotAvailable").await;
    assert_eq!(server.count(&acme.id).await, 0);
}

#[tokio::test]
async fn graph_spellings_of_the_action_path_are_served() {
    let (server, acme, _) = TestServer::postgres().await;
    let paths = [
        "/v1.0/communications/calls/microsoft.graph.logTeleconferenceDeviceQuality",
        "/beta/Communications/Calls/logteleconferencedevicequality",
    ];
    for path in paths {
        let r = server
            .graph(path, &acme.graph_token, SEED_EXAMPLE)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let r = server
            .client
            .get(server.url(path))
            .header("authorization", format!("Bearer {}", acme.graph_token))
            .send()
            .await
            .unwrap();
        graph_error(r, 405, "MethodNotAllowed").await;
    }
    assert_eq!(server.count(&acme.id).await, 2);
}

#[tokio::test]
async fn gzip_request_bodies_are_accepted() {
    use std::io::Write;
    let (server, acme, _) = TestServer::postgres().await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(SEED_EXAMPLE.as_bytes()).unwrap();
    let r = server
        .client
        .post(server.url(ACTION_V1))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("user-agent", "vtc-bot/1.0")
        .header("authorization", format!("Bearer {}", acme.graph_token))
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let reports = server.reports_about(&acme.id, SEED_CALL).await;
    assert_eq!(reports[0].raw_payload, SEED_EXAMPLE, "stored decompressed");
}

#[tokio::test]
async fn a_request_that_runs_out_of_time_gets_a_graph_503() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let acme = TestTenant::new("acme");
    let server = TestServer::on(Backend::Postgres, std::slice::from_ref(&acme), |s| {
        s.request_timeout_secs = 1;
    })
    .await;
    // Headers promise a body that never fully arrives.
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST {ACTION_V1} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nUser-Agent: slow/1.0\r\nAuthorization: Bearer {}\r\nclient-request-id: slow-1\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n{{\"quality\": ",
        acme.graph_token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers within its time limit")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 5"), "{answer}");
    assert!(answer.contains("client-request-id: slow-1"), "{answer}");
    assert!(
        answer.contains("\"code\":\"servicenotavailable\""),
        "{answer}"
    );
    assert_eq!(server.count(&acme.id).await, 0);
}
