//! The packets lab: hostility below the application, one host per case
//! ([`crate::addressing::LabKind::Packets`]).
//!
//! | host          | what runs there                                   | nftables in its namespace            |
//! |---------------|---------------------------------------------------|--------------------------------------|
//! | `synack-dup`  | redis-server on 6379; `rawfake dup` replays every SYN-ACK and RST the kernel sends to the scanner once or twice more | — |
//! | `synack-late` | `rawfake late`: SYN-ACK on [`LATE_OPEN`], RST elsewhere, each [`LATE_DELAY_MS`] late | drop TCP from the scanner |
//! | `icmp-storm`  | `rawfake storm`: [`STORM_PER_SYN`] ICMP unreachables per SYN, plus forged ones quoting the other hosts' ports | drop TCP from the scanner |
//! | `middlebox`   | redis-server on 6379                              | redirect every TCP port to 6379      |
//!
//! The middlebox is the real kernel (nftables `redirect`), so it answers SYN-ACK on every port and
//! completes every handshake. The raw fakes ([`crate::rawfake`]) see frames before netfilter, so the
//! drop rule keeps the kernel from answering the SYNs they answer; on `synack-dup` nothing is
//! dropped: the kernel answers, for a real Redis, and the fake only repeats it. The rules live in a
//! table `wijk_packets`, apart from the counters' `wijk_lab` (which count first, at priority -300).
//! Each fake prints `ready` once it listens (awaited like a daemon's socket) and a `stats` line
//! whenever its counts change, which the test reads to prove the hostility really happened.

use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::addressing::{host, Addressing, Port};
use crate::daemons::{host_dir, v4, Daemon, DaemonPlan};
use crate::process::{run_checked, tail};
use crate::rawfake::Stats;
use crate::services;

/// Programs the packets lab needs (besides `ip`, `ss`, `nft` and `sysctl`).
pub const PROGRAMS: &[&str] = &["redis-server"];
/// The real service on `synack-dup` (and the middlebox's listener).
pub const DUP_SERVICE: Port = Port::tcp(6379);
/// Ports `synack-late` answers with SYN-ACK.
pub const LATE_OPEN: &[u16] = &[22, 80, 443];
/// How late `synack-late` answers, in milliseconds.
pub const LATE_DELAY_MS: (u64, u64) = (3000, 5000);
/// ICMP unreachables `icmp-storm` sends per SYN (forged ones come on top).
pub const STORM_PER_SYN: u32 = 50;
/// The ports the storm's forged unreachables quote on the other hosts.
pub const STORM_VICTIM_PORTS: &[u16] = &[22, 80, 443, 6379, 8080];
/// The listener every TCP port of the middlebox is redirected to.
pub const MIDDLEBOX_LISTENER: u16 = 6379;
/// Name prefix of the fakes' daemon entries.
pub(crate) const RAWFAKE: &str = "rawfake";
/// How long the fakes live.
const FAKE_LIFETIME_SECS: &str = "600";

/// The nftables ruleset of each host that needs one.
pub(crate) fn rulesets(addr: &Addressing) -> Vec<(&'static str, String)> {
    let scanner = addr.host(host::SCANNER).ipv4;
    let quiet = format!(
        "table inet wijk_packets {{\n\
         \tchain input {{\n\
         \t\ttype filter hook input priority 0; policy accept;\n\
         \t\tip saddr {scanner} meta l4proto tcp drop\n\
         \t}}\n}}\n"
    );
    let redirect = format!(
        "table ip wijk_packets {{\n\
         \tchain prerouting {{\n\
         \t\ttype nat hook prerouting priority dstnat; policy accept;\n\
         \t\ttcp dport 1-65535 redirect to :{MIDDLEBOX_LISTENER}\n\
         \t}}\n}}\n"
    );
    vec![(host::SYNACK_LATE, quiet.clone()), (host::ICMP_STORM, quiet), (host::MIDDLEBOX, redirect)]
}

/// Loads [`rulesets`] into the hosts' namespaces (`netns(host)` names them), each from a file in
/// the lab directory.
pub(crate) fn install_rules(
    ip: &Path,
    lab_dir: &Path,
    addr: &Addressing,
    netns: &dyn Fn(&str) -> String,
) -> Result<()> {
    for (h, rules) in rulesets(addr) {
        let file = lab_dir.join(format!("packets-{h}.nft"));
        std::fs::write(&file, &rules).with_context(|| format!("writing {}", file.display()))?;
        run_checked(Command::new(ip).args(["netns", "exec", &netns(h), "nft", "-f"]).arg(&file))
            .with_context(|| format!("loading the packets rules into {h}:\n{rules}"))?;
    }
    Ok(())
}

