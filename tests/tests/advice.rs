//! Advice from wijkpost back to the agent's report, across real processes: an enrolled agent pushes
//! a summary of a real loopback scan; wijkpost publishes its advice retained on the agent's advice
//! topic; the agent's next push receives it and stores `advice.json`; the agent's next scan with
//! `--state` has the "how you compare" section in report.json and report.html.
//! Loopback only; every wait is bounded.

use std::time::{Duration, Instant};

use wijk_lab::agent;
use wijk_lab::collector::{enroll_agent, self_report, Collector};
use wijk_lab::process::run_bounded;

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn the_agents_next_report_compares_it_with_its_sector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&dir.path().join("wijkpost"), &["--k", "3"]).expect("wijkpost");
    let state = dir.path().join("agent");
    let id = enroll_agent(&collector, &state, "Gemeente Advies").expect("enroll");
    let report = self_report(&dir.path().join("scan-1")).expect("first scan");
    let push = || {
        let mut cmd = agent::command(["--lang", "en", "push", "--timeout", "60", "--state"]);
        cmd.arg(&state).arg(&report);
        let f = run_bounded(&mut cmd, LIMIT).expect("push");
        assert!(f.success(), "push: {}\n--- wijkpost:\n{}", f.describe(), collector.log_text());
    };
    // The advice is published retained after the first summary is stored; a later push receives it
    // on subscribing. A few pushes at most, each storing one more summary.
    let advice_file = state.join("advice.json");
    let deadline = Instant::now() + LIMIT;
    push();
    while !advice_file.is_file() {
        assert!(Instant::now() < deadline, "no advice stored within {LIMIT:?}:\n{}", collector.log_text());
        std::thread::sleep(Duration::from_millis(200));
        push();
    }
    let advice: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&advice_file).expect("advice.json")).expect("advice JSON");
    assert_eq!(advice["schema"], "wijk.advice/1");
    assert_eq!(advice["agent"], id.as_str());
    assert_eq!(advice["k"], 3);

    let out = dir.path().join("scan-2");
    let mut scan = agent::command(["--lang", "en", "scan", "--self", "--no-services", "--progress", "none", "--out"]);
    scan.arg(&out).arg("--state").arg(&state).arg("--audit-log").arg(out.join("audit.log"));
    let f = run_bounded(&mut scan, LIMIT).expect("second scan");
    assert!(f.success(), "scan --state: {}", f.describe());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report")).expect("JSON");
    assert_eq!(json["comparison"], advice, "the report carries the advice exactly as stored");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("id=\"compare\"") && html.contains("How you compare"), "the HTML has the section");
    // One organisation with k = 3: its sector's figures are withheld and read "< 3", never 0.
    assert!(!html.contains(">0 %<"), "no withheld figure shown as zero");
    drop(collector);
}
