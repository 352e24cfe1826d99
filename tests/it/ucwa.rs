//! The UCWA style over real HTTP against a real PostgreSQL: the seed
//! examples byte for byte, every error row in JSON and XML, the full
//! ErrorCode/ErrorSubcode lists, auth, idempotency and outage answers.

use callq::model::{Kind, Protocol, Report};
use reqwest::{Method, Response};

use crate::support::wire::{
    MS_QOE_SAMPLE, UCWA_AV as AV, UCWA_DIAGNOSTICS, UCWA_FEEDBACK, UCWA_SESSION,
};
use crate::support::{self, TestServer, TestTenant, pg};

fn feedback_path() -> String {
    UCWA_FEEDBACK.to_owned()
}
fn diagnostics_path() -> String {
    UCWA_DIAGNOSTICS.to_owned()
}
fn session_path() -> String {
    UCWA_SESSION.to_owned()
}

const SEED_CALL_ID: &str = "192/137";

// The seed request bodies, with the documentation's `&quot;`/`&lt;`/`&gt;` decoded.
const SEED_000_JSON: &str = "{\n  \"mediaEndpoint\" : \"samplevalue\",\n  \"mediaQualityOfExperience\" : \"samplevalue\"\n}";
const SEED_000_XML: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">\n  <property name=\"mediaEndpoint\">samplevalue</property>\n  <property name=\"mediaQualityOfExperience\">samplevalue</property>\n</input>";
const SEED_001_JSON: &str =
    "{\n  \"errorCode\" : \"BadRequest\",\n  \"errorSubcode\" : \"InviteesOnly\"\n}";
const SEED_001_XML: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">\n  <property name=\"errorCode\">TooManyRequests</property>\n  <property name=\"errorSubcode\">MediaNegotiationFailure</property>\n</input>";

/// The ErrorCode and ErrorSubcode lists exactly as seed 001 prints them.
const SEED_ERROR_CODES: &str = "BadRequest, Forbidden, NotFound, MethodNotAllowed, NotAcceptable, Conflict, Gone, PreconditionFailed, EntityTooLarge, UnsupportedMediaType, PreconditionRequired, TooManyRequests, ServiceFailure, ServiceUnavailable, GatewayTimeout, ExchangeServiceFailure, Timeout, LocalFailure, RemoteFailure, or Informational";
const SEED_ERROR_SUBCODES: &str = "None, Timeout, UnsupportedMediaType, DeserializationFailure, AnonymousNotAllowed, InviteesOnly, AlreadyExists, AnotherOperationPending, APIVersionNotSupported, NormalizationFailed, ProvisioningDataUnavailable, ApplicationNotFound, TooManyApplications, InactiveApplicationExpired, UserAgentNotAllowed, LimitExceeded, OperationNotSupported, NoDelegatesConfigured, NoTeamMembersConfigured, MakeMeAvailableRequired, LisServiceUnavailable, NoLocationFound, TooManyContacts, MigrationInProgress, TooManyGroups, TooManyOnlineMeetings, ThreadIdAlreadyExists, DoNotDisturb, ConnectedElsewhere, Missed, MediaFallback, FederationRequired, Canceled, Declined, Forwarded, Transferred, Replaced, EscalationFailed, InsufficientBandwidth, RepliedWithOtherModality, DestinationNotFound, DialoutNotAllowed, Unreachable, MediaEncryptionNotSupported, MediaEncryptionRequired, MediaEncryptionMismatch, Unavailable, TooManyParticipants, TooManyLobbyParticipants, Busy, AttendeeNotAllowed, Demoted, MediaFailure, InvalidMediaDescription, Removed, TemporarilyUnavailable, ModalityNotSupported, NotAllowed, Ejected, Denied, Ended, ParameterValidationFailure, SessionSwitched, DerivedConversation, Redirected, Expired, NotAcceptable, NewContentSharer, PhoneNumberConflict, IPv6NotSupported, PGetReplaced, PstnCallFailed, TransferDeclined, TransferTargetDeclined, CallbackUriUnreachable, ConversationNotFound, AutoAccepted, TooManyConversations, MediaNegotiationFailure, MediaNegotiationTimeOut, CallTerminated, MaxEventCountReached, CallbackChannelError, InvalidExchangeServerVersion, UnprocessableEntity, ExchangeTimeout, or CannotRedirect";

