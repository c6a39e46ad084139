//! Agent → wijkpost end to end on both stacks, the embedded one (rumqttd with TLS and client
//! certificates, SQLite) and the scaled one (Mosquitto with wijkpost's ACL, PostgreSQL): a real lab
//! scan is summarised (nothing private in it), enrolled, pushed, stored once, and its receipt
//! empties the outbox. Without root the lab cannot be built; the report then comes from `scan --self`
//! (loopback only), and the test says so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use wijk_lab::brokers::{Mosquitto, PgDatabase};
use wijk_lab::collector::{outbox_len, Collector};
use wijk_lab::consent_fixture::{self, ConsentSpec};
use wijk_lab::process::{find_program, is_root, run_bounded, skip, Finished};
use wijk_lab::{agent, Lab};

const LIMIT: Duration = Duration::from_secs(240);

fn run(args: &[&std::ffi::OsStr]) -> Finished {
    let mut cmd = agent::command(args);
    cmd.args(["--lang", "en"]);
    run_bounded(&mut cmd, LIMIT).expect("run wijkagent")
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

/// A report of a real scan: the namespace lab as root, else this machine's loopback.
fn real_report(work: &Path) -> (PathBuf, Option<Lab>) {
    let out = work.join("report");
    if is_root() {
        let lab = Lab::up("wlup").expect("lab up");
        let consent = consent_fixture::write_signed(&work.join("consent"), &ConsentSpec::for_lab(&lab.addressing()))
            .expect("consent");
        let ports = ["--ports", "21,22,53,80,6379,8080,U:53,U:161"];
        let mut cmd = wijk_lab::bench::agent_scan(&lab, &consent, &out, &ports);
        let f = run_bounded(&mut cmd, LIMIT).expect("scan");
        assert!(f.success(), "lab scan: {}", f.describe());
        (out.join("report.json"), Some(lab))
    } else {
        println!("NOTE: not root, so no namespace lab: the report comes from `scan --self` (loopback only)");
        let f = run(&[os("scan"), os("--self"), os("--out"), out.as_os_str(), os("--progress"), os("none")]);
        assert!(f.success(), "self scan: {}", f.describe());
        (out.join("report.json"), None)
    }
}

/// Every piece of free text and every identifier of the report that must never leave the building.
fn private_strings(raw: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for host in raw["hosts"].as_array().into_iter().flatten() {
        out.extend(host["address"].as_str().map(str::to_string));
        out.extend(host["mac"].as_str().map(str::to_string));
        for service in host["services"].as_array().into_iter().flatten() {
            for key in ["product", "version"] {
                out.extend(service[key].as_str().map(str::to_string));
            }
            for value in service["details"].as_object().into_iter().flatten().map(|(_, v)| v) {
                out.extend(value.as_str().map(str::to_string));
            }
            if let Some(cert) = service["tls"]["certificate"].as_object() {
                for key in ["subject", "issuer", "common_name", "serial", "sha256"] {
                    out.extend(cert.get(key).and_then(|v| v.as_str()).map(str::to_string));
                }
            }
        }
    }
    for finding in raw["findings"].as_array().into_iter().flatten() {
        out.extend(finding["evidence"].as_str().map(str::to_string));
    }
    out.extend(raw["scan_id"].as_str().map(str::to_string));
    out.extend(raw["consent"]["organisation"].as_str().map(str::to_string));
    out.extend(raw["consent"]["sha256"].as_str().map(str::to_string));
    out.retain(|s| s.len() >= 4);
    out
}

#[test]
fn a_real_scan_travels_to_the_database_and_its_receipt_empties_the_outbox() {
    agent::bin_checked().expect("wijkagent built");
    let work = tempfile::tempdir().expect("work");
    let (report_path, _lab) = real_report(work.path());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).expect("report")).expect("report JSON");

    // What would leave the building, before enrolling: no identifier or free text of the report.
    let shown = run(&[os("summary"), report_path.as_os_str()]);
    assert!(shown.success(), "{}", shown.describe());
    let summary: serde_json::Value = serde_json::from_str(&shown.stdout).expect("summary is JSON");
    assert_eq!(summary["schema"], "wijk.summary/1");
    assert_eq!(
        summary["counts"]["hosts_alive"].as_u64(),
        Some(report["hosts"].as_array().map_or(0, |h| h.len()) as u64)
    );
    let private = private_strings(&report);
    assert!(!private.is_empty(), "the report has private strings to look for");
    for needle in &private {
        assert!(!shown.stdout.contains(needle.as_str()), "{needle:?} would leave the building:\n{}", shown.stdout);
    }

    travel(work.path(), &report_path, None);
}

