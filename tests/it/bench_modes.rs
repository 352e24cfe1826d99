//! The ingest benchmark's baselines (benches/ingest.rs) must do what they
//! claim, or its ratios mean nothing: the ceiling stores nothing, the naive
//! mode stores each report with its own INSERT, neither uses the writer.

use crate::support::{self, pg};

#[tokio::test]
async fn the_benchmark_ingest_modes_discard_or_insert_one_by_one() {
    use callq::app::Server;
    use callq::ingest::IngestMode;
    let tenant = support::TestTenant::new("acme");
    for (mode, stored) in [(IngestMode::Discard, 0), (IngestMode::InsertPerRequest, 1)] {
        let settings = support::settings(pg::fresh_database().await, std::slice::from_ref(&tenant));
        let server = Server::start_with(settings, mode).await.unwrap();
        let r = reqwest::Client::new()
            .post(format!(
                "http://{}/v1/Call/{}/Feedback/",
                server.addr(),
                uuid::Uuid::new_v4()
            ))
            .header("authorization", tenant.plivo_authorization())
            .body(r#"{"rating": 5}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{mode:?}");
        assert_eq!(
            server.state().store.count_reports("acme").await.unwrap(),
            stored,
            "{mode:?}"
        );
        assert_eq!(
            server.state().writer.stats().transactions,
            0,
            "{mode:?} bypasses the writer"
        );
        server.shutdown().await;
    }
}
