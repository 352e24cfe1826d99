//! The read API's query parameters, as typed structs whose field doc comments
//! and `#[param]` bounds are the OpenAPI text: the document states exactly
//! what the server enforces, because both come from the same declaration.
//!
//! Each field type parses its value from text and says what is wrong with it
//! (the 400 names the parameter, see `strict_query`). A rule between two
//! parameters (`until` after `since`, `max_rating` not below `min_rating`,
//! `csv_safe` and `limit` above 1000 with CSV only) cannot be written in
//! OpenAPI: it is in the parameters' descriptions and checked here after
//! parsing.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use super::strict_query;
use crate::model::{Kind, Protocol};
use crate::store::query::{Cursor, ReportFilter, StatsQuery};

/// Rows per JSON page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: i64 = 100;
/// The largest JSON page.
pub const MAX_LIMIT: i64 = 1000;
/// The longest `call_id`, `issue` or `device` accepted in a filter, in
/// characters (as JSON Schema's `maxLength` counts), so at most 2 KiB.
pub const MAX_TEXT_CHARS: usize = 512;

/// Free text matched exactly against stored values: bounded, and without
/// U+0000 (PostgreSQL cannot hold that character, so such a filter could
/// never match; the document says so with the pattern `^[^\u0000]*$`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct SearchText(String);

impl TryFrom<String> for SearchText {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        if v.chars().count() > MAX_TEXT_CHARS {
            Err(format!("longer than {MAX_TEXT_CHARS} characters"))
        } else if !crate::model::text::is_storable(&v) {
            Err("the character U+0000 (%00) is not allowed".to_owned())
        } else {
            Ok(SearchText(v))
        }
    }
}

/// An instant: RFC 3339 (`2026-11-24T08:00:00Z`, any offset) or a bare UTC
/// date (`2026-11-24`, its midnight).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct Instant(DateTime<Utc>);

impl TryFrom<String> for Instant {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        parse_time(&v).map(Instant)
    }
}

/// RFC 3339 or a date (see [`Instant`]). A `+` of an offset that arrived as
/// a space (an unencoded `+` in a query string) is taken back.
pub fn parse_time(v: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.to_utc());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(&v.replace(' ', "+")) {
        return Ok(t.to_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(format!(
        "`{v}` is not a time: use RFC 3339 (2026-11-24T08:00:00Z) or a date (2026-11-24)"
    ))
}

/// A rating bound, 1 to 5 inclusive (what every style stores).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct Rating(f64);

impl TryFrom<String> for Rating {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        match v.parse::<f64>() {
            Ok(r) if (1.0..=5.0).contains(&r) => Ok(Rating(r)),
            _ => Err(format!("`{v}` is not a rating between 1 and 5")),
        }
    }
}

/// A row count, at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct Limit(i64);

impl TryFrom<String> for Limit {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        match v.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(Limit(n)),
            _ => Err("`limit` must be a positive integer".to_owned()),
        }
    }
}

/// A `next_cursor` this server handed out.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct PageCursor(Cursor);

impl TryFrom<String> for PageCursor {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        Cursor::decode(&v)
            .map(PageCursor)
            .map_err(|e| format!("`cursor` is {e}"))
    }
}

/// `true` or `false` (`1` and `0` are taken too).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct Flag(bool);

impl TryFrom<String> for Flag {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        match v.as_str() {
            "true" | "1" => Ok(Flag(true)),
            "false" | "0" => Ok(Flag(false)),
            _ => Err("must be true or false".to_owned()),
        }
    }
}

/// What `GET /api/v1/reports` answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A page of `ReportPage` JSON.
    Json,
    /// Every matching row as CSV, streamed.
    Csv,
}

/// How statistics are split into groups: the store's own type, which
/// deserializes from the names the document enumerates.
pub use crate::store::query::GroupBy;

/// The query parameters of `GET /api/v1/reports`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Exact call id (Plivo call UUID, Graph callChainId, UCWA
    /// `{applicationId}/{conversationId}`).
    #[param(value_type = Option<String>, max_length = 512, pattern = "^[^\\u0000]*$")]
    pub call_id: Option<SearchText>,
    /// Only reports of this wire style.
    pub protocol: Option<Protocol>,
    /// Only reports of this kind.
    pub kind: Option<Kind>,
    /// Received at or after (RFC 3339, or a date `YYYY-MM-DD` meaning its
    /// UTC midnight).
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<Instant>,
    /// Received before (RFC 3339, or `YYYY-MM-DD`); must be later than
    /// `since` when both are given.
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<Instant>,
    /// Rating at least this (reports without a rating are left out).
    #[param(value_type = Option<f64>, minimum = 1, maximum = 5)]
    pub min_rating: Option<Rating>,
    /// Rating at most this; not below `min_rating` when both are given.
    #[param(value_type = Option<f64>, minimum = 1, maximum = 5)]
    pub max_rating: Option<Rating>,
    /// Reports naming this issue (e.g. ECHO; matched upper-case).
    #[param(value_type = Option<String>, max_length = 512, pattern = "^[^\\u0000]*$")]
    pub issue: Option<SearchText>,
    /// Exact device name (Graph `deviceName`).
    #[param(value_type = Option<String>, max_length = 512, pattern = "^[^\\u0000]*$")]
    pub device: Option<SearchText>,
    /// JSON: page size, 1 to 1000, default 100. CSV: a cap on the rows,
    /// any positive number, default every row.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub limit: Option<Limit>,
    /// The `next_cursor` of the previous page (opaque).
    #[param(value_type = Option<String>)]
    pub cursor: Option<PageCursor>,
    /// `json` or `csv`; without it, CSV when `Accept` names `text/csv`.
    pub format: Option<Format>,
    /// CSV only (with `format=csv` or `Accept: text/csv`): prefix `'` to
    /// text cells starting with = + - @ tab or CR, so spreadsheets do not
    /// run them as formulas; default false (cells as stored).
    #[param(value_type = Option<bool>)]
    pub csv_safe: Option<Flag>,
}

