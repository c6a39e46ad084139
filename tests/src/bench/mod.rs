//! Benchmark support: wijkagent against nmap in the same lab and the same run.
//!
//! - [`cpu`]: CPU time per process and per thread, from /proc.
//! - [`measure`]: wall time and peak RSS of a process (VmHWM polled from /proc), bounded in time.
//! - [`nmap`]: running nmap and reading its grepable and XML output.
//! - [`nmap_db`]: nmap's `nmap-service-probes`, to tell the versions it read from those it guessed.
//! - [`wire`]: counting the agent's packets on the wire with tcpdump, in one-second buckets.
//! - [`identify`]: the `services` job: service identification against `nmap -sV`, in the services lab.
//! - [`testssl`]: the `tls` job: TLS versions and certificate verdicts against testssl.sh.
//! - [`trends`]: the `trends` job: the dashboard's answer times over five synthetic years.
//! - [`uplink`]: the `uplink` job: summaries per second agent → wijkpost → receipt, beside the raw broker rate.
//!
//! The program is `tests/src/bin/wijk-bench.rs`; run it with `tests/bench` (README, "Performance").

pub mod cpu;
pub mod identify;
pub mod measure;
pub mod nmap;
pub mod nmap_db;
pub mod testssl;
pub mod trends;
pub mod uplink;
pub mod wire;

use std::path::Path;
use std::process::Command;

use crate::consent_fixture::{write_signed, ConsentSpec, SignedConsent};
use crate::lab::Lab;

/// `wijkagent scan` inside the lab's scanner namespace with `consent`, writing to `out` (report and
/// audit log), no progress display, plus `extra` arguments.
pub fn agent_scan(lab: &Lab, consent: &SignedConsent, out: &Path, extra: &[&str]) -> Command {
    let agent = crate::agent::bin();
    let mut args: Vec<String> = vec![agent.display().to_string(), "scan".into(), "--scope".into()];
    args.push(consent.scope.display().to_string());
    args.extend(["--trust".into(), consent.keys.public_key.display().to_string()]);
    args.extend(["--out".into(), out.display().to_string(), "--progress".into(), "none".into()]);
    args.extend(["--audit-log".into(), out.join("audit.log").display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    lab.scanner_exec(args)
}

/// A signed consent in `dir` for exactly `targets` of `lab` (nothing excluded), rates capped at
/// `rate` in total and per host.
pub fn lab_consent(lab: &Lab, dir: &Path, targets: &[std::net::IpAddr], rate: u32) -> anyhow::Result<SignedConsent> {
    let mut spec = ConsentSpec::for_lab(&lab.addressing());
    spec.include = targets.iter().map(|t| t.to_string()).collect();
    spec.exclude.clear();
    spec.max_rate = rate;
    spec.max_per_host_rate = rate;
    write_signed(dir, &spec)
}
