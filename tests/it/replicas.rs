//! Many callq replicas on one PostgreSQL (issue 13 item 5): two real servers
//! share one database, and identical retries sent to *different* replicas
//! at the same moment are stored once, with one answer. The database
//! decides (the claim in `ingest_claims` is written by the batch statement
//! itself, `store/write/claims.rs`), so no replica needs to know the other.
//!
//! To make the two replicas' transactions really overlap, each test holds
//! an `ACCESS EXCLUSIVE` lock on `ingest_claims` while the requests arrive,
//! waits until a flush of *each* replica is blocked on it (one flush at a
//! time per replica, so two waiting backends are one per replica), and
//! only then lets them go: both statements then race for the same claim
//! rows, and the loser's `ON CONFLICT` waits for the winner's commit.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::{RequestBuilder, Response};
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::support::wire::{GRAPH_SEED, GRAPH_SEED_CALL, GRAPH_V1};
use crate::support::{self, TestServer, TestTenant, pg};

/// Pairs per style and test: each pair is one request sent to both replicas.
const PAIRS: usize = 30;

/// Two replicas on one fresh database, started at the same moment (so
/// their migrations race too: sqlx takes an advisory lock around them),
/// one flush at a time each.
async fn two_replicas(tenant: &TestTenant) -> (TestServer, TestServer, String) {
    let url = pg::fresh_database().await;
    let settings = || {
        let mut s = support::settings(url.clone(), std::slice::from_ref(tenant));
        s.flushes_in_flight = 1;
        s
    };
    let (a, b) = tokio::join!(TestServer::start(settings()), TestServer::start(settings()));
    (a, b, url)
}

/// Holds `ingest_claims` locked until [`ClaimsLock::release_when_both_wait`].
struct ClaimsLock {
    holder: PgConnection,
    watcher: PgConnection,
}

impl ClaimsLock {
    async fn take(url: &str) -> ClaimsLock {
        let mut holder = PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql("BEGIN; LOCK TABLE ingest_claims IN ACCESS EXCLUSIVE MODE")
            .execute(&mut holder)
            .await
            .unwrap();
        let watcher = PgConnection::connect(url).await.unwrap();
        ClaimsLock { holder, watcher }
    }

    /// Waits (at most 10 s) until two backends wait for the lock (one flush
    /// of each replica), then commits, letting both flushes run at once.
    async fn release_when_both_wait(mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(DISTINCT pid) FROM pg_locks \
                 WHERE NOT granted AND relation = 'ingest_claims'::regclass",
            )
            .fetch_one(&mut self.watcher)
            .await
            .unwrap();
            if waiting >= 2 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "both replicas' flushes should be waiting for the lock ({waiting} waiting)"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Let a few more requests queue behind the blocked flushes, so the
        // next batches of both replicas overlap as well.
        tokio::time::sleep(Duration::from_millis(100)).await;
        sqlx::raw_sql("COMMIT")
            .execute(&mut self.holder)
            .await
            .unwrap();
    }
}

/// Sends every request at once and returns the answers in order, releasing
/// `lock` once both replicas are blocked on it. `requests` are pairs (`2k`
/// to replica A, `2k+1` to B); every other pair is sent B first, so that
/// neither replica is always the first to reach the database.
async fn race(requests: Vec<RequestBuilder>, lock: ClaimsLock) -> Vec<Response> {
    let mut sent: Vec<Option<tokio::task::JoinHandle<Response>>> =
        (0..requests.len()).map(|_| None).collect();
    let mut requests: Vec<Option<RequestBuilder>> = requests.into_iter().map(Some).collect();
    for k in 0..requests.len() / 2 {
        let order = if k % 2 == 0 {
            [2 * k, 2 * k + 1]
        } else {
            [2 * k + 1, 2 * k]
        };
        for i in order {
            let request = requests[i].take().unwrap();
            sent[i] = Some(tokio::spawn(async move { request.send().await.unwrap() }));
        }
    }
    lock.release_when_both_wait().await;
    let mut answers = Vec::new();
    for task in join_all(sent.into_iter().map(Option::unwrap)).await {
        answers.push(task.unwrap());
    }
    answers
}

/// The report id Plivo's 201 names (`api_id`).
async fn plivo_id(response: Response) -> Uuid {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["api_id"].as_str().unwrap().parse().unwrap()
}

fn graph(server: &TestServer, tenant: &TestTenant, chain: &str) -> RequestBuilder {
    server.graph(
        GRAPH_V1,
        &tenant.graph_token,
        GRAPH_SEED.replace(GRAPH_SEED_CALL, chain),
    )
}

/// The same request built for each replica.
fn pair(
    a: &TestServer,
    b: &TestServer,
    build: impl Fn(&TestServer) -> RequestBuilder,
) -> [RequestBuilder; 2] {
    [build(a), build(b)]
}

/// Checks each Plivo pair (answers `2k`, `2k+1`) named one id that is the
/// one report stored about its call, and each Graph pair both got 200 and
/// one report.
async fn assert_each_pair_stored_once(
    store: &TestServer,
    answers: Vec<Response>,
    plivo_calls: &[String],
    graph_chains: &[String],
) {
    let mut answers = answers.into_iter();
    for call in plivo_calls {
        let first = plivo_id(answers.next().unwrap()).await;
        let second = plivo_id(answers.next().unwrap()).await;
        assert_eq!(first, second, "both replicas answer with one id: {call}");
        let stored = store.reports_about("acme", call).await;
        assert_eq!(stored.len(), 1, "stored exactly once: {call}");
        assert_eq!(stored[0].id, first);
    }
    for chain in graph_chains {
        for _ in 0..2 {
            let answer = answers.next().unwrap();
            assert_eq!(answer.status(), 200, "{chain}");
        }
        assert_eq!(store.reports_about("acme", chain).await.len(), 1, "{chain}");
    }
}

