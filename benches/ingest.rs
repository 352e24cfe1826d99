//! End-to-end ingest load: accepted, committed reports per second, and
//! where the CPU goes.
//!
//! Starts a durable (fsync on) throwaway PostgreSQL, then runs callq in a
//! child process (this same binary, re-executed with `--serve <mode>`, so its
//! peak RSS and CPU are callq's own) and drives it over loopback HTTP with N
//! concurrent clients sending a realistic mix:
//!
//! | share | request |
//! |---|---|
//! | 30 % | Plivo feedback (`POST /v1/Call/{uuid}/Feedback/`, JSON) |
//! | 20 % | UCWA publishCallQualityFeedback, JSON, with a 4 KB MS-QoE document |
//! | 20 % | UCWA reportMediaDiagnostics, XML |
//! | 30 % | Graph logTeleconferenceDeviceQuality, the seed body with 3 streams |
//!
//! Scenarios, all in one run (`CALLQ_BENCH_SCENARIOS` picks some):
//! `ceiling` (same server and routes, storage replaced by an immediate 2xx),
//! `naive` (one INSERT transaction per request), `callq` (group commit),
//! `storage` (callq's stored rows, read out beforehand, written back into a
//! fresh database with binary COPY in one transaction: what PostgreSQL can
//! take with no HTTP and no callq), `mixed` (callq while one reader loops
//! the dashboard overview and one the CSV export) and `overload` (4x the
//! clients against a write queue smaller than the client count). After each
//! storing run it counts the rows: every 2xx must be exactly one stored
//! report.
//!
//! Every row also shows CPU (user + system) per 1,000 committed reports of
//! PostgreSQL (the postmaster with its reaped children plus every live
//! child), of the callq child and of this load generator, over the load's
//! whole window (warm-up included), read from `/proc`.
//!
//! `cargo bench --bench ingest`; knobs: CALLQ_BENCH_CLIENTS (64),
//! CALLQ_BENCH_SECS (10), CALLQ_BENCH_WARMUP_SECS (2),
//! CALLQ_BENCH_OVERLOAD_QUEUE (64), CALLQ_BENCH_BACKEND (`postgres`, or
//! `sqlite` for the embedded default), CALLQ_BENCH_SCENARIOS (comma list of
//! `ceiling,naive,callq,storage,mixed,overload`; default all),
//! CALLQ_BENCH_VARIANTS (extra group-commit rows for A/B in one run:
//! `label:key=value,...;label2:...` with keys `exe`, `mode`, `env.NAME`,
//! `db.NAME`, `drop_index` (`a+b` for several); see docs/benchmarks.md),
//! CALLQ_BENCH_BASELINE (a path: shorthand for the variant
//! `baseline:exe=<path>`), CALLQ_BENCH_ROUNDS (1: callq and its variants
//! run that many times, in alternating order; the variant RATIO lines give
//! the medians of the per-round ratios).

#[path = "../tests/it/support/pg.rs"]
mod pg;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
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

