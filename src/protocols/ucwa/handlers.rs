//! The three UCWA operations and the style's 404/405 answers.
//!
//! Every request goes through the same steps, each answering in UCWA's own
//! error body on failure: token and scope (401/403), requested resource
//! revision (404), path ids (400), body type (415), body size (413), body
//! syntax (400 DeserializationFailure), property values (400
//! ParameterValidationFailure). Only then is a report built and committed; a
//! 204 follows only a commit.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::http::{BodyError, BodyLimit, RequestMeta, decode_off_thread, read_body};
use crate::model::{Kind, Protocol, Report};

use super::auth::{CONVERSATION_SCOPES, FEEDBACK_SCOPES, authorize};
use super::enums::{ErrorCode, ErrorSubcode, SessionState};
use super::error::{UcwaError, bounded};
use super::input::{self, DecodeError, Input};
use super::media::{self, Format, MediaType, Unsupported, reply_type};
use super::session::Session;
use super::{RESOURCE_REVISION, qoe, stamp};

/// Longest application or conversation id accepted, in bytes once decoded.
const MAX_ID_BYTES: usize = 256;

/// The two ingest operations.
#[derive(Debug, Clone, Copy)]
enum Operation {
    PublishCallQualityFeedback,
    ReportMediaDiagnostics,
}

impl Operation {
    fn scopes(self) -> &'static [&'static str] {
        match self {
            Operation::PublishCallQualityFeedback => FEEDBACK_SCOPES,
            Operation::ReportMediaDiagnostics => CONVERSATION_SCOPES,
        }
    }

    fn kind(self) -> Kind {
        match self {
            Operation::PublishCallQualityFeedback => Kind::Feedback,
            Operation::ReportMediaDiagnostics => Kind::Diagnostics,
        }
    }

    /// Checks the operation's properties and copies them into `report`.
    fn fill(self, input: &Input, report: &mut Report) -> Result<(), UcwaError> {
        let text = |name: &str| {
            input
                .optional_text(name)
                .map(|v| v.map(str::to_owned))
                .map_err(|w| UcwaError::invalid_parameter(&w.name, &w.reason))
        };
        match self {
            Operation::PublishCallQualityFeedback => {
                report.media_endpoint = text("mediaEndpoint")?;
                report.media_quality_of_experience = text("mediaQualityOfExperience")?;
                if let Some(qoe) = &report.media_quality_of_experience {
                    report.streams = qoe::extract_streams(qoe);
                }
            }
            Operation::ReportMediaDiagnostics => {
                report.error_code =
                    member::<ErrorCode>(text("errorCode")?, "errorCode", "ErrorCode")?;
                report.error_subcode =
                    member::<ErrorSubcode>(text("errorSubcode")?, "errorSubcode", "ErrorSubcode")?;
            }
        }
        Ok(())
    }
}

/// `value` if it names a member of enum `T`, else a 400 naming `param`.
fn member<T: std::str::FromStr>(
    value: Option<String>,
    param: &str,
    enum_name: &str,
) -> Result<Option<String>, UcwaError> {
    match value {
        Some(v) if v.parse::<T>().is_err() => Err(UcwaError::invalid_parameter(
            param,
            &format!("'{}' is not a member of {enum_name}", bounded(&v, 64)),
        )),
        other => Ok(other),
    }
}

/// `POST …/audioVideo/audioVideoSession/publishCallQualityFeedback`.
pub async fn publish_call_quality_feedback(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    meta: RequestMeta,
    BodyLimit(limit): BodyLimit,
    body: Body,
) -> Response {
    let op = Operation::PublishCallQualityFeedback;
    answer(
        &headers,
        ingest(&state, &uri, &headers, meta, limit, body, op).await,
    )
}

/// `POST …/audioVideo/reportMediaDiagnostics`.
pub async fn report_media_diagnostics(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    meta: RequestMeta,
    BodyLimit(limit): BodyLimit,
    body: Body,
) -> Response {
    let op = Operation::ReportMediaDiagnostics;
    answer(
        &headers,
        ingest(&state, &uri, &headers, meta, limit, body, op).await,
    )
}

