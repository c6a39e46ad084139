//! Packet-level hostility end to end: the agent scans the packets lab (`wijk_lab::packets`) with a
//! SYN scan and must come through each case with the right states, one entry per port, a report
//! that says what happened, within its deadline and under 50 MiB:
//!
//! - `synack-dup`: a real Redis whose every SYN-ACK and RST arrives two or three times — one
//!   service, identified once; every other port closed; `tcp_replies.duplicate` counts the copies;
//! - `synack-late`: every SYN answered 3-5 s late (after the agent's per-probe wait) — exactly the
//!   three ports that answer SYN-ACK are open, nothing is listed twice, `tcp_replies.late` counts;
//! - `icmp-storm`: 50 ICMP unreachables per SYN plus forged ones quoting the other hosts' ports —
//!   its own ports filtered, no other host's port touched, the forged ones counted as unmatched;
//! - `middlebox`: the kernel answers SYN-ACK on every port (nftables redirect to Redis) — the host
//!   is reported as such (`hosts[].middlebox`, a line in report.html and on stdout), no "services",
//!   its Redis never sees an identification connection, and it costs a few hundred packets.
//!
//! One `standard` scan covers the four hosts; a `full` scan (65,535 ports) of the middlebox alone
//! shows it does not become 65,535 services. Each run's figures (wall time, peak RSS from VmHWM)
//! and every row are printed, PASS or FAIL, before the test fails. The raw fakes' own counts
//! (`stats` lines in their logs) prove the hostility really happened.
//!
//! Run as root after building the agent:
//! `cargo build -p wijkagent && cargo test -p wijk-lab --test lab_packets -- --nocapture`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use wijk_lab::bench::measure::{self, Run};
use wijk_lab::consent_fixture::{self, ConsentSpec};
use wijk_lab::lab::require_lab_or_skip;
use wijk_lab::packets::{self, DUP_SERVICE, LATE_OPEN, STORM_PER_SYN};
use wijk_lab::process::run_checked;
use wijk_lab::rows::Rows;
use wijk_lab::{agent, host, Lab, LabKind, Report};

/// A scan must end within this (it is killed then).
const SCAN_LIMIT: Duration = Duration::from_secs(180);
/// The full scan of the middlebox must take no longer than this: it is cut short, not probed.
const MIDDLEBOX_FULL_LIMIT: Duration = Duration::from_secs(60);
/// The agent's peak resident set size must stay under this.
const PEAK_RSS_LIMIT_KIB: u64 = 50 * 1024;
/// Packets the middlebox may receive from the scanner in the standard scan (a full probe of its
/// ~1000 TCP ports would be twice that: a SYN and the kernel's RST per port).
const MIDDLEBOX_PACKETS_STANDARD: u64 = 600;
/// Probes the full scan of the middlebox may send (not 65,535).
const MIDDLEBOX_PROBES_FULL: f64 = 2000.0;

/// One scan's run and report.
struct Scan {
    run: Run,
    report: Option<Report>,
    out: PathBuf,
}

fn scan(lab: &Lab, work: &Path, name: &str, spec: &ConsentSpec, profile: &str) -> Scan {
    let dir = work.join(name);
    let consent = consent_fixture::write_signed(&dir.join("consent"), spec).expect("signed consent");
    let out = dir.join("report");
    let mut cmd = lab.scan_command(&consent, &out, &dir.join("audit.log"), profile);
    let run = measure::run(&mut cmd, None, SCAN_LIMIT).unwrap_or_else(|e| panic!("the {name} scan did not end: {e:#}"));
    let report = Report::read(&out).ok();
    Scan { run, report, out }
}

