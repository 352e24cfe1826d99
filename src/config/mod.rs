//! Settings from a TOML file and the environment, validated at start.
//!
//! Precedence, lowest first: built-in defaults, the TOML file, `DATABASE_URL`,
//! `CALLQ_*` variables. Secrets are hashed (SHA-256) as they are read and only
//! the digest is kept in memory; `Debug` never prints them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod first_run;
pub use first_run::{FirstRun, generate_first_run};

/// Where a first start without any configuration keeps its files.
pub const DATA_DIR: &str = "callq-data";
/// The configuration a first start generates (and later starts reuse).
pub const DEFAULT_CONFIG_PATH: &str = "callq-data/callq.toml";
/// The embedded database used when no database URL is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:callq-data/callq.db";

/// Longest keyless retry window accepted (30 days): retries come within
/// minutes; a longer window only grows the claims table.
pub const MAX_RETRY_WINDOW_SECS: u64 = 30 * 24 * 3600;

/// Environment keys (after the `CALLQ_` prefix) that map onto settings.
const ENV_KEYS: &[&str] = &[
    "listen",
    "database_url",
    "metrics_listen",
    "body_limit_bytes",
    "request_timeout_secs",
    "database_max_connections",
    "queue_capacity",
    "queue_max_bytes",
    "max_batch",
    "flushes_in_flight",
    "flush_timeout_secs",
    "log_format",
    // writer truth
    "retry_window_secs",
    // Connections and shutdown
    "header_read_timeout_secs",
    "keepalive_idle_secs",
    "max_connections",
    "max_requests_in_flight",
    "tenant_queue_share",
    "shutdown_deadline_secs",
    // Read-side isolation (issue 10 item 6).
    "database_read_max_connections",
    "read_statement_timeout_secs",
];

/// `Debug` is written by hand (below) so that it never prints the database
/// password.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// `postgres://…` or `sqlite:…`; unset means the embedded SQLite file.
    pub database_url: Option<String>,
    /// Serve `/metrics` on this address instead of the main listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Largest request body accepted (after decompression); larger → 413.
    pub body_limit_bytes: usize,
    /// A request that takes longer is answered 503 by the style it speaks.
    pub request_timeout_secs: u64,
    pub database_max_connections: u32,
    /// Reports that may wait for the group-commit writer; more → 503.
    pub queue_capacity: usize,
    /// Bytes of reports that may wait for the writer; more → 503.
    pub queue_max_bytes: usize,
    /// Most reports per transaction.
    pub max_batch: usize,
    /// Transactions the writer runs at once.
    pub flushes_in_flight: usize,
    /// Longest a transaction may take: PostgreSQL rolls back a statement
    /// after 3/4 of it (`statement_timeout`) and stops waiting for a lock
    /// after half of it (`lock_timeout`); its reports are then answered 503.
    pub flush_timeout_secs: u64,
    /// `text` or `json` log lines.
    pub log_format: LogFormat,
    pub tenants: Vec<Tenant>,
    // writer truth (issue 10 item 4)
    /// An identical keyless request (tenant, style, operation, path, body)
    /// within this many seconds is a retry: same answer, stored once.
    /// 0 turns keyless retry detection off.
    pub retry_window_secs: u64,
    // Connections and shutdown (slow and greedy clients; see docs/connections.md)
    /// A request head (request line and headers) must arrive in full within
    /// this many seconds of its first byte (of the connection's opening for
    /// the first request), or the connection is closed.
    pub header_read_timeout_secs: u64,
    /// A keep-alive connection with no request for this long is closed.
    pub keepalive_idle_secs: u64,
    /// Connections open at once; further ones wait in the listen backlog
    /// until one closes.
    pub max_connections: usize,
    /// Requests being handled at once; more → 503 in the style's format
    /// (health checks and `/metrics` exempt).
    pub max_requests_in_flight: usize,
    /// Largest share (0 < share <= 1) of the write queue one tenant may
    /// hold; beyond it that tenant gets 429 while others still get in.
    pub tenant_queue_share: f64,
    /// After SIGTERM/SIGINT the process exits within this many seconds,
    /// whatever is still open.
    pub shutdown_deadline_secs: u64,
    // --- Read-side isolation (issue 10 item 6): the read API's own pool. ---
    /// Connections of the read API's own pool, apart from the writer's
    /// `database_max_connections`, so reads can never starve ingestion.
    pub database_read_max_connections: u32,
    /// A read statement running longer is cancelled (PostgreSQL
    /// `statement_timeout`; SQLite: interrupted by a progress handler) and
    /// the read answered 503.
    pub read_statement_timeout_secs: u64,
}

