//! A saved HTTP request, as the seeds and integrators write one down: a
//! request line, headers, a blank line, the body (RFC 9112's message
//! syntax). `callq explain FILE` reads one of these; nothing here knows a
//! wire style, so the same parser serves every style.
//!
//! What a file may look like, and why each rule:
//! - Lines end in LF or CRLF (a file saved on any system); a bare CR inside
//!   the head is refused, as HTTP/1.1 servers refuse it.
//! - The request line is `METHOD TARGET [HTTP/x.y]`: the seeds' Graph example
//!   leaves the version out. The target is absolute-form
//!   (`https://host:443/path?query`, as the seeds write it) or origin-form
//!   (`/path?query`). A standard method written in another case (the UCWA
//!   documentation's `Post` and `Get`) is read upper-cased, and a note says
//!   so: HTTP methods are case-sensitive and a server would not route `Post`.
//! - Headers are `Name: value`, one per line (obsolete line folding is
//!   refused: no server callq imitates accepts it). Names and values must be
//!   valid HTTP header names and values.
//! - The body is what follows the blank line. With a `Content-Length` it is
//!   exactly that many bytes, and only line endings may follow (an editor's
//!   final newline); without one it is the rest of the file less one final
//!   line ending, so a body that itself ends in a newline needs its length.
//!   `Transfer-Encoding` is refused: a saved message carries the decoded body.
//! - Sizes are bounded ([`Limits`]): the file is refused before it is read
//!   when it is larger than the head limit plus the body limit.
//!
//! Every error names the line it is about.

use axum::http::{HeaderName, HeaderValue, Uri};

/// Bounds on a saved message, so that a file of any content costs bounded
/// memory and time.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest request line or header line, in bytes (without its line ending).
    pub max_line_bytes: usize,
    /// Most header lines.
    pub max_headers: usize,
    /// Largest head (request line, headers and the blank line), in bytes.
    pub max_head_bytes: usize,
    /// Largest body, in bytes.
    pub max_body_bytes: usize,
}

impl Limits {
    /// HTTP servers' usual head bounds (8 KiB a line, 100 headers, 64 KiB in
    /// all) and the given body limit (callq's `body_limit_bytes`).
    pub fn with_body_limit(max_body_bytes: usize) -> Limits {
        Limits {
            max_line_bytes: 8 << 10,
            max_headers: 100,
            max_head_bytes: 64 << 10,
            max_body_bytes,
        }
    }

    /// The largest file that can hold a message within these limits.
    pub fn max_file_bytes(&self) -> usize {
        self.max_head_bytes.saturating_add(self.max_body_bytes)
    }
}

/// A parsed request: the method, where it goes, its headers in file order
/// and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpMessage {
    /// The method, upper-cased when it is a standard one.
    pub method: String,
    /// `scheme://authority` when the request line had the absolute form.
    pub origin: Option<String>,
    /// The path as written (still percent-encoded), always starting with `/`.
    pub path: String,
    /// The query string without its `?`, when there is one.
    pub query: Option<String>,
    /// `HTTP/1.1` and the like, when the request line names a version.
    pub version: Option<String>,
    /// Every header as written (name as spelled, value without its
    /// surrounding whitespace), in file order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// What was read leniently, one sentence each, with the line it is
    /// about (`line 1: method "Post" read as POST …`).
    pub notes: Vec<String>,
}

impl HttpMessage {
    /// The path and query as a server's router would see them.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a file is not a request callq can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Something on one line (1-based, counting every line of the file).
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    /// The whole file, before any line is read.
    #[error("{0}")]
    File(String),
}

fn at(line: usize, message: impl Into<String>) -> ParseError {
    ParseError::Line {
        line,
        message: message.into(),
    }
}

/// The methods whose case a note may correct; any other token is kept as
/// written (an extension method is case-sensitive).
const STANDARD_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
];

