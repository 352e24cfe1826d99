//! `POST /{v1.0|beta}/communications/calls/logTeleconferenceDeviceQuality`:
//! authenticate, check the headers Graph requires, read and validate the
//! body, store one `device_quality` report with a stream row per
//! `mediaQualityList` element, and answer `200 OK` with an empty body only
//! once the report is committed.

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::authenticate;
use super::error::{self, CorrelationIds, GraphError};
use super::quality::{DeviceQuality, decode_body};
use crate::app::AppState;
use crate::http::{BodyError, BodyLimit, RequestMeta, decode_off_thread, read_body};
use crate::model::{Kind, Protocol, Report};

pub async fn log_teleconference_device_quality(
    State(state): State<AppState>,
    meta: RequestMeta,
    BodyLimit(limit): BodyLimit,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match accept(&state, meta, limit, &headers, body).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            CorrelationIds::of(&headers).write(response.headers_mut());
            response
        }
        Err(e) => e.respond(&headers),
    }
}

async fn accept(
    state: &AppState,
    meta: RequestMeta,
    limit: usize,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), GraphError> {
    let principal = authenticate(&state.credentials, headers)?;
    if meta.user_agent.is_none() {
        return Err(GraphError::bad_request(
            "The User-Agent header is required; send ApplicationName/Version.",
        ));
    }
    require_json(meta.content_type.as_deref())?;
    let bytes = read_body(body, limit).await.map_err(|e| match e {
        BodyError::TooLarge { limit } => GraphError::too_large(limit),
        BodyError::Unreadable(_) => GraphError::bad_request(error::UNREADABLE_JSON),
    })?;
    let (quality, raw) = decode_off_thread(bytes.len(), move || parse(&bytes)).await?;
    let mut report = to_report(&principal.tenant, quality, raw);
    meta.apply(&mut report);
    report
        .make_storable()
        .map_err(|e| GraphError::bad_request(format!("The request cannot be stored: {e}.")))?;
    if report.idempotency_key.is_none() {
        // Graph clients correlate a call and its retries by client-request-id
        // (Microsoft's SDKs resend the same request, header included), so it
        // identifies a retry just as an Idempotency-Key would.
        report.idempotency_key = error::client_request_id(headers);
    }
    state
        .commit(report)
        .await
        .map(drop)
        .map_err(|e| GraphError::from_write(&e))
}

/// Graph reads only JSON bodies; parameters (`charset`, `odata.metadata`, …)
/// are allowed.
fn require_json(content_type: Option<&str>) -> Result<(), GraphError> {
    let Some(ct) = content_type else {
        return Err(GraphError::unsupported_media_type(None));
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(GraphError::unsupported_media_type(Some(ct)))
    }
}

/// The validated body and its text as received (less a UTF-8 byte-order
/// mark, which .NET-based clients may send and Graph tolerates).
fn parse(bytes: &Bytes) -> Result<(DeviceQuality, String), GraphError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|_| GraphError::bad_request(error::UNREADABLE_JSON))?;
    let quality = decode_body(&json).map_err(|e| GraphError::bad_request(e.to_string()))?;
    // Valid JSON is valid UTF-8, so this never loses anything.
    let raw = String::from_utf8_lossy(bytes).into_owned();
    Ok((quality, raw))
}

/// The normalized report: `call_id` is the callChainId (lower-case, the
/// canonical GUID form, so that searches match whatever case clients used).
/// Audio streams get their E-model MOS and class in `AppState::commit`.
fn to_report(tenant: &str, q: DeviceQuality, raw: String) -> Report {
    let mut report = Report::new(
        tenant,
        Protocol::Graph,
        Kind::DeviceQuality,
        q.call_chain_id.to_string(),
        raw,
    );
    report.participant_id = Some(q.participant_id.to_string());
    report.media_leg_id = Some(q.media_leg_id.to_string());
    report.device_name = Some(q.device_name);
    report.device_description = Some(q.device_description);
    report.cloud_service_name = q.cloud_service_name;
    report.cloud_service_instance_name = q.cloud_service_instance_name;
    report.cloud_service_deployment_id = q.cloud_service_deployment_id;
    report.cloud_service_deployment_environment = q.cloud_service_deployment_environment;
    report.streams = q.streams;
    report
}

/// 405 for any method but POST on the action's path.
pub async fn method_not_allowed(headers: HeaderMap) -> Response {
    GraphError::method_not_allowed("POST").respond(&headers)
}

/// Every other path under `/v1.0/` and `/beta/`: the action when the path
/// is one of its other accepted spellings, else Graph's 404.
pub async fn other_path(
    state: State<AppState>,
    path: Result<Path<String>, PathRejection>,
    method: Method,
    meta: RequestMeta,
    limit: BodyLimit,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // A path that does not percent-decode to UTF-8 gets Graph's error body,
    // not the extractor's plain-text 400.
    let Ok(Path(rest)) = path else {
        return GraphError::bad_request(
            "The request URI is not valid: its path is not percent-encoded UTF-8.",
        )
        .respond(&headers);
    };
    if !super::is_action_alias(&rest) {
        return GraphError::not_found("The requested resource does not exist.").respond(&headers);
    }
    if method != Method::POST {
        return method_not_allowed(headers).await;
    }
    log_teleconference_device_quality(state, meta, limit, headers, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognized() {
        assert!(require_json(Some("application/json")).is_ok());
        assert!(require_json(Some("Application/JSON; charset=utf-8")).is_ok());
        assert!(require_json(Some("application/json;odata.metadata=minimal")).is_ok());
        for bad in ["text/plain", "application/xml", "application/jsonx", ""] {
            let e = require_json(Some(bad)).unwrap_err();
            assert_eq!(e.status, 415, "{bad}");
        }
        assert_eq!(require_json(None).unwrap_err().status, 415);
    }

    #[test]
    fn unparseable_bodies_get_the_gateway_message() {
        for bad in [
            &b""[..],
            b"{",
            b"not json",
            b"\xff\xfe{}",
            b"{\"quality\": \"\\ud800\"}",
        ] {
            let e = parse(&Bytes::copy_from_slice(bad)).unwrap_err();
            assert_eq!(e.message, error::UNREADABLE_JSON, "{bad:?}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_tolerated() {
        let body = "\u{feff}{\"quality\":{\"callChainId\":\"0622673d-9f69-49b3-9d4f-5ec64f42ecce\",\"participantId\":\"ea078406-b5d4-4d3c-b85e-90103dcec7f6\",\"mediaLegId\":\"bd9ee398-4b9d-42c7-8b8d-4e8efad9435f\",\"deviceName\":\"a\",\"deviceDescription\":\"b\",\"mediaQualityList\":[]}}";
        let (_, raw) = parse(&Bytes::from(body)).unwrap();
        assert!(raw.starts_with('{'));
    }
}
