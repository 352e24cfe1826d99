//! Runs the read API's queries ([`read_sql`](super::read_sql)) on either
//! backend and maps the rows into [`query`](super::query) types.
//!
//! Statistics are several aggregate queries over the same reports; they run
//! inside one read-only snapshot (PostgreSQL REPEATABLE READ, an SQLite read
//! transaction) so the figures of one answer agree with each other even while
//! reports keep arriving.

use std::collections::BTreeMap;

use sqlx::Row as _;
use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteArguments;
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection};

use super::query::{
    Cursor, GroupStats, PERCENTILES, Percentiles, ReportFilter, ReportRow, StatsQuery, interpolate,
    rating_key, stddev_from_sums,
};
use super::read_sql::{self, Arg, Dialect, Sql};
use super::sqlite::encode_time;
use super::{Store, StoreError};

fn pg_query(sql: &Sql) -> sqlx::query::Query<'_, Postgres, PgArguments> {
    let mut q = sqlx::query(&sql.text);
    for arg in &sql.args {
        q = match arg {
            Arg::Text(s) => q.bind(s.as_str()),
            Arg::Float(f) => q.bind(*f),
            Arg::Int(i) => q.bind(*i),
            Arg::Time(t) => q.bind(*t),
            Arg::Id(id) => q.bind(*id),
        };
    }
    q
}

fn sqlite_query(sql: &Sql) -> sqlx::query::Query<'_, Sqlite, SqliteArguments<'_>> {
    let mut q = sqlx::query(&sql.text);
    for arg in &sql.args {
        q = match arg {
            Arg::Text(s) => q.bind(s.as_str()),
            Arg::Float(f) => q.bind(*f),
            Arg::Int(i) => q.bind(*i),
            Arg::Time(t) => q.bind(encode_time(*t)),
            Arg::Id(id) => q.bind(id.hyphenated().to_string()),
        };
    }
    q
}

/// Builds a [`ReportRow`] from a list row; the three columns whose types
/// differ between backends are passed in.
macro_rules! report_row {
    ($row:expr, id: $id:expr, received_at: $received_at:expr, issues: $issues:expr) => {{
        let row = $row;
        let protocol: String = row.try_get("protocol")?;
        let kind: String = row.try_get("kind")?;
        ReportRow {
            id: $id,
            received_at: $received_at,
            protocol: super::columns::stored_name("protocol", &protocol)?,
            kind: super::columns::stored_name("kind", &kind)?,
            call_id: row.try_get("call_id")?,
            participant_id: row.try_get("participant_id")?,
            media_leg_id: row.try_get("media_leg_id")?,
            rating: row.try_get("rating")?,
            issues: $issues,
            notes: row.try_get("notes")?,
            error_code: row.try_get("error_code")?,
            error_subcode: row.try_get("error_subcode")?,
            device_name: row.try_get("device_name")?,
            user_agent: row.try_get("user_agent")?,
            request_id: row.try_get("request_id")?,
            stream_count: row.try_get("stream_count")?,
            worst_jitter_ms: row.try_get("worst_jitter_ms")?,
            worst_loss_pct: row.try_get("worst_loss_pct")?,
            worst_rtt_ms: row.try_get("worst_rtt_ms")?,
            min_mos: row.try_get("min_mos")?,
        }
    }};
}

