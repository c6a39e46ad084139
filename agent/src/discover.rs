//! Host discovery: which targets of the consent are alive.
//!
//! Privileged: one raw sweep in which every target gets the probes that fit it. Targets on a directly
//! attached IPv4 network are asked by ARP only (authoritative there, and it yields the MAC); all others
//! get an ICMP echo, TCP SYN pings to a few common ports and a TCP ACK ping. The first answer settles
//! a host. Unprivileged: a TCP connect ping (refused or accepted both prove the host alive).
//!
//! Targets come only from the consent's scope; an ARP request is never sent for anything else,
//! because the sweep's hosts *are* the scope's targets and the packet layer's guard checks again.

use std::net::IpAddr;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use pnet_base::MacAddr;
use tokio_util::sync::CancellationToken;

use crate::consent::Scope;
use crate::net::{PacketIo, Reply};
use crate::portscan::connect::{self, ConnectConfig};
use crate::portscan::PortState;
use crate::progress::Progress;
use crate::rate::Limiter;
use crate::sweep::{self, Slot, SlotState, SweepConfig, Table};

/// TCP ports used for SYN and connect pings: the ones almost every managed host answers on.
pub const PING_PORTS: [u16; 5] = [443, 80, 22, 445, 3389];
/// Port used for the ACK ping.
pub const ACK_PING_PORT: u16 = 80;

/// A host that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveHost {
    /// Its address.
    pub address: IpAddr,
    /// Its MAC, when learnt by ARP.
    pub mac: Option<MacAddr>,
    /// The probes it answered (`arp`, `icmp-echo`, `tcp-syn:443`, `tcp-connect:22`, ...).
    pub discovered_by: Vec<String>,
}

/// Outcome of discovery.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Live hosts, ascending by address.
    pub hosts: Vec<LiveHost>,
    /// Probes sent.
    pub probes_sent: u64,
    /// Retransmissions among them.
    pub retransmissions: u64,
    /// False if stopped early.
    pub complete: bool,
}

/// Raw-socket discovery of every target in `scope`. Hands the reply channel back for the port scan.
pub fn discover_raw(
    io: &dyn PacketIo,
    replies: Receiver<Reply>,
    scope: &Scope,
    limiter: &Limiter,
    progress: &Arc<Progress>,
    stop: &CancellationToken,
) -> (Discovery, Option<Receiver<Reply>>) {
    let mut slots = vec![Slot::Arp, Slot::Echo];
    slots.extend(PING_PORTS.iter().map(|p| Slot::Syn(*p)));
    slots.push(Slot::Ack(ACK_PING_PORT));
    let table = Arc::new(Table::new(scope.targets().collect(), slots, true));
    for (h, ip) in table.hosts.iter().enumerate() {
        let on_link = match ip {
            IpAddr::V4(v4) => io.on_link(*v4),
            IpAddr::V6(_) => false,
        };
        for (s, slot) in table.slots.iter().enumerate() {
            if (*slot == Slot::Arp) != on_link {
                table.skip(h, s);
            }
        }
    }
    let config = SweepConfig {
        retries: 1,
        settle: Duration::from_millis(500),
        phase: "discovery",
        senders: SweepConfig::senders_for(limiter.caps().total),
    };
    let out = sweep::run(io, replies, table, limiter, progress, &config, stop);
    let t = &out.table;
    let hosts = (0..t.hosts.len())
        .filter(|&h| t.alive(h))
        .map(|h| LiveHost {
            address: t.hosts[h],
            mac: t.mac(h),
            discovered_by: (0..t.slots.len())
                .filter(|&s| {
                    t.state(h, s) == SlotState::Answered || matches!(t.state(h, s), SlotState::Open | SlotState::Closed)
                })
                .map(|s| t.slots[s].label())
                .collect(),
        })
        .collect();
    let d =
        Discovery { hosts, probes_sent: out.probes_sent, retransmissions: out.retransmissions, complete: out.complete };
    (d, out.replies)
}

