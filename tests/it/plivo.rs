//! Plivo style: `POST /v1/Call/{call_uuid}/Feedback/` over real HTTP against
//! a real PostgreSQL. Bodies are the seed's and each SDK's, byte for byte.

use std::io::Write;

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::support::wire::{json_body, plivo_error, plivo_path};
use crate::support::{self, TestServer, TestTenant, pg};

/// Asserts Plivo's error shape `{"api_id": "<uuid>", "error": "<text>"}`.
async fn expect_error(response: Response, status: u16, error: &str) {
    assert_eq!(
        plivo_error(response, status).await,
        error,
        "expected {status} {error:?}"
    );
}

const CALL: &str = "b38149eb-b8fe-45d5-85b2-78ee4424788f";
const INVALID_RATING: &str = "Rating has to be a float between 1 -5";
const INVALID_ISSUES: &str = "Issues have to be an array of one or more than one of the following: AUDIO_LAG, BROKEN_AUDIO, CALL_DROPPPED, CALLERID_ISSUES, DIGITS_NOT_CAPTURED, ECHO, HIGH_CONNECT_TIME, LOW_AUDIO_LEVEL, ONE_WAY_AUDIO, OTHERS, ROBOTIC_AUDIO";

/// Asserts a 201 in Plivo's success shape and returns its `api_id`.
async fn expect_posted(response: Response) -> uuid::Uuid {
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json_body(response).await;
    let fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields.len(), 3, "{body}");
    assert_eq!(body["message"], "Feedback has been posted");
    assert_eq!(body["status"], "success");
    uuid::Uuid::parse_str(body["api_id"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn the_seed_curl_example_is_posted_and_stored() {
    let (server, acme, _) = TestServer::postgres().await;
    // curl -i --user AUTH_ID:AUTH_TOKEN -H "Content-Type: application/json" -d '…'
    // The seed's own URL is tested too, below: its call UUID is one digit short.
    let body = r#"{"issues": ["AUDIO_LAG"], "rating": "4", "notes": "Call quality was good"}"#;
    let response = server
        .plivo(&acme, CALL, body)
        .header("user-agent", "curl/8.5.0")
        .send()
        .await
        .unwrap();
    let api_id = expect_posted(response).await;

    let stored = server.reports_about("acme", CALL).await;
    assert_eq!(stored.len(), 1);
    let report = &stored[0];
    assert_eq!(report.id, api_id, "api_id names the stored report");
    assert_eq!(report.protocol, callq::model::Protocol::Plivo);
    assert_eq!(report.kind, callq::model::Kind::Feedback);
    assert_eq!(report.call_id, CALL);
    assert_eq!(report.rating, Some(4.0));
    assert_eq!(report.issues, vec!["AUDIO_LAG".to_string()]);
    assert_eq!(report.notes.as_deref(), Some("Call quality was good"));
    assert_eq!(report.raw_payload, body, "the body is kept exactly as sent");
    assert_eq!(report.user_agent.as_deref(), Some("curl/8.5.0"));
    assert_eq!(report.content_type.as_deref(), Some("application/json"));
    assert!(report.request_id.is_some());
}

#[tokio::test]
async fn the_seed_curl_example_with_its_own_short_call_uuid_is_accepted_byte_for_byte() {
    let (server, acme, _) = TestServer::postgres().await;
    // Exactly the seed's curl line: its URL's call UUID has 11 digits in the last group.
    let seed_call = "f6bf3c48-afdf-4e42-a30e-9e00fda351d";
    let body = r#"{"issues": ["AUDIO_LAG"], "rating": "4", "notes": "Call quality was good"}"#;
    let response = server.plivo(&acme, seed_call, body).send().await.unwrap();
    let api_id = expect_posted(response).await;
    let stored = server.reports_about("acme", seed_call).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, api_id);
    assert_eq!(stored[0].rating, Some(4.0));
}

#[tokio::test]
async fn call_uuids_that_are_not_uuid_shaped_get_please_check_the_call_uuid() {
    let (server, acme, _) = TestServer::postgres().await;
    let body = r#"{"issues": ["AUDIO_LAG"], "rating": "4", "notes": "Call quality was good"}"#;
    for call in [
        "f18149eb-b8fe-45d5-85b2-78ee44247", // three digits short
        "not-a-uuid",
        "b38149ebb8fe45d585b278ee4424788f",
        "%7Bb38149eb-b8fe-45d5-85b2-78ee4424788f%7D",
        "%FF%FE",
    ] {
        let response = server.plivo(&acme, call, body).send().await.unwrap();
        expect_error(response, 404, "Please check the Call UUID").await;
    }
    assert_eq!(server.count("acme").await, 0);
}

/// One SDK's request as it goes on the wire.
struct SdkRequest {
    sdk: &'static str,
    user_agent: &'static str,
    content_type: &'static str,
    body: String,
    rating: f64,
    issues: &'static [&'static str],
    notes: Option<&'static str>,
}

