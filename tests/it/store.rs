//! The foundation: store round trips on both backends, group commit,
//! idempotency, outage behaviour, graceful drain, health checks, CLI config.

use std::sync::Arc;
use std::time::Duration;

use callq::model::{Kind, MediaStream, Modality, Protocol, Report};
use callq::store::{Store, StoreOptions, WriteError, Writer, WriterConfig};

use crate::support::{self, TestServer, pg};

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

#[tokio::test]
async fn health_and_readiness_answer_and_request_ids_are_echoed() {
    let (server, _, _) = TestServer::postgres().await;
    let r = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let generated = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(
        uuid::Uuid::parse_str(&generated).unwrap().get_version_num(),
        4
    );
    let r = server
        .client
        .get(server.url("/readyz"))
        .header("x-request-id", "client-chosen-id")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "client-chosen-id");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["database"], "postgres");
    let r = server.client.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    server.server.shutdown().await;
}

#[tokio::test]
async fn readiness_is_503_with_retry_after_when_the_database_is_down() {
    let cluster = pg::PgCluster::start_new(false);
    let mut settings = support::settings(cluster.url("postgres"), &[]);
    settings.database_max_connections = 2;
    let server = TestServer::start(settings).await;
    assert_eq!(
        server
            .client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop_immediately();
        cluster
    })
    .await
    .unwrap();
    let r = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        server
            .client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the process itself is fine"
    );
    server.server.shutdown().await;
    drop(cluster);
}

fn callq_bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_callq"));
    for (k, _) in std::env::vars() {
        if k.starts_with("CALLQ_") || k == "DATABASE_URL" {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn a_bad_config_exits_2_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "listen = \"not an address\"\n").unwrap();
    let out = callq_bin()
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen"), "{err}");
    assert!(err.contains("bad.toml"), "{err}");

    std::fs::write(
        &path,
        "[[tenants]]\nid = \"a\"\nucwa = [{ token = \"short\" }]\n",
    )
    .unwrap();
    let out = callq_bin().arg("--config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tenants") && err.contains("token"), "{err}");

    std::fs::write(&path, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let out = callq_bin()
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));

    // The environment overrides the file, and is checked too.
    std::fs::write(&path, "listen = \"127.0.0.1:9\"\n").unwrap();
    let out = callq_bin()
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .env("CALLQ_LISTEN", "nonsense")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
    let out = callq_bin()
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .env("CALLQ_DATABASE_URL", "mysql://db/x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("database_url") && err.contains("CALLQ_"),
        "names the key and the variable it came from: {err}"
    );

    let out = callq_bin()
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn first_start_generates_credentials_once_and_serves_on_sqlite() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = callq_bin()
        .current_dir(dir.path())
        .env("CALLQ_LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("/api/v1/reports") || std::time::Instant::now() > deadline {
            break;
        }
    }
    let config = dir.path().join("callq-data/callq.toml");
    assert!(config.is_file());
    assert!(dir.path().join("callq-data/callq.db").is_file());
    let text = std::fs::read_to_string(&config).unwrap();
    let token = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("UCWA   Authorization: Bearer "))
        .expect("the banner shows the UCWA token")
        .to_owned();
    assert!(token.starts_with("cwt="));
    assert!(!text.contains(&token), "the file keeps digests only");
    assert!(banner.contains("curl -i --user MA"), "{banner}");
    let _ = child.kill();
    let _ = child.wait();
    // The second start reuses the file and prints no secrets.
    let before = std::fs::read_to_string(&config).unwrap();
    let out = callq_bin()
        .current_dir(dir.path())
        .arg("check-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 tenant(s)"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_every_2xx_is_stored() {
    use base64::Engine;
    let tenant = support::TestTenant::new("acme");
    let url = pg::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("callq.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\n[[tenants]]\nid = \"acme\"\nplivo = [{{ auth_id = \"{}\", auth_token = \"{}\" }}]\n",
            tenant.plivo_auth_id, tenant.plivo_auth_token
        ),
    )
    .unwrap();
    // Port 0 is only known from the log, so pick a free port ourselves.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = callq_bin()
        .arg("--config")
        .arg(&config)
        .env("CALLQ_DATABASE_URL", &url)
        .env("CALLQ_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "callq did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            tenant.plivo_auth_id, tenant.plivo_auth_token
        ))
    );
    let mut tasks = Vec::new();
    for n in 0..32 {
        let (client, base, auth) = (client.clone(), base.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let mut created = 0u32;
            for i in 0..200 {
                let call = uuid::Uuid::new_v4();
                let sent = client
                    .post(format!("{base}/v1/Call/{call}/Feedback/"))
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(format!(
                        "{{\"rating\": 5, \"notes\": \"client {n} request {i}\"}}"
                    ))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 201 => created += 1,
                    // Refused while shutting down, or the listener is gone: fine, not acknowledged.
                    Ok(r) if r.status() == 503 => {}
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break,
                }
            }
            created
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut created = 0;
    for t in tasks {
        created += t.await.unwrap();
    }
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "callq exits cleanly on SIGTERM: {exit:?}");
    assert!(created > 0, "some requests were answered before the signal");
    let store = Store::open(&url, &StoreOptions::default()).unwrap();
    assert_eq!(store.count_reports("acme").await.unwrap(), created as i64);
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
async fn metrics_move_to_their_own_listener_when_one_is_configured() {
    let url = pg::fresh_database().await;
    let mut settings = support::settings(url, &[]);
    settings.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let server = TestServer::start(settings).await;
    let metrics_addr = server.server.metrics_addr().expect("a metrics listener");
    assert_ne!(metrics_addr, server.server.addr());
    let r = server
        .client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("callq_reports_committed_total")
    );
    let main = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404, "not on the public port then");
    server.server.shutdown().await;
}

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

/// The benchmark's baselines must do what they claim: the ceiling stores
/// nothing, the naive mode stores each report with its own INSERT.
#[tokio::test]
async fn the_benchmark_ingest_modes_discard_or_insert_one_by_one() {
    use base64::Engine;
    use callq::app::{IngestMode, Server};
    let tenant = support::TestTenant::new("acme");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        tenant.plivo_auth_id, tenant.plivo_auth_token
    ));
    for (mode, stored) in [(IngestMode::Discard, 0), (IngestMode::InsertPerRequest, 1)] {
        let settings = support::settings(pg::fresh_database().await, std::slice::from_ref(&tenant));
        let server = Server::start_with(settings, mode).await.unwrap();
        let r = reqwest::Client::new()
            .post(format!(
                "http://{}/v1/Call/{}/Feedback/",
                server.addr(),
                uuid::Uuid::new_v4()
            ))
            .header("authorization", format!("Basic {auth}"))
            .body(r#"{"rating": 5}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{mode:?}");
        assert_eq!(
            server.state().store.count_reports("acme").await.unwrap(),
            stored,
            "{mode:?}"
        );
        assert_eq!(
            server.state().writer.stats().transactions,
            0,
            "{mode:?} bypasses the writer"
        );
        server.shutdown().await;
    }
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
           AND attname IN ('raw_payload', 'media_quality_of_experience')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(methods, vec!["l".to_string(), "l".to_string()]);
}
