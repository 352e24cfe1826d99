//! The zero-setup start: with no configuration anywhere, `callq serve` writes
//! `callq-data/callq.toml` (mode 0600) with one tenant and freshly generated
//! credentials for every style, and prints them once. The file keeps only
//! SHA-256 digests of the secrets, so a leaked file does not leak them.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use base64::Engine;
use rand::Rng;
use rand::distributions::Alphanumeric;

use super::{ConfigError, Secret};

/// The plain credentials of a generated configuration, shown once.
#[derive(Clone)]
pub struct FirstRun {
    pub tenant: String,
    pub ucwa_token: String,
    pub graph_token: String,
    pub plivo_auth_id: String,
    pub plivo_auth_token: String,
    pub ops_token: String,
}

impl std::fmt::Debug for FirstRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstRun")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill(&mut buf[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

fn random_upper(len: usize) -> String {
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .map(|b| (b as char).to_ascii_uppercase())
        .take(len)
        .collect()
}

impl FirstRun {
    fn generate() -> FirstRun {
        FirstRun {
            tenant: "default".into(),
            ucwa_token: format!("cwt={}", random_token(32)),
            graph_token: random_token(32),
            // Plivo SDKs check client-side: 20 characters starting with MA.
            plivo_auth_id: format!("MA{}", random_upper(18)),
            plivo_auth_token: random_token(30),
            ops_token: random_token(32),
        }
    }

    fn to_toml(&self) -> String {
        let h = |s: &str| Secret::from_plain(s).to_config_string();
        format!(
            r#"# callq configuration, generated on first start.
# Secrets are stored as SHA-256 digests; their plain values were printed once.
# To rotate a secret, replace its value (plain text or "sha256:<hex>") and restart.
listen = "127.0.0.1:8080"
# database_url = "postgres://callq:password@localhost:5432/callq"   # default: sqlite:callq-data/callq.db

[[tenants]]
id = "{tenant}"
ucwa  = [{{ token = "{ucwa}", scopes = ["User.ReadWrite", "Conversations.Initiate", "Conversations.Receive"] }}]
graph = [{{ token = "{graph}", roles = ["Calls.AccessMedia.All"] }}]
plivo = [{{ auth_id = "{auth_id}", auth_token = "{auth_token}" }}]
ops   = [{{ token = "{ops}" }}]
"#,
            tenant = self.tenant,
            ucwa = h(&self.ucwa_token),
            graph = h(&self.graph_token),
            auth_id = self.plivo_auth_id,
            auth_token = h(&self.plivo_auth_token),
            ops = h(&self.ops_token),
        )
    }

    /// What to print once: the credentials and a ready-to-paste curl line per style.
    pub fn banner(&self, listen: SocketAddr, path: &Path) -> String {
        let base = format!("http://{listen}");
        format!(
            r##"
callq generated {path} with one tenant ({tenant}) and these credentials.
They are shown only now (the file keeps SHA-256 digests); save them.

  UCWA   Authorization: Bearer {ucwa}
  Graph  Authorization: Bearer {graph}
  Plivo  auth_id {auth_id}  auth_token {auth_token}
  Ops    Authorization: Bearer {ops}

Try them:

curl -i -H 'Authorization: Bearer {ucwa}' -H 'Content-Type: application/json' \
  -d '{{"mediaEndpoint": "samplevalue", "mediaQualityOfExperience": "samplevalue"}}' \
  {base}/ucwa/v1/applications/192/communication/conversations/137/audioVideo/audioVideoSession/publishCallQualityFeedback

curl -i -H 'Authorization: Bearer {graph}' -H 'Content-Type: application/json' -H 'User-Agent: curl-demo/1.0' \
  -d '{{"quality": {{"callChainId": "0b7f3a5c-3d6a-4f56-9a4e-2d2f8ac2c001", "participantId": "0b7f3a5c-3d6a-4f56-9a4e-2d2f8ac2c002", "mediaLegId": "0b7f3a5c-3d6a-4f56-9a4e-2d2f8ac2c003", "deviceName": "Cisco SX80", "deviceDescription": "VTC Bldg 30/21", "mediaQualityList": [{{"@odata.type": "#microsoft.graph.teleconferenceDeviceAudioQuality", "channelIndex": 1, "averageInboundJitter": "PT0.03S", "averageInboundPacketLossRateInPercentage": 0.5, "averageInboundRoundTripDelay": "PT0.1S"}}]}}}}' \
  {base}/v1.0/communications/calls/logTeleconferenceDeviceQuality

curl -i --user {auth_id}:{auth_token} -H 'Content-Type: application/json' \
  -d '{{"issues": ["AUDIO_LAG"], "rating": "4", "notes": "Call quality was good"}}' \
  {base}/v1/Call/b38149eb-b8fe-45d5-85b2-78ee4424788f/Feedback/

curl -s -H 'Authorization: Bearer {ops}' '{base}/api/v1/reports?limit=10'

Dashboard: open {base}/ui/ and sign in with the Ops token.
"##,
            path = path.display(),
            tenant = self.tenant,
            ucwa = self.ucwa_token,
            graph = self.graph_token,
            auth_id = self.plivo_auth_id,
            auth_token = self.plivo_auth_token,
            ops = self.ops_token,
        )
    }
}

/// Writes a new configuration with generated credentials to `path` (which
/// must not exist yet), readable by its owner only.
pub fn generate_first_run(path: &Path) -> Result<FirstRun, ConfigError> {
    let io_err = |source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let own = dir == Path::new(super::DATA_DIR);
        crate::files::private_dir(dir, own).map_err(io_err)?;
    }
    let creds = FirstRun::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_err)?;
    file.write_all(creds.to_toml().as_bytes()).map_err(io_err)?;
    file.sync_all().map_err(io_err)?;
    // The mode given at creation is filtered by the umask; say it exactly.
    crate::files::tighten_file(path).map_err(io_err)?;
    Ok(creds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_config_loads_and_matches_the_printed_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/callq.toml");
        let creds = generate_first_run(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&creds.ucwa_token),
            "plain secrets must not be stored"
        );
        let settings: super::super::Settings = figment::Figment::from(
            figment::providers::Serialized::defaults(super::super::Settings::default()),
        )
        .merge(<figment::providers::Toml as figment::providers::Format>::file_exact(&path))
        .extract()
        .unwrap();
        let c = crate::auth::Credentials::from_tenants(&settings.tenants);
        assert!(c.ucwa(&creds.ucwa_token).is_some());
        assert!(c.graph(&creds.graph_token).is_some());
        assert!(c.ops(&creds.ops_token).is_some());
        assert!(
            c.plivo(&creds.plivo_auth_id, &creds.plivo_auth_token)
                .is_some()
        );
        assert_eq!(creds.plivo_auth_id.len(), 20);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(generate_first_run(&path).is_err(), "never overwrites");
    }
}
