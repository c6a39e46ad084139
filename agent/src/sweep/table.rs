//! The result table of a raw sweep: one state byte per (host, slot), counters per host.
//!
//! Writers are the receiver thread (answers) and the sender (transmissions); both only touch atomics,
//! so neither waits for the other. Memory is `hosts × slots` bytes plus ~64 bytes per host: a /16 with
//! seven discovery slots costs under 5 MB.
//!
//! How answers settle a cell ([`Table::apply`]), so that hostile or broken networks cannot bend the
//! result:
//! - only an answer carrying our cookie for that host and port counts ([`super::slot::Cookie`]); an
//!   ICMP unreachable must quote it too, so unreachables quoting other hosts, ports or made-up
//!   sequence numbers are ignored (counted in [`Table::unmatched`]);
//! - the first answer settles the cell; a duplicate of it (same transmission) or a late answer to an
//!   earlier transmission changes nothing and is only counted ([`HostCounters::duplicates`],
//!   [`HostCounters::late`]), so a port is listed once however often it is answered;
//! - a SYN-ACK may still turn an `Unreachable` cell `Open` (an answer from the host outweighs an
//!   unreachable about it); nothing else overwrites a settled cell.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

use pnet_base::MacAddr;

use super::slot::{packed_pass, MAX_TAG};
pub use super::slot::{Cookie, Slot, SlotState};
use crate::net::Reply;
use crate::portscan::middlebox;

/// Per-host counters.
#[derive(Debug, Default)]
pub struct HostCounters {
    /// Probes sent to this host.
    pub sent: AtomicU32,
    /// Slots sent at least once (first transmissions).
    pub probed: AtomicU32,
    /// Answers received from it (duplicates and late ones included).
    pub answers: AtomicU32,
    /// `sent` at the time of the latest answer.
    pub sent_at_last_answer: AtomicU32,
    /// Whether any slot answered.
    pub alive: AtomicBool,
    /// MAC from ARP, packed in the low 48 bits, bit 63 set when present.
    pub mac: AtomicU64,
    /// Slots that became open.
    pub open: AtomicU32,
    /// TCP answers that repeated an answer already counted (same transmission).
    pub duplicates: AtomicU32,
    /// TCP answers that came after their probe had been sent again.
    pub late: AtomicU32,
    /// ICMP unreachables that quoted one of our probes to this host (repeats included).
    pub unreachable: AtomicU32,
    /// The sweep stopped probing it: it answers on (nearly) every port ([`middlebox`]).
    pub answers_everything: AtomicBool,
}

/// What one reply changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// A port became open.
    pub newly_open: bool,
    /// The host answered for the first time.
    pub newly_alive: bool,
}

/// Results of one sweep, shared between sender and receiver.
#[derive(Debug)]
pub struct Table {
    /// Hosts, sorted ascending (binary search maps a reply's source to its index).
    pub hosts: Vec<IpAddr>,
    /// Slots asked of every host.
    pub slots: Vec<Slot>,
    syn_index: Vec<u32>,
    ack_index: HashMap<u16, u32>,
    echo_index: Option<u32>,
    arp_index: Option<u32>,
    states: Vec<AtomicU8>,
    /// Per-host counters.
    pub counters: Vec<HostCounters>,
    /// Our source port for TCP probes.
    pub sport: u16,
    /// Our ICMP echo identifier.
    pub ident: u16,
    /// Cookie key.
    pub cookie: Cookie,
    /// Slots still pending (or hosts not yet alive, in discovery).
    pub pending: AtomicU64,
    /// Whether the first answer settles the whole host (discovery).
    pub host_level: bool,
    /// The pass being sent now (set by the sweep).
    pass: AtomicU8,
    /// Replies addressed to our probes (our port, or quoting it) that matched none: wrong cookie,
    /// unknown host or port, a pass not sent yet.
    pub unmatched: AtomicU64,
}

const NONE: u32 = u32::MAX;

/// A reply that answers one of our probes.
struct Match {
    host: usize,
    slot: usize,
    state: SlotState,
    /// The pass of the probe it answers.
    pass: u8,
    /// Counted among duplicates and late answers (TCP only: echo and ARP carry no usable tag).
    tcp: bool,
}

