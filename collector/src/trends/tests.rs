//! Every query on small hand-built data whose answers are worked out in the comments.

use std::collections::HashMap;

use wijk_protocol::advice::Link;
use wijk_protocol::summary::Severity;

use super::testdata::row;
use super::*;
use crate::org::{Province, Sector, SizeClass};

fn w(text: &str) -> IsoWeek {
    IsoWeek::parse(text).expect("a valid week")
}

fn demo() -> Index {
    Index::with_options(Options { k: 1, demo: true, ..Options::default() }).expect("demo index")
}

fn index(k: u32, rows: &[testdata::Row]) -> Index {
    let mut index = Index::new(k).expect("k >= 3");
    for r in rows {
        index.insert(&r.0).expect("valid row");
    }
    index
}

fn share(n: u32, m: u32) -> Cell<Share> {
    Cell::Value(Share { organisations: n, matching: m, pct: kanon::pct(m, n) })
}

fn cell<'a>(week: &'a WeekPrevalence, id: &str) -> &'a WeakCell {
    week.weaknesses.iter().find(|c| c.id == id).expect("listed")
}

#[test]
fn k_below_three_is_refused_unless_for_a_demo() {
    let err = Index::new(2).expect_err("k = 2");
    assert_eq!(err, TrendsError::KTooSmall(2));
    assert!(err.to_string().contains("k >= 3") && err.to_string().contains("demo"), "{err}");
    assert_eq!(Index::new(0).expect_err("k = 0"), TrendsError::Zero("k"));
    let demo = Index::with_options(Options { k: 2, demo: true, ..Options::default() }).expect("demo");
    assert_eq!(demo.k(), 2);
    let zero = Options { k: 0, demo: true, ..Options::default() };
    assert!(Index::with_options(zero).is_err());
    assert_eq!(Index::new(DEFAULT_K).expect("default").k(), 5);
    let no_weeks = Options { recent_weeks: 0, ..Options::default() };
    assert_eq!(Index::with_options(no_weeks).expect_err("0 weeks"), TrendsError::Zero("recent_weeks"));
}

#[test]
fn the_latest_summary_per_agent_and_week_counts() {
    let mut index = demo();
    let first = row("o1", "agent1", "2026-W10", 1).weak("telnet-open", 1);
    let second = row("o1", "agent1", "2026-W10", 2).weak("smb1-enabled", 1);
    assert_eq!(index.insert(&second.0), Ok(Inserted::Latest));
    assert_eq!(index.insert(&first.0), Ok(Inserted::Superseded), "a lower seq arriving late");
    assert_eq!(index.insert(&first.0), Ok(Inserted::Duplicate));
    let weeks = index.prevalence(&Filter::all(), None).expect("slugs");
    let ids: Vec<&str> = weeks[0].weaknesses.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["smb1-enabled"], "ids of a superseded summary are not even listed");
    assert_eq!(cell(&weeks[0], "smb1-enabled").prevalence, share(1, 1));
    let p = &index.participation(&Filter::all())[0];
    assert_eq!((p.organisations, p.agents, p.summaries), (Cell::Value(1), Cell::Value(1), Cell::Value(2)));

    // The same seq received later wins the tie but is not counted again; received earlier, it is ignored.
    let later = row("o1", "agent1", "2026-W10", 2).weak("rdp-open", 1).received(100);
    assert_eq!(index.insert(&later.0), Ok(Inserted::Latest));
    let earlier = row("o1", "agent1", "2026-W10", 2).weak("ftp-open", 1).received(50);
    assert_eq!(index.insert(&earlier.0), Ok(Inserted::Duplicate));
    let weeks = index.prevalence(&Filter::all(), None).expect("slugs");
    assert_eq!(cell(&weeks[0], "smb1-enabled").prevalence, share(1, 0));
    assert_eq!(cell(&weeks[0], "rdp-open").prevalence, share(1, 1));
    assert_eq!(index.participation(&Filter::all())[0].summaries, Cell::Value(2));
    assert_eq!(index.rows(), 2);
}

