//! Group commit: many requests' reports in one transaction.
//!
//! Handlers [`Writer::submit`] a report and await its commit. A single task
//! takes whatever is queued as soon as a flush slot is free (no fixed linger:
//! docs/benchmarks.md: a fixed wait measured slower than plain inserts), and at
//! most `flushes_in_flight` transactions run at once; one that would run
//! beside another waits for `parallel_flush_min_batch` reports first (or for
//! a flush to end), since every transaction costs the database a fixed
//! amount. Under load batches grow by themselves; when idle a lone report is
//! written at once.
//!
//! Every queue is bounded, by count and by bytes. A full queue, a database
//! that is down or too slow, or a shutdown in progress all come back to the
//! caller as a [`WriteError`], which every wire style renders as
//! 503 + Retry-After. Nothing is acknowledged before its COMMIT returned.
//!
//! What a client is told is true (issue 10 item 3):
//! - a job whose client has gone (request timed out, connection closed) is
//!   dropped when a batch is assembled, never written;
//! - once a job is taken into a transaction its [`RequestTicket`] says so,
//!   and the request-timeout middleware then waits for the real outcome
//!   instead of answering 503;
//! - the writer never abandons a statement that may still commit: the
//!   database bounds it (PostgreSQL `statement_timeout`/`lock_timeout`
//!   below the flush timeout, SQLite's busy timeout) and rolls it back;
//! - a report the database refuses for its content (not an outage) is
//!   isolated by bisecting the batch and answered `Refused` (400); the rest
//!   of the batch is committed.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::Committed;
use super::claims::{DEFAULT_RETRY_WINDOW, KeyReused, MAX_IDEMPOTENCY_KEY_CHARS};
use super::tenant_share::{ShareGuard, TenantShares};
use crate::model::Report;
use crate::store::{Store, StoreError};

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
    /// A flush that would run beside another one waits until this many
    /// reports are queued, or until a running flush ends. Each transaction
    /// costs PostgreSQL a fixed amount (executor start for its three
    /// inserts, commit and its WAL flush) on top of its rows: about 0.6-0.8
    /// ms, some 10 reports' rows (docs/benchmarks.md, issue 15). Starting the second
    /// flush at once with the one or two reports that arrived since the
    /// first began made most batches small; waiting for a batch worth a
    /// transaction keeps the overlap (one flush's commit wait beside the
    /// next one's work) without paying that cost on every few reports. A
    /// report never waits longer than for a flush slot to come free; 1
    /// turns the wait off.
    pub parallel_flush_min_batch: usize,
    /// How long a flush may take. The database enforces it (the store's
    /// statement and lock timeouts are derived from it, see
    /// [`crate::store::StatementBounds::below`]) and rolls back; the writer itself
    /// always awaits the real outcome, since a statement it gave up on could
    /// still commit.
    pub flush_timeout: Duration,
    // writer truth (issue 10 item 4)
    /// An identical keyless request (tenant, style, operation, path, body)
    /// within this window is a retry: answered like the first, stored once.
    /// Zero turns keyless retry detection off.
    pub retry_window: Duration,
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
            parallel_flush_min_batch: 32,
            flush_timeout: Duration::from_secs(10),
            retry_window: DEFAULT_RETRY_WINDOW,
            tenant_queue_share: 1.0,
        }
    }
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
    /// Reports the database refused for their content (answered 400).
    pub refused_reports: u64,
    /// Jobs dropped unwritten because their client had gone.
    pub abandoned_reports: u64,
}

/// Shared by one request and the writer, so that the request's time-out
/// never contradicts what the database does with its report.
///
/// The request-timeout middleware creates one per request and runs the
/// handler inside [`RequestTicket::scope`]; [`Writer::submit`] picks it up
/// from there (no handler has to pass it along). When the time limit
/// passes, the middleware calls [`RequestTicket::abandon`]: if no report of
/// the request is in a transaction yet, the writer will drop it unwritten
/// and the 503 is true; if one is, the middleware keeps waiting for the
/// real outcome. The writer marks a job in flight with the same
/// compare-and-swap, so exactly one of the two wins.
#[derive(Debug, Clone, Default)]
pub struct RequestTicket(Arc<AtomicU8>);