impl Table {
    /// A table for `hosts` (sorted and deduplicated here) × `slots`.
    pub fn new(mut hosts: Vec<IpAddr>, slots: Vec<Slot>, host_level: bool) -> Table {
        hosts.sort_unstable();
        hosts.dedup();
        let mut syn_index = Vec::new();
        let mut ack_index = HashMap::new();
        let (mut echo_index, mut arp_index) = (None, None);
        for (i, slot) in slots.iter().enumerate() {
            let i = i as u32;
            match *slot {
                Slot::Syn(p) => {
                    if syn_index.is_empty() {
                        syn_index = vec![NONE; 65536];
                    }
                    syn_index[usize::from(p)] = i;
                }
                Slot::Ack(p) => {
                    ack_index.insert(p, i);
                }
                Slot::Echo => echo_index = Some(i),
                Slot::Arp => arp_index = Some(i),
            }
        }
        let n = hosts.len() * slots.len();
        let pending = if host_level { hosts.len() } else { n } as u64;
        Table {
            states: (0..n).map(|_| AtomicU8::new(0)).collect(),
            counters: (0..hosts.len()).map(|_| HostCounters::default()).collect(),
            hosts,
            slots,
            syn_index,
            ack_index,
            echo_index,
            arp_index,
            sport: 40000 + rand::random::<u16>() % 20000,
            ident: rand::random(),
            cookie: Cookie::new(),
            pending: AtomicU64::new(pending),
            host_level,
            pass: AtomicU8::new(0),
            unmatched: AtomicU64::new(0),
        }
    }

    /// State of (host, slot).
    pub fn state(&self, host: usize, slot: usize) -> SlotState {
        SlotState::unpack(self.states[host * self.slots.len() + slot].load(Ordering::Relaxed))
    }

