//! PostgreSQL's binary `COPY` format, for the column types of the lists
//! (`super`): what `COPY … FROM STDIN (FORMAT binary)` reads.
//!
//! A stream is the [`HEADER`], then per row its field count (`int16`) and
//! per field its length (`int32`, −1 for NULL) and bytes in the type's
//! binary "send" form, then the [`TRAILER`]. Every value is sent in the
//! type of its *column*, so nothing is converted in SQL: unlike the
//! `UNNEST` insert, issues go as a real `text[]` (1-D array of OID 25).
//!
//! [`CopyField`] is implemented for exactly the types the column lists use
//! and requires [`ToColumn`], so a listed type without a binary encoding
//! does not compile (`table!` calls `CopyField::copy` for every column),
//! and the stored values are the ones the `UNNEST` path stores (see the
//! tests: issues cleaned the same way, poor reasons joined the same way).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::value::{ToColumn, stored_issues};
use crate::model::quality::{PoorReason, QualityClass, join_reasons};
use crate::model::{Kind, Modality, Protocol};

/// Signature, flags (no OIDs) and an empty header extension.
pub(crate) const HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The field count −1: end of data.
pub(crate) const TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// OID of `text`, the element type of a `text[]`.
const TEXT_OID: u32 = 25;

/// Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01 (UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// One column value in binary COPY form, length prefix included.
pub(crate) trait CopyField: ToColumn {
    fn copy(&self, out: &mut Vec<u8>);
}

/// The start of a row of `fields` columns.
pub(crate) fn row_start(out: &mut Vec<u8>, fields: usize) {
    let fields = i16::try_from(fields).expect("a table has fewer than 32768 columns");
    out.extend_from_slice(&fields.to_be_bytes());
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i32).to_be_bytes());
}

fn bytes(out: &mut Vec<u8>, value: &[u8]) {
    let len = i32::try_from(value.len()).expect("a field is below PostgreSQL's 1 GB limit");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
}

/// A field whose length is known only once written (arrays).
fn measured(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    write(out);
    let len = i32::try_from(out.len() - at - 4).expect("a field is below PostgreSQL's 1 GB limit");
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

/// The non-NULL value's binary "send" form.
trait Binary {
    fn put(&self, out: &mut Vec<u8>);
}

impl Binary for i32 {
    fn put(&self, out: &mut Vec<u8>) {
        bytes(out, &self.to_be_bytes());
    }
}

impl Binary for i64 {
    fn put(&self, out: &mut Vec<u8>) {
        bytes(out, &self.to_be_bytes());
    }
}

/// IEEE 754 big-endian: NaN and the infinities travel as they are.
impl Binary for f64 {
    fn put(&self, out: &mut Vec<u8>) {
        bytes(out, &self.to_bits().to_be_bytes());
    }
}

impl Binary for bool {
    fn put(&self, out: &mut Vec<u8>) {
        bytes(out, &[u8::from(*self)]);
    }
}

/// `text`: the UTF-8 bytes (the connection's client encoding is UTF-8).
impl Binary for str {
    fn put(&self, out: &mut Vec<u8>) {
        bytes(out, self.as_bytes());
    }
}

impl Binary for [u8] {
    fn put(&self, out: &mut Vec<u8>) {
        bytes(out, self);
    }
}

impl Binary for Uuid {
    fn put(&self, out: &mut Vec<u8>) {
        bytes(out, self.as_bytes());
    }
}

/// `timestamptz`: microseconds since 2000-01-01 UTC, truncated as sqlx's
/// own encoding truncates, so both write paths store the same instant.
impl Binary for DateTime<Utc> {
    fn put(&self, out: &mut Vec<u8>) {
        let since_2000 = *self - DateTime::from_timestamp_micros(PG_EPOCH_MICROS).expect("2000");
        since_2000
            .num_microseconds()
            .expect("a report time is within ±292,000 years of 2000")
            .put(out);
    }
}

/// Types whose column is the value as [`Binary`] sends it.
macro_rules! copy_as {
    ($($ty:ty => |$v:ident| $value:expr;)+) => {$(
        impl CopyField for $ty {
            fn copy(&self, out: &mut Vec<u8>) {
                let $v = self;
                $value.put(out);
            }
        }
    )+};
}

/// `Option`s of those: `None` is NULL.
macro_rules! copy_option {
    ($($ty:ty => |$v:ident| $value:expr;)+) => {$(
        impl CopyField for Option<$ty> {
            fn copy(&self, out: &mut Vec<u8>) {
                match self {
                    Some($v) => $value.put(out),
                    None => null(out),
                }
            }
        }
    )+};
}

copy_as! {
    i32 => |v| v;
    bool => |v| v;
    String => |v| v.as_str();
    Vec<u8> => |v| v.as_slice();
    Uuid => |v| v;
    DateTime<Utc> => |v| v;
    // The enums are stored by name, poor reasons joined as `value.rs` joins them.
    Protocol => |v| v.as_str();
    Kind => |v| v.as_str();
    Vec<PoorReason> => |v| join_reasons(v).as_str();
}

copy_option! {
    i32 => |v| v;
    i64 => |v| v;
    f64 => |v| v;
    String => |v| v.as_str();
    Vec<u8> => |v| v.as_slice();
    Modality => |v| v.as_str();
    QualityClass => |v| v.as_str();
}

/// `text[]`: a one-dimensional array (an empty list: zero dimensions), no
/// NULL elements, of `text`, holding the names the `UNNEST` path stores.
impl CopyField for Vec<String> {
    fn copy(&self, out: &mut Vec<u8>) {
        let issues: Vec<String> = stored_issues(self).collect();
        measured(out, |out| {
            let dims: i32 = if issues.is_empty() { 0 } else { 1 };
            out.extend_from_slice(&dims.to_be_bytes());
            out.extend_from_slice(&0i32.to_be_bytes()); // no NULLs
            out.extend_from_slice(&TEXT_OID.to_be_bytes());
            if dims == 1 {
                let len = i32::try_from(issues.len()).expect("fewer than 2^31 issues");
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes()); // lower bound
                for issue in &issues {
                    issue.as_str().put(out);
                }
            }
        });
    }
}

