//! Slow and greedy clients: header-read and keep-alive idle timers, the
//! connection and in-flight caps, per-tenant fairness in the write queue, and
//! a client that never reads its answer. Real server, real PostgreSQL, raw
//! TCP where the point is what a client does on the wire (stopping is in
//! shutdown.rs).

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::tcp::{HEALTHZ, closed_within, exchange};
use crate::support::wire::{GRAPH_SEED, GRAPH_V1, UCWA_FEEDBACK, new_plivo_path};
use crate::support::{self, Backend, TestServer, TestTenant, pg};

/// A Plivo feedback about a new call, with `notes`.
fn plivo_post(server: &TestServer, tenant: &TestTenant, notes: &str) -> reqwest::RequestBuilder {
    server.plivo(
        tenant,
        &uuid::Uuid::new_v4().to_string(),
        format!("{{\"rating\": 5, \"notes\": \"{notes}\"}}"),
    )
}

#[tokio::test]
async fn half_sent_headers_are_closed_after_the_header_read_timeout() {
    let acme = TestTenant::new("acme");
    let server = TestServer::on(Backend::Postgres, std::slice::from_ref(&acme), |s| {
        s.header_read_timeout_secs = 1;
        s.keepalive_idle_secs = 30;
    })
    .await;
    let addr = server.addr();
    let mut tasks = Vec::new();
    for n in 0..20 {
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            if n % 2 == 0 {
                stream
                    .write_all(
                        b"POST /v1/Call/x/Feedback/ HTTP/1.1\r\nHost: localhost\r\nContent-Ty",
                    )
                    .await
                    .unwrap();
            } // the others connect and send nothing at all
            closed_within(&mut stream, Duration::from_secs(5)).await
        }));
    }
    // A client dripping its head a byte at a time is timed from its first
    // byte, not from its last: it cannot keep the connection forever.
    let mut drip = TcpStream::connect(addr).await.unwrap();
    let dripping = tokio::spawn(async move {
        let started = Instant::now();
        for byte in
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            if drip.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        let _ = closed_within(&mut drip, Duration::from_secs(5)).await;
        started.elapsed()
    });
    for t in tasks {
        let took = t.await.unwrap().expect("closed by the server within 5 s");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(3),
            "closed by the 1 s header timer, took {took:?}"
        );
    }
    let took = dripping.await.unwrap();
    assert!(
        took < Duration::from_secs(3),
        "the dripping client lasted {took:?}"
    );
    // The server itself is fine, and a prompt client is served.
    let mut fresh = TcpStream::connect(addr).await.unwrap();
    assert!(
        exchange(&mut fresh, HEALTHZ)
            .await
            .starts_with("HTTP/1.1 200")
    );
    let metrics = server.metrics().await;
    let timed_out = support::metric_value(
        &metrics,
        "callq_http_connections_timed_out_total{phase=\"header\"}",
    )
    .unwrap_or(0.0);
    assert!(timed_out >= 21.0, "{timed_out}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_and_not_before() {
    let acme = TestTenant::new("acme");
    let server = TestServer::on(Backend::Postgres, std::slice::from_ref(&acme), |s| {
        s.header_read_timeout_secs = 1;
        s.keepalive_idle_secs = 2;
    })
    .await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    assert!(
        exchange(&mut stream, HEALTHZ)
            .await
            .starts_with("HTTP/1.1 200")
    );
    // Idle longer than the header timer: keep-alive is the idle timer's business.
    tokio::time::sleep(Duration::from_millis(1400)).await;
    assert!(
        exchange(&mut stream, HEALTHZ)
            .await
            .starts_with("HTTP/1.1 200"),
        "an idle connection outlives the header-read timeout"
    );
    let took = closed_within(&mut stream, Duration::from_secs(6))
        .await
        .expect("the idle connection is closed");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(4),
        "closed by the 2 s idle timer, took {took:?}"
    );
}

