//! `wijk-bench-trends`: the dashboard's API and pages over five years of weekly summaries from
//! 1,000 organisations (synthetic, [`wijk_lab::bench::trends`]), on SQLite and on PostgreSQL; target
//! p95 under 100 ms for every path. Run with `tests/bench trends`. Loopback only. Writes
//! `target/bench/trends.json`.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;
use wijk_lab::bench::trends::{populate, time_paths, Timing, ORGS, REQUESTS, WEEKS};
use wijk_lab::brokers::PgDatabase;
use wijk_lab::collector::{bin_checked, Collector};
use wijkpost::store::StoreConfig;

const USER: &str = "bench";
const PASSWORD: &str = "synthetic-bench-password";

fn main() -> Result<()> {
    let work = tempfile::tempdir()?;
    let mut results = Vec::new();
    let pg = PgDatabase::create()?;
    let stacks: Vec<(&str, Option<String>)> = match &pg {
        Some(db) => vec![("sqlite", None), ("postgres", Some(db.url.clone()))],
        None => {
            println!("postgres: skipped (PostgreSQL not reachable)");
            vec![("sqlite", None)]
        }
    };
    for (name, database) in stacks {
        let data = work.path().join(name);
        std::fs::create_dir_all(&data)?;
        let config = StoreConfig::parse(database.as_deref(), &data)?;
        eprintln!("{name}: writing {ORGS} organisations × {WEEKS} weeks (synthetic)");
        let started = Instant::now();
        let rows = populate(config.open()?.as_mut(), chrono::Utc::now())?;
        let written_s = started.elapsed().as_secs_f64();
        let mut add = Command::new(bin_checked()?);
        add.args(["user", "add", "--name", USER, "--role", "analyst", "--data"]).arg(&data);
        if let Some(url) = &database {
            add.args(["--database", url]);
        }
        let status = add.env("WIJKPOST_PASSWORD", PASSWORD).stdout(Stdio::null()).status()?;
        if !status.success() {
            bail!("wijkpost user add failed");
        }
        let extra: Vec<&str> = database.as_deref().map(|u| vec!["--database", u]).unwrap_or_default();
        let started = Instant::now();
        let collector = Collector::start(&data, &extra).context("wijkpost serve")?;
        let load_s = started.elapsed().as_secs_f64();
        eprintln!("{name}: {rows} summaries written in {written_s:.1} s; wijkpost up (index loaded) in {load_s:.1} s");
        let timings = time_paths(&collector.web_url, USER, PASSWORD)?;
        drop(collector);
        results.push((name, rows, load_s, timings));
    }
    println!("\n| store | path | p50 ms | p95 ms | max ms | bytes |");
    println!("|---|---|---|---|---|---|");
    let mut worst: f64 = 0.0;
    for (name, _, _, timings) in &results {
        for t in timings {
            worst = worst.max(t.p95_ms);
            println!("| {name} | `{}` | {:.1} | {:.1} | {:.1} | {} |", t.path, t.p50_ms, t.p95_ms, t.max_ms, t.bytes);
        }
    }
    println!(
        "\nworst p95: {worst:.1} ms ({} requests per path) — target < 100 ms: {}",
        REQUESTS,
        if worst < 100.0 { "met" } else { "missed" }
    );
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out)?;
    let doc = json!({
        "schema": "wijk.bench-trends/1",
        "synthetic": true,
        "organisations": ORGS,
        "weeks": WEEKS,
        "requests_per_path": REQUESTS,
        "results": results.iter().map(|(name, rows, load_s, timings): &(&str, usize, f64, Vec<Timing>)| json!({
            "store": name, "summaries": rows, "start_with_index_s": load_s, "timings": timings,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(out.join("trends.json"), serde_json::to_string_pretty(&doc)?)?;
    println!("results: {}", out.join("trends.json").display());
    Ok(())
}
