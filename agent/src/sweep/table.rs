//! The result table of a raw sweep: one state byte per (host, slot), counters per host.
//!
//! Writers are the receiver thread (answers) and the sender (transmissions); both only touch atomics,
//! so neither waits for the other. Memory is `hosts × slots` bytes plus ~40 bytes per host: a /16 with
//! seven discovery slots costs under 3 MB.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

use pnet_base::MacAddr;

use crate::net::Reply;

/// What one raw probe asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// TCP SYN to a port.
    Syn(u16),
    /// TCP ACK to a port (ACK ping).
    Ack(u16),
    /// ICMP echo.
    Echo,
    /// ARP who-has.
    Arp,
}

impl Slot {
    /// Name used in `discovered_by`.
    pub fn label(self) -> String {
        match self {
            Slot::Syn(p) => format!("tcp-syn:{p}"),
            Slot::Ack(p) => format!("tcp-ack:{p}"),
            Slot::Echo => "icmp-echo".into(),
            Slot::Arp => "arp".into(),
        }
    }
}

/// State of one (host, slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SlotState {
    /// Not answered (yet).
    Pending = 0,
    /// SYN-ACK.
    Open = 1,
    /// RST to our SYN.
    Closed = 2,
    /// ICMP unreachable about our probe.
    Unreachable = 3,
    /// Answered (echo reply, ARP reply, RST to ACK).
    Answered = 4,
    /// Never sent: the host was left alone.
    Skipped = 5,
}

impl SlotState {
    fn from_u8(v: u8) -> SlotState {
        match v {
            1 => SlotState::Open,
            2 => SlotState::Closed,
            3 => SlotState::Unreachable,
            4 => SlotState::Answered,
            5 => SlotState::Skipped,
            _ => SlotState::Pending,
        }
    }
}

/// Per-host counters.
#[derive(Debug, Default)]
pub struct HostCounters {
    /// Probes sent to this host.
    pub sent: AtomicU32,
    /// Answers received from it.
    pub answers: AtomicU32,
    /// `sent` at the time of the latest answer.
    pub sent_at_last_answer: AtomicU32,
    /// Whether any slot answered.
    pub alive: AtomicBool,
    /// MAC from ARP, packed in the low 48 bits, bit 63 set when present.
    pub mac: AtomicU64,
}

/// What one reply changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// A port became open.
    pub newly_open: bool,
    /// The host answered for the first time.
    pub newly_alive: bool,
}

/// Keyed cookie that ties replies to our probes without keeping per-probe state.
#[derive(Debug)]
pub struct Cookie(std::hash::RandomState);

impl Cookie {
    /// A fresh random key.
    pub fn new() -> Cookie {
        Cookie(std::hash::RandomState::new())
    }
    /// The 32-bit cookie for a (host, port).
    pub fn of(&self, ip: IpAddr, port: u16) -> u32 {
        self.0.hash_one((ip, port)) as u32
    }
}

impl Default for Cookie {
    fn default() -> Self {
        Cookie::new()
    }
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
}

const NONE: u32 = u32::MAX;

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
        }
    }

    /// State of (host, slot).
    pub fn state(&self, host: usize, slot: usize) -> SlotState {
        SlotState::from_u8(self.states[host * self.slots.len() + slot].load(Ordering::Relaxed))
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
        let (host, slot, state) = self.classify(reply)?;
        if let Reply::Arp { mac, .. } = *reply {
            let m = u64::from_be_bytes([0, 0, mac.0, mac.1, mac.2, mac.3, mac.4, mac.5]) | 1 << 63;
            self.counters[host].mac.store(m, Ordering::Relaxed);
        }
        let c = &self.counters[host];
        c.answers.fetch_add(1, Ordering::Relaxed);
        c.sent_at_last_answer.store(c.sent.load(Ordering::Relaxed), Ordering::Relaxed);
        let was_alive = c.alive.swap(true, Ordering::Relaxed);
        if self.host_level && !was_alive {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
        let cell = &self.states[host * self.slots.len() + slot];
        let first = cell.compare_exchange(0, state as u8, Ordering::Relaxed, Ordering::Relaxed).is_ok();
        if first && !self.host_level {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
        Some(Applied { newly_open: first && state == SlotState::Open, newly_alive: !was_alive })
    }

    fn classify(&self, reply: &Reply) -> Option<(usize, usize, SlotState)> {
        match *reply {
            Reply::Tcp { src, sport, dport, syn, ack_flag, rst, seq, ack } => {
                if dport != self.sport {
                    return None;
                }
                let host = self.host_index(src)?;
                let cookie = self.cookie.of(src, sport);
                if ack_flag && ack.wrapping_sub(1) == cookie && (syn || rst) {
                    let slot = *self.syn_index.get(usize::from(sport))?;
                    let state = if syn { SlotState::Open } else { SlotState::Closed };
                    return (slot != NONE).then_some((host, slot as usize, state));
                }
                if rst && seq == cookie {
                    let slot = *self.ack_index.get(&sport)?;
                    return Some((host, slot as usize, SlotState::Answered));
                }
                None
            }
            Reply::EchoReply { src, ident, .. } => {
                (ident == self.ident).then_some(())?;
                Some((self.host_index(src)?, self.echo_index? as usize, SlotState::Answered))
            }
            Reply::Arp { ip, .. } => {
                Some((self.host_index(IpAddr::V4(ip))?, self.arp_index? as usize, SlotState::Answered))
            }
            Reply::Unreachable { orig_dst, proto, orig_dport, orig_sport } => {
                if proto != 6 || orig_sport != self.sport {
                    return None;
                }
                let host = self.host_index(orig_dst)?;
                let slot = *self.syn_index.get(usize::from(orig_dport))?;
                if slot == NONE {
                    return None;
                }
                // An unreachable settles the slot but does not prove the host alive.
                let cell = &self.states[host * self.slots.len() + slot as usize];
                let first = cell
                    .compare_exchange(0, SlotState::Unreachable as u8, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok();
                if first && !self.host_level {
                    self.pending.fetch_sub(1, Ordering::Relaxed);
                }
                None
            }
        }
    }
}
