//! Tests of the catalog data and of [`super::evaluate`].

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use super::catalog::{first_line, VERSIONS_TOML, WEAKNESSES_TOML};
use super::*;
use crate::probe::{Observation, ServiceInfo};
use crate::report::Severity;
use crate::tls::TlsReport;

const HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));

/// The ids the brief asks for, at the least.
const REQUIRED_IDS: [&str; 30] = [
    "telnet-open",
    "ftp-cleartext",
    "ftp-anonymous-login",
    "http-directory-listing",
    "smb1-enabled",
    "smb-signing-not-required",
    "smb-guest-access",
    "rdp-nla-disabled",
    "ssh-password-auth",
    "ssh-weak-algorithms",
    "sslv3-enabled",
    "tls-1.0-enabled",
    "tls-1.1-enabled",
    "tls-weak-cipher",
    "tls-cert-expired",
    "tls-cert-expiring",
    "tls-cert-self-signed",
    "tls-cert-untrusted",
    "tls-cert-weak-key",
    "tls-cert-weak-signature",
    "tls-cert-name-mismatch",
    "redis-no-auth",
    "mongodb-no-auth",
    "elasticsearch-no-auth",
    "mqtt-anonymous",
    "snmp-default-community",
    "vnc-no-auth",
    "ldap-anonymous-bind",
    "cleartext-mail-login",
    "outdated-software",
];

#[test]
fn the_embedded_catalog_is_valid_and_complete() {
    let cat = catalog();
    let ids: Vec<&str> = cat.weaknesses().iter().map(|w| w.id.as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "ids are unique");
    for id in REQUIRED_IDS {
        assert!(cat.get(id).is_some(), "{id} is in the catalog");
    }
    for w in cat.weaknesses() {
        for (field, text) in [
            ("title_nl", &w.title_nl),
            ("title_en", &w.title_en),
            ("evidence", &w.evidence),
            ("advice_nl", &w.advice_nl),
            ("advice_en", &w.advice_en),
        ] {
            assert!(!text.trim().is_empty(), "{}: {field} is empty", w.id);
        }
        assert!(Severity::ALL.contains(&w.severity));
        assert!(!w.references.cyfun.is_empty() && !w.references.cis.is_empty(), "{}: references", w.id);
        assert_ne!(w.title_nl, w.title_en, "{}: the Dutch title is not the English one", w.id);
        for lang in [Lang::Nl, Lang::En] {
            let action = w.action(lang);
            assert!(action.ends_with('.') && action.len() <= 200, "{}: the action is one sentence: {action}", w.id);
            assert!(w.advice(lang).lines().count() >= 2, "{}: advice has steps after the action", w.id);
        }
    }
}

#[test]
fn the_catalog_refuses_bad_data() {
    let good = r#"
[[weakness]]
id = "outdated-software"
severity = "high"
title_nl = "t"
title_en = "u"
evidence = "e"
advice_nl = "a."
advice_en = "b."
references = { cyfun = ["ID.RA-01"], cis = ["7.4"] }
"#;
    assert!(Catalog::parse(good, "").is_ok());
    let twice = format!("{good}{good}");
    let cases: Vec<(String, &str)> = vec![
        (twice, "twice"),
        (good.replace("title_nl = \"t\"", "title_nl = \" \""), "title_nl"),
        (good.replace("\"high\"", "\"severe\""), "severe"),
        (good.replace("\"7.4\"", "\"7.4.1\""), "7.4.1"),
        (good.replace("\"ID.RA-01\"", "\"ID.RA-1\""), "ID.RA-1"),
        (good.replace("cyfun = [\"ID.RA-01\"]", "cyfun = []"), "cyfun"),
        (good.replace("\"outdated-software\"", "\"Outdated_Software\""), "id"),
        (good.replace("\"outdated-software\"", "\"other\""), "outdated-software"),
        (format!("{good}colour = \"red\"\n"), "colour"),
        (format!("{good}triggers = {{ service = [\"Telnet\"] }}\n"), "Telnet"),
        (format!("{good}triggers = {{ port = [23] }}\n"), "port"),
        (good.replace("evidence = \"e\"", ""), "evidence"),
    ];
    for (text, needle) in cases {
        let e = Catalog::parse(&text, "").expect_err(needle);
        assert!(e.to_string().contains(needle), "{e} should mention {needle}");
    }
    assert!(Catalog::parse(good, "[[vulnerable]]\nproduct = 1\n").is_err(), "the version table is checked too");
    assert!(Catalog::parse(WEAKNESSES_TOML, VERSIONS_TOML).is_ok());
}