/// Every setting as it serializes, but `database_url` through
/// [`redact_url`](crate::store::redact_url) and the tenants through their own
/// `Debug` (secrets as `Secret(***)`). Going through serde means a setting
/// added later is printed without anyone having to remember this impl.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut fields = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        };
        fields.remove("tenants");
        if let Some(url) = &self.database_url {
            fields.insert("database_url".into(), crate::store::redact_url(url).into());
        }
        let mut out = f.debug_struct("Settings");
        for (name, value) in &fields {
            out.field(name, &format_args!("{value}"));
        }
        out.field("tenants", &self.tenants).finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".parse().expect("valid address"),
            database_url: None,
            metrics_listen: None,
            body_limit_bytes: 1 << 20,
            request_timeout_secs: 30,
            database_max_connections: 8,
            queue_capacity: 8192,
            queue_max_bytes: 64 << 20,
            max_batch: 512,
            flushes_in_flight: 2,
            flush_timeout_secs: 10,
            log_format: LogFormat::Text,
            tenants: Vec::new(),
            retry_window_secs: 600,
            header_read_timeout_secs: 10,
            keepalive_idle_secs: 60,
            max_connections: 1024,
            max_requests_in_flight: 512,
            tenant_queue_share: 0.5,
            shutdown_deadline_secs: 30,
            database_read_max_connections: 4,
            read_statement_timeout_secs: 10,
        }
    }
}

/// One customer: its data is kept apart and only its credentials reach it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub id: String,
    #[serde(default)]
    pub ucwa: Vec<UcwaCredential>,
    #[serde(default)]
    pub graph: Vec<GraphCredential>,
    #[serde(default)]
    pub plivo: Vec<PlivoCredential>,
    #[serde(default)]
    pub ops: Vec<OpsCredential>,
}

/// The UCWA scopes; a credential without a `scopes` key gets them all.
pub const UCWA_SCOPES: &[&str] = &[
    "User.ReadWrite",
    "Conversations.Initiate",
    "Conversations.Receive",
];
/// The Graph application role `logTeleconferenceDeviceQuality` needs.
pub const GRAPH_ROLE: &str = "Calls.AccessMedia.All";

fn all_ucwa_scopes() -> Vec<String> {
    UCWA_SCOPES.iter().map(|s| s.to_string()).collect()
}

fn graph_default_roles() -> Vec<String> {
    vec![GRAPH_ROLE.to_string()]
}

/// `Authorization: Bearer <token>`; the token includes UCWA's `cwt=` prefix.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UcwaCredential {
    pub token: Secret,
    #[serde(default = "all_ucwa_scopes")]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphCredential {
    pub token: Secret,
    #[serde(default = "graph_default_roles")]
    pub roles: Vec<String>,
}

/// HTTP Basic `auth_id:auth_token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlivoCredential {
    pub auth_id: String,
    pub auth_token: Secret,
}

/// `Authorization: Bearer <token>` on the ops read API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsCredential {
    pub token: Secret,
}

/// A secret as its SHA-256 digest. Written in the file either plain or as
/// `sha256:<64 hex digits>`; either way only the digest is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; 32]);

impl Secret {
    /// The digest of a plain secret.
    pub fn from_plain(plain: &str) -> Secret {
        Secret(Sha256::digest(plain.as_bytes()).into())
    }

    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    /// `sha256:<hex>`, the form a generated config file stores.
    pub fn to_config_string(&self) -> String {
        format!("sha256:{}", hex::encode(self.0))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(hex_digest) = s.strip_prefix("sha256:") {
            let bytes = hex::decode(hex_digest)
                .map_err(|_| "a sha256: secret must be 64 hexadecimal digits".to_string())?;
            let digest: [u8; 32] = bytes
                .try_into()
                .map_err(|_| "a sha256: secret must be 64 hexadecimal digits".to_string())?;
            Ok(Secret(digest))
        } else if s.trim().is_empty() {
            Err("a secret must not be empty".into())
        } else if s.len() < 16 {
            Err("a secret must be at least 16 characters long".into())
        } else {
            Ok(Secret::from_plain(s))
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_config_string())
    }
}

