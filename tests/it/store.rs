//! The store and its group-commit writer, below HTTP: round trips on both
//! backends, idempotency keys, batching, a full queue, a database outage, the
//! writer's drain, bounded call views, lz4 payloads and TLS to PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use callq::model::{Kind, MediaStream, Modality, Protocol, Report};
use callq::store::{Store, StoreOptions, WriteError, Writer, WriterConfig};

use crate::support::{self, pg};

fn sample_report(tenant: &str, n: usize) -> Report {
    let mut r = Report::new(
        tenant,
        Protocol::Graph,
        Kind::DeviceQuality,
        format!("call-{n}"),
        format!("{{\"n\": {n}, \"text\": \"héllo ✓\"}}"),
    );
    r.rating = Some(4.5);
    r.issues = vec!["AUDIO_LAG".into(), "ECHO".into()];
    r.notes = Some("notes with 'quotes' and \"double\" ones".into());
    r.device_name = Some("Cisco SX80".into());
    r.user_agent = Some("test/1.0".into());
    r.streams = vec![
        MediaStream {
            ordinal: 0,
            modality: Some(Modality::Audio),
            channel_index: Some(1),
            avg_inbound_jitter_ms: Some(10.0),
            max_inbound_loss_pct: Some(0.25),
            inbound_packets: Some(1_000_000_000_000),
            mos: Some(4.1),
            r_factor: Some(82.5),
            mos_model: Some("g107-simplified/1".into()),
            ..MediaStream::default()
        },
        MediaStream {
            ordinal: 1,
            modality: Some(Modality::Video),
            channel_index: Some(2),
            avg_outbound_bitrate_bps: Some(1.5e6),
            remote_ip: Some("192.0.2.1".into()),
            remote_port: Some(5004),
            ..MediaStream::default()
        },
    ];
    r
}

/// Runs `$check` (an `async fn(Store)`) as two tests, one per backend.
macro_rules! on_both_backends {
    ($check:ident: $on_postgres:ident, $on_sqlite:ident) => {
        #[tokio::test]
        async fn $on_postgres() {
            $check(support::postgres_store().await).await;
        }

        #[tokio::test]
        async fn $on_sqlite() {
            let (store, _dir) = support::sqlite_store().await;
            $check(store).await;
        }
    };
}

async fn round_trip(store: Store) {
    let writer = Writer::start(store.clone(), WriterConfig::default());
    let report = sample_report("acme", 1);
    let committed = writer.submit(report.clone()).await.unwrap();
    assert_eq!(committed.id, report.id);
    assert!(!committed.duplicate);
    let read = store.get_report("acme", report.id).await.unwrap().unwrap();
    assert_eq!(read, report);
    assert!(
        store
            .get_report("globex", report.id)
            .await
            .unwrap()
            .is_none(),
        "another tenant must not read it"
    );
    writer.shutdown().await;
}

on_both_backends!(round_trip: a_report_written_through_the_writer_reads_back_equal_on_postgres, a_report_written_through_the_writer_reads_back_equal_on_sqlite);

async fn retries_are_stored_once(store: Store) {
    let writer = Writer::start(store.clone(), WriterConfig::default());
    let mut first = sample_report("acme", 1);
    first.idempotency_key = Some("key-1".into());
    let mut retry = sample_report("acme", 1);
    retry.idempotency_key = Some("key-1".into());
    let a = writer.submit(first.clone()).await.unwrap();
    let b = writer.submit(retry).await.unwrap();
    assert_eq!(a.id, first.id);
    assert_eq!(
        b.id, first.id,
        "the retry is answered with the first report's id"
    );
    assert!(b.duplicate);
    // Same key, other tenant: a different request.
    let mut other = sample_report("globex", 1);
    other.idempotency_key = Some("key-1".into());
    assert!(!writer.submit(other).await.unwrap().duplicate);
    // Two retries inside one batch.
    let mut c = sample_report("acme", 2);
    c.idempotency_key = Some("key-2".into());
    let mut d = c.clone();
    d.id = uuid::Uuid::now_v7();
    let (rc, rd) = tokio::join!(writer.submit(c), writer.submit(d));
    let (rc, rd) = (rc.unwrap(), rd.unwrap());
    assert_eq!(rc.id, rd.id);
    assert_eq!(store.count_reports("acme").await.unwrap(), 2);
    assert_eq!(store.count_reports("globex").await.unwrap(), 1);
    writer.shutdown().await;
}