/// The query parameters of `GET /api/v1/stats`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// Received at or after (RFC 3339, or `YYYY-MM-DD` meaning its UTC
    /// midnight); default: unbounded.
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<Instant>,
    /// Received before; must be later than `since` when both are given;
    /// default: unbounded.
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<Instant>,
    /// Split the statistics into groups by this; default: one group.
    pub group_by: Option<GroupBy>,
    /// Only reports of this wire style.
    pub protocol: Option<Protocol>,
    /// Only reports of this kind.
    pub kind: Option<Kind>,
}

/// `since` and `until` (until exclusive), checked to be in order.
fn time_range(
    since: Option<Instant>,
    until: Option<Instant>,
    filter: &mut ReportFilter,
) -> Result<(), ApiError> {
    filter.since = since.map(|t| t.0);
    filter.until = until.map(|t| t.0);
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && until <= since
    {
        return Err(ApiError::bad("until", "`until` must be later than `since`"));
    }
    Ok(())
}

/// The list request: filter, page and format.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub filter: ReportFilter,
    pub after: Option<Cursor>,
    /// Rows to return: the page size for JSON; for CSV, a cap (`None`: all).
    pub limit: Option<i64>,
    pub format: Format,
    /// CSV only: neutralize text cells a spreadsheet would run as a formula.
    pub csv_safe: bool,
}

/// Parses `GET /api/v1/reports`; `accept` is the request's `Accept` header,
/// used when there is no `format` parameter.
pub fn list_request(uri: &axum::http::Uri, accept: Option<&str>) -> Result<ListRequest, ApiError> {
    let p: ListParams = strict_query::parse(uri)?;
    let mut filter = ReportFilter {
        call_id: p.call_id.map(|t| t.0),
        protocol: p.protocol,
        kind: p.kind,
        min_rating: p.min_rating.map(|r| r.0),
        max_rating: p.max_rating.map(|r| r.0),
        // Issues are stored under their canonical upper-case names.
        issue: p.issue.map(|t| t.0.to_ascii_uppercase()),
        device: p.device.map(|t| t.0),
        ..ReportFilter::default()
    };
    time_range(p.since, p.until, &mut filter)?;
    if let (Some(min), Some(max)) = (filter.min_rating, filter.max_rating)
        && max < min
    {
        return Err(ApiError::bad(
            "max_rating",
            "`max_rating` is below `min_rating`",
        ));
    }
    let format = match p.format {
        Some(f) => f,
        None if accept.is_some_and(|a| a.to_ascii_lowercase().contains("text/csv")) => Format::Csv,
        None => Format::Json,
    };
    let limit = p.limit.map(|l| l.0);
    // A JSON page is held in memory; a CSV export streams, so its `limit`
    // only caps the row count.
    if format == Format::Json && limit.is_some_and(|n| n > MAX_LIMIT) {
        return Err(ApiError::bad(
            "limit",
            format!("`limit` must be at most {MAX_LIMIT} for JSON pages (CSV exports take any)"),
        ));
    }
    let csv_safe = p.csv_safe.is_some_and(|f| f.0);
    if csv_safe && format != Format::Csv {
        return Err(ApiError::bad(
            "csv_safe",
            "`csv_safe` applies to CSV exports only (add format=csv)",
        ));
    }
    Ok(ListRequest {
        filter,
        after: p.cursor.map(|c| c.0),
        limit,
        format,
        csv_safe,
    })
}

