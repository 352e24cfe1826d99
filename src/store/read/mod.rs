//! The read side: what the ops read API, the call view and the tests ask
//! the store for. Every query's SQL is in `sql.rs` (written once for both
//! dialects), runs through `run.rs` and maps its rows with the column lists
//! of [`schema`](super::schema), the same mapping for both backends.
//!
//! - `query.rs`: the read API's types (filters, cursors, rows, statistics);
//! - here: reports by id, by call, list pages, counts;
//! - `stats.rs`: statistics; `call_view.rs`: one call, bounded;
//! - `pool.rs`: the read API's own pool, bounded in time.

pub(super) mod call_view;
pub(super) mod pool;
pub mod query;
pub(super) mod run;
pub(super) mod sql;
pub(super) mod stats;

use uuid::Uuid;

use self::query::{Cursor, ReportFilter, ReportRow};
use super::schema::{MediaStreams, Reports, list_row};
use super::{Store, StoreError};
use crate::model::Report;

impl Store {
    /// One report of `tenant`, with its streams, as stored.
    pub async fn get_report(&self, tenant: &str, id: Uuid) -> Result<Option<Report>, StoreError> {
        let d = self.dialect();
        let rows = self.fetch(&sql::report_by_id(d, tenant, id)).await?;
        let Some(row) = rows.iter().next() else {
            return Ok(None);
        };
        let mut report = Reports::from_row(&row)?;
        report.streams = self
            .fetch(&sql::streams_of_report(d, id))
            .await?
            .map(MediaStreams::from_row)?;
        Ok(Some(report))
    }

    /// Every report of `tenant` about `call_id`, oldest first, with streams.
    pub async fn reports_for_call(
        &self,
        tenant: &str,
        call_id: &str,
    ) -> Result<Vec<Report>, StoreError> {
        Ok(self
            .newest_reports_for_call(tenant, call_id, usize::MAX)
            .await?
            .0)
    }

    /// The newest `limit` reports of `tenant` about `call_id`, returned oldest
    /// first with their streams, and whether older ones were left out. Bounds
    /// what one call view can load, whatever a client sent under one call id.
    pub async fn newest_reports_for_call(
        &self,
        tenant: &str,
        call_id: &str,
        limit: usize,
    ) -> Result<(Vec<Report>, bool), StoreError> {
        self.load_call(
            tenant,
            call_id,
            limit,
            None,
            Reports::from_row,
            |report, streams| report.streams = streams,
        )
        .await
    }

    /// Number of stored reports of `tenant`.
    pub async fn count_reports(&self, tenant: &str) -> Result<i64, StoreError> {
        let rows = self
            .fetch(&sql::count_reports(self.dialect(), tenant))
            .await?;
        match rows.iter().next() {
            Some(row) => row.get("n"),
            None => Err(StoreError::Malformed("count(*) returned no row".into())),
        }
    }

    /// One page of `tenant`'s reports matching `filter`, newest first,
    /// strictly after `after`, at most `limit` rows.
    pub async fn list_reports(
        &self,
        tenant: &str,
        filter: &ReportFilter,
        after: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let sql = sql::list_reports(self.dialect(), tenant, filter, after, limit);
        self.fetch(&sql).await?.map(list_row)
    }
}