on_both_backends!(retries_are_stored_once: retries_with_the_same_idempotency_key_are_stored_once_on_postgres, retries_with_the_same_idempotency_key_are_stored_once_on_sqlite);

async fn concurrent_submits_share_transactions(store: Store) {
    let writer = Writer::start(store.clone(), WriterConfig::default());
    let mut tasks = Vec::new();
    for n in 0..400 {
        let w = writer.clone();
        tasks.push(tokio::spawn(async move {
            w.submit(sample_report("acme", n)).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let stats = writer.stats();
    assert_eq!(stats.reports_committed, 400);
    assert!(
        stats.largest_batch > 1,
        "concurrent reports must share a transaction: {stats:?}"
    );
    assert!(stats.transactions < 400, "{stats:?}");
    assert_eq!(store.count_reports("acme").await.unwrap(), 400);
    writer.shutdown().await;
}

on_both_backends!(concurrent_submits_share_transactions: concurrent_writers_batch_several_reports_per_transaction_on_postgres, concurrent_writers_batch_several_reports_per_transaction_on_sqlite);

#[tokio::test]
async fn a_full_queue_is_refused_at_once_instead_of_growing() {
    let store = support::postgres_store().await;
    let writer = Writer::start(
        store,
        WriterConfig {
            queue_capacity: 4,
            max_batch: 1,
            flushes_in_flight: 1,
            ..WriterConfig::default()
        },
    );
    let mut tasks = Vec::new();
    for n in 0..200 {
        let w = writer.clone();
        tasks.push(tokio::spawn(async move {
            w.submit(sample_report("acme", n)).await
        }));
    }
    let mut overloaded = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => {}
            Err(WriteError::Overloaded) => overloaded += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(
        overloaded > 0,
        "a 4-deep queue cannot take 200 reports at once"
    );
    assert_eq!(writer.stats().rejected_overload, overloaded);
    writer.shutdown().await;
}

#[tokio::test]
async fn database_down_means_unavailable_and_every_acknowledged_report_is_stored() {
    // A cluster of its own: this test stops it.
    let cluster = pg::PgCluster::start_new(true);
    let url = cluster.url("postgres");
    let store = Store::open(
        &url,
        &StoreOptions {
            max_connections: 4,
            acquire_timeout: Duration::from_millis(500),
        },
    )
    .unwrap();
    store.migrate().await.unwrap();
    let writer = Writer::start(
        store.clone(),
        WriterConfig {
            flush_timeout: Duration::from_secs(2),
            ..WriterConfig::default()
        },
    );
    let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for n in 0..600 {
        let w = writer.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(n as u64 * 2)).await;
            let r = sample_report("acme", n);
            match w.submit(r).await {
                Ok(c) => {
                    acked.lock().unwrap().push(c.id);
                    true
                }
                Err(WriteError::Unavailable) => false,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stop = tokio::task::spawn_blocking(move || {
        cluster.stop_immediately();
        cluster
    });
    let cluster = stop.await.unwrap();
    let mut refused = 0;
    for t in tasks {
        if !t.await.unwrap() {
            refused += 1;
        }
    }
    assert!(
        refused > 0,
        "reports sent while the database was down must be refused"
    );
    // While down: a new report is refused, never acknowledged.
    assert_eq!(
        writer.submit(sample_report("acme", 9999)).await,
        Err(WriteError::Unavailable)
    );
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start();
        cluster
    })
    .await
    .unwrap();
    // Every acknowledged report survived the crash.
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty());
    for id in &acked {
        assert!(
            store.get_report("acme", *id).await.unwrap().is_some(),
            "acknowledged report {id} is missing"
        );
    }
    // And the writer recovers by itself.
    writer.submit(sample_report("acme", 10_000)).await.unwrap();
    writer.shutdown().await;
    drop(cluster);
}

#[tokio::test]
async fn shutdown_drains_queued_reports_before_returning() {
    let store = support::postgres_store().await;
    let writer = Writer::start(store.clone(), WriterConfig::default());
    let mut tasks = Vec::new();
    for n in 0..300 {
        let w = writer.clone();
        tasks.push(tokio::spawn(async move {
            w.submit(sample_report("acme", n)).await
        }));
    }
    tokio::task::yield_now().await;
    writer.shutdown().await;
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(WriteError::ShuttingDown) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(store.count_reports("acme").await.unwrap(), ok);
    assert_eq!(
        writer.submit(sample_report("acme", 1)).await,
        Err(WriteError::ShuttingDown)
    );
}

async fn call_views_are_bounded_to_the_newest_reports(store: Store) {
    let mut ids = Vec::new();
    for n in 0..3 {
        let mut r = sample_report("acme", n);
        r.call_id = "bounded-call".into();
        r.received_at += chrono::Duration::milliseconds(n as i64);
        ids.push(r.id);
        store.insert_batch(&[r]).await.unwrap();
    }
    let (two, truncated) = store
        .newest_reports_for_call("acme", "bounded-call", 2)
        .await
        .unwrap();
    assert!(truncated);
    assert_eq!(
        two.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids[1..].to_vec()
    );
    let (all, truncated) = store
        .newest_reports_for_call("acme", "bounded-call", 3)
        .await
        .unwrap();
    assert!(!truncated);
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), ids);
    assert_eq!(all[0].streams.len(), 2, "reports come with their streams");
}