/// The tables the group-commit writer fills, in an order their foreign keys
/// accept: what the storage ceiling copies.
const STORED_TABLES: [&str; 3] = ["ingest_claims", "reports", "media_streams"];

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
    // One arm per serve mode, so that a new write path is one more line here
    // and one `mode=<name>` in CALLQ_BENCH_VARIANTS.
    let mode = match mode {
        "discard" => IngestMode::Discard,
        "per-request" => IngestMode::InsertPerRequest,
        "group" => IngestMode::GroupCommit,
        other => panic!("unknown serve mode `{other}` (discard, per-request, group)"),
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

// ---------------------------------------------------------------- CPU from /proc

/// CPU seconds of processes, read from `/proc/<pid>/stat` (Linux).
mod cpu {
    use std::collections::HashMap;
    use std::sync::OnceLock;

    /// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), asked of `getconf`
    /// because the crate forbids `unsafe` (which a libc call would need).
    fn ticks_per_sec() -> f64 {
        static TICKS: OnceLock<f64> = OnceLock::new();
        *TICKS.get_or_init(|| {
            let out = std::process::Command::new("getconf")
                .arg("CLK_TCK")
                .output()
                .expect("run `getconf CLK_TCK` (libc-bin)");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("`getconf CLK_TCK` prints a number")
        })
    }

    /// The fields after the command name (field 3, `state`, is index 0),
    /// since the name in parentheses may itself hold spaces.
    fn fields(pid: &str) -> Option<Vec<String>> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &text[text.rfind(')')? + 1..];
        Some(rest.split_whitespace().map(str::to_owned).collect())
    }

    fn num(f: &[String], field: usize) -> u64 {
        f.get(field - 3).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// utime + stime (every thread), plus cutime + cstime (waited-for
    /// children) when `reaped` is set, in seconds.
    fn of(f: &[String], reaped: bool) -> f64 {
        let mut ticks = num(f, 14) + num(f, 15);
        if reaped {
            ticks += num(f, 16) + num(f, 17);
        }
        ticks as f64 / ticks_per_sec()
    }

    /// One process's own CPU (all its threads, not its children).
    pub fn process(pid: u32) -> f64 {
        fields(&pid.to_string()).map_or(0.0, |f| of(&f, false))
    }

    /// This process's own CPU (the load generator).
    pub fn this_process() -> f64 {
        fields("self").map_or(0.0, |f| of(&f, false))
    }

    /// A PostgreSQL cluster's CPU at one instant: the total, and each live
    /// child's share with its kind.
    #[derive(Clone, Default)]
    pub struct PgCpu {
        /// The postmaster including its reaped children (backends and
        /// workers that exited), plus every live child with its own reaped
        /// children. A backend that exits between two snapshots moves from
        /// the live sum into the postmaster's cutime, so the total only
        /// grows.
        pub total: f64,
        /// pid -> (kind, CPU seconds) of each live child.
        pub live: HashMap<u32, (&'static str, f64)>,
    }

    /// The kinds of [`breakdown`], in the order printed.
    pub const KINDS: [&str; 9] = [
        "backends",
        "parallel workers",
        "autovacuum",
        "walwriter",
        "checkpointer",
        "bgwriter",
        "io workers",
        "other",
        "postmaster+exited",
    ];

    /// A child's kind, from its process title (`postgres: walwriter`,
    /// `postgres: postgres bench_2 127.0.0.1(5432) idle` for a backend).
    fn kind_of(pid: &str) -> &'static str {
        let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let title = String::from_utf8_lossy(&title).replace('\0', " ");
        let t = title.strip_prefix("postgres: ").unwrap_or(&title);
        for (start, kind) in [
            ("walwriter", "walwriter"),
            ("checkpointer", "checkpointer"),
            ("background writer", "bgwriter"),
            ("autovacuum", "autovacuum"),
            ("parallel worker", "parallel workers"),
            ("io worker", "io workers"),
            ("logical replication", "other"),
            ("logger", "other"),
            ("archiver", "other"),
            ("walsender", "other"),
            ("walsummarizer", "other"),
        ] {
            if t.starts_with(start) {
                return kind;
            }
        }
        "backends"
    }

    pub fn postgres(postmaster: u32) -> PgCpu {
        let Some(master) = fields(&postmaster.to_string()) else {
            return PgCpu::default();
        };
        let mut cpu = PgCpu {
            total: of(&master, true),
            live: HashMap::new(),
        };
        let parent = postmaster.to_string();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            if let Some(f) = fields(pid)
                && f.get(1) == Some(&parent)
            {
                let secs = of(&f, true);
                cpu.total += secs;
                if let Ok(pid) = pid.parse() {
                    cpu.live.insert(pid, (kind_of(&pid.to_string()), secs));
                }
            }
        }
        cpu
    }

    /// CPU seconds between two snapshots by kind ([`KINDS`]): live children
    /// by their titles; what is left of the total (the postmaster itself and
    /// children that exited in between) as `postmaster+exited`.
    pub fn breakdown(before: &PgCpu, after: &PgCpu) -> Vec<(&'static str, f64)> {
        let mut by_kind: HashMap<&'static str, f64> = HashMap::new();
        let mut attributed = 0.0;
        for (pid, (kind, secs)) in &after.live {
            let earlier = before.live.get(pid).map_or(0.0, |(_, s)| *s);
            *by_kind.entry(kind).or_default() += secs - earlier;
            attributed += secs - earlier;
        }
        by_kind.insert(
            "postmaster+exited",
            (after.total - before.total) - attributed,
        );
        KINDS
            .iter()
            .filter_map(|k| by_kind.get(k).map(|v| (*k, *v)))
            .collect()
    }
}

/// CPU seconds of the three parties at one instant.
#[derive(Clone, Default)]
struct CpuSnap {
    pg: Option<cpu::PgCpu>,
    callq: Option<f64>,
    load: f64,
}

impl CpuSnap {
    fn take(postmaster: Option<u32>, callq: Option<u32>) -> CpuSnap {
        CpuSnap {
            pg: postmaster.map(cpu::postgres),
            callq: callq.map(cpu::process),
            load: cpu::this_process(),
        }
    }

    /// CPU milliseconds per 1,000 reports between `self` (start) and `end`.
    fn per_1000(&self, end: &CpuSnap, reports: u64) -> CpuPer1000 {
        let per = |a: Option<f64>, b: Option<f64>| -> Option<f64> {
            let (a, b) = (a?, b?);
            (reports > 0).then(|| (b - a) * 1e6 / reports as f64)
        };
        CpuPer1000 {
            pg: per(
                self.pg.as_ref().map(|c| c.total),
                end.pg.as_ref().map(|c| c.total),
            ),
            callq: per(self.callq, end.callq),
            load: per(Some(self.load), Some(end.load)),
        }
    }

    /// The line beneath a row: PostgreSQL's CPU per 1,000 reports by kind
    /// of process (none without PostgreSQL or reports).
    fn pg_line(&self, end: &CpuSnap, reports: u64) -> Option<String> {
        let (a, b) = (self.pg.as_ref()?, end.pg.as_ref()?);
        if reports == 0 {
            return None;
        }
        let parts: Vec<String> = cpu::breakdown(a, b)
            .into_iter()
            .filter(|(_, secs)| secs.abs() * 1e6 / reports as f64 >= 0.05)
            .map(|(kind, secs)| format!("{kind} {:.1}", secs * 1e6 / reports as f64))
            .collect();
        Some(format!(
            "{:<28} PG cpu by process (ms per 1,000): {}",
            "",
            parts.join(", ")
        ))
    }
}

