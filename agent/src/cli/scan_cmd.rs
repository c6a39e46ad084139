//! `wijkagent scan`: consent → plan → scan → report, with refusals and interruptions audited.

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::{ScanArgs, EXIT_INTERRUPTED, EXIT_REFUSED};
use crate::audit::{self, AuditEvent, AuditLog};
use crate::consent::{self, Consent};
use crate::i18n::Lang;
use crate::scan::{self, plan, RunOptions, StopReason, Wishes};

/// Runs a scan; returns the exit code.
pub fn run(args: ScanArgs, lang: Lang) -> anyhow::Result<i32> {
    let audit_path = args.audit_log.clone().unwrap_or_else(audit::default_path);
    let scope_label = args.scope.as_ref().map(|p| p.display().to_string());
    let consent = if args.self_scan {
        Ok(Consent::self_loopback())
    } else {
        let scope = args.scope.as_deref().ok_or_else(|| anyhow::anyhow!("--scope ontbreekt / --scope missing"))?;
        consent::load(scope, &args.trust).map_err(plan::Refusal::from)
    };
    let wishes = Wishes {
        profile: args.profile,
        ports: args.ports.clone(),
        rate: args.rate,
        per_host_rate: args.per_host_rate,
        force_connect: args.connect,
        ports_only: args.no_services,
    };
    let checked = consent.and_then(|c| plan::plan(&c, &wishes, Utc::now()));
    let plan = match checked {
        Ok(p) => p,
        Err(refusal) => {
            eprintln!("{refusal}");
            let logged = AuditLog::open(&audit_path).and_then(|mut log| {
                log.append(AuditEvent::ScanRefused { reason: refusal.to_string(), scope: scope_label })
            });
            if let Err(e) = logged {
                eprintln!("{e}");
            }
            return Ok(EXIT_REFUSED);
        }
    };
    let mut audit = AuditLog::open(&audit_path)?;
    scan::check_out_dir(&args.out)?;
    let opts = RunOptions {
        out_dir: args.out.clone(),
        progress: args.progress,
        lang,
        mode: if args.self_scan { "self" } else { "scan" },
        comparison: args.state.as_deref().and_then(|dir| latest_advice(dir, lang)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = runtime.block_on(async {
        let stop = CancellationToken::new();
        let reason = StopReason::default();
        let signals = tokio::spawn(watch_signals(stop.clone(), reason.clone()));
        let result = scan::execute(plan, &opts, &mut audit, stop, reason).await;
        signals.abort();
        result
    })?;
    // Raw-socket receiver threads exit on their own within their read timeout.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    let r = &outcome.report;
    let l = |nl, en| lang.pick(nl, en);
    println!(
        "{}: {} {}, {} {} TCP, {} {} UDP, {} {} {:.1} s ({:.0} pps)",
        if r.complete { l("scan klaar", "scan finished") } else { l("scan ONVOLLEDIG", "scan INCOMPLETE") },
        r.stats.hosts_up,
        l("hosts actief", "hosts up"),
        r.stats.open_tcp,
        l("open", "open"),
        r.stats.open_udp,
        l("open", "open"),
        r.stats.probes_sent,
        l("pakketten in", "packets in"),
        r.stats.duration_s,
        r.stats.achieved_pps,
    );
    for h in &r.hosts {
        if let Some(m) = &h.middlebox {
            println!("{}: {}", h.address, m.sentence(lang));
        }
    }
    println!("{}: {}", l("rapport", "report"), outcome.path.display());
    if let Some(why) = &r.interrupted {
        eprintln!(
            "{} ({why}); {}",
            l("scan onderbroken", "scan interrupted"),
            l("gedeeltelijk rapport geschreven", "partial report written")
        );
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(0)
}

/// Ctrl-C and SIGTERM stop the scan; the engines notice within their polling interval (< 1 s).
async fn watch_signals(stop: CancellationToken, reason: StopReason) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "SIGTERM niet opvangbaar / cannot watch SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            reason.stop("ctrl-c", &stop);
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => reason.stop("ctrl-c", &stop),
        _ = term.recv() => reason.stop("sigterm", &stop),
    }
}

/// The advice stored in `state` (by `push`), if there is a readable one; a broken file is named on
/// stderr and left out of the report.
fn latest_advice(state: &std::path::Path, lang: Lang) -> Option<wijk_protocol::Advice> {
    crate::uplink::state::stored_advice(state).unwrap_or_else(|why| {
        eprintln!(
            "{why}: {}",
            lang.pick(
                "geen leesbaar advies van wijkpost; het rapport verschijnt zonder vergelijking",
                "no readable advice from wijkpost; the report comes without the comparison",
            )
        );
        None
    })
}