on_both_backends!(call_views_are_bounded_to_the_newest_reports: call_views_load_at_most_the_newest_reports_on_postgres, call_views_load_at_most_the_newest_reports_on_sqlite);

#[tokio::test]
async fn postgres_urls_with_sslmode_require_connect_over_tls() {
    let cluster = tokio::task::spawn_blocking(pg::PgCluster::start_new_with_tls)
        .await
        .unwrap();
    let store = Store::open(
        &format!("{}?sslmode=require", cluster.url("postgres")),
        &StoreOptions::default(),
    )
    .unwrap();
    store.migrate().await.unwrap();
    let Store::Postgres(pool) = &store else {
        panic!("a postgres URL opens a PostgreSQL store")
    };
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(encrypted, "the connection must be encrypted");
    let writer = Writer::start(store.clone(), WriterConfig::default());
    writer.submit(sample_report("acme", 1)).await.unwrap();
    writer.shutdown().await;

    // A server without TLS is refused rather than used in the clear.
    let plain_cluster = tokio::task::spawn_blocking(|| pg::PgCluster::start_new(false))
        .await
        .unwrap();
    let plain = Store::open(
        &format!("{}?sslmode=require", plain_cluster.url("postgres")),
        &StoreOptions {
            max_connections: 1,
            acquire_timeout: Duration::from_secs(2),
        },
    )
    .unwrap();
    assert!(plain.ping().await.is_err());
    drop((cluster, plain_cluster));
}

#[tokio::test]
async fn large_payloads_are_compressed_with_lz4_on_postgres() {
    let store = support::postgres_store().await;
    let Store::Postgres(pool) = &store else {
        panic!("a postgres store")
    };
    let methods: Vec<String> = sqlx::query_scalar(
        "SELECT attcompression::text FROM pg_attribute \
         WHERE attrelid = 'reports'::regclass \
           AND attname = 'raw_payload'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    // `media_quality_of_experience` (0003 set lz4 on it too) is gone since
    // 0008: the MS-QoE document is stored once, inside `raw_payload`.
    assert_eq!(methods, vec!["l".to_string()]);
}
