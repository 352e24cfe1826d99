//! The column lists: every stored column named once, with its model field
//! type, in column order. The inserts (PostgreSQL `UNNEST`, SQLite
//! `VALUES`), their binds and the row mapping of every read are generated
//! from these lists (`table.rs`); how each type is stored is `value.rs`.
//!
//! To add a column: add the field to the model, one line here, and a
//! migration per backend. The schema test (`tests::sqlite_schema_matches_the_column_lists`
//! here, `tests/it/store_schema.rs` for PostgreSQL) fails until the
//! migrations and these lists name the same columns with the same types.

pub(crate) mod table;
pub(crate) mod value;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::quality::{PoorReason, QualityClass};
use crate::model::{Kind, MediaStream, Modality, Protocol, Report};
use crate::store::StoreError;
use crate::store::query::ReportRow;
use table::{StoredRow, table};

table! {
    /// `reports`: one row per accepted submission (migrations 0001; 0008
    /// dropped `media_quality_of_experience`: UCWA's MS-QoE document is
    /// stored once, inside `raw_payload`, and the read API refills the field
    /// from it through `protocols::refill_from_raw_payload`).
    pub(crate) Reports: "reports", rows of Report {
        id: Uuid,
        tenant: String,
        protocol: Protocol,
        kind: Kind,
        received_at: DateTime<Utc>,
        call_id: String,
        participant_id: Option<String>,
        media_leg_id: Option<String>,
        rating: Option<f64>,
        issues: Vec<String>,
        notes: Option<String>,
        error_code: Option<String>,
        error_subcode: Option<String>,
        device_name: Option<String>,
        device_description: Option<String>,
        cloud_service_name: Option<String>,
        cloud_service_instance_name: Option<String>,
        cloud_service_deployment_id: Option<String>,
        cloud_service_deployment_environment: Option<String>,
        media_endpoint: Option<String>,
        request_id: Option<String>,
        idempotency_key: Option<String>,
        user_agent: Option<String>,
        content_type: Option<String>,
        raw_payload: String,
    }
    not stored { streams: Vec::new(), fingerprint: None, media_quality_of_experience: None }
}

table! {
    /// `media_streams`: one row per stream of a report (migrations 0001, 0005),
    /// keyed by its report's id, with its report's tenant and time (0006:
    /// partitioned and distributable the same way as `reports`).
    pub(crate) MediaStreams: "media_streams",
        rows of MediaStream keyed by report_id: Uuid, tenant: String, received_at: DateTime<Utc> {
        ordinal: i32,
        modality: Option<Modality>,
        channel_index: Option<i32>,
        label: Option<String>,
        media_duration_ms: Option<f64>,
        inbound_packets: Option<i64>,
        outbound_packets: Option<i64>,
        avg_inbound_jitter_ms: Option<f64>,
        max_inbound_jitter_ms: Option<f64>,
        avg_outbound_jitter_ms: Option<f64>,
        max_outbound_jitter_ms: Option<f64>,
        avg_inbound_loss_pct: Option<f64>,
        max_inbound_loss_pct: Option<f64>,
        avg_outbound_loss_pct: Option<f64>,
        max_outbound_loss_pct: Option<f64>,
        avg_inbound_rtt_ms: Option<f64>,
        max_inbound_rtt_ms: Option<f64>,
        avg_outbound_rtt_ms: Option<f64>,
        max_outbound_rtt_ms: Option<f64>,
        avg_inbound_bitrate_bps: Option<f64>,
        avg_outbound_bitrate_bps: Option<f64>,
        avg_inbound_frame_rate: Option<f64>,
        avg_outbound_frame_rate: Option<f64>,
        network_link_speed_bytes: Option<i64>,
        local_ip: Option<String>,
        local_port: Option<i32>,
        remote_ip: Option<String>,
        remote_port: Option<i32>,
        mos: Option<f64>,
        r_factor: Option<f64>,
        mos_model: Option<String>,
        quality_class: Option<QualityClass>,
        poor_reasons: Vec<PoorReason>,
        quality_classifier: Option<String>,
    }
}