const WAITING: u8 = 0;
const IN_FLIGHT: u8 = 1;
const ABANDONED: u8 = 2;

tokio::task_local! {
    static TICKET: RequestTicket;
}

impl RequestTicket {
    pub fn new() -> RequestTicket {
        RequestTicket::default()
    }

    /// Runs `request` with this ticket visible to every [`Writer::submit`]
    /// inside it.
    pub async fn scope<F: Future>(&self, request: F) -> F::Output {
        TICKET.scope(self.clone(), request).await
    }

    /// The request gives up waiting. True when nothing of it will be
    /// written (no report of it was taken into a transaction); false when
    /// one was: the caller must wait for the real outcome.
    pub fn abandon(&self) -> bool {
        match self
            .0
            .compare_exchange(WAITING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(state) => state == ABANDONED,
        }
    }

    /// The writer takes the request's report into a transaction; false if
    /// the request already gave up.
    fn take_in_flight(&self) -> bool {
        match self
            .0
            .compare_exchange(WAITING, IN_FLIGHT, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(state) => state == IN_FLIGHT,
        }
    }

    /// True once a report of this request is (or was) in a transaction.
    pub fn in_flight(&self) -> bool {
        self.0.load(Ordering::Acquire) == IN_FLIGHT
    }
}

struct Job {
    report: Report,
    reply: oneshot::Sender<Result<Committed, WriteError>>,
    ticket: Option<RequestTicket>,
    _bytes: OwnedSemaphorePermit,
    /// Dropped when the writer takes the job out of the queue.
    _share: Option<ShareGuard>,
}

impl Job {
    /// Takes the job into a transaction, unless its client has gone: the
    /// requester dropped its answer (disconnect) or gave up (time-out).
    fn take(&self) -> bool {
        !self.reply.is_closed()
            && self
                .ticket
                .as_ref()
                .is_none_or(RequestTicket::take_in_flight)
    }
}

#[derive(Default)]
struct Counters {
    transactions: AtomicU64,
    reports_committed: AtomicU64,
    largest_batch: AtomicU64,
    failed_reports: AtomicU64,
    rejected_overload: AtomicU64,
    refused_reports: AtomicU64,
    abandoned_reports: AtomicU64,
}

