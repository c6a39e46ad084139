//! Reports for the tests of the report module: built by hand, with hostile text where a server could
//! put it.

use std::net::IpAddr;

use chrono::{TimeZone, Utc};

use super::{ConsentRef, Finding, Host, Report, ScanSettings, Service, Severity, Stats};
use crate::i18n::{Lang, Said};
use crate::ports::Proto;
use crate::portscan::PortTally;

/// The banner a hostile server sends.
pub const HOSTILE: &str = "<script>alert('x')</script>";

/// `192.0.2.n`.
pub fn ip(n: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, n])
}

/// An open service.
pub fn service(port: u16, name: &str, product: Option<&str>, version: Option<&str>) -> Service {
    Service {
        port,
        protocol: Proto::Tcp,
        state: "open".into(),
        service: Some(name.into()),
        product: product.map(str::to_string),
        version: version.map(str::to_string),
        tls: None,
        details: Default::default(),
        note: None,
    }
}

/// A live host.
pub fn host(n: u8, services: Vec<Service>) -> Host {
    Host {
        address: ip(n),
        mac: Some(format!("52:54:00:00:00:{n:02x}")),
        discovered_by: vec!["arp".into()],
        fragile: false,
        backoff: "normal".into(),
        services,
        tcp_ports: PortTally::default(),
        udp_ports: PortTally::default(),
        middlebox: None,
        tcp_replies: None,
    }
}

/// A finding with catalog texts when the catalog knows `id`.
pub fn finding(id: &str, severity: Severity, host: u8, port: u16, evidence: &str) -> Finding {
    let w = crate::rules::catalog().get(id);
    Finding {
        id: id.into(),
        severity,
        title: w.map(|w| w.title(Lang::Nl).to_string()).unwrap_or_default(),
        host: ip(host),
        port: Some(port),
        protocol: Some(Proto::Tcp),
        evidence: evidence.into(),
        evidence_by_lang: None,
        advice: w.map(|w| w.advice(Lang::Nl).to_string()).unwrap_or_default(),
        references: w.map(|w| w.references.clone()).unwrap_or_default(),
    }
}

/// A report of three hosts: telnet on two, an outdated OpenSSH, TLS 1.0 on a web server whose
/// banner and evidence carry [`HOSTILE`] text. The first telnet finding has its evidence in both
/// languages, the others only as written (as in reports of older versions).
pub fn report() -> Report {
    let mut web = service(443, "https", Some(HOSTILE), Some("1.0\"><img src=x>"));
    web.tls = Some(serde_json::json!({"versions": ["TLSv1.0", "TLSv1.2"], "weak_ciphers": [], "observations": []}));
    let hosts = vec![
        host(1, vec![service(22, "ssh", Some("OpenSSH"), Some("9.2p1")), service(23, "telnet", None, None)]),
        host(2, vec![service(23, "telnet", None, None), web]),
        host(3, vec![service(80, "http", Some("nginx"), Some("1.22.1"))]),
    ];
    let mut findings = vec![
        finding("outdated-software", Severity::High, 1, 22, "OpenSSH 9.2p1: CVE-2024-6387 (hoog): regreSSHion"),
        finding("telnet-open", Severity::High, 1, 23, "poort 23/tcp open, herkend als telnet"),
        finding("telnet-open", Severity::High, 2, 23, "login, \"quoted\"\nsecond line"),
        finding("tls-1.0-enabled", Severity::Medium, 2, 443, HOSTILE),
        finding("made-up-weakness", Severity::Info, 3, 80, "=cmd|' /C calc'!A0"),
    ];
    // As the rules write it: the evidence in the report's language, and in both beside it.
    findings[1].evidence_by_lang =
        Some(Said::new("poort 23/tcp open, herkend als telnet", "port 23/tcp open, identified as telnet"));
    Report {
        schema: wijk_protocol::REPORT_SCHEMA.to_string(),
        scan_id: "20261201T190000Z-0a1b2c3d".into(),
        agent_version: "0.1.0".into(),
        complete: true,
        interrupted: None,
        started_at: Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).single().unwrap_or_default(),
        finished_at: Utc.with_ymd_and_hms(2026, 12, 1, 18, 30, 0).single().unwrap_or_default(),
        consent: ConsentRef {
            organisation: "Gemeente <Voorbeeld> & OCMW".into(),
            sha256: "ab".repeat(32),
            signer: "cd".repeat(16),
            valid_until: "2027-12-01T00:00:00+01:00".into(),
        },
        scan: ScanSettings {
            profile: "standard".into(),
            tcp_method: "syn".into(),
            discovery_method: "raw".into(),
            tcp_ports: 1000,
            udp_ports: 8,
            rate: 200,
            per_host_rate: 20,
            services_identified: true,
        },
        hosts,
        findings,
        stats: Stats { targets: 256, hosts_up: 3, open_tcp: 6, duration_s: 1800.0, ..Stats::default() },
        comparison: None,
    }
}
