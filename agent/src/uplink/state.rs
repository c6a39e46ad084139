//! The state directory (`--state DIR`, mode 0700) that enrollment fills and push reads:
//!
//! | file | content |
//! |---|---|
//! | `signing.key` (0600) | the agent's Ed25519 key for summaries: `wijkagent-signing-key/1`, then base64 |
//! | `client.key` (0600) | the TLS client key (PKCS#8 PEM, ECDSA P-256) |
//! | `client.crt` | the client certificate wijkpost's CA signed (Organization = agent id) |
//! | `ca.crt` | wijkpost's CA certificate, trusted for the broker |
//! | `identity.json` | agent id, collector URL, broker address, CA fingerprint, enrollment time |
//! | `outbox/` | the [`crate::outbox`] |
//! | `advice.json` | the latest advice wijkpost keeps for this agent |
//!
//! `identity.json` is written last, so a directory with it holds a whole enrollment.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use super::UplinkError;
use crate::fsutil;
use crate::outbox::Outbox;

/// Identity file name.
pub const IDENTITY: &str = "identity.json";
/// Signing key file name.
pub const SIGNING_KEY: &str = "signing.key";
/// TLS client key file name.
pub const CLIENT_KEY: &str = "client.key";
/// Client certificate file name.
pub const CLIENT_CERT: &str = "client.crt";
/// CA certificate file name.
pub const CA_CERT: &str = "ca.crt";
/// Latest advice file name.
pub const ADVICE: &str = "advice.json";

const SIGNING_KEY_MAGIC: &str = "wijkagent-signing-key/1";

/// Who this agent is to wijkpost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Pseudonymous agent id.
    pub agent_id: String,
    /// wijkpost's enrollment URL as given to `enroll`.
    pub collector: String,
    /// Broker address, `mqtts://HOST:PORT`.
    pub broker: String,
    /// SHA-256 of wijkpost's CA certificate (the token's).
    pub ca_sha256: String,
    /// When the agent enrolled.
    pub enrolled_at: DateTime<Utc>,
}

/// Everything an enrollment produced, to be written at once.
#[derive(Debug)]
pub struct Enrollment {
    /// Identity.
    pub identity: Identity,
    /// Ed25519 key for summaries.
    pub signing_key: SigningKey,
    /// TLS client key, PEM.
    pub client_key_pem: String,
    /// Client certificate, PEM.
    pub client_cert_pem: String,
    /// CA certificate, PEM.
    pub ca_cert_pem: String,
}

/// An enrolled state directory.
#[derive(Debug)]
pub struct State {
    /// The directory.
    pub dir: PathBuf,
    /// Who the agent is.
    pub identity: Identity,
    /// Key for summaries.
    pub signing_key: SigningKey,
}

fn state_err(path: &Path, why: impl ToString) -> UplinkError {
    UplinkError::State { path: path.display().to_string(), why: why.to_string() }
}

