//! wijkpost's own certificate authority.
//!
//! The CA signs two kinds of certificates: the server certificate of the broker and the web endpoint,
//! and one client certificate per enrolled agent. Its files live in `DATA/ca/` (mode 0700):
//!
//! | file | what |
//! |---|---|
//! | `ca.key` | ECDSA P-256 private key of the CA, PKCS#8 PEM, mode 0600 |
//! | `ca.crt` | self-signed CA certificate, CN "wijkpost CA", 10 years |
//! | `server.key`, `server.crt` | server key (0600) and certificate: SAN 127.0.0.1, ::1, localhost and the configured names, EKU serverAuth |
//!
//! The SHA-256 of the CA certificate's DER ([`Ca::fingerprint`]) travels inside every enrollment
//! token, so an agent trusts the CA it receives only when it is this one.
//!
//! An agent's certificate takes nothing from its request but the public key: the subject is
//! CN = O = the agent id (the embedded broker derives the tenant from O), EKU clientAuth, two years,
//! a random serial.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::files;

/// Common name of the CA certificate.
pub const CA_NAME: &str = "wijkpost CA";
/// Validity of the CA certificate.
const CA_DAYS: i64 = 3653;
/// Validity of a server certificate.
const SERVER_DAYS: i64 = 397;
/// A server certificate with less than this left is issued anew.
const SERVER_RENEW_DAYS: i64 = 30;
/// Validity of an agent's client certificate.
const AGENT_DAYS: i64 = 730;
/// Certificates start this long before their issue, for clocks slightly behind.
const BACKDATE: Duration = Duration::hours(1);

/// Names every server certificate carries.
pub const LOOPBACK_NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

/// What can go wrong with the CA.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A file of the CA could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Only one of ca.key and ca.crt exists.
    #[error(
        "{0} exists without its partner (ca.key and ca.crt belong together); restore the missing file from a backup"
    )]
    Incomplete(PathBuf),
    /// A file of the CA is damaged, or the key does not belong to the certificate.
    #[error("{path}: {why}")]
    Damaged {
        /// Which file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The agent's certificate signing request cannot be used.
    #[error("certificate signing request not usable: {0}")]
    BadCsr(String),
    /// A name for the server certificate is neither an address nor a DNS name.
    #[error("{0:?} is not a host name or address")]
    BadName(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(#[from] rcgen::Error),
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct ServerCert {
    /// Certificate (PEM).
    pub cert_pem: String,
    /// Private key (PKCS#8 PEM).
    pub key_pem: String,
    /// Where the certificate is written.
    pub cert_path: PathBuf,
    /// Where the key is written.
    pub key_path: PathBuf,
}

/// An agent certificate just issued.
#[derive(Debug, Clone)]
pub struct AgentCert {
    /// Certificate (PEM).
    pub cert_pem: String,
    /// Serial number, hex.
    pub serial: String,
}

/// wijkpost's CA, loaded from or created in `DATA/ca/`.
pub struct Ca {
    dir: PathBuf,
    cert_pem: String,
    cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("dir", &self.dir).field("fingerprint", &self.fingerprint()).finish()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io { path: path.to_path_buf(), source }
}

fn damaged(path: &Path, why: impl ToString) -> CaError {
    CaError::Damaged { path: path.to_path_buf(), why: why.to_string() }
}

fn pem_to_der(path: &Path, pem: &str) -> Result<Vec<u8>, CaError> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| damaged(path, e))?;
    Ok(parsed.contents)
}

fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    // Positive and without a leading zero byte, so the DER integer is exactly these 16 bytes.
    bytes[0] = (bytes[0] & 0x7f).max(1);
    SerialNumber::from_slice(&bytes)
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + Duration::days(days);
}

impl Ca {
    /// Loads the CA from `data_dir/ca/`, creating key and certificate on first use.
    pub fn open_or_create(data_dir: &Path) -> Result<Ca, CaError> {
        let dir = data_dir.join("ca");
        files::private_dir(&dir).map_err(io_err(&dir))?;
        let (key_path, cert_path) = (dir.join("ca.key"), dir.join("ca.crt"));
        match (key_path.exists(), cert_path.exists()) {
            (true, true) => Ca::load(dir, &key_path, &cert_path),
            (false, false) => Ca::create(dir, &key_path, &cert_path),
            (true, false) => Err(CaError::Incomplete(key_path)),
            (false, true) => Err(CaError::Incomplete(cert_path)),
        }
    }

