//! One scan from plan to report: discovery, TCP ports, UDP ports, then `report.json`.
//!
//! [`plan::plan`] checks the wishes against the consent; [`execute`] runs the checked plan under one
//! cancellation token (Ctrl-C, SIGTERM, or the end of the consent window cancel it; what was found is
//! kept and the report is marked incomplete) and records start and end in the audit log.
//! [`assemble`] turns the engines' tables into the report.

pub mod assemble;
pub mod identify;
pub mod plan;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::audit::{AuditError, AuditEvent, AuditLog};
use crate::discover::{self, Discovery};
use crate::i18n::Lang;
use crate::net::raw::RawNet;
use crate::net::{self, NetError, ScopedIo};
use crate::ports::Proto;
use crate::portscan::{connect, middlebox, udp, PortState, PortTally};
use crate::progress::{self, Progress, ProgressStyle};
use crate::rate::Limiter;
use crate::report::{Report, TcpReplies, WriteError};
use crate::sweep::{self, Slot, SlotState, SweepConfig, Table};
pub use plan::{Plan, Refusal, Wishes};

/// Why a scan stopped early; set by whoever cancels, read when writing the report.
#[derive(Debug, Clone, Default)]
pub struct StopReason(Arc<Mutex<Option<String>>>);

impl StopReason {
    /// Records `reason` (the first one wins) and cancels `token`.
    pub fn stop(&self, reason: &str, token: &CancellationToken) {
        if let Ok(mut r) = self.0.lock() {
            r.get_or_insert_with(|| reason.to_string());
        }
        token.cancel();
    }
    /// The recorded reason.
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|r| r.clone())
    }
}

/// Errors while scanning (refusals are [`Refusal`], before this point).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Audit log.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Report.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Raw packet layer.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A worker thread failed.
    #[error("interne fout in een scanthread: {0} / internal error in a scan thread")]
    Worker(String),
}

/// How the run is shown and where it goes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Report directory.
    pub out_dir: PathBuf,
    /// Progress display.
    pub progress: ProgressStyle,
    /// Language for people.
    pub lang: Lang,
    /// `scan` or `self`.
    pub mode: &'static str,
    /// wijkpost's latest advice, for the report's "how you compare" section.
    pub comparison: Option<wijk_protocol::Advice>,
}

/// The finished (or interrupted) scan.
#[derive(Debug)]
pub struct Outcome {
    /// The report as written.
    pub report: Report,
    /// Where it was written.
    pub path: PathBuf,
}

/// Whether raw sockets will be used for `plan` (CAP_NET_RAW and no `--connect`).
pub fn use_raw(plan: &Plan) -> bool {
    !plan.force_connect && net::has_raw_privileges()
}

/// Runs `plan`, writing the report and audit records.
pub async fn execute(
    plan: Plan,
    opts: &RunOptions,
    audit: &mut AuditLog,
    stop: CancellationToken,
    reason: StopReason,
) -> Result<Outcome, ScanError> {
    let started_at = Utc::now();
    let scan_id = format!("{}-{:08x}", started_at.format("%Y%m%dT%H%M%SZ"), rand::random::<u32>());
    audit.append(started_event(&plan, &scan_id, opts.mode, use_raw(&plan)))?;
    let consent = &plan.consent;

    // The consent window closes: stop there, keep what was found.
    let window_timer = consent.terms.schedule.current_end(Utc::now()).map(|end| {
        let (stop, reason) = (stop.clone(), reason.clone());
        let wait = (end - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            reason.stop("window-closed", &stop);
        })
    });
    let examined = examine(&plan, scan_id.clone(), started_at, opts, &stop, &reason).await;
    if let Some(t) = window_timer {
        t.abort();
    }
    let mut report = examined?;
    report.comparison = opts.comparison.clone();
    let interrupted = report.interrupted.clone();
    let written = match crate::report::write_all(&report, &opts.out_dir, opts.lang) {
        Ok(w) => w,
        Err(e) => {
            // A full disk must not leave the audit log claiming nothing happened.
            let why = format!("report-not-written: {e}");
            let _ = audit.append(AuditEvent::ScanInterrupted { scan_id: scan_id.clone(), reason: why });
            return Err(e.into());
        }
    };
    let path = written.into_iter().next().unwrap_or_else(|| opts.out_dir.join(crate::report::REPORT_JSON));
    if let Some(why) = &interrupted {
        audit.append(AuditEvent::ScanInterrupted { scan_id: scan_id.clone(), reason: why.clone() })?;
    }
    audit.append(finished_event(&report, scan_id, &path))?;
    Ok(Outcome { report, path })
}

/// The audit record of a scan starting under `plan` (`mode`: `scan`, `self`, `service`).
pub fn started_event(plan: &Plan, scan_id: &str, mode: &str, raw: bool) -> AuditEvent {
    let consent = &plan.consent;
    AuditEvent::ScanStarted {
        scan_id: scan_id.to_string(),
        mode: mode.to_string(),
        consent_sha256: consent.sha256.clone(),
        signer: consent.signer.clone(),
        organisation: consent.terms.organisation.clone(),
        profile: plan.profile_name.clone(),
        targets: u64::try_from(consent.terms.scope.target_count()).unwrap_or(u64::MAX),
        tcp_ports: plan.ports.tcp.len(),
        udp_ports: plan.ports.udp.len(),
        rate: plan.caps.total,
        per_host_rate: plan.caps.per_host,
        method: if raw { "syn" } else { "connect" }.to_string(),
    }
}

