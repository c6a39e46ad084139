//! The service's loop: decide what is next (wait for a consent, for the schedule, for a window; scan;
//! deliver the outbox), do it, write down what happened, again — until SIGTERM.
//!
//! A scan runs part by part ([`crate::consent::scope::Scope::parts`]); each finished part is kept in
//! the [`Checkpoint`] at once. The end of the consent's window, SIGTERM, or a reload that brings
//! another consent stop the part being scanned (its half-done results are dropped) and leave the
//! finished ones on disk: the next window (or the next start) carries on from there. A reload that
//! brings a broken file is refused and changes nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::checkpoint::{self, Checkpoint, Meta};
use super::config::{self, Config};
use super::finish;
use super::record::{Current, Live, Memory, Phase, STATUS_SCHEMA};
use crate::audit::{AuditEvent, AuditLog};
use crate::consent::{self, Consent};
use crate::i18n::Lang;
use crate::progress::ProgressStyle;
use crate::report::Report;
use crate::scan::{self, plan, Plan, RunOptions, StopReason, Wishes};

/// The longest nap: the loop looks again at least this often (clock changes, a consent that
/// appears on disk).
const NAP: Duration = Duration::from_secs(300);
/// Addresses per part unless `[scan] part_size` says otherwise: a /24.
pub const DEFAULT_PART_SIZE: u32 = 256;
/// First pause before delivering the outbox again after a failed push; doubles up to [`PUSH_MAX`].
const PUSH_FIRST: chrono::Duration = chrono::Duration::minutes(5);
const PUSH_MAX: chrono::Duration = chrono::Duration::hours(6);

/// How the outside world reaches the loop: SIGTERM cancels `stop`, SIGHUP notifies `reload`.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// Stop (SIGTERM, Ctrl-C).
    pub stop: CancellationToken,
    /// Reload the configuration and consent (SIGHUP).
    pub reload: Arc<Notify>,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
enum Next {
    /// Scan now, serving the scheduled time `due`.
    Scan { due: DateTime<Utc> },
    /// Wait until `until` (or a signal).
    Wait { until: DateTime<Utc>, phase: Phase, note: Option<String> },
}

/// The running service.
#[derive(Debug)]
pub struct Runner {
    config: Config,
    consent: Result<Consent, String>,
    memory: Memory,
    signals: Signals,
    scan_now: bool,
    /// When to deliver the outbox next, and the pause after a failure.
    push_at: Option<(DateTime<Utc>, chrono::Duration)>,
    /// After a local failure (disk full, raw sockets), nothing is tried again before this.
    hold_until: Option<DateTime<Utc>>,
}

impl Runner {
    /// Prepares the service: reads the consent (a missing or broken one is logged and waited for)
    /// and the service's memory.
    pub fn new(config: Config, signals: Signals, scan_now: bool) -> Runner {
        let consent = load_consent(&config);
        if let Err(why) = &consent {
            tracing::warn!(event = "consent-unusable", "{why}");
        }
        let memory = Memory::load(&config.state).unwrap_or_else(|why| {
            tracing::warn!(
                event = "memory-damaged",
                "{why}; {}",
                config.lang.pick("begint met een leeg geheugen", "starting with an empty memory")
            );
            Memory::default()
        });
        Runner { config, consent, memory, signals, scan_now, push_at: Some((Utc::now(), PUSH_FIRST)), hold_until: None }
    }

    fn lang(&self) -> Lang {
        self.config.lang
    }

    /// Runs until SIGTERM.
    pub async fn run(mut self) {
        self.show(Phase::Starting, None, None);
        if self.memory.since.is_none() {
            self.memory.since = Some(Utc::now());
            self.remember();
        }
        tracing::info!(event = "started", config = %self.config.path.display(), state = %self.config.state.display(), schedule = self.config.cron.text(), "{}", self.lang().pick("wijkagent-dienst gestart", "wijkagent service started"));
        while !self.signals.stop.is_cancelled() {
            let now = Utc::now();
            if self.push_at.is_some_and(|(at, _)| at <= now) {
                self.push().await;
                continue;
            }
            match self.next(now) {
                Next::Scan { due } => self.scan(due).await,
                Next::Wait { until, phase, note } => {
                    let until = self.push_at.map_or(until, |(at, _)| at.min(until));
                    self.show(phase, note, None);
                    self.wait(until, phase).await;
                }
            }
        }
        self.show(Phase::Stopping, None, None);
        tracing::info!(
            event = "stopped",
            "{}",
            self.lang().pick("wijkagent-dienst gestopt", "wijkagent service stopped")
        );
    }

