//! A cap on requests being handled at once.
//!
//! Past the cap a request is answered at once with 503 + Retry-After in the
//! format of the style that owns its path, before any work is done for it:
//! under a burst the server keeps answering quickly instead of queueing
//! work it cannot finish within the request timeout. Health checks and
//! `/metrics` are exempt, so a load balancer and the monitoring still see
//! the process while it sheds load.
//!
//! A request holds its slot until its handler has produced the response
//! head (body reading included; the streaming of a response body is not).

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

/// Seconds a client refused at the cap is asked to wait.
const RETRY_AFTER_SECS: u64 = 1;

/// The shared slots; cheap to clone.
#[derive(Clone)]
pub struct InFlightCap {
    slots: Arc<Semaphore>,
}

impl InFlightCap {
    pub fn new(max_requests_in_flight: usize) -> Self {
        InFlightCap {
            slots: Arc::new(Semaphore::new(max_requests_in_flight.max(1))),
        }
    }

    /// The middleware: runs the request in a slot, or refuses it.
    pub async fn limit(self, req: Request, next: Next) -> Response {
        if is_exempt(req.uri().path()) {
            return next.run(req).await;
        }
        match self.slots.try_acquire_owned() {
            Ok(slot) => {
                let response = next.run(req).await;
                drop(slot);
                response
            }
            Err(_) => {
                metrics::counter!("callq_http_refused_total", "reason" => "in_flight").increment(1);
                crate::protocols::unavailable(req.uri().path(), req.headers(), RETRY_AFTER_SECS)
            }
        }
    }
}

fn is_exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}
