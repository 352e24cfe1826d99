//! Statistics: several aggregate queries over the same reports, run inside
//! one read-only snapshot (PostgreSQL REPEATABLE READ, an SQLite read
//! transaction) so the figures of one answer agree with each other even while
//! reports keep arriving. The rows map the same way on both backends but
//! for the percentiles, which PostgreSQL computes itself and SQLite leaves
//! to [`interpolate`].

use std::collections::BTreeMap;

use super::query::{
    GroupStats, PERCENTILES, Percentiles, StatsQuery, interpolate, rating_key, stddev_from_sums,
};
use super::run::Rows;
use super::sql::{self, Dialect};
use crate::store::schema::table::StoredRow;
use crate::store::{Store, StoreError};

/// A range's streams are found through its reports' ids (the media_streams
/// primary key). With PostgreSQL's default random_page_cost (4, priced for
/// spinning disks) the planner hashes a scan of *every* stream even for one
/// day's reports: 300 ms instead of 90 ms for 24 h of 1M reports (`cargo
/// bench --bench ops_read`). 1.1 is the usual SSD value; SET LOCAL keeps it
/// to this read-only transaction, and wide ranges still get the hash join
/// where it is cheaper.
pub(crate) const PG_STATS_SETTINGS: &[&str] = &["SET LOCAL random_page_cost = 1.1"];

impl Store {
    /// Quality statistics of `tenant`'s reports, per group. Groups come
    /// sorted by key (no-key group first). From the hourly rollups where
    /// they cover the query (`store/rollup/`: counts, sums and means exact,
    /// percentiles within [`RELATIVE_ERROR`](crate::store::rollup::RELATIVE_ERROR)),
    /// otherwise [`Store::stats_raw`].
    pub async fn stats(
        &self,
        tenant: &str,
        query: &StatsQuery,
    ) -> Result<Vec<GroupStats>, StoreError> {
        let (groups, source) = match self.stats_from_rollups(tenant, query).await? {
            Some(groups) => (groups, "rollups"),
            None => (self.stats_raw(tenant, query).await?, "raw"),
        };
        metrics::counter!("callq_stats_answers_total", "source" => source).increment(1);
        Ok(groups)
    }

