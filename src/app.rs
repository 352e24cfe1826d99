//! Builds the HTTP application from the modules and runs it: the router,
//! middleware, health checks, listening and graceful shutdown. What the
//! handlers reach, and its opening at start-up (stores, migrations,
//! writer), is `state.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::config::Settings;
use crate::http::{ClientRequestId, REQUEST_ID};
use crate::in_flight::InFlightCap;
use crate::serve::{ConnectionLimits, Serving};
use crate::state::AppState;
use crate::store::{RequestTicket, StoreError};

/// The whole router with its middleware.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID);
    let limit = state.settings.body_limit_bytes;
    let timeout = Duration::from_secs(state.settings.request_timeout_secs);
    let in_flight = InFlightCap::new(state.settings.max_requests_in_flight);
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::protocols::router().with_state(state.styles()))
        .merge(crate::api::router())
        .fallback(not_found);
    if state.settings.metrics_listen.is_none() {
        app = app.route("/metrics", get(metrics));
    }
    crate::http::with_body_layers(app.with_state(state), limit).layer(
        ServiceBuilder::new()
            .layer(SetSensitiveRequestHeadersLayer::new([
                axum::http::header::AUTHORIZATION,
                axum::http::header::COOKIE,
            ]))
            .layer(middleware::from_fn(mark_client_request_id))
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                // 503s under overload are expected and counted in metrics;
                // logging each at ERROR would flood the logs exactly when
                // the machine is busiest.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
            )
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(CatchPanicLayer::new())
            .layer(middleware::from_fn(crate::telemetry::record_http))
            .layer(middleware::from_fn(move |req, next| {
                in_flight.clone().limit(req, next)
            }))
            .layer(middleware::from_fn(move |req, next| {
                style_timeout(timeout, req, next)
            })),
    )
}

/// Remembers whether the client sent its own `x-request-id` before one is generated.
async fn mark_client_request_id(mut req: Request, next: Next) -> Response {
    let sent = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    req.extensions_mut().insert(ClientRequestId(sent));
    next.run(req).await
}

/// Bounds every request in time; on expiry answers 503 in the owning
/// style's format, but only when that is true: the request's
/// [`RequestTicket`] says whether its report was taken into a transaction.
/// If it was, the 503 could be a lie (the transaction may commit), so the
/// request waits for the real outcome, which the database bounds (its
/// statement timeout is below the writer's flush timeout). If not, the
/// writer will never write it.
async fn style_timeout(limit: Duration, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let headers = req.headers().clone();
    let ticket = RequestTicket::new();
    let handler = ticket.scope(next.run(req));
    tokio::pin!(handler);
    match tokio::time::timeout(limit, &mut handler).await {
        Ok(response) => response,
        Err(_) if ticket.abandon() => {
            tracing::warn!(%path, ?limit, "request timed out");
            crate::protocols::unavailable(&path, &headers, 5)
        }
        Err(_) => {
            tracing::info!(%path, ?limit, "request timed out while its report is being committed; awaiting the outcome");
            handler.await
        }
    }
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness of both databases, asked at once (2 s each).
///
/// The status code follows the primary only: ingestion, what a load
/// balancer routes on this answer, needs the primary alone. So a primary
/// that does not answer is 503 (`unavailable`); a read database (the read
/// replica, or the read pool on the primary) that does not answer is
/// still 200, with `status: degraded` and `read_database.status: failing`,
/// while the read API answers its own 503s. Alert on `degraded`; do not
/// take a replica out of the ingest rotation for it.
async fn readyz(State(state): State<AppState>) -> Response {
    let bound = Duration::from_secs(2);
    let (primary, read) = tokio::join!(
        tokio::time::timeout(bound, state.store.ping()),
        tokio::time::timeout(bound, state.reads.0.ping_read()),
    );
    let primary_ok = match primary {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the primary database is failing");
            false
        }
        Err(_) => {
            tracing::warn!("readiness: the primary database did not answer in 2 s");
            false
        }
    };
    let mut read_database = serde_json::json!({
        "separate": state.settings.read_database_url.is_some(),
    });
    let read_ok = match read {
        Ok(Ok(in_recovery)) => {
            if let Some(in_recovery) = in_recovery {
                read_database["in_recovery"] = in_recovery.into();
            }
            true
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the read database is failing");
            false
        }
        Err(_) => {
            tracing::warn!("readiness: the read database did not answer in 2 s");
            false
        }
    };
    let health = |ok: bool| if ok { "ok" } else { "failing" };
    read_database["status"] = health(read_ok).into();
    let mut body = serde_json::json!({
        "database": state.store.backend(),
        "primary": { "status": health(primary_ok) },
        "read_database": read_database,
    });
    if !primary_ok {
        body["status"] = "unavailable".into();
        body["reason"] = "database not answering".into();
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "5")],
            Json(body),
        )
            .into_response();
    }
    body["status"] = if read_ok { "ready" } else { "degraded" }.into();
    body["queue_depth"] = state.writer.queue_depth().into();
    Json(body).into_response()
}