    fn create(dir: PathBuf, key_path: &Path, cert_path: &Path) -> Result<Ca, CaError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, CA_NAME);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(random_serial());
        validity(&mut params, CA_DAYS);
        let cert = params.self_signed(&key)?;
        // The key first: a crash between the two writes leaves an "incomplete" error, not a CA
        // certificate whose key is lost.
        files::write_atomic(key_path, key.serialize_pem().as_bytes(), 0o600).map_err(io_err(key_path))?;
        files::write_atomic(cert_path, cert.pem().as_bytes(), 0o644).map_err(io_err(cert_path))?;
        Ok(Ca { dir, cert_pem: cert.pem(), cert_der: cert.der().to_vec(), issuer: Issuer::new(params, key) })
    }

    fn load(dir: PathBuf, key_path: &Path, cert_path: &Path) -> Result<Ca, CaError> {
        let key_pem = std::fs::read_to_string(key_path).map_err(io_err(key_path))?;
        let cert_pem = std::fs::read_to_string(cert_path).map_err(io_err(cert_path))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| damaged(key_path, e))?;
        let cert_der = pem_to_der(cert_path, &cert_pem)?;
        let (_, cert) = X509Certificate::from_der(&cert_der).map_err(|e| damaged(cert_path, e))?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(damaged(key_path, "this key does not belong to ca.crt"));
        }
        let issuer = Issuer::from_ca_cert_der(&CertificateDer::from(cert_der.as_slice()), key)
            .map_err(|e| damaged(cert_path, e))?;
        Ok(Ca { dir, cert_pem, cert_der, issuer })
    }

    /// The CA certificate (PEM).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate (DER).
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// SHA-256 of the CA certificate's DER, hex: what tokens carry as `ca_sha256`.
    pub fn fingerprint(&self) -> String {
        wijk_protocol::enroll::fingerprint(&self.cert_der)
    }

    /// Path of the CA certificate.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The server certificate for the broker and the web endpoint, for 127.0.0.1, ::1, localhost
    /// and `names`: the one in `DATA/ca/server.crt` while it is this CA's, valid for 30 more days
    /// and names all of them; otherwise a new one (new key), written there.
    pub fn issue_server_cert(&self, names: &[String]) -> Result<ServerCert, CaError> {
        let wanted: Vec<String> = LOOPBACK_NAMES.iter().map(|s| s.to_string()).chain(names.iter().cloned()).collect();
        let sans = wanted.iter().map(|n| san(n)).collect::<Result<Vec<_>, _>>()?;
        let (cert_path, key_path) = (self.dir.join("server.crt"), self.dir.join("server.key"));
        if let Some(existing) = self.reusable_server_cert(&cert_path, &key_path, &sans) {
            return Ok(existing);
        }
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "wijkpost");
        params.subject_alt_names = sans;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        validity(&mut params, SERVER_DAYS);
        let cert = params.signed_by(&key, &self.issuer)?;
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        files::write_atomic(&key_path, key_pem.as_bytes(), 0o600).map_err(io_err(&key_path))?;
        files::write_atomic(&cert_path, cert_pem.as_bytes(), 0o644).map_err(io_err(&cert_path))?;
        Ok(ServerCert { cert_pem, key_pem, cert_path, key_path })
    }

    fn reusable_server_cert(&self, cert_path: &Path, key_path: &Path, sans: &[SanType]) -> Option<ServerCert> {
        let cert_pem = std::fs::read_to_string(cert_path).ok()?;
        let key_pem = std::fs::read_to_string(key_path).ok()?;
        let key = KeyPair::from_pem(&key_pem).ok()?;
        let der = pem_to_der(cert_path, &cert_pem).ok()?;
        let (_, cert) = X509Certificate::from_der(&der).ok()?;
        let (_, ca) = X509Certificate::from_der(&self.cert_der).ok()?;
        cert.verify_signature(Some(ca.public_key())).ok()?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return None;
        }
        let left = cert.validity().not_after.timestamp() - OffsetDateTime::now_utc().unix_timestamp();
        if left < SERVER_RENEW_DAYS * 86_400 {
            return None;
        }
        let present: Vec<SanType> = cert
            .subject_alternative_name()
            .ok()??
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => san(d).ok(),
                GeneralName::IPAddress(b) => ip_from_bytes(b).map(SanType::IpAddress),
                _ => None,
            })
            .collect();
        sans.iter().all(|s| present.contains(s)).then(|| ServerCert {
            cert_pem,
            key_pem,
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
        })
    }

    /// Signs an agent's certificate. Only the request's public key is used (its signature is
    /// checked, so the agent holds the private key); subject CN and O are `agent_id`, EKU
    /// clientAuth, two years, random serial.
    pub fn sign_agent_csr(&self, csr_pem: &str, agent_id: &str) -> Result<AgentCert, CaError> {
        if !wijk_protocol::is_agent_id(agent_id) {
            return Err(CaError::BadCsr(format!("{agent_id:?} is not an agent id")));
        }
        let csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| CaError::BadCsr(e.to_string()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, agent_id);
        params.distinguished_name.push(DnType::OrganizationName, agent_id);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let serial = random_serial();
        params.serial_number = Some(serial.clone());
        validity(&mut params, AGENT_DAYS);
        let request = CertificateSigningRequestParams { params, public_key: csr.public_key };
        let cert = request.signed_by(&self.issuer)?;
        Ok(AgentCert { cert_pem: cert.pem(), serial: hex::encode(serial.to_bytes()) })
    }
}

fn san(name: &str) -> Result<SanType, CaError> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !ok {
        return Err(CaError::BadName(name.to_string()));
    }
    let ia5 = name.to_ascii_lowercase().try_into().map_err(|_| CaError::BadName(name.to_string()))?;
    Ok(SanType::DnsName(ia5))
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

#[cfg(test)]
#[path = "ca_tests.rs"]
mod tests;
