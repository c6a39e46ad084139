//! The `services` job: service identification, wijkagent against `nmap -sV`, in the services lab.
//!
//! Both tools scan the same hosts (the services lab's daemons; the hostile tarpit, drip and flood
//! hosts are left out of both target lists, as nmap would spend minutes on them) from the same
//! scanner namespace in the same run: `wijkagent scan --profile standard` and
//! `nmap -n -sV -p <the standard profile's TCP ports>`. The agent also probes the profile's UDP
//! ports; nmap is given TCP only, as `-sU -sV` would take far longer than the whole agent scan.
//!
//! Agreement is counted over every (host, port) that nmap reports open with a service name:
//! - named: wijkagent reports the port open with a service name;
//! - product (where nmap names one): one product contains the other's first word, ignoring case
//!   (`Redis key-value store` ~ `Redis`, `Samba smbd` ~ `Samba`);
//! - version (where nmap gives one): one starts with the other once distribution suffixes are
//!   trimmed (`9.2p1 Debian 2+deb12u3` ~ `9.2p1`).
//!
//! Not every version nmap reports was read from the service: some are constants of the fingerprint
//! line that matched (`v/4.6.2/` for any Samba whose SMB2 answer looks a certain way, `v/3.X - 4.X/`,
//! BusyBox's `v/1.14.0 or later/`). Each version is classified against nmap's own
//! `nmap-service-probes` ([`nmap_db`](super::nmap_db)); the guesses are shown as such ("nmap guess,
//! not read from the service") and left out of the version agreement, which is printed both
//! without and with them.
//!
//! nmap's `mqtt-subscribe` script writes `mosquitto version 2.0.11` as the service *name*; that is
//! read as product `mosquitto`, version `2.0.11`. The table shows nmap's name as it came (`ssl/`
//! prefixed for TLS-wrapped services) beside wijkagent's; names are not required to be equal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::nmap::{self, XmlPort};
use super::nmap_db::{ServiceProbes, VersionSource};
use super::{agent_scan, lab_consent, measure};
use crate::addressing::{host, LabHost, Port};
use crate::lab::Lab;
use crate::report::Report;

/// Hosts of the services lab that neither tool is pointed at.
pub const LEFT_OUT: &[&str] = &[host::TARPIT, host::DRIP, host::FLOOD];

/// Alternating runs of each side; the median wall time counts.
const RUNS: usize = 3;

/// The services lab's hosts both tools scan.
pub fn targets(lab: &Lab) -> Vec<LabHost> {
    lab.addressing().live_targets().into_iter().filter(|h| !LEFT_OUT.contains(&h.name)).collect()
}

/// The TCP entries of a `--ports` list (`21,22,1000-1010,U:53,T:8080`), as nmap's `-p` list.
pub fn tcp_entries(list: &str) -> String {
    let tcp: Vec<&str> = list
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.starts_with("U:") && !e.starts_with("u:"))
        .map(|e| e.trim_start_matches("T:").trim_start_matches("t:"))
        .collect();
    tcp.join(",")
}

/// The standard profile's TCP ports, from `wijkagent ports --profile standard --list`.
fn standard_tcp_ports() -> Result<String> {
    let mut cmd = std::process::Command::new(crate::agent::bin());
    cmd.args(["ports", "--profile", "standard", "--list"]);
    let run = measure::run(&mut cmd, None, Duration::from_secs(30))?;
    if run.code != Some(0) {
        bail!("wijkagent ports --profile standard --list failed: {}", run.stderr);
    }
    let ports = tcp_entries(&run.stdout);
    if ports.is_empty() {
        bail!("the standard profile lists no TCP ports: {:?}", run.stdout);
    }
    Ok(ports)
}

/// One (host, port) nmap reports open with a service name, and what wijkagent says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Lab host name (or the address when the host is not in the plan).
    pub host: String,
    /// The port.
    pub port: Port,
    /// nmap's service name, product and version.
    pub nmap: [Option<String>; 3],
    /// Whether wijkagent reports the port open.
    pub ours_open: bool,
    /// wijkagent's service name, product and version.
    pub ours: [Option<String>; 3],
    /// wijkagent names the service.
    pub named: bool,
    /// Products agree; `None` when nmap names no product.
    pub product: Option<bool>,
    /// Versions agree; `None` when nmap gives no version.
    pub version: Option<bool>,
    /// Where nmap's version came from; `None` when nmap gives no version.
    pub version_source: Option<VersionSource>,
}

