//! The web listener: where it may listen and how.
//!
//! Enrollment carries one-time secrets, so plain HTTP is allowed only on a loopback address (the
//! usual set-up behind a reverse proxy on the same machine). Any other address needs a certificate
//! and key (`--web-tls-cert`, `--web-tls-key`), served with rustls on the ring provider; without
//! them wijkpost refuses to start.
//!
//! TLS handshakes run on their own tasks, each with a time limit and under a cap on how many run
//! at once, so a slow or silent client never holds up the accept loop; finished connections are
//! handed to axum through a channel.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Time allowed for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// TLS handshakes in progress at most.
const MAX_HANDSHAKES: usize = 256;
/// After cancellation, how long open requests may take to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the web side cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Plain HTTP on an address other hosts can reach.
    #[error(
        "{0} is not a loopback address: plain HTTP would carry enrollment secrets over the network; \
         give --web-tls-cert and --web-tls-key, or listen on 127.0.0.1 / [::1] behind a TLS proxy"
    )]
    NeedsTls(SocketAddr),
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The certificate or key cannot be used.
    #[error("{path}: {why}")]
    Tls {
        /// Which file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Serving failed.
    #[error("web server: {0}")]
    Serve(std::io::Error),
}

/// A bound listener, plain or TLS.
pub struct WebListener {
    tcp: TcpListener,
    local: SocketAddr,
    tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for WebListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebListener").field("url", &self.url()).finish_non_exhaustive()
    }
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, WebError> {
    let bad = |path: &Path, why: String| WebError::Tls { path: path.to_path_buf(), why };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(cert, "no certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| bad(key, format!("does not fit the certificate: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

impl WebListener {
    /// Binds `addr`; `tls` is `(certificate, key)` PEM files. Refuses plain HTTP off loopback.
    pub async fn bind(addr: SocketAddr, tls: Option<(&Path, &Path)>) -> Result<WebListener, WebError> {
        if tls.is_none() && !addr.ip().is_loopback() {
            return Err(WebError::NeedsTls(addr));
        }
        let tls = tls.map(|(cert, key)| tls_acceptor(cert, key)).transpose()?;
        let tcp = TcpListener::bind(addr).await.map_err(|source| WebError::Bind { addr, source })?;
        let local = tcp.local_addr().map_err(|source| WebError::Bind { addr, source })?;
        Ok(WebListener { tcp, local, tls })
    }

    /// The address actually bound (the port chosen when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls.is_some() { "https" } else { "http" }, self.local)
    }

    /// Serves `router` until `cancel`; open requests then get [`DRAIN_TIMEOUT`] to finish.
    pub async fn serve(self, router: Router, cancel: CancellationToken) -> Result<(), WebError> {
        let shutdown = cancel.clone().cancelled_owned();
        let served = async {
            match self.tls {
                None => axum::serve(self.tcp, router).with_graceful_shutdown(shutdown).await,
                Some(acceptor) => {
                    let listener = TlsListener::start(self.tcp, self.local, acceptor, cancel.clone());
                    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
                }
            }
        };
        tokio::pin!(served);
        tokio::select! {
            result = &mut served => return result.map_err(WebError::Serve),
            () = cancel.cancelled() => {}
        }
        match tokio::time::timeout(DRAIN_TIMEOUT, served).await {
            Ok(result) => result.map_err(WebError::Serve),
            Err(_) => {
                tracing::warn!("web: requests still open after {DRAIN_TIMEOUT:?}, closing them");
                Ok(())
            }
        }
    }
}

/// Accepted, handshaken TLS connections, for `axum::serve`.
struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    fn start(tcp: TcpListener, local: SocketAddr, acceptor: TlsAcceptor, cancel: CancellationToken) -> TlsListener {
        let (tx, ready) = mpsc::channel(64);
        let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        tokio::spawn(async move {
            loop {
                let permit = tokio::select! {
                    () = cancel.cancelled() => return,
                    p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
                };
                let (stream, peer) = tokio::select! {
                    () = cancel.cancelled() => return,
                    accepted = tcp.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!("web: accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "web: TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "web: TLS handshake timed out"),
                    }
                });
            }
        });
        TlsListener { ready, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop ended (cancelled): no more connections; serve ends by its shutdown.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_only_on_loopback() {
        for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"] {
            let addr: SocketAddr = addr.parse().expect("addr");
            assert!(matches!(WebListener::bind(addr, None).await, Err(WebError::NeedsTls(_))), "{addr}");
        }
        let ok = WebListener::bind("127.0.0.1:0".parse().expect("addr"), None).await.expect("loopback");
        assert!(ok.url().starts_with("http://127.0.0.1:") && ok.local_addr().port() != 0);
    }

    #[tokio::test]
    async fn tls_files_are_checked_before_binding() {
        let tmp = tempfile::tempdir().expect("tmp");
        let ca = crate::ca::Ca::open_or_create(tmp.path()).expect("ca");
        let server = ca.issue_server_cert(&[]).expect("server");
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let tls = WebListener::bind(addr, Some((&server.cert_path, &server.key_path))).await.expect("tls");
        assert!(tls.url().starts_with("https://"));
        let wrong_key = WebListener::bind(addr, Some((&server.cert_path, &ca.cert_path()))).await;
        assert!(matches!(wrong_key, Err(WebError::Tls { .. })), "{wrong_key:?}");
        let missing = WebListener::bind(addr, Some((&tmp.path().join("none"), &server.key_path))).await;
        assert!(matches!(missing, Err(WebError::Tls { .. })));
    }
}
