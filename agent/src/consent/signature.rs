//! Ed25519 keys, signing and verification of consent documents.
//!
//! The signature covers the document's exact bytes, so any change (even whitespace) needs a new
//! signature after review. All files are UTF-8 text; base64 is the standard alphabet with padding.
//!
//! - Key file `consent.key` (mode 0600, created with that mode, never overwritten):
//!   ```text
//!   wijkagent-consent-key/1
//!   <base64 of the 32-byte Ed25519 seed>
//!   ```
//! - Public key file `consent.pub`, one line:
//!   ```text
//!   wijkagent-consent-pub/1 <base64 of the 32-byte public key> <fingerprint>
//!   ```
//! - Signature file `<document>.sig` (e.g. `scope.toml.sig`):
//!   ```text
//!   wijkagent-consent-sig/1
//!   key <fingerprint>
//!   sig <base64 of the 64-byte signature>
//!   ```
//!
//! The fingerprint is the first 16 hex digits of the SHA-256 of the 32 public key bytes. It names
//! the key in messages and lets [`verify`] tell an untrusted signer from a tampered document.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::ConsentError;

/// File name of the private key written by [`keygen`].
pub const KEY_FILE: &str = "consent.key";
/// File name of the public key written by [`keygen`].
pub const PUB_FILE: &str = "consent.pub";
const KEY_MAGIC: &str = "wijkagent-consent-key/1";
const PUB_MAGIC: &str = "wijkagent-consent-pub/1";
const SIG_MAGIC: &str = "wijkagent-consent-sig/1";

/// Short fingerprint of a public key: first 16 hex digits of SHA-256 of its bytes.
pub fn fingerprint(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..8])
}

/// The signature file of `doc`: `doc` with `.sig` appended (`scope.toml` → `scope.toml.sig`).
pub fn sig_path(doc: &Path) -> PathBuf {
    let mut s = doc.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ConsentError + '_ {
    move |source| ConsentError::Io { path: path.to_path_buf(), source }
}

/// Creates `path` exclusively with `mode` (unix permission bits applied at creation).
fn create_new(path: &Path, mode: u32) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    o.open(path)
}

/// Writes a new key pair into `out_dir` (created 0700 if missing) as `consent.key` (0600) and
/// `consent.pub`; refuses to overwrite either. Returns `(key, pub)` paths.
pub fn keygen(out_dir: &Path) -> Result<(PathBuf, PathBuf), ConsentError> {
    let mut dir = fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        dir.mode(0o700);
    }
    dir.create(out_dir).map_err(io(out_dir))?;
    let key_path = out_dir.join(KEY_FILE);
    let pub_path = out_dir.join(PUB_FILE);
    for p in [&key_path, &pub_path] {
        if fs::symlink_metadata(p).is_ok() {
            return Err(ConsentError::KeyExists { path: p.clone() });
        }
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let vk = key.verifying_key();
    let mut f = create_new(&key_path, 0o600).map_err(exists(&key_path))?;
    let text = format!("{KEY_MAGIC}\n{}\n", B64.encode(key.to_bytes()));
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(io(&key_path))?;
    let line = format!("{PUB_MAGIC} {} {}\n", B64.encode(vk.as_bytes()), fingerprint(&vk));
    let written = create_new(&pub_path, 0o644)
        .map_err(exists(&pub_path))
        .and_then(|mut f| f.write_all(line.as_bytes()).and_then(|()| f.sync_all()).map_err(io(&pub_path)));
    if let Err(e) = written {
        // Keep the pair consistent: a key without its public half is useless and confusing.
        let _ = fs::remove_file(&key_path);
        return Err(e);
    }
    Ok((key_path, pub_path))
}

fn exists(p: &Path) -> impl FnOnce(std::io::Error) -> ConsentError + '_ {
    move |e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => ConsentError::KeyExists { path: p.to_path_buf() },
        _ => ConsentError::Io { path: p.to_path_buf(), source: e },
    }
}

fn decode_32(b64: &str) -> Option<[u8; 32]> {
    B64.decode(b64.trim()).ok()?.try_into().ok()
}

/// Reads a private key file; refuses one readable by group or others.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, ConsentError> {
    let meta = fs::metadata(path).map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ConsentError::KeyPermissions { path: path.to_path_buf(), mode });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = fs::read_to_string(path).map_err(io(path))?;
    let mut lines = text.lines();
    let seed = match (lines.next(), lines.next(), lines.next()) {
        (Some(KEY_MAGIC), Some(b64), None) => decode_32(b64),
        _ => None,
    };
    seed.map(|s| SigningKey::from_bytes(&s)).ok_or_else(|| ConsentError::KeyUnreadable {
        path: path.to_path_buf(),
        reason: format!("expected \"{KEY_MAGIC}\" and one base64 line"),
    })
}

/// Reads a public key file and checks its fingerprint.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, ConsentError> {
    let bad =
        |reason: &str| ConsentError::TrustedKeyUnreadable { path: path.to_path_buf(), reason: reason.to_string() };
    let text = fs::read_to_string(path).map_err(|e| bad(&e.to_string()))?;
    parse_public_key(&text, path)
}

