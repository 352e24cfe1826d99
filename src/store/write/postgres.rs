//! PostgreSQL batch insert: `UNNEST` of one array per column, so one fixed,
//! prepared statement writes any number of rows.
//!
//! Binary `COPY` was measured against it (issue 15: the claims statement,
//! then `COPY` of the reports and streams, in one transaction) and was no
//! cheaper for PostgreSQL per report, dearer for callq, and slower end to
//! end. The likely reason: that transaction takes 7 to 9 round trips where
//! this statement takes one, at batches of about 16 reports (the ingest
//! bench's average), so what `COPY` saves per row does not pay for them.
//! Figures in `docs/benchmarks.md` ("Binary COPY against the UNNEST statement").

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::claims::{Holder, Plan};
use crate::model::{MediaStream, Report};
use crate::store::StoreError;
use crate::store::schema::table::{Placeholders, StoredRow, names, unnested_values};
use crate::store::schema::{ClaimRow, IngestClaims, MediaStreams, Reports};

/// The batch statement, built once from the column lists.
static INSERT_BATCH: LazyLock<String> = LazyLock::new(insert_batch_sql);

/// One statement writes a whole batch. First each report's claim (see
/// `claims`) is inserted into `ingest_claims` from `UNNEST`ed arrays; a
/// claim already there is returned as it is (or taken over when it is a
/// keyless claim older than the window, the last parameter, in seconds),
/// and `ON CONFLICT` waits for a concurrent transaction holding it to end,
/// so two processes agree. Then the reports (with the claim each makes) are
/// inserted unless their claim is held by another report, then the streams
/// of the reports inserted. The statement returns the ids written and every
/// claim's holder: everything the clients are answered from comes out of
/// the committing statement itself. A single statement is its own
/// transaction, so a flush is one round trip; the driver returns only after
/// PostgreSQL's ReadyForQuery, which follows the commit.
///
/// Placeholders are handed out in this order, which [`insert_batch`] binds
/// in: the report columns, the reports' claims, the stream columns, the
/// claim columns, the window.
fn insert_batch_sql() -> String {
    let mut p = Placeholders::postgres();
    let report_rows = p.unnested(Reports::COLUMNS, &[("claim", "bytea")], "u");
    let stream_rows = p.unnested(MediaStreams::COLUMNS, &[], "s");
    let claim_rows = p.unnested(IngestClaims::COLUMNS, &[], "k");
    let window = p.value();
    let stale = format!(
        "(NOT c.keyed AND c.received_at < EXCLUDED.received_at - make_interval(secs => {window}))"
    );
    format!(
        "WITH claims AS ( \
           INSERT INTO ingest_claims AS c ({claim_columns}) \
           SELECT {claim_values} FROM {claim_rows} \
           ON CONFLICT (tenant, claim) DO UPDATE SET \
             fingerprint = CASE WHEN {stale} THEN EXCLUDED.fingerprint ELSE c.fingerprint END, \
             report_id = CASE WHEN {stale} THEN EXCLUDED.report_id ELSE c.report_id END, \
             received_at = CASE WHEN {stale} THEN EXCLUDED.received_at ELSE c.received_at END \
           RETURNING c.tenant, c.claim, c.fingerprint, c.report_id), \
         inserted AS ( \
           INSERT INTO reports ({report_columns}) \
           SELECT {report_values} \
           FROM {report_rows} \
           WHERE NOT EXISTS (SELECT 1 FROM claims h \
                             WHERE h.tenant = u.tenant AND h.claim = u.claim AND h.report_id <> u.id) \
           RETURNING id), \
         streams AS ( \
           INSERT INTO media_streams ({stream_columns}) \
           SELECT {stream_values} FROM {stream_rows} \
           WHERE s.report_id IN (SELECT id FROM inserted)) \
         SELECT id AS report_id, NULL::text AS tenant, NULL::bytea AS claim, NULL::bytea AS fingerprint \
           FROM inserted \
         UNION ALL \
         SELECT report_id, tenant, claim, fingerprint FROM claims \
           WHERE report_id NOT IN (SELECT id FROM inserted)",
        claim_columns = IngestClaims::list(),
        claim_values = unnested_values(IngestClaims::COLUMNS, "k"),
        report_columns = Reports::list(),
        report_values = unnested_values(Reports::COLUMNS, "u"),
        stream_columns = names(MediaStreams::COLUMNS, None),
        stream_values = unnested_values(MediaStreams::COLUMNS, "s"),
    )
}

