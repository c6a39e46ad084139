//! Hostile certificates for the hostile lab, built as DER by hand and signed with fresh P-256 keys
//! (rcgen's key pairs, ECDSA with SHA-256), because no certificate tool makes them:
//!
//! - [`long_chain`]: a leaf and [`CHAIN_INTERMEDIATES`] intermediates, each signed by the next; the
//!   last one is signed by a root that is not sent;
//! - [`many_extensions`]: a leaf with [`MANY_EXTENSIONS`] private, non-critical, empty extensions;
//! - [`deep_extension`]: a leaf with one private extension whose value is [`DEEP_NESTING`]
//!   SEQUENCEs nested in each other;
//! - [`invalid_utf8`]: a self-signed leaf whose subject (= issuer) common name and one
//!   subjectAltName DNS name hold bytes that are not UTF-8 ([`crate::hostile_text::BAD`]). OpenSSL
//!   refuses to load a certificate with invalid UTF-8 in a UTF8String of a name, so the common name
//!   is a T61String (OpenSSL reads it as Latin-1; most other readers, x509-parser among them, as
//!   UTF-8), the DNS name an IA5String (which OpenSSL does not check).
//!
//! Every certificate is small (P-256 keys, short names), so each stays within the agent's
//! 64 KiB TLS byte budget: about 30 KB for the chain, 34 KB for the extensions, 40 KB for the
//! nesting. Files are PEM: `cert.pem` (the leaf), `chain.pem` (what follows it, for
//! `openssl s_server -cert_chain`; empty when nothing does) and `key.pem`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine as _;
use rcgen::{KeyPair, PublicKeyData, SigningKey};

use crate::daemons::make_dir;
use crate::hostile_text::BAD;

/// Intermediates after the leaf in [`long_chain`] (100 certificates in all).
pub const CHAIN_INTERMEDIATES: usize = 99;
/// Extensions of the [`many_extensions`] certificate.
pub const MANY_EXTENSIONS: usize = 2000;
/// Nested SEQUENCEs in the [`deep_extension`] certificate's extension.
pub const DEEP_NESTING: usize = 10_000;
/// The private arc under which the hostile extensions live (`1.3.6.1.4.1.55555`, unassigned here).
const PRIVATE_ARC: &[u64] = &[1, 3, 6, 1, 4, 1, 55555];

/// The PEM files of one served certificate.
#[derive(Debug, Clone)]
pub struct ServedCert {
    /// The leaf.
    pub cert: PathBuf,
    /// The certificates sent after the leaf (may be empty).
    pub chain: PathBuf,
    /// The leaf's private key (PKCS#8).
    pub key: PathBuf,
}

/// One DER element.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE of `parts`.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// An OBJECT IDENTIFIER.
pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut v = arc >> 7;
        while v > 0 {
            groups.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        body.extend(groups.iter().rev());
    }
    tlv(0x06, &body)
}

/// `depth` SEQUENCEs, each holding the next, the innermost empty.
pub fn nested(depth: usize) -> Vec<u8> {
    (0..depth).fold(Vec::new(), |inner, _| tlv(0x30, &inner))
}

/// A Name of one RDN: common name with string tag `tag` and raw bytes `value`.
fn name(tag: u8, value: &[u8]) -> Vec<u8> {
    seq(&[&tlv(0x31, &seq(&[&oid(&[2, 5, 4, 3]), &tlv(tag, value)]))])
}

/// A UTF8String common name.
fn cn(value: &str) -> Vec<u8> {
    name(0x0c, value.as_bytes())
}

/// One extension: OID, criticality (only when true), OCTET STRING value.
fn extension(id: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let flag = if critical { tlv(0x01, &[0xff]) } else { Vec::new() };
    seq(&[id, &flag, &tlv(0x04, value)])
}

/// `basicConstraints` CA:TRUE, critical.
fn ca_constraint() -> Vec<u8> {
    extension(&oid(&[2, 5, 29, 19]), true, &seq(&[&tlv(0x01, &[0xff])]))
}

