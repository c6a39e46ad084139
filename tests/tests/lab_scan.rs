//! The agent scans the namespace lab under a signed consent, and the tests check what it found
//! against what the lab really runs, and that nothing reached what the consent excludes.
//!
//! Each test builds its own lab (see `wijk_lab::lab`), signs the lab consent through the CLI, runs
//! `wijkagent scan` inside the scanner's namespace (which `Lab::scanner_exec` first checks has no
//! default route) with a deadline, and then asserts on `report.json`, the `outside` host's nftables
//! counters (IPv4, IPv6, ARP: all must stay at zero) and the audit log. Without root they print a
//! SKIPPED line; with `CI=true` they must run.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use wijk_lab::consent_fixture::{self, ConsentSpec, SignedConsent};
use wijk_lab::process::{run_bounded, run_interrupted, Finished};
use wijk_lab::report::{count_events, SCHEMA};
use wijk_lab::{agent, host, require_root_or_skip, Lab, Port, Report};

/// A whole lab scan must finish well within this; the agent is stopped (TERM, then KILL) after it.
const SCAN_LIMIT: Duration = Duration::from_secs(240);

/// The ports of the lab scans: every daemon's port, one closed TCP and one silent UDP port.
const PORTS: &str = "21,22,53,80,6379,8080,U:53,U:123,U:161";

fn scanned_ports() -> BTreeSet<Port> {
    [21, 22, 53, 80, 6379, 8080].map(Port::tcp).into_iter().chain([53, 123, 161].map(Port::udp)).collect()
}

/// A lab, its signed consent and a work directory for reports and the audit log.
struct Setup {
    lab: Lab,
    consent: SignedConsent,
    work: tempfile::TempDir,
}

impl Setup {
    fn new(spec: impl FnOnce(&Lab) -> ConsentSpec) -> Setup {
        if let Err(e) = agent::bin_checked() {
            panic!("{e:#}");
        }
        let lab = Lab::up("wlscan").expect("lab up");
        let work = tempfile::tempdir().expect("work dir");
        let consent = consent_fixture::write_signed(&work.path().join("consent"), &spec(&lab))
            .expect("lab consent via `wijkagent consent keygen/sign`");
        Setup { lab, consent, work }
    }

    fn out(&self) -> PathBuf {
        self.work.path().join("report")
    }

    fn audit(&self) -> PathBuf {
        self.work.path().join("audit.log")
    }

    fn scan_command(&self, extra: &[&str]) -> std::process::Command {
        let mut cmd = self.lab.scanner_exec([agent::bin()]);
        cmd.arg("scan")
            .arg("--scope")
            .arg(&self.consent.scope)
            .arg("--trust")
            .arg(&self.consent.keys.public_key)
            .arg("--out")
            .arg(self.out())
            .arg("--audit-log")
            .arg(self.audit())
            .args(["--lang", "en"])
            .args(extra)
            .env_remove("RUST_LOG");
        cmd
    }

    /// Runs a scan to completion and reads its report; panics with the agent's output otherwise.
    fn scan(&self, extra: &[&str]) -> (Finished, Report) {
        let f = run_bounded(&mut self.scan_command(extra), SCAN_LIMIT).expect("spawn wijkagent");
        // Safety first, whatever else happened: nothing, not even an ARP request, for what the
        // consent excludes.
        self.assert_outside_untouched();
        assert!(!f.timed_out, "wijkagent scan did not finish within {SCAN_LIMIT:?}: {}", f.describe());
        assert_eq!(f.code(), Some(0), "wijkagent scan failed: {}", f.describe());
        let report = Report::read(&self.out()).unwrap_or_else(|e| panic!("{e:#}\nagent: {}", f.describe()));
        (f, report)
    }

    fn assert_outside_untouched(&self) {
        let c = self.lab.count_packets_from_scanner(host::OUTSIDE).expect("outside counters");
        assert_eq!(c.ipv4, 0, "IPv4 packets reached the excluded host: {c:?}");
        assert_eq!(c.ipv6, 0, "IPv6 packets reached the excluded host: {c:?}");
        assert_eq!(c.arp_requests, 0, "ARP requests asked for an excluded address: {c:?}");
    }

