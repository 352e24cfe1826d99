//! How the group-commit writer forms batches (issue 15): a flush that would
//! run beside one already in flight waits for `parallel_flush_min_batch`
//! reports (or for the running one to end), because every transaction costs
//! PostgreSQL a fixed amount on top of its rows.
//!
//! The first flush is held inside PostgreSQL by a lock on `ingest_claims`,
//! so which flushes have started is visible in `pg_locks`.

use std::time::{Duration, Instant};

use callq::model::{Kind, Protocol, Report};
use callq::store::{Store, Writer, WriterConfig};
use sqlx::{Connection, PgConnection};

use crate::support::pg;

fn report(n: usize) -> Report {
    Report::new(
        "acme",
        Protocol::Plivo,
        Kind::Feedback,
        format!("call-{n}"),
        format!("{{\"n\": {n}}}"),
    )
}

/// Flushes started: backends whose batch insert waits for the lock on
/// `ingest_claims` (the writer's claim pruning may wait there too; it is
/// not a flush).
async fn flushes_waiting(watcher: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE NOT l.granted AND l.relation = 'ingest_claims'::regclass \
           AND a.query NOT LIKE 'DELETE%'",
    )
    .fetch_one(watcher)
    .await
    .unwrap()
}

/// Polls until `want` flushes wait for the lock (at most 10 s).
async fn until_waiting(watcher: &mut PgConnection, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = flushes_waiting(watcher).await;
        if n == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{n} flushes waiting, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Submits report `n` in the background; the handle yields its outcome.
fn submit(writer: &Writer, n: usize) -> tokio::task::JoinHandle<bool> {
    let w = writer.clone();
    tokio::spawn(async move { w.submit(report(n)).await.is_ok() })
}

/// Holds the first flush, queues five reports then three more, and returns
/// the flushes seen waiting after each step, the writer's counters and the
/// rows stored. `second_after_five`: whether a second flush is expected to
/// start for the five (waited for, up to 10 s) or not (checked after 300 ms).
async fn batching_with(
    min_batch: usize,
    second_after_five: bool,
) -> (Vec<i64>, callq::store::WriterStats, i64) {
    let url = pg::fresh_database().await;
    let store = Store::open(&url, &Default::default()).unwrap();
    store.migrate().await.unwrap();
    let writer = Writer::start(
        store.clone(),
        WriterConfig {
            flushes_in_flight: 2,
            parallel_flush_min_batch: min_batch,
            ..WriterConfig::default()
        },
    );
    let mut holder = PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE ingest_claims IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let mut watcher = PgConnection::connect(&url).await.unwrap();
    let mut seen = Vec::new();
    let mut tasks = vec![submit(&writer, 0)];
    // The first report goes at once, alone: no flush was running.
    until_waiting(&mut watcher, 1).await;
    seen.push(flushes_waiting(&mut watcher).await);
    // Five more queue while the first flush is held.
    for n in 1..=5 {
        tasks.push(submit(&writer, n));
    }
    if second_after_five {
        until_waiting(&mut watcher, 2).await;
    } else {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    seen.push(flushes_waiting(&mut watcher).await);
    // Three more: eight queued now (when the five are still queued).
    for n in 6..=8 {
        tasks.push(submit(&writer, n));
    }
    until_waiting(&mut watcher, 2).await;
    seen.push(flushes_waiting(&mut watcher).await);
    sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
    for t in tasks {
        assert!(t.await.unwrap(), "every report is committed");
    }
    let stats = writer.stats();
    writer.shutdown().await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM reports")
        .fetch_one(&mut watcher)
        .await
        .unwrap();
    (seen, stats, stored)
}

#[tokio::test]
async fn a_flush_beside_a_running_one_waits_for_a_batch_worth_a_transaction() {
    let (seen, stats, stored) = batching_with(8, false).await;
    assert_eq!(
        seen,
        [1, 1, 2],
        "five queued reports (< 8) wait for the running flush; eight start a second one"
    );
    assert_eq!(stored, 9);
    assert_eq!(stats.reports_committed, 9);
    assert_eq!(stats.transactions, 2, "{stats:?}");
}

#[tokio::test]
async fn with_a_minimum_of_one_the_second_flush_starts_with_whatever_is_queued() {
    let (seen, stats, stored) = batching_with(1, true).await;
    assert_eq!(seen[0], 1);
    assert_eq!(seen[1], 2, "the second flush started beside the held one");
    assert_eq!(stored, 9);
    assert_eq!(stats.reports_committed, 9);
    assert!(stats.transactions >= 3, "{stats:?}");
}
