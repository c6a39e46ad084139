//! Certificate analysis against the fixtures in `../testdata` (see its README for how they were made).

use super::*;
use chrono::TimeDelta;

const SELF_SIGNED: &[u8] = include_bytes!("../testdata/self-signed.der");
const EXPIRED: &[u8] = include_bytes!("../testdata/expired.der");
const NOT_YET_VALID: &[u8] = include_bytes!("../testdata/not-yet-valid.der");
const RSA1024: &[u8] = include_bytes!("../testdata/rsa1024.der");
const SHA1: &[u8] = include_bytes!("../testdata/sha1.der");
const CA: &[u8] = include_bytes!("../testdata/ca.der");
const LEAF: &[u8] = include_bytes!("../testdata/leaf.der");

fn run(chain: &[&[u8]], host: Option<&str>, now: DateTime<Utc>) -> Analysis {
    let chain: Vec<Vec<u8>> = chain.iter().map(|c| c.to_vec()).collect();
    analyse(&chain, host, &MOZILLA_ROOTS, now).expect("analysed")
}

fn ids(a: &Analysis) -> Vec<&str> {
    a.observations.iter().map(|o| o.weakness.as_str()).collect()
}

/// The English evidence of `id`.
fn evidence<'a>(a: &'a Analysis, id: &str) -> &'a str {
    said(a, id).map(|s| s.en.as_str()).unwrap_or_default()
}

/// The Dutch evidence of `id`.
fn bewijs<'a>(a: &'a Analysis, id: &str) -> &'a str {
    said(a, id).map(|s| s.nl.as_str()).unwrap_or_default()
}

fn said<'a>(a: &'a Analysis, id: &str) -> Option<&'a Said> {
    a.observations.iter().find(|o| o.weakness == id).map(|o| &o.evidence)
}

#[test]
fn a_self_signed_certificate() {
    let a = run(&[SELF_SIGNED], Some("wijkagent.test"), Utc::now());
    assert_eq!(ids(&a), ["tls-cert-self-signed", "tls-cert-untrusted"]);
    assert_eq!(evidence(&a, "tls-cert-self-signed"), "issuer equals subject; signature verifies with its own key");
    assert_eq!(evidence(&a, "tls-cert-untrusted"), "not trusted by the Mozilla roots: self-signed");
    assert_eq!(
        bewijs(&a, "tls-cert-self-signed"),
        "uitgever gelijk aan onderwerp; de handtekening klopt met de eigen sleutel"
    );
    assert_eq!(bewijs(&a, "tls-cert-untrusted"), "niet vertrouwd door de Mozilla-rootcertificaten: zelfondertekend");
    let r = &a.report;
    assert_eq!(r.subject, "CN=wijkagent.test");
    assert_eq!(r.issuer, "CN=wijkagent.test");
    assert_eq!(r.common_name.as_deref(), Some("wijkagent.test"));
    assert_eq!(r.alt_names, ["wijkagent.test", "*.wijkagent.test", "127.0.0.1"]);
    assert_eq!((r.key.as_str(), r.key_bits), ("EC P-256", Some(256)));
    assert_eq!(r.signature_algorithm, "ecdsa-with-SHA256");
    assert!(r.self_signed && !r.trusted);
    assert_eq!(r.trust_error.as_deref(), Some("self-signed"));
    assert_eq!((r.chain_length, r.name_matches), (1, Some(true)));
    assert_eq!(r.sha256.len(), 64);
    assert!(r.days_left > 365 * 50);
    assert!(r.problems.is_empty());
}

#[test]
fn names_are_matched_on_the_subject_alt_name() {
    let now = Utc::now();
    for (host, matches) in [
        ("wijkagent.test", true),
        ("WIJKAGENT.test.", true),
        ("mail.wijkagent.test", true),
        ("a.b.wijkagent.test", false),
        ("other.example", false),
        ("127.0.0.1", true),
        ("127.0.0.2", false),
    ] {
        let a = run(&[SELF_SIGNED], Some(host), now);
        assert_eq!(a.report.name_matches, Some(matches), "{host}");
        assert_eq!(ids(&a).contains(&"tls-cert-name-mismatch"), !matches, "{host}");
    }
    let a = run(&[SELF_SIGNED], Some("other.example"), now);
    assert_eq!(
        evidence(&a, "tls-cert-name-mismatch"),
        "other.example not among wijkagent.test, *.wijkagent.test, 127.0.0.1"
    );
    assert_eq!(
        bewijs(&a, "tls-cert-name-mismatch"),
        "other.example niet bij wijkagent.test, *.wijkagent.test, 127.0.0.1"
    );
    let a = run(&[SELF_SIGNED], None, now);
    assert_eq!(a.report.name_matches, None);
}

