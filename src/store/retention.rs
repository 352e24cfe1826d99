//! Retention: removing reports (with their streams and retry claims) older
//! than their tenant's retention.
//!
//! On PostgreSQL whole partitions are dropped where every row in them is
//! older than the cut of every tenant (no long DELETE, no dead tuples); what
//! is left (a tenant with a shorter retention than the others, the DEFAULT
//! partition, a partition straddling the cut) is deleted in statements of
//! at most `batch_rows` reports each. On SQLite everything is such batches.
//! Only rows with `received_at` strictly before the cut are ever removed.
//!
//! Every replica may prune at once: on PostgreSQL a pass holds a session
//! advisory lock (`pg_try_advisory_lock`, polled), so a second pass waits
//! for the first and then finds nothing left; on SQLite the database's single writer serializes the
//! batches, and a batch deletes only what is still there.
//!
//! A report's retry claims go with it: a claim carries its holder's
//! `received_at` (`write/claims.rs`), so the claims of a tenant older than
//! the cut are exactly those of its removed reports. So do the statistics
//! rollups of the removed hours (`stats_rollups`, migration 0007): cuts are
//! whole hours, so an hour's rollup rows go exactly when all its reports do.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::partitions::{PARTITIONED, Partition, range_partitions};
use super::schema::value::encode_time;
use super::{Store, StoreError};

/// The advisory lock key (`pg_advisory_lock`) of a retention pass: "callq"
/// in ASCII, then 2.
const PRUNE_LOCK: i64 = 0x6361_6c6c_7100_0002;

/// How long each tenant's reports are kept. Days of 0 keep forever.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Every tenant without its own setting (those no longer configured too).
    pub default_days: u32,
    /// Tenants with their own retention, in days (0: forever).
    pub tenants: BTreeMap<String, u32>,
}

/// Which tenants a cut applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tenants {
    One(String),
    /// Every tenant but these (the ones with their own retention).
    AllBut(Vec<String>),
}

/// One cut: the tenants' reports received before `before` go.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cut {
    tenants: Tenants,
    before: DateTime<Utc>,
}

/// `now - days`, rounded down to the hour: the statistics rollups
/// (`stats_rollups`, one row per tenant and hour) then go exactly with
/// their reports, and rounding down only ever keeps a report longer.
fn cut_of(days: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if days == 0 {
        return None;
    }
    let cut = now - Duration::days(i64::from(days));
    Some(cut.duration_trunc(Duration::hours(1)).unwrap_or(cut))
}

impl RetentionPolicy {
    /// True when something can ever be removed.
    pub fn removes_anything(&self) -> bool {
        self.default_days > 0 || self.tenants.values().any(|&d| d > 0)
    }

    /// The cut-off for `tenant` at `now`: its reports received before it
    /// are removed; `None` keeps them forever. For whoever keeps data
    /// derived from reports (hourly rollups) and must prune it alike.
    pub fn cut_for(&self, tenant: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        cut_of(
            self.tenants
                .get(tenant)
                .copied()
                .unwrap_or(self.default_days),
            now,
        )
    }

    /// Before this instant every tenant's rows may go, so whole partitions
    /// ending at or before it can be dropped; `None` when any tenant keeps
    /// forever.
    pub fn common_cut(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut cut = cut_of(self.default_days, now)?;
        for &days in self.tenants.values() {
            cut = cut.min(cut_of(days, now)?);
        }
        Some(cut)
    }

    fn cuts(&self, now: DateTime<Utc>) -> Vec<Cut> {
        let mut cuts: Vec<Cut> = self
            .tenants
            .iter()
            .filter_map(|(tenant, &days)| {
                Some(Cut {
                    tenants: Tenants::One(tenant.clone()),
                    before: cut_of(days, now)?,
                })
            })
            .collect();
        if let Some(before) = cut_of(self.default_days, now) {
            cuts.push(Cut {
                tenants: Tenants::AllBut(self.tenants.keys().cloned().collect()),
                before,
            });
        }
        cuts
    }
}

/// What a retention pass removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Partitions dropped whole (both tables).
    pub partitions: Vec<Partition>,
    /// Reports removed per tenant, those in dropped partitions included.
    pub rows: BTreeMap<String, u64>,
    /// Retry claims removed with them.
    pub claims: u64,
    /// Statistics rollup rows (one per tenant, hour, style and kind) of
    /// the hours removed.
    pub rollups: u64,
}

