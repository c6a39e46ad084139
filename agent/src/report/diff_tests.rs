//! Tests of the report diff.

use super::super::fixtures::{self, finding, host, ip, service};
use super::*;
use crate::report::Severity;

/// The fixture's report, then a week later: telnet off on host 1, OpenSSH updated, host 3 gone, host 4
/// new with Redis open, TLS 1.0 still on.
fn before_after() -> (Report, Report) {
    let old = fixtures::report();
    let mut new = fixtures::report();
    new.scan_id = "20261208T190000Z-99999999".into();
    new.hosts[0].services = vec![service(22, "ssh", Some("OpenSSH"), Some("9.8p1"))];
    new.hosts.remove(2);
    new.hosts.push(host(4, vec![service(6379, "redis", Some("Redis"), Some("7.2.11"))]));
    new.findings = vec![
        finding("redis-no-auth", Severity::Critical, 4, 6379, "INFO answered"),
        finding("telnet-open", Severity::High, 2, 23, "still on"),
        finding("tls-1.0-enabled", Severity::Medium, 2, 443, "TLSv1.0 accepted"),
    ];
    (old, new)
}

fn ids(list: &[Finding]) -> Vec<(String, IpAddr)> {
    list.iter().map(|f| (f.id.clone(), f.host)).collect()
}

#[test]
fn findings_are_new_fixed_unchanged_or_unverified() {
    let (old, new) = before_after();
    let d = diff(&old, &new);
    assert_eq!(d.schema, DIFF_SCHEMA);
    assert_eq!(ids(&d.findings.new), [("redis-no-auth".to_string(), ip(4))]);
    assert_eq!(ids(&d.findings.fixed), [("outdated-software".to_string(), ip(1)), ("telnet-open".to_string(), ip(1))]);
    assert_eq!(
        ids(&d.findings.unchanged),
        [("telnet-open".to_string(), ip(2)), ("tls-1.0-enabled".to_string(), ip(2))]
    );
    assert_eq!(d.findings.unchanged[0].evidence, "still on", "unchanged ones as the new report has them");
    assert_eq!(ids(&d.findings.unverified), [("made-up-weakness".to_string(), ip(3))], "host 3 was not found again");
    assert!(d.caveats.is_empty());
}

#[test]
fn the_key_is_id_host_port_and_protocol() {
    let (old, mut new) = before_after();
    new.findings = old.findings.clone();
    new.findings[1].port = Some(2323);
    new.findings[3].protocol = Some(Proto::Udp);
    new.hosts = old.hosts.clone();
    let d = diff(&old, &new);
    assert_eq!(d.findings.new.len(), 2);
    assert_eq!(d.findings.fixed.len(), 2);
    assert_eq!(d.findings.unchanged.len(), old.findings.len() - 2);
}

#[test]
fn hosts_left_alone_do_not_count_as_fixed() {
    let (old, mut new) = before_after();
    new.hosts[0].backoff = "left-alone".into();
    let d = diff(&old, &new);
    assert!(d.findings.fixed.is_empty());
    assert_eq!(d.findings.unverified.len(), 3);
}

#[test]
fn tcp_findings_of_a_host_that_now_answers_every_port_are_not_fixed() {
    let (old, mut new) = before_after();
    new.hosts[0].services.clear();
    new.hosts[0].tcp_ports = crate::portscan::PortTally { open: 150, unscanned: 850, ..Default::default() };
    new.hosts[0].middlebox = crate::report::Middlebox::from_tally(&new.hosts[0].tcp_ports);
    assert!(new.hosts[0].middlebox.is_some());
    let d = diff(&old, &new);
    assert!(d.findings.fixed.is_empty(), "{:?}", ids(&d.findings.fixed));
    let unverified = ids(&d.findings.unverified);
    assert!(unverified.contains(&("telnet-open".to_string(), ip(1))), "{unverified:?}");
}

#[test]
fn hosts_and_services_appear_disappear_and_change() {
    let (old, new) = before_after();
    let d = diff(&old, &new);
    assert_eq!(d.hosts.new, [ip(4)]);
    assert_eq!(d.hosts.gone, [ip(3)]);
    let ports = |l: &[ServiceRef]| l.iter().map(|s| (s.host, s.port)).collect::<Vec<_>>();
    assert_eq!(ports(&d.services.new), [(ip(4), 6379)]);
    assert_eq!(ports(&d.services.gone), [(ip(1), 23), (ip(3), 80)]);
    assert_eq!(d.services.changed.len(), 1);
    let c = &d.services.changed[0];
    assert_eq!((c.old.version.as_deref(), c.new.version.as_deref()), (Some("9.2p1"), Some("9.8p1")));
}

