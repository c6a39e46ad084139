//! No valid consent, no packet: every way a consent can be unusable makes `wijkagent scan` refuse.
//!
//! Each test writes a consent for a lab range (`198.18.200.0/24`, benchmarking addresses) that is
//! wrong in one way, runs `wijkagent scan --lang en` and asserts exit code 3, exactly one line on
//! stderr that names the problem, a `scan_refused` record in the audit log, and no report. No lab is
//! built and root is not needed: the agent runs inside an empty network namespace (`unshare`), so
//! even an agent that failed to refuse could not send a packet anywhere.

use std::path::Path;
use std::time::Duration;

use chrono::{Datelike, Duration as Span, Utc};
use wijk_lab::consent_fixture::{self, ConsentSpec, WindowSpec};
use wijk_lab::process::run_bounded;
use wijk_lab::report::count_events;
use wijk_lab::{agent, Addressing};

/// A refusal happens before any work; half a minute is generous.
const LIMIT: Duration = Duration::from_secs(30);

/// Temporary directory for one refusal test; `None` (after a SKIPPED line) without isolation.
fn work(test: &str) -> Option<tempfile::TempDir> {
    if !agent::isolation_or_skip(test) {
        return None;
    }
    if let Err(e) = agent::bin_checked() {
        panic!("{e:#}");
    }
    Some(tempfile::tempdir().expect("temp dir"))
}

/// The lab consent for a lab that is never built: the scope still names only lab addresses.
fn spec() -> ConsentSpec {
    ConsentSpec::for_lab(&Addressing::new(200))
}

/// Runs a scan that must be refused and checks the refusal; returns the message.
fn assert_refused(dir: &Path, scope: &Path, trust: &Path, extra: &[&str], keywords: &[&str]) -> String {
    let out = dir.join("report");
    let audit = dir.join("audit.log");
    let mut args: Vec<std::ffi::OsString> = ["scan", "--scope"].map(Into::into).into();
    args.push(scope.into());
    args.push("--trust".into());
    args.push(trust.into());
    args.push("--out".into());
    args.push(out.clone().into());
    args.push("--audit-log".into());
    args.push(audit.clone().into());
    args.extend(["--lang", "en"].map(Into::into));
    args.extend(extra.iter().map(Into::into));
    let f = run_bounded(&mut agent::isolated(&args), LIMIT).expect("spawn wijkagent");
    assert!(!f.timed_out, "a refusal must be immediate: {}", f.describe());
    assert_eq!(f.code(), Some(3), "exit code of a refused scan: {}", f.describe());

    let message = f.stderr.trim();
    assert!(!message.is_empty(), "a refusal must say why on stderr");
    assert_eq!(message.lines().count(), 1, "a refusal is one line on stderr, got:\n{message}");
    let lower = message.to_lowercase();
    assert!(
        keywords.iter().any(|k| lower.contains(k)),
        "the refusal {message:?} does not name the problem (expected one of {keywords:?})"
    );
    let refused = count_events(&audit, "scan_refused").expect("audit log readable");
    assert_eq!(refused, 1, "expected one scan_refused record in {}", audit.display());
    assert!(!out.join("report.json").exists(), "a refused scan wrote a report");
    message.to_string()
}

fn signed(dir: &Path, spec: &ConsentSpec) -> consent_fixture::SignedConsent {
    consent_fixture::write_signed(&dir.join("consent"), spec).expect("keygen and sign through the CLI")
}

const SIGNATURE_WORDS: &[&str] = &["signature", "handtekening", "signed", "ondertekend", ".sig"];

#[test]
fn unsigned_scope_is_refused() {
    let Some(w) = work("unsigned_scope_is_refused") else { return };
    let scope = consent_fixture::write_unsigned(&w.path().join("consent"), &spec()).expect("write scope");
    let keys = consent_fixture::keygen(&w.path().join("keys")).expect("keygen");
    assert!(!consent_fixture::signature_path(&scope).exists());
    assert_refused(w.path(), &scope, &keys.public_key, &[], SIGNATURE_WORDS);
}

#[test]
fn scope_changed_after_signing_is_refused() {
    let Some(w) = work("scope_changed_after_signing_is_refused") else { return };
    let c = signed(w.path(), &spec());
    let before = std::fs::read(&c.scope).expect("read scope");
    let text = String::from_utf8(before.clone()).expect("utf-8");
    // One byte: raise the rate cap from 500 to 900.
    let after = text.replacen("max_rate = 500", "max_rate = 900", 1).into_bytes();
    assert_eq!(before.iter().zip(&after).filter(|(a, b)| a != b).count(), 1, "exactly one byte changed");
    std::fs::write(&c.scope, after).expect("write scope");
    assert_refused(w.path(), &c.scope, &c.keys.public_key, &[], SIGNATURE_WORDS);
}

/// Changes one byte in the middle of the signature: inside the longest run of base64/hex characters
/// if the file is text (so it stays well-formed), else any byte.
fn tamper_one_byte(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read signature");
    assert!(!bytes.is_empty(), "empty signature file");
    let is_sig_char = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let text = bytes.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    let i = if text {
        let (mut best, mut best_len, mut start) = (0, 0, None);
        for (i, &b) in bytes.iter().enumerate().chain(std::iter::once((bytes.len(), &b' '))) {
            match (is_sig_char(b), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    if i - s > best_len {
                        (best, best_len) = (s, i - s);
                    }
                    start = None;
                }
                _ => {}
            }
        }
        best + best_len / 2
    } else {
        bytes.len() / 2
    };
    bytes[i] = if text {
        // Stays within hex if it was hex, within base64 if it was base64.
        match bytes[i] {
            b @ (b'0'..=b'8' | b'a'..=b'e' | b'A'..=b'E' | b'g'..=b'y' | b'G'..=b'Y') => b + 1,
            b'9' => b'0',
            b'f' => b'a',
            b'F' => b'A',
            b'z' => b'g',
            b'Z' => b'G',
            _ => b'A',
        }
    } else {
        bytes[i] ^ 0x01
    };
    std::fs::write(path, bytes).expect("write signature");
}