impl Row {
    /// nmap's version is a constant of its fingerprint line, not read from the service.
    pub fn version_guessed(&self) -> bool {
        self.version_source.as_ref().is_some_and(VersionSource::is_guess)
    }
}

/// Agreement counts: (agreeing, compared).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Ports wijkagent names / ports nmap names.
    pub named: (usize, usize),
    /// Products that agree / products nmap names.
    pub product: (usize, usize),
    /// Versions that agree / versions nmap read from the service (its guesses left out).
    pub version: (usize, usize),
    /// Versions that agree / versions nmap guessed (constants of its fingerprint lines).
    pub version_guessed: (usize, usize),
}

impl Counts {
    /// Counts over `rows`.
    pub fn of(rows: &[Row]) -> Counts {
        let tally = |f: &dyn Fn(&Row) -> Option<bool>| {
            let seen: Vec<bool> = rows.iter().filter_map(f).collect();
            (seen.iter().filter(|b| **b).count(), seen.len())
        };
        Counts {
            named: tally(&|r| Some(r.named)),
            product: tally(&|r| r.product),
            version: tally(&|r| r.version.filter(|_| !r.version_guessed())),
            version_guessed: tally(&|r| r.version.filter(|_| r.version_guessed())),
        }
    }

    /// Versions that agree / every version nmap gives, guesses included.
    pub fn version_all(&self) -> (usize, usize) {
        (self.version.0 + self.version_guessed.0, self.version.1 + self.version_guessed.1)
    }
}

fn first_word(s: &str) -> String {
    let w = s.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
    w.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

/// Whether two product names agree: one contains the other's first word, ignoring case.
pub fn product_agrees(a: &str, b: &str) -> bool {
    let (la, lb) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    let (fa, fb) = (first_word(a), first_word(b));
    (!fa.is_empty() && lb.contains(&fa)) || (!fb.is_empty() && la.contains(&fb))
}

/// A version without what distributions append: the first word, cut at `-`, `+` or `~`.
fn trimmed_version(v: &str) -> String {
    let first = v.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
    let cut = first.find(['-', '+', '~']).unwrap_or(first.len());
    first[..cut].trim_start_matches('v').to_string()
}

/// Whether two versions agree: one starts with the other once trimmed.
pub fn version_agrees(a: &str, b: &str) -> bool {
    let (ta, tb) = (trimmed_version(a), trimmed_version(b));
    !ta.is_empty() && !tb.is_empty() && (ta.starts_with(&tb) || tb.starts_with(&ta))
}

/// One row per port nmap reports open with a service name; `names` gives lab host names. nmap's
/// versions are classified against `probes` (nmap's database) when it is known, else counted as
/// read.
pub fn compare(
    nmap_ports: &[XmlPort],
    report: &Report,
    names: &BTreeMap<IpAddr, &str>,
    probes: Option<&ServiceProbes>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for p in nmap_ports.iter().filter(|p| p.state == "open" && p.name.is_some()) {
        let port = if p.proto == "udp" { Port::udp(p.port) } else { Port::tcp(p.port) };
        let ours = report.service(p.addr, port).filter(|s| s.state == "open");
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let ours_fields =
            ours.map_or([None, None, None], |s| [nonempty(&s.service), nonempty(&s.product), nonempty(&s.version)]);
        // nmap shows TLS-wrapped services as `ssl/<name>`.
        let nmap_name = match (&p.name, &p.tunnel) {
            (Some(n), Some(t)) => Some(format!("{t}/{n}")),
            (n, _) => n.clone(),
        };
        // nmap's `mqtt-subscribe` script (category `version`, so run by `-sV`) puts the broker's
        // `$SYS/broker/version` into the service name: `mosquitto version 2.0.11`, no product.
        let (product, version) = match (&p.product, p.name.as_deref().and_then(|n| n.split_once(" version "))) {
            (None, Some((prod, ver))) => (Some(prod.to_string()), Some(ver.to_string())),
            _ => (p.product.clone(), p.version.clone()),
        };
        let agree = |theirs: &Option<String>, ours: &Option<String>, f: fn(&str, &str) -> bool| {
            theirs.as_deref().map(|t| ours.as_deref().is_some_and(|o| f(t, o)))
        };
        // Classified as nmap wrote it (a version taken from the script's name has no line).
        let version_source = version.as_ref().map(|_| match (probes, &p.name, &p.version) {
            (Some(db), Some(name), Some(v)) => db.version_source(name, p.product.as_deref(), v),
            _ => VersionSource::Unknown,
        });
        rows.push(Row {
            host: names.get(&p.addr).map_or_else(|| p.addr.to_string(), |n| (*n).to_string()),
            port,
            product: agree(&product, &ours_fields[1], product_agrees),
            version: agree(&version, &ours_fields[2], version_agrees),
            version_source,
            named: ours_fields[0].is_some(),
            nmap: [nmap_name, product, version],
            ours_open: ours.is_some(),
            ours: ours_fields,
        });
    }
    rows
}

fn cell(v: &[Option<String>; 3]) -> String {
    v.iter().map(|f| f.as_deref().unwrap_or("-")).collect::<Vec<_>>().join(" / ")
}

fn mark(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "n/a",
    }
}

