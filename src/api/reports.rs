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
    params(params::ListParams),
    responses(
        (status = 200,
         description = "A page of reports (JSON), or with `format=csv` / `Accept: text/csv` every matching row as CSV (streamed)",
         content(
             (ReportPage = "application/json"),
             (String = "text/csv"),
         )),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 401, description = "Missing or unknown ops token", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"callq\"` (with `error=\"invalid_token\"` for an unknown token)"))),
        (status = 503, description = "Database unavailable; retry after Retry-After", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
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
        (status = 401, description = "Missing or unknown ops token", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"callq\"` (with `error=\"invalid_token\"` for an unknown token)"))),
        (status = 404, description = "No such report for this tenant", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
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
        Some(mut report) => {
            // UCWA's MS-QoE document is stored only inside the raw payload.
            crate::protocols::refill_from_raw_payload(&mut report);
            Ok(Json(report))
        }
        None => Err(ApiError::NotFound(format!("no report {id}"))),
    }
}
