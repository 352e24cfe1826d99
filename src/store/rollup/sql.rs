//! The rollups' SQL, once for both dialects (built with the read side's
//! [`Binder`]): the raw facts an [`Aggregate`](super::aggregate::Aggregate)
//! is folded from, the rollup rows, and the catch-up's progress.

use chrono::{DateTime, Utc};

use crate::model::{Kind, Protocol};
use crate::store::read::sql::{Arg, Binder, Dialect, Sql, stream_metrics};

/// Which raw reports to fold: of one tenant (or all, for the catch-up),
/// optionally one style and kind, received in `[from, to)`, and, with
/// `rolled`, not in the rolled-up hours `[start, end)` below the progress
/// mark (those come from the rollups).
#[derive(Debug, Clone, Default)]
pub(crate) struct RawRange<'a> {
    pub tenant: Option<&'a str>,
    pub protocol: Option<Protocol>,
    pub kind: Option<Kind>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub rolled: Option<Hours>,
}

/// Whole hours `[start, end)` (`None`: unbounded on that side), and only
/// those the catch-up has rolled up.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hours {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// The progress mark as a value in SQL: every hour before it is rolled up
/// (before anything was rolled up, a value below every time).
fn progress_mark(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => {
            "(SELECT coalesce(next_hour, '-infinity'::timestamptz) FROM stats_rollup_progress)"
        }
        Dialect::Sqlite => "(SELECT coalesce(next_hour, '') FROM stats_rollup_progress)",
    }
}

/// `column` within `hours` and below the progress mark.
fn in_rolled_hours(b: &mut Binder, column: &str, hours: Hours) -> String {
    let mut parts = vec![format!("{column} < {}", progress_mark(b.dialect()))];
    if let Some(start) = hours.start {
        parts.push(format!("{column} >= {}", b.bind(Arg::Time(start))));
    }
    if let Some(end) = hours.end {
        parts.push(format!("{column} < {}", b.bind(Arg::Time(end))));
    }
    parts.join(" AND ")
}

/// The conditions of each part of `range` (one, or, around rolled-up
/// hours, the lower and the upper edge: two index ranges rather than one
/// range with the rolled-up middle filtered out row by row).
fn raw_parts(b: &mut Binder, range: &RawRange<'_>) -> Vec<String> {
    let mut common = vec!["true".to_owned()];
    if let Some(tenant) = range.tenant {
        common.push(format!(
            "r.tenant = {}",
            b.bind(Arg::Text(tenant.to_owned()))
        ));
    }
    if let Some(p) = range.protocol {
        common.push(format!(
            "r.protocol = {}",
            b.bind(Arg::Text(p.as_str().into()))
        ));
    }
    if let Some(k) = range.kind {
        common.push(format!("r.kind = {}", b.bind(Arg::Text(k.as_str().into()))));
    }
    let common = common.join(" AND ");
    let lower_bound = range
        .from
        .map(|t| format!(" AND r.received_at >= {}", b.bind(Arg::Time(t))))
        .unwrap_or_default();
    let to = range
        .to
        .map(|t| format!(" AND r.received_at < {}", b.bind(Arg::Time(t))))
        .unwrap_or_default();
    let Some(hours) = range.rolled else {
        return vec![format!("{common}{lower_bound}{to}")];
    };
    let mut parts = Vec::new();
    // Below the first rolled-up hour (nothing when the range is open below:
    // every hour before the mark is rolled up).
    if let (Some(_), Some(start)) = (range.from, hours.start) {
        let start = b.bind(Arg::Time(start));
        parts.push(format!("{common}{lower_bound} AND r.received_at < {start}"));
    }
    // From the end of the rolled-up hours: the range's last whole hour or
    // the mark, whichever is earlier.
    let mark = progress_mark(b.dialect());
    let rolled_end = match hours.end {
        Some(end) => {
            let end = b.bind(Arg::Time(end));
            match b.dialect() {
                Dialect::Postgres => format!("least({end}, {mark})"),
                Dialect::Sqlite => format!("min({end}, {mark})"),
            }
        }
        None => mark.to_owned(),
    };
    parts.push(format!("{common} AND r.received_at >= {rolled_end}{to}"));
    parts
}

