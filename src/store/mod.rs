//! Durable storage of [`Report`]s: one interface, PostgreSQL and SQLite behind it.
//!
//! The store knows the model and SQL, nothing of wire formats. Handlers never
//! call it to write directly: they go through the group-commit [`Writer`],
//! which batches many requests' reports into one transaction.

mod call_view;
mod claims;
mod columns;
mod postgres;
pub mod query;
mod read;
mod read_pool;
mod read_sql;
mod sqlite;
mod tenant_share;
mod writer;

pub use call_view::CallReport;
pub use claims::{DEFAULT_RETRY_WINDOW, KeyReused, MAX_IDEMPOTENCY_KEY_CHARS};
pub use read_pool::ReadOptions;
pub use writer::{
    Committed, RequestTicket, WriteAnswer, WriteError, Writer, WriterConfig, WriterStats,
};

use std::time::Duration;

use uuid::Uuid;

use crate::model::Report;

/// Which database a URL selects, and the pool behind it.
#[derive(Clone, Debug)]
pub enum Store {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

/// What became of one report in a batch insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The id of the stored row: the report's own, or, when the report was a
    /// retry of an already stored one (same idempotency key), the first one's.
    pub id: Uuid,
    /// True when nothing new was written because the report was a retry.
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or did not answer in time: retryable.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The database answered with an error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use postgres://… or sqlite:…")]
    UnsupportedUrl(String),
    #[error("cannot create or make owner-only the SQLite file or directory {path}: {source}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("stored row is malformed: {0}")]
    Malformed(String),
    /// `insert_one` only: the report's idempotency key belongs to another request.
    #[error("the idempotency key was already used for a different request")]
    KeyReused,
}

impl StoreError {
    /// True for errors that say "not now" rather than "never": lost connections,
    /// pool time-outs, I/O. The writer retries nothing itself; callers answer 503.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => is_transient(e),
            _ => false,
        }
    }

    /// True only when the database refused the *content* of what was
    /// written: PostgreSQL classes 22 (data exception) and 23 (integrity
    /// constraint, triggers raising `check_violation` included) and 54000
    /// (a value too large); SQLite CONSTRAINT, TOOBIG, MISMATCH and RANGE.
    /// Only these are isolated by bisection and answered 400 ("never as
    /// sent"). Every other error (a full disk, a read-only failover target,
    /// a missing privilege, a protocol error, an unknown code) may be an
    /// outage, so it is answered 503 and the client retries later: a
    /// report is never refused for something that is not its fault.
    pub fn is_content_refusal(&self) -> bool {
        let StoreError::Database(sqlx::Error::Database(db)) = self else {
            return false;
        };
        let code = db.code().unwrap_or_default();
        if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
            return code
                .parse::<i32>()
                .is_ok_and(|c| matches!(c & 0xff, 18 | 19 | 20 | 25));
        }
        code.starts_with("22") || code.starts_with("23") || code == "54000"
    }

    /// What a client whose report the database refused is told: the
    /// SQLSTATE (or SQLite code), not the database's own message, which can
    /// name tables and constraints. The whole error is logged.
    pub fn refusal(&self) -> String {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => format!(
                "the database refused a value of this report (code {})",
                db.code().unwrap_or_default()
            ),
            _ => "the database refused this report".to_owned(),
        }
    }
}

/// Errors that say "not now" rather than "never".
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite BUSY/LOCKED and their extended codes (BUSY_SNAPSHOT, …);
                // INTERRUPT (9): a read-pool statement stopped at its deadline
                // (`read_pool`), a "not now" like PostgreSQL's 57014.
                return code
                    .parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 9));
            }
            // PostgreSQL class 08 (connection exception), 57P0x (admin
            // shutdown, crash shutdown, cannot connect now), 57014 (statement
            // timeout), 55P03 (lock timeout), 53 (insufficient resources),
            // 40001/40P01 (serialization failure, deadlock): each rolled the
            // transaction back and may well succeed when tried again.
            code.starts_with("08")
                || code.starts_with("57P")
                || code.starts_with("53")
                || matches!(code.as_ref(), "57014" | "55P03" | "40001" | "40P01")
        }
        _ => false,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_transient(&e) {
            StoreError::Unavailable(e)
        } else {
            StoreError::Database(e)
        }
    }
}