struct Inner {
    queue: mpsc::Sender<Job>,
    capacity: usize,
    bytes: Arc<Semaphore>,
    shares: Option<Arc<TenantShares>>,
    closing: AtomicBool,
    shutdown: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
    pruner: std::sync::Mutex<Option<JoinHandle<()>>>,
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
            pruner: std::sync::Mutex::new(None),
            counters: counters.clone(),
        });
        let writer = Writer { inner };
        if !config.retry_window.is_zero() {
            let pruner = tokio::spawn(prune_claims(store.clone(), config.retry_window));
            *writer.inner.pruner.lock().expect("not poisoned") = Some(pruner);
        }
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

    /// Queues `report` and waits until it is committed (or refused). Run
    /// inside a [`RequestTicket::scope`], the job is tied to that request.
    pub async fn submit(&self, report: Report) -> Result<Committed, WriteError> {
        let inner = &self.inner;
        if let Some(key) = &report.idempotency_key {
            check_key(key)?;
        }
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
        let ticket = TICKET.try_with(RequestTicket::clone).ok();
        match inner.queue.try_send(Job {
            report,
            reply,
            ticket,
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
            refused_reports: c.refused_reports.load(Ordering::Relaxed),
            abandoned_reports: c.abandoned_reports.load(Ordering::Relaxed),
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
        if let Some(pruner) = self.inner.pruner.lock().expect("not poisoned").take() {
            pruner.abort();
        }
    }
}

/// Keys are used whole or not at all: a key cut to fit could make two
/// different requests one. Public so that explain refuses what the writer
/// would, without a writer.
pub fn check_key(key: &str) -> Result<(), WriteError> {
    if key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(WriteError::BadKey(format!(
            "the idempotency key is longer than {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        )));
    }
    if !key.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(WriteError::BadKey(
            "the idempotency key must be printable ASCII text".to_owned(),
        ));
    }
    Ok(())
}

/// Deletes keyless claims whose window is over, about every minute (or
/// every window, when shorter), in statements of bounded size until none
/// is left, so that no single statement holds locks or runs long.
async fn prune_claims(store: Store, window: Duration) {
    const PER_STATEMENT: i64 = 20_000;
    let Ok(span) = chrono::Duration::from_std(window) else {
        return; // a window this long never ends
    };
    let mut tick = tokio::time::interval(window.min(Duration::from_secs(60)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(before) = chrono::Utc::now().checked_sub_signed(span) else {
            return;
        };
        loop {
            match store.prune_claims(before, PER_STATEMENT).await {
                Ok(n) if n == PER_STATEMENT as u64 => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "pruning expired retry claims failed");
                    break;
                }
            }
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
    let flushes = config.flushes_in_flight.max(1);
    let slots = Arc::new(Semaphore::new(flushes));
    let max_batch = config.max_batch.max(1);
    let parallel_min = config.parallel_flush_min_batch.clamp(1, max_batch);
    // Signalled when a flush ends (a stored permit at most: a stale one
    // only makes the wait below look again).
    let flush_ended = Arc::new(Notify::new());
    // Flushes running besides the one holding a slot being filled.
    let others_running = |slots: &Semaphore| flushes - 1 - slots.available_permits();
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
        // Beside a running flush, wait for a batch worth a transaction (see
        // `WriterConfig::parallel_flush_min_batch`); alone, go at once.
        while jobs.len() < parallel_min && others_running(&slots) > 0 {
            let room = max_batch - jobs.len();
            tokio::select! {
                n = rx.recv_many(&mut jobs, room) => if n == 0 { break },
                _ = flush_ended.notified() => {}
                _ = inner.shutdown.notified(), if !closing => {
                    rx.close();
                    closing = true;
                }
            }
        }
        metrics::gauge!("callq_writer_queue_depth").set(rx.len() as f64);
        let store = store.clone();
        let counters = counters.clone();
        let window = config.retry_window;
        let flush_ended = flush_ended.clone();
        tokio::spawn(async move {
            flush(&store, jobs, window, &counters).await;
            drop(slot);
            flush_ended.notify_one();
        });
    }
    // Wait for the transactions still running.
    let _ = slots
        .acquire_many(config.flushes_in_flight.max(1) as u32)
        .await;
}

async fn flush(store: &Store, jobs: Vec<Job>, retry_window: Duration, counters: &Counters) {
    // Batch assembly: a job whose client has gone is never written.
    let (live, gone): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(Job::take);
    if !gone.is_empty() {
        counters
            .abandoned_reports
            .fetch_add(gone.len() as u64, Ordering::Relaxed);
        metrics::counter!("callq_writer_abandoned_total").increment(gone.len() as u64);
        for job in gone {
            let _ = job.reply.send(Err(WriteError::Unavailable));
        }
    }
    if live.is_empty() {
        return;
    }
    let (reports, replies): (Vec<Report>, Vec<_>) = live
        .into_iter()
        .map(|job| (job.report, (job.reply, job._bytes)))
        .unzip();
    let started = Instant::now();
    let results = write_bisecting(store, &reports, retry_window, counters).await;
    let elapsed = started.elapsed();
    let committed = results.iter().filter(|r| r.is_ok()).count() as u64;
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(WriteError::Refused(_))))
        .count() as u64;
    let failed = results.len() as u64 - committed;
    counters
        .reports_committed
        .fetch_add(committed, Ordering::Relaxed);
    counters.failed_reports.fetch_add(failed, Ordering::Relaxed);
    counters
        .refused_reports
        .fetch_add(refused, Ordering::Relaxed);
    counters
        .largest_batch
        .fetch_max(reports.len() as u64, Ordering::Relaxed);
    metrics::histogram!("callq_writer_batch_size").record(reports.len() as f64);
    metrics::histogram!("callq_writer_flush_seconds").record(elapsed.as_secs_f64());
    metrics::counter!("callq_reports_committed_total").increment(committed);
    if failed > 0 {
        metrics::counter!("callq_writer_failed_total").increment(failed);
    }
    if refused > 0 {
        metrics::counter!("callq_writer_refused_total").increment(refused);
    }
    for ((reply, _bytes), result) in replies.into_iter().zip(results) {
        // A requester that went away (disconnect) just doesn't hear.
        let _ = reply.send(result);
    }
}

