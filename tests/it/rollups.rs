//! Statistics from hourly rollups (docs/rollups.md) agree with the raw
//! computation: counts, sums and means exactly (1e-9 for float sums),
//! percentiles within the sketch's relative error. Reports spread over three
//! days with partial edge hours, retries (keyed and keyless) and HTTP
//! retries that must each count once; PostgreSQL and SQLite.

use callq::model::{Kind, MediaStream, Modality, Protocol, Report};
use callq::store::Store;
use callq::store::query::{GroupBy, ReportFilter, StatsQuery};
use callq::store::rollup::RELATIVE_ERROR;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::support::{Backend, TestServer, TestTenant, assert_close, metric_value, pg, settings};

fn start() -> DateTime<Utc> {
    "2026-02-01T00:00:00Z".parse().unwrap()
}

/// Report `n`: every 7 min 13 s from `start`, styles, ratings (with halves),
/// issues and streams (zeros, missing metrics, video, poor audio) mixed.
fn report(tenant: &str, n: i64) -> Report {
    let (protocol, kind) = match n % 4 {
        0 => (Protocol::Plivo, Kind::Feedback),
        1 => (Protocol::Graph, Kind::DeviceQuality),
        2 => (Protocol::Ucwa, Kind::Feedback),
        _ => (Protocol::Ucwa, Kind::Diagnostics),
    };
    let mut r = Report::new(tenant, protocol, kind, format!("call-{n}"), "{}");
    r.received_at = start() + Duration::seconds(433 * n) + Duration::microseconds(n % 997);
    let h = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    r.rating = match n % 5 {
        0 => None,
        1 => Some(4.5),
        k => Some(k as f64),
    };
    r.issues = match n % 3 {
        0 => vec![],
        1 => vec!["ECHO".into()],
        _ => vec!["ECHO".into(), "AUDIO_LAG".into()],
    };
    let packets = Some(300 + (h % 2000) as i64);
    let f = (h % 1000) as f64 / 1000.0;
    r.streams = vec![
        MediaStream {
            ordinal: 0,
            modality: Some(Modality::Audio),
            inbound_packets: packets,
            avg_inbound_jitter_ms: Some(if n % 7 == 0 { 0.0 } else { 60.0 * f }),
            avg_inbound_loss_pct: Some(15.0 * f * f),
            avg_inbound_rtt_ms: (n % 6 != 0).then_some(20.0 + 700.0 * f),
            ..MediaStream::default()
        },
        MediaStream {
            ordinal: 1,
            modality: Some(Modality::Video),
            max_outbound_jitter_ms: Some(3.0 + f),
            mos: Some(1.0 + 4.0 * f),
            ..MediaStream::default()
        },
    ];
    if n % 11 == 0 {
        r.streams.truncate(0);
    }
    r
}

/// The queries the rollups answer: edges at odd minutes, every covered
/// grouping, style and kind filters, open ranges.
fn queries() -> Vec<StatsQuery> {
    let t = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
    let ranges = [
        (t("2026-02-01T03:17:00Z"), t("2026-02-03T20:41:30Z")),
        (None, None),
        (t("2026-02-02T00:00:00Z"), t("2026-02-02T05:00:00Z")),
        (t("2026-02-02T10:05:00Z"), t("2026-02-02T15:55:00Z")),
        (t("2026-02-01T22:10:00Z"), None),
    ];
    let mut out = Vec::new();
    for (since, until) in ranges {
        for group_by in [
            None,
            Some(GroupBy::Protocol),
            Some(GroupBy::Kind),
            Some(GroupBy::Hour),
            Some(GroupBy::Day),
        ] {
            out.push(StatsQuery {
                filter: ReportFilter {
                    since,
                    until,
                    ..ReportFilter::default()
                },
                group_by,
            });
        }
    }
    let mut filtered = out[0].clone();
    filtered.filter.protocol = Some(Protocol::Ucwa);
    out.push(filtered.clone());
    filtered.filter.kind = Some(Kind::Diagnostics);
    filtered.group_by = Some(GroupBy::Day);
    out.push(filtered);
    out
}

fn path_of(q: &StatsQuery) -> String {
    let mut params = Vec::new();
    let f = &q.filter;
    if let Some(s) = f.since {
        params.push(format!("since={}", s.to_rfc3339()));
    }
    if let Some(u) = f.until {
        params.push(format!("until={}", u.to_rfc3339()));
    }
    if let Some(p) = f.protocol {
        params.push(format!("protocol={p}"));
    }
    if let Some(k) = f.kind {
        params.push(format!("kind={k}"));
    }
    if let Some(g) = q.group_by {
        params.push(format!("group_by={g}"));
    }
    format!(
        "/api/v1/stats?{}",
        params.join("&").replace('+', "%2B").replace(':', "%3A")
    )
}

