//! SQLite backend: the zero-setup default. One writer at a time is all SQLite
//! allows, so a batch is a loop of cached prepared inserts inside one
//! transaction; the commit (one fsync) is what batching saves.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use super::claims::{Holder, Plan};
use super::columns::{REPORT_COLUMNS, STREAM_COLUMNS, report_from_row, stream_from_row};
use super::{StoreError, StoreOptions};
use crate::model::Report;

pub(super) fn open(url: &str, options: &StoreOptions) -> Result<SqlitePool, StoreError> {
    let connect = SqliteConnectOptions::from_str(url)
        .map_err(|_| StoreError::UnsupportedUrl(url.to_owned()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit that returned is on disk, even across power loss.
        // A 2xx promises exactly that.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    if !is_in_memory(url) {
        private_database_files(connect.get_filename())?;
    }
    Ok(SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(2))
        .acquire_timeout(options.acquire_timeout)
        .connect_lazy_with(connect))
}

/// `sqlite::memory:` and `?mode=memory` databases have no files.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The database's directory (0700 when callq creates it or it is the default
/// `callq-data/`), the database file itself created 0600 before SQLite opens
/// it, so the `-wal` and `-shm` files SQLite creates take the same mode, and
/// any of those files left wider by an older callq tightened. See
/// [`crate::files`].
fn private_database_files(db: &std::path::Path) -> Result<(), StoreError> {
    let io = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| StoreError::CreateDir { path, source }
    };
    if let Some(dir) = db.parent() {
        let own = dir == std::path::Path::new(crate::config::DATA_DIR);
        crate::files::private_dir(dir, own).map_err(io(dir))?;
    }
    crate::files::private_file(db).map_err(io(db))?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = db.as_os_str().to_owned();
        side.push(suffix);
        let side = std::path::PathBuf::from(side);
        crate::files::tighten_file(&side).map_err(io(&side))?;
    }
    Ok(())
}

/// RFC 3339 UTC with exactly six fractional digits, so that text order is
/// time order (SQLite compares the column as text).
pub(crate) fn encode_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn decode_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Malformed(format!("received_at {s:?}: {e}")))
}

/// Takes `claim` for the report `id` received at `received_at`, or returns
/// the claim as another report already holds it. A keyless claim received
/// before `stale_before` is taken over. One upsert: SQLite's single writer
/// is inside this transaction, so nobody else can hold it in between.
const CLAIM_SQL: &str = "INSERT INTO ingest_claims AS c \
       (tenant, claim, fingerprint, report_id, received_at, keyed) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
     ON CONFLICT (tenant, claim) DO UPDATE SET \
       fingerprint = CASE WHEN NOT c.keyed AND c.received_at < ?7 THEN excluded.fingerprint ELSE c.fingerprint END, \
       report_id = CASE WHEN NOT c.keyed AND c.received_at < ?7 THEN excluded.report_id ELSE c.report_id END, \
       received_at = CASE WHEN NOT c.keyed AND c.received_at < ?7 THEN excluded.received_at ELSE c.received_at END \
     RETURNING report_id, fingerprint";

