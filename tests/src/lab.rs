//! The namespace lab: real daemons on a private bridge that no packet can leave.
//!
//! [`Lab::up`] builds, for one test, the basic lab (one host per daemon, see [`crate::daemons`]);
//! [`Lab::up_services`] the services lab (weak and hardened twins and hostile fakes, see
//! [`crate::services`]), a separate plan so that the basic lab's tests stay as fast as they were;
//! [`Lab::up_packets`] the packets lab (packet-level hostility, see [`crate::packets`]).
//! [`Lab::up_hostile`] the hostile lab (resets, TLS garbage, hostile certificates, invalid UTF-8, see
//! [`crate::hostile_lab`]).
//! Each is a set of network namespaces named `<prefix>-<pid>-<n>-<role>`:
//!
//! - `…-br` holds a Linux bridge `br0` (no addresses, IPv6 off, STP off, multicast flooded);
//! - one namespace per host of the [addressing plan](crate::addressing), joined to the bridge by a
//!   veth pair created *inside* the bridge namespace with its peer created directly inside the host
//!   namespace (`ip -n <br> link add p-<host> type veth peer name eth0 netns <host-ns>`), so no lab
//!   interface ever exists in the root namespace and interface names (≤ 9 characters) only need to be
//!   unique within one namespace;
//! - addresses in `198.18.<s>.0/24` and `2001:2:0:<s>::/64` (`nodad`, DAD and router solicitations
//!   off, ICMP rate limits off so closed UDP ports answer at once), fixed locally administered MACs;
//! - real daemons started with `ip netns exec`, each awaited until it listens;
//! - nftables counters (see [`crate::counters`]) in every host but the scanner.
//!
//! No namespace gets a default route or any route via a gateway, and nothing is bridged into the root
//! namespace: [`Lab::scanner_exec`] checks the scanner's routes again before every command it builds.
//! `Drop` stops every daemon's process group, kills whatever is left inside the lab's namespaces and
//! deletes them; `up` first removes stale labs with the same prefix whose creating process is gone
//! (a test binary killed before its `Drop` ran). When the test thread is panicking the lab directory
//! (configs and daemon logs) is kept and its path printed.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::addressing::{host, Addressing, LabHost, LabKind, Port};
use crate::consent_fixture::SignedConsent;
use crate::counters::{self, PacketCounts};
use crate::daemons::{self, Daemon};
use crate::process::{find_program, is_root, pid_alive, program, run_checked, signal_group, signal_pid, skip};
use crate::{hostile_lab, packets, services};

/// Programs a lab needs, besides the daemons in [`daemons::PROGRAMS`].
const NET_PROGRAMS: &[&str] = &["ip", "nft", "ss", "sysctl"];

/// How long one daemon may take to listen.
const DAEMON_START_LIMIT: Duration = Duration::from_secs(20);

/// Labs made by this process so far (part of each lab's name and subnet).
static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// Serialises namespace creation and stale-lab cleanup within one test binary.
static SETUP: Mutex<()> = Mutex::new(());

/// Every program a basic lab needs.
pub fn lab_programs() -> Vec<&'static str> {
    programs_of(LabKind::Basic)
}

/// Every program a lab of `kind` needs.
pub fn programs_of(kind: LabKind) -> Vec<&'static str> {
    let daemons = match kind {
        LabKind::Basic => daemons::PROGRAMS,
        LabKind::Services => services::PROGRAMS,
        LabKind::Packets => packets::PROGRAMS,
        LabKind::Hostile => hostile_lab::PROGRAMS,
    };
    NET_PROGRAMS.iter().chain(daemons).copied().collect()
}

/// Whether a lab test can run here: root and every lab program. Otherwise prints
/// `SKIPPED <test>: needs root and <program> (run as root, or via .ci/run)` and returns false — or,
/// when `CI=true`, panics, because in CI these tests must run.
pub fn require_root_or_skip(test: &str) -> bool {
    require_root_and_programs(test, &[])
}

/// [`require_root_or_skip`] that also needs the programs in `extra` (e.g. `nmap`).
pub fn require_root_and_programs(test: &str, extra: &[&str]) -> bool {
    require_lab_or_skip(test, LabKind::Basic, extra)
}

