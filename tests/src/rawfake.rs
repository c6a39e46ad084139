//! The raw fake: packet-level hostility no real program shows, for the packets lab
//! ([`crate::packets`]). It reads every frame of one interface through an AF_PACKET socket (pnet
//! datalink, which sees frames before netfilter does) and answers the scanner's TCP probes itself:
//!
//! - [`Mode::Dup`]: replays every SYN-ACK and RST the host's own kernel sends to the peer once or
//!   twice more (alternately), so each probe of a real service is answered two or three times;
//! - [`Mode::Late`]: answers every SYN after 3–5 s (`--delay-ms MIN-MAX`): SYN-ACK on the `--open`
//!   ports, RST elsewhere (the host's kernel is kept quiet by an nftables drop rule);
//! - [`Mode::Storm`]: answers every SYN with `--per-syn` ICMP destination unreachables quoting it
//!   (codes host, port, admin-prohibited and host-prohibited in turn), plus unsolicited ones quoting
//!   the `--victims` hosts' `--victim-ports` and two other ports of its own, all with the probe's
//!   source port and a made-up sequence number.
//!
//! Run by the program `rawfake` inside a lab host's namespace:
//! `rawfake <dup|late|storm> --iface eth0 --peer <scanner IPv4> [options]`.
//!
//! Confined and bounded: it refuses to start outside a named network namespace (`ip netns exec`:
//! the machine's own namespace is never one) or on an interface whose address is not in the lab's
//! benchmarking range 198.18.0.0/15, with the peer and every victim in the same /24; it only ever sends on that interface, only to the MAC of a frame
//! the peer sent (or, replaying, to the MAC the kernel chose); it stops sending after
//! [`MAX_FRAMES`] frames and ends after its lifetime (at most [`MAX_LIFETIME`]). Every 100 ms at
//! most it looks at its deadline (the read timeout). It prints `ready` when it listens and a `stats`
//! line whenever its counts change (at most once a second), which the lab test reads.

pub mod frame;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::Write;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use pnet_datalink::{Channel, DataLinkReceiver, DataLinkSender, NetworkInterface};

use frame::{Link, Mac, TcpFrame, ACK, RST, SYN};

/// The longest a fake lives.
pub const MAX_LIFETIME: Duration = Duration::from_secs(600);
/// Frames a fake sends at most over its life; after that it only watches.
pub const MAX_FRAMES: u64 = 300_000;
/// Late answers waiting at most; more are dropped (and counted).
const MAX_QUEUED: usize = 100_000;
/// Forged unreachables per SYN at most.
const MAX_FORGED_PER_SYN: usize = 32;
/// How long one read waits before the loop looks at its clock.
const READ_TIMEOUT: Duration = Duration::from_millis(100);

/// How the fake misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every SYN-ACK and RST of the kernel sent two or three times.
    Dup,
    /// Every SYN answered 3–5 s late.
    Late,
    /// Every SYN answered with a storm of ICMP unreachables.
    Storm,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The misbehaviour.
    pub mode: Mode,
    /// Interface to listen and send on.
    pub iface: String,
    /// The only host it answers (the scanner).
    pub peer: Ipv4Addr,
    /// Late: ports answered with SYN-ACK (the rest with RST).
    pub open: Vec<u16>,
    /// Late: the delay range in milliseconds.
    pub delay_ms: (u64, u64),
    /// Storm: unreachables per SYN.
    pub per_syn: u32,
    /// Storm: hosts whose ports the unsolicited unreachables quote.
    pub victims: Vec<Ipv4Addr>,
    /// Storm: the ports they quote.
    pub victim_ports: Vec<u16>,
    /// How long to run (at most [`MAX_LIFETIME`]).
    pub lifetime: Duration,
}

