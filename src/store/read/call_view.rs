//! The reports of one call for the call view, loaded with bounded memory:
//! `raw_payload`, the one column as large as a request body, comes back
//! only when it is at most [`CallCaps::inline`] bytes, or, for reports the
//! read API derives a field from (UCWA feedback: the MS-QoE document lives
//! in the payload since migration 0008), at most [`CallCaps::source`]
//! bytes; otherwise the database sends just its size. The reports and their
//! streams are read in one snapshot with two queries, whatever the number
//! of reports.

use std::collections::HashMap;

use uuid::Uuid;

use super::sql;
use crate::model::{Kind, MediaStream, Protocol, Report};
use crate::store::schema::table::StoredRow;
use crate::store::schema::{MediaStreams, Reports};
use crate::store::{Store, StoreError};

/// How much of each raw payload a call view loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCaps {
    /// Largest payload shown inline.
    pub inline: usize,
    /// Largest payload loaded for the reports of `sources`, shown or not:
    /// the read API derives a field from it.
    pub source: usize,
    /// The (style, kind) of the reports whose payload the read API reads.
    pub sources: &'static [(Protocol, Kind)],
}

/// One report of a call view. `report.raw_payload` holds the payload when
/// `raw_payload_loaded`, else `""`; it is shown only when not
/// `raw_payload_omitted`; `raw_payload_bytes` is always the stored size.
#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    pub report: Report,
    pub raw_payload_bytes: i64,
    /// Larger than [`CallCaps::inline`]: not to be shown.
    pub raw_payload_omitted: bool,
    /// `report.raw_payload` is the whole stored payload.
    pub raw_payload_loaded: bool,
}

impl CallReport {
    /// A row of [`sql::call_reports`] with `caps`.
    fn from_row(row: &StoredRow<'_>, caps: &CallCaps) -> Result<CallReport, StoreError> {
        let report = Reports::from_row(row)?;
        let raw_payload_bytes: i64 = row.get("raw_payload_bytes")?;
        let cap = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let source = caps.sources.contains(&(report.protocol, report.kind));
        Ok(CallReport {
            raw_payload_omitted: raw_payload_bytes > cap(caps.inline),
            raw_payload_loaded: raw_payload_bytes <= cap(caps.inline)
                || (source && raw_payload_bytes <= cap(caps.source)),
            raw_payload_bytes,
            report,
        })
    }
}

impl Store {
    /// The newest `limit` reports of `tenant` about `call_id`, oldest first,
    /// with their streams, the raw payloads loaded as `caps` says; and
    /// whether older reports were left out.
    pub async fn call_reports(
        &self,
        tenant: &str,
        call_id: &str,
        limit: usize,
        caps: CallCaps,
    ) -> Result<(Vec<CallReport>, bool), StoreError> {
        self.load_call(
            tenant,
            call_id,
            limit,
            Some(&caps),
            |row| CallReport::from_row(row, &caps),
            |r, streams| r.report.streams = streams,
        )
        .await
    }

    /// The newest `limit` reports of `tenant` about `call_id` (each mapped
    /// by `map` from a [`sql::call_reports`] row with `cap`, its streams
    /// given to it by `attach`), oldest first; `caps` as in
    /// [`sql::call_reports`]; and whether older ones were
    /// left out. One snapshot, two queries.
    pub(super) async fn load_call<T>(
        &self,
        tenant: &str,
        call_id: &str,
        limit: usize,
        caps: Option<&CallCaps>,
        map: impl Fn(&StoredRow<'_>) -> Result<T, StoreError>,
        attach: impl Fn(&mut T, Vec<MediaStream>),
    ) -> Result<(Vec<T>, bool), StoreError> {
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let d = self.dialect();
        let statements = [
            sql::call_reports(d, tenant, call_id, fetch, caps),
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
    use super::CallCaps;
    use super::sql::{Dialect, call_reports};
    use crate::model::{Kind, Protocol};

    #[test]
    fn only_the_raw_payload_is_capped_and_sources_get_the_larger_cap() {
        let caps = CallCaps {
            inline: 4096,
            source: 16384,
            sources: &[(Protocol::Ucwa, Kind::Feedback)],
        };
        let cols = call_reports(Dialect::Postgres, "t", "c", 2, Some(&caps)).text;
        assert!(cols.contains(
            "COALESCE(CASE WHEN octet_length(raw_payload)::int8 <= 4096 OR (protocol = 'ucwa' AND kind = 'feedback' AND octet_length(raw_payload)::int8 <= 16384) THEN raw_payload END, '') AS raw_payload, octet_length(raw_payload)::int8 AS raw_payload_bytes"
        ), "{cols}");
        assert!(cols.starts_with("SELECT id, tenant, protocol"));
        assert!(!cols.contains("media_quality_of_experience"));
        assert_eq!(cols.matches(" AS ").count(), 2);
        let plain = call_reports(Dialect::Sqlite, "t", "c", 2, None).text;
        assert!(!plain.contains(" AS "), "{plain}");
    }
}
