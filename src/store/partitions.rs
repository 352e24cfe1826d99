//! PostgreSQL time partitions of `reports` and `media_streams` (migration
//! 0006): creating them ahead of time, and reading which exist.
//!
//! Both tables are partitioned by RANGE (`received_at`), with a DEFAULT
//! partition each, so an insert never fails for want of a partition; callq
//! creates the partitions of the next [`PartitionWidth`]s at start and every
//! maintenance pass, so the DEFAULT partition normally stays empty. Names
//! follow pg_partman 5 (`reports_p20261201`: the UTC start date), and no
//! extension is needed.
//!
//! Every replica may run this at once: the work is done in one transaction
//! under a PostgreSQL advisory lock, so a second replica waits for the first
//! and then finds nothing left to create. SQLite has no partitions; there
//! this is a no-op.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use sqlx::{PgConnection, Row};

use super::{Store, StoreError};

/// The partitioned tables; each partition of one has a twin of the same
/// bounds in the other, so a report and its streams are dropped together.
pub(crate) const PARTITIONED: [&str; 2] = ["reports", "media_streams"];

/// The advisory lock key (`pg_advisory_xact_lock`) of partition creation:
/// "callq" in ASCII, then 1.
const CREATE_LOCK: i64 = 0x6361_6c6c_7100_0001;

/// The width of one time partition, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionWidth {
    Day,
    /// ISO weeks, from Monday.
    Week,
    /// Calendar months.
    Month,
}

/// A `partition_width` other than `day`, `week` or `month`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a partition width: use day, week or month")]
pub struct UnknownWidth(pub String);

impl FromStr for PartitionWidth {
    type Err = UnknownWidth;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "day" => Ok(PartitionWidth::Day),
            "week" => Ok(PartitionWidth::Week),
            "month" => Ok(PartitionWidth::Month),
            other => Err(UnknownWidth(other.to_owned())),
        }
    }
}

impl fmt::Display for PartitionWidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PartitionWidth::Day => "day",
            PartitionWidth::Week => "week",
            PartitionWidth::Month => "month",
        })
    }
}

impl PartitionWidth {
    /// The start of the partition `t` falls in.
    pub fn start_of(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let day = t.date_naive();
        let first = match self {
            PartitionWidth::Day => day,
            PartitionWidth::Week => {
                day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
            }
            PartitionWidth::Month => day.with_day(1).expect("day 1 exists"),
        };
        midnight(first)
    }

    /// The start of the partition after the one starting at `start`.
    pub fn next(self, start: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            PartitionWidth::Day => start + Duration::days(1),
            PartitionWidth::Week => start + Duration::days(7),
            PartitionWidth::Month => {
                let d = start.date_naive();
                let (y, m) = if d.month() == 12 {
                    (d.year() + 1, 1)
                } else {
                    (d.year(), d.month() + 1)
                };
                midnight(NaiveDate::from_ymd_opt(y, m, 1).expect("the 1st exists"))
            }
        }
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// One range partition: `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub table: String,
    pub name: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The parts of `[from, to)` no range in `existing` covers, in order.
pub(crate) fn gaps(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    existing: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut sorted = existing.to_vec();
    sorted.sort();
    let mut out = Vec::new();
    let mut cursor = from;
    for (lo, hi) in sorted {
        if cursor >= to {
            break;
        }
        if hi <= cursor || lo >= to {
            continue;
        }
        if lo > cursor {
            out.push((cursor, lo));
        }
        cursor = cursor.max(hi);
    }
    if cursor < to {
        out.push((cursor, to));
    }
    out
}

/// The range partitions of `table`, read from the catalog (the bounds as
/// `pg_get_expr` prints them, parsed back by PostgreSQL itself).
pub(crate) async fn range_partitions(
    conn: &mut PgConnection,
    table: &str,
) -> Result<Vec<Partition>, StoreError> {
    let rows = sqlx::query(
        "SELECT c.relname::text AS name, b.m[1]::timestamptz AS lo, b.m[2]::timestamptz AS hi \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         CROSS JOIN LATERAL (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid), \
             'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)') AS m) b \
         WHERE i.inhparent = $1::regclass AND b.m IS NOT NULL \
         ORDER BY lo",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Partition {
                table: table.to_owned(),
                name: row.try_get("name")?,
                from: row.try_get("lo")?,
                to: row.try_get("hi")?,
            })
        })
        .collect()
}

/// `reports_p20261201`; a range starting inside a day (only after someone
/// made partitions of their own) gets the time too.
fn partition_name(table: &str, from: DateTime<Utc>) -> String {
    if from == midnight(from.date_naive()) {
        format!("{table}_p{}", from.format("%Y%m%d"))
    } else {
        format!("{table}_p{}", from.format("%Y%m%d_%H%M%S"))
    }
}

