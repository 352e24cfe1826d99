//! Tenants and their credentials, one type per style, and [`Secret`]: a
//! credential kept only as its SHA-256 digest from the moment it is read.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One customer: its data is kept apart and only its credentials reach it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub id: String,
    #[serde(default)]
    pub ucwa: Vec<UcwaCredential>,
    #[serde(default)]
    pub graph: Vec<GraphCredential>,
    #[serde(default)]
    pub plivo: Vec<PlivoCredential>,
    #[serde(default)]
    pub ops: Vec<OpsCredential>,
    /// This tenant's retention in days, instead of the global
    /// `retention_days` (0: forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
}

/// The UCWA scopes; a credential without a `scopes` key gets them all.
pub const UCWA_SCOPES: &[&str] = &[
    "User.ReadWrite",
    "Conversations.Initiate",
    "Conversations.Receive",
];
/// The Graph application role `logTeleconferenceDeviceQuality` needs.
pub const GRAPH_ROLE: &str = "Calls.AccessMedia.All";

fn all_ucwa_scopes() -> Vec<String> {
    UCWA_SCOPES.iter().map(|s| s.to_string()).collect()
}

fn graph_default_roles() -> Vec<String> {
    vec![GRAPH_ROLE.to_string()]
}

/// `Authorization: Bearer <token>`; the token includes UCWA's `cwt=` prefix.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UcwaCredential {
    pub token: Secret,
    #[serde(default = "all_ucwa_scopes")]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphCredential {
    pub token: Secret,
    #[serde(default = "graph_default_roles")]
    pub roles: Vec<String>,
}

/// HTTP Basic `auth_id:auth_token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlivoCredential {
    pub auth_id: String,
    pub auth_token: Secret,
}

/// `Authorization: Bearer <token>` on the ops read API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsCredential {
    pub token: Secret,
}

/// A secret as its SHA-256 digest. Written in the file either plain or as
/// `sha256:<64 hex digits>`; either way only the digest is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; 32]);

impl Secret {
    /// The digest of a plain secret.
    pub fn from_plain(plain: &str) -> Secret {
        Secret(Sha256::digest(plain.as_bytes()).into())
    }

    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    /// `sha256:<hex>`, the form a generated config file stores.
    pub fn to_config_string(&self) -> String {
        format!("sha256:{}", hex::encode(self.0))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(hex_digest) = s.strip_prefix("sha256:") {
            let bytes = hex::decode(hex_digest)
                .map_err(|_| "a sha256: secret must be 64 hexadecimal digits".to_string())?;
            let digest: [u8; 32] = bytes
                .try_into()
                .map_err(|_| "a sha256: secret must be 64 hexadecimal digits".to_string())?;
            Ok(Secret(digest))
        } else if s.trim().is_empty() {
            Err("a secret must not be empty".into())
        } else if s.len() < 16 {
            Err("a secret must be at least 16 characters long".into())
        } else {
            Ok(Secret::from_plain(s))
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_config_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_accept_plain_and_sha256_forms_and_never_print() {
        let plain: Secret = "a-long-enough-secret".parse().unwrap();
        let hashed: Secret = plain.to_config_string().parse().unwrap();
        assert_eq!(plain, hashed);
        assert_eq!(format!("{plain:?}"), "Secret(***)");
        assert!("short".parse::<Secret>().is_err());
        assert!("sha256:abcd".parse::<Secret>().is_err());
    }
}
