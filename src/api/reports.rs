//! `GET /api/v1/reports` (list or CSV export) and `GET /api/v1/reports/{id}`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use uuid::Uuid;

use super::auth::OpsTenant;
use super::error::{ApiError, ErrorBody};
use super::export::{self, EXPORT_PAGE};
use super::params::{self, DEFAULT_LIMIT, Format};
use crate::model::Report;
use crate::state::Reads;
use crate::store::query::{Cursor, ReportRow};

/// One page of the newest-first list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportPage {
    pub reports: Vec<ReportRow>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Lists reports, newest first; CSV with `Accept: text/csv` or `format=csv`.
#[utoipa::path(
    get,
    path = "/api/v1/reports",
    tag = "ops",
    security(("ops_token" = [])),
    params(
        ("call_id" = Option<String>, Query, description = "Exact call id (Plivo call UUID, Graph callChainId, UCWA `{applicationId}/{conversationId}`)"),
        ("protocol" = Option<String>, Query, description = "ucwa, graph or plivo"),
        ("kind" = Option<String>, Query, description = "feedback, diagnostics or device_quality"),
        ("since" = Option<String>, Query, description = "Received at or after (RFC 3339 or YYYY-MM-DD, UTC)"),
        ("until" = Option<String>, Query, description = "Received before (RFC 3339 or YYYY-MM-DD, UTC)"),
        ("min_rating" = Option<f64>, Query, description = "Rating at least (1..5)"),
        ("max_rating" = Option<f64>, Query, description = "Rating at most (1..5)"),
        ("issue" = Option<String>, Query, description = "Reports naming this issue (e.g. ECHO)"),
        ("device" = Option<String>, Query, description = "Exact device name (Graph `deviceName`)"),
        ("limit" = Option<i64>, Query, description = "JSON: page size 1..1000, default 100. CSV: cap on rows, default every row"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("format" = Option<String>, Query, description = "json or csv (overrides Accept)"),
        ("csv_safe" = Option<bool>, Query, description = "CSV only: prefix `'` to text cells starting with = + - @ tab or CR, so spreadsheets do not run them as formulas; default false (cells as stored)"),
    ),
    responses(
        (status = 200, description = "A page of reports", body = ReportPage,
         content_type = "application/json"),
        (status = 200, description = "CSV export of every matching row (streamed)", body = String,
         content_type = "text/csv"),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 401, description = "Missing or unknown ops token", body = ErrorBody),
        (status = 503, description = "Database unavailable; retry after Retry-After", body = ErrorBody),
    )
)]
pub async fn list(
    State(Reads(reads)): State<Reads>,
    OpsTenant(tenant): OpsTenant,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let request = params::list_request(&uri, accept)?;
    match request.format {
        Format::Json => {
            let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
            // One row more than asked tells whether another page exists.
            let mut reports = reads
                .list_reports(&tenant, &request.filter, request.after, limit + 1)
                .await?;
            let next_cursor = if reports.len() as i64 > limit {
                reports.truncate(limit as usize);
                reports.last().map(|r| Cursor::after(r).encode())
            } else {
                None
            };
            Ok(Json(ReportPage {
                reports,
                next_cursor,
            })
            .into_response())
        }
        Format::Csv => {
            let asked = request.limit.map_or(EXPORT_PAGE, |l| l.min(EXPORT_PAGE));
            let first = reads
                .list_reports(&tenant, &request.filter, request.after, asked)
                .await?;
            let body = export::body(
                reads.clone(),
                tenant,
                request.filter,
                first,
                asked,
                request.limit,
                if request.csv_safe {
                    export::Cells::SpreadsheetSafe
                } else {
                    export::Cells::AsStored
                },
            );
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"callq-reports.csv\"",
                    ),
                ],
                body,
            )
                .into_response())
        }
    }
}

/// One report as stored: normalized fields, streams and the raw payload.
#[utoipa::path(
    get,
    path = "/api/v1/reports/{id}",
    tag = "ops",
    security(("ops_token" = [])),
    params(("id" = Uuid, Path, description = "Report id")),
    responses(
        (status = 200, description = "The report", body = Report),
        (status = 400, description = "`id` is not a UUID", body = ErrorBody),
        (status = 401, description = "Missing or unknown ops token", body = ErrorBody),
        (status = 404, description = "No such report for this tenant", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    )
)]
pub async fn get_one(
    State(Reads(reads)): State<Reads>,
    OpsTenant(tenant): OpsTenant,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Report>, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::bad("id", "`id` is not a UUID"))?;
    let id =
        Uuid::parse_str(&id).map_err(|_| ApiError::bad("id", format!("`{id}` is not a UUID")))?;
    // Another tenant's report is indistinguishable from a missing one.
    match reads.get_report(&tenant, id).await? {
        Some(report) => Ok(Json(report)),
        None => Err(ApiError::NotFound(format!("no report {id}"))),
    }
}
