//! The browser dashboard: how its files are served (plain HTTP), the two
//! read-API additions it uses (`device` filter, `csv_safe` export), and the
//! page itself in a real headless Chromium against the real server and
//! PostgreSQL with known data.
//!
//! The browser tests also write the README's screenshots
//! (docs/dashboard-overview.png, docs/dashboard-call.png).

use std::collections::{BTreeMap, BTreeSet};

use callq::model::{Kind, MediaStream, Modality, Protocol, Report};
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::browser::Browser;
use crate::support::{TestServer, TestTenant};

/// The call every style reported on.
const SHARED_CALL: &str = "4e0f9c1a-dash-call-all-three-styles";
const QOE_XML: &str = include_str!("../data/ms-qoe-sample.xml");

fn audio(jitter: f64, loss: f64, rtt: f64, packets: i64, mos: Option<f64>) -> MediaStream {
    MediaStream {
        ordinal: 0,
        modality: Some(Modality::Audio),
        media_duration_ms: Some(300_000.0),
        inbound_packets: Some(packets),
        outbound_packets: Some(packets),
        avg_inbound_jitter_ms: Some(jitter),
        max_inbound_jitter_ms: Some(jitter * 2.0),
        avg_outbound_jitter_ms: Some(jitter / 2.0),
        avg_inbound_loss_pct: Some(loss),
        avg_outbound_loss_pct: Some(loss / 2.0),
        avg_inbound_rtt_ms: Some(rtt),
        max_inbound_rtt_ms: Some(rtt * 1.5),
        mos,
        mos_model: mos.map(|_| "g107-simplified/1".to_owned()),
        ..MediaStream::default()
    }
}

fn plivo(tenant: &str, call: &str, minutes_ago: i64, rating: f64, issues: &[&str]) -> Report {
    let body = json!({ "rating": rating.to_string(), "issues": issues, "notes": "from the dashboard test" });
    let mut r = Report::new(
        tenant,
        Protocol::Plivo,
        Kind::Feedback,
        call,
        body.to_string(),
    );
    r.received_at -= Duration::minutes(minutes_ago);
    r.rating = Some(rating);
    r.issues = issues.iter().map(|s| s.to_string()).collect();
    r.content_type = Some("application/json".into());
    r
}

fn graph(tenant: &str, call: &str, minutes_ago: i64, device: &str, s: MediaStream) -> Report {
    let body = json!({ "quality": { "callChainId": call, "deviceName": device } });
    let mut r = Report::new(
        tenant,
        Protocol::Graph,
        Kind::DeviceQuality,
        call,
        body.to_string(),
    );
    r.received_at -= Duration::minutes(minutes_ago);
    r.device_name = Some(device.into());
    r.streams = vec![s];
    r
}

fn ucwa(tenant: &str, call: &str, minutes_ago: i64, code: &str, subcode: &str) -> Report {
    let mut r = Report::new(tenant, Protocol::Ucwa, Kind::Diagnostics, call, QOE_XML);
    r.received_at -= Duration::minutes(minutes_ago);
    r.error_code = Some(code.into());
    r.error_subcode = Some(subcode.into());
    r.content_type = Some("application/xml".into());
    r
}

