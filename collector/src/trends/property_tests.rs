//! Random populations checked against a naive model written from the rules in words: every figure
//! shown equals the truth, every figure hidden is one the k rule hides, whatever the order the rows
//! arrive in; breakdowns never leave a single hidden part next to a shown total.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use wijk_protocol::summary::Severity;

use super::facts::TlsCheck;
use super::filter::Attrs;
use super::testdata::{row, Row};
use super::*;
use crate::org::{Province, Sector, SizeClass};

const WEAKNESSES: [(&str, Severity); 6] = [
    ("telnet-open", Severity::High),
    ("smb1-enabled", Severity::Critical),
    ("rdp-open", Severity::Medium),
    ("ftp-anon", Severity::Low),
    ("banner-info", Severity::Info),
    ("snmp-public", Severity::High),
];
const KINDS: [&str; 4] = ["ssh", "http", "smb", "rdp"];
const WEEKS: [&str; 6] = ["2025-W50", "2025-W51", "2025-W52", "2026-W01", "2026-W02", "2026-W03"];

/// One organisation's merged facts in the naive model.
#[derive(Debug, Default, Clone)]
struct Truth {
    weak: BTreeMap<String, u32>,
    kinds: BTreeSet<String>,
    tls: u16,
}

impl Truth {
    fn add(&mut self, r: &FactRow) {
        for w in &r.summary.weaknesses {
            *self.weak.entry(w.id.clone()).or_default() += w.hosts;
        }
        self.kinds.extend(r.summary.services.iter().map(|s| s.kind.clone()));
        self.tls |= TlsCheck::flags(&r.summary.tls);
    }
}

fn population(rng: &mut StdRng) -> Vec<FactRow> {
    let orgs = rng.gen_range(3..40);
    let prevalence: Vec<f64> = WEAKNESSES.iter().map(|_| [0.0, 0.05, 0.3, 0.7, 0.95][rng.gen_range(0..5)]).collect();
    let mut rows = Vec::new();
    for o in 0..orgs {
        let sector = [Sector::Gemeente, Sector::Ocmw][rng.gen_range(0..2)];
        let size = [SizeClass::UpTo10k, SizeClass::UpTo25k][usize::from(rng.gen_bool(0.3))];
        let province = [Province::Antwerpen, Province::Limburg, Province::Brussel][rng.gen_range(0..3)];
        let agents = if rng.gen_bool(0.75) { 1 } else { rng.gen_range(2..=3) };
        for a in 0..agents {
            let mut seq = 0;
            for week in WEEKS {
                if !rng.gen_bool(0.8) {
                    continue;
                }
                for _ in 0..rng.gen_range(1..=2) {
                    seq += 1;
                    let mut r: Row = row(&format!("org{o}"), &format!("agent{o}x{a}"), week, seq)
                        .attrs(sector, size, province)
                        .received(rng.gen_range(0..1000));
                    for (i, (id, severity)) in WEAKNESSES.iter().enumerate() {
                        if rng.gen_bool(prevalence[i]) {
                            r = r.weak_sev(id, *severity, rng.gen_range(1..6));
                        }
                    }
                    for kind in KINDS {
                        if rng.gen_bool(0.5) {
                            r = r.service(kind);
                        }
                    }
                    let (v, c) = (rng.gen_range(0..2), rng.gen_range(0..2));
                    r = r.tls(|t| (t.protocols.tls1_0, t.certificates.self_signed) = (v, c));
                    rows.push(r.0.clone());
                    if rng.gen_bool(0.1) {
                        rows.push(r.0); // delivered twice
                    }
                }
            }
        }
    }
    rows
}

fn attrs(r: &FactRow) -> Attrs {
    Attrs { sector: r.sector, size_class: r.size_class, province: r.province }
}

/// Per organisation, its agents' latest summaries among the rows of weeks `from..=to`, merged.
fn naive(rows: &[FactRow], from: &str, to: &str, filter: &Filter) -> BTreeMap<String, (Attrs, Truth)> {
    let mut latest: HashMap<&str, &FactRow> = HashMap::new();
    for r in rows.iter().filter(|r| r.week.as_str() >= from && r.week.as_str() <= to && filter.selects(&attrs(r))) {
        let key = |r: &FactRow| (r.week.clone(), r.seq, r.received_at);
        let entry = latest.entry(&r.agent).or_insert(r);
        if key(r) > key(entry) {
            *entry = r;
        }
    }
    let mut orgs: BTreeMap<String, (Attrs, Truth)> = BTreeMap::new();
    for r in latest.values() {
        orgs.entry(r.org.clone()).or_insert_with(|| (attrs(r), Truth::default())).1.add(r);
    }
    orgs
}

/// Checks a share cell against the truth; whether it is shown.
fn check(k: u32, cell: &Cell<Share>, n: u32, m: u32, what: &str) -> bool {
    let rule = Rule::new(k);
    if rule.share_ok(n, m) {
        assert_eq!(cell, &Cell::Value(Share { organisations: n, matching: m, pct: kanon::pct(m, n) }), "{what}");
        true
    } else {
        assert_eq!(cell, &Cell::Suppressed { k }, "{what}: {m} of {n} must be hidden");
        false
    }
}