/// Reads one request from `bytes` within `limits`.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<HttpMessage, ParseError> {
    if bytes.len() > limits.max_file_bytes() {
        return Err(ParseError::File(format!(
            "the file is {} bytes, more than a request within the limits can be ({} bytes of head, {} of body)",
            bytes.len(),
            limits.max_head_bytes,
            limits.max_body_bytes
        )));
    }
    let mut notes = Vec::new();
    let mut lines = Lines::new(bytes);
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        lines.skip_bytes(3);
        notes.push("line 1: a UTF-8 byte order mark before the request line was skipped".into());
    }

    // The request line, after any blank lines (RFC 9112 §2.2 lets a server
    // ignore them).
    let (number, request_line) = loop {
        match lines.next_line(limits)? {
            None => return Err(ParseError::File("the file holds no request line".into())),
            Some((_, "")) => continue,
            Some(found) => break found,
        }
    };
    let request = parse_request_line(number, request_line, &mut notes)?;

    // Headers, up to the blank line or the end of the file.
    let mut headers = Vec::new();
    let mut ended_by_blank_line = false;
    while let Some((number, line)) = lines.next_line(limits)? {
        if line.is_empty() {
            ended_by_blank_line = true;
            break;
        }
        if lines.consumed() > limits.max_head_bytes {
            return Err(at(
                number,
                format!(
                    "the request line and headers pass {} bytes",
                    limits.max_head_bytes
                ),
            ));
        }
        if headers.len() == limits.max_headers {
            return Err(at(
                number,
                format!("more than {} header lines", limits.max_headers),
            ));
        }
        headers.push(parse_header(number, line)?);
    }
    let body_line = lines.line_number();
    let rest = if ended_by_blank_line {
        lines.rest()
    } else {
        &[][..]
    };
    if let Some((line, _)) = headers
        .iter()
        .find(|(_, (n, _))| n.eq_ignore_ascii_case("transfer-encoding"))
    {
        return Err(at(
            *line,
            "Transfer-Encoding is not supported in a saved request: save the decoded body, with a Content-Length if it ends in a newline",
        ));
    }
    let body = body(&headers, rest, body_line, limits)?;
    Ok(HttpMessage {
        method: request.method,
        origin: request.origin,
        path: request.path,
        query: request.query,
        version: request.version,
        headers: headers.into_iter().map(|(_, h)| h).collect(),
        body,
        notes,
    })
}

struct RequestLine {
    method: String,
    origin: Option<String>,
    path: String,
    query: Option<String>,
    version: Option<String>,
}

fn parse_request_line(
    number: usize,
    line: &str,
    notes: &mut Vec<String>,
) -> Result<RequestLine, ParseError> {
    let parts: Vec<&str> = line.split([' ', '\t']).filter(|p| !p.is_empty()).collect();
    let (method, target, version) = match parts.as_slice() {
        [m, t] => (*m, *t, None),
        [m, t, v] => (*m, *t, Some(*v)),
        _ => {
            return Err(at(
                number,
                "expected the request line `METHOD TARGET [HTTP/1.1]`, such as `POST https://host/path HTTP/1.1`",
            ));
        }
    };
    if !method.bytes().all(is_token_byte) {
        return Err(at(
            number,
            format!("{method:?} is not an HTTP method (a token such as POST)"),
        ));
    }
    let upper = method.to_ascii_uppercase();
    let method = if upper != method && STANDARD_METHODS.contains(&upper.as_str()) {
        notes.push(format!(
            "line {number}: method {method:?} read as {upper} (HTTP methods are case-sensitive; the UCWA documentation writes them capitalized)"
        ));
        upper
    } else {
        method.to_owned()
    };
    if let Some(v) = version {
        let known = v
            .strip_prefix("HTTP/")
            .is_some_and(|n| matches!(n, "1.0" | "1.1" | "2" | "2.0" | "3" | "3.0"));
        if !known {
            return Err(at(
                number,
                format!("{v:?} is not an HTTP version (HTTP/1.1, HTTP/1.0, HTTP/2 or HTTP/3)"),
            ));
        }
    }
    let (origin, path, query) = parse_target(number, target)?;
    Ok(RequestLine {
        method,
        origin,
        path,
        query,
        version: version.map(str::to_owned),
    })
}

