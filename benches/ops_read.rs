//! Ops read API on a large table: 1,000,000 reports on PostgreSQL, then the
//! time of `GET /api/v1/stats` over one day and of `GET /api/v1/calls/{id}`,
//! over real HTTP against the real server.
//!
//! The table is filled through `Store::insert_batch` (the writer's own
//! multi-row insert) in large batches, spread evenly over CALLQ_BENCH_DAYS
//! days (default 30), three styles mixed, four reports per call. A second
//! tenant holds a tenth as many, so tenant filtering is exercised too. The
//! cluster is durable (fsync on), as in production.
//!
//! `cargo bench --bench ops_read` (CALLQ_BENCH_REPORTS to change the count;
//! CALLQ_TEST_DATABASE_URL to use your own server instead of a throwaway one).

#[path = "../tests/it/support/pg.rs"]
mod pg;
// The dashboard tests' WebDriver client, to time the overview as a person
// sees it: in headless Chromium, from navigation to every chart drawn.
#[path = "../tests/it/support/browser.rs"]
#[allow(dead_code)]
mod browser;

use std::time::{Duration, Instant};

use callq::app::Server;
use callq::config::{OpsCredential, Settings, Tenant};
use callq::model::{Kind, MediaStream, Modality, Protocol, Report};
use callq::store::{Store, StoreOptions};
use chrono::{DateTime, Utc};

const OPS_TOKEN: &str = "ops-token-bench-0123456789";
const BATCH: usize = 5_000;
const REPORTS_PER_CALL: u64 = 4;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn start() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

const ISSUES: [&str; 6] = [
    "ECHO",
    "AUDIO_LAG",
    "BROKEN_AUDIO",
    "ONE_WAY_AUDIO",
    "ROBOTIC_AUDIO",
    "CALL_DROPPED",
];

/// Report `n` of `total` for `tenant`: a realistic mix of the three styles.
fn report(tenant: &str, n: u64, total: u64, days: u64) -> Report {
    let span_us = (days * 86_400_000_000) as i64;
    let received_at = start() + chrono::Duration::microseconds(span_us / total as i64 * n as i64);
    let call = format!("call-{:010}", n / REPORTS_PER_CALL);
    // A cheap deterministic spread of values.
    let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    let f = (h % 1000) as f64 / 1000.0;
    let (protocol, kind) = match n % REPORTS_PER_CALL {
        0 => (Protocol::Plivo, Kind::Feedback),
        1 => (Protocol::Graph, Kind::DeviceQuality),
        2 => (Protocol::Ucwa, Kind::Feedback),
        _ => (Protocol::Ucwa, Kind::Diagnostics),
    };
    let payload = format!(
        "{{\"n\":{n},\"call\":\"{call}\",\"pad\":\"{}\"}}",
        "x".repeat(200)
    );
    let mut r = Report::new(tenant, protocol, kind, call, payload);
    r.received_at = received_at;
    // Packet counts spread from 100 to ~30,000, so some streams are too short to be Poor.
    let packets = Some(100 + (h % 30_000) as i64);
    let audio = |jitter: f64, loss: f64, rtt: f64, mos: f64| MediaStream {
        ordinal: 0,
        modality: Some(Modality::Audio),
        inbound_packets: packets,
        outbound_packets: packets,
        avg_inbound_jitter_ms: Some(jitter),
        max_inbound_jitter_ms: Some(jitter * 3.0),
        avg_inbound_loss_pct: Some(loss),
        max_inbound_loss_pct: Some(loss * 4.0),
        avg_inbound_rtt_ms: Some(rtt),
        mos: Some(mos),
        ..MediaStream::default()
    };
    match (protocol, kind) {
        (Protocol::Plivo, _) => {
            let rating = 1.0 + (h % 9) as f64 / 2.0;
            r.rating = Some(rating);
            if rating < 5.0 {
                r.issues = vec![ISSUES[(h % 6) as usize].to_owned()];
                if h.is_multiple_of(3) {
                    r.issues.push(ISSUES[((h / 7) % 6) as usize].to_owned());
                    r.issues.dedup();
                }
            }
            r.notes = Some("bench".into());
        }
        (Protocol::Graph, _) => {
            r.device_name = Some(
                if h.is_multiple_of(2) {
                    "Cisco SX80"
                } else {
                    "Poly G7500"
                }
                .into(),
            );
            r.streams = vec![
                audio(5.0 + 60.0 * f, 3.0 * f * f, 40.0 + 300.0 * f, 4.4 - 1.8 * f),
                MediaStream {
                    ordinal: 1,
                    modality: Some(Modality::Video),
                    avg_outbound_jitter_ms: Some(8.0 + 10.0 * f),
                    avg_outbound_bitrate_bps: Some(1.5e6),
                    ..MediaStream::default()
                },
            ];
        }
        (_, Kind::Feedback) => {
            r.media_quality_of_experience = Some("<VQReportEvent/>".into());
            r.streams = vec![audio(
                3.0 + 40.0 * f,
                2.0 * f,
                30.0 + 200.0 * f,
                4.3 - 1.5 * f,
            )];
        }
        _ => {
            let (code, subcode) = ERRORS[(h % ERRORS.len() as u64) as usize];
            r.error_code = Some(code.into());
            r.error_subcode = Some(subcode.into());
        }
    }
    // What `AppState::commit` does for every accepted report: MOS and class.
    r.derive_stream_quality();
    r
}