fn seed_list(list: &str) -> Vec<&str> {
    list.split(", ")
        .map(|s| s.trim_start_matches("or "))
        .collect()
}

/// Sends `body` with the seed's headers (Authorization, Host, Content-Type)
/// plus `extra`.
async fn send(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
    extra: &[(&str, &str)],
) -> Response {
    let mut req = server
        .client
        .request(method, server.url(path))
        .header("host", "fe1.contoso.com")
        .body(body);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.expect("the server answers")
}

async fn post(
    server: &TestServer,
    path: &str,
    token: &str,
    content_type: &str,
    body: &str,
) -> Response {
    server
        .ucwa(path, token, content_type, body.to_owned())
        .send()
        .await
        .expect("the server answers")
}

/// A UCWA error answer, read from either body format.
#[derive(Debug)]
struct UcwaError {
    status: u16,
    content_type: String,
    code: String,
    subcode: Option<String>,
    message: String,
    body: String,
}

fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    Some(body[start..end].to_owned())
}

async fn error_of(r: Response) -> UcwaError {
    let status = r.status().as_u16();
    assert_eq!(
        r.headers()["x-ms-ucwaversion"],
        "1",
        "every UCWA answer names its resource revision"
    );
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    let body = r.text().await.unwrap();
    if content_type.contains("json") {
        let v: serde_json::Value = serde_json::from_str(&body).expect("a JSON error body");
        UcwaError {
            status,
            content_type,
            code: v["code"].as_str().unwrap().to_owned(),
            subcode: v["subcode"].as_str().map(str::to_owned),
            message: v["message"].as_str().unwrap_or("").to_owned(),
            body,
        }
    } else {
        assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<reason xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">"), "{body}");
        UcwaError {
            status,
            content_type,
            code: xml_element(&body, "code").expect("<code>"),
            subcode: xml_element(&body, "subcode"),
            message: xml_element(&body, "message").unwrap_or_default(),
            body,
        }
    }
}

async fn assert_no_content(r: Response) {
    let status = r.status();
    let version = r.headers().get("x-ms-ucwaversion").cloned();
    let body = r.text().await.unwrap();
    assert_eq!(status, 204, "body: {body}");
    assert_eq!(version.unwrap(), "1");
    assert!(body.is_empty());
}

async fn only_report(server: &TestServer, tenant: &TestTenant, call_id: &str) -> Report {
    let mut reports = server.reports_about(&tenant.id, call_id).await;
    assert_eq!(reports.len(), 1, "exactly one report for {call_id}");
    reports.remove(0)
}

#[tokio::test]
async fn the_seed_feedback_examples_are_accepted_and_stored() {
    let (server, acme, globex) = TestServer::postgres().await;
    for (ct, body) in [
        ("application/json", SEED_000_JSON),
        ("application/xml", SEED_000_XML),
    ] {
        let r = post(&server, &feedback_path(), &acme.ucwa_token, ct, body).await;
        assert_no_content(r).await;
        let mut reports = server.reports_about(&acme.id, SEED_CALL_ID).await;
        let report = reports.pop().unwrap();
        assert_eq!(report.tenant, "acme");
        assert_eq!(report.protocol, Protocol::Ucwa);
        assert_eq!(report.kind, Kind::Feedback);
        assert_eq!(report.call_id, "192/137");
        assert_eq!(report.media_endpoint.as_deref(), Some("samplevalue"));
        assert_eq!(
            report.media_quality_of_experience.as_deref(),
            Some("samplevalue")
        );
        assert_eq!(report.error_code, None);
        assert_eq!(report.raw_payload, body, "the body is stored byte for byte");
        assert_eq!(report.content_type.as_deref(), Some(ct));
    }
    assert_eq!(server.count(&acme.id).await, 2);
    assert_eq!(server.count(&globex.id).await, 0);
}

