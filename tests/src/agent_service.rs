//! Running `wijkagent run` for the end-to-end tests: the service as a child process with its log
//! lines collected, a consent for a few loopback addresses, its configuration file, bounded waits.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use chrono::{Duration as Span, Utc};

use crate::consent_fixture::{self, ConsentSpec, SignedConsent, WindowSpec};
use crate::process::{run_bounded, signal_pid};

/// A consent for `include` (loopback addresses only), signed, in `dir`; open always unless
/// `windows` say otherwise.
pub fn loopback_consent(dir: &Path, include: &[&str], windows: Vec<WindowSpec>) -> Result<SignedConsent> {
    let now = Utc::now().fixed_offset();
    for entry in include {
        if !entry.starts_with("127.") {
            bail!("the service tests scan loopback only, not {entry}");
        }
    }
    let spec = ConsentSpec {
        organisation: "Gemeente Dienst".into(),
        authorised_by: "Test Persoon".into(),
        role: "testleider".into(),
        contact: "ict@dienst.test".into(),
        purpose: "Test van de dienst op loopback".into(),
        valid_from: now - Span::days(1),
        valid_until: now + Span::days(30),
        include: include.iter().map(|s| s.to_string()).collect(),
        exclude: vec![],
        fragile: vec![],
        profile: "quick".into(),
        max_rate: 2000,
        max_per_host_rate: 500,
        ot_identification: false,
        windows,
    };
    consent_fixture::write_signed(dir, &spec)
}

/// Writes `dir/agent.toml` for `consent`, state in `dir/state`; `extra` is appended under `[scan]`.
pub fn write_config(dir: &Path, consent: &SignedConsent, scan_extra: &str) -> Result<PathBuf> {
    let text = format!(
        "lang = \"en\"\n\n[consent]\nscope = \"{}\"\ntrust = [\"{}\"]\n\n[schedule]\ncron = \"0 3 1 1 *\"\n\n[scan]\n{scan_extra}\n\n[paths]\nstate = \"state\"\nkeep_reports = 2\n\n[uplink]\ntimeout = 30\n",
        consent.scope.display(),
        consent.keys.public_key.display()
    );
    let path = dir.join("agent.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// A running `wijkagent run`.
#[derive(Debug)]
pub struct Service {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Service {
    /// Starts `wijkagent run --config CONFIG` (with `--now` when asked).
    pub fn start(config: &Path, now: bool) -> Result<Service> {
        crate::agent::bin_checked()?;
        let mut cmd = crate::agent::command(["run", "--config"]);
        cmd.arg(config);
        if now {
            cmd.arg("--now");
        }
        cmd.env("WIJKAGENT_LOG", "info").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let log = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut l) = log.lock() {
                        l.push(line);
                    }
                }
            });
        }
        Ok(Service { child, log })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every log line so far.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Lines carrying `event="NAME"`.
    pub fn events(&self, name: &str) -> Vec<String> {
        let marker = format!("event=\"{name}\"");
        self.log.lock().map(|l| l.iter().filter(|x| x.contains(&marker)).cloned().collect()).unwrap_or_default()
    }

    /// Waits until `count` lines with `event="NAME"` were logged; fails after `limit` or when the
    /// process ends.
    pub fn wait_for(&mut self, name: &str, count: usize, limit: Duration) -> Result<Vec<String>> {
        let deadline = Instant::now() + limit;
        loop {
            let lines = self.events(name);
            if lines.len() >= count {
                return Ok(lines);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("wijkagent run ended ({status}) before {count} × {name}:\n{}", self.log_text());
            }
            if Instant::now() > deadline {
                bail!("no {count} × {name} within {limit:?}:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `SIG<sig>`.
    pub fn signal(&self, sig: &str) {
        signal_pid(self.child.id(), sig);
    }

    /// SIGTERM, then waits for the exit; returns the exit code and how long it took.
    pub fn terminate(&mut self, limit: Duration) -> Result<(Option<i32>, Duration)> {
        let started = Instant::now();
        self.signal("TERM");
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                return Ok((status.code(), started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("wijkagent run did not stop within {limit:?} of SIGTERM:\n{}", self.log_text())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `wijkagent status --config CONFIG --json` (with `--offline` when asked), parsed.
pub fn status(config: &Path, offline: bool) -> Result<serde_json::Value> {
    let mut cmd = crate::agent::command(["--lang", "en", "status", "--json", "--config"]);
    cmd.arg(config);
    if offline {
        cmd.arg("--offline");
    }
    let f = run_bounded(&mut cmd, Duration::from_secs(30))?;
    if !f.success() {
        bail!("wijkagent status: {}", f.describe());
    }
    Ok(serde_json::from_str(&f.stdout)?)
}