#[test]
fn the_wildcard_rules() {
    assert!(name_match("www.voorbeeld.be", "*.voorbeeld.be"));
    assert!(!name_match("voorbeeld.be", "*.voorbeeld.be"));
    assert!(!name_match("a.www.voorbeeld.be", "*.voorbeeld.be"));
    assert!(!name_match("voorbeeld.be", "*.be"), "no wildcard for a whole top-level domain");
    assert!(!name_match("10.0.0.1", "*.0.0.1"));
    assert!(name_match("::1", "0:0::1"));
    assert!(!name_match("", ""));
}

#[test]
fn an_expired_certificate() {
    let a = run(&[EXPIRED], None, Utc::now());
    assert_eq!(evidence(&a, "tls-cert-expired").split(" (").next(), Some("expired on 2021-01-01"));
    assert_eq!(bewijs(&a, "tls-cert-expired").split(" (").next(), Some("verlopen op 2021-01-01"));
    assert!(!ids(&a).contains(&"tls-cert-expiring"));
    assert!(a.report.days_left < -365 * 5);
    assert_eq!(a.report.not_after.to_rfc3339(), "2021-01-01T00:00:00+00:00");
    assert!(a.report.self_signed);
}

#[test]
fn validity_at_chosen_moments() {
    let not_after = run(&[SELF_SIGNED], None, Utc::now()).report.not_after;
    let not_before = run(&[SELF_SIGNED], None, Utc::now()).report.not_before;

    let a = run(&[SELF_SIGNED], None, not_after - TimeDelta::days(10));
    assert_eq!(ids(&a), ["tls-cert-expiring", "tls-cert-self-signed", "tls-cert-untrusted"]);
    assert!(evidence(&a, "tls-cert-expiring").ends_with("(in 10 days)"));
    assert!(bewijs(&a, "tls-cert-expiring").ends_with("(over 10 dagen)"));
    assert_eq!(a.report.days_left, 10);

    let a = run(&[SELF_SIGNED], None, not_after - TimeDelta::days(EXPIRING_DAYS + 1));
    assert!(!ids(&a).contains(&"tls-cert-expiring"));

    let a = run(&[SELF_SIGNED], None, not_after + TimeDelta::days(2));
    assert!(evidence(&a, "tls-cert-expired").ends_with("(2 days ago)"));

    let a = run(&[SELF_SIGNED], None, not_before - TimeDelta::days(1));
    assert!(!ids(&a).contains(&"tls-cert-expired"));
    assert!(ids(&a).contains(&"tls-cert-not-yet-valid"));
    assert!(
        evidence(&a, "tls-cert-not-yet-valid").ends_with("(in 1 days)"),
        "{}",
        evidence(&a, "tls-cert-not-yet-valid")
    );
    assert!(a.report.problems.is_empty(), "an observation now, not a problem: {:?}", a.report.problems);

    let a = run(&[SELF_SIGNED], None, not_before + TimeDelta::days(1));
    assert!(!ids(&a).contains(&"tls-cert-not-yet-valid"));
}

#[test]
fn a_certificate_not_yet_valid() {
    let a = run(&[NOT_YET_VALID], None, Utc::now());
    assert_eq!(ids(&a), ["tls-cert-not-yet-valid", "tls-cert-self-signed", "tls-cert-untrusted"]);
    assert_eq!(evidence(&a, "tls-cert-not-yet-valid").split(" (").next(), Some("not valid before 2090-01-01"));
    assert_eq!(bewijs(&a, "tls-cert-not-yet-valid").split(" (").next(), Some("pas geldig vanaf 2090-01-01"));
    assert!(bewijs(&a, "tls-cert-not-yet-valid").ends_with(" dagen)"));
    assert_eq!(a.report.not_before.to_rfc3339(), "2090-01-01T00:00:00+00:00");
    assert!(a.report.days_left > 365 * 60, "not expiring either");
    assert!(!ids(&a).contains(&"tls-cert-expired") && !ids(&a).contains(&"tls-cert-expiring"));
    // The chain is judged at a time the leaf is valid: untrusted because self-signed, not because
    // of its dates.
    assert_eq!(a.report.trust_error.as_deref(), Some("self-signed"));
    assert!(a.report.problems.is_empty());
}

