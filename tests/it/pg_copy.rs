//! PostgreSQL's binary-COPY write path (`PgWritePath::Copy`, issue 15)
//! against the real test cluster: every column it writes reads back equal
//! through the ordinary read path and equal to what the `UNNEST` statement
//! stores; retries and reused keys get the same answers; a refused row fails
//! its whole transaction so the writer's bisection isolates it; a connection
//! lost in the middle of the transaction leaves nothing committed.

use std::time::Duration;

use callq::model::quality::{PoorReason, QualityClass};
use callq::model::{Kind, MediaStream, Modality, Protocol, Report};
use callq::store::{
    DEFAULT_RETRY_WINDOW, KeyReused, PgWritePath, StatementBounds, Store, WriteError, Writer,
    WriterConfig,
};
use sqlx::Connection;
use uuid::Uuid;

use crate::support::pg;

/// A migrated store on a fresh database, its statements bounded as the
/// server bounds them (the COPY transaction divides that bound).
async fn bounded_store() -> (Store, String) {
    let url = pg::fresh_database().await;
    let store = Store::open_bounded(
        &url,
        &Default::default(),
        Some(StatementBounds::below(Duration::from_secs(10))),
    )
    .unwrap();
    store.migrate().await.unwrap();
    (store, url)
}

fn pool(store: &Store) -> &sqlx::PgPool {
    match store {
        Store::Postgres(pool) => pool,
        Store::Sqlite(_) => panic!("this test needs PostgreSQL"),
    }
}

/// Every report column set, with the values a binary encoding can get wrong.
fn full_report(n: usize) -> Report {
    let mut r = Report::new(
        "acme",
        Protocol::Ucwa,
        Kind::Diagnostics,
        format!("call-{n}"),
        format!("{{\"n\": {n}, \"text\": \"héllo ✓ 日本語 🎧\"}}"),
    );
    r.participant_id = Some("sip:alice@example.com".into());
    r.media_leg_id = Some(String::new());
    r.rating = Some(5.0);
    r.issues = vec![
        "AUDIO_LAG".into(),
        "ÉCHO".into(),
        "A\u{1f}B".into(),
        "\u{1f}".into(),
    ];
    r.notes = Some("'quotes' \"double\" \\ back\\slash\ttab\nnewline".into());
    r.error_code = Some("52001".into());
    r.error_subcode = Some("-1".into());
    r.device_name = Some("Cisco SX80".into());
    r.device_description = Some("x".repeat(10_000));
    r.cloud_service_name = Some("svc".into());
    r.cloud_service_instance_name = Some("inst".into());
    r.cloud_service_deployment_id = Some("dep".into());
    r.cloud_service_deployment_environment = Some("prod".into());
    r.media_endpoint = Some("endpoint".into());
    r.media_quality_of_experience = Some("<QoEReport xmlns=\"x\">ü</QoEReport>".into());
    r.request_id = Some("req".into());
    r.idempotency_key = Some(format!("key-{n}"));
    r.user_agent = Some("test/1.0".into());
    r.content_type = Some("application/json".into());
    r.streams = vec![
        MediaStream {
            ordinal: 0,
            modality: Some(Modality::Audio),
            channel_index: Some(i32::MIN),
            label: Some("main ✓".into()),
            media_duration_ms: Some(f64::MAX),
            inbound_packets: Some(i64::MAX),
            outbound_packets: Some(i64::MIN),
            avg_inbound_jitter_ms: Some(f64::MIN_POSITIVE),
            max_inbound_jitter_ms: Some(-0.0),
            avg_outbound_jitter_ms: Some(f64::INFINITY),
            max_outbound_jitter_ms: Some(f64::NEG_INFINITY),
            avg_inbound_loss_pct: Some(1e-300),
            max_inbound_loss_pct: Some(f64::MIN),
            avg_outbound_loss_pct: Some(0.1 + 0.2),
            max_outbound_loss_pct: Some(100.0),
            avg_inbound_rtt_ms: Some(4.9e-324),
            max_inbound_rtt_ms: Some(1.0),
            avg_outbound_rtt_ms: Some(2.0),
            max_outbound_rtt_ms: Some(3.0),
            avg_inbound_bitrate_bps: Some(1.5e6),
            avg_outbound_bitrate_bps: Some(64_000.0),
            avg_inbound_frame_rate: Some(29.97),
            avg_outbound_frame_rate: Some(30.0),
            network_link_speed_bytes: Some(0),
            local_ip: Some("2001:db8::1".into()),
            local_port: Some(i32::MAX),
            remote_ip: Some("192.0.2.1".into()),
            remote_port: Some(5004),
            mos: Some(4.1),
            r_factor: Some(82.5),
            mos_model: Some("g107-simplified/1".into()),
            quality_class: Some(QualityClass::Poor),
            poor_reasons: vec![PoorReason::RoundTrip, PoorReason::Jitter],
            quality_classifier: Some("c/1".into()),
        },
        // Every optional metric NULL, no poor reasons.
        MediaStream {
            ordinal: 1,
            ..MediaStream::default()
        },
    ];
    r
}