#[tokio::test]
async fn the_seed_diagnostics_examples_are_accepted_and_stored() {
    let (server, acme, _) = TestServer::postgres().await;
    let r = post(
        &server,
        &diagnostics_path(),
        &acme.ucwa_token,
        "application/json",
        SEED_001_JSON,
    )
    .await;
    assert_no_content(r).await;
    let r = post(
        &server,
        &diagnostics_path(),
        &acme.ucwa_token,
        "application/xml",
        SEED_001_XML,
    )
    .await;
    assert_no_content(r).await;
    let reports = server.reports_about(&acme.id, SEED_CALL_ID).await;
    assert_eq!(reports.len(), 2);
    let got: Vec<_> = reports
        .iter()
        .map(|r| {
            (
                r.kind,
                r.error_code.as_deref(),
                r.error_subcode.as_deref(),
                r.raw_payload.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                Kind::Diagnostics,
                Some("BadRequest"),
                Some("InviteesOnly"),
                SEED_001_JSON
            ),
            (
                Kind::Diagnostics,
                Some("TooManyRequests"),
                Some("MediaNegotiationFailure"),
                SEED_001_XML
            ),
        ]
    );
    assert!(reports.iter().all(|r| r.media_endpoint.is_none()));
}

#[tokio::test]
async fn vendor_media_types_and_charsets_are_accepted() {
    let (server, acme, _) = TestServer::postgres().await;
    let cases = [
        ("application/json; charset=utf-8", SEED_001_JSON),
        (
            "application/vnd.microsoft.com.ucwa+json;charset=utf-8",
            SEED_001_JSON,
        ),
        ("application/vnd.microsoft.ucwa+json", SEED_001_JSON),
        ("application/xml;charset=UTF-8", SEED_001_XML),
        ("application/vnd.microsoft.com.ucwa+xml", SEED_001_XML),
        ("application/vnd.microsoft.ucwa+xml", SEED_001_XML),
    ];
    for (ct, body) in cases {
        let r = post(&server, &diagnostics_path(), &acme.ucwa_token, ct, body).await;
        assert_eq!(r.status(), 204, "{ct}");
    }
    // All properties are optional: an empty body and an empty object are fine.
    for (ct, body) in [
        ("application/json", ""),
        ("application/json", "{}"),
        (
            "application/xml",
            "<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"/>",
        ),
    ] {
        let r = post(&server, &feedback_path(), &acme.ucwa_token, ct, body).await;
        assert_eq!(r.status(), 204, "{ct} {body:?}");
    }
    assert_eq!(server.count(&acme.id).await, 9);
}

#[tokio::test]
async fn the_session_resource_is_served_in_json_and_xml() {
    let (server, acme, _) = TestServer::postgres().await;
    let base = "/ucwa/v1/applications/192/communication/conversations/137";
    let r = send(
        &server,
        Method::GET,
        &session_path(),
        Some(&acme.ucwa_token),
        None,
        "",
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(r.headers()["x-ms-ucwaversion"], "1");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["rel"], "session");
    assert_eq!(v["state"], "Established");
    assert!(v["remoteEndpoint"].is_string() && v["sessionContext"].is_string());
    let links = v["_links"].as_object().unwrap();
    let expected = [
        ("self", format!("{base}/audioVideo/audioVideoSession")),
        ("applicationSharing", format!("{base}/applicationSharing")),
        ("audioVideo", format!("{base}/audioVideo")),
        ("conversation", base.to_owned()),
        ("dataCollaboration", format!("{base}/dataCollaboration")),
        (
            "publishCallQualityFeedback",
            format!("{base}/audioVideo/audioVideoSession/publishCallQualityFeedback"),
        ),
        (
            "renegotiations",
            format!("{base}/audioVideo/audioVideoSession/renegotiations"),
        ),
    ];
    assert_eq!(links.len(), expected.len());
    for (rel, href) in &expected {
        assert_eq!(links[*rel]["href"], href.as_str(), "{rel}");
    }

    // XML, and the vendor type is echoed back.
    for accept in ["application/xml", "application/vnd.microsoft.com.ucwa+xml"] {
        let r = send(
            &server,
            Method::GET,
            &session_path(),
            Some(&acme.ucwa_token),
            None,
            "",
            &[("accept", accept)],
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-type"],
            format!("{accept}; charset=utf-8").as_str()
        );
        let x = r.text().await.unwrap();
        assert!(x.starts_with(&format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<resource rel=\"session\" href=\"{base}/audioVideo/audioVideoSession\" xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">"
        )), "{x}");
        for (rel, href) in &expected[1..] {
            assert!(
                x.contains(&format!("<link rel=\"{rel}\" href=\"{href}\" />")),
                "{rel} in {x}"
            );
        }
        assert!(x.contains("<property name=\"rel\">session</property>"));
        assert!(x.contains("<property name=\"state\">Established</property>"));
        assert!(x.contains("<property name=\"remoteEndpoint\""));
        assert!(x.ends_with("</resource>"));
    }

    // Hrefs follow the request's own ids; the GET stores nothing.
    let r = send(
        &server,
        Method::GET,
        "/ucwa/v1/applications/app-9/communication/conversations/conv%20x/audioVideo/audioVideoSession",
        Some(&acme.ucwa_token),
        None,
        "",
        &[],
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v["_links"]["publishCallQualityFeedback"]["href"],
        "/ucwa/v1/applications/app-9/communication/conversations/conv%20x/audioVideo/audioVideoSession/publishCallQualityFeedback"
    );
    assert_eq!(server.count(&acme.id).await, 0);
}

