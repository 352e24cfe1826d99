//! Reading the settings: built-in defaults, then the TOML file, then
//! `DATABASE_URL`, then `CALLQ_*` variables (later wins), then
//! [`validate`](super::validate()). Errors name the key and where its value came from.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use super::{ConfigProblem, DEFAULT_CONFIG_PATH, Settings, validate};

/// Settings that cannot come from a `CALLQ_*` variable: lists of tables
/// belong in the file.
const FILE_ONLY: &[&str] = &["tenants"];

/// A configuration that cannot be used, with the key and the file it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or the environment does not parse into [`Settings`]
    /// (figment's own errors, one line each, already naming key and source).
    #[error("configuration error: {0}")]
    Invalid(String),
    /// The settings parse but [`validate`](super::validate()) refuses one.
    #[error("configuration error: {problem} (in {origin})")]
    Refused {
        problem: ConfigProblem,
        /// The file or the environment variable that set the key last.
        origin: String,
    },
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

/// The settings a `CALLQ_<KEY>` variable may set: every top-level field of
/// [`Settings`] as it serializes, but the file-only `tenants`. Derived from the
/// struct so that a new setting is read from the environment too.
pub fn env_keys() -> Vec<String> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(Settings::default()) else {
        unreachable!("Settings serializes as a map");
    };
    fields
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| !FILE_ONLY.contains(&key.as_str()))
        .collect()
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
    let env_keys = env_keys();
    let env_keys: Vec<&str> = env_keys.iter().map(String::as_str).collect();
    figment = figment
        .merge(Env::raw().only(&["database_url"]))
        .merge(Env::prefixed("CALLQ_").only(&env_keys));
    let settings: Settings = figment
        .extract()
        .map_err(|e| ConfigError::Invalid(figment_message(e)))?;
    validate(&settings).map_err(|problem| ConfigError::Refused {
        origin: origin_of(&figment, problem.key),
        problem,
    })?;
    Ok(Loaded {
        settings,
        path: file,
    })
}

/// The file or the environment variable that set `key` last.
fn origin_of(figment: &Figment, key: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The list the loader carried by hand before it was derived: a serde
    /// rename or skip must not silently drop one of them.
    #[test]
    fn the_environment_keys_are_the_settings_fields_but_tenants() {
        let keys = env_keys();
        assert!(!keys.iter().any(|k| k == "tenants"));
        for key in [
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
            "retry_window_secs",
            "header_read_timeout_secs",
            "keepalive_idle_secs",
            "max_connections",
            "max_requests_in_flight",
            "tenant_queue_share",
            "shutdown_deadline_secs",
            "database_read_max_connections",
            "read_statement_timeout_secs",
            "read_database_url",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
    }
}
