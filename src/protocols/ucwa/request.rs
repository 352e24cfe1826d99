//! Wire → model for the two UCWA ingest operations. Pure: no I/O, no state.
//!
//! [`decode_report`] is the step: the body decoded as its declared type
//! says, the operation's properties checked ([`Operation::fill`]) and
//! copied into the report, with the call id from the path ([`call_id`]).
//!
//! An operation's input is a flat bag of named properties, written as a JSON
//! object or as an XML `<input>` element. JSON input is one object whose
//! members are the properties. XML input is
//! `<input xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">` holding
//! `<property name="…">value</property>` and
//! `<propertyList name="…"><item>…</item></propertyList>` children. Links and
//! embedded resources in input carry no meaning to UCWA, so any other child
//! element is skipped, as are properties an operation does not know.
//!
//! The XML reader refuses document type declarations outright and expands
//! only the five predefined entities and numeric character references: a
//! reference to any other entity is an error, so no input can make the
//! server fetch, expand or recurse into anything. Decoding is linear in the
//! body's size: attributes per element, namespace declarations, elements and
//! depth are capped (`xml_bounds`), and characters XML does not allow
//! (U+0000 above all) make the body not well-formed.

use std::collections::HashMap;

use axum::http::Uri;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::UCWA_NAMESPACE;
use super::enums::{ErrorCode, ErrorSubcode};
use super::error::{UcwaError, bounded};
use super::media::{Format, MediaType};
use super::qoe;
use super::xml_bounds::{Budget, Limits, forbidden_character};
use crate::explain::{Ignored, Provenance, Source, SourceKind, Trace};
use crate::model::{Kind, Protocol, Report};

/// Longest application or conversation id accepted, in bytes once decoded.
const MAX_ID_BYTES: usize = 256;

/// The two ingest operations.
#[derive(Debug, Clone, Copy)]
pub enum Operation {
    PublishCallQualityFeedback,
    ReportMediaDiagnostics,
}

impl Operation {
    pub fn kind(self) -> Kind {
        match self {
            Operation::PublishCallQualityFeedback => Kind::Feedback,
            Operation::ReportMediaDiagnostics => Kind::Diagnostics,
        }
    }

    /// The operation's name in UCWA.
    pub fn name(self) -> &'static str {
        match self {
            Operation::PublishCallQualityFeedback => "publishCallQualityFeedback",
            Operation::ReportMediaDiagnostics => "reportMediaDiagnostics",
        }
    }

    /// The properties the operation reads.
    fn properties(self) -> &'static [&'static str] {
        match self {
            Operation::PublishCallQualityFeedback => &["mediaEndpoint", "mediaQualityOfExperience"],
            Operation::ReportMediaDiagnostics => &["errorCode", "errorSubcode"],
        }
    }

    /// Checks the operation's properties and copies them into `report`.
    fn fill(
        self,
        input: &Input,
        report: &mut Report,
        format: Option<Format>,
        trace: &Trace,
    ) -> Result<(), UcwaError> {
        let text = |name: &str, field: &str| {
            let value = input
                .optional_text(name)
                .map(|v| v.map(str::to_owned))
                .map_err(|w| UcwaError::invalid_parameter(&w.name, &w.reason))?;
            if let Some(value) = &value {
                trace.field(|| Provenance {
                    field: field.into(),
                    source: property_source(format, name),
                    raw: Some(shown(value)),
                    conversion: None,
                    model: None,
                });
            }
            Ok::<_, UcwaError>(value)
        };
        match self {
            Operation::PublishCallQualityFeedback => {
                report.media_endpoint = text("mediaEndpoint", "media_endpoint")?;
                report.media_quality_of_experience =
                    text("mediaQualityOfExperience", "media_quality_of_experience")?;
                if let Some(qoe) = &report.media_quality_of_experience {
                    report.streams = qoe::extract_streams_traced(qoe, trace);
                }
            }
            Operation::ReportMediaDiagnostics => {
                report.error_code = member::<ErrorCode>(
                    text("errorCode", "error_code")?,
                    "errorCode",
                    "ErrorCode",
                )?;
                report.error_subcode = member::<ErrorSubcode>(
                    text("errorSubcode", "error_subcode")?,
                    "errorSubcode",
                    "ErrorSubcode",
                )?;
            }
        }
        if trace.enabled() {
            let mut unknown: Vec<&String> = input
                .properties
                .keys()
                .filter(|name| !self.properties().contains(&name.as_str()))
                .collect();
            unknown.sort();
            for name in unknown {
                trace.ignored(|| Ignored {
                    source: property_source(format, name),
                    reason: format!("not a property of {} (UCWA skips those)", self.name()),
                });
            }
        }
        Ok(())
    }
}

