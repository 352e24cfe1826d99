//! Group commit: many requests' reports in one transaction.
//!
//! Handlers [`Writer::submit`] a report and await its commit. A single task
//! takes whatever is queued as soon as a flush slot is free (no fixed linger:
//! DESIGN.md measured a fixed wait to be slower than plain inserts), and at
//! most `flushes_in_flight` transactions run at once. Under load batches grow
//! by themselves; when idle a lone report is written at once.
//!
//! Every queue is bounded, by count and by bytes. A full queue, a database
//! that is down or too slow, or a shutdown in progress all come back to the
//! caller as a [`WriteError`], which every wire style renders as
//! 503 + Retry-After. Nothing is acknowledged before its COMMIT returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::tenant_share::{ShareGuard, TenantShares};
use super::{Store, StoreError, Stored};
use crate::model::Report;

/// Tuning of the writer; the defaults suit a 2-core box with PostgreSQL beside it.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Reports that may wait for a flush; one more is refused (503).
    pub queue_capacity: usize,
    /// Bytes of reports that may wait for a flush (bounds memory under
    /// overload whatever the body sizes are).
    pub queue_max_bytes: usize,
    /// Most reports written in one transaction.
    pub max_batch: usize,
    /// Transactions that may run at once.
    pub flushes_in_flight: usize,
    /// A flush that takes longer fails its reports with 503.
    pub flush_timeout: Duration,
    /// Largest share of the queue (by count and by bytes) one tenant may
    /// hold; beyond it that tenant gets [`WriteError::TenantBusy`]. 1.0
    /// (the default here; the server passes its setting) enforces nothing.
    pub tenant_queue_share: f64,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_capacity: 8192,
            queue_max_bytes: 64 << 20,
            max_batch: 512,
            flushes_in_flight: 2,
            flush_timeout: Duration::from_secs(10),
            tenant_queue_share: 1.0,
        }
    }
}

/// A report is committed: `id` is the stored row's id (the first one's when
/// this submission was a retry with the same idempotency key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub id: Uuid,
    pub duplicate: bool,
}

/// Why a report was not committed.
///
/// The first three mean "not now": nothing was stored and every style
/// answers 503 + Retry-After. `TenantBusy` is "not now, and you are the one
/// filling the queue": 429 + Retry-After. The last three mean "never as
/// sent": nothing was stored and every style answers a 4xx, so a client
/// does not resend the same request forever.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("the write queue is full")]
    Overloaded,
    #[error("the database is unavailable")]
    Unavailable,
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The tenant already holds its configured share of the write queue.
    #[error("this tenant's share of the write queue is full")]
    TenantBusy,
    /// The database refused this report's content (not an outage): 400.
    #[error("the report was refused by the database: {0}")]
    Refused(String),
    /// The idempotency key was used before for a different request: 422.
    #[error("the idempotency key was already used for a different request")]
    KeyReused,
    /// The idempotency key cannot be used (too long, not text): 400.
    #[error("the idempotency key is not usable: {0}")]
    BadKey(String),
}

impl WriteError {
    /// Seconds a client should wait before retrying (the `Retry-After` value).
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            WriteError::Overloaded | WriteError::TenantBusy => 1,
            WriteError::Unavailable | WriteError::ShuttingDown => 5,
            WriteError::Refused(_) | WriteError::KeyReused | WriteError::BadKey(_) => 0,
        }
    }

    /// What the client is told, independent of the wire style.
    pub fn answer(&self) -> WriteAnswer {
        match self {
            WriteError::Overloaded | WriteError::Unavailable | WriteError::ShuttingDown => {
                WriteAnswer::RetryLater(self.retry_after_secs())
            }
            WriteError::TenantBusy => WriteAnswer::TooManyRequests(self.retry_after_secs()),
            WriteError::Refused(reason) => WriteAnswer::BadRequest(reason.clone()),
            WriteError::BadKey(reason) => WriteAnswer::BadIdempotencyKey(reason.clone()),
            WriteError::KeyReused => WriteAnswer::KeyReused,
        }
    }
}

/// The four answers a [`WriteError`] can become; each style renders them in
/// its own error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteAnswer {
    /// 503 + Retry-After (seconds): nothing stored, try again.
    RetryLater(u64),
    /// 429 + Retry-After (seconds): this tenant is over its queue share.
    TooManyRequests(u64),
    /// 400: the content cannot be stored (the text says why).
    BadRequest(String),
    /// 400 naming the `Idempotency-Key` header.
    BadIdempotencyKey(String),
    /// 422: the idempotency key belongs to another request.
    KeyReused,
}