/// What one certificate says.
struct Tbs<'a> {
    serial: u32,
    issuer: Vec<u8>,
    subject: Vec<u8>,
    key: &'a KeyPair,
    extensions: Vec<Vec<u8>>,
}

/// ecdsa-with-SHA256.
fn ecdsa_sha256() -> Vec<u8> {
    seq(&[&oid(&[1, 2, 840, 10045, 4, 3, 2])])
}

/// The certificate `tbs` describes, signed by `signer`.
fn certificate(tbs: &Tbs<'_>, signer: &KeyPair) -> Result<Vec<u8>> {
    let alg = ecdsa_sha256();
    let validity = seq(&[&tlv(0x17, b"250101000000Z"), &tlv(0x17, b"450101000000Z")]);
    let serial = tlv(0x02, &[&[0x01][..], &tbs.serial.to_be_bytes()].concat());
    let mut parts: Vec<Vec<u8>> = vec![
        tlv(0xa0, &tlv(0x02, &[0x02])),
        serial,
        alg.clone(),
        tbs.issuer.clone(),
        validity,
        tbs.subject.clone(),
        tbs.key.subject_public_key_info(),
    ];
    if !tbs.extensions.is_empty() {
        parts.push(tlv(0xa3, &tlv(0x30, &tbs.extensions.concat())));
    }
    let tbs_der = tlv(0x30, &parts.concat());
    let signature = signer.sign(&tbs_der).context("signing a hostile certificate")?;
    let bits = [&[0u8][..], &signature].concat();
    Ok(seq(&[&tbs_der, &alg, &tlv(0x03, &bits)]))
}

