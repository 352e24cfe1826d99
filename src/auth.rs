//! Credential lookup shared by the wire styles. Each style parses its own
//! `Authorization` header shape and renders its own 401/403; this module only
//! answers "which tenant, with which grants, owns this secret".
//!
//! Presented secrets are hashed with SHA-256 and compared against every
//! configured digest of the style with a constant-time comparison and no early
//! exit, so response timing says nothing about how close a guess was.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::config::{Secret, Tenant};

/// Who a request is from: the tenant and the scopes or roles its credential grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: Arc<str>,
    pub grants: Arc<[String]>,
}

impl Principal {
    /// True when the credential grants `grant` (a UCWA scope or a Graph role).
    pub fn has(&self, grant: &str) -> bool {
        self.grants.iter().any(|g| g == grant)
    }

    /// True when the credential grants any of `grants`.
    pub fn has_any(&self, grants: &[&str]) -> bool {
        grants.iter().any(|g| self.has(g))
    }
}

struct Entry {
    digest: [u8; 32],
    principal: Principal,
}

/// Every credential of every tenant, by style.
#[derive(Default)]
pub struct Credentials {
    ucwa: Vec<Entry>,
    graph: Vec<Entry>,
    ops: Vec<Entry>,
    /// Plivo's auth id is an account identifier, not a secret: look it up
    /// directly, then compare the token in constant time.
    plivo: HashMap<String, Entry>,
}

impl Credentials {
    pub fn from_tenants(tenants: &[Tenant]) -> Credentials {
        let mut c = Credentials::default();
        for t in tenants {
            let tenant: Arc<str> = Arc::from(t.id.as_str());
            let entry = |secret: &Secret, grants: &[String]| Entry {
                digest: *secret.digest(),
                principal: Principal {
                    tenant: tenant.clone(),
                    grants: grants.into(),
                },
            };
            c.ucwa
                .extend(t.ucwa.iter().map(|k| entry(&k.token, &k.scopes)));
            c.graph
                .extend(t.graph.iter().map(|k| entry(&k.token, &k.roles)));
            c.ops.extend(t.ops.iter().map(|k| entry(&k.token, &[])));
            for k in &t.plivo {
                c.plivo.insert(k.auth_id.clone(), entry(&k.auth_token, &[]));
            }
        }
        c
    }

    /// The UCWA credential whose token is `token` (including its `cwt=` prefix).
    pub fn ucwa(&self, token: &str) -> Option<Principal> {
        find(&self.ucwa, token)
    }

    /// The Graph credential whose bearer token is `token`.
    pub fn graph(&self, token: &str) -> Option<Principal> {
        find(&self.graph, token)
    }

    /// The ops credential whose bearer token is `token`.
    pub fn ops(&self, token: &str) -> Option<Principal> {
        find(&self.ops, token)
    }

    /// The Plivo account `auth_id` if `auth_token` is its token.
    pub fn plivo(&self, auth_id: &str, auth_token: &str) -> Option<Principal> {
        let presented = Secret::from_plain(auth_token);
        match self.plivo.get(auth_id) {
            Some(e) if bool::from(e.digest.ct_eq(presented.digest())) => Some(e.principal.clone()),
            _ => None,
        }
    }
}

fn find(entries: &[Entry], presented: &str) -> Option<Principal> {
    let presented = Secret::from_plain(presented);
    let mut found: u32 = u32::MAX;
    for (i, e) in entries.iter().enumerate() {
        let hit = e.digest.ct_eq(presented.digest());
        found = u32::conditional_select(&found, &(i as u32), hit);
    }
    entries.get(found as usize).map(|e| e.principal.clone())
}

/// The token of an `Authorization: Bearer <token>` header (scheme matched
/// case-insensitively, as RFC 7235 says).
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The user and password of an `Authorization: Basic …` header.
pub fn basic_credentials(headers: &axum::http::HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{OpsCredential, PlivoCredential, UcwaCredential};

    fn tenants() -> Vec<Tenant> {
        vec![
            Tenant {
                id: "a".into(),
                ucwa: vec![UcwaCredential {
                    token: "cwt=aaaaaaaaaaaaaaaaaaaa".parse().unwrap(),
                    scopes: vec!["User.ReadWrite".into()],
                }],
                graph: vec![],
                plivo: vec![PlivoCredential {
                    auth_id: "MAAAAAAAAAAAAAAAAAAA".into(),
                    auth_token: "plivo-token-aaaaaaaa".parse().unwrap(),
                }],
                ops: vec![],
                retention_days: None,
            },
            Tenant {
                id: "b".into(),
                ucwa: vec![UcwaCredential {
                    token: Secret::from_plain("cwt=bbbbbbbbbbbbbbbbbbbb")
                        .to_config_string()
                        .parse()
                        .unwrap(),
                    scopes: vec![],
                }],
                graph: vec![],
                plivo: vec![],
                ops: vec![OpsCredential {
                    token: "ops-token-bbbbbbbbbbbb".parse().unwrap(),
                }],
                retention_days: None,
            },
        ]
    }

    #[test]
    fn tokens_find_their_tenant_and_nothing_else() {
        let c = Credentials::from_tenants(&tenants());
        let a = c.ucwa("cwt=aaaaaaaaaaaaaaaaaaaa").unwrap();
        assert_eq!(&*a.tenant, "a");
        assert!(a.has("User.ReadWrite") && !a.has("Conversations.Initiate"));
        assert_eq!(&*c.ucwa("cwt=bbbbbbbbbbbbbbbbbbbb").unwrap().tenant, "b");
        assert!(c.ucwa("cwt=cccccccccccccccccccc").is_none());
        assert!(
            c.ops("cwt=aaaaaaaaaaaaaaaaaaaa").is_none(),
            "styles are separate"
        );
        assert_eq!(&*c.ops("ops-token-bbbbbbbbbbbb").unwrap().tenant, "b");
    }

    #[test]
    fn plivo_needs_both_the_auth_id_and_its_token() {
        let c = Credentials::from_tenants(&tenants());
        assert!(
            c.plivo("MAAAAAAAAAAAAAAAAAAA", "plivo-token-aaaaaaaa")
                .is_some()
        );
        assert!(c.plivo("MAAAAAAAAAAAAAAAAAAA", "wrong").is_none());
        assert!(
            c.plivo("MABBBBBBBBBBBBBBBBBB", "plivo-token-aaaaaaaa")
                .is_none()
        );
    }

    #[test]
    fn authorization_headers_parse() {
        let mut h = axum::http::HeaderMap::new();
        h.insert("authorization", "Bearer cwt=abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("cwt=abc"));
        h.insert("authorization", "Basic TUFYWDpzZWNyZXQ=".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
        assert_eq!(
            basic_credentials(&h),
            Some(("MAXX".to_string(), "secret".to_string()))
        );
    }
}
