//! `wijkagent scan --self` end to end over loopback, as any user can run it: what it finds, what it
//! refuses, and that Ctrl-C stops it within a second with a partial report.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn wijkagent() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wijkagent"));
    c.env_remove("WIJKAGENT_LANG").env_remove("WIJKAGENT_AUDIT_LOG");
    c
}

/// Runs `wijkagent scan --self --connect --progress none <extra…>` with its report and audit log in
/// `dir`; asserts exit 0 and returns the report.
fn self_scan(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let out = wijkagent()
        .args(["scan", "--self", "--connect", "--progress", "none"])
        .args(extra)
        .arg("--out")
        .arg(dir.join("report"))
        .arg("--audit-log")
        .arg(dir.join("audit.log"))
        .output()
        .expect("run wijkagent");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    read_json(&dir.join("report/report.json"))
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("report readable");
    serde_json::from_str(&text).expect("report is JSON")
}

#[test]
fn self_scan_finds_a_listening_port_and_not_a_closed_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = listener.local_addr().expect("addr").port();
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let report = self_scan(dir.path(), &["--ports", &format!("{open},{closed}")]);
    assert_eq!(report["schema"], "wijkagent.report/1");
    assert_eq!(report["complete"], true);
    let host = report["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .find(|h| h["address"] == "127.0.0.1")
        .expect("127.0.0.1 is up");
    let ports: Vec<u64> =
        host["services"].as_array().expect("services").iter().map(|s| s["port"].as_u64().expect("port")).collect();
    assert_eq!(ports, vec![u64::from(open)]);
    assert_eq!(host["tcp_ports"]["closed"], 1);
    assert!(report["stats"]["probes_sent"].as_u64().expect("probes") >= 2);
    let verify =
        wijkagent().args(["audit", "verify", "--log"]).arg(dir.path().join("audit.log")).output().expect("verify");
    assert_eq!(verify.status.code(), Some(0), "{}", String::from_utf8_lossy(&verify.stderr));
    drop(listener);
}

#[test]
fn no_services_finds_the_open_port_without_talking_to_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let report = self_scan(dir.path(), &["--no-services", "--ports", &open.to_string()]);
    assert_eq!(report["scan"]["services_identified"], false);
    // The connect scan's own connection was accepted and closed; no probe connected after it.
    let mut accepted = 0;
    while listener.accept().is_ok() {
        accepted += 1;
    }
    assert_eq!(accepted, 1, "only the port scan's connection, no identification probe");
    let host = &report["hosts"][0];
    assert_eq!(host["services"][0]["port"], u64::from(open));
    assert!(host["services"][0]["details"].is_null(), "nothing was identified");
}

#[test]
fn self_scan_cannot_be_combined_with_a_scope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out =
        wijkagent().args(["scan", "--self", "--scope", "scope.toml", "--out"]).arg(dir.path()).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "a usage error, not a scan");
    assert!(!dir.path().join("report.json").exists());
}

#[test]
fn ctrl_c_stops_within_a_second_and_leaves_a_partial_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = wijkagent()
        .args(["scan", "--self", "--connect", "--profile", "full", "--rate", "300", "--progress", "none", "--out"])
        .arg(dir.path().join("report"))
        .arg("--audit-log")
        .arg(dir.path().join("audit.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(sent.success());
    let asked = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if asked.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            panic!("still running 5 s after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(1), "stopping took {took:?}");
    assert_eq!(status.code(), Some(130));
    let report = read_json(&dir.path().join("report/report.json"));
    assert_eq!(report["complete"], false);
    assert_eq!(report["interrupted"], "ctrl-c");
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).expect("audit");
    assert!(audit.contains("\"event\":\"scan_interrupted\""), "{audit}");
    assert!(audit.contains("\"event\":\"scan_finished\""), "{audit}");
}
