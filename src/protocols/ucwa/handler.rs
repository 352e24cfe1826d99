//! The three UCWA operations and the style's 404/405 answers.
//!
//! Every request goes through the same steps, each answering in UCWA's own
//! error body on failure: token and scope (401/403), requested resource
//! revision (404), path ids (400), body type (415), body size (413), body
//! syntax (400 DeserializationFailure), property values (400
//! ParameterValidationFailure). Only then is a report built and committed; a
//! 204 follows only a commit.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::auth::{self, CONVERSATION_SCOPES, authenticate};
use super::enums::SessionState;
use super::error::UcwaError;
use super::media::{self, Format, Unsupported, reply_type};
use super::request::{self, Operation, call_id, call_id_traced, raw_ids};
use super::session::Session;
use super::{RESOURCE_REVISION, stamp};
use crate::auth::Credentials;
use crate::http::{BodyError, decode_off_thread, read_body};
use crate::protocols::Submission;

/// `POST …/audioVideo/audioVideoSession/publishCallQualityFeedback`.
pub async fn publish_call_quality_feedback(
    uri: Uri,
    headers: HeaderMap,
    submission: Submission,
) -> Response {
    let op = Operation::PublishCallQualityFeedback;
    answer(&headers, accept(op, &uri, &headers, submission).await)
}

/// `POST …/audioVideo/reportMediaDiagnostics`.
pub async fn report_media_diagnostics(
    uri: Uri,
    headers: HeaderMap,
    submission: Submission,
) -> Response {
    let op = Operation::ReportMediaDiagnostics;
    answer(&headers, accept(op, &uri, &headers, submission).await)
}

/// 204 after a commit, or the error in the client's format.
fn answer(headers: &HeaderMap, outcome: Result<(), UcwaError>) -> Response {
    match outcome {
        Ok(()) => stamp(StatusCode::NO_CONTENT.into_response()),
        Err(e) => e.render(reply_type(headers)),
    }
}

/// Every step between the request and its commit, in the order of the
/// module's doc.
async fn accept(
    op: Operation,
    uri: &Uri,
    headers: &HeaderMap,
    submission: Submission,
) -> Result<(), UcwaError> {
    let principal = authenticate(&submission.credentials, headers, auth::scopes(op))?;
    check_revision(headers)?;
    let trace = submission.ingest.trace();
    let call_id = call_id_traced(uri, &trace)?;
    let declared = media::request_format(headers).map_err(|u| match u {
        Unsupported::Type(t) => UcwaError::unsupported_media_type(&format!("Content-Type '{t}'")),
        Unsupported::Charset(c) => UcwaError::unsupported_media_type(&format!("charset '{c}'")),
    })?;
    let bytes = read_body(submission.body, submission.limit.0)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => UcwaError::too_large(limit),
            BodyError::Unreadable(why) => UcwaError::malformed(&why),
        })?;
    let tenant = principal.tenant.to_string();
    // Decoding (and the MS-QoE extraction) is CPU work proportional to the
    // body: a large body is decoded off the async workers.
    let (report, trace) = decode_off_thread(bytes.len(), move || {
        let report = request::decode_report(&tenant, op, call_id, declared, &bytes, &trace);
        (report, trace)
    })
    .await;
    let mut report = report?;
    submission.meta.apply(&mut report, &trace);
    report
        .make_storable()
        .map_err(|e| UcwaError::invalid_parameter(e.field, &e.to_string()))?;
    submission
        .ingest
        .submit_traced(report, trace)
        .await
        .map_err(|e| UcwaError::from_write(&e))?;
    Ok(())
}

/// `GET …/audioVideo/audioVideoSession`: the session resource, in JSON or XML.
pub async fn audio_video_session(
    State(credentials): State<Arc<Credentials>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let reply = reply_type(&headers);
    let checked = authenticate(&credentials, &headers, CONVERSATION_SCOPES)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::ucwa::enums::ErrorSubcode;

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
