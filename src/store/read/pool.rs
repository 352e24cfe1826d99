//! The read API's own connections, so that reads can never take the ones
//! the group-commit writer needs (issue 10 item 6).
//!
//! A read pool is a second [`Store`] on the same database with:
//! - its own size (`database_read_max_connections`): when every read
//!   connection is busy, readers wait up to the acquire timeout and get 503;
//!   the writer's pool is untouched;
//! - a statement timeout (`read_statement_timeout_secs`). PostgreSQL:
//!   `statement_timeout` set on each connection at startup, so the server
//!   cancels a slow statement itself (SQLSTATE 57014) and the connection is
//!   free again. SQLite has no such setting: each time a connection is handed
//!   out, a progress handler is armed with a deadline (the timeout from now),
//!   and SQLite interrupts the statement running past it (SQLITE_INTERRUPT).
//!   So on SQLite the bound covers everything one acquisition runs, e.g. a
//!   whole statistics transaction.
//! - read-only sessions (`default_transaction_read_only`, SQLite
//!   `query_only`), so a mistake in a read path cannot write.
//!
//! Both kinds of interruption are [`StoreError::Unavailable`], which the read
//! API answers 503 with its JSON error body and `Retry-After`.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use crate::store::{Store, StoreError};

/// Sizing and time limits of the read pool.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub max_connections: u32,
    /// How long a read waits for a free read connection before 503.
    pub acquire_timeout: Duration,
    /// Longest a read statement (SQLite: one acquisition) may run.
    pub statement_timeout: Duration,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

/// SQLite VM instructions between two looks at the deadline: about a
/// microsecond or two of work each, so the check costs nothing measurable
/// and an interrupt comes within well under a millisecond of the deadline.
const SQLITE_PROGRESS_STEPS: i32 = 1000;

impl Store {
    /// Opens the read pool for `url` (see the module documentation). Lazy,
    /// like [`Store::open`]; the writer's store creates the database files.
    pub fn open_read(url: &str, options: &ReadOptions) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let millis = options.statement_timeout.as_millis().max(1).to_string();
            let connect = PgConnectOptions::from_str(url)
                .map_err(|_| StoreError::UnsupportedUrl(crate::store::redact_url(url)))?
                .application_name("callq-read")
                .options([
                    ("statement_timeout", millis.as_str()),
                    ("default_transaction_read_only", "on"),
                ]);
            Ok(Store::Postgres(
                PgPoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .acquire_timeout(options.acquire_timeout)
                    .connect_lazy_with(connect),
            ))
        } else if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(|_| StoreError::UnsupportedUrl(url.to_owned()))?
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .pragma("query_only", "ON");
            let timeout = options.statement_timeout;
            Ok(Store::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .acquire_timeout(options.acquire_timeout)
                    .after_connect(move |conn, _| {
                        Box::pin(async move { arm_deadline(conn, timeout).await })
                    })
                    .before_acquire(move |conn, _| {
                        Box::pin(async move { arm_deadline(conn, timeout).await.map(|()| true) })
                    })
                    .connect_lazy_with(connect),
            ))
        } else {
            Err(StoreError::UnsupportedUrl(crate::store::redact_url(url)))
        }
    }
}

impl Store {
    /// Asks the read pool's database whether it answers, and on PostgreSQL
    /// whether it is a standby replaying a primary's WAL
    /// (`pg_is_in_recovery()`: `Some(true)` for a streaming replica); SQLite
    /// says `None`. For `/readyz`.
    pub async fn ping_read(&self) -> Result<Option<bool>, StoreError> {
        match self {
            Store::Postgres(pool) => Ok(Some(
                sqlx::query_scalar("SELECT pg_is_in_recovery()")
                    .fetch_one(pool)
                    .await?,
            )),
            Store::Sqlite(_) => self.ping().await.map(|()| None),
        }
    }
}

/// Interrupts whatever `conn` runs once `timeout` from now has passed.
async fn arm_deadline(
    conn: &mut sqlx::SqliteConnection,
    timeout: Duration,
) -> Result<(), sqlx::Error> {
    let deadline = Instant::now() + timeout;
    let mut handle = conn.lock_handle().await?;
    handle.set_progress_handler(SQLITE_PROGRESS_STEPS, move || Instant::now() < deadline);
    Ok(())
}
