//! A program run as a service would run it, for the end-to-end tests of `serve --config` (and
//! `run --config`): a child whose stderr (its structured log) is collected line by line, sent
//! signals (SIGHUP, SIGTERM) and waited for with a bound on every wait. Dropping it stops it
//! (SIGTERM, then SIGKILL after 10 s).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::process::signal_pid;

/// A running service process.
#[derive(Debug)]
pub struct Service {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    status: Option<ExitStatus>,
}

impl Service {
    /// Starts `cmd` with stdin and stdout closed and stderr collected.
    pub fn start(mut cmd: Command) -> Result<Service> {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().with_context(|| format!("spawning {}", crate::process::show(&cmd)))?;
        let stderr = child.stderr.take().context("stderr")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
        });
        Ok(Service { child, log, status: None })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lines logged so far.
    pub fn lines(&self) -> usize {
        self.log.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// Everything logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Sends `SIG<sig>` (`HUP`, `TERM`, …).
    pub fn signal(&self, sig: &str) {
        signal_pid(self.child.id(), sig);
    }

    /// The first line from line number `from` on that contains `marker`, waiting up to `limit`;
    /// fails (with the log) when the process ends or the time is up first.
    pub fn wait_for(&mut self, marker: &str, from: usize, limit: Duration) -> Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            let found = self.log.lock().ok().and_then(|l| l.iter().skip(from).find(|x| x.contains(marker)).cloned());
            if let Some(line) = found {
                return Ok(line);
            }
            if self.status.is_none() {
                self.status = self.child.try_wait()?;
            }
            if let Some(status) = self.status {
                // The reader may still be draining the pipe.
                std::thread::sleep(Duration::from_millis(200));
                if let Some(line) =
                    self.log.lock().ok().and_then(|l| l.iter().skip(from).find(|x| x.contains(marker)).cloned())
                {
                    return Ok(line);
                }
                bail!("exited ({status}) without logging {marker:?}:\n{}", self.log_text());
            }
            if Instant::now() > deadline {
                bail!("no log line with {marker:?} within {limit:?}:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every line logged so far that contains `marker`.
    pub fn matching(&self, marker: &str) -> Vec<String> {
        self.log.lock().map(|l| l.iter().filter(|x| x.contains(marker)).cloned().collect()).unwrap_or_default()
    }

    /// Waits up to `limit` until `count` lines contain `marker`; returns them. Fails (with the log)
    /// when the process ends or the time is up first.
    pub fn wait_for_count(&mut self, marker: &str, count: usize, limit: Duration) -> Result<Vec<String>> {
        let deadline = Instant::now() + limit;
        loop {
            let lines = self.matching(marker);
            if lines.len() >= count {
                return Ok(lines);
            }
            if !self.running() {
                std::thread::sleep(Duration::from_millis(200));
                let lines = self.matching(marker);
                if lines.len() >= count {
                    return Ok(lines);
                }
                bail!("exited without logging {count} × {marker:?}:\n{}", self.log_text());
            }
            if Instant::now() > deadline {
                bail!("no {count} × {marker:?} within {limit:?}:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then [`Service::wait_exit`].
    pub fn terminate(&mut self, limit: Duration) -> Result<(ExitStatus, Duration)> {
        self.signal("TERM");
        self.wait_exit(limit)
    }

    /// Waits up to `limit` for the process to exit; its status and how long it took.
    pub fn wait_exit(&mut self, limit: Duration) -> Result<(ExitStatus, Duration)> {
        let start = Instant::now();
        loop {
            if self.status.is_none() {
                self.status = self.child.try_wait()?;
            }
            if let Some(status) = self.status {
                std::thread::sleep(Duration::from_millis(200));
                return Ok((status, start.elapsed()));
            }
            if start.elapsed() > limit {
                bail!("still running after {limit:?}:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status.is_none()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.running() {
            crate::process::stop_child(&mut self.child, Duration::from_secs(10));
        }
    }
}
