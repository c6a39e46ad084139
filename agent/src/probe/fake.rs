//! Tiny fake servers on 127.0.0.1 for the probe and TLS tests. Each binds port 0 and plays a script
//! on every connection (or datagram) it gets; the server stops when the test drops it. Only loopback
//! is used.
//!
//! | server | does |
//! |---|---|
//! | [`serve`] / [`serve_tls`] | runs a script on each connection (after a TLS handshake) |
//! | [`answering`] | answers each read with `answer(request)` |
//! | [`greeting`] | speaks first, then reads until the client leaves |
//! | [`scripted`] | expected request, answer, … in order, then holds the connection |
//! | [`text_server`] | a line dialogue, every command line recorded |
//! | [`silent`] / [`flood`] | says nothing / sends junk without end |
//! | [`udp`] | answers each datagram with `answer(request)` |
//!
//! [`tls_acceptor`] serves TLS with another certificate (the TLS analysis' fixtures).
//! A test's own [`Target`] and [`Limits`] come from [`target`], [`limits`] and [`deadline`] (or the
//! server's `target`); [`times_out`] checks that a probe gives up on a silent server in time.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use crate::ports::Proto;
use crate::probe::{Limits, ServiceInfo, Target};

/// Limits for a test probe: a second to connect, `deadline_ms` for the probe, `max_bytes` to read.
pub fn limits(deadline_ms: u64, max_bytes: usize) -> Limits {
    Limits { connect: Duration::from_secs(1), deadline: Duration::from_millis(deadline_ms), max_bytes }
}

/// [`limits`] with the usual byte budget of 64 KiB.
pub fn deadline(deadline_ms: u64) -> Limits {
    limits(deadline_ms, 64 * 1024)
}

/// A plain TCP target at `addr`.
pub fn target(addr: SocketAddr) -> Target {
    Target { addr, proto: Proto::Tcp, hostname: None, deep: false, ot_allowed: false }
}

/// Runs `probe` on `target` (a silent server) with a `deadline_ms` deadline and checks that it stops
/// with the note `timeout` in less than `within_ms`; what it found, for more checks.
pub async fn times_out(
    target: &Target,
    deadline_ms: u64,
    within_ms: u64,
    probe: impl AsyncFnOnce(&Target, &Limits) -> ServiceInfo,
) -> ServiceInfo {
    let started = std::time::Instant::now();
    let info = probe(target, &deadline(deadline_ms)).await;
    assert!(started.elapsed() < Duration::from_millis(within_ms), "{:?}", started.elapsed());
    assert_eq!(info.note.as_deref(), Some("timeout"));
    info
}

/// A running fake server; stops when dropped.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub target: Target,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves every connection with `script`.
pub async fn serve<F, Fut>(script: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let script = Arc::new(script);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let script = Arc::clone(&script);
            tokio::spawn(async move { script(stream).await });
        }
    });
    Server { target: target(addr), task }
}

/// Answers each read with `answer(request)`: `None` closes the connection, an empty answer is
/// silence (the server reads on). Requests are taken as they arrive, one read each (at most 8 KiB).
pub async fn answering<F>(answer: F) -> Server
where
    F: Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync + 'static,
{
    let answer = Arc::new(answer);
    serve(move |mut stream| {
        let answer = Arc::clone(&answer);
        async move {
            let mut buf = vec![0u8; 8192];
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                match answer(&buf[..n]) {
                    Some(reply) if stream.write_all(&reply).await.is_ok() => {}
                    _ => break,
                }
            }
        }
    })
    .await
}

