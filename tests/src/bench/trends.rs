//! The `trends` job: five years of weekly summaries from 1,000 organisations, generated here and
//! marked synthetic ("Synthetisch NNNN", agent version `0.0.0-synthetic`), written straight into
//! wijkpost's store (SQLite or PostgreSQL); then a real `wijkpost serve` loads them and the dashboard's
//! API and pages are timed, each request in turn, bounded in count.
//!
//! The population: sectors, size classes and provinces spread evenly; each organisation has its own
//! mix of the catalog's weaknesses, each slowly less common over the five years, so trends have shape.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use wijk_protocol::summary::{Counts, ServiceCount, TlsCounts, WeaknessCount};
use wijk_protocol::Summary;
use wijkpost::org::{Org, Province, Sector, SizeClass};
use wijkpost::store::{NewAgent, NewToken, Store, SummaryRow};

/// Organisations generated.
pub const ORGS: usize = 1_000;
/// Weeks per organisation (five years).
pub const WEEKS: usize = 260;
/// Timed requests per path.
pub const REQUESTS: usize = 40;

/// splitmix64: a small deterministic generator, so every run has the same population.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A number in `0..1` for `(a, b, c)`.
fn unit(a: u64, b: u64, c: u64) -> f64 {
    (mix(a.wrapping_mul(1_000_003) ^ mix(b.wrapping_mul(7919) ^ mix(c))) >> 11) as f64 / (1u64 << 53) as f64
}

/// ISO week `w` weeks after the first Monday of December 2021.
fn week(w: usize) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(2021, 12, 6).unwrap_or_default();
    (start + chrono::Duration::weeks(w as i64)).format("%G-W%V").to_string()
}

/// The organisation `i`.
pub fn org(i: usize) -> Org {
    Org {
        name: format!("Synthetisch {i:04}"),
        sector: Sector::ALL[i % Sector::ALL.len()],
        size_class: SizeClass::ALL[(i / 5) % SizeClass::ALL.len()],
        province: Province::ALL[(i / 25) % Province::ALL.len()],
    }
}

fn agent(i: usize) -> String {
    format!("{i:024x}")
}

/// Organisation `i`'s summary of week `w`.
fn summary(i: usize, w: usize, catalog: &[(String, wijk_protocol::summary::Severity)]) -> Summary {
    const KINDS: [&str; 10] = ["dns", "ftp", "http", "https", "mqtt", "rdp", "smb", "snmp", "ssh", "telnet"];
    let hosts_alive = 20 + (unit(i as u64, 0, 1) * 400.0) as u32;
    let improvement = 1.0 - 0.5 * w as f64 / WEEKS as f64;
    let mut weaknesses = Vec::new();
    for (n, (id, severity)) in catalog.iter().enumerate() {
        let base = 0.6 * unit(n as u64, 0, 2) * unit(i as u64, n as u64, 3);
        if unit(i as u64, n as u64, w as u64 + 10) < base * improvement {
            let hosts = 1 + (unit(i as u64, n as u64, 4) * f64::from(hosts_alive.min(30))) as u32;
            weaknesses.push(WeaknessCount { id: id.clone(), severity: *severity, hosts: hosts.min(hosts_alive) });
        }
    }
    let services: Vec<ServiceCount> = KINDS
        .iter()
        .enumerate()
        .filter(|(k, _)| unit(i as u64, *k as u64, 5) < 0.6)
        .map(|(k, kind)| ServiceCount {
            kind: kind.to_string(),
            services: 1 + (unit(i as u64, k as u64, 6) * 20.0) as u32,
        })
        .collect();
    let open_services = services.iter().map(|s| s.services).sum::<u32>();
    let tls_endpoints = open_services / 3;
    let share = |salt: u64| (unit(i as u64, w as u64, salt) * f64::from(tls_endpoints) * 0.3) as u32;
    let mut tls = TlsCounts::default();
    tls.protocols.tls1_2 = tls_endpoints;
    tls.protocols.tls1_0 = share(20);
    tls.protocols.tls1_1 = share(21);
    tls.weak_ciphers = share(22);
    tls.certificates.seen = tls_endpoints;
    tls.certificates.expired = share(23);
    tls.certificates.self_signed = share(24);
    let mut s = Summary {
        schema: wijk_protocol::SUMMARY_SCHEMA.into(),
        agent: agent(i),
        seq: w as u64 + 1,
        week: week(w),
        agent_version: "0.0.0-synthetic".into(),
        profile: "standard".into(),
        complete: true,
        counts: Counts { hosts_alive, open_services, tls_endpoints },
        services,
        weaknesses,
        tls,
    };
    s.normalise();
    s
}

