//! Test tenants: credentials for every style derived from the tenant's name,
//! and the settings of a test server that knows them.

use callq::config::{
    GRAPH_ROLE, GraphCredential, OpsCredential, PlivoCredential, Settings, Tenant, UCWA_SCOPES,
    UcwaCredential,
};

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

    /// The `Authorization` header value of the tenant's Plivo credentials.
    pub fn plivo_authorization(&self) -> String {
        use base64::Engine;
        let pair = format!("{}:{}", self.plivo_auth_id, self.plivo_auth_token);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    pub fn config(&self) -> Tenant {
        let s = |v: &str| v.parse().expect("test secrets are long enough");
        Tenant {
            id: self.id.clone(),
            ucwa: vec![
                UcwaCredential {
                    token: s(&self.ucwa_token),
                    scopes: UCWA_SCOPES.iter().map(|s| s.to_string()).collect(),
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
                    roles: vec![GRAPH_ROLE.into()],
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
            retention_days: None,
        }
    }
}

/// Settings for a test server on a random loopback port with the given tenants.
pub fn settings(database_url: String, tenants: &[TestTenant]) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(database_url),
        tenants: tenants.iter().map(TestTenant::config).collect(),
        // Statistics stay exact raw answers unless a test rolls up itself
        // (tests/it/rollups.rs), whatever the time a test takes.
        rollup_interval_secs: 0,
        ..Settings::default()
    }
}