/// Plays `script` on each connection: for each step, reads exactly as many bytes as it expects
/// (none for an empty expectation) and, if they are those, sends its answer; closes at the first
/// mismatch. After the last step it holds the connection, reading nothing, for a minute (or until
/// the test drops the server).
pub async fn scripted(script: Vec<(&'static [u8], &'static [u8])>) -> Server {
    let script = Arc::new(script);
    serve(move |mut stream| {
        let script = Arc::clone(&script);
        async move {
            for &(expect, answer) in script.iter() {
                let mut got = vec![0u8; expect.len()];
                if !expect.is_empty() && (stream.read_exact(&mut got).await.is_err() || got != expect) {
                    return;
                }
                let _ = stream.write_all(answer).await;
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    })
    .await
}

/// Sends `first` on each connection, then reads (and drops) whatever comes until the client closes.
pub async fn greeting(first: Vec<u8>) -> Server {
    let first = Arc::new(first);
    serve(move |mut stream| {
        let first = Arc::clone(&first);
        async move {
            let _ = stream.write_all(&first).await;
            let mut buf = [0u8; 512];
            while let Ok(1..) = stream.read(&mut buf).await {}
        }
    })
    .await
}

/// A UDP server answering each datagram with `answer(request)`, if any. Its target is UDP.
pub async fn udp<F>(answer: F) -> Server
where
    F: Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync + 'static,
{
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = sock.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            if let Some(reply) = answer(&buf[..n]) {
                let _ = sock.send_to(&reply, from).await;
            }
        }
    });
    Server { target: Target { proto: Proto::Udp, ..target(addr) }, task }
}

/// Accepts and says nothing, keeping each connection open.
pub async fn silent() -> Server {
    serve(|stream| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(stream);
    })
    .await
}

/// Sends `first`, then junk without end.
pub async fn flood(first: &'static [u8]) -> Server {
    serve(move |mut stream| async move {
        if stream.write_all(first).await.is_err() {
            return;
        }
        let junk = vec![b'A'; 16 * 1024];
        for _ in 0..4096 {
            if stream.write_all(&junk).await.is_err() {
                return;
            }
        }
    })
    .await
}

/// Reads until `needle` arrived or the client closed; what was read.
pub async fn read_until(stream: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(needle.len().max(1)).any(|w| w == needle) {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    got
}

/// A self-signed test certificate and its key (P-256, `CN=wijkagent-test.invalid`), test use only.
const TEST_CERT: &[u8] = include_bytes!("testdata/cert.pem");
const TEST_KEY: &[u8] = include_bytes!("testdata/key.pem");

/// A rustls acceptor (ring, TLS 1.3 and 1.2) presenting `cert` with `key`.
pub fn tls_acceptor(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> tokio_rustls::TlsAcceptor {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Serves every connection with `script` after a TLS handshake (self-signed test certificate).
pub async fn serve_tls<F, Fut>(script: F) -> Server
where
    F: Fn(tokio_rustls::server::TlsStream<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    use rustls::pki_types::pem::PemObject;
    let cert = CertificateDer::from_pem_slice(TEST_CERT).expect("test cert");
    let key = PrivateKeyDer::from_pem_slice(TEST_KEY).expect("test key");
    let acceptor = tls_acceptor(cert, key);
    let script = Arc::new(script);
    serve(move |stream| {
        let acceptor = acceptor.clone();
        let script = Arc::clone(&script);
        async move {
            if let Ok(tls) = acceptor.accept(stream).await {
                script(tls).await;
            }
        }
    })
    .await
}

/// A line-oriented server: sends `greeting`, then answers each command line with `answer(line)`
/// (an empty answer closes the connection); every command received goes to the returned channel.
pub async fn text_server(
    greeting: &'static str,
    answer: fn(&str) -> String,
) -> (Server, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let server = serve(move |mut stream| {
        let tx = tx.clone();
        async move {
            if stream.write_all(greeting.as_bytes()).await.is_err() {
                return;
            }
            let mut pending = Vec::new();
            loop {
                while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    let line = String::from_utf8_lossy(&line).trim_end().to_string();
                    let _ = tx.send(line.clone());
                    let reply = answer(&line);
                    if reply.is_empty() || stream.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let mut buf = [0u8; 1024];
                match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => pending.extend_from_slice(&buf[..n]),
                    _ => return,
                }
            }
        }
    })
    .await;
    (server, rx)
}

/// Everything the channel holds now.
pub fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(line) = rx.try_recv() {
        out.push(line);
    }
    out
}
