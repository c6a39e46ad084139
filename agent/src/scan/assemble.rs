//! Building `report.json` from what the engines found.

use chrono::{DateTime, Utc};

use super::{Found, Plan};
use crate::i18n::Lang;
use crate::ports::{self, Proto};
use crate::portscan::{PortState, PortTally};
use crate::probe::ServiceInfo;
use crate::report::{ConsentRef, Host, Middlebox, Report, ScanSettings, Service, Stats};
use crate::rules;

/// Inputs of [`report`].
#[derive(Debug)]
pub struct Parts<'a> {
    /// The plan that ran.
    pub plan: &'a Plan,
    /// Scan id.
    pub scan_id: String,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// Whether raw sockets were used.
    pub raw: bool,
    /// Engine results.
    pub found: Found,
    /// Probes sent, all phases.
    pub probes_sent: u64,
    /// Why the scan stopped early, if it did.
    pub interrupted: Option<String>,
    /// Language of the report: the findings' titles, advice and evidence, and the evidence of the
    /// TLS analyses.
    pub lang: Lang,
}

/// One open port as the report shows it: identified where identification ran, else named from the
/// port list.
fn service(port: u16, protocol: Proto, info: Option<&ServiceInfo>, lang: Lang) -> Service {
    let listed = || ports::service_name(port, protocol).map(str::to_string);
    let Some(info) = info else {
        return Service {
            port,
            protocol,
            state: "open".into(),
            service: listed(),
            product: None,
            version: None,
            tls: None,
            details: Default::default(),
            note: None,
        };
    };
    Service {
        port,
        protocol,
        state: "open".into(),
        service: info.service.clone().or_else(listed),
        product: info.product.clone(),
        version: info.version.clone(),
        tls: info.tls.as_ref().and_then(|t| t.to_report_json(lang)),
        details: info.details.clone(),
        note: info.note.clone(),
    }
}

