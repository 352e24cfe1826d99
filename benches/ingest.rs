//! End-to-end ingest load: accepted, committed reports per second.
//!
//! Starts a durable (fsync on) throwaway PostgreSQL, then runs callq in a
//! child process (this same binary, re-executed with `--serve <mode>`, so its
//! peak RSS is callq's own) and drives it over loopback HTTP with N
//! concurrent clients sending a realistic mix:
//!
//! | share | request |
//! |---|---|
//! | 30 % | Plivo feedback (`POST /v1/Call/{uuid}/Feedback/`, JSON) |
//! | 20 % | UCWA publishCallQualityFeedback, JSON, with a 4 KB MS-QoE document |
//! | 20 % | UCWA reportMediaDiagnostics, XML |
//! | 30 % | Graph logTeleconferenceDeviceQuality, the seed body with 3 streams |
//!
//! Scenarios, all in one run: the HTTP ceiling (same server and routes,
//! storage replaced by an immediate 2xx), the naive design (one INSERT
//! transaction per request), callq (group commit), and an overload run with
//! 4x the clients against a write queue smaller than the client count. After
//! each storing run it counts the rows: every 2xx must be exactly one stored
//! report.
//!
//! `cargo bench --bench ingest`; knobs: CALLQ_BENCH_CLIENTS (64),
//! CALLQ_BENCH_SECS (10), CALLQ_BENCH_WARMUP_SECS (2),
//! CALLQ_BENCH_OVERLOAD_QUEUE (64), CALLQ_BENCH_BACKEND (`postgres`, or
//! `sqlite` for the embedded default).

#[path = "../tests/it/support/pg.rs"]
mod pg;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use callq::app::Server;
use callq::ingest::IngestMode;

const UCWA_TOKEN: &str = "cwt=bench-ucwa-token-0123456789abcdef";
const GRAPH_TOKEN: &str = "bench-graph-token-0123456789abcdef";
const PLIVO_ID: &str = "MABENCHBENCHBENCHBE0";
const PLIVO_TOKEN: &str = "bench-plivo-token-0123456789abcdef";
const OPS_TOKEN: &str = "bench-ops-token-0123456789abcdef";
const QOE: &str = include_str!("../tests/data/ms-qoe-sample.xml");
const GRAPH_BODY: &str = include_str!("../tests/data/graph-seed-002.json");
const GRAPH_CALL: &str = "0622673d-9f69-49b3-9d4f-5ec64f42ecce";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        serve(args.get(i + 1).map(String::as_str).unwrap_or("group"));
        return;
    }
    drive();
}

// ---------------------------------------------------------------- server side

/// The child: callq with the given ingest mode until stdin closes.
fn serve(mode: &str) {
    let mode = match mode {
        "discard" => IngestMode::Discard,
        "per-request" => IngestMode::InsertPerRequest,
        _ => IngestMode::GroupCommit,
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let path = std::env::var_os("CALLQ_CONFIG").map(std::path::PathBuf::from);
        let loaded = callq::config::load(path.as_deref()).expect("bench config");
        let server = Server::start_with(loaded.settings, mode)
            .await
            .expect("callq starts");
        println!("READY {}", server.addr());
        std::io::stdout().flush().unwrap();
        // The driver closes our stdin to ask for a graceful shutdown.
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin()
                .read_line(&mut sink)
                .map(|n| n > 0)
                .unwrap_or(false)
            {}
        })
        .await
        .unwrap();
        let stats = server.state().writer.stats();
        server.shutdown().await;
        println!(
            "STATS transactions={} committed={} largest_batch={} rejected_overload={}",
            stats.transactions,
            stats.reports_committed,
            stats.largest_batch,
            stats.rejected_overload
        );
    });
}

// ---------------------------------------------------------------- driver side

struct Scenario {
    name: &'static str,
    mode: &'static str,
    clients: usize,
    queue_capacity: Option<u64>,
}

#[derive(Default)]
struct Outcome {
    acked: u64,
    acked_in_window: u64,
    unavailable: u64,
    unavailable_without_retry_after: u64,
    unexpected: u64,
    latencies_us: Vec<u32>,
}

