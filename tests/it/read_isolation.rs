//! Read-side isolation (issue 10 item 6), over real HTTP against a real
//! PostgreSQL, and SQLite where it applies: the read API has its own pool
//! and statement timeout, so heavy reads never cost ingestion a 2xx; a read
//! past its timeout answers 503 JSON; the call view is bounded in bytes.
//! (The owner-only data files are in first_start.rs.)

use std::time::{Duration, Instant};

use callq::model::{Kind, Protocol, Report};
use callq::store::{ReadOptions, Store};
use serde_json::Value;

use crate::support::{self, Backend, TestServer, TestTenant, pg};

fn plivo_report(tenant: &str, call: &str, raw: String) -> Report {
    let mut r = Report::new(tenant, Protocol::Plivo, Kind::Feedback, call, raw);
    r.rating = Some(4.0);
    r
}

fn call_uuid(i: usize) -> String {
    format!("0b7f3a5c-3d6a-4f56-9a4e-{i:012x}")
}

/// Heavy reads (CSV exports of every report, call views of a 300-report
/// call, statistics) from 12 clients on a read pool of 2 connections, while
/// 160 Plivo feedbacks arrive: every ingest request is answered 201 and
/// stored; no read is answered anything but 200 or 503.
#[tokio::test]
async fn heavy_reads_while_ingesting_cost_ingestion_nothing() {
    let acme = TestTenant::new("acme");
    let server = TestServer::on(Backend::Postgres, std::slice::from_ref(&acme), |s| {
        s.database_read_max_connections = 2;
    })
    .await;
    for i in 0..300 {
        let raw = format!("{{\"rating\": 4, \"notes\": \"{}\"}}", "n".repeat(i % 50));
        server
            .commit(plivo_report(&acme.id, "busy-call", raw))
            .await;
    }

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut readers = Vec::new();
    for r in 0..12 {
        let client = server.client.clone();
        let base = server.base.clone();
        let token = acme.ops_token.clone();
        readers.push(tokio::spawn(async move {
            let paths = [
                "/api/v1/reports?format=csv",
                "/api/v1/calls/busy-call",
                "/api/v1/stats?group_by=protocol",
            ];
            let mut statuses = Vec::new();
            for i in 0..8 {
                if Instant::now() > deadline {
                    break;
                }
                let path = paths[(r + i) % paths.len()];
                let response = client
                    .get(format!("{base}{path}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("read request");
                let status = response.status().as_u16();
                let _ = response.bytes().await;
                statuses.push((path, status));
            }
            statuses
        }));
    }
    let mut writers = Vec::new();
    for w in 0..8 {
        let client = server.client.clone();
        let url = server.url("");
        let (id, token) = (acme.plivo_auth_id.clone(), acme.plivo_auth_token.clone());
        writers.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..20 {
                let call = call_uuid(w * 100 + i);
                let response = client
                    .post(format!("{url}/v1/Call/{call}/Feedback/"))
                    .basic_auth(&id, Some(&token))
                    .header("content-type", "application/json")
                    .body(r#"{"rating": 3, "issues": ["ECHO"]}"#)
                    .send()
                    .await
                    .expect("ingest request");
                statuses.push(response.status().as_u16());
            }
            statuses
        }));
    }
    let mut ingest = Vec::new();
    for w in writers {
        ingest.extend(w.await.unwrap());
    }
    let mut reads = Vec::new();
    for r in readers {
        reads.extend(r.await.unwrap());
    }
    assert_eq!(ingest.len(), 160);
    assert!(
        ingest.iter().all(|s| *s == 201),
        "every ingest request is stored: {ingest:?}"
    );
    assert_eq!(server.count(&acme.id).await, 300 + 160);
    assert!(
        reads.iter().all(|(_, s)| *s == 200 || *s == 503),
        "reads answer 200 or 503, never 500: {reads:?}"
    );
    assert!(
        reads.iter().filter(|(_, s)| *s == 200).count() >= 12,
        "reads were served too: {reads:?}"
    );
}

/// A read statement that runs past `read_statement_timeout_secs` is
/// cancelled by PostgreSQL and answered 503 in the read API's JSON, with
/// Retry-After; ingestion, on its own pool, is not held up meanwhile.
#[tokio::test]
async fn a_read_past_its_statement_timeout_answers_503_json() {
    let acme = TestTenant::new("acme");
    let url = pg::fresh_database().await;
    let mut settings = support::settings(url.clone(), std::slice::from_ref(&acme));
    settings.read_statement_timeout_secs = 1;
    let server = TestServer::start(settings).await;
    server
        .commit(plivo_report(&acme.id, "c1", "{}".into()))
        .await;

    // A lock that blocks readers of `reports` (and writers) until released:
    // the read statement waits on it past its timeout.
    let admin = Store::open(&url, &Default::default()).unwrap();
    let Store::Postgres(pool) = &admin else {
        unreachable!()
    };
    let mut locker = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE reports IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *locker)
        .await
        .unwrap();
    let started = Instant::now();
    let response = server.ops_get(&acme.ops_token, "/api/v1/calls/c1").await;
    let waited = started.elapsed();
    let retry_after = response.headers().get("retry-after").cloned();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    locker.rollback().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable", "{body}");
    assert!(retry_after.is_some(), "Retry-After is sent");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "cancelled by the 1 s statement timeout, not the 30 s request timeout: {waited:?}"
    );
    // The lock is gone: reads work again.
    let again = server.ops_get(&acme.ops_token, "/api/v1/calls/c1").await;
    assert_eq!(again.status(), 200);
}

