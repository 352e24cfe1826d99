//! What a column list is made of, and what is generated from one.
//!
//! [`table!`] takes a table's columns, each named once with its model field
//! type, and generates from that one list: the column metadata
//! ([`Column`]: SQL text, catalog types), the PostgreSQL array binds of an
//! `UNNEST` insert, the SQLite binds of a one-row insert, and the mapping of
//! a row back into the model. A column's name *is* its model field's name,
//! so name, field and bind cannot drift apart; the SQL placeholders are
//! handed out in list order by [`Placeholders`], the order the binds follow.
//!
//! sqlx's `FromRow` derive does not fit: the two backends store ids, times
//! and issue lists in different types, and `FromRow` decodes one way per
//! type for one database. `QueryBuilder` builds one statement per batch
//! size; the `UNNEST` insert is one prepared statement for every size.

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Postgres, Sqlite};

use super::value::{FromColumn, ToColumn};
use crate::store::StoreError;

pub(crate) type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;
pub(crate) type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// One column of a table's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Column {
    pub name: &'static str,
    /// Element type of its `UNNEST` array.
    pub pg_element: &'static str,
    /// SQL turning the unnested element `{}` into the column value.
    pub pg_insert: &'static str,
    /// Its type in PostgreSQL's catalog (`udt_name`).
    pub pg_type: &'static str,
    /// Its declared type in SQLite.
    pub sqlite_type: &'static str,
    /// Whether it takes NULL (its field is an `Option`).
    pub nullable: bool,
}

impl Column {
    pub const fn of<T: ToColumn>(name: &'static str) -> Column {
        Column {
            name,
            pg_element: T::PG_ELEMENT,
            pg_insert: T::PG_INSERT,
            pg_type: T::PG_COLUMN,
            sqlite_type: T::SQLITE_COLUMN,
            nullable: T::NULLABLE,
        }
    }
}