#[test]
fn an_organisation_with_several_agents_counts_once_with_hosts_summed() {
    let mut index = demo();
    for r in [
        row("o1", "agent1", "2026-W10", 1).weak("telnet-open", 1),
        row("o1", "agent2", "2026-W10", 1).weak("telnet-open", 2).weak("smb1-enabled", 1),
        row("o2", "agent3", "2026-W10", 1).weak("telnet-open", 4),
    ] {
        index.insert(&r.0).expect("valid");
    }
    let weeks = index.prevalence(&Filter::all(), Some("telnet-open")).expect("slug");
    let telnet = cell(&weeks[0], "telnet-open");
    assert_eq!(telnet.prevalence, share(2, 2));
    assert_eq!(telnet.hosts, Some(Cell::Value(HostStats { mean: 3.5, median: 3.5 })), "o1: 1 + 2, o2: 4");
    let p = &index.participation(&Filter::all())[0];
    assert_eq!((p.organisations, p.agents), (Cell::Value(2), Cell::Value(3)));

    // agent2's newer summary has nothing: o1 keeps telnet on 1 host, loses smb1.
    index.insert(&row("o1", "agent2", "2026-W10", 2).0).expect("valid");
    let weeks = index.prevalence(&Filter::all(), None).expect("slugs");
    assert_eq!(cell(&weeks[0], "telnet-open").hosts, Some(Cell::Value(HostStats { mean: 2.5, median: 2.5 })));
    assert_eq!(cell(&weeks[0], "smb1-enabled").prevalence, share(2, 0));
    assert_eq!(cell(&weeks[0], "smb1-enabled").hosts, None, "no affected organisation, no hosts figure");
}

/// Six organisations in 2026-W10 (o1 with two agents), two in 2026-W11.
fn six() -> Vec<testdata::Row> {
    vec![
        row("o1", "agent1", "2026-W10", 1).weak("telnet-open", 1),
        row("o1", "agent2", "2026-W10", 1).weak("telnet-open", 2).weak_sev("smb1-enabled", Severity::Critical, 1),
        row("o2", "agent3", "2026-W10", 1).weak("telnet-open", 2),
        row("o3", "agent4", "2026-W10", 1).weak("telnet-open", 10),
        row("o4", "agent5", "2026-W10", 1).weak("rdp-open", 1),
        row("o5", "agent6", "2026-W10", 1),
        row("o6", "agent7", "2026-W10", 1),
        row("o1", "agent1", "2026-W11", 2).weak("telnet-open", 1),
        row("o2", "agent3", "2026-W11", 2),
    ]
}

#[test]
fn prevalence_shows_what_k_organisations_stand_behind() {
    let index = index(3, &six());
    let weeks = index.prevalence(&Filter::all(), None).expect("slugs");
    assert_eq!(weeks.len(), 2);
    let w10 = &weeks[0];
    assert_eq!((w10.week, w10.organisations), (w("2026-W10"), Cell::Value(6)));
    let ids: Vec<&str> = w10.weaknesses.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["rdp-open", "smb1-enabled", "telnet-open"]);
    let telnet = cell(w10, "telnet-open");
    // o1 (1 + 2 hosts), o2 (2), o3 (10): 3 of 6, mean 5, median 3.
    assert_eq!(telnet.prevalence, share(6, 3));
    assert_eq!(telnet.hosts, Some(Cell::Value(HostStats { mean: 5.0, median: 3.0 })));
    // One organisation only: hidden, and so are its hosts.
    let smb1 = cell(w10, "smb1-enabled");
    assert_eq!(smb1.severity, Severity::Critical);
    assert!(smb1.prevalence.is_suppressed() && smb1.hosts.is_some_and(|h| h.is_suppressed()));
    // 2026-W11: two organisations, below k: every figure hidden.
    let w11 = &weeks[1];
    assert!(w11.organisations.is_suppressed());
    assert!(w11.weaknesses.iter().all(|c| c.prevalence.is_suppressed()));
    // o1 has telnet, nobody rdp: both hosts fields are there, hidden, so neither tells which.
    assert!(w11.weaknesses.iter().all(|c| c.hosts.is_some_and(|h| h.is_suppressed())));
    let json = serde_json::to_string(w11).expect("serialises");
    assert!(json.contains(r#""organisations":"< 3""#), "{json}");
    assert!(!json.contains(":0") && !json.contains("null"), "{json}");
    // One weakness, one week.
    let one = index.prevalence(&Filter::all().week(w("2026-W10")), Some("telnet-open")).expect("slug");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].weaknesses.len(), 1);
}

