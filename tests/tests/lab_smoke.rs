//! The lab itself, checked with standard tools and without the agent: hosts answer, the daemons
//! expose exactly the ports the plan promises (as nmap sees them from the scanner's namespace), the
//! packet counters count and stay at zero for what nobody sent, and teardown leaves nothing behind.
//!
//! These tests need root and the lab's programs; without them they print a SKIPPED line (and fail
//! when `CI=true`). Every command is bounded in time; packets go only to lab namespaces.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use wijk_lab::lab::require_root_and_programs;
use wijk_lab::process::{run_bounded, run_checked, Finished};
use wijk_lab::{host, Lab, Port, Proto};

fn run(cmd: &mut Command, secs: u64) -> Finished {
    run_bounded(cmd, Duration::from_secs(secs)).expect("spawn")
}

fn ping(lab: &Lab, target: IpAddr) -> Finished {
    let s = target.to_string();
    run(&mut lab.scanner_exec(["ping", "-n", "-c", "1", "-W", "1", s.as_str()]), 10)
}

fn netns_list() -> String {
    run_checked(Command::new("ip").args(["netns", "list"])).expect("ip netns list")
}

#[test]
fn lab_comes_up_answers_and_tears_down_cleanly() {
    if !require_root_and_programs("lab_comes_up_answers_and_tears_down_cleanly", &["ping", "bash"]) {
        return;
    }
    let lab = Lab::up("wlsmoke").expect("lab up");
    let name = lab.name().to_string();
    let listed = netns_list();
    assert!(listed.contains(&lab.bridge_netns()), "bridge namespace missing from:\n{listed}");
    lab.check_isolated(host::SCANNER).expect("scanner isolated");

    for h in lab.addressing().live_targets() {
        for a in h.addresses() {
            let f = ping(&lab, a);
            assert!(f.success(), "ping {} ({}) from the scanner: {}", a, h.name, f.describe());
        }
    }
    for dead in lab.addressing().dead_in_scope() {
        let f = ping(&lab, IpAddr::V4(dead));
        assert!(!f.success(), "dead address {dead} answered a ping: {}", f.describe());
    }
    // The web host serves HTTP on IPv6 as well (bash's /dev/tcp, bounded).
    let web6 = lab.host(host::WEB).ipv6.expect("web has IPv6");
    let f = run(
        &mut lab.scanner_exec([
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/{web6}/80 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"),
        ]),
        10,
    );
    assert!(f.success() && f.stdout.contains("wijk-lab web"), "HTTP over IPv6: {}", f.describe());

    drop(lab);
    let listed = netns_list();
    assert!(!listed.contains(&name), "namespaces of {name} left behind:\n{listed}");
}

#[test]
fn counters_count_what_reaches_the_outside_host() {
    if !require_root_and_programs("counters_count_what_reaches_the_outside_host", &["ping"]) {
        return;
    }
    let lab = Lab::up("wlsmoke").expect("lab up");
    let outside = lab.host(host::OUTSIDE);
    let before = lab.count_packets_from_scanner(host::OUTSIDE).expect("counters");
    assert_eq!(before.total(), 0, "outside saw packets before anyone sent any: {before:?}");

    // Positive controls: a zero later on means "nothing came", not "nothing was counted".
    assert!(ping(&lab, IpAddr::V4(outside.ipv4)).success());
    let after_v4 = lab.count_packets_from_scanner(host::OUTSIDE).expect("counters");
    assert!(after_v4.ipv4 >= 1, "{after_v4:?}");
    assert!(after_v4.arp_requests >= 1, "ARP request for outside not counted: {after_v4:?}");

    assert!(ping(&lab, IpAddr::V6(outside.ipv6.expect("outside has IPv6"))).success());
    let after_v6 = lab.count_packets_from_scanner(host::OUTSIDE).expect("counters");
    assert!(after_v6.ipv6 >= 1, "{after_v6:?}");

    let arp_before = after_v6.arp_requests;
    assert!(!ping(&lab, IpAddr::V4(lab.addressing().dead_excluded())).success());
    let after_dead = lab.count_packets_from_scanner(host::OUTSIDE).expect("counters");
    assert!(after_dead.arp_requests > arp_before, "ARP for the excluded dead address not counted: {after_dead:?}");

    // Another host's counters are its own.
    let ssh = lab.count_packets_from_scanner(host::SSH).expect("counters");
    assert_eq!(ssh.total(), 0, "ssh counted packets meant for others: {ssh:?}");
}

