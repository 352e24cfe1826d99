//! The write side: the group-commit [`Writer`] and the batch insert it runs
//! on either backend, with the retry claims that make a retried request
//! stored once.
//!
//! - `writer.rs`: queues, batches, bisects refused batches, answers each request;
//! - `postgres.rs` / `sqlite.rs`: one batch in one statement / one transaction;
//! - `claims.rs`: which reports of a batch are retries; `tenant_share.rs`:
//!   per-tenant fairness in the queue.

pub(super) mod claims;
pub(super) mod postgres;
pub(super) mod sqlite;
mod tenant_share;
pub(super) mod writer;

use std::time::Duration;

use uuid::Uuid;

use self::claims::{DEFAULT_RETRY_WINDOW, KeyReused, Plan};
use super::schema::value::encode_time;
use super::{Store, StoreError};
use crate::model::Report;

/// A report is committed: `id` is the stored row's id, the report's own or,
/// when it was a retry of an already stored one (same idempotency key, or
/// an identical keyless request within the retry window), the first one's.
/// What both the batch insert and the [`Writer`](writer::Writer) answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub id: Uuid,
    /// True when nothing new was written because the report was a retry.
    pub duplicate: bool,
}

impl Store {
    /// [`Store::insert_batch_within`] the default retry window.
    pub async fn insert_batch(
        &self,
        reports: &[Report],
    ) -> Result<Vec<Result<Committed, KeyReused>>, StoreError> {
        self.insert_batch_within(reports, DEFAULT_RETRY_WINDOW)
            .await
    }

    /// Inserts `reports` (and their streams) in one transaction, one
    /// statement on PostgreSQL. The result has one entry per input, in
    /// order: written, a retry of an earlier report (its id), or a key reused
    /// for another request (see `write/claims.rs`). Either all are committed or
    /// none. `retry_window`: how long an identical keyless request is a
    /// retry (zero: never).
    pub async fn insert_batch_within(
        &self,
        reports: &[Report],
        retry_window: Duration,
    ) -> Result<Vec<Result<Committed, KeyReused>>, StoreError> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        let plan = Plan::new(reports, retry_window);
        let holders = match self {
            Store::Postgres(pool) => {
                postgres::insert_batch(pool, reports, &plan, retry_window).await?
            }
            Store::Sqlite(pool) => sqlite::insert_batch(pool, reports, &plan, retry_window).await?,
        };
        Ok(plan.resolve(reports, &holders))
    }

    /// Inserts one report in its own transaction: the naive design that the
    /// benchmarks compare group commit against (same retry rules, default window).
    pub async fn insert_one(&self, report: &Report) -> Result<Committed, StoreError> {
        self.insert_batch(std::slice::from_ref(report))
            .await?
            .remove(0)
            .map_err(|KeyReused| StoreError::KeyReused)
    }

    /// Deletes up to `limit` keyless claims received before `before` (their
    /// window is over); returns how many. Keeps `ingest_claims` about one
    /// window's worth of rows.
    pub async fn prune_claims(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let done = match self {
            Store::Postgres(pool) => sqlx::query(
                "DELETE FROM ingest_claims WHERE ctid = ANY(ARRAY( \
                       SELECT ctid FROM ingest_claims WHERE NOT keyed AND received_at < $1 \
                       LIMIT $2))",
            )
            .bind(before)
            .bind(limit)
            .execute(pool)
            .await?
            .rows_affected(),
            Store::Sqlite(pool) => sqlx::query(
                "DELETE FROM ingest_claims WHERE (tenant, claim) IN ( \
                       SELECT tenant, claim FROM ingest_claims WHERE NOT keyed AND received_at < ? \
                       ORDER BY received_at LIMIT ?)",
            )
            .bind(encode_time(before))
            .bind(limit)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(done)
    }
}
