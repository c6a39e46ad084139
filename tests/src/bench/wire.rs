//! Counting packets on the wire: tcpdump on the bridge side of the scanner's link, timestamps
//! bucketed per second. This counts what actually left the scanner's namespace, not what the agent
//! believes it sent.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

/// A running capture.
#[derive(Debug)]
pub struct Capture {
    child: Child,
    file: tempfile::NamedTempFile,
}

/// Rate figures of a capture.
#[derive(Debug, Clone)]
pub struct RateFigures {
    /// Packets counted.
    pub packets: u64,
    /// Seconds from the first to the last packet.
    pub span_s: f64,
    /// Average packets per second over the span.
    pub average_pps: f64,
    /// Largest count in any one-second bucket (aligned to the first packet).
    pub max_bucket: u64,
}

impl Capture {
    /// Starts `tcpdump` in namespace `netns` on `iface` for packets arriving from the scanner,
    /// matching `filter`. Waits until tcpdump says it is listening.
    pub fn start(netns: &str, iface: &str, filter: &str) -> Result<Capture> {
        let file = tempfile::NamedTempFile::new()?;
        let err = tempfile::NamedTempFile::new()?;
        let child = Command::new("ip")
            .args(["netns", "exec", netns, "tcpdump", "-n", "-tt", "-l", "-Q", "in", "-i", iface, filter])
            .stdout(file.reopen()?)
            .stderr(err.reopen()?)
            .stdin(Stdio::null())
            .spawn()
            .context("start tcpdump")?;
        for _ in 0..100 {
            if std::fs::read_to_string(err.path()).unwrap_or_default().contains("listening on") {
                return Ok(Capture { child, file });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::bail!("tcpdump did not start: {}", std::fs::read_to_string(err.path()).unwrap_or_default())
    }

    /// Stops the capture (SIGINT, so it flushes) and computes the figures.
    pub fn stop(mut self) -> Result<RateFigures> {
        std::thread::sleep(Duration::from_millis(500));
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let text = std::fs::read_to_string(self.file.path())?;
        let stamps: Vec<f64> = text.lines().filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect();
        Ok(figures(&stamps))
    }
}

/// Figures from packet timestamps (seconds).
pub fn figures(stamps: &[f64]) -> RateFigures {
    let (Some(first), Some(last)) = (stamps.first(), stamps.last()) else {
        return RateFigures { packets: 0, span_s: 0.0, average_pps: 0.0, max_bucket: 0 };
    };
    let span = last - first;
    let mut buckets = std::collections::BTreeMap::<u64, u64>::new();
    for t in stamps {
        *buckets.entry(((t - first).max(0.0)) as u64).or_default() += 1;
    }
    RateFigures {
        packets: stamps.len() as u64,
        span_s: span,
        average_pps: if span > 0.0 { (stamps.len() - 1) as f64 / span } else { 0.0 },
        max_bucket: buckets.values().copied().max().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evenly_spaced_packets_give_their_rate_and_bucket() {
        let stamps: Vec<f64> = (0..1001).map(|i| 100.0 + i as f64 * 0.002).collect();
        let f = figures(&stamps);
        assert_eq!(f.packets, 1001);
        assert!((f.average_pps - 500.0).abs() < 0.01, "{}", f.average_pps);
        assert!((500..=501).contains(&f.max_bucket), "{}", f.max_bucket);
    }
}
