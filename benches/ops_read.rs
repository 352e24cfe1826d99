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
//! This mode measures the raw statistics: the rollup catch-up is off.
//!
//! `CALLQ_BENCH_DATASET=10m cargo bench --bench ops_read`: the long-range
//! mode (docs/rollups.md). 10,000,000 reports (CALLQ_BENCH_REPORTS) over 31
//! days are bulk-loaded with `generate_series` straight into `reports` and
//! `media_streams`, the rollups are backfilled by the catch-up
//! (`Store::roll_up`), and then 30 days (partial hours at both edges) are
//! asked for: `GET /api/v1/stats` from rollups over HTTP against
//! `Store::stats_raw` (the raw computation), with both answers compared.

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
    if std::env::var("CALLQ_BENCH_DATASET").as_deref() == Ok("10m") {
        return long_range::run().await;
    }
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
                retention_days: None,
            },
            Tenant {
                id: "globex".into(),
                ucwa: vec![],
                graph: vec![],
                plivo: vec![],
                ops: vec![],
                retention_days: None,
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
        // This mode times the raw statistics (the 10m mode times rollups).
        rollup_interval_secs: 0,
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

/// `CALLQ_BENCH_DATASET=10m`: 30 days over 10,000,000 reports, rollups
/// against raw rows.
mod long_range {
    use super::*;

    /// One chunk of reports `[from, to)` of `total` over `days` from
    /// `start()`: styles, ratings, issues, devices and error codes mixed as
    /// in [`report`], ids derived from the number so streams can name them.
    const REPORTS_SQL: &str = r#"
        INSERT INTO reports (id, tenant, protocol, kind, received_at, call_id, rating, issues,
                             error_code, error_subcode, device_name, raw_payload)
        SELECT lpad(to_hex(n), 32, '0')::uuid, 'acme',
               (ARRAY['plivo', 'graph', 'ucwa', 'ucwa'])[n % 4 + 1],
               (ARRAY['feedback', 'device_quality', 'feedback', 'diagnostics'])[n % 4 + 1],
               $3::timestamptz + make_interval(secs => n * $4::float8),
               'call-' || lpad((n / 4)::text, 10, '0'),
               CASE WHEN n % 4 = 0 THEN 1 + (h % 9) / 2.0 END,
               CASE WHEN n % 4 = 0 AND h % 9 < 8
                    THEN ARRAY[(ARRAY['ECHO', 'AUDIO_LAG', 'BROKEN_AUDIO', 'ONE_WAY_AUDIO',
                                      'ROBOTIC_AUDIO', 'CALL_DROPPED'])[h % 6 + 1]]
                    ELSE '{}'::text[] END,
               CASE WHEN n % 4 = 3 THEN (ARRAY['BadRequest', 'ServiceFailure', 'Timeout',
                                              'RemoteFailure', 'Gone'])[h % 5 + 1] END,
               CASE WHEN n % 4 = 3 THEN (ARRAY['InviteesOnly', 'CallbackChannelError',
                                              'MediaNegotiationTimeOut', 'MediaFailure',
                                              'Ended'])[h % 5 + 1] END,
               CASE WHEN n % 4 = 1 THEN (ARRAY['Cisco SX80', 'Poly G7500'])[h % 2 + 1] END,
               '{"n":' || n || ',"pad":"' || repeat('x', 200) || '"}'
        FROM (SELECT n, (n * 2654435761) % 4294967296 AS h
              FROM generate_series($1::bigint, $2::bigint - 1) AS n) g"#;

    /// The streams of the same chunk: an audio stream for Graph and UCWA
    /// feedback (classified as the CQD thresholds would), a video stream
    /// for Graph; each carries its report's tenant and time (the
    /// partition key, migration 0006).
    const STREAMS_SQL: &str = r#"
        INSERT INTO media_streams (report_id, ordinal, modality, inbound_packets, outbound_packets,
                                   avg_inbound_jitter_ms, max_inbound_jitter_ms,
                                   avg_inbound_loss_pct, max_inbound_loss_pct,
                                   avg_inbound_rtt_ms, avg_outbound_jitter_ms, mos,
                                   quality_class, poor_reasons, quality_classifier,
                                   tenant, received_at)
        SELECT lpad(to_hex(n), 32, '0')::uuid, 0, 'audio', packets, packets,
               jitter, jitter * 3, loss, loss * 4, rtt, NULL, mos,
               CASE WHEN packets > 500 AND (rtt > 500 OR loss > 10 OR jitter > 30)
                    THEN 'poor' ELSE 'good' END,
               CASE WHEN packets > 500 THEN concat_ws(',',
                    CASE WHEN rtt > 500 THEN 'round_trip' END,
                    CASE WHEN loss > 10 THEN 'packet_loss' END,
                    CASE WHEN jitter > 30 THEN 'jitter' END) ELSE '' END,
               'cqd-audio/1', 'acme', $3::timestamptz + make_interval(secs => n * $4::float8)
        FROM (SELECT n, 100 + h % 30000 AS packets,
                     5 + 60 * f AS jitter, 3 * f * f AS loss, 40 + 300 * f AS rtt, 4.4 - 1.8 * f AS mos
              FROM (SELECT n, h, (h % 1000) / 1000.0 AS f
                    FROM (SELECT n, (n * 2654435761) % 4294967296 AS h
                          FROM generate_series($1::bigint, $2::bigint - 1) AS n) a
                    WHERE n % 4 IN (1, 2)) b) c
        UNION ALL
        SELECT lpad(to_hex(n), 32, '0')::uuid, 1, 'video', NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, 8 + 10 * ((((n * 2654435761) % 4294967296) % 1000) / 1000.0), NULL,
               NULL, '', NULL, 'acme', $3::timestamptz + make_interval(secs => n * $4::float8)
        FROM generate_series($1::bigint, $2::bigint - 1) AS n WHERE n % 4 = 1"#;

    const CHUNK: i64 = 1_000_000;

    async fn load(pool: &sqlx::PgPool, total: i64, days: i64) -> Duration {
        let started = Instant::now();
        let step = (days * 86_400) as f64 / total as f64;
        let mut from = 0;
        while from < total {
            let to = (from + CHUNK).min(total);
            for sql in [REPORTS_SQL, STREAMS_SQL] {
                sqlx::query(sql)
                    .bind(from)
                    .bind(to)
                    .bind(start())
                    .bind(step)
                    .execute(pool)
                    .await
                    .expect("bulk insert");
            }
            from = to;
            println!(
                "  loaded {to} reports, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
        sqlx::query("ANALYZE").execute(pool).await.expect("analyze");
        started.elapsed()
    }

    /// The largest relative difference between two answers' percentiles,
    /// after checking every count and sum agrees.
    fn compare(rollups: &serde_json::Value, raw: &serde_json::Value) -> f64 {
        let (a, b) = (rollups.as_array().unwrap(), raw.as_array().unwrap());
        assert_eq!(a.len(), b.len(), "groups");
        let mut worst: f64 = 0.0;
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x["key"], y["key"]);
            for field in [
                "reports",
                "protocols",
                "kinds",
                "issues",
                "poor_audio_streams",
                "audio_streams",
                "unclassified_audio_streams",
                "poor_reasons",
            ] {
                assert_eq!(x[field], y[field], "{field} of {}", y["key"]);
            }
            assert_eq!(x["rating"]["count"], y["rating"]["count"]);
            assert_eq!(x["rating"]["distribution"], y["rating"]["distribution"]);
            let (m1, m2) = (x["rating"]["mean"].as_f64(), y["rating"]["mean"].as_f64());
            assert!(
                m1.zip(m2)
                    .is_none_or(|(p, q)| (p - q).abs() <= 1e-9 * q.abs()),
                "mean"
            );
            for metric in ["jitter_ms", "loss_pct", "rtt_ms", "mos"] {
                assert_eq!(x[metric]["count"], y[metric]["count"], "{metric} count");
                for p in ["p10", "p50", "p90", "p99"] {
                    if let (Some(u), Some(v)) = (x[metric][p].as_f64(), y[metric][p].as_f64())
                        && v != 0.0
                    {
                        worst = worst.max((u - v).abs() / v.abs());
                    }
                }
            }
        }
        worst
    }

    pub async fn run() {
        let total = env_or("CALLQ_BENCH_REPORTS", 10_000_000) as i64;
        let days = 31;
        let url = database_url().await;
        let store = Store::open(&url, &StoreOptions::default()).expect("open");
        store.migrate().await.expect("migrate");
        let Store::Postgres(pool) = &store else {
            panic!("the long-range mode runs on PostgreSQL");
        };
        // Daily partitions over the loaded days, as a server running that
        // long would have made them (otherwise the rows land in DEFAULT).
        store
            .create_partitions(
                callq::store::PartitionWidth::Day,
                days as u32 + 2,
                Utc::now() - chrono::Duration::days(days + 1),
            )
            .await
            .expect("partitions");
        println!("bulk-loading {total} reports over {days} days (generate_series)");
        let loaded = load(pool, total, days).await;
        println!("loaded in {:.1} s", loaded.as_secs_f64());
        let started = Instant::now();
        let done = store.roll_up(Utc::now()).await.expect("roll up");
        let rolled = started.elapsed();
        println!(
            "rollup backfill: {} hours in {:.1} s (next hour {:?})",
            done.hours,
            rolled.as_secs_f64(),
            done.next_hour
        );

        let settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: Some(url),
            tenants: vec![Tenant {
                id: "acme".into(),
                ucwa: vec![],
                graph: vec![],
                plivo: vec![],
                ops: vec![OpsCredential {
                    token: OPS_TOKEN.parse().expect("a long enough token"),
                }],
                retention_days: None,
            }],
            rollup_interval_secs: 0,
            ..Settings::default()
        };
        let server = Server::start(settings).await.expect("callq starts");
        let base = format!("http://{}", server.addr());
        let client = reqwest::Client::new();
        // 30 days with partial hours at both edges.
        let since = start() + chrono::Duration::minutes(12 * 60 + 20);
        let until = since + chrono::Duration::days(30);
        let range = format!(
            "since={}&until={}",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let mut lines = vec![format!(
            "load {:.1} s, rollup backfill {:.1} s ({} hours)",
            loaded.as_secs_f64(),
            rolled.as_secs_f64(),
            done.hours
        )];
        for group_by in [
            None,
            Some(callq::store::query::GroupBy::Day),
            Some(callq::store::query::GroupBy::Protocol),
        ] {
            let suffix = group_by
                .map(|g| format!("&group_by={g}"))
                .unwrap_or_default();
            let path = format!("/api/v1/stats?{range}{suffix}");
            let (timing, body) = time_get(&client, &base, &path, 7).await;
            let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
            let query = callq::store::query::StatsQuery {
                filter: callq::store::query::ReportFilter {
                    since: Some(since),
                    until: Some(until),
                    ..Default::default()
                },
                group_by,
            };
            let mut raw_timing = Timing { runs: Vec::new() };
            let mut raw = Vec::new();
            // Tens of seconds each: twice without grouping, once grouped.
            for _ in 0..if group_by.is_none() { 2 } else { 1 } {
                let started = Instant::now();
                raw = store.stats_raw("acme", &query).await.expect("raw stats");
                raw_timing.runs.push(started.elapsed());
            }
            let raw = serde_json::to_value(raw).unwrap();
            let worst = compare(&answer["groups"], &raw);
            let reports: i64 = raw
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["reports"].as_i64().unwrap())
                .sum();
            let what = group_by.map_or("30 days".to_owned(), |g| format!("30 days, group_by={g}"));
            lines.push(format!(
                "{}   [{reports} reports]",
                timing.line(&format!("GET /api/v1/stats {what} (rollups)"))
            ));
            lines.push(format!(
                "{}   [largest percentile difference {:.3} %]",
                raw_timing.line(&format!("Store::stats_raw {what} (raw rows)")),
                worst * 100.0
            ));
        }
        println!();
        for l in lines {
            println!("{l}");
        }
        server.shutdown().await;
        store.close().await;
    }
}