/// Only what a report must have: every optional column NULL, no issues, no
/// streams, an empty payload.
fn bare_report() -> Report {
    Report::new("acme", Protocol::Plivo, Kind::Feedback, "bare", "")
}

/// What the read path gives for `id`, with the id blanked so that two
/// writes of the same content compare equal.
async fn read_back(store: &Store, id: Uuid) -> Report {
    let mut r = store
        .get_report("acme", id)
        .await
        .unwrap()
        .expect("the report was stored");
    r.id = Uuid::nil();
    r
}

#[tokio::test]
async fn copy_stores_every_column_as_the_unnest_statement_does() {
    let (store, _) = bounded_store().await;
    let reports = vec![full_report(1), bare_report()];
    let outcomes = store
        .insert_batch_via(&reports, DEFAULT_RETRY_WINDOW, PgWritePath::Copy)
        .await
        .unwrap();
    assert!(outcomes.iter().all(|o| matches!(o, Ok(c) if !c.duplicate)));
    // The same content again (other ids and keys) through the statement.
    let twins: Vec<Report> = reports
        .iter()
        .map(|r| {
            let mut t = r.clone();
            t.id = Uuid::now_v7();
            t.idempotency_key = t.idempotency_key.map(|k| format!("{k}-twin"));
            t.call_id = format!("{}-twin", t.call_id);
            t
        })
        .collect();
    store
        .insert_batch_via(&twins, DEFAULT_RETRY_WINDOW, PgWritePath::Unnest)
        .await
        .unwrap();
    for (r, twin) in reports.iter().zip(&twins) {
        let copied = read_back(&store, r.id).await;
        let mut unnested = read_back(&store, twin.id).await;
        unnested.idempotency_key = r.idempotency_key.clone();
        unnested.call_id = r.call_id.clone();
        // Debug, not ==: NaN-free, but -0.0 == 0.0 would hide a sign lost.
        assert_eq!(
            format!("{copied:?}"),
            format!("{unnested:?}"),
            "{}",
            r.call_id
        );
        // And the model itself, but for the issues both paths clean.
        let mut want = r.clone();
        want.id = Uuid::nil();
        want.issues = want
            .issues
            .iter()
            .map(|i| i.replace('\u{1f}', ""))
            .filter(|i| !i.is_empty())
            .collect();
        assert_eq!(format!("{copied:?}"), format!("{want:?}"), "{}", r.call_id);
    }
    let full = read_back(&store, reports[0].id).await;
    assert_eq!(full.issues, ["AUDIO_LAG", "ÉCHO", "AB"]);
    assert_eq!(full.streams.len(), 2);
    assert!(
        full.streams[0]
            .max_inbound_jitter_ms
            .unwrap()
            .is_sign_negative()
    );
    let bare = read_back(&store, reports[1].id).await;
    assert!(bare.issues.is_empty() && bare.streams.is_empty() && bare.rating.is_none());
    // The claims were written in the same transaction.
    let claims: i64 = sqlx::query_scalar("SELECT count(*) FROM ingest_claims")
        .fetch_one(pool(&store))
        .await
        .unwrap();
    assert_eq!(
        claims, 2,
        "one per keyed report (the bare ones have no fingerprint)"
    );
}

