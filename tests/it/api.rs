//! The ops read API over real HTTP against a real PostgreSQL (and the key
//! queries on SQLite): find by call, combined filters, keyset pagination,
//! streamed CSV, statistics checked against hand computation, tenant
//! isolation, parameter errors, auth, metrics and the OpenAPI document.
//!
//! Reports are submitted through the real group-commit writer
//! (`AppState::commit`), as the style handlers do.

use std::collections::{BTreeMap, BTreeSet};

use callq::model::{Kind, MediaStream, Modality, Protocol, Report};
use callq::store::query::{GroupBy, ReportFilter, StatsQuery};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::support::wire::json_body;
use crate::support::{TestServer, TestTenant, assert_close};

fn t0() -> DateTime<Utc> {
    "2026-03-10T08:00:00Z".parse().unwrap()
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

fn plivo(tenant: &str, call: &str, minutes: i64, rating: f64, issues: &[&str]) -> Report {
    let body = serde_json::json!({ "rating": rating, "issues": issues, "notes": "from the test" });
    let mut r = Report::new(
        tenant,
        Protocol::Plivo,
        Kind::Feedback,
        call,
        body.to_string(),
    );
    r.received_at = at(minutes);
    r.rating = Some(rating);
    r.issues = issues.iter().map(|s| s.to_string()).collect();
    r.notes = Some(format!("rated {rating}, \"quoted\", with a comma"));
    r.user_agent = Some("plivo-python/4.55.0".into());
    r.content_type = Some("application/json".into());
    r
}

/// An audio stream with E-model MOS and a video stream without, as Graph sends.
/// `quality` is the audio stream's `[jitter ms, loss %, RTT ms, MOS]`.
fn graph(tenant: &str, call: &str, minutes: i64, device: &str, quality: [f64; 4]) -> Report {
    let [jitter, loss, rtt, mos] = quality;
    let mut r = Report::new(
        tenant,
        Protocol::Graph,
        Kind::DeviceQuality,
        call,
        format!("{{\"quality\":{{\"callChainId\":\"{call}\"}}}}"),
    );
    r.received_at = at(minutes);
    r.participant_id = Some("9bd8ec51-8f3e-4bdb-8bbb-2d1c0de9a21b".into());
    r.media_leg_id = Some("7e3b1a44-0f4c-4b0e-9c53-3a2a3e1c8f10".into());
    r.device_name = Some(device.into());
    r.cloud_service_name = Some("cvi-partner".into());
    r.user_agent = Some("CviBot/2.1".into());
    r.streams = vec![
        MediaStream {
            ordinal: 0,
            modality: Some(Modality::Audio),
            channel_index: Some(1),
            media_duration_ms: Some(1_200_000.0),
            inbound_packets: Some(60_000),
            outbound_packets: Some(59_800),
            avg_inbound_jitter_ms: Some(jitter),
            max_inbound_jitter_ms: Some(jitter * 3.0),
            avg_outbound_jitter_ms: Some(jitter / 2.0),
            avg_inbound_loss_pct: Some(loss),
            max_inbound_loss_pct: Some(loss * 4.0),
            avg_outbound_loss_pct: Some(loss / 2.0),
            avg_inbound_rtt_ms: Some(rtt),
            max_inbound_rtt_ms: Some(rtt * 2.0),
            mos: Some(mos),
            r_factor: Some((mos - 1.0) * 25.0),
            mos_model: Some("g107-simplified/1".into()),
            ..MediaStream::default()
        },
        MediaStream {
            ordinal: 1,
            modality: Some(Modality::Video),
            channel_index: Some(2),
            avg_outbound_bitrate_bps: Some(1.5e6),
            avg_inbound_frame_rate: Some(29.97),
            avg_outbound_jitter_ms: Some(jitter + 1.0),
            ..MediaStream::default()
        },
    ];
    r
}

/// UCWA feedback whose MS-QoE document gave one stream with reported MOS.
fn ucwa_feedback(tenant: &str, call: &str, minutes: i64, jitter: f64, mos: f64) -> Report {
    let qoe = "<VQReportEvent xmlns=\"ms-rtcp-metrics\"><VQSessionReport/></VQReportEvent>";
    let body =
        serde_json::json!({ "mediaEndpoint": "endpoint-1", "mediaQualityOfExperience": qoe });
    let mut r = Report::new(
        tenant,
        Protocol::Ucwa,
        Kind::Feedback,
        call,
        body.to_string(),
    );
    r.received_at = at(minutes);
    r.media_endpoint = Some("endpoint-1".into());
    r.media_quality_of_experience = Some(qoe.into());
    r.streams = vec![MediaStream {
        ordinal: 0,
        modality: Some(Modality::Audio),
        label: Some("main-audio".into()),
        avg_inbound_jitter_ms: Some(jitter),
        max_inbound_jitter_ms: Some(jitter * 2.0),
        avg_inbound_loss_pct: Some(0.5),
        max_inbound_rtt_ms: Some(95.0),
        mos: Some(mos),
        mos_model: Some("ms-qoe/OverallAvgNetworkMOS".into()),
        ..MediaStream::default()
    }];
    r
}

fn ucwa_diagnostics(tenant: &str, call: &str, minutes: i64, code: &str, subcode: &str) -> Report {
    let body = serde_json::json!({ "errorCode": code, "errorSubcode": subcode });
    let mut r = Report::new(
        tenant,
        Protocol::Ucwa,
        Kind::Diagnostics,
        call,
        body.to_string(),
    );
    r.received_at = at(minutes);
    r.error_code = Some(code.into());
    r.error_subcode = Some(subcode.into());
    r
}

/// Two days of realistic reports for `tenant`, with equal timestamps (to
/// exercise the id tie-break), one call reported by all three styles and a
/// UCWA call id containing a slash.
fn fixture(tenant: &str) -> Vec<Report> {
    let mut v = vec![
        plivo(tenant, "0b8e3f9a-1c2d-4e5f-8a9b-0c1d2e3f4a01", 0, 5.0, &[]),
        plivo(
            tenant,
            "0b8e3f9a-1c2d-4e5f-8a9b-0c1d2e3f4a02",
            10,
            4.0,
            &["ECHO"],
        ),
        plivo(
            tenant,
            "0b8e3f9a-1c2d-4e5f-8a9b-0c1d2e3f4a03",
            20,
            4.5,
            &["AUDIO_LAG"],
        ),
        plivo(
            tenant,
            "0b8e3f9a-1c2d-4e5f-8a9b-0c1d2e3f4a04",
            30,
            3.0,
            &["AUDIO_LAG", "ECHO"],
        ),
        plivo(
            tenant,
            "0b8e3f9a-1c2d-4e5f-8a9b-0c1d2e3f4a05",
            40,
            2.0,
            &["BROKEN_AUDIO", "ROBOTIC_AUDIO"],
        ),
        plivo(
            tenant,
            "0b8e3f9a-1c2d-4e5f-8a9b-0c1d2e3f4a06",
            50,
            1.0,
            &["CALL_DROPPED"],
        ),
        graph(tenant, "chain-1", 60, "Cisco SX80", [12.0, 0.4, 80.0, 4.2]),
        graph(tenant, "chain-2", 75, "Poly G7500", [35.0, 2.5, 210.0, 3.4]),
        graph(tenant, "chain-3", 90, "Cisco SX80", [8.0, 0.1, 45.0, 4.4]),
        graph(
            tenant,
            "chain-4",
            105,
            "Poly G7500",
            [60.0, 7.0, 320.0, 2.6],
        ),
        ucwa_feedback(tenant, "app1/conv1", 180, 18.0, 3.9),
        ucwa_feedback(tenant, "app1/conv2", 185, 25.0, 3.6),
        ucwa_diagnostics(tenant, "app1/conv1", 210, "BadRequest", "InviteesOnly"),
        ucwa_diagnostics(
            tenant,
            "app2/conv9",
            215,
            "TooManyRequests",
            "MediaNegotiationFailure",
        ),
        // Three at the very same microsecond.
        plivo(tenant, "tie-1", 300, 4.0, &["ECHO"]),
        plivo(tenant, "tie-2", 300, 3.0, &["LOW_AUDIO_LEVEL"]),
        plivo(tenant, "tie-3", 300, 5.0, &[]),
        // The next day: one call seen by every style.
        plivo(tenant, "shared-call-1", 26 * 60, 2.0, &["ONE_WAY_AUDIO"]),
        graph(
            tenant,
            "shared-call-1",
            26 * 60 + 1,
            "Cisco SX80",
            [40.0, 3.0, 250.0, 3.1],
        ),
        ucwa_feedback(tenant, "shared-call-1", 26 * 60 + 2, 30.0, 3.3),
        ucwa_diagnostics(
            tenant,
            "shared-call-1",
            26 * 60 + 3,
            "ServiceFailure",
            "CallbackChannelError",
        ),
        plivo(tenant, "late", 27 * 60, 4.0, &["ECHO"]),
    ];
    // Ids are v7 (ordered by creation); shuffle creation order against time
    // order a little so the tie-break really is by id, not by insertion.
    v.swap(14, 16);
    v
}

/// `r` as stored after `commit`: with the MOS and quality class callq derives.
fn as_accepted(r: &Report) -> Report {
    let mut r = r.clone();
    r.derive_stream_quality();
    r
}

/// Every row of the list for `query`, following `next_cursor` with pages of `limit`.
async fn all_pages(
    server: &TestServer,
    t: &TestTenant,
    query: &str,
    limit: usize,
) -> (Vec<Value>, usize) {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/v1/reports?limit={limit}&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = server.ops_json(&t.ops_token, &path).await;
        pages += 1;
        let got = page["reports"].as_array().unwrap();
        assert!(got.len() <= limit);
        rows.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(got.len(), limit, "only full pages have a next cursor");
                cursor = Some(c.to_owned());
            }
            None => break,
        }
        assert!(pages < 10_000, "pagination does not end");
    }
    (rows, pages)
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Newest first, ties broken by id, descending.
fn expected_order(reports: &[&Report]) -> Vec<String> {
    let mut v: Vec<&&Report> = reports.iter().collect();
    v.sort_by_key(|r| std::cmp::Reverse((r.received_at, r.id)));
    v.iter().map(|r| r.id.to_string()).collect()
}