/// The catalog's weakness ids with their severities (as the protocol names them).
fn catalog() -> Result<Vec<(String, wijk_protocol::summary::Severity)>> {
    wijkagent::rules::catalog()
        .weaknesses()
        .iter()
        .map(|w| {
            let severity = serde_json::from_value(serde_json::json!(w.severity.as_str())).context("severity")?;
            Ok((w.id.clone(), severity))
        })
        .collect()
}

/// Writes the synthetic population into `store`; returns the number of summaries.
pub fn populate(store: &mut dyn Store, now: DateTime<Utc>) -> Result<usize> {
    let catalog = catalog()?;
    let mut total = 0;
    for i in 0..ORGS {
        let token = NewToken {
            id: format!("synthetic-{i:04}"),
            secret_hash: "synthetic".into(),
            org: org(i),
            created_at: now,
            expires_at: now + chrono::Duration::days(1),
        };
        store.insert_token(&token)?;
        let key = ed25519_dalek::SigningKey::from_bytes(&[(i % 251) as u8 + 1; 32]).verifying_key().to_bytes();
        let new = NewAgent { id: agent(i), signing_key: key, cert_serial: "synthetic".into() };
        store.enroll_agent(&token.id, "synthetic", now, &new)?;
        let rows: Vec<SummaryRow> = (0..WEEKS)
            .map(|w| {
                let s = summary(i, w, &catalog);
                SummaryRow {
                    agent: s.agent.clone(),
                    seq: s.seq,
                    week: s.week.clone(),
                    received_at: now,
                    payload: serde_json::to_string(&s).unwrap_or_default(),
                    digest: format!("synthetic-{i}-{w}"),
                }
            })
            .collect();
        total += store.store_summaries(&rows.iter().collect::<Vec<_>>())?.len();
        if (i + 1) % 100 == 0 {
            eprintln!("  {} of {ORGS} organisations written", i + 1);
        }
    }
    Ok(total)
}

/// Response times of one path.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Timing {
    /// The path with its query.
    pub path: String,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
    /// Size of the answer, bytes.
    pub bytes: usize,
}

/// The paths timed: every API table and every page, with and without filters.
pub fn paths() -> Vec<String> {
    let id = "telnet-open";
    let range = "from=2025-W01&to=2026-W48";
    [
        "/api/v1/participation".to_string(),
        format!("/api/v1/participation?province=limburg&{range}"),
        "/api/v1/prevalence".to_string(),
        format!("/api/v1/prevalence?weakness={id}"),
        format!("/api/v1/breakdown?by=province&measure=weakness:{id}"),
        "/api/v1/breakdown?by=sector&measure=tls:tls1.0".to_string(),
        "/api/v1/tls".to_string(),
        "/api/v1/services?sector=ocmw".to_string(),
        "/api/v1/priorities?top=10".to_string(),
        "/api/v1/prevalence.csv".to_string(),
        "/".to_string(),
        format!("/weaknesses?weakness={id}"),
        format!("/weaknesses?weakness={id}&province=limburg&size=10k-25k"),
        format!("/breakdown?by=province&measure=weakness:{id}"),
        "/tls".to_string(),
        "/services".to_string(),
        "/advice".to_string(),
    ]
    .to_vec()
}

/// Logs in to `web` as `user` and times every path [`REQUESTS`] times (after one warm-up).
pub fn time_paths(web: &str, user: &str, password: &str) -> Result<Vec<Timing>> {
    let http = crate::dashboard::http();
    let cookie = crate::dashboard::login(&http, web, user, password)?.context("login refused")?;
    let mut out = Vec::new();
    for path in paths() {
        let mut times = Vec::with_capacity(REQUESTS);
        let mut bytes = 0;
        for n in 0..=REQUESTS {
            let started = Instant::now();
            let mut r = http.get(&format!("{web}{path}")).header("Cookie", &cookie).call()?;
            let body = r.body_mut().read_to_vec()?;
            if r.status() != 200 {
                bail!("{path}: status {}: {}", r.status(), String::from_utf8_lossy(&body));
            }
            if n > 0 {
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            bytes = body.len();
        }
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
        out.push(Timing { path, p50_ms: at(0.5), p95_ms: at(0.95), max_ms: at(1.0), bytes });
    }
    Ok(out)
}
