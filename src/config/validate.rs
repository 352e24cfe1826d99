//! What serde cannot check: unique tenant ids, unambiguous credentials, and
//! limits that can let something through. A refusal is a [`ConfigProblem`]
//! naming the setting as a value, so the loader finds where that setting was
//! set (file or variable) without reading it back out of a message.

use std::collections::HashSet;

use super::{MAX_RETRY_WINDOW_SECS, Settings};

/// One refused setting: which key, and what is wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key `{key}{within}`: {problem}")]
pub struct ConfigProblem {
    /// The top-level setting at fault, as spelled in the file (`max_batch`,
    /// `tenants`): what the loader looks up to name the file or variable.
    pub key: &'static str,
    /// Where inside a list setting, e.g. `[1].id` or `[0].plivo[2].auth_id`;
    /// empty for a plain setting.
    pub within: String,
    /// What is wrong, for a person: "must be at least 1".
    pub problem: String,
}

impl ConfigProblem {
    fn new(key: &'static str, problem: impl Into<String>) -> ConfigProblem {
        ConfigProblem {
            key,
            within: String::new(),
            problem: problem.into(),
        }
    }

    /// A problem in one entry of the `tenants` list.
    fn tenant(within: String, problem: impl Into<String>) -> ConfigProblem {
        ConfigProblem {
            key: "tenants",
            within,
            problem: problem.into(),
        }
    }
}

/// Checks the settings as a whole; the first problem found is returned.
pub fn validate(s: &Settings) -> Result<(), ConfigProblem> {
    validate_limits(s)?;
    validate_connections(s)?;
    validate_database_url(s)?;
    validate_read_database_url(s)?;
    validate_tenants(s)?;
    validate_retention(s)
}

/// Longest retention accepted, in days (100 years): a larger number is a
/// typo, and would overflow the cut-off's date arithmetic.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// Partitioning and retention (docs/partitioning-and-retention.md).
fn validate_retention(s: &Settings) -> Result<(), ConfigProblem> {
    if let Err(e) = s.partition_width.parse::<crate::store::PartitionWidth>() {
        return Err(ConfigProblem::new("partition_width", e.to_string()));
    }
    if !(1..=366).contains(&s.partitions_ahead) {
        return Err(ConfigProblem::new(
            "partitions_ahead",
            "must be between 1 and 366",
        ));
    }
    if s.retention_days > MAX_RETENTION_DAYS {
        return Err(ConfigProblem::new(
            "retention_days",
            format!("must be at most {MAX_RETENTION_DAYS} (0 keeps forever)"),
        ));
    }
    if !(1..=100_000).contains(&s.retention_batch_rows) {
        return Err(ConfigProblem::new(
            "retention_batch_rows",
            "must be between 1 and 100000",
        ));
    }
    at_least_one("maintenance_interval_secs", s.maintenance_interval_secs)?;
    for (i, t) in s.tenants.iter().enumerate() {
        if t.retention_days.is_some_and(|d| d > MAX_RETENTION_DAYS) {
            return Err(ConfigProblem::tenant(
                format!("[{i}].retention_days"),
                format!("must be at most {MAX_RETENTION_DAYS} (0 keeps forever)"),
            ));
        }
    }
    Ok(())
}

/// A count or a duration of 0 would let nothing through.
fn at_least_one(key: &'static str, value: u64) -> Result<(), ConfigProblem> {
    if value == 0 {
        return Err(ConfigProblem::new(key, "must be at least 1"));
    }
    Ok(())
}

fn validate_limits(s: &Settings) -> Result<(), ConfigProblem> {
    if s.body_limit_bytes < 1024 {
        return Err(ConfigProblem::new(
            "body_limit_bytes",
            "must be at least 1024",
        ));
    }
    at_least_one("request_timeout_secs", s.request_timeout_secs)?;
    if s.retry_window_secs > MAX_RETRY_WINDOW_SECS {
        return Err(ConfigProblem::new(
            "retry_window_secs",
            format!("must be at most {MAX_RETRY_WINDOW_SECS} (30 days)"),
        ));
    }
    // The database's statement timeout is derived from it.
    at_least_one("flush_timeout_secs", s.flush_timeout_secs)?;
    at_least_one("max_batch", s.max_batch as u64)?;
    at_least_one("queue_capacity", s.queue_capacity as u64)?;
    at_least_one("flushes_in_flight", s.flushes_in_flight as u64)?;
    at_least_one(
        "parallel_flush_min_batch",
        s.parallel_flush_min_batch as u64,
    )?;
    at_least_one(
        "database_read_max_connections",
        s.database_read_max_connections.into(),
    )?;
    at_least_one("read_statement_timeout_secs", s.read_statement_timeout_secs)?;
    let commit_bound = s.request_timeout_secs.saturating_add(s.flush_timeout_secs);
    if s.rollup_grace_secs < commit_bound {
        return Err(ConfigProblem::new(
            "rollup_grace_secs",
            format!(
                "must be at least request_timeout_secs + flush_timeout_secs ({commit_bound}), \
                 or a report could commit into an hour already rolled up"
            ),
        ));
    }
    if s.queue_max_bytes < (2 << 20) {
        return Err(ConfigProblem::new(
            "queue_max_bytes",
            "must be at least 2097152 (2 MiB)",
        ));
    }
    if s.queue_max_bytes < s.body_limit_bytes.saturating_mul(2) {
        return Err(ConfigProblem::new(
            "queue_max_bytes",
            "must be at least twice `body_limit_bytes`, or a single large report could never be queued",
        ));
    }
    Ok(())
}