/// The usage line.
pub const USAGE: &str = "usage: rawfake <dup|late|storm> --iface IF --peer IPV4 [--open P,…] \
     [--delay-ms MIN-MAX] [--per-syn N] [--victims IP,…] [--victim-ports P,…] [--lifetime-secs N (≤ 600)]";

fn list<T: std::str::FromStr>(value: &str, what: &str) -> Result<Vec<T>> {
    value.split(',').map(|v| v.trim().parse::<T>().ok().with_context(|| format!("bad {what} {v:?}"))).collect()
}

impl Config {
    /// Parses the program's arguments (without the program name).
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Config> {
        let mut args = args.into_iter();
        let mode = match args.next().as_deref() {
            Some("dup") => Mode::Dup,
            Some("late") => Mode::Late,
            Some("storm") => Mode::Storm,
            _ => bail!("{USAGE}"),
        };
        let mut cfg = Config {
            mode,
            iface: String::new(),
            peer: Ipv4Addr::UNSPECIFIED,
            open: Vec::new(),
            delay_ms: (3000, 5000),
            per_syn: 50,
            victims: Vec::new(),
            victim_ports: Vec::new(),
            lifetime: MAX_LIFETIME,
        };
        while let Some(flag) = args.next() {
            let value = args.next().with_context(|| format!("{flag} needs a value; {USAGE}"))?;
            match flag.as_str() {
                "--iface" => cfg.iface = value,
                "--peer" => cfg.peer = value.parse().with_context(|| format!("bad address {value:?}"))?,
                "--open" => cfg.open = list(&value, "port")?,
                "--delay-ms" => {
                    let (lo, hi) =
                        value.split_once('-').with_context(|| format!("--delay-ms MIN-MAX, not {value:?}"))?;
                    cfg.delay_ms = (lo.parse()?, hi.parse()?);
                    if cfg.delay_ms.0 > cfg.delay_ms.1 || cfg.delay_ms.1 > 60_000 {
                        bail!("--delay-ms {value}: MIN ≤ MAX ≤ 60000");
                    }
                }
                "--per-syn" => cfg.per_syn = value.parse::<u32>().context("bad --per-syn")?.min(1000),
                "--victims" => cfg.victims = list(&value, "address")?,
                "--victim-ports" => cfg.victim_ports = list(&value, "port")?,
                "--lifetime-secs" => {
                    cfg.lifetime = Duration::from_secs(value.parse().context("bad lifetime")?).min(MAX_LIFETIME)
                }
                other => bail!("unknown option {other:?}; {USAGE}"),
            }
        }
        if cfg.iface.is_empty() || cfg.peer.is_unspecified() {
            bail!("--iface and --peer are required; {USAGE}");
        }
        Ok(cfg)
    }
}

/// Whether `a` and `b` are lab addresses (198.18.0.0/15) in the same /24.
fn same_lab_net(a: Ipv4Addr, b: Ipv4Addr) -> bool {
    let (a, b) = (a.octets(), b.octets());
    a[0] == 198 && (a[1] & 0xfe) == 18 && a[..3] == b[..3]
}

/// The name under `/run/netns` of the network namespace this process runs in (what
/// `ip netns identify` prints), if it is a named one.
fn named_netns() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self/ns/net").ok()?;
    std::fs::read_dir("/run/netns").ok()?.flatten().find_map(|e| {
        let m = std::fs::metadata(e.path()).ok()?;
        (m.dev() == me.dev() && m.ino() == me.ino()).then(|| e.file_name().to_string_lossy().into_owned())
    })
}

/// Fails unless this process runs in a named network namespace (`ip netns exec`; the machine's own
/// namespace is never one) and `own`, the peer and every victim are lab addresses of one /24.
pub fn check_confined(cfg: &Config, own: Ipv4Addr) -> Result<()> {
    if named_netns().is_none() {
        bail!("refusing to run outside a lab host's network namespace: start me with `ip netns exec <lab host>`");
    }
    for other in std::iter::once(cfg.peer).chain(cfg.victims.iter().copied()) {
        if !same_lab_net(own, other) {
            bail!("refusing: {own} and {other} are not lab addresses (198.18.0.0/15) of one /24");
        }
    }
    Ok(())
}