/// The version column: agreement, or `guess` where nmap's version is a fingerprint constant.
fn version_mark(r: &Row) -> &'static str {
    if r.version_guessed() {
        "guess"
    } else {
        mark(r.version)
    }
}

/// The agreement table, one line per row, and the counts.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  {:<11} {:<9} {:<50} {:<40} {:<5} {:<7} version",
        "host", "port", "nmap: name / product / version", "wijkagent: name / product / version", "named", "product"
    );
    for r in rows {
        let ours = if r.ours_open { cell(&r.ours) } else { "(not reported open)".into() };
        let _ = writeln!(
            s,
            "  {:<11} {:<9} {:<50} {:<40} {:<5} {:<7} {}",
            r.host,
            r.port.to_string(),
            cell(&r.nmap),
            ours,
            mark(Some(r.named)),
            mark(r.product),
            version_mark(r)
        );
    }
    let c = Counts::of(rows);
    let _ = writeln!(
        s,
        "  agreement: named {}/{}, product {}/{}, version {}/{} (versions nmap read from the service)",
        c.named.0, c.named.1, c.product.0, c.product.1, c.version.0, c.version.1
    );
    let guesses: Vec<&Row> = rows.iter().filter(|r| r.version_guessed()).collect();
    if !guesses.is_empty() {
        let _ = writeln!(
            s,
            "  guess = nmap guess, not read from the service (a constant of its nmap-service-probes line): {} \
             version(s), not counted above; wijkagent agrees with {}; counting them, version {}/{}",
            c.version_guessed.1,
            c.version_guessed.0,
            c.version_all().0,
            c.version_all().1
        );
        for r in guesses {
            let lines = match &r.version_source {
                Some(VersionSource::Guess(lines)) => lines.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "    {} {}: nmap says {:?} from line {lines}; wijkagent says {:?}",
                r.host,
                r.port,
                r.nmap[2].as_deref().unwrap_or(""),
                r.ours[2].as_deref().unwrap_or("-")
            );
        }
    }
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs the job in `lab` (a services lab), working in `dir`, both sides at `rate` packets per
/// second at most for the agent (nmap at its default timing). Prints the figures and the table.
pub fn run(lab: &Lab, dir: &Path, rate: u32) -> Result<Value> {
    let hosts = targets(lab);
    let addrs: Vec<IpAddr> = hosts.iter().map(|h| IpAddr::V4(h.ipv4)).collect();
    let names: BTreeMap<IpAddr, &str> = hosts.iter().map(|h| (IpAddr::V4(h.ipv4), h.name)).collect();
    let consent = lab_consent(lab, &dir.join("consent-services"), &addrs, rate)?;
    let ports = standard_tcp_ports()?;
    let tcp_count = ports.split(',').count();
    println!(
        "services: {} hosts ({} left out of both target lists: hostile), standard profile, {tcp_count} TCP entries for nmap",
        hosts.len(),
        LEFT_OUT.join(", ")
    );
    let out = dir.join("report-services");
    let rate_s = rate.to_string();
    let extra = ["--lang", "en", "--profile", "standard", "--rate", &rate_s, "--per-host-rate", &rate_s];
    let mut nmap_args: Vec<String> = ["nmap", "-n", "-sV", "-p"].iter().map(|s| s.to_string()).collect();
    nmap_args.push(ports);
    nmap_args.extend(["-oX".into(), "-".into()]);
    nmap_args.extend(addrs.iter().map(IpAddr::to_string));
    let (mut ours_s, mut nmap_s) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..RUNS {
        let ours = measure::run(&mut agent_scan(lab, &consent, &out, &extra), None, Duration::from_secs(600))?;
        if ours.code != Some(0) {
            bail!("wijkagent standard scan failed ({:?}): {}", ours.code, ours.stderr);
        }
        let theirs = measure::run(&mut lab.scanner_exec(&nmap_args), None, Duration::from_secs(1200))?;
        if theirs.code != Some(0) {
            bail!("nmap -sV failed ({:?}): {}", theirs.code, theirs.stderr);
        }
        ours_s.push(ours.wall.as_secs_f64());
        nmap_s.push(theirs.wall.as_secs_f64());
        last = Some(theirs);
    }
    let theirs = last.context("no run")?;
    let report = Report::read(&out).context("agent report")?;
    let nmap_ports = nmap::xml_ports(&theirs.stdout);
    let probes = ServiceProbes::find();
    match &probes {
        Some(db) => {
            println!("  nmap's versions classified against {} ({} match lines)", db.path.display(), db.lines.len())
        }
        None => println!("  nmap-service-probes not found: nmap's versions not classified (all counted as read)"),
    }
    let rows = compare(&nmap_ports, &report, &names, probes.as_ref());
    let counts = Counts::of(&rows);
    let (ours_med, nmap_med) = (median(ours_s.clone()), median(nmap_s.clone()));
    let ratio = ours_med / nmap_med;
    println!(
        "services -sV standard: wijkagent {ours_med:6.2} s | nmap {nmap_med:6.2} s | ratio {ratio:.2} (target ≤ 0.50) {}  [medians of {RUNS}: ours {ours_s:.2?}, nmap {nmap_s:.2?}]",
        if ratio <= 0.5 { "PASS" } else { "FAIL" },
    );
    print!("{}", table(&rows));
    let only_ours = only_ours(&report, &nmap_ports, &names);
    if !only_ours.is_empty() {
        println!("  open in wijkagent's report only: {}", only_ours.join(", "));
    }
    let row_json: Vec<Value> = rows
        .iter()
        .map(|r| {
            let source = match &r.version_source {
                None => json!(null),
                Some(VersionSource::Read) => json!("read"),
                Some(VersionSource::Unknown) => json!("not in nmap-service-probes"),
                Some(VersionSource::Guess(lines)) => json!({"guess": lines}),
            };
            json!({"host": r.host, "port": r.port.to_string(), "nmap": r.nmap, "wijkagent": r.ours,
                   "open": r.ours_open, "named": r.named, "product": r.product, "version": r.version,
                   "nmap_version_source": source})
        })
        .collect();
    Ok(json!({
        "wijkagent_s": ours_med, "nmap_s": nmap_med, "ratio": ratio, "target_ratio": 0.5, "pass_time": ratio <= 0.5,
        "runs": {"wijkagent": ours_s, "nmap": nmap_s},
        "hosts": hosts.len(), "left_out": LEFT_OUT, "tcp_port_entries": tcp_count,
        "named": {"agree": counts.named.0, "of": counts.named.1},
        "product": {"agree": counts.product.0, "of": counts.product.1},
        "version": {"agree": counts.version.0, "of": counts.version.1, "counted": "versions nmap read from the service"},
        "version_nmap_guessed": {"agree": counts.version_guessed.0, "of": counts.version_guessed.1},
        "version_all": {"agree": counts.version_all().0, "of": counts.version_all().1},
        "nmap_service_probes": probes.as_ref().map(|db| db.path.display().to_string()),
        "rows": row_json, "open_in_wijkagent_only": only_ours,
    }))
}

