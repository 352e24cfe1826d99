//! Retention (`src/store/retention.rs`, `callq prune`): never a report
//! younger than the cut, whole partitions dropped where every tenant's cut
//! allows, bounded DELETEs for the rest (a shorter-retention tenant, the
//! DEFAULT partition, SQLite), claims and rollup hours removed with their reports, two
//! replicas pruning at once, the periodic pass and its metrics.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, DurationRound, Utc};

use callq::model::{Kind, MediaStream, Modality, Protocol, Report};
use callq::store::{PartitionWidth, RetentionPolicy, Store};

use crate::support::{self, Backend, TestServer, TestTenant, cli, pg};

fn report_at(tenant: &str, at: DateTime<Utc>, key: &str) -> Report {
    let mut r = Report::new(tenant, Protocol::Plivo, Kind::Feedback, "call", "{}");
    r.received_at = at;
    r.idempotency_key = Some(key.to_owned());
    r.streams = vec![MediaStream {
        ordinal: 0,
        modality: Some(Modality::Audio),
        ..MediaStream::default()
    }];
    r
}

/// (reports, streams, claims) of `tenant`.
async fn counts(store: &Store, tenant: &str) -> (i64, i64, i64) {
    let mut out = [0; 3];
    for (n, table) in out
        .iter_mut()
        .zip(["reports", "media_streams", "ingest_claims"])
    {
        let sql = format!("SELECT count(*) FROM {table} WHERE tenant = ");
        *n = match store {
            Store::Postgres(p) => sqlx::query_scalar(&format!("{sql}$1"))
                .bind(tenant)
                .fetch_one(p)
                .await
                .unwrap(),
            Store::Sqlite(p) => sqlx::query_scalar(&format!("{sql}?1"))
                .bind(tenant)
                .fetch_one(p)
                .await
                .unwrap(),
        };
    }
    (out[0], out[1], out[2])
}

async fn rollup_rows(store: &Store) -> i64 {
    let sql = "SELECT count(*) FROM stats_rollups";
    match store {
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

fn policy(default_days: u32, tenants: &[(&str, u32)]) -> RetentionPolicy {
    RetentionPolicy {
        default_days,
        tenants: tenants.iter().map(|(t, d)| (t.to_string(), *d)).collect(),
    }
}

/// A fixed "now" a little after midnight, so the cut falls inside a day
/// and partition bounds are predictable.
fn now() -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::days(1)).unwrap() + Duration::hours(6)
}

/// Reports just older, exactly at and just younger than a 30-day cut:
/// only the first goes, with its stream and claim.
async fn only_the_report_older_than_the_cut_goes(store: &Store) {
    let now = now();
    let cut = now - Duration::days(30);
    let older = report_at("acme", cut - Duration::milliseconds(1), "older");
    let exact = report_at("acme", cut, "exact");
    let younger = report_at("acme", cut + Duration::milliseconds(1), "younger");
    for r in [&older, &exact, &younger] {
        store.insert_one(r).await.unwrap();
    }
    // The statistics rollups of the hour before the cut and the hour from it.
    store.roll_up(cut + Duration::hours(1)).await.unwrap();
    assert_eq!(rollup_rows(store).await, 2);
    let p = policy(30, &[]);
    let dry = store.prune(&p, now, 2, true).await.unwrap();
    assert_eq!(dry.rows, BTreeMap::from([("acme".to_owned(), 1)]));
    assert_eq!(dry.claims, 1);
    assert_eq!(dry.rollups, 1);
    assert_eq!(
        counts(store, "acme").await,
        (3, 3, 3),
        "a dry run removes nothing"
    );
    let pruned = store.prune(&p, now, 2, false).await.unwrap();
    assert_eq!(pruned.rows, dry.rows);
    assert_eq!(pruned.claims, 1);
    assert_eq!(
        pruned.rollups, 1,
        "the hour before the cut, whose only report went"
    );
    assert_eq!(counts(store, "acme").await, (2, 2, 2));
    assert_eq!(rollup_rows(store).await, 1);
    assert!(store.get_report("acme", older.id).await.unwrap().is_none());
    assert!(store.get_report("acme", exact.id).await.unwrap().is_some());
    assert!(
        store
            .get_report("acme", younger.id)
            .await
            .unwrap()
            .is_some()
    );
    // Its key is free again: the same key now stores a new report.
    let again = report_at("acme", now, "older");
    assert!(!store.insert_one(&again).await.unwrap().duplicate);
    // A second pass finds nothing.
    assert_eq!(
        store.prune(&p, now, 2, false).await.unwrap().total_rows(),
        0
    );
}