/// Known data, all received in the last 24 hours: the three styles on one
/// call, Graph devices good and poor, UCWA error codes, Plivo ratings, and
/// enough Plivo reports (60) for the explorer's pages of 50.
fn known_reports(tenant: &str) -> Vec<Report> {
    let mut reports = Vec::new();
    let mut shared_ucwa = ucwa(tenant, SHARED_CALL, 30, "RemoteFailure", "MediaFailure");
    shared_ucwa.streams = vec![audio(12.0, 0.2, 250.0, 15_000, Some(4.1))];
    reports.push(shared_ucwa);
    reports.push(graph(
        tenant,
        SHARED_CALL,
        29,
        "Room 30/21 SX80",
        audio(35.0, 1.2, 120.0, 15_000, Some(3.2)),
    ));
    let mut shared_plivo = plivo(tenant, SHARED_CALL, 28, 2.0, &["AUDIO_LAG", "ECHO"]);
    // A formula in the notes, for the spreadsheet-safe export; the raw
    // payload says the same, as it would for a real request.
    let formula = "=HYPERLINK(\"http://example.invalid\")";
    shared_plivo.notes = Some(formula.into());
    shared_plivo.raw_payload =
        json!({ "rating": "2", "issues": ["AUDIO_LAG", "ECHO"], "notes": formula }).to_string();
    reports.push(shared_plivo);
    for i in 0..6 {
        reports.push(graph(
            tenant,
            &format!("graph-good-{i}"),
            60 * (i + 1),
            "Lobby Poly X50",
            audio(4.0, 0.1, 60.0, 20_000, Some(4.3)),
        ));
    }
    for i in 0..3 {
        reports.push(graph(
            tenant,
            &format!("graph-poor-{i}"),
            90 * (i + 1),
            "Basement Cisco SX10",
            audio(45.0, 12.0, 650.0, 20_000, Some(2.1)),
        ));
    }
    for (i, (code, sub)) in [
        ("RemoteFailure", "MediaFailure"),
        ("RemoteFailure", "Timeout"),
        ("ServiceFailure", "Timeout"),
    ]
    .into_iter()
    .enumerate()
    {
        reports.push(ucwa(
            tenant,
            &format!("ucwa-app/conv-{i}"),
            100 * (i as i64 + 1),
            code,
            sub,
        ));
    }
    for i in 0..60 {
        let (rating, issues): (f64, &[&str]) = match i % 4 {
            0 => (5.0, &[]),
            1 => (4.0, &["ECHO"]),
            2 => (3.0, &["AUDIO_LAG", "BROKEN_AUDIO"]),
            _ => (1.0, &["DROPPED_CALL"]),
        };
        reports.push(plivo(
            tenant,
            &format!("00000000-0000-4000-8000-{i:012}"),
            10 + 20 * i,
            rating,
            issues,
        ));
    }
    reports
}

async fn server_with_known_data() -> (TestServer, TestTenant, usize) {
    let (server, acme, globex) = TestServer::postgres().await;
    let reports = known_reports(&acme.id);
    let n = reports.len();
    server.commit_all(&reports).await;
    // Another tenant's report never shows.
    server
        .commit(plivo(&globex.id, SHARED_CALL, 5, 1.0, &["ECHO"]))
        .await;
    (server, acme, n)
}

fn docs(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name)
}

// ---------------------------------------------------------------- serving