/// Open ports in the agent's report that nmap does not report open (UDP included), `host port`.
fn only_ours(report: &Report, nmap_ports: &[XmlPort], names: &BTreeMap<IpAddr, &str>) -> Vec<String> {
    let mut v = Vec::new();
    for (ip, ports) in report.open_ports() {
        for p in ports {
            let theirs = nmap_ports
                .iter()
                .any(|n| n.addr == ip && n.port == p.number && n.proto == p.proto.as_str() && n.state == "open");
            if !theirs {
                let host = names.get(&ip).map_or_else(|| ip.to_string(), |n| (*n).to_string());
                v.push(format!("{host} {p}"));
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_agree_on_the_first_word() {
        assert!(product_agrees("vsftpd", "vsftpd"));
        assert!(product_agrees("nginx", "nginx"));
        assert!(product_agrees("OpenSSH", "openssh"));
        assert!(product_agrees("Redis key-value store", "Redis"));
        assert!(product_agrees("Samba smbd", "Samba"));
        assert!(product_agrees("Mosquitto version 2.0.11", "Eclipse Mosquitto"));
        assert!(!product_agrees("Apache httpd", "nginx"));
        assert!(!product_agrees("", "nginx"));
    }

    #[test]
    fn versions_agree_once_distribution_suffixes_are_trimmed() {
        assert!(version_agrees("3.0.3", "3.0.3"));
        assert!(version_agrees("9.2p1 Debian 2+deb12u3", "9.2p1"));
        assert!(version_agrees("7.0.15", "7.0.15-1~deb12u1"));
        assert!(version_agrees("4", "4.17.12"));
        assert!(!version_agrees("4.6.2", "4.17.12"));
        assert!(!version_agrees("", "1.22.1"));
    }

    #[test]
    fn rows_compare_each_named_open_port() {
        let xml = r#"<host starttime="1"><address addr="198.18.9.38" addrtype="ipv4"/><ports>
<port protocol="tcp" portid="1883"><state state="open"/><service name="mosquitto version 2.0.11" method="probed" conf="10"/></port>
<port protocol="tcp" portid="445"><state state="open"/><service name="netbios-ssn" product="Samba smbd" version="4.6.2"/></port>
<port protocol="tcp" portid="8080"><state state="open"/><service name="http-proxy"/></port>
<port protocol="tcp" portid="25"><state state="closed"/><service name="smtp"/></port>
</ports></host>"#;
        let report: Report = serde_json::from_value(json!({"schema": "wijkagent.report/1", "complete": true,
            "hosts": [{"address": "198.18.9.38", "services": [
                {"port": 1883, "protocol": "tcp", "state": "open", "service": "mqtt", "product": "Mosquitto", "version": "2.0.11"},
                {"port": 445, "protocol": "tcp", "state": "open", "service": "smb", "product": "Samba", "version": null}]}]}))
        .expect("report");
        let ip: IpAddr = "198.18.9.38".parse().expect("ip");
        let names = BTreeMap::from([(ip, "mqtt-weak")]);
        let rows = compare(&nmap::xml_ports(xml), &report, &names, None);
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].product, rows[0].version), (Some(true), Some(true)));
        assert_eq!((rows[1].named, rows[1].product, rows[1].version), (true, Some(true), Some(false)));
        assert_eq!((rows[2].ours_open, rows[2].named, rows[2].product), (false, false, None));
        let unclassified = Counts { named: (2, 3), product: (2, 2), version: (1, 2), version_guessed: (0, 0) };
        assert_eq!(Counts::of(&rows), unclassified, "without nmap's database every version counts");

        // With the database: Samba's 4.6.2 is a constant of its line, the script's 2.0.11 is not in it.
        let db = ServiceProbes::parse(
            "match netbios-ssn m|^\\0\\0\\0.\\xffSMBr|s p/Samba smbd/ v/4.6.2/ cpe:/a:samba:samba:4.6.2/\n\
             match netbios-ssn m|^x(.*)| p/Samba smbd/ i/workgroup: $1/\n",
        );
        let rows = compare(&nmap::xml_ports(xml), &report, &names, Some(&db));
        assert_eq!(rows[0].version_source, Some(VersionSource::Unknown));
        assert_eq!(rows[1].version_source, Some(VersionSource::Guess(vec![1])));
        assert!(rows[1].version_guessed() && !rows[0].version_guessed());
        assert_eq!(rows[2].version_source, None, "no version, nothing to classify");
        let c = Counts::of(&rows);
        assert_eq!(c, Counts { named: (2, 3), product: (2, 2), version: (1, 1), version_guessed: (0, 1) });
        assert_eq!(c.version_all(), (1, 2));
        let t = table(&rows);
        assert!(t.contains("version 1/1 (versions nmap read from the service)"), "{t}");
        assert!(t.contains("guess = nmap guess, not read from the service"), "{t}");
        assert!(t.contains("counting them, version 1/2"), "{t}");
        assert!(t.contains("mqtt-weak 445/tcp: nmap says \"4.6.2\" from line 1"), "{t}");
    }

    #[test]
    fn tcp_entries_drop_udp_and_keep_ranges() {
        assert_eq!(tcp_entries("21,22,8000-8010,T:9000,U:53,U:161\n"), "21,22,8000-8010,9000");
    }
}
