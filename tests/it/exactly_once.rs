//! Every answer is true (issue 10 items 1, 3, 4), over real HTTP against a
//! real database: a report the database refuses is isolated and answered
//! 400 while its batch is committed; with a lock blocking inserts past every
//! timeout, each 2xx is stored exactly once and each 503 is never stored;
//! idempotency keys are bound to a request fingerprint and identical keyless
//! requests within the retry window are stored once.

use std::time::{Duration, Instant};

use callq::config::Settings;
use callq::store::Store;
use reqwest::{RequestBuilder, Response};
use serde_json::Value;
use sqlx::Connection;
use uuid::Uuid;

use crate::support::wire::{GRAPH_SEED, GRAPH_SEED_CALL, GRAPH_V1, UCWA_FEEDBACK};
use crate::support::{self, Backend, TestServer, TestTenant, pg};

/// The Graph seed body about call chain `call`.
fn graph(server: &TestServer, tenant: &TestTenant, call: &str) -> RequestBuilder {
    server.graph(
        GRAPH_V1,
        &tenant.graph_token,
        GRAPH_SEED.replace(GRAPH_SEED_CALL, call),
    )
}

/// UCWA feedback naming `endpoint` (what tells two such requests apart).
fn ucwa(server: &TestServer, tenant: &TestTenant, endpoint: &str) -> RequestBuilder {
    server.ucwa(
        UCWA_FEEDBACK,
        &tenant.ucwa_token,
        "application/json",
        format!(r#"{{"mediaEndpoint": "{endpoint}"}}"#),
    )
}

/// The report id Plivo's 201 names (`api_id`).
async fn plivo_id(response: Response) -> Uuid {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["api_id"].as_str().unwrap().parse().unwrap()
}

fn pool(store: &Store) -> &sqlx::PgPool {
    match store {
        Store::Postgres(pool) => pool,
        Store::Sqlite(_) => panic!("this test needs PostgreSQL"),
    }
}

// ---------------------------------------------------------------------------
// Item 1: content the database refuses.

#[tokio::test]
async fn one_report_the_database_refuses_is_400_and_its_50_batch_mates_are_stored_once() {
    let acme = TestTenant::new("acme");
    let url = pg::fresh_database().await;
    let mut settings = support::settings(url.clone(), std::slice::from_ref(&acme));
    // One flush at a time, so the requests below queue behind one blocked
    // flush and meet in one batch.
    settings.flushes_in_flight = 1;
    let server = TestServer::start(settings).await;
    let poisoned = Uuid::new_v4().to_string();
    sqlx::raw_sql(&format!(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.call_id = '{poisoned}' THEN \
           RAISE EXCEPTION 'poisoned report' USING ERRCODE = '23514'; \
         END IF; RETURN NEW; END $$; \
         CREATE TRIGGER refuse_poison BEFORE INSERT ON reports \
           FOR EACH ROW EXECUTE FUNCTION refuse_poison();"
    ))
    .execute(pool(server.store()))
    .await
    .unwrap();

    // Hold inserts back while the 51 requests arrive, so they share a batch.
    let mut blocker = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut lock = blocker.begin().await.unwrap();
    sqlx::query("LOCK TABLE reports IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let before = server.state().writer.stats();
    let calls: Vec<String> = (0..50).map(|_| Uuid::new_v4().to_string()).collect();
    let mut sent = Vec::new();
    for (n, call) in calls.iter().chain([&poisoned]).enumerate() {
        let request = server.plivo(
            &acme,
            call,
            format!(r#"{{"rating": {}, "issues": ["ECHO"]}}"#, 1 + n % 5),
        );
        sent.push(tokio::spawn(async move { request.send().await.unwrap() }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    lock.rollback().await.unwrap();

    let mut answers = Vec::new();
    for task in sent {
        answers.push(task.await.unwrap());
    }
    let refused = answers.pop().unwrap();
    assert_eq!(
        refused.status(),
        400,
        "the poisoned report is refused, not 503"
    );
    let body: Value = refused.json().await.unwrap();
    assert!(body["api_id"].is_string(), "Plivo's error shape: {body}");
    assert!(body["error"].as_str().unwrap().contains("23514"), "{body}");
    for (answer, call) in answers.into_iter().zip(&calls) {
        let id = plivo_id(answer).await;
        let stored = server.reports_about("acme", call).await;
        assert_eq!(stored.len(), 1, "stored exactly once: {call}");
        assert_eq!(stored[0].id, id);
    }
    assert_eq!(server.reports_about("acme", &poisoned).await.len(), 0);
    assert_eq!(server.count("acme").await, 50);

    let after = server.state().writer.stats();
    let transactions = after.transactions - before.transactions;
    eprintln!("51 requests, 1 refused: {transactions} transactions");
    // Bisecting costs about 2·log2(51) ≈ 12 transactions; a first flush may
    // have gone alone before the others queued.
    assert!(
        transactions <= 16,
        "bisection, not one transaction per report: {transactions} ({after:?})"
    );
    assert_eq!(after.refused_reports - before.refused_reports, 1);
}

/// A database error that says nothing about the report's content (here a
/// missing privilege and a read-only transaction, as after a failover to a
/// replica) may be an outage: 503 + Retry-After, never a 400 that would make
/// the client drop its report.
#[tokio::test]
async fn errors_that_are_not_about_the_content_are_503_not_400() {
    let acme = TestTenant::new("acme");
    let url = pg::fresh_database().await;
    let server = TestServer::start(support::settings(url, std::slice::from_ref(&acme))).await;
    for code in ["42501", "25006", "XX000"] {
        let call = Uuid::new_v4().to_string();
        sqlx::raw_sql(&format!(
            "CREATE OR REPLACE FUNCTION refuse_outage() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.call_id = '{call}' THEN \
               RAISE EXCEPTION 'not the report''s fault' USING ERRCODE = '{code}'; \
             END IF; RETURN NEW; END $$; \
             DROP TRIGGER IF EXISTS refuse_outage ON reports; \
             CREATE TRIGGER refuse_outage BEFORE INSERT ON reports \
               FOR EACH ROW EXECUTE FUNCTION refuse_outage();"
        ))
        .execute(pool(server.store()))
        .await
        .unwrap();
        let answer = server
            .plivo(&acme, &call, r#"{"rating": 5}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 503, "SQLSTATE {code} is answered 503");
        assert!(answer.headers().contains_key("retry-after"));
        assert_eq!(server.reports_about("acme", &call).await.len(), 0);
    }
}

// ---------------------------------------------------------------------------
// Item 3: what a client is told is true.

/// One request of the lock test and what it must find in the database.
enum Expect {
    /// A Plivo call UUID (one report per call).
    Plivo(String),
    /// A Graph callChainId.
    Graph(String),
}

#[tokio::test]
async fn with_inserts_blocked_past_every_timeout_each_2xx_is_stored_once_and_each_503_never() {
    let acme = TestTenant::new("acme");
    let url = pg::fresh_database().await;
    let settings = Settings {
        request_timeout_secs: 1,
        // PostgreSQL: lock_timeout 2 s, statement_timeout 3 s.
        flush_timeout_secs: 4,
        ..support::settings(url.clone(), std::slice::from_ref(&acme))
    };
    let server = TestServer::start(settings).await;
    let bounds: (String, String) = sqlx::query_as(
        "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')",
    )
    .fetch_one(pool(server.store()))
    .await
    .unwrap();
    assert_eq!(
        bounds,
        ("3s".to_owned(), "2s".to_owned()),
        "bounded by the server"
    );
    let mut blocker = sqlx::PgConnection::connect(&url).await.unwrap();

    let mut slow_2xx = 0;
    let mut unavailable = 0;
    // Phase 1 holds the lock (about 1.3 s from the first request) past the
    // request timeout but under the lock timeout: reports in a flush commit late and their clients must hear
    // 2xx (not a 503 from the request timeout); queued ones are abandoned.
    // Phase 2 holds it past the lock timeout: the flush rolls back and its
    // clients hear 503, and nothing of it appears later.
    for hold in [Duration::from_millis(1000), Duration::from_millis(2500)] {
        let mut lock = blocker.begin().await.unwrap();
        sqlx::query("LOCK TABLE reports IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *lock)
            .await
            .unwrap();
        let mut sent = Vec::new();
        for n in 0..16 {
            let call = Uuid::new_v4().to_string();
            let (request, expect) = match n % 4 {
                0 => (
                    server.plivo(
                        &acme,
                        &call,
                        format!(r#"{{"rating": {}, "issues": ["ECHO"]}}"#, 1 + n % 5),
                    ),
                    Expect::Plivo(call),
                ),
                1 => (
                    server
                        .plivo(&acme, &call, r#"{"rating": 2, "issues": ["ECHO"]}"#)
                        .header("idempotency-key", format!("key-{call}")),
                    Expect::Plivo(call),
                ),
                2 => (graph(&server, &acme, &call), Expect::Graph(call)),
                _ => (
                    graph(&server, &acme, &call)
                        .header("client-request-id", Uuid::new_v4().to_string()),
                    Expect::Graph(call),
                ),
            };
            sent.push(tokio::spawn(async move {
                let started = Instant::now();
                let response = request.send().await.unwrap();
                (response, started.elapsed(), expect)
            }));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(hold).await;
        lock.rollback().await.unwrap();
        let mut answers = Vec::new();
        for task in sent {
            answers.push(task.await.unwrap());
        }
        // Every answer is in, so every flush they were in has ended; a job
        // wrongly written after its 503 would be written right after the
        // lock is gone.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for (response, elapsed, expect) in answers {
            let status = response.status().as_u16();
            let (stored, plivo_answer) = match &expect {
                Expect::Plivo(call) => (server.reports_about("acme", call).await, true),
                Expect::Graph(call) => (server.reports_about("acme", call).await, false),
            };
            match status {
                200 | 201 => {
                    assert_eq!(stored.len(), 1, "a 2xx is stored exactly once");
                    if plivo_answer {
                        assert_eq!(plivo_id(response).await, stored[0].id);
                    }
                    if elapsed > Duration::from_secs(1) {
                        slow_2xx += 1;
                    }
                }
                503 => {
                    assert!(response.headers().contains_key("retry-after"));
                    assert!(stored.is_empty(), "a 503 is never stored, not later either");
                    unavailable += 1;
                }
                other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
            }
        }
    }
    assert!(
        slow_2xx >= 1,
        "a report in flight when the request timed out is answered with its real outcome"
    );
    assert!(unavailable >= 1, "some requests were answered 503");
    let stats = server.state().writer.stats();
    assert!(
        stats.abandoned_reports >= 1,
        "queued jobs of timed-out requests are dropped: {stats:?}"
    );
}

// ---------------------------------------------------------------------------
// Item 4: idempotency keys bound to a fingerprint; keyless retries.

/// A server for `acme` on `backend` with keyless retries detected within `window` seconds.
async fn server_on(backend: Backend, window: u64) -> (TestServer, TestTenant) {
    let acme = TestTenant::new("acme");
    let server = TestServer::on(backend, std::slice::from_ref(&acme), |s| {
        s.retry_window_secs = window
    })
    .await;
    (server, acme)
}

macro_rules! on_both_backends {
    ($check:ident: $on_postgres:ident, $on_sqlite:ident) => {
        #[tokio::test]
        async fn $on_postgres() {
            $check(Backend::Postgres).await;
        }

        #[tokio::test]
        async fn $on_sqlite() {
            $check(Backend::Sqlite).await;
        }
    };
}

async fn same_key_same_request_is_one_report(backend: Backend) {
    let (server, acme) = server_on(backend, 600).await;
    let call = Uuid::new_v4().to_string();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = server
            .plivo(&acme, &call, r#"{"rating": 4, "issues": ["ECHO"]}"#)
            .header("idempotency-key", "order-1")
            .send()
            .await
            .unwrap();
        ids.push(plivo_id(r).await);
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0], ids[2]);
    assert_eq!(server.count("acme").await, 1);
    // Graph: client-request-id is the key when no Idempotency-Key is sent.
    let chain = Uuid::new_v4().to_string();
    for _ in 0..2 {
        let r = graph(&server, &acme, &chain)
            .header("client-request-id", "cr-1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(server.reports_about("acme", &chain).await.len(), 1);
}

on_both_backends!(same_key_same_request_is_one_report:
    the_same_key_and_request_is_answered_with_the_same_id_and_stored_once_on_postgres,
    the_same_key_and_request_is_answered_with_the_same_id_and_stored_once_on_sqlite);

async fn same_key_other_request_is_422(backend: Backend) {
    let (server, acme) = server_on(backend, 600).await;
    let call = Uuid::new_v4().to_string();
    let first = server
        .plivo(&acme, &call, r#"{"rating": 4, "issues": ["ECHO"]}"#)
        .header("idempotency-key", "k-1")
        .send()
        .await
        .unwrap();
    plivo_id(first).await;
    // Another rating, then another call, under the same key.
    let other_call = Uuid::new_v4().to_string();
    for (call, body) in [
        (&call, r#"{"rating": 1, "issues": ["ECHO"]}"#),
        (&other_call, r#"{"rating": 4, "issues": ["ECHO"]}"#),
    ] {
        let r = server
            .plivo(&acme, call, body)
            .header("idempotency-key", "k-1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let body: Value = r.json().await.unwrap();
        assert!(body["api_id"].is_string(), "{body}");
        assert!(
            body["error"].as_str().unwrap().contains("dempotency"),
            "{body}"
        );
    }
    assert_eq!(server.count("acme").await, 1);

    // Graph: its error body, status 422.
    let chain = Uuid::new_v4().to_string();
    let ok = graph(&server, &acme, &chain)
        .header("idempotency-key", "g-1")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let r = graph(&server, &acme, &Uuid::new_v4().to_string())
        .header("idempotency-key", "g-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UnprocessableEntity", "{body}");

    // UCWA: its error body, status 422.
    let ok = ucwa(&server, &acme, "a")
        .header("idempotency-key", "u-1")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);
    let r = ucwa(&server, &acme, "b")
        .header("idempotency-key", "u-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "Conflict", "{body}");
    assert_eq!(body["subcode"], "UnprocessableEntity", "{body}");
    assert_eq!(server.count("acme").await, 3);
}

on_both_backends!(same_key_other_request_is_422:
    the_same_key_with_another_request_is_422_in_each_style_and_stores_nothing_on_postgres,
    the_same_key_with_another_request_is_422_in_each_style_and_stores_nothing_on_sqlite);

async fn over_long_keys_are_400(backend: Backend) {
    let (server, acme) = server_on(backend, 600).await;
    let long = "k".repeat(300);
    let r = server
        .plivo(
            &acme,
            &Uuid::new_v4().to_string(),
            r#"{"rating": 4, "issues": ["ECHO"]}"#,
        )
        .header("idempotency-key", &long)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("Idempotency-Key"),
        "{body}"
    );
    let r = graph(&server, &acme, &Uuid::new_v4().to_string())
        .header("idempotency-key", &long)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"),
        "{body}"
    );
    let r = ucwa(&server, &acme, "x")
        .header("idempotency-key", &long)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "BadRequest", "{body}");
    assert!(body["parameters"]["Idempotency-Key"].is_string(), "{body}");
    // Exactly the maximum is a key like any other.
    let r = server
        .plivo(
            &acme,
            &Uuid::new_v4().to_string(),
            r#"{"rating": 4, "issues": ["ECHO"]}"#,
        )
        .header("idempotency-key", "k".repeat(255))
        .send()
        .await
        .unwrap();
    plivo_id(r).await;
    assert_eq!(server.count("acme").await, 1);
}

on_both_backends!(over_long_keys_are_400:
    a_300_character_key_is_400_in_each_style_never_cut_on_postgres,
    a_300_character_key_is_400_in_each_style_never_cut_on_sqlite);

async fn keyless_retries_within_the_window(backend: Backend) {
    let (server, acme) = server_on(backend, 600).await;
    let call = Uuid::new_v4().to_string();
    let body = r#"{"rating": 2, "issues": ["ECHO"]}"#;
    let a = plivo_id(server.plivo(&acme, &call, body).send().await.unwrap()).await;
    let b = plivo_id(server.plivo(&acme, &call, body).send().await.unwrap()).await;
    assert_eq!(a, b, "an identical keyless request is a retry: same answer");
    // Identical retries arriving together (one batch) are one report too.
    let together: Vec<_> = (0..4)
        .map(|_| server.plivo(&acme, &call, body).send())
        .collect();
    for r in futures_util::future::join_all(together).await {
        assert_eq!(plivo_id(r.unwrap()).await, a);
    }
    assert_eq!(server.reports_about("acme", &call).await.len(), 1);
    // Another body, or another call, is another report.
    let c = plivo_id(
        server
            .plivo(&acme, &call, r#"{"rating": 3, "issues": ["ECHO"]}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_ne!(c, a);
    // The Graph SDKs resend a 503 without any id: the same body is one report.
    let chain = Uuid::new_v4().to_string();
    for _ in 0..3 {
        assert_eq!(
            graph(&server, &acme, &chain).send().await.unwrap().status(),
            200
        );
    }
    assert_eq!(server.reports_about("acme", &chain).await.len(), 1);
    server.shutdown().await;

    // Window 0: keyless requests are always new reports.
    let (server, acme) = server_on(backend, 0).await;
    let a = plivo_id(server.plivo(&acme, &call, body).send().await.unwrap()).await;
    let b = plivo_id(server.plivo(&acme, &call, body).send().await.unwrap()).await;
    assert_ne!(a, b);
    assert_eq!(server.reports_about("acme", &call).await.len(), 2);
}

on_both_backends!(keyless_retries_within_the_window:
    identical_keyless_requests_within_the_window_are_stored_once_and_window_0_stores_each_on_postgres,
    identical_keyless_requests_within_the_window_are_stored_once_and_window_0_stores_each_on_sqlite);

#[tokio::test]
async fn a_keyless_claim_older_than_the_window_is_taken_over_by_a_new_report() {
    // Driven through the store: waiting out a real window would be slow.
    let store = support::postgres_store().await;
    let (lite, _dir) = support::sqlite_store().await;
    for store in [store, lite] {
        let mut first = callq::model::Report::new(
            "acme",
            callq::model::Protocol::Plivo,
            callq::model::Kind::Feedback,
            "call-1",
            "{}",
        );
        first.fingerprint = Some([7; 32]);
        let mut again = first.clone();
        again.id = Uuid::now_v7();
        again.received_at = first.received_at + chrono::Duration::seconds(5);
        let window = Duration::from_secs(10);
        store
            .insert_batch_within(&[first.clone()], window)
            .await
            .unwrap();
        let retry = store
            .insert_batch_within(&[again.clone()], window)
            .await
            .unwrap();
        assert_eq!(retry[0].unwrap().id, first.id, "{}", store.backend());
        let mut later = again.clone();
        later.id = Uuid::now_v7();
        later.received_at = first.received_at + chrono::Duration::seconds(11);
        let new = store
            .insert_batch_within(&[later.clone()], window)
            .await
            .unwrap();
        assert_eq!(new[0].unwrap().id, later.id, "{}", store.backend());
        assert!(!new[0].unwrap().duplicate);
        assert_eq!(store.count_reports("acme").await.unwrap(), 2);
        // Pruning removes the expired claims only.
        let pruned = store.prune_claims(later.received_at, 100).await.unwrap();
        assert_eq!(pruned, 0, "the only claim is the latest one");
        let pruned = store
            .prune_claims(later.received_at + chrono::Duration::seconds(1), 100)
            .await
            .unwrap();
        assert_eq!(pruned, 1);
    }
}
