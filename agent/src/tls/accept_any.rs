//! The one certificate verifier of every rustls client handshake the agent makes: it accepts any
//! certificate and any handshake signature, and can keep the chain the server presented.
//!
//! Neither user may let rustls judge: the probes only identify what speaks TLS, and the analysis
//! ([`super::handshake`]) must still see the chain of an expired, self-signed or misnamed server,
//! or of one whose key ring refuses (a 1024-bit RSA key), instead of losing it with the handshake.
//! Nothing of value is ever sent over these connections. The certificates are judged by
//! [`super::cert`].

use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::probe::Target;

/// A verifier that accepts every certificate and signature; a recording one also keeps the chain.
#[derive(Debug)]
pub(crate) struct AcceptAny {
    schemes: Vec<SignatureScheme>,
    /// The last chain presented and how many certificates to keep of it, when recording.
    record: Option<(Mutex<Kept>, usize)>,
}

/// What a recording verifier keeps of the last chain presented.
#[derive(Debug, Clone, Default)]
struct Kept {
    /// DER, leaf first, at most the maximum.
    chain: Vec<Vec<u8>>,
    /// How many certificates the server presented.
    presented: usize,
}

impl AcceptAny {
    /// Accepts everything `provider` can name, keeps nothing.
    pub(crate) fn new(provider: &CryptoProvider) -> AcceptAny {
        AcceptAny { schemes: provider.signature_verification_algorithms.supported_schemes(), record: None }
    }

    /// Accepts everything and keeps the chain presented, at most `max` certificates of it.
    pub(crate) fn recording(provider: &CryptoProvider, max: usize) -> AcceptAny {
        AcceptAny { record: Some((Mutex::new(Kept::default()), max)), ..AcceptAny::new(provider) }
    }

    /// The chain recorded so far (empty when none was presented or this verifier does not record),
    /// and how many certificates the server presented (more than were kept when it sent more than
    /// the maximum).
    pub(crate) fn chain(&self) -> (Vec<Vec<u8>>, usize) {
        let kept = self.record.as_ref().and_then(|(kept, _)| kept.lock().ok().map(|k| k.clone())).unwrap_or_default();
        (kept.chain, kept.presented)
    }
}

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some((kept, max)) = &self.record {
            if let Ok(mut kept) = kept.lock() {
                let chain = std::iter::once(end_entity).chain(intermediates).take(*max).map(|c| c.to_vec()).collect();
                *kept = Kept { chain, presented: 1 + intermediates.len() };
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// A rustls client configuration with `provider` (TLS 1.3 and 1.2, no client certificate) that
/// leaves every certificate to `verifier`.
pub(crate) fn client_config(
    provider: Arc<CryptoProvider>,
    verifier: Arc<AcceptAny>,
) -> Result<ClientConfig, rustls::Error> {
    Ok(ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The configuration of identification connections ([`crate::probe::http::tls_connect`]), built
/// once: ring, TLS 1.3 and 1.2, no resumption, any certificate accepted and none kept.
pub(crate) fn client_config_accepting_any() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let verifier = Arc::new(AcceptAny::new(&provider));
            let mut config = client_config(provider, verifier).map_err(|e| e.to_string())?;
            config.resumption = rustls::client::Resumption::disabled();
            Ok(Arc::new(config))
        })
        .clone()
}

/// The name rustls is given: the host name when it is a valid DNS name (then sent as SNI), else
/// the address (no SNI).
pub(crate) fn server_name(target: &Target) -> ServerName<'static> {
    target
        .hostname
        .as_deref()
        .and_then(|h| ServerName::try_from(h).ok())
        .map(|n| n.to_owned())
        .unwrap_or_else(|| ServerName::IpAddress(target.addr.ip().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_when_asked_and_at_most_max() {
        let provider = rustls::crypto::ring::default_provider();
        let certs: Vec<CertificateDer<'static>> = (1..=4u8).map(|i| CertificateDer::from(vec![i; 3])).collect();
        let any = AcceptAny::new(&provider);
        let rec = AcceptAny::recording(&provider, 3);
        let name = ServerName::try_from("wijkagent.test").expect("name");
        for v in [&any, &rec] {
            assert!(v.verify_server_cert(&certs[0], &certs[1..], &name, &[], UnixTime::now()).is_ok());
            assert!(!v.supported_verify_schemes().is_empty());
        }
        assert_eq!(any.chain(), (vec![], 0));
        assert_eq!(rec.chain(), (vec![vec![1; 3], vec![2; 3], vec![3; 3]], 4), "three kept of four presented");
    }
}
