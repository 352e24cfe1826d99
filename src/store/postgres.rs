//! PostgreSQL backend: batch inserts through `UNNEST` of column arrays, so one
//! fixed, prepared statement writes any number of rows.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::StoreError;
use super::claims::{Holder, Plan};
use super::columns::{REPORT_COLUMNS, STREAM_COLUMNS, report_from_row, stream_from_row};
use super::{StatementBounds, StoreOptions};
use crate::model::Report;

pub(super) fn open(
    url: &str,
    options: &StoreOptions,
    bounds: Option<StatementBounds>,
) -> Result<PgPool, StoreError> {
    let mut connect = PgConnectOptions::from_str(url)
        .map_err(|_| StoreError::UnsupportedUrl(super::redact_url(url)))?
        .application_name("callq");
    // Set at connection start-up, so every statement of every connection is
    // bounded by the server itself (no extra round trip per flush).
    if let Some(b) = bounds {
        connect = connect.options([
            (
                "statement_timeout",
                format!("{}ms", b.statement_timeout.as_millis().max(1)),
            ),
            (
                "lock_timeout",
                format!("{}ms", b.lock_timeout.as_millis().max(1)),
            ),
        ]);
    }
    Ok(PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_lazy_with(connect))
}

/// One statement writes a whole batch. First each report's claim (see
/// `claims`) is inserted into `ingest_claims` from `UNNEST`ed arrays
/// ($63..$68); a claim already there is returned as it is (or taken over
/// when it is a keyless claim older than the window, $69 seconds), and
/// `ON CONFLICT` waits for a concurrent transaction holding it to end, so
/// two processes agree. Then the reports ($1..$26, with their claim $62) are
/// inserted unless their claim is held by another report, then the streams
/// ($27..$61) of the reports inserted. The statement returns the ids written
/// and every claim's holder: everything the clients are answered from comes
/// out of the committing statement itself. A single statement is its own
/// transaction, so a flush is one round trip; the driver returns only after
/// PostgreSQL's ReadyForQuery, which follows the commit.
fn insert_batch_sql() -> String {
    format!(
        "WITH claims AS ( \
           INSERT INTO ingest_claims AS c (tenant, claim, fingerprint, report_id, received_at, keyed) \
           SELECT * FROM UNNEST($63::text[], $64::bytea[], $65::bytea[], $66::uuid[], \
                                $67::timestamptz[], $68::bool[]) \
           ON CONFLICT (tenant, claim) DO UPDATE SET \
             fingerprint = CASE WHEN {stale} THEN EXCLUDED.fingerprint ELSE c.fingerprint END, \
             report_id = CASE WHEN {stale} THEN EXCLUDED.report_id ELSE c.report_id END, \
             received_at = CASE WHEN {stale} THEN EXCLUDED.received_at ELSE c.received_at END \
           RETURNING c.tenant, c.claim, c.fingerprint, c.report_id), \
         inserted AS ( \
           INSERT INTO reports ({REPORT_COLUMNS}) \
           SELECT u.id, u.tenant, u.protocol, u.kind, u.received_at, u.call_id, u.participant_id, \
                  u.media_leg_id, u.rating, string_to_array(u.issues, E'\\x1f'), \
                  u.notes, u.error_code, u.error_subcode, u.device_name, u.device_description, \
                  u.cloud_service_name, u.cloud_service_instance_name, u.cloud_service_deployment_id, \
                  u.cloud_service_deployment_environment, u.media_endpoint, \
                  u.media_quality_of_experience, u.request_id, u.idempotency_key, u.user_agent, \
                  u.content_type, u.raw_payload \
           FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], \
                       $7::text[], $8::text[], $9::float8[], $10::text[], $11::text[], $12::text[], \
                       $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], \
                       $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], \
                       $25::text[], $26::text[], $62::bytea[]) \
                AS u({REPORT_COLUMNS}, claim) \
           WHERE NOT EXISTS (SELECT 1 FROM claims h \
                             WHERE h.tenant = u.tenant AND h.claim = u.claim AND h.report_id <> u.id) \
           RETURNING id), \
         streams AS ( \
           INSERT INTO media_streams ({STREAM_COLUMNS}) \
           SELECT s.* FROM UNNEST($27::uuid[], $28::int4[], $29::text[], $30::int4[], $31::text[], \
                  $32::float8[], $33::int8[], $34::int8[], $35::float8[], $36::float8[], $37::float8[], \
                  $38::float8[], $39::float8[], $40::float8[], $41::float8[], $42::float8[], \
                  $43::float8[], $44::float8[], $45::float8[], $46::float8[], $47::float8[], \
                  $48::float8[], $49::float8[], $50::float8[], $51::int8[], $52::text[], $53::int4[], \
                  $54::text[], $55::int4[], $56::float8[], $57::float8[], $58::text[], \
                  $59::text[], $60::text[], $61::text[]) \
                AS s({STREAM_COLUMNS}) \
           WHERE s.report_id IN (SELECT id FROM inserted)) \
         SELECT id AS report_id, NULL::text AS tenant, NULL::bytea AS claim, NULL::bytea AS fingerprint \
           FROM inserted \
         UNION ALL \
         SELECT report_id, tenant, claim, fingerprint FROM claims \
           WHERE report_id NOT IN (SELECT id FROM inserted)",
        stale =
            "(NOT c.keyed AND c.received_at < EXCLUDED.received_at - make_interval(secs => $69))",
    )
}