/// Where a property sits: a JSON member or an XML `<property>` (or
/// `<propertyList>`) element.
fn property_source(format: Option<Format>, name: &str) -> Source {
    match format {
        Some(Format::Xml) => Source {
            kind: SourceKind::XmlPath,
            at: format!("/input/property[@name='{name}']"),
        },
        _ => Source {
            kind: SourceKind::JsonPointer,
            at: format!("/{}", name.replace('~', "~0").replace('/', "~1")),
        },
    }
}

/// A value as shown in a provenance row: whole when short, else its start
/// and its length (an MS-QoE document is kilobytes).
fn shown(value: &str) -> String {
    const MAX: usize = 200;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}… ({} bytes)", &value[..cut], value.len()),
        None => value.to_owned(),
    }
}

/// The report of `tenant` that operation `op` makes of `body` about call
/// `call_id` (from [`call_id`]); `declared` is the body's type, from
/// `media::request_format`. The body is kept whole as the raw payload.
pub fn decode_report(
    tenant: &str,
    op: Operation,
    call_id: String,
    declared: Option<MediaType>,
    body: &[u8],
    trace: &Trace,
) -> Result<Report, UcwaError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| UcwaError::malformed(&format!("the body is not UTF-8 text ({e})")))?;
    let input = decode_input(declared, text)?;
    let mut report = Report::new(tenant, Protocol::Ucwa, op.kind(), call_id, text);
    op.fill(&input, &mut report, declared.map(|m| m.format), trace)?;
    Ok(report)
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

/// The body's properties. Every property of these operations is optional,
/// so an empty body is an empty input whatever its declared type.
fn decode_input(declared: Option<MediaType>, text: &str) -> Result<Input, UcwaError> {
    if text.trim().is_empty() {
        return Ok(Input::default());
    }
    let decoded = match declared.map(|m| m.format) {
        None => {
            return Err(UcwaError::unsupported_media_type(
                "A body without Content-Type",
            ));
        }
        Some(Format::Json) => decode_json(text),
        Some(Format::Xml) => decode_xml(text),
    };
    decoded.map_err(|e| match e {
        DecodeError::Malformed(why) => UcwaError::malformed(&why),
        DecodeError::Dtd => UcwaError::malformed("document type declarations are not accepted"),
    })
}

/// The application and conversation ids as written in the path (the route
/// guarantees the shape `/ucwa/v1/applications/{a}/communication/conversations/{c}/…`).
pub fn raw_ids(uri: &Uri) -> (&str, &str) {
    let mut segments = uri.path().split('/');
    let application = segments.nth(4).unwrap_or("");
    let conversation = segments.nth(2).unwrap_or("");
    (application, conversation)
}

/// `{applicationId}/{conversationId}`, decoded: what ops search reports by.
pub fn call_id(uri: &Uri) -> Result<String, UcwaError> {
    call_id_traced(uri, &Trace::off())
}

/// [`call_id`], recording where it came from.
pub fn call_id_traced(uri: &Uri, trace: &Trace) -> Result<String, UcwaError> {
    let (raw_application, raw_conversation) = raw_ids(uri);
    let application = path_id(raw_application, "applicationId")?;
    let conversation = path_id(raw_conversation, "conversationId")?;
    let id = format!("{application}/{conversation}");
    trace.field(|| {
        let raw = format!("{raw_application}/{raw_conversation}");
        Provenance {
            field: "call_id".into(),
            source: Source {
                kind: SourceKind::PathSegment,
                at: "{applicationId}/{conversationId}".into(),
            },
            conversion: (raw != id).then(|| format!("{raw} → {id} (percent-decoded)")),
            raw: Some(raw),
            model: None,
        }
    });
    Ok(id)
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

const XSI_NAMESPACE: &[u8] = b"http://www.w3.org/2001/XMLSchema-instance";

/// One property's value as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    /// JSON `null`, or XML `xsi:nil="true"`.
    Null,
    /// A JSON array of strings, or an XML `<propertyList>`.
    List(Vec<String>),
    /// A JSON value of another type; the name of that type.
    Other(&'static str),
}

/// The properties of one request. A name sent twice keeps its last value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    properties: HashMap<String, Value>,
}

