//! Secrets stay secret: across a whole real run (wijkpost serve, a token, enrollment, a refused
//! second use of the token, a scan, a push, the agent's service, status, the dashboard and
//! /metrics), with both programs logging at `debug`, no enrollment token, private key, password or
//! session cookie appears in any log line, command output, report, audit log or web page; every
//! private key file is mode 0600 in a 0700 directory; wijkpost listens on loopback only by default,
//! the agent listens nowhere, plain HTTP off loopback is refused, and off loopback (inside a network
//! namespace of its own) both of wijkpost's listeners speak TLS.
//! Loopback and a private namespace only; every wait is bounded.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use wijk_lab::agent_service::{event, loopback_consent, start_logging, write_config};
use wijk_lab::collector::{self, Collector};
use wijk_lab::consent_fixture::WindowSpec;
use wijk_lab::process::{is_root, run_bounded, skip, Finished};
use wijk_lab::{agent, dashboard, sockets};

const PASSWORD: &str = "Geheim-wachtwoord-voor-test-42";
const ADMIN: &str = "vvsg.beheer";
const LIMIT: Duration = Duration::from_secs(120);

/// A secret and the pieces of it that must not show up anywhere.
struct Secret {
    what: String,
    pieces: Vec<String>,
}

impl Secret {
    fn whole(what: &str, value: &str) -> Secret {
        Secret { what: what.to_string(), pieces: vec![value.trim().to_string()] }
    }

    /// A key file: its body lines (base64) of 24 characters or more, each on its own.
    fn key_file(path: &Path) -> Secret {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let pieces: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("-----") && l.len() >= 24 && !l.contains(' '))
            .map(str::to_string)
            .collect();
        assert!(!pieces.is_empty(), "{} holds no key material", path.display());
        Secret { what: path.display().to_string(), pieces }
    }
}

/// Everything people or programs read: (where, text).
#[derive(Default)]
struct Outputs(Vec<(String, String)>);

impl Outputs {
    fn add(&mut self, what: &str, text: impl Into<String>) {
        self.0.push((what.to_string(), text.into()));
    }

    fn command(&mut self, what: &str, f: &Finished) {
        self.add(&format!("{what} (stdout)"), f.stdout.clone());
        self.add(&format!("{what} (stderr)"), f.stderr.clone());
    }

