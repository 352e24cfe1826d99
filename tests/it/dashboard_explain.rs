//! The dashboard's Explain view in a real headless Chromium against the real
//! server and PostgreSQL: a pasted seed request (tests/data/seeds/*.http,
//! with the tenant's real credentials in place of the documentation's
//! placeholders) shows its provenance rows and the would-be response, the
//! parts form does the same, refusals and unreadable input are shown, and
//! nothing is stored. Writes docs/dashboard-explain.png.

use serde_json::{Value, json};

use crate::support::browser::Browser;
use crate::support::wire::UCWA_DIAGNOSTICS;
use crate::support::{TestServer, TestTenant};

fn seed(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/seeds")
        .join(format!("{name}.http"));
    std::fs::read_to_string(path).unwrap()
}

/// The seed with `tenant`'s credentials in its `Authorization` line.
fn seed_as(name: &str, tenant: &TestTenant) -> String {
    let text = seed(name);
    let credential = if name.starts_with("plivo") {
        tenant.plivo_authorization()
    } else if name.starts_with("graph") {
        format!("Bearer {}", tenant.graph_token)
    } else {
        format!("Bearer {}", tenant.ucwa_token)
    };
    text.lines()
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("authorization:") {
                format!("Authorization: {credential}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Pastes `message` into the view's box (set as a paste would, in one go:
/// typing three kilobytes key by key is slow and tests nothing more) and
/// explains it; the result or the error once shown.
async fn explain_message(browser: &Browser, message: &str) {
    browser
        .execute(
            "const box = document.getElementById('explain-message'); box.value = arguments[0]; \
             box.dispatchEvent(new Event('input', { bubbles: true })); \
             document.getElementById('explain-out').textContent = ''; \
             document.getElementById('explain-error').hidden = true;",
            vec![json!(message)],
        )
        .await;
    browser
        .click(&browser.wait_for("#explain-button").await)
        .await;
    browser
        .wait_until(
            "the explanation or an error is shown",
            "return document.querySelector('#view[data-state=ready] #explain-result') !== null || \
             !document.getElementById('explain-error').hidden",
        )
        .await;
}

/// The provenance rows shown: field → [value, source, raw, conversion].
async fn rows(browser: &Browser) -> serde_json::Map<String, Value> {
    let v = browser
        .execute(
            "const out = {}; for (const tr of document.querySelectorAll('#explain-fields tr.provenance')) { \
             out[tr.dataset.field] = Array.from(tr.cells).slice(1).map(td => td.textContent); } return out;",
            vec![],
        )
        .await;
    v.as_object().cloned().unwrap_or_default()
}

async fn result_data(browser: &Browser) -> Value {
    browser
        .execute(
            "const r = document.getElementById('explain-result'); \
             return r && { style: r.dataset.style, operation: r.dataset.operation, would_store: r.dataset.wouldStore, \
             status: document.getElementById('explain-status').textContent, \
             body: (document.getElementById('explain-response-body') || {}).textContent || '' };",
            vec![],
        )
        .await
}

async fn shown_error(browser: &Browser) -> String {
    let e = browser.wait_for("#explain-error:not([hidden])").await;
    browser.text(&e).await
}

#[tokio::test]
async fn a_pasted_seed_request_is_explained_field_by_field_and_nothing_is_stored() {
    let (server, acme, globex) = TestServer::postgres().await;
    let browser = Browser::start().await;
    browser
        .goto(&format!("{}#token={}", server.url("/ui/"), acme.ops_token))
        .await;
    browser.wait_for("#view[data-state=ready]").await;
    browser
        .click(&browser.wait_for("#nav a[data-view=explain]").await)
        .await;
    browser
        .wait_for("#view[data-state=ready] #explain-form")
        .await;

    // Plivo's documented Python example, as the SDK sends it.
    explain_message(&browser, &seed_as("plivo-python", &acme)).await;
    let data = result_data(&browser).await;
    assert_eq!(data["style"], "plivo", "{data}");
    assert_eq!(data["operation"], "feedback");
    assert_eq!(data["would_store"], "true");
    assert_eq!(data["status"], "201");
    assert!(
        data["body"]
            .as_str()
            .unwrap()
            .contains("Feedback has been posted"),
        "{data}"
    );
    let shown = rows(&browser).await;
    let rating = shown.get("rating").unwrap_or_else(|| panic!("{shown:?}"));
    assert_eq!(rating[0], "4", "the stored value");
    assert_eq!(rating[1], "JSON /rating", "the source");
    assert_eq!(rating[2], "\"4\"", "the raw value");
    assert!(rating[3].as_str().unwrap().contains("4.0"), "{rating:?}");
    assert_eq!(
        shown["call_id"][0], "b38149eb-b8fe-45d5-85b2-78ee4424788f",
        "{shown:?}"
    );
    let tolerated = browser
        .text(&browser.wait_for("#explain-tolerated").await)
        .await;
    assert!(tolerated.contains("rating-as-string"), "{tolerated}");
    // The same rows, in the same order, as the API gives for this request.
    let message = callq::http_message::parse(
        seed_as("plivo-python", &acme).as_bytes(),
        &callq::http_message::Limits::with_body_limit(1 << 20),
    )
    .unwrap();
    let request = callq::explain_file::prepare(message).request;
    let api: Value = server
        .client
        .post(server.url("/api/v1/explain"))
        .bearer_auth(&acme.ops_token)
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api_fields: Vec<&str> = api["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    let page_fields: Vec<String> = serde_json::from_value(
        browser
            .execute(
                "return Array.from(document.querySelectorAll('#explain-fields tr.provenance')).map(tr => tr.dataset.field)",
                vec![],
            )
            .await,
    )
    .unwrap();
    assert_eq!(page_fields, api_fields);
    // docs/dashboard.md's screenshot of the view.
    let png = browser.screenshot_full_page().await;
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    std::fs::write(docs.join("dashboard-explain.png"), png).unwrap();

    // The UCWA XML diagnostics example: XML paths, and the documentation's
    // `Post` read as POST (said under Tolerated).
    explain_message(&browser, &seed_as("ucwa-diagnostics-xml", &acme)).await;
    let data = result_data(&browser).await;
    assert_eq!(data["operation"], "reportMediaDiagnostics", "{data}");
    assert_eq!(data["status"], "204");
    let shown = rows(&browser).await;
    let code = shown
        .get("error_code")
        .unwrap_or_else(|| panic!("{shown:?}"));
    assert_eq!(code[0], "TooManyRequests");
    assert!(code[1].as_str().unwrap().starts_with("XML /"), "{code:?}");
    let tolerated = browser
        .text(&browser.wait_for("#explain-tolerated").await)
        .await;
    assert!(
        tolerated.contains("method \"Post\" read as POST"),
        "{tolerated}"
    );

    // A refusal is explained with the real route's answer.
    explain_message(&browser, &seed_as("plivo-node", &acme)).await;
    let data = result_data(&browser).await;
    assert_eq!(data["status"], "422", "{data}");
    assert_eq!(data["would_store"], "false");
    assert!(
        data["body"]
            .as_str()
            .unwrap()
            .contains("Rating has to be a float between 1 -5")
    );
    browser.wait_for("#explain-no-fields").await;

    // The parts form: method, path, headers and body given one by one.
    browser
        .execute(
            "document.getElementById('explain-message').value = ''; \
             document.getElementById('explain-parts').open = true;",
            vec![],
        )
        .await;
    browser
        .type_into(
            &browser.wait_for("#explain-path").await,
            &format!("https://fe1.contoso.com:443{UCWA_DIAGNOSTICS}"),
        )
        .await;
    browser
        .type_into(
            &browser.wait_for("#explain-headers").await,
            &format!(
                "Authorization: Bearer {}\nContent-Type: application/json",
                acme.ucwa_token
            ),
        )
        .await;
    browser
        .type_into(
            &browser.wait_for("#explain-body").await,
            "{\"errorCode\": \"BadRequest\", \"errorSubcode\": \"InviteesOnly\"}",
        )
        .await;
    browser
        .execute(
            "document.getElementById('explain-out').textContent = '';",
            vec![],
        )
        .await;
    browser
        .click(&browser.wait_for("#explain-button").await)
        .await;
    browser
        .wait_for("#view[data-state=ready] #explain-result")
        .await;
    let shown = rows(&browser).await;
    assert_eq!(shown["error_code"][0], "BadRequest", "{shown:?}");
    assert_eq!(shown["error_subcode"][0], "InviteesOnly", "{shown:?}");

    // What cannot be explained is said, with the line or the reason.
    let mut undelimited = seed_as("ucwa-diagnostics-json", &acme);
    undelimited = undelimited.replacen("\n\n", "\n", 1);
    explain_message(&browser, &undelimited).await;
    let error = shown_error(&browser).await;
    assert!(
        error.contains("line 6: expected a header"),
        "the documentation's missing empty line is named: {error}"
    );
    explain_message(&browser, &seed_as("plivo-python", &globex)).await;
    let error = shown_error(&browser).await;
    assert!(
        error.contains("403"),
        "another tenant's request is refused: {error}"
    );

    let errors = browser.console_errors().await;
    // The 403 above is a refused request the console reports; nothing else.
    assert!(
        errors.iter().all(|e| e.contains("403")),
        "console errors: {errors:#?}"
    );
    browser.quit().await;
    assert_eq!(server.count("acme").await, 0, "explain stores nothing");
    assert_eq!(server.count("globex").await, 0);
}
