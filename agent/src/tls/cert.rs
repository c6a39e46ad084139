//! Certificate analysis: the presented chain (DER, leaf first) read with x509-parser, checked
//! against the Mozilla roots with rustls/webpki, turned into a [`CertReport`] and observations.
//!
//! What is checked, on the leaf unless said otherwise:
//! - validity: expired (`tls-cert-expired`), expiring within [`EXPIRING_DAYS`] days
//!   (`tls-cert-expiring`), not yet valid (`tls-cert-not-yet-valid`);
//! - self-signed (`tls-cert-self-signed`): issuer name equals subject name (raw DER), the
//!   authority key id (if any) equals the subject key id (if any), and the signature verifies with
//!   the certificate's own key when ring can check it (SHA-1, MD5, RSA below 2048 bits cannot be,
//!   and then the names decide);
//! - trust (`tls-cert-untrusted`): `verify_server_cert_signed_by_trust_anchor` with the chain's
//!   other certificates as intermediates and `webpki_roots::TLS_SERVER_ROOTS`; the name is not part
//!   of it, and a leaf outside its validity is checked at the middle of its validity period (its
//!   dates are reported on their own);
//! - weak key (`tls-cert-weak-key`): RSA or DSA below 2048 bits, EC below 256 bits — leaf and
//!   intermediates;
//! - weak signature (`tls-cert-weak-signature`): MD2, MD4, MD5 or SHA-1 — leaf and intermediates
//!   (not a self-signed root sent along: its own signature protects nothing);
//! - name (`tls-cert-name-mismatch`, only when a host name is known): subjectAltName DNS names
//!   (one leftmost `*` label allowed) and IP addresses, as browsers and webpki do; the common name
//!   alone does not count.
//!
//! Names are read by [`names`], value by value, so that a subject, issuer or DNS name that is not
//! valid UTF-8 is still shown (with U+FFFD) and reported as a problem instead of vanishing. The
//! shape of the leaf is checked by [`shape`] (thousands of extensions, an extension nested
//! thousands deep). The server's chain is analysed as far as it was kept (the first ten); how
//! many certificates it had is reported ([`CertReport::count_presented`]).
//!
//! Duplicate extensions (RFC 5280 forbids them) are reported as problems; subjectAltName is read
//! with x509-parser's `subject_alternative_name`, which refuses duplicates, never with
//! `find_extension`, which silently takes the first (x509-parser #113): two SAN extensions leave
//! the name check failing rather than trusting either.

use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, RootCertStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_parser::asn1_rs::Oid;
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use crate::i18n::Said;
use crate::probe::io::sanitize;
use crate::probe::Observation;

mod names;
mod shape;

/// A certificate that ends within this many days is "expiring".
pub const EXPIRING_DAYS: i64 = 30;

/// The leaf certificate as the server presented it, and what the checks found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertReport {
    /// Subject distinguished name (RFC 4514 style).
    pub subject: String,
    /// Subject common name, if any.
    pub common_name: Option<String>,
    /// subjectAltName DNS names and IP addresses (at most 50).
    pub alt_names: Vec<String>,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number (hex, colon-separated).
    pub serial: String,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// Whole days from the analysis to `not_after` (negative once expired).
    pub days_left: i64,
    /// Key type: `RSA`, `EC P-256`, `Ed25519`, `DSA`, or the algorithm's OID.
    pub key: String,
    /// Key size in bits, when known.
    pub key_bits: Option<u32>,
    /// Signature algorithm (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`, …) or its OID.
    pub signature_algorithm: String,
    /// Issued by itself.
    pub self_signed: bool,
    /// The chain leads to a Mozilla root (name not considered).
    pub trusted: bool,
    /// Why it does not, when it does not.
    pub trust_error: Option<String>,
    /// Certificates the server presented, leaf included.
    pub chain_length: usize,
    /// Certificates of the chain analysed: the first ones, at most ten.
    #[serde(default)]
    pub chain_analysed: usize,
    /// Extensions of the leaf.
    #[serde(default)]
    pub extensions: usize,
    /// SHA-256 of the leaf's DER (hex).
    pub sha256: String,
    /// Whether the certificate names the host, when a host name was known.
    pub name_matches: Option<bool>,
    /// Anything else wrong with the certificates (duplicate extensions, unreadable chain
    /// certificates, names that are not valid UTF-8, a chain longer than was analysed, unusually
    /// many extensions, deeply nested ones).
    pub problems: Vec<String>,
}

