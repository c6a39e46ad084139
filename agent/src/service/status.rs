//! `wijkagent status`: what the service is doing, read from its files and checked live — the
//! consent (signature, validity, next window), the service's own record (running or not, the scan
//! in progress, the last scan and push), the outbox, and whether wijkpost's broker answers.
//!
//! For people: aligned lines in Dutch or English. For machines (`--json`): one object, schema
//! `wijkagent.status/1` (docs/agent-service.md).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::checkpoint::Checkpoint;
use super::config::Config;
use super::record::{Current, LastPush, LastScan, Live, Memory, Phase, STATUS_SCHEMA};
use crate::consent::{self, window};
use crate::i18n::Lang;
use crate::uplink::push;
use crate::uplink::state::State;
use crate::uplink::UplinkError;

/// A `status.json` older than this while its process is gone means the service is not running.
const STALE: chrono::Duration = chrono::Duration::minutes(10);

/// The whole status.
#[derive(Debug, Serialize)]
pub struct Status {
    /// `wijkagent.status/1`.
    pub schema: &'static str,
    /// The configuration file read.
    pub config: String,
    /// The agent's id at wijkpost, when enrolled.
    pub agent_id: Option<String>,
    /// What is wrong with the enrollment in the state directory, other than there being none.
    pub enrollment_error: Option<String>,
    /// The consent as checked now.
    pub consent: ConsentStatus,
    /// The service as it last wrote down.
    pub service: ServiceStatus,
    /// The scan in progress (or paused), from its progress on disk.
    pub current: Option<Current>,
    /// The last finished scan.
    pub last_scan: Option<LastScan>,
    /// The last push.
    pub last_push: Option<LastPush>,
    /// Summaries waiting in the outbox, and those wijkpost refused.
    pub outbox: Option<OutboxStatus>,
    /// Whether wijkpost's broker accepted a connection now.
    pub collector: Option<CollectorStatus>,
}

/// The consent, checked now.
#[derive(Debug, Serialize)]
pub struct ConsentStatus {
    /// Signature good and within its validity.
    pub valid: bool,
    /// Why not (Dutch / English), or the organisation when valid.
    pub detail: String,
    /// Until when it is valid.
    pub valid_until: Option<DateTime<Utc>>,
    /// A window is open now.
    pub window_open: bool,
    /// When the open window closes, or the next one opens.
    pub next_window: Option<DateTime<Utc>>,
}

/// The service's own record.
#[derive(Debug, Serialize)]
pub struct ServiceStatus {
    /// Its process is alive and wrote recently.
    pub running: bool,
    /// Its process id.
    pub pid: Option<u32>,
    /// What it does (or last did).
    pub phase: Option<Phase>,
    /// Why it waits.
    pub note: Option<String>,
    /// When it last wrote.
    pub updated_at: Option<DateTime<Utc>>,
    /// When the next scan is due.
    pub next_due: Option<DateTime<Utc>>,
}

/// The outbox.
#[derive(Debug, Serialize)]
pub struct OutboxStatus {
    /// Waiting for a receipt.
    pub waiting: usize,
    /// Refused by wijkpost, kept aside.
    pub rejected: usize,
}

/// wijkpost's broker.
#[derive(Debug, Serialize)]
pub struct CollectorStatus {
    /// `mqtts://HOST:PORT`.
    pub broker: String,
    /// It accepted this agent's certificate.
    pub reachable: bool,
    /// Connection time in milliseconds.
    pub millis: Option<u64>,
    /// Why not.
    pub error: Option<String>,
}

