//! Stopping: a stop requested right after start is never lost; SIGTERM ends
//! the real binary at once when idle, while it still waits for its
//! database, and at the shutdown deadline under load with a stuck request;
//! in-flight requests are drained and every 2xx is stored, nothing else.

use std::time::Duration;

use callq::store::{Store, StoreOptions};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::cli::{
    callq_quiet, config_file, exit_of, free_port, plivo_load, serve_binary, sigterm,
};
use crate::support::tcp::closed_within;
use crate::support::wire::new_plivo_path;
use crate::support::{self, Backend, TestServer, TestTenant, pg};

#[tokio::test]
async fn a_stop_right_after_start_is_never_lost() {
    let acme = TestTenant::new("acme");
    let url = pg::fresh_database().await;
    for _ in 0..5 {
        let server =
            TestServer::start(support::settings(url.clone(), std::slice::from_ref(&acme))).await;
        // An idle connection does not hold the shutdown either.
        let mut idle = TcpStream::connect(server.addr()).await.unwrap();
        let drained = tokio::time::timeout(Duration::from_secs(5), server.shutdown())
            .await
            .expect("shutdown right after start ends");
        assert!(drained.complete(), "{drained:?}");
        assert!(
            closed_within(&mut idle, Duration::from_secs(1))
                .await
                .is_some(),
            "the idle connection was closed"
        );
    }
}

#[tokio::test]
async fn sigterm_right_after_start_ends_the_process_at_once_even_with_an_idle_connection() {
    let acme = TestTenant::new("acme");
    let url = pg::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir, &acme, "");
    let (child, port, _base) = serve_binary(&config, &url).await;
    let mut idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    sigterm(&child);
    let (status, took) = exit_of(child, Duration::from_secs(10)).await;
    assert!(status.success(), "a clean stop: {status:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(
        closed_within(&mut idle, Duration::from_secs(1))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn sigterm_while_still_waiting_for_the_database_ends_the_process() {
    let acme = TestTenant::new("acme");
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir, &acme, "");
    // Nobody listens there: the server keeps retrying its migrations.
    let unreachable = format!("postgres://callq@127.0.0.1:{}/callq", free_port());
    let child = callq_quiet()
        .arg("--config")
        .arg(&config)
        .env("CALLQ_DATABASE_URL", unreachable)
        .env("CALLQ_LISTEN", format!("127.0.0.1:{}", free_port()))
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(child_running(&child), "still starting");
    sigterm(&child);
    let (status, took) = exit_of(child, Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

fn child_running(child: &std::process::Child) -> bool {
    std::path::Path::new(&format!("/proc/{}", child.id())).exists()
}

#[tokio::test]
async fn sigterm_under_load_with_a_stuck_request_exits_at_the_deadline_and_every_2xx_is_stored() {
    let acme = TestTenant::new("acme");
    let url = pg::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    // A stuck request could take a minute; the deadline is 2 s.
    let config = config_file(
        &dir,
        &acme,
        "shutdown_deadline_secs = 2\nrequest_timeout_secs = 60\nheader_read_timeout_secs = 60",
    );
    let (child, port, base) = serve_binary(&config, &url).await;
    let auth = acme.plivo_authorization();
    // A request whose body never finishes, an idle connection, a half head.
    let mut stuck = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stuck
        .write_all(
            format!(
                "POST {} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{{\"rating\": ",
                new_plivo_path()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let _idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut half = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    let tasks = plivo_load(&base, &acme, 16, 400);
    tokio::time::sleep(Duration::from_millis(300)).await;
    sigterm(&child);
    let (status, took) = exit_of(child, Duration::from_secs(10)).await;
    let mut created = 0;
    for t in tasks {
        created += t.await.unwrap();
    }
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(4),
        "exits at the 2 s deadline, not before (the stuck request) nor much after: {took:?}"
    );
    assert_eq!(
        status.code(),
        Some(1),
        "a drain cut by the deadline is not a clean exit"
    );
    assert!(created > 0, "some requests were answered before the signal");
    let store = callq::store::Store::open(&url, &Default::default()).unwrap();
    assert_eq!(
        store.count_reports("acme").await.unwrap(),
        created as i64,
        "every 201 is stored, and nothing else"
    );
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_every_2xx_is_stored() {
    let tenant = TestTenant::new("acme");
    let url = pg::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir, &tenant, "listen = \"127.0.0.1:0\"");
    let (child, _port, base) = serve_binary(&config, &url).await;
    let tasks = plivo_load(&base, &tenant, 32, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    sigterm(&child);
    let mut created = 0;
    for t in tasks {
        created += t.await.unwrap();
    }
    // Bounded only against a hang: the drain itself has 30 s (the default).
    let (exit, _) = exit_of(child, Duration::from_secs(60)).await;
    assert!(exit.success(), "callq exits cleanly on SIGTERM: {exit:?}");
    assert!(created > 0, "some requests were answered before the signal");
    let store = Store::open(&url, &StoreOptions::default()).unwrap();
    assert_eq!(store.count_reports("acme").await.unwrap(), created as i64);
}

/// The test harness itself: a `TestServer` that a test drops (or that a
/// failing test unwinds past) stops listening and then removes its SQLite
/// directory, without anyone calling `shutdown`.
#[tokio::test]
async fn a_dropped_test_server_stops_listening_and_removes_its_files() {
    let acme = TestTenant::new("acme");
    let server = TestServer::on(Backend::Sqlite, std::slice::from_ref(&acme), |_| {}).await;
    let addr = server.addr();
    let dir = server.data_dir().expect("a SQLite directory").to_owned();
    assert!(dir.join("callq.db").is_file());
    drop(server);
    let started = std::time::Instant::now();
    while TcpStream::connect(addr).await.is_ok() || dir.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still listening or still on disk"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