/// Open ports per host from nmap's greppable output (`-oG -`).
fn nmap_open(out: &str) -> BTreeMap<IpAddr, BTreeSet<Port>> {
    let mut m: BTreeMap<IpAddr, BTreeSet<Port>> = BTreeMap::new();
    for line in out.lines().filter(|l| l.starts_with("Host: ") && l.contains("Ports: ")) {
        let Some(addr) = line.split_whitespace().nth(1).and_then(|a| a.parse().ok()) else { continue };
        let ports = line.split('\t').find_map(|f| f.strip_prefix("Ports: ")).unwrap_or("");
        let set = m.entry(addr).or_default();
        for p in ports.split(", ") {
            let f: Vec<&str> = p.split('/').collect();
            if let (Some(n), Some(&"open"), Some(proto)) =
                (f.first().and_then(|n| n.parse().ok()), f.get(1), f.get(2).and_then(|p| Proto::parse(p)))
            {
                set.insert(Port { proto, number: n });
            }
        }
    }
    m
}

#[test]
fn nmap_sees_exactly_the_planned_ports_and_nothing_reaches_outside() {
    if !require_root_and_programs("nmap_sees_exactly_the_planned_ports_and_nothing_reaches_outside", &["nmap"]) {
        return;
    }
    let lab = Lab::up("wlsmoke").expect("lab up");
    let addr = lab.addressing();
    let excluded = addr.excluded().iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",");
    let net = addr.ipv4_net();
    let f = run(
        &mut lab.scanner_exec([
            "nmap",
            "-n",
            "-sS",
            "-sU",
            "-p",
            "T:21,22,53,80,6379,8080,U:53,123,161",
            "--max-retries",
            "2",
            "--host-timeout",
            "60s",
            "--max-rate",
            "1000",
            "--exclude",
            &excluded,
            "-oG",
            "-",
            &net,
        ]),
        180,
    );
    assert!(f.success(), "nmap: {}", f.describe());
    let seen = nmap_open(&f.stdout);

    let mut expected: BTreeMap<IpAddr, BTreeSet<Port>> = BTreeMap::new();
    for h in addr.live_targets() {
        expected.insert(IpAddr::V4(h.ipv4), h.open.iter().copied().collect());
    }
    let scanner = IpAddr::V4(lab.host(host::SCANNER).ipv4);
    let mut seen_without_scanner = seen.clone();
    if let Some(own) = seen_without_scanner.remove(&scanner) {
        assert!(own.is_empty(), "the scanner itself has open ports: {own:?}");
    }
    assert_eq!(seen_without_scanner, expected, "nmap output:\n{}", f.stdout);

    let f6 = run(
        &mut lab.scanner_exec([
            "nmap",
            "-6",
            "-n",
            "-sS",
            "-p",
            "80,22",
            "--max-retries",
            "2",
            "-oG",
            "-",
            &lab.host(host::WEB).ipv6.expect("v6").to_string(),
        ]),
        60,
    );
    assert!(f6.success(), "nmap -6: {}", f6.describe());
    let web6 = IpAddr::V6(lab.host(host::WEB).ipv6.expect("v6"));
    assert_eq!(nmap_open(&f6.stdout).get(&web6), Some(&BTreeSet::from([Port::tcp(80)])), "{}", f6.stdout);

    let outside = lab.count_packets_from_scanner(host::OUTSIDE).expect("counters");
    assert_eq!(outside.total(), 0, "an excluded address received packets: {outside:?}");
    let web = lab.count_packets_from_scanner(host::WEB).expect("counters");
    assert!(web.ipv4 > 0 && web.ipv6 > 0 && web.arp_requests > 0, "web's counters did not count the scan: {web:?}");
}
