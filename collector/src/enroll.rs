//! One-time enrollment tokens and the enrollment of an agent.
//!
//! VVSG issues a token for one organisation ([`issue_token`]): a random id and a 32-byte random
//! secret, of which only the SHA-256 is stored, plus the CA fingerprint the agent will check. The
//! agent presents id and secret with its Ed25519 summary key and a CSR ([`enroll`]); wijkpost then
//! signs the CSR for a fresh pseudonymous agent id, and consumes the token and stores the agent in
//! one transaction, so a token enrolls exactly one agent and a failed enrollment leaves it unused.
//!
//! A refusal never says whether a token id exists when the secret is wrong: both are
//! `token-unknown`.

use base64::Engine as _;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::RngCore;
use wijk_protocol::enroll::{secret_hash, EnrollRefusal};
use wijk_protocol::{EnrollRequest, EnrollResponse, EnrollToken};

use crate::ca::{Ca, CaError};
use crate::org::Org;
use crate::store::{NewAgent, NewToken, Store, StoreError, TokenOutcome};

/// Largest CSR accepted (a P-256 or Ed25519 CSR is well under 1 KiB; RSA-4096 about 2 KiB).
pub const MAX_CSR_BYTES: usize = 16 * 1024;

/// Why an agent is not enrolled. [`Refusal::code`] is the `error` of the wire refusal.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No such token, or a wrong secret.
    #[error("token-unknown")]
    TokenUnknown,
    /// The token was used before.
    #[error("token-used")]
    TokenUsed,
    /// The token has expired.
    #[error("token-expired")]
    TokenExpired,
    /// The request itself is unusable.
    #[error("bad-request: {0}")]
    BadRequest(String),
    /// wijkpost could not finish (storage); nothing was changed.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl Refusal {
    /// The short code sent to the agent.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::TokenUnknown => "token-unknown",
            Refusal::TokenUsed => "token-used",
            Refusal::TokenExpired => "token-expired",
            Refusal::BadRequest(_) => "bad-request",
            Refusal::Unavailable(_) => "unavailable",
        }
    }

    /// What is wrong and what to do, in English (the agent translates by code).
    pub fn message(&self) -> String {
        match self {
            Refusal::TokenUnknown => {
                "This token is not known to this wijkpost, or its secret is wrong. Check that the \
                                      whole token line was copied, or ask VVSG for a new token."
                    .into()
            }
            Refusal::TokenUsed => {
                "This token has already enrolled an agent, and a token works only once. Ask VVSG for a new token."
                    .into()
            }
            Refusal::TokenExpired => "This token has expired. Ask VVSG for a new token.".into(),
            Refusal::BadRequest(why) => format!(
                "The enrollment request cannot be used: {why}. The token was not used; check that wijkagent and \
                 wijkpost versions match."
            ),
            Refusal::Unavailable(_) => {
                "wijkpost could not complete the enrollment; the token was not used. Try again later.".into()
            }
        }
    }

    /// The JSON body of the refusal.
    pub fn to_wire(&self) -> EnrollRefusal {
        EnrollRefusal { error: self.code().to_string(), message: self.message() }
    }
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The organisation name is empty or too long.
    #[error("organisation name must be 1 to 200 characters")]
    BadName,
    /// The validity is negative or absurdly long.
    #[error("validity must be 0 to 365 days")]
    BadValidity,
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Issues a one-time token for `org`, valid from `now` for `valid_for`, and stores it (the secret's
/// hash only).
pub fn issue_token(
    store: &mut dyn Store,
    ca: &Ca,
    org: Org,
    valid_for: Duration,
    now: DateTime<Utc>,
) -> Result<EnrollToken, IssueError> {
    let name_len = org.name.trim().chars().count();
    if name_len == 0 || name_len > 200 {
        return Err(IssueError::BadName);
    }
    if valid_for < Duration::zero() || valid_for > Duration::days(365) {
        return Err(IssueError::BadValidity);
    }
    let org = Org { name: org.name.trim().to_string(), ..org };
    let token = EnrollToken {
        id: random_hex(8),
        secret: random_hex(32),
        ca_sha256: ca.fingerprint(),
        expires: (now + valid_for).to_rfc3339_opts(SecondsFormat::Secs, true),
    };
    store.insert_token(&NewToken {
        id: token.id.clone(),
        secret_hash: secret_hash(&token.secret),
        org,
        created_at: now,
        expires_at: now + valid_for,
    })?;
    Ok(token)
}

/// A fresh pseudonymous agent id: 24 lowercase hex characters.
pub fn new_agent_id() -> String {
    random_hex(12)
}

fn signing_key(b64: &str) -> Result<[u8; 32], Refusal> {
    let bad = |why: &str| Refusal::BadRequest(format!("signing_key {why}"));
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| bad("is not base64"))?;
    let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| bad("is not 32 bytes"))?;
    let public = ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|_| bad("is not an Ed25519 public key"))?;
    if public.is_weak() {
        // A small-order key verifies forged signatures under the rules ingest checks with.
        return Err(bad("is a small-order (weak) Ed25519 key; create the agent's keys again"));
    }
    Ok(key)
}

/// Enrolls an agent: checks the request, signs its CSR for a new agent id, consumes the token and
/// stores the agent. `broker` is the address handed to the agent (`mqtts://HOST:PORT`).
pub fn enroll(
    store: &mut dyn Store,
    ca: &Ca,
    req: &EnrollRequest,
    broker: &str,
    now: DateTime<Utc>,
) -> Result<EnrollResponse, Refusal> {
    if req.token_id.is_empty() || req.token_id.len() > 64 || req.secret.len() > 128 {
        return Err(Refusal::TokenUnknown);
    }
    let key = signing_key(&req.signing_key)?;
    if req.csr_pem.len() > MAX_CSR_BYTES {
        return Err(Refusal::BadRequest(format!("csr_pem is larger than {MAX_CSR_BYTES} bytes")));
    }
    let agent_id = new_agent_id();
    let cert = ca.sign_agent_csr(&req.csr_pem, &agent_id).map_err(|e| match e {
        CaError::BadCsr(why) => Refusal::BadRequest(format!("csr_pem: {why}")),
        other => Refusal::Unavailable(other.to_string()),
    })?;
    let agent = NewAgent { id: agent_id.clone(), signing_key: key, cert_serial: cert.serial };
    let outcome = store
        .enroll_agent(&req.token_id, &secret_hash(&req.secret), now, &agent)
        .map_err(|e| Refusal::Unavailable(e.to_string()))?;
    match outcome {
        TokenOutcome::Consumed(_) => Ok(EnrollResponse {
            agent_id,
            client_cert_pem: cert.cert_pem,
            ca_cert_pem: ca.cert_pem().to_string(),
            broker: broker.to_string(),
        }),
        TokenOutcome::Unknown => Err(Refusal::TokenUnknown),
        TokenOutcome::Used => Err(Refusal::TokenUsed),
        TokenOutcome::Expired => Err(Refusal::TokenExpired),
    }
}

#[cfg(test)]
#[path = "enroll_tests.rs"]
mod tests;
