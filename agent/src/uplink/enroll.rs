//! `wijkagent enroll --collector URL --token TOKEN --state DIR`.
//!
//! The keys are made here and their private halves never leave the machine: an Ed25519 key for
//! signing summaries and an ECDSA P-256 TLS client key, of which wijkpost sees only a CSR. wijkpost's
//! answer is trusted only when its CA certificate has the token's fingerprint and the client
//! certificate carries our key under the agent id it names; only then is anything written.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use ed25519_dalek::SigningKey;
use wijk_protocol::enroll::{fingerprint, EnrollRefusal};
use wijk_protocol::{EnrollRequest, EnrollResponse, EnrollToken};

use super::state::{Enrollment, Identity, State};
use super::UplinkError;

/// Longest wait for wijkpost's answer.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read.
const MAX_ANSWER: u64 = 256 * 1024;

/// Enrolls this agent at `collector` (e.g. `http://127.0.0.1:8080`) with `token`, writing the state
/// into `state_dir`. Returns the identity.
pub fn enroll(collector: &str, token: &str, state_dir: &Path) -> Result<Identity, UplinkError> {
    if let Some(agent) = State::enrolled_agent(state_dir) {
        return Err(UplinkError::AlreadyEnrolled { dir: state_dir.display().to_string(), agent });
    }
    let token = EnrollToken::decode(token).map_err(|e| UplinkError::Token(e.to_string()))?;
    let signing_key = SigningKey::generate(&mut rand::rngs::OsRng);
    let tls_key = rcgen::KeyPair::generate().map_err(|e| UplinkError::Untrusted(format!("key generation: {e}")))?;
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .and_then(|params| params.serialize_request(&tls_key))
        .and_then(|csr| csr.pem())
        .map_err(|e| UplinkError::Untrusted(format!("certificate request: {e}")))?;
    let request = EnrollRequest {
        token_id: token.id.clone(),
        secret: token.secret.clone(),
        signing_key: base64::engine::general_purpose::STANDARD.encode(signing_key.verifying_key().as_bytes()),
        csr_pem: csr,
    };
    let answer = post(collector, &request)?;
    check_answer(&answer, &token, &tls_key)?;
    let identity = Identity {
        agent_id: answer.agent_id.clone(),
        collector: collector.to_string(),
        broker: answer.broker.clone(),
        ca_sha256: token.ca_sha256.clone(),
        enrolled_at: Utc::now(),
    };
    State::save(
        state_dir,
        &Enrollment {
            identity: identity.clone(),
            signing_key,
            client_key_pem: tls_key.serialize_pem(),
            client_cert_pem: answer.client_cert_pem,
            ca_cert_pem: answer.ca_cert_pem,
        },
    )?;
    Ok(identity)
}

/// `POST {collector}/v1/enroll`, the answer or the refusal.
fn post(collector: &str, request: &EnrollRequest) -> Result<EnrollResponse, UplinkError> {
    let url = format!("{}/v1/enroll", collector.trim_end_matches('/'));
    let unreachable = |why: String| UplinkError::Unreachable { target: url.clone(), why };
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(TIMEOUT)).build().into();
    let mut response = agent.post(&url).send_json(request).map_err(|e| unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let body =
        response.body_mut().with_config().limit(MAX_ANSWER).read_to_vec().map_err(|e| unreachable(e.to_string()))?;
    if status == 200 {
        return serde_json::from_slice(&body).map_err(|e| UplinkError::Untrusted(format!("unreadable answer: {e}")));
    }
    match serde_json::from_slice::<EnrollRefusal>(&body) {
        Ok(refusal) => Err(UplinkError::Refused { code: refusal.error, message: refusal.message }),
        Err(_) => Err(unreachable(format!("HTTP {status} without an explanation"))),
    }
}

/// The answer fits the token (CA fingerprint) and our key (client certificate), and the agent id and
/// broker address are well-formed.
fn check_answer(answer: &EnrollResponse, token: &EnrollToken, tls_key: &rcgen::KeyPair) -> Result<(), UplinkError> {
    let untrusted = |why: &str| Err(UplinkError::Untrusted(why.to_string()));
    if !wijk_protocol::is_agent_id(&answer.agent_id) {
        return untrusted("the agent id is malformed");
    }
    if wijk_protocol::parse_broker_url(&answer.broker).is_none() {
        return untrusted("the broker address is not mqtts://HOST:PORT");
    }
    let Some(ca_der) = pem_der(&answer.ca_cert_pem) else { return untrusted("the CA certificate is not PEM") };
    if fingerprint(&ca_der) != token.ca_sha256 {
        return untrusted("the CA certificate's fingerprint differs from the token's");
    }
    let Some(cert_der) = pem_der(&answer.client_cert_pem) else {
        return untrusted("the client certificate is not PEM");
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&cert_der) else {
        return untrusted("the client certificate is unreadable");
    };
    if cert.public_key().subject_public_key.data.as_ref() != tls_key.public_key_raw() {
        return untrusted("the client certificate does not carry the key made here");
    }
    let organisation = cert.subject().iter_organization().next().and_then(|o| o.as_str().ok());
    if organisation != Some(answer.agent_id.as_str()) {
        return untrusted("the client certificate names another agent");
    }
    let Ok((_, ca)) = x509_parser::parse_x509_certificate(&ca_der) else {
        return untrusted("the CA certificate is unreadable");
    };
    if cert.verify_signature(Some(ca.public_key())).is_err() {
        return untrusted("the client certificate is not signed by the CA");
    }
    Ok(())
}

/// The DER of the first PEM block in `pem`.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    Some(block.contents)
}
