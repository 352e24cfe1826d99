//! CSV export of report rows, streamed: pages are read through the keyset one
//! at a time and each is written to the response as soon as it is encoded,
//! so memory stays at one page whatever the number of rows.

use axum::body::{Body, Bytes};
use futures_util::stream::{self, Stream};

use crate::store::Store;
use crate::store::query::{Cursor, ReportFilter, ReportRow};

/// Rows read from the database per step of an export.
pub const EXPORT_PAGE: i64 = 1000;

/// The CSV columns, in order; [`record`] writes one row in the same order.
pub const HEADER: [&str; 20] = [
    "id",
    "received_at",
    "protocol",
    "kind",
    "call_id",
    "participant_id",
    "media_leg_id",
    "rating",
    "issues",
    "notes",
    "error_code",
    "error_subcode",
    "device_name",
    "user_agent",
    "request_id",
    "stream_count",
    "worst_jitter_ms",
    "worst_loss_pct",
    "worst_rtt_ms",
    "min_mos",
];

/// How cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cells {
    /// Exactly as stored (the default export).
    #[default]
    AsStored,
    /// Safe to open in a spreadsheet: a text cell that starts with `=`, `+`,
    /// `-`, `@`, a tab or a carriage return (which Excel, LibreOffice and
    /// Google Sheets would read as a formula, "CSV injection") gets a leading
    /// `'`, the spreadsheets' own "this is text" mark. The same holds after
    /// leading white space (importers that trim would see the formula) and
    /// for the full-width forms `＝ ＋ － ＠`, which some spreadsheets fold
    /// to ASCII. Numbers, ids and times never start with one and are left
    /// alone.
    SpreadsheetSafe,
}

/// What a spreadsheet could take for the start of a formula.
const FORMULA_STARTS: [char; 8] = [
    '=', '+', '-', '@', '\u{ff1d}', '\u{ff0b}', '\u{ff0d}', '\u{ff20}',
];

impl Cells {
    fn text(self, value: &str) -> String {
        let formula_like =
            || value.starts_with(['\t', '\r']) || value.trim_start().starts_with(FORMULA_STARTS);
        match self {
            Cells::SpreadsheetSafe if formula_like() => format!("'{value}"),
            _ => value.to_owned(),
        }
    }
}

/// One row's fields. Numbers use Rust's shortest round-trip form, so a
/// parsed value equals the stored one; issues are joined with `;`; absent
/// values are empty fields.
pub fn record(row: &ReportRow, cells: Cells) -> [String; 20] {
    let text = |v: &Option<String>| cells.text(v.as_deref().unwrap_or_default());
    let number = |v: Option<f64>| v.map(|n| n.to_string()).unwrap_or_default();
    [
        row.id.to_string(),
        row.received_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        row.protocol.as_str().to_owned(),
        row.kind.as_str().to_owned(),
        cells.text(&row.call_id),
        text(&row.participant_id),
        text(&row.media_leg_id),
        number(row.rating),
        cells.text(&row.issues.join(";")),
        text(&row.notes),
        text(&row.error_code),
        text(&row.error_subcode),
        text(&row.device_name),
        text(&row.user_agent),
        text(&row.request_id),
        row.stream_count.to_string(),
        number(row.worst_jitter_ms),
        number(row.worst_loss_pct),
        number(row.worst_rtt_ms),
        number(row.min_mos),
    ]
}

/// Encodes `rows` (after the header when `header` is set) as CSV bytes.
pub fn encode(rows: &[ReportRow], header: bool, cells: Cells) -> Bytes {
    let mut out = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 256 + 256));
    // Writing into a Vec cannot fail.
    if header {
        out.write_record(HEADER).expect("in-memory CSV");
    }
    for row in rows {
        out.write_record(record(row, cells)).expect("in-memory CSV");
    }
    Bytes::from(out.into_inner().expect("in-memory CSV"))
}

/// Where an export stands between two pages.
struct Export {
    store: Store,
    tenant: String,
    filter: ReportFilter,
    /// Next page starts strictly after this row; `None` when finished.
    after: Option<Cursor>,
    /// Rows still allowed by the client's `limit` (`None`: unlimited).
    remaining: Option<i64>,
    cells: Cells,
}

impl Export {
    fn page_size(&self) -> i64 {
        self.remaining.map_or(EXPORT_PAGE, |r| r.min(EXPORT_PAGE))
    }

    /// Accounts for a page just read; `false` when there is nothing after it.
    fn advance(&mut self, page: &[ReportRow], asked: i64) -> bool {
        if let Some(r) = &mut self.remaining {
            *r -= page.len() as i64;
        }
        self.after = page.last().map(Cursor::after);
        page.len() as i64 == asked && self.remaining != Some(0) && self.after.is_some()
    }
}

