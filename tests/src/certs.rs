//! Certificates for the services lab, made at lab start with Debian's `openssl` command.
//!
//! - [`LabCa`]: a private CA (`wijk-lab test CA`, RSA-2048, SHA-256, ten years) that signs the
//!   hardened twins' certificates ([`LabCa::issue`]: RSA-2048, SHA-256, two years from now, SAN with
//!   the host's lab name, `serverAuth`). Their findings still include `tls-cert-untrusted`: no lab
//!   CA is among the Mozilla roots, and a lab cannot have a publicly trusted certificate. They are
//!   not self-signed.
//! - [`expired_self_signed`]: the weak twin's certificate: self-signed, RSA-1024, SHA-1, valid from
//!   2020-01-01 to 2021-01-01. OpenSSL 3.0's `req -x509` has no way to set dates in the past (its
//!   `-not_before`/`-not_after` arrived in 3.4, and `faketime` is not available), so it is made with
//!   `openssl ca -selfsign -startdate … -enddate …` and a throwaway CA configuration
//!   (`tests/lab/services/openssl-selfsign.cnf`) whose database lives in the lab directory.
//!
//! Serial numbers are fixed so that every lab's certificates look the same apart from their keys.
//! Every `openssl` run is bounded in time.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::daemons::make_dir;
use crate::process::{program, run_checked};

/// Serial of the CA certificate.
const CA_SERIAL: &str = "0x1001";
/// Serial of every certificate the lab CA issues (each lab host has its own CA anyway).
const LEAF_SERIAL: &str = "0x2001";
/// Serial of the expired self-signed certificate (hex, as `openssl ca` wants its serial file).
const SELF_SIGNED_SERIAL: &str = "3001";
/// Validity of the hardened certificates: 825 days, the most browsers accepted for years, far from
/// `tls-cert-expiring`.
const LEAF_DAYS: &str = "825";

/// A certificate and its private key, PEM files. `chain` is the certificate followed by the CA
/// certificate that signed it (the certificate alone when self-signed).
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The certificate.
    pub cert: PathBuf,
    /// The certificate and its issuer, for servers that send the chain from one file.
    pub chain: PathBuf,
    /// The unencrypted private key.
    pub key: PathBuf,
}

/// The lab's private certificate authority.
#[derive(Debug, Clone)]
pub struct LabCa {
    /// The CA's certificate (`ca.pem`) and key.
    pub files: CertFiles,
}

impl LabCa {
    /// Makes a CA in `dir` (created if needed).
    pub fn create(dir: &Path) -> Result<LabCa> {
        make_dir(dir)?;
        let cert = dir.join("ca.pem");
        let key = dir.join("ca-key.pem");
        #[rustfmt::skip]
        let args = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650", "-set_serial", CA_SERIAL,
            "-subj", "/O=wijk-lab/CN=wijk-lab test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", &path(&key), "-out", &path(&cert),
        ];
        openssl(&args).context("making the lab CA")?;
        Ok(LabCa { files: CertFiles { chain: cert.clone(), cert, key } })
    }

    /// Issues a server certificate for DNS name `name` into `dir`: `cert.pem`, `chain.pem`
    /// (certificate, then the CA) and `key.pem`.
    pub fn issue(&self, name: &str, dir: &Path) -> Result<CertFiles> {
        make_dir(dir)?;
        let key = dir.join("key.pem");
        let csr = dir.join("request.csr");
        let cert = dir.join("cert.pem");
        let chain = dir.join("chain.pem");
        let ext = dir.join("leaf.ext");
        fs::write(
            &ext,
            format!(
                "basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n\
                 extendedKeyUsage = serverAuth\nsubjectAltName = DNS:{name}\n"
            ),
        )?;
        let subject = format!("/O=wijk-lab/CN={name}");
        #[rustfmt::skip]
        let request = [
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", &subject,
            "-keyout", &path(&key), "-out", &path(&csr),
        ];
        openssl(&request)?;
        #[rustfmt::skip]
        let sign = [
            "x509", "-req", "-in", &path(&csr), "-CA", &path(&self.files.cert), "-CAkey", &path(&self.files.key),
            "-set_serial", LEAF_SERIAL, "-days", LEAF_DAYS, "-sha256", "-extfile", &path(&ext), "-out", &path(&cert),
        ];
        openssl(&sign).with_context(|| format!("issuing a lab CA certificate for {name}"))?;
        let both = [fs::read_to_string(&cert)?, fs::read_to_string(&self.files.cert)?].concat();
        fs::write(&chain, both)?;
        Ok(CertFiles { cert, chain, key })
    }
}

