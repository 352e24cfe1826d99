//! `callq explain FILE` on the real binary: every seed request saved as an
//! HTTP message file (tests/data/seeds/*.http) explains offline as the real
//! route would answer it, with its provenance rows, and nothing is opened,
//! created or stored.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::TestTenant;
use crate::support::cli::callq_bin;

fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/seeds")
        .join(format!("{name}.http"))
}

/// Runs `callq explain` with `args` in `cwd` (an empty directory unless
/// said), without any configuration from the environment.
fn explain_in(cwd: &Path, args: &[&str]) -> Output {
    callq_bin()
        .current_dir(cwd)
        .arg("explain")
        .args(args)
        .output()
        .expect("callq runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `--json` explanation of a seed file explained as tenant `acme`.
fn explained(dir: &Path, name: &str) -> Value {
    let file = seed(name);
    let out = explain_in(dir, &[file.to_str().unwrap(), "--tenant", "acme", "--json"]);
    assert!(
        out.status.success(),
        "{name}: {}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}):\n{}", text(&out.stdout)))
}

/// The provenance row of `field`, if any.
fn row<'a>(e: &'a Value, field: &str) -> Option<&'a Value> {
    e["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["field"] == field)
}

/// Asserts the row of `field`: its source kind and place and its raw value.
fn assert_row(name: &str, e: &Value, field: &str, kind: &str, at: &str, raw: &str) -> Value {
    let r = row(e, field).unwrap_or_else(|| {
        panic!(
            "{name}: no provenance row for {field}; rows: {:#}",
            e["provenance"]
        )
    });
    assert_eq!(r["source"]["kind"], kind, "{name} {field}: {r}");
    assert_eq!(r["source"]["at"], at, "{name} {field}: {r}");
    assert_eq!(r["raw"], raw, "{name} {field}: {r}");
    r.clone()
}