/// Connection settings that do not belong in the URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    /// How long to wait for a pooled connection before giving up (→ 503).
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// Server-side bounds of every statement on a connection (PostgreSQL;
/// SQLite's busy timeout already bounds its waits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementBounds {
    /// `statement_timeout`: the server cancels (rolls back) a statement
    /// running longer, so a flush never commits later than this.
    pub statement_timeout: Duration,
    /// `lock_timeout`: the longest a statement waits for a lock.
    pub lock_timeout: Duration,
}

impl StatementBounds {
    /// Bounds below a writer flush timeout: statements end at 3/4 of it and
    /// wait for locks at most half of it, so the outcome of a flush is
    /// known, from the database, within the flush timeout.
    pub fn below(flush_timeout: Duration) -> StatementBounds {
        let at_least = Duration::from_millis(1);
        StatementBounds {
            statement_timeout: flush_timeout.mul_f64(0.75).max(at_least),
            lock_timeout: flush_timeout.mul_f64(0.5).max(at_least),
        }
    }
}

impl Store {
    /// Opens a pool for `url`: `postgres://`/`postgresql://` selects PostgreSQL,
    /// `sqlite:` selects an embedded SQLite file (created, with its directory,
    /// if missing). Connects lazily, so a server can start while its database
    /// is still down and report that on `/readyz`.
    pub fn open(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        Self::open_bounded(url, options, None)
    }

