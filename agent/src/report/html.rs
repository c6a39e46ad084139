//! `report.html`: one self-contained, printable page for the IT staff and their management.
//!
//! - Page 1 is the management summary: organisation, date, scope size, hosts up, a small inline SVG
//!   bar chart of findings per severity, and "de vijf acties die het meest uitmaken": the five
//!   weaknesses with the highest severity weight × hosts affected ([`ranked`]; info never counts).
//! - Then every weakness, ranked the same way, with its advice and the hosts, ports and evidence.
//! - Then every host with its services: port, service, product, version, TLS versions, weaknesses.
//!
//! Self-contained: inline CSS, no script, no external asset, and a Content-Security-Policy that
//! forbids scripts and remote loads, in case an escape is ever missed. Printable: A4 print CSS, a page
//! break before each main section, table headers repeated, rows kept whole.
//!
//! Every string that comes from the report is HTML-escaped by [`escape`] — banners, products,
//! versions, evidence and TLS data come from the scanned servers and must be treated as hostile.
//! Titles and advice come from the catalog in the language asked for ([`Finding::texts`]), evidence
//! from the finding in that language when it has both ([`Finding::evidence_in`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::{Finding, Host, Report, Service, Severity};
use crate::i18n::Lang;
use crate::rules::catalog::first_line;

/// Appends formatted text to a `String` (writing to a `String` cannot fail).
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// One weakness with the findings that show it.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// Weakness id.
    pub id: &'a str,
    /// The worst severity among its findings.
    pub severity: Severity,
    /// Distinct hosts affected.
    pub hosts: usize,
    /// Its findings, by host and port.
    pub findings: Vec<&'a Finding>,
}

impl Group<'_> {
    /// Severity weight × hosts affected.
    pub fn score(&self) -> u64 {
        self.severity.weight() * self.hosts as u64
    }
}

/// The findings grouped per weakness, most important first: by score (severity weight × hosts),
/// then severity, then hosts, then id.
pub fn ranked(findings: &[Finding]) -> Vec<Group<'_>> {
    let mut by_id: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_id.entry(f.id.as_str()).or_default().push(f);
    }
    let mut groups: Vec<Group<'_>> = by_id
        .into_iter()
        .map(|(id, mut list)| {
            list.sort_by_key(|f| (f.host, f.port, f.protocol));
            let hosts = list.iter().map(|f| f.host).collect::<BTreeSet<IpAddr>>().len();
            let severity = list.iter().map(|f| f.severity).max().unwrap_or(Severity::Info);
            Group { id, severity, hosts, findings: list }
        })
        .collect();
    groups.sort_by(|a, b| {
        (b.score(), b.severity, b.hosts).cmp(&(a.score(), a.severity, a.hosts)).then_with(|| a.id.cmp(b.id))
    });
    groups
}

/// Escapes text for HTML content and attribute values; drops control characters other than tab
/// and newline.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Renders the whole page in `lang`.
pub fn render(report: &Report, lang: Lang) -> String {
    let t = |nl: &'static str, en: &'static str| lang.pick(nl, en);
    let org = escape(&report.consent.organisation);
    let mut out = String::with_capacity(64 * 1024);
    w!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} — {org}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        t("nl", "en"),
        t("Netwerkscan", "Network scan"),
    );
    let groups = ranked(&report.findings);
    summary(&mut out, report, &groups, lang);
    if let Some(advice) = &report.comparison {
        super::compare_html::section(&mut out, advice, lang);
    }
    weaknesses(&mut out, &groups, lang);
    hosts(&mut out, report, lang);
    footer(&mut out, report, lang);
    out.push_str("</body>\n</html>\n");
    out
}

fn local_time(at: DateTime<Utc>, lang: Lang) -> String {
    let local = at.with_timezone(&chrono_tz::Europe::Brussels);
    local.format(lang.pick("%d-%m-%Y %H:%M", "%Y-%m-%d %H:%M")).to_string()
}