impl Pruned {
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }

    fn add(&mut self, tenant: String, n: u64) {
        if n > 0 {
            *self.rows.entry(tenant).or_default() += n;
        }
    }
}

impl Store {
    /// One retention pass at `now` under `policy`; `dry_run` counts what
    /// would go and removes nothing. Each DELETE removes at most
    /// `batch_rows` reports (and their streams), so no statement runs long.
    pub async fn prune(
        &self,
        policy: &RetentionPolicy,
        now: DateTime<Utc>,
        batch_rows: u32,
        dry_run: bool,
    ) -> Result<Pruned, StoreError> {
        let mut pruned = Pruned::default();
        if !policy.removes_anything() {
            return Ok(pruned);
        }
        let batch = i64::from(batch_rows.max(1));
        match self {
            Store::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                // Polled rather than waited for: another replica's pass may
                // take longer than the connection's `lock_timeout`, and
                // waiting for it is not an error.
                while !sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                    .bind(PRUNE_LOCK)
                    .fetch_one(&mut *conn)
                    .await?
                {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                let result =
                    prune_postgres(&mut conn, policy, now, batch, dry_run, &mut pruned).await;
                let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(PRUNE_LOCK)
                    .execute(&mut *conn)
                    .await;
                if unlocked.is_err() {
                    // Never hand a connection that may still hold the lock back to the pool.
                    let _ = conn.detach();
                }
                result?;
            }
            Store::Sqlite(pool) => {
                for cut in policy.cuts(now) {
                    let (condition, list) = sqlite_condition(&cut.tenants);
                    let before = encode_time(cut.before);
                    if dry_run {
                        let rows = sqlx::query(&format!(
                            "SELECT tenant, count(*) AS n FROM reports \
                             WHERE {condition} AND received_at < ?2 GROUP BY tenant"
                        ))
                        .bind(&list)
                        .bind(&before)
                        .fetch_all(pool)
                        .await?;
                        for row in rows {
                            pruned.add(row.try_get("tenant")?, row.try_get::<i64, _>("n")? as u64);
                        }
                        pruned.claims += sqlx::query_scalar::<_, i64>(&format!(
                            "SELECT count(*) FROM ingest_claims WHERE {condition} AND received_at < ?2"
                        ))
                        .bind(&list)
                        .bind(&before)
                        .fetch_one(pool)
                        .await? as u64;
                        pruned.rollups += sqlx::query_scalar::<_, i64>(&format!(
                            "SELECT count(*) FROM stats_rollups WHERE {condition} AND hour < ?2"
                        ))
                        .bind(&list)
                        .bind(&before)
                        .fetch_one(pool)
                        .await? as u64;
                        continue;
                    }
                    // Streams go by ON DELETE CASCADE (foreign keys are on).
                    let delete = format!(
                        "DELETE FROM reports WHERE id IN (SELECT id FROM reports \
                           WHERE {condition} AND received_at < ?2 ORDER BY received_at LIMIT ?3) \
                         RETURNING tenant"
                    );
                    loop {
                        let rows = sqlx::query(&delete)
                            .bind(&list)
                            .bind(&before)
                            .bind(batch)
                            .fetch_all(pool)
                            .await?;
                        for row in &rows {
                            pruned.add(row.try_get("tenant")?, 1);
                        }
                        if (rows.len() as i64) < batch {
                            break;
                        }
                    }
                    // The derived rows of the same tenants and hours: their
                    // claims (`received_at`) and their rollup hours (`hour`),
                    // each found by its key.
                    for (table, key, time_column, count) in [
                        (
                            "ingest_claims",
                            "tenant, claim",
                            "received_at",
                            &mut pruned.claims,
                        ),
                        (
                            "stats_rollups",
                            "tenant, hour, protocol, kind",
                            "hour",
                            &mut pruned.rollups,
                        ),
                    ] {
                        let sql = format!(
                            "DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} \
                               WHERE {condition} AND {time_column} < ?2 LIMIT ?3)"
                        );
                        loop {
                            let n = sqlx::query(&sql)
                                .bind(&list)
                                .bind(&before)
                                .bind(batch)
                                .execute(pool)
                                .await?
                                .rows_affected();
                            *count += n;
                            if (n as i64) < batch {
                                break;
                            }
                        }
                    }
                }
            }
        }
        Ok(pruned)
    }
}