/// Unprivileged discovery: a TCP connect to the ping ports; refused or accepted proves the host alive.
pub async fn discover_connect(
    scope: &Scope,
    limiter: &Arc<Limiter>,
    progress: &Arc<Progress>,
    stop: &CancellationToken,
) -> Discovery {
    let mut found = Discovery { complete: true, ..Default::default() };
    let config = ConnectConfig { retries: 0, phase: "discovery", ..ConnectConfig::default() };
    // Work through the scope in chunks so a large scope never holds all its states at once.
    let targets: Vec<IpAddr> = scope.targets().collect();
    for chunk in targets.chunks(4096) {
        let out = connect::scan(chunk, &PING_PORTS, scope, limiter, progress, &config, stop).await;
        found.probes_sent += out.probes_sent;
        for (h, host) in out.hosts.iter().enumerate() {
            let answered: Vec<String> = out
                .ports
                .iter()
                .enumerate()
                .filter(|(p, _)| matches!(out.states[h * out.ports.len() + p], PortState::Open | PortState::Closed))
                .map(|(_, port)| format!("tcp-connect:{port}"))
                .collect();
            if !answered.is_empty() {
                progress.hosts_up.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                found.hosts.push(LiveHost { address: *host, mac: None, discovered_by: answered });
            }
        }
        if !out.complete {
            found.complete = false;
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::fake::{FakeHost, FakeNet};
    use crate::net::ScopedIo;
    use crate::rate::RateCaps;
    use std::collections::HashMap;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn on_link_hosts_are_found_by_arp_only_and_silent_addresses_stay_absent() {
        let mut hosts = HashMap::new();
        hosts.insert(ip("198.18.0.2"), FakeHost { mac: Some(MacAddr::new(2, 0, 0, 0, 0, 2)), ..Default::default() });
        hosts.insert(ip("198.18.0.3"), FakeHost { mac: Some(MacAddr::new(2, 0, 0, 0, 0, 3)), ..Default::default() });
        let (net, rx) = FakeNet::new(hosts, true);
        let scope = Scope::new(&["198.18.0.0/28".into()], &["198.18.0.9".into()], &[]).expect("scope");
        let io = ScopedIo::new(net.clone(), scope.clone());
        let limiter = Limiter::new(RateCaps { total: 100_000, per_host: 1000 });
        let progress = Arc::new(Progress::default());
        let (d, _) = discover_raw(&io, rx, &scope, &limiter, &progress, &CancellationToken::new());
        let found: Vec<_> = d.hosts.iter().map(|h| (h.address, h.discovered_by.clone())).collect();
        assert_eq!(found, vec![(ip("198.18.0.2"), vec!["arp".to_string()]), (ip("198.18.0.3"), vec!["arp".into()])]);
        assert_eq!(d.hosts[0].mac, Some(MacAddr::new(2, 0, 0, 0, 0, 2)));
        let sent = net.sent();
        assert!(sent.iter().all(|p| matches!(p, crate::net::Probe::Arp { .. })), "on link: ARP only");
        assert!(sent.iter().all(|p| p.target() != ip("198.18.0.9")), "excluded address never asked");
        assert!(sent.iter().all(|p| p.target() != ip("198.18.0.0") && p.target() != ip("198.18.0.15")));
        assert_eq!(io.refused(), 0);
        // 13 targets (/28 minus network, broadcast and one exclusion); dead ones are asked twice.
        assert_eq!(sent.len(), 2 + 11 * 2);
    }

    #[test]
    fn routed_hosts_answer_pings_and_record_how() {
        let mut hosts = HashMap::new();
        let open = [22u16].into_iter().collect();
        hosts.insert(ip("2001:2::10"), FakeHost { open, no_echo: true, ..Default::default() });
        let (net, rx) = FakeNet::new(hosts, false);
        let scope = Scope::new(&["2001:2::10".into(), "2001:2::11".into()], &[], &[]).expect("scope");
        let limiter = Limiter::new(RateCaps { total: 100_000, per_host: 1000 });
        let progress = Arc::new(Progress::default());
        let (d, _) = discover_raw(net.as_ref(), rx, &scope, &limiter, &progress, &CancellationToken::new());
        assert_eq!(d.hosts.len(), 1);
        assert_eq!(d.hosts[0].address, ip("2001:2::10"));
        assert!(d.hosts[0].discovered_by.iter().any(|m| m.starts_with("tcp-syn:")), "{:?}", d.hosts[0]);
        assert!(!d.hosts[0].discovered_by.contains(&"icmp-echo".to_string()));
    }
}