/// Why a property cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongType {
    pub name: String,
    pub reason: String,
}

impl Input {
    /// An optional string property. Absent, `null` and empty all mean "not
    /// given": UCWA writes an empty value as `""` in JSON and as an empty
    /// element in XML, and neither form can carry a null otherwise.
    pub fn optional_text(&self, name: &str) -> Result<Option<&str>, WrongType> {
        match self.properties.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Text(t)) if t.is_empty() => Ok(None),
            Some(Value::Text(t)) => Ok(Some(t)),
            Some(Value::List(_)) => Err(WrongType {
                name: name.to_owned(),
                reason: "a single string is expected, not a list".into(),
            }),
            Some(Value::Other(kind)) => Err(WrongType {
                name: name.to_owned(),
                reason: format!("a string is expected, not a {kind}"),
            }),
        }
    }

    #[cfg(test)]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.properties.get(name)
    }
}

/// Why a body is not a UCWA input document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0}")]
    Malformed(String),
    #[error("document type declarations are not accepted")]
    Dtd,
}

fn malformed(what: impl Into<String>) -> DecodeError {
    DecodeError::Malformed(what.into())
}

/// A leading UTF-8 byte order mark is not part of the document.
fn without_bom(body: &str) -> &str {
    body.strip_prefix('\u{feff}').unwrap_or(body)
}

/// Decodes a JSON input object.
pub fn decode_json(body: &str) -> Result<Input, DecodeError> {
    let value: serde_json::Value = serde_json::from_str(without_bom(body))
        .map_err(|e| malformed(format!("the body is not valid JSON ({e})")))?;
    let serde_json::Value::Object(object) = value else {
        return Err(malformed("the body must be a JSON object of properties"));
    };
    let properties = object
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(s) => Value::Text(s),
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Array(items) => {
                    let strings: Option<Vec<String>> = items
                        .into_iter()
                        .map(|i| match i {
                            serde_json::Value::String(s) => Some(s),
                            _ => None,
                        })
                        .collect();
                    strings.map_or(Value::Other("list of non-strings"), Value::List)
                }
                serde_json::Value::Bool(_) => Value::Other("boolean"),
                serde_json::Value::Number(_) => Value::Other("number"),
                serde_json::Value::Object(_) => Value::Other("object"),
            };
            (name, value)
        })
        .collect();
    Ok(Input { properties })
}

/// Decodes an XML `<input>` document.
pub fn decode_xml(body: &str) -> Result<Input, DecodeError> {
    let body = without_bom(body);
    if let Some((at, c)) = forbidden_character(body) {
        return Err(malformed(format!(
            "the body is not well-formed XML (the character U+{:04X} at byte {at} is not allowed in XML)",
            u32::from(c)
        )));
    }
    let mut reader = Doc {
        reader: NsReader::from_str(body),
        budget: Budget::new(Limits::UCWA_INPUT),
        open: 0,
    };
    let mut input = Input::default();
    let mut seen_root = false;
    loop {
        let (ucwa, event) = read(&mut reader)?;
        match event {
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) if is_blank(&t) => {}
            Event::Start(e) | Event::Empty(e) if seen_root => {
                return Err(malformed(format!(
                    "content after the root element: <{}>",
                    String::from_utf8_lossy(e.name().as_ref())
                )));
            }
            Event::Start(e) => {
                check_root(ucwa, &e)?;
                seen_root = true;
                read_properties(&mut reader, &mut input)?;
            }
            Event::Empty(e) => {
                check_root(ucwa, &e)?;
                seen_root = true;
            }
            Event::Eof if seen_root => return Ok(input),
            Event::Eof => return Err(malformed("the body holds no <input> element")),
            Event::Text(_) | Event::CData(_) => {
                return Err(malformed("text outside the <input> element"));
            }
            Event::End(_) => return Err(malformed("an end tag without its start tag")),
            Event::DocType(_) => return Err(DecodeError::Dtd),
        }
    }
}