    /// As [`Store::open`], with every PostgreSQL connection's statements
    /// bounded by the server (what the writer relies on to never answer
    /// 503 for a transaction that later commits).
    pub fn open_bounded(
        url: &str,
        options: &StoreOptions,
        bounds: Option<StatementBounds>,
    ) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            postgres::open(url, options, bounds).map(Store::Postgres)
        } else if url.starts_with("sqlite:") {
            sqlite::open(url, options).map(Store::Sqlite)
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// Applies the backend's migrations (migrations/postgres or migrations/sqlite).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
            Store::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
        }
        Ok(())
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await?,
            Store::Sqlite(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
                return Ok(());
            }
        };
        Ok(())
    }

    /// Short backend name for logs and metrics.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Postgres(_) => "postgres",
            Store::Sqlite(_) => "sqlite",
        }
    }

    /// [`Store::insert_batch_within`] the default retry window.
    pub async fn insert_batch(
        &self,
        reports: &[Report],
    ) -> Result<Vec<Result<Stored, KeyReused>>, StoreError> {
        self.insert_batch_within(reports, DEFAULT_RETRY_WINDOW)
            .await
    }

    /// Inserts `reports` (and their streams) in one transaction, one
    /// statement on PostgreSQL. The result has one entry per input, in
    /// order: written, a retry of an earlier report (its id), or a key reused
    /// for another request (see `claims`). Either all are committed or
    /// none. `retry_window`: how long an identical keyless request is a
    /// retry (zero: never).
    pub async fn insert_batch_within(
        &self,
        reports: &[Report],
        retry_window: Duration,
    ) -> Result<Vec<Result<Stored, KeyReused>>, StoreError> {
        if reports.is_empty() {
            return Ok(Vec::new());
        }
        let plan = claims::Plan::new(reports, retry_window);
        let holders = match self {
            Store::Postgres(pool) => {
                postgres::insert_batch(pool, reports, &plan, retry_window).await?
            }
            Store::Sqlite(pool) => sqlite::insert_batch(pool, reports, &plan, retry_window).await?,
        };
        Ok(plan.resolve(reports, &holders))
    }

    /// Inserts one report in its own transaction: the naive design that the
    /// benchmarks compare group commit against (same retry rules, default window).
    pub async fn insert_one(&self, report: &Report) -> Result<Stored, StoreError> {
        self.insert_batch(std::slice::from_ref(report))
            .await?
            .remove(0)
            .map_err(|KeyReused| StoreError::KeyReused)
    }

    /// Deletes up to `limit` keyless claims received before `before` (their
    /// window is over); returns how many. Keeps `ingest_claims` about one
    /// window's worth of rows.
    pub async fn prune_claims(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let done = match self {
            Store::Postgres(pool) => sqlx::query(
                "DELETE FROM ingest_claims WHERE ctid = ANY(ARRAY( \
                       SELECT ctid FROM ingest_claims WHERE NOT keyed AND received_at < $1 \
                       LIMIT $2))",
            )
            .bind(before)
            .bind(limit)
            .execute(pool)
            .await?
            .rows_affected(),
            Store::Sqlite(pool) => sqlx::query(
                "DELETE FROM ingest_claims WHERE (tenant, claim) IN ( \
                       SELECT tenant, claim FROM ingest_claims WHERE NOT keyed AND received_at < ? \
                       ORDER BY received_at LIMIT ?)",
            )
            .bind(sqlite::encode_time(before))
            .bind(limit)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(done)
    }

    /// One report of `tenant`, with its streams, as stored.
    pub async fn get_report(&self, tenant: &str, id: Uuid) -> Result<Option<Report>, StoreError> {
        match self {
            Store::Postgres(pool) => postgres::get_report(pool, tenant, id).await,
            Store::Sqlite(pool) => sqlite::get_report(pool, tenant, id).await,
        }
    }

    /// Every report of `tenant` about `call_id`, oldest first, with streams.
    pub async fn reports_for_call(
        &self,
        tenant: &str,
        call_id: &str,
    ) -> Result<Vec<Report>, StoreError> {
        Ok(self
            .newest_reports_for_call(tenant, call_id, usize::MAX)
            .await?
            .0)
    }

    /// The newest `limit` reports of `tenant` about `call_id`, returned oldest
    /// first with their streams, and whether older ones were left out. Bounds
    /// what one call view can load, whatever a client sent under one call id.
    pub async fn newest_reports_for_call(
        &self,
        tenant: &str,
        call_id: &str,
        limit: usize,
    ) -> Result<(Vec<Report>, bool), StoreError> {
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let mut ids: Vec<Uuid> = match self {
            Store::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT id FROM reports WHERE tenant = $1 AND call_id = $2 \
                     ORDER BY received_at DESC, id DESC LIMIT $3",
                )
                .bind(tenant)
                .bind(call_id)
                .bind(fetch)
                .fetch_all(pool)
                .await?
            }
            Store::Sqlite(pool) => {
                let ids: Vec<String> = sqlx::query_scalar(
                    "SELECT id FROM reports WHERE tenant = ? AND call_id = ? \
                     ORDER BY received_at DESC, id DESC LIMIT ?",
                )
                .bind(tenant)
                .bind(call_id)
                .bind(fetch)
                .fetch_all(pool)
                .await?;
                ids.iter()
                    .map(|s| sqlite::parse_id(s))
                    .collect::<Result<_, _>>()?
            }
        };
        let truncated = ids.len() > limit;
        ids.truncate(limit);
        ids.reverse();
        let mut reports = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = self.get_report(tenant, id).await? {
                reports.push(r);
            }
        }
        Ok((reports, truncated))
    }

    /// Number of stored reports of `tenant`.
    pub async fn count_reports(&self, tenant: &str) -> Result<i64, StoreError> {
        let n = match self {
            Store::Postgres(pool) => {
                sqlx::query_scalar("SELECT count(*) FROM reports WHERE tenant = $1")
                    .bind(tenant)
                    .fetch_one(pool)
                    .await?
            }
            Store::Sqlite(pool) => {
                sqlx::query_scalar("SELECT count(*) FROM reports WHERE tenant = ?")
                    .bind(tenant)
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(n)
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        match self {
            Store::Postgres(pool) => pool.close().await,
            Store::Sqlite(pool) => pool.close().await,
        }
    }
}

/// A database URL with every password replaced by `***`, for messages and
/// logs: the one in the userinfo (`user:password@`) and the query
/// parameters that carry one (`password`, `sslpassword`, any `…password`).
pub fn redact_url(url: &str) -> String {
    let (head, tail) = redact_userinfo(url);
    match tail.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query.split('&').map(redact_pair).collect();
            format!("{head}{path}?{}", pairs.join("&"))
        }
        None => format!("{head}{tail}"),
    }
}

