//! The real `callq` binary for the command-line and signal tests: a clean
//! environment, a config file, a free port, SIGTERM, and a load of Plivo
//! feedback that counts what was acknowledged.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::TestTenant;
use super::wire::plivo_path;

/// The real binary, without any `CALLQ_*` or `DATABASE_URL` from the
/// environment (the output is captured by `output()`, inherited otherwise).
pub fn callq_bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_callq"));
    for (k, _) in std::env::vars() {
        if k.starts_with("CALLQ_") || k == "DATABASE_URL" {
            c.env_remove(k);
        }
    }
    c
}

/// [`callq_bin`] with its output discarded: a server left running.
pub fn callq_quiet() -> Command {
    let mut c = callq_bin();
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// A config file in `dir` with `tenant`'s Plivo credentials and `extra` settings.
pub fn config_file(dir: &tempfile::TempDir, tenant: &TestTenant, extra: &str) -> PathBuf {
    let path = dir.path().join("callq.toml");
    std::fs::write(
        &path,
        format!(
            "{extra}\n[[tenants]]\nid = \"{}\"\nplivo = [{{ auth_id = \"{}\", auth_token = \"{}\" }}]\n",
            tenant.id, tenant.plivo_auth_id, tenant.plivo_auth_token
        ),
    )
    .unwrap();
    path
}

/// A loopback port nobody listens on (a started binary's port 0 is only
/// known from its log, so tests pick the port themselves).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the child to exit; its status and how long that took.
pub async fn exit_of(mut child: Child, limit: Duration) -> (ExitStatus, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, started.elapsed());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("callq did not exit within {limit:?} of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `base` answers `/healthz` (at most 30 s).
pub async fn wait_until_up(base: &str) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "callq did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The real binary serving `config` against `database_url` on a free
/// port, once `/healthz` answers: the process, its port and its base URL.
pub async fn serve_binary(config: &Path, database_url: &str) -> (Child, u16, String) {
    let port = free_port();
    let child = callq_quiet()
        .arg("--config")
        .arg(config)
        .env("CALLQ_DATABASE_URL", database_url)
        .env("CALLQ_LISTEN", format!("127.0.0.1:{port}"))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&base).await;
    (child, port, base)
}

/// `clients` tasks, each posting up to `requests` Plivo feedbacks to `base`
/// as `tenant` (each about a new call) until the listener is gone; each
/// task's result is the number answered 201. A 503 (refused while
/// stopping) is not counted; any other status fails the test.
pub fn plivo_load(
    base: &str,
    tenant: &TestTenant,
    clients: usize,
    requests: usize,
) -> Vec<tokio::task::JoinHandle<u32>> {
    let client = reqwest::Client::new();
    let auth = tenant.plivo_authorization();
    (0..clients)
        .map(|n| {
            let (client, base, auth) = (client.clone(), base.to_owned(), auth.clone());
            tokio::spawn(async move {
                let mut created = 0u32;
                for i in 0..requests {
                    let call = uuid::Uuid::new_v4().to_string();
                    let sent = client
                        .post(format!("{base}{}", plivo_path(&call)))
                        .header("authorization", &auth)
                        .header("content-type", "application/json")
                        .body(format!(
                            "{{\"rating\": 5, \"notes\": \"client {n} request {i}\"}}"
                        ))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 201 => created += 1,
                        // Refused while shutting down: fine, not acknowledged.
                        Ok(r) if r.status() == 503 => {}
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        // The listener is gone: not acknowledged.
                        Err(_) => break,
                    }
                }
                created
            })
        })
        .collect()
}
