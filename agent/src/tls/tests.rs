//! End-to-end tests of [`analyse`] against servers on 127.0.0.1: a tokio-rustls server (directly,
//! behind SMTP STARTTLS and behind a PostgreSQL SSLRequest), a hand-written TLS 1.0 server, and
//! servers that are not TLS at all.

use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::probe::fake;

const CERT: &[u8] = include_bytes!("testdata/self-signed.der");
const KEY: &[u8] = include_bytes!("testdata/self-signed.key.der");

fn target(server: &fake::Server, hostname: Option<&str>) -> Target {
    Target { hostname: hostname.map(str::to_string), ..server.target.clone() }
}

fn limits() -> Limits {
    fake::deadline(8000)
}

fn ids(r: &TlsReport) -> Vec<&str> {
    let mut ids: Vec<&str> = r.observations.iter().map(|o| o.weakness.as_str()).collect();
    ids.sort_unstable();
    ids
}

/// What a test server does before TLS starts on a connection.
#[derive(Clone, Copy)]
enum Preamble {
    None,
    Smtp,
    Postgres,
}

async fn read_line<S: AsyncRead + Unpin>(s: &mut S) -> Vec<u8> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while line.len() < 512 && s.read_exact(&mut b).await.is_ok() {
        line.push(b[0]);
        if b[0] == b'\n' {
            break;
        }
    }
    line
}

