//! The SYN sweep against hostile networks (simulated): duplicated and late answers, storms of ICMP
//! unreachables with forged ones among them, and a middlebox that answers on every port.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::*;
use crate::net::fake::{FakeHost, FakeNet};
use crate::progress::Progress;
use crate::rate::{Limiter, RateCaps};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

struct Swept {
    out: SweepOutcome,
    net: Arc<FakeNet>,
    progress: Arc<Progress>,
}

fn sweep(hosts: HashMap<IpAddr, FakeHost>, scan: &[u16], caps: RateCaps, settle: Duration) -> Swept {
    let targets: Vec<IpAddr> = hosts.keys().copied().collect();
    let (net, rx) = FakeNet::new(hosts, false);
    let table = Arc::new(Table::new(targets, scan.iter().map(|p| Slot::Syn(*p)).collect(), false));
    let config = SweepConfig { retries: 2, settle, phase: "tcp", senders: 1 };
    let progress = Arc::new(Progress::default());
    let out = run(net.as_ref(), rx, table, &Limiter::new(caps), &progress, &config, &CancellationToken::new());
    Swept { out, net, progress }
}

const FAST: RateCaps = RateCaps { total: 1_000_000, per_host: 1_000_000 };

fn states(t: &Table, host: usize) -> Vec<SlotState> {
    (0..t.slots.len()).map(|s| t.state(host, s)).collect()
}

fn count(c: &std::sync::atomic::AtomicU32) -> u32 {
    c.load(Ordering::Relaxed)
}

#[test]
fn duplicated_answers_settle_each_port_once_and_are_counted() {
    let mut hosts = HashMap::new();
    let open = [22, 80].into_iter().collect();
    hosts.insert(ip("198.18.0.2"), FakeHost { open, duplicates: 2, ..Default::default() });
    let s = sweep(hosts, &[22, 23, 80, 443], FAST, Duration::from_millis(50));
    let t = &s.out.table;
    assert_eq!(states(t, 0), [SlotState::Open, SlotState::Closed, SlotState::Open, SlotState::Closed]);
    let c = &t.counters[0];
    assert_eq!(count(&c.duplicates), 4 * 2, "two extra copies of each of the four answers");
    assert_eq!((count(&c.late), count(&c.open)), (0, 2));
    assert_eq!(s.progress.open_ports.load(Ordering::Relaxed), 2, "each open port counted once");
    assert_eq!((s.out.probes_sent, s.out.retransmissions), (4, 0));
    assert_eq!(t.unmatched.load(Ordering::Relaxed), 0);
}

#[test]
fn late_answers_settle_their_own_port_after_the_retransmission_and_are_counted() {
    let mut hosts = HashMap::new();
    let open = [22].into_iter().collect();
    // Answers come 300 ms late; the sweep waits 200 ms, retransmits, and the first answers come in
    // while it waits again.
    hosts.insert(ip("198.18.0.2"), FakeHost { open, delay: Some(Duration::from_millis(300)), ..Default::default() });
    let started = Instant::now();
    let s = sweep(hosts, &[22, 23, 80], FAST, Duration::from_millis(200));
    let t = &s.out.table;
    assert_eq!(states(t, 0), [SlotState::Open, SlotState::Closed, SlotState::Closed]);
    assert_eq!(count(&t.counters[0].late), 3, "every port was answered only after its retransmission");
    assert_eq!(count(&t.counters[0].duplicates), 0);
    assert_eq!(s.out.retransmissions, 3);
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    // The answers to the retransmissions arrive after the sweep, on a channel a next sweep reads:
    // they carry this table's port and cookie, never another's.
    let replies = s.out.replies.expect("the channel is handed back");
    std::thread::sleep(Duration::from_millis(400));
    let mut next = Table::new(vec![ip("198.18.0.2")], vec![Slot::Syn(22), Slot::Syn(23), Slot::Syn(80)], false);
    next.sport = t.sport; // the worst case: the next sweep happens to use the same source port
    let stale: Vec<Reply> = replies.try_iter().collect();
    assert_eq!(stale.len(), 3, "{stale:?}");
    for r in &stale {
        assert_eq!(next.apply(r), None, "a stale answer settled a slot of the next sweep: {r:?}");
    }
    assert_eq!(states(&next, 0), [SlotState::Pending; 3]);
    assert_eq!(next.unmatched.load(Ordering::Relaxed), 3);
    drop(s.net);
}