fn summary(out: &mut String, report: &Report, groups: &[Group<'_>], lang: Lang) {
    let t = |nl: &'static str, en: &'static str| lang.pick(nl, en);
    let s = &report.stats;
    w!(out, "<header class=\"cover\">\n<p class=\"kicker\">wijkagent — {}</p>\n", t("netwerkscan", "network scan"));
    w!(out, "<h1>{}</h1>\n", escape(&report.consent.organisation));
    w!(out, "<p class=\"confidential\">{}</p>\n</header>\n", t(
        "Vertrouwelijk: dit rapport beschrijft de zwakke plekken van uw netwerk. Bewaar en deel het enkel waar de IT-dienst en het management er bij mogen.",
        "Confidential: this report describes the weak spots of your network. Keep and share it only where IT staff and management may see it.",
    ));
    w!(
        out,
        "<section id=\"summary\">\n<h2>{}</h2>\n<dl class=\"facts\">\n",
        t("Samenvatting voor het management", "Management summary")
    );
    let hosts_hit =
        report.findings.iter().filter(|f| f.severity > Severity::Info).map(|f| f.host).collect::<BTreeSet<_>>();
    let facts = [
        (t("Datum", "Date"), local_time(report.finished_at, lang)),
        (t("Bereik", "Scope"), format!("{} {}", s.targets, t("adressen", "addresses"))),
        (t("Actieve hosts", "Hosts up"), s.hosts_up.to_string()),
        (t("Open poorten", "Open ports"), (s.open_tcp + s.open_udp).to_string()),
        (t("Hosts met zwaktes", "Hosts with weaknesses"), hosts_hit.len().to_string()),
        (t("Bevindingen", "Findings"), report.findings.len().to_string()),
    ];
    for (k, v) in facts {
        w!(out, "<div><dt>{k}</dt><dd>{}</dd></div>\n", escape(&v));
    }
    out.push_str("</dl>\n");
    if !report.complete {
        let why = report.interrupted.as_deref().unwrap_or("?");
        w!(
            out,
            "<p class=\"warn\">{} ({})</p>\n",
            t(
                "Deze scan werd onderbroken: niet elk adres of elke poort werd nagekeken.",
                "This scan was interrupted: not every address or port was checked.",
            ),
            escape(why)
        );
    }
    chart(out, report, lang);
    w!(out, "<h3>{}</h3>\n", t("De vijf acties die het meest uitmaken", "The five actions that matter most"));
    let actions: Vec<&Group<'_>> = groups.iter().filter(|g| g.severity > Severity::Info).take(5).collect();
    if actions.is_empty() {
        w!(out, "<p>{}</p>\n", t(
            "Deze scan vond geen zwaktes om aan te pakken. Dat betekent niet dat er geen zijn: de scan ziet enkel wat van buitenaf aan een dienst te zien is.",
            "This scan found no weaknesses to act on. That does not mean there are none: a scan sees only what a service shows from outside.",
        ));
    } else {
        out.push_str("<ol class=\"actions\">\n");
        for g in actions {
            let (title, advice) = g.findings.first().map(|f| f.texts(lang)).unwrap_or((g.id, ""));
            let hosts = if g.hosts == 1 { t("host", "host") } else { t("hosts", "hosts") };
            w!(
                out,
                "<li>{} <a href=\"#w-{}\"><strong>{}</strong></a> <span class=\"count\">({} {hosts})</span><br>{}</li>\n",
                badge(g.severity, lang),
                escape(g.id),
                escape(title),
                g.hosts,
                inline(first_line(advice)),
            );
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</section>\n");
}

fn badge(s: Severity, lang: Lang) -> String {
    format!("<span class=\"sev sev-{}\">{}</span>", s.as_str(), s.label(lang))
}

fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#7f0000",
        Severity::High => "#c62828",
        Severity::Medium => "#e65100",
        Severity::Low => "#f9a825",
        Severity::Info => "#78909c",
    }
}

/// The bar chart of findings per severity, as inline SVG with the numbers written out.
fn chart(out: &mut String, report: &Report, lang: Lang) {
    let counts = Severity::ALL.map(|s| (s, report.findings.iter().filter(|f| f.severity == s).count()));
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let (row, label_w, bar_w) = (26, 100, 340);
    let height = row * counts.len() + 4;
    let title = lang.pick("Bevindingen per ernst", "Findings per severity");
    w!(
        out,
        "<figure class=\"chart\"><svg role=\"img\" aria-label=\"{title}\" width=\"480\" height=\"{height}\" viewBox=\"0 0 480 {height}\" xmlns=\"http://www.w3.org/2000/svg\">\n<title>{title}</title>\n"
    );
    for (i, (s, n)) in counts.iter().enumerate() {
        let y = i * row;
        let width = if *n == 0 { 0 } else { (n * bar_w / max).max(3) };
        w!(
            out,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"{label_w}\" y=\"{}\" width=\"{width}\" height=\"18\" rx=\"2\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{n}</text>\n",
            y + 17,
            s.label(lang),
            y + 4,
            colour(*s),
            label_w + width + 6,
            y + 17,
        );
    }
    w!(out, "</svg><figcaption>{title}</figcaption></figure>\n");
}

/// Text with `code` spans, escaped.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, piece) in text.split('`').enumerate() {
        if i % 2 == 1 {
            w!(out, "<code>{}</code>", escape(piece));
        } else {
            out.push_str(&escape(piece));
        }
    }
    out
}

