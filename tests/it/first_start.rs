//! The zero-setup first start of the real binary: with no configuration it
//! writes one with fresh credentials, prints them once and serves on SQLite;
//! its data directory and files are owner-only, and a later start tightens
//! what an older callq left readable.

use std::time::{Duration, Instant};

use crate::support::cli::{callq_bin, callq_quiet};

#[test]
fn first_start_generates_credentials_once_and_serves_on_sqlite() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = callq_bin()
        .current_dir(dir.path())
        .env("CALLQ_LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("/api/v1/reports") || std::time::Instant::now() > deadline {
            break;
        }
    }
    let config = dir.path().join("callq-data/callq.toml");
    assert!(config.is_file());
    assert!(dir.path().join("callq-data/callq.db").is_file());
    let text = std::fs::read_to_string(&config).unwrap();
    let token = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("UCWA   Authorization: Bearer "))
        .expect("the banner shows the UCWA token")
        .to_owned();
    assert!(token.starts_with("cwt="));
    assert!(!text.contains(&token), "the file keeps digests only");
    assert!(banner.contains("curl -i --user MA"), "{banner}");
    let _ = child.kill();
    let _ = child.wait();
    // The second start reuses the file and prints no secrets.
    let before = std::fs::read_to_string(&config).unwrap();
    let out = callq_bin()
        .current_dir(dir.path())
        .arg("check-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 tenant(s)"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The real binary's first start in an empty directory: `callq-data/` 0700,
/// `callq.toml` 0600, and the SQLite database with its `-wal` and `-shm`
/// files 0600. A second start where an older callq left `callq-data/` 0755
/// and the database 0644 tightens both.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_database_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("callq-data");
    let set = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    for round in 0..2 {
        if round == 1 {
            set(&data, 0o755);
            set(&data.join("callq.db"), 0o644);
            set(&data.join("callq.toml"), 0o644);
            for side in ["callq.db-wal", "callq.db-shm"] {
                let _ = std::fs::remove_file(data.join(side));
            }
        }
        let mut child = callq_quiet()
            .current_dir(cwd.path())
            .env("CALLQ_LISTEN", "127.0.0.1:0")
            .spawn()
            .expect("callq starts");
        let wal = data.join("callq.db-wal");
        let shm = data.join("callq.db-shm");
        let started = Instant::now();
        while !(wal.exists() && shm.exists()) && started.elapsed() < Duration::from_secs(15) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let modes = [
            mode(&data),
            mode(&data.join("callq.toml")),
            mode(&data.join("callq.db")),
            mode(&wal),
            mode(&shm),
        ];
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            modes,
            [0o700, 0o600, 0o600, 0o600, 0o600],
            "round {round}: dir, config, db, wal, shm"
        );
    }
}