/// Splits `url` into its start up to the host, with the password of
/// `scheme://user:secret@` replaced, and the rest. The userinfo ends at the
/// last `@` before the path, as URL parsers read it, so a password with an
/// unencoded `@`, `?` or `#` is still hidden whole.
fn redact_userinfo(url: &str) -> (String, &str) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (String::new(), url);
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return (url[..scheme_end].to_owned(), rest);
    };
    let userinfo = &authority[..at];
    let head = match userinfo.find(':') {
        Some(colon) => format!("{}{}:***", &url[..scheme_end], &userinfo[..colon]),
        None => format!("{}{userinfo}", &url[..scheme_end]),
    };
    (head, &rest[at..])
}

/// `password=secret` → `password=***` (names compared without case, and
/// percent-encoded names decoded well enough for `%70assword`-style tricks
/// not to matter: anything ending in "password" once lower-cased).
fn redact_pair(pair: &str) -> String {
    match pair.split_once('=') {
        Some((name, _)) if is_password_key(name) => format!("{name}=***"),
        _ => pair.to_owned(),
    }
}

fn is_password_key(name: &str) -> bool {
    let decoded = percent_decode_lossy(name).to_ascii_lowercase();
    decoded.ends_with("password") || decoded.ends_with("passwd")
}

fn percent_decode_lossy(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://callq:s3cret@db:5432/callq"),
            "postgres://callq:***@db:5432/callq"
        );
        assert_eq!(redact_url("postgres://db/callq"), "postgres://db/callq");
        assert_eq!(
            redact_url("sqlite:callq-data/callq.db"),
            "sqlite:callq-data/callq.db"
        );
    }

    #[test]
    fn passwords_in_query_parameters_are_redacted() {
        assert_eq!(
            redact_url("postgres://db/callq?user=callq&password=s3cret&sslmode=require"),
            "postgres://db/callq?user=callq&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://db/callq?password=s3cret"),
            "postgresql://db/callq?password=***"
        );
        assert_eq!(
            redact_url("postgres://u:p1@db/callq?sslpassword=k3y&PASSWORD=x&%70assword=y"),
            "postgres://u:***@db/callq?sslpassword=***&PASSWORD=***&%70assword=***"
        );
        assert_eq!(
            redact_url("postgres://db/callq?application_name=a@b&password=p@ss"),
            "postgres://db/callq?application_name=a@b&password=***"
        );
        // An '@' in the query is not the end of a userinfo.
        assert_eq!(
            redact_url("postgres://u:pw@db/callq?options=x@y"),
            "postgres://u:***@db/callq?options=x@y"
        );
        for url in [
            "postgres://callq:s3cret@db/callq?password=s3cret",
            "postgres://callq:s3c@r?e#t@[::1]:5432/callq",
            "postgres://callq:s3cret@db?password=s3cret",
        ] {
            assert!(!redact_url(url).contains("s3cret"), "{}", redact_url(url));
        }
    }

    #[test]
    fn unknown_schemes_are_refused() {
        let err = Store::open("mysql://x/y", &StoreOptions::default()).unwrap_err();
        assert!(matches!(err, StoreError::UnsupportedUrl(_)));
    }
}