/// The rows every run must pass: exit 0, deadline, memory, no panic, a complete report.
fn check_run(rows: &mut Rows, name: &str, s: &Scan, limit: Duration) {
    let r = &s.run;
    rows.check(format!("{name}: exit code 0"), r.code == Some(0), format!("{:?}; stderr: {}", r.code, tail(&r.stderr)));
    rows.check(format!("{name}: finished within {limit:?}"), r.wall <= limit, format!("{:.1} s", r.wall.as_secs_f64()));
    rows.check(
        format!("{name}: peak RSS under {} MiB", PEAK_RSS_LIMIT_KIB / 1024),
        r.peak_rss_kib > 0 && r.peak_rss_kib < PEAK_RSS_LIMIT_KIB,
        format!("VmHWM {} KiB", r.peak_rss_kib),
    );
    let panicked = r.stdout.contains("panicked") || r.stderr.contains("panicked");
    rows.check(format!("{name}: nothing panicked"), !panicked, tail(&r.stderr));
    let complete = s.report.as_ref().is_some_and(|rep| rep.complete);
    rows.check(format!("{name}: report.json written, complete"), complete, s.out.display().to_string());
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

fn ip(lab: &Lab, h: &str) -> IpAddr {
    IpAddr::V4(lab.host(h).ipv4)
}

/// Open TCP ports listed for a host, with how often each is listed.
fn listed_tcp(report: &Report, addr: IpAddr) -> BTreeMap<u16, usize> {
    let mut m = BTreeMap::new();
    for s in report.host(addr).map(|h| h.services.as_slice()).unwrap_or(&[]) {
        if s.protocol == "tcp" {
            *m.entry(s.port).or_insert(0) += 1;
        }
    }
    m
}

fn check_dup(rows: &mut Rows, lab: &Lab, report: &Report, tcp_ports: u64) {
    let addr = ip(lab, host::SYNACK_DUP);
    let fake = packets::fake_stats(lab.dir(), host::SYNACK_DUP).unwrap_or_default();
    rows.check("synack-dup: the fake replayed SYN-ACKs and RSTs", fake.dup > 0, fake.line());
    let listed = listed_tcp(report, addr);
    let service = report.service(addr, wijk_lab::Port::tcp(DUP_SERVICE.number)).and_then(|s| s.service.clone());
    rows.check(
        format!("synack-dup: exactly {DUP_SERVICE} listed, once, identified as redis"),
        listed == BTreeMap::from([(DUP_SERVICE.number, 1)]) && service.as_deref() == Some("redis"),
        format!("listed {listed:?}, service {service:?}"),
    );
    let Some(h) = report.host(addr) else { return rows.check("synack-dup: host reported", false, "absent") };
    rows.check(
        "synack-dup: every other port closed, none filtered",
        h.tcp_count("closed") == tcp_ports - 1 && h.tcp_count("filtered") == 0,
        format!("tally {}", h.tcp_ports),
    );
    rows.check(
        "synack-dup: report counts the duplicates (tcp_replies.duplicate)",
        h.replies("duplicate") > 0,
        format!("tcp_replies {:?}", h.tcp_replies),
    );
}

fn check_late(rows: &mut Rows, lab: &Lab, report: &Report, tcp_ports: u64) {
    let addr = ip(lab, host::SYNACK_LATE);
    let fake = packets::fake_stats(lab.dir(), host::SYNACK_LATE).unwrap_or_default();
    rows.check("synack-late: the fake answered late", fake.late > 0 && fake.dropped == 0, fake.line());
    let listed = listed_tcp(report, addr);
    let want: BTreeMap<u16, usize> = LATE_OPEN.iter().map(|p| (*p, 1)).collect();
    rows.check(
        format!("synack-late: exactly {LATE_OPEN:?} listed open, each once"),
        listed == want,
        format!("listed {listed:?}"),
    );
    let Some(h) = report.host(addr) else { return rows.check("synack-late: host reported", false, "absent") };
    let settled = h.tcp_count("closed") + h.tcp_count("filtered");
    rows.check(
        "synack-late: every other port closed or filtered (never open)",
        h.tcp_count("open") == LATE_OPEN.len() as u64 && settled == tcp_ports - LATE_OPEN.len() as u64,
        format!("tally {}", h.tcp_ports),
    );
    rows.check(
        "synack-late: report counts the late answers (tcp_replies.late)",
        h.replies("late") > 0,
        format!("tcp_replies {:?}", h.tcp_replies),
    );
}

fn check_storm(rows: &mut Rows, lab: &Lab, report: &Report, tcp_ports: u64) {
    let addr = ip(lab, host::ICMP_STORM);
    let fake = packets::fake_stats(lab.dir(), host::ICMP_STORM).unwrap_or_default();
    rows.check(
        format!("icmp-storm: the fake sent {STORM_PER_SYN} unreachables per SYN and forged ones"),
        fake.syns > 0 && fake.icmp >= fake.syns * u64::from(STORM_PER_SYN) && fake.forged > 0,
        fake.line(),
    );
    let Some(h) = report.host(addr) else { return rows.check("icmp-storm: host reported", false, "absent") };
    rows.check(
        "icmp-storm: no services, every port filtered",
        h.services.is_empty() && h.tcp_count("filtered") == tcp_ports,
        format!("services {:?}, tally {}", listed_tcp(report, addr), h.tcp_ports),
    );
    rows.check(
        "icmp-storm: report counts the unreachables (tcp_replies.unreachable)",
        h.replies("unreachable") >= tcp_ports,
        format!("tcp_replies {:?}", h.tcp_replies),
    );
    let unmatched = report.stat("unmatched_replies").unwrap_or(0.0);
    rows.check(
        "icmp-storm: forged unreachables ignored (stats.unmatched_replies)",
        unmatched > 0.0,
        format!("{unmatched}"),
    );
    let victims_filtered: Vec<String> = [host::SYNACK_DUP, host::MIDDLEBOX]
        .iter()
        .filter_map(|v| report.host(ip(lab, v)).map(|h| (v, h.tcp_count("filtered"))))
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| format!("{v}: {n} filtered"))
        .collect();
    rows.check(
        "icmp-storm: no other host's port marked filtered",
        victims_filtered.is_empty(),
        victims_filtered.join("; "),
    );
}