/// `tenant IN (…)` / `tenant NOT IN (…)` over a JSON list bound as `?1`.
fn sqlite_condition(tenants: &Tenants) -> (&'static str, String) {
    match tenants {
        Tenants::One(t) => (
            "tenant IN (SELECT value FROM json_each(?1))",
            serde_json::json!([t]).to_string(),
        ),
        Tenants::AllBut(ts) => (
            "tenant NOT IN (SELECT value FROM json_each(?1))",
            serde_json::json!(ts).to_string(),
        ),
    }
}

/// `tenant = ANY($1)` / `tenant <> ALL($1)`, and the array bound as `$1`.
fn postgres_condition(tenants: &Tenants) -> (&'static str, Vec<String>) {
    match tenants {
        Tenants::One(t) => ("tenant = ANY($1)", vec![t.clone()]),
        Tenants::AllBut(ts) => ("tenant <> ALL($1)", ts.clone()),
    }
}

async fn prune_postgres(
    conn: &mut PgConnection,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
    batch: i64,
    dry_run: bool,
    pruned: &mut Pruned,
) -> Result<(), StoreError> {
    // 1. Whole partitions older than every tenant's cut.
    if let Some(common) = policy.common_cut(now) {
        let mut doomed = Vec::new();
        for table in PARTITIONED {
            doomed.extend(
                range_partitions(conn, table)
                    .await?
                    .into_iter()
                    .filter(|p| p.to <= common),
            );
        }
        for p in &doomed {
            if p.table == "reports" {
                let rows = sqlx::query(&format!(
                    "SELECT tenant, count(*) AS n FROM {} GROUP BY tenant",
                    p.name
                ))
                .persistent(false)
                .fetch_all(&mut *conn)
                .await?;
                for row in rows {
                    pruned.add(row.try_get("tenant")?, row.try_get::<i64, _>("n")? as u64);
                }
            }
        }
        if !dry_run {
            // A report partition and its streams twin (same bounds) go in
            // one transaction; each range in its own, so the parents'
            // ACCESS EXCLUSIVE lock is held for one short drop at a time.
            let mut ranges: Vec<_> = doomed.iter().map(|p| (p.from, p.to)).collect();
            ranges.sort();
            ranges.dedup();
            for (from, to) in ranges {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                for p in doomed.iter().filter(|p| (p.from, p.to) == (from, to)) {
                    sqlx::query(&format!("DROP TABLE {}", p.name))
                        .persistent(false)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
        }
        pruned.partitions = doomed;
    }
    let dropped: Vec<String> = pruned.partitions.iter().map(|p| p.name.clone()).collect();
    // 2. The rest, in batches, per cut.
    for cut in policy.cuts(now) {
        let (condition, tenants) = postgres_condition(&cut.tenants);
        if dry_run {
            let rows = sqlx::query(&format!(
                "SELECT tenant, count(*) AS n FROM reports \
                 WHERE {condition} AND received_at < $2 AND tableoid::regclass::text <> ALL($3) \
                 GROUP BY tenant"
            ))
            .bind(&tenants)
            .bind(cut.before)
            .bind(&dropped)
            .fetch_all(&mut *conn)
            .await?;
            for row in rows {
                pruned.add(row.try_get("tenant")?, row.try_get::<i64, _>("n")? as u64);
            }
            pruned.claims += sqlx::query_scalar::<_, i64>(&format!(
                "SELECT count(*) FROM ingest_claims WHERE {condition} AND received_at < $2"
            ))
            .bind(&tenants)
            .bind(cut.before)
            .fetch_one(&mut *conn)
            .await? as u64;
            pruned.rollups += sqlx::query_scalar::<_, i64>(&format!(
                "SELECT count(*) FROM stats_rollups WHERE {condition} AND hour < $2"
            ))
            .bind(&tenants)
            .bind(cut.before)
            .fetch_one(&mut *conn)
            .await? as u64;
            continue;
        }
        // Partition by partition (the DEFAULT one too), so that each batch
        // is found in one partition's index and never sorts or scans all
        // the partitions before the cut.
        let mut sources: Vec<String> = range_partitions(conn, "reports")
            .await?
            .into_iter()
            .filter(|p| p.from < cut.before)
            .map(|p| p.name)
            .collect();
        sources.push("reports_default".to_owned());
        for source in sources {
            delete_batches(
                conn, &source, condition, &tenants, cut.before, batch, pruned,
            )
            .await?;
        }
        // The derived rows of the same tenants and hours: their claims
        // (`received_at`) and their rollup hours (`hour`).
        for (table, time_column, count) in [
            ("ingest_claims", "received_at", &mut pruned.claims),
            ("stats_rollups", "hour", &mut pruned.rollups),
        ] {
            let sql = format!(
                "DELETE FROM {table} WHERE ctid = ANY(ARRAY( \
                   SELECT ctid FROM {table} WHERE {condition} AND {time_column} < $2 LIMIT $3))"
            );
            loop {
                let n = sqlx::query(&sql)
                    .bind(&tenants)
                    .bind(cut.before)
                    .bind(batch)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                *count += n;
                if (n as i64) < batch {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Deletes the reports of `partition` (one partition of `reports`) that
/// match `condition` (over `$1`) and are older than `before`, with their
/// streams, in batches of at most `batch`. Each batch is found first and
/// its streams are then deleted through `media_streams` bounded by the
/// batch's own oldest and newest times (so PostgreSQL prunes to the one or
/// two partitions holding them) and joined on the full key.
async fn delete_batches(
    conn: &mut PgConnection,
    partition: &str,
    condition: &str,
    tenants: &[String],
    before: DateTime<Utc>,
    batch: i64,
    pruned: &mut Pruned,
) -> Result<(), StoreError> {
    let find = format!(
        "SELECT id, received_at FROM {partition} WHERE {condition} AND received_at < $2 LIMIT $3"
    );
    let delete = format!(
        "WITH streams AS ( \
           DELETE FROM media_streams s USING UNNEST($2::uuid[], $3::timestamptz[]) AS d(id, received_at) \
           WHERE s.{condition} AND s.received_at BETWEEN $4 AND $5 \
             AND s.report_id = d.id AND s.received_at = d.received_at), \
         gone AS ( \
           DELETE FROM {partition} r USING UNNEST($2::uuid[], $3::timestamptz[]) AS d(id, received_at) \
           WHERE r.{condition} AND r.received_at BETWEEN $4 AND $5 \
             AND r.id = d.id AND r.received_at = d.received_at \
           RETURNING r.tenant) \
         SELECT tenant, count(*) AS n FROM gone GROUP BY tenant"
    );
    loop {
        // Not kept prepared: one statement per partition would crowd the
        // connection's cache (the writer's batch statement lives there too).
        let found: Vec<(uuid::Uuid, DateTime<Utc>)> = sqlx::query_as(&find)
            .persistent(false)
            .bind(tenants)
            .bind(before)
            .bind(batch)
            .fetch_all(&mut *conn)
            .await?;
        let (Some(oldest), Some(newest)) = (
            found.iter().map(|f| f.1).min(),
            found.iter().map(|f| f.1).max(),
        ) else {
            return Ok(());
        };
        let (ids, times): (Vec<_>, Vec<_>) = found.iter().copied().unzip();
        let rows = sqlx::query(&delete)
            .persistent(false)
            .bind(tenants)
            .bind(&ids)
            .bind(&times)
            .bind(oldest)
            .bind(newest)
            .fetch_all(&mut *conn)
            .await?;
        for row in rows {
            pruned.add(row.try_get("tenant")?, row.try_get::<i64, _>("n")? as u64);
        }
        if (found.len() as i64) < batch {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn partitions_drop_only_below_the_longest_retention() {
        let mut p = RetentionPolicy {
            default_days: 30,
            tenants: BTreeMap::from([("short".to_owned(), 7), ("long".to_owned(), 90)]),
        };
        assert_eq!(p.common_cut(now()), Some(now() - Duration::days(90)));
        assert_eq!(p.cut_for("short", now()), Some(now() - Duration::days(7)));
        assert_eq!(p.cut_for("other", now()), Some(now() - Duration::days(30)));
        p.tenants.insert("forever".into(), 0);
        assert_eq!(p.common_cut(now()), None, "one tenant keeps forever");
        assert_eq!(p.cut_for("forever", now()), None);
        assert_eq!(
            p.cuts(now()).last().unwrap().tenants,
            Tenants::AllBut(vec!["forever".into(), "long".into(), "short".into()])
        );
        let off = RetentionPolicy::default();
        assert!(!off.removes_anything());
        assert_eq!(off.common_cut(now()), None);
    }
}