/// What the fake did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// SYNs from the peer seen.
    pub syns: u64,
    /// Replayed copies sent (dup).
    pub dup: u64,
    /// Late answers sent.
    pub late: u64,
    /// Unreachables quoting a probe.
    pub icmp: u64,
    /// Unsolicited unreachables.
    pub forged: u64,
    /// Late answers dropped because too many waited.
    pub dropped: u64,
}

impl Stats {
    /// Frames sent.
    pub fn sent(&self) -> u64 {
        self.dup + self.late + self.icmp + self.forged
    }

    /// The `stats` line.
    pub fn line(&self) -> String {
        format!(
            "stats syns={} dup={} late={} icmp={} forged={} dropped={} sent={}",
            self.syns,
            self.dup,
            self.late,
            self.icmp,
            self.forged,
            self.dropped,
            self.sent()
        )
    }

    /// Parses the last `stats` line of a log.
    pub fn parse_last(log: &str) -> Option<Stats> {
        let line = log.lines().rev().find(|l| l.starts_with("stats "))?;
        let get = |key: &str| -> Option<u64> {
            line.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
        };
        Some(Stats {
            syns: get("syns")?,
            dup: get("dup")?,
            late: get("late")?,
            icmp: get("icmp")?,
            forged: get("forged")?,
            dropped: get("dropped")?,
        })
    }
}

/// A small xorshift generator: spreads delays and makes up sequence numbers, reproducibly.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The running fake.
struct Fake {
    cfg: Config,
    mac: Mac,
    ip: Ipv4Addr,
    tx: Box<dyn DataLinkSender>,
    stats: Stats,
    noise: Noise,
    ip_id: u16,
    /// Late answers: (due, order, frame).
    waiting: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>>,
    /// Frames replayed lately, so a copy seen again is never replayed twice.
    replayed: VecDeque<Vec<u8>>,
}

/// Opens the interface, prints `ready`, and misbehaves until the lifetime ends.
pub fn run(cfg: Config) -> Result<Stats> {
    let iface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == cfg.iface)
        .with_context(|| format!("no interface {:?} here", cfg.iface))?;
    let (mac, ip) = identity(&iface)?;
    check_confined(&cfg, ip)?;
    let config = pnet_datalink::Config { read_timeout: Some(READ_TIMEOUT), ..Default::default() };
    let (tx, mut rx) = match pnet_datalink::channel(&iface, config).context("opening an AF_PACKET socket")? {
        Channel::Ethernet(tx, rx) => (tx, rx),
        _ => bail!("{} is not an Ethernet interface", cfg.iface),
    };
    let end = Instant::now() + cfg.lifetime.min(MAX_LIFETIME);
    let seed = u64::from(u32::from(ip)) | 1;
    let mut fake = Fake {
        cfg,
        mac,
        ip,
        tx,
        stats: Stats::default(),
        noise: Noise(seed),
        ip_id: 1,
        waiting: BinaryHeap::new(),
        replayed: VecDeque::new(),
    };
    say(&format!("rawfake {:?} ready on {} {ip} for {}", fake.cfg.mode, fake.cfg.iface, fake.cfg.peer));
    fake.serve(rx.as_mut(), end);
    say(&fake.stats.line());
    say("rawfake: lifetime over, exiting");
    Ok(fake.stats)
}

