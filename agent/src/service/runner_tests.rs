//! Tests of the service's decisions ([`Runner::next`]) at chosen moments: no consent, the
//! schedule, windows, a scan in progress, validity.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::*;
use crate::consent::document;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
}

/// A consent valid through 2027 with one window: Monday to Friday 19:00-23:00 Brussels.
fn consent() -> Consent {
    let text = r#"
[consent]
organisation  = "Gemeente Test"
authorised_by = "An Peeters"
role          = "algemeen directeur"
contact       = "ict@test.be"
purpose       = "test"
valid_from    = 2026-01-01T00:00:00+01:00
valid_until   = 2028-01-01T00:00:00+01:00

[scope]
include  = ["127.0.0.1"]
profile  = "quick"
max_rate = 100
max_per_host_rate = 10

[[window]]
days  = ["mon", "tue", "wed", "thu", "fri"]
from  = "19:00"
until = "23:00"
"#;
    let doc = document::parse(text.as_bytes(), Path::new("scope.toml")).expect("consent");
    Consent::from_document(doc, "ab".repeat(32), "signer".into())
}

fn runner(state: &Path, cron: &str) -> Runner {
    let text = format!(
        "[consent]\nscope = \"/nonexistent/scope.toml\"\ntrust = [\"/nonexistent/k.pub\"]\n[schedule]\ncron = \"{cron}\"\n[paths]\nstate = \"{}\"\n",
        state.display()
    );
    let config = config::parse(&text, Path::new("/etc/wijkagent/agent.toml")).expect("config");
    let mut r = Runner::new(config, Signals::default(), false);
    r.memory.since = Some(at("2026-11-30T08:00:00Z")); // a Monday morning
    r
}

#[test]
fn without_a_consent_it_waits_and_says_why() {
    let state = tempfile::tempdir().expect("tempdir");
    let r = runner(state.path(), "30 19 * * mon");
    match r.next(at("2026-11-30T20:00:00Z")) {
        Next::Wait { phase: Phase::WaitingForConsent, note: Some(note), .. } => {
            assert!(note.contains("scope.toml"), "{note}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_schedule_then_the_window_decide_when_a_scan_runs() {
    let state = tempfile::tempdir().expect("tempdir");
    let mut r = runner(state.path(), "0 12 * * mon");
    r.consent = Ok(consent());
    // Before Monday noon: idle until then.
    assert_eq!(
        r.next(at("2026-11-30T10:00:00Z")),
        Next::Wait { until: at("2026-11-30T11:00:00Z"), phase: Phase::Idle, note: None }
    );
    // Due at noon, but the window opens at 19:00 Brussels (18:00 UTC).
    assert_eq!(
        r.next(at("2026-11-30T11:30:00Z")),
        Next::Wait { until: at("2026-11-30T18:00:00Z"), phase: Phase::WaitingForWindow, note: None }
    );
    // In the window: scan, serving noon's due time.
    assert_eq!(r.next(at("2026-11-30T18:30:00Z")), Next::Scan { due: at("2026-11-30T11:00:00Z") });
    // Once that time is served, the next is a week later.
    r.memory.served_due = Some(at("2026-11-30T11:00:00Z"));
    assert!(
        matches!(r.next(at("2026-11-30T18:30:00Z")), Next::Wait { phase: Phase::Idle, until, .. } if until == at("2026-12-07T11:00:00Z"))
    );
    // --now: due at once.
    r.scan_now = true;
    assert!(matches!(r.next(at("2026-11-30T18:30:00Z")), Next::Scan { .. }));
}

#[test]
fn a_scan_in_progress_is_due_by_itself_and_only_under_its_own_consent() {
    let state = tempfile::tempdir().expect("tempdir");
    let mut r = runner(state.path(), "0 12 1 1 *");
    r.consent = Ok(consent());
    r.memory.served_due = Some(at("2026-11-30T11:00:00Z"));
    let now = at("2026-12-01T18:30:00Z"); // Tuesday, window open
    assert!(matches!(r.next(now), Next::Wait { phase: Phase::Idle, .. }));
    let meta = |sha: String| Meta {
        schema: checkpoint::SCHEMA.into(),
        scan_id: "s".into(),
        started_at: now,
        due: at("2026-11-30T11:00:00Z"),
        consent_sha256: sha,
        plan_key: "quick".into(),
        parts: 4,
    };
    Checkpoint::begin(state.path(), meta("ab".repeat(32))).expect("checkpoint");
    assert_eq!(r.next(now), Next::Scan { due: at("2026-11-30T11:00:00Z") });
    // Outside the window it waits for the next one (Wednesday 19:00 Brussels).
    assert_eq!(
        r.next(at("2026-12-01T23:30:00Z")),
        Next::Wait { until: at("2026-12-02T18:00:00Z"), phase: Phase::WaitingForWindow, note: None }
    );
    // Under another consent the old progress does not make a scan due.
    Checkpoint::begin(state.path(), meta("cd".repeat(32))).expect("checkpoint");
    assert!(matches!(r.next(now), Next::Wait { phase: Phase::Idle, .. }));
}

#[test]
fn an_expired_or_future_consent_is_waited_out() {
    let state = tempfile::tempdir().expect("tempdir");
    let mut r = runner(state.path(), "* * * * *");
    r.consent = Ok(consent());
    match r.next(at("2028-02-01T18:30:00Z")) {
        Next::Wait { phase: Phase::WaitingForConsent, note: Some(note), .. } => {
            assert!(note.contains("expired"), "{note}")
        }
        other => panic!("{other:?}"),
    }
    match r.next(at("2025-12-01T18:30:00Z")) {
        Next::Wait { phase: Phase::WaitingForConsent, until, .. } => assert_eq!(until, at("2025-12-31T23:00:00Z")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_broken_consent_is_refused_but_a_removed_one_is_withdrawn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scope = dir.path().join("scope.toml");
    std::fs::write(&scope, "[consent]\nthis is not a signed consent\n").expect("scope");
    let config_path = dir.path().join("agent.toml");
    let text = "[consent]\nscope = \"scope.toml\"\ntrust = [\"k.pub\"]\n[paths]\nstate = \"state\"\n";
    std::fs::write(&config_path, text).expect("config");
    let config = config::parse(text, &config_path).expect("config");
    let mut r = Runner::new(config, Signals::default(), false);
    r.consent = Ok(consent());
    assert!(!r.reload(), "a damaged document changes nothing");
    assert!(r.consent.is_ok(), "the consent in force stays");
    std::fs::remove_file(&scope).expect("withdraw");
    assert!(r.reload(), "a removed document withdraws the consent");
    assert!(r.consent.is_err());
    assert!(matches!(r.next(at("2026-11-30T18:30:00Z")), Next::Wait { phase: Phase::WaitingForConsent, .. }));
}