#[test]
fn on_mosquitto_and_postgresql_a_real_scan_travels_to_the_database_too() {
    if find_program("mosquitto").is_none() {
        skip("SKIPPED on_mosquitto_and_postgresql_a_real_scan_travels_to_the_database_too: mosquitto not installed");
        return;
    }
    let Some(db) = PgDatabase::create().expect("postgres") else { return };
    agent::bin_checked().expect("wijkagent built");
    let work = tempfile::tempdir().expect("work");
    let (report_path, _lab) = real_report(work.path());
    travel(work.path(), &report_path, Some(&db));
}

/// Enrolls an agent at a wijkpost (embedded broker and SQLite, or with `db` Mosquitto and that
/// PostgreSQL database), pushes `report_path`'s summary and checks it arrived once and left the
/// outbox.
fn travel(work: &Path, report_path: &Path, db: Option<&PgDatabase>) {
    let data = work.join("wijkpost");
    let mut _broker = None;
    let mut extra: Vec<String> = Vec::new();
    if let Some(db) = db {
        let broker = Mosquitto::for_wijkpost(&work.join("mosquitto"), &data).expect("mosquitto");
        extra = vec!["--broker".into(), broker.url.clone(), "--database".into(), db.url.clone()];
        _broker = Some(broker);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let collector = Collector::start(&data, &extra).expect("wijkpost serve");
    let token = collector.token("Gemeente Proefdorp").expect("token");
    let state = work.join("state");
    let enrolled = run(&[
        os("enroll"),
        os("--collector"),
        os(&collector.web_url),
        os("--token"),
        os(&token),
        os("--state"),
        state.as_os_str(),
    ]);
    assert!(enrolled.success(), "{}\n--- wijkpost:\n{}", enrolled.describe(), collector.log_text());

    // The same token a second time is refused, and says what to do.
    let again = run(&[
        os("enroll"),
        os("--collector"),
        os(&collector.web_url),
        os("--token"),
        os(&token),
        os("--state"),
        work.join("state2").as_os_str(),
    ]);
    assert_eq!(again.code(), Some(1));
    assert!(again.stderr.contains("used already"), "{}", again.describe());

    let audit = work.join("audit.log");
    let pushed = run(&[
        os("push"),
        os("--state"),
        state.as_os_str(),
        report_path.as_os_str(),
        os("--timeout"),
        os("60"),
        os("--audit-log"),
        audit.as_os_str(),
    ]);
    assert!(pushed.success(), "{}\n--- wijkpost:\n{}", pushed.describe(), collector.log_text());
    assert!(pushed.stdout.contains("stored: 1,"), "{}", pushed.stdout);
    assert_eq!(outbox_len(&state), 0, "the receipt empties the outbox");
    let audit_text = std::fs::read_to_string(&audit).expect("audit");
    assert!(audit_text.contains("summary_seq"), "{audit_text}");

    // Exactly one row, and the agent enrolled.
    let database = db.map(|d| d.url.as_str());
    let mut store = wijkpost::store::StoreConfig::parse(database, &data).expect("config").open().expect("store");
    assert_eq!(store.count_summaries().expect("count"), 1);
    let identity: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("identity.json")).expect("identity")).expect("json");
    let agent_id = identity["agent_id"].as_str().expect("agent id").to_string();
    assert!(store.agent(&agent_id).expect("agent").is_some());

    // An outbox entry written before the agent's update (the first envelope, `wijk.signed-summary/1`)
    // still goes out and is answered in the form that agent read (`wijk.receipt/1`).
    let loaded = wijkagent::uplink::state::State::load(&state).expect("state");
    let report = wijkagent::report::diff::load(report_path).expect("report");
    let outbox = loaded.outbox().expect("outbox");
    let old_seq = outbox
        .append(|seq| {
            let summary = wijkagent::summary::summarise(&report, &agent_id, seq);
            let mut signed = wijk_protocol::SignedSummary::sign(summary, &loaded.signing_key);
            signed.schema = wijk_protocol::SIGNED_SUMMARY_SCHEMA_1.into();
            signed.receipts.clear();
            signed.to_bytes()
        })
        .expect("an entry in the first envelope");
    let pushed = run(&[os("push"), os("--state"), state.as_os_str(), os("--timeout"), os("60")]);
    assert!(pushed.success() && pushed.stdout.contains("stored: 1,"), "{}", pushed.describe());
    assert_eq!(outbox_len(&state), 0, "the first envelope's receipt empties the outbox too");
    assert_eq!(store.count_summaries().expect("count"), 2, "seq {old_seq} stored");

    // A push with nothing waiting is quick and says so.
    let idle = run(&[os("push"), os("--state"), state.as_os_str(), os("--audit-log"), audit.as_os_str()]);
    assert!(idle.success() && idle.stdout.contains("stored: 0,"), "{}", idle.describe());
    drop(collector);
}
