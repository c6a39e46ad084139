//! `wijk-bench`: wijkagent against nmap, in one namespace lab, in one run, ratios printed.
//!
//! 1. SYN scan, TCP 1-65535, every live lab host: wall time vs `nmap -n -sS -p- -T4` (target ≤ 0.5×),
//!    open ports identical.
//! 2. Connect scan, the same job: vs `nmap -n -sT -p- -T4` (target ≤ 0.5×).
//! 3. Rate: `--rate 500` over ≥ 10,000 probes, packets counted on the wire by tcpdump: average
//!    within 3 % of 500/s, no one-second bucket above 550.
//! 4. Memory: a /16 scope (mostly dead addresses, quick profile, capped rate), stopped after a bounded
//!    time: peak RSS ≤ 20 MB, nmap's peak on the same job beside it.
//! 5. Services (`services`, services lab, hostile hosts left out): `wijkagent scan --profile standard`
//!    vs `nmap -n -sV -p <standard TCP ports>` (target ≤ 0.5×), and how often wijkagent agrees with
//!    nmap's service names, products and versions ([`identify`]).
//! 6. TLS (`tls`, services lab; needs `apt-get install testssl.sh`): accepted versions and
//!    certificate verdicts per TLS endpoint vs testssl.sh `-p -S` ([`testssl`]).
//!
//! Run as root with `tests/bench [syn] [connect] [rate] [memory] [services] [tls]` (builds release
//! binaries first). Every probe stays inside the lab's namespaces (198.18.0.0/15). Results: a table
//! on stdout and `target/bench/results.json` (entries of jobs not run this time are kept).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::json;
use wijk_lab::bench::{agent_scan, identify, measure, nmap, testssl, wire};
use wijk_lab::consent_fixture::{write_signed, ConsentSpec, SignedConsent};
use wijk_lab::lab::{require_lab_or_skip, require_root_and_programs, Lab};
use wijk_lab::report::Report;
use wijk_lab::LabKind;

const RATE_MAX: u32 = 1_000_000;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let only = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    let fast_rate: u32 = std::env::var("BENCH_RATE").ok().and_then(|r| r.parse().ok()).unwrap_or(200_000);
    if !require_root_and_programs("wijk-bench", &["nmap", "tcpdump"]) {
        bail!("wijk-bench needs root, nmap and tcpdump");
    }
    let nmap_version = String::from_utf8_lossy(&std::process::Command::new("nmap").arg("--version").output()?.stdout)
        .lines()
        .next()
        .unwrap_or("nmap ?")
        .to_string();
    let mut results = serde_json::Map::new();
    if BASIC_JOBS.iter().any(|j| only(j)) || args.iter().any(|a| a == "hold") {
        basic(&args, fast_rate, &nmap_version, &mut results)?;
    }
    if only("services") || only("tls") {
        services_lab(&args, fast_rate, &mut results)?;
    }
    let out = bench_dir()?;
    // Jobs run now replace their entries; entries of jobs not run this time are kept.
    let mut all = std::fs::read_to_string(out.join("results.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .filter(|d| d.get("schema").and_then(serde_json::Value::as_str) == Some("wijk.bench/1"))
        .and_then(|d| d.get("results").and_then(serde_json::Value::as_object).cloned())
        .unwrap_or_default();
    all.extend(results);
    let doc = json!({"schema": "wijk.bench/1", "nmap": nmap_version, "results": all});
    std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&doc)?)?;
    println!("\nresults: {}", out.join("results.json").display());
    Ok(())
}

/// `target/bench`, made if missing.
fn bench_dir() -> Result<std::path::PathBuf> {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out)?;
    Ok(out)
}

/// Jobs of the basic lab.
const BASIC_JOBS: &[&str] = &["syn", "connect", "rate", "memory"];

/// Benchmarks 1-4 (and `hold`), in a basic lab.
fn basic(
    args: &[String],
    fast_rate: u32,
    nmap_version: &str,
    results: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    let only = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    let lab = Lab::up("bench")?;
    let dir = tempfile::tempdir()?;
    let addr = lab.addressing();
    let targets: Vec<IpAddr> = addr.live_targets().iter().map(|h| IpAddr::V4(h.ipv4)).collect();
    let mut spec = ConsentSpec::for_lab(&addr);
    spec.include = targets.iter().map(|t| t.to_string()).collect();
    spec.exclude.clear();
    spec.max_rate = RATE_MAX;
    spec.max_per_host_rate = RATE_MAX;
    let consent = write_signed(&dir.path().join("lab"), &spec)?;
    println!("wijk-bench — {nmap_version}; lab {}, {} live hosts\n", addr.ipv4_net(), targets.len());
    if args.iter().any(|a| a == "hold") {
        return hold(&lab, &consent, &targets);
    }
    if only("syn") {
        let r = compare(&lab, &consent, dir.path(), &targets, "syn", fast_rate)?;
        results.insert("syn_full_range".into(), r);
    }
    if only("connect") {
        let r = compare(&lab, &consent, dir.path(), &targets, "connect", fast_rate)?;
        results.insert("connect_full_range".into(), r);
    }
    if only("rate") {
        results.insert("rate_500".into(), rate_accuracy(&lab, &consent, dir.path())?);
    }
    if only("memory") {
        results.insert("memory_slash16".into(), memory(&lab, dir.path())?);
    }
    Ok(())
}

