//! How each model field type is stored, on both backends: the one place that
//! knows a `Uuid` is `uuid` in PostgreSQL and hyphenated text in SQLite, a
//! time is `timestamptz` or fixed-width RFC 3339 text, issues are `text[]`
//! or a JSON array.
//!
//! A column's codec is chosen by its model field's Rust type, so the column
//! lists ([`super`]) only name the field and its type: the same type always
//! encodes and decodes the same way, for writes, reads and every backend.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::postgres::{PgHasArrayType, PgRow};
use sqlx::sqlite::SqliteRow;
use sqlx::{Encode, Postgres, Row as _, Sqlite, Type};
use uuid::Uuid;

use crate::model::quality::{PoorReason, QualityClass, join_reasons, split_reasons};
use crate::model::{Kind, Modality, Protocol, UnknownName};
use crate::store::StoreError;

/// A value read back from a row of either backend.
pub(crate) trait FromColumn: Sized {
    fn from_pg(row: &PgRow, column: &str) -> Result<Self, StoreError>;
    fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, StoreError>;
}

/// A value written into a column of either backend.
///
/// PostgreSQL gets whole batches as one array per column (`UNNEST`), so each
/// value also says its array element type and how the unnested element
/// becomes the column value; the catalog types are what the schema test
/// compares the migrations with.
pub(crate) trait ToColumn {
    /// Element type of the `UNNEST` array (`$n::{PG_ELEMENT}[]`).
    const PG_ELEMENT: &'static str;
    /// SQL turning the unnested element `{}` into the column value.
    const PG_INSERT: &'static str = "{}";
    /// `information_schema.columns.udt_name` of the column.
    const PG_COLUMN: &'static str;
    /// The declared type of the SQLite column.
    const SQLITE_COLUMN: &'static str;
    /// Whether the column takes NULL (the field is an `Option`).
    const NULLABLE: bool = false;
    type Pg<'a>: Encode<'a, Postgres> + Type<Postgres> + PgHasArrayType + 'a
    where
        Self: 'a;
    type Sqlite<'a>: Encode<'a, Sqlite> + Type<Sqlite> + 'a
    where
        Self: 'a;
    fn to_pg(&self) -> Self::Pg<'_>;
    fn to_sqlite(&self) -> Self::Sqlite<'_>;
}

/// Types sqlx stores as they are on both backends.
macro_rules! as_is {
    ($($ty:ty => $pg:literal, $lite:literal, null: $null:literal, |$v:ident| $enc:expr, $pg_ty:ty;)+) => {$(
        impl FromColumn for $ty {
            fn from_pg(row: &PgRow, column: &str) -> Result<Self, StoreError> {
                Ok(row.try_get(column)?)
            }
            fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, StoreError> {
                Ok(row.try_get(column)?)
            }
        }
        impl ToColumn for $ty {
            const PG_ELEMENT: &'static str = $pg;
            const PG_COLUMN: &'static str = $pg;
            const SQLITE_COLUMN: &'static str = $lite;
            const NULLABLE: bool = $null;
            type Pg<'a> = $pg_ty;
            type Sqlite<'a> = $pg_ty;
            fn to_pg(&self) -> Self::Pg<'_> {
                let $v = self;
                $enc
            }
            fn to_sqlite(&self) -> Self::Sqlite<'_> {
                let $v = self;
                $enc
            }
        }
    )+};
}

as_is! {
    i32 => "int4", "INTEGER", null: false, |v| *v, i32;
    Option<i32> => "int4", "INTEGER", null: true, |v| *v, Option<i32>;
    Option<i64> => "int8", "INTEGER", null: true, |v| *v, Option<i64>;
    Option<f64> => "float8", "REAL", null: true, |v| *v, Option<f64>;
    bool => "bool", "INTEGER", null: false, |v| *v, bool;
    String => "text", "TEXT", null: false, |v| v.as_str(), &'a str;
    Option<String> => "text", "TEXT", null: true, |v| v.as_deref(), Option<&'a str>;
    Vec<u8> => "bytea", "BLOB", null: false, |v| v.as_slice(), &'a [u8];
    Option<Vec<u8>> => "bytea", "BLOB", null: true, |v| v.as_deref(), Option<&'a [u8]>;
}

