//! A real handshake with rustls (TLS 1.3 and 1.2, ring provider) whose certificate verifier
//! ([`super::accept_any`]) records the presented chain and accepts it, so that the chain of an expired, self-signed or
//! misnamed server is still seen and analysed ([`super::cert`]) instead of ending the handshake.
//!
//! The connection is driven by hand ([`rustls::ClientConnection`]'s `read_tls` / `write_tls`)
//! over the bounded [`Session`], so every byte read counts against the analysis' deadline and
//! byte budget. Handshake signatures are not checked either: nothing is ever sent over this
//! connection, it only shows which version and suite the server picks and which chain it sends
//! (ring would refuse, say, a 1024-bit RSA server key, and the chain would be lost with it).
//! After the handshake the client sends close_notify and hangs up.

use std::sync::Arc;

use rustls::{ClientConnection, ProtocolVersion};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::probe::io::{sanitize, ProbeError, Session};
use crate::probe::Target;

use super::accept_any::{self, AcceptAny};
use super::versions::Version;
use super::{ciphers, Budget, StartTls};

/// Most certificates kept from a chain (the same as a hand-built hello keeps).
pub(crate) const MAX_CHAIN: usize = super::server_hello::MAX_CERTS;

/// What the rustls handshake showed.
#[derive(Debug, Default)]
pub(crate) struct Modern {
    /// Version negotiated, when the handshake completed.
    pub version: Option<Version>,
    /// Suite negotiated (IANA name).
    pub suite: Option<String>,
    /// The chain the server presented (DER, leaf first, at most [`MAX_CHAIN`] certificates), even
    /// if the handshake failed later.
    pub chain: Vec<Vec<u8>>,
    /// How many certificates the server presented (may be more than `chain` holds).
    pub presented: usize,
    /// Why the handshake failed, if it did.
    pub failure: Option<String>,
    /// The server answered in TLS (a ServerHello or an alert), even if the handshake failed.
    pub tls_seen: bool,
}

/// One connection: reach the handshake and run rustls' (TLS 1.3 preferred, 1.2 allowed). `Err`
/// only when the handshake could not be reached.
pub(crate) async fn modern(budget: &mut Budget, target: &Target, starttls: StartTls) -> Result<Modern, ProbeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(AcceptAny::recording(&provider, MAX_CHAIN));
    let config = accept_any::client_config(provider, recorder.clone());
    let conn = config.and_then(|c| ClientConnection::new(Arc::new(c), accept_any::server_name(target)));
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => return Ok(Modern { failure: Some(format!("rustls: {e}")), ..Modern::default() }),
    };
    let mut session = budget.open(target, starttls).await?;
    let result = drive(&mut session, &mut conn).await;
    if result.is_ok() {
        conn.send_close_notify();
        let _ = flush(&mut session, &mut conn).await;
    }
    budget.spend(session.bytes_read());

    let (chain, presented) = recorder.chain();
    let mut out = Modern { chain, presented, ..Modern::default() };
    match result {
        Ok(()) => {
            out.version = match conn.protocol_version() {
                Some(ProtocolVersion::TLSv1_3) => Some(Version::Tls13),
                Some(ProtocolVersion::TLSv1_2) => Some(Version::Tls12),
                _ => None,
            };
            out.suite = conn.negotiated_cipher_suite().map(|s| ciphers::name(u16::from(s.suite())));
            out.tls_seen = true;
        }
        Err(Failure::Tls(e)) => {
            out.tls_seen = matches!(
                e,
                rustls::Error::AlertReceived(_) | rustls::Error::PeerIncompatible(_) | rustls::Error::PeerMisbehaved(_)
            ) || !out.chain.is_empty();
            out.failure = Some(sanitize(&e.to_string(), 120));
        }
        Err(Failure::Io(e)) => {
            out.tls_seen = !out.chain.is_empty();
            out.failure = Some(e.note());
        }
    }
    Ok(out)
}

/// Why driving the handshake stopped.
#[derive(Debug)]
enum Failure {
    Io(ProbeError),
    Tls(rustls::Error),
}

/// Writes whatever rustls has queued.
async fn flush<S>(session: &mut Session<S>, conn: &mut ClientConnection) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    while conn.wants_write() {
        let mut out = Vec::new();
        conn.write_tls(&mut out)?;
        session.write_all(&out).await?;
    }
    Ok(())
}

/// Runs the handshake to its end over `session`.
async fn drive<S>(session: &mut Session<S>, conn: &mut ClientConnection) -> Result<(), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    loop {
        flush(session, conn).await.map_err(Failure::Io)?;
        if !conn.is_handshaking() {
            return Ok(());
        }
        let bytes = session.read_some(16 * 1024).await.map_err(Failure::Io)?;
        let mut rd: &[u8] = &bytes;
        while !rd.is_empty() {
            match conn.read_tls(&mut rd) {
                Ok(0) => return Err(Failure::Io(ProbeError::Closed)),
                Ok(_) => {}
                Err(e) => return Err(Failure::Io(e.into())),
            }
            if let Err(e) = conn.process_new_packets() {
                let _ = flush(session, conn).await; // the alert rustls queued, as a courtesy
                return Err(Failure::Tls(e));
            }
        }
    }
}