/// Gathers the status; `check_collector` connects to wijkpost's broker (up to `timeout`).
pub async fn gather(config: &Config, lang: Lang, check_collector: bool, timeout: Duration) -> Status {
    let now = Utc::now();
    let consent = match consent::load(&config.scope, &config.trust) {
        Ok(c) => {
            let valid = c.check_time(now).map_or_else(
                |e| !matches!(e, consent::ConsentError::Expired { .. } | consent::ConsentError::NotYetValid { .. }),
                |_| true,
            );
            let schedule = &c.terms.schedule;
            let window_open = schedule.is_open(now);
            ConsentStatus {
                valid,
                detail: if valid {
                    c.terms.organisation.clone()
                } else {
                    c.check_time(now).err().map(|e| e.to_string()).unwrap_or_default()
                },
                valid_until: Some(c.terms.valid_until.with_timezone(&Utc)),
                window_open,
                next_window: if window_open { schedule.current_end(now) } else { schedule.next_open(now) },
            }
        }
        Err(e) => ConsentStatus {
            valid: false,
            detail: e.to_string(),
            valid_until: None,
            window_open: false,
            next_window: None,
        },
    };
    let live = Live::load(&config.state).ok().flatten();
    let memory = Memory::load(&config.state).unwrap_or_default();
    let running =
        live.as_ref().is_some_and(|l| process_alive(l.pid) && l.phase != Phase::Stopping && now - l.updated_at < STALE);
    let service = ServiceStatus {
        running,
        pid: live.as_ref().map(|l| l.pid),
        phase: live.as_ref().map(|l| l.phase),
        note: live.as_ref().and_then(|l| l.note.clone()),
        updated_at: live.as_ref().map(|l| l.updated_at),
        next_due: live.as_ref().and_then(|l| l.next_due),
    };
    let enrolled = State::load(&config.state);
    let outbox = match &enrolled {
        Ok(state) => state.outbox().ok().map(|o| OutboxStatus {
            waiting: o.seqs().map(|s| s.len()).unwrap_or(0),
            rejected: o.rejected_count().unwrap_or(0),
        }),
        Err(_) => None,
    };
    let collector = match (&enrolled, check_collector) {
        (Ok(state), true) => Some(match push::reach(state, timeout).await {
            Ok(took) => CollectorStatus {
                broker: state.identity.broker.clone(),
                reachable: true,
                millis: Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX)),
                error: None,
            },
            Err(e) => CollectorStatus {
                broker: state.identity.broker.clone(),
                reachable: false,
                millis: None,
                error: Some(e.message(lang)),
            },
        }),
        _ => None,
    };
    Status {
        schema: STATUS_SCHEMA,
        config: config.path.display().to_string(),
        agent_id: enrolled.as_ref().ok().map(|s| s.identity.agent_id.clone()),
        enrollment_error: match &enrolled {
            Err(UplinkError::NotEnrolled { .. }) | Ok(_) => None,
            Err(e) => Some(e.message(lang)),
        },
        consent,
        service,
        current: match Checkpoint::open(&config.state) {
            Ok(Some(cp)) => Some(Current {
                parts_done: cp.parts_done(),
                scan_id: cp.meta.scan_id,
                started_at: cp.meta.started_at,
                parts: cp.meta.parts,
            }),
            _ => None,
        },
        last_scan: memory.last_scan,
        last_push: memory.last_push,
        outbox,
        collector,
    }
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The status as lines for people.
pub fn render(s: &Status, lang: Lang) -> String {
    let l = |nl: &'static str, en: &'static str| lang.pick(nl, en);
    let when = |t: &DateTime<Utc>| match lang {
        Lang::Nl => window::brussels_nl(t),
        Lang::En => window::brussels_en(t),
    };
    let mut out = Vec::new();
    let mut line = |label: &str, text: String| out.push(format!("{label:<16} {text}"));
    line(
        l("Agent:", "Agent:"),
        match (&s.agent_id, &s.enrollment_error) {
            (Some(id), _) => id.clone(),
            (None, Some(e)) => e.clone(),
            (None, None) => l("niet ingeschreven (wijkagent enroll)", "not enrolled (wijkagent enroll)").into(),
        },
    );
    let c = &s.consent;
    let mut consent = if c.valid {
        format!("{} ({})", l("geldig", "valid"), c.detail)
    } else {
        format!("{}: {}", l("NIET BRUIKBAAR", "NOT USABLE"), c.detail)
    };
    if let Some(until) = &c.valid_until {
        consent.push_str(&format!(", {} {}", l("tot", "until"), when(until)));
    }
    line(l("Toestemming:", "Consent:"), consent);
    line(
        l("Venster:", "Window:"),
        match (c.window_open, &c.next_window) {
            (true, Some(end)) => format!("{} {}", l("nu open, sluit", "open now, closes"), when(end)),
            (false, Some(next)) => format!("{} {}", l("dicht, volgende", "closed, next"), when(next)),
            _ => l("geen", "none").into(),
        },
    );
    let svc = &s.service;
    let phase = svc.phase.map(|p| phase_text(p, lang)).unwrap_or_default();
    line(
        l("Dienst:", "Service:"),
        match (svc.running, svc.pid) {
            (true, Some(pid)) => format!(
                "{} (pid {pid}): {phase}{}",
                l("actief", "running"),
                svc.note.as_ref().map(|n| format!(" — {n}")).unwrap_or_default()
            ),
            _ => l("niet actief (systemctl start wijkagent)", "not running (systemctl start wijkagent)").into(),
        },
    );
    if let Some(due) = &svc.next_due {
        line(l("Volgende scan:", "Next scan:"), when(due));
    }
    if let Some(cur) = &s.current {
        line(
            l("Scan bezig:", "Scan running:"),
            format!(
                "{} — {} {} {} {}",
                cur.scan_id,
                cur.parts_done,
                l("van", "of"),
                cur.parts,
                l("delen klaar", "parts done")
            ),
        );
    }
    line(
        l("Laatste scan:", "Last scan:"),
        match &s.last_scan {
            Some(last) => format!(
                "{} {}, {}, {} hosts, {} {} — {}",
                last.scan_id,
                when(&last.finished_at),
                if last.complete { l("volledig", "complete") } else { l("ONVOLLEDIG", "INCOMPLETE") },
                last.hosts_up,
                last.findings,
                l("bevindingen", "findings"),
                last.report_dir.join(crate::report::REPORT_HTML).display()
            ),
            None => l("nog geen", "none yet").into(),
        },
    );
    if let Some(o) = &s.outbox {
        line(
            "Outbox:",
            format!("{} {}, {} {}", o.waiting, l("wachtend", "waiting"), o.rejected, l("geweigerd", "rejected")),
        );
    }
    if let Some(p) = &s.last_push {
        let result = match &p.error {
            Some(e) => format!("{}: {e}", l("mislukt", "failed")),
            None => format!("{} {}, {} {}", p.stored, l("aanvaard", "accepted"), p.left, l("over", "left")),
        };
        line(l("Laatste push:", "Last push:"), format!("{} — {result}", when(&p.at)));
    }
    if let Some(col) = &s.collector {
        line(
            "wijkpost:",
            match (col.reachable, col.millis, &col.error) {
                (true, Some(ms), _) => format!("{} ({}, {ms} ms)", l("bereikbaar", "reachable"), col.broker),
                (_, _, Some(e)) => format!("{}: {e}", l("ONBEREIKBAAR", "UNREACHABLE")),
                _ => l("onbekend", "unknown").into(),
            },
        );
    }
    out.join("\n")
}

fn phase_text(p: Phase, lang: Lang) -> &'static str {
    match p {
        Phase::Starting => lang.pick("start", "starting"),
        Phase::WaitingForConsent => lang.pick("wacht op een bruikbare toestemming", "waiting for a usable consent"),
        Phase::Idle => lang.pick("wacht op de volgende geplande scan", "waiting for the next scheduled scan"),
        Phase::WaitingForWindow => {
            lang.pick("scan klaar om te starten, wacht op het venster", "scan due, waiting for the window")
        }
        Phase::Scanning => lang.pick("scant", "scanning"),
        Phase::Pushing => lang.pick("verstuurt de outbox", "delivering the outbox"),
        Phase::Stopping => lang.pick("stopt", "stopping"),
    }
}