fn literal(t: DateTime<Utc>) -> String {
    t.format("'%Y-%m-%d %H:%M:%S%.6f+00'").to_string()
}

/// Creates one partition covering `[from, to)`. Rows the DEFAULT partition
/// already holds in that range (callq was not running when it should have
/// created it) are moved into it, in the same transaction: a plain
/// `PARTITION OF` would be refused while the DEFAULT holds such rows.
async fn create_one(
    conn: &mut PgConnection,
    table: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Partition, StoreError> {
    let name = partition_name(table, from);
    let (lo, hi) = (literal(from), literal(to));
    let statements = [
        format!(
            "CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS \
             INCLUDING COMPRESSION)"
        ),
        format!(
            "WITH moved AS (DELETE FROM {table}_default \
               WHERE received_at >= {lo} AND received_at < {hi} RETURNING *) \
             INSERT INTO {name} SELECT * FROM moved"
        ),
        // Attaching builds the parent's keys and indexes on the partition.
        format!("ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})"),
    ];
    // Not kept prepared: each names its own partition and runs once.
    for sql in statements {
        sqlx::query(&sql)
            .persistent(false)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Partition {
        table: table.to_owned(),
        name,
        from,
        to,
    })
}

impl Store {
    /// Makes sure partitions cover every instant from the start of the
    /// partition holding `now` through `ahead` more widths, on both
    /// partitioned tables; returns those it created (none on SQLite). Ranges
    /// already covered, by partitions of any width, are left as they are.
    pub async fn create_partitions(
        &self,
        width: PartitionWidth,
        ahead: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<Partition>, StoreError> {
        let Store::Postgres(pool) = self else {
            return Ok(Vec::new());
        };
        let from = width.start_of(now);
        let mut to = from;
        for _ in 0..=ahead {
            to = width.next(to);
        }
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CREATE_LOCK)
            .execute(&mut *tx)
            .await?;
        let mut created = Vec::new();
        for table in PARTITIONED {
            let existing: Vec<_> = range_partitions(&mut tx, table)
                .await?
                .into_iter()
                .map(|p| (p.from, p.to))
                .collect();
            let mut start = from;
            while start < to {
                let end = width.next(start);
                for (lo, hi) in gaps(start, end, &existing) {
                    created.push(create_one(&mut tx, table, lo, hi).await?);
                }
                start = end;
            }
        }
        tx.commit().await?;
        Ok(created)
    }

    /// The range partitions of both tables (none on SQLite).
    pub async fn partitions(&self) -> Result<Vec<Partition>, StoreError> {
        let Store::Postgres(pool) = self else {
            return Ok(Vec::new());
        };
        let mut conn = pool.acquire().await?;
        let mut all = Vec::new();
        for table in PARTITIONED {
            all.extend(range_partitions(&mut conn, table).await?);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn widths_start_at_utc_midnight_monday_and_the_first() {
        let t = at("2026-12-03T17:45:00Z"); // a Thursday
        assert_eq!(PartitionWidth::Day.start_of(t), at("2026-12-03T00:00:00Z"));
        assert_eq!(PartitionWidth::Week.start_of(t), at("2026-11-30T00:00:00Z"));
        assert_eq!(
            PartitionWidth::Month.start_of(t),
            at("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            PartitionWidth::Month.next(at("2026-12-01T00:00:00Z")),
            at("2027-01-01T00:00:00Z")
        );
        assert_eq!("week".parse(), Ok(PartitionWidth::Week));
        assert_eq!(
            "hour".parse::<PartitionWidth>(),
            Err(UnknownWidth("hour".into()))
        );
    }

    #[test]
    fn gaps_are_what_existing_ranges_leave_uncovered() {
        let d = |n: u32| at(&format!("2026-12-{n:02}T00:00:00Z"));
        // Daily partitions for the 1st and 2nd; a week from the 1st to the 8th.
        let existing = [(d(1), d(2)), (d(2), d(3)), (d(5), d(6))];
        assert_eq!(
            gaps(d(1), d(8), &existing),
            vec![(d(3), d(5)), (d(6), d(8))]
        );
        assert_eq!(gaps(d(1), d(3), &existing), vec![]);
        assert_eq!(gaps(d(10), d(11), &existing), vec![(d(10), d(11))]);
    }

    #[test]
    fn names_follow_pg_partman() {
        assert_eq!(
            partition_name("reports", at("2026-12-01T00:00:00Z")),
            "reports_p20261201"
        );
        assert_eq!(
            partition_name("media_streams", at("2026-12-01T06:00:00Z")),
            "media_streams_p20261201_060000"
        );
    }
}
