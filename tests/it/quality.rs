//! Poor-stream classification (CQD audio classifier), E-model MOS for MS-QoE
//! streams, and the statistics the dashboard overview reads: poor counts and
//! rate, reasons, reports per style and kind, p10, group_by=error_code and
//! error_subcode. Real PostgreSQL over HTTP; SQLite must answer the same.

use callq::model::{Kind, MediaStream, Modality, Protocol, Report, mos};
use callq::store::query::{GroupBy, ReportFilter, StatsQuery};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::support::{TestServer, assert_close};

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    format!("2026-03-10T{hour:02}:{minute:02}:00Z")
        .parse()
        .unwrap()
}

/// An audio stream with inbound averages and a fixed MOS (so the MOS
/// percentiles below are hand-computable: a stream's own MOS is kept).
fn audio(
    packets: Option<i64>,
    rtt: Option<f64>,
    loss: Option<f64>,
    jitter: Option<f64>,
    mos: Option<f64>,
) -> MediaStream {
    MediaStream {
        modality: Some(Modality::Audio),
        inbound_packets: packets,
        avg_inbound_rtt_ms: rtt,
        avg_inbound_loss_pct: loss,
        avg_inbound_jitter_ms: jitter,
        mos,
        mos_model: mos.map(|_| "test/fixed".to_owned()),
        ..MediaStream::default()
    }
}

struct Spec {
    protocol: Protocol,
    kind: Kind,
    at: DateTime<Utc>,
    device: Option<&'static str>,
    error: Option<(&'static str, &'static str)>,
    streams: Vec<MediaStream>,
}

fn report(tenant: &str, n: usize, spec: Spec) -> Report {
    let mut r = Report::new(tenant, spec.protocol, spec.kind, format!("call-{n}"), "{}");
    r.received_at = spec.at;
    r.device_name = spec.device.map(str::to_owned);
    if let Some((code, subcode)) = spec.error {
        r.error_code = Some(code.into());
        r.error_subcode = Some(subcode.into());
    }
    if spec.protocol == Protocol::Plivo {
        r.rating = Some(3.0);
    }
    r.streams = spec
        .streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| MediaStream {
            ordinal: i as i32,
            ..s
        })
        .collect();
    r
}

/// Nine reports on 2026-03-10 whose classes are worked out by hand in the
/// comments (thresholds: RTT > 500 ms, loss > 10 %, jitter > 30 ms, and
/// more than 500 packets).
fn fixture(tenant: &str) -> Vec<Report> {
    use Kind::*;
    use Protocol::*;
    let video = MediaStream {
        modality: Some(Modality::Video),
        inbound_packets: Some(9_000),
        avg_inbound_rtt_ms: Some(900.0),
        ..MediaStream::default()
    };
    let specs = vec![
        // R1 10:00 Cisco: poor (round_trip), video (not classified), good.
        Spec {
            protocol: Graph,
            kind: DeviceQuality,
            at: at(10, 0),
            device: Some("Cisco"),
            error: None,
            streams: vec![
                audio(Some(1000), Some(500.001), None, None, Some(2.0)),
                video,
                audio(Some(1000), Some(40.0), Some(1.0), Some(5.0), Some(4.0)),
            ],
        },
        // R2 10:30 Cisco: poor (packet_loss, jitter) at 501 packets.
        Spec {
            protocol: Graph,
            kind: DeviceQuality,
            at: at(10, 30),
            device: Some("Cisco"),
            error: None,
            streams: vec![audio(
                Some(501),
                Some(500.0),
                Some(10.001),
                Some(31.0),
                Some(3.0),
            )],
        },
        // R3 11:00 Poly: good (bad jitter but only 500 packets), unclassified (no packets).
        Spec {
            protocol: Graph,
            kind: DeviceQuality,
            at: at(11, 0),
            device: Some("Poly"),
            error: None,
            streams: vec![
                audio(Some(500), None, None, Some(90.0), Some(4.2)),
                audio(None, None, None, Some(5.0), None),
            ],
        },
        // R4 11:10 UCWA feedback: good (every metric exactly at its threshold).
        Spec {
            protocol: Ucwa,
            kind: Feedback,
            at: at(11, 10),
            device: None,
            error: None,
            streams: vec![audio(
                Some(2000),
                Some(500.0),
                Some(10.0),
                Some(30.0),
                Some(3.5),
            )],
        },
        // R5..R7: UCWA diagnostics, no streams.
        Spec {
            protocol: Ucwa,
            kind: Diagnostics,
            at: at(11, 20),
            device: None,
            error: Some(("BadRequest", "InviteesOnly")),
            streams: vec![],
        },
        Spec {
            protocol: Ucwa,
            kind: Diagnostics,
            at: at(12, 0),
            device: None,
            error: Some(("BadRequest", "Timeout")),
            streams: vec![],
        },
        Spec {
            protocol: Ucwa,
            kind: Diagnostics,
            at: at(12, 10),
            device: None,
            error: Some(("ServiceFailure", "Timeout")),
            streams: vec![],
        },
        // R8 12:20 Plivo feedback, no streams.
        Spec {
            protocol: Plivo,
            kind: Feedback,
            at: at(12, 20),
            device: None,
            error: None,
            streams: vec![],
        },
        // R9 12:30 Poly: poor (round_trip), unclassified (no metric at all).
        Spec {
            protocol: Graph,
            kind: DeviceQuality,
            at: at(12, 30),
            device: Some("Poly"),
            error: None,
            streams: vec![
                audio(Some(1000), Some(900.0), None, None, Some(1.5)),
                audio(Some(1000), None, None, None, None),
            ],
        },
    ];
    specs
        .into_iter()
        .enumerate()
        .map(|(n, s)| report(tenant, n, s))
        .collect()
}

