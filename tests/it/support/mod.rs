//! Shared test support: a real PostgreSQL, a real server on a random port,
//! tenants with known credentials.

#![allow(dead_code)]

pub mod browser;
pub mod pg;

use callq::app::Server;
use callq::config::{
    GraphCredential, OpsCredential, PlivoCredential, Settings, Tenant, UcwaCredential,
};

/// A migrated SQLite store in a temporary directory (kept while the guard lives).
pub async fn sqlite_store() -> (callq::store::Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("test.db").display());
    let store = callq::store::Store::open(&url, &Default::default()).unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

/// A migrated store on a fresh PostgreSQL database.
pub async fn postgres_store() -> callq::store::Store {
    let store =
        callq::store::Store::open(&pg::fresh_database().await, &Default::default()).unwrap();
    store.migrate().await.unwrap();
    store
}

/// The value of one series (`name{labels}` exactly as rendered) in a
/// Prometheus text exposition, if present.
pub fn metric_value(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Credentials of a test tenant, derived from its name.
#[derive(Clone, Debug)]
pub struct TestTenant {
    pub id: String,
    /// UCWA token with all scopes (includes the `cwt=` prefix).
    pub ucwa_token: String,
    /// UCWA token with no scopes at all.
    pub ucwa_token_no_scopes: String,
    /// UCWA token with only `User.ReadWrite`.
    pub ucwa_token_feedback_only: String,
    pub graph_token: String,
    /// Graph token without the `Calls.AccessMedia.All` role.
    pub graph_token_no_role: String,
    pub plivo_auth_id: String,
    pub plivo_auth_token: String,
    pub ops_token: String,
}

impl TestTenant {
    pub fn new(id: &str) -> TestTenant {
        let upper: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        TestTenant {
            id: id.to_owned(),
            ucwa_token: format!("cwt=ucwa-all-scopes-{id}-0123456789"),
            ucwa_token_no_scopes: format!("cwt=ucwa-no-scopes-{id}-0123456789"),
            ucwa_token_feedback_only: format!("cwt=ucwa-feedback-only-{id}-0123456789"),
            graph_token: format!("graph-token-{id}-0123456789"),
            graph_token_no_role: format!("graph-token-no-role-{id}-0123456789"),
            plivo_auth_id: format!("MA{:X<18}", &upper[..upper.len().min(18)]),
            plivo_auth_token: format!("plivo-token-{id}-0123456789"),
            ops_token: format!("ops-token-{id}-0123456789"),
        }
    }

    pub fn config(&self) -> Tenant {
        let s = |v: &str| v.parse().expect("test secrets are long enough");
        Tenant {
            id: self.id.clone(),
            ucwa: vec![
                UcwaCredential {
                    token: s(&self.ucwa_token),
                    scopes: callq::config::UCWA_SCOPES
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                },
                UcwaCredential {
                    token: s(&self.ucwa_token_no_scopes),
                    scopes: vec![],
                },
                UcwaCredential {
                    token: s(&self.ucwa_token_feedback_only),
                    scopes: vec!["User.ReadWrite".into()],
                },
            ],
            graph: vec![
                GraphCredential {
                    token: s(&self.graph_token),
                    roles: vec![callq::config::GRAPH_ROLE.into()],
                },
                GraphCredential {
                    token: s(&self.graph_token_no_role),
                    roles: vec!["Calls.Initiate.All".into()],
                },
            ],
            plivo: vec![PlivoCredential {
                auth_id: self.plivo_auth_id.clone(),
                auth_token: s(&self.plivo_auth_token),
            }],
            ops: vec![OpsCredential {
                token: s(&self.ops_token),
            }],
        }
    }
}

/// Settings for a test server on a random loopback port with the given tenants.
pub fn settings(database_url: String, tenants: &[TestTenant]) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(database_url),
        tenants: tenants.iter().map(TestTenant::config).collect(),
        ..Settings::default()
    }
}

/// A real callq server over HTTP, with a client for it.
pub struct TestServer {
    pub server: Server,
    pub base: String,
    pub client: reqwest::Client,
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

    pub async fn start(settings: Settings) -> TestServer {
        let server = Server::start(settings).await.expect("callq starts");
        let base = format!("http://{}", server.addr());
        TestServer {
            server,
            base,
            client: reqwest::Client::builder()
                .no_gzip()
                .build()
                .expect("http client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn store(&self) -> &callq::store::Store {
        &self.server.state().store
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
}