/// Parses the text of a public key file and checks its fingerprint (`path` only names it in errors).
pub fn parse_public_key(text: &str, path: &Path) -> Result<VerifyingKey, ConsentError> {
    let bad =
        |reason: &str| ConsentError::TrustedKeyUnreadable { path: path.to_path_buf(), reason: reason.to_string() };
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [magic, b64, fp] = fields.as_slice() else {
        return Err(bad(&format!("expected one line \"{PUB_MAGIC} <base64> <fingerprint>\"")));
    };
    if *magic != PUB_MAGIC {
        return Err(bad(&format!("does not start with \"{PUB_MAGIC}\"")));
    }
    let bytes = decode_32(b64).ok_or_else(|| bad("key is not 32 bytes of base64"))?;
    let vk = VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not a valid Ed25519 public key"))?;
    if fingerprint(&vk) != *fp {
        return Err(bad("fingerprint does not match the key"));
    }
    Ok(vk)
}

/// Signs the exact bytes of `doc` with the key file `key`; writes `<doc>.sig` (replacing an older
/// signature atomically) and returns its path.
pub fn sign_file(doc: &Path, key: &Path) -> Result<PathBuf, ConsentError> {
    let bytes = fs::read(doc).map_err(io(doc))?;
    sign_bytes(doc, &bytes, key)
}

/// Signs `bytes` (the content of `doc`, already read) with the key file `key`; writes `<doc>.sig`.
pub fn sign_bytes(doc: &Path, bytes: &[u8], key: &Path) -> Result<PathBuf, ConsentError> {
    let sk = read_signing_key(key)?;
    let sig = sk.sign(bytes);
    let text = format!("{SIG_MAGIC}\nkey {}\nsig {}\n", fingerprint(&sk.verifying_key()), B64.encode(sig.to_bytes()));
    let out = sig_path(doc);
    let mut tmp = out.clone().into_os_string();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = fs::remove_file(&tmp);
    let res = create_new(&tmp, 0o644)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, &out));
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(ConsentError::Io { path: out, source: e });
    }
    Ok(out)
}

/// A parsed signature file.
#[derive(Debug, Clone)]
pub struct DetachedSignature {
    /// Fingerprint of the key that claims to have signed.
    pub fingerprint: String,
    /// The signature.
    pub signature: Signature,
}

/// Parses the text of a signature file (`path` only names it in errors).
pub fn parse_signature(text: &str, path: &Path) -> Result<DetachedSignature, ConsentError> {
    let bad = |reason: &str| ConsentError::SignatureMalformed { path: path.to_path_buf(), reason: reason.to_string() };
    let mut lines = text.lines();
    if lines.next() != Some(SIG_MAGIC) {
        return Err(bad(&format!("first line is not \"{SIG_MAGIC}\"")));
    }
    let fp = lines.next().and_then(|l| l.strip_prefix("key ")).map(str::trim);
    let fp = fp
        .filter(|f| f.len() == 16 && f.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| bad("second line is not \"key <16 hex>\""))?;
    let sig =
        lines.next().and_then(|l| l.strip_prefix("sig ")).ok_or_else(|| bad("third line is not \"sig <base64>\""))?;
    let sig: [u8; 64] = B64
        .decode(sig.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad("signature is not 64 bytes of base64"))?;
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(bad("unexpected lines after the signature"));
    }
    Ok(DetachedSignature { fingerprint: fp.to_ascii_lowercase(), signature: Signature::from_bytes(&sig) })
}

/// Checks `<doc>.sig` over `doc_bytes` against the public key files `trusted`; returns the
/// signer's fingerprint. Distinguishes a missing or malformed signature file, an untrusted
/// signer and a signature that does not match (document or signature changed).
pub fn verify(doc: &Path, doc_bytes: &[u8], trusted: &[PathBuf]) -> Result<String, ConsentError> {
    let sp = sig_path(doc);
    let text = match fs::read(&sp) {
        Ok(b) => String::from_utf8(b)
            .map_err(|_| ConsentError::SignatureMalformed { path: sp.clone(), reason: "not UTF-8 text".into() })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConsentError::SignatureMissing { path: sp, document: doc.to_path_buf() })
        }
        Err(e) => return Err(ConsentError::Io { path: sp, source: e }),
    };
    let sig = parse_signature(&text, &sp)?;
    if trusted.is_empty() {
        return Err(ConsentError::NoTrustedKeys);
    }
    let keys = trusted.iter().map(|p| read_public_key(p)).collect::<Result<Vec<_>, _>>()?;
    let key = keys
        .iter()
        .find(|k| fingerprint(k) == sig.fingerprint)
        .ok_or_else(|| ConsentError::UntrustedSigner { fingerprint: sig.fingerprint.clone() })?;
    key.verify_strict(doc_bytes, &sig.signature)
        .map_err(|_| ConsentError::SignatureMismatch { document: doc.to_path_buf(), signature: sp })?;
    Ok(sig.fingerprint)
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