#[test]
fn identical_reports_change_nothing() {
    let r = fixtures::report();
    let d = diff(&r, &r);
    assert!(d.findings.new.is_empty() && d.findings.fixed.is_empty() && d.findings.unverified.is_empty());
    assert_eq!(d.findings.unchanged.len(), r.findings.len());
    assert!(d.hosts.new.is_empty() && d.hosts.gone.is_empty());
    assert!(d.services.new.is_empty() && d.services.gone.is_empty() && d.services.changed.is_empty());
}

#[test]
fn caveats_name_what_weakens_the_comparison() {
    let (old, mut new) = before_after();
    new.complete = false;
    new.scan.profile = "quick".into();
    new.consent.organisation = "OCMW Elders".into();
    let d = diff(&old, &new);
    assert_eq!(d.caveats, ["new-scan-incomplete", "profile-changed", "organisation-changed"]);
    let text = render_text(&d, Lang::Nl);
    assert!(text.contains("Let op: de nieuwe scan was onvolledig"));
    assert!(text.contains("(standard → quick)"));
}

#[test]
fn the_text_is_in_the_language_asked_for_and_terminal_safe() {
    let (old, mut new) = before_after();
    new.findings[0].evidence = "\u{1b}]0;pwned\u{7}".into();
    new.hosts[2].services[0].product = Some("Redis\u{1b}[2J".into());
    let d = diff(&old, &new);
    let nl = render_text(&d, Lang::Nl);
    assert!(
        nl.contains("Nieuwe zwaktes (1)")
            && nl.contains("Opgeloste zwaktes (2)")
            && nl.contains("Onveranderde zwaktes (2)")
    );
    assert!(nl.contains("Redis zonder wachtwoord"));
    assert!(nl.contains("Nieuwe hosts (1)\n  192.0.2.4"));
    assert!(nl.contains("OpenSSH 9.2p1 → ssh OpenSSH 9.8p1"));
    assert!(!nl.contains('\u{1b}'), "no escape sequence reaches the terminal");
    let en = render_text(&d, Lang::En);
    assert!(en.contains("New weaknesses (1)") && en.contains("Redis without authentication"));
    assert!(en.contains("No longer checked"));
}

#[test]
fn the_json_form_round_trips() {
    let (old, new) = before_after();
    let d = diff(&old, &new);
    let json = serde_json::to_value(&d).expect("serialises");
    assert_eq!(json["schema"], DIFF_SCHEMA);
    assert_eq!(json["findings"]["new"][0]["id"], "redis-no-auth");
    assert_eq!(json["hosts"]["gone"][0], "192.0.2.3");
    assert_eq!(json["services"]["changed"][0]["new"]["version"], "9.8p1");
    let back: ReportDiff = serde_json::from_value(json).expect("parses back");
    assert_eq!(back, d);
}

#[test]
fn loading_tells_the_failures_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    };
    let good = dir.path().join("report.json");
    std::fs::write(&good, serde_json::to_vec(&fixtures::report()).expect("json")).expect("write");
    assert_eq!(load(&good).expect("loads").findings.len(), fixtures::report().findings.len());

    let missing = load(&dir.path().join("nope.json")).expect_err("missing");
    assert!(matches!(missing, LoadError::Read { .. }));
    assert!(missing.message(Lang::Nl).starts_with("kan niet lezen:"));
    let broken = load(&write("broken.json", "{\"schema\": ")).expect_err("broken");
    assert!(matches!(broken, LoadError::Json { .. }));
    assert!(broken.message(Lang::En).contains("not valid JSON"));
    let other = load(&write("summary.json", "{\"schema\": \"wijk.summary/1\"}")).expect_err("other schema");
    assert!(other.message(Lang::En).contains("not a wijkagent report (schema \"wijk.summary/1\""));
    let none = load(&write("none.json", "[1, 2]")).expect_err("no schema");
    assert!(none.message(Lang::Nl).contains("schema geen"));
    let shape = load(&write("shape.json", "{\"schema\": \"wijkagent.report/1\", \"hosts\": 3}")).expect_err("shape");
    assert!(matches!(shape, LoadError::Shape { .. }));
    for e in [missing, broken, other, none, shape] {
        for lang in [Lang::Nl, Lang::En] {
            assert!(!e.message(lang).contains('\n'), "one line: {}", e.message(lang));
        }
        assert!(e.to_string().contains(" / "));
    }
}
