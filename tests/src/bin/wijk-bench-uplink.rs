//! `wijk-bench-uplink`: summaries per second from agent to wijkpost until the receipt, on the embedded
//! stack (rumqttd + SQLite) and the scaled one (Mosquitto + PostgreSQL), each beside the raw rate of
//! the same broker for the same messages ([`wijk_lab::bench::uplink`]). Targets: at least half the
//! raw broker rate, and at least 10,000 summaries/s on the embedded stack.
//!
//! Run with `tests/bench uplink` (builds release binaries first). Loopback only. Writes
//! `target/bench/uplink.json`.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;
use wijk_lab::bench::uplink::{median, prepare, range, run, BenchAgent, Figures, Rate, Route};
use wijk_lab::brokers::{Mosquitto, PgDatabase};
use wijk_lab::collector::{self_report, Collector};
use wijk_lab::process::find_program;

/// Agents (`BENCH_AGENTS`, default 10), summaries per agent and round (`BENCH_PER_AGENT`, default
/// 10,000), and alternating rounds (raw broker, then wijkpost) per stack (`BENCH_ROUNDS`, default 5;
/// the figures are the medians). The raw broker's rate is bound by round trips, not by the CPU, and
/// one round of 50,000 messages could differ twofold from the next; 100,000 per round and the
/// median of five make the reference depend less on one round (the range is reported beside it).
fn sizes() -> (usize, usize, usize) {
    let get = |k: &str, d| std::env::var(k).ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(d);
    (get("BENCH_AGENTS", 10), get("BENCH_PER_AGENT", 10_000), get("BENCH_ROUNDS", 5))
}

/// Whether to measure `stack` (`BENCH_STACKS`: a comma-separated list of `embedded`, `mosquitto`;
/// default both).
fn wanted(stack: &str) -> bool {
    std::env::var("BENCH_STACKS").map_or(true, |list| list.split(',').any(|s| s.trim() == stack))
}

/// `rounds` alternating rounds of the raw broker rate and wijkpost's rate on `broker`; the medians.
/// `pids`: the broker's and wijkpost's processes, whose CPU time is counted with this one's.
fn measure(
    stack: &str,
    broker: &str,
    agents: &[BenchAgent],
    (per_agent, rounds): (usize, usize),
    pids: &[u32],
    log: &dyn Fn() -> String,
) -> Result<Figures> {
    let (mut raw, mut summaries): (Vec<Rate>, Vec<Rate>) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let this: Vec<BenchAgent> = agents.iter().map(|a| a.round(round, per_agent)).collect();
        eprintln!("{stack}, round {} of {rounds}: raw broker rate", round + 1);
        raw.push(run(broker, &this, Route::echo(bench_topic), pids)?);
        eprintln!("{stack}, round {} of {rounds}: summaries to wijkpost", round + 1);
        summaries.push(run(broker, &this, Route::summaries(), pids).inspect_err(|_| {
            eprintln!("wijkpost logged:\n{}", log());
        })?);
        let (r, s) = (&raw[round], &summaries[round]);
        eprintln!(
            "  raw {:.0}/s ({:.1} CPU µs each), summaries {:.0}/s ({:.1} CPU µs each)",
            r.per_s, r.cpu_us_per_msg, s.per_s, s.cpu_us_per_msg
        );
    }
    let first: Vec<BenchAgent> = agents.iter().map(|a| a.round(0, per_agent)).collect();
    let rates = |v: &[Rate], f: fn(&Rate) -> f64| median(v.iter().map(f).collect());
    Ok(Figures {
        stack: stack.to_string(),
        summaries: first.iter().map(|a| a.payloads.len()).sum(),
        payload_bytes: first.first().and_then(|a| a.payloads.first()).map_or(0, Vec::len),
        summaries_per_s: rates(&summaries, |r| r.per_s),
        raw_per_s: rates(&raw, |r| r.per_s),
        summaries_range: range(&summaries.iter().map(|r| r.per_s).collect::<Vec<_>>()),
        raw_range: range(&raw.iter().map(|r| r.per_s).collect::<Vec<_>>()),
        cpu_us_per_summary: rates(&summaries, |r| r.cpu_us_per_msg),
        raw_cpu_us_per_msg: rates(&raw, |r| r.cpu_us_per_msg),
        raw_threads: raw.last().map(|r| r.threads.clone()).unwrap_or_default(),
        summary_threads: summaries.last().map(|r| r.threads.clone()).unwrap_or_default(),
    })
}

