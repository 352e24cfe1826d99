//! Hourly statistics rollups, so that `GET /api/v1/stats` over long ranges
//! reads a few thousand rows instead of every report (docs/rollups.md).
//!
//! - `stats_rollups` holds one row per (tenant, UTC hour, style, kind): an
//!   `Aggregate` (`aggregate.rs`: counts, rating sums and values,
//!   issues, poor-stream counts, a metric [`Sketch`] each).
//! - **Maintenance: an idempotent catch-up with a watermark** (here,
//!   [`Store::roll_up`]). It rolls up closed hours one at a time, each in
//!   one transaction that computes the hour's rows from the stored reports,
//!   replaces that hour's rows and moves `stats_rollup_progress.next_hour`
//!   past it. A crash leaves the hour either whole or untouched; a retry or
//!   a duplicate is never in the rollups because it was never stored; two
//!   replicas never roll up the same hour (a PostgreSQL advisory lock, and
//!   SQLite's single writer). The same code backfills an upgraded database
//!   from its first report. The writer's transactions stay as they were:
//!   no extra statement per batch, no hot row every flush would wait on.
//! - An hour is closed once `rollup_grace_secs` have passed after its end:
//!   a report is stamped `received_at` when it arrives and committed within
//!   the request timeout, or never, so none can appear in a closed hour.
//! - The read side ([`Store::stats`](crate::store::Store::stats)) takes whole
//!   rolled-up hours from here, everything else (the partial hours at the
//!   edges, hours not rolled up yet) from the raw rows, in one snapshot
//!   that also reads the watermark, so no report is counted twice or missed.

mod aggregate;
pub mod sketch;
mod sql;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use self::aggregate::{Aggregate, StreamFacts};
use self::sketch::Sketch;
use self::sql::{Hours, RawRange};
use super::read::run::{Rows, pg_query, sqlite_query};
use super::read::sql::{Arg, Dialect, Sql};
use super::read::stats::PG_STATS_SETTINGS;
use super::schema::table::StoredRow;
use super::{Store, StoreError};
use crate::model::{Kind, Protocol};
use crate::store::query::{GroupBy, GroupStats, StatsQuery};

pub use sketch::RELATIVE_ERROR;

/// The rollup path is taken only when the raw rows it must still read (the
/// partial hours at the edges and the hours not rolled up yet) span at most
/// this long; otherwise (the catch-up is behind or off) the raw statistics
/// answer, exactly.
pub const MAX_RAW_SPAN: TimeDelta = TimeDelta::hours(4);

/// The catch-up's own statement timeout (PostgreSQL): one hour of reports
/// is read in one statement.
const CATCH_UP_TIMEOUT: &str = "SET LOCAL statement_timeout = '300s'";

/// The key of PostgreSQL's advisory lock that one catch-up holds at a time.
const ADVISORY_LOCK: i64 = 0x6361_6c6c_7172_6f6c; // "callqrol"

/// The start of the UTC hour of `t`.
pub fn floor_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

fn ceil_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = floor_hour(t);
    if floor == t {
        t
    } else {
        floor + TimeDelta::hours(1)
    }
}

/// What one [`Store::roll_up`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolledUp {
    /// Hours rolled up by this call.
    pub hours: u64,
    /// Every hour before this is rolled up (`None`: no report stored yet).
    pub next_hour: Option<DateTime<Utc>>,
    /// Another process holds the catch-up lock; it carries on.
    pub busy: bool,
}

enum Step {
    Rolled(DateTime<Utc>),
    CaughtUp(Option<DateTime<Utc>>),
    Busy,
}