/// Counters since start, for tests, benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub transactions: u64,
    pub reports_committed: u64,
    pub largest_batch: u64,
    pub failed_reports: u64,
    pub rejected_overload: u64,
}

struct Job {
    report: Report,
    reply: oneshot::Sender<Result<Committed, WriteError>>,
    _bytes: OwnedSemaphorePermit,
    /// Dropped when the writer takes the job out of the queue.
    _share: Option<ShareGuard>,
}

#[derive(Default)]
struct Counters {
    transactions: AtomicU64,
    reports_committed: AtomicU64,
    largest_batch: AtomicU64,
    failed_reports: AtomicU64,
    rejected_overload: AtomicU64,
}

struct Inner {
    queue: mpsc::Sender<Job>,
    capacity: usize,
    bytes: Arc<Semaphore>,
    shares: Option<Arc<TenantShares>>,
    closing: AtomicBool,
    shutdown: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
}

/// Handle to the group-commit writer; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    inner: Arc<Inner>,
}

impl Writer {
    /// Starts the writer task on the current runtime.
    ///
    /// On SQLite one flush runs at a time whatever the configuration says:
    /// SQLite admits a single writer, and a second transaction would only
    /// wait in SQLite's busy handler, which sleeps in growing steps (measured:
    /// p99 67 ms with two flushes in flight).
    pub fn start(store: Store, mut config: WriterConfig) -> Writer {
        if matches!(store, Store::Sqlite(_)) {
            config.flushes_in_flight = 1;
        }
        let (queue, rx) = mpsc::channel(config.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let inner = Arc::new(Inner {
            queue,
            capacity: config.queue_capacity.max(1),
            bytes: Arc::new(Semaphore::new(kib(config.queue_max_bytes).max(1))),
            shares: TenantShares::new(
                config.tenant_queue_share,
                config.queue_capacity.max(1),
                kib(config.queue_max_bytes).max(1),
            ),
            closing: AtomicBool::new(false),
            shutdown: Notify::new(),
            task: Mutex::new(None),
            counters: counters.clone(),
        });
        let writer = Writer { inner };
        let task = tokio::spawn(run(store, rx, config, counters, writer.clone_inner()));
        *writer
            .inner
            .task
            .try_lock()
            .expect("nobody else holds the new writer") = Some(task);
        writer
    }

    fn clone_inner(&self) -> Arc<Inner> {
        self.inner.clone()
    }

    /// Queues `report` and waits until it is committed.
    pub async fn submit(&self, report: Report) -> Result<Committed, WriteError> {
        let inner = &self.inner;
        if inner.closing.load(Ordering::Acquire) {
            return Err(WriteError::ShuttingDown);
        }
        let size = kib(report.approx_size()).max(1);
        // The tenant's share first: a tenant over it is the one filling the
        // queue and hears 429, even if the queue as a whole is full too.
        let share = match &inner.shares {
            Some(shares) => match shares.try_book(&report.tenant, size) {
                Some(guard) => Some(guard),
                None => return Err(self.tenant_busy()),
            },
            None => None,
        };
        let Ok(bytes) = inner
            .bytes
            .clone()
            .try_acquire_many_owned(u32::try_from(size).unwrap_or(u32::MAX))
        else {
            return Err(self.overloaded());
        };
        let (reply, answer) = oneshot::channel();
        match inner.queue.try_send(Job {
            report,
            reply,
            _bytes: bytes,
            _share: share,
        }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(self.overloaded()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(WriteError::ShuttingDown),
        }
        metrics::gauge!("callq_writer_queue_depth").set(self.queue_depth() as f64);
        // The writer answers every job it takes; a dropped sender means the
        // task died, which is as good as the database being unavailable.
        answer.await.unwrap_or(Err(WriteError::Unavailable))
    }

    fn overloaded(&self) -> WriteError {
        self.inner
            .counters
            .rejected_overload
            .fetch_add(1, Ordering::Relaxed);
        metrics::counter!("callq_writer_rejected_total", "reason" => "overload").increment(1);
        WriteError::Overloaded
    }

    fn tenant_busy(&self) -> WriteError {
        metrics::counter!("callq_writer_rejected_total", "reason" => "tenant_share").increment(1);
        WriteError::TenantBusy
    }

    /// Reports waiting for a flush.
    pub fn queue_depth(&self) -> usize {
        self.inner.capacity - self.inner.queue.capacity()
    }

    pub fn stats(&self) -> WriterStats {
        let c = &self.inner.counters;
        WriterStats {
            transactions: c.transactions.load(Ordering::Relaxed),
            reports_committed: c.reports_committed.load(Ordering::Relaxed),
            largest_batch: c.largest_batch.load(Ordering::Relaxed),
            failed_reports: c.failed_reports.load(Ordering::Relaxed),
            rejected_overload: c.rejected_overload.load(Ordering::Relaxed),
        }
    }

    /// Refuses new reports, writes everything already queued, waits for the
    /// last transaction to end. Idempotent.
    pub async fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::Release);
        self.inner.shutdown.notify_one();
        if let Some(task) = self.inner.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

fn kib(bytes: usize) -> usize {
    bytes.div_ceil(1024)
}

async fn run(
    store: Store,
    mut rx: mpsc::Receiver<Job>,
    config: WriterConfig,
    counters: Arc<Counters>,
    inner: Arc<Inner>,
) {
    let slots = Arc::new(Semaphore::new(config.flushes_in_flight.max(1)));
    let max_batch = config.max_batch.max(1);
    let mut closing = false;
    loop {
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the slot semaphore is never closed");
        let mut jobs = Vec::with_capacity(max_batch);
        let received = tokio::select! {
            n = rx.recv_many(&mut jobs, max_batch) => n,
            _ = inner.shutdown.notified(), if !closing => {
                // Stop taking new reports; keep what is queued and drain it.
                rx.close();
                closing = true;
                continue;
            }
        };
        if received == 0 {
            break; // closed and drained
        }
        metrics::gauge!("callq_writer_queue_depth").set(rx.len() as f64);
        let store = store.clone();
        let counters = counters.clone();
        let timeout = config.flush_timeout;
        tokio::spawn(async move {
            flush(&store, jobs, timeout, &counters).await;
            drop(slot);
        });
    }
    // Wait for the transactions still running.
    let _ = slots
        .acquire_many(config.flushes_in_flight.max(1) as u32)
        .await;
}

async fn flush(store: &Store, jobs: Vec<Job>, timeout: Duration, counters: &Counters) {
    let (reports, replies): (Vec<Report>, Vec<_>) = jobs
        .into_iter()
        .map(|job| (job.report, (job.reply, job._bytes)))
        .unzip();
    let started = Instant::now();
    let outcome = match tokio::time::timeout(timeout, store.insert_batch(&reports)).await {
        Ok(Ok(stored)) => Ok(stored),
        Ok(Err(e)) if !e.is_unavailable() && reports.len() > 1 => {
            // One report the database refuses must not sink the others:
            // write them one by one and fail only the refused ones.
            tracing::warn!(error = %e, batch = reports.len(), "batch refused; retrying reports one by one");
            Err(Some(e))
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, batch = reports.len(), "flush failed");
            Err(None)
        }
        Err(_) => {
            tracing::error!(batch = reports.len(), ?timeout, "flush timed out");
            Err(None)
        }
    };
    let results: Vec<Result<Stored, WriteError>> = match outcome {
        Ok(stored) => stored.into_iter().map(Ok).collect(),
        Err(None) => reports
            .iter()
            .map(|_| Err(WriteError::Unavailable))
            .collect(),
        Err(Some(_)) => {
            let mut results = Vec::with_capacity(reports.len());
            for report in &reports {
                let one = tokio::time::timeout(timeout, store.insert_one(report)).await;
                results.push(match one {
                    Ok(Ok(stored)) => Ok(stored),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, report = %report.id, "report refused by the database");
                        Err(WriteError::Unavailable)
                    }
                    Err(_) => Err(WriteError::Unavailable),
                });
            }
            results
        }
    };
    let elapsed = started.elapsed();
    let committed = results.iter().filter(|r| r.is_ok()).count() as u64;
    let failed = results.len() as u64 - committed;
    counters.transactions.fetch_add(1, Ordering::Relaxed);
    counters
        .reports_committed
        .fetch_add(committed, Ordering::Relaxed);
    counters.failed_reports.fetch_add(failed, Ordering::Relaxed);
    counters
        .largest_batch
        .fetch_max(reports.len() as u64, Ordering::Relaxed);
    metrics::histogram!("callq_writer_batch_size").record(reports.len() as f64);
    metrics::histogram!("callq_writer_flush_seconds").record(elapsed.as_secs_f64());
    metrics::counter!("callq_reports_committed_total").increment(committed);
    if failed > 0 {
        metrics::counter!("callq_writer_failed_total").increment(failed);
    }
    for ((reply, _bytes), result) in replies.into_iter().zip(results) {
        // A requester that went away (timeout, disconnect) just doesn't hear.
        let _ = reply.send(result.map(|s| Committed {
            id: s.id,
            duplicate: s.duplicate,
        }));
    }
}

impl From<StoreError> for WriteError {
    fn from(_: StoreError) -> Self {
        WriteError::Unavailable
    }
}
