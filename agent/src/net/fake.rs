//! A simulated network for unit tests of discovery and scanning logic: no sockets, no root.
//!
//! Each [`FakeHost`] answers like a real stack would: SYN → SYN-ACK on open ports and RST elsewhere
//! (unless filtered), ACK → RST, echo → echo reply, ARP → reply with its MAC. A host can be told to
//! fall silent after a number of probes, to exercise back-off. Every probe sent is recorded.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use pnet_base::MacAddr;

use super::packet::{Probe, Reply};
use super::{NetError, PacketIo};

/// One simulated host.
#[derive(Debug, Clone, Default)]
pub struct FakeHost {
    /// Open TCP ports.
    pub open: BTreeSet<u16>,
    /// TCP ports that never answer (a firewall drops them).
    pub filtered: BTreeSet<u16>,
    /// Answers ARP with this MAC (only if the address is IPv4 and on link).
    pub mac: Option<MacAddr>,
    /// Does not answer ICMP echo.
    pub no_echo: bool,
    /// Falls silent for good after this many probes.
    pub silent_after: Option<u64>,
    /// Drops the first answer to each (port) probe, to exercise retransmission.
    pub lose_first: bool,
}

#[derive(Debug, Default)]
struct State {
    sent: Vec<Probe>,
    per_host: HashMap<IpAddr, u64>,
    answered_once: BTreeSet<(IpAddr, u16)>,
}

/// The simulated network.
#[derive(Debug)]
pub struct FakeNet {
    hosts: HashMap<IpAddr, FakeHost>,
    on_link: bool,
    tx: SyncSender<Reply>,
    state: Mutex<State>,
}

impl FakeNet {
    /// Builds a network of `hosts`; `on_link` says whether IPv4 hosts are reachable by ARP.
    pub fn new(hosts: HashMap<IpAddr, FakeHost>, on_link: bool) -> (Arc<FakeNet>, Receiver<Reply>) {
        let (tx, rx) = mpsc::sync_channel(1 << 20);
        (Arc::new(FakeNet { hosts, on_link, tx, state: Mutex::new(State::default()) }), rx)
    }

    /// Every probe sent so far.
    pub fn sent(&self) -> Vec<Probe> {
        self.state.lock().map(|s| s.sent.clone()).unwrap_or_default()
    }

    fn reply(&self, probe: &Probe) -> Option<Reply> {
        let target = probe.target();
        let host = self.hosts.get(&target)?;
        let mut st = self.state.lock().ok()?;
        let n = st.per_host.entry(target).or_insert(0);
        *n += 1;
        if host.silent_after.is_some_and(|limit| *n > limit) {
            return None;
        }
        match *probe {
            Probe::TcpSyn { dst, dport, sport, seq } => {
                if host.filtered.contains(&dport) {
                    return None;
                }
                if host.lose_first && st.answered_once.insert((dst, dport)) {
                    return None;
                }
                let open = host.open.contains(&dport);
                Some(Reply::Tcp {
                    src: dst,
                    sport: dport,
                    dport: sport,
                    syn: open,
                    ack_flag: true,
                    rst: !open,
                    seq: 77,
                    ack: seq.wrapping_add(1),
                })
            }
            Probe::TcpAck { dst, dport, sport, ack } => Some(Reply::Tcp {
                src: dst,
                sport: dport,
                dport: sport,
                syn: false,
                ack_flag: false,
                rst: true,
                seq: ack,
                ack: 0,
            }),
            Probe::Echo { dst, ident, seq } => (!host.no_echo).then_some(Reply::EchoReply { src: dst, ident, seq }),
            Probe::Arp { dst } => host.mac.map(|mac| Reply::Arp { ip: dst, mac }),
        }
    }
}

impl PacketIo for FakeNet {
    fn send(&self, probe: &Probe) -> Result<(), NetError> {
        if let Probe::Arp { dst } = probe {
            if !self.on_link {
                return Err(NetError::NotOnLink(*dst));
            }
        }
        if let Ok(mut st) = self.state.lock() {
            st.sent.push(*probe);
        }
        if let Some(r) = self.reply(probe) {
            let _ = self.tx.try_send(r);
        }
        Ok(())
    }

    fn on_link(&self, _ip: Ipv4Addr) -> bool {
        self.on_link
    }
}
