//! One report from the parts of a scan kept part by part (the service's long scans, see
//! `crate::service`): hosts and findings side by side, figures added up.
//!
//! `started_at`/`finished_at` span the whole scan, pauses between windows included; `duration_s`
//! is the time actually spent scanning (the parts' durations added up), so `achieved_pps` stays the
//! rate the network saw.

use chrono::{DateTime, Utc};

use super::{Report, Stats};

/// What the whole scan was, beside its parts.
#[derive(Debug, Clone)]
pub struct Whole {
    /// The scan's id (every part carries it too).
    pub scan_id: String,
    /// When the first part started.
    pub started_at: DateTime<Utc>,
    /// When the last part ended.
    pub finished_at: DateTime<Utc>,
}

/// Joins `parts` (in scope order) into one report; `None` without parts.
pub fn merge(parts: Vec<Report>, whole: Whole) -> Option<Report> {
    let mut parts = parts.into_iter();
    let mut report = parts.next()?;
    for part in parts {
        report.complete &= part.complete;
        if report.interrupted.is_none() {
            report.interrupted = part.interrupted;
        }
        report.hosts.extend(part.hosts);
        report.findings.extend(part.findings);
        report.stats = add(&report.stats, &part.stats);
    }
    // Most severe first, then by host and port, as in a report made in one go.
    report.findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.host.cmp(&b.host)).then(a.port.cmp(&b.port)));
    report.scan_id = whole.scan_id;
    report.started_at = whole.started_at;
    report.finished_at = whole.finished_at;
    report.stats.achieved_pps =
        (report.stats.probes_sent as f64 / report.stats.duration_s.max(0.001) * 10.0).round() / 10.0;
    Some(report)
}

fn add(a: &Stats, b: &Stats) -> Stats {
    Stats {
        targets: a.targets + b.targets,
        hosts_up: a.hosts_up + b.hosts_up,
        open_tcp: a.open_tcp + b.open_tcp,
        open_udp: a.open_udp + b.open_udp,
        probes_sent: a.probes_sent + b.probes_sent,
        retransmissions: a.retransmissions + b.retransmissions,
        duration_s: a.duration_s + b.duration_s,
        achieved_pps: 0.0,
        hosts_backed_off: a.hosts_backed_off + b.hosts_backed_off,
        unmatched_replies: a.unmatched_replies + b.unmatched_replies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn parts_join_into_one_report_with_figures_added_up() {
        let a = fixtures::report();
        let mut b = fixtures::report();
        b.hosts.truncate(1);
        b.stats.duration_s = 10.0;
        b.stats.probes_sent = 500;
        let whole = Whole { scan_id: "whole".into(), started_at: a.started_at, finished_at: b.finished_at };
        let merged = merge(vec![a.clone(), b.clone()], whole).expect("merged");
        assert_eq!(merged.scan_id, "whole");
        assert_eq!(merged.hosts.len(), a.hosts.len() + 1);
        assert_eq!(merged.findings.len(), a.findings.len() + b.findings.len());
        assert_eq!(merged.stats.targets, a.stats.targets + b.stats.targets);
        assert_eq!(merged.stats.probes_sent, a.stats.probes_sent + 500);
        let pps = merged.stats.probes_sent as f64 / (a.stats.duration_s + 10.0);
        assert!((merged.stats.achieved_pps - pps).abs() < 0.1, "{} vs {pps}", merged.stats.achieved_pps);
        let severities: Vec<_> = merged.findings.iter().map(|f| f.severity).collect();
        assert!(severities.windows(2).all(|w| w[0] >= w[1]), "most severe first");
        assert!(merge(
            Vec::new(),
            Whole { scan_id: String::new(), started_at: a.started_at, finished_at: a.finished_at }
        )
        .is_none());
    }
}
