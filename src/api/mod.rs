//! Ops read API (to be implemented in its own issue).

use axum::Router;

use crate::app::AppState;

/// The read API's routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
