//! The read API on a PostgreSQL streaming replica (issue 13 item 6): a real
//! primary and a real hot standby made with `pg_basebackup -R`; callq
//! writes to the primary and reads through `read_database_url` from the
//! standby; `/readyz` reports both; without the standby the read API
//! answers 503 while ingestion still answers 2xx.

use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Connection;
use uuid::Uuid;

use crate::support::cli::callq_bin;
use crate::support::pg::PgCluster;
use crate::support::{self, TestServer, TestTenant};

/// How long a report committed on the primary may take to show on the
/// standby before the test fails (loopback replication takes milliseconds).
const REPLAY_BOUND: Duration = Duration::from_secs(10);

async fn readiness(server: &TestServer) -> (u16, Value) {
    let r = server.get("/readyz").await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// A Plivo feedback about a new call through `server`; its report id.
async fn ingest(server: &TestServer, tenant: &TestTenant) -> (String, Uuid) {
    let call = Uuid::new_v4().to_string();
    let r = server
        .plivo(tenant, &call, r#"{"rating": 2, "issues": ["ECHO"]}"#)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    (call, body["api_id"].as_str().unwrap().parse().unwrap())
}

#[tokio::test]
async fn the_read_api_reads_from_a_streaming_standby_and_ingestion_outlives_it() {
    let (primary, standby) = tokio::task::spawn_blocking(|| {
        let primary = PgCluster::start_new(false);
        let standby = primary.start_standby();
        (primary, standby)
    })
    .await
    .unwrap();
    // The test clusters run with synchronous_commit off (WAL reaches the
    // standby on the WAL writer's 200 ms beat); a production primary
    // flushes, and so sends, WAL at each commit. Measure the lag that way.
    let mut admin = sqlx::PgConnection::connect(&primary.url("postgres"))
        .await
        .unwrap();
    // Two statements: ALTER SYSTEM cannot run inside a transaction block.
    for sql in [
        "ALTER SYSTEM SET synchronous_commit = on",
        "SELECT pg_reload_conf()",
    ] {
        sqlx::raw_sql(sql).execute(&mut admin).await.unwrap();
    }
    let _ = admin.close().await;
    let acme = TestTenant::new("acme");
    // The `postgres` database of both: the schema callq's migrations create
    // on the primary reaches the standby through replication.
    let mut settings = support::settings(primary.url("postgres"), std::slice::from_ref(&acme));
    settings.read_database_url = Some(standby.url("postgres"));
    let server = TestServer::start(settings).await;

    let (status, body) = readiness(&server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["primary"]["status"], "ok", "{body}");
    assert_eq!(body["read_database"]["status"], "ok", "{body}");
    assert_eq!(body["read_database"]["separate"], true, "{body}");
    assert_eq!(
        body["read_database"]["in_recovery"], true,
        "the read pool is on the standby: {body}"
    );

    // Committed on the primary, read through the API from the standby once
    // replayed (reads may lag: callq promises no read-your-writes).
    let (call, id) = ingest(&server, &acme).await;
    let started = Instant::now();
    let report = loop {
        let r = server
            .ops_get(&acme.ops_token, &format!("/api/v1/reports/{id}"))
            .await;
        if r.status() == 200 {
            break r.json::<Value>().await.unwrap();
        }
        // Not replayed yet: 404, or 503 while the standby has not replayed
        // the migrations themselves; never a 500.
        let status = r.status().as_u16();
        assert!(
            status == 404 || status == 503,
            "not replayed yet is 404 or 503, nothing else: {status}"
        );
        assert!(
            started.elapsed() < REPLAY_BOUND,
            "replayed within {REPLAY_BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    eprintln!(
        "visible on the standby {:?} after the 201",
        started.elapsed()
    );
    assert_eq!(report["call_id"], call.as_str(), "{report}");
    // The statistics run in a REPEATABLE READ, READ ONLY transaction, which
    // a hot standby allows.
    let stats = server.ops_json(&acme.ops_token, "/api/v1/stats").await;
    assert!(stats.is_object(), "{stats}");

    // The standby goes away: reads are 503 in the read API's own body,
    // ingestion still commits on the primary, readiness stays 200 but says
    // `degraded`.
    let standby = tokio::task::spawn_blocking(move || {
        standby.stop_immediately();
        standby
    })
    .await
    .unwrap();
    // All three at once: a read waits out its 3 s for a read connection,
    // readiness its 2 s for the read database; ingestion waits for neither.
    let asked = Instant::now();
    let path = format!("/api/v1/reports/{id}");
    let (read, (status, body), (call, _)) = tokio::join!(
        async {
            let r = server.ops_get(&acme.ops_token, &path).await;
            eprintln!(
                "read without the standby: {} after {:?}",
                r.status(),
                asked.elapsed()
            );
            r
        },
        async {
            let answer = readiness(&server).await;
            eprintln!(
                "readiness without the standby: {} after {:?}",
                answer.0,
                asked.elapsed()
            );
            answer
        },
        async {
            let ingested = ingest(&server, &acme).await;
            eprintln!(
                "ingest without the standby: 201 after {:?}",
                asked.elapsed()
            );
            ingested
        },
    );
    assert_eq!(read.status(), 503);
    assert!(read.headers().contains_key("retry-after"));
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["error"], "unavailable", "{read}");
    assert_eq!(server.reports_about("acme", &call).await.len(), 1);
    assert_eq!(status, 200, "ingestion is still ready: {body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["primary"]["status"], "ok", "{body}");
    assert_eq!(body["read_database"]["status"], "failing", "{body}");

    server.shutdown().await;
    drop((primary, standby));
}

#[tokio::test]
async fn without_a_replica_readiness_reports_the_read_pool_on_the_primary() {
    let (server, _, _) = TestServer::postgres().await;
    let (status, body) = readiness(&server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["primary"]["status"], "ok", "{body}");
    assert_eq!(body["read_database"]["status"], "ok", "{body}");
    assert_eq!(body["read_database"]["separate"], false, "{body}");
    assert_eq!(body["read_database"]["in_recovery"], false, "{body}");
    assert!(body["queue_depth"].is_number(), "{body}");
}

#[test]
fn the_read_database_url_comes_from_the_environment_and_is_printed_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = support::cli::config_file(
        &dir,
        &TestTenant::new("acme"),
        "database_url = \"postgres://callq:primary-secret@db/callq\"",
    );
    let out = callq_bin()
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .env(
            "CALLQ_READ_DATABASE_URL",
            "postgres://reader:replica-secret@standby/callq",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("read database postgres://reader:***@standby/callq"),
        "{stdout}"
    );
    assert!(!stdout.contains("secret"), "{stdout}");

    // A SQLite primary has no replica to read from: exit code 2, key named.
    let path = support::cli::config_file(&dir, &TestTenant::new("acme"), "");
    let out = callq_bin()
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .env("CALLQ_READ_DATABASE_URL", "postgres://standby/callq")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("read_database_url"), "{stderr}");
}