/// Weakness ids named in source text: the string literal right after `observe(`, `observe_said(`,
/// `Observation::new(`, `Observation::said(`, `weakness:` or `weakness ==` (whitespace and line
/// breaks allowed).
fn ids_in_source(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for pattern in ["observe(", "observe_said(", "Observation::new(", "Observation::said(", "weakness:", "weakness =="]
    {
        for (i, _) in text.match_indices(pattern) {
            let rest = text[i + pattern.len()..].trim_start();
            if let Some(literal) = rest.strip_prefix('"') {
                if let Some(end) = literal.find('"') {
                    ids.push(literal[..end].to_string());
                }
            }
        }
    }
    ids
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_weakness_id_used_in_the_source_is_in_the_catalog() {
    let sample =
        "x.observe(\n  \"smb1-enabled\", e); Observation::new(\"a-b\", y); weakness: \"c\"; o.weakness == \"d\"; \
         x.observe_said(\"e\", s); Observation::said(\"f\", s)";
    assert_eq!(ids_in_source(sample), ["smb1-enabled", "e", "a-b", "f", "c", "d"]);
    assert!(ids_in_source("pub fn observe(&mut self, weakness: &str)").is_empty());

    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.iter().any(|f| f.ends_with("probe/mod.rs")), "the source tree is where it should be");
    let mut unknown: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut seen = 0;
    for file in files.iter().filter(|f| !f.starts_with(src.join("rules"))) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for id in ids_in_source(&text) {
            seen += 1;
            if catalog().get(&id).is_none() {
                let shown = file.strip_prefix(&src).unwrap_or(file).display().to_string();
                unknown.entry(id).or_default().insert(shown);
            }
        }
    }
    assert!(unknown.is_empty(), "weakness ids used in the source but missing from data/weaknesses.toml: {unknown:?}");
    eprintln!("{seen} weakness ids in the source, all in the catalog");
}

fn info(service: &str) -> ServiceInfo {
    ServiceInfo::named(service)
}

#[test]
fn observations_become_findings_with_the_catalog_data() {
    let mut i = info("ftp");
    i.product = Some("vsftpd".into());
    i.version = Some("3.0.3".into());
    i.observe("ftp-anonymous-login", "230 aanmelding gelukt (anoniem)", "230 Login successful (anonymous)");
    let nl = evaluate(HOST, 21, Proto::Tcp, &i, Lang::Nl);
    assert_eq!(nl.len(), 1, "{nl:?}");
    let f = &nl[0];
    let w = catalog().get("ftp-anonymous-login").expect("in catalog");
    assert_eq!((f.id.as_str(), f.severity, f.host), ("ftp-anonymous-login", w.severity, HOST));
    assert_eq!((f.port, f.protocol), (Some(21), Some(Proto::Tcp)));
    assert_eq!(f.evidence, "230 aanmelding gelukt (anoniem)", "evidence in the language of the report");
    assert_eq!(f.evidence_in(Lang::En), "230 Login successful (anonymous)", "and the other one beside it");
    assert_eq!(f.title, w.title_nl);
    assert_eq!(f.advice, w.advice_nl);
    assert_eq!(f.references, w.references);
    assert!(f.references.cve.contains(&"CVE-1999-0497".to_string()));
    let en = evaluate(HOST, 21, Proto::Tcp, &i, Lang::En);
    assert_eq!((en[0].title.as_str(), en[0].advice.as_str()), (w.title_en.as_str(), w.advice_en.as_str()));
    assert_eq!(en[0].evidence, "230 Login successful (anonymous)");
}