fn is_blank(text: &[u8]) -> bool {
    text.iter().all(u8::is_ascii_whitespace)
}

fn check_root(ucwa: bool, e: &BytesStart) -> Result<(), DecodeError> {
    if ucwa && e.local_name().as_ref() == b"input" {
        Ok(())
    } else {
        Err(malformed(format!(
            "the root element must be <input xmlns=\"{UCWA_NAMESPACE}\">, not <{}>",
            String::from_utf8_lossy(e.name().as_ref())
        )))
    }
}

/// Reads the children of `<input>` up to and including `</input>`.
fn read_properties(reader: &mut Doc<'_>, input: &mut Input) -> Result<(), DecodeError> {
    loop {
        let (ucwa, event) = read(reader)?;
        match event {
            Event::End(_) => return Ok(()),
            Event::Start(e) => match (ucwa, e.local_name().as_ref()) {
                (true, b"property") => {
                    let (name, nil) = property_attributes(reader, &e)?;
                    let text = read_text(reader, "property")?;
                    let value = if nil { Value::Null } else { Value::Text(text) };
                    input.properties.insert(name, value);
                }
                (true, b"propertyList") => {
                    let (name, _) = property_attributes(reader, &e)?;
                    let items = read_items(reader)?;
                    input.properties.insert(name, Value::List(items));
                }
                _ => skip_subtree(reader)?,
            },
            Event::Empty(e) => match (ucwa, e.local_name().as_ref()) {
                (true, b"property") => {
                    let (name, nil) = property_attributes(reader, &e)?;
                    let value = if nil {
                        Value::Null
                    } else {
                        Value::Text(String::new())
                    };
                    input.properties.insert(name, value);
                }
                (true, b"propertyList") => {
                    let (name, _) = property_attributes(reader, &e)?;
                    input.properties.insert(name, Value::List(Vec::new()));
                }
                _ => {}
            },
            Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) if is_blank(&t) => {}
            Event::Text(_) | Event::CData(_) => {
                return Err(malformed(
                    "text directly inside <input>; values belong in <property>",
                ));
            }
            Event::Decl(_) => return Err(malformed("an XML declaration inside the document")),
            Event::DocType(_) => return Err(DecodeError::Dtd),
            Event::Eof => return Err(malformed("the document ends inside <input>")),
        }
    }
}

/// The next event and whether its element (if any) is in the UCWA
/// namespace, with XML errors turned into decode errors.
fn read<'i>(doc: &mut Doc<'i>) -> Result<(bool, Event<'i>), DecodeError> {
    let (ns, event) = doc
        .reader
        .read_resolved_event()
        .map_err(|e| malformed(format!("the body is not well-formed XML ({e})")))?;
    let ucwa = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == UCWA_NAMESPACE.as_bytes());
    let admitted = match &event {
        Event::Start(e) => {
            let admitted = doc.budget.admit(e, doc.open);
            doc.open += 1;
            admitted
        }
        Event::Empty(e) => doc.budget.admit(e, doc.open),
        Event::End(_) => {
            doc.open = doc.open.saturating_sub(1);
            Ok(())
        }
        _ => Ok(()),
    };
    admitted.map_err(|exceeded| malformed(format!("the body is not accepted: {exceeded}")))?;
    Ok((ucwa, event))
}

/// The reader of one document and what the document has used of its caps.
struct Doc<'i> {
    reader: NsReader<&'i [u8]>,
    budget: Budget,
    /// Elements open.
    open: usize,
}

