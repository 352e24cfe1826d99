//! SQLite batch insert. One writer at a time is all SQLite allows, so a
//! batch is a loop of cached prepared inserts inside one transaction; the
//! commit (one fsync) is what batching saves.

use std::sync::LazyLock;
use std::time::Duration;

use sqlx::SqlitePool;

use super::claims::{Holder, Plan};
use crate::model::Report;
use crate::store::StoreError;
use crate::store::schema::table::{self, Placeholders, StoredRow};
use crate::store::schema::value::encode_time;
use crate::store::schema::{IngestClaims, MediaStreams, Reports};

/// `INSERT INTO {table} ({columns}) VALUES (?1, …)` for a column list.
fn insert_sql(table: &str, columns: &[table::Column], list: &str) -> String {
    let values = Placeholders::sqlite().values(columns);
    format!("INSERT INTO {table} ({list}) VALUES ({values})")
}

static INSERT_REPORT: LazyLock<String> =
    LazyLock::new(|| insert_sql(Reports::NAME, Reports::COLUMNS, Reports::list()));

static INSERT_STREAM: LazyLock<String> = LazyLock::new(|| {
    insert_sql(
        MediaStreams::NAME,
        MediaStreams::COLUMNS,
        MediaStreams::list(),
    )
});

/// Takes a claim for a report, or returns the claim as another report
/// already holds it. A keyless claim received before the last parameter
/// (`stale_before`) is taken over. One upsert: SQLite's single writer is
/// inside this transaction, so nobody else can hold it in between.
static CLAIM: LazyLock<String> = LazyLock::new(|| {
    let mut p = Placeholders::sqlite();
    let values = p.values(IngestClaims::COLUMNS);
    let stale = format!("NOT c.keyed AND c.received_at < {}", p.value());
    format!(
        "INSERT INTO ingest_claims AS c ({columns}) VALUES ({values}) \
         ON CONFLICT (tenant, claim) DO UPDATE SET \
           fingerprint = CASE WHEN {stale} THEN excluded.fingerprint ELSE c.fingerprint END, \
           report_id = CASE WHEN {stale} THEN excluded.report_id ELSE c.report_id END, \
           received_at = CASE WHEN {stale} THEN excluded.received_at ELSE c.received_at END \
         RETURNING report_id, fingerprint",
        columns = IngestClaims::list(),
    )
});

/// Writes the plan's leaders in one transaction; returns, per leader, the
/// holder of its claim (`None`: it had no claim, and was written).
pub(super) async fn insert_batch(
    pool: &SqlitePool,
    reports: &[Report],
    plan: &Plan,
    retry_window: Duration,
) -> Result<Vec<Option<Holder>>, StoreError> {
    let mut tx = pool.begin().await?;
    let mut holders = Vec::with_capacity(plan.leaders.len());
    for &i in &plan.leaders {
        let r = &reports[i];
        if let Some(claim) = &plan.claims[i] {
            let stale_before = chrono::Duration::from_std(retry_window)
                .ok()
                .and_then(|w| r.received_at.checked_sub_signed(w))
                .map_or_else(|| "0".to_owned(), encode_time);
            let claim_row = claim.row(r);
            let row = IngestClaims::bind_values(sqlx::query(CLAIM.as_str()), &claim_row)
                .bind(stale_before)
                .fetch_one(&mut *tx)
                .await?;
            let row = StoredRow::Sqlite(&row);
            let holder = Holder {
                report_id: row.get("report_id")?,
                fingerprint: row.get("fingerprint")?,
            };
            let held_by_another = holder.report_id != r.id;
            holders.push(Some(holder));
            if held_by_another {
                continue;
            }
        } else {
            holders.push(None);
        }
        Reports::bind_values(sqlx::query(INSERT_REPORT.as_str()), r)
            .execute(&mut *tx)
            .await?;
        for s in &r.streams {
            MediaStreams::bind_values(
                sqlx::query(INSERT_STREAM.as_str()),
                &r.id,
                &r.tenant,
                &r.received_at,
                s,
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(holders)
}