/// One refused request: what is sent, and the status/code/subcode expected.
struct Refusal {
    what: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
    subcode: Option<&'static str>,
    /// The parameter a ParameterValidationFailure must name.
    param: Option<&'static str>,
}

fn refused(
    what: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
    (status, code, subcode): (u16, &'static str, Option<&'static str>),
) -> Refusal {
    Refusal {
        what,
        method,
        path,
        content_type,
        body: body.into(),
        status,
        code,
        subcode,
        param: None,
    }
}

const DESERIALIZATION: (u16, &str, Option<&str>) =
    (400, "BadRequest", Some("DeserializationFailure"));
const VALIDATION: (u16, &str, Option<&str>) =
    (400, "BadRequest", Some("ParameterValidationFailure"));
const UNSUPPORTED: (u16, &str, Option<&str>) =
    (415, "UnsupportedMediaType", Some("UnsupportedMediaType"));
const NOT_ALLOWED: (u16, &str, Option<&str>) = (405, "MethodNotAllowed", None);
const NOT_FOUND: (u16, &str, Option<&str>) = (404, "NotFound", None);

fn refusals(limit: usize) -> Vec<Refusal> {
    let ns = "xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"";
    let json = Some("application/json");
    let xml = Some("application/xml");
    let with_param = |mut r: Refusal, param| {
        r.param = Some(param);
        r
    };
    vec![
        refused(
            "malformed JSON",
            Method::POST,
            feedback_path(),
            json,
            "{\"mediaEndpoint\": ",
            DESERIALIZATION,
        ),
        refused(
            "JSON that is not an object",
            Method::POST,
            feedback_path(),
            json,
            "[\"samplevalue\"]",
            DESERIALIZATION,
        ),
        refused(
            "malformed XML",
            Method::POST,
            feedback_path(),
            xml,
            format!("<input {ns}><property name=\"mediaEndpoint\">x</input>"),
            DESERIALIZATION,
        ),
        refused(
            "XML with a DTD",
            Method::POST,
            feedback_path(),
            xml,
            format!(
                "<?xml version=\"1.0\"?><!DOCTYPE input [<!ENTITY x \"boom\">]><input {ns}><property name=\"mediaEndpoint\">&x;</property></input>"
            ),
            DESERIALIZATION,
        ),
        refused(
            "XML with an undeclared entity",
            Method::POST,
            feedback_path(),
            xml,
            format!("<input {ns}><property name=\"mediaEndpoint\">&x;</property></input>"),
            DESERIALIZATION,
        ),
        refused(
            "XML outside the UCWA namespace",
            Method::POST,
            diagnostics_path(),
            xml,
            "<input><property name=\"errorCode\">BadRequest</property></input>",
            DESERIALIZATION,
        ),
        refused(
            "a body that is not UTF-8",
            Method::POST,
            feedback_path(),
            json,
            b"{\"mediaEndpoint\": \"caf\xe9\"}".to_vec(),
            DESERIALIZATION,
        ),
        with_param(
            refused(
                "an errorCode outside the enum",
                Method::POST,
                diagnostics_path(),
                json,
                "{\"errorCode\": \"ClientTimeout\"}",
                VALIDATION,
            ),
            "errorCode",
        ),
        with_param(
            refused(
                "an errorSubcode outside the enum",
                Method::POST,
                diagnostics_path(),
                xml,
                format!(
                    "<input {ns}><property name=\"errorCode\">BadRequest</property><property name=\"errorSubcode\">MediaNegotiationTimeout</property></input>"
                ),
                VALIDATION,
            ),
            "errorSubcode",
        ),
        with_param(
            refused(
                "an errorCode in the wrong case",
                Method::POST,
                diagnostics_path(),
                json,
                "{\"errorCode\": \"badrequest\"}",
                VALIDATION,
            ),
            "errorCode",
        ),
        with_param(
            refused(
                "a number where a string belongs",
                Method::POST,
                feedback_path(),
                json,
                "{\"mediaEndpoint\": 5}",
                VALIDATION,
            ),
            "mediaEndpoint",
        ),
        refused(
            "an unsupported Content-Type",
            Method::POST,
            feedback_path(),
            Some("text/plain"),
            SEED_000_JSON,
            UNSUPPORTED,
        ),
        refused(
            "an unsupported charset",
            Method::POST,
            feedback_path(),
            Some("application/json; charset=iso-8859-1"),
            SEED_000_JSON,
            UNSUPPORTED,
        ),
        refused(
            "a body without Content-Type",
            Method::POST,
            feedback_path(),
            None,
            SEED_000_JSON,
            UNSUPPORTED,
        ),
        refused(
            "GET on publishCallQualityFeedback",
            Method::GET,
            feedback_path(),
            None,
            "",
            NOT_ALLOWED,
        ),
        refused(
            "PUT on reportMediaDiagnostics",
            Method::PUT,
            diagnostics_path(),
            json,
            SEED_001_JSON,
            NOT_ALLOWED,
        ),
        refused(
            "POST on audioVideoSession",
            Method::POST,
            session_path(),
            json,
            SEED_000_JSON,
            NOT_ALLOWED,
        ),
        refused(
            "an unknown path",
            Method::POST,
            format!("{AV}/mediaDiagnosticsX"),
            json,
            SEED_001_JSON,
            NOT_FOUND,
        ),
        refused(
            "an unknown version prefix",
            Method::GET,
            "/ucwa/v2/applications".into(),
            None,
            "",
            NOT_FOUND,
        ),
        refused(
            "a body over the limit",
            Method::POST,
            feedback_path(),
            json,
            format!(
                "{{\"mediaQualityOfExperience\": \"{}\"}}",
                "x".repeat(limit)
            ),
            (413, "EntityTooLarge", None),
        ),
    ]
}