#[tokio::test]
async fn a_call_is_found_across_styles_with_its_summary() {
    let (server, acme, globex) = TestServer::postgres().await;
    let reports = fixture(&acme.id);
    server.commit_all(&reports).await;
    server
        .commit_all(&[plivo(&globex.id, "shared-call-1", 26 * 60 + 5, 5.0, &[])])
        .await;

    let call = server
        .ops_json(&acme.ops_token, "/api/v1/calls/shared-call-1")
        .await;
    assert_eq!(call["call_id"], "shared-call-1");
    let got: Vec<(&str, &str)> = call["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["protocol"].as_str().unwrap(), r["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("plivo", "feedback"),
            ("graph", "device_quality"),
            ("ucwa", "feedback"),
            ("ucwa", "diagnostics")
        ],
        "all styles, in time order, and nothing of globex"
    );
    let s = &call["summary"];
    assert_eq!(s["reports"], 4);
    assert_eq!(
        s["protocols"],
        serde_json::json!(["graph", "plivo", "ucwa"])
    );
    assert_eq!(s["rating"], 2.0);
    assert_eq!(s["issues"], serde_json::json!(["ONE_WAY_AUDIO"]));
    assert_eq!(
        s["errors"],
        serde_json::json!(["ServiceFailure/CallbackChannelError"])
    );
    assert_eq!(s["streams"], 3);
    // Graph audio: max inbound jitter 40*3, max inbound loss 3*4, max RTT 250*2.
    assert_eq!(s["worst_jitter_ms"], 120.0);
    assert_eq!(s["worst_loss_pct"], 12.0);
    assert_eq!(s["worst_rtt_ms"], 500.0);
    assert_eq!(s["min_mos"], 3.1);
    assert!((s["mean_mos"].as_f64().unwrap() - 3.2).abs() < 1e-12);
    // Streams and the raw payload come back as stored.
    let graph_report = &call["reports"][1];
    assert_eq!(graph_report["streams"][0]["avg_inbound_jitter_ms"], 40.0);
    assert_eq!(graph_report["streams"][1]["modality"], "video");
    let stored: Report = serde_json::from_value(graph_report.clone()).unwrap();
    assert_eq!(
        stored,
        as_accepted(reports.iter().find(|r| r.id == stored.id).unwrap())
    );

    // UCWA call ids carry a slash: as is, or percent-encoded.
    for path in ["/api/v1/calls/app1/conv1", "/api/v1/calls/app1%2Fconv1"] {
        let call = server.ops_json(&acme.ops_token, path).await;
        assert_eq!(call["call_id"], "app1/conv1");
        assert_eq!(call["summary"]["reports"], 2);
        assert_eq!(
            call["summary"]["kinds"],
            serde_json::json!(["diagnostics", "feedback"])
        );
    }
    // And the list finds the same reports by call_id.
    let list = server
        .ops_json(&acme.ops_token, "/api/v1/reports?call_id=app1%2Fconv1")
        .await;
    assert_eq!(list["reports"].as_array().unwrap().len(), 2);

    let missing = server
        .ops_get(&acme.ops_token, "/api/v1/calls/no-such-call")
        .await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn a_report_reads_back_whole_with_streams_and_raw_payload() {
    let (server, acme, globex) = TestServer::postgres().await;
    let reports = fixture(&acme.id);
    server.commit_all(&reports).await;
    let graph = reports
        .iter()
        .find(|r| r.protocol == Protocol::Graph)
        .unwrap();
    let body = server
        .ops_json(&acme.ops_token, &format!("/api/v1/reports/{}", graph.id))
        .await;
    let read: Report = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(read, as_accepted(graph));
    assert_eq!(body["raw_payload"], graph.raw_payload.as_str());

    let other = server
        .ops_get(&globex.ops_token, &format!("/api/v1/reports/{}", graph.id))
        .await;
    assert_eq!(
        other.status(),
        404,
        "another tenant's report does not exist for globex"
    );
    let bad = server
        .ops_get(&acme.ops_token, "/api/v1/reports/not-a-uuid")
        .await;
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["parameter"], "id");
}