    fn assert_audit_chain_intact(&self) {
        let mut cmd = agent::command(["audit", "verify", "--log"]);
        cmd.arg(self.audit());
        let f = run_bounded(&mut cmd, Duration::from_secs(30)).expect("spawn");
        assert_eq!(f.code(), Some(0), "audit verify after a scan: {}", f.describe());
        assert!(
            count_events(&self.audit(), "scan_started").expect("audit log") >= 1,
            "no scan_started in the audit log"
        );
        assert!(
            count_events(&self.audit(), "scan_finished").expect("audit log") >= 1,
            "no scan_finished in the audit log"
        );
    }
}

/// What a complete scan of the whole lab must report: every live host, with exactly its open ports
/// among those scanned, and the web host's IPv6 address as a host of its own.
fn expected(lab: &Lab, scanned: &BTreeSet<Port>) -> BTreeMap<IpAddr, BTreeSet<Port>> {
    let mut m = BTreeMap::new();
    for h in lab.addressing().live_targets() {
        let open: BTreeSet<Port> = h.open.iter().copied().filter(|p| scanned.contains(p)).collect();
        m.insert(IpAddr::V4(h.ipv4), open.clone());
        if h.name == host::WEB {
            m.insert(IpAddr::V6(h.ipv6.expect("web has IPv6")), open);
        }
    }
    m
}

/// The report without the scanner's own address, which a scanner may list (with no open ports).
fn reported_without_scanner(lab: &Lab, report: &Report) -> BTreeMap<IpAddr, BTreeSet<Port>> {
    let mut got = report.open_ports();
    for own in lab.host(host::SCANNER).addresses() {
        if let Some(ports) = got.remove(&own) {
            assert!(ports.is_empty(), "the scanner reports open ports on itself ({own}): {ports:?}");
        }
    }
    got
}

fn assert_whole_lab_report(s: &Setup, report: &Report, privileged: bool) {
    let lab = &s.lab;
    assert_eq!(report.schema, SCHEMA);
    assert!(report.complete, "a finished scan must say complete: true");
    let got = reported_without_scanner(lab, report);
    let want = expected(lab, &scanned_ports());
    assert_eq!(got, want, "open ports per host (left: report, right: the lab)");

    let outside = lab.host(host::OUTSIDE);
    let absent: Vec<IpAddr> =
        lab.addressing().dead_addresses().into_iter().map(IpAddr::V4).chain(outside.addresses()).collect();
    for a in absent {
        assert!(report.host(a).is_none(), "{a} (dead or excluded) is in the report");
    }
    for h in &report.hosts {
        assert!(!h.discovered_by.is_empty(), "{} has no discovered_by", h.address);
    }
    for lh in lab.addressing().live_targets() {
        let Some(h) = report.host(IpAddr::V4(lh.ipv4)) else { continue };
        match (&h.mac, privileged) {
            (Some(mac), _) => assert_eq!(mac.to_ascii_lowercase(), lh.mac, "MAC of {}", lh.name),
            (None, true) => {
                panic!("a privileged scan on the same link must report the MAC of {} ({})", lh.name, lh.ipv4)
            }
            (None, false) => {}
        }
    }
    if let Some(up) = report.stat("hosts_up") {
        assert_eq!(up as usize, report.hosts.len(), "stats.hosts_up vs hosts[]");
    }
    assert!(report.stat("probes_sent").unwrap_or(0.0) > 0.0, "stats.probes_sent missing or zero");

    let web = lab.count_packets_from_scanner(host::WEB).expect("web counters");
    assert!(web.ipv4 > 0 && web.ipv6 > 0, "the scan never reached web (counters broken?): {web:?}");
    s.assert_audit_chain_intact();
}