/// Numbers equal within `tolerance` (relative), everything else exactly.
fn assert_near(got: &Value, want: &Value, tolerance: f64, at: &str) {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (a - b).abs() <= tolerance * b.abs() + 1e-12,
                "{at}: {a} vs raw {b}"
            );
        }
        (Value::Object(a), Value::Object(b)) => {
            let keys = |o: &serde_json::Map<String, Value>| o.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(b), "{at}: keys");
            for (k, v) in b {
                let tol = if ["p10", "p50", "p90", "p99"].contains(&k.as_str()) {
                    RELATIVE_ERROR
                } else if ["mean", "median", "stddev", "poor_rate"].contains(&k.as_str()) {
                    1e-9
                } else {
                    tolerance
                };
                assert_near(&a[k], v, tol, &format!("{at}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{at}: lengths");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_near(x, y, tolerance, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

async fn rollup_answers(server: &TestServer) -> f64 {
    metric_value(
        &server.metrics().await,
        "callq_stats_answers_total{source=\"rollups\"}",
    )
    .unwrap_or(0.0)
}

/// Every query through the API (rollups) against the raw computation.
async fn compare(server: &TestServer, tenant: &TestTenant, store: &Store, queries: &[StatsQuery]) {
    let before = rollup_answers(server).await;
    for q in queries {
        let path = path_of(q);
        let api = server.ops_json(&tenant.ops_token, &path).await;
        let raw = serde_json::to_value(store.stats_raw(&tenant.id, q).await.unwrap()).unwrap();
        assert!(
            raw.as_array().unwrap().iter().any(|g| g["reports"] != 0),
            "{path}: the raw answer has reports"
        );
        assert_near(&api["groups"], &raw, 0.0, &path);
    }
    let after = rollup_answers(server).await;
    assert!(
        after - before >= queries.len() as f64,
        "every query was answered from rollups ({before} → {after})"
    );
}

async fn rollups_agree_with_raw_rows(backend: Backend) {
    let acme = TestTenant::new("acme");
    let globex = TestTenant::new("globex");
    let server = TestServer::on(backend, &[acme.clone(), globex.clone()], |s| {
        s.rollup_interval_secs = 0; // rolled up by the test, at chosen points
    })
    .await;
    let store = server.store().clone();
    let mut reports = Vec::new();
    for n in 0..640 {
        let tenant = if n % 5 == 4 { &globex.id } else { &acme.id };
        let mut r = report(tenant, n);
        if n % 9 == 0 {
            r.idempotency_key = Some(format!("key-{n}"));
        }
        reports.push(r);
    }
    server.commit_all(&reports).await;
    // Retries of keyed reports: stored once, counted once.
    for r in reports.iter().filter(|r| r.idempotency_key.is_some()) {
        let mut again = r.clone();
        again.id = uuid::Uuid::now_v7();
        assert!(server.commit(again).await.duplicate);
    }
    // Reports of now over HTTP, each sent twice: with one key, or keyless
    // and identical (a retry within the retry window).
    for i in 0..6 {
        let body = json!({ "rating": 1 + i % 5, "issues": ["ECHO"] }).to_string();
        let call = uuid::Uuid::new_v4().to_string();
        for _ in 0..2 {
            let mut request = server.plivo(&acme, &call, body.clone());
            if i % 2 == 0 {
                request = request.header("idempotency-key", format!("http-{i}"));
            }
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
        }
    }
    assert_eq!(store.rollup_progress().await.unwrap(), None);

    // Part rolled up: rollups, then raw rows for the rest of the range.
    let done = store
        .roll_up("2026-02-02T13:30:00Z".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        done.next_hour,
        Some("2026-02-02T13:00:00Z".parse().unwrap())
    );
    assert_eq!(done.hours, 37);
    // A second call has nothing to do: idempotent.
    let again = store
        .roll_up("2026-02-02T13:59:00Z".parse().unwrap())
        .await
        .unwrap();
    assert_eq!((again.hours, again.next_hour), (0, done.next_hour));
    // Ranges ending within MAX_RAW_SPAN of the mark: hours before it from
    // rollups, the partial hours and those after it from raw rows.
    let partial: Vec<StatsQuery> = queries()
        .into_iter()
        .filter(|q| {
            q.filter
                .until
                .is_some_and(|u| u <= "2026-02-02T16:00:00Z".parse::<DateTime<Utc>>().unwrap())
        })
        .collect();
    assert_eq!(partial.len(), 10);
    compare(&server, &acme, &store, &partial).await;

    // Everything rolled up, the HTTP reports' hour included.
    let all = store
        .roll_up(Utc::now() + Duration::hours(2))
        .await
        .unwrap();
    assert!(all.hours > 24, "{all:?}");
    compare(&server, &acme, &store, &queries()).await;
    compare(&server, &globex, &store, &queries()).await;
    let everything = StatsQuery::default();
    let groups = store.stats(&acme.id, &everything).await.unwrap();
    assert_eq!(
        groups[0].reports,
        store.count_reports(&acme.id).await.unwrap()
    );
    assert_eq!(groups[0].reports, 512 + 6);
}

#[tokio::test]
async fn postgres_stats_from_rollups_agree_with_raw_rows() {
    rollups_agree_with_raw_rows(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_stats_from_rollups_agree_with_raw_rows() {
    rollups_agree_with_raw_rows(Backend::Sqlite).await;
}

/// Queries the rollup key does not cover (group by issue, device or error
/// code through the API; an issue, rating or device filter through the
/// store) are answered from raw rows: exactly.
#[tokio::test]
async fn uncovered_queries_are_answered_from_raw_rows_exactly() {
    let acme = TestTenant::new("acme");
    let server = TestServer::on(Backend::Postgres, std::slice::from_ref(&acme), |s| {
        s.rollup_interval_secs = 0;
    })
    .await;
    let store = server.store().clone();
    let reports: Vec<Report> = (0..200).map(|n| report(&acme.id, n)).collect();
    server.commit_all(&reports).await;
    store.roll_up(Utc::now()).await.unwrap();
    for by in [GroupBy::Issue, GroupBy::Device, GroupBy::ErrorCode] {
        let api = server
            .ops_json(&acme.ops_token, &format!("/api/v1/stats?group_by={by}"))
            .await;
        let query = StatsQuery {
            group_by: Some(by),
            ..StatsQuery::default()
        };
        let raw = serde_json::to_value(store.stats_raw(&acme.id, &query).await.unwrap()).unwrap();
        // JSON parsing may differ from the f64 in the last digit.
        assert_close(&api["groups"], &raw, &format!("group_by={by}"));
    }
    for filter in [
        ReportFilter {
            issue: Some("ECHO".into()),
            ..ReportFilter::default()
        },
        ReportFilter {
            min_rating: Some(3.0),
            ..ReportFilter::default()
        },
        ReportFilter {
            device: Some("none".into()),
            ..ReportFilter::default()
        },
    ] {
        let query = StatsQuery {
            filter,
            group_by: None,
        };
        assert_eq!(
            store.stats(&acme.id, &query).await.unwrap(),
            store.stats_raw(&acme.id, &query).await.unwrap(),
            "{query:?}"
        );
    }
}

/// Reports stored before the catch-up ever ran (as on a database upgraded
/// to 0007) are rolled up by the server's own task at start, after which
/// the API answers from rollups, equal to the raw computation.
#[tokio::test]
async fn the_server_backfills_stored_reports_at_start() {
    let acme = TestTenant::new("acme");
    let url = pg::fresh_database().await;
    let store = Store::open(&url, &Default::default()).unwrap();
    store.migrate().await.unwrap();
    let reports: Vec<Report> = (0..300)
        .map(|n| {
            let mut r = report(&acme.id, n);
            r.derive_stream_quality();
            r
        })
        .collect();
    store.insert_batch(&reports).await.unwrap();
    store.close().await;
    let mut s = settings(url, std::slice::from_ref(&acme));
    s.request_timeout_secs = 1;
    s.flush_timeout_secs = 1;
    s.rollup_grace_secs = 2;
    s.rollup_interval_secs = 1;
    let server = TestServer::start(s).await;
    let data_end: DateTime<Utc> = "2026-02-02T12:00:00Z".parse().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mark = server.store().rollup_progress().await.unwrap();
        if mark.is_some_and(|m| m > data_end) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not rolled up: {mark:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let store = server.store().clone();
    let covered: Vec<StatsQuery> = queries()
        .into_iter()
        .filter(|q| q.filter.since.is_none_or(|s| s < data_end))
        .collect();
    compare(&server, &acme, &store, &covered).await;
}

/// Two processes catching up at once (two stores on one PostgreSQL
/// database, as two replicas): each hour is rolled up once, by one of them,
/// and the statistics still equal the raw computation.
#[tokio::test]
async fn concurrent_catch_ups_roll_each_hour_up_once() {
    let url = pg::fresh_database().await;
    let a = Store::open(&url, &Default::default()).unwrap();
    a.migrate().await.unwrap();
    let b = Store::open(&url, &Default::default()).unwrap();
    let reports: Vec<Report> = (0..400)
        .map(|n| {
            let mut r = report("acme", n);
            r.derive_stream_quality();
            r
        })
        .collect();
    a.insert_batch(&reports).await.unwrap();
    let limit: DateTime<Utc> = "2026-02-03T00:00:00Z".parse().unwrap();
    let (x, y) = tokio::join!(a.roll_up(limit), b.roll_up(limit));
    let (x, y) = (x.unwrap(), y.unwrap());
    // 48 hours, split between the two however the lock fell; the one that
    // found it taken stopped (busy) and left the rest to the other.
    assert_eq!(x.hours + y.hours, 48, "{x:?} {y:?}");
    assert_eq!(a.rollup_progress().await.unwrap(), Some(limit));
    let Store::Postgres(pool) = &a else {
        panic!("PostgreSQL")
    };
    let (rows, hours): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT hour) FROM stats_rollups")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((rows, hours), (48 * 4, 48));
    let query = StatsQuery {
        filter: ReportFilter {
            until: Some(limit),
            ..ReportFilter::default()
        },
        group_by: Some(GroupBy::Hour),
    };
    let rolled = serde_json::to_value(a.stats("acme", &query).await.unwrap()).unwrap();
    let raw = serde_json::to_value(a.stats_raw("acme", &query).await.unwrap()).unwrap();
    assert_near(&rolled, &raw, 0.0, "group_by=hour");
    a.close().await;
    b.close().await;
}