fn drive() {
    let clients = env_or("CALLQ_BENCH_CLIENTS", 64) as usize;
    let secs = env_or("CALLQ_BENCH_SECS", 10);
    let warmup = env_or("CALLQ_BENCH_WARMUP_SECS", 2);
    let overload_queue = env_or("CALLQ_BENCH_OVERLOAD_QUEUE", 64);
    // CALLQ_BENCH_BACKEND=sqlite measures the embedded default instead.
    let sqlite = std::env::var("CALLQ_BENCH_BACKEND").is_ok_and(|b| b == "sqlite");
    let cluster = (!sqlite).then(|| pg::PgCluster::start_new(true));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[[tenants]]\nid = \"bench\"\nucwa = [{{ token = \"{UCWA_TOKEN}\" }}]\ngraph = [{{ token = \"{GRAPH_TOKEN}\" }}]\nplivo = [{{ auth_id = \"{PLIVO_ID}\", auth_token = \"{PLIVO_TOKEN}\" }}]\nops = [{{ token = \"{OPS_TOKEN}\" }}]\n"
        ),
    )
    .unwrap();
    let scenarios = [
        Scenario {
            name: "HTTP ceiling (no storage)",
            mode: "discard",
            clients,
            queue_capacity: None,
        },
        Scenario {
            name: "naive (INSERT per request)",
            mode: "per-request",
            clients,
            queue_capacity: None,
        },
        Scenario {
            name: "callq (group commit)",
            mode: "group",
            clients,
            queue_capacity: None,
        },
        Scenario {
            name: "callq overload (4x clients)",
            mode: "group",
            clients: clients * 4,
            queue_capacity: Some(overload_queue),
        },
    ];
    println!(
        "ingest bench: {clients} clients, {warmup}s warm-up + {secs}s measured per scenario; {}, same machine",
        if sqlite {
            "embedded SQLite (WAL, synchronous=FULL)"
        } else {
            "PostgreSQL, fsync on"
        }
    );
    println!(
        "{:<28} {:>7} {:>10} {:>8} {:>8} {:>8} {:>9} {:>16}",
        "scenario", "clients", "2xx/s", "p50 ms", "p99 ms", "503s", "RSS MiB", "stored/acked"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut rates = Vec::new();
    let mut all_ok = true;
    for (i, s) in scenarios.iter().enumerate() {
        let db = format!("bench_{i}");
        let url = match &cluster {
            Some(cluster) => {
                create_database(&rt, &cluster.url("postgres"), &db);
                cluster.url(&db)
            }
            None => format!("sqlite:{}", dir.path().join(format!("{db}.db")).display()),
        };
        let (mut child, addr) = spawn_server(&config, &url, s);
        let outcome = rt.block_on(load(addr.clone(), s.clients, warmup, secs));
        let rss_mib = peak_rss_kib(child.id()) as f64 / 1024.0;
        drop(child.stdin.take());
        let mut stats_line = String::new();
        if let Some(out) = child.stdout.take() {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.starts_with("STATS") {
                    stats_line = line;
                }
            }
        }
        let _ = child.wait();
        let stored = if s.mode == "discard" {
            None
        } else {
            Some(count_rows(&rt, &url))
        };
        let mut lat = outcome.latencies_us.clone();
        lat.sort_unstable();
        let rate = outcome.acked_in_window as f64 / secs as f64;
        rates.push(rate);
        let stored_text = match stored {
            Some(n) => format!("{n}/{}", outcome.acked),
            None => "n/a".to_string(),
        };
        println!(
            "{:<28} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>8} {:>9.1} {:>16}",
            s.name,
            s.clients,
            rate,
            pct(&lat, 0.50),
            pct(&lat, 0.99),
            outcome.unavailable,
            rss_mib,
            stored_text
        );
        if !stats_line.is_empty() {
            println!("{:<28} {}", "", stats_line);
        }
        if let Some(n) = stored
            && n != outcome.acked
        {
            println!(
                "!! {}: {} acknowledged but {} stored",
                s.name, outcome.acked, n
            );
            all_ok = false;
        }
        if outcome.unexpected > 0 || outcome.unavailable_without_retry_after > 0 {
            println!(
                "!! {}: {} unexpected answers, {} 503s without Retry-After",
                s.name, outcome.unexpected, outcome.unavailable_without_retry_after
            );
            all_ok = false;
        }
        if s.queue_capacity.is_some() {
            println!(
                "{:<28} overload: {} answered 503 + Retry-After, peak RSS {:.1} MiB (target <= 256), acknowledged but missing: {}",
                "",
                outcome.unavailable,
                rss_mib,
                stored.map_or(0, |n| outcome.acked.saturating_sub(n))
            );
        }
    }
    let (ceiling, naive, callq) = (rates[0], rates[1], rates[2]);
    println!(
        "RATIO callq / naive   = {:.2}x (target >= 2.5x)",
        callq / naive
    );
    println!(
        "RATIO callq / ceiling = {:.1}% (target >= 20%)",
        100.0 * callq / ceiling
    );
    drop(cluster);
    assert!(
        all_ok,
        "the bench found acknowledged reports missing or unexpected answers"
    );
}