/// 204 after a commit, or the error in the client's format.
fn answer(headers: &HeaderMap, outcome: Result<(), UcwaError>) -> Response {
    match outcome {
        Ok(()) => stamp(StatusCode::NO_CONTENT.into_response()),
        Err(e) => e.render(reply_type(headers)),
    }
}

async fn ingest(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    meta: RequestMeta,
    limit: usize,
    body: Body,
    op: Operation,
) -> Result<(), UcwaError> {
    let principal = authorize(state, headers, op.scopes())?;
    check_revision(headers)?;
    let call_id = call_id(uri)?;
    let declared = media::request_format(headers).map_err(|u| match u {
        Unsupported::Type(t) => UcwaError::unsupported_media_type(&format!("Content-Type '{t}'")),
        Unsupported::Charset(c) => UcwaError::unsupported_media_type(&format!("charset '{c}'")),
    })?;
    let bytes = read_body(body, limit).await.map_err(|e| match e {
        BodyError::TooLarge { limit } => UcwaError::too_large(limit),
        BodyError::Unreadable(why) => UcwaError::malformed(&why),
    })?;
    let tenant = principal.tenant.to_string();
    // Decoding (and the MS-QoE extraction) is CPU work proportional to the
    // body: a large body is decoded off the async workers.
    let mut report = decode_off_thread(bytes.len(), move || {
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| UcwaError::malformed(&format!("the body is not UTF-8 text ({e})")))?;
        let input = decode(declared, text)?;
        let mut report = Report::new(tenant, Protocol::Ucwa, op.kind(), call_id, text);
        op.fill(&input, &mut report)?;
        Ok::<_, UcwaError>(report)
    })
    .await?;
    meta.apply(&mut report);
    report
        .make_storable()
        .map_err(|e| UcwaError::invalid_parameter(e.field, &e.to_string()))?;
    state
        .commit(report)
        .await
        .map_err(|e| UcwaError::from_write(&e))?;
    Ok(())
}

/// The body's properties. Every property of these operations is optional,
/// so an empty body is an empty input whatever its declared type.
fn decode(declared: Option<MediaType>, text: &str) -> Result<Input, UcwaError> {
    if text.trim().is_empty() {
        return Ok(Input::default());
    }
    let decoded = match declared.map(|m| m.format) {
        None => {
            return Err(UcwaError::unsupported_media_type(
                "A body without Content-Type",
            ));
        }
        Some(Format::Json) => input::decode_json(text),
        Some(Format::Xml) => input::decode_xml(text),
    };
    decoded.map_err(|e| match e {
        DecodeError::Malformed(why) => UcwaError::malformed(&why),
        DecodeError::Dtd => UcwaError::malformed("document type declarations are not accepted"),
    })
}

/// `GET …/audioVideo/audioVideoSession`: the session resource, in JSON or XML.
pub async fn audio_video_session(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let reply = reply_type(&headers);
    let checked = authorize(&state, &headers, CONVERSATION_SCOPES)
        .and_then(|_| check_revision(&headers))
        .and_then(|()| call_id(&uri));
    if let Err(e) = checked {
        return e.render(reply);
    }
    let (application, conversation) = raw_ids(&uri);
    let session = Session {
        application,
        conversation,
        state: SessionState::Established,
    };
    let body = match reply.format {
        Format::Json => session.to_json(),
        Format::Xml => session.to_xml(),
    };
    stamp(
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, reply.content_type())],
            body,
        )
            .into_response(),
    )
}

/// Any path under `/ucwa/` that is not an operation.
pub async fn not_found(headers: HeaderMap) -> Response {
    UcwaError::not_found().render(reply_type(&headers))
}

/// A known ingest path with a method other than POST.
pub async fn post_only(headers: HeaderMap) -> Response {
    UcwaError::method_not_allowed("POST").render(reply_type(&headers))
}

/// The session path with a method other than GET.
pub async fn get_only(headers: HeaderMap) -> Response {
    UcwaError::method_not_allowed("GET").render(reply_type(&headers))
}

/// A client may insist on a minimum resource revision; callq serves
/// revision 1 of every resource, so a higher demand is refused as UCWA does.
fn check_revision(headers: &HeaderMap) -> Result<(), UcwaError> {
    let Some(value) = headers.get("x-ms-requiresminresourceversion") else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("").trim();
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v <= f64::from(RESOURCE_REVISION) => Ok(()),
        _ => Err(UcwaError::version_not_supported(text)),
    }
}

