//! `wijkpost serve --config FILE` as a service manager runs it, with the real binary: it serves
//! with the file's settings (relative paths taken from the file's directory, not from where it
//! starts); SIGHUP applies a new k (seen in /metrics) and a new toolkit; a broken file, k < 3 or a
//! broken toolkit is refused with one log line while the old settings keep serving; a changed
//! listen address is logged as needing a restart; SIGTERM (right after a SIGHUP) ends it with exit
//! code 0 within 10 s. Loopback only, ports chosen by the kernel, every wait bounded.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use wijk_lab::collector::bin_checked;
use wijk_lab::dashboard::http;
use wijk_lab::process::run_bounded;
use wijk_lab::service::Service;

const WAIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "dienst-test-wachtwoord-1";

fn config(k: u32, web: &str) -> String {
    format!(
        "# wijkpost — test\nlang = \"nl\"\ndata = \"state\"\nk = {k}\n\n[web]\nlisten = \"{web}\"\n\n[mqtt]\nlisten = \
         \"127.0.0.1:0\"\n"
    )
}

fn toolkit(url: &str) -> String {
    format!("[[link]]\nweakness = \"telnet-open\"\ntitle = \"Telnet uitschakelen\"\nurl = \"{url}\"\n")
}

/// `wijkpost_trends_k` from /metrics, as an admin.
fn metrics_k(web: &str) -> u64 {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"));
    let mut answer = http()
        .get(&format!("{web}/metrics"))
        .header("Authorization", format!("Basic {auth}"))
        .call()
        .expect("GET /metrics");
    assert_eq!(answer.status(), 200, "metrics as admin");
    let body = answer.body_mut().read_to_string().expect("metrics text");
    body.lines()
        .find_map(|l| l.strip_prefix("wijkpost_trends_k "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no wijkpost_trends_k in:\n{body}"))
}

fn healthy(web: &str) -> bool {
    http().get(&format!("{web}/healthz")).call().map(|r| r.status() == 200).unwrap_or(false)
}

fn add_admin(data: &Path) {
    let mut add = Command::new(bin_checked().expect("wijkpost binary"));
    add.args(["user", "add", "--name", "admin", "--role", "admin", "--data"]).arg(data);
    add.env("WIJKPOST_PASSWORD", PASSWORD);
    let f = run_bounded(&mut add, WAIT).expect("wijkpost user add");
    assert!(f.success(), "user add: {}", f.describe());
}

/// Rewrites the file, sends SIGHUP and returns the first log line after it that has `marker`.
fn reload(service: &mut Service, file: &Path, text: &str, marker: &str) -> String {
    std::fs::write(file, text).expect("write config");
    let from = service.lines();
    service.signal("HUP");
    service.wait_for(marker, from, WAIT).expect("reload logged")
}

#[test]
fn serve_with_a_config_file_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(&etc).expect("mkdir");
    let file = etc.join("wijkpost.toml");
    std::fs::write(&file, config(5, "127.0.0.1:0")).expect("write config");

    // Started elsewhere: `data = "state"` must mean etc/state, next to the file.
    let mut cmd = Command::new(bin_checked().expect("wijkpost binary"));
    cmd.arg("serve").arg("--config").arg(&file).current_dir("/").env("WIJKPOST_LOG", "info").env_remove("RUST_LOG");
    cmd.env_remove("WIJKPOST_LANG");
    let mut service = Service::start(cmd).expect("start wijkpost serve");
    let line = service.wait_for("web listening on ", 0, WAIT).expect("listening");
    let web = line.split_once("web listening on ").map(|(_, r)| r.trim().to_string()).expect("address");
    let data = etc.join("state");
    assert!(data.join("wijkpost.db").is_file(), "the store is in the data dir next to the file");
    assert!(data.join("ca").is_dir(), "the CA is in the data dir next to the file");

    // It serves: health, enrollment (a malformed request is answered, not missing), metrics.
    assert!(healthy(&web), "healthz:\n{}", service.log_text());
    let enroll = http().post(&format!("{web}/v1/enroll")).content_type("application/json").send("{}").expect("POST");
    assert!(enroll.status().is_client_error() && enroll.status() != 404, "enroll answered {}", enroll.status());
    add_admin(&data);
    assert_eq!(metrics_k(&web), 5);

    // A new k and a new toolkit: both in force at once.
    std::fs::write(data.join("toolkit.toml"), toolkit("https://vvsg.example/telnet")).expect("toolkit");
    let line = reload(&mut service, &file, &config(7, "127.0.0.1:0"), "config: k changed from 5 to 7");
    assert!(!line.contains('\n'));
    service.wait_for("config: toolkit reloaded, links for 1 weaknesses", 0, WAIT).expect("toolkit reloaded");
    assert_eq!(metrics_k(&web), 7, "the dashboard's figures use the new k");

    // Broken files are refused, one line each, naming the problem; the old settings stay.
    let broken = config(3, "127.0.0.1:0").replace("k = 3", "kk = 3");
    let line = reload(&mut service, &file, &broken, "config reload refused");
    assert!(line.contains("regel 4") && line.contains("onbekende sleutel `kk`"), "{line}");
    assert!(line.contains(&file.display().to_string()), "names the file: {line}");
    let line = reload(&mut service, &file, &config(2, "127.0.0.1:0"), "config reload refused");
    assert!(line.contains("k = 2") && line.contains("k >= 3"), "{line}");
    let line = reload(&mut service, &file, "data = \"state\"\nk = [\n", "config reload refused");
    assert!(line.contains("regel"), "{line}");
    std::fs::write(data.join("toolkit.toml"), toolkit("http://not-https.example")).expect("toolkit");
    let line = reload(&mut service, &file, &config(4, "127.0.0.1:0"), "config reload refused");
    assert!(line.contains("toolkit") && line.contains("https://"), "{line}");
    assert_eq!(metrics_k(&web), 7, "k = 4 came with a broken toolkit: refused as a whole");
    assert!(healthy(&web), "still serving after refusals");

    // A new listen address needs a restart: logged, and it keeps serving where it was.
    std::fs::write(data.join("toolkit.toml"), toolkit("https://vvsg.example/v2")).expect("toolkit");
    let line = reload(&mut service, &file, &config(7, "127.0.0.1:18080"), "web.listen changed");
    assert!(line.contains("needs a restart") && line.contains("keeping 127.0.0.1:0"), "{line}");
    assert!(healthy(&web), "still serving on the old address");
    assert_eq!(metrics_k(&web), 7);
    let log = service.log_text();
    for l in log.lines().filter(|l| l.contains("config")) {
        assert!(!l.contains("\\n"), "one line per event: {l}");
    }

    // SIGHUP and SIGTERM together: a clean stop, exit 0, within 10 s.
    let from = service.lines();
    service.signal("HUP");
    service.signal("TERM");
    let (status, took) = service.wait_exit(Duration::from_secs(12)).expect("stops");
    assert!(status.success(), "exit status {status}:\n{}", service.log_text());
    assert!(took < Duration::from_secs(10), "stopping took {took:?}");
    service.wait_for("ingest stopped", from, Duration::from_secs(1)).expect("the ingest finished its batch");
    service.wait_for("wijkpost gestopt", from, Duration::from_secs(1)).expect("says it stopped");
}

#[test]
fn a_config_file_with_a_typo_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("wijkpost.toml");
    std::fs::write(&file, "data = \"state\"\n[web]\nlisten = \"127.0.0.1:0\"\nlisen = \"x\"\n").expect("write");
    for (lang, says) in [("nl", "regel 4: onbekende sleutel `lisen`"), ("en", "line 4: unknown field `lisen`")] {
        let mut cmd = Command::new(bin_checked().expect("wijkpost binary"));
        cmd.args(["--lang", lang, "serve", "--config"]).arg(&file);
        let f = run_bounded(&mut cmd, WAIT).expect("run");
        assert_eq!(f.code(), Some(1), "{}", f.describe());
        assert!(f.stderr.contains(says), "{lang}: {}", f.stderr);
        assert!(!dir.path().join("state").exists(), "nothing created");
    }
    let mut cmd = Command::new(bin_checked().expect("wijkpost binary"));
    cmd.args(["serve", "--config"]).arg(dir.path().join("missing.toml"));
    let f = run_bounded(&mut cmd, WAIT).expect("run");
    assert_eq!(f.code(), Some(1), "{}", f.describe());
    assert!(f.stderr.contains("missing.toml niet lezen"), "{}", f.stderr);
}
