//! The end of a scan in the service, and delivery:
//!
//! - [`finish`]: one report from the kept parts, with wijkpost's latest advice, written to
//!   `REPORTS/<scan_id>/` (report.json, report.html, findings.csv); `REPORTS/latest` points at it;
//!   only the newest `keep_reports` scans stay; the summary goes into the outbox when enrolled;
//! - [`push`]: delivers the outbox to wijkpost, logging each receipt.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use wijk_protocol::ReceiptStatus;

use super::checkpoint::Meta;
use super::config::Config;
use super::record::{LastPush, LastScan};
use crate::audit::{AuditEvent, AuditLog};
use crate::fsutil;
use crate::report::merge::{self, Whole};
use crate::report::{self, Report};
use crate::uplink::push::{self, PushEvent};
use crate::uplink::state::{self, State};
use crate::uplink::UplinkError;

/// Name of the link to the newest report directory.
pub const LATEST: &str = "latest";

/// Writes the finished scan's report and queues its summary; returns what `status` shows of it.
pub fn finish(config: &Config, meta: &Meta, parts: Vec<Report>) -> Result<LastScan, String> {
    let lang = config.lang;
    let whole = Whole { scan_id: meta.scan_id.clone(), started_at: meta.started_at, finished_at: Utc::now() };
    let mut report = merge::merge(parts, whole).ok_or_else(|| "no finished parts".to_string())?;
    report.comparison = match state::stored_advice(&config.state) {
        Ok(advice) => advice,
        Err(why) => {
            tracing::warn!(event = "advice-unreadable", "{why}");
            None
        }
    };
    let dir = config.reports.join(&meta.scan_id);
    fsutil::create_dir(&dir, 0o750).map_err(|e| format!("{}: {e}", dir.display()))?;
    // On failure the files of earlier scans are untouched and no half-written file is left; the
    // parts stay in the checkpoint, so the report is written when the service tries again.
    let written = report::write_all(&report, &dir, lang).map_err(|e| {
        if fsutil::is_disk_full(&e.source) {
            format!("{}: {} ({})", e.path.display(), fsutil::disk_full_advice(lang), e.source)
        } else {
            e.to_string()
        }
    })?;
    let json = written.first().cloned().unwrap_or_else(|| dir.join(report::REPORT_JSON));
    let audited = AuditLog::open(&config.audit_log)
        .and_then(|mut log| log.append(crate::scan::finished_event(&report, meta.scan_id.clone(), &json)));
    if let Err(e) = audited {
        tracing::error!(event = "audit-failed", "{e}");
    }
    if let Err(e) = point_latest(&config.reports, &meta.scan_id) {
        tracing::warn!(event = "latest-link-failed", "{}: {e}", config.reports.join(LATEST).display());
    }
    for gone in prune(&config.reports, config.keep_reports) {
        tracing::info!(event = "report-removed", dir = %gone, "{}", lang.pick("oud rapport verwijderd", "old report removed"));
    }
    tracing::info!(
        event = "scan-finished",
        scan_id = %meta.scan_id,
        hosts_up = report.stats.hosts_up,
        open_tcp = report.stats.open_tcp,
        open_udp = report.stats.open_udp,
        findings = report.findings.len(),
        report = %dir.join(report::REPORT_HTML).display(),
        "{}",
        lang.pick("scan klaar", "scan finished")
    );
    if config.push {
        queue_summary(config, &report);
    }
    Ok(LastScan {
        scan_id: meta.scan_id.clone(),
        finished_at: report.finished_at,
        complete: report.complete,
        hosts_up: report.stats.hosts_up,
        findings: report.findings.len(),
        report_dir: dir,
    })
}

fn queue_summary(config: &Config, report: &Report) {
    let lang = config.lang;
    match State::load(&config.state) {
        Ok(state) => match push::enqueue(&state, report) {
            Ok(seq) => tracing::info!(
                event = "summary-queued",
                seq,
                "{}",
                lang.pick("samenvatting in de outbox", "summary in the outbox")
            ),
            Err(e) => tracing::error!(event = "summary-not-queued", "{}", e.message(lang)),
        },
        Err(UplinkError::NotEnrolled { .. }) => tracing::info!(
            event = "not-enrolled",
            "{}",
            lang.pick(
                "niet ingeschreven bij wijkpost: er gaat geen samenvatting weg (zie `wijkagent enroll`)",
                "not enrolled at wijkpost: no summary is sent (see `wijkagent enroll`)"
            )
        ),
        Err(e) => tracing::error!(event = "summary-not-queued", "{}", e.message(lang)),
    }
}

