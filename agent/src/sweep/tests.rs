//! Sweep engine against the simulated network: states, retransmission, back-off, stopping.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
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

fn ports(list: &[u16]) -> BTreeSet<u16> {
    list.iter().copied().collect()
}

fn run_ports(
    hosts: HashMap<IpAddr, FakeHost>,
    targets: &[&str],
    scan: &[u16],
    caps: RateCaps,
) -> (SweepOutcome, Arc<FakeNet>) {
    run_ports_with(hosts, targets, scan, caps, 1)
}

fn run_ports_with(
    hosts: HashMap<IpAddr, FakeHost>,
    targets: &[&str],
    scan: &[u16],
    caps: RateCaps,
    senders: usize,
) -> (SweepOutcome, Arc<FakeNet>) {
    let (net, rx) = FakeNet::new(hosts, false);
    let table = Arc::new(Table::new(
        targets.iter().map(|t| ip(t)).collect(),
        scan.iter().map(|p| Slot::Syn(*p)).collect(),
        false,
    ));
    let config = SweepConfig { retries: 2, settle: Duration::from_millis(30), phase: "tcp", senders };
    let progress = Arc::new(Progress::default());
    let out = run(net.as_ref(), rx, table, &Limiter::new(caps), &progress, &config, &CancellationToken::new());
    (out, net)
}

const FAST: RateCaps = RateCaps { total: 1_000_000, per_host: 1_000_000 };

#[test]
fn open_closed_and_filtered_ports_are_told_apart_and_silence_is_retried_twice() {
    let mut hosts = HashMap::new();
    hosts.insert(ip("198.18.0.2"), FakeHost { open: ports(&[22, 80]), filtered: ports(&[443]), ..Default::default() });
    let (out, net) = run_ports(hosts, &["198.18.0.2"], &[22, 80, 443, 8080], FAST);
    let t = &out.table;
    let states: Vec<_> = (0..4).map(|s| t.state(0, s)).collect();
    assert_eq!(states, vec![SlotState::Open, SlotState::Open, SlotState::Pending, SlotState::Closed]);
    let to_443 = net.sent().iter().filter(|p| matches!(p, Probe::TcpSyn { dport: 443, .. })).count();
    assert_eq!(to_443, 3, "first try plus two retransmissions");
    assert_eq!(out.probes_sent, 6);
    assert_eq!(out.retransmissions, 2);
    assert!(out.complete);
}

#[test]
fn a_lost_answer_is_recovered_by_retransmission() {
    let mut hosts = HashMap::new();
    hosts.insert(ip("198.18.0.2"), FakeHost { open: ports(&[22]), lose_first: true, ..Default::default() });
    let (out, _) = run_ports(hosts, &["198.18.0.2"], &[22, 23], FAST);
    assert_eq!(out.table.state(0, 0), SlotState::Open);
    assert_eq!(out.table.state(0, 1), SlotState::Closed);
    assert_eq!(out.retransmissions, 2);
}

#[test]
fn replies_with_a_wrong_cookie_or_port_are_ignored() {
    let table = Table::new(vec![ip("198.18.0.2")], vec![Slot::Syn(22)], false);
    // A SYN-ACK from `src`:22 to our port `dport`, acknowledging `ack`.
    let syn_ack = |src: &str, dport: u16, ack: u32| Reply::Tcp {
        src: ip(src),
        sport: 22,
        dport,
        syn: true,
        ack_flag: true,
        rst: false,
        seq: 1,
        ack,
    };
    let good_ack = table.cookie.tagged(ip("198.18.0.2"), 22, 0).wrapping_add(1);
    assert_eq!(table.apply(&syn_ack("198.18.0.2", table.sport, 12345)), None, "forged cookie");
    assert_eq!(table.apply(&syn_ack("198.18.0.2", table.sport.wrapping_add(1), good_ack)), None, "wrong port");
    assert_eq!(table.apply(&syn_ack("198.18.0.3", table.sport, good_ack)), None, "stranger");
    assert_eq!(table.state(0, 0), SlotState::Pending);
    assert!(table.apply(&syn_ack("198.18.0.2", table.sport, good_ack)).is_some(), "the genuine answer counts");
    assert_eq!(table.state(0, 0), SlotState::Open);
}