fn sdk_requests(call: &str) -> Vec<SdkRequest> {
    let good = "Call quality was good";
    vec![
        // plivo-python: rating passed through as given, empty fields left out.
        SdkRequest {
            sdk: "python, documented example",
            user_agent: "plivo-python/4.63.0 (Python: 3.11.7)",
            content_type: "application/json",
            body: r#"{"rating": "4", "issues": ["AUDIO_LAG"], "notes": "Call quality was good"}"#
                .into(),
            rating: 4.0,
            issues: &["AUDIO_LAG"],
            notes: Some(good),
        },
        SdkRequest {
            sdk: "python, rating only",
            user_agent: "plivo-python/4.63.0 (Python: 3.11.7)",
            content_type: "application/json",
            body: r#"{"rating": 5}"#.into(),
            rating: 5.0,
            issues: &[],
            notes: None,
        },
        SdkRequest {
            sdk: "python, fractional rating and escaped non-ASCII notes",
            user_agent: "plivo-python/4.63.0 (Python: 3.11.7)",
            content_type: "application/json",
            body: r#"{"rating": 4.5, "issues": ["ECHO"], "notes": "caf\u00e9 \u260e"}"#.into(),
            rating: 4.5,
            issues: &["ECHO"],
            notes: Some("café ☎"),
        },
        // plivo-go: the whole params struct, no omitempty, json.Encoder's newline.
        SdkRequest {
            sdk: "go, documented example",
            user_agent: "plivo-go/7.60.2 (Go: go1.22.4)",
            content_type: "application/json",
            body: format!(
                "{{\"call_uuid\":\"{call}\",\"notes\":\"Call quality was good\",\"rating\":\"4\",\"issues\":[\"AUDIO_LAG\"]}}\n"
            ),
            rating: 4.0,
            issues: &["AUDIO_LAG"],
            notes: Some(good),
        },
        SdkRequest {
            sdk: "go, unset notes and issues",
            user_agent: "plivo-go/7.60.2 (Go: go1.22.4)",
            content_type: "application/json",
            body: format!(
                "{{\"call_uuid\":\"{call}\",\"notes\":\"\",\"rating\":5,\"issues\":null}}\n"
            ),
            rating: 5.0,
            issues: &[],
            notes: None,
        },
        // plivo-node as it sent before its HTTP client change (the current one
        // sends no body at all: see the empty-body test).
        SdkRequest {
            sdk: "node, body as built",
            user_agent: "plivo-node/4.78.0 (Node: v20.20.2)",
            content_type: "application/json",
            body: r#"{"rating":4,"issues":["AUDIO_LAG"],"notes":"Call quality was good"}"#.into(),
            rating: 4.0,
            issues: &["AUDIO_LAG"],
            notes: Some(good),
        },
        // plivo-ruby: rating as given (a number in its example).
        SdkRequest {
            sdk: "ruby",
            user_agent: "plivo-ruby/4.61.0 (Ruby 3.3.0)",
            content_type: "application/json",
            body: r#"{"rating":4,"issues":["AUDIO_LAG"],"notes":"Call quality was good"}"#.into(),
            rating: 4.0,
            issues: &["AUDIO_LAG"],
            notes: Some(good),
        },
        // plivo-php: callUUID and its internal flag travel in the body.
        SdkRequest {
            sdk: "php",
            user_agent: "plivo-php/4.66.0 (PHP: 8.3.0)",
            content_type: "application/json",
            body: format!(
                "{{\"callUUID\":\"{call}\",\"rating\":4,\"issues\":[\"AUDIO_LAG\"],\"notes\":\"Call quality was good\",\"isCallInsightsRequest\":true}}"
            ),
            rating: 4.0,
            issues: &["AUDIO_LAG"],
            notes: Some(good),
        },
        // plivo-java: Jackson, snake_case, rating is a Float.
        SdkRequest {
            sdk: "java",
            user_agent: "plivo-java/5.46.0 (Implementation: Eclipse Adoptium 21.0.2)",
            content_type: "application/json; charset=UTF-8",
            body: r#"{"rating":4.0,"issues":["AUDIO_LAG"],"notes":"Call quality was good"}"#.into(),
            rating: 4.0,
            issues: &["AUDIO_LAG"],
            notes: Some(good),
        },
        // plivo-dotnet: Newtonsoft, float rating, the call UUID in the body.
        SdkRequest {
            sdk: ".NET",
            user_agent: "plivo-dotnet/5.49.0",
            content_type: "application/json; charset=utf-8",
            body: format!(
                "{{\"call_uuid\":\"{call}\",\"rating\":4.0,\"issues\":[\"AUDIO_LAG\"],\"notes\":\"Call quality was good\"}}"
            ),
            rating: 4.0,
            issues: &["AUDIO_LAG"],
            notes: Some(good),
        },
    ]
}

