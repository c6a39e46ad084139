//! `wijkagent summary`, `wijkagent enroll` and `wijkagent push`: what leaves the building, joining
//! wijkpost, and delivering summaries.
//!
//! Exit codes: 0 done (push: the outbox is empty); 1 error, with one line on stderr that says what
//! to do (push: whatever is left stays in the outbox for the next push).

use std::path::{Path, PathBuf};
use std::time::Duration;

use wijk_protocol::{ReceiptStatus, SignedSummary};

use crate::audit::{self, AuditEvent, AuditLog};
use crate::i18n::Lang;
use crate::report::diff;
use crate::uplink::enroll;
use crate::uplink::push::{self, PushEvent};
use crate::uplink::state::State;

/// Agent id shown in a summary of an agent that has not enrolled.
const PLACEHOLDER_AGENT: &str = "000000000000000000000000";

/// `wijkagent summary REPORT [--state DIR]`: prints the payload. Enrolled: the signed envelope with
/// the next `seq`, exactly as `push` would send it; else the summary with placeholders.
pub fn summary(report: &Path, state: Option<&Path>, lang: Lang) -> anyhow::Result<i32> {
    let report = match diff::load(report) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}", e.message(lang));
            return Ok(1);
        }
    };
    let text = match state.map(State::load) {
        Some(Ok(state)) => {
            let seq = state.outbox()?.next_seq()?;
            let summary = crate::summary::summarise(&report, &state.identity.agent_id, seq);
            serde_json::to_string_pretty(&SignedSummary::sign(summary, &state.signing_key))?
        }
        Some(Err(e)) => {
            eprintln!("{}", e.message(lang));
            return Ok(1);
        }
        None => {
            eprintln!(
                "{}",
                lang.pick(
                    "Niet ingeschreven: agent en seq zijn plaatshouders en er is niets ondertekend (geef --state DIR).",
                    "Not enrolled: agent and seq are placeholders and nothing is signed (give --state DIR)."
                )
            );
            let mut summary = crate::summary::summarise(&report, PLACEHOLDER_AGENT, 1);
            summary.normalise();
            serde_json::to_string_pretty(&summary)?
        }
    };
    println!("{text}");
    Ok(0)
}

/// `wijkagent enroll --collector URL --token TOKEN --state DIR`.
pub fn enroll(collector: &str, token: &str, state: &Path, lang: Lang) -> anyhow::Result<i32> {
    match enroll::enroll(collector, token, state) {
        Ok(identity) => {
            let line = match lang {
                Lang::Nl => format!(
                    "Ingeschreven als agent {} bij {}; sleutels en certificaten staan in {} (privésleutels 0600). Samenvattingen gaan naar {}.",
                    identity.agent_id,
                    collector,
                    state.display(),
                    identity.broker
                ),
                Lang::En => format!(
                    "Enrolled as agent {} at {}; keys and certificates are in {} (private keys 0600). Summaries go to {}.",
                    identity.agent_id,
                    collector,
                    state.display(),
                    identity.broker
                ),
            };
            println!("{line}");
            Ok(0)
        }
        Err(e) => {
            eprintln!("{}", e.message(lang));
            Ok(1)
        }
    }
}