impl State {
    /// Reads the enrollment in `dir`.
    pub fn load(dir: &Path) -> Result<State, UplinkError> {
        let id_path = dir.join(IDENTITY);
        let text = match std::fs::read_to_string(&id_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(UplinkError::NotEnrolled { dir: dir.display().to_string() })
            }
            Err(e) => return Err(state_err(&id_path, e)),
        };
        let identity: Identity = serde_json::from_str(&text).map_err(|e| state_err(&id_path, e))?;
        if !wijk_protocol::is_agent_id(&identity.agent_id) {
            return Err(state_err(&id_path, "agent_id is not an agent id"));
        }
        let key_path = dir.join(SIGNING_KEY);
        let key_text = std::fs::read_to_string(&key_path).map_err(|e| state_err(&key_path, e))?;
        let signing_key = parse_signing_key(&key_text).ok_or_else(|| state_err(&key_path, "not a signing key"))?;
        Ok(State { dir: dir.to_path_buf(), identity, signing_key })
    }

    /// Whether `dir` holds an enrollment, and of which agent.
    pub fn enrolled_agent(dir: &Path) -> Option<String> {
        State::load(dir).ok().map(|s| s.identity.agent_id)
    }

    /// Writes a whole enrollment into `dir` (created 0700): keys 0600 first, identity last.
    pub fn save(dir: &Path, e: &Enrollment) -> Result<(), UplinkError> {
        fsutil::create_dir(dir, 0o700).map_err(|err| state_err(dir, err))?;
        let key_text = format!(
            "{SIGNING_KEY_MAGIC}\n{}\n",
            base64::engine::general_purpose::STANDARD.encode(e.signing_key.to_bytes())
        );
        let identity = serde_json::to_string_pretty(&e.identity).map_err(|err| state_err(dir, err))? + "\n";
        let files: [(&str, &str, u32); 5] = [
            (SIGNING_KEY, &key_text, 0o600),
            (CLIENT_KEY, &e.client_key_pem, 0o600),
            (CLIENT_CERT, &e.client_cert_pem, 0o644),
            (CA_CERT, &e.ca_cert_pem, 0o644),
            (IDENTITY, &identity, 0o644),
        ];
        for (name, text, mode) in files {
            let path = dir.join(name);
            fsutil::write_atomic(&path, text.as_bytes(), mode).map_err(|err| state_err(&path, err))?;
        }
        Ok(())
    }

    /// Reads a PEM file of the state directory.
    pub fn read(&self, name: &str) -> Result<String, UplinkError> {
        let path = self.dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| state_err(&path, e))
    }

    /// The outbox.
    pub fn outbox(&self) -> Result<Outbox, UplinkError> {
        Ok(Outbox::open(&self.dir)?)
    }

    /// Stores the latest advice payload.
    pub fn save_advice(&self, payload: &[u8]) -> Result<(), UplinkError> {
        let path = self.dir.join(ADVICE);
        fsutil::write_atomic(&path, payload, 0o644).map_err(|e| state_err(&path, e))
    }

    /// The broker's host and port from `mqtts://HOST:PORT` (IPv6 in brackets).
    pub fn broker_address(&self) -> Result<(String, u16), UplinkError> {
        wijk_protocol::parse_broker_url(&self.identity.broker).ok_or_else(|| {
            state_err(&self.dir.join(IDENTITY), format!("broker {:?} is not mqtts://HOST:PORT", self.identity.broker))
        })
    }
}

/// The advice `push` stored in `dir`: `Ok(None)` when there is none yet, `Err` (saying which file
/// and why) when the file cannot be read as advice.
pub fn stored_advice(dir: &Path) -> Result<Option<wijk_protocol::Advice>, String> {
    let path = dir.join(ADVICE);
    match std::fs::read(&path) {
        Ok(bytes) => wijk_protocol::Advice::decode(&bytes)
            .map(Some)
            .ok_or_else(|| format!("{}: no readable advice from wijkpost", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn parse_signing_key(text: &str) -> Option<SigningKey> {
    let mut lines = text.lines();
    (lines.next()? == SIGNING_KEY_MAGIC).then_some(())?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(lines.next()?.trim()).ok()?;
    Some(SigningKey::from_bytes(&bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enrollment_round_trips_with_private_files_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state_dir = dir.path().join("state");
        let enrollment = Enrollment {
            identity: Identity {
                agent_id: "0123456789abcdef01234567".into(),
                collector: "http://127.0.0.1:8080".into(),
                broker: "mqtts://127.0.0.1:8883".into(),
                ca_sha256: "ab".repeat(32),
                enrolled_at: Utc::now(),
            },
            signing_key: SigningKey::from_bytes(&[7; 32]),
            client_key_pem: "KEY".into(),
            client_cert_pem: "CERT".into(),
            ca_cert_pem: "CA".into(),
        };
        assert!(matches!(State::load(&state_dir), Err(UplinkError::NotEnrolled { .. })));
        State::save(&state_dir, &enrollment).expect("save");
        let state = State::load(&state_dir).expect("load");
        assert_eq!(state.identity, enrollment.identity);
        assert_eq!(state.signing_key.to_bytes(), [7; 32]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |name: &str| std::fs::metadata(state_dir.join(name)).expect("meta").permissions().mode() & 0o777;
            assert_eq!((mode(SIGNING_KEY), mode(CLIENT_KEY)), (0o600, 0o600));
            assert_eq!(std::fs::metadata(&state_dir).expect("meta").permissions().mode() & 0o777, 0o700);
        }
    }
}