/// What to start: Redis on `synack-dup` and the middlebox, a raw fake on the first three hosts.
/// `rawfake` is this crate's `rawfake` program (`env!("CARGO_BIN_EXE_rawfake")` in a test).
pub(crate) fn plan(lab_dir: &Path, addr: &Addressing, rawfake: &Path) -> Result<Vec<DaemonPlan>> {
    if !rawfake.is_file() {
        bail!("the rawfake program is not at {} (cargo builds it with the tests)", rawfake.display());
    }
    let scanner = addr.host(host::SCANNER).ipv4.to_string();
    let join = |ports: &[u16]| ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    let victims: Vec<String> =
        [host::SYNACK_DUP, host::SYNACK_LATE, host::MIDDLEBOX].iter().map(|h| addr.host(h).ipv4.to_string()).collect();
    let fake = |h: &'static str, args: Vec<String>| -> Result<DaemonPlan> {
        let dir = host_dir(lab_dir, h)?.join(RAWFAKE);
        crate::daemons::make_dir(&dir)?;
        // The mode first, then the options.
        let mut all = args;
        all.splice(1..1, ["--iface".to_string(), "eth0".into(), "--peer".into(), scanner.clone()]);
        all.extend(["--lifetime-secs".into(), FAKE_LIFETIME_SECS.into()]);
        Ok(DaemonPlan {
            host: h,
            name: RAWFAKE,
            program: rawfake.to_path_buf(),
            args: all,
            env: vec![],
            listens: vec![],
            dir,
        })
    };
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let mut dup_redis = services::redis(lab_dir, host::SYNACK_DUP, None)?;
    dup_redis.listens = vec![v4(DUP_SERVICE)];
    let mut mbox_redis = services::redis(lab_dir, host::MIDDLEBOX, None)?;
    mbox_redis.listens = vec![v4(Port::tcp(MIDDLEBOX_LISTENER))];
    let delay = format!("{}-{}", LATE_DELAY_MS.0, LATE_DELAY_MS.1);
    Ok(vec![
        dup_redis,
        fake(host::SYNACK_DUP, strings(&["dup"]))?,
        fake(host::SYNACK_LATE, strings(&["late", "--open", &join(LATE_OPEN), "--delay-ms", &delay]))?,
        fake(
            host::ICMP_STORM,
            strings(&[
                "storm",
                "--per-syn",
                &STORM_PER_SYN.to_string(),
                "--victims",
                &victims.join(","),
                "--victim-ports",
                &join(STORM_VICTIM_PORTS),
            ]),
        )?,
        mbox_redis,
    ])
}

/// Waits (at most `limit`) until a raw fake says `ready`; fails with its log if it exits first.
pub(crate) fn wait_ready(d: &mut Daemon, limit: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        if d.log_text().lines().any(|l| l.contains(" ready on ")) {
            return Ok(());
        }
        if let Some(status) = d.child.try_wait()? {
            bail!("{} on host {} exited with {status}; its log:\n{}", d.name, d.host, tail(&d.log_text(), 40));
        }
        if start.elapsed() >= limit {
            bail!("{} on host {} not ready after {limit:?}; its log:\n{}", d.name, d.host, tail(&d.log_text(), 40));
        }
        sleep(Duration::from_millis(50));
    }
}

/// The last counts the raw fake on `host` printed (its log is `<lab dir>/<host>/rawfake/log`).
pub fn fake_stats(lab_dir: &Path, host: &str) -> Option<Stats> {
    let log = std::fs::read(lab_dir.join(host).join(RAWFAKE).join("log")).ok()?;
    Stats::parse_last(&String::from_utf8_lossy(&log))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addressing::LabKind;

    #[test]
    fn the_rules_quiet_the_fakes_kernels_and_redirect_the_middlebox() {
        let a = Addressing::of(LabKind::Packets, 9);
        let rules = rulesets(&a);
        let hosts: Vec<&str> = rules.iter().map(|(h, _)| *h).collect();
        assert_eq!(hosts, [host::SYNACK_LATE, host::ICMP_STORM, host::MIDDLEBOX]);
        assert!(rules[0].1.contains("ip saddr 198.18.9.2 meta l4proto tcp drop"));
        assert!(rules[2].1.contains("tcp dport 1-65535 redirect to :6379"));
        assert!(rules.iter().all(|(_, r)| r.contains("wijk_packets") && !r.contains("wijk_lab")));
    }
}
