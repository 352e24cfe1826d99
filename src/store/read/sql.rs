//! SQL text for the read API, written once for both databases.
//!
//! The two dialects differ in a handful of places only (placeholders, how
//! issues are stored, time-bucket functions, percentiles), so each query is
//! built here from one template with those places filled per [`Dialect`].
//! Values are always bound, never spliced into the text.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::call_view::CallCaps;
use super::query::{Cursor, GroupBy, PERCENTILES, ReportFilter, StatsQuery};
use crate::model::quality::{PoorReason, QualityClass};
use crate::model::{Kind, Modality, Protocol};
use crate::store::schema::{LIST_ROW_COLUMNS, MediaStreams, Reports};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    Sqlite,
}

/// A value to bind; each backend maps it to its own column type (times are
/// `timestamptz` in PostgreSQL and fixed-width RFC 3339 text in SQLite, ids
/// `uuid` or hyphenated text).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Text(String),
    Float(f64),
    Int(i64),
    Time(DateTime<Utc>),
    Id(Uuid),
    Bytes(Vec<u8>),
}

/// A statement and its bound values, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

/// Collects bound values and hands out their placeholders.
pub(crate) struct Binder {
    dialect: Dialect,
    args: Vec<Arg>,
}

impl Binder {
    pub(crate) fn new(dialect: Dialect) -> Binder {
        Binder {
            dialect,
            args: Vec::new(),
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub(crate) fn bind(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        match self.dialect {
            Dialect::Postgres => format!("${}", self.args.len()),
            Dialect::Sqlite => format!("?{}", self.args.len()),
        }
    }

    pub(crate) fn finish(self, text: String) -> Sql {
        Sql {
            text,
            args: self.args,
        }
    }
}

impl Dialect {
    /// The largest non-NULL of `exprs` (NULL when all are NULL).
    /// PostgreSQL's GREATEST skips NULLs; SQLite's scalar max() returns NULL
    /// if any argument is NULL, so there each argument is replaced by a
    /// COALESCE of all of them, rotated to start at it: every non-NULL value
    /// then appears and no NULL does.
    fn greatest(self, exprs: &[&str]) -> String {
        match self {
            Dialect::Postgres => format!("GREATEST({})", exprs.join(", ")),
            Dialect::Sqlite => {
                let rotations: Vec<String> = (0..exprs.len())
                    .map(|start| {
                        let rotated: Vec<&str> = exprs[start..]
                            .iter()
                            .chain(&exprs[..start])
                            .copied()
                            .collect();
                        format!("coalesce({})", rotated.join(", "))
                    })
                    .collect();
                format!("max({})", rotations.join(", "))
            }
        }
    }

    /// True when the issues column of `alias` lists the bound name.
    fn issue_listed(self, alias: &str, placeholder: &str) -> String {
        match self {
            Dialect::Postgres => format!("{placeholder} = ANY({alias}.issues)"),
            Dialect::Sqlite => format!(
                "EXISTS (SELECT 1 FROM json_each({alias}.issues) WHERE json_each.value = {placeholder})"
            ),
        }
    }

    /// A FROM-clause item yielding one row per issue of `alias`, and the
    /// expression naming that issue; `keep_empty` keeps reports without
    /// issues (with a NULL issue).
    fn issues_join(self, alias: &str, out: &str, keep_empty: bool) -> (String, String) {
        match self {
            Dialect::Postgres => {
                let join = if keep_empty {
                    format!("LEFT JOIN LATERAL unnest({alias}.issues) AS {out}(issue) ON true")
                } else {
                    format!("CROSS JOIN LATERAL unnest({alias}.issues) AS {out}(issue)")
                };
                (join, format!("{out}.issue"))
            }
            Dialect::Sqlite => {
                let join = if keep_empty { "LEFT JOIN" } else { "JOIN" };
                (
                    format!("{join} json_each({alias}.issues) AS {out}"),
                    format!("{out}.value"),
                )
            }
        }
    }

    /// UTC hour bucket of `alias.received_at`, as `YYYY-MM-DDTHH:00:00Z`.
    fn hour_of(self, alias: &str) -> String {
        match self {
            Dialect::Postgres => format!(
                "to_char({alias}.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24\":00:00Z\"')"
            ),
            // Stored as fixed-width RFC 3339 UTC text: the hour is a prefix.
            Dialect::Sqlite => format!("substr({alias}.received_at, 1, 13) || ':00:00Z'"),
        }
    }

    /// The size in bytes of the text `column`.
    fn byte_length(self, column: &str) -> String {
        match self {
            Dialect::Postgres => format!("octet_length({column})::int8"),
            Dialect::Sqlite => format!("length(CAST({column} AS BLOB))"),
        }
    }

    /// UTC day bucket of `alias.received_at`, as `YYYY-MM-DD`.
    fn day_of(self, alias: &str) -> String {
        match self {
            Dialect::Postgres => {
                format!("to_char({alias}.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
            }
            Dialect::Sqlite => format!("substr({alias}.received_at, 1, 10)"),
        }
    }
}

/// The per-stream "worst" of a metric: the largest of both directions'
/// average and maximum (what ops look at to find a bad call).
fn worst_of(dialect: Dialect, metric: &str, unit: &str) -> String {
    let cols = [
        format!("s.avg_inbound_{metric}_{unit}"),
        format!("s.max_inbound_{metric}_{unit}"),
        format!("s.avg_outbound_{metric}_{unit}"),
        format!("s.max_outbound_{metric}_{unit}"),
    ];
    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    dialect.greatest(&refs)
}

/// The per-stream typical value of a metric for statistics: the worse
/// direction's average, or, for sources that report only maxima, the worse
/// direction's maximum.
fn typical_of(dialect: Dialect, metric: &str, unit: &str) -> String {
    let avg = dialect.greatest(&[
        &format!("s.avg_inbound_{metric}_{unit}"),
        &format!("s.avg_outbound_{metric}_{unit}"),
    ]);
    let max = dialect.greatest(&[
        &format!("s.max_inbound_{metric}_{unit}"),
        &format!("s.max_outbound_{metric}_{unit}"),
    ]);
    format!("coalesce({avg}, {max})")
}

/// `r.tenant = … AND …` for `filter`, binding its values.
fn conditions(b: &mut Binder, tenant: &str, filter: &ReportFilter) -> String {
    let mut parts = vec![format!(
        "r.tenant = {}",
        b.bind(Arg::Text(tenant.to_owned()))
    )];
    if let Some(call_id) = &filter.call_id {
        parts.push(format!(
            "r.call_id = {}",
            b.bind(Arg::Text(call_id.clone()))
        ));
    }
    if let Some(protocol) = filter.protocol {
        parts.push(format!(
            "r.protocol = {}",
            b.bind(Arg::Text(protocol.as_str().into()))
        ));
    }
    if let Some(kind) = filter.kind {
        parts.push(format!(
            "r.kind = {}",
            b.bind(Arg::Text(kind.as_str().into()))
        ));
    }
    if let Some(since) = filter.since {
        parts.push(format!("r.received_at >= {}", b.bind(Arg::Time(since))));
    }
    if let Some(until) = filter.until {
        parts.push(format!("r.received_at < {}", b.bind(Arg::Time(until))));
    }
    if let Some(min) = filter.min_rating {
        parts.push(format!("r.rating >= {}", b.bind(Arg::Float(min))));
    }
    if let Some(max) = filter.max_rating {
        parts.push(format!("r.rating <= {}", b.bind(Arg::Float(max))));
    }
    if let Some(issue) = &filter.issue {
        let placeholder = b.bind(Arg::Text(issue.clone()));
        parts.push(b.dialect.issue_listed("r", &placeholder));
    }
    if let Some(device) = &filter.device {
        parts.push(format!(
            "r.device_name = {}",
            b.bind(Arg::Text(device.clone()))
        ));
    }
    parts.join(" AND ")
}

/// One report of `tenant` by id: every `reports` column.
pub(crate) fn report_by_id(dialect: Dialect, tenant: &str, id: Uuid) -> Sql {
    let mut b = Binder::new(dialect);
    let text = format!(
        "SELECT {} FROM reports WHERE tenant = {} AND id = {}",
        Reports::list(),
        b.bind(Arg::Text(tenant.to_owned())),
        b.bind(Arg::Id(id))
    );
    b.finish(text)
}

/// The streams of one report, in order: every `media_streams` column.
pub(crate) fn streams_of_report(dialect: Dialect, id: Uuid) -> Sql {
    let mut b = Binder::new(dialect);
    let text = format!(
        "SELECT {} FROM media_streams WHERE report_id = {} ORDER BY ordinal",
        MediaStreams::list(),
        b.bind(Arg::Id(id))
    );
    b.finish(text)
}

/// `n`: how many reports `tenant` has.
pub(crate) fn count_reports(dialect: Dialect, tenant: &str) -> Sql {
    let mut b = Binder::new(dialect);
    let text = format!(
        "SELECT count(*) AS n FROM reports WHERE tenant = {}",
        b.bind(Arg::Text(tenant.to_owned()))
    );
    b.finish(text)
}

/// `WHERE …` of the newest `fetch` reports of `tenant` about `call_id`.
fn newest_of_call(b: &mut Binder, tenant: &str, call_id: &str, fetch: i64) -> String {
    format!(
        "FROM reports WHERE tenant = {} AND call_id = {} ORDER BY received_at DESC, id DESC LIMIT {}",
        b.bind(Arg::Text(tenant.to_owned())),
        b.bind(Arg::Text(call_id.to_owned())),
        b.bind(Arg::Int(fetch))
    )
}

/// The `reports` columns of a call view. With `caps`, `raw_payload` (the
/// one column as large as a request body) comes back only when at most
/// `caps.inline` bytes, or, for the reports of `caps.sources` (whose
/// payload the read API derives a field from), at most `caps.source`
/// bytes; always with its size in `raw_payload_bytes`, so one call view
/// loads bounded memory.
fn call_columns(dialect: Dialect, caps: Option<&CallCaps>) -> String {
    let Some(caps) = caps else {
        return Reports::list().to_owned();
    };
    let len = dialect.byte_length("raw_payload");
    let mut loaded = format!("{len} <= {}", caps.inline);
    for (protocol, kind) in caps.sources {
        // Enum names: fixed identifiers, no quoting needed.
        loaded.push_str(&format!(
            " OR (protocol = '{}' AND kind = '{}' AND {len} <= {})",
            protocol.as_str(),
            kind.as_str(),
            caps.source
        ));
    }
    Reports::COLUMNS
        .iter()
        .map(|c| match c.name {
            "raw_payload" => format!(
                "COALESCE(CASE WHEN {loaded} THEN raw_payload END, '') AS raw_payload, \
                 {len} AS raw_payload_bytes"
            ),
            name => name.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The newest `fetch` reports of `tenant` about `call_id`, newest first
/// (see [`call_columns`] for `caps`).
pub(crate) fn call_reports(
    dialect: Dialect,
    tenant: &str,
    call_id: &str,
    fetch: i64,
    caps: Option<&CallCaps>,
) -> Sql {
    let mut b = Binder::new(dialect);
    let from = newest_of_call(&mut b, tenant, call_id, fetch);
    let text = format!("SELECT {} {from}", call_columns(dialect, caps));
    b.finish(text)
}

/// The streams of the same reports as [`call_reports`], by report and ordinal.
pub(crate) fn call_streams(dialect: Dialect, tenant: &str, call_id: &str, fetch: i64) -> Sql {
    let mut b = Binder::new(dialect);
    let from = newest_of_call(&mut b, tenant, call_id, fetch);
    let text = format!(
        "SELECT {} FROM media_streams WHERE report_id IN (SELECT id {from}) \
         ORDER BY report_id, ordinal",
        MediaStreams::list()
    );
    b.finish(text)
}

/// One page of the newest-first list: at most `limit` rows strictly after
/// `after`, each with its streams' worst values.
pub(crate) fn list_reports(
    dialect: Dialect,
    tenant: &str,
    filter: &ReportFilter,
    after: Option<Cursor>,
    limit: i64,
) -> Sql {
    let mut b = Binder::new(dialect);
    let mut filter_sql = conditions(&mut b, tenant, filter);
    if let Some(cursor) = after {
        let t = b.bind(Arg::Time(cursor.received_at));
        let id = b.bind(Arg::Id(cursor.id));
        filter_sql.push_str(&format!(" AND (r.received_at, r.id) < ({t}, {id})"));
    }
    let limit = b.bind(Arg::Int(limit));
    let jitter = worst_of(dialect, "jitter", "ms");
    let loss = worst_of(dialect, "loss", "pct");
    let rtt = worst_of(dialect, "rtt", "ms");
    let row_columns = LIST_ROW_COLUMNS
        .iter()
        .map(|c| format!("r.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "WITH page AS (\
            SELECT {row_columns} FROM reports r WHERE {filter_sql} \
            ORDER BY r.received_at DESC, r.id DESC LIMIT {limit}\
         ), worst AS (\
            SELECT s.report_id, count(*) AS stream_count, max({jitter}) AS worst_jitter_ms, \
                   max({loss}) AS worst_loss_pct, max({rtt}) AS worst_rtt_ms, min(s.mos) AS min_mos \
            FROM media_streams s WHERE s.report_id IN (SELECT id FROM page) GROUP BY s.report_id\
         ) \
         SELECT page.*, coalesce(worst.stream_count, 0) AS stream_count, worst.worst_jitter_ms, \
                worst.worst_loss_pct, worst.worst_rtt_ms, worst.min_mos \
         FROM page LEFT JOIN worst ON worst.report_id = page.id \
         ORDER BY page.received_at DESC, page.id DESC"
    );
    b.finish(text)
}

/// `WITH base AS (…)`: the filtered reports with their group key (one row
/// per issue when grouping by issue).
fn stats_base(b: &mut Binder, tenant: &str, query: &StatsQuery) -> String {
    let dialect = b.dialect;
    let (key, join) = match query.group_by {
        None => ("CAST(NULL AS TEXT)".to_owned(), String::new()),
        Some(GroupBy::Protocol) => ("r.protocol".to_owned(), String::new()),
        Some(GroupBy::Kind) => ("r.kind".to_owned(), String::new()),
        Some(GroupBy::Device) => ("r.device_name".to_owned(), String::new()),
        Some(GroupBy::ErrorCode) => ("r.error_code".to_owned(), String::new()),
        Some(GroupBy::ErrorSubcode) => ("r.error_subcode".to_owned(), String::new()),
        Some(GroupBy::Hour) => (dialect.hour_of("r"), String::new()),
        Some(GroupBy::Day) => (dialect.day_of("r"), String::new()),
        Some(GroupBy::Issue) => {
            let (join, issue) = dialect.issues_join("r", "gi", true);
            (issue, join)
        }
    };
    let filter_sql = conditions(b, tenant, &query.filter);
    format!(
        "WITH base AS (SELECT r.id, r.rating, r.issues, r.protocol, r.kind, {key} AS key \
         FROM reports r {join} WHERE {filter_sql})"
    )
}

/// Per group: report count and rating count/mean (and, on PostgreSQL,
/// median and sample stddev; on SQLite the sums that give the stddev), and
/// the report count per style (`protocol_{name}`) and kind (`kind_{name}`).
/// The names spliced in are the model's own constants, never client text.
pub(crate) fn stats_summary(dialect: Dialect, tenant: &str, query: &StatsQuery) -> Sql {
    let mut b = Binder::new(dialect);
    let base = stats_base(&mut b, tenant, query);
    let protocols = Protocol::ALL
        .iter()
        .map(|p| format!("count(CASE WHEN protocol = '{p}' THEN 1 END) AS protocol_{p}"));
    let kinds = Kind::ALL
        .iter()
        .map(|k| format!("count(CASE WHEN kind = '{k}' THEN 1 END) AS kind_{k}"));
    let by_name = protocols.chain(kinds).collect::<Vec<_>>().join(", ");
    let extra = match dialect {
        Dialect::Postgres => {
            "stddev_samp(rating) AS stddev, \
             percentile_cont(0.5) WITHIN GROUP (ORDER BY rating) AS median"
        }
        Dialect::Sqlite => "sum(rating) AS sum, sum(rating * rating) AS sum_squares",
    };
    let text = format!(
        "{base} SELECT key, count(*) AS reports, count(rating) AS rated, avg(rating) AS mean, {extra}, \
         {by_name} FROM base GROUP BY key"
    );
    b.finish(text)
}

/// Per group and rating value: how many reports gave it.
pub(crate) fn stats_rating_distribution(dialect: Dialect, tenant: &str, query: &StatsQuery) -> Sql {
    let mut b = Binder::new(dialect);
    let base = stats_base(&mut b, tenant, query);
    let text = format!(
        "{base} SELECT key, rating, count(*) AS n FROM base WHERE rating IS NOT NULL GROUP BY key, rating"
    );
    b.finish(text)
}

/// Per group and issue name: how many reports name it.
pub(crate) fn stats_issues(dialect: Dialect, tenant: &str, query: &StatsQuery) -> Sql {
    let mut b = Binder::new(dialect);
    let base = stats_base(&mut b, tenant, query);
    let (join, issue) = dialect.issues_join("b", "fi", false);
    let text = format!(
        "{base} SELECT b.key, {issue} AS issue, count(*) AS n FROM base b {join} GROUP BY b.key, {issue}"
    );
    b.finish(text)
}

/// The per-stream metric expressions, by the names [`GroupStats`] uses.
///
/// [`GroupStats`]: super::query::GroupStats
pub(crate) fn stream_metrics(dialect: Dialect) -> [(&'static str, String); 4] {
    [
        ("jitter", typical_of(dialect, "jitter", "ms")),
        ("loss", typical_of(dialect, "loss", "pct")),
        ("rtt", typical_of(dialect, "rtt", "ms")),
        ("mos", "s.mos".to_owned()),
    ]
}

/// PostgreSQL: per group, count and p50/p90/p99 (`percentile_cont`) of each
/// stream metric, columns `{metric}_n` and `{metric}_p` (an array).
pub(crate) fn stats_streams_postgres(tenant: &str, query: &StatsQuery) -> Sql {
    let mut b = Binder::new(Dialect::Postgres);
    let base = stats_base(&mut b, tenant, query);
    let metrics = stream_metrics(Dialect::Postgres);
    let values: Vec<String> = metrics
        .iter()
        .map(|(name, expr)| format!("{expr} AS {name}"))
        .collect();
    let levels = PERCENTILES.map(|p| p.to_string()).join(", ");
    let mut aggregates: Vec<String> = metrics
        .iter()
        .map(|(name, _)| {
            format!(
                "count({name}) AS {name}_n, \
                 percentile_cont(ARRAY[{levels}]::float8[]) WITHIN GROUP (ORDER BY {name}) AS {name}_p"
            )
        })
        .collect();
    aggregates.push(stream_class_counts());
    let text = format!(
        "{base}, m AS (SELECT b.key, s.modality, s.quality_class, s.poor_reasons, {} \
         FROM base b JOIN media_streams s ON s.report_id = b.id) \
         SELECT key, {} FROM m GROUP BY key",
        values.join(", "),
        aggregates.join(", ")
    );
    b.finish(text)
}

/// Aggregates over a row set with `modality`, `quality_class` and
/// `poor_reasons` columns: `audio_n`, `poor_n`, `unclassified_n` (class
/// `unclassified`, or none: stored before streams were classified) and
/// `reason_{name}` per poor reason. Same text on both backends; the names
/// spliced in are the model's constants.
fn stream_class_counts() -> String {
    let audio = Modality::Audio.as_str();
    let poor = QualityClass::Poor.as_str();
    let unclassified = QualityClass::Unclassified.as_str();
    let mut parts = vec![
        format!("count(CASE WHEN modality = '{audio}' THEN 1 END) AS audio_n"),
        format!(
            "count(CASE WHEN modality = '{audio}' AND quality_class = '{poor}' THEN 1 END) AS poor_n"
        ),
        format!(
            "count(CASE WHEN modality = '{audio}' AND (quality_class IS NULL \
             OR quality_class = '{unclassified}') THEN 1 END) AS unclassified_n"
        ),
    ];
    for reason in PoorReason::ALL {
        parts.push(format!(
            "count(CASE WHEN modality = '{audio}' AND quality_class = '{poor}' \
             AND poor_reasons LIKE '%{reason}%' THEN 1 END) AS reason_{reason}"
        ));
    }
    parts.join(", ")
}

/// SQLite: per group, the poor-stream counts of [`stream_class_counts`].
/// (PostgreSQL computes them in [`stats_streams_postgres`], in the same pass
/// as the percentiles.)
pub(crate) fn stats_stream_classes_sqlite(tenant: &str, query: &StatsQuery) -> Sql {
    let mut b = Binder::new(Dialect::Sqlite);
    let base = stats_base(&mut b, tenant, query);
    let text = format!(
        "{base}, m AS (SELECT b.key, s.modality, s.quality_class, s.poor_reasons \
         FROM base b JOIN media_streams s ON s.report_id = b.id) \
         SELECT key, {} FROM m GROUP BY key",
        stream_class_counts()
    );
    b.finish(text)
}

/// SQLite (no `percentile_cont`): per group, metric (the stream metrics and
/// `rating`) and percentile, the count `n` and the values at the two ranks
/// around `p·(n−1)` (`lower`, `upper`), found with `row_number()` over the
/// sorted values; [`interpolate`](super::query::interpolate) finishes it.
pub(crate) fn stats_percentiles_sqlite(tenant: &str, query: &StatsQuery) -> Sql {
    let mut b = Binder::new(Dialect::Sqlite);
    let base = stats_base(&mut b, tenant, query);
    let mut values: Vec<String> = stream_metrics(Dialect::Sqlite)
        .iter()
        .map(|(name, expr)| {
            format!(
                "SELECT b.key, '{name}' AS metric, {expr} AS v FROM base b \
                 JOIN media_streams s ON s.report_id = b.id"
            )
        })
        .collect();
    values.push("SELECT key, 'rating' AS metric, rating AS v FROM base".to_owned());
    let text = format!(
        "{base}, m AS ({}), \
         ranked AS (SELECT key, metric, v, \
                    row_number() OVER (PARTITION BY key, metric ORDER BY v) AS rn, \
                    count(*) OVER (PARTITION BY key, metric) AS n \
                    FROM m WHERE v IS NOT NULL), \
         ps(p) AS (VALUES {}) \
         SELECT r.key, r.metric, ps.p, r.n, \
                max(CASE WHEN r.rn = CAST(ps.p * (r.n - 1) AS INTEGER) + 1 THEN r.v END) AS lower, \
                max(CASE WHEN r.rn = CAST(ps.p * (r.n - 1) AS INTEGER) + 2 THEN r.v END) AS upper \
         FROM ranked r CROSS JOIN ps \
         WHERE r.rn BETWEEN CAST(ps.p * (r.n - 1) AS INTEGER) + 1 AND CAST(ps.p * (r.n - 1) AS INTEGER) + 2 \
         GROUP BY r.key, r.metric, ps.p",
        values.join(" UNION ALL "),
        PERCENTILES.map(|p| format!("({p})")).join(", ")
    );
    b.finish(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;

    #[test]
    fn placeholders_follow_the_dialect_and_count_the_values() {
        let filter = ReportFilter {
            protocol: Some(Protocol::Plivo),
            issue: Some("ECHO".into()),
            ..ReportFilter::default()
        };
        let pg = list_reports(Dialect::Postgres, "acme", &filter, None, 10);
        assert!(
            pg.text.contains("r.tenant = $1")
                && pg.text.contains("r.protocol = $2")
                && pg.text.contains("$3 = ANY(r.issues)")
        );
        assert!(pg.text.contains("LIMIT $4"));
        assert_eq!(pg.args.len(), 4);
        let lite = list_reports(Dialect::Sqlite, "acme", &filter, None, 10);
        assert!(lite.text.contains("r.tenant = ?1") && lite.text.contains("json_each"));
        assert_eq!(lite.args, pg.args);
    }

    #[test]
    fn sqlite_greatest_skips_nulls_through_rotated_coalesces() {
        assert_eq!(
            Dialect::Sqlite.greatest(&["a", "b", "c"]),
            "max(coalesce(a, b, c), coalesce(b, c, a), coalesce(c, a, b))"
        );
        assert_eq!(Dialect::Postgres.greatest(&["a", "b"]), "GREATEST(a, b)");
    }

    #[test]
    fn client_text_never_reaches_the_sql() {
        let filter = ReportFilter {
            call_id: Some("x'; DROP TABLE reports; --".into()),
            ..ReportFilter::default()
        };
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            let sql = list_reports(dialect, "acme", &filter, None, 1);
            assert!(!sql.text.contains("DROP"));
        }
    }
}
