//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz, outside the workspace): one function
//! per family of parsers that read bytes from the network or from files, each taking arbitrary
//! bytes and panicking only when a parser does (or breaks an invariant its callers rely on).
//! Not an API: hidden from the docs, and its functions do nothing useful for a scan. They are
//! compiled in every build so they cannot rot, and `corpus_tests` replays the committed seed
//! corpora through them in `cargo test`.
//!
//! - [`probe_reply`]: banners and protocol replies ([`probes`]);
//! - [`tls_flight`]: the records a server answers a hand-built ClientHello with, then its chain;
//! - [`certificate`]: the analysis of one DER certificate;
//! - [`consent_file`]: a scope document (parse and validation), a signature file, a public key file;
//! - [`report_file`]: a `report.json` as `wijkagent report` loads it, then every view of it.

use std::hint::black_box;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};

use crate::consent::{document, signature, Consent};
use crate::i18n::Lang;
use crate::report::{csv, diff, html};
use crate::tls::{cert, server_hello, starttls};

mod probes;
pub use probes::{probe_reply, FAMILIES};

#[cfg(test)]
mod corpus_tests;

/// The fixed "now" of every target, so a run is reproducible.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A server's answer to a ClientHello: the flight as records, then its chain analysed; also the
/// STARTTLS reply readers over the same bytes.
pub fn tls_flight(data: &[u8]) {
    for want_chain in [false, true] {
        let Ok(flight) = server_hello::parse_flight(data, want_chain) else { continue };
        if let Some(alert) = flight.alert {
            black_box((alert.name(), alert.is_refusal()));
        }
        if let Some(chain) = flight.certificates.as_deref().filter(|c| !c.is_empty()) {
            black_box(cert::analyse(chain, Some("example.org"), &cert::MOZILLA_ROOTS, now()).ok());
        }
    }
    black_box(server_hello::parse_server_hello(data).ok());
    black_box(server_hello::parse_certificates(data).ok());
    black_box(starttls::final_reply(data));
    black_box(starttls::tagged_line(data, b"a1"));
    black_box(starttls::ldap_result_code(data));
}

/// One DER certificate as the leaf of a chain, checked for a host name and against the roots.
pub fn certificate(data: &[u8]) {
    let chain = [data.to_vec()];
    if let Ok(analysis) = cert::analyse(&chain, Some("example.org"), &cert::MOZILLA_ROOTS, now()) {
        black_box(format!("{:?}", analysis.report));
    }
    black_box(cert::analyse(&chain, None, &cert::MOZILLA_ROOTS, now()).ok());
}

/// A scope document, a signature file and a public key file: the same bytes through each reader.
/// A valid document is then used as a consent: its time checks and its whole (bounded) scope.
pub fn consent_file(data: &[u8]) {
    let path = Path::new("scope.toml");
    if let Ok(doc) = document::parse(data, path) {
        let scope = doc.scope.clone();
        black_box(doc.schedule.describe());
        let consent = Consent::from_document(doc, String::new(), String::new());
        black_box(consent.check_time(now()).map_err(|e| e.to_string()).err());
        black_box(consent.terms.schedule.next_open(now()));
        let count = scope.target_count();
        let mut seen = 0u128;
        for ip in scope.targets().take(4096) {
            assert!(scope.contains(ip), "scope yields {ip} but does not contain it");
            black_box(scope.is_fragile(ip));
            seen += 1;
        }
        assert!(seen <= count, "scope yields {seen} addresses but counts {count}");
        if count <= 4096 {
            assert_eq!(seen, count, "scope count and iteration disagree");
        }
    }
    let text = String::from_utf8_lossy(data);
    black_box(signature::parse_signature(&text, Path::new("scope.toml.sig")).map_err(|e| e.to_string()).err());
    black_box(signature::parse_public_key(&text, Path::new("consent.pub")).map_err(|e| e.to_string()).err());
}

/// A `report.json` as `wijkagent report` and `report diff` load it, then its HTML, CSV and a diff
/// with itself, in both languages.
pub fn report_file(data: &[u8]) {
    let Ok(report) = diff::parse(data, Path::new("report.json")) else { return };
    for lang in [Lang::Nl, Lang::En] {
        black_box(html::render(&report, lang));
        black_box(csv::render(&report, lang));
        let d = diff::diff(&report, &report);
        black_box(diff::render_text(&d, lang));
    }
}
