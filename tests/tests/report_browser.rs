//! The HTML report in a real browser: Debian's headless Chromium renders a report whose server
//! texts were built to inject HTML and script. The page must show every finding, run nothing, log no
//! console error, and leave a screenshot in `target/artifacts/` for people to look at.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use wijk_lab::agent;
use wijk_lab::process::{find_program, in_ci, run_bounded, skip};

fn chromium() -> Option<PathBuf> {
    find_program("chromium").or_else(|| find_program("chromium-browser"))
}

fn headless(browser: &Path, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1200,2400",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn the_html_report_renders_every_finding_and_runs_no_injected_script() {
    let Some(browser) = chromium() else {
        if in_ci() {
            panic!("chromium is not installed; .ci/run installs it");
        }
        skip("SKIPPED the_html_report_renders_every_finding_and_runs_no_injected_script: needs chromium");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/report-hostile.json");
    let text = std::fs::read_to_string(&fixture).expect("fixture");
    let report: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
    let render = run_bounded(
        agent::command(["report", "render"]).arg(&fixture).arg("--out").arg(dir.path()),
        Duration::from_secs(30),
    )
    .expect("render");
    assert!(render.success(), "{}", render.describe());
    let html = dir.path().join("report.html");
    let url = format!("file://{}", html.display());

    let profile = dir.path().join("profile");
    let dom = run_bounded(headless(&browser, &profile).arg("--dump-dom").arg(&url), Duration::from_secs(60))
        .expect("chromium --dump-dom");
    assert!(dom.success(), "{}", dom.describe());
    let page = &dom.stdout;
    for f in report["findings"].as_array().expect("findings") {
        let id = f["id"].as_str().expect("id");
        assert!(page.contains(id), "finding {id} not rendered");
    }
    assert!(!page.contains("<script"), "an injected <script> became an element");
    assert!(!page.contains("<img"), "an injected <img onerror=…> became an element");
    assert!(page.contains("&lt;script&gt;"), "the injected text is shown escaped");
    assert!(page.contains("<title>") && !page.contains("<title>pwned"), "no script ran");
    let console: Vec<&str> = dom
        .stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Refused to"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let shot = artifacts.join("report-hostile.png");
    let _ = std::fs::remove_file(&shot);
    let screenshot = run_bounded(
        headless(&browser, &profile).arg(format!("--screenshot={}", shot.display())).arg(&url),
        Duration::from_secs(60),
    )
    .expect("chromium --screenshot");
    assert!(screenshot.success(), "{}", screenshot.describe());
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "screenshot {} is {size} bytes", shot.display());
}