const ERRORS: [(&str, &str); 5] = [
    ("BadRequest", "InviteesOnly"),
    ("ServiceFailure", "CallbackChannelError"),
    ("Timeout", "MediaNegotiationTimeOut"),
    ("RemoteFailure", "MediaFailure"),
    ("Gone", "Ended"),
];

async fn fill(store: &Store, tenant: &str, total: u64, days: u64) {
    let started = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    for n in 0..total {
        batch.push(report(tenant, n, total, days));
        if batch.len() == BATCH || n + 1 == total {
            store.insert_batch(&batch).await.expect("insert a batch");
            batch.clear();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "filled {total} reports for {tenant} in {secs:.1} s ({:.0} reports/s)",
        total as f64 / secs
    );
}

async fn database_url() -> String {
    if let Ok(url) = std::env::var("CALLQ_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        return pg::fresh_database().await;
    }
    use sqlx::Connection;
    // Durable: fsync on, as in production. Leaked so the cluster lives (and
    // its watchdog cleans up) until the process ends.
    let cluster: &'static pg::PgCluster = Box::leak(Box::new(pg::PgCluster::start_new(true)));
    let mut conn = sqlx::PgConnection::connect(&cluster.url("postgres"))
        .await
        .expect("connect to the bench cluster");
    sqlx::query("CREATE DATABASE callq_ops_read")
        .execute(&mut conn)
        .await
        .expect("create the bench database");
    cluster.url("callq_ops_read")
}

struct Timing {
    runs: Vec<Duration>,
}

impl Timing {
    fn line(&self, what: &str) -> String {
        let mut v = self.runs.clone();
        v.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{what:<58} min {:>8.1} ms   median {:>8.1} ms   max {:>8.1} ms   ({} runs)",
            ms(v[0]),
            ms(v[v.len() / 2]),
            ms(v[v.len() - 1]),
            v.len()
        )
    }
}

/// Times `runs` GETs of `path`, checking each answers 200; returns the
/// timings and the last body.
async fn time_get(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    runs: usize,
) -> (Timing, String) {
    let mut timing = Timing { runs: Vec::new() };
    let mut body = String::new();
    for _ in 0..runs {
        let started = Instant::now();
        let response = client
            .get(format!("{base}{path}"))
            .bearer_auth(OPS_TOKEN)
            .send()
            .await
            .expect("request");
        let status = response.status();
        body = response.text().await.expect("body");
        timing.runs.push(started.elapsed());
        assert_eq!(status, 200, "{path}: {body}");
    }
    (timing, body)
}

