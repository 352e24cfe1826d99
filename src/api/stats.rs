//! `GET /api/v1/stats`: quality statistics per group, aggregated by the database.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::auth::OpsTenant;
use super::error::{ApiError, ErrorBody};
use super::params;
use super::params::GroupBy;
use crate::state::Reads;
use crate::store::query::GroupStats;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatsAnswer {
    /// The range covered (`null`: unbounded on that side).
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub group_by: Option<GroupBy>,
    /// Sorted by key; without `group_by`, one group with key `null`.
    pub groups: Vec<GroupStats>,
}

/// Counts (per style and kind), ratings, issue frequencies, stream-metric
/// percentiles and poor-stream counts (CQD audio classifier) per group.
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "ops",
    security(("ops_token" = [])),
    params(params::StatsParams),
    responses(
        (status = 200, description = "Statistics per group", body = StatsAnswer),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 401, description = "Missing or unknown ops token", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"callq\"` (with `error=\"invalid_token\"` for an unknown token)"))),
        (status = 503, description = "Database unavailable", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn stats(
    State(Reads(reads)): State<Reads>,
    OpsTenant(tenant): OpsTenant,
    uri: Uri,
) -> Result<Json<StatsAnswer>, ApiError> {
    let query = params::stats_query(&uri)?;
    let groups = reads.stats(&tenant, &query).await?;
    Ok(Json(StatsAnswer {
        since: query.filter.since,
        until: query.filter.until,
        group_by: query.group_by,
        groups,
    }))
}