#[tokio::test]
async fn every_refusal_has_its_status_code_and_subcode_in_json_and_xml_and_stores_nothing() {
    let (server, acme, _) = TestServer::postgres().await;
    let limit = server.state().settings.body_limit_bytes;
    for (accept, expected_type) in [
        ("application/json", "application/json; charset=utf-8"),
        ("application/xml", "application/xml; charset=utf-8"),
        (
            "application/vnd.microsoft.com.ucwa+xml",
            "application/vnd.microsoft.com.ucwa+xml; charset=utf-8",
        ),
    ] {
        for case in refusals(limit) {
            let r = send(
                &server,
                case.method.clone(),
                &case.path,
                Some(&acme.ucwa_token),
                case.content_type,
                case.body.clone(),
                &[("accept", accept)],
            )
            .await;
            let allow = r.headers().get("allow").cloned();
            let e = error_of(r).await;
            assert_eq!(e.status, case.status, "{}: {}", case.what, e.body);
            assert_eq!(e.content_type, expected_type, "{}", case.what);
            assert_eq!(e.code, case.code, "{}", case.what);
            assert_eq!(e.subcode.as_deref(), case.subcode, "{}", case.what);
            assert!(!e.message.is_empty(), "{}", case.what);
            if case.status == 405 {
                assert!(
                    allow.is_some(),
                    "{}: 405 names the allowed method",
                    case.what
                );
            }
            if let Some(param) = case.param {
                assert!(e.message.contains(param), "{}: {}", case.what, e.message);
                assert!(
                    e.body.contains(&format!("\"{param}\"")),
                    "{}: the parameters bag names it: {}",
                    case.what,
                    e.body
                );
            }
        }
    }
    assert_eq!(server.count(&acme.id).await, 0, "nothing refused is stored");
}

#[tokio::test]
async fn an_xml_client_without_accept_gets_xml_errors() {
    let (server, acme, _) = TestServer::postgres().await;
    let r = post(
        &server,
        &diagnostics_path(),
        &acme.ucwa_token,
        "application/xml",
        "<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"><property name=\"errorCode\">Nope</property></input>",
    )
    .await;
    let e = error_of(r).await;
    assert_eq!(e.status, 400);
    assert_eq!(e.content_type, "application/xml; charset=utf-8");
    assert!(
        e.body
            .contains("<parameters>\n    <property name=\"errorCode\">")
    );
    // An unknown Accept falls back to JSON.
    let r = send(
        &server,
        Method::POST,
        &diagnostics_path(),
        Some(&acme.ucwa_token),
        Some("application/json"),
        "{\"errorCode\": \"Nope\"}",
        &[("accept", "text/html")],
    )
    .await;
    let e = error_of(r).await;
    assert_eq!(e.content_type, "application/json; charset=utf-8");
    assert_eq!(e.code, "BadRequest");
    assert_eq!(server.count(&acme.id).await, 0);
}