/// A tokio-rustls server (TLS 1.2 and 1.3, the self-signed fixture) after `preamble`.
async fn rustls_server(preamble: Preamble) -> fake::Server {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(KEY.to_vec()));
    let acceptor = fake::tls_acceptor(CertificateDer::from(CERT.to_vec()), key);
    fake::serve(move |mut s| {
        let acceptor = acceptor.clone();
        async move {
            match preamble {
                Preamble::None => {}
                Preamble::Smtp => {
                    let _ = s.write_all(b"220 mail.wijkagent.test ESMTP\r\n").await;
                    let _ = read_line(&mut s).await;
                    let _ = s.write_all(b"250-mail.wijkagent.test\r\n250 STARTTLS\r\n").await;
                    if !read_line(&mut s).await.starts_with(b"STARTTLS") {
                        return;
                    }
                    let _ = s.write_all(b"220 2.0.0 Ready to start TLS\r\n").await;
                }
                Preamble::Postgres => {
                    let mut req = [0u8; 8];
                    if s.read_exact(&mut req).await.is_err() || req != starttls::PG_SSL_REQUEST {
                        return;
                    }
                    let _ = s.write_all(b"S").await;
                }
            }
            if let Ok(mut tls) = acceptor.accept(s).await {
                let _ = tls.read(&mut [0u8; 64]).await;
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_rustls_server_with_a_self_signed_certificate() {
    let server = rustls_server(Preamble::None).await;
    let report = analyse(&target(&server, None), StartTls::Implicit, &limits()).await.expect("a TLS report");
    drop(server);
    assert_eq!(report.versions, ["TLSv1.2", "TLSv1.3"], "note: {:?}", report.note);
    assert!(report.weak_ciphers.is_empty());
    assert_eq!(ids(&report), ["tls-cert-self-signed", "tls-cert-untrusted"]);
    let cert = report.certificate.as_ref().expect("certificate");
    assert_eq!(cert.common_name.as_deref(), Some("wijkagent.test"));
    assert!(cert.self_signed && !cert.trusted);
    assert_eq!((cert.chain_length, cert.name_matches), (1, None));

    // Serialises and reads back.
    let json = serde_json::to_string(&report).expect("json");
    assert_eq!(serde_json::from_str::<TlsReport>(&json).expect("parse"), report);
}

#[tokio::test]
async fn a_known_host_name_is_checked() {
    let server = rustls_server(Preamble::None).await;
    let other = analyse(&target(&server, Some("intranet.voorbeeld.be")), StartTls::Implicit, &limits()).await;
    let own = analyse(&target(&server, Some("www.wijkagent.test")), StartTls::Implicit, &limits()).await;
    drop(server);
    let other = other.expect("report");
    assert_eq!(ids(&other), ["tls-cert-name-mismatch", "tls-cert-self-signed", "tls-cert-untrusted"]);
    assert_eq!(own.expect("report").certificate.and_then(|c| c.name_matches), Some(true));
}

#[tokio::test]
async fn behind_smtp_starttls_and_a_postgres_ssl_request() {
    for (preamble, mode) in [(Preamble::Smtp, StartTls::Smtp), (Preamble::Postgres, StartTls::Postgres)] {
        let server = rustls_server(preamble).await;
        let report = analyse(&target(&server, None), mode, &limits()).await;
        drop(server);
        let report = report.expect("a TLS report");
        assert_eq!(report.versions, ["TLSv1.2", "TLSv1.3"], "{mode:?}: {:?}", report.note);
        assert!(report.certificate.is_some());
    }
}

/// A server that speaks only TLS 1.0 and only TLS_RSA_WITH_3DES_EDE_CBC_SHA, by hand: to a
/// ClientHello offering TLS 1.0 or later and that suite it answers ServerHello (TLS 1.0, 3DES),
/// Certificate (the fixture) and ServerHelloDone in one record; to anything else an alert.
async fn legacy_server() -> fake::Server {
    fake::serve(legacy_connection).await
}

async fn legacy_connection(mut s: TcpStream) {
    let mut head = [0u8; 5];
    if s.read_exact(&mut head).await.is_err() {
        return;
    }
    let mut body = vec![0u8; usize::from(u16::from_be_bytes([head[3], head[4]]))];
    if s.read_exact(&mut body).await.is_err() {
        return;
    }
    let record = [&head[..], &body].concat();
    let hello = client_hello::tests::parse(&record);
    let reply = match hello {
        Some(h) if h.version >= 0x0301 && h.suites.contains(&0x000a) => {
            let mut hs = server_hello::tests::tls10_3des_hello()[5..].to_vec();
            let n = CERT.len();
            let u24 = |n: usize| [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            hs.push(0x0b); // Certificate
            hs.extend_from_slice(&u24(n + 6));
            hs.extend_from_slice(&u24(n + 3));
            hs.extend_from_slice(&u24(n));
            hs.extend_from_slice(CERT);
            hs.extend_from_slice(&[0x0e, 0x00, 0x00, 0x00]); // ServerHelloDone
            let mut rec = vec![0x16, 0x03, 0x01];
            rec.extend_from_slice(&u16::try_from(hs.len()).expect("small").to_be_bytes());
            rec.extend_from_slice(&hs);
            rec
        }
        Some(h) if h.version >= 0x0301 => vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 40], // handshake_failure
        _ => vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 70],                              // protocol_version
    };
    let _ = s.write_all(&reply).await;
    let _ = s.read(&mut [0u8; 64]).await;
}

#[tokio::test]
async fn a_tls10_only_server_with_3des() {
    let server = legacy_server().await;
    let report = analyse(&target(&server, None), StartTls::Implicit, &limits()).await.expect("a TLS report");
    drop(server);
    assert_eq!(report.versions, ["TLSv1.0"], "note: {:?}", report.note);
    assert_eq!(report.weak_ciphers, ["TLS_RSA_WITH_3DES_EDE_CBC_SHA"]);
    assert_eq!(ids(&report), ["tls-1.0-enabled", "tls-cert-self-signed", "tls-cert-untrusted", "tls-weak-cipher"]);
    let tls10 = report.observations.iter().find(|o| o.weakness == "tls-1.0-enabled").expect("tls 1.0");
    assert_eq!(tls10.evidence.en, "ServerHello TLSv1.0 with TLS_RSA_WITH_3DES_EDE_CBC_SHA");
    assert_eq!(tls10.evidence.nl, "ServerHello TLSv1.0 met TLS_RSA_WITH_3DES_EDE_CBC_SHA");
    // rustls could not talk to it, the chain came from the clear-text Certificate message.
    assert!(report.note.as_deref().is_some_and(|n| n.contains("rustls handshake")), "{:?}", report.note);
    assert_eq!(report.certificate.map(|c| c.common_name), Some(Some("wijkagent.test".to_string())));
}

#[tokio::test]
async fn not_tls_refused_or_silent_gives_none_within_the_limits() {
    // An HTTP server answering anything with a 400.
    let http = fake::serve(|mut s| async move {
        let _ = s.read(&mut [0u8; 1024]).await;
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n").await;
    })
    .await;
    assert_eq!(analyse(&target(&http, None), StartTls::Implicit, &limits()).await, None);
    drop(http);

    // Nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("addr");
    assert_eq!(analyse(&fake::target(closed), StartTls::Implicit, &limits()).await, None);

    // A server that accepts and never says a word: bounded by the deadline.
    let silent = fake::silent().await;
    let short = fake::limits(2000, 4096);
    let started = std::time::Instant::now();
    assert_eq!(analyse(&target(&silent, None), StartTls::Implicit, &short).await, None);
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    // STARTTLS against the silent server: the greeting never comes.
    assert_eq!(analyse(&target(&silent, None), StartTls::Smtp, &short).await, None);
    drop(silent);
}

#[tokio::test]
async fn an_answer_that_is_not_tls_is_noted_by_analyse_into_and_silence_is_not() {
    // Random bytes (any value) in answer to every hello: the tls-garbage case of the hostile lab.
    let mut x: u32 = 0x1234_5678;
    let garbage: Vec<u8> = std::iter::repeat_with(|| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x >> 11) as u8
    })
    .take(4096)
    .collect();
    let server = fake::answering(move |_| Some(garbage.clone())).await;
    let mut info = ServiceInfo { note: Some("timeout".into()), ..ServiceInfo::default() };
    analyse_into(&mut info, &target(&server, None), StartTls::Implicit, &limits()).await;
    assert_eq!(info.tls, None);
    let note = info.note.expect("a note");
    assert!(note.starts_with("timeout; TLS: not a TLS answer ("), "{note}");
    drop(server);

    let silent = fake::silent().await;
    let mut info = ServiceInfo::default();
    analyse_into(&mut info, &target(&silent, None), StartTls::Implicit, &fake::limits(2000, 4096)).await;
    assert_eq!((info.tls, info.note), (None, None), "no answer is not a wrong answer");
}

#[tokio::test]
async fn a_tls_server_fills_tls_through_analyse_into() {
    let server = rustls_server(Preamble::None).await;
    let mut info = ServiceInfo::default();
    analyse_into(&mut info, &target(&server, None), StartTls::Implicit, &limits()).await;
    assert!(info.tls.is_some_and(|t| t.certificate.is_some_and(|c| c.chain_length == 1 && c.chain_analysed == 1)));
    assert_eq!(info.note, None);
}

#[test]
fn the_report_json_has_the_evidence_in_one_language() {
    let report = TlsReport {
        versions: vec!["TLSv1.0".into()],
        observations: vec![Observation::new("tls-1.0-enabled", "handshake voltooid", "handshake completed")],
        ..TlsReport::default()
    };
    for (lang, text) in [(Lang::Nl, "handshake voltooid"), (Lang::En, "handshake completed")] {
        let json = report.to_report_json(lang).expect("serialises");
        assert_eq!(json["observations"][0]["evidence"], text);
        assert_eq!(json["observations"][0]["weakness"], "tls-1.0-enabled");
        assert_eq!(json["versions"][0], "TLSv1.0");
    }
}