#[tokio::test]
async fn only_the_report_older_than_the_cut_goes_on_postgres() {
    let store = support::postgres_store().await;
    // Daily partitions around the cut: the day of the cut straddles it, so
    // nothing may be dropped whole there; batched DELETE does it.
    store
        .create_partitions(PartitionWidth::Day, 3, now() - Duration::days(31))
        .await
        .unwrap();
    only_the_report_older_than_the_cut_goes(&store).await;
    store.close().await;
}

#[tokio::test]
async fn only_the_report_older_than_the_cut_goes_on_sqlite() {
    let (store, _dir) = support::sqlite_store().await;
    only_the_report_older_than_the_cut_goes(&store).await;
    store.close().await;
}

#[tokio::test]
async fn whole_partitions_go_where_every_tenant_allows_and_batches_do_the_rest() {
    let store = support::postgres_store().await;
    let now = now();
    // Days 50..40 ago have partitions; a report in each of two tenants per day.
    store
        .create_partitions(PartitionWidth::Day, 10, now - Duration::days(50))
        .await
        .unwrap();
    for day in 40..=50 {
        for tenant in ["acme", "globex"] {
            let at = now - Duration::days(day);
            store
                .insert_one(&report_at(tenant, at, &format!("{tenant}-{day}")))
                .await
                .unwrap();
        }
    }
    // acme keeps 7 days, everyone else 45: partitions ending 45 days ago or
    // earlier go whole; acme's reports 40..44 days ago go by DELETE, globex's stay.
    // One report far in the past sits in DEFAULT and goes by DELETE too.
    let ancient = report_at("globex", now - Duration::days(9000), "ancient");
    store.insert_one(&ancient).await.unwrap();
    let p = policy(45, &[("acme", 7)]);
    let dry = store.prune(&p, now, 3, true).await.unwrap();
    let pruned = store.prune(&p, now, 3, false).await.unwrap();
    assert_eq!(pruned.partitions, dry.partitions);
    assert_eq!(pruned.rows, dry.rows);
    let dropped: Vec<&str> = pruned
        .partitions
        .iter()
        .filter(|p| p.table == "reports")
        .map(|p| p.name.as_str())
        .collect();
    // The partitions of days 50..46 ago end at or before the cut (45 days ago, 06:00).
    assert_eq!(dropped.len(), 5, "{dropped:?}");
    assert_eq!(pruned.partitions.len(), 10, "with their stream twins");
    assert_eq!(
        pruned.rows,
        BTreeMap::from([("acme".to_owned(), 11), ("globex".to_owned(), 6)])
    );
    // globex: days 40..45 ago stay (45 days ago at 06:00 is the cut itself).
    assert_eq!(counts(&store, "globex").await, (6, 6, 6));
    assert_eq!(counts(&store, "acme").await, (0, 0, 0));
    assert!(
        store
            .get_report("globex", ancient.id)
            .await
            .unwrap()
            .is_none()
    );
    store.close().await;
}

