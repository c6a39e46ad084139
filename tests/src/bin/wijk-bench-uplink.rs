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
use wijk_lab::bench::uplink::{prepare, run, BenchAgent, Figures};
use wijk_lab::brokers::{Mosquitto, PgDatabase};
use wijk_lab::collector::{self_report, Collector};
use wijk_lab::process::find_program;
use wijk_protocol::topics;

/// Agents (`BENCH_AGENTS`, default 20) and summaries per agent (`BENCH_PER_AGENT`, default 1000).
fn sizes() -> (usize, usize) {
    let get = |k: &str, d| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    (get("BENCH_AGENTS", 20), get("BENCH_PER_AGENT", 1000))
}

fn bench_topic(agent: &str) -> String {
    format!("/tenants/{agent}/wijk/v1/bench")
}

fn main() -> Result<()> {
    let work = tempfile::tempdir()?;
    let report_path = self_report(&work.path().join("report"))?;
    let report = wijkagent::report::diff::load(&report_path).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut figures = Vec::new();
    let (agents_n, per_agent) = sizes();

    // 1. Embedded broker and SQLite.
    {
        let dir = work.path().join("embedded");
        let collector = Collector::start(&dir.join("wijkpost"), &[])?;
        let agents = prepare(&collector, &dir, &report, agents_n, per_agent)?;
        eprintln!("embedded: raw broker rate");
        let raw = run(&collector.broker_url, &agents, bench_topic, bench_topic)?;
        eprintln!("embedded: summaries");
        let summaries = run(&collector.broker_url, &agents, topics::summary, topics::receipt).inspect_err(|_| {
            eprintln!("wijkpost logged:\n{}", collector.log_text());
        })?;
        figures.push(figure("embedded+sqlite", &agents, summaries, raw));
        eprintln!("embedded: {summaries:.0}/s, raw {raw:.0}/s");
    }
    // 2. Mosquitto and PostgreSQL.
    match (find_program("mosquitto"), PgDatabase::create()?) {
        (Some(_), Some(db)) => {
            let dir = work.path().join("scaled");
            let data = dir.join("wijkpost");
            let extra = "\n# benchmark only: the raw broker rate\npattern readwrite /tenants/%u/wijk/v1/bench\n";
            let broker = Mosquitto::for_wijkpost_with(&dir.join("mosquitto"), &data, extra)?;
            let collector = Collector::start(&data, &["--broker", &broker.url, "--database", &db.url])?;
            let agents = prepare(&collector, &dir, &report, agents_n, per_agent)?;
            eprintln!("mosquitto: raw broker rate");
            let raw = run(&broker.url, &agents, bench_topic, bench_topic)?;
            eprintln!("mosquitto: summaries");
            let summaries = run(&broker.url, &agents, topics::summary, topics::receipt).inspect_err(|_| {
                eprintln!("wijkpost logged:\n{}", collector.log_text());
            })?;
            figures.push(figure("mosquitto+postgres", &agents, summaries, raw));
            std::thread::sleep(Duration::from_millis(100));
        }
        _ => println!("mosquitto+postgres: skipped (mosquitto or PostgreSQL missing)"),
    }

    println!("\n| stack | summaries | payload | summaries/s (publish → receipt) | raw broker msgs/s | ratio |");
    println!("|---|---|---|---|---|---|");
    for f in &figures {
        println!(
            "| {} | {} | {} B | {:.0} | {:.0} | {:.2} |",
            f.stack,
            f.summaries,
            f.payload_bytes,
            f.summaries_per_s,
            f.raw_per_s,
            f.summaries_per_s / f.raw_per_s
        );
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out)?;
    let doc = json!({"schema": "wijk.bench-uplink/1", "agents": agents_n, "per_agent": per_agent, "results": figures});
    std::fs::write(out.join("uplink.json"), serde_json::to_string_pretty(&doc)?).context("write uplink.json")?;
    println!("\nresults: {}", out.join("uplink.json").display());
    Ok(())
}

fn figure(stack: &str, agents: &[BenchAgent], summaries_per_s: f64, raw_per_s: f64) -> Figures {
    Figures {
        stack: stack.to_string(),
        summaries: agents.iter().map(|a| a.payloads.len()).sum(),
        payload_bytes: agents.first().and_then(|a| a.payloads.first()).map_or(0, Vec::len),
        summaries_per_s,
        raw_per_s,
    }
}
