//! Enrollment against the real binary: `wijkpost serve --web 127.0.0.1:0` (its address read from its
//! own log), tokens from `wijkpost token`, requests with a real CSR and Ed25519 key. Loopback only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use rcgen::{CertificateParams, DnType, KeyPair};
use serde_json::Value;
use wijk_protocol::enroll::{fingerprint, EnrollRefusal};
use wijk_protocol::{EnrollRequest, EnrollResponse, EnrollToken};
use x509_parser::prelude::{FromDer, X509Certificate};

const BIN: &str = env!("CARGO_BIN_EXE_wijkpost");

/// A running `wijkpost serve`, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(data: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--data"])
            .arg(data)
            .args(["--web", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"])
            .args(extra)
            .env("WIJKPOST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wijkpost serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[wijkpost] {line}");
                if let Some((_, url)) = line.split_once("web listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = rx.recv_timeout(Duration::from_secs(60)).expect("wijkpost printed its address");
        let addr = url.split_once("://").map(|(_, a)| a.to_string()).expect("url");
        Server { child, addr }
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("wijkpost did not stop within 10 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(data: &Path, valid_days: &str) -> EnrollToken {
    let out = Command::new(BIN)
        .args(["token", "--data"])
        .arg(data)
        .args(["--org", "Gemeente Voorbeeld", "--sector", "gemeente", "--size-class", "10k-25k"])
        .args(["--province", "oost-vlaanderen", "--valid-days", valid_days])
        .output()
        .expect("wijkpost token");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let explained = String::from_utf8_lossy(&out.stderr);
    assert!(explained.contains("Gemeente Voorbeeld") && explained.contains("Geldig tot"), "{explained}");
    EnrollToken::decode(&String::from_utf8_lossy(&out.stdout)).expect("token line")
}

/// One HTTP/1.1 request over `stream`; returns status and body.
fn exchange(mut stream: impl Read + Write, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: wijkpost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    // A server may answer (413) before the whole body is sent; that is not the test's concern.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
    (status, answer[split + 4..].to_vec())
}

fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    exchange(stream, method, path, body)
}

fn request(token: &EnrollToken) -> EnrollRequest {
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let tls = KeyPair::generate().expect("key");
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::OrganizationName, "someoneelse");
    EnrollRequest {
        token_id: token.id.clone(),
        secret: token.secret.clone(),
        signing_key: base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes()),
        csr_pem: params.serialize_request(&tls).expect("csr").pem().expect("pem"),
    }
}

fn enroll(addr: &str, req: &EnrollRequest) -> (u16, Vec<u8>) {
    http(addr, "POST", "/v1/enroll", &serde_json::to_vec(req).expect("json"))
}

fn refusal(body: &[u8]) -> EnrollRefusal {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("not a refusal ({e}): {}", String::from_utf8_lossy(body)))
}

fn der(pem: &str) -> Vec<u8> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem").1.contents
}

