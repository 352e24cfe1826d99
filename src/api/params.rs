//! Query-string parsing for the read API. Strict on purpose: an unknown or
//! repeated parameter, or a value that does not parse, is a 400 naming the
//! parameter, because a silently ignored typo (`protocl=plivo`) would return
//! unfiltered data that looks like an answer. Empty values (`protocol=`)
//! count as absent, so URL templates with blanks work.

use std::str::FromStr;

use axum::extract::Query;
use axum::http::Uri;
use chrono::{DateTime, NaiveDate, Utc};

use super::error::ApiError;
use crate::store::query::{Cursor, GroupBy, ReportFilter, StatsQuery};

/// Rows per JSON page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: i64 = 100;
/// The largest JSON page.
pub const MAX_LIMIT: i64 = 1000;
/// The longest `call_id` or `issue` accepted in a filter.
const MAX_TEXT: usize = 512;

/// The query parameters of one request, consumed one by one.
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn from_uri(uri: &Uri) -> Result<Params, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|e| ApiError::bad("query", format!("the query string is malformed: {e}")))?;
        Ok(Params { pairs })
    }

    /// The value of `name` (trimmed), or `None` when absent or empty; a
    /// second occurrence is an error.
    pub fn take(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut found: Vec<String> = Vec::new();
        self.pairs.retain(|(k, v)| {
            if k == name {
                found.push(v.trim().to_owned());
                false
            } else {
                true
            }
        });
        if found.len() > 1 {
            return Err(ApiError::bad(
                name,
                format!("`{name}` is given more than once"),
            ));
        }
        Ok(found.pop().filter(|v| !v.is_empty()))
    }

    /// `name` parsed with `parse`, whose error text becomes the message.
    pub fn take_with<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        match self.take(name)? {
            None => Ok(None),
            Some(v) => parse(&v).map(Some).map_err(|m| ApiError::bad(name, m)),
        }
    }

    /// Fails on the first parameter nobody asked for.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.pairs.into_iter().next() {
            Some((name, _)) => Err(ApiError::bad(&name, format!("unknown parameter `{name}`"))),
            None => Ok(()),
        }
    }
}

/// One of the names of a `text_enum` type.
fn member<T: FromStr>(
    all: &[T],
    name: impl Fn(&T) -> &'static str,
) -> impl Fn(&str) -> Result<T, String> {
    let names: Vec<&'static str> = all.iter().map(name).collect();
    move |v: &str| {
        v.parse::<T>()
            .map_err(|_| format!("must be one of: {}", names.join(", ")))
    }
}

/// RFC 3339 (`2026-11-24T08:00:00Z`, any offset) or a bare UTC date
/// (`2026-11-24`, its midnight). A `+` of an offset that arrived as a space
/// (an unencoded `+` in a query string) is taken back.
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

fn parse_rating(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(r) if (1.0..=5.0).contains(&r) => Ok(r),
        _ => Err(format!("`{v}` is not a rating between 1 and 5")),
    }
}

/// Free text to match stored values with: bounded, and never holding a
/// character no stored value can hold (U+0000, which PostgreSQL would refuse
/// with an error rather than match nothing).
pub fn parse_text(v: &str) -> Result<String, String> {
    if v.len() > MAX_TEXT {
        Err(format!("longer than {MAX_TEXT} bytes"))
    } else if !crate::model::text::is_storable(v) {
        Err("the character U+0000 (%00) is not allowed".to_owned())
    } else {
        Ok(v.to_owned())
    }
}

/// `since` and `until` (until exclusive), checked to be in order.
fn time_range(p: &mut Params, filter: &mut ReportFilter) -> Result<(), ApiError> {
    filter.since = p.take_with("since", parse_time)?;
    filter.until = p.take_with("until", parse_time)?;
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && until <= since
    {
        return Err(ApiError::bad("until", "`until` must be later than `since`"));
    }
    Ok(())
}