/// Absolute-form (`https://host/path?q`) or origin-form (`/path?q`).
fn parse_target(
    number: usize,
    target: &str,
) -> Result<(Option<String>, String, Option<String>), ParseError> {
    let must_be = || {
        at(
            number,
            format!(
                "the request target {target:?} must be an absolute URL (https://host/path) or a path starting with /"
            ),
        )
    };
    if !target.starts_with('/') && !target.contains("://") {
        return Err(must_be());
    }
    let uri: Uri = target.parse().map_err(|e| {
        at(
            number,
            format!("the request target {target:?} is not a URL or a path: {e}"),
        )
    })?;
    let origin = match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => {
            if !matches!(scheme, "http" | "https") {
                return Err(at(
                    number,
                    format!("the request target's scheme {scheme:?} is not http or https"),
                ));
            }
            Some(format!("{scheme}://{authority}"))
        }
        (None, None) if target.starts_with('/') => None,
        _ => return Err(must_be()),
    };
    let path = if uri.path().is_empty() {
        "/".to_owned()
    } else {
        uri.path().to_owned()
    };
    Ok((origin, path, uri.query().map(str::to_owned)))
}

fn parse_header(number: usize, line: &str) -> Result<(usize, (String, String)), ParseError> {
    if line.starts_with([' ', '\t']) {
        return Err(at(
            number,
            "a header line continued on the next line (obsolete folding) is not supported: put the value on one line",
        ));
    }
    let Some((name, value)) = line.split_once(':') else {
        let hint = if line.starts_with(['{', '<', '[']) {
            " (the body must follow an empty line after the headers)"
        } else {
            ""
        };
        return Err(at(
            number,
            format!(
                "expected a header `Name: value`, or the empty line that ends the headers{hint}"
            ),
        ));
    };
    if name.is_empty() || HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(at(
            number,
            format!("{name:?} is not a header name (no spaces before the colon)"),
        ));
    }
    let value = value.trim_matches([' ', '\t']);
    if HeaderValue::from_str(value).is_err() {
        return Err(at(
            number,
            format!("the value of {name} holds a character a header cannot carry"),
        ));
    }
    Ok((number, (name.to_owned(), value.to_owned())))
}