impl CertReport {
    /// Records that the server presented `presented` certificates (the analysis saw
    /// `chain_analysed` of them); a longer chain than was analysed is a problem worth reporting.
    pub(crate) fn count_presented(&mut self, presented: usize) {
        self.chain_length = presented.max(self.chain_analysed);
        if self.chain_length > self.chain_analysed {
            self.problems.push(format!(
                "chain of {} certificates; analysed the first {}",
                self.chain_length, self.chain_analysed
            ));
        }
    }
}

/// A report and the observations for the report's `observations`.
#[derive(Debug)]
pub(crate) struct Analysis {
    pub report: CertReport,
    pub observations: Vec<Observation>,
}

/// The Mozilla root store (`webpki-roots`), built once.
pub(crate) static MOZILLA_ROOTS: LazyLock<RootCertStore> =
    LazyLock::new(|| RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });

/// Analyses `chain` (DER, leaf first) at `now`; `hostname` is checked when given. `Err` when there
/// is no leaf or it cannot be read.
pub(crate) fn analyse(
    chain: &[Vec<u8>],
    hostname: Option<&str>,
    roots: &RootCertStore,
    now: DateTime<Utc>,
) -> Result<Analysis, String> {
    let der = chain.first().ok_or("no certificate")?;
    let (_, leaf) = X509Certificate::from_der(der).map_err(|e| format!("certificate unreadable: {e}"))?;
    let mut observations = Vec::new();
    let mut problems = Vec::new();

    // Validity.
    let not_before = time(leaf.validity().not_before.timestamp());
    let not_after = time(leaf.validity().not_after.timestamp());
    let days_left = (not_after - now).num_days();
    let in_validity = not_before <= now && now <= not_after;
    let end = not_after.format("%Y-%m-%d");
    if now > not_after {
        let ago = (now - not_after).num_days();
        observations.push(Observation::new(
            "tls-cert-expired",
            format!("verlopen op {end} ({ago} dagen geleden)"),
            format!("expired on {end} ({ago} days ago)"),
        ));
    } else if days_left < EXPIRING_DAYS {
        observations.push(Observation::new(
            "tls-cert-expiring",
            format!("verloopt op {end} (over {days_left} dagen)"),
            format!("expires on {end} (in {days_left} days)"),
        ));
    }
    if now < not_before {
        let start = not_before.format("%Y-%m-%d");
        let days = (not_before - now).num_days();
        observations.push(Observation::new(
            "tls-cert-not-yet-valid",
            format!("pas geldig vanaf {start} (over {days} dagen)"),
            format!("not valid before {start} (in {days} days)"),
        ));
    }

    // Names.
    let subject = names::name_text(leaf.subject());
    let issuer = names::name_text(leaf.issuer());
    let common_name = names::common_name(leaf.subject()).map(|t| sanitize(&t.text, 200));
    for (what, text) in [("subject", &subject), ("issuer", &issuer)] {
        if !text.valid {
            problems.push(format!("{what} not valid UTF-8 (shown with U+FFFD)"));
        }
    }
    let sans = alt_names(&leaf);
    if let Ok((_, false)) = &sans {
        problems.push("subjectAltName DNS name not valid UTF-8 (shown with U+FFFD)".into());
    }
    let sans = sans.map(|(names, _)| names);
    if leaf.extensions_map().is_err() {
        problems.push("duplicate extensions".into());
    }
    problems.extend(shape::problems(&leaf));
    let name_matches = hostname.map(|h| match &sans {
        Ok(names) => names.iter().any(|n| name_match(h, n)),
        Err(_) => false,
    });
    if let (Some(host), Some(false)) = (hostname, name_matches) {
        let evidence = match &sans {
            Ok(n) if n.is_empty() => Said::new(
                format!("{host}: het certificaat vermeldt geen namen (subjectAltName)"),
                format!("{host}: the certificate lists no names (subjectAltName)"),
            ),
            Ok(n) => {
                let names = list(n, 3);
                Said::new(format!("{host} niet bij {}", names.nl), format!("{host} not among {}", names.en))
            }
            Err(why) => why.map(|w| format!("{host}: {w}")),
        };
        observations.push(Observation::said("tls-cert-name-mismatch", evidence));
    }

    // Self-signed, trust.
    let self_signed = self_signed(der, &leaf);
    if let Some(verified) = self_signed {
        let (how_nl, how_en) = if verified {
            ("; de handtekening klopt met de eigen sleutel", "; signature verifies with its own key")
        } else {
            ("", "")
        };
        observations.push(Observation::new(
            "tls-cert-self-signed",
            format!("uitgever gelijk aan onderwerp{how_nl}"),
            format!("issuer equals subject{how_en}"),
        ));
    }
    let trust = trust(chain, roots, now, in_validity, not_before, not_after).map_err(|why| {
        // webpki's reason for a lone self-signed certificate (unknown issuer, CA used as end
        // entity, ...) says less than this.
        if self_signed.is_some() && chain.len() == 1 {
            Said::new("zelfondertekend", "self-signed")
        } else {
            why
        }
    });
    if let Err(why) = &trust {
        observations.push(Observation::new(
            "tls-cert-untrusted",
            format!("niet vertrouwd door de Mozilla-rootcertificaten: {}", why.nl),
            format!("not trusted by the Mozilla roots: {}", why.en),
        ));
    }

    // Keys and signatures, leaf and intermediates.
    let (key, key_bits) = key_info(leaf.public_key());
    let signature_algorithm = signature_name(&leaf.signature_algorithm.algorithm.to_id_string());
    for (i, der) in chain.iter().enumerate() {
        let parsed = if i == 0 { None } else { X509Certificate::from_der(der).ok().map(|(_, c)| c) };
        let cert = match (i, &parsed) {
            (0, _) => &leaf,
            (_, Some(c)) => c,
            (_, None) => {
                problems.push(format!("chain certificate {} unreadable", i + 1));
                continue;
            }
        };
        let which = if i == 0 {
            Said::new("servercertificaat", "leaf")
        } else {
            Said::new(format!("certificaat {} van de keten", i + 1), format!("chain certificate {}", i + 1))
        };
        let (kind, bits) = key_info(cert.public_key());
        if is_weak_key(&kind, bits) {
            let bits = bits.unwrap_or(0);
            observations
                .push(Observation::said("tls-cert-weak-key", which.map(|w| format!("{w}: {kind} {bits} bits"))));
        }
        let sig = signature_name(&cert.signature_algorithm.algorithm.to_id_string());
        let root_sent_along = i > 0 && self_signed_names(cert);
        if is_weak_signature(&sig) && !root_sent_along {
            observations.push(Observation::new(
                "tls-cert-weak-signature",
                format!("{}: ondertekend met {sig}", which.nl),
                format!("{}: signed with {sig}", which.en),
            ));
        }
    }

    let report = CertReport {
        subject: sanitize(&subject.text, 200),
        common_name,
        alt_names: sans.unwrap_or_default().into_iter().take(50).collect(),
        issuer: sanitize(&issuer.text, 200),
        serial: leaf.tbs_certificate.raw_serial_as_string(),
        not_before,
        not_after,
        days_left,
        key,
        key_bits,
        signature_algorithm,
        self_signed: self_signed.is_some(),
        trusted: trust.is_ok(),
        trust_error: trust.err().map(|why| why.en),
        chain_length: chain.len(),
        chain_analysed: chain.len(),
        extensions: leaf.extensions().len(),
        sha256: hex::encode(Sha256::digest(der)),
        name_matches,
        problems,
    };
    Ok(Analysis { report, observations })
}