#[tokio::test]
async fn filters_combine() {
    let (server, acme, _globex) = TestServer::postgres().await;
    let reports = fixture(&acme.id);
    server.commit_all(&reports).await;

    type Pick = Box<dyn Fn(&Report) -> bool>;
    let cases: Vec<(&str, Pick)> = vec![
        (
            "protocol=plivo",
            Box::new(|r| r.protocol == Protocol::Plivo),
        ),
        (
            "protocol=ucwa&kind=diagnostics",
            Box::new(|r| r.protocol == Protocol::Ucwa && r.kind == Kind::Diagnostics),
        ),
        (
            "kind=feedback&min_rating=2&max_rating=4",
            Box::new(|r| {
                r.kind == Kind::Feedback && r.rating.is_some_and(|x| (2.0..=4.0).contains(&x))
            }),
        ),
        (
            "issue=ECHO&min_rating=3.5",
            Box::new(|r| {
                r.issues.contains(&"ECHO".to_string()) && r.rating.is_some_and(|x| x >= 3.5)
            }),
        ),
        (
            "issue=echo",
            Box::new(|r| r.issues.contains(&"ECHO".to_string())),
        ),
        (
            "since=2026-03-10T09:00:00Z&until=2026-03-10T13:00:00Z",
            Box::new(|r| r.received_at >= at(60) && r.received_at < at(300)),
        ),
        (
            "since=2026-03-11&protocol=graph",
            Box::new(|r| {
                r.received_at >= "2026-03-11T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
                    && r.protocol == Protocol::Graph
            }),
        ),
        (
            "since=2026-03-10T10:00:00%2B02:00&until=2026-03-10T09:30:00Z&kind=device_quality",
            Box::new(|r| {
                r.received_at >= at(0) && r.received_at < at(90) && r.kind == Kind::DeviceQuality
            }),
        ),
        (
            "call_id=tie-2&protocol=plivo",
            Box::new(|r| r.call_id == "tie-2"),
        ),
        ("call_id=tie-2&protocol=graph", Box::new(|_| false)),
        ("", Box::new(|_| true)),
    ];
    for (query, pick) in cases {
        let expected: Vec<&Report> = reports.iter().filter(|r| pick(r)).collect();
        let (rows, _) = all_pages(&server, &acme, query, 1000).await;
        assert_eq!(ids(&rows), expected_order(&expected), "{query}");
    }
}