    /// Marks a never-sent slot as skipped (host left alone).
    pub fn skip(&self, host: usize, slot: usize) {
        let cell = &self.states[host * self.slots.len() + slot];
        if cell.compare_exchange(0, SlotState::Skipped as u8, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            && !self.host_level
        {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Records that pass `pass` starts: answers to earlier passes are late from now on.
    pub fn begin_pass(&self, pass: u8) {
        self.pass.store(pass, Ordering::Relaxed);
    }

    /// Records one transmission to `host`; `first` when the slot had not been sent before.
    pub fn note_sent(&self, host: usize, first: bool) {
        let c = &self.counters[host];
        c.sent.fetch_add(1, Ordering::Relaxed);
        if first {
            c.probed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether the host answered SYN-ACK on so many of the ports sent so far that it answers on
    /// every port ([`middlebox::answers_everything`]). Never in discovery.
    pub fn answers_everything(&self, host: usize) -> bool {
        let c = &self.counters[host];
        !self.host_level
            && middlebox::answers_everything(
                u64::from(c.open.load(Ordering::Relaxed)),
                u64::from(c.probed.load(Ordering::Relaxed)),
            )
    }

    /// Whether the host has answered anything.
    pub fn alive(&self, host: usize) -> bool {
        self.counters[host].alive.load(Ordering::Relaxed)
    }

    /// MAC learnt by ARP.
    pub fn mac(&self, host: usize) -> Option<MacAddr> {
        let v = self.counters[host].mac.load(Ordering::Relaxed);
        (v >> 63 == 1).then(|| {
            let b = v.to_be_bytes();
            MacAddr::new(b[2], b[3], b[4], b[5], b[6], b[7])
        })
    }

    fn host_index(&self, ip: IpAddr) -> Option<usize> {
        self.hosts.binary_search(&ip).ok()
    }

    /// Applies one reply. `None` when the reply was not a positive answer to one of our probes (wrong
    /// port, bad cookie, unknown host, or an ICMP unreachable, which settles a slot but proves nothing).
    pub fn apply(&self, reply: &Reply) -> Option<Applied> {
        let m = self.classify(reply)?;
        if m.state == SlotState::Unreachable {
            self.settle_unreachable(&m);
            return None;
        }
        if let Reply::Arp { mac, .. } = *reply {
            let packed = u64::from_be_bytes([0, 0, mac.0, mac.1, mac.2, mac.3, mac.4, mac.5]) | 1 << 63;
            self.counters[m.host].mac.store(packed, Ordering::Relaxed);
        }
        let c = &self.counters[m.host];
        c.answers.fetch_add(1, Ordering::Relaxed);
        c.sent_at_last_answer.store(c.sent.load(Ordering::Relaxed), Ordering::Relaxed);
        let was_alive = c.alive.swap(true, Ordering::Relaxed);
        if self.host_level && !was_alive {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
        let cell = &self.states[m.host * self.slots.len() + m.slot];
        let packed = m.state.pack(m.pass);
        let newly_open = match cell.compare_exchange(0, packed, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => {
                if !self.host_level {
                    self.pending.fetch_sub(1, Ordering::Relaxed);
                }
                if m.tcp && m.pass < self.current_tag() {
                    c.late.fetch_add(1, Ordering::Relaxed);
                }
                m.state == SlotState::Open
            }
            Err(held) if m.state == SlotState::Open && SlotState::unpack(held) == SlotState::Unreachable => {
                cell.compare_exchange(held, packed, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            }
            Err(held) => {
                if m.tcp {
                    let counter = if packed_pass(held) == m.pass { &c.duplicates } else { &c.late };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                false
            }
        };
        if newly_open {
            c.open.fetch_add(1, Ordering::Relaxed);
        }
        Some(Applied { newly_open, newly_alive: !was_alive })
    }

    /// The tag of the pass being sent now.
    fn current_tag(&self) -> u8 {
        self.pass.load(Ordering::Relaxed).min(MAX_TAG)
    }

    /// An unreachable settles a pending slot but does not prove the host alive.
    fn settle_unreachable(&self, m: &Match) {
        self.counters[m.host].unreachable.fetch_add(1, Ordering::Relaxed);
        let cell = &self.states[m.host * self.slots.len() + m.slot];
        let first = cell.compare_exchange(0, m.state.pack(m.pass), Ordering::Relaxed, Ordering::Relaxed).is_ok();
        if first && !self.host_level {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The probe `reply` answers. Replies meant for our probes that answer none are counted in
    /// [`Table::unmatched`].
    fn classify(&self, reply: &Reply) -> Option<Match> {
        let matched = match *reply {
            Reply::Tcp { dport, .. } => {
                if dport != self.sport {
                    return None; // not for a probe of this table at all
                }
                self.classify_tcp(reply)
            }
            Reply::EchoReply { src, ident, seq } => {
                if ident != self.ident {
                    return None;
                }
                let pass = u8::try_from(seq).unwrap_or(u8::MAX).min(MAX_TAG);
                self.host_index(src).zip(self.echo_index).map(|(host, slot)| Match {
                    host,
                    slot: slot as usize,
                    state: SlotState::Answered,
                    pass,
                    tcp: false,
                })
            }
            Reply::Arp { ip, .. } => {
                // ARP replies for other askers are ordinary traffic, not a mismatch.
                let (host, slot) = self.host_index(IpAddr::V4(ip)).zip(self.arp_index)?;
                let state = SlotState::Answered;
                return Some(Match { host, slot: slot as usize, state, pass: 0, tcp: false });
            }
            Reply::Unreachable { orig_dst, proto, orig_dport, orig_sport, orig_seq } => {
                if proto != 6 || orig_sport != self.sport {
                    return None;
                }
                self.classify_unreachable(orig_dst, orig_dport, orig_seq)
            }
        };
        let genuine = matched.filter(|m| m.pass <= self.current_tag());
        if genuine.is_none() {
            self.unmatched.fetch_add(1, Ordering::Relaxed);
        }
        genuine
    }

    fn classify_tcp(&self, reply: &Reply) -> Option<Match> {
        let Reply::Tcp { src, sport, syn, ack_flag, rst, seq, ack, .. } = *reply else { return None };
        let host = self.host_index(src)?;
        if ack_flag && (syn || rst) {
            if let Some(pass) = self.cookie.pass_of(src, sport, ack.wrapping_sub(1)) {
                let slot = *self.syn_index.get(usize::from(sport))?;
                let state = if syn { SlotState::Open } else { SlotState::Closed };
                return (slot != NONE).then_some(Match { host, slot: slot as usize, state, pass, tcp: true });
            }
        }
        if rst {
            let pass = self.cookie.pass_of(src, sport, seq)?;
            let slot = *self.ack_index.get(&sport)?;
            return Some(Match { host, slot: slot as usize, state: SlotState::Answered, pass, tcp: true });
        }
        None
    }

    fn classify_unreachable(&self, orig_dst: IpAddr, orig_dport: u16, orig_seq: Option<u32>) -> Option<Match> {
        let host = self.host_index(orig_dst)?;
        let slot = *self.syn_index.get(usize::from(orig_dport))?;
        if slot == NONE {
            return None;
        }
        // The quote must carry our cookie: anything else is about a probe we never sent.
        let pass = self.cookie.pass_of(orig_dst, orig_dport, orig_seq?)?;
        Some(Match { host, slot: slot as usize, state: SlotState::Unreachable, pass, tcp: false })
    }
}