#[test]
fn an_unreachable_storm_settles_only_the_probes_it_quotes() {
    let (storm, web, db) = (ip("198.18.0.2"), ip("198.18.0.3"), ip("198.18.0.4"));
    let mut hosts = HashMap::new();
    // The storm host is probed first (lowest address) and quotes the other hosts' ports before
    // they are probed: open ones, a closed one, one that is silent.
    let forged = vec![(web, 22), (web, 80), (web, 8080), (db, 443), (db, 9)];
    hosts.insert(storm, FakeHost { unreachable_storm: 50, forged_unreachables: forged.clone(), ..Default::default() });
    hosts.insert(web, FakeHost { open: [22, 80].into_iter().collect(), ..Default::default() });
    hosts.insert(
        db,
        FakeHost { open: [443].into_iter().collect(), filtered: [9].into_iter().collect(), ..Default::default() },
    );
    let scan = [9, 22, 80, 443, 8080];
    let started = Instant::now();
    let s = sweep(hosts, &scan, FAST, Duration::from_millis(50));
    let t = &s.out.table;
    use SlotState::{Closed, Open, Pending, Unreachable};
    assert_eq!(states(t, 0), [Unreachable; 5], "the storm host: every port filtered by its own unreachables");
    assert_eq!(states(t, 1), [Closed, Open, Open, Closed, Closed], "the web host, untouched by forged quotes");
    assert_eq!(states(t, 2), [Pending, Closed, Closed, Open, Closed], "port 9 silent, so filtered, not 'unreachable'");
    assert_eq!(count(&t.counters[0].unreachable), 50 * 5);
    assert_eq!(count(&t.counters[1].unreachable) + count(&t.counters[2].unreachable), 0);
    assert_eq!(t.unmatched.load(Ordering::Relaxed), (forged.len() * scan.len()) as u64, "forged ones ignored");
    assert!(!t.alive(0), "unreachables do not prove the host alive");
    // No retransmission for the storm host, only for the silent port.
    assert_eq!(s.out.retransmissions, 2);
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}

#[test]
fn a_syn_ack_outweighs_an_unreachable_but_nothing_else_overwrites_a_settled_port() {
    let host = ip("198.18.0.2");
    let t = Table::new(vec![host], vec![Slot::Syn(22), Slot::Syn(23)], false);
    let cookie = |port| t.cookie.tagged(host, port, 0);
    let unreachable = |port| Reply::Unreachable {
        orig_dst: host,
        proto: 6,
        orig_dport: port,
        orig_sport: t.sport,
        orig_seq: Some(cookie(port)),
    };
    let answer = |port, syn| Reply::Tcp {
        src: host,
        sport: port,
        dport: t.sport,
        syn,
        ack_flag: true,
        rst: !syn,
        seq: 7,
        ack: cookie(port).wrapping_add(1),
    };
    assert_eq!(t.apply(&unreachable(22)), None);
    assert_eq!(t.apply(&unreachable(23)), None);
    assert_eq!(t.pending.load(Ordering::Relaxed), 0);
    let opened = t.apply(&answer(22, true)).expect("an answer");
    assert!(opened.newly_open && opened.newly_alive);
    assert!(!t.apply(&answer(23, false)).expect("an answer").newly_open);
    assert_eq!(states(&t, 0), [SlotState::Open, SlotState::Unreachable], "a RST does not overwrite");
    assert!(!t.apply(&answer(22, false)).expect("an answer").newly_open);
    assert_eq!(t.state(0, 0), SlotState::Open, "a later RST does not close an open port");
    assert_eq!(count(&t.counters[0].duplicates), 2);
    // A reply tagged with a pass not sent yet is forged.
    let mut early = answer(23, true);
    if let Reply::Tcp { ack, .. } = &mut early {
        *ack = t.cookie.tagged(host, 23, 2).wrapping_add(1);
    }
    assert_eq!(t.apply(&early), None);
    assert_eq!(t.unmatched.load(Ordering::Relaxed), 1);
}

#[test]
fn a_host_that_answers_every_port_is_probed_no_further() {
    let (mbox, server) = (ip("198.18.0.2"), ip("198.18.0.3"));
    let mut hosts = HashMap::new();
    hosts.insert(mbox, FakeHost { all_open: true, ..Default::default() });
    hosts.insert(server, FakeHost { open: [22, 443].into_iter().collect(), ..Default::default() });
    let scan: Vec<u16> = (1..=1000).collect();
    let s = sweep(hosts, &scan, RateCaps { total: 100_000, per_host: 4000 }, Duration::from_millis(50));
    let t = &s.out.table;
    let to_mbox = s.net.sent().iter().filter(|p| p.target() == mbox).count();
    assert!((100..200).contains(&to_mbox), "stopped soon after 100 open ports: {to_mbox} probes");
    assert!(t.counters[0].answers_everything.load(Ordering::Relaxed));
    let mbox_states = states(t, 0);
    let open = mbox_states.iter().filter(|s| **s == SlotState::Open).count();
    let skipped = mbox_states.iter().filter(|s| **s == SlotState::Skipped).count();
    assert_eq!(open + skipped, scan.len(), "every port open or skipped: {mbox_states:?}");
    assert_eq!(open, to_mbox);
    let server_open: Vec<u16> =
        (0..scan.len()).filter(|&i| t.state(1, i) == SlotState::Open).map(|i| scan[i]).collect();
    assert_eq!(server_open, [22, 443], "the other host is scanned in full");
    assert!(!t.answers_everything(1));
    assert_eq!(s.net.sent().iter().filter(|p| p.target() == server).count(), scan.len());
}
