//! Shared test support: a real PostgreSQL, a real server on a random port
//! ([`TestServer`], which stops itself when dropped), tenants with known
//! credentials, the styles' wire constants, and the real binary for the
//! command-line tests.

#![allow(dead_code)]

pub mod browser;
pub mod cli;
pub mod pg;
pub mod server;
pub mod tcp;
pub mod tenant;
pub mod wire;

pub use server::{Backend, TestServer};
pub use tenant::{TestTenant, settings};

/// The migrations of `backend`'s directory (`postgres` or `sqlite`) older
/// than `version`: the schema as it was before that migration, for the
/// upgrade tests that fill an old schema and then migrate it.
pub async fn migrations_before(backend: &str, version: i64) -> sqlx::migrate::Migrator {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut m = sqlx::migrate::Migrator::new(dir).await.unwrap();
    m.migrations = m
        .migrations
        .iter()
        .filter(|m| m.version < version)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    assert_eq!(
        m.migrations.len() as i64,
        version - 1,
        "migrations 1..{version} of {backend}"
    );
    m
}

/// A migrated SQLite store in a temporary directory (kept while the guard lives).
pub async fn sqlite_store() -> (callq::store::Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("test.db").display());
    let store = callq::store::Store::open(&url, &Default::default()).unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

/// A migrated store on a fresh PostgreSQL database.
pub async fn postgres_store() -> callq::store::Store {
    let store =
        callq::store::Store::open(&pg::fresh_database().await, &Default::default()).unwrap();
    store.migrate().await.unwrap();
    store
}

/// The value of one series (`name{labels}` exactly as rendered) in a
/// Prometheus text exposition, if present.
pub fn metric_value(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// `want` equal to `got` as JSON, numbers within 1e-9 (SQL and Rust may sum
/// in another order); of an object only `want`'s fields are compared.
pub fn assert_close(got: &serde_json::Value, want: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{at}: {a} != {b}");
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{at}: lengths");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_close(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                assert_close(a.get(k).unwrap_or(&Value::Null), v, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}
