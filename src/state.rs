//! What the handlers can reach, and how it is opened at start-up.
//!
//! [`AppState`] is the router's state; a handler never takes it whole but
//! extracts the part it uses (`State(ingest): State<Ingest>`,
//! `State(Reads(store)): State<Reads>`, `State(credentials):
//! State<Arc<Credentials>>`) through the [`FromRef`] impls derived here. So
//! the protocol and API modules depend on these parts, not on the assembly
//! in `app.rs`, and a handler cannot reach what it has no business with
//! (an ingest handler the read pool, a read handler the writer).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;

use crate::auth::Credentials;
use crate::config::Settings;
use crate::explain::Explainer;
use crate::ingest::Ingest;
use crate::maintenance::Maintenance;
use crate::store::rollup::RollupTask;
use crate::store::{
    ReadOptions, StatementBounds, Store, StoreError, StoreOptions, Writer, WriterConfig,
};

/// The router's state: every part a handler may extract, and what the
/// server itself needs to report readiness and to shut down.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the ingest handlers submit reports.
    pub ingest: Ingest,
    /// The group-commit writer behind [`AppState::ingest`]: readiness
    /// (queue depth) and shutdown (drain).
    #[from_ref(skip)]
    pub writer: Writer,
    /// The writer's database pool: ingestion only, never extracted by a
    /// handler (readiness pings it).
    #[from_ref(skip)]
    pub store: Store,
    /// The read API's own pool.
    pub reads: Reads,
    /// Partitions ahead and retention, run periodically (stopped at shutdown).
    #[from_ref(skip)]
    pub maintenance: Arc<Maintenance>,
    pub credentials: Arc<Credentials>,
    pub settings: Arc<Settings>,
    /// The statistics rollup catch-up (`store/rollup/`), stopped at shutdown.
    #[from_ref(skip)]
    pub rollups: RollupTask,
    /// Explain (issue 14): the style routers dry-run, for `POST /api/v1/explain`.
    pub explainer: Explainer,
}

/// What the style routers (`protocols::router`) run on: where to submit and
/// whose credentials to check, nothing else. The server's comes from
/// [`AppState::styles`]; explain runs the same routers on one whose ingest
/// captures instead of submitting (`crate::explain`).
#[derive(Clone, FromRef)]
pub struct StyleState {
    pub ingest: Ingest,
    pub credentials: Arc<Credentials>,
}

/// The read API's pool, with a statement timeout (see `store::ReadOptions`):
/// reads cannot take the writer's connections. A type of its own so that a
/// read handler cannot be handed the writer's store by mistake.
#[derive(Clone)]
pub struct Reads(pub Store);

impl AppState {
    /// The part the style routers run on.
    pub fn styles(&self) -> StyleState {
        StyleState {
            ingest: self.ingest.clone(),
            credentials: self.credentials.clone(),
        }
    }

    /// Opens the writer's store and applies migrations (a database that is
    /// still starting gets ten seconds), opens the read pool (on
    /// `read_database_url` when one is set: a streaming replica, which the
    /// migrations reach through replication) and starts the writer.
    pub async fn open(settings: &Settings) -> Result<AppState, StoreError> {
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
        let maintenance = Arc::new(Maintenance::start(store.clone(), settings).await);
        let reads = Store::open_read(
            settings.read_database_url(),
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
                parallel_flush_min_batch: settings.parallel_flush_min_batch,
                flush_timeout: Duration::from_secs(settings.flush_timeout_secs),
                retry_window: Duration::from_secs(settings.retry_window_secs),
                tenant_queue_share: settings.tenant_queue_share,
            },
        );
        let rollups = RollupTask::start(
            store.clone(),
            Duration::from_secs(settings.rollup_grace_secs),
            Duration::from_secs(settings.rollup_interval_secs),
        );
        let credentials = Arc::new(Credentials::from_tenants(&settings.tenants));
        Ok(AppState {
            rollups,
            ingest: Ingest::new(writer.clone()),
            writer,
            store,
            reads: Reads(reads),
            maintenance,
            explainer: Explainer::new(credentials.clone(), settings.body_limit_bytes),
            credentials,
            settings: Arc::new(settings.clone()),
        })
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The handler modules depend on the state's parts, never on the
    /// assembly that wires them (`app.rs` imports them, not the reverse).
    #[test]
    fn no_handler_module_imports_the_assembly() {
        fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    rust_files(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    found.push(path);
                }
            }
        }
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src.join("protocols"), &mut files);
        rust_files(&src.join("api"), &mut files);
        assert!(files.len() > 10, "found the modules: {files:?}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                !text.contains("crate::app"),
                "{} imports the assembly",
                file.display()
            );
        }
    }
}
