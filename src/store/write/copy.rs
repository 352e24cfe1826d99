//! PostgreSQL batch insert through binary `COPY` (issue 15): the other
//! write path [`PgWritePath::Copy`](super::PgWritePath::Copy), measured
//! against the one-statement `UNNEST` batch (`postgres.rs`).
//!
//! One transaction per batch: the claims step (the same `INSERT … ON
//! CONFLICT … RETURNING` as the `UNNEST` statement, in the same global claim
//! order), then Rust decides which leaders are written (those whose claim
//! no other report holds: [`decide`], the same outcome as
//! `postgres::outcomes`), then `COPY reports` and `COPY media_streams` of
//! exactly those, in binary (`schema/copy.rs`), then COMMIT. Nothing is
//! committed unless COMMIT returned: a refused row fails its `COPY` and the
//! transaction is rolled back (the writer bisects as for the statement), and
//! a connection lost midway leaves an open transaction the server rolls
//! back.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::PgPool;

use super::claims::{Holder, Plan};
use super::postgres::{claims_upsert_sql, ordered_claim_rows};
use crate::model::Report;
use crate::store::StoreError;
use crate::store::schema::copy::{HEADER, TRAILER, copy_in_sql};
use crate::store::schema::table::{Placeholders, StoredRow, names};
use crate::store::schema::{ClaimRow, IngestClaims, MediaStreams, Reports};

/// The claims step alone: one array per claim column, then the window.
static CLAIMS: LazyLock<String> = LazyLock::new(|| {
    let mut p = Placeholders::postgres();
    let arrays = p.arrays(IngestClaims::COLUMNS);
    claims_upsert_sql(&arrays, &p.value())
});

static COPY_REPORTS: LazyLock<String> =
    LazyLock::new(|| copy_in_sql(Reports::NAME, Reports::list()));

static COPY_STREAMS: LazyLock<String> =
    LazyLock::new(|| copy_in_sql(MediaStreams::NAME, &names(MediaStreams::COLUMNS, None)));

/// The transaction's start, in the same round trip as `BEGIN`: its
/// deadline, the connection's `statement_timeout` from now (set from the
/// writer's flush timeout, see `StatementBounds`; empty when unbounded), in
/// a transaction-local setting that [`TO_DEADLINE`] reads.
const BEGIN: &str = "BEGIN; SELECT set_config('callq.flush_deadline', \
       CASE WHEN current_setting('statement_timeout') = '0' THEN '' \
            ELSE (clock_timestamp() + current_setting('statement_timeout')::interval)::text END, \
       true)";

/// Before each `COPY`: its `statement_timeout` is what is left until the
/// transaction's deadline (at least 1 ms: a deadline passed cancels it at
/// once), so the whole transaction is bounded as the one `UNNEST` statement
/// is, however its time is shared between the statements.
const TO_DEADLINE: &str = "SELECT set_config('statement_timeout', \
       CASE WHEN current_setting('callq.flush_deadline') = '' THEN '0' \
            ELSE greatest(1, ceil(1000 * extract(epoch FROM \
                   current_setting('callq.flush_deadline')::timestamptz - clock_timestamp())))::bigint::text \
       END, true)";