fn time(timestamp: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(timestamp, 0).unwrap_or_default()
}

fn unix(t: DateTime<Utc>) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(t.timestamp()).unwrap_or(0)))
}

/// `a, b, c (+2 more)`.
fn list(names: &[String], max: usize) -> Said {
    let shown = names.iter().take(max).map(String::as_str).collect::<Vec<_>>().join(", ");
    match names.len().saturating_sub(max) {
        0 => Said::same(shown),
        more => Said::new(format!("{shown} (+{more} meer)"), format!("{shown} (+{more} more)")),
    }
}

/// DNS names (lossily, see [`names`]) and IP addresses of the subjectAltName, and whether every
/// DNS name was valid text; `Err` when it cannot be trusted.
fn alt_names(cert: &X509Certificate<'_>) -> Result<(Vec<String>, bool), Said> {
    match cert.subject_alternative_name() {
        Ok(Some(san)) => {
            let mut valid = true;
            let names = san
                .value
                .general_names
                .iter()
                .filter_map(|n| match (n, names::dns_name(n)) {
                    (_, Some(dns)) => {
                        valid &= dns.valid;
                        Some(sanitize(&dns.text, 255))
                    }
                    (GeneralName::IPAddress(b), None) => ip(b).map(|a| a.to_string()),
                    _ => None,
                })
                .collect();
            Ok((names, valid))
        }
        Ok(None) => Ok((Vec::new(), true)),
        Err(X509Error::DuplicateExtensions) => {
            Err(Said::new("dubbele subjectAltName-extensies", "duplicate subjectAltName extensions"))
        }
        Err(e) => {
            Err(Said::new(format!("onleesbare subjectAltName ({e})"), format!("unreadable subjectAltName ({e})")))
        }
    }
}