fn response_body(e: &Value) -> String {
    e["response"]["body"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// What each seed file must explain as: style, operation, status, stored.
const EXPECTED: &[(&str, &str, &str, u16, bool)] = &[
    (
        "ucwa-feedback-json",
        "ucwa",
        "publishCallQualityFeedback",
        204,
        true,
    ),
    (
        "ucwa-feedback-xml",
        "ucwa",
        "publishCallQualityFeedback",
        204,
        true,
    ),
    (
        "ucwa-diagnostics-json",
        "ucwa",
        "reportMediaDiagnostics",
        204,
        true,
    ),
    (
        "ucwa-diagnostics-xml",
        "ucwa",
        "reportMediaDiagnostics",
        204,
        true,
    ),
    ("ucwa-session-json", "ucwa", "audioVideoSession", 200, false),
    ("ucwa-session-xml", "ucwa", "audioVideoSession", 200, false),
    (
        "graph-log-quality",
        "graph",
        "logTeleconferenceDeviceQuality",
        200,
        true,
    ),
    (
        "graph-python-sdk",
        "graph",
        "logTeleconferenceDeviceQuality",
        200,
        true,
    ),
    ("plivo-curl", "plivo", "feedback", 201, true),
    ("plivo-python", "plivo", "feedback", 201, true),
    ("plivo-ruby", "plivo", "feedback", 201, true),
    // The current Node SDK sends no body at all: Plivo's 422.
    ("plivo-node", "plivo", "feedback", 422, false),
    ("plivo-php", "plivo", "feedback", 201, true),
    ("plivo-java", "plivo", "feedback", 201, true),
    ("plivo-dotnet", "plivo", "feedback", 201, true),
    // The seed's Go example's call UUID is two digits short: Plivo
    // accepts it (tolerated, as the curl example's one digit short).
    ("plivo-go", "plivo", "feedback", 201, true),
];

#[test]
fn every_seed_file_explains_as_its_route_would_answer() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<String> = std::fs::read_dir(seed("x").parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files.len(),
        EXPECTED.len(),
        "every seed file has its expectation: {files:?}"
    );
    for (name, style, operation, status, stored) in EXPECTED {
        let e = explained(dir.path(), name);
        assert_eq!(e["style"], *style, "{name}");
        assert_eq!(e["operation"], *operation, "{name}");
        assert_eq!(
            e["response"]["status"], *status,
            "{name}: {:#}",
            e["response"]
        );
        assert_eq!(e["would_store"], *stored, "{name}");
        assert_eq!(e["report"].is_object(), *stored, "{name}");
        if !*stored {
            assert!(e["provenance"].as_array().unwrap().is_empty(), "{name}");
        }
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was written where callq ran"
    );
}

#[test]
fn the_seed_files_provenance_rows_say_where_each_value_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let e = explained(d, "plivo-python");
    let r = assert_row(
        "plivo-python",
        &e,
        "rating",
        "json_pointer",
        "/rating",
        "\"4\"",
    );
    assert!(r["conversion"].as_str().unwrap().contains("4.0"), "{r}");
    assert_row(
        "plivo-python",
        &e,
        "issues[0]",
        "json_pointer",
        "/issues/0",
        "\"AUDIO_LAG\"",
    );
    assert_row(
        "plivo-python",
        &e,
        "call_id",
        "path_segment",
        "{call_uuid}",
        "b38149eb-b8fe-45d5-85b2-78ee4424788f",
    );
    assert_eq!(e["report"]["rating"], 4.0);
    assert!(response_body(&e).contains("Feedback has been posted"));

    let e = explained(d, "plivo-curl");
    assert_eq!(
        e["report"]["call_id"],
        "f6bf3c48-afdf-4e42-a30e-9e00fda351d"
    );

    let e = explained(d, "plivo-node");
    assert!(
        response_body(&e).contains("Rating has to be a float between 1 -5"),
        "{:#}",
        e["response"]
    );
    let e = explained(d, "plivo-go");
    assert_eq!(e["report"]["call_id"], "f18149eb-b8fe-45d5-85b2-78ee442478");
    assert!(
        e["tolerated"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["shape"] == "short-call-uuid"),
        "{:#}",
        e["tolerated"]
    );
    // The Go SDK's body ends in json.Encoder's newline: its Content-Length
    // keeps it, and the stored payload is the body byte for byte.
    assert_eq!(
        e["report"]["raw_payload"],
        "{\"call_uuid\":\"f18149eb-b8fe-45d5-85b2-78ee442478\",\"notes\":\"Call quality was good\",\"rating\":\"4\",\"issues\":[\"AUDIO_LAG\"]}\n"
    );

    let e = explained(d, "ucwa-diagnostics-json");
    assert_row(
        "ucwa-diagnostics-json",
        &e,
        "error_code",
        "json_pointer",
        "/errorCode",
        "BadRequest",
    );
    assert_row(
        "ucwa-diagnostics-json",
        &e,
        "error_subcode",
        "json_pointer",
        "/errorSubcode",
        "InviteesOnly",
    );
    assert_row(
        "ucwa-diagnostics-json",
        &e,
        "call_id",
        "path_segment",
        "{applicationId}/{conversationId}",
        "192/137",
    );
    let e = explained(d, "ucwa-diagnostics-xml");
    let r = row(&e, "error_code").expect("error_code row");
    assert_eq!(r["source"]["kind"], "xml_path", "{r}");
    assert_eq!(r["raw"], "TooManyRequests", "{r}");
    assert_eq!(e["report"]["error_subcode"], "MediaNegotiationFailure");

    let e = explained(d, "graph-log-quality");
    assert_eq!(e["streams"].as_array().unwrap().len(), 3);
    let r = assert_row(
        "graph-log-quality",
        &e,
        "streams[0].avg_outbound_jitter_ms",
        "json_pointer",
        "/quality/mediaQualityList/0/averageOutboundJitter",
        "\"PT0.015S\"",
    );
    assert!(r["conversion"].as_str().unwrap().contains("15"), "{r}");
    assert_eq!(e["streams"][0]["avg_outbound_jitter_ms"], 15.0);

    let e = explained(d, "graph-python-sdk");
    let r = assert_row(
        "graph-python-sdk",
        &e,
        "streams[0].avg_inbound_rtt_ms",
        "json_pointer",
        "/quality/mediaQualityList/0/averageInboundRoundTripDelay",
        "\"0:00:00.030000\"",
    );
    assert!(r["conversion"].as_str().unwrap().contains("30"), "{r}");
    assert!(
        !e["tolerated"].as_array().unwrap().is_empty(),
        "the untyped screen-sharing item is a tolerated shape: {:#}",
        e["tolerated"]
    );
}

