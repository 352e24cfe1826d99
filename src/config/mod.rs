//! Settings from a TOML file and the environment, validated at start.
//!
//! Precedence, lowest first: built-in defaults, the TOML file, `DATABASE_URL`,
//! `CALLQ_*` variables. Secrets are hashed (SHA-256) as they are read and only
//! the digest is kept in memory; `Debug` never prints them.
//!
//! - [`settings`]: the [`Settings`] struct and its defaults;
//! - [`tenants`]: tenants, their credentials, [`Secret`];
//! - [`load`](mod@load): file and environment through figment, errors naming key and source;
//! - [`validate`](mod@validate): what serde cannot check, refused as a typed [`ConfigProblem`];
//! - [`first_run`]: the zero-setup start that writes a configuration.

pub mod first_run;
pub mod load;
pub mod settings;
pub mod tenants;
pub mod validate;

pub use first_run::{FirstRun, generate_first_run};
pub use load::{ConfigError, Loaded, env_keys, load};
pub use settings::{LogFormat, Settings};
pub use tenants::{
    GRAPH_ROLE, GraphCredential, OpsCredential, PlivoCredential, Secret, Tenant, UCWA_SCOPES,
    UcwaCredential,
};
pub use validate::{ConfigProblem, validate};

/// Where a first start without any configuration keeps its files.
pub const DATA_DIR: &str = "callq-data";
/// The configuration a first start generates (and later starts reuse).
pub const DEFAULT_CONFIG_PATH: &str = "callq-data/callq.toml";
/// The embedded database used when no database URL is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:callq-data/callq.db";

/// Longest keyless retry window accepted (30 days): retries come within
/// minutes; a longer window only grows the claims table.
pub const MAX_RETRY_WINDOW_SECS: u64 = 30 * 24 * 3600;
