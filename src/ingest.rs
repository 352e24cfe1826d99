//! The one way a wire style submits a report: [`Ingest::submit`].
//!
//! Handlers decode and validate in their own style, then hand the report
//! here and answer 2xx only on `Ok`: the report is committed. What every
//! accepted report gets whatever its style (each stream's E-model MOS and
//! quality class) is derived here, so that no style can forget it.
//!
//! The explain routers (`crate::explain`) run the same handlers on a
//! [`Ingest::dry_run`] handle: it derives the same quality, refuses what the
//! writer would refuse before queueing, and hands the report and its
//! [`Trace`] to the explain call awaiting it instead of to the writer.

use std::cell::RefCell;

use crate::explain::Trace;
use crate::model::Report;
use crate::store::{Committed, WriteError, Writer};

/// A handle on the group-commit writer for the ingest handlers. Cheap to
/// clone; handlers extract it with `State<Ingest>`.
#[derive(Clone)]
pub struct Ingest {
    /// `None`: a dry run (explain), nothing is ever written.
    writer: Option<Writer>,
    /// A benchmark baseline in place of the writer (feature `bench-modes`).
    #[cfg(feature = "bench-modes")]
    baseline: Option<bench::Baseline>,
}

impl Ingest {
    pub fn new(writer: Writer) -> Ingest {
        Ingest {
            writer: Some(writer),
            #[cfg(feature = "bench-modes")]
            baseline: None,
        }
    }

    /// A handle that writes nothing: each report goes to the explain call
    /// running the request ([`capture`]). Outside one it answers
    /// [`WriteError::Unavailable`], never a false commit.
    pub fn dry_run() -> Ingest {
        Ingest {
            writer: None,
            #[cfg(feature = "bench-modes")]
            baseline: None,
        }
    }

    /// True for a [`Ingest::dry_run`] handle: a handler skips what only a
    /// real ingest does (counting metrics).
    pub fn is_dry_run(&self) -> bool {
        self.writer.is_none()
    }

    /// The provenance recorder for one request: on for a dry run, off (free)
    /// on the real path.
    pub fn trace(&self) -> Trace {
        if self.is_dry_run() {
            Trace::on()
        } else {
            Trace::off()
        }
    }

    /// Derives the streams' quality, hands `report` to the writer and waits
    /// for its COMMIT. `Ok` is the only outcome a 2xx may follow.
    pub async fn submit(&self, report: Report) -> Result<Committed, WriteError> {
        self.submit_traced(report, Trace::off()).await
    }

    /// [`Ingest::submit`], with the decoders' `trace` for a dry run (the
    /// real path drops it: it is off and empty there).
    pub async fn submit_traced(
        &self,
        mut report: Report,
        trace: Trace,
    ) -> Result<Committed, WriteError> {
        report.derive_stream_quality();
        #[cfg(feature = "bench-modes")]
        if let Some(baseline) = &self.baseline {
            return baseline.submit(report).await;
        }
        match &self.writer {
            Some(writer) => writer.submit(report).await,
            None => dry_submit(report, trace),
        }
    }
}

/// What a dry run captured: the report as it would have been queued (its
/// quality derived) and its provenance.
#[derive(Debug)]
pub struct Captured {
    pub report: Report,
    pub trace: Trace,
}

tokio::task_local! {
    static CAPTURE: RefCell<Option<Captured>>;
}

/// Runs `request` (a dry-run router's answer to one request) and returns
/// its answer with the report it would have submitted, if it got so far.
/// The handler runs inside this task, so its dry-run submit finds the slot.
pub async fn capture<F: std::future::Future>(request: F) -> (F::Output, Option<Captured>) {
    CAPTURE
        .scope(RefCell::new(None), async move {
            let answer = request.await;
            (answer, CAPTURE.with(|slot| slot.borrow_mut().take()))
        })
        .await
}

/// A dry run's submit: the writer's own refusals of a report's content
/// before it is queued (the idempotency key), then the capture. What only
/// the database can say (a key reused for another request, a duplicate) is
/// not consulted: explain answers as for a first request.
fn dry_submit(report: Report, trace: Trace) -> Result<Committed, WriteError> {
    if let Some(key) = &report.idempotency_key {
        crate::store::check_key(key)?;
    }
    let committed = Committed {
        id: report.id,
        duplicate: false,
    };
    CAPTURE
        .try_with(|slot| *slot.borrow_mut() = Some(Captured { report, trace }))
        .map_err(|_| WriteError::Unavailable)?;
    Ok(committed)
}

#[cfg(feature = "bench-modes")]
pub use bench::IngestMode;

/// The ingest benchmark's baselines: compiled only with the `bench-modes`
/// feature, which no production build enables (tests and benches get it
/// through the crate's self dev-dependency).
#[cfg(feature = "bench-modes")]
mod bench {
    use super::Ingest;
    use crate::model::Report;
    use crate::store::{Committed, Store, WriteError};

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

    #[derive(Clone)]
    pub(super) enum Baseline {
        InsertPerRequest(Store),
        Discard,
    }

    impl Baseline {
        pub(super) async fn submit(&self, report: Report) -> Result<Committed, WriteError> {
            match self {
                Baseline::Discard => Ok(Committed {
                    id: report.id,
                    duplicate: false,
                }),
                Baseline::InsertPerRequest(store) => store
                    .insert_one(&report)
                    .await
                    .map_err(|_| WriteError::Unavailable),
            }
        }
    }

    impl Ingest {
        /// This handle writing as `mode` says; `store` is the writer's
        /// database, for [`IngestMode::InsertPerRequest`].
        pub fn with_mode(self, mode: IngestMode, store: Store) -> Ingest {
            let baseline = match mode {
                IngestMode::GroupCommit => None,
                IngestMode::InsertPerRequest => Some(Baseline::InsertPerRequest(store)),
                IngestMode::Discard => Some(Baseline::Discard),
            };
            Ingest { baseline, ..self }
        }
    }
}