/// Aggregates only read back (counts, averages): no column stores them.
macro_rules! read_only {
    ($($ty:ty),+) => {$(
        impl FromColumn for $ty {
            fn from_pg(row: &PgRow, column: &str) -> Result<Self, StoreError> {
                Ok(row.try_get(column)?)
            }
            fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, StoreError> {
                Ok(row.try_get(column)?)
            }
        }
    )+};
}

read_only!(i64, f64);

/// PostgreSQL arrays of aggregates (percentiles); SQLite returns none.
impl FromColumn for Option<Vec<f64>> {
    fn from_pg(row: &PgRow, column: &str) -> Result<Self, StoreError> {
        Ok(row.try_get(column)?)
    }
    fn from_sqlite(_: &SqliteRow, column: &str) -> Result<Self, StoreError> {
        Err(StoreError::Malformed(format!(
            "{column}: SQLite has no array results"
        )))
    }
}

/// Parses a stored enum name (protocol, kind, modality, …); a name the model
/// does not know means the row was written by something else and is
/// reported as such.
pub(crate) fn stored_name<T>(column: &str, text: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr<Err = UnknownName>,
{
    text.parse()
        .map_err(|e| StoreError::Malformed(format!("{column}: {e}")))
}

/// The model's enums, stored by their names as text.
macro_rules! named {
    ($($ty:ty),+) => {$(
        impl FromColumn for $ty {
            fn from_pg(row: &PgRow, column: &str) -> Result<Self, StoreError> {
                stored_name(column, &String::from_pg(row, column)?)
            }
            fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, StoreError> {
                stored_name(column, &String::from_sqlite(row, column)?)
            }
        }
        impl ToColumn for $ty {
            const PG_ELEMENT: &'static str = "text";
            const PG_COLUMN: &'static str = "text";
            const SQLITE_COLUMN: &'static str = "TEXT";
            type Pg<'a> = &'static str;
            type Sqlite<'a> = &'a str;
            fn to_pg(&self) -> &'static str {
                self.as_str()
            }
            fn to_sqlite(&self) -> &str {
                self.as_str()
            }
        }
        impl FromColumn for Option<$ty> {
            fn from_pg(row: &PgRow, column: &str) -> Result<Self, StoreError> {
                Option::<String>::from_pg(row, column)?
                    .map(|t| stored_name(column, &t))
                    .transpose()
            }
            fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, StoreError> {
                Option::<String>::from_sqlite(row, column)?
                    .map(|t| stored_name(column, &t))
                    .transpose()
            }
        }
        impl ToColumn for Option<$ty> {
            const PG_ELEMENT: &'static str = "text";
            const PG_COLUMN: &'static str = "text";
            const SQLITE_COLUMN: &'static str = "TEXT";
            const NULLABLE: bool = true;
            type Pg<'a> = Option<&'static str>;
            type Sqlite<'a> = Option<&'a str>;
            fn to_pg(&self) -> Option<&'static str> {
                self.map(|v| v.as_str())
            }
            fn to_sqlite(&self) -> Option<&str> {
                self.map(|v| v.as_str())
            }
        }
    )+};
}

named!(Protocol, Kind, Modality, QualityClass);

/// Types PostgreSQL stores natively and SQLite as text of our encoding.
macro_rules! native_or_text {
    ($ty:ty, $pg:literal, to_text: $encode:expr, from_text: $decode:path) => {
        impl FromColumn for $ty {
            fn from_pg(row: &PgRow, column: &str) -> Result<Self, StoreError> {
                Ok(row.try_get(column)?)
            }
            fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, StoreError> {
                $decode(&String::from_sqlite(row, column)?)
            }
        }
        impl ToColumn for $ty {
            const PG_ELEMENT: &'static str = $pg;
            const PG_COLUMN: &'static str = $pg;
            const SQLITE_COLUMN: &'static str = "TEXT";
            type Pg<'a> = $ty;
            type Sqlite<'a> = String;
            fn to_pg(&self) -> $ty {
                *self
            }
            fn to_sqlite(&self) -> String {
                ($encode)(self)
            }
        }
    };
}