/// The body after the blank line (`body_line` is its first line).
fn body(
    headers: &[(usize, (String, String))],
    rest: &[u8],
    body_line: usize,
    limits: &Limits,
) -> Result<Vec<u8>, ParseError> {
    let mut declared: Option<(usize, usize)> = None;
    for (line, (name, value)) in headers {
        if !name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let n = value
            .parse::<usize>()
            .ok()
            .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                at(
                    *line,
                    format!("Content-Length {value:?} is not a number of bytes"),
                )
            })?;
        match declared {
            Some((_, earlier)) if earlier != n => {
                return Err(at(
                    *line,
                    format!("a second Content-Length ({n}) differs from the first ({earlier})"),
                ));
            }
            _ => declared = Some((*line, n)),
        }
    }
    let body = match declared {
        Some((line, n)) => {
            if n > rest.len() {
                return Err(at(
                    line,
                    format!(
                        "Content-Length says {n} bytes but {} follow the empty line (from line {body_line})",
                        rest.len()
                    ),
                ));
            }
            let (body, after) = rest.split_at(n);
            if !after.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                let line_of_excess = body_line + body.iter().filter(|&&b| b == b'\n').count();
                return Err(at(
                    line_of_excess,
                    format!(
                        "the body runs past its Content-Length of {n} bytes (line {line}); fix the length or remove the extra text"
                    ),
                ));
            }
            body
        }
        None => rest
            .strip_suffix(b"\r\n")
            .or_else(|| rest.strip_suffix(b"\n"))
            .unwrap_or(rest),
    };
    if body.len() > limits.max_body_bytes {
        return Err(at(
            body_line,
            format!(
                "the body is {} bytes, more than the limit of {}",
                body.len(),
                limits.max_body_bytes
            ),
        ));
    }
    Ok(body.to_vec())
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The head's lines one by one, with their 1-based numbers.
struct Lines<'a> {
    bytes: &'a [u8],
    at: usize,
    number: usize,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Lines {
            bytes,
            at: 0,
            number: 0,
        }
    }

    fn skip_bytes(&mut self, n: usize) {
        self.at += n;
    }

    /// Bytes read so far.
    fn consumed(&self) -> usize {
        self.at
    }

    /// The number the next line would have.
    fn line_number(&self) -> usize {
        self.number + 1
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at..]
    }

    /// The next line without its ending, as text; `None` at the end of the file.
    fn next_line(&mut self, limits: &Limits) -> Result<Option<(usize, &'a str)>, ParseError> {
        if self.at >= self.bytes.len() {
            return Ok(None);
        }
        self.number += 1;
        let rest = &self.bytes[self.at..];
        let (raw, advance) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..end], end + 1),
            None => (rest, rest.len()),
        };
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.len() > limits.max_line_bytes {
            return Err(at(
                self.number,
                format!("the line is longer than {} bytes", limits.max_line_bytes),
            ));
        }
        if raw.contains(&b'\r') {
            return Err(at(
                self.number,
                "a carriage return inside the line (lines end in LF or CRLF)",
            ));
        }
        let text =
            std::str::from_utf8(raw).map_err(|_| at(self.number, "the line is not UTF-8 text"))?;
        self.at += advance;
        Ok(Some((self.number, text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::with_body_limit(1 << 20)
    }

    fn ok(text: &str) -> HttpMessage {
        parse(text.as_bytes(), &limits()).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn err(text: &[u8]) -> String {
        parse(text, &limits()).unwrap_err().to_string()
    }

    #[test]
    fn an_absolute_url_with_headers_and_a_body() {
        let m = ok(
            "POST https://stats.plivo.com/v1/Call/abc/Feedback/?x=1 HTTP/1.1\nHost: stats.plivo.com\nContent-Type: application/json\n\n{\"rating\": 5}\n",
        );
        assert_eq!(m.method, "POST");
        assert_eq!(m.origin.as_deref(), Some("https://stats.plivo.com"));
        assert_eq!(m.path, "/v1/Call/abc/Feedback/");
        assert_eq!(m.query.as_deref(), Some("x=1"));
        assert_eq!(m.path_and_query(), "/v1/Call/abc/Feedback/?x=1");
        assert_eq!(m.version.as_deref(), Some("HTTP/1.1"));
        assert_eq!(m.header("content-type"), Some("application/json"));
        assert_eq!(m.headers.len(), 2);
        assert_eq!(
            m.body, b"{\"rating\": 5}",
            "one final newline is the file's"
        );
        assert!(m.notes.is_empty(), "{:?}", m.notes);
    }

    #[test]
    fn an_origin_form_target_with_crlf_lines_and_no_version() {
        let m = ok("PUT /a/b\r\nX-A:  one  \r\n\r\nbody\r\n");
        assert_eq!(m.method, "PUT");
        assert_eq!(m.origin, None);
        assert_eq!(m.path, "/a/b");
        assert_eq!(m.version, None);
        assert_eq!(m.headers, vec![("X-A".to_owned(), "one".to_owned())]);
        assert_eq!(m.body, b"body");
    }

    #[test]
    fn the_documentations_capitalized_method_is_read_upper_cased_with_a_note() {
        let m = ok("Post https://fe1.contoso.com:443/ucwa/v1/x HTTP/1.1\nHost: fe1.contoso.com\n");
        assert_eq!(m.method, "POST");
        assert_eq!(m.origin.as_deref(), Some("https://fe1.contoso.com:443"));
        assert_eq!(m.notes.len(), 1);
        assert!(m.notes[0].starts_with("line 1: method \"Post\" read as POST"));
        // An extension method keeps its case.
        assert_eq!(ok("Report /x\n").method, "Report");
    }

    #[test]
    fn content_length_takes_exactly_its_bytes_and_allows_a_final_newline() {
        let m = ok("POST /x\nContent-Length: 3\n\nab\n\n");
        assert_eq!(m.body, b"ab\n", "the body's own newline is kept");
        let m = ok("POST /x\nContent-Length: 0\n\n");
        assert!(m.body.is_empty());
    }

    #[test]
    fn without_a_blank_line_the_request_has_no_body() {
        let m = ok("\n\nGET /session HTTP/1.1\nAccept: application/xml");
        assert_eq!(m.method, "GET");
        assert!(m.body.is_empty());
        assert_eq!(m.header("accept"), Some("application/xml"));
    }

    #[test]
    fn a_byte_order_mark_is_skipped_with_a_note() {
        let m = parse(b"\xEF\xBB\xBFGET /x\n", &limits()).unwrap();
        assert_eq!(m.path, "/x");
        assert_eq!(m.notes.len(), 1);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            err(b"POST\n"),
            "line 1: expected the request line `METHOD TARGET [HTTP/1.1]`, such as `POST https://host/path HTTP/1.1`"
        );
        assert!(
            err(b"\n\nPOST /x HTTP/9\n").starts_with("line 3: \"HTTP/9\" is not an HTTP version")
        );
        assert!(err(b"P(ST /x\n").starts_with("line 1: \"P(ST\" is not an HTTP method"));
        assert!(err(b"POST x/y\n").starts_with("line 1: the request target \"x/y\" must be"));
        assert!(err(b"POST ftp://h/x\n").contains("scheme \"ftp\""));
        assert!(err(b"POST *\n").starts_with("line 1:"));
        // The documentation's own shape: the body right after the headers.
        assert_eq!(
            err(b"POST /x\nContent-Type: application/json\n{\n}\n"),
            "line 3: expected a header `Name: value`, or the empty line that ends the headers (the body must follow an empty line after the headers)"
        );
        assert!(err(b"POST /x\nA: 1\n folded\n").starts_with("line 3: a header line continued"));
        assert!(
            err(b"POST /x\nBad Name: 1\n").starts_with("line 2: \"Bad Name\" is not a header name")
        );
        assert!(err(b"POST /x\nA: \x01\n").starts_with("line 2: the value of A"));
        assert!(err(b"POST /x\nA: 1\rB: 2\n").starts_with("line 2: a carriage return"));
        assert!(err(b"POST /x\nA: \xff\n").starts_with("line 2: the line is not UTF-8"));
        assert!(err(b"").starts_with("the file holds no request line"));
        assert!(err(b"\n\r\n").starts_with("the file holds no request line"));
    }

    #[test]
    fn content_length_errors_name_the_line() {
        assert_eq!(
            err(b"POST /x\nContent-Length: 10\n\nabc\n"),
            "line 2: Content-Length says 10 bytes but 4 follow the empty line (from line 4)"
        );
        assert_eq!(
            err(b"POST /x\nContent-Length: 2\n\nab\ncd\n"),
            "line 4: the body runs past its Content-Length of 2 bytes (line 2); fix the length or remove the extra text"
        );
        assert!(
            err(b"POST /x\nContent-Length: -1\n\n").starts_with("line 2: Content-Length \"-1\"")
        );
        assert!(
            err(b"POST /x\nContent-Length: +1\n\nab").starts_with("line 2: Content-Length \"+1\"")
        );
        assert!(
            err(b"POST /x\nContent-Length: 1\nContent-Length: 2\n\nab")
                .starts_with("line 3: a second Content-Length")
        );
        assert!(
            err(b"POST /x\nTransfer-Encoding: chunked\n\n2\r\nab\r\n0\r\n\r\n")
                .starts_with("line 2: Transfer-Encoding is not supported")
        );
    }

    #[test]
    fn sizes_are_bounded() {
        let small = Limits {
            max_line_bytes: 20,
            max_headers: 2,
            max_head_bytes: 60,
            max_body_bytes: 4,
        };
        let e = |t: &[u8]| parse(t, &small).unwrap_err().to_string();
        assert!(
            e(b"POST /aaaaaaaaaaaaaaaaaaaaaaaaa\n")
                .starts_with("line 1: the line is longer than 20")
        );
        assert!(e(b"POST /x\nA: 1\nB: 2\nC: 3\n").starts_with("line 4: more than 2 header lines"));
        assert!(e(b"POST /x\nA: 1\n\n12345").starts_with("line 4: the body is 5 bytes"));
        let head = Limits {
            max_head_bytes: 30,
            ..Limits::with_body_limit(100)
        };
        assert!(
            parse(b"POST /x\nAaaaaaaaaa: 1\nBbbbbbbbbbb: 2\n", &head)
                .unwrap_err()
                .to_string()
                .starts_with("line 3: the request line and headers pass 30 bytes")
        );
        assert!(e(&[b'x'; 65]).starts_with("the file is 65 bytes"));
        assert_eq!(parse(b"POST /x\n\n1234", &small).unwrap().body, b"1234");
    }

    use proptest::prelude::*;

    proptest! {
        /// Whatever the bytes, the parser answers (a message or an error
        /// naming a line or the file) and never panics.
        #[test]
        fn any_bytes_get_an_answer(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse(&bytes, &limits());
        }

        /// A message written by the rules reads back as written, with LF or
        /// CRLF, with or without a Content-Length.
        #[test]
        fn a_written_message_reads_back(
            method in "(GET|POST|PUT|PATCH)",
            path in "/[a-z0-9/_.-]{0,40}",
            query in proptest::option::of("[a-z0-9=&]{1,20}"),
            headers in proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,15}", "[ -~]{0,30}"), 0..6),
            body in proptest::collection::vec(any::<u8>(), 0..200),
            crlf in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let target = match &query {
                Some(q) => format!("https://example.com:8443{path}?{q}"),
                None => path.clone(),
            };
            let mut text = format!("{method} {target} HTTP/1.1{eol}").into_bytes();
            let headers: Vec<(String, String)> = headers
                .into_iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("transfer-encoding"))
                .map(|(n, v)| (n, v.trim_matches([' ', '\t']).to_owned()))
                .collect();
            for (n, v) in &headers {
                text.extend_from_slice(format!("{n}: {v}{eol}").as_bytes());
            }
            text.extend_from_slice(format!("Content-Length: {}{eol}{eol}", body.len()).as_bytes());
            text.extend_from_slice(&body);
            text.extend_from_slice(eol.as_bytes());
            let m = parse(&text, &limits()).unwrap();
            prop_assert_eq!(&m.method, &method);
            prop_assert_eq!(&m.path, &path);
            prop_assert_eq!(&m.query, &query);
            prop_assert_eq!(m.origin.is_some(), query.is_some());
            prop_assert_eq!(&m.headers[..headers.len()], &headers[..]);
            prop_assert_eq!(&m.body, &body);
        }
    }

    /// Every seed file parses, its body has the length it declares, and the
    /// documentation's artefacts are gone.
    #[test]
    fn every_seed_file_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/seeds");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let m = parse(&bytes, &limits()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                m.origin.is_some(),
                "{}: the seeds write absolute URLs",
                path.display()
            );
            let body = String::from_utf8(m.body.clone()).unwrap();
            assert!(
                !body.contains("&quot;") && !body.contains("&lt;"),
                "{}",
                path.display()
            );
            if let Some(n) = m.header("content-length") {
                assert_eq!(
                    n.parse::<usize>().unwrap(),
                    m.body.len(),
                    "{}",
                    path.display()
                );
            }
            seen += 1;
        }
        assert!(seen >= 10, "found {seen} seed files in {}", dir.display());
    }
}
