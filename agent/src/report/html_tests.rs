//! Tests of `report.html`.

use super::super::fixtures::{self, HOSTILE};
use super::*;
use crate::report::{Middlebox, TcpReplies};

#[test]
fn server_text_is_escaped_everywhere() {
    let r = fixtures::report();
    for lang in [Lang::Nl, Lang::En] {
        let html = render(&r, lang);
        assert!(!html.contains("<script"), "no script element at all");
        assert!(!html.contains("<img"), "a hostile version string stays text");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), "banner shown escaped");
        assert!(html.contains("1.0&quot;&gt;&lt;img src=x&gt;"));
        assert!(html.contains("Gemeente &lt;Voorbeeld&gt; &amp; OCMW"));
    }
    assert_eq!(escape("a\u{1b}[31mb\u{0}"), "a[31mb", "control characters dropped");
    assert!(!HOSTILE.is_empty());
}

#[test]
fn every_finding_appears_with_its_evidence() {
    let r = fixtures::report();
    let html = render(&r, Lang::Nl);
    for f in &r.findings {
        assert!(html.contains(&format!("id=\"w-{}\"", f.id)), "{} has a section", f.id);
        let row = format!(
            "<td><a href=\"#h-{h}\">{h}</a></td><td>{}</td><td class=\"evidence\">{}</td>",
            f.port_label(),
            escape(&f.evidence),
            h = f.host
        );
        assert!(html.contains(&row), "row of {} on {}", f.id, f.host);
    }
    for h in &r.hosts {
        assert!(html.contains(&format!("id=\"h-{}\"", h.address)));
    }
    assert!(html.contains("<td>TLSv1.0, TLSv1.2</td>"), "TLS versions per service");
    let en = render(&r, Lang::En);
    assert!(en.contains("<td class=\"evidence\">port 23/tcp open, identified as telnet</td>"), "evidence in English");
    assert!(!en.contains("herkend als telnet"));
    assert!(html.contains("<td class=\"evidence\">poort 23/tcp open, herkend als telnet</td>"));
    assert!(html.contains("<td>OpenSSH</td><td>9.2p1</td>"));
}

#[test]
fn dutch_by_default_english_on_request() {
    let r = fixtures::report();
    let nl = render(&r, Lang::Nl);
    assert!(nl.starts_with("<!DOCTYPE html>\n<html lang=\"nl\">"));
    assert!(nl.contains("De vijf acties die het meest uitmaken"));
    assert!(nl.contains("Telnet staat open"));
    assert!(nl.contains("<dd>01-12-2026 19:30</dd>"), "finished_at in Brussels time");
    let en = render(&r, Lang::En);
    assert!(en.contains("<html lang=\"en\">") && en.contains("The five actions that matter most"));
    assert!(en.contains("Telnet is enabled"), "catalog title in English although the findings are Dutch");
    assert!(!en.contains("Telnet staat open"));
}

#[test]
fn self_contained_and_printable() {
    let html = render(&fixtures::report(), Lang::Nl);
    for external in ["<link", "<script", "src=\"http", "@import", "url("] {
        assert!(!html.contains(external), "{external}");
    }
    assert!(html.contains("default-src 'none'"));
    assert!(html.contains("@media print") && html.contains("break-before: page"));
    assert!(html.contains("<svg") && html.contains("fill=\"#c62828\""), "inline severity chart");
}

#[test]
fn actions_rank_by_severity_times_hosts() {
    let r = fixtures::report();
    let groups = ranked(&r.findings);
    let order: Vec<(&str, u64)> = groups.iter().map(|g| (g.id, g.score())).collect();
    assert_eq!(
        order,
        [("telnet-open", 30), ("outdated-software", 15), ("tls-1.0-enabled", 5), ("made-up-weakness", 0)]
    );
    let html = render(&r, Lang::Nl);
    let actions = &html[html.find("class=\"actions\"").unwrap_or(0)..html.find("id=\"weaknesses\"").unwrap_or(0)];
    assert_eq!(actions.matches("<li>").count(), 3, "info is never an action");
    assert!(actions.find("telnet-open") < actions.find("outdated-software"));
    assert!(actions.contains("Zet Telnet uit en beheer het toestel via SSH"), "the action line of the advice");
}

#[test]
fn advice_lines_become_a_list_with_code() {
    let mut out = String::new();
    advice_html(&mut out, "Doe dit.\nWant <dat>.\n1. Zet `a=b` aan.\n   `c`\n2. Klaar.\nNog iets.");
    assert_eq!(
        out,
        "<p class=\"action\">Doe dit.</p>\n<p>Want &lt;dat&gt;.</p>\n<ol>\n<li>Zet <code>a=b</code> aan.<br><code>c</code></li>\n<li>Klaar.</li>\n</ol>\n<p>Nog iets.</p>\n"
    );
}

