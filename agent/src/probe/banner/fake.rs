//! Tiny fake servers on 127.0.0.1 for the probe tests. Each binds port 0 and plays a script on
//! every connection it accepts; the server stops when the test drops it. Only loopback is used.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::ports::Proto;
use crate::probe::{Limits, Target};

/// Limits for a test probe.
pub fn limits(deadline_ms: u64, max_bytes: usize) -> Limits {
    Limits { connect: Duration::from_secs(1), deadline: Duration::from_millis(deadline_ms), max_bytes }
}

/// A plain TCP target at `addr`.
pub fn target(addr: SocketAddr) -> Target {
    Target { addr, proto: Proto::Tcp, hostname: None, deep: false, ot_allowed: false }
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

/// Serves every connection with `script` after a TLS handshake (self-signed test certificate).
pub async fn serve_tls<F, Fut>(script: F) -> Server
where
    F: Fn(tokio_rustls::server::TlsStream<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert = CertificateDer::from_pem_slice(TEST_CERT).expect("test cert");
    let key = PrivateKeyDer::from_pem_slice(TEST_KEY).expect("test key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
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
