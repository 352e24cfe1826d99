//! Ops read API: find a call, list and export reports, quality statistics,
//! the OpenAPI document of the whole server, and the browser dashboard
//! (`/ui/`, whose page calls this same API with the ops token).
//!
//! Every `/api/v1` route needs `Authorization: Bearer <ops token>`; the token
//! names a tenant, and every query is confined to that tenant's rows. Errors
//! are JSON (`error`, `message`, `parameter`).

mod auth;
mod calls;
mod error;
mod explain;
mod export;
pub mod openapi;
mod openapi_ingest;
mod params;
mod reports;
mod stats;
mod strict_query;
mod ui;

pub use error::ApiError;

use axum::Router;
use axum::routing::{any, get, post};

use crate::state::AppState;

/// The read API's routes, and `/openapi.json`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/reports",
            get(reports::list).fallback(method_not_allowed),
        )
        .route(
            "/api/v1/reports/{id}",
            get(reports::get_one).fallback(method_not_allowed),
        )
        // A wildcard, so that UCWA call ids (`{applicationId}/{conversationId}`)
        // can be written with their slash.
        .route(
            "/api/v1/calls/{*call_id}",
            get(calls::get_call).fallback(method_not_allowed),
        )
        .route(
            "/api/v1/stats",
            get(stats::stats).fallback(method_not_allowed),
        )
        .route(
            "/api/v1/explain",
            post(explain::explain).fallback(explain::post_only),
        )
        .route(
            "/openapi.json",
            get(openapi::document).fallback(method_not_allowed),
        )
        .merge(ui::router())
        .route("/api", any(not_found))
        .route("/api/{*rest}", any(not_found))
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such ops API resource".into())
}