#[test]
fn participation_counts_organisations_agents_and_summaries() {
    let index = index(3, &six());
    let weeks = index.participation(&Filter::all());
    assert_eq!(weeks[0].organisations, Cell::Value(6));
    assert_eq!(weeks[0].agents, Cell::Value(7));
    assert_eq!(weeks[0].summaries, Cell::Value(7));
    assert!(weeks[1].organisations.is_suppressed() && weeks[1].agents.is_suppressed());
    assert!(weeks[1].summaries.is_suppressed());
    let from_w11 = index.participation(&Filter { from: Some(w("2026-W11")), ..Filter::all() });
    assert_eq!(from_w11.len(), 1);
}

#[test]
fn filters_combine_sector_size_class_and_province() {
    let rows: Vec<_> = (0..12)
        .map(|i| {
            let sector = if i < 8 { Sector::Gemeente } else { Sector::Ocmw };
            let province = if i % 2 == 0 { Province::Limburg } else { Province::Antwerpen };
            let size = if i < 4 { SizeClass::UpTo10k } else { SizeClass::UpTo25k };
            row(&format!("o{i}"), &format!("agent{i}"), "2026-W10", 1).attrs(sector, size, province)
        })
        .collect();
    let index = index(3, &rows);
    let orgs = |f: Filter| index.participation(&f).first().map(|p| p.organisations);
    assert_eq!(orgs(Filter::all()), Some(Cell::Value(12)));
    assert_eq!(orgs(Filter::all().sector(Sector::Gemeente)), Some(Cell::Value(8)));
    assert_eq!(orgs(Filter::all().sector(Sector::Gemeente).province(Province::Limburg)), Some(Cell::Value(4)));
    let three = Filter::all().sector(Sector::Gemeente).province(Province::Limburg).size_class(SizeClass::UpTo10k);
    assert_eq!(orgs(three), Some(Cell::Suppressed { k: 3 }), "o0 and o2 only");
    assert_eq!(orgs(Filter::all().sector(Sector::Politiezone)), None, "nobody: the week is left out");
    assert_eq!(orgs(Filter::all().weeks(w("2026-W11"), w("2026-W12"))), None);
}

#[test]
fn tls_hygiene_and_service_exposure_are_shares_of_organisations() {
    let rows: Vec<_> = (0..6)
        .map(|i| {
            let mut r = row(&format!("o{i}"), &format!("agent{i}"), "2026-W10", 1)
                .service("http")
                .tls(|t| t.protocols.tls1_0 = 2);
            if i < 3 {
                r = r.service("ssh").tls(|t| t.certificates.self_signed = 1);
            }
            if i == 0 {
                r = r.tls(|t| t.protocols.sslv3 = 1);
            }
            r
        })
        .collect();
    let index = index(3, &rows);
    let tls = &index.tls_hygiene(&Filter::all())[0];
    let get = |name: &str| tls.items.iter().find(|i| i.name == name).expect("listed").share;
    assert_eq!(get("tls1.0"), share(6, 6));
    assert_eq!(get("cert-self-signed"), share(6, 3));
    assert_eq!(get("sslv3"), Cell::Suppressed { k: 3 });
    assert_eq!(get("cert-expired"), share(6, 0));
    assert_eq!(tls.items.len(), TlsCheck::ALL.len());
    let services = &index.service_exposure(&Filter::all())[0];
    let names: Vec<&str> = services.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["http", "ssh"]);
    assert_eq!(services.items[0].share, share(6, 6));
    assert_eq!(services.items[1].share, share(6, 3));
}

#[test]
fn a_breakdown_hides_a_second_part_so_the_first_cannot_be_subtracted() {
    // Antwerpen 10, Limburg 2, West-Vlaanderen 4 organisations; k = 3.
    let mut rows = Vec::new();
    for (province, count) in [(Province::Antwerpen, 10), (Province::Limburg, 2), (Province::WestVlaanderen, 4)] {
        for i in 0..count {
            let name = format!("{province}{i}").replace('-', "");
            rows.push(row(&name, &name, "2026-W10", 1).attrs(Sector::Gemeente, SizeClass::UpTo25k, province));
        }
    }
    let index = index(3, &rows);
    let b = index.breakdown(&Filter::all(), &Measure::Participation, Dimension::Province).expect("ok").expect("data");
    assert_eq!(b.total, share(16, 16));
    let groups: Vec<_> = b.parts.iter().map(|p| (p.group, p.share.is_suppressed())).collect();
    assert_eq!(groups, [("antwerpen", false), ("limburg", true), ("west-vlaanderen", true)]);
    let json = serde_json::to_value(&b).expect("serialises");
    assert_eq!(json["parts"][1]["share"], "< 3");
    assert_eq!(json["measure"], "participation");
    assert_eq!(json["by"], "province");
}