/// Connections the middlebox's Redis accepted (its own `redis-cli` is one of them).
fn redis_connections(lab: &Lab) -> Option<u64> {
    let ns = lab.netns(host::MIDDLEBOX);
    let out = run_checked(Command::new("ip").args(["netns", "exec", &ns, "redis-cli", "-p", "6379", "info", "stats"]))
        .ok()?;
    out.lines().find_map(|l| l.trim().strip_prefix("total_connections_received:")?.parse().ok())
}

fn check_middlebox(rows: &mut Rows, lab: &Lab, s: &Scan, name: &str) {
    let Some(report) = &s.report else { return };
    let addr = ip(lab, host::MIDDLEBOX);
    let Some(h) = report.host(addr) else { return rows.check(format!("{name}: middlebox reported"), false, "absent") };
    let open = h.middlebox.as_ref().and_then(|m| m.get("open")).and_then(|v| v.as_u64()).unwrap_or(0);
    rows.check(
        format!("{name}: middlebox reported as answering every port (hosts[].middlebox)"),
        open >= 100,
        format!("middlebox {:?}", h.middlebox),
    );
    let listed = listed_tcp(report, addr);
    rows.check(format!("{name}: middlebox has no TCP services listed"), listed.is_empty(), format!("{listed:?}"));
    rows.check(
        format!("{name}: the rest of its ports left unprobed"),
        h.tcp_count("unscanned") > 0,
        format!("tally {}", h.tcp_ports),
    );
    let said = s.run.stdout.contains(&format!("{addr}: answers on (nearly) every TCP port"));
    rows.check(format!("{name}: stdout says so"), said, tail(&s.run.stdout));
    let html = std::fs::read_to_string(s.out.join("report.html")).unwrap_or_default();
    let in_html = html.contains("answers on (nearly) every TCP port");
    rows.check(format!("{name}: report.html says so"), in_html, if in_html { "" } else { "no middlebox line" });
}