    /// Decides what comes next at `now`.
    fn next(&self, now: DateTime<Utc>) -> Next {
        let lang = self.lang();
        let wait = |until, phase, note: String| Next::Wait { until, phase, note: Some(note) };
        if let Some(t) = self.hold_until.filter(|t| *t > now) {
            return wait(t, Phase::Idle, lang.pick("wacht na een fout", "waiting after an error").into());
        }
        let consent = match &self.consent {
            Ok(c) => c,
            Err(why) => return wait(now + nap(), Phase::WaitingForConsent, why.clone()),
        };
        let terms = &consent.terms;
        if now >= terms.valid_until {
            let why = consent::ConsentError::Expired { since: terms.valid_until }.to_string();
            return wait(now + nap(), Phase::WaitingForConsent, why);
        }
        if now < terms.valid_from {
            let why = consent::ConsentError::NotYetValid { from: terms.valid_from }.to_string();
            return wait(terms.valid_from.with_timezone(&Utc), Phase::WaitingForConsent, why);
        }
        let in_progress =
            Checkpoint::open(&self.config.state).ok().flatten().filter(|cp| cp.meta.consent_sha256 == consent.sha256);
        let due = match in_progress {
            Some(cp) => cp.meta.due,
            None => match self.next_due(now) {
                Some(due) if due <= now => due,
                Some(due) => return Next::Wait { until: due, phase: Phase::Idle, note: None },
                None => {
                    let note = lang.pick("het schema valt nooit meer", "the schedule never comes round again");
                    return wait(now + nap(), Phase::Idle, note.into());
                }
            },
        };
        if terms.schedule.is_open(now) {
            return Next::Scan { due };
        }
        match terms.schedule.next_open(now).filter(|t| *t < terms.valid_until) {
            Some(open) => Next::Wait { until: open, phase: Phase::WaitingForWindow, note: None },
            None => wait(
                now + nap(),
                Phase::WaitingForConsent,
                consent::ConsentError::OutsideWindow { next: None }.to_string(),
            ),
        }
    }

