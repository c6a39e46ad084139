//! Settings of wijkpost's allocator (mimalloc, the global allocator set in `main.rs`).
//!
//! mimalloc gives memory back to the system 10 ms after it fell free ("purging"). In ingest a
//! batch's rows are allocated on the judging threads and freed on the ingest thread a moment later,
//! so whole pages fell free between batches, were purged, and the next batch faulted them in again,
//! zeroed by the kernel: a tenth of the judges' time and more than a twentieth of the ingest's.
//! Freed pages are now kept for [`PURGE_DELAY_MS`] before they go back.
//!
//! mimalloc's options are set through its C interface: the only `unsafe` in the workspace, allowed
//! here for these two calls, which touch no memory of ours.

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};

/// `mi_option_purge_delay`: its place in `mi_option_e` of the mimalloc v3 that libmimalloc-sys
/// builds (which does not name it); a test checks it against the option's name.
const MI_OPTION_PURGE_DELAY: mi_option_t = 15;

/// How long freed memory is kept for reuse before it goes back to the system, ms.
pub const PURGE_DELAY_MS: i64 = 1000;

/// Keeps freed memory for [`PURGE_DELAY_MS`]; call first thing in `main`.
#[allow(unsafe_code)]
pub fn keep_freed_pages() {
    // SAFETY: sets an option, by its number, in mimalloc's table of options; no memory involved.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS as _) }
}

/// mimalloc's purge delay now, ms.
#[allow(unsafe_code, clippy::useless_conversion)] // `c_long` is not `i64` everywhere
pub fn purge_delay_ms() -> i64 {
    // SAFETY: reads an option from mimalloc's table of options.
    i64::from(unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mimalloc reads `MIMALLOC_PURGE_DELAY` into the option of that name: in a child process with
    /// that variable set, the option number used here must hold its value.
    #[test]
    fn the_option_number_is_the_purge_delay() {
        if std::env::var_os("WIJKPOST_ALLOCATOR_CHILD").is_some() {
            println!("purge delay: {}", purge_delay_ms());
            return;
        }
        let exe = std::env::current_exe().expect("test binary");
        let out = std::process::Command::new(exe)
            .args(["--exact", "allocator::tests::the_option_number_is_the_purge_delay", "--nocapture"])
            .env("WIJKPOST_ALLOCATOR_CHILD", "1")
            .env("MIMALLOC_PURGE_DELAY", "777")
            .output()
            .expect("child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("purge delay: 777"), "child said: {stdout}");
        keep_freed_pages();
        assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
    }
}