#[tokio::test]
async fn pagination_returns_every_row_exactly_once() {
    let (server, acme, _globex) = TestServer::postgres().await;
    let reports = fixture(&acme.id);
    server.commit_all(&reports).await;
    let all: Vec<&Report> = reports.iter().collect();
    for limit in [1, 2, 3, 5, 22, 100] {
        let (rows, pages) = all_pages(&server, &acme, "", limit).await;
        assert_eq!(ids(&rows), expected_order(&all), "limit {limit}");
        assert_eq!(pages, reports.len().div_ceil(limit).max(1), "limit {limit}");
    }
    // Filtered pages, through the three equal timestamps.
    let plivo_only: Vec<&Report> = reports
        .iter()
        .filter(|r| r.protocol == Protocol::Plivo)
        .collect();
    let (rows, _) = all_pages(&server, &acme, "protocol=plivo", 2).await;
    assert_eq!(ids(&rows), expected_order(&plivo_only));

    // Rows arriving between pages do not shift the pages already read.
    let page = server
        .ops_json(&acme.ops_token, "/api/v1/reports?limit=4")
        .await;
    let first = page["reports"].as_array().unwrap().clone();
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    server
        .commit_all(&[plivo(&acme.id, "newest", 60 * 48, 5.0, &[])])
        .await;
    let next = server
        .ops_json(
            &acme.ops_token,
            &format!("/api/v1/reports?limit=4&cursor={cursor}"),
        )
        .await;
    let order = expected_order(&all);
    assert_eq!(ids(&first), order[..4]);
    assert_eq!(ids(next["reports"].as_array().unwrap()), order[4..8]);
}