#[test]
fn a_range_takes_each_agents_latest_summary_in_it() {
    let mut index = demo();
    index.insert(&row("o1", "agent1", "2026-W10", 1).weak("telnet-open", 1).0).expect("valid");
    index.insert(&row("o1", "agent2", "2026-W11", 1).weak("smb1-enabled", 1).0).expect("valid");
    let range = Filter::all().weeks(w("2026-W10"), w("2026-W11"));
    for id in ["telnet-open", "smb1-enabled"] {
        let b = index.breakdown(&range, &Measure::Weakness(id.into()), Dimension::Sector).expect("ok").expect("data");
        assert_eq!(b.total, share(1, 1), "{id}");
    }
    let w11 = Filter::all().week(w("2026-W11"));
    let b = index.breakdown(&w11, &Measure::Weakness("telnet-open".into()), Dimension::Sector).expect("ok");
    assert_eq!(b.expect("data").total, share(1, 0));
    let unknown = index.breakdown(&range, &Measure::Weakness("never-seen".into()), Dimension::Sector).expect("ok");
    assert_eq!(unknown.expect("data").total, share(1, 0));
}

#[test]
fn priorities_rank_prevalence_times_severity_weight() {
    let rows: Vec<_> = (0..6)
        .map(|i| {
            let mut r = row(&format!("o{i}"), &format!("agent{i}"), "2026-W10", 1)
                .weak_sev("rdp-open", Severity::Medium, 1)
                .weak_sev("banner-info", Severity::Info, 1);
            if i < 3 {
                r = r.weak_sev("smb1-enabled", Severity::Critical, 1).weak_sev("telnet-open", Severity::High, 1);
            }
            if i < 5 {
                r = r.weak_sev("ntp-mode6", Severity::High, 1);
            }
            if i == 0 {
                r = r.weak_sev("ftp-anon", Severity::Low, 1);
            }
            r
        })
        .collect();
    let index = index(3, &rows);
    let p = index.priorities(&Filter::all(), 10).expect("data");
    // smb1 3/6 × 8 = 4; ntp hidden (1 of 6 not affected) ranks by its bound 4/6 × 4 = 2.67;
    // telnet 3/6 × 4 = 2 and rdp 6/6 × 2 = 2 tie, the heavier first; info weighs 0, ftp is hidden.
    let ranked: Vec<_> = p.ranked.iter().map(|r| (r.id.as_str(), r.prevalence.is_suppressed())).collect();
    assert_eq!(ranked, [("smb1-enabled", false), ("ntp-mode6", true), ("telnet-open", false), ("rdp-open", false)]);
    assert_eq!(p.ranked[0].weight, 8);
    assert_eq!(p.organisations, Cell::Value(6));
    assert_eq!(index.priorities(&Filter::all(), 1).expect("data").ranked.len(), 1);
    let nobody = index.priorities(&Filter::all().sector(Sector::Ocmw), 10).expect("data");
    assert!(nobody.ranked.is_empty() && nobody.organisations.is_suppressed());
}

#[test]
fn advice_gives_the_sectors_priorities_and_what_peers_fixed() {
    let mut rows = Vec::new();
    // Peers p1..p6 (gemeente, 10k-25k) all had telnet in W09; p1..p3 fixed it in W10.
    for i in 1..=6 {
        let name = format!("peer{i}");
        rows.push(row(&name, &name, "2026-W09", 1).weak("telnet-open", 1));
        let r = row(&name, &name, "2026-W10", 2);
        rows.push(if i > 3 { r.weak("telnet-open", 1) } else { r });
    }
    // Another size class: fixed too, but not a peer.
    let big = |r: testdata::Row| r.attrs(Sector::Gemeente, SizeClass::UpTo50k, Province::Antwerpen);
    rows.push(big(row("big", "bigagent", "2026-W09", 1).weak("telnet-open", 1)));
    rows.push(big(row("big", "bigagent", "2026-W10", 2)));
    rows.push(row("me", "myagent", "2026-W10", 1).weak("telnet-open", 3).weak("smb1-enabled", 1));
    let index = index(3, &rows);
    let links = HashMap::from([(
        "telnet-open".to_string(),
        vec![Link { title: "Telnet uitschakelen".into(), url: "https://example.invalid/telnet".into() }],
    )]);
    let advice = index.advice("myagenta", 5, &links).expect("known agent");
    assert_eq!(advice.week, "2026-W10");
    assert_eq!(advice.k, 3);
    assert_eq!(advice.peer_group, "gemeente, 10k-25k");
    // Sector in W10: me, p4..p6 of 8 organisations have telnet; smb1 (me only) is not ranked.
    assert_eq!(advice.priorities.len(), 1);
    assert_eq!(advice.priorities[0].id, "telnet-open");
    assert_eq!(advice.priorities[0].organisations_pct, Some(50));
    assert_eq!(advice.priorities[0].links.len(), 1);
    assert!(advice.position[0].you_have_it);
    assert_eq!(advice.position[0].peers_fixed_pct, Some(50), "3 of the 6 peers that had it");
    let json = String::from_utf8(advice.to_bytes()).expect("utf-8");
    assert_eq!(wijk_protocol::Advice::decode(json.as_bytes()), Some(advice));

    assert_eq!(index.advice("unknownagent", 5, &links), Err(TrendsError::UnknownAgent("unknownagent".into())));
}