/// `wijkagent push --state DIR [REPORT] [--timeout S] [--audit-log FILE]`.
pub fn push(
    state_dir: &Path,
    report: Option<&Path>,
    timeout: Duration,
    audit_log: Option<PathBuf>,
    lang: Lang,
) -> anyhow::Result<i32> {
    let state = match State::load(state_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", e.message(lang));
            return Ok(1);
        }
    };
    if let Some(path) = report {
        let report = match diff::load(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{}", e.message(lang));
                return Ok(1);
            }
        };
        match push::enqueue(&state, &report) {
            Ok(seq) => eprintln!(
                "{}",
                lang.pick("samenvatting {seq} in de outbox", "summary {seq} in the outbox")
                    .replace("{seq}", &seq.to_string())
            ),
            Err(e) => {
                eprintln!("{}", e.message(lang));
                return Ok(1);
            }
        }
    }
    let mut audit = AuditLog::open(&audit_log.unwrap_or_else(audit::default_path))?;
    let agent = state.identity.agent_id.clone();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let delivered = runtime.block_on(push::deliver(&state, timeout, |event| {
        if let PushEvent::Receipt { seq, status: ReceiptStatus::Stored | ReceiptStatus::Duplicate, .. } = event {
            if let Err(e) = audit.append(AuditEvent::SummarySent { seq: *seq, agent: agent.clone() }) {
                eprintln!("audit: {e}");
            }
        }
        eprintln!("{}", describe(event, lang));
    }));
    let outcome = match delivered {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}", e.message(lang));
            return Ok(1);
        }
    };
    let line = match lang {
        Lang::Nl => format!(
            "opgeslagen: {}, al eerder opgeslagen: {}, geweigerd: {}, nog in de outbox: {}",
            outcome.stored, outcome.duplicates, outcome.rejected, outcome.left
        ),
        Lang::En => format!(
            "stored: {}, stored before: {}, rejected: {}, still in the outbox: {}",
            outcome.stored, outcome.duplicates, outcome.rejected, outcome.left
        ),
    };
    println!("{line}");
    if outcome.rejected > 0 {
        eprintln!(
            "{}",
            lang.pick(
                "Geweigerde samenvattingen staan met de reden in OUTBOX/rejected/; meld ze aan VVSG.",
                "Rejected summaries are kept with the reason in OUTBOX/rejected/; report them to VVSG.",
            )
            .replace("OUTBOX", &state.dir.join("outbox").display().to_string())
        );
    }
    if outcome.left > 0 {
        eprintln!("{}", lang.pick(
            "Niet alles kreeg een ontvangstbewijs voor de tijdslimiet; de rest blijft in de outbox en gaat mee bij de volgende push.",
            "Not everything got a receipt before the time limit; the rest stays in the outbox and goes with the next push.",
        ));
    }
    Ok(if outcome.left == 0 && outcome.rejected == 0 { 0 } else { 1 })
}

fn describe(event: &PushEvent, lang: Lang) -> String {
    match (event, lang) {
        (PushEvent::Connected { waiting }, Lang::Nl) => format!("verbonden; {waiting} samenvatting(en) verstuurd"),
        (PushEvent::Connected { waiting }, Lang::En) => format!("connected; {waiting} summary(ies) sent"),
        (PushEvent::Receipt { seq, status, reason }, _) => {
            let status = match (status, lang) {
                (ReceiptStatus::Stored, Lang::Nl) => "opgeslagen",
                (ReceiptStatus::Stored, Lang::En) => "stored",
                (ReceiptStatus::Duplicate, Lang::Nl) => "al eerder opgeslagen",
                (ReceiptStatus::Duplicate, Lang::En) => "stored before",
                (ReceiptStatus::Rejected, Lang::Nl) => "geweigerd",
                (ReceiptStatus::Rejected, Lang::En) => "rejected",
            };
            match reason {
                Some(r) => format!("{} {seq}: {status} ({r})", lang.pick("ontvangstbewijs", "receipt")),
                None => format!("{} {seq}: {status}", lang.pick("ontvangstbewijs", "receipt")),
            }
        }
        (PushEvent::ConnectionLost { why, retry_in }, Lang::Nl) => {
            format!("verbinding verbroken ({why}); nieuwe poging over {} s", retry_in.as_secs())
        }
        (PushEvent::ConnectionLost { why, retry_in }, Lang::En) => {
            format!("connection lost ({why}); retrying in {} s", retry_in.as_secs())
        }
        (PushEvent::Advice, Lang::Nl) => "nieuw advies van wijkpost bewaard".into(),
        (PushEvent::Advice, Lang::En) => "new advice from wijkpost stored".into(),
    }
}