#[tokio::test]
async fn two_replicas_starting_at_once_on_an_empty_database_both_migrate_and_are_ready() {
    let acme = TestTenant::new("acme");
    let (a, b, url) = two_replicas(&acme).await;
    for server in [&a, &b] {
        assert_eq!(server.get("/readyz").await.status(), 200);
    }
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let (applied, versions): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT version) FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(applied > 0);
    assert_eq!(applied, versions, "each migration applied once");
}

/// 30 Plivo and 30 Graph requests, each sent once to either replica at the
/// same moment (behind a held claims lock, so both flushes go for the same
/// claims at once), with the same `Idempotency-Key` on both when `keyed`,
/// else identical and keyless: each pair is stored once, under one id.
async fn each_pair_sent_to_both_replicas_is_stored_once(keyed: bool) {
    let acme = TestTenant::new("acme");
    let (a, b, url) = two_replicas(&acme).await;
    let lock = ClaimsLock::take(&url).await;
    let plivo_calls: Vec<String> = (0..PAIRS).map(|_| Uuid::new_v4().to_string()).collect();
    let graph_chains: Vec<String> = (0..PAIRS).map(|_| Uuid::new_v4().to_string()).collect();
    let key = |request: reqwest::RequestBuilder, key: String| {
        if keyed {
            request.header("idempotency-key", key)
        } else {
            request
        }
    };
    let mut requests = Vec::new();
    for (n, call) in plivo_calls.iter().enumerate() {
        requests.extend(pair(&a, &b, |s| {
            let body = format!(r#"{{"rating": {}, "issues": ["ECHO"]}}"#, 1 + n % 5);
            key(s.plivo(&acme, call, body), format!("plivo-{call}"))
        }));
    }
    for chain in &graph_chains {
        requests.extend(pair(&a, &b, |s| {
            key(graph(s, &acme, chain), format!("graph-{chain}"))
        }));
    }
    let answers = race(requests, lock).await;
    // Read back through one replica, then the other.
    let reader = if keyed { &a } else { &b };
    assert_each_pair_stored_once(reader, answers, &plivo_calls, &graph_chains).await;
    assert_eq!(a.count("acme").await, 2 * PAIRS as i64);
    assert_eq!(b.count("acme").await, 2 * PAIRS as i64, "one database");
}

#[tokio::test]
async fn the_same_idempotency_key_sent_to_two_replicas_at_once_is_stored_once_with_one_id() {
    each_pair_sent_to_both_replicas_is_stored_once(true).await;
}

#[tokio::test]
async fn identical_keyless_requests_sent_to_two_replicas_at_once_are_stored_once_with_one_id() {
    each_pair_sent_to_both_replicas_is_stored_once(false).await;
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_422_on_either_replica_and_stores_nothing() {
    let acme = TestTenant::new("acme");
    let (a, b, url) = two_replicas(&acme).await;

    // At once: the same key with two bodies, one to each replica. One wins
    // (201), the other is told the key is taken (422), whichever it is.
    let lock = ClaimsLock::take(&url).await;
    let calls: Vec<String> = (0..PAIRS).map(|_| Uuid::new_v4().to_string()).collect();
    let mut requests = Vec::new();
    for call in &calls {
        let key = format!("reused-{call}");
        requests.push(
            a.plivo(&acme, call, r#"{"rating": 1, "issues": ["ECHO"]}"#)
                .header("idempotency-key", &key),
        );
        requests.push(
            b.plivo(&acme, call, r#"{"rating": 5, "issues": ["ECHO"]}"#)
                .header("idempotency-key", &key),
        );
    }
    let answers = race(requests, lock).await;
    let mut answers = answers.into_iter();
    let mut won_by_a = 0;
    for call in &calls {
        let (first, second) = (answers.next().unwrap(), answers.next().unwrap());
        let statuses = (first.status().as_u16(), second.status().as_u16());
        let winner = match statuses {
            (201, 422) => {
                won_by_a += 1;
                first
            }
            (422, 201) => second,
            other => panic!("one 201 and one 422 for {call}, not {other:?}"),
        };
        let id = plivo_id(winner).await;
        let stored = a.reports_about("acme", call).await;
        assert_eq!(stored.len(), 1, "{call}");
        assert_eq!(stored[0].id, id);
    }
    eprintln!("key races: replica A won {won_by_a} of {PAIRS}");

    // One after the other: stored through A, another body through B or A
    // is 422 in Plivo's error body; the same body through B is the retry.
    let call = Uuid::new_v4().to_string();
    let first = plivo_id(
        a.plivo(&acme, &call, r#"{"rating": 2, "issues": ["ECHO"]}"#)
            .header("idempotency-key", "k-seq")
            .send()
            .await
            .unwrap(),
    )
    .await;
    for server in [&b, &a] {
        let r = server
            .plivo(&acme, &call, r#"{"rating": 3, "issues": ["ECHO"]}"#)
            .header("idempotency-key", "k-seq")
            .send()
            .await
            .unwrap();
        let error = support::wire::plivo_error(r, 422).await;
        assert!(error.contains("dempotency"), "{error}");
    }
    let again = b
        .plivo(&acme, &call, r#"{"rating": 2, "issues": ["ECHO"]}"#)
        .header("idempotency-key", "k-seq")
        .send()
        .await
        .unwrap();
    assert_eq!(plivo_id(again).await, first);
    assert_eq!(a.reports_about("acme", &call).await.len(), 1);
    assert_eq!(b.count("acme").await, PAIRS as i64 + 1);
}