fn random_filter(rng: &mut StdRng) -> Filter {
    match rng.gen_range(0..4) {
        0 => Filter::all(),
        1 => Filter::all().sector(Sector::Gemeente),
        2 => Filter::all().province(Province::Limburg),
        _ => Filter::all().sector(Sector::Ocmw).size_class(SizeClass::UpTo10k),
    }
}

/// Checks every per-week series; how many share cells were shown and hidden.
fn check_series(index: &Index, rows: &[FactRow], filter: &Filter, k: u32) -> (usize, usize) {
    let prevalence = index.prevalence(filter, None).expect("slugs");
    let tls = index.tls_hygiene(filter);
    let services = index.service_exposure(filter);
    let participation = index.participation(filter);
    let mut tally = (0, 0);
    let mut count = |shown: bool| if shown { tally.0 += 1 } else { tally.1 += 1 };
    for week in WEEKS {
        let truth = naive(rows, week, week, filter);
        let n = u32::try_from(truth.len()).expect("small");
        let find = |w: &IsoWeek| w.to_string() == week;
        let Some(p) = participation.iter().find(|p| find(&p.week)) else {
            assert_eq!(n, 0, "{week} left out although organisations took part");
            continue;
        };
        let in_week: Vec<&FactRow> = rows.iter().filter(|r| r.week == week && filter.selects(&attrs(r))).collect();
        let agents: BTreeSet<&str> = in_week.iter().map(|r| r.agent.as_str()).collect();
        let summaries: BTreeSet<(&str, u64)> = in_week.iter().map(|r| (r.agent.as_str(), r.seq)).collect();
        let expect =
            |v: usize| if n >= k { Cell::Value(u32::try_from(v).expect("small")) } else { Cell::Suppressed { k } };
        assert_eq!(
            (p.organisations, p.agents, p.summaries),
            (expect(truth.len()), expect(agents.len()), expect(summaries.len()))
        );

        let weeks = prevalence.iter().find(|p| find(&p.week)).expect("same weeks");
        for (id, _) in WEAKNESSES {
            let affected: Vec<u32> = truth.values().filter_map(|(_, t)| t.weak.get(id).copied()).collect();
            let m = u32::try_from(affected.len()).expect("small");
            match weeks.weaknesses.iter().find(|c| c.id == id) {
                Some(c) => {
                    count(check(k, &c.prevalence, n, m, &format!("{week} {id}")));
                    assert_eq!(c.hosts.is_none(), Rule::new(k).share_ok(n, m) && m == 0, "{week} {id}: hosts field");
                    let shown = c.hosts.as_ref().and_then(|h| h.value().copied());
                    assert_eq!(shown.is_some(), Rule::new(k).share_ok(n, m) && m >= k, "{week} {id} hosts");
                    if let Some(h) = shown {
                        let mean = f64::from(affected.iter().sum::<u32>()) / f64::from(m);
                        assert!((h.mean - mean).abs() < 0.051, "{week} {id} mean {} vs {mean}", h.mean);
                    }
                }
                None => assert_eq!(m, 0, "{week} {id} affected but not listed"),
            }
        }
        let tls_week = tls.iter().find(|t| find(&t.week)).expect("same weeks");
        for item in &tls_week.items {
            let check_bit = TlsCheck::ALL.iter().find(|c| c.as_str() == item.name).expect("a check").bit();
            let m = u32::try_from(truth.values().filter(|(_, t)| t.tls & check_bit != 0).count()).expect("small");
            count(check(k, &item.share, n, m, &format!("{week} tls {}", item.name)));
        }
        let services_week = services.iter().find(|t| find(&t.week)).expect("same weeks");
        for item in &services_week.items {
            let m = u32::try_from(truth.values().filter(|(_, t)| t.kinds.contains(&item.name)).count()).expect("small");
            count(check(k, &item.share, n, m, &format!("{week} service {}", item.name)));
        }
    }
    tally
}