#[test]
fn an_empty_report_still_renders() {
    let mut r = fixtures::report();
    r.findings.clear();
    r.hosts.clear();
    r.complete = false;
    r.interrupted = Some("window-closed".into());
    let html = render(&r, Lang::En);
    assert!(html.contains("found no weaknesses to act on"));
    assert!(html.contains("This scan was interrupted") && html.contains("window-closed"));
    assert!(html.ends_with("</html>\n"));
}

fn advice() -> wijk_protocol::Advice {
    use wijk_protocol::advice::{Link, Position, Priority};
    use wijk_protocol::summary::Severity as Sev;
    wijk_protocol::Advice {
        schema: wijk_protocol::ADVICE_SCHEMA.into(),
        agent: "aaaaaaaaaaaaaaaaaaaaaaaa".into(),
        week: "2026-W49".into(),
        k: 5,
        peer_group: "gemeente, 10k-25k <b>".into(),
        priorities: vec![
            Priority {
                id: "telnet-open".into(),
                severity: Sev::High,
                organisations_pct: Some(42),
                links: vec![
                    Link { title: "Gids \"telnet\" <uit>".into(), url: "https://vvsg.example/telnet?a=1&b=2".into() },
                    Link { title: "geen link".into(), url: "javascript:alert(1)".into() },
                ],
            },
            Priority { id: "smb1-enabled".into(), severity: Sev::Critical, organisations_pct: None, links: vec![] },
        ],
        position: vec![
            Position { id: "telnet-open".into(), you_have_it: true, peers_fixed_pct: None },
            Position { id: "smb1-enabled".into(), you_have_it: false, peers_fixed_pct: Some(60) },
        ],
    }
}

#[test]
fn the_comparison_shows_wijkposts_advice_and_withheld_figures_as_below_k() {
    let mut r = fixtures::report();
    assert!(!render(&r, Lang::Nl).contains("id=\"compare\""), "no advice, no section");
    r.comparison = Some(advice());
    let nl = render(&r, Lang::Nl);
    let section = &nl[nl.find("id=\"compare\"").expect("section")..];
    let section = &section[..section.find("</section>").expect("end")];
    assert!(section.contains("Hoe u zich verhoudt"));
    assert!(section.contains("gemeente, 10k-25k &lt;b&gt;"), "peer group escaped");
    assert!(section.contains("42 %"));
    assert_eq!(section.matches("&lt; 5</td>").count(), 2, "both withheld figures read < k: {section}");
    assert!(!section.contains(">0 %"), "never a zero for a withheld figure");
    assert!(
        section.contains("<a href=\"https://vvsg.example/telnet?a=1&amp;b=2\">Gids &quot;telnet&quot; &lt;uit&gt;</a>")
    );
    assert!(!section.contains("javascript:"), "only https links become links");
    assert!(section.contains("<td>ja</td>") && section.contains("<td>nee</td>"));
    let en = render(&r, Lang::En);
    assert!(en.contains("How you compare") && en.contains("<td>yes</td>"));
    // The JSON report carries it and reads back.
    let json = serde_json::to_string(&r).expect("json");
    let back: Report = serde_json::from_str(&json).expect("back");
    assert_eq!(back.comparison, r.comparison);
}

#[test]
fn a_host_that_answers_every_port_and_odd_syn_answers_are_explained_in_both_languages() {
    let mut r = fixtures::report();
    let mut quiet = fixtures::host(200, vec![]);
    quiet.tcp_ports = crate::portscan::PortTally { open: 120, closed: 2, unscanned: 878, ..Default::default() };
    quiet.middlebox = Middlebox::from_tally(&quiet.tcp_ports);
    quiet.tcp_replies = Some(TcpReplies { duplicate: 240, late: 3, unreachable: 0 });
    r.hosts.push(quiet);
    let nl = render(&r, Lang::Nl);
    assert!(nl.contains("antwoordt op (bijna) elke TCP-poort (120 van 122 open)"), "Dutch sentence");
    assert!(nl.contains("antwoorden op de SYN-scan: 240 dubbel, 3 te laat, 0 ICMP onbereikbaar"));
    let en = render(&r, Lang::En);
    assert!(en.contains("<p class=\"warn\">answers on (nearly) every TCP port (120 of 122 open)"), "English");
    assert!(en.contains("answers to the SYN scan: 240 duplicate, 3 late, 0 ICMP unreachable"));
    let article = &en[en.find("id=\"h-192.0.2.200\"").expect("host article")..];
    let article = &article[..article.find("</article>").expect("end")];
    assert!(!article.contains("No open ports found"), "not 'no open ports': it answers on every port");
}
