//! A small tmpfs of a test's own, for full-disk tests (root only): mounted on a directory inside
//! the test's temporary directory, filled to the last page on demand, grown again with a remount,
//! and unmounted when dropped (lazily if a process still holds a file in it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::process::run_checked;

/// Name of the file [`Tmpfs::fill`] writes.
const FILLER: &str = "filler.bin";

/// A mounted tmpfs.
#[derive(Debug)]
pub struct Tmpfs {
    /// Where it is mounted.
    pub path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `kib` KiB on `path` (created if missing; must lie in a temporary
    /// directory of the test).
    pub fn mount(path: &Path, kib: u64) -> Result<Tmpfs> {
        if !path.starts_with(std::env::temp_dir()) {
            bail!("a test tmpfs goes inside the temporary directory, not on {}", path.display());
        }
        std::fs::create_dir_all(path).with_context(|| format!("create {}", path.display()))?;
        let size = format!("size={kib}k,mode=0755");
        run_checked(Command::new("mount").args(["-t", "tmpfs", "-o", &size, "wijk-test"]).arg(path))
            .with_context(|| format!("mount a tmpfs on {}", path.display()))?;
        Ok(Tmpfs { path: path.to_path_buf() })
    }

    /// Changes its size to `kib` KiB (the files stay).
    pub fn resize(&self, kib: u64) -> Result<()> {
        let size = format!("remount,size={kib}k");
        run_checked(Command::new("mount").args(["-o", &size]).arg(&self.path))
            .with_context(|| format!("remount {} with {kib} KiB", self.path.display()))?;
        Ok(())
    }

    /// Free bytes, as `statfs` reports them to an unprivileged writer.
    pub fn free(&self) -> Result<u64> {
        let out = run_checked(Command::new("stat").args(["-f", "-c", "%a %S"]).arg(&self.path))?;
        let mut fields = out.split_whitespace().map(|f| f.parse::<u64>());
        match (fields.next(), fields.next()) {
            (Some(Ok(blocks)), Some(Ok(size))) => Ok(blocks * size),
            _ => bail!("stat -f {}: unexpected {out:?}", self.path.display()),
        }
    }

    /// Fills it to the last page with a file of its own (grown by page-sized writes until the
    /// kernel says ENOSPC); returns the bytes written now.
    pub fn fill(&self) -> Result<u64> {
        let path = self.path.join(FILLER);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        let page = [0x5au8; 4096];
        let mut written = 0u64;
        // Bounded: the file system is small, and every round either writes or ends.
        for _ in 0..(1u64 << 20) {
            match file.write(&page) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => return Err(e).with_context(|| format!("fill {}", path.display())),
            }
        }
        let _ = file.sync_all();
        if self.free()? > 0 {
            bail!("{} still has {} bytes free after filling", self.path.display(), self.free()?);
        }
        Ok(written)
    }

    /// Removes the filler file: the space comes back.
    pub fn unfill(&self) -> Result<()> {
        let path = self.path.join(FILLER);
        std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let plain = Command::new("umount").arg(&self.path).output();
        if !plain.is_ok_and(|o| o.status.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.path).output();
        }
    }
}