#[tokio::test]
async fn every_sdks_body_shape_is_accepted_and_stored_with_a_numeric_rating() {
    let (server, acme, _) = TestServer::postgres().await;
    for (n, sdk) in sdk_requests(CALL).into_iter().enumerate() {
        // A call of its own per SDK, so each stored report is found by call.
        let call = format!("{CALL:.30}{n:06}");
        let body = sdk.body.replace(CALL, &call);
        let response = server
            .client
            .post(server.url(&plivo_path(&call)))
            .basic_auth(&acme.plivo_auth_id, Some(&acme.plivo_auth_token))
            .header("content-type", sdk.content_type)
            .header("user-agent", sdk.user_agent)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{}", sdk.sdk);
        let api_id = expect_posted(response).await;
        let stored = server.reports_about("acme", &call).await;
        assert_eq!(stored.len(), 1, "{}", sdk.sdk);
        let report = &stored[0];
        assert_eq!(report.id, api_id, "{}", sdk.sdk);
        assert_eq!(report.rating, Some(sdk.rating), "{}", sdk.sdk);
        assert_eq!(report.issues, sdk.issues, "{}", sdk.sdk);
        assert_eq!(report.notes.as_deref(), sdk.notes, "{}", sdk.sdk);
        assert_eq!(report.raw_payload, body, "{}", sdk.sdk);
        assert_eq!(
            report.user_agent.as_deref(),
            Some(sdk.user_agent),
            "{}",
            sdk.sdk
        );
    }
    assert_eq!(server.count("acme").await, sdk_requests(CALL).len() as i64);
}

#[tokio::test]
async fn the_current_node_sdks_empty_body_gets_the_rating_422_and_is_counted() {
    let (server, acme, _) = TestServer::postgres().await;
    let before = empty_feedback_count(&server, "plivo-node").await;
    let response = server
        .client
        .post(server.url(&plivo_path(CALL)))
        .basic_auth(&acme.plivo_auth_id, Some(&acme.plivo_auth_token))
        .header("accept", "application/json, text/plain, */*")
        .header("content-type", "application/json")
        .header("user-agent", "plivo-node/4.78.0 (Node: v20.20.2)")
        .body("")
        .send()
        .await
        .unwrap();
    expect_error(response, 422, INVALID_RATING).await;
    assert_eq!(server.count("acme").await, 0);
    let after = empty_feedback_count(&server, "plivo-node").await;
    assert!(
        after > before,
        "empty bodies are counted per client: {before} → {after}"
    );
}

