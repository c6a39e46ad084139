//! The outbox: a durable queue of signed summaries waiting for wijkpost's receipt.
//!
//! # Design
//! Delivery is confirmed end to end (DESIGN.md, "Delivery"): an entry leaves the outbox only when the
//! receipt for its `seq` arrives (`stored` or `duplicate`), or is set aside with the reason when the
//! receipt says `rejected`. Until then every connection sends it again; wijkpost stores each
//! `(agent, seq)` once, so sending twice is harmless and losing is impossible.
//!
//! # On disk (`STATE/outbox/`, mode 0700)
//! - `last-seq`: the highest `seq` ever handed out, decimal. It is written (atomically, fsynced) before
//!   the entry that uses the number, so a number is never handed out twice, even after a crash
//!   between the two writes (which leaves a gap, harmless) or once every entry is gone.
//! - `SEQ.json` (`seq` zero-padded to 20 digits, so names sort by number): the exact MQTT payload,
//!   written to `.SEQ.json.tmp`, fsynced, renamed, directory fsynced. A crash leaves either no entry or
//!   a whole one; leftover `*.tmp` files are removed when the outbox is opened.
//! - `rejected/SEQ.json` and `rejected/SEQ.reason`: entries wijkpost refused, kept for the IT staff.
//!
//! - `.lock`: an advisory lock (`flock`) held while a number is handed out and its entry written, and
//!   while leftovers are cleaned, so two processes appending at once (a scan finishing while
//!   `wijkagent push REPORT` runs) never get the same number and never remove each other's
//!   half-written entry.
//!
//! Acknowledging unlinks the entries one receipt message answers and fsyncs the directory once
//! (a `wijk.receipt/2` answers up to 512). Nothing is held in memory between calls,
//! so several processes that use the same outbox see the same queue.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::fsutil::{self, TMP_SUFFIX};

const LAST_SEQ: &str = "last-seq";
const LOCK: &str = ".lock";
const REJECTED: &str = "rejected";

/// Errors of the outbox, each naming the file involved.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// A file could not be read or written (full disk, permissions, ...).
    #[error("outbox {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// `last-seq` holds something that is not a number.
    #[error("outbox {path}: damaged sequence counter {text:?}; it must hold the last sequence number")]
    Counter {
        /// The counter file.
        path: PathBuf,
        /// What it holds.
        text: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OutboxError + '_ {
    move |source| OutboxError::Io { path: path.to_path_buf(), source }
}

/// One summary waiting for its receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its sequence number.
    pub seq: u64,
    /// The MQTT payload (a signed summary).
    pub payload: Vec<u8>,
}