/// `a, b, c`, each name prefixed with `alias.` when one is given.
pub(crate) fn names(columns: &[Column], alias: Option<&str>) -> String {
    columns
        .iter()
        .map(|c| match alias {
            Some(a) => format!("{a}.{}", c.name),
            None => c.name.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The values an `INSERT … SELECT` takes from the rows of [`Placeholders::unnested`].
pub(crate) fn unnested_values(columns: &[Column], alias: &str) -> String {
    columns
        .iter()
        .map(|c| c.pg_insert.replace("{}", &format!("{alias}.{}", c.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Hands out the placeholders of one statement in bind order.
pub(crate) struct Placeholders {
    next: usize,
    /// `$` (PostgreSQL) or `?` (SQLite, numbered too).
    sign: char,
}

impl Placeholders {
    pub fn postgres() -> Placeholders {
        Placeholders { next: 1, sign: '$' }
    }

    pub fn sqlite() -> Placeholders {
        Placeholders { next: 1, sign: '?' }
    }

    /// The next placeholder.
    pub fn value(&mut self) -> String {
        let p = format!("{}{}", self.sign, self.next);
        self.next += 1;
        p
    }

    /// The next placeholder, as an array of `element`.
    pub fn array(&mut self, element: &str) -> String {
        format!("{}::{element}[]", self.value())
    }

    /// One array placeholder per column (and per `extra` name and element
    /// type), each unnested in a select list: `(SELECT unnest($1::uuid[]) AS
    /// id, …) AS alias`, rows of the arrays zipped in order. The same rows as
    /// `UNNEST($1, …) AS alias(…)` in `FROM`, but cheaper for PostgreSQL:
    /// a set-returning function in `FROM` first copies every element of its
    /// array into a tuplestore, one per array, while in a select list
    /// (ProjectSet) it hands out one element per call (issue 15,
    /// docs/benchmarks.md).
    pub fn unnested(&mut self, columns: &[Column], extra: &[(&str, &str)], alias: &str) -> String {
        let mut items: Vec<String> = columns
            .iter()
            .map(|c| format!("unnest({}) AS {}", self.array(c.pg_element), c.name))
            .collect();
        for (name, element) in extra {
            items.push(format!("unnest({}) AS {name}", self.array(element)));
        }
        format!("(SELECT {}) AS {alias}", items.join(", "))
    }

    /// One placeholder per column: a `VALUES` row.
    pub fn values(&mut self, columns: &[Column]) -> String {
        columns
            .iter()
            .map(|_| self.value())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A row of either backend, read through the same [`FromColumn`] codecs
/// whichever it is: the one row-mapping path of reads and writes.
#[derive(Clone, Copy)]
pub(crate) enum StoredRow<'r> {
    Pg(&'r PgRow),
    Sqlite(&'r SqliteRow),
}

impl StoredRow<'_> {
    pub fn get<T: FromColumn>(&self, column: &str) -> Result<T, StoreError> {
        match self {
            StoredRow::Pg(row) => T::from_pg(row, column),
            StoredRow::Sqlite(row) => T::from_sqlite(row, column),
        }
    }
}

/// Declares a table's column list; see the module documentation.
///
/// ```text
/// table! {
///     pub(crate) Name: "sql_name", rows of Model keyed by parent_column: Type, … {
///         field: Type,                  // one per stored field, in column order
///     }
///     not stored { other_field: default_expr }   // optional: Model fields with no column
/// }
/// ```
///
/// `keyed by` (optional) are first columns that are not fields of the
/// model (a stream's report id, tenant and time, taken from its report):
/// the caller binds them beside each row.
macro_rules! table {
    (
        $(#[$meta:meta])*
        $vis:vis $table:ident: $sql:literal, rows of $model:ident $(keyed by $($key:ident: $key_ty:ty),+)? {
            $($field:ident: $ty:ty,)+
        }
        $(not stored { $($extra:ident: $value:expr),* $(,)? })?
    ) => {
        $(#[$meta])*
        $vis struct $table;

        #[allow(dead_code)] // not every table is bound on both backends or read back whole
        impl $table {
            /// The table's name.
            pub const NAME: &'static str = $sql;

            /// Every column, in list order.
            pub const COLUMNS: &'static [$crate::store::schema::table::Column] = &[
                $($($crate::store::schema::table::Column::of::<$key_ty>(stringify!($key)),)+)?
                $($crate::store::schema::table::Column::of::<$ty>(stringify!($field)),)+
            ];

            /// `a, b, c`: the column names in list order.
            pub fn list() -> &'static str {
                static LIST: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
                    $crate::store::schema::table::names($table::COLUMNS, None)
                });
                &LIST
            }

            /// Binds one array per column, in list order, for an `UNNEST`
            /// whose placeholders came from `Placeholders::arrays(COLUMNS)`.
            pub fn bind_arrays<'q>(
                q: $crate::store::schema::table::PgQuery<'q>,
                $($($key: &'q [$key_ty],)+)?
                rows: &'q [&'q $model],
            ) -> $crate::store::schema::table::PgQuery<'q> {
                use $crate::store::schema::value::ToColumn;
                $($(let q = q.bind($key.iter().map(<$key_ty>::to_pg).collect::<Vec<_>>());)+)?
                // `<$ty>::`: the listed type, which must be the field's.
                $(let q = q.bind(
                    rows.iter().map(|&r| <$ty as ToColumn>::to_pg(&r.$field)).collect::<Vec<_>>(),
                );)+
                q
            }

            /// Binds one row's values, in list order, for a `VALUES` row
            /// whose placeholders came from `Placeholders::values(COLUMNS)`.
            pub fn bind_values<'q>(
                q: $crate::store::schema::table::SqliteQuery<'q>,
                $($($key: &'q $key_ty,)+)?
                row: &'q $model,
            ) -> $crate::store::schema::table::SqliteQuery<'q> {
                use $crate::store::schema::value::ToColumn;
                $($(let q = q.bind(<$key_ty as ToColumn>::to_sqlite($key));)+)?
                $(let q = q.bind(<$ty as ToColumn>::to_sqlite(&row.$field));)+
                q
            }

            /// The model value of a row that selected every column by name
            /// (the key columns are not part of the model).
            pub fn from_row(
                row: &$crate::store::schema::table::StoredRow<'_>,
            ) -> Result<$model, $crate::store::StoreError> {
                Ok($model {
                    $($field: row.get::<$ty>(stringify!($field))?,)+
                    $($($extra: $value,)*)?
                })
            }
        }
    };
}
pub(crate) use table;