/// The read pool is bounded and read-only on both backends: PostgreSQL
/// cancels a statement at the deadline, SQLite interrupts one, and both
/// errors count as "unavailable" (503, retry later), and neither pool can
/// write.
#[tokio::test]
async fn the_read_pool_times_out_and_cannot_write_on_both_backends() {
    let options = ReadOptions {
        max_connections: 2,
        acquire_timeout: Duration::from_secs(3),
        statement_timeout: Duration::from_millis(300),
    };
    // PostgreSQL.
    let url = pg::fresh_database().await;
    Store::open(&url, &Default::default())
        .unwrap()
        .migrate()
        .await
        .unwrap();
    let reads = Store::open_read(&url, &options).unwrap();
    let Store::Postgres(pool) = &reads else {
        unreachable!()
    };
    let started = Instant::now();
    let err = sqlx::query("SELECT pg_sleep(5)")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "cancelled early"
    );
    assert!(
        callq::store::StoreError::from(err).is_unavailable(),
        "a cancelled read is a 503"
    );
    let write = sqlx::query("DELETE FROM reports").execute(pool).await;
    assert!(write.is_err(), "the read pool is read-only");

    // SQLite: a query that would never end is interrupted at the deadline,
    // and the next acquisition gets a fresh deadline.
    let (store, dir) = support::sqlite_store().await;
    let url = format!("sqlite:{}", dir.path().join("test.db").display());
    let reads = Store::open_read(&url, &options).unwrap();
    let Store::Sqlite(pool) = &reads else {
        unreachable!()
    };
    let endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                   SELECT count(*) FROM c";
    for _ in 0..2 {
        let started = Instant::now();
        let err = sqlx::query(endless).execute(pool).await.unwrap_err();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(3),
            "interrupted at the deadline: {took:?}"
        );
        assert!(
            callq::store::StoreError::from(err).is_unavailable(),
            "an interrupted read is a 503"
        );
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM reports")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "short reads still work");
    let write = sqlx::query("DELETE FROM reports").execute(pool).await;
    assert!(write.is_err(), "the read pool is query-only");
    drop(store);
}

/// The call view lists each report without a raw payload (or QoE text)
/// larger than 4 KiB, saying so and giving its size; the report's own URL
/// still has it whole. Same answer on SQLite.
#[tokio::test]
async fn the_call_view_leaves_out_large_payloads_and_links_them() {
    let acme = TestTenant::new("acme");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite:{}", dir.path().join("view.db").display());
    for url in [pg::fresh_database().await, sqlite] {
        let server = TestServer::start(support::settings(url, std::slice::from_ref(&acme))).await;
        let small = plivo_report(&acme.id, "big-call", r#"{"rating": 4}"#.into());
        let large_raw = format!("{{\"rating\": 4, \"notes\": \"{}\"}}", "é".repeat(3000));
        let large = plivo_report(&acme.id, "big-call", large_raw.clone());
        // The MS-QoE document is stored inside the raw payload only (0008),
        // so a large one makes a large payload too.
        let qoe_raw = serde_json::json!({ "mediaQualityOfExperience": "<q>".repeat(2000) });
        let mut qoe = Report::new(
            &acme.id,
            Protocol::Ucwa,
            Kind::Feedback,
            "big-call",
            qoe_raw.to_string(),
        );
        qoe.media_quality_of_experience = Some("<q>".repeat(2000));
        let mut ids = Vec::new();
        for r in [small, large, qoe] {
            ids.push(server.commit(r).await.id);
        }

        let response = server
            .ops_get(&acme.ops_token, "/api/v1/calls/big-call")
            .await;
        assert_eq!(response.status(), 200);
        let view: Value = response.json().await.unwrap();
        let reports = view["reports"].as_array().unwrap();
        assert_eq!(reports.len(), 3);
        assert_eq!(view["reports_omitted"], 0);
        assert_eq!(view["summary"]["reports"], 3);

        assert_eq!(reports[0]["raw_payload"], r#"{"rating": 4}"#);
        assert_eq!(reports[0]["raw_payload_bytes"], 13);
        assert!(reports[0].get("raw_payload_truncated").is_none());

        assert!(reports[1].get("raw_payload").is_none(), "{}", reports[1]);
        assert_eq!(reports[1]["raw_payload_truncated"], true);
        assert_eq!(reports[1]["raw_payload_bytes"], large_raw.len());
        assert_eq!(reports[1]["rating"], 4.0);

        assert!(reports[2].get("media_quality_of_experience").is_none());
        assert_eq!(reports[2]["media_quality_of_experience_truncated"], true);
        assert_eq!(reports[2]["media_quality_of_experience_bytes"], 6000);
        assert_eq!(reports[2]["raw_payload_truncated"], true);
        assert_eq!(reports[2]["raw_payload_bytes"], qoe_raw.to_string().len());

        let whole: Value = server
            .ops_get(&acme.ops_token, &format!("/api/v1/reports/{}", ids[1]))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(whole["raw_payload"], large_raw.as_str());
        let whole: Value = server
            .ops_get(&acme.ops_token, &format!("/api/v1/reports/{}", ids[2]))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(whole["media_quality_of_experience"], "<q>".repeat(2000));
        server.shutdown().await;
    }
}
