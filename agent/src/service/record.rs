//! What the service writes down about itself, in `STATE/service/`:
//!
//! - `memory.json` ([`Memory`]): what must survive a restart — since when it runs, which scheduled
//!   time the last scan served, the last finished scan and the last push;
//! - `status.json` ([`Live`]): what it is doing now, rewritten at every change, for
//!   `wijkagent status`.
//!
//! Both are written atomically. Their schema is `wijkagent.status/1` (docs/agent-service.md).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::fsutil;

/// The last finished scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastScan {
    /// Its id.
    pub scan_id: String,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// Whether every target and port was covered.
    pub complete: bool,
    /// Hosts found up.
    pub hosts_up: u64,
    /// Findings.
    pub findings: usize,
    /// The report's directory.
    pub report_dir: PathBuf,
}

/// The last attempt to deliver the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastPush {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// Stored now.
    pub stored: usize,
    /// Refused by wijkpost.
    pub rejected: usize,
    /// Still waiting.
    pub left: usize,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// What survives a restart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// When the service first ran with this state directory; the first scan is due at the first
    /// scheduled time after it.
    pub since: Option<DateTime<Utc>>,
    /// The scheduled time served by the last scan started.
    pub served_due: Option<DateTime<Utc>>,
    /// The last finished scan.
    pub last_scan: Option<LastScan>,
    /// The last push.
    pub last_push: Option<LastPush>,
}

/// What the service does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Starting.
    Starting,
    /// No usable consent (missing, badly signed, expired, not yet valid, no window).
    WaitingForConsent,
    /// Waiting for the next scheduled scan.
    Idle,
    /// A scan is due (or paused) and waits for the consent's next window.
    WaitingForWindow,
    /// Scanning.
    Scanning,
    /// Delivering the outbox.
    Pushing,
    /// Stopping (SIGTERM).
    Stopping,
}

/// The scan in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Current {
    /// Its id.
    pub scan_id: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Parts finished.
    pub parts_done: usize,
    /// Parts in all.
    pub parts: usize,
}

/// `status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Live {
    /// `wijkagent.status/1`.
    pub schema: String,
    /// The service's process id.
    pub pid: u32,
    /// When this was written.
    pub updated_at: DateTime<Utc>,
    /// What it does.
    pub phase: Phase,
    /// Why it waits, for people (in the service's language).
    pub note: Option<String>,
    /// When the next scan is due.
    pub next_due: Option<DateTime<Utc>>,
    /// When the consent's next window opens (or the current one closes, while scanning).
    pub next_window: Option<DateTime<Utc>>,
    /// The scan in progress.
    pub current: Option<Current>,
}

/// Schema name of `status.json` and of `wijkagent status --json`.
pub const STATUS_SCHEMA: &str = "wijkagent.status/1";

fn path(state: &Path, name: &str) -> PathBuf {
    state.join("service").join(name)
}

fn write(state: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    fsutil::create_dir(&state.join("service"), 0o700)?;
    fsutil::write_atomic(&path(state, name), bytes, 0o640)
}

fn read<T: for<'de> Deserialize<'de>>(state: &Path, name: &str) -> Result<Option<T>, String> {
    let p = path(state, name);
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| format!("{}: {e}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
}

impl Memory {
    /// Reads `memory.json`; a missing file is an empty memory, a damaged one an error.
    pub fn load(state: &Path) -> Result<Memory, String> {
        read(state, "memory.json").map(Option::unwrap_or_default)
    }

    /// Writes `memory.json`.
    pub fn save(&self, state: &Path) -> std::io::Result<()> {
        write(state, "memory.json", &serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)
    }
}

impl Live {
    /// Reads `status.json`, if there is one.
    pub fn load(state: &Path) -> Result<Option<Live>, String> {
        read(state, "status.json")
    }

    /// Writes `status.json`.
    pub fn save(&self, state: &Path) -> std::io::Result<()> {
        write(state, "status.json", &serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_status_round_trip_and_damage_is_reported() {
        let state = tempfile::tempdir().expect("tempdir");
        assert_eq!(Memory::load(state.path()).expect("empty"), Memory::default());
        let m = Memory { since: Some(Utc::now()), served_due: Some(Utc::now()), ..Default::default() };
        m.save(state.path()).expect("save");
        assert_eq!(Memory::load(state.path()).expect("load"), m);
        let live = Live {
            schema: STATUS_SCHEMA.into(),
            pid: 7,
            updated_at: Utc::now(),
            phase: Phase::WaitingForWindow,
            note: None,
            next_due: None,
            next_window: Some(Utc::now()),
            current: Some(Current { scan_id: "x".into(), started_at: Utc::now(), parts_done: 1, parts: 4 }),
        };
        live.save(state.path()).expect("save");
        assert_eq!(Live::load(state.path()).expect("load"), Some(live));
        let text = std::fs::read_to_string(state.path().join("service/status.json")).expect("read");
        assert!(text.contains("\"waiting-for-window\""), "{text}");
        std::fs::write(state.path().join("service/memory.json"), b"[").expect("damage");
        assert!(Memory::load(state.path()).expect_err("damaged").contains("memory.json"));
    }
}