#[tokio::test]
async fn two_replicas_pruning_at_once_remove_everything_once_without_error() {
    let url = pg::fresh_database().await;
    let a = Store::open(&url, &Default::default()).unwrap();
    a.migrate().await.unwrap();
    let b = Store::open(&url, &Default::default()).unwrap();
    let now = now();
    a.create_partitions(PartitionWidth::Day, 5, now - Duration::days(20))
        .await
        .unwrap();
    for i in 0..40 {
        let at = now - Duration::days(20) + Duration::hours(i * 3);
        a.insert_one(&report_at("acme", at, &format!("k{i}")))
            .await
            .unwrap();
    }
    let (before, _, _) = counts(&a, "acme").await;
    let p = policy(16, &[]);
    let expected = a.prune(&p, now, 4, true).await.unwrap();
    assert!(!expected.partitions.is_empty() && expected.total_rows() > 0);
    let (left, right) = tokio::join!(a.prune(&p, now, 4, false), b.prune(&p, now, 4, false));
    let (left, right) = (left.unwrap(), right.unwrap());
    assert_eq!(
        left.total_rows() + right.total_rows(),
        expected.total_rows()
    );
    assert_eq!(
        left.partitions.len() + right.partitions.len(),
        expected.partitions.len()
    );
    let (after, streams, claims) = counts(&a, "acme").await;
    assert_eq!(after, before - expected.total_rows() as i64);
    assert_eq!((streams, claims), (after, after));
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn the_server_prunes_at_start_and_counts_it_in_the_metrics() {
    let acme = TestTenant::new("acme");
    let url = pg::fresh_database().await;
    let store = Store::open(&url, &Default::default()).unwrap();
    store.migrate().await.unwrap();
    let old = report_at(&acme.id, Utc::now() - Duration::days(40), "old");
    let new = report_at(&acme.id, Utc::now() - Duration::days(2), "new");
    store.insert_one(&old).await.unwrap();
    store.insert_one(&new).await.unwrap();
    store.close().await;
    let mut settings = support::settings(url, std::slice::from_ref(&acme));
    settings.retention_days = 30;
    let server = TestServer::start(settings).await;
    let deadline = std::time::Instant::now() + StdDuration::from_secs(10);
    while server.count(&acme.id).await != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "no retention pass at start"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    assert!(
        server
            .store()
            .get_report(&acme.id, new.id)
            .await
            .unwrap()
            .is_some()
    );
    let metrics = server.metrics().await;
    let removed = support::metric_value(&metrics, "callq_retention_rows_removed_total").unwrap();
    assert!(removed >= 1.0, "{metrics}");
    assert!(
        support::metric_value(&metrics, "callq_retention_partitions_dropped_total").is_some(),
        "{metrics}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn callq_prune_prints_what_it_removes_and_dry_run_removes_nothing() {
    let acme = TestTenant::new("acme");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("callq.db").display());
    let store = Store::open(&url, &Default::default()).unwrap();
    store.migrate().await.unwrap();
    for (i, days) in [40, 20, 10].into_iter().enumerate() {
        let at = Utc::now() - Duration::days(days);
        store
            .insert_one(&report_at(&acme.id, at, &format!("k{i}")))
            .await
            .unwrap();
    }
    // Global 30 days; acme's own 15 (the line after [[tenants]] is acme's).
    let config = cli::config_file(
        &dir,
        &acme,
        &format!("database_url = \"{url}\"\nretention_days = 30"),
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("retention_days = 15\n");
    std::fs::write(&config, text).unwrap();
    let run = |dry: bool| {
        let mut c = cli::callq_bin();
        c.arg("--config").arg(&config).arg("prune");
        if dry {
            c.arg("--dry-run");
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let dry = run(true);
    assert!(
        dry.contains("retention: 30 days, tenant acme: 15 days"),
        "{dry}"
    );
    assert!(
        dry.contains("would remove 2 report(s) of tenant acme"),
        "{dry}"
    );
    assert_eq!(counts(&store, &acme.id).await.0, 3);
    let real = run(false);
    assert!(
        real.contains("removed 2 report(s) of tenant acme"),
        "{real}"
    );
    assert!(
        real.contains("removed 2 report(s), 2 retry claim(s) and 0 rollup row(s) in all"),
        "{real}"
    );
    assert_eq!(counts(&store, &acme.id).await, (1, 1, 1));
    assert!(run(false).contains("removed 0 report(s)"));
    store.close().await;
}

#[tokio::test]
async fn retention_and_partition_settings_are_checked_by_name() {
    let tenants = [TestTenant::new("acme")];
    let server = TestServer::on(Backend::Sqlite, &tenants, |s| {
        s.retention_days = 1;
        s.partition_width = "month".into();
    })
    .await;
    // SQLite: no partitions, nothing to drop; the pass at start ran without error.
    assert!(server.store().partitions().await.unwrap().is_empty());
    server.shutdown().await;
    for (key, value) in [
        ("partition_width", "\"hour\""),
        ("partitions_ahead", "0"),
        ("retention_days", "99999"),
        ("retention_batch_rows", "0"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = cli::config_file(&dir, &tenants[0], &format!("{key} = {value}"));
        let out = cli::callq_bin()
            .arg("--config")
            .arg(&config)
            .arg("check-config")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("key `{key}`")), "{key}: {err}");
    }
}
