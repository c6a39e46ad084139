//! SQLite's WAL checkpoints, moved off the ingest thread.
//!
//! A commit in WAL mode appends pages to the `-wal` file; a checkpoint copies them back into the
//! database file and syncs it. By default SQLite checkpoints in the connection whose commit made
//! the WAL pass 1,000 pages: under load that is the ingest thread, which then spent a fifth of its
//! time copying and syncing instead of committing the next batch. Here a thread of its own, with a
//! connection of its own, runs a passive checkpoint every [`INTERVAL`]: it copies what no reader
//! still needs, and never waits for or blocks the writer or the readers.
//!
//! Under constant writing such a checkpoint never catches up with the last commit, and SQLite
//! starts the WAL over only once everything in it is copied. So the ingest's connection still
//! checkpoints once the WAL has grown to [`INGEST_AUTOCHECKPOINT`] pages: it copies what the
//! passive checkpoints left (at most the last [`INTERVAL`] of writing), and the next commit
//! writes the WAL from its start again. The WAL file keeps its size between rounds (the size
//! limit [`super::sqlite`] sets is above what it grows to): writing over pages the kernel has cached
//! is cheap, while extending the file cost it zeroing every new block, a sixth of the ingest's time.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

/// WAL pages (4 KiB) after which the ingest's own connection checkpoints (SQLite's default: 1,000).
pub const INGEST_AUTOCHECKPOINT: u32 = 16_384;

/// How often the checkpointing thread runs.
pub const INTERVAL: Duration = Duration::from_millis(100);

/// The checkpointing thread; it stops when this is dropped.
#[derive(Debug)]
pub struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` (opened by [`super::sqlite::SqliteStore`]
    /// before, so it exists in WAL mode).
    pub fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(1))?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(move || run(&conn, &stopped))
            .map_err(|e| StoreError::Io { path: path.to_path_buf(), source: e })?;
        Ok(Checkpointer { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Checkpoints every [`INTERVAL`] until `stopped` says so; a failure is logged once, and again
/// only after a checkpoint succeeded in between.
fn run(conn: &Connection, stopped: &mpsc::Receiver<()>) {
    let mut failing = false;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        match passive_checkpoint(conn) {
            Ok(()) if failing => {
                tracing::info!("database checkpoints work again");
                failing = false;
            }
            Ok(()) => {}
            Err(e) if !failing => {
                tracing::warn!(
                    "database checkpoint failed ({e}){}; the ingest checkpoints itself once the write-ahead log \
                     passes {} MiB",
                    if e.is_disk_full() { super::DISK_FULL_ADVICE } else { "" },
                    INGEST_AUTOCHECKPOINT / 256
                );
                failing = true;
            }
            Err(_) => {}
        }
    }
}

/// One passive checkpoint: as many WAL pages into the database as no reader still needs.
fn passive_checkpoint(conn: &Connection) -> Result<(), StoreError> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[test]
    fn the_thread_copies_the_wal_into_the_database_and_stops_when_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let _store = SqliteStore::open_for_ingest(&path).expect("store");
        let writer = Connection::open(&path).expect("writer");
        writer.pragma_update(None, "wal_autocheckpoint", 0).expect("no checkpoints of its own");
        writer.execute_batch("CREATE TABLE t (x BLOB); INSERT INTO t VALUES (zeroblob(200000));").expect("write");
        // Until a checkpoint, the written pages are only in the WAL, not in the database file.
        let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size() < 200_000, "database file {} bytes before a checkpoint", size());
        let checkpointer = Checkpointer::start(&path).expect("checkpointer");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() < 200_000 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(size() >= 200_000, "database file {} bytes: the thread did not checkpoint", size());
        let stopping = std::time::Instant::now();
        drop(checkpointer);
        assert!(stopping.elapsed() < INTERVAL * 4, "stopped in {:?}", stopping.elapsed());
    }
}
