//! The connection layer: an accept loop over hyper's HTTP/1 connection
//! builder, with the limits `axum::serve` does not have.
//!
//! - **Header-read timeout.** A request head must arrive in full within
//!   `header_read_timeout` of its first byte (of the accept, for a
//!   connection's first request). A client that sends half a head, or drips
//!   it a byte at a time, is closed when that time is up.
//! - **Keep-alive idle timeout.** A connection with no request for
//!   `keepalive_idle` after its last answer is closed.
//! - **Write stall.** An answer the client does not read (its receive
//!   window stays shut) is given `keepalive_idle` to make progress; a
//!   connection whose writes have been blocked that long is cut, also after
//!   `graceful_shutdown` (which would otherwise wait for the write forever),
//!   so clients that never read cannot hold every slot under the cap.
//! - **Connection cap.** At most `max_connections` are open; the accept loop
//!   stops accepting at the cap (backpressure): further clients wait in the
//!   kernel's listen backlog, costing nothing, and get in as soon as one of
//!   the open connections ends (every one of them is bounded in time by the
//!   two timers above and the request timeout).
//! - **Draining.** On stop the listener is closed, idle connections are
//!   closed at once, and each connection with a request in progress gets
//!   its answer and then `Connection: close`. [`Serving::drain`] waits for
//!   that up to a deadline, then cuts what is left.
//!
//! Why not hyper's own `http1::Builder::header_read_timeout`: hyper starts
//! that timer whenever the connection waits for a request head, idle
//! keep-alive time included, so a 10 s header timer would also end every
//! keep-alive connection after 10 s idle. callq keeps the two apart (as
//! nginx does with `client_header_timeout` and `keepalive_timeout`) by
//! watching the connection itself: `Activity` sees the bytes read and the
//! requests handled, and the connection task sleeps until the deadline of
//! the phase the connection is in, checking again at least every quarter of
//! the shorter timer (so a timer fires at most a quarter late; waking the
//! task on every phase change cost a fifth of the HTTP ceiling).
//!
//! Only HTTP/1.1 is served (as before: axum was built without `http2`).

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::Settings;

/// The per-connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub keepalive_idle: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// How often a connection re-reads its phase: a quarter of the shorter
    /// timer, so each timer fires at most a quarter late.
    fn tick(&self) -> Duration {
        (self.header_read_timeout.min(self.keepalive_idle) / 4).max(Duration::from_millis(50))
    }

    pub fn from_settings(s: &Settings) -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(s.header_read_timeout_secs),
            keepalive_idle: Duration::from_secs(s.keepalive_idle_secs),
            max_connections: s.max_connections.max(1),
        }
    }
}

/// A listener being served; see [`serve`].
pub struct Serving {
    accepting: JoinHandle<()>,
    slots: Arc<Semaphore>,
    max_connections: u32,
    cut: CancellationToken,
}

/// Serves `app` on `listener` until `stop` is cancelled. `stop` latches:
/// cancelled before the loop first runs, it still stops it.
pub fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) -> Serving {
    let max_connections = u32::try_from(limits.max_connections).unwrap_or(u32::MAX >> 4);
    let slots = Arc::new(Semaphore::new(max_connections as usize));
    let cut = CancellationToken::new();
    let accepting = tokio::spawn(accept_loop(
        listener,
        app,
        limits,
        stop,
        cut.clone(),
        slots.clone(),
    ));
    Serving {
        accepting,
        slots,
        max_connections,
        cut,
    }
}