/// One row of `ingest_claims`: a request identity a report claimed (see
/// `write::claims`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClaimRow {
    pub tenant: String,
    pub claim: Vec<u8>,
    pub fingerprint: Option<Vec<u8>>,
    pub report_id: Uuid,
    pub received_at: DateTime<Utc>,
    pub keyed: bool,
}

table! {
    /// `ingest_claims` (migrations 0004).
    pub(crate) IngestClaims: "ingest_claims", rows of ClaimRow {
        tenant: String,
        claim: Vec<u8>,
        fingerprint: Option<Vec<u8>>,
        report_id: Uuid,
        received_at: DateTime<Utc>,
        keyed: bool,
    }
}

/// The read API's list row ([`ReportRow`]): which `reports` columns it
/// shows and which per-report stream aggregates the list query computes,
/// each named once; the values decode through the same codecs as
/// [`Reports`], chosen by the field types.
macro_rules! list_row {
    (columns { $($column:ident),+ $(,)? } computed { $($computed:ident),+ $(,)? }) => {
        /// The `reports` columns of a list row, in select order.
        pub(crate) const LIST_ROW_COLUMNS: &[&str] = &[$(stringify!($column)),+];

        /// Maps a row of the list query.
        pub(crate) fn list_row(row: &StoredRow<'_>) -> Result<ReportRow, StoreError> {
            Ok(ReportRow {
                $($column: row.get(stringify!($column))?,)+
                $($computed: row.get(stringify!($computed))?,)+
            })
        }
    };
}

list_row! {
    columns {
        id, received_at, protocol, kind, call_id, participant_id, media_leg_id, rating, issues,
        notes, error_code, error_subcode, device_name, user_agent, request_id,
    }
    computed { stream_count, worst_jitter_ms, worst_loss_pct, worst_rtt_ms, min_mos }
}

/// Every table with a column list, for the schema tests.
pub(crate) const TABLES: [(&str, &[table::Column]); 3] = [
    (Reports::NAME, Reports::COLUMNS),
    (MediaStreams::NAME, MediaStreams::COLUMNS),
    (IngestClaims::NAME, IngestClaims::COLUMNS),
];

/// One column as a database's catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CatalogColumn {
    pub table: String,
    pub name: String,
    /// The type as the catalog names it (PostgreSQL `udt_name`, SQLite's
    /// declared type).
    pub ty: String,
    pub nullable: bool,
}

/// The differences between the column lists and a database's `catalog`,
/// one line each: a column missing on either side, or with another type
/// or nullability (an `Option` field in a `NOT NULL` column, or the
/// reverse). Empty when they agree.
fn schema_differences(
    catalog: &[CatalogColumn],
    type_of: fn(&table::Column) -> &'static str,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (table, columns) in TABLES {
        for column in columns {
            let name = column.name;
            let Some(found) = catalog.iter().find(|c| c.table == table && c.name == name) else {
                problems.push(format!(
                    "{table}.{name} is in the column list but not in the migrations"
                ));
                continue;
            };
            if !found.ty.eq_ignore_ascii_case(type_of(column)) {
                problems.push(format!(
                    "{table}.{name} is {} in the migrations but {} in the column list",
                    found.ty,
                    type_of(column)
                ));
            }
            if found.nullable != column.nullable {
                let null = |n: bool| if n { "NULL-able" } else { "NOT NULL" };
                problems.push(format!(
                    "{table}.{name} is {} in the migrations but {} in the column list",
                    null(found.nullable),
                    null(column.nullable)
                ));
            }
        }
        for found in catalog.iter().filter(|c| c.table == table) {
            if !columns.iter().any(|c| c.name == found.name) {
                problems.push(format!(
                    "{table}.{} is in the migrations but not in the column list",
                    found.name
                ));
            }
        }
    }
    problems
}

/// The differences (see `schema_differences`) against PostgreSQL's catalog,
/// as [`POSTGRES_CATALOG_SQL`] reads it.
pub fn postgres_schema_differences(catalog: &[CatalogColumn]) -> Vec<String> {
    schema_differences(catalog, |c| c.pg_type)
}