impl Store {
    /// One page of `tenant`'s reports matching `filter`, newest first,
    /// strictly after `after`, at most `limit` rows.
    pub async fn list_reports(
        &self,
        tenant: &str,
        filter: &ReportFilter,
        after: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<ReportRow>, StoreError> {
        match self {
            Store::Postgres(pool) => {
                let sql = read_sql::list_reports(Dialect::Postgres, tenant, filter, after, limit);
                let rows = pg_query(&sql).fetch_all(pool).await?;
                rows.iter()
                    .map(|row| {
                        Ok(report_row!(row,
                            id: row.try_get("id")?,
                            received_at: row.try_get("received_at")?,
                            issues: row.try_get("issues")?))
                    })
                    .collect()
            }
            Store::Sqlite(pool) => {
                let sql = read_sql::list_reports(Dialect::Sqlite, tenant, filter, after, limit);
                let rows = sqlite_query(&sql).fetch_all(pool).await?;
                rows.iter()
                    .map(|row| {
                        let id: String = row.try_get("id")?;
                        let received_at: String = row.try_get("received_at")?;
                        let issues: String = row.try_get("issues")?;
                        Ok(report_row!(row,
                            id: super::sqlite::parse_id(&id)?,
                            received_at: super::sqlite::decode_time(&received_at)?,
                            issues: super::sqlite::parse_issues(&issues)?))
                    })
                    .collect()
            }
        }
    }

    /// Quality statistics of `tenant`'s reports, per group, aggregated by the
    /// database. Groups come sorted by key (no-key group first).
    pub async fn stats(
        &self,
        tenant: &str,
        query: &StatsQuery,
    ) -> Result<Vec<GroupStats>, StoreError> {
        let mut groups = match self {
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                // A range's streams are found through its reports' ids (the
                // media_streams primary key). With PostgreSQL's default
                // random_page_cost (4, priced for spinning disks) the planner
                // hashes a scan of *every* stream even for one day's reports:
                // 300 ms instead of 90 ms for 24 h of 1M reports
                // (`cargo bench --bench ops_read`). 1.1 is the usual SSD value;
                // SET LOCAL keeps it to this read-only transaction, and wide
                // ranges still get the hash join where it is cheaper.
                sqlx::query("SET LOCAL random_page_cost = 1.1")
                    .execute(&mut *tx)
                    .await?;
                let groups = stats_postgres(&mut tx, tenant, query).await?;
                tx.commit().await?;
                groups
            }
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let groups = stats_sqlite(&mut tx, tenant, query).await?;
                tx.commit().await?;
                groups
            }
        };
        if groups.is_empty() && query.group_by.is_none() {
            groups.insert(None, GroupStats::empty(None));
        }
        Ok(groups.into_values().collect())
    }
}

type Groups = BTreeMap<Option<String>, GroupStats>;

fn group<'a>(groups: &'a mut Groups, key: &Option<String>) -> &'a mut GroupStats {
    groups
        .entry(key.clone())
        .or_insert_with(|| GroupStats::empty(key.clone()))
}

fn metric<'a>(g: &'a mut GroupStats, name: &str) -> Option<&'a mut Percentiles> {
    match name {
        "jitter" => Some(&mut g.jitter_ms),
        "loss" => Some(&mut g.loss_pct),
        "rtt" => Some(&mut g.rtt_ms),
        "mos" => Some(&mut g.mos),
        _ => None,
    }
}

/// The percentiles from an array in [`PERCENTILES`] order.
fn from_array(n: i64, values: Option<Vec<f64>>) -> Percentiles {
    let values = values.unwrap_or_default();
    let mut p = Percentiles {
        count: n,
        ..Percentiles::default()
    };
    for index in 0..PERCENTILES.len() {
        p.set(index, values.get(index).copied());
    }
    p
}

/// Reads the per-group report counts by style and kind of a summary row.
macro_rules! names_from_row {
    ($g:expr, $row:expr) => {{
        let (g, row) = ($g, $row);
        for p in crate::model::Protocol::ALL {
            let n: i64 = row.try_get(format!("protocol_{p}").as_str())?;
            g.protocols.insert(p.as_str().to_owned(), n);
        }
        for k in crate::model::Kind::ALL {
            let n: i64 = row.try_get(format!("kind_{k}").as_str())?;
            g.kinds.insert(k.as_str().to_owned(), n);
        }
    }};
}

/// Reads the poor-stream counts of a row with
/// [`read_sql`]'s `stream_class_counts` columns.
macro_rules! classes_from_row {
    ($g:expr, $row:expr) => {{
        let (g, row) = ($g, $row);
        let audio: i64 = row.try_get("audio_n")?;
        let poor: i64 = row.try_get("poor_n")?;
        let unclassified: i64 = row.try_get("unclassified_n")?;
        g.set_stream_classes(audio, poor, unclassified);
        for reason in crate::model::quality::PoorReason::ALL {
            let n: i64 = row.try_get(format!("reason_{reason}").as_str())?;
            g.poor_reasons.insert(reason.as_str().to_owned(), n);
        }
    }};
}

/// Adds the rating distribution and the issue counts of each group; the
/// queries and row handling are the same on both backends but for the row type.
macro_rules! counts_into_groups {
    ($groups:expr, $conn:expr, $query_fn:ident, $dialect:expr, $tenant:expr, $query:expr) => {{
        let groups: &mut Groups = $groups;
        let sql = read_sql::stats_rating_distribution($dialect, $tenant, $query);
        for row in $query_fn(&sql).fetch_all(&mut *$conn).await? {
            let key: Option<String> = row.try_get("key")?;
            let rating: f64 = row.try_get("rating")?;
            group(groups, &key)
                .rating
                .distribution
                .insert(rating_key(rating), row.try_get("n")?);
        }
        let sql = read_sql::stats_issues($dialect, $tenant, $query);
        for row in $query_fn(&sql).fetch_all(&mut *$conn).await? {
            let key: Option<String> = row.try_get("key")?;
            let issue: String = row.try_get("issue")?;
            group(groups, &key).issues.insert(issue, row.try_get("n")?);
        }
    }};
}