    /// Quality statistics computed from every matching raw row, aggregated
    /// by the database (exact percentiles, `percentile_cont`).
    pub async fn stats_raw(
        &self,
        tenant: &str,
        query: &StatsQuery,
    ) -> Result<Vec<GroupStats>, StoreError> {
        let d = self.dialect();
        let mut statements = vec![
            sql::stats_summary(d, tenant, query),
            sql::stats_rating_distribution(d, tenant, query),
            sql::stats_issues(d, tenant, query),
        ];
        match d {
            Dialect::Postgres => statements.push(sql::stats_streams_postgres(tenant, query)),
            Dialect::Sqlite => {
                statements.push(sql::stats_stream_classes_sqlite(tenant, query));
                statements.push(sql::stats_percentiles_sqlite(tenant, query));
            }
        }
        let results = self.snapshot(PG_STATS_SETTINGS, &statements).await?;
        let mut groups = Groups::new();
        let mut results = results.iter();
        let mut next = || {
            results
                .next()
                .ok_or_else(|| StoreError::Malformed("one result per statement".into()))
        };
        summaries(&mut groups, d, next()?)?;
        ratings(&mut groups, next()?)?;
        issues(&mut groups, next()?)?;
        match d {
            Dialect::Postgres => streams_postgres(&mut groups, next()?)?,
            Dialect::Sqlite => {
                stream_classes(&mut groups, next()?)?;
                percentiles_sqlite(&mut groups, next()?)?;
            }
        }
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

/// Per group: counts, rating mean and spread, reports per style and kind.
fn summaries(groups: &mut Groups, dialect: Dialect, rows: &Rows) -> Result<(), StoreError> {
    for row in rows.iter() {
        let g = group(groups, &row.get("key")?);
        g.reports = row.get("reports")?;
        g.rating.count = row.get("rated")?;
        g.rating.mean = row.get("mean")?;
        match dialect {
            Dialect::Postgres => {
                g.rating.median = row.get("median")?;
                g.rating.stddev = row.get("stddev")?;
            }
            Dialect::Sqlite => {
                // The median comes with the percentiles.
                let sum: Option<f64> = row.get("sum")?;
                let sum_squares: Option<f64> = row.get("sum_squares")?;
                g.rating.stddev = match (sum, sum_squares) {
                    (Some(s), Some(ss)) => stddev_from_sums(g.rating.count, s, ss),
                    _ => None,
                };
            }
        }
        for p in crate::model::Protocol::ALL {
            g.protocols
                .insert(p.as_str().to_owned(), row.get(&format!("protocol_{p}"))?);
        }
        for k in crate::model::Kind::ALL {
            g.kinds
                .insert(k.as_str().to_owned(), row.get(&format!("kind_{k}"))?);
        }
    }
    Ok(())
}

/// Per group: how many reports gave each rating.
fn ratings(groups: &mut Groups, rows: &Rows) -> Result<(), StoreError> {
    for row in rows.iter() {
        let rating: f64 = row.get("rating")?;
        group(groups, &row.get("key")?)
            .rating
            .distribution
            .insert(rating_key(rating), row.get("n")?);
    }
    Ok(())
}

/// Per group: how many reports name each issue.
fn issues(groups: &mut Groups, rows: &Rows) -> Result<(), StoreError> {
    for row in rows.iter() {
        group(groups, &row.get("key")?)
            .issues
            .insert(row.get("issue")?, row.get("n")?);
    }
    Ok(())
}

/// The poor-stream counts of a row with [`sql`]'s `stream_class_counts` columns.
fn classes_from_row(g: &mut GroupStats, row: &StoredRow<'_>) -> Result<(), StoreError> {
    g.set_stream_classes(
        row.get("audio_n")?,
        row.get("poor_n")?,
        row.get("unclassified_n")?,
    );
    for reason in crate::model::quality::PoorReason::ALL {
        g.poor_reasons.insert(
            reason.as_str().to_owned(),
            row.get(&format!("reason_{reason}"))?,
        );
    }
    Ok(())
}

/// SQLite: per group, the poor-stream counts.
fn stream_classes(groups: &mut Groups, rows: &Rows) -> Result<(), StoreError> {
    for row in rows.iter() {
        classes_from_row(group(groups, &row.get("key")?), &row)?;
    }
    Ok(())
}

/// PostgreSQL: per group, the stream metrics' percentiles and the
/// poor-stream counts, in one row.
fn streams_postgres(groups: &mut Groups, rows: &Rows) -> Result<(), StoreError> {
    for row in rows.iter() {
        let g = group(groups, &row.get("key")?);
        for name in ["jitter", "loss", "rtt", "mos"] {
            let n: i64 = row.get(&format!("{name}_n"))?;
            let p: Option<Vec<f64>> = row.get(&format!("{name}_p"))?;
            if let Some(slot) = metric(g, name) {
                *slot = from_array(n, p);
            }
        }
        classes_from_row(g, &row)?;
    }
    Ok(())
}

/// SQLite: per group, metric and percentile, the two closest ranks' values,
/// interpolated here; the rating's median among them.
fn percentiles_sqlite(groups: &mut Groups, rows: &Rows) -> Result<(), StoreError> {
    for row in rows.iter() {
        let name: String = row.get("metric")?;
        let p: f64 = row.get("p")?;
        let n: i64 = row.get("n")?;
        let lower: Option<f64> = row.get("lower")?;
        let upper: Option<f64> = row.get("upper")?;
        let Some(lower) = lower else { continue };
        let value = interpolate(p, n, lower, upper);
        let g = group(groups, &row.get("key")?);
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
    Ok(())
}
