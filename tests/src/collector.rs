//! Running `wijkpost` for the end-to-end tests: `wijkpost serve` as a child process on loopback
//! ports the kernel picks (port 0), its addresses read from its own log, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::process::run_bounded;

/// How long `wijkpost serve` may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(30);

/// The wijkpost binary: `$WIJKPOST_BIN`, else `target/<profile>/wijkpost`, refused when missing or
/// older than its sources.
pub fn bin_checked() -> Result<PathBuf> {
    let p = match std::env::var_os("WIJKPOST_BIN") {
        Some(p) => PathBuf::from(p),
        None => crate::agent::workspace_binary("wijkpost"),
    };
    if !p.is_file() {
        bail!("wijkpost binary not found at {} (build it with `cargo build -p wijkpost`)", p.display());
    }
    if let Some(source) = crate::agent::newer_source(&p) {
        bail!("wijkpost at {} is older than {}; run `cargo build -p wijkpost` first", p.display(), source.display());
    }
    Ok(p)
}

/// A running `wijkpost serve`.
#[derive(Debug)]
pub struct Collector {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// Data directory.
    pub data: PathBuf,
    /// Enrollment and web address, `http://127.0.0.1:PORT`.
    pub web_url: String,
    /// Broker address, `mqtts://127.0.0.1:PORT`.
    pub broker_url: String,
    /// `--database` given to `serve`, used by [`Collector::token`] too.
    database: Option<String>,
}

impl Collector {
    /// Starts `wijkpost serve --data DATA --web 127.0.0.1:0 --mqtt 127.0.0.1:0` plus `extra`.
    pub fn start(data: &Path, extra: &[&str]) -> Result<Collector> {
        Collector::start_logging(data, extra, "info")
    }

