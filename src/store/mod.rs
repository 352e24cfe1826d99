//! Durable storage of [`Report`](crate::model::Report)s: one interface,
//! PostgreSQL and SQLite behind it.
//!
//! The store knows the model and SQL, nothing of wire formats. Handlers never
//! call it to write directly: they go through the group-commit [`Writer`],
//! which batches many requests' reports into one transaction.
//!
//! # Layout
//!
//! - `mod.rs` (here): [`Store`], [`StoreError`], open, migrate, ping, close;
//!   `connect.rs`: the writer's pools and [`redact_url`].
//! - `schema/`: the column lists, one per table (`schema/mod.rs`), the
//!   macro that generates inserts, binds and row mapping from them
//!   (`table.rs`), and how each field type is stored on each backend
//!   (`value.rs`).
//! - `write/`: everything that writes. `writer.rs` (group commit),
//!   `postgres.rs` and `sqlite.rs` (one batch insert each), `claims.rs`
//!   (retries stored once), `tenant_share.rs` (queue fairness), and in
//!   `mod.rs` the batch insert, [`Committed`] and claim pruning.
//! - `partitions.rs`: PostgreSQL's time partitions, created ahead under an
//!   advisory lock; `retention.rs`: removing old reports (dropping whole
//!   partitions where it can, bounded DELETEs elsewhere and on SQLite).
//! - `read/`: everything that reads. `query.rs` (the read API's types),
//!   `sql.rs` (their SQL, once for both dialects), `run.rs` (running it on
//!   either backend), `mod.rs` (reports by id, by call, lists, counts),
//!   `stats.rs`, `call_view.rs`, `pool.rs` (the read pool).
//!
//! # To add a stream metric
//!
//! Edit `model/stream.rs` (the field), one line in the `MediaStreams` list
//! in `store/schema/mod.rs` (its name and type: that generates the
//! PostgreSQL `UNNEST` array and cast, the SQLite placeholder, both binds
//! and the row mapping), and add a migration to `migrations/postgres/` and
//! `migrations/sqlite/`. Nothing else in `store/` changes. The schema tests
//! (`schema::tests`, `tests/it/store_schema.rs`) fail until the list and the
//! migrations agree. A report column is the same with `model/mod.rs` and the
//! `Reports` list.

mod connect;
mod partitions;
mod read;
mod retention;
pub mod rollup;
pub mod schema;
mod write;

pub use connect::redact_url;
pub use partitions::{Partition, PartitionWidth, UnknownWidth};
pub use read::call_view::{CallCaps, CallReport};
pub use read::pool::ReadOptions;
pub use read::query;
pub use retention::{Pruned, RetentionPolicy};
pub use write::Committed;
pub use write::claims::{DEFAULT_RETRY_WINDOW, KeyReused, MAX_IDEMPOTENCY_KEY_CHARS};
pub use write::writer::{
    RequestTicket, WriteAnswer, WriteError, Writer, WriterConfig, WriterStats, check_key,
};

use std::time::Duration;

/// Which database a URL selects, and the pool behind it.
#[derive(Clone, Debug)]
pub enum Store {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
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
                // (`read/pool.rs`), a "not now" like PostgreSQL's 57014.
                return code
                    .parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 9));
            }
            // PostgreSQL class 08 (connection exception), 57P0x (admin
            // shutdown, crash shutdown, cannot connect now), 57014 (statement
            // timeout), 55P03 (lock timeout), 53 (insufficient resources),
            // 40001/40P01 (serialization failure, deadlock): each rolled the
            // transaction back and may well succeed when tried again.
            // 42P01/42703 (undefined table/column): callq's own schema is
            // not there yet, which happens on a read replica still replaying
            // the primary's migrations (`read_database_url`); the migrations
            // on the primary ran before the server started, so it is "not
            // yet", never a client's fault.
            code.starts_with("08")
                || code.starts_with("57P")
                || code.starts_with("53")
                || matches!(
                    code.as_ref(),
                    "57014" | "55P03" | "40001" | "40P01" | "42P01" | "42703"
                )
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
            connect::postgres(url, options, bounds).map(Store::Postgres)
        } else if url.starts_with("sqlite:") {
            connect::sqlite(url, options).map(Store::Sqlite)
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

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        match self {
            Store::Postgres(pool) => pool.close().await,
            Store::Sqlite(pool) => pool.close().await,
        }
    }
}