/// Writes the plan's leaders in one statement; returns, per leader, the
/// holder of its claim (`None`: it had no claim, and was written).
pub(super) async fn insert_batch(
    pool: &PgPool,
    reports: &[Report],
    plan: &Plan,
    retry_window: Duration,
) -> Result<Vec<Option<Holder>>, StoreError> {
    let mut leaders: Vec<&Report> = Vec::with_capacity(plan.leaders.len());
    let mut report_claims: Vec<Option<&[u8]>> = Vec::with_capacity(plan.leaders.len());
    let mut stream_reports: Vec<Uuid> = Vec::new();
    let mut stream_tenants: Vec<String> = Vec::new();
    let mut stream_times: Vec<DateTime<Utc>> = Vec::new();
    let mut streams: Vec<&MediaStream> = Vec::new();
    let mut claimed = Vec::new();
    for &i in &plan.leaders {
        let r = &reports[i];
        leaders.push(r);
        for stream in &r.streams {
            stream_reports.push(r.id);
            stream_tenants.push(r.tenant.clone());
            stream_times.push(r.received_at);
            streams.push(stream);
        }
        report_claims.push(plan.claims[i].as_ref().map(|claim| claim.key.as_slice()));
        if let Some(claim) = &plan.claims[i] {
            claimed.push((claim, r));
        }
    }
    // Claims are taken in one global order, so two concurrent flushes that
    // share claims (a retry arriving while its first attempt is in flight)
    // wait for each other instead of deadlocking.
    claimed.sort_unstable_by(|(a, _), (b, _)| (&a.tenant, &a.key).cmp(&(&b.tenant, &b.key)));
    let claim_rows: Vec<ClaimRow> = claimed.iter().map(|(c, r)| c.row(r)).collect();
    let claim_refs: Vec<&ClaimRow> = claim_rows.iter().collect();
    // In the order `insert_batch_sql` handed out the placeholders.
    let q = sqlx::query(INSERT_BATCH.as_str());
    let q = Reports::bind_arrays(q, &leaders);
    let q = q.bind(report_claims);
    let q = MediaStreams::bind_arrays(q, &stream_reports, &stream_tenants, &stream_times, &streams);
    let q = IngestClaims::bind_arrays(q, &claim_refs);
    let rows = q.bind(retry_window.as_secs_f64()).fetch_all(pool).await?;
    outcomes(reports, plan, &rows)
}

/// Per leader, from the statement's rows: `None` when written, the holder
/// when another report holds its claim.
fn outcomes(
    reports: &[Report],
    plan: &Plan,
    rows: &[PgRow],
) -> Result<Vec<Option<Holder>>, StoreError> {
    let mut written = HashSet::new();
    let mut holders = HashMap::new();
    for row in rows {
        let row = StoredRow::Pg(row);
        let report_id: Uuid = row.get("report_id")?;
        match row.get::<Option<Vec<u8>>>("claim")? {
            None => {
                written.insert(report_id);
            }
            Some(claim) => {
                let tenant: String = row.get("tenant")?;
                let fingerprint: Option<Vec<u8>> = row.get("fingerprint")?;
                holders.insert(
                    (tenant, claim),
                    Holder {
                        report_id,
                        fingerprint,
                    },
                );
            }
        }
    }
    plan.leaders
        .iter()
        .map(|&i| {
            let r = &reports[i];
            match &plan.claims[i] {
                // Only claims held by another report come back.
                Some(claim) => match holders.remove(&(claim.tenant.clone(), claim.key.clone())) {
                    Some(holder) => Ok(Some(holder)),
                    None if written.contains(&r.id) => Ok(None),
                    None => Err(StoreError::Malformed(format!(
                        "report {} neither written nor a retry",
                        r.id
                    ))),
                },
                None if written.contains(&r.id) => Ok(None),
                None => Err(StoreError::Malformed(format!(
                    "report {} was not written",
                    r.id
                ))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_statement_numbers_every_column_once_in_bind_order() {
        let sql = insert_batch_sql();
        let binds = Reports::COLUMNS.len()
            + 1
            + MediaStreams::COLUMNS.len()
            + IngestClaims::COLUMNS.len()
            + 1;
        assert_eq!(
            binds, 70,
            "one array per column, the claims of the reports, the window"
        );
        for n in 1..=binds {
            assert!(
                sql.contains(&format!("${n}::")) || sql.contains(&format!("${n})")),
                "${n}"
            );
        }
        assert!(!sql.contains(&format!("${}", binds + 1)));
        assert!(
            sql.contains("(SELECT unnest($1::uuid[]) AS id, unnest($2::text[]) AS tenant,"),
            "reports first: id, tenant"
        );
        assert!(sql.contains("string_to_array(u.issues, E'\\x1f')"));
        assert!(
            sql.contains("unnest($25::text[]) AS raw_payload, unnest($26::bytea[]) AS claim) AS u")
        );
        assert!(
            sql.contains(
                "(SELECT unnest($27::uuid[]) AS report_id, unnest($28::text[]) AS tenant, \
                 unnest($29::timestamptz[]) AS received_at, unnest($30::int4[]) AS ordinal,"
            ),
            "then streams: report_id, tenant, received_at, ordinal"
        );
        assert!(sql.contains("make_interval(secs => $70)"));
    }
}
