//! Running other programs with a bound on time: every wait in the lab and in the tests ends.
//!
//! [`run_bounded`] starts a command in its own process group with its output going to anonymous
//! temporary files (so a chatty child can never block on a full pipe), polls it, and on the deadline
//! sends SIGTERM to the whole group, then SIGKILL. [`run_checked`] is the short form for the `ip`,
//! `nft` and `sysctl` calls that build a lab. Signals are sent with `kill(1)` so this crate needs no
//! `unsafe` and no libc binding.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long SIGTERM may take before SIGKILL follows.
const TERM_GRACE: Duration = Duration::from_secs(10);

/// Looks a program up in `PATH` and in the sbin directories a non-login root shell may miss.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A program's path, or an error that names it.
pub fn program(name: &str) -> Result<PathBuf> {
    find_program(name).with_context(|| format!("program {name:?} not found in PATH or the sbin directories"))
}

/// How a bounded run ended.
#[derive(Debug)]
pub struct Finished {
    /// Exit status (after a signal if it ran past its deadline).
    pub status: ExitStatus,
    /// Everything it wrote to stdout (lossy UTF-8).
    pub stdout: String,
    /// Everything it wrote to stderr (lossy UTF-8).
    pub stderr: String,
    /// Wall-clock time from spawn to exit.
    pub elapsed: Duration,
    /// Whether it was stopped by us at the deadline.
    pub timed_out: bool,
}

impl Finished {
    /// Exit code, `None` when it died of a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Whether it exited 0 in time.
    pub fn success(&self) -> bool {
        self.status.success() && !self.timed_out
    }

    /// A few lines for a failure message: how it ended and the tail of both streams.
    pub fn describe(&self) -> String {
        format!(
            "{}{} after {:.1}s\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}",
            self.status,
            if self.timed_out { " (stopped at the deadline)" } else { "" },
            self.elapsed.as_secs_f64(),
            tail(&self.stdout, 40),
            tail(&self.stderr, 40),
        )
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `cmd` to completion or until `limit`, then stops its process group (TERM, then KILL).
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<Finished> {
    run_inner(cmd, limit, None)
}

/// Like [`run_bounded`], but sends SIGTERM to the process group once `after` has passed, as a
/// Ctrl-C or a service stop would, and then waits up to `limit` in total for it to exit.
pub fn run_interrupted(cmd: &mut Command, after: Duration, limit: Duration) -> Result<Finished> {
    run_inner(cmd, limit, Some(after))
}

fn run_inner(cmd: &mut Command, limit: Duration, interrupt_after: Option<Duration>) -> Result<Finished> {
    let mut out = tempfile::tempfile().context("temporary file for stdout")?;
    let mut err = tempfile::tempfile().context("temporary file for stderr")?;
    cmd.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(err.try_clone()?).process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("spawning {}", show(cmd)))?;
    let pgid = child.id();
    let mut timed_out = false;
    let mut interrupted = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let elapsed = start.elapsed();
        if let Some(after) = interrupt_after {
            if !interrupted && elapsed >= after {
                signal_group(pgid, "TERM");
                interrupted = true;
            }
        }
        if elapsed >= limit {
            timed_out = true;
            signal_group(pgid, "TERM");
            let term_deadline = Instant::now() + TERM_GRACE;
            let status = loop {
                if let Some(status) = child.try_wait()? {
                    break Some(status);
                }
                if Instant::now() >= term_deadline {
                    break None;
                }
                sleep(Duration::from_millis(50));
            };
            match status {
                Some(s) => break s,
                None => {
                    signal_group(pgid, "KILL");
                    let _ = child.kill();
                    break child.wait()?;
                }
            }
        }
        sleep(Duration::from_millis(50));
    };
    // Whatever the leader left behind in its group goes too.
    signal_group(pgid, "KILL");
    Ok(Finished {
        status,
        stdout: read_all(&mut out)?,
        stderr: read_all(&mut err)?,
        elapsed: start.elapsed(),
        timed_out,
    })
}

fn read_all(f: &mut File) -> Result<String> {
    f.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Runs a short setup command (30 s at most) and returns its stdout; fails with its stderr.
pub fn run_checked(cmd: &mut Command) -> Result<String> {
    let shown = show(cmd);
    let f = run_bounded(cmd, Duration::from_secs(30))?;
    if !f.success() {
        bail!("`{shown}` failed: {}", f.describe());
    }
    Ok(f.stdout)
}

/// `program args…` as one line, for messages.
pub fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sends `SIG<sig>` to every process of group `pgid` (errors such as "no such process" ignored).
pub fn signal_group(pgid: u32, sig: &str) {
    let _ = Command::new(kill_program())
        .args(["-s", sig, "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Sends `SIG<sig>` to one process.
pub fn signal_pid(pid: u32, sig: &str) {
    let _ = Command::new(kill_program())
        .args(["-s", sig, "--", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn kill_program() -> PathBuf {
    find_program("kill").unwrap_or_else(|| PathBuf::from("kill"))
}

/// Stops `child` as a service manager would: SIGTERM, up to `grace` to exit, then SIGKILL.
pub fn stop_child(child: &mut std::process::Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    signal_pid(child.id(), "TERM");
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether a process with this pid exists.
pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether this process runs as uid 0 (real uid, from `/proc/self/status`).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|rest| rest.split_whitespace().next().map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// Whether `CI` is `true`: then a test that cannot run must fail instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

/// Reports a skipped test on the real stderr (libtest captures `eprintln!`, not direct writes), or
/// panics when [`in_ci`]: in CI every test must run.
pub fn skip(line: &str) {
    use std::io::Write;
    if in_ci() {
        panic!("{line} — but CI=true, so this test must run");
    }
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_run_stops_a_sleeper_at_the_deadline() {
        let Some(sleep_bin) = find_program("sleep") else { return };
        let f = run_bounded(Command::new(sleep_bin).arg("30"), Duration::from_millis(300)).expect("run");
        assert!(f.timed_out);
        assert!(!f.success());
        assert!(f.elapsed < Duration::from_secs(12), "took {:?}", f.elapsed);
    }

    #[test]
    fn bounded_run_collects_output() {
        let Some(sh) = find_program("sh") else { return };
        let f = run_bounded(Command::new(sh).args(["-c", "echo out; echo err >&2; exit 3"]), Duration::from_secs(10))
            .expect("run");
        assert_eq!(f.code(), Some(3));
        assert_eq!(f.stdout.trim(), "out");
        assert_eq!(f.stderr.trim(), "err");
        assert!(!f.timed_out);
    }

    #[test]
    fn interrupted_run_gets_sigterm() {
        let Some(sleep_bin) = find_program("sleep") else { return };
        let f = run_interrupted(Command::new(sleep_bin).arg("30"), Duration::from_millis(200), Duration::from_secs(20))
            .expect("run");
        assert!(!f.timed_out);
        assert_eq!(f.code(), None, "sleep dies of SIGTERM: {:?}", f.status);
    }
}