#[tokio::test]
async fn all_20_codes_and_87_subcodes_are_accepted_and_others_refused() {
    let (server, acme, _) = TestServer::postgres().await;
    let codes = seed_list(SEED_ERROR_CODES);
    let subcodes = seed_list(SEED_ERROR_SUBCODES);
    assert_eq!(codes.len(), 20);
    assert_eq!(subcodes.len(), 87);
    // Each subcode once, paired with the codes in turn; every third one in XML.
    for (i, subcode) in subcodes.iter().enumerate() {
        let code = codes[i % codes.len()];
        let path = format!(
            "/ucwa/v1/applications/app/communication/conversations/{i}/audioVideo/reportMediaDiagnostics"
        );
        let r = if i % 3 == 0 {
            post(&server, &path, &acme.ucwa_token, "application/xml", &format!(
                "<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"><property name=\"errorCode\">{code}</property><property name=\"errorSubcode\">{subcode}</property></input>"
            )).await
        } else {
            post(
                &server,
                &path,
                &acme.ucwa_token,
                "application/json",
                &format!("{{\"errorCode\":\"{code}\",\"errorSubcode\":\"{subcode}\"}}"),
            )
            .await
        };
        assert_eq!(r.status(), 204, "{code}/{subcode}");
        let report = only_report(&server, &acme, &format!("app/{i}")).await;
        assert_eq!(report.error_code.as_deref(), Some(code));
        assert_eq!(report.error_subcode.as_deref(), Some(*subcode));
    }
    for bad in [
        "{\"errorCode\":\"ClientTimeout\"}",
        "{\"errorCode\":\"PreConditionFailed\"}",
        "{\"errorCode\":\"BadRequest \"}",
        "{\"errorSubcode\":\"none\"}",
        "{\"errorSubcode\":\"ResourceNotFound\"}",
        "{\"errorSubcode\":\"VersionNotSupported\"}",
        "{\"errorCode\":[\"BadRequest\"]}",
    ] {
        let r = post(
            &server,
            &diagnostics_path(),
            &acme.ucwa_token,
            "application/json",
            bad,
        )
        .await;
        let e = error_of(r).await;
        assert_eq!(
            (e.status, e.code.as_str(), e.subcode.as_deref()),
            (400, "BadRequest", Some("ParameterValidationFailure")),
            "{bad}"
        );
    }
    assert_eq!(server.count(&acme.id).await, 87);
}