impl Serving {
    /// After `stop`: waits until the listener is closed and every connection
    /// has ended, or until `deadline`, when the connections still open are
    /// closed without waiting further. Returns how many were cut.
    ///
    /// Cutting loses no acknowledged report: a 2xx is only written after its
    /// COMMIT returned, so a cut request was never told it was stored.
    pub async fn drain(self, deadline: Instant) -> usize {
        if tokio::time::timeout_at(deadline, self.accepting)
            .await
            .is_err()
        {
            tracing::warn!("the accept loop did not stop before the shutdown deadline");
        }
        let all = self.max_connections;
        if let Ok(Ok(_all_back)) =
            tokio::time::timeout_at(deadline, self.slots.acquire_many(all)).await
        {
            return 0;
        }
        let open = all as usize - self.slots.available_permits();
        self.cut.cancel();
        // Cut connections end at their next poll; give them a moment to
        // close their sockets before the caller moves on.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.slots.acquire_many(all)).await;
        open
    }
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
    cut: CancellationToken,
    slots: Arc<Semaphore>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true)
        // callq times request heads itself (see the module doc).
        .header_read_timeout(None);
    loop {
        // At the cap, wait for a slot before accepting: backpressure.
        let slot = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors and the like: retrying at
                        // once would spin; wait a little (or for the stop).
                        tracing::error!(error = %e, "accept failed");
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        }
                    }
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        // Child tokens: each connection polls its own (its own lock),
        // not the shared one on every wake-up, which measurably slowed
        // the HTTP ceiling.
        tokio::spawn(serve_connection(
            stream,
            app.clone(),
            http.clone(),
            limits,
            stop.child_token(),
            cut.child_token(),
            slot,
        ));
    }
    // Dropping the listener here refuses new connections from now on.
}

/// Errors about one connection (it went away before we accepted it), not
/// about the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection under its timers; `_slot` is its place under the cap.
async fn serve_connection(
    stream: TcpStream,
    app: Router,
    http: hyper::server::conn::http1::Builder,
    limits: ConnectionLimits,
    stop: CancellationToken,
    cut: CancellationToken,
    _slot: OwnedSemaphorePermit,
) {
    metrics::gauge!("callq_http_connections_open").increment(1.0);
    let activity = Arc::new(Activity::new(Instant::now()));
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let busy = requests.request_started();
        let app = app.clone();
        async move {
            let response = app.oneshot(req.map(Body::new)).await;
            drop(busy);
            Ok::<_, Infallible>(match response {
                Ok(response) => response,
                Err(never) => match never {},
            })
        }
    });
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    // Set once `graceful_shutdown` was called: hyper then closes the
    // connection as soon as it is idle, so no timer is needed any more.
    //
    // hyper closes at once only a connection that has answered a request
    // and is idle; it counts a connection that never got a whole request
    // head as busy and would keep it open. Such a connection has had
    // nothing written to it, so it is dropped instead (`untouched`).
    // Everything else gets `graceful_shutdown`, which never cuts an answer
    // being written: an answer a client was about to read whole (say, a
    // 201 after its COMMIT) reaches it.
    let mut closing = false;
    loop {
        // Woken at the deadline of the current phase, and at least every
        // `tick`: phases change with every request, and waking the task on
        // each change would cost an extra poll of the connection per
        // request; a phase change is instead noticed at the next tick.
        let tick = Instant::now() + limits.tick();
        let deadline = match (closing, activity.deadline(&limits)) {
            (false, Some((at, _))) => at.min(tick),
            // Closing, or a request in progress: only a write stall can
            // end the connection, checked every tick.
            _ => tick,
        };
        let deadline = Some(match activity.stall_deadline(&limits) {
            Some(stalled) => stalled.min(deadline),
            None => deadline,
        });
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = sleep_until(deadline) => {
                // A client that does not read what it asked for: the
                // answer cannot reach it, and waiting would hold its slot.
                if activity.stall_deadline(&limits).is_some_and(|at| at <= Instant::now()) {
                    metrics::counter!("callq_http_connections_timed_out_total", "phase" => "write")
                        .increment(1);
                    tracing::debug!("cutting a connection whose client stopped reading");
                    break;
                }
                if closing {
                    continue;
                }
                // The phase may have moved on since the deadline was taken.
                if let Some((at, phase)) = activity.deadline(&limits)
                    && at <= Instant::now()
                {
                    metrics::counter!("callq_http_connections_timed_out_total", "phase" => phase.label())
                        .increment(1);
                    tracing::debug!(phase = phase.label(), "closing a connection that ran out of time");
                    if activity.untouched() {
                        break;
                    }
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            _ = stop.cancelled(), if !closing => {
                if activity.untouched() {
                    break;
                }
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = cut.cancelled() => break,
        }
    }
    metrics::gauge!("callq_http_connections_open").decrement(1.0);
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Which timer ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A request head was on its way but not complete in time.
    Head,
    /// Nothing was asked for `keepalive_idle` after the last answer.
    Idle,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Phase::Head => "header",
            Phase::Idle => "idle",
        }
    }
}