/// Parses `GET /api/v1/stats`.
pub fn stats_query(uri: &axum::http::Uri) -> Result<StatsQuery, ApiError> {
    let p: StatsParams = strict_query::parse(uri)?;
    let mut filter = ReportFilter {
        protocol: p.protocol,
        kind: p.kind,
        ..ReportFilter::default()
    };
    time_range(p.since, p.until, &mut filter)?;
    Ok(StatsQuery {
        filter,
        group_by: p.group_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Uri;

    fn uri(q: &str) -> Uri {
        format!("/api/v1/reports?{q}").parse().unwrap()
    }

    fn parameter_of(e: ApiError) -> String {
        match e {
            ApiError::BadParameter { parameter, .. } => parameter,
            other => panic!("not a parameter error: {other:?}"),
        }
    }

    #[test]
    fn filters_parse_and_blanks_mean_absent() {
        let r = list_request(
            &uri("call_id=c1&protocol=plivo&kind=&since=2026-11-01&until=2026-11-02T00:00:00%2B01:00&issue=echo&limit=5"),
            None,
        )
        .unwrap();
        assert_eq!(r.filter.call_id.as_deref(), Some("c1"));
        assert_eq!(r.filter.protocol, Some(Protocol::Plivo));
        assert_eq!(r.filter.kind, None);
        assert_eq!(r.filter.issue.as_deref(), Some("ECHO"));
        assert_eq!(
            r.filter.since.unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            r.filter.until.unwrap().to_rfc3339(),
            "2026-11-01T23:00:00+00:00"
        );
        assert_eq!(r.limit, Some(5));
        assert_eq!(r.format, Format::Json);
        assert!(!r.csv_safe);
        let r = list_request(&uri("device=Room%2012&format=csv&csv_safe=true"), None).unwrap();
        assert_eq!(r.filter.device.as_deref(), Some("Room 12"));
        assert!(r.csv_safe);
        let r = list_request(&uri("protocol=%20graph%20&csv_safe=0"), None).unwrap();
        assert_eq!(
            r.filter.protocol,
            Some(Protocol::Graph),
            "values are trimmed"
        );
        assert!(!r.csv_safe);
    }

    #[test]
    fn an_unencoded_plus_in_an_offset_is_forgiven() {
        let r = list_request(&uri("since=2026-11-01T10:00:00+02:00"), None).unwrap();
        assert_eq!(
            r.filter.since.unwrap().to_rfc3339(),
            "2026-11-01T08:00:00+00:00"
        );
    }

    #[test]
    fn every_bad_parameter_is_named() {
        for (q, name) in [
            ("protocol=sip", "protocol"),
            ("kind=x", "kind"),
            ("since=yesterday", "since"),
            ("since=2026-11-02&until=2026-11-01", "until"),
            ("min_rating=0", "min_rating"),
            ("max_rating=abc", "max_rating"),
            ("min_rating=4&max_rating=3", "max_rating"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=-3&format=csv", "limit"),
            ("limit=ten", "limit"),
            ("cursor=nope", "cursor"),
            ("format=xml", "format"),
            ("protocl=plivo", "protocl"),
            ("protocl=", "protocl"),
            ("kind=feedback&kind=diagnostics", "kind"),
            ("kind=&kind=feedback", "kind"),
            ("csv_safe=yes&format=csv", "csv_safe"),
            ("csv_safe=true", "csv_safe"),
            ("call_id=a%00b", "call_id"),
            ("device=a%00", "device"),
        ] {
            let e = list_request(&uri(q), None).unwrap_err();
            assert_eq!(parameter_of(e), name, "{q}");
        }
        let long = "é".repeat(MAX_TEXT_CHARS + 1);
        let e = list_request(&uri(&format!("issue={long}")), None).unwrap_err();
        assert_eq!(parameter_of(e), "issue");
        let fits = "é".repeat(MAX_TEXT_CHARS);
        assert!(list_request(&uri(&format!("issue={fits}")), None).is_ok());
        for q in ["group_by=week", "group_by=issue%00", "limit=5"] {
            let e = stats_query(&format!("/api/v1/stats?{q}").parse().unwrap()).unwrap_err();
            let expected = q.split('=').next().unwrap();
            assert_eq!(parameter_of(e), expected, "{q}");
        }
    }

    #[test]
    fn every_grouping_parses_by_its_store_name() {
        for g in GroupBy::ALL {
            let q = stats_query(
                &format!("/api/v1/stats?group_by={}", g.as_str())
                    .parse()
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(q.group_by, Some(*g));
            assert_eq!(
                serde_json::to_value(g).unwrap(),
                g.as_str(),
                "the answer's group_by is the same name"
            );
        }
    }

    #[test]
    fn the_documented_parameters_are_the_parsed_ones() {
        let names = |p: Vec<utoipa::openapi::path::Parameter>| -> Vec<String> {
            p.into_iter().map(|p| p.name).collect()
        };
        assert_eq!(
            names(ListParams::into_params(|| None)),
            [
                "call_id",
                "protocol",
                "kind",
                "since",
                "until",
                "min_rating",
                "max_rating",
                "issue",
                "device",
                "limit",
                "cursor",
                "format",
                "csv_safe"
            ]
        );
        assert_eq!(
            names(StatsParams::into_params(|| None)),
            ["since", "until", "group_by", "protocol", "kind"]
        );
    }

    #[test]
    fn csv_is_chosen_by_parameter_or_accept_header() {
        assert_eq!(
            list_request(&uri("format=csv"), None).unwrap().format,
            Format::Csv
        );
        assert_eq!(
            list_request(&uri("format=csv&limit=50000"), None)
                .unwrap()
                .limit,
            Some(50000)
        );
        assert_eq!(
            list_request(&uri(""), Some("text/csv")).unwrap().format,
            Format::Csv
        );
        assert_eq!(
            list_request(&uri("format=json"), Some("text/csv"))
                .unwrap()
                .format,
            Format::Json
        );
    }
}