#[tokio::test]
async fn the_connection_cap_holds_and_a_waiting_client_gets_in_when_one_closes() {
    let acme = TestTenant::new("acme");
    let server = TestServer::on(Backend::Postgres, std::slice::from_ref(&acme), |s| {
        s.max_connections = 4;
    })
    .await;
    let addr = server.addr();
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(exchange(&mut s, HEALTHZ).await.starts_with("HTTP/1.1 200"));
        open.push(s);
    }
    // The fifth waits in the listen backlog: not answered, not refused.
    let mut fifth = TcpStream::connect(addr).await.unwrap();
    fifth.write_all(HEALTHZ.as_bytes()).await.unwrap();
    let mut buf = [0u8; 1024];
    assert!(
        tokio::time::timeout(Duration::from_millis(800), fifth.read(&mut buf))
            .await
            .is_err(),
        "a fifth connection is not served while four are open"
    );
    // The four still work.
    assert!(
        exchange(&mut open[0], HEALTHZ)
            .await
            .starts_with("HTTP/1.1 200")
    );
    drop(open.pop());
    let n = tokio::time::timeout(Duration::from_secs(3), fifth.read(&mut buf))
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    drop(open);
}

#[tokio::test]
async fn requests_over_the_in_flight_cap_get_the_owning_styles_503_and_health_checks_do_not() {
    let acme = TestTenant::new("acme");
    let server = TestServer::on(Backend::Postgres, std::slice::from_ref(&acme), |s| {
        s.max_requests_in_flight = 2;
    })
    .await;
    // Two requests in flight: their bodies never finish arriving.
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{{\"rating\": ",
            new_plivo_path(),
            acme.plivo_authorization()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        holders.push(s);
    }
    // Wait until both hold their slots (probing without credentials stores nothing).
    let started = Instant::now();
    loop {
        let r = server
            .client
            .post(server.url(&new_plivo_path()))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the holders never got in"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Plivo's 503.
    let r = plivo_post(&server, &acme, "over the cap")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["api_id"].is_string() && body["error"].is_string(),
        "{body}"
    );
    // Graph's.
    let r = server
        .graph(GRAPH_V1, &acme.graph_token, GRAPH_SEED)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "serviceNotAvailable", "{body}");
    // UCWA's.
    let r = server
        .ucwa(
            UCWA_FEEDBACK,
            &acme.ucwa_token,
            "application/json",
            "{\"rating\": 4}",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "ServiceUnavailable", "{body}");
    // Health checks are exempt.
    for path in ["/healthz", "/readyz"] {
        assert_eq!(server.get(path).await.status(), 200, "{path}");
    }
    assert_eq!(server.count(&acme.id).await, 0);
    // The slots come back when the holders go away.
    drop(holders);
    let started = Instant::now();
    loop {
        let r = plivo_post(&server, &acme, "after the cap")
            .send()
            .await
            .unwrap();
        if r.status() == 201 {
            break;
        }
        assert_eq!(r.status(), 503);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the slots never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.count(&acme.id).await, 1);
}