/// The claims of a batch's leaders, column-wise.
#[derive(Default)]
struct ClaimColumns {
    tenant: Vec<String>,
    claim: Vec<Vec<u8>>,
    fingerprint: Vec<Option<Vec<u8>>>,
    report_id: Vec<Uuid>,
    received_at: Vec<chrono::DateTime<chrono::Utc>>,
    keyed: Vec<bool>,
}

/// Column-wise copy of the batch, the shape `UNNEST` wants.
#[derive(Default)]
struct ReportColumns {
    id: Vec<Uuid>,
    tenant: Vec<String>,
    protocol: Vec<&'static str>,
    kind: Vec<&'static str>,
    received_at: Vec<chrono::DateTime<chrono::Utc>>,
    call_id: Vec<String>,
    participant_id: Vec<Option<String>>,
    media_leg_id: Vec<Option<String>>,
    rating: Vec<Option<f64>>,
    issues: Vec<String>,
    notes: Vec<Option<String>>,
    error_code: Vec<Option<String>>,
    error_subcode: Vec<Option<String>>,
    device_name: Vec<Option<String>>,
    device_description: Vec<Option<String>>,
    cloud_service_name: Vec<Option<String>>,
    cloud_service_instance_name: Vec<Option<String>>,
    cloud_service_deployment_id: Vec<Option<String>>,
    cloud_service_deployment_environment: Vec<Option<String>>,
    media_endpoint: Vec<Option<String>>,
    media_quality_of_experience: Vec<Option<String>>,
    request_id: Vec<Option<String>>,
    idempotency_key: Vec<Option<String>>,
    user_agent: Vec<Option<String>>,
    content_type: Vec<Option<String>>,
    raw_payload: Vec<String>,
}

impl ReportColumns {
    fn push(&mut self, r: &Report) {
        self.id.push(r.id);
        self.tenant.push(r.tenant.clone());
        self.protocol.push(r.protocol.as_str());
        self.kind.push(r.kind.as_str());
        self.received_at.push(r.received_at);
        self.call_id.push(r.call_id.clone());
        self.participant_id.push(r.participant_id.clone());
        self.media_leg_id.push(r.media_leg_id.clone());
        self.rating.push(r.rating);
        self.issues.push(join_issues(&r.issues));
        self.notes.push(r.notes.clone());
        self.error_code.push(r.error_code.clone());
        self.error_subcode.push(r.error_subcode.clone());
        self.device_name.push(r.device_name.clone());
        self.device_description.push(r.device_description.clone());
        self.cloud_service_name.push(r.cloud_service_name.clone());
        self.cloud_service_instance_name
            .push(r.cloud_service_instance_name.clone());
        self.cloud_service_deployment_id
            .push(r.cloud_service_deployment_id.clone());
        self.cloud_service_deployment_environment
            .push(r.cloud_service_deployment_environment.clone());
        self.media_endpoint.push(r.media_endpoint.clone());
        self.media_quality_of_experience
            .push(r.media_quality_of_experience.clone());
        self.request_id.push(r.request_id.clone());
        self.idempotency_key.push(r.idempotency_key.clone());
        self.user_agent.push(r.user_agent.clone());
        self.content_type.push(r.content_type.clone());
        self.raw_payload.push(r.raw_payload.clone());
    }
}