/// The differences (see `schema_differences`) against SQLite's catalog,
/// as [`SQLITE_CATALOG_SQL`] reads it.
pub fn sqlite_schema_differences(catalog: &[CatalogColumn]) -> Vec<String> {
    schema_differences(catalog, |c| c.sqlite_type)
}

/// PostgreSQL's catalog of the listed tables (`information_schema.columns`),
/// as [`CatalogColumn`] rows.
pub const POSTGRES_CATALOG_SQL: &str = "SELECT table_name::text AS \"table\", \
       column_name::text AS name, udt_name::text AS ty, is_nullable = 'YES' AS nullable \
     FROM information_schema.columns \
     WHERE table_schema = current_schema() \
       AND table_name IN ('reports', 'media_streams', 'ingest_claims') \
     ORDER BY table_name, ordinal_position";

/// SQLite's catalog of the listed tables (`pragma_table_info`), as
/// [`CatalogColumn`] rows.
pub const SQLITE_CATALOG_SQL: &str = "SELECT t.name AS \"table\", c.name AS name, c.type AS ty, \
       c.\"notnull\" = 0 AS nullable \
     FROM sqlite_schema t JOIN pragma_table_info(t.name) c \
     WHERE t.type = 'table' AND t.name IN ('reports', 'media_streams', 'ingest_claims') \
     ORDER BY t.name, c.cid";

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies the SQLite migrations to a fresh in-memory database and
    /// compares its catalog with the column lists, both ways, names and types.
    #[tokio::test]
    async fn sqlite_schema_matches_the_column_lists() {
        let store = crate::store::Store::open("sqlite::memory:", &Default::default()).unwrap();
        store.migrate().await.unwrap();
        let crate::store::Store::Sqlite(pool) = &store else {
            unreachable!("a sqlite: URL opens SQLite")
        };
        let catalog: Vec<CatalogColumn> = sqlx::query_as(SQLITE_CATALOG_SQL)
            .fetch_all(pool)
            .await
            .unwrap();
        assert!(catalog.len() > 60, "the catalog query found the tables");
        assert_eq!(sqlite_schema_differences(&catalog), Vec::<String>::new());
    }

    #[test]
    fn differences_are_found_both_ways_with_names() {
        let mut catalog: Vec<CatalogColumn> = TABLES
            .iter()
            .flat_map(|(t, cols)| {
                cols.iter().map(|c| CatalogColumn {
                    table: t.to_string(),
                    name: c.name.to_owned(),
                    ty: c.pg_type.to_owned(),
                    nullable: c.nullable,
                })
            })
            .collect();
        assert!(postgres_schema_differences(&catalog).is_empty());
        catalog.retain(|c| !(c.table == "media_streams" && c.name == "mos"));
        catalog.push(CatalogColumn {
            table: "reports".into(),
            name: "extra".into(),
            ty: "text".into(),
            nullable: true,
        });
        catalog[0].ty = "text".into(); // reports.id
        catalog[1].nullable = true; // reports.tenant
        assert_eq!(
            postgres_schema_differences(&catalog),
            vec![
                "reports.id is text in the migrations but uuid in the column list",
                "reports.tenant is NULL-able in the migrations but NOT NULL in the column list",
                "reports.extra is in the migrations but not in the column list",
                "media_streams.mos is in the column list but not in the migrations",
            ]
        );
    }

    #[test]
    fn list_rows_show_report_columns_only() {
        for name in LIST_ROW_COLUMNS {
            assert!(
                Reports::COLUMNS.iter().any(|c| c.name == *name),
                "{name} is not a reports column"
            );
        }
    }

    #[test]
    fn column_lists_name_each_column_once() {
        for (table, columns) in TABLES {
            for (i, c) in columns.iter().enumerate() {
                assert!(
                    !columns[..i].iter().any(|d| d.name == c.name),
                    "{table}.{} twice",
                    c.name
                );
            }
        }
    }
}
