//! A simulated network for unit tests of discovery and scanning logic: no sockets, no root.
//!
//! Each [`FakeHost`] answers like a real stack would: SYN → SYN-ACK on open ports and RST elsewhere
//! (unless filtered), ACK → RST, echo → echo reply, ARP → reply with its MAC. A host can be told to
//! fall silent after a number of probes, to exercise back-off. Every probe sent is recorded.
//!
//! Hostile behaviour, per host: answer on every port (a middlebox), answer every TCP probe more than
//! once (duplicates), answer late (delivered by a helper thread after a delay), or answer SYNs with
//! a storm of ICMP unreachables quoting the probe, plus forged ones quoting other hosts' ports with
//! a made-up sequence number.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// Answers SYN-ACK on every port (a middlebox); `open` and `filtered` are ignored then.
    pub all_open: bool,
    /// Sends every TCP answer this many extra times.
    pub duplicates: u8,
    /// Delivers every answer this late.
    pub delay: Option<Duration>,
    /// Answers each SYN with this many ICMP unreachables quoting it, instead of SYN-ACK or RST.
    pub unreachable_storm: u32,
    /// With each SYN, also sends an unreachable quoting each of these (host, port) pairs, with our
    /// source port but a made-up sequence number (what a confused or hostile router might send).
    pub forged_unreachables: Vec<(IpAddr, u16)>,
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
    /// Answers to deliver later, for hosts with a `delay`.
    later: Option<mpsc::Sender<(Instant, Reply)>>,
    state: Mutex<State>,
}

impl FakeNet {
    /// Builds a network of `hosts`; `on_link` says whether IPv4 hosts are reachable by ARP.
    pub fn new(hosts: HashMap<IpAddr, FakeHost>, on_link: bool) -> (Arc<FakeNet>, Receiver<Reply>) {
        let (tx, rx) = mpsc::sync_channel(1 << 20);
        let later = hosts.values().any(|h| h.delay.is_some()).then(|| spawn_courier(tx.clone()));
        let net = FakeNet { hosts, on_link, tx, later, state: Mutex::new(State::default()) };
        (Arc::new(net), rx)
    }

    /// Every probe sent so far.
    pub fn sent(&self) -> Vec<Probe> {
        self.state.lock().map(|s| s.sent.clone()).unwrap_or_default()
    }

    /// Every answer `probe` gets, in the order sent.
    fn replies(&self, probe: &Probe) -> Vec<Reply> {
        let Some(host) = self.hosts.get(&probe.target()) else { return Vec::new() };
        let mut out: Vec<Reply> = self.reply(host, probe).into_iter().collect();
        if let Probe::TcpSyn { dst, dport, sport, seq } = *probe {
            if host.unreachable_storm > 0 && !out.is_empty() {
                let about = |orig_dst, orig_dport, orig_seq| Reply::Unreachable {
                    orig_dst,
                    proto: 6,
                    orig_dport,
                    orig_sport: sport,
                    orig_seq: Some(orig_seq),
                };
                out = vec![about(dst, dport, seq); host.unreachable_storm as usize];
                let forged = host.forged_unreachables.iter().map(|&(ip, port)| about(ip, port, seq ^ 0x5a5a_0000));
                out.extend(forged);
            }
        }
        if matches!(probe, Probe::TcpSyn { .. } | Probe::TcpAck { .. }) && host.duplicates > 0 {
            out = out.into_iter().flat_map(|r| std::iter::repeat_n(r, 1 + usize::from(host.duplicates))).collect();
        }
        out
    }

    fn reply(&self, host: &FakeHost, probe: &Probe) -> Option<Reply> {
        let target = probe.target();
        let mut st = self.state.lock().ok()?;
        let n = st.per_host.entry(target).or_insert(0);
        *n += 1;
        if host.silent_after.is_some_and(|limit| *n > limit) {
            return None;
        }
        match *probe {
            Probe::TcpSyn { dst, dport, sport, seq } => {
                if host.filtered.contains(&dport) && !host.all_open {
                    return None;
                }
                if host.lose_first && st.answered_once.insert((dst, dport)) {
                    return None;
                }
                let open = host.all_open || host.open.contains(&dport);
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
        let delay = self.hosts.get(&probe.target()).and_then(|h| h.delay);
        for r in self.replies(probe) {
            match (delay, &self.later) {
                (Some(d), Some(later)) => {
                    let _ = later.send((Instant::now() + d, r));
                }
                _ => {
                    let _ = self.tx.try_send(r);
                }
            }
        }
        Ok(())
    }

    fn on_link(&self, _ip: Ipv4Addr) -> bool {
        self.on_link
    }
}

/// A thread that delivers delayed answers when they are due, in due order. It ends when the
/// network is dropped (answers still waiting are dropped with it) or the reply channel is gone.
fn spawn_courier(tx: SyncSender<Reply>) -> mpsc::Sender<(Instant, Reply)> {
    let (later, inbox) = mpsc::channel::<(Instant, Reply)>();
    std::thread::spawn(move || {
        let mut waiting: Vec<(Instant, Reply)> = Vec::new();
        loop {
            waiting.sort_by_key(|(due, _)| std::cmp::Reverse(*due));
            let now = Instant::now();
            while waiting.last().is_some_and(|(due, _)| *due <= now) {
                if let Some((_, r)) = waiting.pop() {
                    if let Err(mpsc::TrySendError::Disconnected(_)) = tx.try_send(r) {
                        return;
                    }
                }
            }
            let wait = waiting.last().map_or(Duration::from_millis(100), |(due, _)| due.saturating_duration_since(now));
            match inbox.recv_timeout(wait) {
                Ok(item) => waiting.push(item),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    });
    later
}
