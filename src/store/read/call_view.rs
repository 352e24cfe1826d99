//! The reports of one call for the call view, loaded with bounded memory:
//! the two columns that can be as large as a request body (`raw_payload`,
//! `media_quality_of_experience`) come back only when they are at most
//! `inline_cap` bytes; otherwise the database sends just their size. The
//! reports and their streams are read in one snapshot with two queries,
//! whatever the number of reports.

use std::collections::HashMap;

use uuid::Uuid;

use super::sql;
use crate::model::{MediaStream, Report};
use crate::store::schema::table::StoredRow;
use crate::store::schema::{MediaStreams, Reports};
use crate::store::{Store, StoreError};

/// One report of a call view. A large text left out is `""` in `report`,
/// with `*_omitted` set; `*_bytes` is always the stored size.
#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    pub report: Report,
    pub raw_payload_bytes: i64,
    pub raw_payload_omitted: bool,
    pub media_quality_of_experience_bytes: Option<i64>,
    pub media_quality_of_experience_omitted: bool,
}

impl CallReport {
    /// A row of [`sql::call_reports`] with a cap of `cap` bytes.
    fn from_row(row: &StoredRow<'_>, cap: usize) -> Result<CallReport, StoreError> {
        let mut report = Reports::from_row(row)?;
        let raw_payload_bytes: i64 = row.get("raw_payload_bytes")?;
        let qoe_bytes: Option<i64> = row.get("media_quality_of_experience_bytes")?;
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        let qoe_omitted = qoe_bytes.is_some_and(|n| n > cap);
        if qoe_omitted {
            report.media_quality_of_experience = None;
        }
        Ok(CallReport {
            report,
            raw_payload_bytes,
            raw_payload_omitted: raw_payload_bytes > cap,
            media_quality_of_experience_bytes: qoe_bytes,
            media_quality_of_experience_omitted: qoe_omitted,
        })
    }
}

impl Store {
    /// The newest `limit` reports of `tenant` about `call_id`, oldest first,
    /// with their streams, the large texts capped at `inline_cap` bytes; and
    /// whether older reports were left out.
    pub async fn call_reports(
        &self,
        tenant: &str,
        call_id: &str,
        limit: usize,
        inline_cap: usize,
    ) -> Result<(Vec<CallReport>, bool), StoreError> {
        self.load_call(
            tenant,
            call_id,
            limit,
            Some(inline_cap),
            |row| CallReport::from_row(row, inline_cap),
            |r, streams| r.report.streams = streams,
        )
        .await
    }

    /// The newest `limit` reports of `tenant` about `call_id` (each mapped
    /// by `map` from a [`sql::call_reports`] row with `cap`, its streams
    /// given to it by `attach`), oldest first; and whether older ones were
    /// left out. One snapshot, two queries.
    pub(super) async fn load_call<T>(
        &self,
        tenant: &str,
        call_id: &str,
        limit: usize,
        cap: Option<usize>,
        map: impl Fn(&StoredRow<'_>) -> Result<T, StoreError>,
        attach: impl Fn(&mut T, Vec<MediaStream>),
    ) -> Result<(Vec<T>, bool), StoreError> {
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let d = self.dialect();
        let statements = [
            sql::call_reports(d, tenant, call_id, fetch, cap),
            sql::call_streams(d, tenant, call_id, fetch),
        ];
        let [report_rows, stream_rows] = <[_; 2]>::try_from(self.snapshot(&[], &statements).await?)
            .map_err(|_| StoreError::Malformed("one result per statement".into()))?;
        let mut streams: HashMap<Uuid, Vec<MediaStream>> = HashMap::new();
        for row in stream_rows.iter() {
            let id: Uuid = row.get("report_id")?;
            streams
                .entry(id)
                .or_default()
                .push(MediaStreams::from_row(&row)?);
        }
        let mut reports = Vec::new();
        for row in report_rows.iter() {
            let id: Uuid = row.get("id")?;
            reports.push((map(&row)?, id));
        }
        let truncated = reports.len() > limit;
        reports.truncate(limit);
        reports.reverse();
        let reports = reports
            .into_iter()
            .map(|(mut r, id)| {
                attach(&mut r, streams.remove(&id).unwrap_or_default());
                r
            })
            .collect();
        Ok((reports, truncated))
    }
}

#[cfg(test)]
mod tests {
    use super::sql::{Dialect, call_reports};

    #[test]
    fn only_the_two_large_columns_are_capped() {
        let cols = call_reports(Dialect::Postgres, "t", "c", 2, Some(4096)).text;
        assert!(cols.contains(
            "COALESCE(CASE WHEN octet_length(raw_payload)::int8 <= 4096 THEN raw_payload END, '') AS raw_payload, octet_length(raw_payload)::int8 AS raw_payload_bytes"
        ));
        assert!(cols.contains("END AS media_quality_of_experience, "));
        assert!(cols.starts_with("SELECT id, tenant, protocol"));
        assert_eq!(cols.matches(" AS ").count(), 4);
        let plain = call_reports(Dialect::Sqlite, "t", "c", 2, None).text;
        assert!(!plain.contains(" AS "), "{plain}");
    }
}
