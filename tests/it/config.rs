//! Configuration through the real binary: a bad file or variable exits 2
//! naming the key and where it came from, and every setting can be given
//! as a `CALLQ_*` variable.

use crate::support::cli::callq_bin;

/// `callq --config <path> check-config`.
fn check_config(path: &std::path::Path) -> std::process::Command {
    let mut c = callq_bin();
    c.arg("--config").arg(path).arg("check-config");
    c
}

#[test]
fn a_bad_config_exits_2_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "listen = \"not an address\"\n").unwrap();
    let out = check_config(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen"), "{err}");
    assert!(err.contains("bad.toml"), "{err}");

    std::fs::write(
        &path,
        "[[tenants]]\nid = \"a\"\nucwa = [{ token = \"short\" }]\n",
    )
    .unwrap();
    let out = callq_bin().arg("--config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tenants") && err.contains("token"), "{err}");

    std::fs::write(&path, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let out = check_config(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));

    // The environment overrides the file, and is checked too.
    std::fs::write(&path, "listen = \"127.0.0.1:9\"\n").unwrap();
    let out = check_config(&path)
        .env("CALLQ_LISTEN", "nonsense")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
    let out = check_config(&path)
        .env("CALLQ_DATABASE_URL", "mysql://db/x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("database_url") && err.contains("CALLQ_"),
        "names the key and the variable it came from: {err}"
    );

    let out = callq_bin()
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The loader's variable list is derived from `Settings`: each key it
/// yields is read from its `CALLQ_` variable (a value no setting accepts
/// is refused naming that key and the variable), and `tenants` is not.
#[test]
fn every_setting_but_the_tenants_is_read_from_its_callq_variable() {
    let dir = tempfile::tempdir().unwrap();
    let keys = callq::config::env_keys();
    assert!(keys.len() >= 21, "{keys:?}");
    for key in &keys {
        let variable = format!("CALLQ_{}", key.to_ascii_uppercase());
        let out = callq_bin()
            .current_dir(dir.path())
            .arg("check-config")
            .env(&variable, "not-a-value")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{variable}: {err}");
        assert!(
            err.contains(&format!("`{key}`")) && err.contains("CALLQ_"),
            "{variable} is read and named: {err}"
        );
    }
    let out = callq_bin()
        .current_dir(dir.path())
        .arg("check-config")
        .env("CALLQ_TENANTS", "not-a-value")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tenants come from the file only: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