fn ip(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// Whether certificate name `pattern` (a SAN entry) covers `host`.
pub(crate) fn name_match(host: &str, pattern: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    if let (Ok(h), Ok(p)) = (host.parse::<IpAddr>(), pattern.parse::<IpAddr>()) {
        return h == p;
    }
    if host.is_empty() || host.parse::<IpAddr>().is_ok() {
        return false;
    }
    match pattern.strip_prefix("*.") {
        // One whole leftmost label, and not a wildcard for a public suffix-like `*.be`.
        Some(base) if base.contains('.') => {
            host.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == base)
        }
        Some(_) => false,
        None => host == pattern,
    }
}

fn self_signed_names(cert: &X509Certificate<'_>) -> bool {
    cert.issuer().as_raw() == cert.subject().as_raw()
}

/// `Some(verified)` when the certificate is self-signed; `verified` when its signature was
/// checked with its own key (else only the names and key ids say so).
fn self_signed(der: &[u8], cert: &X509Certificate<'_>) -> Option<bool> {
    if !self_signed_names(cert) {
        return None;
    }
    let (mut aki, mut ski) = (None, None);
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => aki = a.key_identifier.as_ref().map(|k| k.0),
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0),
            _ => {}
        }
    }
    if matches!((aki, ski), (Some(a), Some(s)) if a != s) {
        return None;
    }
    match own_signature(der, cert) {
        Some(true) => Some(true),
        Some(false) => None,
        None => Some(false),
    }
}

/// One DER element: (tag, content, rest).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x84 => {
            let (n, rest) = rest.split_at_checked(usize::from(first & 0x7f))?;
            (n.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)), rest)
        }
        _ => return None,
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

/// Checks the certificate's signature with its own key using ring's algorithms (as webpki would
/// pick them: by the exact DER of the key and signature algorithm identifiers). `None` when ring
/// has no algorithm for it (SHA-1, MD5, RSA outside 2048..=8192 bits, P-521, …).
fn own_signature(der: &[u8], cert: &X509Certificate<'_>) -> Option<bool> {
    if let (k, Some(bits)) = key_info(cert.public_key()) {
        if k == "RSA" && !(2048..=8192).contains(&bits) {
            return None;
        }
    }
    let (_, certificate, _) = der_tlv(der)?;
    let (_, _tbs, after_tbs) = der_tlv(certificate)?;
    let (_, signature_alg, _) = der_tlv(after_tbs)?;
    let (_, spki, _) = der_tlv(cert.public_key().raw)?;
    let (_, key_alg, _) = der_tlv(spki)?;
    let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms.all;
    let alg = algorithms
        .iter()
        .find(|a| a.public_key_alg_id().as_ref() == key_alg && a.signature_alg_id().as_ref() == signature_alg)?;
    let key = &cert.public_key().subject_public_key.data;
    Some(alg.verify_signature(key, cert.tbs_certificate.as_ref(), &cert.signature_value.data).is_ok())
}

/// Chain verification against `roots`, name not considered.
fn trust(
    chain: &[Vec<u8>],
    roots: &RootCertStore,
    now: DateTime<Utc>,
    leaf_in_validity: bool,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<(), Said> {
    let ders: Vec<CertificateDer<'_>> = chain.iter().map(|d| CertificateDer::from(d.as_slice())).collect();
    let (leaf, intermediates) = ders.split_first().ok_or_else(|| Said::new("geen certificaat", "no certificate"))?;
    let parsed = ParsedCertificate::try_from(leaf).map_err(|e| describe(&e))?;
    let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms.all;
    let verify = |at: DateTime<Utc>| {
        verify_server_cert_signed_by_trust_anchor(&parsed, roots, intermediates, unix(at), algorithms)
    };
    match verify(now) {
        Ok(()) => Ok(()),
        Err(rustls::Error::InvalidCertificate(
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. },
        )) if !leaf_in_validity => {
            // The leaf's own dates are reported apart; is the chain sound at a time it was valid?
            verify(not_before + (not_after - not_before) / 2).map_err(|e| describe(&e))
        }
        Err(e) => Err(describe(&e)),
    }
}