/// Writes the plan's leaders in one transaction; returns, per leader, the
/// holder of its claim (`None`: written), as `postgres::insert_batch` does.
pub(super) async fn insert_batch(
    pool: &PgPool,
    reports: &[Report],
    plan: &Plan,
    retry_window: Duration,
) -> Result<Vec<Option<Holder>>, StoreError> {
    let claim_rows = ordered_claim_rows(reports, plan);
    // Dropped without `commit` (any error below, or the flush's future
    // dropped): sqlx rolls back before the connection is reused.
    let mut tx = pool.begin_with(BEGIN).await?;
    let mut holders = HashMap::with_capacity(claim_rows.len());
    if !claim_rows.is_empty() {
        let refs: Vec<&ClaimRow> = claim_rows.iter().collect();
        let q = IngestClaims::bind_arrays(sqlx::query(CLAIMS.as_str()), &refs)
            .bind(retry_window.as_secs_f64());
        for row in q.fetch_all(&mut *tx).await? {
            let row = StoredRow::Pg(&row);
            holders.insert(
                (row.get::<String>("tenant")?, row.get::<Vec<u8>>("claim")?),
                Holder {
                    report_id: row.get("report_id")?,
                    fingerprint: row.get("fingerprint")?,
                },
            );
        }
    }
    let (outcomes, written) = decide(reports, plan, holders)?;
    if !written.is_empty() {
        let mut data = Vec::with_capacity(written.iter().map(|&i| row_size(&reports[i])).sum());
        data.extend_from_slice(HEADER);
        for &i in &written {
            Reports::copy_row(&mut data, &reports[i]);
        }
        data.extend_from_slice(&TRAILER);
        sqlx::query(TO_DEADLINE).execute(&mut *tx).await?;
        let mut copy = tx.copy_in_raw(&COPY_REPORTS).await?;
        copy.send(data).await?;
        copy.finish().await?;

        let mut data = Vec::new();
        for &i in &written {
            let r = &reports[i];
            for stream in &r.streams {
                if data.is_empty() {
                    data.extend_from_slice(HEADER);
                }
                MediaStreams::copy_row(&mut data, &r.id, &r.tenant, &r.received_at, stream);
            }
        }
        if !data.is_empty() {
            data.extend_from_slice(&TRAILER);
            sqlx::query(TO_DEADLINE).execute(&mut *tx).await?;
            let mut copy = tx.copy_in_raw(&COPY_STREAMS).await?;
            copy.send(data).await?;
            copy.finish().await?;
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// A first guess of a report's encoded size (its payload dominates).
fn row_size(r: &Report) -> usize {
    512 + r.raw_payload.len()
        + r.media_quality_of_experience
            .as_ref()
            .map_or(0, String::len)
}

/// Per leader, its claim's holder when another report holds it (`Some`:
/// not written), else `None`; and the indices of the leaders to write, in
/// input order. `holders`: every claim's row after the claims step, by
/// (tenant, claim).
fn decide(
    reports: &[Report],
    plan: &Plan,
    mut holders: HashMap<(String, Vec<u8>), Holder>,
) -> Result<(Vec<Option<Holder>>, Vec<usize>), StoreError> {
    let mut outcomes = Vec::with_capacity(plan.leaders.len());
    let mut written = Vec::with_capacity(plan.leaders.len());
    for &i in &plan.leaders {
        let r = &reports[i];
        let holder = match &plan.claims[i] {
            None => None,
            Some(claim) => {
                let holder = holders
                    .remove(&(claim.tenant.clone(), claim.key.clone()))
                    .ok_or_else(|| {
                        StoreError::Malformed(format!(
                            "report {}: its claim was not returned",
                            r.id
                        ))
                    })?;
                Some(holder).filter(|h| h.report_id != r.id)
            }
        };
        if holder.is_none() {
            written.push(i);
        }
        outcomes.push(holder);
    }
    Ok((outcomes, written))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Protocol};
    use crate::store::write::claims::DEFAULT_RETRY_WINDOW;
    use uuid::Uuid;

    fn report(key: Option<&str>) -> Report {
        let mut r = Report::new("t", Protocol::Plivo, Kind::Feedback, "c", "{}");
        r.idempotency_key = key.map(str::to_owned);
        r.fingerprint = Some([1; 32]);
        r
    }

    #[test]
    fn only_leaders_holding_their_own_claim_or_none_are_written() {
        let reports = vec![report(Some("a")), report(Some("b")), report(None)];
        let plan = Plan::new(&reports, Duration::ZERO);
        let earlier = Holder {
            report_id: Uuid::now_v7(),
            fingerprint: Some(vec![1; 32]),
        };
        let own = Holder {
            report_id: reports[0].id,
            fingerprint: Some(vec![1; 32]),
        };
        let holders = HashMap::from([
            (("t".to_owned(), b"k:plivo:a".to_vec()), own),
            (("t".to_owned(), b"k:plivo:b".to_vec()), earlier.clone()),
        ]);
        let (outcomes, written) = decide(&reports, &plan, holders).unwrap();
        assert_eq!(outcomes, vec![None, Some(earlier), None]);
        assert_eq!(
            written,
            vec![0, 2],
            "the keyless report has no claim at window 0"
        );
    }

    #[test]
    fn a_claim_missing_from_the_answer_is_an_error_not_a_write() {
        let reports = vec![report(None)];
        let plan = Plan::new(&reports, DEFAULT_RETRY_WINDOW);
        assert!(decide(&reports, &plan, HashMap::new()).is_err());
    }

    #[test]
    fn the_statements_name_every_column_of_their_lists() {
        assert!(CLAIMS.contains("$6::bool[]"));
        assert!(CLAIMS.contains("make_interval(secs => $7)"));
        assert!(!CLAIMS.contains("$8"));
        assert!(COPY_REPORTS.starts_with("COPY reports (id, tenant, protocol,"));
        assert!(COPY_REPORTS.ends_with("raw_payload) FROM STDIN (FORMAT binary)"));
        assert!(
            COPY_STREAMS
                .starts_with("COPY media_streams (report_id, tenant, received_at, ordinal,")
        );
    }
}