#[test]
fn privileged_syn_scan_finds_exactly_the_lab_services() {
    if !require_root_or_skip("privileged_syn_scan_finds_exactly_the_lab_services") {
        return;
    }
    let s = Setup::new(|lab| ConsentSpec::for_lab(&lab.addressing()));
    let (_, report) = s.scan(&["--ports", PORTS]);
    assert_whole_lab_report(&s, &report, true);
}

#[test]
fn connect_scan_finds_exactly_the_lab_services() {
    if !require_root_or_skip("connect_scan_finds_exactly_the_lab_services") {
        return;
    }
    let s = Setup::new(|lab| ConsentSpec::for_lab(&lab.addressing()));
    let (_, report) = s.scan(&["--ports", PORTS, "--connect"]);
    assert_whole_lab_report(&s, &report, false);
}

#[test]
fn explicit_ipv6_address_is_scanned_and_nothing_else() {
    if !require_root_or_skip("explicit_ipv6_address_is_scanned_and_nothing_else") {
        return;
    }
    let s = Setup::new(|lab| {
        let mut spec = ConsentSpec::for_lab(&lab.addressing());
        spec.include = vec![lab.host(host::WEB).ipv6.expect("web has IPv6").to_string()];
        spec
    });
    let (_, report) = s.scan(&["--ports", "22,80,443"]);
    let web6 = IpAddr::V6(s.lab.host(host::WEB).ipv6.expect("web has IPv6"));
    assert!(report.complete);
    assert_eq!(report.addresses(), BTreeSet::from([web6]), "only the consented IPv6 address may be reported");
    assert_eq!(report.host(web6).map(|h| h.open_ports()), Some(BTreeSet::from([Port::tcp(80)])));

    for h in s.lab.addressing().live_targets() {
        let c = s.lab.count_packets_from_scanner(h.name).expect("counters");
        if h.name == host::WEB {
            assert!(c.ipv6 > 0, "web's IPv6 address got no packet: {c:?}");
            assert_eq!((c.ipv4, c.arp_requests), (0, 0), "IPv4 or ARP to web in an IPv6-only scope: {c:?}");
        } else {
            assert_eq!(c.total(), 0, "{} is not in an IPv6-only scope but got packets: {c:?}", h.name);
        }
    }
    s.assert_audit_chain_intact();
}

#[test]
fn sigterm_stops_a_scan_with_a_partial_report() {
    if !require_root_or_skip("sigterm_stops_a_scan_with_a_partial_report") {
        return;
    }
    let s = Setup::new(|lab| ConsentSpec::for_lab(&lab.addressing()));
    // Slow enough (20 packets/s over 1000 ports of a /24) that it is still running after 3 s.
    let mut cmd = s.scan_command(&["--ports", "1-1000", "--rate", "20", "--per-host-rate", "5"]);
    let f = run_interrupted(&mut cmd, Duration::from_secs(3), Duration::from_secs(60)).expect("spawn");
    s.assert_outside_untouched();
    assert!(!f.timed_out, "wijkagent did not stop within 57 s of SIGTERM: {}", f.describe());
    assert_eq!(f.code(), Some(130), "exit code after SIGTERM: {}", f.describe());
    let report = Report::read(&s.out()).unwrap_or_else(|e| panic!("{e:#}\nagent: {}", f.describe()));
    assert!(!report.complete, "an interrupted scan must say complete: false");
    assert_no_report_outside_scope(&s.lab, &report);
}

fn assert_no_report_outside_scope(lab: &Lab, report: &Report) {
    let allowed: BTreeSet<IpAddr> = lab
        .hosts()
        .iter()
        .filter(|h| h.name != host::OUTSIDE)
        .flat_map(|h| h.addresses())
        .filter(|a| a.is_ipv4() || *a == IpAddr::V6(lab.host(host::WEB).ipv6.expect("v6")))
        .collect();
    for a in report.addresses() {
        assert!(allowed.contains(&a), "{a} is reported but is not a live in-scope lab host");
    }
}