/// The connection and shutdown limits: each must be able to let something through.
fn validate_connections(s: &Settings) -> Result<(), ConfigProblem> {
    at_least_one("header_read_timeout_secs", s.header_read_timeout_secs)?;
    at_least_one("keepalive_idle_secs", s.keepalive_idle_secs)?;
    at_least_one("max_connections", s.max_connections as u64)?;
    at_least_one("max_requests_in_flight", s.max_requests_in_flight as u64)?;
    if !(s.tenant_queue_share > 0.0 && s.tenant_queue_share <= 1.0) {
        return Err(ConfigProblem::new(
            "tenant_queue_share",
            format!("{} must be above 0 and at most 1", s.tenant_queue_share),
        ));
    }
    at_least_one("shutdown_deadline_secs", s.shutdown_deadline_secs)
}

fn validate_database_url(s: &Settings) -> Result<(), ConfigProblem> {
    if let Some(url) = &s.database_url
        && !(url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:"))
    {
        return Err(ConfigProblem::new(
            "database_url",
            format!(
                "{:?} is neither postgres://… nor sqlite:…",
                crate::store::redact_url(url)
            ),
        ));
    }
    Ok(())
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A read replica is a PostgreSQL standby of a PostgreSQL primary: SQLite
/// has no replicas, and a read pool on another backend than the writer's
/// would read another database altogether.
fn validate_read_database_url(s: &Settings) -> Result<(), ConfigProblem> {
    let Some(url) = &s.read_database_url else {
        return Ok(());
    };
    if !is_postgres(url) {
        return Err(ConfigProblem::new(
            "read_database_url",
            format!(
                "{:?} is not postgres://…: only a PostgreSQL streaming replica can serve reads",
                crate::store::redact_url(url)
            ),
        ));
    }
    if !is_postgres(s.database_url()) {
        return Err(ConfigProblem::new(
            "read_database_url",
            "needs `database_url` on PostgreSQL (the replica's primary); SQLite has no replicas",
        ));
    }
    Ok(())
}

/// Tenant ids are unique and well formed; no credential could name two tenants.
fn validate_tenants(s: &Settings) -> Result<(), ConfigProblem> {
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
            return Err(ConfigProblem::tenant(
                format!("[{i}].id"),
                format!("{:?} must be 1-64 letters, digits, '-', '_' or '.'", t.id),
            ));
        }
        if !ids.insert(t.id.as_str()) {
            return Err(ConfigProblem::tenant(
                format!("[{i}].id"),
                format!("tenant {:?} is defined twice", t.id),
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
                return Err(ConfigProblem::tenant(
                    format!("[{i}].{style}"),
                    "the same token is configured twice; it could not tell tenants apart",
                ));
            }
        }
        for (j, c) in t.plivo.iter().enumerate() {
            let within = format!("[{i}].plivo[{j}].auth_id");
            if c.auth_id.trim().is_empty() {
                return Err(ConfigProblem::tenant(within, "must not be empty"));
            }
            if !plivo_ids.insert(c.auth_id.as_str()) {
                return Err(ConfigProblem::tenant(
                    within,
                    format!("{:?} is configured twice", c.auth_id),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Tenant;

    fn tenant(id: &str) -> Tenant {
        Tenant {
            id: id.into(),
            ucwa: vec![],
            graph: vec![],
            plivo: vec![],
            ops: vec![],
            retention_days: None,
        }
    }

    #[test]
    fn duplicate_tenants_are_refused_with_the_key_named() {
        let s = Settings {
            tenants: vec![tenant("a"), tenant("a")],
            ..Settings::default()
        };
        let e = validate(&s).unwrap_err();
        assert_eq!((e.key, e.within.as_str()), ("tenants", "[1].id"), "{e}");
        assert!(e.to_string().starts_with("key `tenants[1].id`: "), "{e}");
    }

    #[test]
    fn partitioning_and_retention_are_refused_under_their_own_keys() {
        let width = Settings {
            partition_width: "hour".into(),
            ..Settings::default()
        };
        let e = validate(&width).unwrap_err();
        assert_eq!(e.key, "partition_width");
        assert_eq!(
            e.problem,
            "\"hour\" is not a partition width: use day, week or month"
        );
        let mut t = tenant("a");
        t.retention_days = Some(MAX_RETENTION_DAYS + 1);
        let s = Settings {
            tenants: vec![tenant("b"), t],
            ..Settings::default()
        };
        let e = validate(&s).unwrap_err();
        assert_eq!(
            (e.key, e.within.as_str()),
            ("tenants", "[1].retention_days")
        );
        type Break = fn(&mut Settings);
        let cases: &[(&str, Break)] = &[
            ("partitions_ahead", |s| s.partitions_ahead = 0),
            ("retention_days", |s| {
                s.retention_days = MAX_RETENTION_DAYS + 1
            }),
            ("retention_batch_rows", |s| s.retention_batch_rows = 0),
            ("maintenance_interval_secs", |s| {
                s.maintenance_interval_secs = 0
            }),
        ];
        for (key, break_it) in cases {
            let mut s = Settings::default();
            break_it(&mut s);
            assert_eq!(validate(&s).unwrap_err().key, *key);
        }
    }

    #[test]
    fn each_limit_that_lets_nothing_through_is_refused_under_its_own_key() {
        assert_eq!(validate(&Settings::default()), Ok(()));
        type Break = fn(&mut Settings);
        let cases: &[(&str, Break)] = &[
            ("body_limit_bytes", |s| s.body_limit_bytes = 1023),
            ("request_timeout_secs", |s| s.request_timeout_secs = 0),
            ("retry_window_secs", |s| {
                s.retry_window_secs = MAX_RETRY_WINDOW_SECS + 1
            }),
            ("flush_timeout_secs", |s| s.flush_timeout_secs = 0),
            ("max_batch", |s| s.max_batch = 0),
            ("queue_capacity", |s| s.queue_capacity = 0),
            ("flushes_in_flight", |s| s.flushes_in_flight = 0),
            ("parallel_flush_min_batch", |s| {
                s.parallel_flush_min_batch = 0
            }),
            ("database_read_max_connections", |s| {
                s.database_read_max_connections = 0
            }),
            ("read_statement_timeout_secs", |s| {
                s.read_statement_timeout_secs = 0
            }),
            ("rollup_grace_secs", |s| s.rollup_grace_secs = 39),
            ("queue_max_bytes", |s| s.queue_max_bytes = 1 << 20),
            ("queue_max_bytes", |s| {
                s.body_limit_bytes = 4 << 20;
                s.queue_max_bytes = 6 << 20;
            }),
            ("header_read_timeout_secs", |s| {
                s.header_read_timeout_secs = 0
            }),
            ("keepalive_idle_secs", |s| s.keepalive_idle_secs = 0),
            ("max_connections", |s| s.max_connections = 0),
            ("max_requests_in_flight", |s| s.max_requests_in_flight = 0),
            ("tenant_queue_share", |s| s.tenant_queue_share = 0.0),
            ("tenant_queue_share", |s| s.tenant_queue_share = f64::NAN),
            ("shutdown_deadline_secs", |s| s.shutdown_deadline_secs = 0),
            ("database_url", |s| {
                s.database_url = Some("mysql://db/x".into())
            }),
            ("read_database_url", |s| {
                s.database_url = Some("postgres://db/x".into());
                s.read_database_url = Some("sqlite:replica.db".into());
            }),
            // The default database is the embedded SQLite file.
            ("read_database_url", |s| {
                s.read_database_url = Some("postgres://standby/x".into())
            }),
        ];
        for (key, break_it) in cases {
            let mut s = Settings::default();
            break_it(&mut s);
            let e = validate(&s).unwrap_err();
            assert_eq!(e.key, *key, "{e}");
            assert!(e.within.is_empty(), "{e}");
        }
    }

    #[test]
    fn a_postgres_read_replica_of_a_postgres_primary_is_accepted() {
        let s = Settings {
            database_url: Some("postgres://primary/callq".into()),
            read_database_url: Some("postgresql://standby/callq?sslmode=require".into()),
            ..Settings::default()
        };
        assert_eq!(validate(&s), Ok(()));
    }

    #[test]
    fn a_token_shared_by_two_tenants_names_the_second_one() {
        let token = || "a-long-enough-shared-token".parse().unwrap();
        let mut a = tenant("a");
        a.ops.push(crate::config::OpsCredential { token: token() });
        let mut b = tenant("b");
        b.ops.push(crate::config::OpsCredential { token: token() });
        let s = Settings {
            tenants: vec![a, b],
            ..Settings::default()
        };
        let e = validate(&s).unwrap_err();
        assert_eq!((e.key, e.within.as_str()), ("tenants", "[1].ops"), "{e}");
    }
}