/// [`require_root_and_programs`] for a lab of `kind`.
pub fn require_lab_or_skip(test: &str, kind: LabKind, extra: &[&str]) -> bool {
    let needed: Vec<&str> = programs_of(kind).into_iter().chain(extra.iter().copied()).collect();
    let missing: Vec<&str> = needed.iter().copied().filter(|p| find_program(p).is_none()).collect();
    let root = is_root();
    if root && missing.is_empty() {
        return true;
    }
    let what = if missing.is_empty() { needed.join(", ") } else { missing.join(", ") };
    let why = match (root, missing.is_empty()) {
        (false, true) => "not running as root".to_string(),
        (true, false) => format!("not installed: {}", missing.join(", ")),
        _ => format!("not running as root; not installed: {}", missing.join(", ")),
    };
    skip(&format!("SKIPPED {test}: needs root and {what} (run as root, or via .ci/run) [{why}]"));
    false
}

/// A running lab. See the module documentation.
#[derive(Debug)]
pub struct Lab {
    name: String,
    addr: Addressing,
    dir: Option<tempfile::TempDir>,
    dir_path: PathBuf,
    ip: PathBuf,
    namespaces: Vec<String>,
    daemons: Vec<Daemon>,
    scanner_link_local: Option<Ipv6Addr>,
}

impl Lab {
    /// Builds a basic lab whose names start with `name_prefix` (1–8 characters, `a-z0-9`), starts
    /// its daemons and waits until each listens. Needs root; see [`require_root_or_skip`].
    pub fn up(name_prefix: &str) -> Result<Lab> {
        Lab::build(name_prefix, LabKind::Basic, None)
    }

    /// Builds a services lab (see [`crate::services`]) like [`Lab::up`]. `hostile` is this crate's
    /// `hostile` program (`env!("CARGO_BIN_EXE_hostile")`). Needs root and
    /// [`programs_of`]`(LabKind::Services)`; see [`require_lab_or_skip`].
    pub fn up_services(name_prefix: &str, hostile: &Path) -> Result<Lab> {
        Lab::build(name_prefix, LabKind::Services, Some(hostile))
    }

    /// Builds a packets lab (see [`crate::packets`]) like [`Lab::up`]. `rawfake` is this crate's
    /// `rawfake` program (`env!("CARGO_BIN_EXE_rawfake")`). Needs root and
    /// [`programs_of`]`(LabKind::Packets)`; see [`require_lab_or_skip`].
    pub fn up_packets(name_prefix: &str, rawfake: &Path) -> Result<Lab> {
        Lab::build(name_prefix, LabKind::Packets, Some(rawfake))
    }

    /// Builds a hostile lab (see [`crate::hostile_lab`]) like [`Lab::up`]. `hostile` is this crate's
    /// `hostile` program. Needs root and [`programs_of`]`(LabKind::Hostile)`.
    pub fn up_hostile(name_prefix: &str, hostile: &Path) -> Result<Lab> {
        Lab::build(name_prefix, LabKind::Hostile, Some(hostile))
    }

    fn build(name_prefix: &str, kind: LabKind, hostile: Option<&Path>) -> Result<Lab> {
        if name_prefix.is_empty()
            || name_prefix.len() > 8
            || !name_prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            bail!("lab name prefix {name_prefix:?} must be 1-8 characters of a-z0-9");
        }
        if !is_root() {
            bail!("Lab::up needs root (network namespaces); call lab::require_root_or_skip first");
        }
        for p in programs_of(kind) {
            program(p)?;
        }
        let ip = program("ip")?;
        let guard = SETUP.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cleanup_stale(&ip, name_prefix);

        let n = NEXT_LAB.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let name = format!("{name_prefix}-{pid}-{n}");
        let subnet = 1 + ((pid.wrapping_add(n)) % 250) as u8;
        let dir =
            tempfile::Builder::new().prefix(&format!("{name}.")).tempdir().context("creating the lab directory")?;
        let dir_path = dir.path().to_path_buf();
        std::fs::set_permissions(&dir_path, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;

        let mut lab = Lab {
            name,
            addr: Addressing::of(kind, subnet),
            dir: Some(dir),
            dir_path,
            ip,
            namespaces: Vec::new(),
            daemons: Vec::new(),
            scanner_link_local: None,
        };
        // From here on, an error drops `lab`, which tears down whatever was built.
        lab.build_network().with_context(|| format!("building the network of lab {}", lab.name))?;
        drop(guard);
        lab.install_counters()?;
        if kind == LabKind::Packets {
            packets::install_rules(&lab.ip, &lab.dir_path, &lab.addr, &|h| lab.netns(h))?;
        }
        lab.start_daemons(hostile)?;
        lab.check_exposed_ports()?;
        lab.check_isolated(host::SCANNER)?;
        Ok(lab)
    }

