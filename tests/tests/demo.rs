//! `wijkpost demo`, the one command for the whole pipeline: it starts wijkpost, a local wijkagent
//! enrolls, scans this machine's own loopback under its self-consent, pushes its summary, and the
//! printed login opens a dashboard that counts that organisation and says it is a demo.
//! Loopback only; every wait is bounded; the demo is stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use wijk_lab::{agent, collector, dashboard};

/// Longest the demo may take to print its login.
const LIMIT: Duration = Duration::from_secs(180);

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        // SIGTERM, as an operator stops it; then wait for it to end.
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

/// The value after `label` in the demo's output lines.
fn after<'a>(lines: &'a [String], label: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| l.trim().strip_prefix(label)).map(str::trim)
}

#[test]
fn the_demo_runs_the_pipeline_and_prints_a_working_login() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(collector::bin_checked().expect("wijkpost built"))
        .args(["--lang", "en", "demo", "--web", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("demo"))
        .env("WIJKAGENT_BIN", agent::bin_checked().expect("wijkagent built"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wijkpost demo");
    let stdout = child.stdout.take().expect("stdout");
    let demo = Demo(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + LIMIT;
    while after(&lines, "Password:").is_none() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => panic!("no login within {LIMIT:?}; the demo printed:\n{}", lines.join("\n")),
        }
    }
    let text = lines.join("\n");
    assert!(text.contains("stored: 1"), "the summary was stored and answered:\n{text}");
    assert!(text.contains("Demo: k = 1"), "the demo says it lowered k:\n{text}");
    let web = after(&lines, "Dashboard:").expect("dashboard line").to_string();
    let (user, password) = (after(&lines, "User:").expect("user"), after(&lines, "Password:").expect("password"));

    let http = dashboard::http();
    let wrong = dashboard::login(&http, &web, user, &format!("not-{password}")).expect("login");
    assert!(wrong.is_none(), "a wrong password gets no session");
    let cookie = dashboard::login(&http, &web, user, password).expect("login").expect("the printed login works");
    let page = |path: &str| {
        let mut r = http.get(&format!("{web}{path}")).header("Cookie", &cookie).call().expect("get");
        assert_eq!(r.status(), 200, "{path}");
        r.body_mut().read_to_string().expect("body")
    };
    assert!(page("/?lang=en").contains("Demo: k = 1"), "every page says it is a demo");
    let participation: serde_json::Value =
        serde_json::from_str(&page("/api/v1/participation")).expect("participation JSON");
    let text = participation.to_string();
    assert!(text.contains("\"organisations\":1"), "the demo organisation is counted: {text}");
    drop(demo);
}
