//! Owner-only files: the data directory, the SQLite database and the
//! configuration hold every tenant's reports and the credentials' digests,
//! so no other local user may read them.
//!
//! The rule: callq creates its directories 0700 and its files 0600, whatever
//! the umask. What it finds already there with wider modes it tightens when
//! the thing is its own (the default `callq-data/` directory, the files in
//! it, and the SQLite database files `*.db`, `-wal`, `-shm`, `-journal`), and
//! logs a warning saying so. A directory it did not create and that is not
//! `callq-data/` (say `sqlite:/srv/shared/callq.db`, or `.`) may be shared on
//! purpose, so it is left as it is, with a warning if other users can enter
//! it; the database files inside are owner-only either way.
//!
//! On non-Unix systems these functions only create what is missing.

use std::io;
use std::path::Path;

/// Owner read/write/search only.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Owner read/write only.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) owner-only. An existing directory is
/// tightened to 0700 if `own` (it is callq's data directory), else only
/// warned about when group or others have access.
pub fn private_dir(dir: &Path, own: bool) -> io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    if !dir.is_dir() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(PRIVATE_DIR_MODE);
        }
        builder.create(dir)?;
        // The mode above is filtered by the umask; say it exactly.
        return set_mode(dir, PRIVATE_DIR_MODE);
    }
    check_existing(dir, PRIVATE_DIR_MODE, own, "directory")
}

/// Makes an existing file owner-only (0600) if group or others can reach it,
/// and logs that it did. A missing file is not an error.
pub fn tighten_file(path: &Path) -> io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    check_existing(path, PRIVATE_FILE_MODE, true, "file")
}

/// Creates `path` empty and owner-only if it does not exist, else tightens
/// it: done before SQLite opens a database, so that the database and the
/// `-wal`/`-shm` files SQLite creates beside it (with the database's own
/// mode) are 0600 from their first byte.
pub fn private_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_FILE_MODE);
    }
    match options.open(path) {
        Ok(_) => set_mode(path, PRIVATE_FILE_MODE),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => tighten_file(path),
        Err(e) => Err(e),
    }
}

/// Warns when a file that holds secrets (a configuration the operator
/// keeps elsewhere) can be read by other users; changes nothing.
pub fn warn_if_shared(path: &Path, what: &str) {
    if let Some(mode) = mode_of(path)
        && mode & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = %format!("{mode:04o}"),
            "the {what} can be read by other local users; make it 0600"
        );
    }
}

fn check_existing(path: &Path, wanted: u32, own: bool, kind: &str) -> io::Result<()> {
    let Some(mode) = mode_of(path) else {
        return Ok(());
    };
    if mode & 0o077 == 0 {
        return Ok(());
    }
    if own {
        set_mode(path, wanted)?;
        tracing::warn!(
            path = %path.display(),
            was = %format!("{mode:04o}"),
            now = %format!("{wanted:04o}"),
            "tightened the {kind}: other local users could read tenants' data"
        );
    } else {
        tracing::warn!(
            path = %path.display(),
            mode = %format!("{mode:04o}"),
            "the {kind} is open to other local users; callq leaves it as it is (its database files are 0600)"
        );
    }
    Ok(())
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode_of(_path: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_directories_and_files_are_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        private_dir(&dir, true).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700, "parents too");
        let file = dir.join("callq.db");
        private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn own_things_are_tightened_and_foreign_directories_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let own = tmp.path().join("own");
        let foreign = tmp.path().join("foreign");
        for d in [&own, &foreign] {
            std::fs::create_dir(d).unwrap();
            set_mode(d, 0o755).unwrap();
        }
        private_dir(&own, true).unwrap();
        private_dir(&foreign, false).unwrap();
        assert_eq!(mode(&own), 0o700);
        assert_eq!(mode(&foreign), 0o755);
        let file = foreign.join("callq.db");
        std::fs::write(&file, b"").unwrap();
        set_mode(&file, 0o644).unwrap();
        private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        tighten_file(&foreign.join("missing")).unwrap();
    }
}