#[tokio::test]
async fn retries_and_reused_keys_get_the_same_answers_on_the_copy_path() {
    let (store, _) = bounded_store().await;
    let copy = |reports: Vec<Report>| {
        let store = store.clone();
        async move {
            store
                .insert_batch_via(&reports, DEFAULT_RETRY_WINDOW, PgWritePath::Copy)
                .await
                .unwrap()
        }
    };
    let mut first = bare_report();
    first.idempotency_key = Some("k".into());
    first.fingerprint = Some([1; 32]);
    let mut keyless = bare_report();
    keyless.call_id = "keyless".into();
    keyless.fingerprint = Some([2; 32]);
    let out = copy(vec![first.clone(), keyless.clone()]).await;
    assert_eq!(out[0].unwrap().id, first.id);
    assert_eq!(out[1].unwrap().id, keyless.id);

    // In a later batch: a keyed retry, a reused key, a keyless retry, and
    // two copies of a new request (leader and follower), beside a new one.
    let with = |r: &Report, fp: u8| {
        let mut r = r.clone();
        r.id = Uuid::now_v7();
        r.fingerprint = Some([fp; 32]);
        r
    };
    let mut new = bare_report();
    new.idempotency_key = Some("n".into());
    new.fingerprint = Some([3; 32]);
    let out = copy(vec![
        with(&first, 1),
        with(&first, 9),
        with(&keyless, 2),
        new.clone(),
        with(&new, 3),
    ])
    .await;
    let ok = |o: &Result<callq::store::Committed, KeyReused>| o.unwrap();
    assert_eq!((ok(&out[0]).id, ok(&out[0]).duplicate), (first.id, true));
    assert_eq!(out[1], Err(KeyReused));
    assert_eq!((ok(&out[2]).id, ok(&out[2]).duplicate), (keyless.id, true));
    assert_eq!((ok(&out[3]).id, ok(&out[3]).duplicate), (new.id, false));
    assert_eq!((ok(&out[4]).id, ok(&out[4]).duplicate), (new.id, true));
    assert_eq!(store.count_reports("acme").await.unwrap(), 3);

    // A keyless claim older than the window is taken over: a new report.
    let mut later = with(&keyless, 2);
    later.received_at = keyless.received_at + chrono::Duration::seconds(2);
    let out = store
        .insert_batch_via(&[later], Duration::from_secs(1), PgWritePath::Copy)
        .await
        .unwrap();
    assert!(!out[0].unwrap().duplicate);
    assert_eq!(store.count_reports("acme").await.unwrap(), 4);
}

#[tokio::test]
async fn a_row_the_database_refuses_fails_its_copy_and_bisection_isolates_it() {
    let (store, _) = bounded_store().await;
    // Refused in the streams' COPY, after the reports' COPY succeeded.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.label = 'poison' THEN \
           RAISE EXCEPTION 'poisoned stream' USING ERRCODE = '23514'; \
         END IF; RETURN NEW; END $$; \
         CREATE TRIGGER refuse_poison BEFORE INSERT ON media_streams \
           FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
    )
    .execute(pool(&store))
    .await
    .unwrap();
    let mut reports: Vec<Report> = (0..7).map(full_report).collect();
    reports[4].streams[1].label = Some("poison".into());
    let e = store
        .insert_batch_via(&reports, DEFAULT_RETRY_WINDOW, PgWritePath::Copy)
        .await
        .unwrap_err();
    assert!(e.is_content_refusal(), "{e}");
    assert_eq!(store.count_reports("acme").await.unwrap(), 0, "all or none");
    let claims: i64 = sqlx::query_scalar("SELECT count(*) FROM ingest_claims")
        .fetch_one(pool(&store))
        .await
        .unwrap();
    assert_eq!(claims, 0, "the claims were rolled back with the rows");

    // Through the writer: the six others are committed once, the one refused.
    let writer = Writer::start(
        store.clone(),
        WriterConfig {
            pg_write_path: PgWritePath::Copy,
            flushes_in_flight: 1,
            ..WriterConfig::default()
        },
    );
    let answers =
        futures_util::future::join_all(reports.iter().map(|r| writer.submit(r.clone()))).await;
    for (n, answer) in answers.iter().enumerate() {
        if n == 4 {
            assert!(matches!(answer, Err(WriteError::Refused(_))), "{answer:?}");
        } else {
            assert_eq!(answer.as_ref().unwrap().id, reports[n].id);
        }
    }
    assert_eq!(store.count_reports("acme").await.unwrap(), 6);
    assert!(
        store
            .get_report("acme", reports[4].id)
            .await
            .unwrap()
            .is_none()
    );
    writer.shutdown().await;
}