#[test]
fn the_table_shows_fields_ignored_tolerated_and_the_response() {
    let dir = tempfile::tempdir().unwrap();
    let file = seed("ucwa-diagnostics-json");
    let out = explain_in(dir.path(), &[file.to_str().unwrap(), "--tenant", "acme"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.starts_with("POST https://fe1.contoso.com:443/ucwa/v1/applications/192/communication/conversations/137/audioVideo/reportMediaDiagnostics\n"), "{shown}");
    assert!(
        shown.contains("style: ucwa   operation: reportMediaDiagnostics   would store: yes"),
        "{shown}"
    );
    let header = shown
        .lines()
        .find(|l| l.trim_start().starts_with("field"))
        .unwrap_or_else(|| panic!("no table header:\n{shown}"));
    let columns: Vec<&str> = header.split('|').map(str::trim).collect();
    assert_eq!(columns, ["field", "value", "source", "raw", "conversion"]);
    let error_code = shown
        .lines()
        .find(|l| l.trim_start().starts_with("error_code "))
        .unwrap_or_else(|| panic!("no error_code row:\n{shown}"));
    let cells: Vec<&str> = error_code.split('|').map(str::trim).collect();
    assert_eq!(
        &cells[..4],
        ["error_code", "BadRequest", "json /errorCode", "BadRequest"]
    );
    for section in [
        "\nIgnored (kept only in the raw payload)\n",
        "\nTolerated\n",
        "\nResponse\n  204 No Content\n",
    ] {
        assert!(shown.contains(section), "{section:?} in:\n{shown}");
    }
    // The documentation's `Post` is read as POST, and the table says so.
    assert!(
        shown.contains("reading the file, line 1: method \"Post\" read as POST"),
        "{shown}"
    );
}

#[test]
fn without_tenant_the_files_credentials_are_checked_against_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let acme = TestTenant::new("acme");
    let config = crate::support::cli::config_file(
        &dir,
        &acme,
        &format!(
            "database_url = \"sqlite:{}/never.db\"",
            dir.path().display()
        ),
    );
    let config = config.to_str().unwrap();
    // The seed's placeholder credentials are nobody's: Plivo's own 401.
    let out = explain_in(
        dir.path(),
        &[
            "--config",
            config,
            seed("plivo-python").to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["response"]["status"], 401, "{:#}", e["response"]);
    assert_eq!(e["would_store"], false);

    // The same request with acme's real credentials: 201, as acme's report.
    let with_credentials = std::fs::read_to_string(seed("plivo-python"))
        .unwrap()
        .replace(
            "Basic PGF1dGhfaWQ+OjxhdXRoX3Rva2VuPg==",
            &acme.plivo_authorization(),
        );
    let file = dir.path().join("acme.http");
    std::fs::write(&file, with_credentials).unwrap();
    let out = explain_in(
        dir.path(),
        &["--config", config, file.to_str().unwrap(), "--json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["response"]["status"], 201, "{:#}", e["response"]);
    assert_eq!(e["report"]["tenant"], "acme");
    assert!(
        !dir.path().join("never.db").exists(),
        "the configured SQLite database is never created"
    );
}

#[test]
fn a_file_that_is_not_a_request_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    // The documentation's own layout: the body right under the headers.
    let file = dir.path().join("doc.http");
    std::fs::write(
        &file,
        "Post https://fe1.contoso.com:443/ucwa/v1/applications/192/communication/conversations/137/audioVideo/reportMediaDiagnostics HTTP/1.1\nHost: fe1.contoso.com\nContent-Type: application/json\n{\n  \"errorCode\" : \"BadRequest\"\n}\n",
    )
    .unwrap();
    let out = explain_in(dir.path(), &[file.to_str().unwrap(), "--tenant", "acme"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("doc.http: line 4: expected a header `Name: value`, or the empty line that ends the headers"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let out = explain_in(
        dir.path(),
        &[dir.path().join("missing.http").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("missing.http"),
        "{}",
        text(&out.stderr)
    );

    let out = explain_in(
        dir.path(),
        &[
            seed("plivo-python").to_str().unwrap(),
            "--tenant",
            "not a tenant",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--tenant"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only the test's own file is there"
    );
}

/// The seed file with `tenant`'s real credentials in its `Authorization`.
fn seed_with_credentials(name: &str, tenant: &TestTenant) -> String {
    let credential = if name.starts_with("plivo") {
        tenant.plivo_authorization()
    } else if name.starts_with("graph") {
        format!("Bearer {}", tenant.graph_token)
    } else {
        format!("Bearer {}", tenant.ucwa_token)
    };
    let text = std::fs::read_to_string(seed(name)).unwrap();
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let head: Vec<String> = head
        .lines()
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("authorization:") {
                format!("Authorization: {credential}")
            } else {
                l.to_owned()
            }
        })
        .collect();
    format!("{}\n\n{body}", head.join("\n"))
}

/// What must agree between two explanations of one request: everything but
/// the per-request ids (report id, request id) and the response's id-bearing
/// body and headers.
fn comparable(e: &Value) -> Value {
    let rows: Vec<Value> = e["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["field"] != "request_id")
        .cloned()
        .collect();
    serde_json::json!({
        "style": e["style"], "operation": e["operation"], "would_store": e["would_store"],
        "status": e["response"]["status"], "provenance": rows,
        "ignored": e["ignored"], "tolerated": e["tolerated"],
        "streams": e["streams"],
    })
}

/// The offline command and `POST /api/v1/explain` give the same answer for
/// every seed file (with a tenant's real credentials, checked as the server
/// checks them).
#[tokio::test]
async fn the_offline_command_answers_as_the_endpoint_does_for_every_seed() {
    let (server, acme, _) = crate::support::TestServer::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::cli::config_file(&dir, &acme, "");
    // config_file writes only Plivo credentials: add acme's UCWA and Graph ones.
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(&format!(
        "ucwa = [{{ token = \"{}\" }}]\ngraph = [{{ token = \"{}\" }}]\n",
        acme.ucwa_token, acme.graph_token
    ));
    std::fs::write(&config, toml).unwrap();
    let settings = callq::config::load(Some(&config)).unwrap().settings;
    for (name, ..) in EXPECTED {
        let file = dir.path().join(format!("{name}.http"));
        std::fs::write(&file, seed_with_credentials(name, &acme)).unwrap();
        let out = explain_in(
            dir.path(),
            &[
                "--config",
                config.to_str().unwrap(),
                file.to_str().unwrap(),
                "--json",
            ],
        );
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let offline: Value = serde_json::from_slice(&out.stdout).unwrap();

        let prepared = callq::explain_file::read(&file, &settings).unwrap();
        let answer = server
            .client
            .post(server.url("/api/v1/explain"))
            .bearer_auth(&acme.ops_token)
            .json(&prepared.request)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{name}");
        let online: Value = answer.json().await.unwrap();
        assert_eq!(comparable(&offline), comparable(&online), "{name}");
        assert_ne!(offline["response"]["status"], 401, "{name}: credentials");
    }
    assert_eq!(server.count("acme").await, 0, "explain stores nothing");
}