/// Benchmarks 5 (`services`) and 6 (`tls`), in a services lab.
fn services_lab(
    args: &[String],
    fast_rate: u32,
    results: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    let only = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    if !require_lab_or_skip("wijk-bench services", LabKind::Services, &["nmap"]) {
        bail!("the services and tls jobs need root and the services lab's programs");
    }
    // Built beside this program by `cargo build -p wijk-lab` (tests/bench does).
    let hostile = std::env::current_exe()?.with_file_name("hostile");
    let lab = Lab::up_services("benchsvc", &hostile)?;
    let dir = tempfile::tempdir()?;
    println!("\nwijk-bench — services lab {}\n", lab.addressing().ipv4_net());
    if only("services") {
        results.insert("services_standard".into(), identify::run(&lab, dir.path(), fast_rate)?);
    }
    if only("tls") {
        let keep = bench_dir()?;
        results.insert("tls_testssl".into(), testssl::run(&lab, dir.path(), &keep, fast_rate)?);
    }
    Ok(())
}

type PortSets = BTreeMap<IpAddr, BTreeSet<(u16, String)>>;

fn agent_open_tcp(report: &Report) -> PortSets {
    report
        .open_ports()
        .into_iter()
        .map(|(ip, ports)| {
            let tcp = ports.into_iter().filter(|p| p.proto.as_str() == "tcp").map(|p| (p.number, "tcp".to_string()));
            (ip, tcp.collect())
        })
        .collect()
}

fn drop_empty(mut m: PortSets) -> PortSets {
    m.retain(|_, v| !v.is_empty());
    m
}

/// Runs of each side in benchmarks 1 and 2; the median wall time counts (alternating runs, so a
/// slow moment of the machine hits both sides alike).
const RUNS: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Benchmarks 1 and 2.
fn compare(
    lab: &Lab,
    consent: &SignedConsent,
    dir: &Path,
    targets: &[IpAddr],
    method: &str,
    rate: u32,
) -> Result<serde_json::Value> {
    let out = dir.join(format!("report-{method}"));
    let rate_s = rate.to_string();
    // Open ports only, as `nmap -sS`/`-sT` does: service identification is benchmarked separately.
    let mut extra = vec!["--ports", "1-65535", "--rate", &rate_s, "--per-host-rate", &rate_s, "--no-services"];
    if method == "connect" {
        extra.push("--connect");
    }
    let flag = if method == "syn" { "-sS" } else { "-sT" };
    let mut nmap_args: Vec<String> =
        ["nmap", "-n", flag, "-p-", "-T4", "-oG", "-"].iter().map(|s| s.to_string()).collect();
    nmap_args.extend(targets.iter().map(|t| t.to_string()));
    let (mut ours_s, mut nmap_s) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..RUNS {
        let ours = measure::run(&mut agent_scan(lab, consent, &out, &extra), None, Duration::from_secs(600))?;
        if ours.code != Some(0) {
            bail!("wijkagent {method} scan failed ({:?}): {}", ours.code, ours.stderr);
        }
        let theirs = measure::run(&mut lab.scanner_exec(&nmap_args), None, Duration::from_secs(1200))?;
        ours_s.push(ours.wall.as_secs_f64());
        nmap_s.push(theirs.wall.as_secs_f64());
        last = Some(theirs);
    }
    let theirs = last.context("no run")?;
    let report = Report::read(&out).context("agent report")?;
    let ours_open = drop_empty(agent_open_tcp(&report));
    let nmap_open = drop_empty(nmap::open_ports(&theirs.stdout));
    let (ours_med, nmap_med) = (median(ours_s.clone()), median(nmap_s.clone()));
    let ratio = ours_med / nmap_med;
    let same = ours_open == nmap_open;
    println!(
        "{method:>8} full range: wijkagent {ours_med:6.2} s ({:.0} pps, {} probes) | nmap {nmap_med:6.2} s | ratio {ratio:.2} (target ≤ 0.50) {} | open ports {}  [medians of {RUNS}: ours {ours_s:.2?}, nmap {nmap_s:.2?}]",
        report.stat("achieved_pps").unwrap_or(0.0),
        report.stat("probes_sent").unwrap_or(0.0),
        if ratio <= 0.5 { "PASS" } else { "FAIL" },
        if same { "identical".to_string() } else { format!("DIFFER: ours {ours_open:?} nmap {nmap_open:?}") },
    );
    Ok(json!({
        "wijkagent_s": ours_med, "nmap_s": nmap_med, "ratio": ratio, "runs": {"wijkagent": ours_s, "nmap": nmap_s},
        "target_ratio": 0.5, "pass": ratio <= 0.5 && same, "open_ports_identical": same,
        "rate_cap": rate, "probes_sent": report.stat("probes_sent"),
        "open_ports": ours_open.values().map(BTreeSet::len).sum::<usize>(),
    }))
}