fn create_database(rt: &tokio::runtime::Runtime, admin: &str, db: &str) {
    use sqlx::Connection;
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&mut c)
            .await
            .unwrap();
    });
}

fn count_rows(rt: &tokio::runtime::Runtime, url: &str) -> u64 {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        return rt.block_on(async {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM reports WHERE tenant = 'bench'")
                .fetch_one(&mut c)
                .await
                .unwrap();
            n as u64
        });
    }
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM reports WHERE tenant = 'bench'")
            .fetch_one(&mut c)
            .await
            .unwrap();
        n as u64
    })
}

fn spawn_server(config: &std::path::Path, url: &str, s: &Scenario) -> (Child, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.arg("--serve")
        .arg(s.mode)
        .env("CALLQ_CONFIG", config)
        .env("CALLQ_DATABASE_URL", url)
        .env("CALLQ_LISTEN", "127.0.0.1:0")
        .env("CALLQ_DATABASE_MAX_CONNECTIONS", "16")
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd.current_dir(config.parent().unwrap());
    if let Some(q) = s.queue_capacity {
        cmd.env("CALLQ_QUEUE_CAPACITY", q.to_string());
        // This run measures the global queue bound with a single tenant;
        // per-tenant fairness (429) is tested in tests/it/connections.rs.
        cmd.env("CALLQ_TENANT_QUEUE_SHARE", "1.0");
    }
    let mut child = cmd.spawn().expect("spawn the callq child");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("READY ")
        .expect("child says READY")
        .to_owned();
    child.stdout = Some(out.into_inner());
    (child, addr)
}

/// Peak resident set (VmHWM) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

/// One prepared request: where it goes, its headers and body, and the 2xx it should get.
struct Prepared {
    url: String,
    authorization: String,
    content_type: &'static str,
    body: bytes::Bytes,
    expected: u16,
}

/// The mix, built before the clock starts so that the load generator spends
/// its CPU on sending, not on formatting (it shares the machine with callq
/// and PostgreSQL). Each of the `VARIANTS` bodies per kind has its own call id.
struct Requests {
    prepared: Vec<Prepared>,
}

const VARIANTS: u64 = 400;