/// The application and conversation ids as written in the path (the route
/// guarantees the shape `/ucwa/v1/applications/{a}/communication/conversations/{c}/…`).
fn raw_ids(uri: &Uri) -> (&str, &str) {
    let mut segments = uri.path().split('/');
    let application = segments.nth(4).unwrap_or("");
    let conversation = segments.nth(2).unwrap_or("");
    (application, conversation)
}

/// `{applicationId}/{conversationId}`, decoded: what ops search reports by.
fn call_id(uri: &Uri) -> Result<String, UcwaError> {
    let (application, conversation) = raw_ids(uri);
    let application = path_id(application, "applicationId")?;
    let conversation = path_id(conversation, "conversationId")?;
    Ok(format!("{application}/{conversation}"))
}

fn path_id(raw: &str, name: &str) -> Result<String, UcwaError> {
    let decoded = percent_decode(raw)
        .ok_or_else(|| UcwaError::invalid_parameter(name, "not valid percent-encoded UTF-8"))?;
    if !crate::model::text::is_storable(&decoded) {
        return Err(UcwaError::invalid_parameter(
            name,
            "the character U+0000 (%00) is not allowed in an id",
        ));
    }
    if decoded.len() > MAX_ID_BYTES {
        return Err(UcwaError::invalid_parameter(
            name,
            &format!("longer than {MAX_ID_BYTES} bytes"),
        ));
    }
    Ok(decoded)
}

/// Decodes `%XX` escapes; `None` for a broken escape or non-UTF-8 result.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_the_path_and_are_decoded_for_the_call_id() {
        let uri: Uri = "/ucwa/v1/applications/19%202/communication/conversations/137/audioVideo/reportMediaDiagnostics"
            .parse()
            .unwrap();
        assert_eq!(raw_ids(&uri), ("19%202", "137"));
        assert_eq!(call_id(&uri).unwrap(), "19 2/137");
    }

    #[test]
    fn broken_or_huge_ids_are_refused() {
        assert_eq!(percent_decode("a%2Fb"), Some("a/b".into()));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%FF"), None);
        assert_eq!(percent_decode("%e2%9c%93"), Some("✓".into()));
        let long = "a".repeat(MAX_ID_BYTES + 1);
        let uri: Uri = format!("/ucwa/v1/applications/{long}/communication/conversations/1/audioVideo/audioVideoSession")
            .parse()
            .unwrap();
        let e = call_id(&uri).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let uri: Uri = "/ucwa/v1/applications/a%00b/communication/conversations/1/audioVideo/audioVideoSession"
            .parse()
            .unwrap();
        let e = call_id(&uri).unwrap_err();
        assert_eq!(e.parameters[0].0, "applicationId");
    }

    #[test]
    fn enum_properties_are_checked() {
        let ok = member::<ErrorCode>(Some("TooManyRequests".into()), "errorCode", "ErrorCode");
        assert_eq!(ok.unwrap().as_deref(), Some("TooManyRequests"));
        let bad = member::<ErrorSubcode>(Some("Nope".into()), "errorSubcode", "ErrorSubcode")
            .unwrap_err();
        assert_eq!(bad.subcode, Some(ErrorSubcode::ParameterValidationFailure));
        assert_eq!(bad.parameters[0].0, "errorSubcode");
        assert!(
            member::<ErrorCode>(None, "errorCode", "ErrorCode")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn revision_demands_above_one_are_refused() {
        let mut h = HeaderMap::new();
        assert!(check_revision(&h).is_ok());
        h.insert("x-ms-requiresminresourceversion", "1.0".parse().unwrap());
        assert!(check_revision(&h).is_ok());
        h.insert("x-ms-requiresminresourceversion", "4.0".parse().unwrap());
        let e = check_revision(&h).unwrap_err();
        assert_eq!(e.subcode, Some(ErrorSubcode::APIVersionNotSupported));
        h.insert("x-ms-requiresminresourceversion", "x".parse().unwrap());
        assert!(check_revision(&h).is_err());
    }
}
