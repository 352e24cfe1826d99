//! The one way a wire style submits a report: [`Ingest::submit`].
//!
//! Handlers decode and validate in their own style, then hand the report
//! here and answer 2xx only on `Ok`: the report is committed. What every
//! accepted report gets whatever its style (each stream's E-model MOS and
//! quality class) is derived here, so that no style can forget it.

use crate::model::Report;
use crate::store::{Committed, WriteError, Writer};

/// A handle on the group-commit writer for the ingest handlers. Cheap to
/// clone; handlers extract it with `State<Ingest>`.
#[derive(Clone)]
pub struct Ingest {
    writer: Writer,
    /// A benchmark baseline in place of the writer (feature `bench-modes`).
    #[cfg(feature = "bench-modes")]
    baseline: Option<bench::Baseline>,
}

impl Ingest {
    pub fn new(writer: Writer) -> Ingest {
        Ingest {
            writer,
            #[cfg(feature = "bench-modes")]
            baseline: None,
        }
    }

    /// Derives the streams' quality, hands `report` to the writer and waits
    /// for its COMMIT. `Ok` is the only outcome a 2xx may follow.
    pub async fn submit(&self, mut report: Report) -> Result<Committed, WriteError> {
        report.derive_stream_quality();
        #[cfg(feature = "bench-modes")]
        if let Some(baseline) = &self.baseline {
            return baseline.submit(report).await;
        }
        self.writer.submit(report).await
    }
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