/// The on-disk queue in `STATE/outbox`.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// Opens (creating if needed) the outbox under `state_dir`, removing leftover temporary files.
    pub fn open(state_dir: &Path) -> Result<Outbox, OutboxError> {
        let dir = state_dir.join("outbox");
        fsutil::create_dir(&dir.join(REJECTED), 0o700).map_err(io_err(&dir))?;
        let outbox = Outbox { dir };
        let _lock = outbox.lock()?;
        let dir = &outbox.dir;
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            let path = entry.map_err(io_err(dir))?.path();
            if path.file_name().is_some_and(|n| n.to_string_lossy().ends_with(TMP_SUFFIX)) {
                fs::remove_file(&path).map_err(io_err(&path))?;
            }
        }
        drop(_lock);
        Ok(outbox)
    }

    /// Holds the outbox's advisory lock until the returned file is dropped.
    fn lock(&self) -> Result<fs::File, OutboxError> {
        let path = self.dir.join(LOCK);
        let file =
            fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io_err(&path))?;
        file.lock().map_err(io_err(&path))?;
        Ok(file)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Hands out the next sequence number and stores the payload `build` makes for it. The number is
    /// durable before the entry is written.
    pub fn append(&self, build: impl FnOnce(u64) -> Vec<u8>) -> Result<u64, OutboxError> {
        let _lock = self.lock()?;
        let seq = self.last_seq()? + 1;
        let counter = self.dir.join(LAST_SEQ);
        fsutil::write_atomic(&counter, format!("{seq}\n").as_bytes(), 0o600).map_err(io_err(&counter))?;
        let path = self.entry_path(seq);
        fsutil::write_atomic(&path, &build(seq), 0o600).map_err(io_err(&path))?;
        Ok(seq)
    }

    /// The sequence number the next [`Outbox::append`] would hand out.
    pub fn next_seq(&self) -> Result<u64, OutboxError> {
        Ok(self.last_seq()? + 1)
    }

    /// The highest number handed out: the counter, or a higher entry if the counter was lost.
    fn last_seq(&self) -> Result<u64, OutboxError> {
        let counter = self.dir.join(LAST_SEQ);
        let recorded = match fs::read_to_string(&counter) {
            Ok(text) => text.trim().parse::<u64>().map_err(|_| OutboxError::Counter { path: counter.clone(), text })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_err(&counter)(e)),
        };
        let highest_entry = self.seqs()?.last().copied().unwrap_or(0);
        Ok(recorded.max(highest_entry))
    }

    /// Sequence numbers waiting, ascending.
    pub fn seqs(&self) -> Result<Vec<u64>, OutboxError> {
        let mut seqs = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let name = entry.map_err(io_err(&self.dir))?.file_name();
            if let Some(seq) = name.to_str().and_then(|n| n.strip_suffix(".json")).and_then(|n| n.parse().ok()) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// Every entry waiting, ascending by `seq`.
    pub fn pending(&self) -> Result<Vec<Entry>, OutboxError> {
        let mut entries = Vec::new();
        for seq in self.seqs()? {
            let path = self.entry_path(seq);
            match fs::read(&path) {
                Ok(payload) => entries.push(Entry { seq, payload }),
                // Acknowledged by another process between listing and reading.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        Ok(entries)
    }

    /// Removes entry `seq` once its receipt arrived; false if it was not there (already removed).
    pub fn acknowledge(&self, seq: u64) -> Result<bool, OutboxError> {
        Ok(self.acknowledge_all(&[seq])? == 1)
    }

    /// Removes the entries `seqs` whose receipts arrived (several come in one `wijk.receipt/2`),
    /// with one directory fsync for all of them; how many were there (the others were removed
    /// before). On an error, the entries before the one that failed are removed (and durable).
    pub fn acknowledge_all(&self, seqs: &[u64]) -> Result<usize, OutboxError> {
        let mut removed = 0;
        let mut failure = None;
        for &seq in seqs {
            let path = self.entry_path(seq);
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    failure = Some(io_err(&path)(e));
                    break;
                }
            }
        }
        if removed > 0 {
            fsutil::sync_dir(&self.dir).map_err(io_err(&self.dir))?;
        }
        failure.map_or(Ok(removed), Err)
    }

    /// Moves entry `seq` to `rejected/` with the reason wijkpost gave; false if it was not there.
    pub fn set_aside(&self, seq: u64, reason: &str) -> Result<bool, OutboxError> {
        let from = self.entry_path(seq);
        if !from.exists() {
            return Ok(false);
        }
        let rejected = self.dir.join(REJECTED);
        let why = rejected.join(format!("{seq:020}.reason"));
        fsutil::write_atomic(&why, format!("{reason}\n").as_bytes(), 0o600).map_err(io_err(&why))?;
        let to = rejected.join(format!("{seq:020}.json"));
        fs::rename(&from, &to).map_err(io_err(&from))?;
        fsutil::sync_dir(&rejected).map_err(io_err(&rejected))?;
        fsutil::sync_dir(&self.dir).map_err(io_err(&self.dir))?;
        Ok(true)
    }

    /// Entries set aside.
    pub fn rejected_count(&self) -> Result<usize, OutboxError> {
        let dir = self.dir.join(REJECTED);
        let entries = fs::read_dir(&dir).map_err(io_err(&dir))?;
        Ok(entries.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().ends_with(".json")).count())
    }

    fn entry_path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.json"))
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "outbox_props.rs"]
mod props;