/// Writes the plan's leaders in one transaction; returns, per leader, the
/// holder of its claim (`None`: it had no claim, and was written).
pub(super) async fn insert_batch(
    pool: &SqlitePool,
    reports: &[Report],
    plan: &Plan,
    retry_window: Duration,
) -> Result<Vec<Option<Holder>>, StoreError> {
    let report_sql = format!(
        "INSERT INTO reports ({REPORT_COLUMNS}) VALUES \
         (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    let stream_sql = format!(
        "INSERT INTO media_streams ({STREAM_COLUMNS}) VALUES \
         (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
         ?, ?, ?)"
    );
    let mut tx = pool.begin().await?;
    let mut holders = Vec::with_capacity(plan.leaders.len());
    for &i in &plan.leaders {
        let r = &reports[i];
        let id = r.id.hyphenated().to_string();
        if let Some(claim) = &plan.claims[i] {
            let stale_before = chrono::Duration::from_std(retry_window)
                .ok()
                .and_then(|w| r.received_at.checked_sub_signed(w))
                .map_or_else(|| "0".to_owned(), encode_time);
            let row = sqlx::query(CLAIM_SQL)
                .bind(&claim.tenant)
                .bind(&claim.key)
                .bind(claim.fingerprint.map(|f| f.to_vec()))
                .bind(&id)
                .bind(encode_time(r.received_at))
                .bind(claim.keyed)
                .bind(stale_before)
                .fetch_one(&mut *tx)
                .await?;
            let holder = Holder {
                report_id: parse_id(&row.try_get::<String, _>("report_id")?)?,
                fingerprint: row.try_get("fingerprint")?,
            };
            let held_by_another = holder.report_id != r.id;
            holders.push(Some(holder));
            if held_by_another {
                continue;
            }
        } else {
            holders.push(None);
        }
        sqlx::query(&report_sql)
            .bind(&id)
            .bind(&r.tenant)
            .bind(r.protocol.as_str())
            .bind(r.kind.as_str())
            .bind(encode_time(r.received_at))
            .bind(&r.call_id)
            .bind(&r.participant_id)
            .bind(&r.media_leg_id)
            .bind(r.rating)
            .bind(serde_json::to_string(&r.issues).expect("a list of strings serializes"))
            .bind(&r.notes)
            .bind(&r.error_code)
            .bind(&r.error_subcode)
            .bind(&r.device_name)
            .bind(&r.device_description)
            .bind(&r.cloud_service_name)
            .bind(&r.cloud_service_instance_name)
            .bind(&r.cloud_service_deployment_id)
            .bind(&r.cloud_service_deployment_environment)
            .bind(&r.media_endpoint)
            .bind(&r.media_quality_of_experience)
            .bind(&r.request_id)
            .bind(&r.idempotency_key)
            .bind(&r.user_agent)
            .bind(&r.content_type)
            .bind(&r.raw_payload)
            .execute(&mut *tx)
            .await?;
        for s in &r.streams {
            sqlx::query(&stream_sql)
                .bind(&id)
                .bind(s.ordinal)
                .bind(s.modality.map(|m| m.as_str()))
                .bind(s.channel_index)
                .bind(&s.label)
                .bind(s.media_duration_ms)
                .bind(s.inbound_packets)
                .bind(s.outbound_packets)
                .bind(s.avg_inbound_jitter_ms)
                .bind(s.max_inbound_jitter_ms)
                .bind(s.avg_outbound_jitter_ms)
                .bind(s.max_outbound_jitter_ms)
                .bind(s.avg_inbound_loss_pct)
                .bind(s.max_inbound_loss_pct)
                .bind(s.avg_outbound_loss_pct)
                .bind(s.max_outbound_loss_pct)
                .bind(s.avg_inbound_rtt_ms)
                .bind(s.max_inbound_rtt_ms)
                .bind(s.avg_outbound_rtt_ms)
                .bind(s.max_outbound_rtt_ms)
                .bind(s.avg_inbound_bitrate_bps)
                .bind(s.avg_outbound_bitrate_bps)
                .bind(s.avg_inbound_frame_rate)
                .bind(s.avg_outbound_frame_rate)
                .bind(s.network_link_speed_bytes)
                .bind(&s.local_ip)
                .bind(s.local_port)
                .bind(&s.remote_ip)
                .bind(s.remote_port)
                .bind(s.mos)
                .bind(s.r_factor)
                .bind(&s.mos_model)
                .bind(s.quality_class.map(|c| c.as_str()))
                .bind(crate::model::quality::join_reasons(&s.poor_reasons))
                .bind(&s.quality_classifier)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(holders)
}

/// The JSON array of issue names SQLite stores.
pub(crate) fn parse_issues(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Malformed(format!("issues {text:?}: {e}")))
}

pub(crate) fn parse_id(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Malformed(format!("id {s:?}: {e}")))
}

pub(super) async fn get_report(
    pool: &SqlitePool,
    tenant: &str,
    id: Uuid,
) -> Result<Option<Report>, StoreError> {
    let id_text = id.hyphenated().to_string();
    let Some(row) = sqlx::query(&format!(
        "SELECT {REPORT_COLUMNS} FROM reports WHERE tenant = ? AND id = ?"
    ))
    .bind(tenant)
    .bind(&id_text)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let mut report = report_row(&row)?;
    let streams = sqlx::query(&format!(
        "SELECT {STREAM_COLUMNS} FROM media_streams WHERE report_id = ? ORDER BY ordinal"
    ))
    .bind(&id_text)
    .fetch_all(pool)
    .await?;
    for row in &streams {
        report.streams.push(stream_from_row!(row));
    }
    Ok(Some(report))
}

/// Maps a `SELECT {REPORT_COLUMNS}` row; streams are left empty.
pub(crate) fn report_row(row: &sqlx::sqlite::SqliteRow) -> Result<Report, StoreError> {
    let id: String = row.try_get("id")?;
    let received_at: String = row.try_get("received_at")?;
    let issues: String = row.try_get("issues")?;
    let issues = parse_issues(&issues)?;
    Ok(report_from_row!(row,
        id: parse_id(&id)?,
        received_at: decode_time(&received_at)?,
        issues: issues))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_encode_with_fixed_width_so_text_order_is_time_order() {
        let a = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let b = a + chrono::Duration::microseconds(500_000);
        assert_eq!(encode_time(a), "2026-01-01T00:00:00.000000Z");
        assert!(encode_time(a) < encode_time(b));
        assert_eq!(decode_time(&encode_time(b)).unwrap(), b);
    }
}
