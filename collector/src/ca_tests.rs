use std::os::unix::fs::PermissionsExt;

use rcgen::{CertificateParams, DnType, KeyPair};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::*;

const AGENT: &str = "0123456789abcdef01234567";

fn parse(pem: &str) -> Vec<u8> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem").1.contents
}

fn hostile_csr() -> String {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["evil.example".to_string()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, "wijkpost CA");
    params.distinguished_name.push(DnType::OrganizationName, "othertenant");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.serialize_request(&key).expect("csr").pem().expect("pem")
}

#[test]
fn the_ca_is_created_once_and_loaded_after() {
    let tmp = tempfile::tempdir().expect("tmp");
    let ca = Ca::open_or_create(tmp.path()).expect("create");
    let again = Ca::open_or_create(tmp.path()).expect("load");
    assert_eq!(ca.fingerprint(), again.fingerprint());
    assert_eq!(ca.fingerprint(), wijk_protocol::enroll::fingerprint(&parse(ca.cert_pem())));
    let mode = |p: &str| std::fs::metadata(tmp.path().join(p)).expect("meta").permissions().mode() & 0o777;
    assert_eq!((mode("ca"), mode("ca/ca.key")), (0o700, 0o600));
    let (_, cert) = X509Certificate::from_der(ca.cert_der()).expect("der");
    assert!(cert.is_ca());
    assert_eq!(cert.subject().iter_common_name().next().and_then(|c| c.as_str().ok()), Some(CA_NAME));
    let years = (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp()) / (365 * 86_400);
    assert_eq!(years, 10);

    // A certificate signed by the loaded CA chains to the created one.
    let signed = again.sign_agent_csr(&hostile_csr(), AGENT).expect("sign");
    let der = parse(&signed.cert_pem);
    let (_, leaf) = X509Certificate::from_der(&der).expect("leaf");
    leaf.verify_signature(Some(cert.public_key())).expect("chains to the CA");
}

#[test]
fn a_half_ca_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    Ca::open_or_create(tmp.path()).expect("create");
    std::fs::remove_file(tmp.path().join("ca/ca.crt")).expect("rm");
    assert!(matches!(Ca::open_or_create(tmp.path()), Err(CaError::Incomplete(_))));
}

#[test]
fn a_hostile_subject_still_gets_the_agent_id() {
    let tmp = tempfile::tempdir().expect("tmp");
    let ca = Ca::open_or_create(tmp.path()).expect("ca");
    let signed = ca.sign_agent_csr(&hostile_csr(), AGENT).expect("sign");
    assert_eq!(signed.serial.len(), 32);
    let der = parse(&signed.cert_pem);
    let (_, cert) = X509Certificate::from_der(&der).expect("cert");
    let o: Vec<_> = cert.subject().iter_organization().filter_map(|o| o.as_str().ok()).collect();
    let cn: Vec<_> = cert.subject().iter_common_name().filter_map(|o| o.as_str().ok()).collect();
    assert_eq!((o, cn), (vec![AGENT], vec![AGENT]));
    assert!(!cert.is_ca());
    assert!(cert.subject_alternative_name().expect("san").is_none(), "no SAN from the request");
    let eku = cert.extended_key_usage().expect("eku").expect("present").value;
    assert!(eku.client_auth && !eku.server_auth);
    let (_, ca_cert) = X509Certificate::from_der(ca.cert_der()).expect("ca");
    cert.verify_signature(Some(ca_cert.public_key())).expect("verifies against the CA");
    assert_eq!(cert.issuer(), ca_cert.subject());
}

#[test]
fn unusable_requests_are_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let ca = Ca::open_or_create(tmp.path()).expect("ca");
    assert!(matches!(ca.sign_agent_csr("garbage", AGENT), Err(CaError::BadCsr(_))));
    assert!(matches!(ca.sign_agent_csr(&hostile_csr(), "Not-An-Id"), Err(CaError::BadCsr(_))));
    // A request whose signature does not match its content (one byte of the key changed).
    let key = KeyPair::generate().expect("key");
    let csr = CertificateParams::default().serialize_request(&key).expect("csr");
    let mut der = csr.der().to_vec();
    let at = der.len() - 80;
    der[at] ^= 1;
    let pem = format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der)
    );
    assert!(matches!(ca.sign_agent_csr(&pem, AGENT), Err(CaError::BadCsr(_))));
}

#[test]
fn the_server_certificate_is_reused_while_it_fits() {
    let tmp = tempfile::tempdir().expect("tmp");
    let ca = Ca::open_or_create(tmp.path()).expect("ca");
    let first = ca.issue_server_cert(&["wijkpost.example".into()]).expect("issue");
    let mode = std::fs::metadata(&first.key_path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let again = ca.issue_server_cert(&["wijkpost.example".into()]).expect("again");
    assert_eq!(first.cert_pem, again.cert_pem);
    let fewer = ca.issue_server_cert(&[]).expect("subset");
    assert_eq!(first.cert_pem, fewer.cert_pem, "a subset of the names is served by the same certificate");
    let other = ca.issue_server_cert(&["10.0.0.1".into()]).expect("other");
    assert_ne!(first.cert_pem, other.cert_pem);

    let der = parse(&other.cert_pem);
    let (_, cert) = X509Certificate::from_der(&der).expect("cert");
    let eku = cert.extended_key_usage().expect("eku").expect("present").value;
    assert!(eku.server_auth && !eku.client_auth);
    let names = format!("{:?}", cert.subject_alternative_name().expect("san").expect("present").value);
    for n in ["[127, 0, 0, 1]", "\"localhost\"", "[10, 0, 0, 1]"] {
        assert!(names.contains(n), "{n} missing from {names}");
    }
    assert!(matches!(ca.issue_server_cert(&["bad name".into()]), Err(CaError::BadName(_))));
}

#[test]
fn rustls_accepts_the_agent_certificate_as_a_client_and_the_server_certificate_for_loopback() {
    use std::sync::Arc;

    use rustls::client::danger::ServerCertVerifier;
    use rustls::client::WebPkiServerVerifier;
    use rustls::pki_types::{ServerName, UnixTime};
    use rustls::server::WebPkiClientVerifier;

    let tmp = tempfile::tempdir().expect("tmp");
    let ca = Ca::open_or_create(tmp.path()).expect("ca");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.cert_der().to_vec())).expect("root");
    let roots = Arc::new(roots);
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    let clients =
        WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone()).build().expect("verifier");
    let agent = CertificateDer::from(parse(&ca.sign_agent_csr(&hostile_csr(), AGENT).expect("sign").cert_pem));
    clients.verify_client_cert(&agent, &[], UnixTime::now()).expect("a valid client certificate");

    let servers = WebPkiServerVerifier::builder_with_provider(roots, provider).build().expect("verifier");
    let server = CertificateDer::from(parse(&ca.issue_server_cert(&[]).expect("server").cert_pem));
    for name in ["127.0.0.1", "::1", "localhost"] {
        let name = ServerName::try_from(name).expect("name");
        servers.verify_server_cert(&server, &[], &name, &[], UnixTime::now()).expect("valid for loopback");
    }
    // The agent's certificate is no server certificate, whatever its request asked for.
    let name = ServerName::try_from("evil.example").expect("name");
    assert!(servers.verify_server_cert(&agent, &[], &name, &[], UnixTime::now()).is_err());
}