#[test]
fn tls_observations_count_and_repeated_ids_merge_into_one_finding() {
    let mut i = info("https");
    i.tls = Some(TlsReport {
        versions: vec!["TLSv1.0".into(), "TLSv1.2".into()],
        weak_ciphers: vec!["TLS_RSA_WITH_3DES_EDE_CBC_SHA".into(), "TLS_RSA_WITH_RC4_128_SHA".into()],
        observations: vec![
            Observation::new("tls-1.0-enabled", "TLSv1.0 aanvaard", "TLSv1.0 accepted"),
            Observation::said("tls-weak-cipher", Said::same("TLS_RSA_WITH_3DES_EDE_CBC_SHA")),
            Observation::said("tls-weak-cipher", Said::same("TLS_RSA_WITH_RC4_128_SHA")),
            Observation::said("tls-weak-cipher", Said::same("TLS_RSA_WITH_RC4_128_SHA")),
        ],
        ..TlsReport::default()
    });
    i.observe("tls-cert-expired", "verlopen op 2024-01-01", "expired on 2024-01-01");
    let f = evaluate(HOST, 443, Proto::Tcp, &i, Lang::En);
    let ids: Vec<&str> = f.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["tls-1.0-enabled", "tls-cert-expired", "tls-weak-cipher"], "medium ones, by id");
    let weak = f.iter().find(|f| f.id == "tls-weak-cipher").expect("weak ciphers");
    assert_eq!(weak.evidence, "TLS_RSA_WITH_3DES_EDE_CBC_SHA; TLS_RSA_WITH_RC4_128_SHA", "merged, duplicates once");
}

#[test]
fn service_triggers_apply_without_an_observation_and_yield_to_one() {
    let bare = evaluate(HOST, 23, Proto::Tcp, &info("telnet"), Lang::Nl);
    assert_eq!(bare.len(), 1);
    assert_eq!(bare[0].id, "telnet-open");
    assert_eq!(bare[0].evidence, "poort 23/tcp open, herkend als telnet");
    assert_eq!(bare[0].evidence_in(Lang::En), "port 23/tcp open, identified as telnet");
    assert_eq!(bare[0].severity, Severity::High);

    let mut seen = info("telnet");
    seen.product = Some("BusyBox telnetd".into());
    seen.observe("telnet-open", "login:-prompt van een UPS-kaart", "login: prompt of a UPS card");
    let f = evaluate(HOST, 2323, Proto::Tcp, &seen, Lang::En);
    assert_eq!(f.len(), 1, "one finding, not two");
    assert_eq!(f[0].evidence, "login: prompt of a UPS card");

    let ot = evaluate(HOST, 502, Proto::Tcp, &info("modbus"), Lang::En);
    assert_eq!(ot.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["ot-protocol-exposed"]);
    assert!(evaluate(HOST, 22, Proto::Tcp, &info("ssh"), Lang::Nl).is_empty(), "ssh alone is no weakness");
    assert!(evaluate(HOST, 23, Proto::Tcp, &ServiceInfo::default(), Lang::Nl).is_empty(), "no service, no trigger");
}