/// The audit record of a finished scan whose report is at `path`.
pub fn finished_event(report: &Report, scan_id: String, path: &Path) -> AuditEvent {
    AuditEvent::ScanFinished {
        scan_id,
        complete: report.complete,
        hosts_up: report.stats.hosts_up,
        open_tcp: report.stats.open_tcp,
        open_udp: report.stats.open_udp,
        probes_sent: report.stats.probes_sent,
        duration_s: report.stats.duration_s,
        report: path.display().to_string(),
    }
}

/// Runs the engines over `plan` and assembles the report; writes no file and no audit record (the
/// service keeps a long scan part by part with this). Stops early when `stop` is cancelled; the
/// report then says why (`reason`) and is marked incomplete.
pub async fn examine(
    plan: &Plan,
    scan_id: String,
    started_at: chrono::DateTime<Utc>,
    opts: &RunOptions,
    stop: &CancellationToken,
    reason: &StopReason,
) -> Result<Report, ScanError> {
    let raw = use_raw(plan);
    let progress = Arc::new(Progress::default());
    let shown = CancellationToken::new();
    let reporter = tokio::spawn(progress::report(progress.clone(), opts.progress, opts.lang, shown.clone()));
    let limiter = Arc::new(Limiter::new(plan.caps));
    let engines = if raw {
        run_raw(plan, &limiter, &progress, stop).await
    } else {
        run_connect(plan, &limiter, &progress, stop).await
    };
    let found = match engines {
        Ok(mut found) => {
            if !stop.is_cancelled() && !plan.ports_only {
                found.identified = identify::identify_all(found.open_ports(), plan, &limiter, &progress, stop).await;
            }
            found
        }
        Err(e) => {
            shown.cancel();
            let _ = reporter.await;
            return Err(e);
        }
    };
    shown.cancel();
    let _ = reporter.await;
    let interrupted = if stop.is_cancelled() { Some(reason.get().unwrap_or_else(|| "stopped".into())) } else { None };
    Ok(assemble::report(assemble::Parts {
        plan,
        scan_id,
        started_at,
        raw,
        found,
        probes_sent: progress.probes_sent.load(Ordering::Relaxed),
        interrupted,
        lang: opts.lang,
    }))
}

/// What the engines found, before it becomes a report.
#[derive(Debug, Default)]
pub struct Found {
    /// Discovery outcome.
    pub discovery: Discovery,
    /// TCP ports probed per host, in the order of `tcp`'s rows.
    pub tcp_ports: Vec<u16>,
    /// TCP state per (live host index, port index), host-major; empty if not reached.
    pub tcp: Vec<PortState>,
    /// Back-off label per live host.
    pub backoff: Vec<&'static str>,
    /// Duplicate, late and unreachable answers to the SYN scan per live host (empty without one).
    pub tcp_replies: Vec<TcpReplies>,
    /// Replies to the SYN scan's port that matched no probe.
    pub unmatched_replies: u64,
    /// UDP results.
    pub udp: Vec<udp::UdpResult>,
    /// Retransmissions over all phases.
    pub retransmissions: u64,
    /// What identification learnt per open port.
    pub identified: identify::Identified,
}

impl Found {
    /// The TCP states of live host `h`, in the order of `tcp_ports` (empty if not reached).
    pub fn tcp_row(&self, h: usize) -> &[PortState] {
        let per_host = self.tcp_ports.len();
        self.tcp.get(h * per_host..(h + 1) * per_host).unwrap_or(&[])
    }

    /// The TCP tally of live host `h`.
    pub fn tcp_tally(&self, h: usize) -> PortTally {
        let mut tally = PortTally::default();
        self.tcp_row(h).iter().for_each(|s| tally.add(*s));
        tally
    }

    /// Every open port found, TCP then UDP, host by host; not the TCP ports of a host that answers
    /// on every port ([`crate::portscan::middlebox`]): there is nothing to identify there.
    pub fn open_ports(&self) -> Vec<identify::Key> {
        let hosts = &self.discovery.hosts;
        let mut open = Vec::new();
        for (h, live) in hosts.iter().enumerate() {
            if middlebox::tally_answers_everything(&self.tcp_tally(h)) {
                continue;
            }
            for (i, state) in self.tcp_row(h).iter().enumerate() {
                if *state == PortState::Open {
                    open.push((live.address, self.tcp_ports.get(i).copied().unwrap_or(0), Proto::Tcp));
                }
            }
        }
        open.extend(self.udp.iter().filter(|r| r.state == PortState::Open).map(|r| (r.host, r.port, Proto::Udp)));
        open
    }
}

fn live_addresses(d: &Discovery) -> Vec<IpAddr> {
    d.hosts.iter().map(|h| h.address).collect()
}

