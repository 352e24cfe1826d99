//! UCWA's error body and the statuses callq answers with.
//!
//! UCWA reports a failed request with a `code` that mirrors the HTTP status
//! (`BadRequest` for 400, `NotFound` for 404, ...), an optional finer
//! `subcode`, and a human-readable `message`; for a 400 it may add
//! `parameters`, naming the properties that were wrong. JSON clients get
//! `{"code","subcode","message","parameters"}`, XML clients the same fields
//! inside `<reason>` in the UCWA namespace.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quick_xml::escape::escape;
use serde::Serialize;

use super::enums::{ErrorCode, ErrorSubcode};
use super::media::{Format, MediaType};
use super::{UCWA_NAMESPACE, stamp};
use crate::store::{WriteAnswer, WriteError};

/// A refused request, ready to be written in the client's format.
#[derive(Debug, Clone)]
pub struct UcwaError {
    pub status: StatusCode,
    /// An `ErrorCode` member, except for 401, which has none (`Unauthorized`).
    pub code: &'static str,
    pub subcode: Option<ErrorSubcode>,
    pub message: String,
    /// Property name → what is wrong with it (400 only).
    pub parameters: Vec<(String, String)>,
    /// Extra response headers (challenges, `Allow`, `Retry-After`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl UcwaError {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> UcwaError {
        UcwaError {
            status,
            code: code.as_str(),
            subcode: None,
            message: message.into(),
            parameters: Vec::new(),
            headers: Vec::new(),
        }
    }

    fn with_subcode(mut self, subcode: ErrorSubcode) -> UcwaError {
        self.subcode = Some(subcode);
        self
    }

    fn with_header(mut self, name: HeaderName, value: impl AsRef<str>) -> UcwaError {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.headers.push((name, v));
        }
        self
    }

    /// 400: the body is not a well-formed document of its declared type.
    pub fn malformed(detail: &str) -> UcwaError {
        UcwaError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!(
                "The request body could not be read: {}",
                bounded(detail, 300)
            ),
        )
        .with_subcode(ErrorSubcode::DeserializationFailure)
    }

    /// 400: a property (or path part) has a value the operation does not take.
    pub fn invalid_parameter(name: &str, reason: &str) -> UcwaError {
        let mut e = UcwaError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("Parameter '{name}' is invalid: {reason}."),
        )
        .with_subcode(ErrorSubcode::ParameterValidationFailure);
        e.parameters.push((name.to_owned(), reason.to_owned()));
        e
    }

    /// 401: no token, or a token no tenant owns. `challenges` are the
    /// `WWW-Authenticate` values a UCWA client expects.
    pub fn unauthorized(challenges: &[String]) -> UcwaError {
        let mut e = UcwaError {
            status: StatusCode::UNAUTHORIZED,
            code: "Unauthorized",
            subcode: None,
            message: "A valid 'Authorization: Bearer cwt=...' token is required.".into(),
            parameters: Vec::new(),
            headers: Vec::new(),
        };
        for c in challenges {
            e = e.with_header(header::WWW_AUTHENTICATE, c);
        }
        e.with_header(
            HeaderName::from_static("x-ms-diagnostics"),
            "28020;source=\"callq\";reason=\"No valid security token.\"",
        )
    }

    /// 403: the token is valid but lacks every scope the operation accepts.
    pub fn forbidden(scopes: &[&str]) -> UcwaError {
        UcwaError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!(
                "The token does not grant this operation; it needs one of these scopes: {}.",
                scopes.join(", ")
            ),
        )
    }

    /// 404: nothing lives at this path.
    pub fn not_found() -> UcwaError {
        UcwaError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "The requested resource does not exist.",
        )
    }

    /// 404: the client asked for a resource revision newer than callq serves.
    pub fn version_not_supported(required: &str) -> UcwaError {
        UcwaError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!(
                "Resource revision {} is not available; this server serves revision {}.",
                bounded(required, 20),
                super::RESOURCE_REVISION
            ),
        )
        .with_subcode(ErrorSubcode::APIVersionNotSupported)
    }

    /// 405: the path exists but not for this method; `allow` lists the methods it takes.
    pub fn method_not_allowed(allow: &str) -> UcwaError {
        UcwaError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            format!("This resource only supports {allow}."),
        )
        .with_header(header::ALLOW, allow)
    }

    /// 413: the body is larger than the configured limit.
    pub fn too_large(limit: usize) -> UcwaError {
        UcwaError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::EntityTooLarge,
            format!("The request body is larger than {limit} bytes."),
        )
    }

    /// 415: a body type or character set UCWA does not take.
    pub fn unsupported_media_type(what: &str) -> UcwaError {
        UcwaError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            format!(
                "{} is not supported; send application/json or application/xml (or the UCWA vendor types) in UTF-8.",
                bounded(what, 100)
            ),
        )
        .with_subcode(ErrorSubcode::UnsupportedMediaType)
    }

    /// 415: a `Content-Encoding` callq cannot decode.
    pub fn unsupported_encoding(coding: &str) -> UcwaError {
        UcwaError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            format!(
                "Content-Encoding '{}' is not supported; send the body uncompressed or with gzip, deflate or br.",
                bounded(coding, 100)
            ),
        )
        .with_subcode(ErrorSubcode::UnsupportedMediaType)
    }

    /// 503: the report could not be stored now; retry after `retry_after_secs`.
    pub fn unavailable(retry_after_secs: u64) -> UcwaError {
        UcwaError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            "The service is temporarily unable to store the request; retry later.",
        )
        .with_header(header::RETRY_AFTER, retry_after_secs.to_string())
    }

    /// What a failed write becomes in UCWA's format: 503 or 429 with
    /// Retry-After, 400 for content the store refuses or an unusable
    /// `Idempotency-Key`, 422 (`Conflict`/`UnprocessableEntity`; UCWA has no
    /// code of its own for 422) for a key reused with another request.
    pub fn from_write(error: &WriteError) -> UcwaError {
        match error.answer() {
            WriteAnswer::RetryLater(secs) => UcwaError::unavailable(secs),
            WriteAnswer::TooManyRequests(secs) => UcwaError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                "Too many requests from this application are waiting to be stored; retry later.",
            )
            .with_header(header::RETRY_AFTER, secs.to_string()),
            WriteAnswer::BadRequest(reason) => UcwaError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                format!("The request cannot be stored: {}.", bounded(&reason, 200)),
            ),
            WriteAnswer::BadIdempotencyKey(reason) => {
                let mut e = UcwaError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadRequest,
                    format!("Header 'Idempotency-Key' is invalid: {reason}."),
                )
                .with_subcode(ErrorSubcode::ParameterValidationFailure);
                e.parameters.push(("Idempotency-Key".to_owned(), reason));
                e
            }
            WriteAnswer::KeyReused => UcwaError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Conflict,
                "This idempotency key was already used for a different request.",
            )
            .with_subcode(ErrorSubcode::UnprocessableEntity),
        }
    }

    /// The response, with the body in `media`'s format.
    pub fn render(self, media: MediaType) -> Response {
        let body = match media.format {
            Format::Json => self.json(),
            Format::Xml => self.xml(),
        };
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, media.content_type())],
            body,
        )
            .into_response();
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        stamp(response)
    }

    fn json(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            code: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            subcode: Option<&'a str>,
            message: &'a str,
            #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
            parameters: serde_json::Map<String, serde_json::Value>,
        }
        let body = Body {
            code: self.code,
            subcode: self.subcode.map(ErrorSubcode::as_str),
            message: &self.message,
            parameters: self
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        };
        serde_json::to_string(&body)
            .unwrap_or_else(|_| String::from("{\"code\":\"ServiceFailure\"}"))
    }

    fn xml(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        out.push_str(&format!("<reason xmlns=\"{UCWA_NAMESPACE}\">\n"));
        out.push_str(&format!("  <code>{}</code>\n", self.code));
        if let Some(sub) = self.subcode {
            out.push_str(&format!("  <subcode>{sub}</subcode>\n"));
        }
        out.push_str(&format!("  <message>{}</message>\n", escape(&self.message)));
        if !self.parameters.is_empty() {
            out.push_str("  <parameters>\n");
            for (name, reason) in &self.parameters {
                out.push_str(&format!(
                    "    <property name=\"{}\">{}</property>\n",
                    escape(name),
                    escape(reason)
                ));
            }
            out.push_str("  </parameters>\n");
        }
        out.push_str("</reason>");
        out
    }
}

