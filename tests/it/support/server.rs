//! [`TestServer`]: the real callq server on a random loopback port, with the
//! steps tests take against it (post a report in each style with a tenant's
//! credentials, read the ops API, count what was stored). Dropped, it stops
//! the server and then removes its temporary files.

use callq::app::{Drained, Server};
use callq::config::Settings;
use callq::model::Report;
use callq::state::AppState;
use callq::store::{Committed, Store};
use reqwest::RequestBuilder;
use serde_json::Value;
use tempfile::TempDir;

use super::wire::plivo_path;
use super::{TestTenant, pg, settings};

/// The database a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh database on the test binary's PostgreSQL cluster.
    Postgres,
    /// A SQLite file in a temporary directory the server owns.
    Sqlite,
}

/// A real callq server over HTTP, with a client for it.
pub struct TestServer {
    /// Taken by [`TestServer::shutdown`] or by `Drop`.
    server: Option<Server>,
    pub base: String,
    pub client: reqwest::Client,
    /// Removed only after the server has stopped.
    dirs: Vec<TempDir>,
}

impl TestServer {
    /// Starts callq on a fresh PostgreSQL database with tenants `acme` and `globex`.
    pub async fn postgres() -> (TestServer, TestTenant, TestTenant) {
        let acme = TestTenant::new("acme");
        let globex = TestTenant::new("globex");
        let url = pg::fresh_database().await;
        let server = TestServer::start(settings(url, &[acme.clone(), globex.clone()])).await;
        (server, acme, globex)
    }

    /// Starts callq for `tenants` on a fresh database of `backend`, with the
    /// test settings changed by `edit`.
    pub async fn on(
        backend: Backend,
        tenants: &[TestTenant],
        edit: impl FnOnce(&mut Settings),
    ) -> TestServer {
        let (url, dir) = match backend {
            Backend::Postgres => (pg::fresh_database().await, None),
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite:{}", dir.path().join("callq.db").display());
                (url, Some(dir))
            }
        };
        let mut settings = settings(url, tenants);
        edit(&mut settings);
        let mut server = TestServer::start(settings).await;
        server.dirs.extend(dir);
        server
    }

    pub async fn start(settings: Settings) -> TestServer {
        let server = Server::start(settings).await.expect("callq starts");
        let base = format!("http://{}", server.addr());
        TestServer {
            server: Some(server),
            base,
            client: reqwest::Client::builder()
                .no_gzip()
                .build()
                .expect("http client"),
            dirs: Vec::new(),
        }
    }

    /// Stops the server gracefully (in-flight requests finish, the writer
    /// drains) and says how that went.
    pub async fn shutdown(mut self) -> Drained {
        let server = self.server.take().expect("the server runs until shut down");
        server.shutdown().await
    }

    fn running(&self) -> &Server {
        self.server
            .as_ref()
            .expect("the server runs until shut down")
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.running().addr()
    }

    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.running().metrics_addr()
    }

    pub fn state(&self) -> &AppState {
        self.running().state()
    }

    pub fn store(&self) -> &Store {
        &self.state().store
    }

    /// The temporary directory of a [`Backend::Sqlite`] server's database.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.dirs.first().map(TempDir::path)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    // ------------------------------------------------------------ ingest

    /// A Plivo feedback POST about `call` with the tenant's Basic credentials.
    pub fn plivo(
        &self,
        tenant: &TestTenant,
        call: &str,
        body: impl Into<reqwest::Body>,
    ) -> RequestBuilder {
        self.plivo_to(tenant, &plivo_path(call), body)
    }

    /// As [`TestServer::plivo`], to any `path` (for the path variants).
    pub fn plivo_to(
        &self,
        tenant: &TestTenant,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> RequestBuilder {
        self.client
            .post(self.url(path))
            .basic_auth(&tenant.plivo_auth_id, Some(&tenant.plivo_auth_token))
            .header("content-type", "application/json")
            .body(body)
    }

    /// A Graph POST of `body` to `path` as the official Python SDK sends it
    /// (JSON, its User-Agent, a bearer `token`).
    pub fn graph(&self, path: &str, token: &str, body: impl Into<reqwest::Body>) -> RequestBuilder {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .header("user-agent", "python-httpx/0.28.1 kiota-python/1.16.0")
            .header("authorization", format!("Bearer {token}"))
            .body(body)
    }

    /// A UCWA POST of `body` to `path` with the seed's headers (Host,
    /// a bearer `token`, `content_type`).
    pub fn ucwa(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> RequestBuilder {
        self.client
            .post(self.url(path))
            .header("host", "fe1.contoso.com")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(body)
    }

    /// Hands `report` to the server's own commit path (the group-commit
    /// writer, as the style handlers do) and waits for its COMMIT.
    pub async fn commit(&self, report: Report) -> Committed {
        self.state().ingest.submit(report).await.expect("committed")
    }

    /// [`TestServer::commit`] for each of `reports`, in order; each must be
    /// stored as a new report (fixtures never repeat one).
    pub async fn commit_all(&self, reports: &[Report]) {
        for r in reports {
            let committed = self.commit(r.clone()).await;
            assert!(!committed.duplicate, "{} is a new report", r.id);
        }
    }

    // ------------------------------------------------------------ reading

    /// A plain GET of `path`, no credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// A GET of the ops API (or any path) with a bearer `token`.
    pub async fn ops_get(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// The JSON body of an ops GET that must answer 200.
    pub async fn ops_json(&self, token: &str, path: &str) -> Value {
        let response = self.ops_get(token, path).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The server's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let response = self.client.get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// Number of reports stored for `tenant`.
    pub async fn count(&self, tenant: &str) -> i64 {
        self.store()
            .count_reports(tenant)
            .await
            .expect("count reports")
    }

    /// The reports stored for `tenant` about `call`, as the read API shows
    /// them: fields a style keeps only inside the raw payload (UCWA's MS-QoE
    /// document) decoded from it again.
    pub async fn reports_about(&self, tenant: &str, call: &str) -> Vec<Report> {
        let mut reports = self
            .store()
            .reports_for_call(tenant, call)
            .await
            .expect("reports for the call");
        reports
            .iter_mut()
            .for_each(callq::protocols::refill_from_raw_payload);
        reports
    }
}

/// A test that ends, or fails, without [`TestServer::shutdown`] still stops
/// its server: the shutdown runs on the test's runtime (it needs the
/// server's own tasks), and the temporary files go once it has finished.
impl Drop for TestServer {
    fn drop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        let dirs = std::mem::take(&mut self.dirs);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    server.shutdown().await;
                    drop(dirs);
                });
            }
            // No runtime left to drive it: its tasks are gone already.
            Err(_) => drop((server, dirs)),
        }
    }
}