#[derive(Default)]
struct StreamColumns {
    report_id: Vec<Uuid>,
    ordinal: Vec<i32>,
    modality: Vec<Option<&'static str>>,
    channel_index: Vec<Option<i32>>,
    label: Vec<Option<String>>,
    media_duration_ms: Vec<Option<f64>>,
    inbound_packets: Vec<Option<i64>>,
    outbound_packets: Vec<Option<i64>>,
    f64s: [Vec<Option<f64>>; 16],
    network_link_speed_bytes: Vec<Option<i64>>,
    local_ip: Vec<Option<String>>,
    local_port: Vec<Option<i32>>,
    remote_ip: Vec<Option<String>>,
    remote_port: Vec<Option<i32>>,
    mos: Vec<Option<f64>>,
    r_factor: Vec<Option<f64>>,
    mos_model: Vec<Option<String>>,
    quality_class: Vec<Option<&'static str>>,
    poor_reasons: Vec<String>,
    quality_classifier: Vec<Option<String>>,
}

impl StreamColumns {
    fn push(&mut self, report_id: Uuid, s: &crate::model::MediaStream) {
        self.report_id.push(report_id);
        self.ordinal.push(s.ordinal);
        self.modality.push(s.modality.map(|m| m.as_str()));
        self.channel_index.push(s.channel_index);
        self.label.push(s.label.clone());
        self.media_duration_ms.push(s.media_duration_ms);
        self.inbound_packets.push(s.inbound_packets);
        self.outbound_packets.push(s.outbound_packets);
        // In STREAM_COLUMNS order, from avg_inbound_jitter_ms to avg_outbound_frame_rate.
        let metrics = s.direction_metrics();
        for (column, value) in self.f64s.iter_mut().zip(metrics) {
            column.push(value);
        }
        self.network_link_speed_bytes
            .push(s.network_link_speed_bytes);
        self.local_ip.push(s.local_ip.clone());
        self.local_port.push(s.local_port);
        self.remote_ip.push(s.remote_ip.clone());
        self.remote_port.push(s.remote_port);
        self.mos.push(s.mos);
        self.r_factor.push(s.r_factor);
        self.mos_model.push(s.mos_model.clone());
        self.quality_class.push(s.quality_class.map(|c| c.as_str()));
        self.poor_reasons
            .push(crate::model::quality::join_reasons(&s.poor_reasons));
        self.quality_classifier.push(s.quality_classifier.clone());
    }
}