async fn metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::telemetry::prometheus().render(),
    )
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": "not_found", "message": "No such resource." })),
    )
        .into_response()
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    state: AppState,
    /// Latches: a stop requested before the accept loops first ran still stops them.
    stop: CancellationToken,
    serving: Serving,
    metrics_serving: Option<Serving>,
    shutdown_deadline: Duration,
}

/// How a shutdown ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Connections still open at the deadline, closed without their answer
    /// (none of them had been told its report was stored).
    pub connections_cut: usize,
    /// Every queued report was written (or refused) before the deadline.
    pub writer_drained: bool,
}

impl Drained {
    /// Everything finished before the deadline.
    pub fn complete(&self) -> bool {
        self.connections_cut == 0 && self.writer_drained
    }
}

impl Server {
    /// Opens the store, applies migrations, starts the writer and listens.
    pub async fn start(settings: Settings) -> Result<Server, StartError> {
        crate::telemetry::prometheus();
        let state = AppState::open(&settings).await?;
        Self::listen(settings, state).await
    }

    /// As [`Server::start`] with another way of writing; for the ingest
    /// benchmark's baselines only (feature `bench-modes`).
    #[cfg(feature = "bench-modes")]
    pub async fn start_with(
        settings: Settings,
        ingest_mode: crate::ingest::IngestMode,
    ) -> Result<Server, StartError> {
        crate::telemetry::prometheus();
        let mut state = AppState::open(&settings).await?;
        state.ingest = state.ingest.with_mode(ingest_mode, state.store.clone());
        Self::listen(settings, state).await
    }

    /// Serves `state` on the configured addresses.
    async fn listen(settings: Settings, state: AppState) -> Result<Server, StartError> {
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: settings.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: settings.listen,
            source,
        })?;
        let stop = CancellationToken::new();
        let limits = ConnectionLimits::from_settings(&settings);
        let serving = crate::serve::serve(listener, router(state.clone()), limits, stop.clone());
        let (metrics_addr, metrics_serving) = match settings.metrics_listen {
            Some(metrics_listen) => {
                let listener =
                    TcpListener::bind(metrics_listen)
                        .await
                        .map_err(|source| StartError::Bind {
                            addr: metrics_listen,
                            source,
                        })?;
                let addr = listener.local_addr().ok();
                let app = Router::new().route("/metrics", get(metrics));
                let serving = crate::serve::serve(listener, app, limits, stop.clone());
                (addr, Some(serving))
            }
            None => (None, None),
        };
        tracing::info!(%addr, database = state.store.backend(), "callq listening");
        if let Some(url) = &settings.read_database_url {
            tracing::info!(read_database = %crate::store::redact_url(url), "the read API reads from a replica");
        }
        Ok(Server {
            addr,
            metrics_addr,
            state,
            stop,
            serving,
            metrics_serving,
            shutdown_deadline: Duration::from_secs(settings.shutdown_deadline_secs),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting connections, closes idle ones, lets in-flight
    /// requests finish (their reports get committed), drains the writer and
    /// closes the pool, all within `shutdown_deadline_secs`. At the deadline
    /// whatever is still open is cut and this returns anyway; a cut request
    /// had not been answered, so no acknowledged report is lost.
    pub async fn shutdown(self) -> Drained {
        let deadline = tokio::time::Instant::now() + self.shutdown_deadline;
        self.stop.cancel();
        let metrics_drained = async {
            match self.metrics_serving {
                Some(serving) => serving.drain(deadline).await,
                None => 0,
            }
        };
        // Maintenance statements must not hold the pool's close up.
        self.state.maintenance.stop();
        let (connections_cut, _) = tokio::join!(self.serving.drain(deadline), metrics_drained);
        self.state.rollups.stop();
        // No request is left to read: the read API's pool can go.
        let _ = tokio::time::timeout_at(deadline, self.state.reads.0.close()).await;
        // The writer keeps running until here, so requests that were still
        // being answered got their commits; now write what is queued.
        let writer_drained = tokio::time::timeout_at(deadline, self.state.writer.shutdown())
            .await
            .is_ok();
        if writer_drained {
            let _ = tokio::time::timeout_at(deadline, self.state.store.close()).await;
        }
        let drained = Drained {
            connections_cut,
            writer_drained,
        };
        if drained.complete() {
            tracing::info!("callq stopped");
        } else {
            tracing::warn!(
                connections_cut,
                writer_drained,
                deadline_secs = self.shutdown_deadline.as_secs(),
                "shutdown deadline reached; stopped without finishing"
            );
        }
        drained
    }

    /// Runs until `stop` is cancelled (at once if it already is), then shuts
    /// down as [`Server::shutdown`] does.
    pub async fn run_until(self, stop: CancellationToken) -> Drained {
        stop.cancelled().await;
        tracing::info!("stopping; draining");
        self.shutdown().await
    }

    /// Runs until SIGINT or SIGTERM, then shuts down. The handlers are
    /// installed when this is called; a process should rather install them
    /// first thing with [`crate::shutdown::on_signal`] and use [`Server::run_until`].
    pub async fn run_until_signal(self) -> Drained {
        self.run_until(crate::shutdown::on_signal()).await
    }
}
