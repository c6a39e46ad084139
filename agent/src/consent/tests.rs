//! Tests of `consent`: loading signed documents and time checks.

use super::*;
use std::fs;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
}

struct Signed {
    _dir: tempfile::TempDir,
    doc: PathBuf,
    key: PathBuf,
    trusted: Vec<PathBuf>,
}

fn signed(text: &str) -> Signed {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, pubk) = keygen(&dir.path().join("keys")).expect("keygen");
    let doc = dir.path().join("scope.toml");
    fs::write(&doc, text).expect("write");
    sign(&doc, &key).expect("sign");
    Signed { _dir: dir, doc, key, trusted: vec![pubk] }
}

#[test]
fn load_checks_signature_then_content() {
    let s = signed(&template());
    let c = load(&s.doc, &s.trusted).expect("load");
    assert_eq!(c.terms.organisation, "Gemeente Voorbeeld");
    assert_eq!(c.terms.profile, Profile::Standard);
    assert_eq!(c.sha256, hex::encode(Sha256::digest(template().as_bytes())));
    let vk = signature::read_public_key(&s.trusted[0]).expect("pub");
    assert_eq!(c.signer, fingerprint(&vk));
    // One changed byte: refused as tampered.
    fs::write(&s.doc, template().replace("max_rate = 200", "max_rate = 900")).expect("write");
    let err = load(&s.doc, &s.trusted).expect_err("tampered");
    assert!(matches!(err, ConsentError::SignatureMismatch { .. }));
    assert!(err.to_string().contains("re-sign after review"));
    // Missing scope file: I/O error with the path, still exit code 3.
    let err = load(&s.doc.with_file_name("nope.toml"), &s.trusted).expect_err("missing");
    assert!(matches!(err, ConsentError::Io { .. }) && err.to_string().contains("nope.toml"));
    assert_eq!(err.exit_code(), 3);
}

#[test]
fn sign_refuses_invalid_documents() {
    let s = signed(&template());
    fs::write(&s.doc, template().replace("profile  = \"standard\"", "profile  = \"max\"")).expect("write");
    assert!(matches!(sign(&s.doc, &s.key), Err(ConsentError::InvalidField { .. })));
}

#[test]
fn check_time_validity_and_windows() {
    let s = signed(&template());
    let c = load(&s.doc, &s.trusted).expect("load");
    assert!(matches!(c.check_time(t("2026-11-30T22:59:59Z")), Err(ConsentError::NotYetValid { .. })));
    assert!(matches!(c.check_time(t("2027-12-01T00:00:00+01:00")), Err(ConsentError::Expired { .. })));
    // Monday 2026-12-07 19:30 Brussels: open.
    assert!(c.check_time(t("2026-12-07T18:30:00Z")).is_ok());
    // Saturday 2026-12-05 noon: closed until Monday evening.
    let err = c.check_time(t("2026-12-05T11:00:00Z")).expect_err("weekend");
    let msg = err.to_string();
    assert!(msg.contains("volgende venster opent ma 2026-12-07 19:00 (Europe/Brussels)"), "{msg}");
    assert!(msg.contains("next window opens Mon 2026-12-07 19:00 (Europe/Brussels)"), "{msg}");
    // The last window before expiry: nothing left after it.
    let mut short = c.clone();
    short.terms.valid_until = DateTime::parse_from_rfc3339("2026-12-06T00:00:00+01:00").expect("time");
    let err = short.check_time(t("2026-12-05T11:00:00Z")).expect_err("after last window");
    assert!(matches!(err, ConsentError::OutsideWindow { next: None }), "{err}");
}

#[test]
fn no_window_never_allows_scanning() {
    let text = template();
    let text = text.split("[[window]]").next().unwrap_or_default();
    let s = signed(text);
    let c = load(&s.doc, &s.trusted).expect("load");
    let err = c.check_time(t("2026-12-07T18:30:00Z")).expect_err("no window");
    assert!(matches!(err, ConsentError::NoWindow));
}

#[test]
fn self_loopback_is_loopback_only_and_always_open() {
    let c = Consent::self_loopback();
    assert_eq!(c.terms.scope.target_count(), 2);
    assert!(
        c.terms.scope.contains("127.0.0.1".parse().expect("ip")) && c.terms.scope.contains("::1".parse().expect("ip"))
    );
    assert!(!c.terms.scope.contains("127.0.0.2".parse().expect("ip")));
    assert_eq!(
        (c.terms.profile, c.terms.max_rate, c.terms.max_per_host_rate, c.terms.ot_identification),
        (Profile::Full, 5000, 5000, false)
    );
    assert_eq!((c.sha256.as_str(), c.signer.as_str()), ("self", "self"));
    for now in [Utc::now(), t("2026-03-29T01:30:00Z"), t("2030-01-05T12:00:00Z")] {
        assert!(c.check_time(now).is_ok());
    }
}

#[test]
fn messages_are_one_line_dutch_then_english() {
    let errors = [
        ConsentError::SignatureMissing { path: "s.toml.sig".into(), document: "s.toml".into() },
        ConsentError::UntrustedSigner { fingerprint: "0123456789abcdef".into() },
        ConsentError::ScopeTooLarge { entry: Some("2001:db8::/64".into()), count: 1 << 64 },
        ConsentError::ScopeEmpty,
        ConsentError::OutsideWindow { next: Some(t("2026-12-07T18:00:00Z")) },
        ConsentError::Toml { path: "s.toml".into(), line: 3, column: 4, message: "a\nb".replace('\n', " ") },
        ConsentError::Io { path: "s.toml".into(), source: std::io::Error::from(std::io::ErrorKind::NotFound) },
    ];
    for e in errors {
        let m = e.to_string();
        assert!(!m.contains('\n') && m.contains(" / "), "{m}");
        assert_eq!(e.exit_code(), 3);
    }
}
