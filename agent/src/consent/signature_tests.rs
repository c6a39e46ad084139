//! Tests of `consent::signature`.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn mode(p: &Path) -> u32 {
    fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn keygen_writes_private_key_0600_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("keys/new");
    let (key, pubk) = keygen(&out).expect("keygen");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&out), 0o700);
    let text = fs::read_to_string(&key).expect("key");
    assert!(text.starts_with("wijkagent-consent-key/1\n") && text.ends_with('\n'));
    let vk = read_public_key(&pubk).expect("pub");
    assert_eq!(read_signing_key(&key).expect("key").verifying_key(), vk);
    let fp = fingerprint(&vk);
    assert_eq!(fp.len(), 16);
    assert!(fs::read_to_string(&pubk).expect("pub").ends_with(&format!(" {fp}\n")));
    assert!(matches!(keygen(&out), Err(ConsentError::KeyExists { .. })));
    assert_eq!(fs::read_to_string(&key).expect("key"), text, "key must be untouched");
}

struct Setup {
    _dir: tempfile::TempDir,
    doc: PathBuf,
    key: PathBuf,
    pubk: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, pubk) = keygen(&dir.path().join("k")).expect("keygen");
    let doc = dir.path().join("scope.toml");
    fs::write(&doc, "organisation = \"x\"\n").expect("write");
    Setup { _dir: dir, doc, key, pubk }
}

#[test]
fn sign_and_verify() {
    let s = setup();
    let sig = sign_file(&s.doc, &s.key).expect("sign");
    assert_eq!(sig, s.doc.with_file_name("scope.toml.sig"));
    let bytes = fs::read(&s.doc).expect("doc");
    let fp = verify(&s.doc, &bytes, std::slice::from_ref(&s.pubk)).expect("verify");
    assert_eq!(fp, fingerprint(&read_public_key(&s.pubk).expect("pub")));
    // Re-signing replaces the signature.
    sign_file(&s.doc, &s.key).expect("sign again");
    assert!(verify(&s.doc, &bytes, std::slice::from_ref(&s.pubk)).is_ok());
}

#[test]
fn verification_failures_are_told_apart() {
    let s = setup();
    let bytes = fs::read(&s.doc).expect("doc");
    let trusted = [s.pubk.clone()];
    assert!(matches!(verify(&s.doc, &bytes, &trusted), Err(ConsentError::SignatureMissing { .. })));
    let sig = sign_file(&s.doc, &s.key).expect("sign");
    // Tampered document.
    assert!(matches!(verify(&s.doc, b"organisation = \"y\"\n", &trusted), Err(ConsentError::SignatureMismatch { .. })));
    // No trusted keys / another trusted key.
    assert!(matches!(verify(&s.doc, &bytes, &[]), Err(ConsentError::NoTrustedKeys)));
    let other = tempfile::tempdir().expect("tempdir");
    let (_, other_pub) = keygen(other.path()).expect("keygen");
    match verify(&s.doc, &bytes, std::slice::from_ref(&other_pub)) {
        Err(e @ ConsentError::UntrustedSigner { .. }) => assert!(e.to_string().contains("--trust")),
        other => panic!("{other:?}"),
    }
    assert!(verify(&s.doc, &bytes, &[other_pub, s.pubk.clone()]).is_ok());
    // Tampered signature bytes (still well-formed).
    let text = fs::read_to_string(&sig).expect("sig");
    let (head, b64) = text.rsplit_once("sig ").expect("sig line");
    let mut raw = B64.decode(b64.trim()).expect("b64");
    raw[10] ^= 1;
    fs::write(&sig, format!("{head}sig {}\n", B64.encode(&raw))).expect("write");
    assert!(matches!(verify(&s.doc, &bytes, &trusted), Err(ConsentError::SignatureMismatch { .. })));
    // Malformed files.
    for bad in [
        "",
        "hello\n",
        "wijkagent-consent-sig/1\nkey zz\nsig AAAA\n",
        &text.replace("sig ", "sig x"),
        &format!("{text}extra\n"),
    ] {
        fs::write(&sig, bad).expect("write");
        assert!(matches!(verify(&s.doc, &bytes, &trusted), Err(ConsentError::SignatureMalformed { .. })), "{bad:?}");
    }
}

#[test]
fn bad_key_files_are_refused() {
    let s = setup();
    fs::set_permissions(&s.key, fs::Permissions::from_mode(0o640)).expect("chmod");
    match sign_file(&s.doc, &s.key) {
        Err(e @ ConsentError::KeyPermissions { mode: 0o640, .. }) => assert!(e.to_string().contains("chmod 600")),
        other => panic!("{other:?}"),
    }
    fs::write(&s.pubk, "wijkagent-consent-pub/1 AAAA 0000\n").expect("write");
    assert!(matches!(read_public_key(&s.pubk), Err(ConsentError::TrustedKeyUnreadable { .. })));
    let missing = s.pubk.with_file_name("nope.pub");
    assert!(matches!(read_public_key(&missing), Err(ConsentError::TrustedKeyUnreadable { .. })));
    fs::set_permissions(&s.key, fs::Permissions::from_mode(0o600)).expect("chmod");
    fs::write(&s.key, "wijkagent-consent-key/1\nnot base64\n").expect("write");
    assert!(matches!(read_signing_key(&s.key), Err(ConsentError::KeyUnreadable { .. })));
}
