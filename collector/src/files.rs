//! Small file helpers for secrets and state: private directories (0700) and files written whole,
//! with their mode set at creation, through a temporary file that is fsynced and renamed into place,
//! so a crash leaves either the old file or the new one, never half of one.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` (and its parents) if missing and makes it mode 0700.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// Writes `bytes` to `path` with `mode`, atomically (temporary file, fsync, rename, fsync of the
/// directory).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_private() -> io::Result<()> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("a/b");
        private_dir(&dir)?;
        let file = dir.join("k");
        write_atomic(&file, b"one", 0o600)?;
        write_atomic(&file, b"two", 0o600)?;
        assert_eq!(fs::read(&file)?, b"two");
        assert_eq!(fs::metadata(&file)?.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&dir)?.permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::read_dir(&dir)?.count(), 1, "no temporary file left behind");
        Ok(())
    }
}