/// The value of `callq_plivo_empty_feedback_total{client=…}` on /metrics.
async fn empty_feedback_count(server: &TestServer, client: &str) -> u64 {
    let series = format!("callq_plivo_empty_feedback_total{{client=\"{client}\"}}");
    crate::support::metric_value(&server.metrics().await, &series).map_or(0, |v| v as u64)
}

#[tokio::test]
async fn every_documented_validation_error_has_plivos_status_and_text_and_stores_nothing() {
    let (server, acme, _) = TestServer::postgres().await;
    let cases: &[(&str, u16, &str)] = &[
        ("", 422, INVALID_RATING),
        ("\n", 422, INVALID_RATING),
        ("{}", 422, INVALID_RATING),
        (r#"{"issues": ["ECHO"]}"#, 422, INVALID_RATING),
        (
            r#"{"rating": null, "issues": ["ECHO"]}"#,
            422,
            INVALID_RATING,
        ),
        (
            r#"{"rating": "7", "issues": ["ECHO"]}"#,
            422,
            INVALID_RATING,
        ),
        (r#"{"rating": 0, "issues": ["ECHO"]}"#, 422, INVALID_RATING),
        (r#"{"rating": 5.5}"#, 422, INVALID_RATING),
        (
            r#"{"rating": "four", "issues": ["ECHO"]}"#,
            422,
            INVALID_RATING,
        ),
        (
            r#"{"rating": true, "issues": ["ECHO"]}"#,
            422,
            INVALID_RATING,
        ),
        (r#"{"rating": 4}"#, 422, INVALID_ISSUES),
        (r#"{"rating": "4", "issues": null}"#, 422, INVALID_ISSUES),
        (r#"{"rating": 4, "issues": []}"#, 422, INVALID_ISSUES),
        (r#"{"rating": 4, "issues": "ECHO"}"#, 422, INVALID_ISSUES),
        (
            r#"{"rating": 4, "issues": ["ECHO", "STATIC"]}"#,
            422,
            INVALID_ISSUES,
        ),
        (
            r#"{"rating": 5, "issues": ["STATIC"]}"#,
            422,
            INVALID_ISSUES,
        ),
        (r#"{"rating": 4, "issues": [7]}"#, 422, INVALID_ISSUES),
        (
            r#"{"rating": 5, "notes": 12}"#,
            422,
            "Notes has to be text of at most 4096 characters",
        ),
        (
            "rating=4&issues=ECHO",
            400,
            "Request body has to be a JSON object",
        ),
        (
            r#"{"rating": 4"#,
            400,
            "Request body has to be a JSON object",
        ),
        ("[]", 400, "Request body has to be a JSON object"),
    ];
    for (body, status, error) in cases {
        let response = server.plivo(&acme, CALL, *body).send().await.unwrap();
        expect_error(response, *status, error).await;
    }
    let long = serde_json::json!({"rating": 5, "Notes": "n".repeat(4097)}).to_string();
    let response = server
        .plivo(&acme, CALL, long.clone())
        .send()
        .await
        .unwrap();
    expect_error(
        response,
        422,
        "Notes has to be text of at most 4096 characters",
    )
    .await;
    let response = server
        .plivo(&acme, CALL, "")
        .body(b"{\"rating\": 5, \"notes\": \"\xff\"}".to_vec())
        .send()
        .await
        .unwrap();
    expect_error(response, 400, "Request body has to be a JSON object").await;
    assert_eq!(
        server.count("acme").await,
        0,
        "nothing stored for a rejected request"
    );
}

#[tokio::test]
async fn issue_spellings_case_notes_and_rating_five_are_normalized_as_documented() {
    let (server, acme, _) = TestServer::postgres().await;
    let cases: &[(&str, f64, &[&str], Option<&str>)] = &[
        (
            r#"{"rating": "2.5", "issues": ["CALL_DROPPPED", "CALLERID_ISSUES", "call_dropped"]}"#,
            2.5,
            &["CALL_DROPPED", "CALLERID_ISSUE"],
            None,
        ),
        (
            r#"{"rating": 1, "issues": ["one_way_audio"], "Notes": "only I heard"}"#,
            1.0,
            &["ONE_WAY_AUDIO"],
            Some("only I heard"),
        ),
        (
            r#"{"rating": "5.0", "issues": ["OTHERS"], "notes": ""}"#,
            5.0,
            &["OTHERS"],
            None,
        ),
        (r#"{"rating": 5, "issues": []}"#, 5.0, &[], None),
    ];
    for (n, (body, rating, issues, notes)) in cases.iter().enumerate() {
        let call = format!("{CALL:.30}{n:06}");
        let response = server.plivo(&acme, &call, *body).send().await.unwrap();
        let api_id = expect_posted(response).await;
        let report = server
            .store()
            .get_report("acme", api_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(report.rating, Some(*rating), "{body}");
        assert_eq!(report.issues, *issues, "{body}");
        assert_eq!(report.notes.as_deref(), *notes, "{body}");
        assert_eq!(report.call_id, call);
    }
}

#[tokio::test]
async fn paths_methods_and_tolerated_transport_variants() {
    let (server, acme, _) = TestServer::postgres().await;
    let body = r#"{"rating": 3, "issues": ["ECHO"]}"#;
    // Without the trailing slash, with an upper-case UUID (stored lowercase).
    let upper = CALL.to_uppercase();
    let response = server
        .plivo_to(
            &acme,
            &format!("/v1/Call/{upper}/Feedback"),
            body.to_owned(),
        )
        .send()
        .await
        .unwrap();
    expect_posted(response).await;
    // A gzip-compressed body.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes()).unwrap();
    let response = server
        .plivo(&acme, CALL, "")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    expect_posted(response).await;
    // No Content-Type at all, and a query string.
    let response = server
        .client
        .post(server.url(&format!("{}?x=1", plivo_path(CALL))))
        .basic_auth(&acme.plivo_auth_id, Some(&acme.plivo_auth_token))
        .body(body)
        .send()
        .await
        .unwrap();
    expect_posted(response).await;
    assert_eq!(server.reports_about("acme", CALL).await.len(), 3);

    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        for path in [plivo_path(CALL), format!("/v1/Call/{CALL}/Feedback")] {
            let response = server
                .client
                .request(method.parse().unwrap(), server.url(&path))
                .basic_auth(&acme.plivo_auth_id, Some(&acme.plivo_auth_token))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.headers()["allow"], "POST");
            expect_error(response, 405, "HTTP method not allowed").await;
        }
    }
    for path in [
        "/v1/",
        "/v1/Call/",
        format!("/v1/Call/{CALL}/").as_str(),
        format!("/v1/Call/{CALL}/Feedbacks/").as_str(),
        format!("/v1/call/{CALL}/feedback/").as_str(),
        format!("/v1/Account/{}/Call/{CALL}/Feedback/", acme.plivo_auth_id).as_str(),
    ] {
        let response = server.plivo_to(&acme, path, body).send().await.unwrap();
        expect_error(response, 404, "Resource cannot be found").await;
    }
    let response = server
        .client
        .get(server.url("/v1/Call/"))
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "Resource cannot be found").await;
    assert_eq!(server.count("acme").await, 3);
}

#[tokio::test]
async fn auth_comes_first_any_bad_credentials_are_401_and_tenants_stay_apart() {
    let (server, acme, globex) = TestServer::postgres().await;
    let good = r#"{"rating": 4, "issues": ["ECHO"]}"#;
    let url = server.url(&plivo_path(CALL));
    let attempts = [
        server.client.post(&url).body(good),
        server
            .client
            .post(&url)
            .bearer_auth(&acme.plivo_auth_token)
            .body(good),
        server
            .client
            .post(&url)
            .basic_auth(&acme.plivo_auth_id, Some("wrong-token"))
            .body(good),
        server
            .client
            .post(&url)
            .basic_auth(&acme.plivo_auth_id, None::<&str>)
            .body(good),
        server
            .client
            .post(&url)
            .basic_auth("MAUNKNOWNUNKNOWNUNKN", Some(&acme.plivo_auth_token))
            .body(good),
        server
            .client
            .post(&url)
            .basic_auth(&globex.plivo_auth_id, Some(&acme.plivo_auth_token))
            .body(good),
        server
            .client
            .post(&url)
            .header("authorization", "Basic !!!")
            .body(good),
        // Bad credentials win over a bad body and over a bad call UUID.
        server
            .client
            .post(&url)
            .basic_auth(&acme.plivo_auth_id, Some("x"))
            .body("{"),
        server
            .client
            .post(server.url(&plivo_path("nope")))
            .basic_auth(&acme.plivo_auth_id, Some("x"))
            .body(good),
    ];
    for attempt in attempts {
        let response = attempt.send().await.unwrap();
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        expect_error(response, 401, "Authentication failed").await;
    }
    assert_eq!(server.count("acme").await, 0);
    assert_eq!(server.count("globex").await, 0);

    let response = server.plivo(&globex, CALL, good).send().await.unwrap();
    let api_id = expect_posted(response).await;
    assert_eq!(server.count("globex").await, 1);
    assert_eq!(server.count("acme").await, 0);
    assert!(
        server
            .store()
            .get_report("acme", api_id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn retries_are_stored_once_and_answered_alike_while_new_feedback_is_a_new_report() {
    let (server, acme, _) = TestServer::postgres().await;
    let body = r#"{"rating": "3", "issues": ["ROBOTIC_AUDIO"]}"#;
    for header in ["idempotency-key", "x-request-id"] {
        let key = format!("retry-{header}");
        let first = server
            .plivo(&acme, CALL, body)
            .header(header, &key)
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 201);
        let first = first.text().await.unwrap();
        let again = server
            .plivo(&acme, CALL, body)
            .header(header, &key)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 201);
        assert_eq!(
            again.text().await.unwrap(),
            first,
            "a retry is answered byte for byte alike"
        );
    }
    assert_eq!(server.count("acme").await, 2);
    // The same feedback again without a key is a new opinion: a new report.
    let third = server.plivo(&acme, CALL, body).send().await.unwrap();
    expect_posted(third).await;
    let fourth = server
        .plivo(&acme, CALL, r#"{"rating": 5}"#)
        .send()
        .await
        .unwrap();
    expect_posted(fourth).await;
    let stored = server.reports_about("acme", CALL).await;
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[3].rating, Some(5.0));
}

#[tokio::test]
async fn an_oversized_body_is_413_in_plivos_shape() {
    let (server, acme, _) = TestServer::postgres().await;
    let notes = "x".repeat(2 << 20);
    let body = format!(r#"{{"rating": 5, "notes": "{notes}"}}"#);
    let response = server
        .plivo(&acme, CALL, body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let json: Value = response.json().await.unwrap();
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .starts_with("Request body is larger than")
    );
    assert!(json["api_id"].is_string());
    assert_eq!(server.count("acme").await, 0);
}

#[tokio::test]
async fn a_database_that_is_down_means_503_with_retry_after_in_plivos_shape() {
    let acme = TestTenant::new("acme");
    let cluster = pg::PgCluster::start_new(false);
    let mut settings = support::settings(cluster.url("postgres"), std::slice::from_ref(&acme));
    settings.database_max_connections = 2;
    let server = TestServer::start(settings).await;
    let body = r#"{"rating": 4, "issues": ["ECHO"]}"#;
    expect_posted(server.plivo(&acme, CALL, body).send().await.unwrap()).await;
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop_immediately();
        cluster
    })
    .await
    .unwrap();
    let response = server.plivo(&acme, CALL, body).send().await.unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    expect_error(
        response,
        503,
        "Service temporarily unavailable, please retry later",
    )
    .await;
    server.shutdown().await;
    drop(cluster);
}
