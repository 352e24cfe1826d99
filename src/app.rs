//! Builds the HTTP application from the modules and runs it: middleware,
//! health checks, startup (store, migrations, writer) and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::auth::Credentials;
use crate::config::Settings;
use crate::http::{BodyLimit, ClientRequestId, REQUEST_ID};
use crate::in_flight::InFlightCap;
use crate::model::Report;
use crate::serve::{ConnectionLimits, Serving};
use crate::store::{
    Committed, ReadOptions, RequestTicket, StatementBounds, Store, StoreError, StoreOptions,
    WriteError, Writer, WriterConfig,
};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub writer: Writer,
    /// The writer's database pool: ingestion only.
    pub store: Store,
    /// The read API's own pool, with a statement timeout (see
    /// `store::ReadOptions`): reads cannot take the writer's connections.
    pub reads: Store,
    pub credentials: Arc<Credentials>,
    pub settings: Arc<Settings>,
    /// How accepted reports are written. Always [`IngestMode::GroupCommit`]
    /// except in the ingest benchmark, which compares against the others;
    /// no configuration key or flag selects them.
    pub ingest_mode: IngestMode,
}

/// How ingest handlers write. The alternatives exist for the benchmark only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestMode {
    /// Through the group-commit writer (production).
    GroupCommit,
    /// One INSERT transaction per request: the naive design, as a baseline.
    InsertPerRequest,
    /// Answer as if stored, store nothing: the HTTP ceiling.
    Discard,
}

impl AppState {
    /// Hands `report` to the group-commit writer and waits for its COMMIT.
    /// Every ingest handler goes through here; a 2xx may only follow `Ok`.
    /// Here, too, each stream gets its derived MOS and quality class, so
    /// that no style can forget them.
    pub async fn commit(&self, mut report: Report) -> Result<Committed, WriteError> {
        report.derive_stream_quality();
        match self.ingest_mode {
            IngestMode::GroupCommit => self.writer.submit(report).await,
            IngestMode::Discard => Ok(Committed {
                id: report.id,
                duplicate: false,
            }),
            IngestMode::InsertPerRequest => self
                .store
                .insert_one(&report)
                .await
                .map_err(|_| WriteError::Unavailable),
        }
    }
}

/// The whole router with its middleware.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID);
    let limit = state.settings.body_limit_bytes;
    let timeout = Duration::from_secs(state.settings.request_timeout_secs);
    let in_flight = InFlightCap::new(state.settings.max_requests_in_flight);
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::protocols::router())
        .merge(crate::api::router())
        .fallback(not_found);
    if state.settings.metrics_listen.is_none() {
        app = app.route("/metrics", get(metrics));
    }
    app.with_state(state).layer(
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
            }))
            .layer(middleware::from_fn(move |mut req: Request, next: Next| {
                req.extensions_mut().insert(BodyLimit(limit));
                next.run(req)
            }))
            .layer(DefaultBodyLimit::max(limit))
            // Before decompression: codings are matched case-insensitively
            // and unknown ones refused in the style's format.
            .layer(middleware::from_fn(crate::http::content_encoding))
            // Innermost: it changes the body type, which the layers above
            // (axum middleware) could not take.
            .layer(RequestDecompressionLayer::new()),
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

async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => Json(serde_json::json!({
            "status": "ready",
            "database": state.store.backend(),
            "queue_depth": state.writer.queue_depth(),
        }))
        .into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            not_ready()
        }
        Err(_) => not_ready(),
    }
}

fn not_ready() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(axum::http::header::RETRY_AFTER, "5")],
        Json(serde_json::json!({ "status": "unavailable", "reason": "database not answering" })),
    )
        .into_response()
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
        Self::start_with(settings, IngestMode::GroupCommit).await
    }

    /// As [`Server::start`] with another way of writing; for the ingest
    /// benchmark's baselines only.
    pub async fn start_with(
        settings: Settings,
        ingest_mode: IngestMode,
    ) -> Result<Server, StartError> {
        crate::telemetry::prometheus();
        let store = Store::open_bounded(
            settings.database_url(),
            &StoreOptions {
                max_connections: settings.database_max_connections,
                acquire_timeout: Duration::from_secs(3),
            },
            Some(StatementBounds::below(Duration::from_secs(
                settings.flush_timeout_secs,
            ))),
        )?;
        migrate_with_retry(&store).await?;
        let reads = Store::open_read(
            settings.database_url(),
            &ReadOptions {
                max_connections: settings.database_read_max_connections,
                acquire_timeout: Duration::from_secs(3),
                statement_timeout: Duration::from_secs(settings.read_statement_timeout_secs),
            },
        )?;
        let writer = Writer::start(
            store.clone(),
            WriterConfig {
                queue_capacity: settings.queue_capacity,
                queue_max_bytes: settings.queue_max_bytes,
                max_batch: settings.max_batch,
                flushes_in_flight: settings.flushes_in_flight,
                flush_timeout: Duration::from_secs(settings.flush_timeout_secs),
                retry_window: Duration::from_secs(settings.retry_window_secs),
                tenant_queue_share: settings.tenant_queue_share,
            },
        );
        let state = AppState {
            writer,
            store,
            reads,
            credentials: Arc::new(Credentials::from_tenants(&settings.tenants)),
            settings: Arc::new(settings.clone()),
            ingest_mode,
        };
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
        let (connections_cut, _) = tokio::join!(self.serving.drain(deadline), metrics_drained);
        // No request is left to read: the read API's pool can go.
        let _ = tokio::time::timeout_at(deadline, self.state.reads.close()).await;
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

/// Migrations at start; a database that is still starting gets ten seconds.
async fn migrate_with_retry(store: &Store) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        match store.migrate().await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 10 && e.is_unavailable() => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "database not ready; retrying");
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
