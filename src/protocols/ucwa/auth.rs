//! UCWA authentication: `Authorization: Bearer cwt=<token>`, checked against
//! the tenants' `ucwa` credentials, and the per-operation scope check.
//!
//! A request without a known token gets 401 with the two challenges a UCWA
//! client looks for to find out where to get a token: a `Bearer` one naming
//! the trusted issuer and the client id, and an `MsRtcOAuth` one pointing at
//! the web-ticket endpoint on this host with the grant types it takes. callq
//! itself issues no tokens (they are configured per tenant); the challenges
//! keep UCWA client libraries on their normal path.

use axum::http::{HeaderMap, header};

use super::error::UcwaError;
use super::request::Operation;
use crate::auth::{Credentials, Principal, bearer_token};

/// The scope publishCallQualityFeedback needs.
pub const FEEDBACK_SCOPES: &[&str] = &["User.ReadWrite"];
/// The scopes of which reportMediaDiagnostics and audioVideoSession need one.
pub const CONVERSATION_SCOPES: &[&str] = &["Conversations.Initiate", "Conversations.Receive"];

/// The scopes of which `op` needs one.
pub fn scopes(op: Operation) -> &'static [&'static str] {
    match op {
        Operation::PublishCallQualityFeedback => FEEDBACK_SCOPES,
        Operation::ReportMediaDiagnostics => CONVERSATION_SCOPES,
    }
}

/// Well-known principal ids UCWA servers put in their Bearer challenge.
const ISSUER_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
const CLIENT_ID: &str = "00000004-0000-0ff1-ce00-000000000000";
const GRANT_TYPES: &str = "urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password";

/// The tenant behind the request's token, if it grants one of `scopes`.
pub fn authenticate(
    credentials: &Credentials,
    headers: &HeaderMap,
    scopes: &[&str],
) -> Result<Principal, UcwaError> {
    let principal = bearer_token(headers)
        .and_then(|token| credentials.ucwa(token))
        .ok_or_else(|| UcwaError::unauthorized(&challenges(headers)))?;
    if principal.has_any(scopes) {
        Ok(principal)
    } else {
        Err(UcwaError::forbidden(scopes))
    }
}

/// The two `WWW-Authenticate` values, built from the request's host.
pub fn challenges(headers: &HeaderMap) -> [String; 2] {
    let host = request_host(headers);
    let realm = host.split(':').next().unwrap_or(&host);
    let realm = if host.starts_with('[') {
        host.split(']')
            .next()
            .map_or(host.as_str(), |h| h.trim_start_matches('['))
    } else {
        realm
    };
    [
        format!("Bearer trusted_issuers=\"{ISSUER_ID}@{realm}\", client_id=\"{CLIENT_ID}\""),
        format!(
            "MsRtcOAuth href=\"{}://{host}/WebTicket/oauthtoken\",grant_type=\"{GRANT_TYPES}\"",
            request_scheme(headers)
        ),
    ]
}

/// The `Host` the client used, if it is a plain host[:port]; else `localhost`
/// (the value is echoed inside a quoted header parameter).
fn request_host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        })
        .unwrap_or("localhost")
        .to_owned()
}

/// `https` when a proxy in front says the client came over TLS, else `http`.
fn request_scheme(headers: &HeaderMap) -> &'static str {
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim);
    match forwarded {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_name_this_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "fe1.contoso.com:443".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        let [bearer, rtc] = challenges(&h);
        assert_eq!(
            bearer,
            "Bearer trusted_issuers=\"00000002-0000-0ff1-ce00-000000000000@fe1.contoso.com\", client_id=\"00000004-0000-0ff1-ce00-000000000000\""
        );
        assert_eq!(
            rtc,
            "MsRtcOAuth href=\"https://fe1.contoso.com:443/WebTicket/oauthtoken\",grant_type=\"urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password\""
        );
    }

    #[test]
    fn a_host_that_could_break_the_header_is_not_echoed() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "evil\"host".parse().unwrap());
        let [_, rtc] = challenges(&h);
        assert!(rtc.contains("http://localhost/WebTicket/oauthtoken"));
        h.insert(header::HOST, "[::1]:8080".parse().unwrap());
        let [bearer, rtc] = challenges(&h);
        assert!(bearer.contains("@::1\""), "{bearer}");
        assert!(rtc.contains("http://[::1]:8080/WebTicket"));
    }
}