#[tokio::test]
async fn a_connection_lost_in_the_middle_of_the_copy_transaction_commits_nothing() {
    let (store, url) = bounded_store().await;
    // Hold the streams' table, so the flush stops at its second COPY, after
    // its claims and reports were sent.
    let mut blocker = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut lock = blocker.begin().await.unwrap();
    sqlx::query("LOCK TABLE media_streams IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let reports: Vec<Report> = (0..3).map(full_report).collect();
    let flush = tokio::spawn({
        let store = store.clone();
        let reports = reports.clone();
        async move {
            store
                .insert_batch_via(&reports, DEFAULT_RETRY_WINDOW, PgWritePath::Copy)
                .await
        }
    });
    // Wait until the flush waits for the lock, then cut its connection.
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut cut = false;
    for _ in 0..100 {
        cut = sqlx::query_scalar::<_, bool>(
            "SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity \
             WHERE application_name = 'callq' AND wait_event_type = 'Lock' \
               AND query LIKE 'COPY media_streams%'",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        if cut {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cut, "the flush reached the streams' COPY and waited there");
    let e = flush.await.unwrap().unwrap_err();
    assert!(
        !e.is_content_refusal(),
        "an outage, not the report's fault: {e}"
    );
    lock.rollback().await.unwrap();
    assert_eq!(store.count_reports("acme").await.unwrap(), 0);
    let claims: i64 = sqlx::query_scalar("SELECT count(*) FROM ingest_claims")
        .fetch_one(pool(&store))
        .await
        .unwrap();
    assert_eq!(claims, 0, "nothing of the transaction was committed");
    // The pool recovers: the same batch is written whole afterwards.
    let out = store
        .insert_batch_via(&reports, DEFAULT_RETRY_WINDOW, PgWritePath::Copy)
        .await
        .unwrap();
    assert!(out.iter().all(|o| matches!(o, Ok(c) if !c.duplicate)));
    assert_eq!(store.count_reports("acme").await.unwrap(), 3);
}

/// The transaction's statements share one deadline, the connection's
/// `statement_timeout` from its start: a statement that waited most of it
/// leaves the next only the rest, so the whole flush stays within the bound
/// the one `UNNEST` statement has, and a single long wait within it is not
/// cut short.
#[tokio::test]
async fn the_copy_transaction_as_a_whole_stays_within_the_statement_timeout() {
    let url = pg::fresh_database().await;
    let bounds = StatementBounds {
        statement_timeout: Duration::from_millis(1500),
        lock_timeout: Duration::from_secs(30),
    };
    let store = Store::open_bounded(&url, &Default::default(), Some(bounds)).unwrap();
    store.migrate().await.unwrap();
    let mut blocker = sqlx::PgConnection::connect(&url).await.unwrap();
    // Reports held 1 s (under the bound: committed), then streams held
    // past what is left: rolled back at the deadline, not 1.5 s later.
    for (n, table, hold, commits) in [
        (1, "reports", 1000, true),
        (2, "media_streams", 3000, false),
    ] {
        let mut lock = blocker.begin().await.unwrap();
        sqlx::query(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            .execute(&mut *lock)
            .await
            .unwrap();
        if !commits {
            // Let the reports' COPY wait too, most of the budget.
            let (locked, is_locked) = tokio::sync::oneshot::channel();
            let url = url.clone();
            tokio::spawn(async move {
                let mut second = sqlx::PgConnection::connect(&url).await.unwrap();
                let mut also = second.begin().await.unwrap();
                sqlx::query("LOCK TABLE reports IN ACCESS EXCLUSIVE MODE")
                    .execute(&mut *also)
                    .await
                    .unwrap();
                locked.send(()).unwrap();
                tokio::time::sleep(Duration::from_millis(1000)).await;
                also.rollback().await.unwrap();
            });
            is_locked.await.unwrap();
        }
        let started = std::time::Instant::now();
        let flush = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .insert_batch_via(&[full_report(n)], DEFAULT_RETRY_WINDOW, PgWritePath::Copy)
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(hold)).await;
        lock.rollback().await.unwrap();
        let result = flush.await.unwrap();
        let waited = started.elapsed();
        if commits {
            assert!(result.is_ok(), "{result:?}");
        } else {
            let e = result.unwrap_err();
            assert!(!e.is_content_refusal(), "{e}");
            assert!(
                waited >= Duration::from_millis(1400) && waited < Duration::from_millis(2400),
                "cancelled at the transaction's deadline, not a statement's: {waited:?} {e}"
            );
        }
    }
    assert_eq!(store.count_reports("acme").await.unwrap(), 1);
}
