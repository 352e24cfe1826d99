//! Content negotiation: which body formats a request may use and which one
//! the answer is written in.
//!
//! UCWA speaks JSON and XML, each under a generic media type
//! (`application/json`, `application/xml`) and a vendor one
//! (`application/vnd.microsoft.com.ucwa+json` / `+xml`). The vendor docs also
//! spell the vendor type without `.com`, so both spellings are accepted. A
//! client tells an error body from a proxy's by its media type being one of
//! these, so answers echo the type the client asked for.

use axum::http::{HeaderMap, header};

/// The two body formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

/// A supported media type: its format and its canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType {
    pub format: Format,
    pub name: &'static str,
}

impl MediaType {
    pub const JSON: MediaType = MediaType {
        format: Format::Json,
        name: "application/json",
    };
    pub const XML: MediaType = MediaType {
        format: Format::Xml,
        name: "application/xml",
    };

    /// The `Content-Type` value of an answer in this type.
    pub fn content_type(self) -> String {
        format!("{}; charset=utf-8", self.name)
    }
}

const SUPPORTED: &[MediaType] = &[
    MediaType::JSON,
    MediaType {
        format: Format::Json,
        name: "application/vnd.microsoft.com.ucwa+json",
    },
    MediaType {
        format: Format::Json,
        name: "application/vnd.microsoft.ucwa+json",
    },
    MediaType::XML,
    MediaType {
        format: Format::Xml,
        name: "application/vnd.microsoft.com.ucwa+xml",
    },
    MediaType {
        format: Format::Xml,
        name: "application/vnd.microsoft.ucwa+xml",
    },
];

/// The supported type whose name is `essence` (already lower-cased).
fn lookup(essence: &str) -> Option<MediaType> {
    SUPPORTED.iter().copied().find(|m| m.name == essence)
}

/// Splits a media type into its lower-cased essence and its parameters.
fn split(value: &str) -> (String, impl Iterator<Item = (String, &str)>) {
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts.filter_map(|p| {
        let (k, v) = p.split_once('=')?;
        Some((k.trim().to_ascii_lowercase(), v.trim().trim_matches('"')))
    });
    (essence, params)
}

/// Why a request body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// A media type UCWA does not take.
    Type(String),
    /// A supported type in a character set other than UTF-8.
    Charset(String),
}

/// The format of the request body: `Ok(None)` when the request names no
/// `Content-Type`. Only UTF-8 (or its subset US-ASCII) is accepted.
pub fn request_format(headers: &HeaderMap) -> Result<Option<MediaType>, Unsupported> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Unsupported::Type("(not text)".into()))?;
    let (essence, mut params) = split(value);
    let media = lookup(&essence).ok_or_else(|| Unsupported::Type(essence.clone()))?;
    match params.find(|(k, _)| k == "charset") {
        Some((_, cs))
            if !matches!(
                cs.to_ascii_lowercase().as_str(),
                "utf-8" | "utf8" | "us-ascii"
            ) =>
        {
            Err(Unsupported::Charset(cs.to_owned()))
        }
        _ => Ok(Some(media)),
    }
}

/// The type to answer in: the client's most preferred supported type in
/// `Accept`; for no `Accept`, a wildcard, or only unknown types, the type of
/// the request body when it is a UCWA type (an XML client gets XML errors),
/// else JSON.
pub fn reply_type(headers: &HeaderMap) -> MediaType {
    let fallback = request_format(headers)
        .ok()
        .flatten()
        .unwrap_or(MediaType::JSON);
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return fallback;
    };
    let mut best: Option<(f32, MediaType)> = None;
    for item in accept.split(',') {
        let (essence, mut params) = split(item);
        let q = params
            .find(|(k, _)| k == "q")
            .and_then(|(_, v)| v.parse::<f32>().ok())
            .unwrap_or(1.0);
        if q.is_nan() || q <= 0.0 {
            continue;
        }
        let media = match essence.as_str() {
            "*/*" | "application/*" => fallback,
            e => match lookup(e) {
                Some(m) => m,
                None => continue,
            },
        };
        // Strictly greater: among equals the first listed wins.
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, media));
        }
    }
    best.map_or(fallback, |(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn every_documented_spelling_is_a_request_format() {
        for (ct, format) in [
            ("application/json", Format::Json),
            ("application/json; charset=utf-8", Format::Json),
            ("Application/JSON;charset=\"UTF-8\"", Format::Json),
            (
                "application/vnd.microsoft.com.ucwa+json;charset=utf-8",
                Format::Json,
            ),
            ("application/vnd.microsoft.ucwa+json", Format::Json),
            ("application/xml", Format::Xml),
            ("application/vnd.microsoft.com.ucwa+xml", Format::Xml),
            (
                "application/vnd.microsoft.ucwa+xml; charset=us-ascii",
                Format::Xml,
            ),
        ] {
            let got = request_format(&headers(&[("content-type", ct)])).unwrap();
            assert_eq!(got.map(|m| m.format), Some(format), "{ct}");
        }
        assert_eq!(request_format(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn other_types_and_charsets_are_unsupported() {
        for ct in [
            "text/plain",
            "text/xml",
            "application/x-www-form-urlencoded",
            "",
        ] {
            assert!(matches!(
                request_format(&headers(&[("content-type", ct)])),
                Err(Unsupported::Type(_))
            ));
        }
        assert!(matches!(
            request_format(&headers(&[(
                "content-type",
                "application/json; charset=utf-16"
            )])),
            Err(Unsupported::Charset(_))
        ));
    }

    #[test]
    fn accept_picks_the_preferred_supported_type() {
        let reply = |pairs: &[(&'static str, &str)]| reply_type(&headers(pairs)).name;
        assert_eq!(reply(&[]), "application/json");
        assert_eq!(reply(&[("accept", "application/xml")]), "application/xml");
        assert_eq!(
            reply(&[("accept", "application/vnd.microsoft.com.ucwa+xml")]),
            "application/vnd.microsoft.com.ucwa+xml"
        );
        assert_eq!(
            reply(&[("accept", "application/json;q=0.5, application/xml")]),
            "application/xml"
        );
        assert_eq!(
            reply(&[("accept", "application/xml;q=0, application/json")]),
            "application/json"
        );
        assert_eq!(reply(&[("accept", "image/png")]), "application/json");
        assert_eq!(
            reply(&[("accept", "text/html, */*;q=0.1")]),
            "application/json"
        );
        // An XML body with a wildcard or no Accept gets XML back.
        assert_eq!(
            reply(&[("content-type", "application/xml"), ("accept", "*/*")]),
            "application/xml"
        );
        assert_eq!(
            reply(&[("content-type", "application/xml")]),
            "application/xml"
        );
        assert_eq!(
            reply(&[
                ("content-type", "application/xml"),
                ("accept", "application/json")
            ]),
            "application/json"
        );
    }
}
