//! `callq explain FILE`: the explain engine run offline on a saved request
//! (an HTTP message file, [`crate::http_message`]), printed as a table.
//!
//! Offline means no server and no database: the explain engine needs only
//! credentials and the body limit, both from the configuration, so nothing
//! is opened, created or stored (with the default SQLite configuration the
//! database file is not even created).
//!
//! Credentials: by default the file's `Authorization` is checked against the
//! configured tenants, exactly as the server would check it (so a file with
//! the documentation's placeholder token explains as the style's 401). With
//! `--tenant T` the file's credentials are taken as tenant `T`'s, whatever
//! they are: a saved request explains as it would for `T` once its
//! credentials are right, without putting real secrets in the file.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use serde_json::Value;

use crate::auth::{Credentials, basic_credentials, bearer_token};
use crate::config::{
    GRAPH_ROLE, GraphCredential, PlivoCredential, Secret, Settings, Tenant, UCWA_SCOPES,
    UcwaCredential,
};
use crate::explain::{
    self, ExplainBody, ExplainRequest, Explainer, Explanation, Provenance, Source, SourceKind,
};
use crate::http_message::{self, HttpMessage, Limits};

/// A saved request read and turned into an explain request.
#[derive(Debug)]
pub struct Prepared {
    pub message: HttpMessage,
    pub request: ExplainRequest,
    /// What reading the file tolerated, and how the request was carried
    /// over (headers joined), one sentence each.
    pub notes: Vec<String>,
}

/// Why a file cannot be explained.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        #[source]
        source: http_message::ParseError,
    },
    #[error("{path}: {source}")]
    Explain {
        path: String,
        #[source]
        source: explain::ExplainError,
    },
    #[error("--tenant: {0}")]
    Tenant(String),
}

/// Reads `path` (`-`: standard input) within the limits `settings` implies
/// (its body limit, HTTP's usual head limits), refusing a larger file
/// before reading it whole.
pub fn read(path: &Path, settings: &Settings) -> Result<Prepared, FileError> {
    let stdin = path == Path::new("-");
    let shown = if stdin {
        "(standard input)".to_owned()
    } else {
        path.display().to_string()
    };
    let read_error = |source| FileError::Read {
        path: shown.clone(),
        source,
    };
    let limits = Limits::with_body_limit(settings.body_limit_bytes);
    let source: Box<dyn std::io::Read> = if stdin {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(read_error)?)
    };
    let mut bytes = Vec::new();
    // One byte more than allowed, so that the parser sees "too large".
    let cap = limits.max_file_bytes().saturating_add(1) as u64;
    std::io::Read::read_to_end(&mut std::io::Read::take(source, cap), &mut bytes)
        .map_err(read_error)?;
    let message = http_message::parse(&bytes, &limits).map_err(|source| FileError::Parse {
        path: shown.clone(),
        source,
    })?;
    Ok(prepare(message))
}

/// The explain request a parsed message makes.
pub fn prepare(message: HttpMessage) -> Prepared {
    let mut notes = message.notes.clone();
    let mut headers = std::collections::BTreeMap::<String, String>::new();
    for (name, value) in &message.headers {
        // The explain request keeps one value per name: a repeated header
        // becomes one comma-separated list, as HTTP allows for list headers.
        let key = headers
            .keys()
            .find(|k| k.eq_ignore_ascii_case(name))
            .cloned();
        match key {
            Some(k) => {
                notes.push(format!(
                    "header {name} appears more than once; its values are joined with \", \""
                ));
                let joined = headers.entry(k).or_default();
                joined.push_str(", ");
                joined.push_str(value);
            }
            None => {
                headers.insert(name.clone(), value.clone());
            }
        }
    }
    let body = if message.body.is_empty() {
        None
    } else {
        Some(match std::str::from_utf8(&message.body) {
            Ok(text) => ExplainBody::Text(text.to_owned()),
            Err(_) => {
                ExplainBody::Base64(base64::engine::general_purpose::STANDARD.encode(&message.body))
            }
        })
    };
    let request = ExplainRequest {
        method: message.method.clone(),
        path: message.path_and_query(),
        headers,
        body,
    };
    Prepared {
        message,
        request,
        notes,
    }
}

