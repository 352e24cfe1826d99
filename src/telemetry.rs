//! Logs (tracing) and metrics (Prometheus text format).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::style::Style;

/// Installs the global tracing subscriber (`RUST_LOG` filters, default `info`).
/// Later calls are ignored, so tests may call it freely.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let seconds = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let sizes = [
            1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
        ];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full("callq_writer_batch_size".into()), &sizes)
            })
            .expect("bucket lists are non-empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (e.g. by an embedding
        // program); then this handle just renders nothing of ours.
        if metrics::set_global_recorder(recorder).is_ok() {
            describe_metrics();
        }
        handle
    })
}

/// HELP texts, and zero values for the counters an alert watches, so that
/// `rate()` and absence checks work before the first event (a counter that
/// was never incremented is otherwise not exported at all).
fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "callq_http_requests_total",
        "HTTP requests by style, outcome and status"
    );
    describe_histogram!(
        "callq_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request time by style"
    );
    describe_counter!(
        "callq_reports_committed_total",
        "Reports committed to the database"
    );
    describe_histogram!(
        "callq_writer_batch_size",
        "Reports per group-commit transaction"
    );
    describe_histogram!(
        "callq_writer_flush_seconds",
        Unit::Seconds,
        "Time of one group-commit flush"
    );
    describe_gauge!("callq_writer_queue_depth", "Reports waiting for a flush");
    describe_counter!(
        "callq_writer_rejected_total",
        "Reports refused because the write queue was full"
    );
    describe_counter!("callq_writer_failed_total", "Reports whose flush failed");
    metrics::counter!("callq_writer_rejected_total", "reason" => "overload").increment(0);
    metrics::counter!("callq_reports_committed_total").increment(0);
    metrics::counter!("callq_writer_failed_total").increment(0);
    metrics::gauge!("callq_writer_queue_depth").set(0.0);
    // Retention (docs/partitioning-and-retention.md).
    describe_counter!(
        "callq_retention_rows_removed_total",
        "Reports removed by retention (dropped partitions and batched deletes)"
    );
    describe_counter!(
        "callq_retention_partitions_dropped_total",
        "Time partitions dropped whole by retention (PostgreSQL)"
    );
    metrics::counter!("callq_retention_rows_removed_total").increment(0);
    metrics::counter!("callq_retention_partitions_dropped_total").increment(0);
}

/// Which wire style a path belongs to, for metric labels: the style's
/// name, `ops` for the read API, `other` for the rest.
pub fn style_of(path: &str) -> &'static str {
    match Style::of_path(path) {
        Some(style) => style.name(),
        None if path.starts_with("/api/") => "ops",
        None => "other",
    }
}

/// Counts requests by style, outcome and status, and times them.
pub async fn record_http(request: Request, next: Next) -> Response {
    let style = style_of(request.uri().path());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    let outcome = match status.as_u16() {
        200..=299 => "accepted",
        503 => "unavailable",
        400..=499 => "rejected",
        _ => "error",
    };
    metrics::counter!("callq_http_requests_total",
        "style" => style, "outcome" => outcome, "status" => status.as_u16().to_string())
    .increment(1);
    metrics::histogram!("callq_http_request_duration_seconds", "style" => style)
        .record(started.elapsed().as_secs_f64());
    tracing::debug!(
        style,
        route = route.as_deref().unwrap_or("-"),
        status = status.as_u16(),
        "request done"
    );
    response
}