#[test]
fn the_agent_comes_through_duplicated_late_and_storming_answers_and_a_middlebox() {
    let test = "the_agent_comes_through_duplicated_late_and_storming_answers_and_a_middlebox";
    if !require_lab_or_skip(test, LabKind::Packets, &["redis-cli"]) {
        return;
    }
    if let Err(e) = agent::bin_checked() {
        panic!("{e:#}");
    }
    let lab = Lab::up_packets("wlpkt", Path::new(env!("CARGO_BIN_EXE_rawfake"))).expect("packets lab up");
    let work = tempfile::tempdir().expect("work dir");
    let mut rows = Rows::default();

    // One standard scan of the four hosts.
    let mut spec = ConsentSpec::for_lab(&lab.addressing());
    spec.max_rate = 1000;
    spec.max_per_host_rate = 250;
    let standard = scan(&lab, work.path(), "standard", &spec, "standard");
    let outside = lab.count_packets_from_scanner(host::OUTSIDE).expect("outside counters");
    assert_eq!(outside.total(), 0, "packets reached the excluded host: {outside:?}");
    check_run(&mut rows, "standard", &standard, SCAN_LIMIT);
    if let Some(report) = &standard.report {
        let tcp_ports = report
            .host(ip(&lab, host::SYNACK_DUP))
            .map_or(0, |h| ["open", "closed", "filtered", "unscanned"].iter().map(|s| h.tcp_count(s)).sum::<u64>());
        check_dup(&mut rows, &lab, report, tcp_ports);
        check_late(&mut rows, &lab, report, tcp_ports);
        check_storm(&mut rows, &lab, report, tcp_ports);
    }
    check_middlebox(&mut rows, &lab, &standard, "standard");
    let to_mbox = lab.count_packets_from_scanner(host::MIDDLEBOX).expect("middlebox counters").ipv4;
    rows.check(
        format!("standard: middlebox got fewer than {MIDDLEBOX_PACKETS_STANDARD} packets from the scanner"),
        to_mbox < MIDDLEBOX_PACKETS_STANDARD,
        format!("{to_mbox} packets"),
    );
    let accepted = redis_connections(&lab);
    rows.check(
        "standard: the middlebox's Redis saw no identification connection",
        accepted.is_some_and(|n| n <= 1),
        format!("total_connections_received {accepted:?} (redis-cli's own included)"),
    );

    // A full scan (65,535 ports) of the middlebox alone.
    let mut full_spec = ConsentSpec::for_lab(&lab.addressing());
    full_spec.include = vec![lab.host(host::MIDDLEBOX).ipv4.to_string()];
    full_spec.exclude = vec![];
    full_spec.max_rate = 1000;
    full_spec.max_per_host_rate = 1000;
    let full = scan(&lab, work.path(), "full", &full_spec, "full");
    check_run(&mut rows, "full", &full, MIDDLEBOX_FULL_LIMIT);
    check_middlebox(&mut rows, &lab, &full, "full");
    if let Some(report) = &full.report {
        let probes = report.stat("probes_sent").unwrap_or(f64::MAX);
        let open_tcp = report.stat("open_tcp").unwrap_or(f64::MAX);
        rows.check(
            format!("full: fewer than {MIDDLEBOX_PROBES_FULL} probes, no open TCP services"),
            probes < MIDDLEBOX_PROBES_FULL && open_tcp == 0.0,
            format!("probes_sent {probes}, open_tcp {open_tcp}"),
        );
    }
    let outside = lab.count_packets_from_scanner(host::OUTSIDE).expect("outside counters");
    assert_eq!(outside.total(), 0, "packets reached the excluded host: {outside:?}");

    let table = rows.table();
    // Shown even when the test passes (libtest captures only the print macros).
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "standard: {:.1} s, peak RSS {} KiB; full (middlebox): {:.1} s, peak RSS {} KiB\n{table}",
        standard.run.wall.as_secs_f64(),
        standard.run.peak_rss_kib,
        full.run.wall.as_secs_f64(),
        full.run.peak_rss_kib
    );
    if rows.failed() > 0 {
        let kept = work.keep();
        panic!(
            "{} rows failed:\n{table}\nreports kept under {}; lab logs:\n{}",
            rows.failed(),
            kept.display(),
            lab.daemon_logs()
        );
    }
}