async fn stats_postgres(
    conn: &mut PgConnection,
    tenant: &str,
    query: &StatsQuery,
) -> Result<Groups, StoreError> {
    let mut groups = Groups::new();
    let sql = read_sql::stats_summary(Dialect::Postgres, tenant, query);
    for row in pg_query(&sql).fetch_all(&mut *conn).await? {
        let key: Option<String> = row.try_get("key")?;
        let g = group(&mut groups, &key);
        g.reports = row.try_get("reports")?;
        g.rating.count = row.try_get("rated")?;
        g.rating.mean = row.try_get("mean")?;
        g.rating.median = row.try_get("median")?;
        g.rating.stddev = row.try_get("stddev")?;
        names_from_row!(g, &row);
    }
    counts_into_groups!(
        &mut groups,
        &mut *conn,
        pg_query,
        Dialect::Postgres,
        tenant,
        query
    );
    let sql = read_sql::stats_streams_postgres(tenant, query);
    for row in pg_query(&sql).fetch_all(&mut *conn).await? {
        let key: Option<String> = row.try_get("key")?;
        let g = group(&mut groups, &key);
        for name in ["jitter", "loss", "rtt", "mos"] {
            let n: i64 = row.try_get(format!("{name}_n").as_str())?;
            let p: Option<Vec<f64>> = row.try_get(format!("{name}_p").as_str())?;
            if let Some(slot) = metric(g, name) {
                *slot = from_array(n, p);
            }
        }
        classes_from_row!(g, &row);
    }
    Ok(groups)
}

async fn stats_sqlite(
    conn: &mut SqliteConnection,
    tenant: &str,
    query: &StatsQuery,
) -> Result<Groups, StoreError> {
    let mut groups = Groups::new();
    let sql = read_sql::stats_summary(Dialect::Sqlite, tenant, query);
    for row in sqlite_query(&sql).fetch_all(&mut *conn).await? {
        let key: Option<String> = row.try_get("key")?;
        let g = group(&mut groups, &key);
        g.reports = row.try_get("reports")?;
        g.rating.count = row.try_get("rated")?;
        g.rating.mean = row.try_get("mean")?;
        let sum: Option<f64> = row.try_get("sum")?;
        let sum_squares: Option<f64> = row.try_get("sum_squares")?;
        g.rating.stddev = match (sum, sum_squares) {
            (Some(s), Some(ss)) => stddev_from_sums(g.rating.count, s, ss),
            _ => None,
        };
        names_from_row!(g, &row);
    }
    counts_into_groups!(
        &mut groups,
        &mut *conn,
        sqlite_query,
        Dialect::Sqlite,
        tenant,
        query
    );
    let sql = read_sql::stats_stream_classes_sqlite(tenant, query);
    for row in sqlite_query(&sql).fetch_all(&mut *conn).await? {
        let key: Option<String> = row.try_get("key")?;
        classes_from_row!(group(&mut groups, &key), &row);
    }
    let sql = read_sql::stats_percentiles_sqlite(tenant, query);
    for row in sqlite_query(&sql).fetch_all(&mut *conn).await? {
        let key: Option<String> = row.try_get("key")?;
        let name: String = row.try_get("metric")?;
        let p: f64 = row.try_get("p")?;
        let n: i64 = row.try_get("n")?;
        let lower: Option<f64> = row.try_get("lower")?;
        let upper: Option<f64> = row.try_get("upper")?;
        let Some(lower) = lower else { continue };
        let value = interpolate(p, n, lower, upper);
        let g = group(&mut groups, &key);
        if name == "rating" {
            if (p - 0.5).abs() < 1e-9 {
                g.rating.median = Some(value);
            }
            continue;
        }
        if let Some(slot) = metric(g, &name) {
            slot.count = n;
            if let Some(index) = PERCENTILES.iter().position(|q| (q - p).abs() < 1e-9) {
                slot.set(index, Some(value));
            }
        }
    }
    Ok(groups)
}