#[test]
fn a_1024_bit_rsa_key() {
    let a = run(&[RSA1024], None, Utc::now());
    assert_eq!(evidence(&a, "tls-cert-weak-key"), "leaf: RSA 1024 bits");
    assert_eq!(bewijs(&a, "tls-cert-weak-key"), "servercertificaat: RSA 1024 bits");
    assert_eq!((a.report.key.as_str(), a.report.key_bits), ("RSA", Some(1024)));
    assert!(!ids(&a).contains(&"tls-cert-weak-signature"));
    // ring does not check signatures by keys this small: the names decide.
    assert_eq!(evidence(&a, "tls-cert-self-signed"), "issuer equals subject");
}

#[test]
fn a_sha1_signature() {
    let a = run(&[SHA1], None, Utc::now());
    assert_eq!(evidence(&a, "tls-cert-weak-signature"), "leaf: signed with sha1WithRSAEncryption");
    assert_eq!(bewijs(&a, "tls-cert-weak-signature"), "servercertificaat: ondertekend met sha1WithRSAEncryption");
    assert_eq!(a.report.signature_algorithm, "sha1WithRSAEncryption");
    assert_eq!(a.report.key_bits, Some(2048));
    assert!(!ids(&a).contains(&"tls-cert-weak-key"));
    assert!(a.report.self_signed);
}

#[test]
fn a_chain_of_two_is_trusted_only_with_its_root() {
    let chain = vec![LEAF.to_vec(), CA.to_vec()];
    let a = analyse(&chain, Some("leaf.wijkagent.test"), &MOZILLA_ROOTS, Utc::now()).expect("analysed");
    assert_eq!(ids(&a), ["tls-cert-untrusted"]);
    assert_eq!(a.report.trust_error.as_deref(), Some("unknown issuer"));
    assert!(!a.report.self_signed);
    assert_eq!((a.report.chain_length, a.report.name_matches), (2, Some(true)));
    assert_eq!(a.report.issuer, "CN=Wijkagent Test CA");

    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(CA)).expect("a root");
    for chain in [vec![LEAF.to_vec(), CA.to_vec()], vec![LEAF.to_vec()]] {
        let a = analyse(&chain, Some("leaf.wijkagent.test"), &roots, Utc::now()).expect("analysed");
        assert!(a.report.trusted, "{:?}", a.report.trust_error);
        assert!(a.observations.is_empty(), "{:?}", a.observations);
    }
    // The CA sent as the leaf is self-signed and, with itself as root, verifies (or webpki
    // refuses a CA as end entity): either way no panic and a self-signed observation.
    let a = analyse(&[CA.to_vec()], None, &roots, Utc::now()).expect("analysed");
    assert!(ids(&a).contains(&"tls-cert-self-signed"));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(analyse(&[], None, &MOZILLA_ROOTS, Utc::now()).is_err());
    assert!(analyse(&[b"\x30\x03\x02\x01\x01".to_vec()], None, &MOZILLA_ROOTS, Utc::now()).is_err());
    let mut cut = SELF_SIGNED.to_vec();
    cut.truncate(100);
    assert!(analyse(&[cut], None, &MOZILLA_ROOTS, Utc::now()).is_err());
    // An unreadable intermediate is a problem, not an error.
    let a = analyse(&[SELF_SIGNED.to_vec(), vec![1, 2, 3]], None, &MOZILLA_ROOTS, Utc::now()).expect("analysed");
    assert_eq!(a.report.problems, ["chain certificate 2 unreadable"]);
}

#[test]
fn weak_thresholds() {
    assert!(is_weak_key("RSA", Some(2047)));
    assert!(!is_weak_key("RSA", Some(2048)));
    assert!(is_weak_key("EC P-224", Some(224)));
    assert!(!is_weak_key("EC P-256", Some(256)));
    assert!(!is_weak_key("Ed25519", Some(256)));
    assert!(is_weak_signature("md5WithRSAEncryption"));
    assert!(is_weak_signature("ecdsa-with-SHA1"));
    assert!(is_weak_signature("dsa-with-sha1"));
    assert!(!is_weak_signature("sha256WithRSAEncryption"));
    assert!(!is_weak_signature("ecdsa-with-SHA256"));
}

#[test]
fn der_elements() {
    assert_eq!(der_tlv(&[0x30, 0x02, 0x05, 0x00, 0xff]), Some((0x30, &[0x05, 0x00][..], &[0xff][..])));
    assert_eq!(der_tlv(&[0x30, 0x81, 0x01, 0x00]), Some((0x30, &[0x00][..], &[][..])));
    assert_eq!(der_tlv(&[0x30, 0x05, 0x00]), None);
    assert_eq!(der_tlv(&[0x30, 0x80]), None);
    assert_eq!(der_tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
}