#[test]
fn enrollment_end_to_end() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let good = token(&data, "7");
    let server = Server::start(&data, &[]);
    let addr = server.addr.as_str();
    assert_eq!(http(addr, "GET", "/healthz", b""), (200, b"ok\n".to_vec()));

    // Enrolled: a pseudonymous id, a certificate for it from the CA the token names.
    let (status, body) = enroll(addr, &request(&good));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: EnrollResponse = serde_json::from_slice(&body).expect("response");
    assert!(wijk_protocol::is_agent_id(&answer.agent_id) && answer.agent_id.len() == 24);
    assert!(answer.broker.starts_with("mqtts://127.0.0.1:"), "the embedded broker's address: {}", answer.broker);
    let ca_der = der(&answer.ca_cert_pem);
    assert_eq!(fingerprint(&ca_der), good.ca_sha256, "the CA is the one the token names");
    let cert_der = der(&answer.client_cert_pem);
    let (_, cert) = X509Certificate::from_der(&cert_der).expect("cert");
    let (_, ca) = X509Certificate::from_der(&ca_der).expect("ca");
    let orgs: Vec<_> = cert.subject().iter_organization().filter_map(|o| o.as_str().ok()).collect();
    assert_eq!(orgs, vec![answer.agent_id.as_str()], "O is the agent id, whatever the CSR asked");
    cert.verify_signature(Some(ca.public_key())).expect("signed by the CA");
    assert_eq!(cert.issuer(), ca.subject());

    // The same token again.
    let (status, body) = enroll(addr, &request(&good));
    assert_eq!((status, refusal(&body).error.as_str()), (409, "token-used"));

    // A forged token: the right id, another secret.
    let fresh = token(&data, "7");
    let forged = EnrollToken { secret: "0".repeat(64), ..fresh.clone() };
    let (status, body) = enroll(addr, &request(&forged));
    let r = refusal(&body);
    assert_eq!((status, r.error.as_str()), (403, "token-unknown"));
    assert!(r.message.contains("ask VVSG for a new token"), "{}", r.message);

    // An expired token.
    let expired = token(&data, "0");
    std::thread::sleep(Duration::from_millis(1100));
    let (status, body) = enroll(addr, &request(&expired));
    assert_eq!((status, refusal(&body).error.as_str()), (410, "token-expired"));

    // Garbage, a wrong shape, too large: 400 / 413 with a message that says what is wrong.
    let (status, body) = http(addr, "POST", "/v1/enroll", b"\x00\xffnot json{");
    let r = refusal(&body);
    assert_eq!((status, r.error.as_str()), (400, "bad-request"));
    assert!(r.message.contains("not an enrollment request in JSON"), "{}", r.message);
    let (status, body) = http(addr, "POST", "/v1/enroll", br#"{"token_id":"x"}"#);
    assert_eq!((status, refusal(&body).error.as_str()), (400, "bad-request"));
    let bad_key = EnrollRequest { signing_key: "AAAA".into(), ..request(&fresh) };
    let (status, body) = enroll(addr, &bad_key);
    assert_eq!((status, refusal(&body).error.as_str()), (400, "bad-request"));
    let (status, body) = http(addr, "POST", "/v1/enroll", &vec![b' '; 70 * 1024]);
    assert_eq!((status, refusal(&body).error.as_str()), (413, "bad-request"));

    // None of the refused requests used the fresh token.
    let (status, body) = enroll(addr, &request(&fresh));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let _: Value = serde_json::from_slice(&body).expect("json");
}

#[test]
fn sigterm_stops_serve_cleanly_and_it_starts_again_on_the_same_data() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let mut server = Server::start(&data, &[]);
    assert!(server.terminate().success());
    let ca = std::fs::read(data.join("ca/ca.crt")).expect("ca");
    let server = Server::start(&data, &[]);
    assert_eq!(std::fs::read(data.join("ca/ca.crt")).expect("ca"), ca, "the CA is kept");
    assert_eq!(http(&server.addr, "GET", "/healthz", b"").0, 200);
}

#[test]
fn plain_http_off_loopback_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out =
        Command::new(BIN).args(["serve", "--data"]).arg(tmp.path()).args(["--web", "0.0.0.0:0"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("geen loopbackadres") && err.contains("--web-tls-cert"), "{err}");
}

#[test]
fn the_web_side_speaks_tls_with_a_certificate() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    // A first start makes the CA and the server certificate.
    let mut first = Server::start(&data, &[]);
    assert!(first.terminate().success());
    let (cert, key) = (data.join("ca/server.crt"), data.join("ca/server.key"));
    let server = Server::start(
        &data,
        &["--web-tls-cert", cert.to_str().expect("utf8"), "--web-tls-key", key.to_str().expect("utf8")],
    );

    let mut roots = rustls::RootCertStore::empty();
    roots.add(der(&std::fs::read_to_string(data.join("ca/ca.crt")).expect("ca")).into()).expect("root");
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).expect("client");
    let tcp = TcpStream::connect(&server.addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let (status, body) = exchange(rustls::StreamOwned::new(conn, tcp), "GET", "/healthz", b"");
    assert_eq!((status, body), (200, b"ok\n".to_vec()));
    // Plain HTTP on the TLS port gets nowhere.
    let mut plain = TcpStream::connect(&server.addr).expect("connect");
    plain.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
}