/// Benchmark 3.
fn rate_accuracy(lab: &Lab, consent: &SignedConsent, dir: &Path) -> Result<serde_json::Value> {
    let out = dir.join("report-rate");
    let filter = "arp or icmp or icmp6 or (tcp and tcp[tcpflags] & tcp-rst == 0)";
    let capture = wire::Capture::start(&lab.bridge_netns(), "p-scanner", filter)?;
    let extra = ["--ports", "1-1500", "--rate", "500", "--per-host-rate", "500"];
    let ours = measure::run(&mut agent_scan(lab, consent, &out, &extra), None, Duration::from_secs(120))?;
    let f = capture.stop()?;
    if ours.code != Some(0) {
        bail!("wijkagent rate scan failed: {}", ours.stderr);
    }
    let off = (f.average_pps - 500.0).abs() / 500.0 * 100.0;
    let pass = f.packets >= 10_000 && off <= 3.0 && f.max_bucket <= 550;
    println!(
        "    rate --rate 500: {} packets on the wire in {:.2} s, average {:.1} pps ({off:.2} % off, target ≤ 3 %), busiest second {} (target ≤ 550) {}",
        f.packets,
        f.span_s,
        f.average_pps,
        f.max_bucket,
        if pass { "PASS" } else { "FAIL" }
    );
    Ok(
        json!({"packets": f.packets, "span_s": f.span_s, "average_pps": f.average_pps, "off_percent": off, "max_bucket": f.max_bucket, "pass": pass}),
    )
}

/// Benchmark 4.
fn memory(lab: &Lab, dir: &Path) -> Result<serde_json::Value> {
    // A /16 of addresses nobody owns, directly attached to the scanner: every target is asked by ARP.
    let big = "198.19.0.0/16";
    let status = lab.netns_exec("scanner", ["ip", "addr", "add", "198.19.0.2/16", "dev", "eth0"]).status()?;
    if !status.success() {
        bail!("could not add the /16 to the scanner's link");
    }
    let mut spec = ConsentSpec::for_lab(&lab.addressing());
    spec.include = vec![big.into()];
    spec.exclude = vec!["198.19.0.2".into()];
    spec.profile = "quick".into();
    spec.max_rate = 2000;
    spec.max_per_host_rate = 20;
    let consent = write_signed(&dir.join("big"), &spec)?;
    let run_for = Duration::from_secs(30);
    let out = dir.join("report-big");
    let ours = measure::run(&mut agent_scan(lab, &consent, &out, &["--profile", "quick"]), Some(run_for), run_for * 2)?;
    // nmap's own 100 most frequent ports stand in for the quick profile (same size, ~100 ports).
    let nmap_args = ["nmap", "-n", "-sS", "--top-ports", "100", "--max-rate", "2000", "--exclude", "198.19.0.2", big];
    let theirs = measure::run(&mut lab.scanner_exec(nmap_args), Some(run_for), run_for * 2)?;
    let ours_mb = ours.peak_rss_kib as f64 / 1024.0;
    let nmap_mb = theirs.peak_rss_kib as f64 / 1024.0;
    let pass = ours_mb <= 20.0;
    println!(
        "  memory /16, quick, 2000 pps, stopped after {} s: wijkagent peak {ours_mb:.1} MB (target ≤ 20) {} | nmap peak {nmap_mb:.1} MB | ratio {:.2}",
        run_for.as_secs(),
        if pass { "PASS" } else { "FAIL" },
        ours_mb / nmap_mb.max(0.001),
    );
    Ok(
        json!({"wijkagent_peak_mb": ours_mb, "nmap_peak_mb": nmap_mb, "target_mb": 20, "pass": pass, "seconds": run_for.as_secs(), "rate": 2000}),
    )
}

/// `wijk-bench hold`: keeps the lab up (at most an hour, or until killed) for experiments by hand.
fn hold(lab: &Lab, consent: &SignedConsent, targets: &[IpAddr]) -> Result<()> {
    println!("lab {} is up; scanner namespace {}", lab.name(), lab.netns("scanner"));
    println!("scope {} (trust {})", consent.scope.display(), consent.keys.public_key.display());
    println!("targets {}", targets.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" "));
    std::thread::sleep(Duration::from_secs(3600));
    Ok(())
}
