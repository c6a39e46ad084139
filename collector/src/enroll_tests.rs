use rcgen::{CertificateParams, KeyPair};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::*;
use crate::org::{Province, Sector, SizeClass};
use crate::store::sqlite::SqliteStore;

struct Setup {
    _tmp: tempfile::TempDir,
    store: SqliteStore,
    ca: Ca,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("tmp");
    let ca = Ca::open_or_create(tmp.path()).expect("ca");
    let store = SqliteStore::open(&tmp.path().join("wijkpost.db")).expect("store");
    Setup { _tmp: tmp, store, ca }
}

fn org() -> Org {
    Org {
        name: " OCMW Voorbeeld ".into(),
        sector: Sector::Ocmw,
        size_class: SizeClass::UpTo10k,
        province: Province::Limburg,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_000_000, 0).unwrap_or_default()
}

fn request(token: &EnrollToken) -> EnrollRequest {
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let tls = KeyPair::generate().expect("key");
    EnrollRequest {
        token_id: token.id.clone(),
        secret: token.secret.clone(),
        signing_key: base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes()),
        csr_pem: CertificateParams::default().serialize_request(&tls).expect("csr").pem().expect("pem"),
    }
}

#[test]
fn a_token_enrolls_one_agent_once() {
    let mut s = setup();
    let token = issue_token(&mut s.store, &s.ca, org(), Duration::days(7), now()).expect("issue");
    assert_eq!(EnrollToken::decode(&token.encode()).as_ref(), Ok(&token));
    assert_eq!(token.ca_sha256, s.ca.fingerprint());
    assert_eq!(token.expires, "2026-12-07T00:53:20Z");

    let req = request(&token);
    let answer = enroll(&mut s.store, &s.ca, &req, "mqtts://127.0.0.1:8883", now()).expect("enrolled");
    assert!(wijk_protocol::is_agent_id(&answer.agent_id) && answer.agent_id.len() == 24);
    assert_eq!((answer.broker.as_str(), answer.ca_cert_pem.as_str()), ("mqtts://127.0.0.1:8883", s.ca.cert_pem()));
    let der = x509_parser::pem::parse_x509_pem(answer.client_cert_pem.as_bytes()).expect("pem").1.contents;
    let (_, cert) = X509Certificate::from_der(&der).expect("cert");
    let o: Vec<_> = cert.subject().iter_organization().filter_map(|o| o.as_str().ok()).collect();
    assert_eq!(o, vec![answer.agent_id.as_str()]);

    let agent = s.store.agent(&answer.agent_id).expect("agent").expect("stored");
    assert_eq!(agent.org, Org { name: "OCMW Voorbeeld".into(), ..org() });
    assert_eq!(base64::engine::general_purpose::STANDARD.encode(agent.signing_key), req.signing_key);

    let again = enroll(&mut s.store, &s.ca, &request(&token), "mqtts://x", now());
    assert!(matches!(again, Err(Refusal::TokenUsed)), "{again:?}");
}

#[test]
fn forged_expired_and_unusable_requests_are_refused_without_using_the_token() {
    let mut s = setup();
    let token = issue_token(&mut s.store, &s.ca, org(), Duration::days(1), now()).expect("issue");
    let refuse =
        |s: &mut Setup, req: &EnrollRequest, at| enroll(&mut s.store, &s.ca, req, "b", at).expect_err("refused");

    let forged = EnrollRequest { secret: "00".repeat(32), ..request(&token) };
    assert_eq!(refuse(&mut s, &forged, now()).code(), "token-unknown");
    let stranger = EnrollRequest { token_id: "nosuchtoken".into(), ..request(&token) };
    assert_eq!(refuse(&mut s, &stranger, now()).code(), "token-unknown");
    // The identity point (y = 1): a valid encoding, but of a small-order key.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = base64::engine::general_purpose::STANDARD.encode(identity);
    for bad_key in ["not base64!", "AAAA", "", &weak] {
        let req = EnrollRequest { signing_key: bad_key.into(), ..request(&token) };
        let r = refuse(&mut s, &req, now());
        assert_eq!(r.code(), "bad-request");
        assert!(r.message().contains("signing_key"), "{}", r.message());
    }
    let req = EnrollRequest { signing_key: weak, ..request(&token) };
    assert!(refuse(&mut s, &req, now()).message().contains("small-order"));
    let req = EnrollRequest { csr_pem: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n".into(), ..request(&token) };
    assert_eq!(refuse(&mut s, &req, now()).code(), "bad-request");
    let req = EnrollRequest { csr_pem: "x".repeat(MAX_CSR_BYTES + 1), ..request(&token) };
    assert_eq!(refuse(&mut s, &req, now()).code(), "bad-request");

    assert_eq!(refuse(&mut s, &request(&token), now() + Duration::days(1)).code(), "token-expired");
    // None of these used the token.
    enroll(&mut s.store, &s.ca, &request(&token), "b", now()).expect("still good");
    assert!(
        Refusal::TokenExpired.message().contains("ask VVSG for a new token")
            || Refusal::TokenExpired.message().contains("Ask VVSG")
    );
}

#[test]
fn issuing_checks_its_input() {
    let mut s = setup();
    let nameless = Org { name: "  ".into(), ..org() };
    assert!(matches!(issue_token(&mut s.store, &s.ca, nameless, Duration::days(1), now()), Err(IssueError::BadName)));
    assert!(matches!(issue_token(&mut s.store, &s.ca, org(), Duration::days(-1), now()), Err(IssueError::BadValidity)));
    let zero = issue_token(&mut s.store, &s.ca, org(), Duration::zero(), now()).expect("zero days");
    let r = enroll(&mut s.store, &s.ca, &request(&zero), "b", now()).expect_err("expired at once");
    assert_eq!(r.code(), "token-expired");
}