/// Points `REPORTS/latest` at `scan_id` (a relative symbolic link, replaced atomically).
fn point_latest(reports: &Path, scan_id: &str) -> std::io::Result<()> {
    let tmp = reports.join(".latest.tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(scan_id, &tmp)?;
    std::fs::rename(&tmp, reports.join(LATEST))
}

/// Removes all but the newest `keep` report directories (scan ids sort by time); returns what went.
pub fn prune(reports: &Path, keep: usize) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(reports) else { return Vec::new() };
    let mut scans: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| looks_like_scan_id(n))
        .collect();
    scans.sort();
    let excess = scans.len().saturating_sub(keep);
    scans.into_iter().take(excess).filter(|name| std::fs::remove_dir_all(reports.join(name)).is_ok()).collect()
}

/// `20261130T101500Z-1a2b3c4d`: only directories the service made are ever removed.
fn looks_like_scan_id(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 25 && b[8] == b'T' && b[15] == b'Z' && b[16] == b'-' && b[..8].iter().all(u8::is_ascii_digit)
}

/// Delivers the outbox; `None` when there was nothing to do (not enrolled, empty outbox).
pub async fn push(config: &Config) -> Option<LastPush> {
    let lang = config.lang;
    let failed = |error: String| LastPush { at: Utc::now(), stored: 0, rejected: 0, left: 0, error: Some(error) };
    let state = match State::load(&config.state) {
        Ok(s) => s,
        Err(UplinkError::NotEnrolled { .. }) => return None,
        Err(e) => {
            tracing::error!(event = "push-failed", "{}", e.message(lang));
            return Some(failed(e.message(lang)));
        }
    };
    match state.outbox().and_then(|o| Ok(o.seqs()?.len())) {
        Ok(0) => return None,
        Ok(_) => {}
        Err(e) => {
            tracing::error!(event = "push-failed", "{}", e.message(lang));
            return Some(failed(e.message(lang)));
        }
    }
    let agent = state.identity.agent_id.clone();
    let audit_path = config.audit_log.clone();
    let delivered = push::deliver(&state, Duration::from_secs(config.push_timeout), |event| {
        match event {
            PushEvent::Receipt { seq, status, reason } => {
                tracing::info!(event = "receipt", seq, status = ?status, reason = reason.as_deref().unwrap_or(""), "{}", lang.pick("ontvangstbewijs van wijkpost", "receipt from wijkpost"));
                if matches!(status, ReceiptStatus::Stored | ReceiptStatus::Duplicate) {
                    let logged = AuditLog::open(&audit_path).and_then(|mut log| log.append(AuditEvent::SummarySent { seq: *seq, agent: agent.clone() }));
                    if let Err(e) = logged {
                        tracing::error!(event = "audit-failed", "{e}");
                    }
                }
            }
            PushEvent::Connected { waiting } => tracing::info!(event = "push-connected", waiting, "{}", lang.pick("verbonden met wijkpost", "connected to wijkpost")),
            PushEvent::ConnectionLost { why, retry_in } => tracing::warn!(event = "push-connection-lost", retry_in_s = retry_in.as_secs(), "{why}"),
            PushEvent::Advice => tracing::info!(event = "advice-stored", "{}", lang.pick("nieuw advies van wijkpost bewaard", "new advice from wijkpost stored")),
        }
    })
    .await;
    Some(match delivered {
        Ok(o) => {
            tracing::info!(
                event = "push-done",
                stored = o.stored,
                duplicates = o.duplicates,
                rejected = o.rejected,
                left = o.left,
                "{}",
                lang.pick("outbox verstuurd", "outbox delivered")
            );
            LastPush {
                at: Utc::now(),
                stored: o.stored + o.duplicates,
                rejected: o.rejected,
                left: o.left,
                error: None,
            }
        }
        Err(e) => {
            tracing::warn!(event = "push-failed", "{}", e.message(lang));
            let left = state.outbox().and_then(|o| Ok(o.seqs()?.len())).unwrap_or(0);
            LastPush { left, ..failed(e.message(lang)) }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_scan_directories_are_kept_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names = ["20261101T193000Z-00000001", "20261108T193000Z-00000002", "20261115T193000Z-00000003"];
        for n in names {
            std::fs::create_dir(dir.path().join(n)).expect("mkdir");
        }
        std::fs::create_dir(dir.path().join("mine")).expect("mkdir");
        point_latest(dir.path(), names[2]).expect("link");
        let gone = prune(dir.path(), 2);
        assert_eq!(gone, [names[0]]);
        assert!(dir.path().join("mine").is_dir() && dir.path().join(names[1]).is_dir());
        assert_eq!(std::fs::read_link(dir.path().join(LATEST)).expect("link"), Path::new(names[2]));
        assert!(prune(dir.path(), 5).is_empty());
    }
}
