//! The reports of one call for the call view, loaded with bounded memory:
//! the two columns that can be as large as a request body (`raw_payload`,
//! `media_quality_of_experience`) come back only when they are at most
//! `inline_cap` bytes; otherwise the database sends just their size. The
//! reports and their streams are read in one snapshot with two queries,
//! whatever the number of reports.

use std::collections::HashMap;

use sqlx::Row as _;
use uuid::Uuid;

use super::columns::{REPORT_COLUMNS, STREAM_COLUMNS, stream_from_row};
use super::{Store, StoreError};
use crate::model::Report;

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

/// The report columns with the two large texts capped. `len` is the SQL of
/// the byte length of its argument.
fn capped_columns(len: fn(&str) -> String, cap: usize) -> String {
    let capped = |column: &str, nullable: bool| {
        let value = format!("CASE WHEN {} <= {cap} THEN {column} END", len(column));
        let value = if nullable {
            value
        } else {
            format!("COALESCE({value}, '')")
        };
        format!("{value} AS {column}, {} AS {column}_bytes", len(column))
    };
    REPORT_COLUMNS
        .replace("raw_payload", &capped("raw_payload", false))
        .replace(
            "media_quality_of_experience",
            &capped("media_quality_of_experience", true),
        )
}

const NEWEST_IDS: &str = "SELECT id FROM reports WHERE tenant = {p1} AND call_id = {p2} \
     ORDER BY received_at DESC, id DESC LIMIT {p3}";

fn newest_ids(p: [&str; 3]) -> String {
    NEWEST_IDS
        .replace("{p1}", p[0])
        .replace("{p2}", p[1])
        .replace("{p3}", p[2])
}

fn report_sql(len: fn(&str) -> String, cap: usize, p: [&str; 3]) -> String {
    format!(
        "SELECT {} FROM reports WHERE tenant = {} AND call_id = {} \
         ORDER BY received_at DESC, id DESC LIMIT {}",
        capped_columns(len, cap),
        p[0],
        p[1],
        p[2]
    )
}

fn stream_sql(p: [&str; 3]) -> String {
    format!(
        "SELECT {STREAM_COLUMNS} FROM media_streams WHERE report_id IN ({}) \
         ORDER BY report_id, ordinal",
        newest_ids(p)
    )
}

fn pg_len(column: &str) -> String {
    format!("octet_length({column})::int8")
}

fn sqlite_len(column: &str) -> String {
    format!("length(CAST({column} AS BLOB))")
}

macro_rules! call_report {
    ($report:expr, $row:expr, $cap:expr) => {{
        let row = $row;
        let mut report: Report = $report;
        let raw_payload_bytes: i64 = row.try_get("raw_payload_bytes")?;
        let qoe_bytes: Option<i64> = row.try_get("media_quality_of_experience_bytes")?;
        let cap = i64::try_from($cap).unwrap_or(i64::MAX);
        let qoe_omitted = qoe_bytes.is_some_and(|n| n > cap);
        if qoe_omitted {
            report.media_quality_of_experience = None;
        }
        CallReport {
            report,
            raw_payload_bytes,
            raw_payload_omitted: raw_payload_bytes > cap,
            media_quality_of_experience_bytes: qoe_bytes,
            media_quality_of_experience_omitted: qoe_omitted,
        }
    }};
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
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let (mut reports, mut streams) = match self {
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                let p = ["$1", "$2", "$3"];
                let rows = sqlx::query(&report_sql(pg_len, inline_cap, p))
                    .bind(tenant)
                    .bind(call_id)
                    .bind(fetch)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut reports = Vec::with_capacity(rows.len());
                for row in &rows {
                    reports.push(call_report!(
                        super::postgres::report_row(row)?,
                        row,
                        inline_cap
                    ));
                }
                let rows = sqlx::query(&stream_sql(p))
                    .bind(tenant)
                    .bind(call_id)
                    .bind(fetch)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut streams: HashMap<Uuid, Vec<_>> = HashMap::new();
                for row in &rows {
                    let id: Uuid = row.try_get("report_id")?;
                    streams.entry(id).or_default().push(stream_from_row!(row));
                }
                tx.commit().await?;
                (reports, streams)
            }
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let p = ["?1", "?2", "?3"];
                let rows = sqlx::query(&report_sql(sqlite_len, inline_cap, p))
                    .bind(tenant)
                    .bind(call_id)
                    .bind(fetch)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut reports = Vec::with_capacity(rows.len());
                for row in &rows {
                    reports.push(call_report!(
                        super::sqlite::report_row(row)?,
                        row,
                        inline_cap
                    ));
                }
                let rows = sqlx::query(&stream_sql(p))
                    .bind(tenant)
                    .bind(call_id)
                    .bind(fetch)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut streams: HashMap<Uuid, Vec<_>> = HashMap::new();
                for row in &rows {
                    let id: String = row.try_get("report_id")?;
                    streams
                        .entry(super::sqlite::parse_id(&id)?)
                        .or_default()
                        .push(stream_from_row!(row));
                }
                tx.commit().await?;
                (reports, streams)
            }
        };
        let truncated = reports.len() > limit;
        reports.truncate(limit);
        reports.reverse();
        for r in &mut reports {
            r.report.streams = streams.remove(&r.report.id).unwrap_or_default();
        }
        Ok((reports, truncated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_large_columns_are_capped() {
        let cols = capped_columns(pg_len, 4096);
        assert!(cols.contains(
            "COALESCE(CASE WHEN octet_length(raw_payload)::int8 <= 4096 THEN raw_payload END, '') AS raw_payload, octet_length(raw_payload)::int8 AS raw_payload_bytes"
        ));
        assert!(cols.contains("END AS media_quality_of_experience, "));
        assert!(cols.starts_with("id, tenant, protocol"));
        assert_eq!(cols.matches(" AS ").count(), 4);
    }
}