async fn run_raw(
    plan: &Plan,
    limiter: &Arc<Limiter>,
    progress: &Arc<Progress>,
    stop: &CancellationToken,
) -> Result<Found, ScanError> {
    let scope = plan.consent.terms.scope.clone();
    let want_v6 = scope.target_ranges().iter().any(|r| r.start.is_ipv6());
    let sockets_stop = stop.child_token();
    let (rawnet, replies) = RawNet::open(&scope, want_v6, sockets_stop.clone())?;
    let io = Arc::new(ScopedIo::new(rawnet.clone(), scope.clone()));
    let tcp_ports = plan.ports.tcp.clone();
    let (limiter2, progress2, stop2, io2) = (limiter.clone(), progress.clone(), stop.clone(), io.clone());
    let result = tokio::task::spawn_blocking(move || {
        let (discovery, replies) = discover::discover_raw(io2.as_ref(), replies, &scope, &limiter2, &progress2, &stop2);
        rawnet.close_arp();
        let mut found =
            Found { retransmissions: discovery.retransmissions, tcp_ports: tcp_ports.clone(), ..Default::default() };
        let hosts = live_addresses(&discovery);
        found.discovery = discovery;
        if stop2.is_cancelled() || hosts.is_empty() || tcp_ports.is_empty() {
            return (found, None);
        }
        let slots = tcp_ports.iter().map(|p| Slot::Syn(*p)).collect();
        let table = Arc::new(Table::new(hosts, slots, false));
        let config = SweepConfig {
            retries: 2,
            settle: Duration::from_millis(400),
            phase: "tcp",
            senders: SweepConfig::senders_for(limiter2.caps().total),
        };
        let Some(replies) = replies else { return (found, None) };
        (found, Some(sweep::run(io2.as_ref(), replies, table, &limiter2, &progress2, &config, &stop2)))
    })
    .await
    .map_err(|e| ScanError::Worker(e.to_string()))?;
    let (mut found, sweep_out) = result;
    if let Some(out) = sweep_out {
        found.retransmissions += out.retransmissions;
        let t = &out.table;
        found.tcp = (0..t.hosts.len())
            .flat_map(|h| (0..t.slots.len()).map(move |s| (h, s)))
            .map(|(h, s)| match t.state(h, s) {
                SlotState::Open => PortState::Open,
                SlotState::Closed => PortState::Closed,
                SlotState::Skipped => PortState::Unscanned,
                _ => PortState::Filtered,
            })
            .collect();
        found.tcp_replies = t
            .counters
            .iter()
            .map(|c| TcpReplies {
                duplicate: c.duplicates.load(Ordering::Relaxed),
                late: c.late.load(Ordering::Relaxed),
                unreachable: c.unreachable.load(Ordering::Relaxed),
            })
            .collect();
        found.unmatched_replies = t.unmatched.load(Ordering::Relaxed);
        found.backoff = out
            .backoff
            .iter()
            .map(|b| match b {
                sweep::Backoff::Normal => "normal",
                sweep::Backoff::Slowed => "slowed",
                sweep::Backoff::Abandoned => "left-alone",
            })
            .collect();
    }
    udp_phase(plan, limiter, progress, stop, &mut found).await;
    sockets_stop.cancel();
    Ok(found)
}

async fn run_connect(
    plan: &Plan,
    limiter: &Arc<Limiter>,
    progress: &Arc<Progress>,
    stop: &CancellationToken,
) -> Result<Found, ScanError> {
    let scope = &plan.consent.terms.scope;
    let discovery = discover::discover_connect(scope, limiter, progress, stop).await;
    let hosts = live_addresses(&discovery);
    let mut found = Found {
        retransmissions: discovery.retransmissions,
        discovery,
        tcp_ports: plan.ports.tcp.clone(),
        ..Default::default()
    };
    if !stop.is_cancelled() && !hosts.is_empty() && !plan.ports.tcp.is_empty() {
        let out = connect::scan(&hosts, &plan.ports.tcp, scope, limiter, progress, &Default::default(), stop).await;
        found.retransmissions += out.retransmissions;
        found.tcp = out.states;
        found.backoff = vec!["normal"; hosts.len()];
    }
    udp_phase(plan, limiter, progress, stop, &mut found).await;
    Ok(found)
}

async fn udp_phase(
    plan: &Plan,
    limiter: &Arc<Limiter>,
    progress: &Arc<Progress>,
    stop: &CancellationToken,
    found: &mut Found,
) {
    let hosts = live_addresses(&found.discovery);
    if stop.is_cancelled() || hosts.is_empty() || plan.ports.udp.is_empty() {
        return;
    }
    let timeout = Duration::from_millis(1000);
    let out = udp::scan(&hosts, &plan.ports.udp, &plan.consent.terms.scope, limiter, progress, timeout, stop).await;
    found.udp = out.results;
}

/// Where the audit log lives unless `--audit-log` says otherwise.
pub fn default_audit_path() -> PathBuf {
    crate::audit::default_path()
}

/// Checks that a report directory is usable before a long scan starts.
pub fn check_out_dir(dir: &Path) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError { path: dir.to_path_buf(), source })
}