impl Requests {
    fn new(base: &str) -> Requests {
        let plivo_auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{PLIVO_ID}:{PLIVO_TOKEN}"))
        );
        let diagnostics = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">\n  <property name=\"errorCode\">TooManyRequests</property>\n  <property name=\"errorSubcode\">MediaNegotiationFailure</property>\n</input>";
        let mut prepared = Vec::new();
        for n in 0..VARIANTS * 10 {
            let id = uuid::Uuid::new_v4();
            prepared.push(match n % 10 {
                0..=2 => Prepared {
                    url: format!("{base}/v1/Call/{id}/Feedback/"),
                    authorization: plivo_auth.clone(),
                    content_type: "application/json",
                    body: format!(
                        "{{\"issues\": [\"AUDIO_LAG\", \"ECHO\"], \"rating\": \"{}\", \"notes\": \"bench call {n}\"}}",
                        1 + n % 4
                    )
                    .into(),
                    expected: 201,
                },
                3..=4 => Prepared {
                    url: format!(
                        "{base}/ucwa/v1/applications/{n}/communication/conversations/{id}/audioVideo/audioVideoSession/publishCallQualityFeedback"
                    ),
                    authorization: format!("Bearer {UCWA_TOKEN}"),
                    content_type: "application/json",
                    body: serde_json::json!({"mediaEndpoint": format!("endpoint-{n}"), "mediaQualityOfExperience": QOE})
                        .to_string()
                        .into(),
                    expected: 204,
                },
                5..=6 => Prepared {
                    url: format!(
                        "{base}/ucwa/v1/applications/{n}/communication/conversations/{id}/audioVideo/reportMediaDiagnostics"
                    ),
                    authorization: format!("Bearer {UCWA_TOKEN}"),
                    content_type: "application/xml",
                    body: diagnostics.into(),
                    expected: 204,
                },
                _ => Prepared {
                    url: format!("{base}/v1.0/communications/calls/logTeleconferenceDeviceQuality"),
                    authorization: format!("Bearer {GRAPH_TOKEN}"),
                    content_type: "application/json",
                    body: GRAPH_BODY.replace(GRAPH_CALL, &id.to_string()).into(),
                    expected: 200,
                },
            });
        }
        Requests { prepared }
    }

    /// The n-th request of the mix and the status it should get. The mix
    /// repeats its bodies, so each request gets its own query string: an
    /// identical request within the retry window would be (rightly) taken
    /// for a retry and stored once.
    fn build(&self, client: &reqwest::Client, n: u64) -> (reqwest::RequestBuilder, u16) {
        let p = &self.prepared[(n % self.prepared.len() as u64) as usize];
        (
            client
                .post(format!("{}?n={n}", p.url))
                .header("authorization", &p.authorization)
                .header("content-type", p.content_type)
                .header("user-agent", "callq-bench/1.0")
                .body(p.body.clone()),
            p.expected,
        )
    }
}

async fn load(addr: String, clients: usize, warmup: u64, secs: u64) -> Outcome {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let requests = Arc::new(Requests::new(&format!("http://{addr}")));
    let start = Instant::now();
    let window_start = start + Duration::from_secs(warmup);
    let end = window_start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let requests = requests.clone();
        tasks.push(tokio::spawn(async move {
            let mut o = Outcome::default();
            let mut n = c as u64;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let (request, expected) = requests.build(&client, n);
                n += clients as u64;
                let sent = Instant::now();
                let response = request.send().await;
                let done = Instant::now();
                let in_window = sent >= window_start && done <= end;
                match response {
                    Ok(r) if r.status().as_u16() == expected => {
                        o.acked += 1;
                        if in_window {
                            o.acked_in_window += 1;
                            o.latencies_us.push((done - sent).as_micros() as u32);
                        }
                    }
                    Ok(r) if r.status().as_u16() == 503 => {
                        o.unavailable += 1;
                        if !r.headers().contains_key("retry-after") {
                            o.unavailable_without_retry_after += 1;
                        }
                        // A polite client backs off a little.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Ok(r) => {
                        o.unexpected += 1;
                        if o.unexpected <= 3 {
                            let status = r.status();
                            let body = r.text().await.unwrap_or_default();
                            eprintln!("unexpected {status} (wanted {expected}): {body:.200}");
                        }
                    }
                    Err(e) => {
                        o.unexpected += 1;
                        if o.unexpected <= 3 {
                            eprintln!("request failed: {e}");
                        }
                    }
                }
            }
            o
        }));
    }
    let mut total = Outcome::default();
    for t in tasks {
        let o = t.await.unwrap();
        total.acked += o.acked;
        total.acked_in_window += o.acked_in_window;
        total.unavailable += o.unavailable;
        total.unavailable_without_retry_after += o.unavailable_without_retry_after;
        total.unexpected += o.unexpected;
        total.latencies_us.extend(o.latencies_us);
    }
    total
}
