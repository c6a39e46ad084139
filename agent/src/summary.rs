//! The anonymised summary of a report (`wijk.summary/1`, [`wijk_protocol::Summary`]): what leaves the
//! building.
//!
//! Built from a [`Report`] by counting, and only from closed vocabularies: a service kind is kept only
//! when the agent itself knows the name (its port catalog or a probe), else it counts as `other`; a
//! weakness only when the catalog knows its id. Addresses, MACs, banners, titles, evidence and
//! certificate subjects are never read, so they cannot leak, whatever a hostile server wrote into the
//! report. The ISO week is that of the scan's end in Europe/Brussels.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::sync::OnceLock;

use chrono::Datelike;
use wijk_protocol::summary::{
    CertificateCounts, Counts, ProtocolCounts, ServiceCount, Severity, TlsCounts, WeaknessCount,
};
use wijk_protocol::{Summary, SUMMARY_SCHEMA};

use crate::report::{self, Report};

/// Service kind for anything the agent has no name of its own for.
pub const OTHER_KIND: &str = "other";

/// Service names probes give that the port catalog may not list.
const PROBE_KINDS: &[&str] = &[
    "amqp",
    "elasticsearch",
    "ftp",
    "http",
    "https",
    "imap",
    "imaps",
    "ldap",
    "ldaps",
    "mongodb",
    "mqtt",
    "mssql",
    "mysql",
    "nats",
    "ntp",
    "ot",
    "pop3",
    "pop3s",
    "postgresql",
    "printer",
    "rdp",
    "redis",
    "smb",
    "smtp",
    "smtps",
    "snmp",
    "ssdp",
    "ssh",
    "telnet",
    "vnc",
];

/// Summarises `report` as agent `agent`'s summary number `seq`.
pub fn summarise(report: &Report, agent: &str, seq: u64) -> Summary {
    let week = report.finished_at.with_timezone(&chrono_tz::Europe::Brussels).iso_week();
    let mut summary = Summary {
        schema: SUMMARY_SCHEMA.to_string(),
        agent: agent.to_string(),
        seq,
        week: format!("{:04}-W{:02}", week.year(), week.week()),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        profile: profile(&report.scan.profile).to_string(),
        complete: report.complete,
        counts: Counts::default(),
        services: Vec::new(),
        weaknesses: weaknesses(report),
        tls: TlsCounts::default(),
    };
    summary.counts.hosts_alive = clamp(report.hosts.len());
    let mut kinds: BTreeMap<&str, u32> = BTreeMap::new();
    for service in report.hosts.iter().flat_map(|h| &h.services) {
        summary.counts.open_services += 1;
        *kinds.entry(kind(service.service.as_deref())).or_default() += 1;
        if let Some(tls) = service.tls.as_ref().and_then(|v| serde_json::from_value::<TlsFacts>(v.clone()).ok()) {
            count_tls(&tls, &mut summary);
        }
    }
    summary.services =
        kinds.into_iter().map(|(kind, services)| ServiceCount { kind: kind.to_string(), services }).collect();
    summary.normalise();
    summary
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX).min(wijk_protocol::summary::MAX_COUNT)
}

/// The profile as one of the four words of the contract.
fn profile(name: &str) -> &'static str {
    match name {
        "quick" => "quick",
        "standard" => "standard",
        "full" => "full",
        _ => "custom",
    }
}

/// `name` when the agent knows it as a service kind, else [`OTHER_KIND`].
fn kind(name: Option<&str>) -> &str {
    static KNOWN: OnceLock<HashSet<String>> = OnceLock::new();
    let known = KNOWN.get_or_init(|| {
        let catalog = crate::ports::entries().map(|p| p.service.clone());
        catalog
            .chain(PROBE_KINDS.iter().map(|s| s.to_string()))
            .filter(|s| wijk_protocol::summary::is_slug(s))
            .collect()
    });
    match name {
        Some(n) if known.contains(n) => n,
        _ => OTHER_KIND,
    }
}

/// Per catalog weakness: its severity and the distinct hosts with a finding of it.
fn weaknesses(report: &Report) -> Vec<WeaknessCount> {
    let mut hosts: BTreeMap<&str, (Severity, BTreeSet<IpAddr>)> = BTreeMap::new();
    for finding in &report.findings {
        let Some(known) = crate::rules::catalog().get(&finding.id) else { continue };
        let entry = hosts.entry(known.id.as_str()).or_insert((severity(finding.severity), BTreeSet::new()));
        entry.0 = entry.0.max(severity(finding.severity));
        entry.1.insert(finding.host);
    }
    hosts
        .into_iter()
        .map(|(id, (severity, hosts))| WeaknessCount { id: id.to_string(), severity, hosts: clamp(hosts.len()) })
        .collect()
}

fn severity(s: report::Severity) -> Severity {
    match s {
        report::Severity::Info => Severity::Info,
        report::Severity::Low => Severity::Low,
        report::Severity::Medium => Severity::Medium,
        report::Severity::High => Severity::High,
        report::Severity::Critical => Severity::Critical,
    }
}

/// The part of a service's TLS analysis (`services[].tls` of the report) the summary counts.
#[derive(serde::Deserialize)]
struct TlsFacts {
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    weak_ciphers: Vec<String>,
    #[serde(default)]
    observations: Vec<ObservedId>,
    #[serde(default)]
    certificate: Option<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
struct ObservedId {
    weakness: String,
}

/// Adds one service's TLS analysis to the counts, if it found TLS at all.
fn count_tls(tls: &TlsFacts, summary: &mut Summary) {
    if tls.versions.is_empty() && tls.certificate.is_none() {
        return;
    }
    summary.counts.tls_endpoints += 1;
    let p: &mut ProtocolCounts = &mut summary.tls.protocols;
    for version in &tls.versions {
        match version.as_str() {
            "SSLv3" => p.sslv3 += 1,
            "TLSv1.0" => p.tls1_0 += 1,
            "TLSv1.1" => p.tls1_1 += 1,
            "TLSv1.2" => p.tls1_2 += 1,
            "TLSv1.3" => p.tls1_3 += 1,
            _ => {}
        }
    }
    if !tls.weak_ciphers.is_empty() {
        summary.tls.weak_ciphers += 1;
    }
    if tls.certificate.is_none() {
        return;
    }
    let c: &mut CertificateCounts = &mut summary.tls.certificates;
    c.seen += 1;
    let seen: HashSet<&str> = tls.observations.iter().map(|o| o.weakness.as_str()).collect();
    for (id, counter) in [
        ("tls-cert-expired", &mut c.expired),
        ("tls-cert-expiring", &mut c.expiring),
        ("tls-cert-not-yet-valid", &mut c.not_yet_valid),
        ("tls-cert-self-signed", &mut c.self_signed),
        ("tls-cert-untrusted", &mut c.untrusted),
        ("tls-cert-weak-key", &mut c.weak_key),
        ("tls-cert-weak-signature", &mut c.weak_signature),
        ("tls-cert-name-mismatch", &mut c.name_mismatch),
    ] {
        if seen.contains(id) {
            *counter += 1;
        }
    }
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