/// The poor-stream fields of a group: audio, poor, unclassified, rate, and
/// reasons `[round_trip, packet_loss, jitter]`.
fn classes(
    audio: i64,
    poor: i64,
    unclassified: i64,
    rate: Option<f64>,
    reasons: [i64; 3],
) -> Value {
    json!({
        "audio_streams": audio,
        "poor_audio_streams": poor,
        "unclassified_audio_streams": unclassified,
        "poor_rate": rate,
        "poor_reasons": {"round_trip": reasons[0], "packet_loss": reasons[1], "jitter": reasons[2]},
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    a.as_object_mut()
        .unwrap()
        .extend(b.as_object().unwrap().clone());
    a
}

fn stats_path(group_by: &str) -> String {
    let mut path = "/api/v1/stats?since=2026-03-10&until=2026-03-11".to_owned();
    if !group_by.is_empty() {
        path.push_str("&group_by=");
        path.push_str(group_by);
    }
    path
}

fn check(answer: &Value, expected: &[(Option<&str>, Value)], what: &str) {
    let groups = answer["groups"].as_array().unwrap();
    let keys: Vec<Option<&str>> = groups.iter().map(|g| g["key"].as_str()).collect();
    let want: Vec<Option<&str>> = expected.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, want, "{what}: keys");
    for (g, (key, e)) in groups.iter().zip(expected) {
        assert_close(g, e, &format!("{what} {key:?}"));
    }
}

#[tokio::test]
async fn streams_are_classified_when_accepted_and_returned_with_their_class() {
    let (server, acme, _) = TestServer::postgres().await;
    let reports = fixture(&acme.id);
    server.commit_all(&reports).await;

    let r1 = server
        .ops_json(
            &acme.ops_token,
            &format!("/api/v1/reports/{}", reports[0].id),
        )
        .await;
    let s = &r1["streams"];
    assert_eq!(s[0]["quality_class"], "poor");
    assert_eq!(s[0]["poor_reasons"], json!(["round_trip"]));
    assert_eq!(s[0]["quality_classifier"], "cqd-audio/1");
    assert_eq!(s[1]["modality"], "video");
    assert_eq!(
        s[1]["quality_class"],
        Value::Null,
        "video has no audio class"
    );
    assert_eq!(s[1]["poor_reasons"], json!([]));
    assert_eq!(s[1]["quality_classifier"], Value::Null);
    assert_eq!(s[2]["quality_class"], "good");
    assert_eq!(s[2]["poor_reasons"], json!([]));

    let call = server
        .ops_json(&acme.ops_token, "/api/v1/calls/call-1")
        .await;
    let s = &call["reports"][0]["streams"][0];
    assert_eq!(s["quality_class"], "poor");
    assert_eq!(s["poor_reasons"], json!(["packet_loss", "jitter"]));
    let call = server
        .ops_json(&acme.ops_token, "/api/v1/calls/call-2")
        .await;
    let s = &call["reports"][0]["streams"];
    assert_eq!(
        s[0]["quality_class"], "good",
        "500 packets is not more than 500"
    );
    assert_eq!(s[1]["quality_class"], "unclassified", "no packet count");
    assert_eq!(s[1]["quality_classifier"], "cqd-audio/1");
}

#[tokio::test]
async fn stats_count_poor_streams_styles_and_kinds_per_group_as_computed_by_hand() {
    let (server, acme, globex) = TestServer::postgres().await;
    server.commit_all(&fixture(&acme.id)).await;
    // Another tenant's poor streams never count.
    server.commit_all(&fixture(&globex.id)[..2]).await;
    // A stream stored without a class (as before migration 0005) counts as
    // unclassified audio, never as good.
    let mut old = report(
        &acme.id,
        99,
        Spec {
            protocol: Protocol::Graph,
            kind: Kind::DeviceQuality,
            at: at(13, 0),
            device: Some("Poly"),
            error: None,
            streams: vec![audio(Some(1000), Some(900.0), None, None, None)],
        },
    );
    old.streams[0].mos = None;
    server.store().insert_batch(&[old]).await.unwrap();

    let protocols = |u: i64, g: i64, p: i64| json!({"ucwa": u, "graph": g, "plivo": p});
    let kinds =
        |f: i64, d: i64, q: i64| json!({"feedback": f, "diagnostics": d, "device_quality": q});

    // One group: 8 audio streams classified at intake (+1 unclassified old
    // one), 3 poor, 2 + 1 unclassified: 3 / (9 − 3) = 0.5.
    let answer = server.ops_json(&acme.ops_token, &stats_path("")).await;
    let mos_and_jitter = json!({
        // MOS [1.5, 2.0, 3.0, 3.5, 4.0, 4.2]: p10 at rank 0.5 → 1.75,
        // p50 at 2.5 → 3.25, p90 at 4.5 → 4.1.
        "mos": {"count": 6, "p10": 1.75, "p50": 3.25, "p90": 4.1},
        // Jitter [5, 5, 30, 31, 90]: p10 at 0.4 → 5, p50 → 30, p90 at 3.6 → 66.4.
        "jitter_ms": {"count": 5, "p10": 5.0, "p50": 30.0, "p90": 66.4},
        // RTT [40, 500, 500, 500.001, 900 (video), 900, 900 (old)]: p10 at 0.6 → 316.
        "rtt_ms": {"count": 7, "p10": 316.0},
    });
    check(
        &answer,
        &[(
            None,
            merge(
                merge(
                    classes(9, 3, 3, Some(0.5), [2, 1, 1]),
                    json!({"reports": 10, "protocols": protocols(4, 5, 1), "kinds": kinds(2, 3, 5)}),
                ),
                mos_and_jitter,
            ),
        )],
        "no group_by",
    );

    let answer = server
        .ops_json(&acme.ops_token, &stats_path("device"))
        .await;
    check(
        &answer,
        &[
            (
                None,
                merge(
                    classes(1, 0, 0, Some(0.0), [0, 0, 0]),
                    json!({"reports": 5, "protocols": protocols(4, 0, 1), "kinds": kinds(2, 3, 0)}),
                ),
            ),
            (
                Some("Cisco"),
                merge(
                    classes(3, 2, 0, Some(2.0 / 3.0), [1, 1, 1]),
                    json!({"reports": 2, "protocols": protocols(0, 2, 0)}),
                ),
            ),
            (
                Some("Poly"),
                merge(
                    classes(5, 1, 3, Some(0.5), [1, 0, 0]),
                    json!({"reports": 3, "kinds": kinds(0, 0, 3)}),
                ),
            ),
        ],
        "device",
    );

    let answer = server.ops_json(&acme.ops_token, &stats_path("hour")).await;
    check(
        &answer,
        &[
            (
                Some("2026-03-10T10:00:00Z"),
                merge(
                    classes(3, 2, 0, Some(2.0 / 3.0), [1, 1, 1]),
                    json!({"reports": 2, "protocols": protocols(0, 2, 0), "kinds": kinds(0, 0, 2)}),
                ),
            ),
            (
                Some("2026-03-10T11:00:00Z"),
                merge(
                    classes(3, 0, 1, Some(0.0), [0, 0, 0]),
                    json!({"reports": 3, "protocols": protocols(2, 1, 0), "kinds": kinds(1, 1, 1)}),
                ),
            ),
            (
                Some("2026-03-10T12:00:00Z"),
                merge(
                    classes(2, 1, 1, Some(1.0), [1, 0, 0]),
                    json!({"reports": 4, "protocols": protocols(2, 1, 1), "kinds": kinds(1, 2, 1)}),
                ),
            ),
            (
                Some("2026-03-10T13:00:00Z"),
                merge(
                    classes(1, 0, 1, None, [0, 0, 0]),
                    json!({"reports": 1, "protocols": protocols(0, 1, 0)}),
                ),
            ),
        ],
        "hour",
    );

    let no_error = json!({"reports": 7, "protocols": protocols(1, 5, 1)});
    let answer = server
        .ops_json(&acme.ops_token, &stats_path("error_code"))
        .await;
    assert_eq!(answer["group_by"], "error_code");
    check(
        &answer,
        &[
            (
                None,
                merge(no_error.clone(), classes(9, 3, 3, Some(0.5), [2, 1, 1])),
            ),
            (
                Some("BadRequest"),
                merge(
                    classes(0, 0, 0, None, [0, 0, 0]),
                    json!({"reports": 2, "kinds": kinds(0, 2, 0)}),
                ),
            ),
            (Some("ServiceFailure"), json!({"reports": 1})),
        ],
        "error_code",
    );
    let answer = server
        .ops_json(&acme.ops_token, &stats_path("error_subcode"))
        .await;
    check(
        &answer,
        &[
            (None, no_error),
            (Some("InviteesOnly"), json!({"reports": 1})),
            (
                Some("Timeout"),
                json!({"reports": 2, "protocols": protocols(2, 0, 0)}),
            ),
        ],
        "error_subcode",
    );

    // The OpenAPI document names the new grouping and fields.
    let doc = server.ops_json(&acme.ops_token, "/openapi.json").await;
    let schemas = &doc["components"]["schemas"];
    let group_by = schemas["GroupBy"].to_string();
    assert!(group_by.contains("error_code") && group_by.contains("error_subcode"));
    for field in [
        "audio_streams",
        "poor_audio_streams",
        "unclassified_audio_streams",
        "poor_rate",
        "poor_reasons",
        "protocols",
        "kinds",
    ] {
        assert!(
            schemas["GroupStats"]["properties"].get(field).is_some(),
            "{field}"
        );
    }
    assert!(schemas["Percentiles"]["properties"].get("p10").is_some());
    assert!(
        schemas["MediaStream"]["properties"]
            .get("quality_class")
            .is_some()
    );
}

#[tokio::test]
async fn sqlite_gives_the_same_quality_stats_as_postgres() {
    let (server, acme, _) = TestServer::postgres().await;
    let (lite, _dir) = crate::support::sqlite_store().await;
    let mut reports = fixture(&acme.id);
    reports.iter_mut().for_each(Report::derive_stream_quality);
    server.store().insert_batch(&reports).await.unwrap();
    lite.insert_batch(&reports).await.unwrap();
    for group_by in [
        None,
        Some(GroupBy::Protocol),
        Some(GroupBy::Kind),
        Some(GroupBy::Issue),
        Some(GroupBy::Device),
        Some(GroupBy::Hour),
        Some(GroupBy::Day),
        Some(GroupBy::ErrorCode),
        Some(GroupBy::ErrorSubcode),
    ] {
        let query = StatsQuery {
            filter: ReportFilter::default(),
            group_by,
        };
        let a =
            serde_json::to_value(server.store().stats(&acme.id, &query).await.unwrap()).unwrap();
        let b = serde_json::to_value(lite.stats(&acme.id, &query).await.unwrap()).unwrap();
        assert_close(&a, &b, &format!("{group_by:?}"));
        assert_close(&b, &a, &format!("{group_by:?}"));
    }
    // Streams read back equal, class and reasons included.
    for r in &reports {
        let a = server.store().get_report(&acme.id, r.id).await.unwrap();
        let b = lite.get_report(&acme.id, r.id).await.unwrap();
        assert_eq!(a.as_ref(), Some(r));
        assert_eq!(b.as_ref(), Some(r));
    }
    lite.close().await;
}

/// The MS-QoE sample without any MOS of its own (no QualityEstimates, no
/// LocalConversationalMOS), with its outbound round trip set to `rtt`.
fn qoe_without_mos(rtt: u32) -> String {
    let sample = include_str!("../data/ms-qoe-sample.xml");
    let mut doc = String::new();
    let mut rest = sample;
    while let Some(start) = rest.find("<QualityEstimates>") {
        doc.push_str(&rest[..start]);
        let end = rest.find("</QualityEstimates>").unwrap() + "</QualityEstimates>".len();
        rest = &rest[end..];
    }
    doc.push_str(rest);
    doc.replace("<LocalConversationalMOS>3.90</LocalConversationalMOS>", "")
        .replace(
            "<RoundTrip>48</RoundTrip>",
            &format!("<RoundTrip>{rtt}</RoundTrip>"),
        )
}

#[tokio::test]
async fn ms_qoe_streams_without_a_mos_get_the_e_model_estimate_and_a_class() {
    let (server, acme, _) = TestServer::postgres().await;
    for (conversation, qoe) in [
        (
            "own-mos",
            include_str!("../data/ms-qoe-sample.xml").to_owned(),
        ),
        ("no-mos", qoe_without_mos(48)),
        ("no-mos-far", qoe_without_mos(650)),
    ] {
        let body = json!({"mediaEndpoint": "ep", "mediaQualityOfExperience": qoe}).to_string();
        let response = server
            .client
            .post(server.url(&format!(
                "/ucwa/v1/applications/qoe/communication/conversations/{conversation}/audioVideo/audioVideoSession/publishCallQualityFeedback"
            )))
            .header("authorization", format!("Bearer {}", acme.ucwa_token))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{conversation}");
    }
    let stream = |call: &'static str| {
        let server = &server;
        let acme = &acme;
        async move {
            let v = server
                .ops_json(&acme.ops_token, &format!("/api/v1/calls/qoe/{call}"))
                .await;
            v["reports"][0]["streams"][0].clone()
        }
    };

    // The document's own network MOS stays preferred and named.
    let s = stream("own-mos").await;
    assert_eq!(s["mos"], 4.02);
    assert_eq!(s["mos_model"], "ms-qoe/OverallAvgNetworkMOS");
    assert_eq!(s["r_factor"], Value::Null);
    assert_eq!(s["quality_class"], "good");

    // Without one: callq's E-model from inbound jitter 4 ms, inbound loss
    // 1.2 % and the (outbound) round trip 48 ms.
    let s = stream("no-mos").await;
    let e = mos::estimate(48.0, 4.0, 1.2);
    assert!((s["mos"].as_f64().unwrap() - e.mos).abs() < 1e-9, "{s}");
    assert!((s["r_factor"].as_f64().unwrap() - e.r_factor).abs() < 1e-9);
    assert_eq!(s["mos_model"], mos::MODEL);
    assert_eq!(s["quality_class"], "good");

    // A 650 ms round trip over 15,012 packets: poor, and a lower estimate.
    let s = stream("no-mos-far").await;
    assert_eq!(s["mos_model"], mos::MODEL);
    assert!(s["mos"].as_f64().unwrap() < e.mos);
    assert_eq!(s["quality_class"], "poor");
    assert_eq!(s["poor_reasons"], json!(["round_trip"]));

    // The stats count them: 3 audio streams, 1 poor.
    let answer = server.ops_json(&acme.ops_token, "/api/v1/stats").await;
    assert_close(
        &answer["groups"][0],
        &merge(
            classes(3, 1, 0, Some(1.0 / 3.0), [1, 0, 0]),
            json!({"mos": {"count": 3}}),
        ),
        "stats",
    );
}