/// CPU milliseconds per 1,000 committed reports.
#[derive(Clone, Copy, Default)]
struct CpuPer1000 {
    pg: Option<f64>,
    callq: Option<f64>,
    load: Option<f64>,
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1}"))
}

// ---------------------------------------------------------------- driver side

/// What a scenario runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Load {
    /// Ingest clients only.
    Ingest,
    /// Ingest clients plus the dashboard overview and CSV export readers.
    Mixed,
}

#[derive(Clone)]
struct Scenario {
    /// Its name in CALLQ_BENCH_SCENARIOS, or a variant's label.
    key: String,
    /// Its name in the table.
    name: String,
    mode: String,
    clients: usize,
    queue_capacity: Option<u64>,
    load: Load,
    /// Another bench binary to re-execute as the child (a variant's `exe`).
    exe: Option<PathBuf>,
    /// Extra environment of the child (`env.NAME=value`).
    env: Vec<(String, String)>,
    /// `ALTER DATABASE <db> SET name = value` before the child starts.
    db_settings: Vec<(String, String)>,
    /// Indexes dropped after the child is READY, before the load.
    drop_indexes: Vec<String>,
    variant: bool,
    /// Which round of `CALLQ_BENCH_ROUNDS` (0 for scenarios run once).
    round: usize,
}

impl Scenario {
    fn standard(key: &str, name: &str, mode: &str, clients: usize) -> Scenario {
        Scenario {
            key: key.to_owned(),
            name: name.to_owned(),
            mode: mode.to_owned(),
            clients,
            queue_capacity: None,
            load: Load::Ingest,
            exe: None,
            env: Vec::new(),
            db_settings: Vec::new(),
            drop_indexes: Vec::new(),
            variant: false,
            round: 0,
        }
    }
}

