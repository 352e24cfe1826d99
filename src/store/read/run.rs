//! Runs [`sql`](super::sql) statements on either backend and hands their rows
//! back as [`StoredRow`]s, so every read maps rows once, for both.

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::sql::{Arg, Dialect, Sql};
use crate::store::schema::table::{PgQuery, SqliteQuery, StoredRow};
use crate::store::schema::value::ToColumn as _;
use crate::store::{Store, StoreError};

/// `sql` with its values bound the way the backend stores them (through
/// the column codecs: times and ids differ).
macro_rules! bound {
    ($name:ident -> $query:ident, $encode:ident) => {
        pub(crate) fn $name(sql: &Sql) -> $query<'_> {
            let mut q = sqlx::query(&sql.text);
            for arg in &sql.args {
                q = match arg {
                    Arg::Text(s) => q.bind(s.as_str()),
                    Arg::Float(f) => q.bind(*f),
                    Arg::Int(i) => q.bind(*i),
                    Arg::Time(t) => q.bind(t.$encode()),
                    Arg::Id(id) => q.bind(id.$encode()),
                    Arg::Bytes(b) => q.bind(b.as_slice()),
                };
            }
            q
        }
    };
}

bound!(pg_query -> PgQuery, to_pg);
bound!(sqlite_query -> SqliteQuery, to_sqlite);

/// The rows one statement returned, from either backend.
pub(crate) enum Rows {
    Pg(Vec<PgRow>),
    Sqlite(Vec<SqliteRow>),
}

impl Rows {
    /// The rows in order. One of the two slices is empty: one iterator type
    /// for either backend.
    pub fn iter(&self) -> impl Iterator<Item = StoredRow<'_>> {
        let (pg, sqlite) = match self {
            Rows::Pg(rows) => (rows.as_slice(), &[][..]),
            Rows::Sqlite(rows) => (&[][..], rows.as_slice()),
        };
        pg.iter()
            .map(StoredRow::Pg)
            .chain(sqlite.iter().map(StoredRow::Sqlite))
    }

    /// Every row mapped by `map`.
    pub fn map<T>(
        &self,
        map: impl Fn(&StoredRow<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.iter().map(|row| map(&row)).collect()
    }
}

impl Store {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Store::Postgres(_) => Dialect::Postgres,
            Store::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Runs one statement (built for this store's dialect).
    pub(crate) async fn fetch(&self, sql: &Sql) -> Result<Rows, StoreError> {
        Ok(match self {
            Store::Postgres(pool) => Rows::Pg(pg_query(sql).fetch_all(pool).await?),
            Store::Sqlite(pool) => Rows::Sqlite(sqlite_query(sql).fetch_all(pool).await?),
        })
    }

    /// Runs `statements` inside one read-only snapshot (PostgreSQL
    /// REPEATABLE READ, after `pg_settings`, each a `SET LOCAL …`; an SQLite
    /// read transaction), so that what they return agrees even while
    /// reports keep arriving.
    pub(crate) async fn snapshot(
        &self,
        pg_settings: &[&str],
        statements: &[Sql],
    ) -> Result<Vec<Rows>, StoreError> {
        let mut out = Vec::with_capacity(statements.len());
        match self {
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                for setting in pg_settings {
                    sqlx::query(setting).execute(&mut *tx).await?;
                }
                for sql in statements {
                    out.push(Rows::Pg(pg_query(sql).fetch_all(&mut *tx).await?));
                }
                tx.commit().await?;
            }
            Store::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for sql in statements {
                    out.push(Rows::Sqlite(sqlite_query(sql).fetch_all(&mut *tx).await?));
                }
                tx.commit().await?;
            }
        }
        Ok(out)
    }
}