#[tokio::test]
async fn tokens_and_scopes_are_enforced() {
    let (server, acme, globex) = TestServer::postgres().await;
    // No token, an unknown token, the wrong scheme, a token without `cwt=`.
    let stripped = acme.ucwa_token.trim_start_matches("cwt=").to_owned();
    let bad_auth: [Option<String>; 4] = [
        None,
        Some(format!("Bearer cwt=not-a-token-{}", "0".repeat(20))),
        Some(format!("Basic {}", acme.ucwa_token)),
        Some(format!("Bearer {stripped}")),
    ];
    for auth in &bad_auth {
        for (method, path, ct, body) in [
            (
                Method::POST,
                feedback_path(),
                Some("application/json"),
                SEED_000_JSON,
            ),
            (
                Method::POST,
                diagnostics_path(),
                Some("application/xml"),
                SEED_001_XML,
            ),
            (Method::GET, session_path(), None, ""),
        ] {
            let mut req = server
                .client
                .request(method, server.url(&path))
                .header("host", "fe1.contoso.com")
                .body(body);
            if let Some(ct) = ct {
                req = req.header("content-type", ct);
            }
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await.unwrap();
            let challenges: Vec<String> = r
                .headers()
                .get_all("www-authenticate")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect();
            let e = error_of(r).await;
            assert_eq!(e.status, 401, "{auth:?} {path}");
            assert_eq!(e.code, "Unauthorized");
            assert_eq!(challenges.len(), 2, "{challenges:?}");
            assert!(challenges[0].starts_with("Bearer trusted_issuers=\""));
            assert!(challenges[0].contains("client_id=\""));
            assert_eq!(
                challenges[1],
                "MsRtcOAuth href=\"http://fe1.contoso.com/WebTicket/oauthtoken\",grant_type=\"urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password\""
            );
        }
    }

    // A token with no scopes: 403 everywhere.
    for (method, path, ct, body) in [
        (
            Method::POST,
            feedback_path(),
            Some("application/json"),
            SEED_000_JSON,
        ),
        (
            Method::POST,
            diagnostics_path(),
            Some("application/json"),
            SEED_001_JSON,
        ),
        (Method::GET, session_path(), None, ""),
    ] {
        let r = send(
            &server,
            method.clone(),
            &path,
            Some(&acme.ucwa_token_no_scopes),
            ct,
            body,
            &[],
        )
        .await;
        let e = error_of(r).await;
        assert_eq!((e.status, e.code.as_str()), (403, "Forbidden"), "{path}");
    }
    // User.ReadWrite only: feedback yes, diagnostics and the session no.
    let t = &acme.ucwa_token_feedback_only;
    let r = post(
        &server,
        &feedback_path(),
        t,
        "application/json",
        SEED_000_JSON,
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = post(
        &server,
        &diagnostics_path(),
        t,
        "application/json",
        SEED_001_JSON,
    )
    .await;
    let e = error_of(r).await;
    assert_eq!(e.status, 403);
    assert!(e.message.contains("Conversations.Initiate"));
    let r = send(
        &server,
        Method::GET,
        &session_path(),
        Some(t),
        None,
        "",
        &[],
    )
    .await;
    assert_eq!(r.status(), 403);
    assert_eq!(server.count(&acme.id).await, 1);

    // The token decides the tenant.
    let r = post(
        &server,
        &diagnostics_path(),
        &globex.ucwa_token,
        "application/json",
        SEED_001_JSON,
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(server.count(&globex.id).await, 1);
    assert_eq!(
        only_report(&server, &globex, SEED_CALL_ID).await.tenant,
        "globex"
    );
    assert_eq!(server.count(&acme.id).await, 1);
}

#[tokio::test]
async fn a_retried_post_is_answered_the_same_and_stored_once() {
    let (server, acme, _) = TestServer::postgres().await;
    for (header, key) in [("idempotency-key", "retry-1"), ("x-request-id", "retry-2")] {
        for _ in 0..3 {
            let r = send(
                &server,
                Method::POST,
                &feedback_path(),
                Some(&acme.ucwa_token),
                Some("application/json"),
                SEED_000_JSON,
                &[(header, key)],
            )
            .await;
            assert_no_content(r).await;
        }
    }
    let reports = server.reports_about(&acme.id, SEED_CALL_ID).await;
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].idempotency_key.as_deref(), Some("retry-1"));
    assert_eq!(reports[1].idempotency_key.as_deref(), Some("retry-2"));
}

#[tokio::test]
async fn a_large_qoe_document_is_stored_whole() {
    let (server, acme, _) = TestServer::postgres().await;
    let mut qoe =
        String::from("<VQReportEvent xmlns=\"ms-rtcp-metrics\"><VQSessionReport SessionId=\"s\">");
    while qoe.len() < 300_000 {
        qoe.push_str("<MediaLine><InboundStream><Network><Jitter><InterArrival>7</InterArrival></Jitter></Network></InboundStream></MediaLine>");
    }
    qoe.push_str("</VQSessionReport></VQReportEvent>");
    // In XML the document travels escaped; in JSON as a string.
    let escaped = qoe
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let xml = format!(
        "<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"><property name=\"mediaEndpoint\">ep</property><property name=\"mediaQualityOfExperience\">{escaped}</property></input>"
    );
    let json = serde_json::json!({ "mediaQualityOfExperience": qoe }).to_string();
    for (i, (ct, body)) in [("application/xml", xml), ("application/json", json)]
        .into_iter()
        .enumerate()
    {
        let path = format!(
            "/ucwa/v1/applications/big/communication/conversations/{i}/audioVideo/audioVideoSession/publishCallQualityFeedback"
        );
        let r = post(&server, &path, &acme.ucwa_token, ct, &body).await;
        assert_no_content(r).await;
        let report = only_report(&server, &acme, &format!("big/{i}")).await;
        assert_eq!(
            report.media_quality_of_experience.as_deref(),
            Some(qoe.as_str())
        );
        assert_eq!(report.raw_payload, body);
    }
}