/// Per raw report: tenant, time, style, kind, rating, issues.
pub(crate) fn raw_reports(dialect: Dialect, range: &RawRange<'_>) -> Sql {
    let mut b = Binder::new(dialect);
    let text = raw_parts(&mut b, range)
        .iter()
        .map(|cond| {
            format!(
                "SELECT r.tenant, r.received_at, r.protocol, r.kind, r.rating, r.issues \
                 FROM reports r WHERE {cond}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    b.finish(text)
}

/// Per raw stream: its report's tenant, time, style and kind, its class and
/// the four metrics exactly as the raw statistics compute them.
pub(crate) fn raw_streams(dialect: Dialect, range: &RawRange<'_>) -> Sql {
    let mut b = Binder::new(dialect);
    let metrics = stream_metrics(dialect)
        .iter()
        .map(|(name, expr)| format!("{expr} AS {name}"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = raw_parts(&mut b, range)
        .iter()
        .map(|cond| {
            format!(
                "SELECT r.tenant, r.received_at, r.protocol, r.kind, s.modality, \
                 s.quality_class, s.poor_reasons, {metrics} \
                 FROM reports r JOIN media_streams s ON s.report_id = r.id WHERE {cond}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    b.finish(text)
}

/// The rollup columns after the key, in the order [`insert_rollup`] binds them.
pub(crate) const ROLLUP_VALUES: [&str; 14] = [
    "reports",
    "rated",
    "rating_sum",
    "rating_sum_squares",
    "ratings",
    "issues",
    "poor_reasons",
    "audio_streams",
    "poor_audio_streams",
    "unclassified_streams",
    "jitter_ms",
    "loss_pct",
    "rtt_ms",
    "mos",
];

/// The rollup rows of `tenant` in `hours` (rolled-up ones only), optionally
/// of one style and kind.
pub(crate) fn rollup_rows(
    dialect: Dialect,
    tenant: &str,
    protocol: Option<Protocol>,
    kind: Option<Kind>,
    hours: Hours,
) -> Sql {
    let mut b = Binder::new(dialect);
    let mut cond = vec![format!("tenant = {}", b.bind(Arg::Text(tenant.to_owned())))];
    if let Some(p) = protocol {
        cond.push(format!(
            "protocol = {}",
            b.bind(Arg::Text(p.as_str().into()))
        ));
    }
    if let Some(k) = kind {
        cond.push(format!("kind = {}", b.bind(Arg::Text(k.as_str().into()))));
    }
    cond.push(in_rolled_hours(&mut b, "hour", hours));
    let text = format!(
        "SELECT hour, protocol, kind, {} FROM stats_rollups WHERE {}",
        ROLLUP_VALUES.join(", "),
        cond.join(" AND ")
    );
    b.finish(text)
}

/// One rollup row: the key, then `values` in [`ROLLUP_VALUES`] order.
pub(crate) fn insert_rollup(
    dialect: Dialect,
    key: (&str, DateTime<Utc>, Protocol, Kind),
    values: Vec<Arg>,
) -> Sql {
    let mut b = Binder::new(dialect);
    let mut placeholders = vec![
        b.bind(Arg::Text(key.0.to_owned())),
        b.bind(Arg::Time(key.1)),
        b.bind(Arg::Text(key.2.as_str().into())),
        b.bind(Arg::Text(key.3.as_str().into())),
    ];
    placeholders.extend(values.into_iter().map(|v| b.bind(v)));
    let text = format!(
        "INSERT INTO stats_rollups (tenant, hour, protocol, kind, {}) VALUES ({})",
        ROLLUP_VALUES.join(", "),
        placeholders.join(", ")
    );
    b.finish(text)
}

/// Removes the rows of one hour (before it is rolled up again).
pub(crate) fn delete_hour(dialect: Dialect, hour: DateTime<Utc>) -> Sql {
    let mut b = Binder::new(dialect);
    let text = format!(
        "DELETE FROM stats_rollups WHERE hour = {}",
        b.bind(Arg::Time(hour))
    );
    b.finish(text)
}

/// Sets the progress mark.
pub(crate) fn set_progress(dialect: Dialect, next_hour: DateTime<Utc>) -> Sql {
    let mut b = Binder::new(dialect);
    let text = format!(
        "UPDATE stats_rollup_progress SET next_hour = {} WHERE id = 1",
        b.bind(Arg::Time(next_hour))
    );
    b.finish(text)
}

/// `mark`: the progress mark, as text (NULL: nothing rolled up yet), so that
/// both backends read it the same way.
pub(crate) fn progress(dialect: Dialect) -> Sql {
    let text = match dialect {
        Dialect::Postgres => {
            "SELECT to_char(next_hour AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS mark \
             FROM stats_rollup_progress WHERE id = 1"
        }
        Dialect::Sqlite => "SELECT next_hour AS mark FROM stats_rollup_progress WHERE id = 1",
    };
    Binder::new(dialect).finish(text.to_owned())
}

/// `first`: the earliest report's time as text (NULL: no report).
pub(crate) fn first_report(dialect: Dialect) -> Sql {
    let text = match dialect {
        Dialect::Postgres => {
            "SELECT to_char(min(received_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
             AS first FROM reports"
        }
        Dialect::Sqlite => "SELECT min(received_at) AS first FROM reports",
    };
    Binder::new(dialect).finish(text.to_owned())
}

/// `first`: the time (as text) of the earliest report at or after `from`.
pub(crate) fn first_report_from(dialect: Dialect, from: DateTime<Utc>) -> Sql {
    let mut b = Binder::new(dialect);
    let at = b.bind(Arg::Time(from));
    let text = match dialect {
        Dialect::Postgres => format!(
            "SELECT to_char(min(received_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
             AS first FROM reports WHERE received_at >= {at}"
        ),
        Dialect::Sqlite => {
            format!("SELECT min(received_at) AS first FROM reports WHERE received_at >= {at}")
        }
    };
    b.finish(text)
}