/// At most `max` characters of `text`, so that messages echoing client
/// input stay short, with every character XML cannot carry (U+0000 and the
/// other control characters) shown as U+FFFD, so that the XML form of the
/// error stays well-formed whatever the client sent.
pub(super) fn bounded(text: &str, max: usize) -> String {
    let shown = match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    };
    if super::xml_bounds::forbidden_character(&shown).is_none() {
        return shown;
    }
    shown
        .chars()
        .map(|c| {
            let mut one = [0u8; 4];
            if super::xml_bounds::forbidden_character(c.encode_utf8(&mut one)).is_some() {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_has_code_subcode_message_and_parameters() {
        let e = UcwaError::invalid_parameter("errorCode", "'Nope' is not an ErrorCode");
        let v: serde_json::Value = serde_json::from_str(&e.json()).unwrap();
        assert_eq!(v["code"], "BadRequest");
        assert_eq!(v["subcode"], "ParameterValidationFailure");
        assert_eq!(v["parameters"]["errorCode"], "'Nope' is not an ErrorCode");
        assert!(v["message"].as_str().unwrap().contains("errorCode"));
        let nf: serde_json::Value = serde_json::from_str(&UcwaError::not_found().json()).unwrap();
        assert!(nf.get("subcode").is_none() && nf.get("parameters").is_none());
    }

    #[test]
    fn echoed_client_text_never_breaks_the_xml_body() {
        assert_eq!(bounded("a\0b\u{1}c", 10), "a\u{FFFD}b\u{FFFD}c");
        assert_eq!(bounded("abcdef", 3), "abc...");
        let x = UcwaError::unsupported_encoding("x\0y").xml();
        assert!(
            super::super::xml_bounds::forbidden_character(&x).is_none(),
            "{x}"
        );
    }

    #[test]
    fn xml_body_is_a_reason_element_with_escaped_text() {
        let x = UcwaError::invalid_parameter("a<b", "x & y").xml();
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<reason xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">"));
        assert!(x.contains("<code>BadRequest</code>"));
        assert!(x.contains("<subcode>ParameterValidationFailure</subcode>"));
        assert!(x.contains("<property name=\"a&lt;b\">x &amp; y</property>"));
        assert!(x.ends_with("</reason>"));
    }

    #[test]
    fn echoed_input_is_bounded() {
        let long = "é".repeat(1000);
        let e = UcwaError::malformed(&long);
        assert!(e.message.chars().count() < 400);
    }
}