fn check_breakdowns(index: &Index, rows: &[FactRow], rng: &mut StdRng, k: u32) {
    let filter = random_filter(rng);
    let (a, b) = (rng.gen_range(0..WEEKS.len()), rng.gen_range(0..WEEKS.len()));
    let (from, to) = (WEEKS[a.min(b)], WEEKS[a.max(b)]);
    let filter = filter.weeks(from.parse().expect("week"), to.parse().expect("week"));
    let truth = naive(rows, from, to, &filter);
    let measures = [
        Measure::Participation,
        Measure::Weakness(WEAKNESSES[rng.gen_range(0..WEAKNESSES.len())].0.to_string()),
        Measure::Tls(TlsCheck::CertSelfSigned),
        Measure::Service("ssh".to_string()),
    ];
    for measure in measures {
        for by in [Dimension::Sector, Dimension::SizeClass, Dimension::Province] {
            let b = index.breakdown(&filter, &measure, by).expect("slugs").expect("data");
            let matches = |t: &Truth| match &measure {
                Measure::Participation => true,
                Measure::Weakness(id) => t.weak.contains_key(id),
                Measure::Tls(c) => t.tls & c.bit() != 0,
                Measure::Service(s) => t.kinds.contains(s),
            };
            let mut groups: BTreeMap<usize, (u32, u32)> = BTreeMap::new();
            for (a, t) in truth.values() {
                let g = groups.entry(by.group_of(a)).or_default();
                g.0 += 1;
                g.1 += u32::from(matches(t));
            }
            let total = groups.values().fold((0, 0), |s, g| (s.0 + g.0, s.1 + g.1));
            let names = by.groups();
            let expected: Vec<&str> = groups.keys().map(|&g| names[g]).collect();
            let got: Vec<&str> = b.parts.iter().map(|p| p.group).collect();
            assert_eq!(got, expected, "groups with organisations, in order");
            let rule = Rule::new(k);
            if let Cell::Value(s) = b.total {
                assert_eq!((s.organisations, s.matching), total);
                assert!(rule.share_ok(total.0, total.1));
                let hidden = b.parts.iter().filter(|p| p.share.is_suppressed()).count();
                assert_ne!(hidden, 1, "one hidden part next to a shown total: {b:?}");
            }
            for (part, g) in b.parts.iter().zip(groups.values()) {
                if let Cell::Value(s) = part.share {
                    assert_eq!((s.organisations, s.matching), *g, "{}", measure.label());
                    assert!(rule.share_ok(g.0, g.1));
                }
            }
        }
    }
    if let Some(p) = index.priorities(&filter, 10) {
        let n = u32::try_from(truth.len()).expect("small");
        for r in &p.ranked {
            let m = u32::try_from(truth.values().filter(|(_, t)| t.weak.contains_key(&r.id)).count()).expect("small");
            check(k, &r.prevalence, n, m, &format!("priority {}", r.id));
            assert!(r.weight > 0);
        }
    }
}

#[test]
fn random_populations_show_the_truth_or_hide_it_by_the_rule_in_any_order() {
    let mut rng = StdRng::seed_from_u64(0x7472656e6473);
    let (mut shown, mut hidden) = (0, 0);
    for _ in 0..60 {
        let k = rng.gen_range(3..=5);
        let mut rows = population(&mut rng);
        for order in 0..2 {
            if order == 1 {
                rows.shuffle(&mut rng);
            }
            let mut index = Index::new(k).expect("k >= 3");
            index.extend(&rows).expect("valid rows");
            let filter = random_filter(&mut rng);
            let (s, h) = check_series(&index, &rows, &filter, k);
            (shown, hidden) = (shown + s, hidden + h);
            check_breakdowns(&index, &rows, &mut rng, k);
        }
    }
    assert!(shown > 1000 && hidden > 1000, "both kinds of cell exercised: {shown} shown, {hidden} hidden");
}

#[test]
fn compaction_keeps_every_figure() {
    // One agent re-sending many summaries in one week leaves garbage enough to compact the week;
    // its organisation has a second agent, so merged and shared spans are both rewritten.
    let demo = Options { k: 1, demo: true, ..Options::default() };
    let (mut index, mut fresh) = (Index::with_options(demo).expect("demo"), Index::with_options(demo).expect("demo"));
    let other = row("org1", "agent2", "2026-W10", 1).weak("smb1-enabled", 2).service("smb");
    let single = row("org2", "agent3", "2026-W10", 1).weak("rdp-open", 1).service("ssh");
    for r in [&other, &single] {
        index.insert(&r.0).expect("valid");
        fresh.insert(&r.0).expect("valid");
    }
    let resend =
        |seq: u64| (0..seq % 20).fold(row("org1", "agent1", "2026-W10", seq), |r, i| r.weak(&format!("weak{i}"), 1));
    for seq in 1..=1000 {
        index.insert(&resend(seq).0).expect("valid");
    }
    fresh.insert(&resend(1000).0).expect("valid");
    assert!(index.arena_entries() < 5000, "compacted: {} entries", index.arena_entries());
    index.shrink_to_fit();
    // Ids of superseded summaries stay listed in `index` (all 0 %); the ids `fresh` knows match.
    for id in ["smb1-enabled", "rdp-open", "weak0", "weak18"] {
        let a = index.prevalence(&Filter::all(), Some(id)).expect("slug");
        let b = fresh.prevalence(&Filter::all(), Some(id)).expect("slug");
        if b[0].weaknesses.is_empty() {
            assert_eq!(a[0].weaknesses[0].prevalence, Cell::Value(Share { organisations: 2, matching: 0, pct: 0.0 }));
        } else {
            assert_eq!(a, b, "{id}");
        }
    }
    assert_eq!(index.service_exposure(&Filter::all()), fresh.service_exposure(&Filter::all()));
    assert_eq!(index.tls_hygiene(&Filter::all()), fresh.tls_hygiene(&Filter::all()));
    assert_eq!(index.participation(&Filter::all())[0].summaries, Cell::Value(1002));
}
