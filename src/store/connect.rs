//! Opening the writer's pools (the read pool is `read/pool.rs`) and keeping
//! passwords out of every message that names a database URL.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use super::{StatementBounds, StoreError, StoreOptions};

pub(super) fn postgres(
    url: &str,
    options: &StoreOptions,
    bounds: Option<StatementBounds>,
) -> Result<PgPool, StoreError> {
    let mut connect = PgConnectOptions::from_str(url)
        .map_err(|_| StoreError::UnsupportedUrl(redact_url(url)))?
        .application_name("callq");
    // Set at connection start-up, so every statement of every connection is
    // bounded by the server itself (no extra round trip per flush).
    if let Some(b) = bounds {
        connect = connect.options([
            (
                "statement_timeout",
                format!("{}ms", b.statement_timeout.as_millis().max(1)),
            ),
            (
                "lock_timeout",
                format!("{}ms", b.lock_timeout.as_millis().max(1)),
            ),
        ]);
    }
    Ok(PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_lazy_with(connect))
}

pub(super) fn sqlite(url: &str, options: &StoreOptions) -> Result<SqlitePool, StoreError> {
    let connect = SqliteConnectOptions::from_str(url)
        .map_err(|_| StoreError::UnsupportedUrl(url.to_owned()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit that returned is on disk, even across power loss.
        // A 2xx promises exactly that.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    if !is_in_memory(url) {
        private_database_files(connect.get_filename())?;
    }
    Ok(SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(2))
        .acquire_timeout(options.acquire_timeout)
        .connect_lazy_with(connect))
}

/// `sqlite::memory:` and `?mode=memory` databases have no files.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The database's directory (0700 when callq creates it or it is the default
/// `callq-data/`), the database file itself created 0600 before SQLite opens
/// it, so the `-wal` and `-shm` files SQLite creates take the same mode, and
/// any of those files left wider by an older callq tightened. See
/// [`crate::files`].
fn private_database_files(db: &std::path::Path) -> Result<(), StoreError> {
    let io = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| StoreError::CreateDir { path, source }
    };
    if let Some(dir) = db.parent() {
        let own = dir == std::path::Path::new(crate::config::DATA_DIR);
        crate::files::private_dir(dir, own).map_err(io(dir))?;
    }
    crate::files::private_file(db).map_err(io(db))?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = db.as_os_str().to_owned();
        side.push(suffix);
        let side = std::path::PathBuf::from(side);
        crate::files::tighten_file(&side).map_err(io(&side))?;
    }
    Ok(())
}

/// A database URL with every password replaced by `***`, for messages and
/// logs: the one in the userinfo (`user:password@`) and the query
/// parameters that carry one (`password`, `sslpassword`, any `…password`).
pub fn redact_url(url: &str) -> String {
    let (head, tail) = redact_userinfo(url);
    match tail.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query.split('&').map(redact_pair).collect();
            format!("{head}{path}?{}", pairs.join("&"))
        }
        None => format!("{head}{tail}"),
    }
}

/// Splits `url` into its start up to the host, with the password of
/// `scheme://user:secret@` replaced, and the rest. The userinfo ends at the
/// last `@` before the path, as URL parsers read it, so a password with an
/// unencoded `@`, `?` or `#` is still hidden whole.
fn redact_userinfo(url: &str) -> (String, &str) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (String::new(), url);
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return (url[..scheme_end].to_owned(), rest);
    };
    let userinfo = &authority[..at];
    let head = match userinfo.find(':') {
        Some(colon) => format!("{}{}:***", &url[..scheme_end], &userinfo[..colon]),
        None => format!("{}{userinfo}", &url[..scheme_end]),
    };
    (head, &rest[at..])
}

/// `password=secret` → `password=***` (names compared without case, and
/// percent-encoded names decoded well enough for `%70assword`-style tricks
/// not to matter: anything ending in "password" once lower-cased).
fn redact_pair(pair: &str) -> String {
    match pair.split_once('=') {
        Some((name, _)) if is_password_key(name) => format!("{name}=***"),
        _ => pair.to_owned(),
    }
}

fn is_password_key(name: &str) -> bool {
    let decoded = percent_decode_lossy(name).to_ascii_lowercase();
    decoded.ends_with("password") || decoded.ends_with("passwd")
}

fn percent_decode_lossy(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://callq:s3cret@db:5432/callq"),
            "postgres://callq:***@db:5432/callq"
        );
        assert_eq!(redact_url("postgres://db/callq"), "postgres://db/callq");
        assert_eq!(
            redact_url("sqlite:callq-data/callq.db"),
            "sqlite:callq-data/callq.db"
        );
    }

    #[test]
    fn passwords_in_query_parameters_are_redacted() {
        assert_eq!(
            redact_url("postgres://db/callq?user=callq&password=s3cret&sslmode=require"),
            "postgres://db/callq?user=callq&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://db/callq?password=s3cret"),
            "postgresql://db/callq?password=***"
        );
        assert_eq!(
            redact_url("postgres://u:p1@db/callq?sslpassword=k3y&PASSWORD=x&%70assword=y"),
            "postgres://u:***@db/callq?sslpassword=***&PASSWORD=***&%70assword=***"
        );
        assert_eq!(
            redact_url("postgres://db/callq?application_name=a@b&password=p@ss"),
            "postgres://db/callq?application_name=a@b&password=***"
        );
        // An '@' in the query is not the end of a userinfo.
        assert_eq!(
            redact_url("postgres://u:pw@db/callq?options=x@y"),
            "postgres://u:***@db/callq?options=x@y"
        );
        for url in [
            "postgres://callq:s3cret@db/callq?password=s3cret",
            "postgres://callq:s3c@r?e#t@[::1]:5432/callq",
            "postgres://callq:s3cret@db?password=s3cret",
        ] {
            assert!(!redact_url(url).contains("s3cret"), "{}", redact_url(url));
        }
    }

    #[test]
    fn unknown_schemes_are_refused() {
        let err = Store::open("mysql://x/y", &StoreOptions::default()).unwrap_err();
        assert!(matches!(err, StoreError::UnsupportedUrl(_)));
    }
}