// Ids: `uuid` in PostgreSQL, hyphenated text in SQLite (v7 ids sort by
// time as text too).
native_or_text!(
    Uuid,
    "uuid",
    to_text: |id: &Uuid| id.hyphenated().to_string(),
    from_text: parse_id
);

fn parse_id(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Malformed(format!("id {s:?}: {e}")))
}

// Times: `timestamptz` in PostgreSQL, [`encode_time`] text in SQLite.
native_or_text!(
    DateTime<Utc>,
    "timestamptz",
    to_text: |t: &DateTime<Utc>| encode_time(*t),
    from_text: decode_time
);

/// RFC 3339 UTC with exactly six fractional digits, so that text order is
/// time order (SQLite compares the column as text).
pub(crate) fn encode_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn decode_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Malformed(format!("received_at {s:?}: {e}")))
}

/// Issue names: `text[]` in PostgreSQL, a JSON array in SQLite. The UNNEST
/// insert sends them joined by the ASCII unit separator and splits them in
/// SQL (`string_to_array`, cheaper per row than parsing JSON).
impl FromColumn for Vec<String> {
    fn from_pg(row: &PgRow, column: &str) -> Result<Self, StoreError> {
        Ok(row.try_get(column)?)
    }
    fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, StoreError> {
        let text = String::from_sqlite(row, column)?;
        serde_json::from_str(&text)
            .map_err(|e| StoreError::Malformed(format!("{column} {text:?}: {e}")))
    }
}

impl ToColumn for Vec<String> {
    const PG_ELEMENT: &'static str = "text";
    const PG_INSERT: &'static str = "string_to_array({}, E'\\x1f')";
    const PG_COLUMN: &'static str = "_text";
    const SQLITE_COLUMN: &'static str = "TEXT";
    type Pg<'a> = String;
    type Sqlite<'a> = String;
    fn to_pg(&self) -> String {
        join_issues(self)
    }
    fn to_sqlite(&self) -> String {
        serde_json::to_string(self).expect("a list of strings serializes")
    }
}

/// Issues joined by the ASCII unit separator. Issue names are canonical
/// enum names; a separator inside one is dropped, not trusted.
fn join_issues(issues: &[String]) -> String {
    issues
        .iter()
        .map(|i| i.replace('\u{1f}', ""))
        .filter(|i| !i.is_empty())
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// Types stored as the same text on both backends, through an encoding
/// of their own.
macro_rules! as_text {
    ($ty:ty, encode: $encode:path, decode: $decode:path) => {
        impl FromColumn for $ty {
            fn from_pg(row: &PgRow, column: &str) -> Result<Self, StoreError> {
                $decode(column, &String::from_pg(row, column)?)
            }
            fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, StoreError> {
                $decode(column, &String::from_sqlite(row, column)?)
            }
        }
        impl ToColumn for $ty {
            const PG_ELEMENT: &'static str = "text";
            const PG_COLUMN: &'static str = "text";
            const SQLITE_COLUMN: &'static str = "TEXT";
            type Pg<'a> = String;
            type Sqlite<'a> = String;
            fn to_pg(&self) -> String {
                $encode(self)
            }
            fn to_sqlite(&self) -> String {
                $encode(self)
            }
        }
    };
}

// Poor reasons: their names joined by `,` on both backends, so the
// statistics count a reason with one `LIKE`.
as_text!(Vec<PoorReason>, encode: join_reasons, decode: reasons);

fn reasons(column: &str, text: &str) -> Result<Vec<PoorReason>, StoreError> {
    split_reasons(text).map_err(|e| StoreError::Malformed(format!("{column}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_encode_with_fixed_width_so_text_order_is_time_order() {
        let a = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let b = a + chrono::Duration::microseconds(500_000);
        assert_eq!(encode_time(a), "2026-01-01T00:00:00.000000Z");
        assert!(encode_time(a) < encode_time(b));
        assert_eq!(decode_time(&encode_time(b)).unwrap(), b);
    }

    #[test]
    fn issue_separators_inside_a_name_are_dropped() {
        let issues = vec![
            "ECHO".to_owned(),
            "A\u{1f}B".to_owned(),
            "\u{1f}".to_owned(),
        ];
        assert_eq!(issues.to_pg(), "ECHO\u{1f}AB");
    }
}