#[tokio::test]
async fn the_page_is_served_from_the_binary_with_strict_headers() {
    let (server, _, _) = TestServer::postgres().await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = c.get(server.url("/")).send().await.unwrap();
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/ui/");

    let index = c.get(server.url("/ui/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let h = index.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap().to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let etag = h["etag"].to_str().unwrap().to_owned();
    let html = index.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script");

    // Unchanged: 304 without a body.
    let again = c
        .get(server.url("/ui/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // Every script the page names is served, with its hash: immutable.
    let scripts: Vec<&str> = html
        .split("src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert!(scripts.len() >= 8, "{scripts:?}");
    for src in &scripts {
        assert!(src.contains("?v="), "{src} is not versioned");
        let r = c
            .get(server.url(&format!("/ui/{src}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{src}");
        assert_eq!(
            r.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
    }
    // Without the current hash: revalidated, never cached for good.
    let css = c.get(server.url("/ui/app.css?v=old")).send().await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.headers()["cache-control"], "no-cache");
    let licence = c
        .get(server.url("/ui/vendor/uplot/LICENSE"))
        .send()
        .await
        .unwrap();
    assert!(licence.text().await.unwrap().contains("MIT License"));

    let missing = c.get(server.url("/ui/nope.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key("content-security-policy"));
    let traversal = c
        .get(server.url("/ui/..%2F..%2FCargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(traversal.status(), 404);
}

#[tokio::test]
async fn the_device_filter_narrows_reports() {
    let (server, acme, _) = server_with_known_data().await;
    let page = server
        .ops_json(
            &acme.ops_token,
            "/api/v1/reports?device=Basement%20Cisco%20SX10&limit=100",
        )
        .await;
    let rows = page["reports"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r["device_name"] == "Basement Cisco SX10")
    );
    let none = server
        .ops_json(
            &acme.ops_token,
            "/api/v1/reports?device=basement%20cisco%20sx10",
        )
        .await;
    assert_eq!(none["reports"].as_array().unwrap().len(), 0, "exact match");
}

#[tokio::test]
async fn a_spreadsheet_safe_export_neutralizes_formulas_and_the_plain_one_is_unchanged() {
    let (server, acme, _) = server_with_known_data().await;
    let get = |q: &'static str| {
        let server = &server;
        let token = acme.ops_token.clone();
        async move {
            let r = server
                .ops_get(
                    &token,
                    &format!("/api/v1/reports?call_id={SHARED_CALL}&format=csv{q}"),
                )
                .await;
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (s_plain, plain) = get("").await;
    let (s_false, explicit_false) = get("&csv_safe=false").await;
    let (s_safe, safe) = get("&csv_safe=true").await;
    assert_eq!((s_plain, s_false, s_safe), (200, 200, 200));
    assert_eq!(plain, explicit_false, "csv_safe=false is the plain export");
    assert!(
        plain.contains(",\"=HYPERLINK(\"\"http://example.invalid\"\")\","),
        "{plain}"
    );
    assert!(
        safe.contains(",\"'=HYPERLINK(\"\"http://example.invalid\"\")\","),
        "{safe}"
    );
    // Only that cell differs.
    let differing: Vec<(&str, &str)> = plain
        .lines()
        .zip(safe.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(differing.len(), 1, "{differing:?}");
    assert_eq!(plain.lines().count(), safe.lines().count());

    let r = server
        .ops_get(&acme.ops_token, "/api/v1/reports?csv_safe=true")
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["parameter"], "csv_safe");
}

// ---------------------------------------------------------------- browser

/// Fails the test on any console error (script errors, CSP violations,
/// failed loads) collected since the last call.
async fn assert_no_console_errors(browser: &Browser, during: &str) {
    let errors = browser.console_errors().await;
    assert!(
        errors.is_empty(),
        "console errors during {during}: {errors:#?}"
    );
}

async fn signed_in(server: &TestServer, token: &str) -> Browser {
    let browser = Browser::start().await;
    browser
        .goto(&format!("{}#token={token}", server.url("/ui/")))
        .await;
    browser.wait_for("#view[data-state=ready]").await;
    browser
}

#[tokio::test]
async fn sign_in_by_form_and_by_fragment_then_sign_out() {
    let (server, acme, _) = server_with_known_data().await;
    let browser = Browser::start().await;
    browser.goto(&server.url("/")).await;
    let input = browser
        .wait_for("#sign-in:not([hidden]) #token-input")
        .await;
    browser.type_into(&input, &acme.ops_token).await;
    browser
        .click(&browser.wait_for("#sign-in-button").await)
        .await;
    browser.wait_for("#view[data-state=ready] #tiles").await;
    assert!(browser.find_all("#nav:not([hidden])").await.len() == 1);
    let stored = browser
        .execute("return sessionStorage.getItem('callq.ops_token')", vec![])
        .await;
    assert_eq!(stored, json!(acme.ops_token));

    browser.click(&browser.wait_for("#sign-out").await).await;
    browser.wait_for("#sign-in:not([hidden])").await;
    let stored = browser
        .execute("return sessionStorage.getItem('callq.ops_token')", vec![])
        .await;
    assert_eq!(stored, Value::Null, "sign-out forgets the token");
    assert!(browser.find_all("#tiles").await.is_empty());

    // From the fragment: taken, then gone from the address bar.
    browser
        .goto(&format!("{}#token={}", server.url("/ui/"), acme.ops_token))
        .await;
    browser.wait_for("#view[data-state=ready] #tiles").await;
    let url = browser.current_url().await;
    assert!(
        !url.contains("token"),
        "the token stays in the address: {url}"
    );
    let history = browser.execute("return history.length", vec![]).await;
    assert!(history.as_i64().unwrap() >= 1);
    assert_no_console_errors(&browser, "sign-in and sign-out").await;
    browser.quit().await;
}

#[tokio::test]
async fn a_wrong_token_is_refused_with_a_clear_message() {
    let (server, acme, _) = server_with_known_data().await;
    let browser = Browser::start().await;
    browser
        .goto(&format!(
            "{}#token=not-a-token-of-anyone",
            server.url("/ui/")
        ))
        .await;
    let error = browser.wait_for("#sign-in-error:not([hidden])").await;
    let message = browser.text(&error).await;
    assert!(message.contains("refused"), "{message}");
    assert!(!browser.current_url().await.contains("not-a-token"));
    let stored = browser
        .execute("return sessionStorage.getItem('callq.ops_token')", vec![])
        .await;
    assert_eq!(stored, Value::Null, "a refused token is not kept");
    assert!(browser.find_all("#tiles").await.is_empty(), "no data shown");

    // By the form, a near miss of the real token.
    let input = browser.wait_for("#token-input").await;
    browser
        .type_into(&input, &format!("{}x", acme.ops_token))
        .await;
    browser
        .click(&browser.wait_for("#sign-in-button").await)
        .await;
    browser
        .wait_until(
            "the refusal is shown again",
            "const e = document.getElementById('sign-in-error'); \
             return !e.hidden && e.textContent.includes('refused') && \
             document.getElementById('token-input').value === ''",
        )
        .await;
    // The only console errors are the two refused requests themselves.
    let errors = browser.console_errors().await;
    assert!(
        errors.iter().all(|e| e.contains("401")),
        "unexpected console errors: {errors:#?}"
    );
    browser.quit().await;
}

/// The value a tile or bar carries (`data-value`), as JSON for comparing.
fn as_number(v: &Value) -> Option<f64> {
    v.as_f64()
}

#[tokio::test]
async fn the_overview_shows_the_apis_numbers_for_its_range() {
    let (server, acme, total) = server_with_known_data().await;
    let browser = signed_in(&server, &acme.ops_token).await;
    let shown = browser.wait_for("#range-shown").await;
    let since = browser.attr(&shown, "data-since").await.unwrap();
    let until = browser.attr(&shown, "data-until").await.unwrap();
    let range = format!("since={since}&until={until}");
    let token = &acme.ops_token;
    let totals = server
        .ops_json(token, &format!("/api/v1/stats?{range}"))
        .await;
    let all = &totals["groups"][0];
    assert_eq!(
        all["reports"],
        json!(total),
        "the default range (24 h) holds every report"
    );
    let plivo = server
        .ops_json(token, &format!("/api/v1/stats?{range}&protocol=plivo"))
        .await;
    let pl = &plivo["groups"][0];

    let tile = |id: &'static str| {
        let browser = &browser;
        async move {
            let e = browser.wait_for(&format!("#{id}")).await;
            browser.attr(&e, "data-value").await.unwrap_or_default()
        }
    };
    let same = |page: String, api: &Value, what: &str| {
        match as_number(api) {
            // serde_json's default float parsing may be one ulp off the
            // text the API sent; the browser parsed the same text exactly.
            Some(n) => {
                let shown: f64 = page.parse().unwrap_or(f64::NAN);
                assert!(
                    (shown - n).abs() <= 1e-12 * n.abs().max(1.0),
                    "{what}: page {page:?}, API {api}"
                )
            }
            None => assert_eq!(page, "", "{what}: page {page:?}, API {api}"),
        }
    };
    same(tile("tile-reports").await, &all["reports"], "reports");
    same(
        tile("tile-audio").await,
        &all["audio_streams"],
        "audio streams",
    );
    same(
        tile("tile-poor").await,
        &all["poor_audio_streams"],
        "poor streams",
    );
    same(tile("tile-poor-rate").await, &all["poor_rate"], "poor rate");
    same(tile("tile-mos").await, &all["mos"]["p50"], "MOS p50");
    same(
        tile("tile-rating").await,
        &pl["rating"]["mean"],
        "Plivo mean rating",
    );
    let reports_text = browser
        .text(&browser.wait_for("#tile-reports .tile-value").await)
        .await;
    assert_eq!(reports_text, total.to_string());

    // Bars: (key, value) as the API gives them.
    let bars = |id: &'static str| {
        let browser = &browser;
        async move {
            browser
                .execute(
                    "return Array.from(document.querySelectorAll('#' + arguments[0] + ' li[data-key]')).map(li => [li.dataset.key, Number(li.dataset.value)])",
                    vec![json!(id)],
                )
                .await
        }
    };
    let dist: BTreeMap<String, f64> =
        serde_json::from_value::<Vec<(String, f64)>>(bars("rating-distribution").await)
            .unwrap()
            .into_iter()
            .collect();
    let api_dist: BTreeMap<String, f64> = pl["rating"]["distribution"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
        .collect();
    assert_eq!(dist, api_dist);
    let issues: BTreeMap<String, f64> =
        serde_json::from_value::<Vec<(String, f64)>>(bars("top-issues").await)
            .unwrap()
            .into_iter()
            .collect();
    let api_issues: BTreeMap<String, f64> = pl["issues"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
        .collect();
    assert_eq!(issues, api_issues, "fewer than ten issues: all shown");
    let shown_codes = bars("error-codes").await;
    let codes = server
        .ops_get(
            token,
            &format!("/api/v1/stats?{range}&protocol=ucwa&group_by=error_code"),
        )
        .await;
    assert_eq!(codes.status(), 200);
    {
        let codes: Value = codes.json().await.unwrap();
        let expected: BTreeSet<(String, i64)> = codes["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| !g["key"].is_null())
            .map(|g| {
                (
                    g["key"].as_str().unwrap().to_owned(),
                    g["reports"].as_i64().unwrap(),
                )
            })
            .collect();
        let got: BTreeSet<(String, i64)> =
            serde_json::from_value::<Vec<(String, f64)>>(shown_codes)
                .unwrap()
                .into_iter()
                .map(|(k, v)| (k, v as i64))
                .collect();
        assert_eq!(got, expected, "UCWA error codes");
        assert!(got.contains(&("RemoteFailure".to_owned(), 3)), "{got:?}");
    }
    // Worst devices: the API's device groups with a poor rate, worst first.
    let devices = server
        .ops_json(token, &format!("/api/v1/stats?{range}&group_by=device"))
        .await;
    let mut expected: Vec<(String, f64)> = devices["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| !g["key"].is_null() && g["poor_rate"].is_number())
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_owned(),
                g["poor_rate"].as_f64().unwrap(),
            )
        })
        .collect();
    expected.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown_devices: Vec<(String, f64)> = serde_json::from_value(
        browser
            .execute(
                "return Array.from(document.querySelectorAll('#device-rows tr[data-key]')).map(tr => [tr.dataset.key, Number(tr.dataset.poorRate)])",
                vec![],
            )
            .await,
    )
    .unwrap();
    let same_order: Vec<&String> = shown_devices.iter().map(|d| &d.0).collect();
    assert_eq!(
        shown_devices.len(),
        expected.len(),
        "devices {same_order:?} vs API {expected:?}"
    );
    for (shown, api) in shown_devices.iter().zip(&expected) {
        assert_eq!(shown.0, api.0);
        assert!((shown.1 - api.1).abs() < 1e-12);
    }
    assert_eq!(
        shown_devices
            .iter()
            .map(|d| d.0.as_str())
            .collect::<Vec<_>>(),
        ["Basement Cisco SX10", "Room 30/21 SX80", "Lobby Poly X50"],
        "worst first"
    );
    // Every chart drew its canvas, and the CQD caveat is shown.
    let canvases = browser
        .execute(
            "return document.querySelectorAll('.chart canvas').length",
            vec![],
        )
        .await;
    assert!(canvases.as_i64().unwrap() >= 7, "{canvases}");
    let caveat = browser.text(&browser.wait_for("#caveat").await).await;
    assert!(caveat.contains("not that the user heard bad audio"));
    assert_no_console_errors(&browser, "the overview").await;
    let png = browser.screenshot_full_page().await;
    std::fs::write(docs("dashboard-overview.png"), png).unwrap();

    // Another range: the page asks for it and shows it.
    browser
        .goto(&format!("{}#/overview?range=1h", server.url("/ui/")))
        .await;
    browser
        .wait_until(
            "the last hour is shown",
            "const v = document.getElementById('view'); const r = document.getElementById('range-shown'); \
             return v.dataset.state === 'ready' && r && (Date.parse(r.dataset.until) - Date.parse(r.dataset.since)) === 3600000",
        )
        .await;
    let shown = browser.wait_for("#range-shown").await;
    let since = browser.attr(&shown, "data-since").await.unwrap();
    let until = browser.attr(&shown, "data-until").await.unwrap();
    let hour = server
        .ops_json(token, &format!("/api/v1/stats?since={since}&until={until}"))
        .await;
    same(
        tile("tile-reports").await,
        &hour["groups"][0]["reports"],
        "reports in the last hour",
    );
    assert_no_console_errors(&browser, "the one-hour overview").await;

    // A custom range (UTC, to the minute) is the one asked for.
    let from = (chrono::Utc::now() - Duration::hours(5))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let to = (chrono::Utc::now() - Duration::hours(2))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    browser
        .goto(&format!(
            "{}#/overview?range=custom&since={from}&until={to}",
            server.url("/ui/")
        ))
        .await;
    browser
        .wait_until(
            "the custom range is shown",
            &format!(
                "const r = document.getElementById('range-shown'); \
                 return document.getElementById('view').dataset.state === 'ready' && r && r.dataset.since === '{from}:00Z'"
            ),
        )
        .await;
    let shown = browser.wait_for("#range-shown").await;
    assert_eq!(
        browser.attr(&shown, "data-until").await.unwrap(),
        format!("{to}:00Z")
    );
    let custom = server
        .ops_json(
            token,
            &format!("/api/v1/stats?since={from}:00Z&until={to}:00Z"),
        )
        .await;
    let in_custom = custom["groups"][0]["reports"].as_i64().unwrap();
    assert!(in_custom > 0 && in_custom < total as i64, "{in_custom}");
    same(
        tile("tile-reports").await,
        &custom["groups"][0]["reports"],
        "reports in the custom range",
    );
    assert_no_console_errors(&browser, "the custom-range overview").await;
    browser.quit().await;
}

/// The report ids the explorer's table shows now.
async fn shown_ids(browser: &Browser) -> Vec<String> {
    serde_json::from_value(
        browser
            .execute(
                "return Array.from(document.querySelectorAll('#report-rows tr[data-id]')).map(tr => tr.dataset.id)",
                vec![],
            )
            .await,
    )
    .unwrap()
}

async fn wait_for_rows(browser: &Browser, hash_part: &str) {
    browser
        .wait_until(
            "the explorer shows the filter",
            &format!(
                "return location.hash.includes({}) && document.getElementById('view').dataset.state === 'ready'",
                json!(hash_part)
            ),
        )
        .await;
}

#[tokio::test]
async fn the_explorer_filters_pages_and_downloads_csv() {
    let (server, acme, total) = server_with_known_data().await;
    let token = &acme.ops_token;
    let browser = signed_in(&server, token).await;
    browser.allow_downloads().await;
    browser
        .goto(&format!("{}#/reports", server.url("/ui/")))
        .await;
    browser
        .wait_for("#view[data-state=ready] #report-rows")
        .await;

    // Keyset pages of 50: every report once, newest first.
    let first = shown_ids(&browser).await;
    assert_eq!(first.len(), 50);
    browser.click(&browser.wait_for("#next-page").await).await;
    wait_for_rows(&browser, "cursor=").await;
    let second = shown_ids(&browser).await;
    assert_eq!(first.len() + second.len(), total);
    let all = server.ops_json(token, "/api/v1/reports?limit=1000").await;
    let expected: Vec<String> = all["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!([first, second].concat(), expected);
    assert!(browser.find_all("#next-page").await.is_empty(), "last page");

    // Style = graph narrows to the Graph reports.
    browser
        .goto(&format!("{}#/reports", server.url("/ui/")))
        .await;
    browser
        .wait_for("#view[data-state=ready] #f-protocol")
        .await;
    browser
        .click(&browser.wait_for("#f-protocol option[value=graph]").await)
        .await;
    browser
        .click(&browser.wait_for("#apply-filters").await)
        .await;
    wait_for_rows(&browser, "protocol=graph").await;
    let graph_rows = shown_ids(&browser).await;
    let api_graph = server
        .ops_json(token, "/api/v1/reports?protocol=graph")
        .await;
    assert_eq!(
        graph_rows.len(),
        api_graph["reports"].as_array().unwrap().len()
    );
    assert_eq!(graph_rows.len(), 10);

    // … and a device narrows it further.
    let device = browser.wait_for("#f-device").await;
    browser.type_into(&device, "Basement Cisco SX10").await;
    browser
        .click(&browser.wait_for("#apply-filters").await)
        .await;
    wait_for_rows(&browser, "device=").await;
    assert_eq!(shown_ids(&browser).await.len(), 3);

    // Rating range and issue on Plivo.
    browser
        .goto(&format!(
            "{}#/reports?protocol=plivo&min_rating=3&max_rating=4&issue=ECHO",
            server.url("/ui/")
        ))
        .await;
    wait_for_rows(&browser, "issue=ECHO").await;
    let api_rated = server
        .ops_json(
            token,
            "/api/v1/reports?protocol=plivo&min_rating=3&max_rating=4&issue=ECHO",
        )
        .await;
    assert_eq!(
        shown_ids(&browser).await.len(),
        api_rated["reports"].as_array().unwrap().len()
    );
    assert_eq!(shown_ids(&browser).await.len(), 15);

    // The call id filter, and its CSV download made spreadsheet-safe: the
    // same bytes the API gives for that filter.
    browser
        .goto(&format!(
            "{}#/reports?call_id={SHARED_CALL}",
            server.url("/ui/")
        ))
        .await;
    wait_for_rows(&browser, "call_id=").await;
    assert_eq!(shown_ids(&browser).await.len(), 3);
    browser.click(&browser.wait_for("#csv-safe").await).await;
    browser
        .click(&browser.wait_for("#download-csv").await)
        .await;
    let csv = browser
        .downloaded("callq-reports-spreadsheet-safe.csv")
        .await;
    let from_api = server
        .ops_get(
            token,
            &format!("/api/v1/reports?call_id={SHARED_CALL}&format=csv&csv_safe=true"),
        )
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(csv, from_api.to_vec());
    assert!(String::from_utf8(csv).unwrap().contains("'=HYPERLINK"));

    // A row links to its call.
    let link = browser.wait_for("#report-rows a.call-link").await;
    browser.click(&link).await;
    browser
        .wait_for("#view[data-state=ready] #call-reports")
        .await;
    assert_no_console_errors(&browser, "the explorer").await;

    // A filter the API refuses is shown with the parameter it names.
    browser
        .goto(&format!(
            "{}#/reports?min_rating=4&max_rating=2",
            server.url("/ui/")
        ))
        .await;
    let refused = browser.wait_for("#filter-error").await;
    let message = browser.text(&refused).await;
    assert!(message.contains("max_rating"), "{message}");
    browser.quit().await;
}

#[tokio::test]
async fn the_call_view_shows_the_calls_reports_from_all_three_styles() {
    let (server, acme, _) = server_with_known_data().await;
    let browser = signed_in(&server, &acme.ops_token).await;
    // From the overview's device list to the explorer to the call.
    let device = browser
        .wait_for("#device-rows tr[data-key='Room 30/21 SX80'] a")
        .await;
    browser.click(&device).await;
    wait_for_rows(&browser, "device=").await;
    assert_eq!(shown_ids(&browser).await.len(), 1);
    browser
        .click(&browser.wait_for("#report-rows a.call-link").await)
        .await;
    browser
        .wait_for("#view[data-state=ready] #call-reports")
        .await;
    let call_id = browser.text(&browser.wait_for("#call-id").await).await;
    assert_eq!(call_id, SHARED_CALL);

    let styles: Vec<String> = serde_json::from_value(
        browser
            .execute(
                "return Array.from(document.querySelectorAll('#call-reports article.report')).map(a => a.dataset.protocol)",
                vec![],
            )
            .await,
    )
    .unwrap();
    assert_eq!(
        styles,
        ["ucwa", "graph", "plivo"],
        "oldest first, all three"
    );

    // Graded averages: UCWA jitter 12 ms average, RTT 250 ms average, loss
    // 0.2 % good; Graph jitter 35 ms bad, loss 1.2 % bad, RTT 120 ms good.
    let grades: Vec<Vec<String>> = serde_json::from_value(
        browser
            .execute(
                "return Array.from(document.querySelectorAll('#call-reports article.report')).map(a => \
                 Array.from(a.querySelectorAll('td[data-grade]')).map(td => td.dataset.grade))",
                vec![],
            )
            .await,
    )
    .unwrap();
    // Per stream: jitter in, jitter out, loss in, loss out, RTT in (RTT out absent).
    assert_eq!(grades[0], ["average", "good", "good", "good", "average"]);
    assert_eq!(grades[1], ["bad", "average", "bad", "average", "good"]);
    assert!(grades[2].is_empty(), "Plivo feedback has no streams");
    let first_stream = browser
        .text(
            &browser
                .wait_for("#call-reports article.report tr.stream")
                .await,
        )
        .await;
    for unit in ["12 ms", "0.20 %", "250 ms", "g107-simplified/1"] {
        assert!(first_stream.contains(unit), "{unit} in {first_stream}");
    }
    // The thresholds at their edges, as Plivo publishes them.
    let edges = browser
        .execute(
            "const g = CQ.call.GRADES; return [g.jitter(10), g.jitter(10.01), g.jitter(29.99), g.jitter(30), \
             g.loss(0.49), g.loss(0.5), g.loss(0.89), g.loss(0.9), \
             g.rtt(199), g.rtt(200), g.rtt(300), g.rtt(300.5)]",
            vec![],
        )
        .await;
    assert_eq!(
        edges,
        json!([
            "good", "average", "average", "bad", "good", "average", "average", "bad", "good",
            "average", "average", "bad"
        ])
    );
    let legend = browser.text(&browser.wait_for("#grade-legend").await).await;
    assert!(legend.contains("averages"), "{legend}");

    // Raw payloads on demand: XML re-indented, JSON pretty-printed.
    let toggles = browser.find_all("#call-reports .raw-toggle").await;
    assert_eq!(toggles.len(), 3);
    browser.click(&toggles[0]).await;
    browser.click(&toggles[2]).await;
    let formats = browser
        .wait_until(
            "both payloads are shown",
            "const p = Array.from(document.querySelectorAll('#call-reports pre.raw')).filter(p => !p.hidden); \
             return p.length === 2 && p.map(x => x.dataset.format).join(',')",
        )
        .await;
    assert_eq!(formats, json!("XML,JSON"));
    let json_text: String = serde_json::from_value(
        browser
            .execute(
                "return Array.from(document.querySelectorAll('#call-reports pre.raw'))[2].textContent",
                vec![],
            )
            .await,
    )
    .unwrap();
    assert!(json_text.contains("\n  \"issues\": ["), "{json_text}");
    let xml_text: String = serde_json::from_value(
        browser
            .execute(
                "return Array.from(document.querySelectorAll('#call-reports pre.raw'))[0].textContent",
                vec![],
            )
            .await,
    )
    .unwrap();
    assert!(
        xml_text.starts_with("<VQReportEvent"),
        "{}",
        &xml_text[..80.min(xml_text.len())]
    );
    assert!(xml_text.contains("\n    <Endpoint "), "indented XML");
    // Close the long XML again for the screenshot.
    browser.click(&toggles[0]).await;
    assert_no_console_errors(&browser, "the call view").await;
    let png = browser.screenshot_full_page().await;
    std::fs::write(docs("dashboard-call.png"), png).unwrap();
    browser.quit().await;
}