/// A configuration problem, with the key and the file it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration error: {0}")]
    Invalid(String),
    #[error("configuration file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where the settings came from, for messages.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    /// The file read, if any.
    pub path: Option<PathBuf>,
}

/// Reads the configuration: `path` if given (it must exist), otherwise
/// [`DEFAULT_CONFIG_PATH`] if it exists, otherwise defaults only. The
/// environment overrides the file. The result is validated.
pub fn load(path: Option<&Path>) -> Result<Loaded, ConfigError> {
    let file = match path {
        Some(p) => {
            if !p.is_file() {
                return Err(ConfigError::Io {
                    path: p.display().to_string(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                });
            }
            Some(p.to_path_buf())
        }
        None => Some(PathBuf::from(DEFAULT_CONFIG_PATH)).filter(|p| p.is_file()),
    };
    let mut figment = Figment::from(Serialized::defaults(Settings::default()));
    if let Some(p) = &file {
        figment = figment.merge(Toml::file_exact(p));
    }
    figment = figment
        .merge(Env::raw().only(&["database_url"]))
        .merge(Env::prefixed("CALLQ_").only(ENV_KEYS));
    let settings: Settings = figment
        .extract()
        .map_err(|e| ConfigError::Invalid(figment_message(e)))?;
    validate(&settings).map_err(|e| {
        let source = source_of(&figment, &e);
        ConfigError::Invalid(format!("{e} (in {source})"))
    })?;
    Ok(Loaded {
        settings,
        path: file,
    })
}

/// Where the value a validation message names came from: the file or the
/// environment variable that set it last. Messages start with "key `name…`".
fn source_of(figment: &Figment, message: &str) -> String {
    let key = message
        .split('`')
        .nth(1)
        .and_then(|k| k.split(['[', '.']).next())
        .unwrap_or_default();
    match figment.find_metadata(key) {
        Some(m) => match &m.source {
            Some(src) => src.to_string(),
            None => m.name.to_string(),
        },
        None => "the configuration".to_string(),
    }
}

/// One line per figment error: the key, the problem and the source file.
fn figment_message(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!("key `{}`: ", e.path.join("."))
            };
            let source = e
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(src) => format!(" (in {src})"),
                    None => format!(" (in {})", m.name),
                })
                .unwrap_or_default();
            format!("{key}{}{source}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks what serde cannot: unique tenant ids, unambiguous credentials, sane limits.
pub fn validate(s: &Settings) -> Result<(), String> {
    use std::collections::HashSet;
    if s.body_limit_bytes < 1024 {
        return Err("key `body_limit_bytes`: must be at least 1024".into());
    }
    if s.request_timeout_secs == 0 {
        return Err("key `request_timeout_secs`: must be at least 1".into());
    }
    if s.retry_window_secs > MAX_RETRY_WINDOW_SECS {
        return Err(format!(
            "key `retry_window_secs`: must be at most {MAX_RETRY_WINDOW_SECS} (30 days)"
        ));
    }
    if s.flush_timeout_secs == 0 {
        // The database's statement timeout is derived from it.
        return Err("key `flush_timeout_secs`: must be at least 1".into());
    }
    if s.max_batch == 0 || s.queue_capacity == 0 || s.flushes_in_flight == 0 {
        return Err(
            "keys `max_batch`, `queue_capacity`, `flushes_in_flight`: must be at least 1".into(),
        );
    }
    if s.database_read_max_connections == 0 || s.read_statement_timeout_secs == 0 {
        return Err(
            "keys `database_read_max_connections`, `read_statement_timeout_secs`: must be at least 1".into(),
        );
    }
    if s.queue_max_bytes < (2 << 20) {
        return Err("key `queue_max_bytes`: must be at least 2097152 (2 MiB)".into());
    }
    if s.queue_max_bytes < s.body_limit_bytes.saturating_mul(2) {
        return Err(
            "key `queue_max_bytes`: must be at least twice `body_limit_bytes`, or a single large report could never be queued".into(),
        );
    }
    validate_connections(s)?;
    if let Some(url) = &s.database_url
        && !(url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:"))
    {
        return Err(format!(
            "key `database_url`: {:?} is neither postgres://… nor sqlite:…",
            crate::store::redact_url(url)
        ));
    }
    let mut ids = HashSet::new();
    let mut bearer: HashSet<(&str, [u8; 32])> = HashSet::new();
    let mut plivo_ids = HashSet::new();
    for (i, t) in s.tenants.iter().enumerate() {
        let ok = !t.id.is_empty()
            && t.id.len() <= 64
            && t.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Err(format!(
                "key `tenants[{i}].id`: {:?} must be 1-64 letters, digits, '-', '_' or '.'",
                t.id
            ));
        }
        if !ids.insert(t.id.as_str()) {
            return Err(format!(
                "key `tenants[{i}].id`: tenant {:?} is defined twice",
                t.id
            ));
        }
        let tokens = t
            .ucwa
            .iter()
            .map(|c| ("ucwa", &c.token))
            .chain(t.graph.iter().map(|c| ("graph", &c.token)))
            .chain(t.ops.iter().map(|c| ("ops", &c.token)));
        for (style, token) in tokens {
            if !bearer.insert((style, *token.digest())) {
                return Err(format!(
                    "key `tenants[{i}].{style}`: the same token is configured twice; it could not tell tenants apart"
                ));
            }
        }
        for (j, c) in t.plivo.iter().enumerate() {
            if c.auth_id.trim().is_empty() {
                return Err(format!(
                    "key `tenants[{i}].plivo[{j}].auth_id`: must not be empty"
                ));
            }
            if !plivo_ids.insert(c.auth_id.as_str()) {
                return Err(format!(
                    "key `tenants[{i}].plivo[{j}].auth_id`: {:?} is configured twice",
                    c.auth_id
                ));
            }
        }
    }
    Ok(())
}

/// The connection and shutdown limits: each must be able to let something through.
fn validate_connections(s: &Settings) -> Result<(), String> {
    if s.header_read_timeout_secs == 0 || s.keepalive_idle_secs == 0 {
        return Err(
            "keys `header_read_timeout_secs`, `keepalive_idle_secs`: must be at least 1".into(),
        );
    }
    if s.max_connections == 0 || s.max_requests_in_flight == 0 {
        return Err("keys `max_connections`, `max_requests_in_flight`: must be at least 1".into());
    }
    if !(s.tenant_queue_share > 0.0 && s.tenant_queue_share <= 1.0) {
        return Err(format!(
            "key `tenant_queue_share`: {} must be above 0 and at most 1",
            s.tenant_queue_share
        ));
    }
    if s.shutdown_deadline_secs == 0 {
        return Err("key `shutdown_deadline_secs`: must be at least 1".into());
    }
    Ok(())
}

impl Settings {
    /// The database URL in force: the configured one or the embedded default.
    pub fn database_url(&self) -> &str {
        self.database_url.as_deref().unwrap_or(DEFAULT_DATABASE_URL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_accept_plain_and_sha256_forms_and_never_print() {
        let plain: Secret = "a-long-enough-secret".parse().unwrap();
        let hashed: Secret = plain.to_config_string().parse().unwrap();
        assert_eq!(plain, hashed);
        assert_eq!(format!("{plain:?}"), "Secret(***)");
        assert!("short".parse::<Secret>().is_err());
        assert!("sha256:abcd".parse::<Secret>().is_err());
    }

    #[test]
    fn debug_never_prints_the_database_password() {
        let s = Settings {
            database_url: Some(
                "postgres://callq:hunter2-url@db/callq?sslpassword=hunter2-query".into(),
            ),
            tenants: vec![Tenant {
                id: "a".into(),
                ucwa: vec![],
                graph: vec![],
                plivo: vec![PlivoCredential {
                    auth_id: "MAAAAAAAAAAAAAAAAAAA".into(),
                    auth_token: "a-long-enough-plivo-token".parse().unwrap(),
                }],
                ops: vec![],
            }],
            ..Settings::default()
        };
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("callq:***@db"), "{printed}");
        assert!(printed.contains("Secret(***)"), "{printed}");
        assert!(printed.contains("queue_capacity: 8192"), "{printed}");
        assert!(!printed.contains(&s.tenants[0].plivo[0].auth_token.to_config_string()));
        let pretty = format!("{s:#?}");
        assert!(!pretty.contains("hunter2"), "{pretty}");
    }

    #[test]
    fn duplicate_tenants_are_refused_with_the_key_named() {
        let tenant = Tenant {
            id: "a".into(),
            ucwa: vec![],
            graph: vec![],
            plivo: vec![],
            ops: vec![],
        };
        let s = Settings {
            tenants: vec![tenant.clone(), tenant],
            ..Settings::default()
        };
        let e = validate(&s).unwrap_err();
        assert!(e.contains("tenants[1].id"), "{e}");
    }
}
