//! Group commit vs one INSERT per report, on PostgreSQL, in one run.
//!
//! 64 producers (CALLQ_BENCH_CLIENTS) push reports as fast as they can into
//! (a) the group-commit `Writer` and (b) `Store::insert_one`, one transaction
//! per report: the naive design. Both use the same pool size and the same
//! durable (fsync on) throwaway cluster. The two modes alternate in short
//! rounds so that machine noise hits both alike; the figure that matters is
//! the ratio.
//!
//! `cargo bench --bench writer` (CALLQ_BENCH_SECS per round, default 5;
//! CALLQ_TEST_DATABASE_URL to use your own server).

#[path = "../tests/it/support/pg.rs"]
mod pg;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use callq::model::{Kind, MediaStream, Modality, Protocol, Report};
use callq::store::{Store, StoreOptions, Writer, WriterConfig};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A device-quality report of about 1.5 KB of payload with 0 or 3 streams,
/// like what the Graph and Plivo styles produce.
fn report(n: u64) -> Report {
    let payload = format!(
        "{{\"quality\":{{\"callChainId\":\"{n:08x}-0000-4000-8000-000000000000\",\"deviceName\":\"Cisco SX80\",\"pad\":\"{}\"}}}}",
        "x".repeat(1400)
    );
    let mut r = Report::new(
        "bench",
        Protocol::Graph,
        Kind::DeviceQuality,
        format!("call-{n}"),
        payload,
    );
    r.device_name = Some("Cisco SX80".into());
    r.user_agent = Some("bench/1.0".into());
    if n.is_multiple_of(2) {
        r.streams = (0..3)
            .map(|i| MediaStream {
                ordinal: i,
                modality: Some(if i == 0 {
                    Modality::Audio
                } else {
                    Modality::Video
                }),
                channel_index: Some(i + 1),
                avg_inbound_jitter_ms: Some(12.0),
                avg_inbound_loss_pct: Some(0.3),
                avg_inbound_rtt_ms: Some(80.0),
                inbound_packets: Some(40_000),
                mos: Some(4.2),
                ..MediaStream::default()
            })
            .collect();
    } else {
        r.rating = Some(4.0);
        r.issues = vec!["AUDIO_LAG".into()];
    }
    r
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    GroupCommit,
    InsertPerReport,
}

async fn round(
    store: &Store,
    writer: &Writer,
    mode: Mode,
    clients: u64,
    secs: u64,
) -> (u64, Vec<Duration>) {
    let stop = Arc::new(AtomicBool::new(false));
    let seq = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (store, writer, stop, seq) = (store.clone(), writer.clone(), stop.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = report(seq.fetch_add(1, Ordering::Relaxed));
                let started = Instant::now();
                let ok = match mode {
                    Mode::GroupCommit => writer.submit(r).await.is_ok(),
                    Mode::InsertPerReport => store.insert_one(&r).await.is_ok(),
                };
                latencies.push(started.elapsed());
                assert!(ok, "{mode:?} failed to commit");
                done += 1;
            }
            (done, latencies)
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    let mut all = Vec::new();
    for t in tasks {
        let (n, l) = t.await.unwrap();
        total += n;
        all.extend(l);
    }
    (total, all)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let clients = env_or("CALLQ_BENCH_CLIENTS", 64);
    let secs = env_or("CALLQ_BENCH_SECS", 5);
    let pool = env_or("CALLQ_BENCH_POOL", 16) as u32;
    let (url, _cluster) = match std::env::var("CALLQ_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let c = pg::PgCluster::start_new(true);
            (c.url("postgres"), Some(c))
        }
    };
    let store = Store::open(
        &url,
        &StoreOptions {
            max_connections: pool,
            acquire_timeout: Duration::from_secs(30),
        },
    )
    .unwrap();
    store.migrate().await.unwrap();
    let writer = Writer::start(store.clone(), WriterConfig::default());
    println!("writer bench: {clients} producers, pool {pool}, {secs}s rounds, PostgreSQL fsync on");
    let mut totals = [(0u64, Vec::new()), (0u64, Vec::new())];
    for r in 0..2 {
        for (i, mode) in [Mode::InsertPerReport, Mode::GroupCommit]
            .into_iter()
            .enumerate()
        {
            let (n, l) = round(&store, &writer, mode, clients, secs).await;
            println!(
                "  round {} {:?}: {:.0} rows/s",
                r + 1,
                mode,
                n as f64 / secs as f64
            );
            totals[i].0 += n;
            totals[i].1.extend(l);
        }
    }
    let span = (2 * secs) as f64;
    let naive = totals[0].0 as f64 / span;
    let group = totals[1].0 as f64 / span;
    for (name, (_, lat)) in ["one INSERT per report", "group commit"]
        .iter()
        .zip(totals.iter_mut())
    {
        lat.sort();
        println!(
            "{name:>22}: {:>8.0} rows/s  p50 {:.2} ms  p99 {:.2} ms",
            if *name == "group commit" {
                group
            } else {
                naive
            },
            percentile(lat, 0.50),
            percentile(lat, 0.99)
        );
    }
    let stats = writer.stats();
    println!(
        "group commit: {} transactions, mean batch {:.1}, largest batch {}",
        stats.transactions,
        stats.reports_committed as f64 / stats.transactions.max(1) as f64,
        stats.largest_batch
    );
    println!(
        "RATIO group commit / one INSERT per report = {:.2}x (target >= 2x)",
        group / naive
    );
    writer.shutdown().await;
    let stored = store.count_reports("bench").await.unwrap() as u64;
    assert_eq!(
        stored,
        totals[0].0 + totals[1].0,
        "every committed report is stored"
    );
    println!("stored rows = committed rows = {stored}");
}