    /// The lab's name, `<prefix>-<pid>-<n>`; every namespace name starts with it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Directory with the daemons' configurations and logs.
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// The addressing plan (subnet, hosts, dead addresses).
    pub fn addressing(&self) -> Addressing {
        self.addr
    }

    /// One host: its addresses, MAC and open ports.
    pub fn host(&self, name: &str) -> LabHost {
        self.addr.host(name)
    }

    /// Every host, the scanner first.
    pub fn hosts(&self) -> Vec<LabHost> {
        self.addr.hosts()
    }

    /// The scanner's IPv6 link-local address (the counters watch it too).
    pub fn scanner_link_local(&self) -> Option<Ipv6Addr> {
        self.scanner_link_local
    }

    /// Namespace name of host `name`.
    pub fn netns(&self, name: &str) -> String {
        format!("{}-{name}", self.name)
    }

    /// Namespace name of the bridge.
    pub fn bridge_netns(&self) -> String {
        format!("{}-br", self.name)
    }

    /// A command that runs `args` inside host `name`'s namespace (`ip netns exec`).
    pub fn netns_exec<I, S>(&self, name: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(&self.ip);
        cmd.args(["netns", "exec", &self.netns(name)]).args(args);
        cmd
    }

    /// A command that runs `args` inside the scanner's namespace. Checks first that the namespace
    /// has no default route and no route via a gateway, and panics if it has: a scanner must never
    /// run where its packets could leave the lab.
    pub fn scanner_exec<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        if let Err(e) = self.check_isolated(host::SCANNER) {
            panic!("refusing to run anything in the scanner namespace: {e:#}");
        }
        self.netns_exec(host::SCANNER, args)
    }

    /// `wijkagent scan` under `consent` in the scanner's namespace ([`Lab::scanner_exec`]): the report
    /// into `out`, the audit log to `audit`, in English, with `profile`, no progress display.
    /// `ip netns exec` execs the agent, so the pid of the command is the agent's.
    pub fn scan_command(&self, consent: &SignedConsent, out: &Path, audit: &Path, profile: &str) -> Command {
        let mut cmd = self.scanner_exec([crate::agent::bin()]);
        cmd.arg("scan")
            .arg("--scope")
            .arg(&consent.scope)
            .arg("--trust")
            .arg(&consent.keys.public_key)
            .arg("--out")
            .arg(out)
            .arg("--audit-log")
            .arg(audit)
            .args(["--lang", "en", "--profile", profile, "--progress", "none"])
            .env_remove("RUST_LOG");
        cmd
    }

    /// Fails unless host `name`'s namespace has only `lo` and `eth0`, no default route, and no
    /// route through a gateway, in IPv4 and IPv6.
    pub fn check_isolated(&self, name: &str) -> Result<()> {
        let ns = self.netns(name);
        for family in ["-4", "-6"] {
            let routes =
                run_checked(Command::new(&self.ip).args(["-n", &ns, family, "route", "show", "table", "all"]))?;
            for line in routes.lines() {
                let is_local_table = line.starts_with("local ") || line.contains(" table local");
                if !is_local_table && (line.starts_with("default") || line.contains(" via ")) {
                    bail!("namespace {ns} has a route out of the lab: {line:?}");
                }
            }
        }
        let links = run_checked(Command::new(&self.ip).args(["-n", &ns, "-j", "link", "show"]))?;
        let links: Value = serde_json::from_str(&links).context("parsing `ip -j link show`")?;
        let names: BTreeSet<&str> = links
            .as_array()
            .map(|a| a.iter().filter_map(|l| l.get("ifname").and_then(Value::as_str)).collect())
            .unwrap_or_default();
        if names != BTreeSet::from(["lo", "eth0"]) {
            bail!("namespace {ns} has interfaces {names:?}, expected only lo and eth0");
        }
        Ok(())
    }

    /// What host `name`'s nftables counters saw from the scanner since the lab came up: IPv4 and
    /// IPv6 packets from the scanner's addresses, and ARP requests for the host's own address (on
    /// `outside`, also for the excluded dead address).
    pub fn count_packets_from_scanner(&self, name: &str) -> Result<PacketCounts> {
        if name == host::SCANNER {
            bail!("the scanner has no counters");
        }
        counters::read(&self.ip, &self.netns(name))
    }

    /// The logs of every daemon, for failure messages.
    pub fn daemon_logs(&self) -> String {
        self.daemons
            .iter()
            .map(|d| format!("--- {} on {} ({}) ---\n{}", d.name, d.host, d.log.display(), d.log_text()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn ip(&self, args: &[&str]) -> Result<String> {
        run_checked(Command::new(&self.ip).args(args))
    }

    fn sysctl(&self, ns: &str, settings: &[&str]) -> Result<()> {
        run_checked(Command::new(&self.ip).args(["netns", "exec", ns, "sysctl", "-q", "-w"]).args(settings))?;
        Ok(())
    }

    fn add_netns(&mut self, ns: &str) -> Result<()> {
        self.ip(&["netns", "add", ns])?;
        self.namespaces.push(ns.to_string());
        Ok(())
    }

    fn build_network(&mut self) -> Result<()> {
        let br = self.bridge_netns();
        self.add_netns(&br)?;
        // The bridge namespace only switches frames; it has no addresses of its own.
        self.sysctl(&br, &["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])?;
        self.ip(&[
            "-n",
            &br,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
            "mcast_snooping",
            "0",
        ])?;
        self.ip(&["-n", &br, "link", "set", "br0", "up"])?;
        // Like a real switch, the bridge does not pass frames through iptables. These settings exist
        // only where the br_netfilter module is loaded (Docker loads it); where absent, nothing to do.
        if Path::new("/proc/sys/net/bridge").exists() {
            self.sysctl(
                &br,
                &[
                    "net.bridge.bridge-nf-call-iptables=0",
                    "net.bridge.bridge-nf-call-ip6tables=0",
                    "net.bridge.bridge-nf-call-arptables=0",
                ],
            )?;
        }

        for h in self.addr.hosts() {
            let ns = self.netns(h.name);
            self.add_netns(&ns)?;
            self.sysctl(
                &ns,
                &[
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                    "net.ipv6.conf.all.accept_ra=0",
                    "net.ipv6.conf.default.accept_ra=0",
                    "net.ipv6.conf.default.router_solicitations=0",
                    "net.ipv4.icmp_ratelimit=0",
                    "net.ipv6.icmp.ratelimit=0",
                ],
            )?;
            let port = format!("p-{}", h.name);
            self.ip(&["-n", &br, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
            self.ip(&["-n", &br, "link", "set", &port, "master", "br0", "up"])?;
            self.ip(&["-n", &ns, "link", "set", "eth0", "address", &h.mac])?;
            self.ip(&["-n", &ns, "addr", "add", &format!("{}/24", h.ipv4), "dev", "eth0"])?;
            if let Some(v6) = h.ipv6 {
                self.ip(&["-n", &ns, "-6", "addr", "add", &format!("{v6}/64"), "dev", "eth0", "nodad"])?;
            }
            self.ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            self.ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        }
        self.scanner_link_local = Some(self.wait_link_local(host::SCANNER)?);
        Ok(())
    }

    /// The link-local address of a host's eth0, once the kernel has assigned it (bounded).
    fn wait_link_local(&self, name: &str) -> Result<Ipv6Addr> {
        let ns = self.netns(name);
        let start = Instant::now();
        loop {
            let out = self.ip(&["-n", &ns, "-j", "-6", "addr", "show", "dev", "eth0", "scope", "link"])?;
            let v: Value = serde_json::from_str(&out).context("parsing `ip -j addr show`")?;
            let found = v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l.get("addr_info").and_then(Value::as_array))
                .flatten()
                .filter_map(|a| a.get("local").and_then(Value::as_str))
                .find_map(|s| s.parse::<Ipv6Addr>().ok());
            if let Some(a) = found {
                return Ok(a);
            }
            if start.elapsed() > Duration::from_secs(5) {
                bail!("no IPv6 link-local address on eth0 in {ns} after 5 s: {out}");
            }
            sleep(Duration::from_millis(50));
        }
    }

    fn install_counters(&self) -> Result<()> {
        let scanner = self.addr.host(host::SCANNER);
        let mut sources = scanner.addresses();
        sources.extend(self.scanner_link_local.map(IpAddr::V6));
        for h in self.addr.hosts().into_iter().filter(|h| h.name != host::SCANNER) {
            let mut targets = vec![h.ipv4];
            if h.name == host::OUTSIDE {
                targets.push(self.addr.dead_excluded());
            }
            let rules = counters::ruleset(&sources, &targets);
            let file = self.dir_path.join(format!("counters-{}.nft", h.name));
            counters::install(&self.ip, &self.netns(h.name), &rules, &file)?;
        }
        Ok(())
    }

    fn start_daemons(&mut self, hostile: Option<&Path>) -> Result<()> {
        let plans = match (self.addr.kind(), hostile) {
            (LabKind::Basic, _) => daemons::plan(&self.dir_path, &self.addr)?,
            (LabKind::Services, Some(hostile)) => services::plan(&self.dir_path, &self.addr, hostile)?,
            (LabKind::Packets, Some(rawfake)) => packets::plan(&self.dir_path, &self.addr, rawfake)?,
            (LabKind::Packets, None) => bail!("a packets lab needs the rawfake program"),
            (LabKind::Hostile, Some(hostile)) => hostile_lab::plan(&self.dir_path, &self.addr, hostile)?,
            (LabKind::Services | LabKind::Hostile, None) => {
                bail!("a services or hostile lab needs the hostile program")
            }
        };
        for plan in plans {
            let ns = self.netns(plan.host);
            let d = plan.spawn(&self.ip, &ns)?;
            self.daemons.push(d);
        }
        let ip = self.ip.clone();
        let name = self.name.clone();
        for d in &mut self.daemons {
            d.wait_listening(&ip, &format!("{name}-{}", d.host), DAEMON_START_LIMIT)?;
            // The raw fakes listen on no socket; they say when they are ready.
            if d.name == packets::RAWFAKE {
                packets::wait_ready(d, DAEMON_START_LIMIT)?;
            }
        }
        Ok(())
    }

    /// The expected port sets are only worth asserting if they are exactly what the hosts expose.
    fn check_exposed_ports(&self) -> Result<()> {
        for h in self.addr.hosts() {
            let exposed = daemons::exposed_ports(&self.ip, &self.netns(h.name))?;
            let planned: BTreeSet<Port> = h.open.iter().copied().collect();
            if exposed != planned {
                bail!(
                    "host {} exposes {:?} but the lab plan says {:?}; daemon logs:\n{}",
                    h.name,
                    exposed,
                    planned,
                    self.daemon_logs()
                );
            }
        }
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for d in &self.daemons {
            signal_group(d.child.id(), "TERM");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for d in &mut self.daemons {
            while Instant::now() < deadline && matches!(d.child.try_wait(), Ok(None)) {
                sleep(Duration::from_millis(50));
            }
            if matches!(d.child.try_wait(), Ok(None)) {
                signal_group(d.child.id(), "KILL");
                let _ = d.child.kill();
            }
            let _ = d.child.wait();
        }
        for ns in self.namespaces.iter().rev() {
            remove_netns(&self.ip, ns);
        }
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "wijk-lab: lab {} failed; its directory is kept at {}",
                    self.name,
                    kept.display()
                );
            }
        }
    }
}

/// Kills whatever still runs inside `ns` (only processes of a lab) and deletes it.
fn remove_netns(ip: &Path, ns: &str) {
    if let Ok(out) = run_checked(Command::new(ip).args(["netns", "pids", ns])) {
        for pid in out.split_whitespace().filter_map(|p| p.parse::<u32>().ok()) {
            signal_pid(pid, "KILL");
        }
    }
    let _ = run_checked(Command::new(ip).args(["netns", "del", ns]));
}

/// Removes labs named `<prefix>-<pid>-…` whose creating process `<pid>` is gone, and their
/// directories. Labs of live processes (other tests running now) are left alone.
fn cleanup_stale(ip: &Path, prefix: &str) {
    let me = std::process::id();
    let stale = |name: &str| -> bool {
        name.strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| pid != me && !pid_alive(pid))
    };
    if let Ok(list) = run_checked(Command::new(ip).args(["netns", "list"])) {
        for ns in list.lines().filter_map(|l| l.split_whitespace().next()) {
            if stale(ns) {
                remove_netns(ip, ns);
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if stale(&name) && e.path().is_dir() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}