#[tokio::main]
async fn main() {
    let total = env_or("CALLQ_BENCH_REPORTS", 1_000_000);
    let days = env_or("CALLQ_BENCH_DAYS", 30).max(2);
    let url = database_url().await;
    let store = Store::open(&url, &StoreOptions::default()).expect("open");
    store.migrate().await.expect("migrate");
    fill(&store, "acme", total, days).await;
    fill(&store, "globex", total / 10, days).await;
    // What autovacuum does shortly after a bulk load in production.
    if let Store::Postgres(pool) = &store {
        sqlx::query("ANALYZE").execute(pool).await.expect("analyze");
    }
    store.close().await;

    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(url),
        tenants: vec![
            Tenant {
                id: "acme".into(),
                ucwa: vec![],
                graph: vec![],
                plivo: vec![],
                ops: vec![OpsCredential {
                    token: OPS_TOKEN.parse().expect("a long enough token"),
                }],
            },
            Tenant {
                id: "globex".into(),
                ucwa: vec![],
                graph: vec![],
                plivo: vec![],
                ops: vec![],
            },
        ],
        // The 7- and 30-day overviews over 1M reports take longer than the
        // default read statement timeout (10 s), and their five parallel
        // requests would wait past the read pool's 3 s acquire time on the
        // default 4 connections: both answer 503 with the defaults. Give the
        // bench room to measure them (on two cores, 8 connections instead
        // of 4 change nothing for the short ranges: the CPU is the limit).
        // Rollups for long ranges are issue 13.
        read_statement_timeout_secs: 120,
        database_read_max_connections: 8,
        ..Settings::default()
    };
    let server = Server::start(settings).await.expect("callq starts");
    let base = format!("http://{}", server.addr());
    let client = reqwest::Client::new();

    // A full day in the middle of the filled span.
    let middle = start() + chrono::Duration::days((days / 2) as i64);
    let day = format!(
        "since={}&until={}",
        middle.format("%Y-%m-%d"),
        (middle + chrono::Duration::days(1)).format("%Y-%m-%d")
    );
    println!(
        "\nacme: {total} reports over {days} days (~{} a day); globex: {}",
        total / days,
        total / 10
    );
    let mut lines = Vec::new();
    for (what, path) in [
        (
            "GET /api/v1/stats (one day)",
            format!("/api/v1/stats?{day}"),
        ),
        (
            "GET /api/v1/stats (one day, group_by=protocol)",
            format!("/api/v1/stats?{day}&group_by=protocol"),
        ),
        (
            "GET /api/v1/stats (one day, group_by=hour)",
            format!("/api/v1/stats?{day}&group_by=hour"),
        ),
        (
            "GET /api/v1/stats (one day, group_by=issue)",
            format!("/api/v1/stats?{day}&group_by=issue"),
        ),
    ] {
        let (timing, body) = time_get(&client, &base, &path, 7).await;
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        let reports: i64 = answer["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["reports"].as_i64().unwrap())
            .sum();
        lines.push(format!(
            "{}   [{reports} report rows in groups]",
            timing.line(what)
        ));
    }
    // The dashboard overview: these five requests in parallel for one range.
    // Timed as the whole set (what the page waits for), 7 runs per range.
    for (what, since, until, series) in [
        (
            "overview, 24 h (group_by=hour)",
            middle,
            middle + chrono::Duration::days(1),
            "hour",
        ),
        (
            "overview, 7 days (group_by=day)",
            middle - chrono::Duration::days(3),
            middle + chrono::Duration::days(4),
            "day",
        ),
        (
            "overview, 30 days (group_by=day)",
            start(),
            start() + chrono::Duration::days(days as i64),
            "day",
        ),
    ] {
        let range = format!(
            "since={}&until={}",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let paths: Vec<String> = [
            format!("group_by={series}"),
            String::new(),
            "group_by=error_code".into(),
            "group_by=error_subcode".into(),
            "group_by=device".into(),
        ]
        .iter()
        .map(|g| format!("/api/v1/stats?{range}&{g}"))
        .collect();
        let mut set = Timing { runs: Vec::new() };
        let mut poor = 0;
        for _ in 0..7 {
            let started = Instant::now();
            let answers = futures_util::future::join_all(
                paths.iter().map(|p| time_get(&client, &base, p, 1)),
            )
            .await;
            set.runs.push(started.elapsed());
            let total: serde_json::Value = serde_json::from_str(&answers[1].1).unwrap();
            poor = total["groups"][0]["poor_audio_streams"].as_i64().unwrap();
        }
        lines.push(format!(
            "{}   [5 requests in parallel; {poor} poor audio streams]",
            set.line(what)
        ));
    }
    // The same 24 h overview in the real page (headless Chromium, as the
    // dashboard tests drive it): from navigation to every chart drawn, and
    // the page's own figure (route start to the last chart, `data-ms`).
    // CALLQ_BENCH_BROWSER=0 skips it.
    if std::env::var("CALLQ_BENCH_BROWSER").as_deref() != Ok("0") {
        let browser = browser::Browser::start().await;
        browser.goto(&format!("{base}/ui/#token={OPS_TOKEN}")).await;
        browser
            .wait_until(
                "signed in",
                "const v = document.querySelector('#view'); return v && v.dataset.state === 'ready'",
            )
            .await;
        let since = middle.format("%Y-%m-%dT%H:%M").to_string();
        let until = (middle + chrono::Duration::days(1))
            .format("%Y-%m-%dT%H:%M")
            .to_string();
        let mut wall = Timing { runs: Vec::new() };
        let mut page = Timing { runs: Vec::new() };
        for n in 0..7 {
            let started = Instant::now();
            // A new query string each time: a full page load, not a cached route.
            browser
                .goto(&format!(
                    "{base}/ui/?run={n}#/overview?range=custom&since={since}&until={until}"
                ))
                .await;
            let ms = browser
                .wait_until(
                    "the overview is drawn",
                    &format!(
                        "const v = document.querySelector('#view'); \
                         const r = document.querySelector('#range-shown'); \
                         return v && v.dataset.state === 'ready' && r && \
                           r.dataset.since.startsWith('{since}') ? v.dataset.ms : null"
                    ),
                )
                .await;
            wall.runs.push(started.elapsed());
            let ms: u64 = ms.as_str().and_then(|m| m.parse().ok()).expect("data-ms");
            page.runs.push(Duration::from_millis(ms));
        }
        let errors = browser.console_errors().await;
        assert!(errors.is_empty(), "the page logged errors: {errors:?}");
        lines.push(wall.line("dashboard overview 24 h in Chromium (navigation to drawn)"));
        lines.push(page.line("  of which the page's own render (requests + charts)"));
        browser.quit().await;
    }
    // Calls spread over the whole table, each with four reports.
    let calls = total / REPORTS_PER_CALL;
    let mut call_timing = Timing { runs: Vec::new() };
    for i in 0..20u64 {
        let call = format!("call-{:010}", (i * 7_919 * 13) % calls);
        let (t, body) = time_get(&client, &base, &format!("/api/v1/calls/{call}"), 1).await;
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["summary"]["reports"], REPORTS_PER_CALL);
        call_timing.runs.extend(t.runs);
    }
    lines.push(call_timing.line("GET /api/v1/calls/{id} (20 different calls)"));
    let (t, _) = time_get(&client, &base, "/api/v1/reports?limit=100", 7).await;
    lines.push(t.line("GET /api/v1/reports?limit=100 (newest page)"));
    let (t, _) = time_get(
        &client,
        &base,
        "/api/v1/reports?limit=100&issue=ECHO&protocol=plivo",
        7,
    )
    .await;
    lines.push(t.line("GET /api/v1/reports?limit=100&issue=ECHO&protocol=plivo"));
    let (t, csv) = time_get(
        &client,
        &base,
        &format!("/api/v1/reports?format=csv&{day}"),
        3,
    )
    .await;
    lines.push(format!(
        "{}   [{} CSV rows]",
        t.line("GET /api/v1/reports?format=csv (one day, streamed)"),
        csv.lines().count() - 1
    ));
    println!();
    for l in lines {
        println!("{l}");
    }
    server.shutdown().await;
}
