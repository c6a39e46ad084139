//! Wall time and peak memory of a child process, with a deadline and an optional interrupt.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// What one measured run gave.
#[derive(Debug, Clone)]
pub struct Run {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Peak resident set size in KiB (VmHWM, last value read before exit).
    pub peak_rss_kib: u64,
    /// Exit code.
    pub code: Option<i32>,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `cmd`; sends SIGINT after `interrupt_after` if given; kills it at `deadline`.
pub fn run(cmd: &mut Command, interrupt_after: Option<Duration>, deadline: Duration) -> Result<Run> {
    let out = tempfile::NamedTempFile::new()?;
    let err = tempfile::NamedTempFile::new()?;
    cmd.stdin(Stdio::null()).stdout(out.reopen()?).stderr(err.reopen()?);
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("spawn {cmd:?}"))?;
    let pid = child.id();
    let mut peak = 0;
    let mut interrupted = false;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(s) = child.try_wait()? {
            break s;
        }
        let elapsed = start.elapsed();
        if let Some(after) = interrupt_after {
            if !interrupted && elapsed >= after {
                let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
                interrupted = true;
            }
        }
        if elapsed >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("{cmd:?} still running after {deadline:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Run {
        wall: start.elapsed(),
        peak_rss_kib: peak,
        code: status.code(),
        stdout: std::fs::read_to_string(out.path()).unwrap_or_default(),
        stderr: std::fs::read_to_string(err.path()).unwrap_or_default(),
    })
}