    /// The scheduled time the next scan serves: the first cron time after the one served last (or
    /// after the first start). Missed times while the agent was off collapse into one scan.
    fn next_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.scan_now {
            return Some(now);
        }
        let after = self.memory.served_due.or(self.memory.since).unwrap_or(now);
        self.config.cron.next_after(after)
    }

    /// Naps until `until`, a signal, or [`NAP`]; a SIGHUP reloads. Without a consent, the consent
    /// files are read again after each nap (a first install places them after the start).
    async fn wait(&mut self, until: DateTime<Utc>, phase: Phase) {
        let nap = (until - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(NAP);
        tokio::select! {
            _ = tokio::time::sleep(nap) => {
                if phase == Phase::WaitingForConsent {
                    self.look_for_consent();
                }
            }
            _ = self.signals.stop.cancelled() => {}
            _ = self.signals.reload.notified() => {
                self.reload();
            }
        }
    }

    /// Reads the consent files again; a new valid consent (another one than in force) is taken.
    fn look_for_consent(&mut self) {
        let in_force = self.consent.as_ref().ok().map(|c| c.sha256.clone());
        if let Some(c) = load_consent(&self.config).ok().filter(|c| Some(&c.sha256) != in_force.as_ref()) {
            let (lang, sha) = (self.lang(), c.sha256.clone());
            tracing::info!(event = "consent-found", consent_sha256 = %sha, "{}", lang.pick("geldige toestemming gevonden", "valid consent found"));
            self.consent = Ok(c);
        }
    }

    /// SIGHUP: reads the configuration and the consent again. Both must be usable, or nothing
    /// changes (when no consent was in force, a new configuration is taken anyway) — except that a
    /// removed scope document withdraws the consent in force. Returns whether the consent in force
    /// changed.
    pub fn reload(&mut self) -> bool {
        let lang = self.lang();
        let kept = lang.pick(
            "de vorige configuratie en toestemming blijven gelden",
            "the previous configuration and consent stay in force",
        );
        let config = match config::load(&self.config.path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(event = "reload-refused", "{} ({kept})", e.message(lang));
                return false;
            }
        };
        if self.consent.is_ok() && !config.scope.exists() {
            // Removing the scope document is how a consent is withdrawn (docs/toestemming.md): unlike
            // a damaged file, that is meant, and nothing may be scanned under it any more.
            tracing::warn!(
                event = "consent-withdrawn",
                scope = %config.scope.display(),
                "{}",
                lang.pick(
                    "toestemming ingetrokken (document verwijderd): er wordt niets meer gescand",
                    "consent withdrawn (document removed): nothing is scanned any more"
                )
            );
            self.consent = load_consent(&config);
            self.config = config;
            return true;
        }
        match (load_consent(&config), self.consent.is_ok()) {
            (Err(why), true) => {
                tracing::error!(event = "reload-refused", "{why} ({kept})");
                false
            }
            (consent, _) => {
                let changed = match (&consent, &self.consent) {
                    (Ok(new), Ok(old)) => new.sha256 != old.sha256,
                    (Ok(_), Err(_)) => true,
                    _ => false,
                };
                if let Err(why) = &consent {
                    tracing::warn!(event = "consent-unusable", "{why}");
                }
                self.config = config;
                self.consent = consent;
                tracing::info!(
                    event = "reloaded",
                    consent_changed = changed,
                    "{}",
                    self.lang().pick("configuratie opnieuw ingelezen", "configuration reloaded")
                );
                changed
            }
        }
    }

    /// Runs (or carries on) the scan serving `due` while the window is open.
    async fn scan(&mut self, due: DateTime<Utc>) {
        let lang = self.lang();
        let Ok(consent) = self.consent.clone() else { return };
        let wishes = Wishes {
            profile: self.config.scan.profile,
            rate: self.config.scan.rate,
            per_host_rate: self.config.scan.per_host_rate,
            force_connect: self.config.scan.connect,
            ..Default::default()
        };
        self.scan_now = false;
        let plan = match plan::plan(&consent, &wishes, Utc::now()) {
            Ok(p) => p,
            Err(refusal) => {
                // Settings the consent does not allow: wait for the next scheduled time (or a fix).
                tracing::error!(event = "scan-refused", "{refusal}");
                self.audit(AuditEvent::ScanRefused {
                    reason: refusal.to_string(),
                    scope: Some(self.config.scope.display().to_string()),
                });
                self.memory.served_due = Some(due);
                self.remember();
                self.hold();
                return;
            }
        };
        let part_size = self.config.scan.part_size.unwrap_or(DEFAULT_PART_SIZE);
        let parts = consent.terms.scope.parts(u128::from(part_size));
        let Some(cp) = self.checkpoint(&plan, due, part_size, parts.len()) else { return };
        let scan_id = cp.meta.scan_id.clone();
        let (mut done, broken) = cp.parts();
        for why in broken {
            tracing::warn!(event = "part-unreadable", scan_id = %scan_id, "{why}; {}", lang.pick("dat deel wordt opnieuw gescand", "that part is scanned again"));
        }
        for (index, part) in parts.iter().enumerate() {
            if done.contains_key(&index) {
                continue;
            }
            let current = Current {
                scan_id: scan_id.clone(),
                started_at: cp.meta.started_at,
                parts_done: done.len(),
                parts: parts.len(),
            };
            let Some(window_end) = consent.terms.schedule.current_end(Utc::now()) else {
                self.pause(&scan_id, "window-closed", &current);
                return;
            };
            self.show(Phase::Scanning, None, Some(current.clone()));
            let mut part_plan = plan.clone();
            part_plan.consent.terms.scope = part.clone();
            match self.scan_part(&part_plan, &scan_id, window_end).await {
                Ok(report) if report.interrupted.is_none() => {
                    if let Err(e) = cp.save_part(index, &report) {
                        tracing::error!(event = "progress-not-saved", scan_id = %scan_id, "{}: {e}", checkpoint::dir(&self.config.state).display());
                        self.hold();
                        return;
                    }
                    tracing::info!(event = "part-done", scan_id = %scan_id, part = index + 1, parts = parts.len(), hosts_up = report.stats.hosts_up, findings = report.findings.len(), "{}", lang.pick("deel gescand", "part scanned"));
                    done.insert(index, report);
                }
                Ok(report) => {
                    let why = report.interrupted.unwrap_or_default();
                    self.pause(&scan_id, &why, &current);
                    return;
                }
                Err(e) => {
                    tracing::error!(event = "scan-failed", scan_id = %scan_id, "{e}");
                    self.audit(AuditEvent::ScanInterrupted { scan_id: scan_id.clone(), reason: e.to_string() });
                    self.hold();
                    return;
                }
            }
        }
        let parts: Vec<Report> = done.into_values().collect();
        match finish::finish(&self.config, &cp.meta, parts) {
            Ok(last) => {
                self.memory.last_scan = Some(last);
                self.remember();
                let _ = Checkpoint::discard_dir(&self.config.state);
                self.push_at = Some((Utc::now(), PUSH_FIRST));
            }
            Err(why) => {
                tracing::error!(event = "report-not-written", scan_id = %scan_id, "{why}");
                self.hold();
            }
        }
    }

    /// The checkpoint of the scan to run: the one in progress if it fits, else a new one.
    fn checkpoint(&mut self, plan: &Plan, due: DateTime<Utc>, part_size: u32, parts: usize) -> Option<Checkpoint> {
        let lang = self.lang();
        let state = self.config.state.clone();
        let key = format!("{}|{}|{}", plan.profile_name, part_size, plan.force_connect);
        match Checkpoint::open(&state) {
            Ok(Some(cp))
                if cp.meta.consent_sha256 == plan.consent.sha256
                    && cp.meta.plan_key == key
                    && cp.meta.parts == parts =>
            {
                let parts_done = cp.parts_done();
                tracing::info!(event = "scan-resumed", scan_id = %cp.meta.scan_id, parts_done, parts, "{}", lang.pick("scan gaat verder waar hij stopte", "scan carries on where it stopped"));
                self.audit(AuditEvent::ScanResumed { scan_id: cp.meta.scan_id.clone(), parts_done, parts });
                return Some(cp);
            }
            Ok(Some(cp)) => {
                tracing::warn!(event = "scan-abandoned", scan_id = %cp.meta.scan_id, "{}", lang.pick("toestemming of instellingen veranderd: de scan begint opnieuw", "consent or settings changed: the scan starts over"));
                self.audit(AuditEvent::ScanInterrupted {
                    scan_id: cp.meta.scan_id.clone(),
                    reason: "consent-or-settings-changed".into(),
                });
            }
            Ok(None) => {}
            Err(why) => tracing::warn!(
                event = "progress-unreadable",
                "{why}; {}",
                lang.pick("de scan begint opnieuw", "the scan starts over")
            ),
        }
        let started_at = Utc::now();
        let meta = Meta {
            schema: checkpoint::SCHEMA.into(),
            scan_id: format!("{}-{:08x}", started_at.format("%Y%m%dT%H%M%SZ"), rand::random::<u32>()),
            started_at,
            due,
            consent_sha256: plan.consent.sha256.clone(),
            plan_key: key,
            parts,
        };
        let cp = match Checkpoint::begin(&state, meta) {
            Ok(cp) => cp,
            Err(e) => {
                tracing::error!(event = "progress-not-saved", "{}: {e}", checkpoint::dir(&state).display());
                self.hold();
                return None;
            }
        };
        self.audit(scan::started_event(plan, &cp.meta.scan_id, "service", scan::use_raw(plan)));
        tracing::info!(event = "scan-started", scan_id = %cp.meta.scan_id, parts, due = %due, "{}", lang.pick("scan gestart", "scan started"));
        self.memory.served_due = Some(due);
        self.remember();
        Some(cp)
    }

    /// Scans one part until it is done or stopped (window end, SIGTERM, a reload with another
    /// consent).
    async fn scan_part(
        &mut self,
        plan: &Plan,
        scan_id: &str,
        window_end: DateTime<Utc>,
    ) -> Result<Report, scan::ScanError> {
        let stop = CancellationToken::new();
        let reason = StopReason::default();
        let watcher = {
            let (stop, reason, term) = (stop.clone(), reason.clone(), self.signals.stop.clone());
            let until_end = (window_end - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::spawn(async move {
                tokio::select! {
                    _ = term.cancelled() => reason.stop("sigterm", &stop),
                    _ = tokio::time::sleep(until_end) => reason.stop("window-closed", &stop),
                }
            })
        };
        let opts = RunOptions {
            out_dir: self.config.reports.clone(),
            progress: ProgressStyle::None,
            lang: self.lang(),
            mode: "service",
            comparison: None,
        };
        let examined = scan::examine(plan, scan_id.to_string(), Utc::now(), &opts, &stop, &reason);
        tokio::pin!(examined);
        let result = loop {
            tokio::select! {
                r = &mut examined => break r,
                _ = self.signals.reload.notified() => {
                    if self.reload() {
                        reason.stop("consent-changed", &stop);
                    }
                }
            }
        };
        watcher.abort();
        result
    }

    fn pause(&mut self, scan_id: &str, why: &str, current: &Current) {
        let lang = self.lang();
        tracing::info!(event = "scan-paused", scan_id = %scan_id, reason = why, parts_done = current.parts_done, parts = current.parts, "{}", lang.pick("scan gepauzeerd; de afgewerkte delen blijven bewaard", "scan paused; the finished parts are kept"));
        self.audit(AuditEvent::ScanPaused { scan_id: scan_id.to_string(), reason: why.to_string() });
    }

    /// Delivers the outbox (when enrolled and pushing is on); on failure tries again later.
    async fn push(&mut self) {
        let backoff = self.push_at.map_or(PUSH_FIRST, |(_, b)| b);
        self.push_at = None;
        if !self.config.push {
            return;
        }
        self.show(Phase::Pushing, None, None);
        let stop = self.signals.stop.clone();
        let pushed = tokio::select! {
            p = finish::push(&self.config) => p,
            _ = stop.cancelled() => return,
        };
        let Some(last) = pushed else { return };
        if last.left > 0 || last.error.is_some() {
            self.push_at = Some((Utc::now() + backoff, (backoff * 2).min(PUSH_MAX)));
        }
        self.memory.last_push = Some(last);
        self.remember();
    }

    /// After a local failure: try again in five minutes.
    fn hold(&mut self) {
        self.hold_until = Some(Utc::now() + chrono::Duration::minutes(5));
    }

    fn audit(&self, event: AuditEvent) {
        if let Err(e) = AuditLog::open(&self.config.audit_log).and_then(|mut log| log.append(event)) {
            tracing::error!(event = "audit-failed", "{e}");
        }
    }

    fn remember(&self) {
        if let Err(e) = self.memory.save(&self.config.state) {
            tracing::error!(event = "memory-not-saved", state = %self.config.state.display(), "{e}");
        }
    }

    /// Writes `status.json` for `wijkagent status`.
    fn show(&self, phase: Phase, note: Option<String>, current: Option<Current>) {
        let now = Utc::now();
        let (next_due, next_window) = match &self.consent {
            Ok(c) => {
                let window = c.terms.schedule.current_end(now).or_else(|| c.terms.schedule.next_open(now));
                (if current.is_some() { None } else { self.next_due(now) }, window)
            }
            Err(_) => (self.next_due(now), None),
        };
        let live = Live {
            schema: STATUS_SCHEMA.into(),
            pid: std::process::id(),
            updated_at: now,
            phase,
            note,
            next_due,
            next_window,
            current,
        };
        if let Err(e) = live.save(&self.config.state) {
            tracing::warn!(event = "status-not-saved", "{e}");
        }
    }
}

fn nap() -> chrono::Duration {
    chrono::Duration::from_std(NAP).unwrap_or(chrono::Duration::minutes(5))
}

fn load_consent(config: &Config) -> Result<Consent, String> {
    consent::load(&config.scope, &config.trust).map_err(|e| e.to_string())
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;
