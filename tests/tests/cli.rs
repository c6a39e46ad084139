//! The agent's command line outside of scanning a lab: `consent keygen/init/sign/verify`, and
//! `scan --self`, which can only ever mean loopback.
//!
//! No lab, no root. Anything that may send a packet (`scan`) runs inside an empty network
//! namespace (`unshare`) with only `lo` up.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use wijk_lab::consent_fixture::{self, ConsentSpec};
use wijk_lab::process::{run_bounded, Finished};
use wijk_lab::{agent, Addressing, Report};

const LIMIT: Duration = Duration::from_secs(60);

fn bin_or_panic() {
    if let Err(e) = agent::bin_checked() {
        panic!("{e:#}");
    }
}

fn run(cmd: &mut std::process::Command) -> Finished {
    run_bounded(cmd, LIMIT).expect("spawn wijkagent")
}

#[test]
fn keygen_writes_a_private_key_only_its_owner_can_read() {
    bin_or_panic();
    let w = tempfile::tempdir().expect("temp dir");
    let keys = consent_fixture::keygen(w.path()).expect("keygen");
    let mode = std::fs::metadata(&keys.private_key).expect("key").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "consent.key mode is {mode:o}");
    let public = std::fs::read(&keys.public_key).expect("pub");
    let private = std::fs::read(&keys.private_key).expect("key");
    assert!(!public.is_empty());
    assert_ne!(public, private, "the public key file holds the private key");
}

#[test]
fn init_prints_a_commented_template_in_the_design_shape() {
    bin_or_panic();
    let f = run(&mut agent::command(["consent", "init"]));
    assert_eq!(f.code(), Some(0), "consent init: {}", f.describe());
    assert!(f.stdout.lines().any(|l| l.trim_start().starts_with('#')), "the template has no comments");
    let doc: toml::Table =
        toml::from_str(&f.stdout).unwrap_or_else(|e| panic!("template is not TOML: {e}\n{}", f.stdout));
    let consent = doc.get("consent").and_then(|v| v.as_table()).expect("[consent]");
    for key in ["organisation", "authorised_by", "role", "contact", "purpose", "valid_from", "valid_until"] {
        assert!(consent.contains_key(key), "[consent] lacks {key}");
    }
    let scope = doc.get("scope").and_then(|v| v.as_table()).expect("[scope]");
    for key in ["include", "exclude", "fragile", "profile", "max_rate", "max_per_host_rate", "ot_identification"] {
        assert!(scope.contains_key(key), "[scope] lacks {key}");
    }
    let windows = doc.get("window").and_then(|v| v.as_array()).expect("[[window]]");
    assert!(!windows.is_empty());
    for key in ["days", "from", "until", "timezone"] {
        assert!(windows[0].get(key).is_some(), "[[window]] lacks {key}");
    }
}

#[test]
fn verify_accepts_a_signed_scope_and_refuses_a_changed_one() {
    bin_or_panic();
    let w = tempfile::tempdir().expect("temp dir");
    let c =
        consent_fixture::write_signed(w.path(), &ConsentSpec::for_lab(&Addressing::new(202))).expect("signed consent");
    let verify = |trust: &std::path::Path| {
        let mut cmd = agent::command(["consent", "verify"]);
        cmd.arg(&c.scope).arg("--trust").arg(trust);
        run(&mut cmd)
    };
    let f = verify(&c.keys.public_key);
    assert_eq!(f.code(), Some(0), "verify of a freshly signed scope: {}", f.describe());

    let other = consent_fixture::keygen(&w.path().join("other")).expect("second keypair");
    let f = verify(&other.public_key);
    assert_eq!(f.code(), Some(3), "verify against a key that did not sign: {}", f.describe());

    let text = std::fs::read_to_string(&c.scope).expect("scope");
    std::fs::write(&c.scope, text.replacen("Gemeente Labo", "Gemeente Lab0", 1)).expect("write");
    let f = verify(&c.keys.public_key);
    assert_eq!(f.code(), Some(3), "verify of a changed scope: {}", f.describe());
    assert_eq!(f.stderr.trim().lines().count(), 1, "one line on stderr: {}", f.describe());
}

#[test]
fn self_scan_cannot_be_given_a_scope() {
    if !agent::isolation_or_skip("self_scan_cannot_be_given_a_scope") {
        return;
    }
    bin_or_panic();
    let w = tempfile::tempdir().expect("temp dir");
    let scope = consent_fixture::write_unsigned(w.path(), &ConsentSpec::for_lab(&Addressing::new(203))).expect("scope");
    let out = w.path().join("out");
    let mut args: Vec<std::ffi::OsString> = ["scan", "--self", "--scope"].map(Into::into).into();
    args.extend([scope.into_os_string(), "--out".into(), out.clone().into_os_string()]);
    let f = run(&mut agent::isolated(&args));
    assert_eq!(f.code(), Some(2), "`scan --self --scope` must be a usage error (exit 2): {}", f.describe());
    assert!(
        f.stderr.contains("--scope") || f.stderr.contains("--self"),
        "the usage error should name the flag: {}",
        f.describe()
    );
    assert!(!out.join("report.json").exists(), "a usage error wrote a report");
}

#[test]
fn self_scan_reports_loopback_only() {
    if !agent::isolation_or_skip("self_scan_reports_loopback_only") {
        return;
    }
    bin_or_panic();
    let w = tempfile::tempdir().expect("temp dir");
    let out = w.path().join("out");
    let mut args: Vec<std::ffi::OsString> =
        ["scan", "--self", "--connect", "--ports", "22,80", "--out"].map(Into::into).into();
    args.extend([out.clone().into_os_string(), "--audit-log".into(), w.path().join("audit.log").into_os_string()]);
    let f = run(&mut agent::isolated(&args));
    assert_eq!(f.code(), Some(0), "scan --self: {}", f.describe());
    let report = Report::read(&out).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(report.complete);
    let loopback: BTreeSet<IpAddr> = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)].into();
    assert!(report.addresses().is_subset(&loopback), "scan --self reported {:?}", report.addresses());
    if let Some(targets) = report.stat("targets") {
        assert!(targets <= 2.0, "scan --self had {targets} targets; only 127.0.0.1 and ::1 are allowed");
    }
}
