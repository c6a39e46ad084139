//! The size the index is built for, measured: five years of weekly summaries from 1,000
//! organisations. Run with
//! `cargo test -p wijkpost --release --lib trends -- --ignored --nocapture`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use wijk_protocol::advice::Link;
use wijk_protocol::summary::Severity;

use super::testdata::row;
use super::*;
use crate::org::{Province, Sector, SizeClass};

const ORGS: usize = 1000;
const WEEKS: u32 = 260;
const IDS: usize = 150;
const KINDS: usize = 30;
const SEVERITIES: [Severity; 5] = [Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

/// Calls `each` with every synthetic row, week by week.
fn synthetic(mut each: impl FnMut(&FactRow)) {
    let mut rng = StdRng::seed_from_u64(2026);
    let first = IsoWeek::parse("2021-W01").map(|w| w.ordinal()).unwrap_or(0);
    let orgs: Vec<(Sector, SizeClass, Province, usize)> = (0..ORGS)
        .map(|_| {
            let agents = if rng.gen_bool(0.1) { 2 } else { 1 };
            (
                Sector::ALL[rng.gen_range(0..Sector::ALL.len())],
                SizeClass::ALL[rng.gen_range(0..SizeClass::ALL.len())],
                Province::ALL[rng.gen_range(0..Province::ALL.len())],
                agents,
            )
        })
        .collect();
    for w in 0..WEEKS {
        let week = IsoWeek::from_ordinal(first + w).to_string();
        for (o, &(sector, size, province, agents)) in orgs.iter().enumerate() {
            for a in 0..agents {
                let mut r = row(&format!("org{o}"), &format!("agent{o}x{a}"), &week, u64::from(w) + 1)
                    .attrs(sector, size, province);
                let count = rng.gen_range(10..=30);
                for id in sample(&mut rng, IDS, count) {
                    r = r.weak_sev(&format!("weak-{id:03}"), SEVERITIES[id % 5], rng.gen_range(1..40));
                }
                let count = rng.gen_range(5..=15);
                for kind in sample(&mut rng, KINDS, count) {
                    r = r.service(&format!("kind-{kind:02}"));
                }
                let (old, cert) = (rng.gen_range(0..3), rng.gen_range(0..3));
                r = r.tls(|t| (t.protocols.tls1_0, t.certificates.expired, t.protocols.tls1_2) = (old, cert, 5));
                each(&r.0);
            }
        }
    }
}

/// The median of `runs` timings of `f`.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn five_years_of_a_thousand_organisations() {
    let start = Instant::now();
    let mut rows = 0u64;
    synthetic(|_| rows += 1);
    let generating = start.elapsed();

    let mut index = Index::new(DEFAULT_K).expect("k = 5");
    let start = Instant::now();
    synthetic(|r| {
        index.insert(r).expect("valid row");
    });
    let building = start.elapsed().saturating_sub(generating);
    let before = index.heap_bytes();
    let start = Instant::now();
    index.shrink_to_fit();
    let shrinking = start.elapsed();
    println!("rows: {rows}, generating them: {generating:.2?}");
    println!(
        "build (inserting, generation subtracted): {building:.2?}, {:.1} µs per row",
        building.as_secs_f64() * 1e6 / rows as f64
    );
    println!(
        "heap: {:.1} MB while loading, {:.1} MB after shrink_to_fit ({shrinking:.2?})",
        before as f64 / 1e6,
        index.heap_bytes() as f64 / 1e6
    );

    let (_, last) = index.week_span().expect("data");
    let all = Filter::all();
    let sector = Filter::all().sector(Sector::Gemeente);
    let narrow = Filter::all().sector(Sector::Gemeente).province(Province::Limburg);
    let latest = Filter::all().week(last);
    let weakness = Measure::Weakness("weak-004".to_string());
    let links: HashMap<String, Vec<Link>> = HashMap::new();
    let cases: Vec<(&str, Duration)> = vec![
        ("participation, 260 weeks", time(7, || index.participation(&all))),
        ("participation, 260 weeks, sector+province", time(7, || index.participation(&narrow))),
        ("prevalence, every id, 260 weeks", time(7, || index.prevalence(&all, None))),
        ("prevalence, every id, 260 weeks, sector", time(7, || index.prevalence(&sector, None))),
        ("prevalence, one id, 260 weeks", time(7, || index.prevalence(&all, Some("weak-004")))),
        ("prevalence, every id, latest week", time(7, || index.prevalence(&latest, None))),
        ("tls hygiene, 260 weeks", time(7, || index.tls_hygiene(&all))),
        ("service exposure, 260 weeks", time(7, || index.service_exposure(&all))),
        (
            "breakdown by province, one id, latest week",
            time(7, || index.breakdown(&latest, &weakness, Dimension::Province)),
        ),
        ("breakdown by sector, one id, 260 weeks", time(7, || index.breakdown(&all, &weakness, Dimension::Sector))),
        ("priorities, latest 4 weeks", time(7, || index.priorities(&all, 10))),
        ("priorities, sector, latest 4 weeks", time(7, || index.priorities(&sector, 10))),
        ("advice for one agent (top 10)", time(7, || index.advice("agent7x0", 10, &links))),
        ("serialising prevalence, every id, 260 weeks (JSON)", {
            let p = index.prevalence(&all, None).expect("slugs");
            time(3, || serde_json::to_vec(&p).map(|v| v.len()))
        }),
    ];
    for (name, took) in &cases {
        println!("{name:<55} {took:>10.2?}");
    }
    // One more week arriving, row by row, as the ingest thread would insert it.
    let next = IsoWeek::from_ordinal(last.ordinal() + 1).to_string();
    let extra: Vec<FactRow> = (0..ORGS)
        .map(|o| row(&format!("org{o}"), &format!("agent{o}x0"), &next, 10_000).weak("weak-001", 1).0)
        .collect();
    let start = Instant::now();
    for r in &extra {
        index.insert(r).expect("valid row");
    }
    println!("{:<55} {:>10.2?}", "insert, per row, into a new week", start.elapsed() / ORGS as u32);
    let slowest = cases.iter().map(|c| c.1).max().unwrap_or_default();
    assert!(slowest < Duration::from_millis(100), "a query took {slowest:?}");
}
