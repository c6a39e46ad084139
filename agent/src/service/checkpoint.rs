//! A scan in progress, kept on disk part by part, so that the end of a window, SIGTERM or a crash
//! costs at most the part being scanned.
//!
//! Layout under `STATE/service/scan/`: `progress.json` says which scan this is (id, when it started,
//! which due time it serves, the consent and plan it runs under, how the scope was cut), and each
//! finished part is `part-NNNNNN.json`, the part's report, written atomically. A part file that
//! cannot be read is scanned again; a `progress.json` that cannot be read ends the whole scan, which
//! then starts over (the caller logs it).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::fsutil;
use crate::report::Report;

/// Schema of `progress.json`.
pub const SCHEMA: &str = "wijkagent.progress/1";

/// What `progress.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The scan's id.
    pub scan_id: String,
    /// When its first part started.
    pub started_at: DateTime<Utc>,
    /// The scheduled time it serves.
    pub due: DateTime<Utc>,
    /// SHA-256 of the consent it runs under; another consent means another scan.
    pub consent_sha256: String,
    /// What else must be equal to carry on (profile, ports, rates, part size).
    pub plan_key: String,
    /// How many parts the scope was cut into.
    pub parts: usize,
}

/// The scan in progress, on disk.
#[derive(Debug)]
pub struct Checkpoint {
    dir: PathBuf,
    /// What it is.
    pub meta: Meta,
}

/// Where the scan in progress lives under the state directory.
pub fn dir(state: &Path) -> PathBuf {
    state.join("service").join("scan")
}

impl Checkpoint {
    /// The scan in progress under `state`, if there is one. `Err` when its `progress.json` exists
    /// but cannot be used (the caller discards it with [`Checkpoint::discard_dir`]).
    pub fn open(state: &Path) -> Result<Option<Checkpoint>, String> {
        let dir = dir(state);
        let path = dir.join("progress.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.schema != SCHEMA {
            return Err(format!("{}: schema {:?}, expected {SCHEMA}", path.display(), meta.schema));
        }
        Ok(Some(Checkpoint { dir, meta }))
    }

    /// Starts a new scan in progress (replacing any old one).
    pub fn begin(state: &Path, meta: Meta) -> io::Result<Checkpoint> {
        let dir = dir(state);
        Checkpoint::discard_dir(state)?;
        fsutil::create_dir(&dir, 0o700)?;
        let bytes = serde_json::to_vec_pretty(&meta).map_err(io::Error::other)?;
        fsutil::write_atomic(&dir.join("progress.json"), &bytes, 0o600)?;
        Ok(Checkpoint { dir, meta })
    }

    /// Removes the scan in progress under `state`, if any.
    pub fn discard_dir(state: &Path) -> io::Result<()> {
        match std::fs::remove_dir_all(dir(state)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Keeps the report of part `index` (0-based).
    pub fn save_part(&self, index: usize, report: &Report) -> io::Result<()> {
        let bytes = serde_json::to_vec(report).map_err(io::Error::other)?;
        fsutil::write_atomic(&self.part_path(index), &bytes, 0o600)
    }

    /// The finished parts that can be read, by index; unreadable ones are named in `broken`.
    pub fn parts(&self) -> (BTreeMap<usize, Report>, Vec<String>) {
        let mut done = BTreeMap::new();
        let mut broken = Vec::new();
        for index in 0..self.meta.parts {
            let path = self.part_path(index);
            match std::fs::read(&path) {
                Ok(bytes) => match serde_json::from_slice::<Report>(&bytes) {
                    Ok(r) => {
                        done.insert(index, r);
                    }
                    Err(e) => broken.push(format!("{}: {e}", path.display())),
                },
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => broken.push(format!("{}: {e}", path.display())),
            }
        }
        (done, broken)
    }

    /// How many parts are finished (files present).
    pub fn parts_done(&self) -> usize {
        (0..self.meta.parts).filter(|i| self.part_path(*i).exists()).count()
    }

    fn part_path(&self, index: usize) -> PathBuf {
        self.dir.join(format!("part-{:06}.json", index + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(parts: usize) -> Meta {
        Meta {
            schema: SCHEMA.into(),
            scan_id: "s1".into(),
            started_at: Utc::now(),
            due: Utc::now(),
            consent_sha256: "ab".into(),
            plan_key: "quick".into(),
            parts,
        }
    }

    #[test]
    fn parts_survive_a_reopen_and_a_damaged_part_is_scanned_again() {
        let state = tempfile::tempdir().expect("tempdir");
        assert!(Checkpoint::open(state.path()).expect("none").is_none());
        let cp = Checkpoint::begin(state.path(), meta(3)).expect("begin");
        let report = crate::report::fixtures::report();
        cp.save_part(0, &report).expect("part 1");
        cp.save_part(2, &report).expect("part 3");
        let again = Checkpoint::open(state.path()).expect("open").expect("in progress");
        assert_eq!(again.meta, cp.meta);
        assert_eq!(again.parts_done(), 2);
        std::fs::write(again.part_path(2), b"{\"torn").expect("damage");
        let (done, broken) = again.parts();
        assert_eq!(done.keys().copied().collect::<Vec<_>>(), [0]);
        assert_eq!(broken.len(), 1);
        assert!(broken[0].contains("part-000003.json"), "{broken:?}");
        Checkpoint::discard_dir(state.path()).expect("discard");
        assert!(Checkpoint::open(state.path()).expect("none").is_none());
    }

    #[test]
    fn a_damaged_progress_file_is_an_error_not_a_panic() {
        let state = tempfile::tempdir().expect("tempdir");
        Checkpoint::begin(state.path(), meta(1)).expect("begin");
        std::fs::write(dir(state.path()).join("progress.json"), b"\xff garbage").expect("damage");
        let e = Checkpoint::open(state.path()).expect_err("damaged");
        assert!(e.contains("progress.json"), "{e}");
    }
}