/// Assembles the report.
pub fn report(parts: Parts<'_>) -> Report {
    let Parts { plan, scan_id, started_at, raw, found, probes_sent, interrupted, lang } = parts;
    let mut findings = Vec::new();
    let finished_at = Utc::now();
    let tcp_ports = &plan.ports.tcp;
    let mut hosts = Vec::with_capacity(found.discovery.hosts.len());
    for (h, live) in found.discovery.hosts.iter().enumerate() {
        let mut services = Vec::new();
        let mut udp_tally = PortTally::default();
        let tcp_tally = found.tcp_tally(h);
        // A host that answers on every port has no TCP services to list (see `portscan::middlebox`).
        let middlebox = Middlebox::from_tally(&tcp_tally);
        for (port, state) in tcp_ports.iter().zip(found.tcp_row(h)) {
            if *state == PortState::Open && middlebox.is_none() {
                let info = found.identified.get(&(live.address, *port, Proto::Tcp));
                if let Some(info) = info {
                    findings.extend(rules::evaluate(live.address, *port, Proto::Tcp, info, lang));
                }
                services.push(service(*port, Proto::Tcp, info, lang));
            }
        }
        for r in found.udp.iter().filter(|r| r.host == live.address) {
            udp_tally.add(r.state);
            if r.state == PortState::Open {
                let info = found.identified.get(&(live.address, r.port, Proto::Udp));
                if let Some(info) = info {
                    findings.extend(rules::evaluate(live.address, r.port, Proto::Udp, info, lang));
                }
                services.push(service(r.port, Proto::Udp, info, lang));
            }
        }
        hosts.push(Host {
            address: live.address,
            mac: live.mac.map(|m| m.to_string()),
            discovered_by: live.discovered_by.clone(),
            fragile: plan.consent.terms.scope.is_fragile(live.address),
            backoff: found.backoff.get(h).copied().unwrap_or("normal").to_string(),
            services,
            tcp_ports: tcp_tally,
            udp_ports: udp_tally,
            middlebox,
            tcp_replies: found.tcp_replies.get(h).and_then(|r| r.nonzero()),
        });
    }
    // Most severe first, then by host and port, so the report reads from what matters most.
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.host.cmp(&b.host)).then(a.port.cmp(&b.port)));
    let duration_s = (finished_at - started_at).num_milliseconds().max(1) as f64 / 1000.0;
    let count = |proto| hosts.iter().flat_map(|h| &h.services).filter(|s| s.protocol == proto).count() as u64;
    let stats = Stats {
        targets: u64::try_from(plan.consent.terms.scope.target_count()).unwrap_or(u64::MAX),
        hosts_up: hosts.len() as u64,
        open_tcp: count(Proto::Tcp),
        open_udp: count(Proto::Udp),
        probes_sent,
        retransmissions: found.retransmissions,
        duration_s,
        achieved_pps: (probes_sent as f64 / duration_s * 10.0).round() / 10.0,
        hosts_backed_off: hosts.iter().filter(|h| h.backoff != "normal").count() as u64,
        unmatched_replies: found.unmatched_replies,
    };
    let consent = &plan.consent;
    Report {
        schema: wijk_protocol::REPORT_SCHEMA.to_string(),
        scan_id,
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        complete: interrupted.is_none(),
        interrupted,
        started_at,
        finished_at,
        consent: ConsentRef {
            organisation: consent.terms.organisation.clone(),
            sha256: consent.sha256.clone(),
            signer: consent.signer.clone(),
            valid_until: consent.terms.valid_until.to_rfc3339(),
        },
        scan: ScanSettings {
            profile: plan.profile_name.clone(),
            tcp_method: if raw { "syn" } else { "connect" }.into(),
            discovery_method: if raw { "raw" } else { "connect" }.into(),
            tcp_ports: tcp_ports.len(),
            udp_ports: plan.ports.udp.len(),
            rate: plan.caps.total,
            per_host_rate: plan.caps.per_host,
            services_identified: !plan.ports_only,
        },
        hosts,
        findings,
        stats,
        comparison: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::Consent;
    use crate::discover::{Discovery, LiveHost};
    use crate::ports::PortList;
    use crate::rate::RateCaps;
    use crate::report::TcpReplies;
    use std::net::IpAddr;

    /// Two hosts over ports 1-1000: `.2` answers on every port but the first ten (the sweep stopped
    /// after 200), `.3` runs telnet and ssh; `.2` also answered twice on many ports.
    fn found_and_plan() -> (Found, Plan) {
        let tcp: Vec<u16> = (1..=1000).collect();
        let live = |last: u8| LiveHost {
            address: IpAddr::from([127, 0, 0, last]),
            mac: None,
            discovered_by: vec!["tcp-syn:443".into()],
        };
        let mut states = Vec::new();
        states.extend((1..=1000u16).map(|p| match p {
            1..=10 => PortState::Closed,
            11..=200 => PortState::Open,
            _ => PortState::Unscanned,
        }));
        states.extend((1..=1000u16).map(|p| if p == 22 || p == 23 { PortState::Open } else { PortState::Closed }));
        let found = Found {
            discovery: Discovery { hosts: vec![live(2), live(3)], complete: true, ..Default::default() },
            tcp_ports: tcp.clone(),
            tcp: states,
            backoff: vec!["normal", "normal"],
            tcp_replies: vec![TcpReplies { duplicate: 150, late: 0, unreachable: 0 }, TcpReplies::default()],
            unmatched_replies: 7,
            ..Default::default()
        };
        let plan = Plan {
            consent: Consent::self_loopback(),
            profile_name: "custom".into(),
            ports: PortList { tcp, udp: vec![] },
            caps: RateCaps { total: 100, per_host: 100 },
            force_connect: false,
            ports_only: false,
        };
        (found, plan)
    }

    #[test]
    fn a_host_that_answers_every_port_gets_a_note_and_no_services_to_identify() {
        let (found, plan) = found_and_plan();
        let to_identify: Vec<_> = found.open_ports().into_iter().map(|(ip, port, _)| (ip.to_string(), port)).collect();
        assert_eq!(to_identify, [("127.0.0.3".to_string(), 22), ("127.0.0.3".to_string(), 23)]);
        let parts = Parts {
            plan: &plan,
            scan_id: "t".into(),
            started_at: Utc::now(),
            raw: true,
            found,
            probes_sent: 1200,
            interrupted: None,
            lang: Lang::En,
        };
        let r = report(parts);
        let (mbox, server) = (&r.hosts[0], &r.hosts[1]);
        assert!(mbox.services.is_empty(), "no 'services' on a middlebox: {:?}", mbox.services);
        assert_eq!(mbox.middlebox, Some(Middlebox { open: 190, probed: 200, unscanned: 800 }));
        assert_eq!(mbox.tcp_ports.open, 190, "the tally still counts what answered");
        assert_eq!(mbox.tcp_replies, Some(TcpReplies { duplicate: 150, late: 0, unreachable: 0 }));
        assert_eq!(server.middlebox, None);
        assert_eq!(server.tcp_replies, None, "all zero: left out");
        assert_eq!(server.services.len(), 2);
        assert_eq!((r.stats.open_tcp, r.stats.unmatched_replies), (2, 7));
        let json = serde_json::to_value(&r).expect("json");
        assert!(json["hosts"][1].get("middlebox").is_none() && json["hosts"][1].get("tcp_replies").is_none());
    }
}
