//! The [`Settings`] struct: every setting, its meaning and its default.
//!
//! The field names are the TOML keys and, upper-cased after `CALLQ_`, the
//! environment variables ([`super::load::env_keys`] derives that list from
//! this struct), so a setting added here is read from both without another
//! list to keep in step.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{DEFAULT_DATABASE_URL, Tenant};
use crate::store::{PartitionWidth, RetentionPolicy};

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
    // --- Read replica (issue 13 item 6; see docs/scaling.md). ---
    /// `postgres://…` of a streaming replica (a hot standby of
    /// `database_url`'s server) that the ops read API and the dashboard
    /// read from; ingestion always writes to `database_url`. Unset: the
    /// read pool uses `database_url` too. Reads from a replica may lag
    /// the primary (no read-your-writes).
    pub read_database_url: Option<String>,
    // --- Statistics rollups (issue 13 item 4, docs/rollups.md). ---
    /// An hour is rolled up once this many seconds have passed after its
    /// end. At least `request_timeout_secs + flush_timeout_secs`: a report
    /// stamped in an hour commits by then or never.
    pub rollup_grace_secs: u64,
    /// How often the rollup catch-up runs (it also runs at start, which
    /// backfills an upgraded database). 0: never; statistics then come
    /// from raw rows only.
    pub rollup_interval_secs: u64,
    // --- Partitioning and retention (issue 13, docs/partitioning-and-retention.md). ---
    /// Width of each PostgreSQL time partition of `reports` and
    /// `media_streams`, in UTC: `day`, `week` (from Monday) or `month`.
    pub partition_width: String,
    /// Partitions of that width kept created ahead of the current one.
    pub partitions_ahead: u32,
    /// Reports received more than this many days ago are removed, with
    /// their streams and retry claims; 0 keeps them forever. A tenant's
    /// own `retention_days` overrides it.
    pub retention_days: u32,
    /// Most reports one retention DELETE removes (each batch is its own
    /// short statement).
    pub retention_batch_rows: u32,
    /// Seconds between maintenance passes: partitions ahead, then retention.
    pub maintenance_interval_secs: u64,
    // --- PostgreSQL work per report (issue 15, docs/benchmarks.md). ---
    /// A flush that would run beside one already in flight starts only
    /// once this many reports are queued (or when the running one ends):
    /// each transaction costs the database a fixed amount on top of its
    /// rows, so a second one is worth starting only for a real batch. 1:
    /// start it with whatever is queued (the behaviour before issue 15).
    pub parallel_flush_min_batch: usize,
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
        for (name, url) in [
            ("database_url", &self.database_url),
            ("read_database_url", &self.read_database_url),
        ] {
            if let Some(url) = url {
                fields.insert(name.into(), crate::store::redact_url(url).into());
            }
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
            read_database_url: None,
            rollup_grace_secs: 300,
            rollup_interval_secs: 60,
            partition_width: "day".to_owned(),
            partitions_ahead: 4,
            retention_days: 0,
            retention_batch_rows: 5_000,
            maintenance_interval_secs: 3_600,
            parallel_flush_min_batch: 32,
        }
    }
}

impl Settings {
    /// The database URL in force: the configured one or the embedded default.
    pub fn database_url(&self) -> &str {
        self.database_url.as_deref().unwrap_or(DEFAULT_DATABASE_URL)
    }

    /// `partition_width` as a value ([`validate`](super::validate()) refuses
    /// any other word, so a loaded configuration always has one; `day` else).
    pub fn partition_width(&self) -> PartitionWidth {
        self.partition_width.parse().unwrap_or(PartitionWidth::Day)
    }

    /// The retention of every tenant: `retention_days`, and each tenant's own.
    pub fn retention(&self) -> RetentionPolicy {
        RetentionPolicy {
            default_days: self.retention_days,
            tenants: self
                .tenants
                .iter()
                .filter_map(|t| Some((t.id.clone(), t.retention_days?)))
                .collect(),
        }
    }

    /// The database the read API reads from: `read_database_url`, else the
    /// one in force for writing.
    pub fn read_database_url(&self) -> &str {
        self.read_database_url
            .as_deref()
            .unwrap_or_else(|| self.database_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PlivoCredential;

    #[test]
    fn debug_never_prints_the_database_password() {
        let s = Settings {
            database_url: Some(
                "postgres://callq:hunter2-url@db/callq?sslpassword=hunter2-query".into(),
            ),
            read_database_url: Some("postgres://reader:hunter2-read@standby/callq".into()),
            tenants: vec![Tenant {
                id: "a".into(),
                ucwa: vec![],
                graph: vec![],
                plivo: vec![PlivoCredential {
                    auth_id: "MAAAAAAAAAAAAAAAAAAA".into(),
                    auth_token: "a-long-enough-plivo-token".parse().unwrap(),
                }],
                ops: vec![],
                retention_days: None,
            }],
            ..Settings::default()
        };
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("callq:***@db"), "{printed}");
        assert!(printed.contains("reader:***@standby"), "{printed}");
        assert!(printed.contains("Secret(***)"), "{printed}");
        assert!(printed.contains("queue_capacity: 8192"), "{printed}");
        assert!(!printed.contains(&s.tenants[0].plivo[0].auth_token.to_config_string()));
        let pretty = format!("{s:#?}");
        assert!(!pretty.contains("hunter2"), "{pretty}");
    }
}