fn parse_csv(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .map(str::to_owned)
                .zip(rec.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// The CSV field a JSON row value should have produced.
fn as_field(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(";"),
        Value::Number(n) => {
            let f = n.as_f64().unwrap();
            if n.is_i64() {
                n.to_string()
            } else {
                f.to_string()
            }
        }
        other => other.to_string(),
    }
}

#[tokio::test]
async fn csv_streams_the_same_rows_as_json() {
    let (server, acme, globex) = TestServer::postgres().await;
    let reports = fixture(&acme.id);
    server.commit_all(&reports).await;
    // Enough rows for several internal pages (1000 each) of the export.
    let bulk: Vec<Report> = (0..2_345)
        .map(|i| {
            plivo(
                &acme.id,
                &format!("bulk-{i}"),
                24 * 60 + (i % 50),
                1.0 + (i % 5) as f64,
                &["ECHO"],
            )
        })
        .collect();
    server.store().insert_batch(&bulk).await.unwrap();
    server
        .commit_all(&[plivo(&globex.id, "globex-only", 10, 3.0, &["ECHO"])])
        .await;

    for (query, accept) in [
        ("format=csv", None),
        ("", Some("text/csv")),
        (
            "format=csv&protocol=plivo&issue=ECHO&since=2026-03-10",
            None,
        ),
        ("format=csv&limit=1500", None),
        ("format=csv&protocol=graph", None),
    ] {
        let mut request = server
            .client
            .get(server.url(&format!("/api/v1/reports?{query}")))
            .bearer_auth(&acme.ops_token);
        if let Some(a) = accept {
            request = request.header("accept", a);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{query}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let csv_rows = parse_csv(&response.text().await.unwrap());

        let json_query = query.replace("format=csv", "").replace("limit=1500", "");
        let (mut json_rows, _) = all_pages(&server, &acme, &json_query, 1000).await;
        if query.contains("limit=1500") {
            json_rows.truncate(1500);
        }
        assert_eq!(csv_rows.len(), json_rows.len(), "{query}");
        for (c, j) in csv_rows.iter().zip(&json_rows) {
            let j = j.as_object().unwrap();
            assert_eq!(c.len(), j.len(), "same columns");
            for (name, value) in j {
                if name == "received_at" {
                    let a: DateTime<Utc> = c[name].parse().unwrap();
                    let b: DateTime<Utc> = value.as_str().unwrap().parse().unwrap();
                    assert_eq!(a, b);
                } else if let Some(f) = value.as_f64().filter(|_| !value.is_i64()) {
                    assert_eq!(c[name].parse::<f64>().unwrap(), f, "{name}");
                } else {
                    assert_eq!(c[name], as_field(value), "{name}");
                }
            }
        }
        assert!(csv_rows.iter().all(|r| r["call_id"] != "globex-only"));
    }
}

// ---- statistics, by hand --------------------------------------------------

fn percentile_cont(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = p * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(v[lo] + (pos - lo as f64) * (v[hi] - v[lo]))
}

fn greatest(values: &[Option<f64>]) -> Option<f64> {
    values.iter().flatten().copied().reduce(f64::max)
}

/// What the stats endpoint should say about `reports`, computed here from
/// the definitions in docs/api.md (`GET /api/v1/stats`).
fn expected_group(reports: &[&Report]) -> Value {
    let ratings: Vec<f64> = reports.iter().filter_map(|r| r.rating).collect();
    let n = ratings.len() as f64;
    let mean = (!ratings.is_empty()).then(|| ratings.iter().sum::<f64>() / n);
    let stddev = (ratings.len() >= 2).then(|| {
        let m = mean.unwrap();
        (ratings.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    });
    let mut distribution: BTreeMap<String, i64> = BTreeMap::new();
    for r in &ratings {
        *distribution.entry(format!("{r}")).or_default() += 1;
    }
    let mut issues: BTreeMap<String, i64> = BTreeMap::new();
    for r in reports {
        for i in &r.issues {
            *issues.entry(i.clone()).or_default() += 1;
        }
    }
    let streams: Vec<&MediaStream> = reports.iter().flat_map(|r| &r.streams).collect();
    let typical = |avg: fn(&MediaStream) -> [Option<f64>; 2],
                   max: fn(&MediaStream) -> [Option<f64>; 2]|
     -> Vec<f64> {
        streams
            .iter()
            .filter_map(|s| greatest(&avg(s)).or(greatest(&max(s))))
            .collect()
    };
    let pct = |values: Vec<f64>| {
        serde_json::json!({
            "count": values.len(),
            "p50": percentile_cont(&values, 0.5),
            "p90": percentile_cont(&values, 0.9),
            "p99": percentile_cont(&values, 0.99),
        })
    };
    serde_json::json!({
        "reports": reports.len(),
        "rating": {
            "count": ratings.len(),
            "mean": mean,
            "median": percentile_cont(&ratings, 0.5),
            "stddev": stddev,
            "distribution": distribution,
        },
        "issues": issues,
        "jitter_ms": pct(typical(
            |s| [s.avg_inbound_jitter_ms, s.avg_outbound_jitter_ms],
            |s| [s.max_inbound_jitter_ms, s.max_outbound_jitter_ms])),
        "loss_pct": pct(typical(
            |s| [s.avg_inbound_loss_pct, s.avg_outbound_loss_pct],
            |s| [s.max_inbound_loss_pct, s.max_outbound_loss_pct])),
        "rtt_ms": pct(typical(
            |s| [s.avg_inbound_rtt_ms, s.avg_outbound_rtt_ms],
            |s| [s.max_inbound_rtt_ms, s.max_outbound_rtt_ms])),
        "mos": pct(streams.iter().filter_map(|s| s.mos).collect()),
    })
}

/// Reports by the group key they should fall under.
type Expected<'a> = BTreeMap<Option<String>, Vec<&'a Report>>;

fn check_groups(answer: &Value, expected: &Expected) {
    let groups = answer["groups"].as_array().unwrap();
    let keys: Vec<Option<String>> = groups
        .iter()
        .map(|g| g["key"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(keys, expected.keys().cloned().collect::<Vec<_>>());
    for (g, (key, reports)) in groups.iter().zip(expected) {
        assert_close(g, &expected_group(reports), &format!("group {key:?}"));
    }
}

#[tokio::test]
async fn stats_match_values_computed_by_hand() {
    let (server, acme, globex) = TestServer::postgres().await;
    let reports = fixture(&acme.id);
    server.commit_all(&reports).await;
    server.commit_all(&fixture(&globex.id)[..5]).await;

    let day1: Vec<&Report> = reports
        .iter()
        .filter(|r| r.received_at < "2026-03-11T00:00:00Z".parse::<DateTime<Utc>>().unwrap())
        .collect();

    // One group over the day.
    let answer = server
        .ops_json(
            &acme.ops_token,
            "/api/v1/stats?since=2026-03-10&until=2026-03-11",
        )
        .await;
    assert_eq!(answer["since"], "2026-03-10T00:00:00Z");
    assert_eq!(answer["group_by"], Value::Null);
    check_groups(&answer, &BTreeMap::from([(None, day1.clone())]));

    // By protocol.
    let mut by_protocol: Expected = BTreeMap::new();
    for r in &day1 {
        by_protocol
            .entry(Some(r.protocol.as_str().to_owned()))
            .or_default()
            .push(r);
    }
    let answer = server
        .ops_json(
            &acme.ops_token,
            "/api/v1/stats?since=2026-03-10&until=2026-03-11&group_by=protocol",
        )
        .await;
    check_groups(&answer, &by_protocol);

    // By kind, device, day and hour over everything.
    let all: Vec<&Report> = reports.iter().collect();
    let group = |key: &dyn Fn(&Report) -> Option<String>| {
        let mut m: Expected = BTreeMap::new();
        for r in &all {
            m.entry(key(r)).or_default().push(r);
        }
        m
    };
    let cases: Vec<(&str, Expected)> = vec![
        ("kind", group(&|r| Some(r.kind.as_str().to_owned()))),
        ("device", group(&|r| r.device_name.clone())),
        (
            "day",
            group(&|r| Some(r.received_at.format("%Y-%m-%d").to_string())),
        ),
        (
            "hour",
            group(&|r| Some(r.received_at.format("%Y-%m-%dT%H:00:00Z").to_string())),
        ),
    ];
    for (by, expected) in cases {
        let answer = server
            .ops_json(&acme.ops_token, &format!("/api/v1/stats?group_by={by}"))
            .await;
        check_groups(&answer, &expected);
    }

    // By issue: a report counts under each of its issues; no issue → null key.
    let mut by_issue: Expected = BTreeMap::new();
    for r in &all {
        if r.issues.is_empty() {
            by_issue.entry(None).or_default().push(r);
        }
        for i in &r.issues {
            by_issue.entry(Some(i.clone())).or_default().push(r);
        }
    }
    let answer = server
        .ops_json(&acme.ops_token, "/api/v1/stats?group_by=issue")
        .await;
    check_groups(&answer, &by_issue);

    // An empty range still answers one (empty) group.
    let empty = server
        .ops_json(
            &acme.ops_token,
            "/api/v1/stats?since=2020-01-01&until=2020-01-02",
        )
        .await;
    assert_eq!(empty["groups"].as_array().unwrap().len(), 1);
    assert_eq!(empty["groups"][0]["reports"], 0);
    assert_eq!(empty["groups"][0]["rating"]["mean"], Value::Null);
}

#[tokio::test]
async fn a_tenant_never_sees_another_tenants_data() {
    let (server, acme, globex) = TestServer::postgres().await;
    let acme_reports = fixture(&acme.id);
    let globex_reports: Vec<Report> = fixture(&globex.id).into_iter().take(7).collect();
    server.commit_all(&acme_reports).await;
    server.commit_all(&globex_reports).await;

    for (t, own) in [(&acme, &acme_reports), (&globex, &globex_reports)] {
        let own_ids: BTreeSet<String> = own.iter().map(|r| r.id.to_string()).collect();
        let (rows, _) = all_pages(&server, t, "", 3).await;
        assert_eq!(
            ids(&rows).into_iter().collect::<BTreeSet<_>>(),
            own_ids,
            "{}",
            t.id
        );
        let csv = server
            .ops_get(&t.ops_token, "/api/v1/reports?format=csv")
            .await
            .text()
            .await
            .unwrap();
        let csv_ids: BTreeSet<String> = parse_csv(&csv)
            .into_iter()
            .map(|r| r["id"].clone())
            .collect();
        assert_eq!(csv_ids, own_ids);
        let stats = server.ops_json(&t.ops_token, "/api/v1/stats").await;
        assert_eq!(stats["groups"][0]["reports"], own.len());
        // The same call id exists for both; each sees only its own reports.
        let call = server
            .ops_json(
                &t.ops_token,
                "/api/v1/calls/0b8e3f9a-1c2d-4e5f-8a9b-0c1d2e3f4a01",
            )
            .await;
        assert_eq!(call["reports"].as_array().unwrap().len(), 1);
        assert_eq!(call["reports"][0]["tenant"], t.id.as_str());
    }
    // Ids of the other tenant are not found.
    for r in &globex_reports {
        let response = server
            .ops_get(&acme.ops_token, &format!("/api/v1/reports/{}", r.id))
            .await;
        assert_eq!(response.status(), 404);
    }
    let only_acme = server
        .ops_get(&globex.ops_token, "/api/v1/calls/app1/conv2")
        .await;
    assert_eq!(only_acme.status(), 404);
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let (server, acme, _globex) = TestServer::postgres().await;
    for (path, parameter) in [
        ("/api/v1/reports?protocol=sip", "protocol"),
        ("/api/v1/reports?kind=complaint", "kind"),
        ("/api/v1/reports?since=last-week", "since"),
        ("/api/v1/reports?since=2026-03-11&until=2026-03-10", "until"),
        ("/api/v1/reports?min_rating=6", "min_rating"),
        ("/api/v1/reports?max_rating=x", "max_rating"),
        ("/api/v1/reports?limit=0", "limit"),
        ("/api/v1/reports?limit=5000", "limit"),
        ("/api/v1/reports?cursor=bogus", "cursor"),
        ("/api/v1/reports?format=xml", "format"),
        ("/api/v1/reports?colour=red", "colour"),
        ("/api/v1/reports?limit=1&limit=2", "limit"),
        ("/api/v1/stats?group_by=week", "group_by"),
        ("/api/v1/stats?until=tomorrow", "until"),
        ("/api/v1/stats?limit=5", "limit"),
        ("/api/v1/reports/12345", "id"),
    ] {
        let response = server.ops_get(&acme.ops_token, path).await;
        assert_eq!(response.status(), 400, "{path}");
        let body = json_body(response).await;
        assert_eq!(body["error"], "invalid_parameter", "{path}");
        assert_eq!(body["parameter"], parameter, "{path}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    // Wrong method and unknown ops paths answer in the same JSON shape.
    let response = server
        .client
        .post(server.url("/api/v1/reports"))
        .bearer_auth(&acme.ops_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "method_not_allowed"
    );
    let response = server
        .ops_get(&acme.ops_token, "/api/v1/nothing-here")
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "not_found"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401() {
    let (server, acme, _globex) = TestServer::postgres().await;
    server.commit_all(&fixture(&acme.id)[..2]).await;
    let paths = [
        "/api/v1/reports",
        "/api/v1/reports?format=csv",
        "/api/v1/reports/0194f0a4-3c3e-7cc0-8e0e-6d1f1a2b3c4d",
        "/api/v1/calls/chain-1",
        "/api/v1/stats",
        // Parameters are not even looked at before authentication.
        "/api/v1/reports?protocol=sip",
    ];
    for path in paths {
        let none = server.get(path).await;
        assert_eq!(none.status(), 401, "{path}");
        assert!(
            none.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert_eq!(none.json::<Value>().await.unwrap()["error"], "unauthorized");
        // Tokens of the ingest styles are not ops tokens.
        for token in [
            "not-a-token",
            acme.graph_token.as_str(),
            acme.ucwa_token.as_str(),
        ] {
            let wrong = server.ops_get(token, path).await;
            assert_eq!(wrong.status(), 401, "{path} with {token}");
            assert!(
                wrong.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .contains("invalid_token")
            );
        }
        let basic = server
            .client
            .get(server.url(path))
            .basic_auth(&acme.plivo_auth_id, Some(&acme.plivo_auth_token))
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status(), 401, "{path} with Basic");
    }
}

#[tokio::test]
async fn metrics_show_requests_commits_and_the_writer_after_ingest() {
    let (server, acme, _globex) = TestServer::postgres().await;
    server.commit_all(&fixture(&acme.id)).await;
    server.ops_json(&acme.ops_token, "/api/v1/stats").await;
    let _ = server.get("/api/v1/stats").await;
    let text = server.metrics().await;
    let value = |series: &str| -> f64 {
        crate::support::metric_value(&text, series)
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    // Other tests in this binary share the process-wide recorder, so
    // counters are at least, not exactly, what this test did.
    assert!(value("callq_reports_committed_total") >= 22.0);
    assert!(value("callq_writer_batch_size_count") >= 1.0);
    assert!(value("callq_writer_flush_seconds_count") >= 1.0);
    assert!(text.contains("callq_writer_batch_size_bucket{le=\"1\"}"));
    assert!(text.contains("callq_writer_flush_seconds_bucket{le=\"0.005\"}"));
    value("callq_writer_queue_depth");
    value("callq_writer_rejected_total{reason=\"overload\"}");
    assert!(
        value("callq_http_requests_total{style=\"ops\",outcome=\"accepted\",status=\"200\"}")
            >= 1.0
    );
    assert!(
        value("callq_http_requests_total{style=\"ops\",outcome=\"rejected\",status=\"401\"}")
            >= 1.0
    );
    assert!(text.contains("# HELP callq_writer_rejected_total"));
}

/// The global fallback's body: what a path no router knows gets.
fn is_global_404(status: u16, body: &str) -> bool {
    status == 404 && body.contains("\"No such resource.\"")
}

#[tokio::test]
async fn the_openapi_document_matches_the_real_routes() {
    let (server, acme, _globex) = TestServer::postgres().await;
    let doc: Value = server.get("/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        let path = template
            .replace("{applicationId}", "app1")
            .replace("{conversationId}", "conv1")
            .replace("{call_uuid}", "0b8e3f9a-1c2d-4e5f-8a9b-0c1d2e3f4a01")
            .replace("{id}", "0194f0a4-3c3e-7cc0-8e0e-6d1f1a2b3c4d")
            .replace("{call_id}", "chain-1");
        assert!(!path.contains('{'), "unsubstituted parameter in {template}");
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| ["get", "post"].contains(&k.as_str()))
        {
            let request = match method.as_str() {
                "get" => server.client.get(server.url(&path)),
                _ => server
                    .client
                    .post(server.url(&path))
                    .header("content-type", "application/json")
                    .body("{}"),
            };
            let response = request.bearer_auth(&acme.ops_token).send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert!(
                !is_global_404(status, &body),
                "{method} {template} is documented but not routed"
            );
            if callq::telemetry::style_of(&path) != "other"
                && callq::telemetry::style_of(&path) != "ops"
            {
                // An ingest route that exists authenticates before anything
                // else, and an ops token is no credential of any style: only
                // the real handler answers 401 (a style's catch-all says 404).
                assert_eq!(status, 401, "{method} {template}: {body}");
            }
            assert!(
                status != 405,
                "{method} {template}: documented method not allowed"
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} operations checked");
    // And the reverse for the ops API: every route it serves is documented.
    for p in [
        "/api/v1/reports",
        "/api/v1/reports/{id}",
        "/api/v1/calls/{call_id}",
        "/api/v1/stats",
        "/openapi.json",
        "/metrics",
        "/healthz",
        "/readyz",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} is not documented");
    }
}

// ---- SQLite gives the same answers ----------------------------------------

#[tokio::test]
async fn sqlite_answers_the_read_queries_like_postgres() {
    let (server, acme, globex) = TestServer::postgres().await;
    let (lite, _dir) = crate::support::sqlite_store().await;
    let pg = server.store();
    let mut reports = fixture(&acme.id);
    reports.extend(fixture(&globex.id).into_iter().take(4));
    pg.insert_batch(&reports).await.unwrap();
    lite.insert_batch(&reports).await.unwrap();

    let filters = [
        ReportFilter::default(),
        ReportFilter {
            protocol: Some(Protocol::Plivo),
            min_rating: Some(2.0),
            max_rating: Some(4.5),
            ..Default::default()
        },
        ReportFilter {
            issue: Some("ECHO".into()),
            since: Some(at(0)),
            until: Some(at(27 * 60)),
            ..Default::default()
        },
        ReportFilter {
            call_id: Some("shared-call-1".into()),
            ..Default::default()
        },
        ReportFilter {
            kind: Some(Kind::DeviceQuality),
            ..Default::default()
        },
    ];
    for filter in &filters {
        // Page through both with a small page size: the keyset works the same.
        let mut after = None;
        loop {
            let a = pg.list_reports(&acme.id, filter, after, 4).await.unwrap();
            let b = lite.list_reports(&acme.id, filter, after, 4).await.unwrap();
            assert_eq!(a, b, "{filter:?}");
            match a.last() {
                Some(last) if a.len() == 4 => {
                    after = Some(callq::store::query::Cursor::after(last))
                }
                _ => break,
            }
        }
    }
    let all = pg
        .list_reports(&acme.id, &ReportFilter::default(), None, 1000)
        .await
        .unwrap();
    assert_eq!(all.len(), 22);
    assert!(
        all.iter()
            .any(|r| r.worst_jitter_ms == Some(180.0) && r.stream_count == 2)
    );

    for group_by in [
        None,
        Some(GroupBy::Protocol),
        Some(GroupBy::Kind),
        Some(GroupBy::Issue),
        Some(GroupBy::Device),
        Some(GroupBy::Hour),
        Some(GroupBy::Day),
    ] {
        let query = StatsQuery {
            filter: ReportFilter {
                since: Some(at(-60)),
                ..Default::default()
            },
            group_by,
        };
        let a = serde_json::to_value(pg.stats(&acme.id, &query).await.unwrap()).unwrap();
        let b = serde_json::to_value(lite.stats(&acme.id, &query).await.unwrap()).unwrap();
        assert_eq!(
            a.as_array().unwrap().len(),
            b.as_array().unwrap().len(),
            "{group_by:?}"
        );
        assert_close(&b, &a, &format!("{group_by:?}"));
        assert_close(&a, &b, &format!("{group_by:?}"));
    }
    lite.close().await;
}