/// What one connection is doing, as far as its timers care.
struct Activity {
    state: Mutex<ActivityState>,
}

struct ActivityState {
    /// Requests being handled (more than one only when pipelined).
    requests: u32,
    /// Whether any request was ever handled on this connection.
    served: bool,
    /// When the last answer was produced (or the connection accepted).
    idle_since: Instant,
    /// When the first byte of the next request head arrived, if one did.
    head_since: Option<Instant>,
    /// Since when a write has been refused by the socket (the client does
    /// not read), if the last write attempt was refused.
    write_blocked_since: Option<Instant>,
}

impl Activity {
    /// A new connection: its first request head is timed from the accept,
    /// so a client that connects and sends nothing is closed as soon as one
    /// that sends half a head.
    fn new(accepted: Instant) -> Self {
        Activity {
            state: Mutex::new(ActivityState {
                requests: 0,
                served: false,
                idle_since: accepted,
                head_since: Some(accepted),
                write_blocked_since: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes arrived. Between requests they are the start of the next head.
    fn bytes_read(&self) {
        let mut state = self.lock();
        if state.requests == 0 && state.head_since.is_none() {
            state.head_since = Some(Instant::now());
        }
    }

    /// A write was attempted: refused (`blocked`) or made progress.
    fn write_polled(&self, blocked: bool) {
        let mut state = self.lock();
        if !blocked {
            state.write_blocked_since = None;
        } else if state.write_blocked_since.is_none() {
            state.write_blocked_since = Some(Instant::now());
        }
    }

    /// When a connection whose writes are blocked is cut: `keepalive_idle`
    /// after the socket first refused the pending write. Applies in every
    /// phase, closing included.
    fn stall_deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        self.lock()
            .write_blocked_since
            .map(|since| since + limits.keepalive_idle)
    }

    fn request_started(self: &Arc<Self>) -> Busy {
        let mut state = self.lock();
        state.requests += 1;
        state.served = true;
        state.head_since = None;
        drop(state);
        Busy(self.clone())
    }

    fn request_ended(&self) {
        let mut state = self.lock();
        state.requests = state.requests.saturating_sub(1);
        if state.requests == 0 {
            state.idle_since = Instant::now();
        }
    }

    /// No request was ever handled here: nothing was written, so the
    /// connection can be dropped without cutting anything.
    fn untouched(&self) -> bool {
        !self.lock().served
    }

    /// When the connection runs out of time, and why; `None` while a
    /// request is being handled (the request timeout bounds that).
    fn deadline(&self, limits: &ConnectionLimits) -> Option<(Instant, Phase)> {
        let state = self.lock();
        if state.requests > 0 {
            None
        } else if let Some(started) = state.head_since {
            Some((started + limits.header_read_timeout, Phase::Head))
        } else {
            Some((state.idle_since + limits.keepalive_idle, Phase::Idle))
        }
    }
}

/// A request in progress on a connection; ends it when dropped (also when
/// the request's future is dropped because the client went away).
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// The TCP stream, telling [`Activity`] when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.activity.write_polled(polled.is_pending());
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.activity.write_polled(polled.is_pending());
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
