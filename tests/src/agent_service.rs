//! Running `wijkagent run` for the end-to-end tests: a consent for a few loopback addresses, its
//! configuration file, the service as a [`Service`] (log collected, signals, bounded waits), and
//! `wijkagent status --json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use chrono::{Duration as Span, Utc};

use crate::consent_fixture::{self, ConsentSpec, SignedConsent, WindowSpec};
use crate::process::run_bounded;
use crate::service::Service;

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

/// Starts `wijkagent run --config CONFIG` (with `--now` when asked), logging at info level.
pub fn start(config: &Path, now: bool) -> Result<Service> {
    start_logging(config, now, "info")
}

/// [`start`] with `WIJKAGENT_LOG=level` (`debug` shows the most).
pub fn start_logging(config: &Path, now: bool, level: &str) -> Result<Service> {
    crate::agent::bin_checked()?;
    let mut cmd = crate::agent::command(["run", "--config"]);
    cmd.arg(config);
    if now {
        cmd.arg("--now");
    }
    cmd.env("WIJKAGENT_LOG", level);
    Service::start(cmd)
}

/// The marker of a service log event: `event="NAME"`.
pub fn event(name: &str) -> String {
    format!("event=\"{name}\"")
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