/// Skips everything up to the end tag of the element just started.
fn skip_subtree(reader: &mut Doc<'_>) -> Result<(), DecodeError> {
    let mut depth = 1usize;
    while depth > 0 {
        match read(reader)?.1 {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth -= 1,
            Event::DocType(_) => return Err(DecodeError::Dtd),
            Event::Eof => return Err(malformed("the document ends inside an element")),
            // Text is unescaped to refuse unknown entities even where it is ignored.
            Event::Text(t) => {
                t.unescape()
                    .map_err(|e| malformed(format!("bad text ({e})")))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `name` of a `<property>` or `<propertyList>` and whether it is `xsi:nil`.
fn property_attributes(doc: &Doc<'_>, e: &BytesStart) -> Result<(String, bool), DecodeError> {
    let mut name = None;
    let mut nil = false;
    for attr in e.attributes() {
        let attr = attr.map_err(|err| malformed(format!("bad attribute ({err})")))?;
        let value = attr
            .unescape_value()
            .map_err(|err| malformed(format!("bad attribute value ({err})")))?;
        let (ns, local) = doc.reader.resolve_attribute(attr.key);
        match (ns, local.as_ref()) {
            (ResolveResult::Unbound, b"name") => name = Some(value.into_owned()),
            (ResolveResult::Bound(n), b"nil") if n.as_ref() == XSI_NAMESPACE => {
                nil = matches!(value.trim(), "true" | "1");
            }
            _ => {}
        }
    }
    let name = name.ok_or_else(|| {
        malformed(format!(
            "<{}> without a name attribute",
            String::from_utf8_lossy(e.local_name().as_ref())
        ))
    })?;
    Ok((name, nil))
}

/// The text content of a scalar element, up to its end tag. Text and CDATA
/// sections are joined; comments are dropped; child elements are an error.
fn read_text(reader: &mut Doc<'_>, element: &str) -> Result<String, DecodeError> {
    let mut text = String::new();
    loop {
        match read(reader)?.1 {
            Event::Text(t) => text.push_str(
                &t.unescape()
                    .map_err(|e| malformed(format!("bad text in <{element}> ({e})")))?,
            ),
            Event::CData(c) => text.push_str(
                &c.decode()
                    .map_err(|e| malformed(format!("bad CDATA in <{element}> ({e})")))?,
            ),
            Event::End(_) => return Ok(text),
            Event::Comment(_) | Event::PI(_) => {}
            Event::Start(_) | Event::Empty(_) => {
                return Err(malformed(format!(
                    "<{element}> holds a child element; its value must be text"
                )));
            }
            Event::DocType(_) => return Err(DecodeError::Dtd),
            Event::Decl(_) => return Err(malformed("an XML declaration inside the document")),
            Event::Eof => return Err(malformed(format!("the document ends inside <{element}>"))),
        }
    }
}

/// The `<item>`s of a `<propertyList>`, up to its end tag.
fn read_items(reader: &mut Doc<'_>) -> Result<Vec<String>, DecodeError> {
    let mut items = Vec::new();
    loop {
        let (item, event) = read(reader)?;
        match event {
            Event::Start(e) if item && e.local_name().as_ref() == b"item" => {
                items.push(read_text(reader, "item")?);
            }
            Event::Empty(e) if item && e.local_name().as_ref() == b"item" => {
                items.push(String::new())
            }
            Event::End(_) => return Ok(items),
            Event::Text(t) if is_blank(&t) => {}
            Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err(DecodeError::Dtd),
            Event::Eof => return Err(malformed("the document ends inside <propertyList>")),
            _ => return Err(malformed("a <propertyList> may hold only <item> elements")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use proptest::prelude::*;

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

    /// The XML request of the publishCallQualityFeedback page, decoded.
    const SEED_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<input xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">
  <property name="mediaEndpoint">samplevalue</property>
  <property name="mediaQualityOfExperience">samplevalue</property>
</input>"#;

    fn text(input: &Input, name: &str) -> Option<String> {
        input.optional_text(name).unwrap().map(str::to_owned)
    }

    #[test]
    fn the_seed_documents_decode() {
        let x = decode_xml(SEED_XML).unwrap();
        assert_eq!(text(&x, "mediaEndpoint").as_deref(), Some("samplevalue"));
        assert_eq!(
            text(&x, "mediaQualityOfExperience").as_deref(),
            Some("samplevalue")
        );
        let j = decode_json(
            "{\n  \"errorCode\" : \"BadRequest\",\n  \"errorSubcode\" : \"InviteesOnly\"\n}",
        )
        .unwrap();
        assert_eq!(text(&j, "errorCode").as_deref(), Some("BadRequest"));
        assert_eq!(text(&j, "errorSubcode").as_deref(), Some("InviteesOnly"));
    }

    #[test]
    fn xml_values_keep_their_text_exactly() {
        let x = decode_xml(
            "\u{feff}<u:input xmlns:u=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">\
             <u:property name=\"q\"> &lt;VQReportEvent a=&quot;1&quot;&gt;&#x2713;&#10003;<![CDATA[<x>&amp;</x>]]><!-- c --></u:property>\
             <u:property name=\"empty\"/>\
             <u:property name=\"nil\" xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\" i:nil=\"true\"/>\
             <u:propertyList name=\"list\"><u:item>a</u:item><u:item/></u:propertyList>\
             <u:link rel=\"x\" href=\"/y\"/><u:resource rel=\"r\"><u:property name=\"q\">ignored</u:property></u:resource>\
             </u:input>",
        )
        .unwrap();
        assert_eq!(
            text(&x, "q").as_deref(),
            Some(" <VQReportEvent a=\"1\">✓✓<x>&amp;</x>")
        );
        assert_eq!(text(&x, "empty"), None);
        assert_eq!(x.get("nil"), Some(&Value::Null));
        assert_eq!(
            x.get("list"),
            Some(&Value::List(vec!["a".into(), String::new()]))
        );
        assert!(x.optional_text("list").is_err());
        assert_eq!(
            decode_xml("<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"/>"),
            Ok(Input::default())
        );
    }

    #[test]
    fn dtds_and_custom_entities_are_refused() {
        let dtd = "<?xml version=\"1.0\"?><!DOCTYPE input [<!ENTITY e \"boom\">]>\
                   <input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"><property name=\"a\">&e;</property></input>";
        assert_eq!(decode_xml(dtd), Err(DecodeError::Dtd));
        let custom = "<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"><property name=\"a\">&e;</property></input>";
        assert!(matches!(decode_xml(custom), Err(DecodeError::Malformed(_))));
        let in_attr = "<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"><property name=\"&e;\">x</property></input>";
        assert!(matches!(
            decode_xml(in_attr),
            Err(DecodeError::Malformed(_))
        ));
        let in_skipped = "<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"><other>&e;</other></input>";
        assert!(matches!(
            decode_xml(in_skipped),
            Err(DecodeError::Malformed(_))
        ));
        let nested_dtd =
            "<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"><!DOCTYPE x></input>";
        assert!(decode_xml(nested_dtd).is_err());
    }

    #[test]
    fn malformed_xml_is_refused() {
        let ns = "xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"";
        for bad in [
            String::new(),
            "not xml".into(),
            "<input>".into(),
            format!("<input {ns}><property name=\"a\">x</input>"),
            format!("<input {ns}><property name=\"a\">x</property>"),
            format!("<input {ns}><property>x</property></input>"),
            format!("<input {ns}><property name=\"a\"><b/></property></input>"),
            format!("<input {ns}>loose text</input>"),
            format!("<input {ns}/><input {ns}/>"),
            format!("<input {ns}/>trailing"),
            format!("<input {ns}><propertyList name=\"l\"><x/></propertyList></input>"),
            format!("<input {ns}><property name=\"a\" name=\"b\">x</property></input>"),
            "<input/>".into(),
            "<input xmlns=\"urn:other\"/>".into(),
            format!("<resource {ns}/>"),
            format!("<input {ns}><property name=\"a\">a & b</property></input>"),
        ] {
            assert!(decode_xml(&bad).is_err(), "accepted: {bad}");
        }
    }

    /// The shapes that used to cost seconds of CPU each are refused by their
    /// caps; nothing here measures time.
    #[test]
    fn hostile_shapes_are_refused_by_their_caps() {
        use super::super::xml_bounds::{MAX_ATTRIBUTES, MAX_NAMESPACE_BINDINGS};
        let ns = "xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"";
        let refused = |body: &str, why: &str| match decode_xml(body) {
            Err(DecodeError::Malformed(m)) => assert!(m.contains(why), "{m}"),
            other => panic!("expected a refusal naming {why:?}, got {other:?}"),
        };
        let attributes = |n: usize| (0..n).map(|i| format!(" a{i}=\"1\"")).collect::<String>();
        // Within the cap (name + the rest) is fine, on the property or elsewhere.
        let ok = format!(
            "<input {ns}><property name=\"a\"{}>x</property></input>",
            attributes(MAX_ATTRIBUTES - 1)
        );
        assert!(decode_xml(&ok).is_ok());
        for on in ["property name=\"a\"", "other", "input"] {
            let body = if on == "input" {
                format!("<input {ns}{}/>", attributes(40_000))
            } else {
                let close = on.split(' ').next().unwrap();
                format!(
                    "<input {ns}><{on}{}>x</{close}></input>",
                    attributes(40_000)
                )
            };
            refused(&body, "attributes");
        }
        let same = " a=\"1\"".repeat(40_000);
        refused(&format!("<input {ns}><x{same}/></input>"), "attributes");
        // Namespace declarations spread over elements, each within its attribute cap.
        let declaring = |k: usize| format!("<x xmlns:p{k}=\"urn:{k}\"/>");
        let spread = |n: usize| (0..n).map(declaring).collect::<String>();
        assert!(
            decode_xml(&format!(
                "<input {ns}>{}</input>",
                spread(MAX_NAMESPACE_BINDINGS - 1)
            ))
            .is_ok()
        );
        refused(
            &format!("<input {ns}>{}</input>", spread(MAX_NAMESPACE_BINDINGS)),
            "namespaces",
        );
        refused(
            &format!("<input {ns}>{}</input>", spread(30_000)),
            "namespaces",
        );
        let deep = format!(
            "<input {ns}>{}{}</input>",
            "<x>".repeat(40),
            "</x>".repeat(40)
        );
        refused(&deep, "nested");
        let many = format!(
            "<input {ns}>{}</input>",
            "<x/>".repeat(Limits::UCWA_INPUT.elements)
        );
        refused(&many, "elements");
    }

    #[test]
    fn characters_xml_forbids_make_the_body_not_well_formed() {
        let ns = "xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\"";
        for bad in [
            format!("<input {ns}><property name=\"a\">x\0y</property></input>"),
            format!("<input {ns}><property name=\"a\0\">x</property></input>"),
            format!("<input {ns}>\0</input>"),
            format!("<input {ns}><property name=\"a\">\u{1b}</property></input>"),
            format!("<input {ns}><property name=\"a\">&#0;</property></input>"),
        ] {
            match decode_xml(&bad) {
                Err(DecodeError::Malformed(m)) => assert!(
                    m.contains("not well-formed") || m.contains("bad text"),
                    "{m}"
                ),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn json_values_are_typed() {
        let j =
            decode_json(r#"{"s":"x","n":null,"e":"","num":1,"b":true,"o":{},"l":["a"],"m":[1]}"#)
                .unwrap();
        assert_eq!(text(&j, "s").as_deref(), Some("x"));
        assert_eq!(text(&j, "n"), None);
        assert_eq!(text(&j, "e"), None);
        assert_eq!(text(&j, "absent"), None);
        for name in ["num", "b", "o", "l", "m"] {
            let err = j.optional_text(name).unwrap_err();
            assert_eq!(err.name, name);
        }
        for bad in ["", "[]", "\"x\"", "{", "{\"a\":}", "null", "{} {}"] {
            assert!(decode_json(bad).is_err(), "accepted: {bad}");
        }
        assert!(decode_json("\u{feff}{}").is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn decoders_never_panic_on_arbitrary_text(s in "\\PC*") {
            let _ = decode_xml(&s);
            let _ = decode_json(&s);
        }

        #[test]
        fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let s = String::from_utf8_lossy(&bytes);
            let _ = decode_xml(&s);
            let _ = decode_json(&s);
        }

        #[test]
        fn decoders_never_panic_on_xml_like_text(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("<input xmlns=\"http://schemas.microsoft.com/rtc/2012/03/ucwa\">"),
                    Just("</input>"), Just("<property name=\"a\">"), Just("</property>"),
                    Just("<propertyList name=\"l\">"), Just("</propertyList>"), Just("<item>"),
                    Just("</item>"), Just("<item/>"), Just("<x>"), Just("</x>"), Just("&amp;"),
                    Just("&e;"), Just("&#0;"), Just("&#x110000;"), Just("<![CDATA["), Just("]]>"),
                    Just("<!--"), Just("-->"), Just("<!DOCTYPE x>"), Just("<?pi?>"), Just("text"),
                    Just("\""), Just("<"), Just(">"), Just("{"), Just("}"), Just("\"a\":"),
                    Just("["), Just("]"), Just(","), Just("null"),
                ],
                0..40,
            )
        ) {
            let s: String = parts.concat();
            let _ = decode_xml(&s);
            let _ = decode_json(&s);
        }
    }
}