/// Makes the weak certificate for DNS name `name` in `dir`: `cert.pem` (= `chain.pem`) and
/// `key.pem`. See the module documentation.
pub fn expired_self_signed(name: &str, dir: &Path) -> Result<CertFiles> {
    make_dir(dir)?;
    let db = dir.join("selfsign-db");
    make_dir(&db)?;
    fs::write(db.join("index.txt"), "")?;
    fs::write(db.join("serial"), format!("{SELF_SIGNED_SERIAL}\n"))?;
    let conf = db.join("openssl-selfsign.cnf");
    let template = include_str!("../lab/services/openssl-selfsign.cnf");
    fs::write(&conf, template.replace("@DIR@", &path(&db)).replace("@NAME@", name))?;
    let key = dir.join("key.pem");
    let csr = dir.join("request.csr");
    let cert = dir.join("cert.pem");
    openssl(&["genrsa", "-out", &path(&key), "1024"])?;
    openssl(&["req", "-new", "-sha1", "-config", &path(&conf), "-key", &path(&key), "-out", &path(&csr)])?;
    #[rustfmt::skip]
    let sign = [
        "ca", "-batch", "-notext", "-selfsign", "-config", &path(&conf), "-keyfile", &path(&key), "-in", &path(&csr),
        "-md", "sha1", "-startdate", "20200101000000Z", "-enddate", "20210101000000Z", "-out", &path(&cert),
    ];
    openssl(&sign).with_context(|| format!("making the expired self-signed certificate for {name}"))?;
    Ok(CertFiles { chain: cert.clone(), cert, key })
}

/// `openssl x509 -noout <what>` of `cert`, for checks and failure messages.
pub fn describe(cert: &Path, what: &[&str]) -> Result<String> {
    let mut args = vec!["x509", "-noout", "-in"];
    let p = path(cert);
    args.push(&p);
    args.extend_from_slice(what);
    openssl(&args)
}

fn openssl(args: &[&str]) -> Result<String> {
    run_checked(Command::new(program("openssl")?).args(args))
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::find_program;

    #[test]
    fn weak_and_hardened_certificates_have_the_planned_properties() {
        if find_program("openssl").is_none() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let weak = expired_self_signed("tls-weak.lab.wijk.test", &dir.path().join("weak")).expect("weak");
        let text = describe(&weak.cert, &["-text", "-dates"]).expect("x509");
        assert!(text.contains("Public-Key: (1024 bit)"), "{text}");
        assert!(text.contains("sha1WithRSAEncryption"), "{text}");
        assert!(text.contains("notBefore=Jan  1 00:00:00 2020 GMT"), "{text}");
        assert!(text.contains("notAfter=Jan  1 00:00:00 2021 GMT"), "{text}");
        let names = describe(&weak.cert, &["-subject", "-issuer"]).expect("names");
        assert!(names.contains("subject=CN = tls-weak.lab.wijk.test"), "{names}");
        assert!(names.contains("issuer=CN = tls-weak.lab.wijk.test"), "{names}");

        let ca = LabCa::create(&dir.path().join("ca")).expect("ca");
        let safe = ca.issue("tls-safe.lab.wijk.test", &dir.path().join("safe")).expect("leaf");
        let text = describe(&safe.cert, &["-text"]).expect("x509");
        assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
        assert!(text.contains("sha256WithRSAEncryption"), "{text}");
        assert!(text.contains("DNS:tls-safe.lab.wijk.test"), "{text}");
        assert!(text.contains("Issuer: O = wijk-lab, CN = wijk-lab test CA"), "{text}");
        // Valid now and for at least a year (far from tls-cert-expiring).
        describe(&safe.cert, &["-checkend", "31536000"]).expect("valid for a year");
        let verify = run_checked(Command::new(program("openssl").expect("openssl")).args([
            "verify",
            "-CAfile",
            &path(&ca.files.cert),
            &path(&safe.cert),
        ]))
        .expect("the lab CA verifies its certificate");
        assert!(verify.contains("OK"), "{verify}");
        assert_eq!(fs::read_to_string(&safe.chain).expect("chain").matches("BEGIN CERTIFICATE").count(), 2);
    }
}