#[test]
fn vulnerable_versions_become_outdated_software_with_the_cve() {
    let mut ssh = info("ssh");
    ssh.product = Some("OpenSSH".into());
    ssh.version = Some("9.2p1".into());
    let f = evaluate(HOST, 22, Proto::Tcp, &ssh, Lang::En);
    assert_eq!(f.len(), 1);
    let o = &f[0];
    assert_eq!((o.id.as_str(), o.severity), (OUTDATED_SOFTWARE, Severity::High));
    assert!(o.evidence.starts_with("OpenSSH 9.2p1: CVE-2024-6387 (high): regreSSHion"), "{}", o.evidence);
    assert!(!o.evidence.contains("backport"), "no distribution hint: {}", o.evidence);
    assert!(o.references.cve.contains(&"CVE-2024-6387".to_string()));
    assert!(o.references.cyfun.contains(&"ID.RA-01".to_string()), "catalog references kept");

    ssh.details.insert("banner".into(), "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2".into());
    let packaged = evaluate(HOST, 22, Proto::Tcp, &ssh, Lang::Nl);
    assert!(packaged[0].evidence.contains("pakket van een distributie"), "{}", packaged[0].evidence);
    assert!(packaged[0].evidence.starts_with("OpenSSH 9.2p1: CVE-2024-6387 (hoog): "), "{}", packaged[0].evidence);
    assert!(packaged[0].evidence_in(Lang::En).contains("distribution package"), "{:?}", packaged[0].evidence_by_lang);

    let mut ftp = info("ftp");
    ftp.product = Some("vsftpd".into());
    ftp.version = Some("2.3.4".into());
    ftp.observe("ftp-anonymous-login", "230", "230");
    let f = evaluate(HOST, 21, Proto::Tcp, &ftp, Lang::Nl);
    assert_eq!(f[0].id, OUTDATED_SOFTWARE, "critical comes first");
    assert_eq!(f[0].severity, Severity::Critical, "the table's severity, not the catalog default");
    assert!(f[0].evidence.contains("CVE-2011-2523"));

    let mut web = info("http");
    web.product = Some("Apache httpd".into());
    web.version = Some("2.4.49".into());
    let f = evaluate(HOST, 80, Proto::Tcp, &web, Lang::En);
    assert_eq!(f.len(), 1);
    for cve in ["CVE-2021-41773", "CVE-2021-42013", "CVE-2024-38476"] {
        assert!(f[0].evidence.contains(cve) && f[0].references.cve.contains(&cve.to_string()), "{cve}");
    }

    let mut fine = info("http");
    fine.product = Some("nginx".into());
    fine.version = Some("1.22.1".into());
    assert!(evaluate(HOST, 80, Proto::Tcp, &fine, Lang::En).is_empty());
    fine.version = Some("unknown".into());
    assert!(evaluate(HOST, 80, Proto::Tcp, &fine, Lang::En).is_empty(), "an unparsable version is no finding");
}

#[test]
fn unknown_observation_ids_become_info_findings_under_their_own_id() {
    let mut i = info("http");
    i.observe("made-up-weakness", "<b>gezien</b>", "<b>seen</b>");
    i.observe("", "helemaal geen id", "no id at all");
    let f = evaluate(HOST, 8080, Proto::Tcp, &i, Lang::En);
    let ids: Vec<&str> = f.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["made-up-weakness", "unnamed-observation"]);
    let made_up = &f[0];
    assert_eq!(made_up.severity, Severity::Info);
    assert_eq!(made_up.evidence, "<b>seen</b>");
    assert!(made_up.title.contains("made-up-weakness"));
    assert!(!made_up.advice.is_empty());
    assert!(made_up.references.is_empty());
}

#[test]
fn findings_come_most_severe_first() {
    let mut i = info("redis");
    i.product = Some("Redis".into());
    i.version = Some("7.2.4".into());
    i.observe("redis-no-auth", "INFO beantwoord", "INFO answered");
    i.observe("tls-cert-expiring", "12 dagen", "12 days");
    let f = evaluate(HOST, 6379, Proto::Tcp, &i, Lang::En);
    let order: Vec<(Severity, &str)> = f.iter().map(|f| (f.severity, f.id.as_str())).collect();
    assert_eq!(
        order,
        [
            (Severity::Critical, "redis-no-auth"),
            (Severity::High, "outdated-software"),
            (Severity::Low, "tls-cert-expiring")
        ]
    );
    assert_eq!(first_line(&f[0].advice), catalog().get("redis-no-auth").map(|w| w.action(Lang::En)).unwrap_or(""));
}