/// The explainer for an offline run: the configured credentials, or with
/// `tenant` only the message's own credentials, as that tenant's.
pub fn explainer(
    settings: &Settings,
    tenant: Option<&str>,
    message: &HttpMessage,
) -> Result<Explainer, FileError> {
    let credentials = match tenant {
        None => Credentials::from_tenants(&settings.tenants),
        Some(id) => Credentials::from_tenants(&[tenant_of_message(id, message)?]),
    };
    Ok(Explainer::new(
        Arc::new(credentials),
        settings.body_limit_bytes,
    ))
}

/// A tenant `id` whose only credentials are the ones `message` presents
/// (a bearer token as UCWA's with every scope and as Graph's with its role,
/// HTTP Basic as a Plivo account).
fn tenant_of_message(id: &str, message: &HttpMessage) -> Result<Tenant, FileError> {
    let mut tenant = Tenant {
        id: id.to_owned(),
        ucwa: vec![],
        graph: vec![],
        plivo: vec![],
        ops: vec![],
        retention_days: None,
    };
    // The configuration's own rule for tenant ids.
    let check = Settings {
        tenants: vec![tenant.clone()],
        ..Settings::default()
    };
    crate::config::validate(&check).map_err(|e| FileError::Tenant(e.to_string()))?;
    let mut headers = axum::http::HeaderMap::new();
    if let Some(value) = message
        .header("authorization")
        .and_then(|v| axum::http::HeaderValue::from_str(v).ok())
    {
        headers.insert(axum::http::header::AUTHORIZATION, value);
    }
    if let Some(token) = bearer_token(&headers) {
        tenant.ucwa.push(UcwaCredential {
            token: Secret::from_plain(token),
            scopes: UCWA_SCOPES.iter().map(|s| s.to_string()).collect(),
        });
        tenant.graph.push(GraphCredential {
            token: Secret::from_plain(token),
            roles: vec![GRAPH_ROLE.to_owned()],
        });
    }
    if let Some((auth_id, auth_token)) = basic_credentials(&headers) {
        tenant.plivo.push(PlivoCredential {
            auth_id,
            auth_token: Secret::from_plain(&auth_token),
        });
    }
    Ok(tenant)
}

/// Reads, prepares and explains `path`.
pub async fn explain_file(
    path: &Path,
    settings: &Settings,
    tenant: Option<&str>,
) -> Result<(Prepared, Explanation), FileError> {
    let prepared = read(path, settings)?;
    let explainer = explainer(settings, tenant, &prepared.message)?;
    let explanation = explain::explain(&explainer, tenant, prepared.request.clone())
        .await
        .map_err(|source| FileError::Explain {
            path: path.display().to_string(),
            source,
        })?;
    Ok((prepared, explanation))
}