    /// Every file under `dir` except the listed secret files themselves (binary files lossily).
    fn files_under(&mut self, dir: &Path, except: &[PathBuf]) {
        for path in files(dir) {
            if !except.contains(&path) {
                let bytes = std::fs::read(&path).unwrap_or_default();
                self.add(&path.display().to_string(), String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }

    /// Every place a piece of a secret shows up.
    fn leaks(&self, secrets: &[Secret]) -> Vec<String> {
        let mut found = Vec::new();
        for (where_, text) in &self.0 {
            for s in secrets {
                if s.pieces.iter().any(|p| text.contains(p.as_str())) {
                    found.push(format!("{} in {where_}", s.what));
                }
            }
        }
        found
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => out.extend(files(&path)),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Every file holding a private key, and its directory, are closed to group and others.
fn private_key_files(root: &Path) -> Vec<PathBuf> {
    let keys: Vec<PathBuf> = files(root)
        .into_iter()
        .filter(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
            text.contains("PRIVATE KEY") || text.starts_with("wijkagent-signing-key/")
        })
        .collect();
    for key in &keys {
        assert_eq!(mode(key), 0o600, "{} must be mode 0600", key.display());
        let dir = key.parent().expect("parent");
        assert_eq!(mode(dir) & 0o077, 0, "{} (holding a key) must be closed to others", dir.display());
    }
    keys
}

fn agent_cmd(args: &[&str]) -> Command {
    let mut cmd = agent::command(args);
    cmd.env("WIJKAGENT_LOG", "debug");
    cmd
}

fn ran(outputs: &mut Outputs, what: &str, cmd: &mut Command) -> Finished {
    let f = run_bounded(cmd, LIMIT).unwrap_or_else(|e| panic!("{what}: {e:#}"));
    outputs.command(what, &f);
    f
}

fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

#[test]
fn no_secret_in_any_log_report_or_page_and_keys_are_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("wijkpost");
    let collector = Collector::start_logging(&data, &[], "debug").expect("wijkpost serve");
    let mut outputs = Outputs::default();
    let mut secrets = Vec::new();

    // An enrollment, and the same token once more (refused; the refusal must not echo it).
    let token = collector.token("Gemeente Geheim").expect("token");
    let decoded = wijk_protocol::EnrollToken::decode(&token).expect("a token");
    secrets.push(Secret::whole("the enrollment token", &token));
    secrets.push(Secret::whole("the token's secret", &decoded.secret));
    let state = dir.path().join("state");
    for (i, expect_ok) in [(1, true), (2, false)] {
        let mut cmd = agent_cmd(&["enroll", "--collector", &collector.web_url, "--token", &token, "--state"]);
        cmd.arg(if expect_ok { state.clone() } else { dir.path().join("state2") });
        let f = ran(&mut outputs, &format!("enroll #{i}"), &mut cmd);
        assert_eq!(f.success(), expect_ok, "enroll #{i}: {}", f.describe());
    }

    // A scan, its summary, a push and the service with its status.
    let reports = dir.path().join("reports");
    let report = collector::self_report(&reports).expect("scan --self");
    let mut summary = agent_cmd(&["summary"]);
    summary.arg(&report);
    assert!(ran(&mut outputs, "summary", &mut summary).success());
    let mut push = agent_cmd(&["push", "--state"]);
    push.arg(&state).arg(&report);
    let pushed = ran(&mut outputs, "push", &mut push);
    assert!(pushed.success(), "push: {}", pushed.describe());
    let consent =
        loopback_consent(&dir.path().join("consent"), &["127.0.0.1"], vec![WindowSpec::always()]).expect("consent");
    let config = write_config(dir.path(), &consent, "").expect("config");
    // write_config puts the state in dir/state: the enrolled one.
    let mut svc = start_logging(&config, true, "debug").expect("wijkagent run");
    svc.wait_for_count(&event("push-done"), 1, LIMIT).expect("the service pushed");
    let agent_listens = sockets::listening(svc.pid()).expect("agent sockets");
    assert!(agent_listens.is_empty(), "the agent listens on nothing: {agent_listens:?}");
    let mut status = agent_cmd(&["status", "--json", "--config"]);
    status.arg(&config);
    assert!(ran(&mut outputs, "status", &mut status).success());
    svc.terminate(Duration::from_secs(10)).expect("service stops");
    outputs.add("wijkagent run", svc.log_text());

    // The dashboard: an admin logs in (once with a wrong password), reads /admin and /metrics.
    let mut add = Command::new(collector::bin_checked().expect("wijkpost"));
    add.args(["user", "add", "--name", ADMIN, "--role", "admin", "--data"]).arg(&data);
    add.env("WIJKPOST_PASSWORD", PASSWORD).env("WIJKPOST_LOG", "debug");
    assert!(ran(&mut outputs, "user add", &mut add).success());
    secrets.push(Secret::whole("the admin password", PASSWORD));
    let http = dashboard::http();
    let web = collector.web_url.trim_end_matches('/').to_string();
    assert!(dashboard::login(&http, &web, ADMIN, "Fout-wachtwoord-99").expect("login").is_none());
    secrets.push(Secret::whole("a wrong password", "Fout-wachtwoord-99"));
    let cookie = dashboard::login(&http, &web, ADMIN, PASSWORD).expect("login").expect("a session");
    secrets.push(Secret::whole("the session cookie", cookie.split_once('=').map_or(&*cookie, |(_, v)| v)));
    for page in ["/admin", "/metrics"] {
        let mut answer = http.get(&format!("{web}{page}")).header("cookie", &cookie).call().expect("GET");
        assert_eq!(answer.status().as_u16(), 200, "{page}");
        outputs.add(page, answer.body_mut().read_to_string().expect("body"));
    }

    // Listeners: loopback only by default.
    let listens = sockets::listening(collector.pid()).expect("wijkpost sockets");
    assert!(listens.len() >= 2, "web and MQTT: {listens:?}");
    assert!(listens.iter().all(is_loopback), "loopback only by default: {listens:?}");
    outputs.add("wijkpost serve", collector.stop());

    // Keys: 0600 in closed directories; then nothing of them anywhere people read.
    let agent_keys = private_key_files(&state);
    assert!(agent_keys.len() >= 2, "signing and TLS client keys: {agent_keys:?}");
    let wijkpost_keys = private_key_files(&data);
    assert!(!wijkpost_keys.is_empty(), "the CA key: {wijkpost_keys:?}");
    for key in agent_keys.iter().chain(&wijkpost_keys) {
        secrets.push(Secret::key_file(key));
    }
    let keys: Vec<PathBuf> = agent_keys.iter().chain(&wijkpost_keys).cloned().collect();
    outputs.files_under(&reports, &keys);
    outputs.files_under(&state, &keys);
    let bytes: usize = outputs.0.iter().map(|(_, t)| t.len()).sum();
    let pieces: usize = secrets.iter().map(|s| s.pieces.len()).sum();
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "looked for {} secrets ({pieces} pieces) in {} outputs, {bytes} bytes",
        secrets.len(),
        outputs.0.len()
    );
    assert!(bytes > 20_000, "the run said something to look at: {bytes} bytes");
    let leaks = outputs.leaks(&secrets);
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
    // The check itself sees a leak when there is one.
    let mut probe = Outputs::default();
    probe.add("a line with the token", format!("token={token} secret={}", decoded.secret));
    assert_eq!(probe.leaks(&secrets).len(), 2, "the leak check sees the token and its secret");
}

/// Runs `args` inside the network namespace of `pid`.
fn in_netns(pid: u32, args: &[&str]) -> Finished {
    let mut cmd = Command::new("nsenter");
    cmd.arg("-t").arg(pid.to_string()).arg("-n").args(args);
    run_bounded(&mut cmd, Duration::from_secs(20)).expect("nsenter")
}

#[test]
fn off_loopback_wijkpost_speaks_only_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("wijkpost");

    // Plain HTTP on a non-loopback address is refused before anything listens.
    let mut plain = Command::new(collector::bin_checked().expect("wijkpost"));
    plain.args(["--lang", "en", "serve", "--web", "0.0.0.0:0", "--mqtt", "127.0.0.1:0", "--data"]).arg(&data);
    let refused = run_bounded(&mut plain, Duration::from_secs(30)).expect("serve");
    assert!(!refused.success(), "plain HTTP off loopback must be refused: {}", refused.describe());
    assert!(refused.stderr.contains("TLS") && refused.stderr.contains("0.0.0.0"), "says why: {}", refused.stderr);

    if !is_root() {
        skip("SKIPPED off_loopback_wijkpost_speaks_only_tls, second half: a network namespace of its own needs root");
        return;
    }
    // With TLS, on every address of a network namespace of its own (nothing outside can reach it).
    let cert = dir.path().join("web.crt");
    let key = dir.path().join("web.key");
    let mut mk = Command::new("openssl");
    mk.args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=wijkpost.test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert);
    let made = run_bounded(&mut mk, Duration::from_secs(30)).expect("openssl");
    assert!(made.success(), "{}", made.describe());
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(collector::bin_checked().expect("wijkpost"))
        .args(["serve", "--web", "0.0.0.0:0", "--mqtt", "0.0.0.0:0", "--web-tls-cert"])
        .arg(&cert)
        .arg("--web-tls-key")
        .arg(&key)
        .arg("--data")
        .arg(&data);
    let collector = Collector::spawn(cmd, &data, None, "info").expect("wijkpost in its namespace");
    let listens = sockets::listening(collector.pid()).expect("sockets");
    let open: Vec<&SocketAddr> = listens.iter().filter(|a| !is_loopback(a)).collect();
    assert!(open.len() >= 2, "web and MQTT on every address: {listens:?}");
    for addr in open {
        let port = addr.port().to_string();
        let target = format!("127.0.0.1:{port}");
        let hello = in_netns(collector.pid(), &["openssl", "s_client", "-connect", &target, "-showcerts"]);
        assert!(hello.stdout.contains("BEGIN CERTIFICATE"), "{addr} answers a TLS handshake: {}", hello.describe());
        // A cleartext request gets a TLS alert or nothing, never an HTTP answer.
        let script = format!(
            "exec 3<>/dev/tcp/127.0.0.1/{port}; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; timeout 5 head -c 5 <&3 | tr -c 'A-Z/' '.'"
        );
        let cleartext = in_netns(collector.pid(), &["bash", "-c", &script]);
        assert!(!cleartext.stdout.contains("HTTP"), "{addr} gives no cleartext answer: {}", cleartext.describe());
    }
}