/// Issues joined by the ASCII unit separator, split again by
/// `string_to_array` in SQL (cheaper per row than parsing JSON). Issue names
/// are canonical enum names; a separator inside one is dropped, not trusted.
fn join_issues(issues: &[String]) -> String {
    issues
        .iter()
        .map(|i| i.replace('\u{1f}', ""))
        .filter(|i| !i.is_empty())
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// Writes the plan's leaders in one statement; returns, per leader, the
/// holder of its claim (`None`: it had no claim, and was written).
pub(super) async fn insert_batch(
    pool: &PgPool,
    reports: &[Report],
    plan: &Plan,
    retry_window: Duration,
) -> Result<Vec<Option<Holder>>, StoreError> {
    let mut c = ReportColumns::default();
    let mut s = StreamColumns::default();
    let mut k = ClaimColumns::default();
    let mut report_claims: Vec<Option<Vec<u8>>> = Vec::with_capacity(plan.leaders.len());
    let mut claimed = Vec::new();
    for &i in &plan.leaders {
        let r = &reports[i];
        c.push(r);
        for stream in &r.streams {
            s.push(r.id, stream);
        }
        report_claims.push(plan.claims[i].as_ref().map(|claim| claim.key.clone()));
        if let Some(claim) = &plan.claims[i] {
            claimed.push((claim, r));
        }
    }
    // Claims are taken in one global order, so two concurrent flushes that
    // share claims (a retry arriving while its first attempt is in flight)
    // wait for each other instead of deadlocking.
    claimed.sort_unstable_by(|(a, _), (b, _)| (&a.tenant, &a.key).cmp(&(&b.tenant, &b.key)));
    for (claim, r) in claimed {
        k.tenant.push(claim.tenant.clone());
        k.claim.push(claim.key.clone());
        k.fingerprint.push(claim.fingerprint.map(|f| f.to_vec()));
        k.report_id.push(r.id);
        k.received_at.push(r.received_at);
        k.keyed.push(claim.keyed);
    }
    let [
        f0,
        f1,
        f2,
        f3,
        f4,
        f5,
        f6,
        f7,
        f8,
        f9,
        f10,
        f11,
        f12,
        f13,
        f14,
        f15,
    ] = s.f64s;
    let rows = sqlx::query(&insert_batch_sql())
        .bind(c.id)
        .bind(c.tenant)
        .bind(c.protocol)
        .bind(c.kind)
        .bind(c.received_at)
        .bind(c.call_id)
        .bind(c.participant_id)
        .bind(c.media_leg_id)
        .bind(c.rating)
        .bind(c.issues)
        .bind(c.notes)
        .bind(c.error_code)
        .bind(c.error_subcode)
        .bind(c.device_name)
        .bind(c.device_description)
        .bind(c.cloud_service_name)
        .bind(c.cloud_service_instance_name)
        .bind(c.cloud_service_deployment_id)
        .bind(c.cloud_service_deployment_environment)
        .bind(c.media_endpoint)
        .bind(c.media_quality_of_experience)
        .bind(c.request_id)
        .bind(c.idempotency_key)
        .bind(c.user_agent)
        .bind(c.content_type)
        .bind(c.raw_payload)
        .bind(s.report_id)
        .bind(s.ordinal)
        .bind(s.modality)
        .bind(s.channel_index)
        .bind(s.label)
        .bind(s.media_duration_ms)
        .bind(s.inbound_packets)
        .bind(s.outbound_packets)
        .bind(f0)
        .bind(f1)
        .bind(f2)
        .bind(f3)
        .bind(f4)
        .bind(f5)
        .bind(f6)
        .bind(f7)
        .bind(f8)
        .bind(f9)
        .bind(f10)
        .bind(f11)
        .bind(f12)
        .bind(f13)
        .bind(f14)
        .bind(f15)
        .bind(s.network_link_speed_bytes)
        .bind(s.local_ip)
        .bind(s.local_port)
        .bind(s.remote_ip)
        .bind(s.remote_port)
        .bind(s.mos)
        .bind(s.r_factor)
        .bind(s.mos_model)
        .bind(s.quality_class)
        .bind(s.poor_reasons)
        .bind(s.quality_classifier)
        .bind(report_claims)
        .bind(k.tenant)
        .bind(k.claim)
        .bind(k.fingerprint)
        .bind(k.report_id)
        .bind(k.received_at)
        .bind(k.keyed)
        .bind(retry_window.as_secs_f64())
        .fetch_all(pool)
        .await?;
    let mut written = HashSet::new();
    let mut holders = HashMap::new();
    for row in &rows {
        let report_id: Uuid = row.try_get("report_id")?;
        match row.try_get::<Option<Vec<u8>>, _>("claim")? {
            None => {
                written.insert(report_id);
            }
            Some(claim) => {
                let tenant: String = row.try_get("tenant")?;
                let fingerprint: Option<Vec<u8>> = row.try_get("fingerprint")?;
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

pub(super) async fn get_report(
    pool: &PgPool,
    tenant: &str,
    id: Uuid,
) -> Result<Option<Report>, StoreError> {
    let Some(row) = sqlx::query(&format!(
        "SELECT {REPORT_COLUMNS} FROM reports WHERE tenant = $1 AND id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let mut report = report_row(&row)?;
    let streams = sqlx::query(&format!(
        "SELECT {STREAM_COLUMNS} FROM media_streams WHERE report_id = $1 ORDER BY ordinal"
    ))
    .bind(id)
    .fetch_all(pool)
    .await?;
    for row in &streams {
        report.streams.push(stream_from_row!(row));
    }
    Ok(Some(report))
}

/// Maps a `SELECT {REPORT_COLUMNS}` row; streams are left empty.
pub(crate) fn report_row(row: &sqlx::postgres::PgRow) -> Result<Report, StoreError> {
    Ok(report_from_row!(row,
        id: row.try_get("id")?,
        received_at: row.try_get("received_at")?,
        issues: row.try_get("issues")?))
}