    /// [`Collector::start`] with `WIJKPOST_LOG=level` (`debug` shows the most).
    pub fn start_logging(data: &Path, extra: &[&str], level: &str) -> Result<Collector> {
        let mut cmd = Command::new(bin_checked()?);
        cmd.arg("serve").arg("--data").arg(data).args(["--web", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"]).args(extra);
        let database =
            extra.iter().position(|a| *a == "--database").and_then(|i| extra.get(i + 1)).map(|s| s.to_string());
        Collector::spawn(cmd, data, database, level)
    }

    /// Starts `cmd` (a `wijkpost serve` command line, maybe behind `unshare`/`nsenter`, which exec
    /// it) and waits until it logs its addresses.
    pub fn spawn(mut cmd: Command, data: &Path, database: Option<String>, level: &str) -> Result<Collector> {
        cmd.env("WIJKPOST_LOG", level).env_remove("RUST_LOG").stdin(Stdio::null()).stdout(Stdio::null());
        cmd.stderr(Stdio::piped());
        let mut child = cmd.spawn().context("spawn wijkpost serve")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().context("stderr")?;
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
        });
        let mut collector = Collector {
            child,
            log,
            data: data.to_path_buf(),
            web_url: String::new(),
            broker_url: String::new(),
            database,
        };
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let (web, mqtt) = {
                let lines = collector.log.lock().map(|l| l.clone()).unwrap_or_default();
                let mqtt = find_after(&lines, "mqtt listening on ")
                    .or_else(|| find_after(&lines, "mqtt via external broker "));
                (find_after(&lines, "web listening on "), mqtt)
            };
            if let (Some(web), Some(mqtt)) = (web, mqtt) {
                collector.web_url = web;
                collector.broker_url = mqtt;
                return Ok(collector);
            }
            if let Some(status) = collector.child.try_wait()? {
                bail!("wijkpost serve exited with {status} before listening:\n{}", collector.log_text());
            }
            if Instant::now() > deadline {
                bail!("wijkpost serve did not report its addresses within {START_LIMIT:?}:\n{}", collector.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Issues a token with `wijkpost token` for a test organisation.
    pub fn token(&self, org: &str) -> Result<String> {
        let mut cmd = Command::new(bin_checked()?);
        cmd.arg("token").arg("--data").arg(&self.data).args([
            "--org",
            org,
            "--sector",
            "gemeente",
            "--size-class",
            "10k-25k",
            "--province",
            "limburg",
        ]);
        if let Some(db) = &self.database {
            cmd.args(["--database", db]);
        }
        let f = run_bounded(&mut cmd, Duration::from_secs(30))?;
        if !f.success() {
            bail!("wijkpost token failed: {}", f.describe());
        }
        Ok(f.stdout.trim().to_string())
    }

    /// Adds an admin user `name` with `password` through `wijkpost user add`.
    pub fn add_admin(&self, name: &str, password: &str) -> Result<()> {
        let mut cmd = Command::new(bin_checked()?);
        cmd.args(["user", "add", "--name", name, "--role", "admin", "--data"]).arg(&self.data);
        if let Some(db) = &self.database {
            cmd.args(["--database", db]);
        }
        cmd.env("WIJKPOST_PASSWORD", password);
        let f = run_bounded(&mut cmd, Duration::from_secs(30))?;
        if !f.success() {
            bail!("wijkpost user add failed: {}", f.describe());
        }
        Ok(())
    }

    /// `/metrics` as the admin `name` (logged in through the form).
    pub fn metrics(&self, name: &str, password: &str) -> Result<String> {
        let http = crate::dashboard::http();
        let cookie = crate::dashboard::login(&http, &self.web_url, name, password)?
            .with_context(|| format!("wijkpost refused the login of {name}"))?;
        let mut answer = http.get(&format!("{}/metrics", self.web_url)).header("Cookie", cookie).call()?;
        if answer.status() != 200 {
            bail!("GET /metrics answered {}", answer.status());
        }
        Ok(answer.body_mut().read_to_string()?)
    }

    /// Stops it with SIGTERM and waits (at most 10 s, then SIGKILL); returns everything it logged.
    pub fn stop(self) -> String {
        let log = self.log.clone();
        drop(self);
        // The reader thread may still be draining the pipe.
        std::thread::sleep(Duration::from_millis(200));
        log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Stops it with SIGKILL (a crash, not a clean stop) and waits.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        crate::process::stop_child(&mut self.child, Duration::from_secs(10));
    }
}

/// Enrolls an agent into `state` with a fresh token of `collector` for `org`, through the real CLI;
/// returns its agent id.
pub fn enroll_agent(collector: &Collector, state: &Path, org: &str) -> Result<String> {
    let token = collector.token(org)?;
    let mut cmd = crate::agent::command(["enroll", "--collector", &collector.web_url, "--token", &token, "--state"]);
    cmd.arg(state);
    let f = run_bounded(&mut cmd, Duration::from_secs(60))?;
    if !f.success() {
        bail!("wijkagent enroll: {}\n--- wijkpost:\n{}", f.describe(), collector.log_text());
    }
    let identity: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(state.join("identity.json"))?)?;
    identity["agent_id"].as_str().map(str::to_string).context("identity.json without agent_id")
}

/// A small real report: `wijkagent scan --self --no-services` (loopback only) into `dir`.
pub fn self_report(dir: &Path) -> Result<PathBuf> {
    let mut cmd =
        crate::agent::command(["--lang", "en", "scan", "--self", "--no-services", "--progress", "none", "--out"]);
    cmd.arg(dir).arg("--audit-log").arg(dir.join("scan-audit.log"));
    let f = run_bounded(&mut cmd, Duration::from_secs(120))?;
    if !f.success() {
        bail!("wijkagent scan --self: {}", f.describe());
    }
    Ok(dir.join("report.json"))
}

/// Entries waiting in the outbox of the agent state directory `state`.
pub fn outbox_len(state: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(state.join("outbox")) else { return 0 };
    entries.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().ends_with(".json")).count()
}

/// The value of the sample `series` (the metric name with its labels, exactly as printed) in a
/// Prometheus text `metrics`.
pub fn metric(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The sum of every sample of `name`, whatever its labels.
pub fn metric_sum(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{')))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Peak resident memory of process `pid` (`VmHWM`), bytes.
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// The first word after `marker` in any line (ANSI-free logs).
fn find_after(lines: &[String], marker: &str) -> Option<String> {
    lines
        .iter()
        .find_map(|l| l.split_once(marker))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(str::to_string)
}