/// `COPY table (columns) FROM STDIN (FORMAT binary)`.
pub(crate) fn copy_in_sql(table: &str, columns: &str) -> String {
    format!("COPY {table} ({columns}) FROM STDIN (FORMAT binary)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(v: &impl CopyField) -> Vec<u8> {
        let mut out = Vec::new();
        v.copy(&mut out);
        out
    }

    #[test]
    fn the_header_is_the_signature_flags_and_no_extension() {
        assert_eq!(&HEADER[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(&HEADER[11..], &[0; 8]);
        assert_eq!(TRAILER, [0xff, 0xff]);
    }

    #[test]
    fn scalars_are_length_prefixed_big_endian_and_none_is_null() {
        assert_eq!(encoded(&7i32), [0, 0, 0, 4, 0, 0, 0, 7]);
        assert_eq!(encoded(&None::<i64>), [0xff; 4]);
        assert_eq!(
            encoded(&Some(-1i64)),
            [0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(encoded(&Some(1.0f64))[4..], 1.0f64.to_be_bytes());
        assert_eq!(encoded(&true), [0, 0, 0, 1, 1]);
        assert_eq!(encoded(&"hé".to_owned()), [0, 0, 0, 3, b'h', 0xc3, 0xa9]);
        assert_eq!(encoded(&Some(Modality::Audio))[4..], *b"audio");
    }

    #[test]
    fn times_count_microseconds_from_2000() {
        let t = DateTime::parse_from_rfc3339("2000-01-01T00:00:01.000002Z")
            .unwrap()
            .to_utc();
        assert_eq!(encoded(&t)[4..], 1_000_002i64.to_be_bytes());
        let before = DateTime::parse_from_rfc3339("1999-12-31T23:59:59Z")
            .unwrap()
            .to_utc();
        assert_eq!(encoded(&before)[4..], (-1_000_000i64).to_be_bytes());
    }

    #[test]
    fn issue_lists_are_text_arrays_with_the_unnest_paths_cleaning() {
        let empty = encoded(&Vec::<String>::new());
        assert_eq!(empty, [0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25]);
        let two = encoded(&vec![
            "A\u{1f}B".to_owned(),
            "\u{1f}".to_owned(),
            "C".to_owned(),
        ]);
        let want: Vec<u8> = [
            &[0, 0, 0, 31][..],
            &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25],
            &[0, 0, 0, 2, 0, 0, 0, 1],
            &[0, 0, 0, 2, b'A', b'B'],
            &[0, 0, 0, 1, b'C'],
        ]
        .concat();
        assert_eq!(two, want);
    }
}