fn bench_topic(agent: &str) -> String {
    format!("/tenants/{agent}/wijk/v1/bench")
}

fn main() -> Result<()> {
    let work = tempfile::tempdir()?;
    let report_path = self_report(&work.path().join("report"))?;
    let report = wijkagent::report::diff::load(&report_path).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut figures = Vec::new();
    let (agents_n, per_agent, rounds) = sizes();

    // 1. Embedded broker and SQLite.
    if wanted("embedded") {
        let dir = work.path().join("embedded");
        // A load generator sends thousands per second per agent: no per-agent budget.
        let collector = Collector::start(&dir.join("wijkpost"), &["--agent-rate", "0"])?;
        let agents = prepare(&collector, &dir, &report, agents_n, per_agent * rounds)?;
        let log = || collector.log_text();
        let pids = [collector.pid()];
        figures.push(measure("embedded+sqlite", &collector.broker_url, &agents, (per_agent, rounds), &pids, &log)?);
    }
    // 2. Mosquitto and PostgreSQL.
    let scaled = if wanted("mosquitto") { Some((find_program("mosquitto"), PgDatabase::create()?)) } else { None };
    match scaled {
        None => {}
        Some((Some(_), Some(db))) => {
            let dir = work.path().join("scaled");
            let data = dir.join("wijkpost");
            let extra = "\n# benchmark only: the raw broker rate\npattern readwrite /tenants/%u/wijk/v1/bench\n";
            let broker = Mosquitto::for_wijkpost_with(&dir.join("mosquitto"), &data, extra)?;
            let collector =
                Collector::start(&data, &["--broker", &broker.url, "--database", &db.url, "--agent-rate", "0"])?;
            let agents = prepare(&collector, &dir, &report, agents_n, per_agent * rounds)?;
            let log = || collector.log_text();
            // With the PostgreSQL server processes of wijkpost's connections.
            let mut pids = vec![collector.pid(), broker.pid()];
            pids.extend(db.server_pids()?);
            figures.push(measure("mosquitto+postgres", &broker.url, &agents, (per_agent, rounds), &pids, &log)?);
            std::thread::sleep(Duration::from_millis(100));
        }
        _ => println!("mosquitto+postgres: skipped (mosquitto or PostgreSQL missing)"),
    }

    println!("\n{rounds} rounds per stack; rates are medians, with the slowest and fastest round in brackets");
    println!("| stack | summaries per round | payload | summaries/s (publish → receipt) | raw broker msgs/s | ratio | CPU µs per summary / per raw message | target |");
    println!("|---|---|---|---|---|---|---|---|");
    for f in &figures {
        let ratio = f.summaries_per_s / f.raw_per_s;
        let floor = if f.stack.starts_with("embedded") { 10_000.0 } else { 0.0 };
        let met = ratio >= 0.5 && f.summaries_per_s >= floor;
        println!(
            "| {} | {} | {} B | {:.0} ({:.0}–{:.0}) | {:.0} ({:.0}–{:.0}) | {ratio:.2} | {:.1} / {:.1} | {} |",
            f.stack,
            f.summaries,
            f.payload_bytes,
            f.summaries_per_s,
            f.summaries_range.0,
            f.summaries_range.1,
            f.raw_per_s,
            f.raw_range.0,
            f.raw_range.1,
            f.cpu_us_per_summary,
            f.raw_cpu_us_per_msg,
            if met { "met" } else { "missed (≥ 0.50 of raw; embedded ≥ 10,000/s)" }
        );
    }
    for f in &figures {
        for (what, threads) in [("raw broker", &f.raw_threads), ("summaries", &f.summary_threads)] {
            println!("\n{}, {what} (last round), busiest threads: cores busy, CPU µs per message", f.stack);
            for t in threads {
                println!("  {:<40} {:>5.2} {:>7.1}", t.thread, t.cores, t.cpu_us_per_msg);
            }
        }
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out)?;
    let doc = json!({
        "schema": "wijk.bench-uplink/1",
        "agents": agents_n,
        "per_agent": per_agent,
        "rounds": rounds,
        "results": figures,
    });
    std::fs::write(out.join("uplink.json"), serde_json::to_string_pretty(&doc)?).context("write uplink.json")?;
    println!("\nresults: {}", out.join("uplink.json").display());
    Ok(())
}