/// Advice: the first line as the action, numbered lines as a list, indented lines continuing a step.
fn advice_html(out: &mut String, advice: &str) {
    let mut lines = advice.lines().filter(|l| !l.trim().is_empty());
    if let Some(action) = lines.next() {
        w!(out, "<p class=\"action\">{}</p>\n", inline(action.trim()));
    }
    let mut in_list = false;
    for line in lines {
        let text = line.trim();
        let step = text.split_once(". ").filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match step {
            Some((_, rest)) => {
                out.push_str(if in_list { "</li>\n<li>" } else { "<ol>\n<li>" });
                in_list = true;
                out.push_str(&inline(rest));
            }
            None if in_list && line.starts_with(' ') => w!(out, "<br>{}", inline(text)),
            None => {
                if in_list {
                    out.push_str("</li>\n</ol>\n");
                    in_list = false;
                }
                w!(out, "<p>{}</p>\n", inline(text));
            }
        }
    }
    if in_list {
        out.push_str("</li>\n</ol>\n");
    }
}

fn weaknesses(out: &mut String, groups: &[Group<'_>], lang: Lang) {
    let t = |nl: &'static str, en: &'static str| lang.pick(nl, en);
    w!(
        out,
        "<section class=\"page\" id=\"weaknesses\">\n<h2>{}</h2>\n",
        t("Zwaktes en wat eraan te doen", "Weaknesses and what to do")
    );
    if groups.is_empty() {
        w!(out, "<p>{}</p>\n", t("Geen zwaktes gevonden.", "No weaknesses found."));
    }
    for g in groups {
        let Some(first) = g.findings.first() else { continue };
        let (title, advice) = first.texts(lang);
        w!(out, "<article class=\"weakness\" id=\"w-{}\">\n", escape(g.id));
        w!(out, "<h3>{} {} <code class=\"id\">{}</code></h3>\n", badge(g.severity, lang), escape(title), escape(g.id));
        let refs = first.references.labels();
        let hosts = if g.hosts == 1 { t("host", "host") } else { t("hosts", "hosts") };
        w!(out, "<p class=\"meta\">{} {hosts}", g.hosts);
        if !refs.is_empty() {
            w!(out, " · {}: {}", t("Referenties", "References"), escape(&refs.join(" · ")));
        }
        out.push_str("</p>\n<div class=\"advice\">\n");
        advice_html(out, advice);
        w!(
            out,
            "</div>\n<table>\n<thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>\n",
            t("Host", "Host"),
            t("Poort", "Port"),
            t("Bewijs", "Evidence"),
        );
        for f in &g.findings {
            w!(
                out,
                "<tr><td><a href=\"#h-{host}\">{host}</a></td><td>{}</td><td class=\"evidence\">{}</td></tr>\n",
                escape(&f.port_label()),
                escape(f.evidence_in(lang)),
                host = escape(&f.host.to_string()),
            );
        }
        out.push_str("</tbody>\n</table>\n</article>\n");
    }
    out.push_str("</section>\n");
}

fn tls_versions(s: &Service) -> String {
    let versions = s.tls.as_ref().and_then(|v| v.get("versions")).and_then(|v| v.as_array());
    versions.map(|list| list.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

fn hosts(out: &mut String, report: &Report, lang: Lang) {
    let t = |nl: &'static str, en: &'static str| lang.pick(nl, en);
    w!(out, "<section class=\"page\" id=\"hosts\">\n<h2>{}</h2>\n", t("Hosts en diensten", "Hosts and services"));
    if report.hosts.is_empty() {
        w!(out, "<p>{}</p>\n", t("Geen actieve hosts gevonden.", "No live hosts found."));
    }
    for h in &report.hosts {
        host(out, report, h, lang);
    }
    out.push_str("</section>\n");
}

fn host(out: &mut String, report: &Report, h: &Host, lang: Lang) {
    let t = |nl: &'static str, en: &'static str| lang.pick(nl, en);
    let addr = escape(&h.address.to_string());
    let mine: Vec<&Finding> = report.findings.iter().filter(|f| f.host == h.address).collect();
    w!(out, "<article class=\"host\" id=\"h-{addr}\">\n<h3>{addr}</h3>\n<p class=\"meta\">");
    let mut meta = Vec::new();
    if let Some(mac) = &h.mac {
        meta.push(format!("MAC {}", escape(mac)));
    }
    if !h.discovered_by.is_empty() {
        meta.push(format!("{} {}", t("gevonden via", "found by"), escape(&h.discovered_by.join(", "))));
    }
    if h.fragile {
        meta.push(t("kwetsbaar bereik: enkel open poorten nagekeken", "fragile range: open ports only").to_string());
    }
    if h.backoff != "normal" {
        meta.push(format!("{}: {}", t("afgeremd", "backed off"), escape(&h.backoff)));
    }
    if let Some(r) = &h.tcp_replies {
        meta.push(format!(
            "{}: {} {}, {} {}, {} {}",
            t("antwoorden op de SYN-scan", "answers to the SYN scan"),
            r.duplicate,
            t("dubbel", "duplicate"),
            r.late,
            t("te laat", "late"),
            r.unreachable,
            t("ICMP onbereikbaar", "ICMP unreachable"),
        ));
    }
    out.push_str(&meta.join(" · "));
    out.push_str("</p>\n");
    if let Some(m) = &h.middlebox {
        w!(out, "<p class=\"warn\">{}.</p>\n", escape(&m.sentence(lang)));
    }
    let host_wide: Vec<&str> = mine.iter().filter(|f| f.port.is_none()).map(|f| f.id.as_str()).collect();
    if !host_wide.is_empty() {
        w!(
            out,
            "<p>{}: {}</p>\n",
            t("Zwaktes van de hele host", "Host-wide weaknesses"),
            escape(&host_wide.join(", "))
        );
    }
    if h.services.is_empty() {
        if h.middlebox.is_none() {
            w!(out, "<p>{}</p>\n", t("Geen open poorten gevonden.", "No open ports found."));
        }
        out.push_str("</article>\n");
        return;
    }
    w!(
        out,
        "<table>\n<thead><tr><th>{}</th><th>{}</th><th>Product</th><th>{}</th><th>TLS</th><th>{}</th></tr></thead>\n<tbody>\n",
        t("Poort", "Port"),
        t("Dienst", "Service"),
        t("Versie", "Version"),
        t("Zwaktes", "Weaknesses"),
    );
    for s in &h.services {
        let ids: Vec<String> = mine
            .iter()
            .filter(|f| f.port == Some(s.port) && f.protocol == Some(s.protocol))
            .map(|f| format!("<a href=\"#w-{id}\">{id}</a>", id = escape(&f.id)))
            .collect();
        w!(
            out,
            "<tr><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            s.port,
            s.protocol,
            escape(s.service.as_deref().unwrap_or("")),
            escape(s.product.as_deref().unwrap_or("")),
            escape(s.version.as_deref().unwrap_or("")),
            escape(&tls_versions(s)),
            ids.join(", "),
        );
    }
    out.push_str("</tbody>\n</table>\n</article>\n");
}

fn footer(out: &mut String, report: &Report, lang: Lang) {
    let t = |nl: &'static str, en: &'static str| lang.pick(nl, en);
    let sc = &report.scan;
    let c = &report.consent;
    w!(out, "<footer>\n<h2>{}</h2>\n<dl class=\"facts small\">\n", t("Over deze scan", "About this scan"));
    let minutes = (report.stats.duration_s / 60.0).round();
    let rows = [
        (t("Scan", "Scan"), report.scan_id.clone()),
        (t("Gestart", "Started"), local_time(report.started_at, lang)),
        (t("Duur", "Duration"), format!("{minutes} min")),
        (
            t("Profiel", "Profile"),
            format!(
                "{} ({} TCP, {} UDP {})",
                sc.profile,
                sc.tcp_ports,
                sc.udp_ports,
                t("poorten per host", "ports per host")
            ),
        ),
        (t("Methode", "Method"), format!("{} / {}", sc.discovery_method, sc.tcp_method)),
        (
            t("Snelheid", "Rate"),
            format!("max {} {} ({} per host)", sc.rate, t("pakketten/s", "packets/s"), sc.per_host_rate),
        ),
        (
            t("Toestemming", "Consent"),
            format!("{}, {} {}", c.organisation, t("geldig tot", "valid until"), c.valid_until),
        ),
        (t("Ondertekend door sleutel", "Signed by key"), c.signer.clone()),
        ("wijkagent", report.agent_version.clone()),
    ];
    for (k, v) in rows {
        w!(out, "<div><dt>{k}</dt><dd>{}</dd></div>\n", escape(&v));
    }
    out.push_str("</dl>\n</footer>\n");
}

const CSS: &str = r#"
:root { --ink: #1b1b1b; --muted: #5f6368; --line: #d9dce0; --soft: #f4f5f7; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); line-height: 1.45; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 2rem; margin: .2rem 0 .6rem; }
h2 { font-size: 1.4rem; border-bottom: 2px solid var(--ink); padding-bottom: .2rem; margin-top: 2.5rem; }
h3 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; }
.kicker { text-transform: uppercase; letter-spacing: .08em; color: var(--muted); margin: 0; }
.confidential { font-size: .85rem; color: var(--muted); border-left: 3px solid var(--line); padding-left: .6rem; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(10rem, 1fr)); gap: .6rem; margin: 1rem 0; }
.facts div { background: var(--soft); padding: .5rem .7rem; border-radius: 4px; }
.facts dt { font-size: .8rem; color: var(--muted); }
.facts dd { margin: 0; font-size: 1.3rem; font-weight: 600; overflow-wrap: anywhere; }
.facts.small dd { font-size: .95rem; font-weight: 400; }
.warn { background: #fff3e0; border-left: 4px solid #e65100; padding: .5rem .8rem; }
.chart { margin: 1rem 0; }
.chart text { font-size: 13px; fill: var(--ink); }
.chart figcaption { position: absolute; left: -9999px; }
.actions li { margin: .5rem 0; }
.count, .meta { color: var(--muted); font-size: .9rem; }
.sev { display: inline-block; min-width: 4.2rem; text-align: center; border-radius: 3px; padding: 0 .35rem;
       font-size: .8rem; font-weight: 600; color: #fff; vertical-align: .1em; }
.sev-critical { background: #7f0000; } .sev-high { background: #c62828; } .sev-medium { background: #e65100; }
.sev-low { background: #f9a825; color: #1b1b1b; } .sev-info { background: #78909c; }
code { font-family: ui-monospace, "SFMono-Regular", Consolas, "Liberation Mono", monospace; font-size: .88em;
       background: var(--soft); padding: 0 .2rem; border-radius: 2px; overflow-wrap: anywhere; }
code.id { font-weight: 400; color: var(--muted); }
.advice { background: var(--soft); padding: .2rem .9rem; border-radius: 4px; }
.advice .action { font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .4rem; text-align: left; vertical-align: top; }
th { background: var(--soft); }
td.evidence { overflow-wrap: anywhere; white-space: pre-wrap; }
a { color: inherit; }
footer { margin-top: 3rem; }
@page { size: A4; margin: 15mm 14mm 16mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  .page { break-before: page; }
  h2, h3 { break-after: avoid; }
  tr, .actions li, .facts div, .advice .action { break-inside: avoid; }
  thead { display: table-header-group; }
  a { text-decoration: none; }
  .sev, .facts div, .advice, th, .chart rect { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
"#;

#[cfg(test)]
#[path = "html_tests.rs"]
mod tests;