#[test]
fn tampered_signature_is_refused() {
    let Some(w) = work("tampered_signature_is_refused") else { return };
    let c = signed(w.path(), &spec());
    let before = std::fs::read(&c.signature).expect("read");
    tamper_one_byte(&c.signature);
    let after = std::fs::read(&c.signature).expect("read");
    assert_eq!(before.len(), after.len());
    assert_ne!(before, after);
    assert_refused(w.path(), &c.scope, &c.keys.public_key, &[], SIGNATURE_WORDS);
}

#[test]
fn signature_by_an_untrusted_key_is_refused() {
    let Some(w) = work("signature_by_an_untrusted_key_is_refused") else { return };
    let c = signed(w.path(), &spec());
    let other = consent_fixture::keygen(&w.path().join("other-keys")).expect("second keypair");
    assert_ne!(
        std::fs::read(&other.public_key).ok(),
        std::fs::read(&c.keys.public_key).ok(),
        "keygen made the same key twice"
    );
    assert_refused(
        w.path(),
        &c.scope,
        &other.public_key,
        &[],
        &["trust", "vertrouw", "key", "sleutel", "signature", "handtekening"],
    );
}

#[test]
fn expired_consent_is_refused() {
    let Some(w) = work("expired_consent_is_refused") else { return };
    let mut s = spec();
    s.valid_until = s.valid_from; // yesterday
    s.valid_from = s.valid_until - Span::days(30);
    let c = signed(w.path(), &s);
    assert_refused(
        w.path(),
        &c.scope,
        &c.keys.public_key,
        &[],
        &["expired", "verlopen", "valid_until", "no longer valid", "niet meer geldig"],
    );
}

#[test]
fn consent_not_yet_valid_is_refused() {
    let Some(w) = work("consent_not_yet_valid_is_refused") else { return };
    let mut s = spec();
    s.valid_from = s.valid_until - Span::days(29); // tomorrow
    let c = signed(w.path(), &s);
    assert_refused(w.path(), &c.scope, &c.keys.public_key, &[], &["not yet", "nog niet", "valid_from", "geldig vanaf"]);
}

#[test]
fn scan_outside_every_window_is_refused_and_says_when_the_next_opens() {
    let Some(w) = work("scan_outside_every_window_is_refused_and_says_when_the_next_opens") else { return };
    let (window, day) = WindowSpec::only_the_day_after_tomorrow();
    let mut s = spec();
    s.windows = vec![window];
    let c = signed(w.path(), &s);
    let message = assert_refused(w.path(), &c.scope, &c.keys.public_key, &[], &["window", "venster"]);

    // The next opening is `day` at 12:00 Brussels (10:00 or 11:00 UTC): a date or weekday and time.
    let lower = message.to_lowercase();
    let dates = [
        day.format("%Y-%m-%d").to_string(),
        day.format("%d-%m-%Y").to_string(),
        day.format("%d/%m/%Y").to_string(),
        day.format("%d.%m.%Y").to_string(),
    ];
    let weekday_en = day.format("%a").to_string().to_lowercase();
    let weekday_nl = ["ma", "di", "wo", "do", "vr", "za", "zo"][day.weekday().num_days_from_monday() as usize];
    let has_date = dates.iter().any(|d| lower.contains(d.as_str()));
    let has_day_and_time = ["12:00", "11:00", "10:00"].iter().any(|t| lower.contains(t))
        && (lower.contains(&weekday_en) || lower.contains(weekday_nl));
    assert!(
        has_date || has_day_and_time,
        "the refusal {message:?} must say when the next window opens ({} 12:00 Europe/Brussels)",
        day
    );
    assert!(day > Utc::now().date_naive(), "the test's window must lie in the future");
}

#[test]
fn profile_wider_than_the_consent_is_refused() {
    let Some(w) = work("profile_wider_than_the_consent_is_refused") else { return };
    let mut s = spec();
    s.profile = "standard".into();
    let c = signed(w.path(), &s);
    let message =
        assert_refused(w.path(), &c.scope, &c.keys.public_key, &["--profile", "full"], &["profile", "profiel"]);
    let lower = message.to_lowercase();
    assert!(lower.contains("full") || lower.contains("standard"), "{message:?} should name the profiles");
}

#[test]
fn ports_beyond_a_quick_consent_are_refused() {
    let Some(w) = work("ports_beyond_a_quick_consent_are_refused") else { return };
    let mut s = spec();
    s.profile = "quick".into();
    let c = signed(w.path(), &s);
    assert_refused(w.path(), &c.scope, &c.keys.public_key, &["--ports", "1-65535"], &["port", "poort"]);
}

#[test]
fn rate_above_the_consent_is_refused() {
    let Some(w) = work("rate_above_the_consent_is_refused") else { return };
    let mut s = spec();
    s.max_rate = 200;
    let c = signed(w.path(), &s);
    let message = assert_refused(
        w.path(),
        &c.scope,
        &c.keys.public_key,
        &["--rate", "1000"],
        &["rate", "max_rate", "snelheid", "tempo", "pps", "packets per second"],
    );
    assert!(message.contains("200") || message.contains("1000"), "{message:?} should name the limit or the request");
}
