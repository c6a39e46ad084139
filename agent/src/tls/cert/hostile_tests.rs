//! Certificates built to hurt parsers (the hostile lab's cases, small): a long chain, unusually
//! many extensions, an extension nested far too deep, names that are not UTF-8. rcgen makes them;
//! for the names, the test then breaks the bytes of a placeholder in the DER (the signature no
//! longer matches, which the analysis of names does not care about).

use super::shape::nested;
use super::*;
use rcgen::{CertificateParams, CustomExtension, DnType, KeyPair};

const LEAF: &[u8] = include_bytes!("../testdata/leaf.der");
const CA: &[u8] = include_bytes!("../testdata/ca.der");

/// A self-signed certificate for `wijkagent.test` with `extensions` added, as DER.
fn certificate(cn: &str, sans: &[&str], extensions: Vec<CustomExtension>) -> Vec<u8> {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.custom_extensions = extensions;
    params.self_signed(&key).expect("certificate").der().to_vec()
}

fn run(der: Vec<u8>) -> Analysis {
    analyse(&[der], None, &MOZILLA_ROOTS, Utc::now()).expect("analysed")
}

#[test]
fn a_chain_longer_than_was_kept_is_counted_and_said() {
    let chain = vec![LEAF.to_vec(), CA.to_vec()];
    let mut a = analyse(&chain, None, &MOZILLA_ROOTS, Utc::now()).expect("analysed");
    assert_eq!((a.report.chain_length, a.report.chain_analysed), (2, 2));
    a.report.count_presented(2);
    assert!(a.report.problems.is_empty(), "{:?}", a.report.problems);
    a.report.count_presented(100);
    assert_eq!((a.report.chain_length, a.report.chain_analysed), (100, 2));
    assert_eq!(a.report.problems, ["chain of 100 certificates; analysed the first 2"]);
}

#[test]
fn unusually_many_extensions_are_counted_and_said() {
    let many = (0..150u64).map(|i| CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1, i], vec![]));
    let a = run(certificate("many.wijkagent.test", &["many.wijkagent.test"], many.collect()));
    // 150 of ours and rcgen's subjectAltName.
    assert_eq!(a.report.extensions, 151);
    assert!(a.report.problems.contains(&"certificate has 151 extensions (more than 100 is unusual)".to_string()));
    let few = run(certificate("few.wijkagent.test", &["few.wijkagent.test"], vec![]));
    assert_eq!((few.report.extensions, few.report.problems.len()), (1, 0));
}

#[test]
fn an_extension_nested_ten_thousand_deep_is_said_without_walking_it() {
    let deep = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 2], nested(10_000));
    let a = run(certificate("deep.wijkagent.test", &["deep.wijkagent.test"], vec![deep]));
    assert_eq!(
        a.report.problems,
        ["extension 1.3.6.1.4.1.55555.2: ASN.1 nested more than 32 levels deep (not read further)"]
    );
    assert_eq!(a.report.common_name.as_deref(), Some("deep.wijkagent.test"), "the rest is analysed as usual");
}

#[test]
fn names_that_are_not_utf8_are_shown_with_replacement_characters_and_said() {
    let mut der = certificate("Gemeente XXXX loket", &["ok.wijkagent.test", "loket.gemeenteXXXX.test"], vec![]);
    // Every XXXX (subject, issuer, DNS name) becomes ff fe c3 28: no UTF-8.
    let mut patched = 0;
    while let Some(i) = der.windows(4).position(|w| w == b"XXXX") {
        der[i..i + 4].copy_from_slice(b"\xff\xfe\xc3\x28");
        patched += 1;
    }
    assert_eq!(patched, 3);
    let a = run(der);
    let bad = "\u{fffd}\u{fffd}\u{fffd}(";
    assert_eq!(a.report.subject, format!("CN=Gemeente {bad} loket"));
    assert_eq!(a.report.issuer, a.report.subject);
    assert_eq!(a.report.common_name, Some(format!("Gemeente {bad} loket")));
    assert_eq!(a.report.alt_names, ["ok.wijkagent.test".to_string(), format!("loket.gemeente{bad}.test")]);
    assert_eq!(
        a.report.problems,
        [
            "subject not valid UTF-8 (shown with U+FFFD)",
            "issuer not valid UTF-8 (shown with U+FFFD)",
            "subjectAltName DNS name not valid UTF-8 (shown with U+FFFD)",
        ]
    );
}