/// The filter parameters shared by listing and export.
pub fn report_filter(p: &mut Params) -> Result<ReportFilter, ApiError> {
    use crate::model::{Kind, Protocol};
    let mut filter = ReportFilter {
        call_id: p.take_with("call_id", parse_text)?,
        protocol: p.take_with("protocol", member(Protocol::ALL, |m| m.as_str()))?,
        kind: p.take_with("kind", member(Kind::ALL, |m| m.as_str()))?,
        min_rating: p.take_with("min_rating", parse_rating)?,
        max_rating: p.take_with("max_rating", parse_rating)?,
        // Issues are stored under their canonical upper-case names.
        issue: p
            .take_with("issue", parse_text)?
            .map(|i| i.to_ascii_uppercase()),
        device: p.take_with("device", parse_text)?,
        ..ReportFilter::default()
    };
    time_range(p, &mut filter)?;
    if let (Some(min), Some(max)) = (filter.min_rating, filter.max_rating)
        && max < min
    {
        return Err(ApiError::bad(
            "max_rating",
            "`max_rating` is below `min_rating`",
        ));
    }
    Ok(filter)
}

/// What `GET /api/v1/reports` answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
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
pub fn list_request(uri: &Uri, accept: Option<&str>) -> Result<ListRequest, ApiError> {
    let mut p = Params::from_uri(uri)?;
    let filter = report_filter(&mut p)?;
    let after = p.take_with("cursor", |v| {
        Cursor::decode(v).map_err(|e| format!("`cursor` is {e}"))
    })?;
    let limit = p.take_with("limit", |v| match v.parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("`limit` must be a positive integer".to_owned()),
    })?;
    let format = match p.take("format")?.as_deref() {
        Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some(_) => return Err(ApiError::bad("format", "`format` must be json or csv")),
        None if accept.is_some_and(|a| a.to_ascii_lowercase().contains("text/csv")) => Format::Csv,
        None => Format::Json,
    };
    // A JSON page is held in memory; a CSV export streams, so its `limit`
    // only caps the row count.
    if format == Format::Json && limit.is_some_and(|n| n > MAX_LIMIT) {
        return Err(ApiError::bad(
            "limit",
            format!("`limit` must be at most {MAX_LIMIT} for JSON pages (CSV exports take any)"),
        ));
    }
    let csv_safe = p
        .take_with("csv_safe", |v| match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err("`csv_safe` must be true or false".to_owned()),
        })?
        .unwrap_or(false);
    if csv_safe && format != Format::Csv {
        return Err(ApiError::bad(
            "csv_safe",
            "`csv_safe` applies to CSV exports only (add format=csv)",
        ));
    }
    p.finish()?;
    Ok(ListRequest {
        filter,
        after,
        limit,
        format,
        csv_safe,
    })
}

/// Parses `GET /api/v1/stats`.
pub fn stats_query(uri: &Uri) -> Result<StatsQuery, ApiError> {
    use crate::model::{Kind, Protocol};
    let mut p = Params::from_uri(uri)?;
    let mut filter = ReportFilter {
        protocol: p.take_with("protocol", member(Protocol::ALL, |m| m.as_str()))?,
        kind: p.take_with("kind", member(Kind::ALL, |m| m.as_str()))?,
        ..ReportFilter::default()
    };
    time_range(&mut p, &mut filter)?;
    let group_by = p.take_with("group_by", member(GroupBy::ALL, |m| m.as_str()))?;
    p.finish()?;
    Ok(StatsQuery { filter, group_by })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;

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
            ("kind=feedback&kind=diagnostics", "kind"),
            ("csv_safe=yes&format=csv", "csv_safe"),
            ("csv_safe=true", "csv_safe"),
        ] {
            let e = list_request(&uri(q), None).unwrap_err();
            assert_eq!(parameter_of(e), name, "{q}");
        }
        let e = stats_query(&"/api/v1/stats?group_by=week".parse().unwrap()).unwrap_err();
        assert_eq!(parameter_of(e), "group_by");
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