#[test]
fn advice_figures_are_none_below_k() {
    let rows = [
        row("me", "myagent", "2026-W10", 1).weak("telnet-open", 1),
        row("p1", "peer1", "2026-W09", 1).weak("telnet-open", 1),
        row("p1", "peer1", "2026-W10", 2),
    ];
    let index = index(3, &rows);
    let advice = index.advice("myagenta", 5, &HashMap::new()).expect("known");
    assert!(advice.priorities.is_empty(), "two organisations rank nothing");
    let json = String::from_utf8(advice.to_bytes()).expect("utf-8");
    assert!(!json.contains("telnet"), "{json}");
}

#[test]
fn html_or_sql_shaped_strings_cannot_get_in() {
    let mut index = index(3, &six());
    let before = serde_json::to_string(&index.prevalence(&Filter::all(), None).expect("slugs")).expect("json");
    let evil = ["<script>alert(1)</script>", "x' OR '1'='1", "a\"b", "ssh; DROP TABLE summaries", "Telnet"];
    for bad in evil {
        let r = row("o1", "agent1", "2026-W10", 9).weak(bad, 1);
        assert_eq!(index.insert(&r.0), Err(TrendsError::NotASlug("weakness id")), "{bad}");
        let r = row("o1", "agent1", "2026-W10", 9).service(bad);
        assert_eq!(index.insert(&r.0), Err(TrendsError::NotASlug("service kind")), "{bad}");
        assert!(index.prevalence(&Filter::all(), Some(bad)).is_err());
        assert!(index.breakdown(&Filter::all(), &Measure::Weakness(bad.into()), Dimension::Sector).is_err());
        assert!(index.breakdown(&Filter::all(), &Measure::Service(bad.into()), Dimension::Sector).is_err());
        let err = index.advice(bad, 5, &HashMap::new()).expect_err("not an agent id");
        assert!(!err.to_string().contains(bad), "{err}");
    }
    let mut r = row("o1", "agent1", "2026-W10", 9);
    r.0.week = "<b>2026-W10".into();
    assert!(matches!(index.insert(&r.0), Err(TrendsError::BadWeek(_))));
    r.0.week = "2026-W10".into();
    r.0.agent = "<img src=x>".into();
    assert_eq!(index.insert(&r.0), Err(TrendsError::NotASlug("agent id")));
    let after = serde_json::to_string(&index.prevalence(&Filter::all(), None).expect("slugs")).expect("json");
    assert_eq!(before, after, "refused rows change nothing");
    let everything = [
        after,
        serde_json::to_string(&index.participation(&Filter::all())).expect("json"),
        serde_json::to_string(&index.tls_hygiene(&Filter::all())).expect("json"),
        serde_json::to_string(&index.service_exposure(&Filter::all())).expect("json"),
        serde_json::to_string(&index.priorities(&Filter::all(), 10)).expect("json"),
    ];
    for json in everything {
        assert!(!json.contains('\'') && !json.replace("\"< 3\"", "").contains('<'), "{json}");
        assert!(!json.contains("\"o1") && !json.contains("agent1"), "organisation keys and agents never shown: {json}");
    }
}

#[test]
fn org_and_agent_keys_never_appear_in_figures() {
    let index = index(3, &six());
    let b = index.breakdown(&Filter::all(), &Measure::Weakness("telnet-open".into()), Dimension::SizeClass);
    let json = serde_json::to_string(&b.expect("ok")).expect("json");
    assert!(!json.contains("\"o1\"") && !json.contains("agent1"), "{json}");
}
