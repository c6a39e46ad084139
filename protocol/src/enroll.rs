//! Enrollment: the one-time token VVSG hands to a municipality, and the request and answer of
//! `POST /v1/enroll`.
//!
//! A token reads `wijk1.` followed by base64url (no padding) of a small JSON object: the token's id
//! and secret (wijkpost keeps only the secret's SHA-256), the SHA-256 fingerprint of wijkpost's CA
//! certificate, and when it expires. The agent trusts the CA certificate it receives only when its
//! fingerprint is the token's, so a token carries the trust anchor with it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Prefix of every token of this version.
pub const TOKEN_PREFIX: &str = "wijk1.";

/// The content of a one-time enrollment token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollToken {
    /// Token id (public, names the token in wijkpost's records).
    pub id: String,
    /// Secret (32 random bytes, hex).
    pub secret: String,
    /// SHA-256 of the DER of wijkpost's CA certificate (hex, lowercase).
    pub ca_sha256: String,
    /// Expiry (RFC 3339), for the agent's message; wijkpost's own record decides.
    pub expires: String,
}

/// Why a token string cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Wrong prefix.
    #[error("does not start with {TOKEN_PREFIX}")]
    Prefix,
    /// Not base64url or not the JSON of a token.
    #[error("damaged: {0}")]
    Damaged(String),
}

impl EnrollToken {
    /// The token as one line of text.
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
    }

    /// Reads a token line (surrounding white space ignored).
    pub fn decode(text: &str) -> Result<EnrollToken, TokenError> {
        use base64::Engine as _;
        let body = text.trim().strip_prefix(TOKEN_PREFIX).ok_or(TokenError::Prefix)?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| TokenError::Damaged(e.to_string()))?;
        let token: EnrollToken = serde_json::from_slice(&json).map_err(|e| TokenError::Damaged(e.to_string()))?;
        let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex64(&token.secret) || !hex64(&token.ca_sha256) || token.id.is_empty() || token.id.len() > 64 {
            return Err(TokenError::Damaged("fields out of shape".into()));
        }
        Ok(token)
    }
}

/// SHA-256 of `der`, hex lowercase: the form of [`EnrollToken::ca_sha256`].
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// SHA-256 of a token secret, hex: what wijkpost stores instead of the secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `POST /v1/enroll` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// Token id.
    pub token_id: String,
    /// Token secret.
    pub secret: String,
    /// The agent's Ed25519 public key for summaries (base64, 32 bytes).
    pub signing_key: String,
    /// PEM certificate signing request for the agent's TLS client key (its subject is ignored).
    pub csr_pem: String,
}

/// `POST /v1/enroll` answer on success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollResponse {
    /// The pseudonymous agent id (also the certificate's Organization, the broker tenant).
    pub agent_id: String,
    /// The agent's TLS client certificate (PEM), signed by wijkpost's CA.
    pub client_cert_pem: String,
    /// wijkpost's CA certificate (PEM); its fingerprint is the token's `ca_sha256`.
    pub ca_cert_pem: String,
    /// Where the agent publishes: `mqtts://HOST:PORT`.
    pub broker: String,
}

/// `POST /v1/enroll` answer on refusal (HTTP 4xx).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRefusal {
    /// `token-unknown`, `token-used`, `token-expired`, `bad-request`.
    pub error: String,
    /// What is wrong and what to do, in English (the agent translates by `error`).
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> EnrollToken {
        EnrollToken {
            id: "t1".into(),
            secret: "ab".repeat(32),
            ca_sha256: "cd".repeat(32),
            expires: "2026-12-07T00:00:00Z".into(),
        }
    }

    #[test]
    fn tokens_round_trip_as_one_line() {
        let line = token().encode();
        assert!(line.starts_with(TOKEN_PREFIX) && !line.contains(['\n', ' ', '=']));
        assert_eq!(EnrollToken::decode(&format!("  {line}\n")), Ok(token()));
    }

    #[test]
    fn damaged_tokens_say_so() {
        let line = token().encode();
        assert_eq!(EnrollToken::decode(&line[1..]), Err(TokenError::Prefix));
        assert!(matches!(EnrollToken::decode(&format!("{line}!")), Err(TokenError::Damaged(_))));
        let short = EnrollToken { secret: "ab".into(), ..token() }.encode();
        assert!(matches!(EnrollToken::decode(&short), Err(TokenError::Damaged(_))));
    }
}