/// Parses CALLQ_BENCH_VARIANTS (and CALLQ_BENCH_BASELINE): each variant is
/// `label:key=value,key=value`, variants separated by `;`. Anything not
/// understood stops the bench: a typo must not silently measure the default.
fn parse_variants(clients: usize) -> Vec<Scenario> {
    let mut specs: Vec<String> = Vec::new();
    if let Ok(path) = std::env::var("CALLQ_BENCH_BASELINE")
        && !path.is_empty()
    {
        specs.push(format!("baseline:exe={path}"));
    }
    if let Ok(list) = std::env::var("CALLQ_BENCH_VARIANTS") {
        specs.extend(
            list.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
    }
    specs
        .iter()
        .map(|spec| {
            let (label, rest) = spec.split_once(':').unwrap_or((spec.as_str(), ""));
            let label = label.trim();
            assert!(!label.is_empty(), "CALLQ_BENCH_VARIANTS: `{spec}` has no label");
            let mut s = Scenario::standard(label, label, "group", clients);
            s.variant = true;
            for kv in rest.split(',').map(str::trim).filter(|kv| !kv.is_empty()) {
                let (k, v) = kv
                    .split_once('=')
                    .unwrap_or_else(|| panic!("CALLQ_BENCH_VARIANTS `{label}`: `{kv}` is not key=value"));
                let (k, v) = (k.trim(), v.trim());
                if k == "exe" {
                    // Absolute: the child runs in the bench's temporary
                    // directory, where a relative path would not resolve.
                    let exe = std::fs::canonicalize(v).unwrap_or_else(|e| {
                        panic!("CALLQ_BENCH_VARIANTS `{label}`: exe `{v}`: {e}")
                    });
                    s.exe = Some(exe);
                } else if k == "mode" {
                    s.mode = v.to_owned();
                } else if k == "drop_index" {
                    s.drop_indexes
                        .extend(v.split('+').filter(|i| !i.is_empty()).map(str::to_owned));
                } else if let Some(name) = k.strip_prefix("env.") {
                    s.env.push((name.to_owned(), v.to_owned()));
                } else if let Some(name) = k.strip_prefix("db.") {
                    assert!(
                        name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'),
                        "CALLQ_BENCH_VARIANTS `{label}`: `{name}` is not a setting name"
                    );
                    s.db_settings.push((name.to_owned(), v.to_owned()));
                } else {
                    panic!(
                        "CALLQ_BENCH_VARIANTS `{label}`: unknown key `{k}` (exe, mode, env.NAME, db.NAME, drop_index)"
                    );
                }
            }
            s
        })
        .collect()
}

/// One row of the table.
struct Row {
    rate: f64,
    cpu: CpuPer1000,
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

/// What the mixed scenario's two readers did (loops finished inside the
/// measured window; one still running at its end is not counted).
#[derive(Default)]
struct Readers {
    overview_us: Vec<u32>,
    overview_failed: u64,
    export_us: Vec<u32>,
    export_rows: Vec<u64>,
    export_failed: u64,
}

const ALL_SCENARIOS: [&str; 6] = ["ceiling", "naive", "callq", "storage", "mixed", "overload"];

fn selected_scenarios() -> Vec<String> {
    match std::env::var("CALLQ_BENCH_SCENARIOS") {
        Ok(list) if !list.trim().is_empty() => {
            let names: Vec<String> = list
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            for n in &names {
                assert!(
                    ALL_SCENARIOS.contains(&n.as_str()),
                    "CALLQ_BENCH_SCENARIOS: unknown scenario `{n}` (one of {ALL_SCENARIOS:?})"
                );
            }
            names
        }
        _ => ALL_SCENARIOS.iter().map(|s| s.to_string()).collect(),
    }
}

/// One line of the table; the header goes through the same widths.
macro_rules! table_line {
    ($($cell:expr),* $(,)?) => {
        println!(
            "{:<28} {:>7} {:>10} {:>8} {:>8} {:>8} {:>9} {:>16} {:>7} {:>10} {:>9}",
            $($cell),*
        )
    };
}

fn print_header() {
    table_line!(
        "scenario",
        "clients",
        "2xx/s",
        "p50 ms",
        "p99 ms",
        "503s",
        "RSS MiB",
        "stored/acked",
        "PG cpu",
        "callq cpu",
        "load cpu"
    );
}

#[allow(clippy::too_many_arguments)]
fn print_row(
    name: &str,
    clients: &str,
    rate: f64,
    p50: &str,
    p99: &str,
    unavailable: &str,
    rss: &str,
    stored: &str,
    cpu: &CpuPer1000,
) {
    table_line!(
        name,
        clients,
        format!("{rate:.0}"),
        p50,
        p99,
        unavailable,
        rss,
        stored,
        ms(cpu.pg),
        ms(cpu.callq),
        ms(cpu.load)
    );
}

/// A step of the run.
enum Step {
    Run(Box<Scenario>),
    /// The storage ceiling, from the rows of the callq scenario.
    Storage,
}

/// Everything a scenario needs that does not change between scenarios.
struct Bench {
    rt: tokio::runtime::Runtime,
    cluster: Option<pg::PgCluster>,
    postmaster: Option<u32>,
    dir: tempfile::TempDir,
    config: PathBuf,
    warmup: u64,
    secs: u64,
}

fn drive() {
    let clients = env_or("CALLQ_BENCH_CLIENTS", 64) as usize;
    let secs = env_or("CALLQ_BENCH_SECS", 10);
    let warmup = env_or("CALLQ_BENCH_WARMUP_SECS", 2);
    let overload_queue = env_or("CALLQ_BENCH_OVERLOAD_QUEUE", 64);
    // CALLQ_BENCH_BACKEND=sqlite measures the embedded default instead.
    let sqlite = std::env::var("CALLQ_BENCH_BACKEND").is_ok_and(|b| b == "sqlite");
    let selected = selected_scenarios();
    let on = |k: &str| selected.iter().any(|s| s == k);
    let variants = parse_variants(clients);
    let rounds = env_or("CALLQ_BENCH_ROUNDS", 1).max(1) as usize;
    let cluster = (!sqlite).then(|| pg::PgCluster::start_new(true));
    let postmaster = cluster.as_ref().map(|c| c.postmaster_pid());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[[tenants]]\nid = \"bench\"\nucwa = [{{ token = \"{UCWA_TOKEN}\" }}]\ngraph = [{{ token = \"{GRAPH_TOKEN}\" }}]\nplivo = [{{ auth_id = \"{PLIVO_ID}\", auth_token = \"{PLIVO_TOKEN}\" }}]\nops = [{{ token = \"{OPS_TOKEN}\" }}]\n"
        ),
    )
    .unwrap();

    let mut plan = Vec::new();
    if on("ceiling") {
        plan.push(Step::Run(Box::new(Scenario::standard(
            "ceiling",
            "HTTP ceiling (no storage)",
            "discard",
            clients,
        ))));
    }
    if on("naive") {
        plan.push(Step::Run(Box::new(Scenario::standard(
            "naive",
            "naive (INSERT per request)",
            "per-request",
            clients,
        ))));
    }
    // callq and its variants, right after one another so that the A/B
    // pairs run close in time; with several rounds the order alternates, so
    // that neither side always runs first (on a fresher machine, say).
    let mut ab = Vec::new();
    if on("callq") {
        ab.push(Scenario::standard(
            "callq",
            "callq (group commit)",
            "group",
            clients,
        ));
    }
    ab.extend(variants);
    for round in 0..rounds {
        let mut order: Vec<Scenario> = ab.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for mut s in order {
            s.round = round;
            if rounds > 1 {
                s.name = format!("{} #{}", s.name, round + 1);
            }
            plan.push(Step::Run(Box::new(s)));
        }
    }
    if on("storage") {
        plan.push(Step::Storage);
    }
    if on("mixed") {
        let mut s = Scenario::standard("mixed", "callq + dashboard + CSV", "group", clients);
        s.load = Load::Mixed;
        plan.push(Step::Run(Box::new(s)));
    }
    if on("overload") {
        let mut s = Scenario::standard(
            "overload",
            "callq overload (4x clients)",
            "group",
            clients * 4,
        );
        s.queue_capacity = Some(overload_queue);
        plan.push(Step::Run(Box::new(s)));
    }

    println!(
        "ingest bench: {clients} clients, {warmup}s warm-up + {secs}s measured per scenario; {}, same machine",
        if sqlite {
            "embedded SQLite (WAL, synchronous=FULL)"
        } else {
            "PostgreSQL, fsync on"
        }
    );
    println!(
        "cpu columns: CPU ms (user+system) per 1,000 committed reports over the whole load (warm-up included): PG = PostgreSQL, callq = the callq child, load = this load generator"
    );
    println!("load average at start: {}", load_average());
    print_header();
    let bench = Bench {
        rt: tokio::runtime::Runtime::new().unwrap(),
        cluster,
        postmaster,
        dir,
        config,
        warmup,
        secs,
    };
    // (scenario key, or `variant:<label>`; round; row)
    let mut rows: Vec<(String, usize, Row)> = Vec::new();
    let mut all_ok = true;
    let mut callq_db: Option<(String, u64)> = None;
    for (i, step) in plan.iter().enumerate() {
        match step {
            Step::Run(s) => {
                let (row, ok, stored) = bench.run(i, s);
                all_ok &= ok;
                if s.key == "callq" && !s.variant && s.round == 0 {
                    callq_db = stored.map(|n| (bench.url(&format!("bench_{i}")), n));
                }
                rows.push((
                    if s.variant {
                        format!("variant:{}", s.key)
                    } else {
                        s.key.clone()
                    },
                    s.round,
                    row,
                ));
            }
            Step::Storage => match (&bench.cluster, &callq_db) {
                (None, _) => println!(
                    "{:<28} skipped: binary COPY needs PostgreSQL",
                    "storage ceiling"
                ),
                (Some(_), None) => println!(
                    "{:<28} skipped: it copies the callq scenario's rows (add `callq` to CALLQ_BENCH_SCENARIOS)",
                    "storage ceiling"
                ),
                (Some(_), Some((url, stored))) => {
                    let (row, ok) = bench.storage_ceiling(i, url, *stored);
                    all_ok &= ok;
                    rows.push(("storage".to_owned(), 0, row));
                }
            },
        }
    }
    let get_in = |k: &str, round: usize| {
        rows.iter()
            .find(|(key, r, _)| key == k && *r == round)
            .map(|(_, _, row)| row)
    };
    let get = |k: &str| get_in(k, 0);
    if let (Some(callq), Some(naive)) = (get("callq"), get("naive")) {
        println!(
            "RATIO callq / naive   = {:.2}x (target >= 2.5x)",
            callq.rate / naive.rate
        );
    }
    if let (Some(callq), Some(ceiling)) = (get("callq"), get("ceiling")) {
        println!(
            "RATIO callq / ceiling = {:.1}% (target >= 20%)",
            100.0 * callq.rate / ceiling.rate
        );
    }
    if let (Some(callq), Some(storage)) = (get("callq"), get("storage")) {
        println!(
            "RATIO callq / storage ceiling = {:.1}% (rate); PG cpu per 1,000: callq {} ms, storage ceiling {} ms ({})",
            100.0 * callq.rate / storage.rate,
            ms(callq.cpu.pg),
            ms(storage.cpu.pg),
            ratio(callq.cpu.pg, storage.cpu.pg)
        );
    }
    let mut labels: Vec<&str> = Vec::new();
    for (key, _, _) in &rows {
        if let Some(label) = key.strip_prefix("variant:")
            && !labels.contains(&label)
        {
            labels.push(label);
        }
    }
    for label in labels {
        // Each round's variant against that round's callq.
        let (mut rate, mut pg) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            if let (Some(v), Some(c)) = (
                get_in(&format!("variant:{label}"), round),
                get_in("callq", round),
            ) {
                rate.push(v.rate / c.rate);
                if let (Some(a), Some(b)) = (v.cpu.pg, c.cpu.pg)
                    && b > 0.0
                {
                    pg.push(a / b);
                }
            }
        }
        if rate.is_empty() {
            continue;
        }
        let each = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let pg_text = if pg.is_empty() {
            "n/a".to_owned()
        } else {
            format!("{:.3}x", median(&pg))
        };
        if rounds > 1 {
            println!(
                "RATIO {label} / callq = {:.3}x (rate); PG cpu per 1,000 {pg_text} (medians of {} rounds; rate {}, PG cpu {})",
                median(&rate),
                rate.len(),
                each(&rate),
                each(&pg)
            );
        } else {
            let (v, c) = (
                get_in(&format!("variant:{label}"), 0).unwrap(),
                get("callq").unwrap(),
            );
            println!(
                "RATIO {label} / callq = {:.3}x (rate); PG cpu per 1,000 {pg_text} ({} ms vs {} ms)",
                rate[0],
                ms(v.cpu.pg),
                ms(c.cpu.pg)
            );
        }
    }
    println!("load average at end: {}", load_average());
    drop(bench);
    assert!(
        all_ok,
        "the bench found acknowledged reports missing or unexpected answers"
    );
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`): the machine is
/// shared, and every figure should be read with them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The median (the mean of the middle two for an even count).
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.3}x", a / b),
        _ => "n/a".to_owned(),
    }
}

impl Bench {
    /// The URL of database `db` (a file in the temporary directory on SQLite).
    fn url(&self, db: &str) -> String {
        match &self.cluster {
            Some(cluster) => cluster.url(db),
            None => format!(
                "sqlite:{}",
                self.dir.path().join(format!("{db}.db")).display()
            ),
        }
    }

    /// A new database for `db`, with `settings` (`ALTER DATABASE ... SET`).
    fn create(&self, db: &str, settings: &[(String, String)]) -> String {
        if let Some(cluster) = &self.cluster {
            let mut statements = vec![format!("CREATE DATABASE {db}")];
            for (name, value) in settings {
                statements.push(format!(
                    "ALTER DATABASE {db} SET {name} = '{}'",
                    value.replace('\'', "''")
                ));
            }
            execute(&self.rt, &cluster.url("postgres"), &statements);
        } else if !settings.is_empty() {
            println!("{:<28} db.* settings ignored on SQLite", "");
        }
        self.url(db)
    }

    /// `VACUUM (ANALYZE)` of a finished scenario's database, outside every
    /// window, so that autovacuum does not do that work (triggered by this
    /// scenario's inserts) inside the next scenario's window and charge it
    /// there. Autovacuum that starts inside a scenario's own window stays
    /// charged to it.
    fn settle(&self, url: &str) {
        if self.cluster.is_some() {
            execute(&self.rt, url, &["VACUUM (ANALYZE)".to_owned()]);
        }
    }

    /// A checkpoint, so that the dirty pages of what ran before are written
    /// now and not charged to what runs next.
    fn checkpoint(&self) {
        if let Some(cluster) = &self.cluster {
            execute(
                &self.rt,
                &cluster.url("postgres"),
                &["CHECKPOINT".to_owned()],
            );
        }
    }

    /// One scenario: its row, whether every check passed, and the stored count.
    fn run(&self, i: usize, s: &Scenario) -> (Row, bool, Option<u64>) {
        let url = self.create(&format!("bench_{i}"), &s.db_settings);
        let (mut child, addr) = spawn_server(&self.config, &url, s);
        if !s.drop_indexes.is_empty() {
            let statements: Vec<String> = s
                .drop_indexes
                .iter()
                .map(|ix| format!("DROP INDEX {ix}"))
                .collect();
            execute(&self.rt, &url, &statements);
        }
        // Built before the clock starts, so that the load generator spends
        // its CPU in the window on sending, not on formatting.
        let requests = Arc::new(Requests::new(&format!("http://{addr}")));
        self.checkpoint();
        let before = CpuSnap::take(self.postmaster, Some(child.id()));
        let (outcome, readers) = self.rt.block_on(load(
            addr.clone(),
            requests,
            s.clients,
            self.warmup,
            self.secs,
            s.load == Load::Mixed,
        ));
        let after = CpuSnap::take(self.postmaster, Some(child.id()));
        let rss_mib = peak_rss_kib(child.id()) as f64 / 1024.0;
        let stats_line = stop_server(&mut child);
        let stored = if s.mode == "discard" {
            None
        } else {
            Some(count_rows(&self.rt, &url))
        };
        self.settle(&url);
        let mut lat = outcome.latencies_us.clone();
        lat.sort_unstable();
        let rate = outcome.acked_in_window as f64 / self.secs as f64;
        let stored_text = match stored {
            Some(n) => format!("{n}/{}", outcome.acked),
            None => "n/a".to_string(),
        };
        // Without storage (the HTTP ceiling) the acknowledged requests stand
        // in for committed reports.
        let cpu = before.per_1000(&after, stored.unwrap_or(outcome.acked));
        print_row(
            &s.name,
            &s.clients.to_string(),
            rate,
            &format!("{:.2}", pct(&lat, 0.50)),
            &format!("{:.2}", pct(&lat, 0.99)),
            &outcome.unavailable.to_string(),
            &format!("{rss_mib:.1}"),
            &stored_text,
            &cpu,
        );
        if !stats_line.is_empty() {
            println!("{:<28} {}", "", stats_line);
        }
        if let Some(n) = stored
            && let Some(line) = before.pg_line(&after, n)
        {
            println!("{line}");
        }
        let mut ok = true;
        if let Some(n) = stored
            && n != outcome.acked
        {
            println!(
                "!! {}: {} acknowledged but {} stored",
                s.name, outcome.acked, n
            );
            ok = false;
        }
        // A CPU column that reads zero for a run that stored rows means the
        // /proc reading is broken (a wrong pid, say): say so, do not print
        // a plausible-looking table.
        if stored.is_some_and(|n| n > 0)
            && (cpu.pg.is_some_and(|v| v <= 0.0) || cpu.callq.is_some_and(|v| v <= 0.0))
        {
            println!(
                "!! {}: a CPU column reads 0 for a run that stored reports",
                s.name
            );
            ok = false;
        }
        if outcome.unexpected > 0 || outcome.unavailable_without_retry_after > 0 {
            println!(
                "!! {}: {} unexpected answers, {} 503s without Retry-After",
                s.name, outcome.unexpected, outcome.unavailable_without_retry_after
            );
            ok = false;
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
        if let Some(r) = readers {
            let mut overview = r.overview_us.clone();
            overview.sort_unstable();
            let mut export = r.export_us.clone();
            export.sort_unstable();
            let rows_text = match (r.export_rows.iter().min(), r.export_rows.iter().max()) {
                (Some(lo), Some(hi)) => format!("{lo}-{hi}"),
                _ => "n/a".to_owned(),
            };
            println!(
                "{:<28} readers: overview (6 stats, 24 h) {} loops, p50 {:.1} ms, p99 {:.1} ms, {} failed; CSV export (last hour) {} done, {} rows each, p50 {:.1} ms, {} failed",
                "",
                overview.len(),
                pct(&overview, 0.50),
                pct(&overview, 0.99),
                r.overview_failed,
                export.len(),
                rows_text,
                pct(&export, 0.50),
                r.export_failed
            );
            if r.overview_failed > 0 || r.export_failed > 0 {
                println!("!! {}: a reader got an error answer", s.name);
                ok = false;
            }
        }
        (Row { rate, cpu }, ok, stored)
    }

    /// The storage ceiling: the callq scenario's rows, read out with binary
    /// COPY into memory (not timed), written into a fresh database with
    /// callq's schema by binary COPY in one transaction (timed).
    fn storage_ceiling(&self, i: usize, source: &str, stored: u64) -> (Row, bool) {
        use sqlx::Connection;
        let name = "storage ceiling (COPY)";
        let data: Vec<Vec<u8>> = self.rt.block_on(async {
            use futures_util::TryStreamExt;
            let mut c = sqlx::PgConnection::connect(source).await.unwrap();
            let mut all = Vec::new();
            for table in STORED_TABLES {
                let mut buf = Vec::new();
                let mut out = c
                    .copy_out_raw(&format!(
                        "COPY (SELECT * FROM {table}) TO STDOUT (FORMAT binary)"
                    ))
                    .await
                    .unwrap();
                while let Some(chunk) = out.try_next().await.unwrap() {
                    buf.extend_from_slice(&chunk);
                }
                drop(out);
                all.push(buf);
            }
            c.close().await.unwrap();
            all
        });
        // callq's schema: migrations and the partitions it makes at start.
        let url = self.create(&format!("bench_{i}"), &[]);
        let s = Scenario::standard("storage", name, "group", 0);
        let (mut child, _) = spawn_server(&self.config, &url, &s);
        stop_server(&mut child);
        self.checkpoint();
        let (before, after, elapsed) = self.rt.block_on(async {
            // Connected before the clock starts: the window is the
            // transaction alone.
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let before = CpuSnap::take(self.postmaster, None);
            let started = Instant::now();
            let mut tx = c.begin().await.unwrap();
            for (table, buf) in STORED_TABLES.iter().zip(&data) {
                let mut copy = tx
                    .copy_in_raw(&format!("COPY {table} FROM STDIN (FORMAT binary)"))
                    .await
                    .unwrap();
                for chunk in buf.chunks(1 << 20) {
                    copy.send(chunk).await.unwrap();
                }
                copy.finish().await.unwrap();
            }
            tx.commit().await.unwrap();
            let elapsed = started.elapsed().as_secs_f64();
            let after = CpuSnap::take(self.postmaster, None);
            c.close().await.unwrap();
            (before, after, elapsed)
        });
        let copied = count_rows(&self.rt, &url);
        self.settle(&url);
        let rate = copied as f64 / elapsed;
        let cpu = before.per_1000(&after, copied);
        let mib = data.iter().map(Vec::len).sum::<usize>() as f64 / (1024.0 * 1024.0);
        print_row(
            name,
            "-",
            rate,
            "n/a",
            "n/a",
            "n/a",
            "n/a",
            &format!("{copied}/{stored}"),
            &cpu,
        );
        println!(
            "{:<28} {:.1} MiB of binary COPY data ({}) in one transaction, {:.2} s",
            "",
            mib,
            STORED_TABLES.join(", "),
            elapsed
        );
        if let Some(line) = before.pg_line(&after, copied) {
            println!("{line}");
        }
        let ok = copied == stored;
        if !ok {
            println!("!! {name}: {stored} rows read out but {copied} written");
        }
        (Row { rate, cpu }, ok)
    }
}

/// Runs `statements` one after another on a new connection to `url`.
fn execute(rt: &tokio::runtime::Runtime, url: &str, statements: &[String]) {
    use sqlx::Connection;
    rt.block_on(async {
        if url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            for st in statements {
                sqlx::query(st)
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("`{st}`: {e}"));
            }
            c.close().await.unwrap();
        } else {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            for st in statements {
                sqlx::query(st)
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("`{st}`: {e}"));
            }
            c.close().await.unwrap();
        }
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

fn spawn_server(config: &Path, url: &str, s: &Scenario) -> (Child, String) {
    let exe = s
        .exe
        .clone()
        .unwrap_or_else(|| std::env::current_exe().unwrap());
    let mut cmd = Command::new(&exe);
    cmd.arg("--serve")
        .arg(&s.mode)
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
    for (name, value) in &s.env {
        cmd.env(name, value);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn the callq child {}: {e}", exe.display()));
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("child {} says READY, not {line:?}", exe.display()))
        .to_owned();
    child.stdout = Some(out.into_inner());
    (child, addr)
}

/// Closes the child's stdin (a graceful shutdown) and returns its STATS line.
fn stop_server(child: &mut Child) -> String {
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
    stats_line
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
/// and PostgreSQL). Each of the `BODIES` bodies per kind has its own call id.
struct Requests {
    prepared: Vec<Prepared>,
}

const BODIES: u64 = 400;

impl Requests {
    fn new(base: &str) -> Requests {
        let plivo_auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{PLIVO_ID}:{PLIVO_TOKEN}"))
        );
        let diagnostics = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">\n  <property name=\"errorCode\">TooManyRequests</property>\n  <property name=\"errorSubcode\">MediaNegotiationFailure</property>\n</input>";
        let mut prepared = Vec::new();
        for n in 0..BODIES * 10 {
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

async fn load(
    addr: String,
    requests: Arc<Requests>,
    clients: usize,
    warmup: u64,
    secs: u64,
    with_readers: bool,
) -> (Outcome, Option<Readers>) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let start = Instant::now();
    let window_start = start + Duration::from_secs(warmup);
    let end = window_start + Duration::from_secs(secs);
    let readers = with_readers.then(|| {
        let base = format!("http://{addr}");
        tokio::spawn(read_load(base, window_start, end))
    });
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
    let readers = match readers {
        Some(r) => Some(r.await.unwrap()),
        None => None,
    };
    (total, readers)
}

/// An instant as the read API takes it, whole seconds, UTC.
fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The `until` the dashboard asks for: the next whole minute, so that the
/// reports of the last seconds count (ui/overview.js `chosenRange`).
fn next_minute() -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now().timestamp();
    chrono::DateTime::from_timestamp((now / 60 + 1) * 60, 0).expect("a valid time")
}

/// The mixed scenario's readers, from the start of the measured window to
/// its end: one loops the dashboard overview (the six `/api/v1/stats`
/// requests `ui/overview.js` `render` sends in parallel, last 24 h), one
/// loops the CSV export of the last hour (everything stored so far), reading
/// each body to its end. A loop still running at the end is dropped.
async fn read_load(base: String, window_start: Instant, end: Instant) -> Readers {
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    tokio::time::sleep_until(window_start.into()).await;
    let overview = {
        let (client, base) = (client.clone(), base.clone());
        tokio::spawn(async move {
            let (mut done, mut failed) = (Vec::new(), 0u64);
            while Instant::now() < end {
                let until = next_minute();
                let since = until - chrono::Duration::hours(24);
                let range = format!("since={}&until={}", rfc3339(since), rfc3339(until));
                let asked = [
                    "group_by=hour",
                    "",
                    "protocol=plivo",
                    "protocol=ucwa&group_by=error_code",
                    "protocol=ucwa&group_by=error_subcode",
                    "group_by=device",
                ]
                .map(|extra| {
                    let url = format!("{base}/api/v1/stats?{range}&{extra}");
                    let client = client.clone();
                    async move {
                        let r = client.get(url).bearer_auth(OPS_TOKEN).send().await.ok()?;
                        let ok = r.status().as_u16() == 200;
                        let body = r.bytes().await.ok()?;
                        (ok && !body.is_empty()).then_some(())
                    }
                });
                let started = Instant::now();
                match tokio::time::timeout_at(end.into(), futures_util::future::join_all(asked))
                    .await
                {
                    Ok(answers) if answers.iter().all(Option::is_some) => {
                        done.push(started.elapsed().as_micros() as u32)
                    }
                    Ok(_) => {
                        failed += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(_) => break,
                }
            }
            (done, failed)
        })
    };
    let export = tokio::spawn(async move {
        let (mut done, mut rows, mut failed) = (Vec::new(), Vec::new(), 0u64);
        while Instant::now() < end {
            let until = next_minute();
            let since = chrono::Utc::now() - chrono::Duration::hours(1);
            let url = format!(
                "{base}/api/v1/reports?format=csv&since={}&until={}",
                rfc3339(since),
                rfc3339(until)
            );
            let started = Instant::now();
            let one = async {
                let mut r = client.get(url).bearer_auth(OPS_TOKEN).send().await.ok()?;
                if r.status().as_u16() != 200 {
                    return None;
                }
                let mut records = CsvRecords::default();
                while let Some(chunk) = r.chunk().await.ok()? {
                    records.feed(&chunk);
                }
                Some(records.rows())
            };
            match tokio::time::timeout_at(end.into(), one).await {
                Ok(Some(n)) => {
                    done.push(started.elapsed().as_micros() as u32);
                    rows.push(n);
                }
                Ok(None) => {
                    failed += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(_) => break,
            }
        }
        (done, rows, failed)
    });
    let (overview_us, overview_failed) = overview.await.unwrap();
    let (export_us, export_rows, export_failed) = export.await.unwrap();
    Readers {
        overview_us,
        overview_failed,
        export_us,
        export_rows,
        export_failed,
    }
}

/// Counts CSV records as the body streams by: line ends outside quoted
/// cells (a doubled quote inside a cell toggles twice, so it nets out).
#[derive(Default)]
struct CsvRecords {
    in_quotes: bool,
    line_ends: u64,
}

impl CsvRecords {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => self.line_ends += 1,
                _ => {}
            }
        }
    }

    /// Data rows: every record but the header.
    fn rows(&self) -> u64 {
        self.line_ends.saturating_sub(1)
    }
}