fn identity(iface: &NetworkInterface) -> Result<(Mac, Ipv4Addr)> {
    let mac = iface.mac.with_context(|| format!("{} has no MAC address", iface.name))?;
    let ip = iface
        .ips
        .iter()
        .find_map(|n| match n.ip() {
            std::net::IpAddr::V4(v4) => Some(v4),
            std::net::IpAddr::V6(_) => None,
        })
        .with_context(|| format!("{} has no IPv4 address", iface.name))?;
    Ok(([mac.0, mac.1, mac.2, mac.3, mac.4, mac.5], ip))
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

impl Fake {
    fn serve(&mut self, rx: &mut dyn DataLinkReceiver, end: Instant) {
        let mut shown = Stats::default();
        let mut shown_at = Instant::now();
        while Instant::now() < end {
            match rx.next() {
                Ok(bytes) => {
                    let bytes = bytes.to_vec();
                    self.handle(&bytes);
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    say(&format!("rawfake: receive failed: {e}"));
                    std::thread::sleep(READ_TIMEOUT);
                }
            }
            self.send_due();
            if self.stats != shown && shown_at.elapsed() >= Duration::from_secs(1) {
                say(&self.stats.line());
                (shown, shown_at) = (self.stats, Instant::now());
            }
        }
    }

    fn handle(&mut self, bytes: &[u8]) {
        let Some(t) = frame::parse_tcp(bytes) else { return };
        match self.cfg.mode {
            Mode::Dup => {
                let ours = t.eth_src == self.mac && t.src == self.ip && t.dst == self.cfg.peer;
                if ours && (t.flags & (SYN | ACK) == SYN | ACK || t.flags & RST != 0) {
                    self.replay(bytes);
                }
            }
            Mode::Late | Mode::Storm => {
                if t.src == self.cfg.peer && t.dst == self.ip && t.is_syn() {
                    self.stats.syns += 1;
                    if self.cfg.mode == Mode::Late {
                        self.answer_late(&t);
                    } else {
                        self.storm(&t);
                    }
                }
            }
        }
    }

    fn link(&self, t: &TcpFrame<'_>) -> Link {
        Link { mac: self.mac, ip: self.ip, peer_mac: t.eth_src, peer: self.cfg.peer }
    }

    fn id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    /// Sends one frame unless the budget is spent; true if sent.
    fn send(&mut self, frame: &[u8]) -> bool {
        if self.stats.sent() >= MAX_FRAMES {
            return false;
        }
        matches!(self.tx.send_to(frame, None), Some(Ok(())))
    }

    fn replay(&mut self, bytes: &[u8]) {
        if self.replayed.iter().any(|f| f == bytes) {
            return;
        }
        let mut copy = bytes.to_vec();
        if !frame::fix_tcp_checksum(&mut copy) {
            return;
        }
        let copies = 1 + (self.noise.next() % 2);
        for _ in 0..copies {
            if self.send(&copy) {
                self.stats.dup += 1;
            }
        }
        self.replayed.push_back(bytes.to_vec());
        self.replayed.push_back(copy);
        while self.replayed.len() > 64 {
            self.replayed.pop_front();
        }
    }

    fn answer_late(&mut self, t: &TcpFrame<'_>) {
        let (lo, hi) = self.cfg.delay_ms;
        let delay = Duration::from_millis(lo + self.noise.next() % (hi - lo + 1));
        let link = self.link(t);
        let ack = t.seq.wrapping_add(1);
        let id = self.id();
        let answer = if self.cfg.open.contains(&t.dport) {
            let isn = self.noise.next() as u32;
            frame::tcp_segment(&link, t.dport, t.sport, isn, ack, SYN | ACK, id)
        } else {
            frame::tcp_segment(&link, t.dport, t.sport, 0, ack, RST | ACK, id)
        };
        if self.waiting.len() >= MAX_QUEUED {
            self.stats.dropped += 1;
            return;
        }
        let order = self.noise.next();
        self.waiting.push(Reverse((Instant::now() + delay, order, answer)));
    }

    fn send_due(&mut self) {
        let now = Instant::now();
        while self.waiting.peek().is_some_and(|Reverse((due, _, _))| *due <= now) {
            if let Some(Reverse((_, _, f))) = self.waiting.pop() {
                if self.send(&f) {
                    self.stats.late += 1;
                }
            }
        }
    }

    fn storm(&mut self, t: &TcpFrame<'_>) {
        const CODES: [u8; 4] = [1, 3, 10, 13];
        let link = self.link(t);
        for i in 0..self.cfg.per_syn {
            let id = self.id();
            let f = frame::icmp_unreachable(&link, CODES[i as usize % CODES.len()], t.quote, id);
            if self.send(&f) {
                self.stats.icmp += 1;
            }
        }
        let mut quoted: Vec<(Ipv4Addr, u16)> = self
            .cfg
            .victims
            .iter()
            .flat_map(|v| self.cfg.victim_ports.iter().map(move |p| (*v, *p)))
            .take(MAX_FORGED_PER_SYN)
            .collect();
        quoted.extend([(self.ip, t.dport.wrapping_add(1)), (self.ip, t.dport.wrapping_add(2))]);
        for (victim, port) in quoted {
            let quote = frame::forged_quote(self.cfg.peer, victim, t.sport, port, self.noise.next() as u32);
            let id = self.id();
            let f = frame::icmp_unreachable(&link, 1, &quote, id);
            if self.send(&f) {
                self.stats.forged += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_arguments_and_caps_what_it_may_do() {
        let cfg = Config::from_args(args(
            "storm --iface eth0 --peer 198.18.7.2 --per-syn 5000 --victims 198.18.7.70,198.18.7.71 \
             --victim-ports 22,6379 --lifetime-secs 99999",
        ))
        .expect("parses");
        assert_eq!(cfg.mode, Mode::Storm);
        assert_eq!((cfg.per_syn, cfg.lifetime), (1000, MAX_LIFETIME));
        assert_eq!(cfg.victims.len(), 2);
        let late = Config::from_args(args("late --iface eth0 --peer 198.18.7.2 --open 22,80 --delay-ms 3000-5000"))
            .expect("parses");
        assert_eq!((late.open.clone(), late.delay_ms), (vec![22, 80], (3000, 5000)));
        for bad in ["", "flood --iface eth0 --peer 198.18.7.2", "dup --iface eth0", "late --iface eth0 --peer x"] {
            assert!(Config::from_args(args(bad)).is_err(), "{bad:?}");
        }
        assert!(Config::from_args(args("late --iface e --peer 198.18.7.2 --delay-ms 5-3")).is_err());
    }

    #[test]
    fn only_lab_addresses_of_one_subnet_and_only_inside_a_named_namespace() {
        assert!(same_lab_net(Ipv4Addr::new(198, 18, 7, 70), Ipv4Addr::new(198, 18, 7, 2)));
        assert!(same_lab_net(Ipv4Addr::new(198, 19, 7, 70), Ipv4Addr::new(198, 19, 7, 2)));
        assert!(!same_lab_net(Ipv4Addr::new(198, 18, 7, 70), Ipv4Addr::new(198, 18, 8, 2)));
        assert!(!same_lab_net(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)));
        // The test itself runs in the machine's (or container's) own namespace, never a named one.
        let cfg = Config::from_args(args("dup --iface eth0 --peer 198.18.7.2")).expect("parses");
        assert_eq!(named_netns(), None);
        let err = check_confined(&cfg, Ipv4Addr::new(198, 18, 7, 70)).expect_err("refused here");
        assert!(err.to_string().contains("outside a lab host's network namespace"), "{err}");
    }

    #[test]
    fn the_last_stats_line_reads_back() {
        let s = Stats { syns: 3, dup: 4, late: 5, icmp: 6, forged: 7, dropped: 0 };
        let log = format!("rawfake Dup ready\n{}\nstats junk\n{}\n", Stats::default().line(), s.line());
        assert_eq!(Stats::parse_last(&log), Some(s));
        assert_eq!(s.sent(), 22);
        assert_eq!(Stats::parse_last("nothing"), None);
    }
}