/// A write transaction on either backend, running [`Sql`] statements.
enum Tx {
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl Tx {
    async fn begin(store: &Store) -> Result<Tx, StoreError> {
        Ok(match store {
            Store::Postgres(pool) => Tx::Pg(pool.begin().await?),
            Store::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
        })
    }

    async fn fetch(&mut self, sql: &Sql) -> Result<Rows, StoreError> {
        Ok(match self {
            Tx::Pg(tx) => Rows::Pg(pg_query(sql).fetch_all(&mut **tx).await?),
            Tx::Sqlite(tx) => Rows::Sqlite(sqlite_query(sql).fetch_all(&mut **tx).await?),
        })
    }

    async fn execute(&mut self, sql: &Sql) -> Result<(), StoreError> {
        match self {
            Tx::Pg(tx) => pg_query(sql).execute(&mut **tx).await.map(drop)?,
            Tx::Sqlite(tx) => sqlite_query(sql).execute(&mut **tx).await.map(drop)?,
        }
        Ok(())
    }

    async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Pg(tx) => tx.commit().await?,
            Tx::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// The one text column `column` of the first row, as a time.
fn time_text(rows: &Rows, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let Some(row) = rows.iter().next() else {
        return Ok(None);
    };
    let text: Option<String> = row.get(column)?;
    text.map(|t| {
        DateTime::parse_from_rfc3339(&t)
            .map(|t| t.to_utc())
            .map_err(|e| StoreError::Malformed(format!("{column} {t:?}: {e}")))
    })
    .transpose()
}

/// Folds raw report and stream rows ([`sql::raw_reports`],
/// [`sql::raw_streams`]) into one aggregate per `key`.
fn fold<K: Ord>(
    reports: &Rows,
    streams: &Rows,
    key: impl Fn(&StoredRow<'_>) -> Result<K, StoreError>,
) -> Result<BTreeMap<K, Aggregate>, StoreError> {
    let mut out: BTreeMap<K, Aggregate> = BTreeMap::new();
    for row in reports.iter() {
        let issues: Vec<String> = row.get("issues")?;
        out.entry(key(&row)?).or_default().add_report(
            row.get("protocol")?,
            row.get("kind")?,
            row.get("rating")?,
            &issues,
        );
    }
    for row in streams.iter() {
        let facts = StreamFacts {
            modality: row.get("modality")?,
            class: row.get("quality_class")?,
            reasons: row.get("poor_reasons")?,
            jitter_ms: row.get("jitter")?,
            loss_pct: row.get("loss")?,
            rtt_ms: row.get("rtt")?,
            mos: row.get("mos")?,
        };
        out.entry(key(&row)?).or_default().add_stream(&facts);
    }
    Ok(out)
}

fn json_map(map: &BTreeMap<String, i64>) -> Arg {
    Arg::Text(serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned()))
}

fn map_from(row: &StoredRow<'_>, column: &str) -> Result<BTreeMap<String, i64>, StoreError> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Malformed(format!("{column}: {e}")))
}

fn sketch_from(row: &StoredRow<'_>, column: &str) -> Result<Sketch, StoreError> {
    let bytes: Vec<u8> = row.get(column)?;
    Sketch::decode(&bytes).ok_or_else(|| StoreError::Malformed(format!("{column}: not a sketch")))
}

/// The values of a rollup row, in [`sql::ROLLUP_VALUES`] order.
fn rollup_values(a: &Aggregate) -> Vec<Arg> {
    vec![
        Arg::Int(a.reports),
        Arg::Int(a.rated),
        Arg::Float(a.rating_sum),
        Arg::Float(a.rating_sum_squares),
        json_map(&a.ratings),
        json_map(&a.issues),
        json_map(&a.poor_reasons),
        Arg::Int(a.audio_streams),
        Arg::Int(a.poor_audio_streams),
        Arg::Int(a.unclassified_streams),
        Arg::Bytes(a.jitter_ms.encode()),
        Arg::Bytes(a.loss_pct.encode()),
        Arg::Bytes(a.rtt_ms.encode()),
        Arg::Bytes(a.mos.encode()),
    ]
}

/// A rollup row read back as an aggregate (its style and kind count its reports).
fn rollup_aggregate(row: &StoredRow<'_>) -> Result<Aggregate, StoreError> {
    let mut a = Aggregate {
        rated: row.get("rated")?,
        rating_sum: row.get("rating_sum")?,
        rating_sum_squares: row.get("rating_sum_squares")?,
        ratings: map_from(row, "ratings")?,
        issues: map_from(row, "issues")?,
        poor_reasons: map_from(row, "poor_reasons")?,
        audio_streams: row.get("audio_streams")?,
        poor_audio_streams: row.get("poor_audio_streams")?,
        unclassified_streams: row.get("unclassified_streams")?,
        jitter_ms: sketch_from(row, "jitter_ms")?,
        loss_pct: sketch_from(row, "loss_pct")?,
        rtt_ms: sketch_from(row, "rtt_ms")?,
        mos: sketch_from(row, "mos")?,
        ..Aggregate::default()
    };
    a.add_reports(row.get("protocol")?, row.get("kind")?, row.get("reports")?);
    Ok(a)
}

/// The statistics group of a report (or rollup row) at `at` of `protocol`
/// and `kind`, with the keys the raw statistics give (`read/sql.rs`).
fn group_key(
    group_by: Option<GroupBy>,
    at: DateTime<Utc>,
    protocol: Protocol,
    kind: Kind,
) -> Option<String> {
    match group_by {
        Some(GroupBy::Protocol) => Some(protocol.as_str().to_owned()),
        Some(GroupBy::Kind) => Some(kind.as_str().to_owned()),
        Some(GroupBy::Hour) => Some(at.format("%Y-%m-%dT%H:00:00Z").to_string()),
        Some(GroupBy::Day) => Some(at.format("%Y-%m-%d").to_string()),
        _ => None,
    }
}

/// Whether the rollup key covers the query: filters on style, kind and time
/// only, groups by nothing, style, kind, hour or day.
fn covered(query: &StatsQuery) -> bool {
    let f = &query.filter;
    let filters_ok = f.call_id.is_none()
        && f.min_rating.is_none()
        && f.max_rating.is_none()
        && f.issue.is_none()
        && f.device.is_none();
    let group_ok = matches!(
        query.group_by,
        None | Some(GroupBy::Protocol | GroupBy::Kind | GroupBy::Hour | GroupBy::Day)
    );
    filters_ok && group_ok
}

impl Store {
    /// Rolls up every closed hour before `limit` (rounded down to the hour)
    /// not rolled up yet, one transaction per hour, oldest first; on an
    /// upgraded database the first call backfills from the first report.
    /// Returns at once when another process holds the catch-up.
    pub async fn roll_up(&self, limit: DateTime<Utc>) -> Result<RolledUp, StoreError> {
        let end = floor_hour(limit);
        let mut hours = 0;
        loop {
            match self.roll_up_one(end).await? {
                Step::Rolled(next) => {
                    hours += 1;
                    metrics::counter!("callq_rollup_hours_total").increment(1);
                    if next >= end {
                        return Ok(RolledUp {
                            hours,
                            next_hour: Some(next),
                            busy: false,
                        });
                    }
                }
                Step::CaughtUp(next_hour) => {
                    return Ok(RolledUp {
                        hours,
                        next_hour,
                        busy: false,
                    });
                }
                Step::Busy => {
                    return Ok(RolledUp {
                        hours,
                        next_hour: None,
                        busy: true,
                    });
                }
            }
        }
    }

    /// Rolls up the hour at the watermark if it ends by `end`.
    async fn roll_up_one(&self, end: DateTime<Utc>) -> Result<Step, StoreError> {
        let d = self.dialect();
        let mut tx = Tx::begin(self).await?;
        match d {
            Dialect::Postgres => {
                let rows = tx
                    .fetch(&Sql {
                        text: "SELECT pg_try_advisory_xact_lock($1) AS locked".into(),
                        args: vec![Arg::Int(ADVISORY_LOCK)],
                    })
                    .await?;
                let locked = match rows.iter().next() {
                    Some(row) => row.get::<bool>("locked")?,
                    None => false,
                };
                if !locked {
                    return Ok(Step::Busy);
                }
                // An hour's streams are found through its reports' ids, as
                // the raw statistics find them (see `read/stats.rs`); a busy
                // hour may take longer than the writer's statement timeout,
                // which would stop the catch-up at that hour for good.
                let settings = PG_STATS_SETTINGS.iter().copied().chain([CATCH_UP_TIMEOUT]);
                for setting in settings {
                    tx.execute(&Sql {
                        text: (*setting).to_owned(),
                        args: Vec::new(),
                    })
                    .await?;
                }
            }
            // Take SQLite's write lock first, so that nothing written
            // between this read and the update below is missed.
            Dialect::Sqlite => {
                tx.execute(&Sql {
                    text: "UPDATE stats_rollup_progress SET next_hour = next_hour WHERE id = 1"
                        .into(),
                    args: Vec::new(),
                })
                .await?;
            }
        }
        let hour = match time_text(&tx.fetch(&sql::progress(d)).await?, "mark")? {
            Some(mark) => mark,
            None => match time_text(&tx.fetch(&sql::first_report(d)).await?, "first")? {
                Some(first) => floor_hour(first),
                None => {
                    tx.commit().await?;
                    return Ok(Step::CaughtUp(None));
                }
            },
        };
        if hour + TimeDelta::hours(1) > end {
            tx.commit().await?;
            return Ok(Step::CaughtUp(Some(hour)));
        }
        let next = hour + TimeDelta::hours(1);
        let range = RawRange {
            from: Some(hour),
            to: Some(next),
            ..RawRange::default()
        };
        let reports = tx.fetch(&sql::raw_reports(d, &range)).await?;
        if reports.iter().next().is_none() {
            // No report in this hour: skip to the hour of the next one
            // (one transaction for a whole quiet gap).
            let after = time_text(&tx.fetch(&sql::first_report_from(d, next)).await?, "first")?;
            let skip_to = after.map_or(end, |t| floor_hour(t).min(end)).max(next);
            tx.execute(&sql::delete_hour(d, hour)).await?;
            tx.execute(&sql::set_progress(d, skip_to)).await?;
            tx.commit().await?;
            return Ok(Step::Rolled(skip_to));
        }
        let streams = tx.fetch(&sql::raw_streams(d, &range)).await?;
        let rows = fold(&reports, &streams, |row| {
            Ok((
                row.get::<String>("tenant")?,
                row.get::<Protocol>("protocol")?.as_str(),
                row.get::<Kind>("kind")?.as_str(),
            ))
        })?;
        tx.execute(&sql::delete_hour(d, hour)).await?;
        for ((tenant, protocol, kind), aggregate) in &rows {
            let (Ok(protocol), Ok(kind)) = (protocol.parse(), kind.parse()) else {
                return Err(StoreError::Malformed("a style or kind name".into()));
            };
            let insert =
                sql::insert_rollup(d, (tenant, hour, protocol, kind), rollup_values(aggregate));
            tx.execute(&insert).await?;
        }
        tx.execute(&sql::set_progress(d, next)).await?;
        tx.commit().await?;
        Ok(Step::Rolled(next))
    }

    /// The watermark: every hour before it is rolled up.
    pub async fn rollup_progress(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        time_text(&self.fetch(&sql::progress(self.dialect())).await?, "mark")
    }

    /// The statistics of `query` from rollups and the raw rows around them,
    /// or `None` when the rollups do not cover it (see [`covered`],
    /// [`MAX_RAW_SPAN`]): the caller then computes them from raw rows.
    pub(crate) async fn stats_from_rollups(
        &self,
        tenant: &str,
        query: &StatsQuery,
    ) -> Result<Option<Vec<GroupStats>>, StoreError> {
        if !covered(query) {
            return Ok(None);
        }
        let Some(mark) = self.rollup_progress().await? else {
            return Ok(None);
        };
        let f = &query.filter;
        let hours = Hours {
            start: f.since.map(ceil_hour),
            end: f.until.map(floor_hour),
        };
        // What the rollups cover (the mark can only move on by the time
        // the snapshot reads it, which leaves less to the raw rows).
        let rolled_end = hours.end.map_or(mark, |e| e.min(mark));
        if hours.start.is_some_and(|s| s >= rolled_end) {
            return Ok(None);
        }
        let lower_edge = match (f.since, hours.start) {
            (Some(since), Some(start)) => start - since,
            _ => TimeDelta::zero(),
        };
        let upper_edge = f.until.unwrap_or_else(Utc::now).max(rolled_end) - rolled_end;
        if lower_edge + upper_edge > MAX_RAW_SPAN {
            return Ok(None);
        }
        let d = self.dialect();
        let range = RawRange {
            tenant: Some(tenant),
            protocol: f.protocol,
            kind: f.kind,
            from: f.since,
            to: f.until,
            rolled: Some(hours),
        };
        let statements = [
            sql::rollup_rows(d, tenant, f.protocol, f.kind, hours),
            sql::raw_reports(d, &range),
            sql::raw_streams(d, &range),
        ];
        let results = self.snapshot(PG_STATS_SETTINGS, &statements).await?;
        let [rollups, reports, streams] = &results[..] else {
            return Err(StoreError::Malformed("one result per statement".into()));
        };
        let group_by = query.group_by;
        let mut groups = fold(reports, streams, |row| {
            Ok(group_key(
                group_by,
                row.get("received_at")?,
                row.get("protocol")?,
                row.get("kind")?,
            ))
        })?;
        for row in rollups.iter() {
            let key = group_key(
                group_by,
                row.get("hour")?,
                row.get("protocol")?,
                row.get("kind")?,
            );
            groups
                .entry(key)
                .or_default()
                .merge(&rollup_aggregate(&row)?);
        }
        let mut out: Vec<GroupStats> = groups
            .into_iter()
            .map(|(key, aggregate)| aggregate.finish(key))
            .collect();
        if out.is_empty() && group_by.is_none() {
            out.push(GroupStats::empty(None));
        }
        Ok(Some(out))
    }
}

/// The running [`keep_rolled_up`] task, if any; [`RollupTask::stop`] ends it.
#[derive(Debug, Clone, Default)]
pub struct RollupTask(Option<tokio::task::AbortHandle>);

impl RollupTask {
    /// Starts [`keep_rolled_up`] on the current runtime; a zero `interval`
    /// starts nothing.
    pub fn start(store: Store, grace: Duration, interval: Duration) -> RollupTask {
        if interval.is_zero() {
            return RollupTask(None);
        }
        let task = tokio::spawn(keep_rolled_up(store, grace, interval));
        RollupTask(Some(task.abort_handle()))
    }

    pub fn stop(&self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// Keeps the rollups caught up: at start (the backfill of an upgraded
/// database) and every `interval`, rolls up the hours that closed
/// `grace` ago or earlier. Runs until the task is aborted.
pub async fn keep_rolled_up(store: Store, grace: Duration, interval: Duration) {
    let Ok(grace) = TimeDelta::from_std(grace) else {
        return;
    };
    let mut tick = tokio::time::interval(interval.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let limit = Utc::now() - grace;
        match store.roll_up(limit).await {
            Ok(done) if done.hours > 0 => {
                tracing::info!(hours = done.hours, next_hour = ?done.next_hour, "statistics rolled up");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "rolling up statistics failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_round_both_ways() {
        let t: DateTime<Utc> = "2026-03-01T10:20:30.5Z".parse().unwrap();
        let h: DateTime<Utc> = "2026-03-01T10:00:00Z".parse().unwrap();
        assert_eq!(floor_hour(t), h);
        assert_eq!(ceil_hour(t), h + TimeDelta::hours(1));
        assert_eq!(ceil_hour(h), h);
    }

    #[test]
    fn only_what_the_rollup_key_covers_uses_rollups() {
        let mut q = StatsQuery::default();
        assert!(covered(&q));
        q.group_by = Some(GroupBy::Day);
        assert!(covered(&q));
        q.group_by = Some(GroupBy::Device);
        assert!(!covered(&q));
        q.group_by = None;
        q.filter.issue = Some("ECHO".into());
        assert!(!covered(&q));
    }
}