#[tokio::test]
async fn a_database_outage_is_a_503_with_retry_after_in_the_ucwa_body() {
    // A durable cluster of its own: this test crashes it and counts afterwards.
    let cluster = pg::PgCluster::start_new(true);
    let acme = TestTenant::new("acme");
    let mut settings = support::settings(cluster.url("postgres"), std::slice::from_ref(&acme));
    settings.database_max_connections = 2;
    settings.flush_timeout_secs = 2;
    let server = TestServer::start(settings).await;
    let r = post(
        &server,
        &diagnostics_path(),
        &acme.ucwa_token,
        "application/json",
        SEED_001_JSON,
    )
    .await;
    assert_eq!(r.status(), 204);
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop_immediately();
        cluster
    })
    .await
    .unwrap();
    for (ct, body, expected_type) in [
        (
            "application/json",
            SEED_001_JSON,
            "application/json; charset=utf-8",
        ),
        (
            "application/xml",
            SEED_001_XML,
            "application/xml; charset=utf-8",
        ),
    ] {
        let r = post(&server, &diagnostics_path(), &acme.ucwa_token, ct, body).await;
        let retry_after: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let e = error_of(r).await;
        assert_eq!(
            (e.status, e.code.as_str()),
            (503, "ServiceUnavailable"),
            "{}",
            e.body
        );
        assert_eq!(e.content_type, expected_type);
        assert!(retry_after >= 1);
    }
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start();
        cluster
    })
    .await
    .unwrap();
    assert_eq!(
        server.count(&acme.id).await,
        1,
        "only the acknowledged report"
    );
    server.shutdown().await;
    drop(cluster);
}

#[tokio::test]
async fn an_ms_qoe_document_in_feedback_becomes_a_stored_stream_in_json_and_xml() {
    let (server, acme, _) = TestServer::postgres().await;
    let json = serde_json::json!({
        "mediaEndpoint": "ws-fin-0142",
        "mediaQualityOfExperience": MS_QOE_SAMPLE,
    })
    .to_string();
    let escaped = MS_QOE_SAMPLE
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">\n  <property name=\"mediaEndpoint\">ws-fin-0142</property>\n  <property name=\"mediaQualityOfExperience\">{escaped}</property>\n</input>"
    );
    for (conversation, content_type, body) in [
        ("json", "application/json", json),
        ("xml", "application/xml", xml),
    ] {
        let path = format!(
            "/ucwa/v1/applications/qoe/communication/conversations/{conversation}/audioVideo/audioVideoSession/publishCallQualityFeedback"
        );
        assert_no_content(post(&server, &path, &acme.ucwa_token, content_type, &body).await).await;
        let report = only_report(&server, &acme, &format!("qoe/{conversation}")).await;
        assert_eq!(
            report.media_quality_of_experience.as_deref(),
            Some(MS_QOE_SAMPLE)
        );
        assert_eq!(report.streams.len(), 1, "{content_type}");
        let s = &report.streams[0];
        // docs/reference/ms-qoe.md §8 "Expected extraction", in model units.
        assert_eq!(s.modality, Some(callq::model::Modality::Audio));
        assert_eq!(s.label.as_deref(), Some("main-audio"));
        assert_eq!(s.avg_inbound_jitter_ms, Some(4.0));
        assert_eq!(s.max_inbound_jitter_ms, Some(19.0));
        assert!(
            (s.avg_inbound_loss_pct.unwrap() - 1.2).abs() < 1e-9,
            "loss fraction → percent"
        );
        assert!((s.max_inbound_loss_pct.unwrap() - 6.3).abs() < 1e-9);
        assert_eq!(s.inbound_packets, Some(14950));
        assert_eq!(s.avg_outbound_rtt_ms, Some(48.0));
        assert_eq!(s.max_outbound_rtt_ms, Some(112.0));
        assert_eq!(s.outbound_packets, Some(15012));
        assert_eq!(s.local_ip.as_deref(), Some("10.20.30.41"));
        assert_eq!(s.remote_port, Some(50388));
        assert_eq!(s.mos, Some(4.02));
        assert_eq!(s.mos_model.as_deref(), Some("ms-qoe/OverallAvgNetworkMOS"));
    }
}
