//! PostgreSQL time partitions (migration 0006, `src/store/partitions.rs`):
//! partitions ahead at start, safe from two replicas at once, a DEFAULT
//! partition for anything outside them, and the in-place conversion of an
//! unpartitioned database with every row kept byte for byte.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use sqlx::{Connection, PgConnection, PgPool};

use callq::model::{Kind, MediaStream, Modality, Protocol, Report};
use callq::store::{PartitionWidth, Store};

use crate::support::{self, TestServer, pg};

fn pool(store: &Store) -> &PgPool {
    match store {
        Store::Postgres(pool) => pool,
        Store::Sqlite(_) => panic!("a PostgreSQL store"),
    }
}

/// The partition of `table` holding the row with this id.
async fn partition_of(pool: &PgPool, table: &str, column: &str, id: uuid::Uuid) -> String {
    sqlx::query_scalar(&format!(
        "SELECT tableoid::regclass::text FROM {table} WHERE {column} = $1 LIMIT 1"
    ))
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn report_at(tenant: &str, at: DateTime<Utc>) -> Report {
    let mut r = Report::new(
        tenant,
        Protocol::Plivo,
        Kind::Feedback,
        "call-1",
        "{\"r\":1}",
    );
    r.received_at = at;
    r.streams = vec![MediaStream {
        ordinal: 0,
        modality: Some(Modality::Audio),
        avg_inbound_jitter_ms: Some(12.5),
        ..MediaStream::default()
    }];
    r
}

#[tokio::test]
async fn partitions_ahead_exist_at_start_and_a_report_far_outside_them_is_stored_in_the_default() {
    let (server, acme, _) = TestServer::postgres().await;
    let store = server.store();
    let names: BTreeSet<String> = store
        .partitions()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    // The default width (day) and 4 ahead: today and the next 4 days, both tables.
    let today = Utc::now();
    for day in 0..=4 {
        let date = (today + Duration::days(day)).format("%Y%m%d");
        assert!(names.contains(&format!("reports_p{date}")), "{names:?}");
        assert!(
            names.contains(&format!("media_streams_p{date}")),
            "{names:?}"
        );
    }
    // Today's report lands in today's partition, with its stream in the twin.
    let now = report_at(&acme.id, Utc::now());
    let committed = server.commit(now.clone()).await;
    let p = pool(store);
    let date = now.received_at.format("%Y%m%d");
    assert_eq!(
        partition_of(p, "reports", "id", committed.id).await,
        format!("reports_p{date}")
    );
    assert_eq!(
        partition_of(p, "media_streams", "report_id", committed.id).await,
        format!("media_streams_p{date}")
    );
    // Years before and after any partition: stored, in DEFAULT, read back equal.
    for at in ["2001-02-03T04:05:06.123456Z", "2099-12-31T23:59:59.999999Z"] {
        let at = DateTime::parse_from_rfc3339(at)
            .unwrap()
            .with_timezone(&Utc);
        let r = report_at(&acme.id, at);
        let committed = server.commit(r.clone()).await;
        assert!(!committed.duplicate);
        assert_eq!(
            partition_of(p, "reports", "id", r.id).await,
            "reports_default"
        );
        assert_eq!(
            partition_of(p, "media_streams", "report_id", r.id).await,
            "media_streams_default"
        );
        let back = store.get_report(&acme.id, r.id).await.unwrap().unwrap();
        assert_eq!(back.received_at, r.received_at);
        assert_eq!(back.streams.len(), 1);
        assert_eq!(back.streams[0].avg_inbound_jitter_ms, Some(12.5));
        assert_eq!(back.raw_payload, r.raw_payload);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn two_replicas_creating_partitions_at_once_create_each_once_and_default_rows_move_in() {
    let url = pg::fresh_database().await;
    let a = Store::open(&url, &Default::default()).unwrap();
    a.migrate().await.unwrap();
    let b = Store::open(&url, &Default::default()).unwrap();
    // A report 20 days ahead: no partition yet, so it is kept in DEFAULT.
    let now = Utc::now();
    let ahead = report_at("acme", now + Duration::days(20));
    a.insert_one(&ahead).await.unwrap();
    assert_eq!(
        partition_of(pool(&a), "reports", "id", ahead.id).await,
        "reports_default"
    );
    // Both "replicas" make 30 days ahead at the same moment.
    let (left, right) = tokio::join!(
        a.create_partitions(PartitionWidth::Day, 30, now),
        b.create_partitions(PartitionWidth::Day, 30, now)
    );
    let (left, right) = (left.unwrap(), right.unwrap());
    // One did all the work, the other waited for the lock and found it done.
    assert_eq!(left.len() + right.len(), 2 * 31, "{left:?} {right:?}");
    assert!(left.is_empty() || right.is_empty(), "{left:?} {right:?}");
    let all = a.partitions().await.unwrap();
    assert_eq!(all.len(), 2 * 31);
    // The DEFAULT row moved into its new partition, streams too, and reads back.
    let date = ahead.received_at.format("%Y%m%d");
    assert_eq!(
        partition_of(pool(&a), "reports", "id", ahead.id).await,
        format!("reports_p{date}")
    );
    assert_eq!(
        partition_of(pool(&a), "media_streams", "report_id", ahead.id).await,
        format!("media_streams_p{date}")
    );
    let back = a.get_report("acme", ahead.id).await.unwrap().unwrap();
    assert_eq!(back.streams, ahead.streams);
    // A wider width later leaves the daily ones and fills only the gaps:
    // no two partitions of a table overlap, and the weeks run on from the days.
    let weekly = a
        .create_partitions(PartitionWidth::Week, 8, now)
        .await
        .unwrap();
    assert!(weekly.iter().any(|p| p.to - p.from == Duration::days(7)));
    for table in ["reports", "media_streams"] {
        let mut mine: Vec<_> = a
            .partitions()
            .await
            .unwrap()
            .into_iter()
            .filter(|p| p.table == table)
            .collect();
        mine.sort_by_key(|p| p.from);
        for pair in mine.windows(2) {
            assert!(pair[0].to <= pair[1].from, "{pair:?} overlap");
        }
    }
    a.close().await;
    b.close().await;
}

/// Rows of the unpartitioned schema (migrations 0001..0005), written in SQL
/// as that schema's writer did: several days, streams, keyed claims, NULLs,
/// non-ASCII and large (TOASTed, compressed) payloads.
async fn fill_the_old_schema(conn: &mut PgConnection, rows: i64) {
    sqlx::query(
        "INSERT INTO reports (id, tenant, protocol, kind, received_at, call_id, participant_id, \
           rating, issues, notes, error_code, device_name, media_quality_of_experience, request_id, \
           idempotency_key, user_agent, content_type, raw_payload) \
         SELECT gen_random_uuid(), 't' || (g % 3), (ARRAY['ucwa','graph','plivo'])[1 + g % 3], \
           (ARRAY['feedback','diagnostics','device_quality'])[1 + g % 3], \
           timestamptz '2026-11-20 00:00:00+00' + g * (interval '5 days' / $1) + interval '1 microsecond' * (g % 1000), \
           'call-' || (g / 4), CASE WHEN g % 2 = 0 THEN 'p-' || g END, \
           CASE WHEN g % 5 = 0 THEN NULL ELSE 1 + (g % 5) * 0.8 END, \
           CASE WHEN g % 3 = 0 THEN ARRAY['Echo', 'Noise ü'] ELSE '{}' END, \
           'notes é ' || g, NULL, 'Headset «' || g || '»', \
           CASE WHEN g % 7 = 0 THEN repeat('<QoE n=\"' || g || '\"/>', 400) END, \
           'req-' || g, CASE WHEN g % 4 = 0 THEN 'key-' || g END, 'sdk/1.0', 'application/json', \
           '{\"call\":\"' || g || '\",\"text\":\"ñ ✓ \\u0001\"' || repeat(',\"pad\":1', (g % 500)::int) || '}' \
         FROM generate_series(1, $1) g",
    )
    .bind(rows)
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO media_streams (report_id, ordinal, modality, avg_inbound_jitter_ms, \
           avg_inbound_loss_pct, mos, mos_model, quality_class, poor_reasons, quality_classifier) \
         SELECT id, o, 'audio', random() * 40, random(), 1 + random() * 3.5, 'e-model/1', \
           (ARRAY['good','poor'])[1 + o], CASE WHEN o = 1 THEN 'jitter' ELSE '' END, 'cqd-audio/1' \
         FROM reports, generate_series(0, 1) o WHERE kind <> 'feedback'",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO ingest_claims (tenant, claim, fingerprint, report_id, received_at, keyed) \
         SELECT tenant, convert_to('k:' || protocol || ':' || idempotency_key, 'UTF8'), NULL, id, \
           received_at, true FROM reports WHERE idempotency_key IS NOT NULL",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
}

/// Every row of a table as text, in a fixed order: the columns listed.
async fn table_text(
    conn: &mut PgConnection,
    table: &str,
    columns: &str,
    order: &str,
) -> Vec<String> {
    sqlx::query_scalar(&format!(
        "SELECT ROW({columns})::text FROM {table} ORDER BY {order}"
    ))
    .fetch_all(&mut *conn)
    .await
    .unwrap()
}

async fn column_list(conn: &mut PgConnection, table: &str) -> String {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    names.join(", ")
}

/// The conversion test's size: `CALLQ_PARTITION_MIGRATION_ROWS` (the figure
/// in docs/partitioning-and-retention.md was measured with 100000).
fn migration_rows() -> i64 {
    std::env::var("CALLQ_PARTITION_MIGRATION_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

#[tokio::test]
async fn an_unpartitioned_database_is_converted_in_place_with_every_row_kept_byte_for_byte() {
    let url = pg::fresh_database().await;
    let mut conn = PgConnection::connect(&url).await.unwrap();
    // Migrations 0001..0005 only: the schema main had before partitioning.
    let before_0006 = support::migrations_before("postgres", 6).await;
    before_0006.run(&mut conn).await.unwrap();
    let rows = migration_rows();
    fill_the_old_schema(&mut conn, rows).await;
    sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();

    let report_columns = column_list(&mut conn, "reports").await;
    let stream_columns = column_list(&mut conn, "media_streams").await;
    let reports_before = table_text(&mut conn, "reports", &report_columns, "id").await;
    let streams_before = table_text(
        &mut conn,
        "media_streams",
        &stream_columns,
        "report_id, ordinal",
    )
    .await;
    let payloads = "SELECT id::text, convert_to(raw_payload, 'UTF8'), \
         convert_to(media_quality_of_experience, 'UTF8') FROM reports ORDER BY id LIMIT 200";
    type Payload = (String, Vec<u8>, Option<Vec<u8>>);
    let payloads_before: Vec<Payload> =
        sqlx::query_as(payloads).fetch_all(&mut conn).await.unwrap();
    assert!(
        payloads_before
            .iter()
            .any(|p| p.2.as_ref().is_some_and(|q| q.len() > 4000))
    );
    let claims_before = table_text(
        &mut conn,
        "ingest_claims",
        "tenant, claim, report_id, received_at, keyed",
        "tenant, claim",
    )
    .await;
    let days: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT date_trunc('day', received_at, 'UTC')) FROM reports",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(days >= 5, "several days of data: {days}");
    assert!(
        streams_before.len() as i64 > rows,
        "streams: {}",
        streams_before.len()
    );

    // The conversion: the store's migrations as a start or `callq migrate`
    // runs them, up to 0007 (0008 drops a column this test compares; the
    // store's own migrate brings the schema up to date below).
    let store = Store::open(&url, &Default::default()).unwrap();
    let before_0008 = support::migrations_before("postgres", 8).await;
    let started = Instant::now();
    before_0008.run(&mut conn).await.unwrap();
    let took = started.elapsed();
    println!(
        "migration 0006 converted {rows} reports and {} streams in {took:?} ({:.2} s per million reports)",
        streams_before.len(),
        took.as_secs_f64() * 1e6 / rows as f64
    );

    let kind: String =
        sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE relname = 'reports'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(kind, "p", "reports is partitioned now");
    let in_default: i64 = sqlx::query_scalar("SELECT count(*) FROM reports_default")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        in_default, 0,
        "the existing days got partitions of their own"
    );
    let partitions = store.partitions().await.unwrap();
    assert_eq!(partitions.len() as i64, 2 * days);

    // Every row, every column, byte for byte (the text form of a row is exact
    // for floats, times to the microsecond and arrays).
    assert_eq!(
        table_text(&mut conn, "reports", &report_columns, "id").await,
        reports_before
    );
    assert_eq!(
        table_text(
            &mut conn,
            "media_streams",
            &stream_columns,
            "report_id, ordinal"
        )
        .await,
        streams_before
    );
    assert_eq!(
        table_text(
            &mut conn,
            "ingest_claims",
            "tenant, claim, report_id, received_at, keyed",
            "tenant, claim"
        )
        .await,
        claims_before
    );
    // Streams carry their report's tenant and time.
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM media_streams s JOIN reports r ON r.id = s.report_id \
         WHERE s.tenant <> r.tenant OR s.received_at <> r.received_at",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(mismatched, 0);
    // The payloads as bytes, for a sample (large, compressed ones among them).
    let payloads_after: Vec<Payload> = sqlx::query_as(payloads).fetch_all(&mut conn).await.unwrap();
    assert_eq!(payloads_after, payloads_before);
    assert!(String::from_utf8_lossy(&payloads_after[0].1).contains("ñ ✓"));

    // The current writer works on the converted (and fully migrated)
    // tables, and a retry of a report stored before the conversion is still
    // a retry.
    store.migrate().await.unwrap();
    let (tenant, key, id): (String, String, uuid::Uuid) = sqlx::query_as(
        "SELECT tenant, idempotency_key, id FROM reports WHERE idempotency_key IS NOT NULL \
           AND protocol = 'plivo' ORDER BY id LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let mut retry = report_at(&tenant, Utc::now());
    retry.idempotency_key = Some(key);
    let committed = store.insert_one(&retry).await.unwrap();
    assert!(
        committed.duplicate,
        "a retry after the conversion is stored once"
    );
    assert_eq!(committed.id, id);
    let fresh = report_at(&tenant, Utc::now());
    assert!(!store.insert_one(&fresh).await.unwrap().duplicate);
    assert_eq!(
        store
            .get_report(&tenant, fresh.id)
            .await
            .unwrap()
            .unwrap()
            .streams,
        fresh.streams
    );
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM reports")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(total, rows + 1);
    let _ = conn.close().await;
    store.close().await;
}
