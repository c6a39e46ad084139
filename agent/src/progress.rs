//! Progress of a running scan: counters the engines bump, and a reporter that shows them.
//!
//! Engines only touch atomics in [`Progress`]; how it is shown is decided here: a bar on stderr when
//! stderr is a terminal, otherwise one plain line every 10 seconds (journald, CI logs), or one JSON
//! object per line with `--progress json` (schema `wijkagent.progress/1`, documented in
//! docs/report-schema.md).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::i18n::Lang;

/// Live counters of one scan.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    phase: Mutex<&'static str>,
    /// Probes (packets or connection attempts) sent so far.
    pub probes_sent: AtomicU64,
    /// Probes planned in the current phase (first transmissions).
    pub planned: AtomicU64,
    /// First transmissions done in the current phase.
    pub done: AtomicU64,
    /// Hosts found alive.
    pub hosts_up: AtomicU64,
    /// Open ports found.
    pub open_ports: AtomicU64,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            started: Instant::now(),
            phase: Mutex::new("start"),
            probes_sent: AtomicU64::new(0),
            planned: AtomicU64::new(0),
            done: AtomicU64::new(0),
            hosts_up: AtomicU64::new(0),
            open_ports: AtomicU64::new(0),
        }
    }
}

/// A point-in-time copy of [`Progress`], also the JSON progress line.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Always `wijkagent.progress/1`.
    pub schema: &'static str,
    /// `discovery`, `tcp`, `udp`, ...
    pub phase: &'static str,
    /// Seconds since the scan started.
    pub elapsed_s: f64,
    /// Probes sent so far (all phases).
    pub probes_sent: u64,
    /// First transmissions done in this phase.
    pub done: u64,
    /// First transmissions planned in this phase.
    pub planned: u64,
    /// Hosts found alive.
    pub hosts_up: u64,
    /// Open ports found.
    pub open_ports: u64,
}

impl Progress {
    /// Starts a phase with `planned` first transmissions.
    pub fn phase(&self, name: &'static str, planned: u64) {
        if let Ok(mut p) = self.phase.lock() {
            *p = name;
        }
        self.planned.store(planned, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }

    /// Counts one probe sent; `first` when it is not a retransmission.
    pub fn sent(&self, first: bool) {
        self.probes_sent.fetch_add(1, Ordering::Relaxed);
        if first {
            self.done.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Seconds since start.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            schema: "wijkagent.progress/1",
            phase: self.phase.lock().map(|p| *p).unwrap_or("?"),
            elapsed_s: self.started.elapsed().as_secs_f64(),
            probes_sent: self.probes_sent.load(Ordering::Relaxed),
            done: self.done.load(Ordering::Relaxed),
            planned: self.planned.load(Ordering::Relaxed),
            hosts_up: self.hosts_up.load(Ordering::Relaxed),
            open_ports: self.open_ports.load(Ordering::Relaxed),
        }
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressStyle {
    /// A bar at a terminal, a line every 10 s otherwise.
    Auto,
    /// One JSON object per line on stderr every 10 s (and at the end).
    Json,
    /// Nothing.
    None,
}

fn phase_name(phase: &str, lang: Lang) -> &'static str {
    match (phase, lang) {
        ("discovery", Lang::Nl) => "hosts zoeken",
        ("discovery", Lang::En) => "host discovery",
        ("tcp", Lang::Nl) => "TCP-poorten",
        ("tcp", Lang::En) => "TCP ports",
        ("udp", Lang::Nl) => "UDP-poorten",
        ("udp", Lang::En) => "UDP ports",
        ("services", Lang::Nl) => "diensten herkennen",
        ("services", Lang::En) => "identifying services",
        (_, Lang::Nl) => "bezig",
        (_, Lang::En) => "working",
    }
}

fn line(s: &Snapshot, lang: Lang) -> String {
    let pct = if s.planned > 0 { 100.0 * s.done as f64 / s.planned as f64 } else { 0.0 };
    let (packets, up, open) = match lang {
        Lang::Nl => ("pakketten", "hosts actief", "open poorten"),
        Lang::En => ("packets", "hosts up", "open ports"),
    };
    format!(
        "[{:>6.1}s] {}: {}/{} ({pct:.0}%), {} {packets}, {} {up}, {} {open}",
        s.elapsed_s,
        phase_name(s.phase, lang),
        s.done,
        s.planned,
        s.probes_sent,
        s.hosts_up,
        s.open_ports
    )
}

/// Shows progress until `stop` is cancelled.
pub async fn report(progress: Arc<Progress>, style: ProgressStyle, lang: Lang, stop: CancellationToken) {
    match style {
        ProgressStyle::None => stop.cancelled().await,
        ProgressStyle::Json => {
            every(progress, Duration::from_secs(10), stop, |s| serde_json::to_string(&s).unwrap_or_default()).await
        }
        ProgressStyle::Auto if std::io::stderr().is_terminal() => bar(progress, lang, stop).await,
        ProgressStyle::Auto => every(progress, Duration::from_secs(10), stop, move |s| line(&s, lang)).await,
    }
}

async fn every(
    progress: Arc<Progress>,
    period: Duration,
    stop: CancellationToken,
    render: impl Fn(Snapshot) -> String,
) {
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => eprintln!("{}", render(progress.snapshot())),
        }
    }
}

async fn bar(progress: Arc<Progress>, lang: Lang, stop: CancellationToken) {
    let pb = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
    pb.set_style(style);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {
                let s = progress.snapshot();
                pb.set_prefix(phase_name(s.phase, lang));
                pb.set_length(s.planned);
                pb.set_position(s.done);
                pb.set_message(match lang {
                    Lang::Nl => format!("{} hosts, {} open, {} pkt", s.hosts_up, s.open_ports, s.probes_sent),
                    Lang::En => format!("{} hosts, {} open, {} pkts", s.hosts_up, s.open_ports, s.probes_sent),
                });
            }
        }
    }
    pb.finish_and_clear();
}