#[tokio::test]
async fn one_tenant_flooding_the_queue_gets_429_while_the_other_tenant_gets_in() {
    use sqlx::Connection;
    let acme = TestTenant::new("acme");
    let globex = TestTenant::new("globex");
    let url = pg::fresh_database().await;
    let mut settings = support::settings(url.clone(), &[acme.clone(), globex.clone()]);
    // 8 queued reports, half of them per tenant at most; one report per
    // transaction, one transaction at a time.
    settings.queue_capacity = 8;
    settings.tenant_queue_share = 0.5;
    settings.max_batch = 1;
    settings.flushes_in_flight = 1;
    let server = std::sync::Arc::new(TestServer::start(settings).await);
    let mut lock = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut lock).await.unwrap();
    sqlx::query("LOCK TABLE reports IN EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .unwrap();
    let (done_tx, mut done) = tokio::sync::mpsc::unbounded_channel();
    let send = |tenant: &TestTenant, n: usize| {
        let (server, tenant, done_tx) = (server.clone(), tenant.clone(), done_tx.clone());
        tokio::spawn(async move {
            let r = plivo_post(&server, &tenant, &format!("{} {n}", tenant.id))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let retry_after = r.headers().get("retry-after").cloned();
            let body: Value = r.json().await.unwrap();
            done_tx
                .send((tenant.id.clone(), status, retry_after, body))
                .unwrap();
        })
    };
    // The first report is taken into a transaction, which waits on the lock.
    let mut tasks = vec![send(&acme, 0)];
    let mut waiting = sqlx::PgConnection::connect(&url).await.unwrap();
    let started = Instant::now();
    while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_locks WHERE NOT granted")
        .fetch_one(&mut waiting)
        .await
        .unwrap()
        == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the insert never blocked: {:?}",
            done.try_recv()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Nine more from acme: four fit in its half of the queue, five do not.
    for n in 1..10 {
        tasks.push(send(&acme, n));
    }
    for _ in 0..5 {
        let (tenant, status, retry_after, body) =
            tokio::time::timeout(Duration::from_secs(5), done.recv())
                .await
                .expect("refused at once")
                .unwrap();
        assert_eq!((tenant.as_str(), status), ("acme", 429), "{body}");
        assert_eq!(retry_after.unwrap(), "1");
        assert!(
            body["api_id"].is_string() && body["error"].is_string(),
            "{body}"
        );
    }
    assert_eq!(server.state().writer.queue_depth(), 4);
    // globex still gets in while acme is held at its share...
    for n in 0..3 {
        tasks.push(send(&globex, n));
    }
    let started = Instant::now();
    while server.state().writer.queue_depth() < 7 {
        assert!(done.try_recv().is_err(), "nothing else is answered yet");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "globex was not queued"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...and acme is still refused, in Graph's format too.
    let r = server
        .graph(GRAPH_V1, &acme.graph_token, GRAPH_SEED)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let retry_after = r.headers().get("retry-after").cloned();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry_after.unwrap(), "1");
    assert_eq!(body["error"]["code"], "TooManyRequests", "{body}");
    // Release the lock: everything queued is stored and answered 201.
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let mut created = std::collections::HashMap::new();
    while let Ok((tenant, status, _, body)) = done.try_recv() {
        assert_eq!(status, 201, "{tenant}: {body}");
        *created.entry(tenant).or_insert(0) += 1;
    }
    assert_eq!(created["acme"], 5);
    assert_eq!(created["globex"], 3);
    assert_eq!(server.count(&acme.id).await, 5);
    assert_eq!(server.count(&globex.id).await, 3);
    let metrics = server.metrics().await;
    let refused = support::metric_value(
        &metrics,
        "callq_writer_rejected_total{reason=\"tenant_share\"}",
    )
    .unwrap_or(0.0);
    assert!(refused >= 6.0, "{refused}");
    assert!(
        std::sync::Arc::try_unwrap(server).is_ok(),
        "the server is still shared"
    );
}

/// A client that asks for a long answer and never reads it: once the
/// socket has refused writes for `keepalive_idle`, the connection is cut,
/// so such clients cannot hold every slot under the connection cap.
#[tokio::test]
async fn a_client_that_never_reads_its_answer_is_cut_and_frees_its_slot() {
    use callq::model::{Kind, Protocol, Report};
    let acme = TestTenant::new("acme");
    let server = TestServer::on(Backend::Postgres, std::slice::from_ref(&acme), |s| {
        s.max_connections = 1;
        s.keepalive_idle_secs = 1;
    })
    .await;
    // About 20 MB of CSV: far more than the socket buffers hold.
    let notes = "n".repeat(1000);
    for batch in 0..20 {
        let reports: Vec<Report> = (0..1000)
            .map(|i| {
                let mut r = Report::new(
                    "acme",
                    Protocol::Plivo,
                    Kind::Feedback,
                    format!("stall-{batch}-{i}"),
                    "{}",
                );
                r.rating = Some(3.0);
                r.notes = Some(notes.clone());
                r
            })
            .collect();
        server.store().insert_batch(&reports).await.unwrap();
    }
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(server.addr()).await.unwrap();
    stalled
        .write_all(
            format!(
                "GET /api/v1/reports?format=csv HTTP/1.1\r\nHost: localhost\r\n\
                 Authorization: Bearer {}\r\n\r\n",
                acme.ops_token
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // Never read. The only slot is taken: a second client waits ...
    let mut second = TcpStream::connect(server.addr()).await.unwrap();
    second.write_all(HEALTHZ.as_bytes()).await.unwrap();
    // ... until the stalled one is cut (1 s of refused writes, noticed
    // within a tick), not forever.
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(8), second.read(&mut buf))
        .await
        .expect("the stalled connection was cut and the waiting client served")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    drop(stalled);
}