#[test]
fn a_host_that_stops_answering_is_slowed_then_left_alone() {
    let mut hosts = HashMap::new();
    hosts.insert(ip("198.18.0.2"), FakeHost { silent_after: Some(300), ..Default::default() });
    hosts.insert(ip("198.18.0.3"), FakeHost::default());
    let scan: Vec<u16> = (1..=800).collect();
    // Per-host 400 pps: slowed after max(64, 400/2) = 200 silent probes, left alone after
    // max(16, 400/8) = 50 more at the slowed rate of 100 pps.
    let caps = RateCaps { total: 1_000_000, per_host: 400 };
    let (out, net) = run_ports(hosts, &["198.18.0.2", "198.18.0.3"], &scan, caps);
    assert_eq!(out.backoff, vec![Backoff::Abandoned, Backoff::Normal]);
    let to_silent = net.sent().iter().filter(|p| p.target() == ip("198.18.0.2")).count();
    assert!(to_silent < 300 + 200 + 50 + 20, "left alone soon after falling silent, sent {to_silent}");
    let skipped = (0..scan.len()).filter(|&s| out.table.state(0, s) == SlotState::Skipped).count();
    assert!(skipped > 200, "the rest was not scanned: {skipped}");
    assert!((0..scan.len()).all(|s| out.table.state(1, s) == SlotState::Closed), "the healthy host is fully scanned");
}

#[test]
fn a_host_that_drops_most_ports_from_the_start_is_not_backed_off() {
    let mut hosts = HashMap::new();
    let filtered: BTreeSet<u16> = (1..=1000).filter(|p| *p != 22).collect();
    hosts.insert(ip("198.18.0.2"), FakeHost { open: ports(&[22]), filtered, ..Default::default() });
    let scan: Vec<u16> = (1..=1000).collect();
    let (out, _) = run_ports(hosts, &["198.18.0.2"], &scan, FAST);
    assert_eq!(out.backoff, vec![Backoff::Normal]);
    assert_eq!(out.table.state(0, 21), SlotState::Open);
}

#[test]
fn the_per_host_cap_holds_while_other_hosts_keep_going() {
    let mut hosts = HashMap::new();
    for h in 2..=5 {
        hosts.insert(ip(&format!("198.18.0.{h}")), FakeHost::default());
    }
    let scan: Vec<u16> = (1..=30).collect();
    let started = Instant::now();
    let (out, _) = run_ports(
        hosts,
        &["198.18.0.2", "198.18.0.3", "198.18.0.4", "198.18.0.5"],
        &scan,
        RateCaps { total: 100_000, per_host: 100 },
    );
    let took = started.elapsed();
    // 30 probes per host at 100 pps with a burst of 2: at least ~0.28 s, hosts in parallel (not 4×).
    assert!(took >= Duration::from_millis(250), "per-host cap not enforced: {took:?}");
    assert!(took < Duration::from_millis(1500), "hosts were not scanned in parallel: {took:?}");
    assert_eq!(out.probes_sent, 120);
}

#[test]
fn stop_ends_the_sweep_promptly_and_marks_it_incomplete() {
    let mut hosts = HashMap::new();
    hosts.insert(ip("198.18.0.2"), FakeHost::default());
    let (net, rx) = FakeNet::new(hosts, false);
    let table = Arc::new(Table::new(vec![ip("198.18.0.2")], (1..=65535).map(Slot::Syn).collect(), false));
    let config = SweepConfig { retries: 2, settle: Duration::from_millis(30), phase: "tcp", senders: 1 };
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        stopper.cancel();
    });
    let started = Instant::now();
    let progress = Arc::new(Progress::default());
    let out = run(
        net.as_ref(),
        rx,
        table,
        &Limiter::new(RateCaps { total: 1000, per_host: 1000 }),
        &progress,
        &config,
        &stop,
    );
    assert!(!out.complete);
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert!(out.probes_sent > 100 && out.probes_sent < 1000, "{}", out.probes_sent);
}

#[test]
fn several_senders_cover_every_slot_exactly_once_per_pass() {
    let mut hosts = HashMap::new();
    for h in 2..=4 {
        hosts.insert(
            ip(&format!("198.18.0.{h}")),
            FakeHost { open: ports(&[22, 3000]), filtered: ports(&[9]), ..Default::default() },
        );
    }
    let scan: Vec<u16> = (1..=5000).collect();
    let (out, net) = run_ports_with(hosts, &["198.18.0.2", "198.18.0.3", "198.18.0.4"], &scan, FAST, 3);
    let t = &out.table;
    for h in 0..3 {
        let open: Vec<u16> = (0..scan.len()).filter(|&s| t.state(h, s) == SlotState::Open).map(|s| scan[s]).collect();
        assert_eq!(open, vec![22, 3000]);
        assert_eq!(t.state(h, 8), SlotState::Pending, "port 9 filtered");
    }
    // 3 hosts × 5000 ports once, plus two retransmissions of the one filtered port per host.
    assert_eq!(net.sent().len(), 3 * 5000 + 3 * 2);
    assert_eq!(out.probes_sent, 3 * 5000 + 3 * 2);
}
