//! Health, readiness and metrics: `/healthz` and `/readyz` answer (503 with
//! Retry-After while the database is down), request ids are generated or
//! echoed, and `/metrics` moves to its own listener when one is configured.

use crate::support::{self, TestServer, pg};

#[tokio::test]
async fn health_and_readiness_answer_and_request_ids_are_echoed() {
    let (server, _, _) = TestServer::postgres().await;
    let r = server.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let generated = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(
        uuid::Uuid::parse_str(&generated).unwrap().get_version_num(),
        4
    );
    let r = server
        .client
        .get(server.url("/readyz"))
        .header("x-request-id", "client-chosen-id")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "client-chosen-id");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["database"], "postgres");
    assert_eq!(server.get("/nope").await.status(), 404);
}

#[tokio::test]
async fn readiness_is_503_with_retry_after_when_the_database_is_down() {
    let cluster = pg::PgCluster::start_new(false);
    let mut settings = support::settings(cluster.url("postgres"), &[]);
    settings.database_max_connections = 2;
    let server = TestServer::start(settings).await;
    assert_eq!(server.get("/readyz").await.status(), 200);
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop_immediately();
        cluster
    })
    .await
    .unwrap();
    let r = server.get("/readyz").await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        server.get("/healthz").await.status(),
        200,
        "the process itself is fine"
    );
    server.shutdown().await;
    drop(cluster);
}

#[tokio::test]
async fn metrics_move_to_their_own_listener_when_one_is_configured() {
    let url = pg::fresh_database().await;
    let mut settings = support::settings(url, &[]);
    settings.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let server = TestServer::start(settings).await;
    let metrics_addr = server.metrics_addr().expect("a metrics listener");
    assert_ne!(metrics_addr, server.addr());
    let r = server
        .client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("callq_reports_committed_total")
    );
    assert_eq!(
        server.get("/metrics").await.status(),
        404,
        "not on the public port then"
    );
}