/// The streamed body: the header and `first` (already read by the handler,
/// so that a database error before any byte is sent is still a clean 503),
/// then further pages until the filter is exhausted or `limit` is reached.
/// A database error mid-stream ends the body with an error, which aborts the
/// response: a truncated export never looks complete.
pub fn body(
    store: Store,
    tenant: String,
    filter: ReportFilter,
    first: Vec<ReportRow>,
    first_asked: i64,
    limit: Option<i64>,
    cells: Cells,
) -> Body {
    let mut export = Export {
        store,
        tenant,
        filter,
        after: None,
        remaining: limit,
        cells,
    };
    let more = export.advance(&first, first_asked);
    let head = encode(&first, true, cells);
    let state = more.then_some(export);
    let rest = stream::unfold(state, |state| async move {
        let mut export = state?;
        let asked = export.page_size();
        let page = match export
            .store
            .list_reports(&export.tenant, &export.filter, export.after, asked)
            .await
        {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(error = %e, "CSV export stopped by a database error");
                return Some((Err(std::io::Error::other(e)), None));
            }
        };
        let more = export.advance(&page, asked);
        if page.is_empty() {
            return None;
        }
        Some((
            Ok(encode(&page, false, export.cells)),
            more.then_some(export),
        ))
    });
    Body::from_stream(prepend(head, rest))
}

fn prepend(
    head: Bytes,
    rest: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    use futures_util::StreamExt;
    stream::once(async move { Ok(head) }).chain(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Protocol};

    fn row() -> ReportRow {
        ReportRow {
            id: uuid::Uuid::now_v7(),
            received_at: chrono::Utc::now(),
            protocol: Protocol::Plivo,
            kind: Kind::Feedback,
            call_id: "call, with \"quotes\"".into(),
            participant_id: None,
            media_leg_id: None,
            rating: Some(4.5),
            issues: vec!["ECHO".into(), "AUDIO_LAG".into()],
            notes: Some("line one\nline two".into()),
            error_code: None,
            error_subcode: None,
            device_name: None,
            user_agent: None,
            request_id: None,
            stream_count: 0,
            worst_jitter_ms: Some(0.1 + 0.2),
            worst_loss_pct: None,
            worst_rtt_ms: None,
            min_mos: None,
        }
    }

    #[test]
    fn csv_quotes_what_needs_it_and_numbers_round_trip() {
        let r = row();
        let bytes = encode(std::slice::from_ref(&r), true, Cells::AsStored);
        let mut reader = csv::Reader::from_reader(&bytes[..]);
        assert_eq!(
            reader.headers().unwrap(),
            &csv::StringRecord::from(HEADER.to_vec())
        );
        let rec = reader.records().next().unwrap().unwrap();
        assert_eq!(&rec[4], "call, with \"quotes\"");
        assert_eq!(&rec[8], "ECHO;AUDIO_LAG");
        assert_eq!(&rec[9], "line one\nline two");
        assert_eq!(rec[16].parse::<f64>().unwrap(), 0.1 + 0.2);
        assert_eq!(&rec[17], "");
    }

    #[test]
    fn spreadsheet_safe_cells_neutralize_formulas_and_nothing_else() {
        let mut r = row();
        r.call_id = "=HYPERLINK(\"http://x\")".into();
        r.notes = Some("+1 call me".into());
        r.device_name = Some("-Room".into());
        r.user_agent = Some("@SUM(A1)".into());
        r.request_id = Some("\tcmd".into());
        r.error_code = Some("ok=fine".into());
        r.error_subcode = Some(" \u{a0}=1+1".into());
        r.participant_id = Some("\u{ff1d}1+1".into());
        r.issues = vec![];
        let plain = encode(std::slice::from_ref(&r), false, Cells::AsStored);
        let safe = encode(std::slice::from_ref(&r), false, Cells::SpreadsheetSafe);
        let read = |b: &Bytes| {
            csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(&b[..])
                .records()
                .next()
                .unwrap()
                .unwrap()
        };
        let (plain, safe) = (read(&plain), read(&safe));
        assert_eq!(&plain[4], "=HYPERLINK(\"http://x\")");
        assert_eq!(&safe[4], "'=HYPERLINK(\"http://x\")");
        assert_eq!(&safe[9], "'+1 call me");
        assert_eq!(&safe[12], "'-Room");
        assert_eq!(&safe[13], "'@SUM(A1)");
        assert_eq!(&safe[14], "'\tcmd");
        // After leading white space, and in full-width form, too.
        assert_eq!(&safe[11], "' \u{a0}=1+1");
        assert_eq!(&safe[5], "'\u{ff1d}1+1");
        // Not at the start: left alone; numbers and ids untouched.
        assert_eq!(&safe[10], "ok=fine");
        for i in [0, 1, 2, 3, 7, 15, 16] {
            assert_eq!(&safe[i], &plain[i], "column {}", HEADER[i]);
        }
    }
}
