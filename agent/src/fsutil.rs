//! Durable file writes shared by the state directory, the outbox and the keys: write a temporary file
//! beside the target with the final mode, fsync it, rename it over the target, fsync the directory.
//! After a crash at any point the target is either the old or the new content, never a mix; a leftover
//! temporary file (`.NAME.tmp`) is harmless and removed by whoever owns the directory.
//!
//! A full disk (ENOSPC, or EDQUOT: the quota used up) is said in words: the errors of
//! [`write_atomic`] and [`create_dir`] then read [`DISK_FULL`] before the OS's own text, in Dutch
//! and English, so every caller's message (outbox, state, checkpoints, the service's records)
//! tells people what to do; [`is_disk_full`] and [`disk_full_in`] recognise such an error.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::i18n::Lang;

/// What a full disk means for people, both languages (the reader's language is not known where
/// the error is made).
pub const DISK_FULL: &str = "schijf vol: maak ruimte vrij op deze schijf en probeer opnieuw; het vorige bestand \
     is intact / disk full: free space on this disk and try again; the previous file is intact";

/// Whether `e` says the file system is full (ENOSPC) or the user's quota is used up (EDQUOT).
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
}

/// Whether `e` or any error that caused it is a full disk ([`is_disk_full`]).
pub fn disk_full_in(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if err.downcast_ref::<io::Error>().is_some_and(is_disk_full) {
            return true;
        }
        next = err.source();
    }
    false
}

/// What to do about a full disk, in `lang`, for a message that names the file already.
pub fn disk_full_advice(lang: Lang) -> &'static str {
    lang.pick(
        "de schijf is vol: maak ruimte vrij op die schijf (oude rapporten, logbestanden) en probeer opnieuw; \
         er is niets half geschreven en de vorige bestanden zijn intact",
        "the disk is full: free space on it (old reports, log files) and try again; nothing was half-written \
         and the previous files are intact",
    )
}

/// `e`, with [`DISK_FULL`] in front of its text when it is a full disk (the kind stays), for
/// writers that do not go through [`write_atomic`] (the audit log's appends).
pub fn in_words(e: io::Error) -> io::Error {
    // Only the OS's own error: one already in words (or made by us) stays as it is.
    if is_disk_full(&e) && e.raw_os_error().is_some() {
        io::Error::new(e.kind(), format!("{DISK_FULL} ({e})"))
    } else {
        e
    }
}

/// Suffix of temporary files.
pub const TMP_SUFFIX: &str = ".tmp";

/// Writes `bytes` to `path` atomically and durably, with Unix permissions `mode` (e.g. 0o600 for
/// private keys). On failure the previous file stays and the temporary file is removed; a full
/// disk is said in words ([`DISK_FULL`]).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_atomic_raw(path, bytes, mode).map_err(in_words)
}

fn write_atomic_raw(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let tmp = dir.join(format!(".{}{TMP_SUFFIX}", name.to_string_lossy()));
    let written = (|| {
        let mut f = open_with_mode(OpenOptions::new().write(true).create(true).truncate(true), &tmp, mode)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Fsyncs a directory, so a rename or unlink in it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and its parents; the last one gets `mode` (e.g. 0o700) when it is new. A full
/// disk is said in words ([`DISK_FULL`]).
pub fn create_dir(dir: &Path, mode: u32) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode);
    #[cfg(not(unix))]
    let _ = mode;
    builder.create(dir).map_err(in_words)
}

fn open_with_mode(options: &mut OpenOptions, path: &Path, mode: u32) -> io::Result<File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let file = options.open(path)?;
    // The mode only applies to a new file; a leftover temporary file keeps its own.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_with_the_mode_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret.key");
        fs::write(dir.path().join(".secret.key.tmp"), b"leftover from a crash").expect("write");
        write_atomic(&path, b"one", 0o600).expect("first");
        write_atomic(&path, b"two", 0o600).expect("second");
        assert_eq!(fs::read(&path).expect("read"), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        }
        assert!(!dir.path().join(".secret.key.tmp").exists());
    }

    #[test]
    fn a_full_disk_is_said_in_words_and_still_recognised() {
        let full = in_words(io::Error::from_raw_os_error(28));
        assert!(is_disk_full(&full));
        let text = full.to_string();
        assert!(text.starts_with("schijf vol: maak ruimte vrij") && text.contains("disk full: free space"), "{text}");
        assert!(text.contains("os error 28"), "the OS's own words stay: {text}");
        assert_eq!(in_words(full).to_string(), text, "said once");
        let quota = in_words(io::Error::from_raw_os_error(122));
        assert!(is_disk_full(&quota), "EDQUOT counts as full");
        let other = in_words(io::Error::from_raw_os_error(13));
        assert!(!is_disk_full(&other) && !other.to_string().contains("schijf vol"));
        // Found anywhere in a chain of errors.
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] io::Error);
        assert!(disk_full_in(&Outer(io::Error::from_raw_os_error(28))));
        assert!(!disk_full_in(&Outer(io::Error::from_raw_os_error(2))));
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        write_atomic(&path, b"old", 0o644).expect("write");
        // A directory where the temporary file should go makes the write fail.
        fs::create_dir(dir.path().join(".f.tmp")).expect("mkdir");
        assert!(write_atomic(&path, b"new", 0o644).is_err());
        assert_eq!(fs::read(&path).expect("read"), b"old");
    }
}