fn key() -> Result<KeyPair> {
    KeyPair::generate().context("generating a P-256 key")
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

/// Writes the leaf, what follows it and the leaf's key into `dir`.
fn write(dir: &Path, leaf: &[u8], after: &[Vec<u8>], key: &KeyPair) -> Result<ServedCert> {
    make_dir(dir)?;
    let files = ServedCert { cert: dir.join("cert.pem"), chain: dir.join("chain.pem"), key: dir.join("key.pem") };
    fs::write(&files.cert, pem(leaf))?;
    fs::write(&files.chain, after.iter().map(|c| pem(c)).collect::<String>())?;
    fs::write(&files.key, key.serialize_pem())?;
    Ok(files)
}

/// A leaf for `host` issued by `issuer` (a name) with `issuer_key`, with `extensions`.
fn leaf(host: &str, issuer: Vec<u8>, issuer_key: &KeyPair, extensions: Vec<Vec<u8>>) -> Result<(Vec<u8>, KeyPair)> {
    let k = key()?;
    let tbs = Tbs { serial: 1, issuer, subject: cn(host), key: &k, extensions };
    Ok((certificate(&tbs, issuer_key)?, k))
}

/// See the module documentation.
pub fn long_chain(dir: &Path, host: &str) -> Result<ServedCert> {
    let name_of = |i: usize| cn(&format!("wijk-lab keten {i}"));
    let keys: Vec<KeyPair> = (0..=CHAIN_INTERMEDIATES + 1).map(|_| key()).collect::<Result<_>>()?;
    // keys[0] is the leaf's, keys[i] intermediate i's, the last one the root's (not sent).
    let mut intermediates = Vec::with_capacity(CHAIN_INTERMEDIATES);
    for i in 1..=CHAIN_INTERMEDIATES {
        let tbs = Tbs {
            serial: i as u32 + 1,
            issuer: name_of(i + 1),
            subject: name_of(i),
            key: &keys[i],
            extensions: vec![ca_constraint()],
        };
        intermediates.push(certificate(&tbs, &keys[i + 1])?);
    }
    let tbs = Tbs { serial: 1, issuer: name_of(1), subject: cn(host), key: &keys[0], extensions: vec![] };
    let leaf = certificate(&tbs, &keys[1])?;
    write(dir, &leaf, &intermediates, &keys[0])
}

/// See the module documentation.
pub fn many_extensions(dir: &Path, host: &str) -> Result<ServedCert> {
    let extensions =
        (0..MANY_EXTENSIONS as u64).map(|i| extension(&oid(&[PRIVATE_ARC, &[1, i]].concat()), false, &[])).collect();
    let issuer_key = key()?;
    let (leaf, k) = leaf(host, cn("wijk-lab extensies"), &issuer_key, extensions)?;
    write(dir, &leaf, &[], &k)
}

/// See the module documentation.
pub fn deep_extension(dir: &Path, host: &str) -> Result<ServedCert> {
    let deep = extension(&oid(&[PRIVATE_ARC, &[2]].concat()), false, &nested(DEEP_NESTING));
    let issuer_key = key()?;
    let (leaf, k) = leaf(host, cn("wijk-lab nesting"), &issuer_key, vec![deep])?;
    write(dir, &leaf, &[], &k)
}

/// See the module documentation.
pub fn invalid_utf8(dir: &Path, host: &str) -> Result<ServedCert> {
    let k = key()?;
    let subject = name(0x14, &[b"Gemeente ", BAD, b" loket"].concat());
    let dns = |n: &[u8]| tlv(0x82, n);
    let san = seq(&[&dns(host.as_bytes()), &dns(&[b"loket.gemeente", BAD, b".test"].concat())]);
    let tbs = Tbs {
        serial: 1,
        issuer: subject.clone(),
        subject,
        key: &k,
        extensions: vec![extension(&oid(&[2, 5, 29, 17]), false, &san)],
    };
    let cert = certificate(&tbs, &k)?;
    write(dir, &cert, &[], &k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{find_program, program, run_checked};
    use std::process::Command;

    #[test]
    fn der_lengths_and_oids_are_encoded_as_x690_says() {
        assert_eq!(tlv(0x04, &[]), [0x04, 0x00]);
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(oid(&[2, 5, 29, 17]), [0x06, 0x03, 0x55, 0x1d, 0x11]);
        assert_eq!(oid(&[1, 2, 840, 10045, 4, 3, 2]), [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
        assert_eq!(nested(2), [0x30, 0x02, 0x30, 0x00]);
    }

    /// OpenSSL (the program that serves them in the lab) reads every one, and they have the
    /// planned shape.
    #[test]
    fn openssl_reads_every_hostile_certificate() {
        if find_program("openssl").is_none() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let openssl = |args: &[&str]| run_checked(Command::new(program("openssl").expect("openssl")).args(args));
        let show = |c: &ServedCert| openssl(&["x509", "-noout", "-text", "-in", &c.cert.display().to_string()]);

        let chain = long_chain(&dir.path().join("chain"), "tls-chain.lab.wijk.test").expect("chain");
        let text = fs::read_to_string(&chain.chain).expect("chain.pem");
        assert_eq!(text.matches("BEGIN CERTIFICATE").count(), CHAIN_INTERMEDIATES);
        assert!(show(&chain).expect("leaf").contains("Issuer: CN = wijk-lab keten 1"));

        let many = many_extensions(&dir.path().join("many"), "tls-ext-many.lab.wijk.test").expect("many");
        let text = show(&many).expect("many");
        assert_eq!(text.matches("1.3.6.1.4.1.55555.1.").count(), MANY_EXTENSIONS, "{}", &text[..2000]);

        let deep = deep_extension(&dir.path().join("deep"), "tls-ext-deep.lab.wijk.test").expect("deep");
        assert!(show(&deep).expect("deep").contains("1.3.6.1.4.1.55555.2"));

        let bad = invalid_utf8(&dir.path().join("utf8"), "utf8.lab.wijk.test").expect("utf8");
        let text = show(&bad).expect("utf8");
        assert!(text.contains("Subject: CN = Gemeente \\C3\\BF\\C3\\BE"), "{text}");
        // The key matches the certificate (what s_server checks before it serves).
        let key = openssl(&["pkey", "-pubout", "-in", &bad.key.display().to_string()]).expect("pkey");
        let cert_key =
            openssl(&["x509", "-noout", "-pubkey", "-in", &bad.cert.display().to_string()]).expect("x509 -pubkey");
        assert_eq!(key, cert_key);
    }
}