/// A short text for a verification error, in both languages (rustls's own text for the rare
/// ones, in English in both).
fn describe(e: &rustls::Error) -> Said {
    let said = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => Said::new("onbekende uitgever", "unknown issuer"),
            CertificateError::BadSignature => Said::new("ongeldige handtekening", "bad signature"),
            CertificateError::BadEncoding => Said::new("misvormd certificaat", "malformed certificate"),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                Said::new("een certificaat van de keten is verlopen", "a chain certificate has expired")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Said::new("een certificaat van de keten is nog niet geldig", "a chain certificate is not yet valid")
            }
            CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                Said::new("niet-ondersteund handtekeningalgoritme", "unsupported signature algorithm")
            }
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                Said::new("niet uitgegeven voor serverauthenticatie", "not issued for server authentication")
            }
            CertificateError::Revoked => Said::new("ingetrokken", "revoked"),
            other => Said::same(other.to_string()),
        },
        other => Said::same(other.to_string()),
    };
    said.map(|t| sanitize(t, 100))
}

/// Key type and size.
fn key_info(spki: &SubjectPublicKeyInfo<'_>) -> (String, Option<u32>) {
    let bits = |b: &[u8]| {
        let b = &b[b.iter().take_while(|&&x| x == 0).count()..];
        b.first().map(|&top| u32::try_from(b.len() * 8).unwrap_or(u32::MAX) - top.leading_zeros())
    };
    let algorithm = spki.algorithm.algorithm.to_id_string();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA".into(), bits(rsa.modulus)),
        Ok(PublicKey::DSA(y)) => ("DSA".into(), bits(y)),
        Ok(PublicKey::EC(point)) => {
            let curve =
                spki.algorithm.parameters.as_ref().and_then(|p| Oid::try_from(p).ok()).map(|o| o.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => ("EC P-256".into(), Some(256)),
                Some("1.3.132.0.34") => ("EC P-384".into(), Some(384)),
                Some("1.3.132.0.35") => ("EC P-521".into(), Some(521)),
                Some("1.3.132.0.10") => ("EC secp256k1".into(), Some(256)),
                Some("1.2.840.10045.3.1.1") => ("EC P-192".into(), Some(192)),
                Some("1.3.132.0.33") => ("EC P-224".into(), Some(224)),
                _ => ("EC".into(), u32::try_from(point.key_size()).ok().filter(|&b| b > 0)),
            }
        }
        _ => match algorithm.as_str() {
            "1.3.101.112" => ("Ed25519".into(), Some(256)),
            "1.3.101.113" => ("Ed448".into(), Some(456)),
            _ => (algorithm, None),
        },
    }
}

fn is_weak_key(kind: &str, bits: Option<u32>) -> bool {
    match (kind, bits) {
        ("RSA" | "DSA", Some(b)) => b < 2048,
        (k, Some(b)) if k.starts_with("EC") => b < 256,
        _ => false,
    }
}

/// Signature algorithm names by OID.
const SIGNATURES: &[(&str, &str)] = &[
    ("1.2.840.113549.1.1.2", "md2WithRSAEncryption"),
    ("1.2.840.113549.1.1.3", "md4WithRSAEncryption"),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
    ("1.3.14.3.2.29", "sha1WithRSAEncryption"),
    ("1.2.840.113549.1.1.10", "rsassaPss"),
    ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
    ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption"),
    ("1.2.840.113549.1.1.13", "sha512WithRSAEncryption"),
    ("1.2.840.113549.1.1.14", "sha224WithRSAEncryption"),
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
    ("1.2.840.10045.4.3.1", "ecdsa-with-SHA224"),
    ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
    ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384"),
    ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512"),
    ("1.2.840.10040.4.3", "dsa-with-sha1"),
    ("2.16.840.1.101.3.4.3.2", "dsa-with-sha256"),
    ("1.3.101.112", "Ed25519"),
    ("1.3.101.113", "Ed448"),
];

fn signature_name(oid: &str) -> String {
    SIGNATURES.iter().find(|(o, _)| *o == oid).map_or_else(|| oid.to_string(), |(_, n)| (*n).to_string())
}

fn is_weak_signature(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["md2", "md4", "md5", "sha1"].iter().any(|w| n.starts_with(w) || n.contains(&format!("-{w}")))
}

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;