/// The readable form: what was matched, the provenance table, what was
/// ignored and tolerated, then the answer the real endpoint would give.
pub fn render(prepared: &Prepared, explanation: &Explanation, tenant: Option<&str>) -> String {
    let mut out = String::new();
    let m = &prepared.message;
    out.push_str(&format!(
        "{} {}{}\n",
        m.method,
        m.origin.as_deref().unwrap_or(""),
        m.path_and_query()
    ));
    out.push_str(&format!(
        "style: {}   operation: {}   would store: {}\n",
        explanation.style.as_deref().unwrap_or("none"),
        explanation.operation.as_deref().unwrap_or("none"),
        if explanation.would_store { "yes" } else { "no" }
    ));
    out.push_str(&match tenant {
        Some(t) => format!(
            "credentials: the file's, taken as tenant {t:?}'s (--tenant); nothing is stored\n"
        ),
        None => "credentials: checked against the configured tenants; nothing is stored\n".into(),
    });

    out.push_str("\nFields\n");
    if explanation.provenance.is_empty() {
        out.push_str("  (none: nothing would be stored)\n");
    } else {
        let stored = stored_fields(explanation);
        let mut rows = vec![[
            "field".to_owned(),
            "value".to_owned(),
            "source".to_owned(),
            "raw".to_owned(),
            "conversion".to_owned(),
        ]];
        for p in &explanation.provenance {
            rows.push([
                p.field.clone(),
                value_at(&stored, &p.field).unwrap_or_else(|| "—".into()),
                source_text(&p.source),
                p.raw.clone().unwrap_or_else(|| "—".into()),
                conversion_text(p),
            ]);
        }
        out.push_str(&table(&rows));
    }

    out.push_str("\nIgnored (kept only in the raw payload)\n");
    if explanation.ignored.is_empty() {
        out.push_str("  (nothing)\n");
    }
    for i in &explanation.ignored {
        out.push_str(&format!("  {}: {}\n", source_text(&i.source), i.reason));
    }
    out.push_str("\nTolerated\n");
    if explanation.tolerated.is_empty() && prepared.notes.is_empty() {
        out.push_str("  (nothing)\n");
    }
    for t in &explanation.tolerated {
        out.push_str(&format!(
            "  {} at {}: {}\n",
            t.shape,
            source_text(&t.source),
            t.description
        ));
    }
    for note in &prepared.notes {
        out.push_str(&format!("  reading the file, {note}\n"));
    }

    let r = &explanation.response;
    out.push_str(&format!(
        "\nResponse\n  {} {}\n",
        r.status,
        axum::http::StatusCode::from_u16(r.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
    ));
    for h in &r.headers {
        out.push_str(&format!("  {}: {}\n", h.name, h.value));
    }
    let body = match &r.body {
        ExplainBody::Text(t) => t.clone(),
        ExplainBody::Base64(b) => format!("(base64) {b}"),
    };
    if !body.is_empty() {
        out.push('\n');
        for line in body.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

/// The report with its streams under `streams`, the tree provenance field
/// names point into (`rating`, `streams[0].avg_inbound_jitter_ms`).
fn stored_fields(explanation: &Explanation) -> Value {
    let mut root = explanation
        .report
        .clone()
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::Object(Default::default()));
    root["streams"] = Value::Array(explanation.streams.clone());
    root
}

/// The stored value a field name points at, as compact JSON text (strings
/// unquoted).
fn value_at(root: &Value, field: &str) -> Option<String> {
    let mut at = root;
    for part in field.split('.') {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            at = at.get(name)?;
        }
        for index in indexes.split(']').filter(|s| !s.is_empty()) {
            at = at.get(index.strip_prefix('[')?.parse::<usize>().ok()?)?;
        }
    }
    Some(match at {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    })
}

fn source_text(source: &Source) -> String {
    let kind = match source.kind {
        SourceKind::JsonPointer => "json",
        SourceKind::XmlPath => "xml",
        SourceKind::PathSegment => "path",
        SourceKind::Header => "header",
        SourceKind::Computed => "computed",
    };
    format!("{kind} {}", source.at)
}

fn conversion_text(p: &Provenance) -> String {
    let model = p.model.as_ref().map(|m| {
        let inputs: Vec<String> = m
            .inputs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect();
        format!("{} {} ({})", m.name, m.version, inputs.join(", "))
    });
    match (&p.conversion, model) {
        (Some(c), Some(m)) => format!("{c}; {m}"),
        (Some(c), None) => c.clone(),
        (None, Some(m)) => m,
        (None, None) => "as sent".into(),
    }
}

/// Widest a table cell is shown; longer text is cut with "…".
const MAX_CELL: usize = 60;

fn cell(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() > MAX_CELL {
        let mut cut: String = one_line.chars().take(MAX_CELL - 1).collect();
        cut.push('…');
        cut
    } else {
        one_line
    }
}

/// Rows as `a | b | c` columns, the first row a header underlined.
fn table(rows: &[[String; 5]]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| cell(c)).collect())
        .collect();
    let mut widths = [0usize; 5];
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[String]| {
        let padded: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        format!("  {}\n", padded.join(" | ").trim_end())
    };
    let mut out = String::new();
    for (i, row) in cells.iter().enumerate() {
        out.push_str(&line(row));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&format!("  {}\n", rule.join("-+-")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> HttpMessage {
        http_message::parse(text.as_bytes(), &Limits::with_body_limit(1 << 20)).unwrap()
    }

    #[test]
    fn a_message_becomes_an_explain_request() {
        let p = prepare(message(
            "Post https://fe1.contoso.com:443/ucwa/v1/x?y=1 HTTP/1.1\nAccept: a\naccept: b\nContent-Type: application/json\n\n{}\n",
        ));
        assert_eq!(p.request.method, "POST");
        assert_eq!(p.request.path, "/ucwa/v1/x?y=1");
        assert_eq!(p.request.headers["Accept"], "a, b");
        assert_eq!(p.request.body, Some(ExplainBody::Text("{}".into())));
        assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
        let p = prepare(message("POST /x\nContent-Length: 2\n\n\u{ff}\n"));
        assert!(matches!(p.request.body, Some(ExplainBody::Text(_))));
        let mut m = message("POST /x\n");
        m.body = vec![0x1f, 0x8b, 0xff];
        assert_eq!(
            prepare(m).request.body,
            Some(ExplainBody::Base64("H4v/".into()))
        );
    }

    #[test]
    fn tenant_takes_the_messages_own_credentials() {
        let m = message("POST /x\nAuthorization: Bearer cwt=abc\n");
        let t = tenant_of_message("acme", &m).unwrap();
        let c = Credentials::from_tenants(&[t]);
        assert_eq!(&*c.ucwa("cwt=abc").unwrap().tenant, "acme");
        assert_eq!(&*c.graph("cwt=abc").unwrap().tenant, "acme");
        let m = message("POST /x\nAuthorization: Basic QVVUSF9JRDpBVVRIX1RPS0VO\n");
        let c = Credentials::from_tenants(&[tenant_of_message("acme", &m).unwrap()]);
        assert!(c.plivo("AUTH_ID", "AUTH_TOKEN").is_some());
        assert!(matches!(
            tenant_of_message("not a tenant id", &m),
            Err(FileError::Tenant(_))
        ));
    }

    #[test]
    fn values_are_found_by_field_name() {
        let root = serde_json::json!({
            "rating": 4.0, "notes": "good", "issues": ["ECHO"],
            "streams": [{"avg_inbound_jitter_ms": 15.0}]
        });
        assert_eq!(value_at(&root, "rating").as_deref(), Some("4.0"));
        assert_eq!(value_at(&root, "notes").as_deref(), Some("good"));
        assert_eq!(value_at(&root, "issues[0]").as_deref(), Some("ECHO"));
        assert_eq!(
            value_at(&root, "streams[0].avg_inbound_jitter_ms").as_deref(),
            Some("15.0")
        );
        assert_eq!(value_at(&root, "streams[1].x"), None);
        assert_eq!(value_at(&root, "nope"), None);
    }

    #[test]
    fn the_table_aligns_and_cuts_long_cells() {
        let rows = vec![
            ["field", "value", "source", "raw", "conversion"].map(String::from),
            ["rating", "4.0", "json /rating", "\"4\"", "\"4\" → 4.0"].map(String::from),
        ];
        let t = table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "  field  | value | source       | raw | conversion"
        );
        assert_eq!(
            lines[2],
            "  rating | 4.0   | json /rating | \"4\" | \"4\" → 4.0"
        );
        assert_eq!(cell(&"x".repeat(100)).chars().count(), MAX_CELL);
        assert_eq!(cell("a\nb"), "a b");
    }
}