/// Writes `reports` in as few transactions as the database allows. The
/// whole batch goes first; when the database refuses it for a reason that
/// is not an outage, the batch is split in halves and each half tried
/// again, down to the one report to blame, which is answered `Refused`.
/// One bad report among n costs about 2·log2(n) transactions, not n; an
/// outage (or a timeout the database enforced) fails the part at hand with
/// 503 at once.
async fn write_bisecting(
    store: &Store,
    reports: &[Report],
    retry_window: Duration,
    counters: &Counters,
) -> Vec<Result<Committed, WriteError>> {
    let mut results: Vec<Option<Result<Committed, WriteError>>> = vec![None; reports.len()];
    let mut pending = Vec::with_capacity(8);
    pending.push(0..reports.len());
    while let Some(range) = pending.pop() {
        let part = &reports[range.clone()];
        counters.transactions.fetch_add(1, Ordering::Relaxed);
        match store.insert_batch_within(part, retry_window).await {
            Ok(outcomes) => {
                for (slot, outcome) in results[range].iter_mut().zip(outcomes) {
                    *slot = Some(committed(outcome));
                }
            }
            // Anything but a refusal of the content is "not now" (503).
            Err(e) if !e.is_content_refusal() => {
                tracing::error!(error = %e, batch = part.len(), "flush failed");
                for slot in &mut results[range] {
                    *slot = Some(Err(WriteError::Unavailable));
                }
            }
            Err(e) if part.len() == 1 => {
                tracing::warn!(error = %e, report = %part[0].id, tenant = %part[0].tenant,
                    "report refused by the database");
                results[range.start] = Some(Err(WriteError::Refused(e.refusal())));
            }
            Err(e) => {
                tracing::warn!(error = %e, batch = part.len(), "batch refused; bisecting");
                let mid = range.start + part.len() / 2;
                // Popped in order: the first half is written first.
                pending.push(mid..range.end);
                pending.push(range.start..mid);
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or(Err(WriteError::Unavailable)))
        .collect()
}

fn committed(outcome: Result<Committed, KeyReused>) -> Result<Committed, WriteError> {
    outcome.map_err(|KeyReused| WriteError::KeyReused)
}

impl From<StoreError> for WriteError {
    fn from(_: StoreError) -> Self {
        WriteError::Unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_used_whole_or_refused() {
        assert!(check_key(&"k".repeat(MAX_IDEMPOTENCY_KEY_CHARS)).is_ok());
        assert!(check_key("550e8400-e29b-41d4-a716-446655440000").is_ok());
        for bad in [
            "k".repeat(MAX_IDEMPOTENCY_KEY_CHARS + 1),
            "caf\u{e9}".to_owned(),
            "tab\there".to_owned(),
            "\u{fffd}".to_owned(),
        ] {
            assert!(
                matches!(check_key(&bad), Err(WriteError::BadKey(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_ticket_is_either_abandoned_or_in_flight_never_both() {
        let ticket = RequestTicket::new();
        assert!(ticket.take_in_flight());
        assert!(!ticket.abandon(), "in flight: the request must wait");
        assert!(ticket.in_flight());
        let ticket = RequestTicket::new();
        assert!(ticket.abandon());
        assert!(!ticket.take_in_flight(), "abandoned: never written");
        assert!(ticket.abandon());
    }
}
