//! Reading what the agent wrote: `report.json` (schema `wijkagent.report/1`) and the audit log.
//!
//! The structs hold only the fields the tests assert on and ignore the rest, so the report may grow
//! without breaking them; a field the contract requires but the report lacks is a parse error that
//! names the file.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::Value;

use crate::addressing::{Port, Proto};

/// The schema id every report carries.
pub const SCHEMA: &str = "wijkagent.report/1";

/// `report.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Report {
    /// Must be [`SCHEMA`].
    pub schema: String,
    /// False for a report of an interrupted scan.
    pub complete: bool,
    /// Hosts found alive.
    pub hosts: Vec<Host>,
    /// Weaknesses found.
    #[serde(default)]
    pub findings: Vec<Value>,
    /// Counters and timings.
    #[serde(default)]
    pub stats: Value,
}

/// One host of the report.
#[derive(Debug, Clone, Deserialize)]
pub struct Host {
    /// Its address.
    pub address: IpAddr,
    /// Its MAC address when it is on the scanner's link.
    #[serde(default)]
    pub mac: Option<String>,
    /// How it was found (`arp`, `icmp-echo`, `tcp-syn:443`, …).
    #[serde(default)]
    pub discovered_by: Vec<String>,
    /// Its open ports.
    #[serde(default)]
    pub services: Vec<Service>,
    /// Tally of its TCP ports by state (`open`, `closed`, `filtered`, `unscanned`, …).
    #[serde(default)]
    pub tcp_ports: Value,
    /// Present when it answers on (nearly) every TCP port: `open`, `probed`, `unscanned`.
    #[serde(default)]
    pub middlebox: Option<Value>,
    /// Duplicate, late and unreachable answers to the SYN scan, when there were any.
    #[serde(default)]
    pub tcp_replies: Option<Value>,
}

impl Host {
    /// A count in its TCP tally (0 when absent).
    pub fn tcp_count(&self, state: &str) -> u64 {
        self.tcp_ports.get(state).and_then(Value::as_u64).unwrap_or(0)
    }

    /// A count in its `tcp_replies` (0 when absent).
    pub fn replies(&self, kind: &str) -> u64 {
        self.tcp_replies.as_ref().and_then(|r| r.get(kind)).and_then(Value::as_u64).unwrap_or(0)
    }
}

/// One service of a host.
#[derive(Debug, Clone, Deserialize)]
pub struct Service {
    /// Port number.
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// `open` for every listed service.
    pub state: String,
    /// Recognised service (`ssh`, …), if any.
    #[serde(default)]
    pub service: Option<String>,
    /// Product (`vsftpd`, `nginx`, …), when identified.
    #[serde(default)]
    pub product: Option<String>,
    /// Version as the product states it, when identified.
    #[serde(default)]
    pub version: Option<String>,
    /// TLS analysis, for TLS services.
    #[serde(default)]
    pub tls: Option<Value>,
    /// Every other field (`note`, `details`, … as the report grows).
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

impl Service {
    /// Everything the report says about this service besides port, protocol, state, service,
    /// product, version and TLS, as one JSON text: where a note such as `timeout` would show.
    pub fn other_text(&self) -> String {
        Value::Object(self.other.clone()).to_string()
    }
}

impl Report {
    /// Reads and parses `dir/report.json`.
    pub fn read(dir: &Path) -> Result<Report> {
        let path = dir.join("report.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {} against the report contract", path.display()))
    }

    /// The host with address `ip`.
    pub fn host(&self, ip: IpAddr) -> Option<&Host> {
        self.hosts.iter().find(|h| h.address == ip)
    }

    /// Every reported address.
    pub fn addresses(&self) -> BTreeSet<IpAddr> {
        self.hosts.iter().map(|h| h.address).collect()
    }

    /// Open ports per reported address.
    pub fn open_ports(&self) -> BTreeMap<IpAddr, BTreeSet<Port>> {
        self.hosts.iter().map(|h| (h.address, h.open_ports())).collect()
    }

    /// The service on `ip` at `port`, if reported.
    pub fn service(&self, ip: IpAddr, port: Port) -> Option<&Service> {
        self.host(ip)?.services.iter().find(|s| s.port == port.number && Proto::parse(&s.protocol) == Some(port.proto))
    }

    /// The weakness ids of the findings for `ip` at `port`.
    pub fn finding_ids(&self, ip: IpAddr, port: Port) -> BTreeSet<String> {
        self.findings
            .iter()
            .filter(|f| f.get("host").and_then(Value::as_str).and_then(|h| h.parse::<IpAddr>().ok()) == Some(ip))
            .filter(|f| f.get("port").and_then(Value::as_u64) == Some(u64::from(port.number)))
            .filter(|f| f.get("protocol").and_then(Value::as_str).and_then(Proto::parse) == Some(port.proto))
            .filter_map(|f| f.get("id").and_then(Value::as_str).map(str::to_string))
            .collect()
    }

    /// A number from `stats`, if present.
    pub fn stat(&self, key: &str) -> Option<f64> {
        self.stats.get(key).and_then(Value::as_f64)
    }
}

impl Host {
    /// The services in state `open`, as ports (a service with an unknown protocol is left out).
    pub fn open_ports(&self) -> BTreeSet<Port> {
        self.services
            .iter()
            .filter(|s| s.state == "open")
            .filter_map(|s| Proto::parse(&s.protocol).map(|proto| Port { proto, number: s.port }))
            .collect()
    }
}

/// Every line of the audit log at `path`, parsed as JSON (a line that is not JSON is an error).
pub fn audit_lines(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading audit log {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("audit log line {} is not JSON: {l}", i + 1)))
        .collect()
}

/// Whether an audit record is the event `name`: a key `event` (or `kind`/`type`) with that value,
/// at the top level or in a nested object.
pub fn is_event(record: &Value, name: &str) -> bool {
    match record {
        Value::Object(map) => {
            ["event", "kind", "type"].iter().any(|k| map.get(*k).and_then(Value::as_str) == Some(name))
                || map.values().any(|v| v.is_object() && is_event(v, name))
        }
        _ => false,
    }
}

/// How many records of event `name` the audit log at `path` holds (0 if it does not exist).
pub fn count_events(path: &Path, name: &str) -> Result<usize> {
    if !path.exists() {
        return Ok(0);
    }
    Ok(audit_lines(path)?.iter().filter(|r| is_event(r, name)).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_example() {
        let json = r#"{"schema":"wijkagent.report/1","complete":true,
          "hosts":[{"address":"198.18.7.3","mac":"02:00:c6:12:07:03","discovered_by":["arp"],
                    "services":[{"port":22,"protocol":"tcp","state":"open","service":"ssh","product":null,"version":null,"tls":null},
                                {"port":161,"protocol":"udp","state":"open","service":null,"product":null,"version":null,"tls":null}]},
                   {"address":"2001:2:0:7::11","mac":null,"discovered_by":[],"services":[]}],
          "findings":[],"stats":{"targets":3,"hosts_up":2,"probes_sent":10,"duration_s":1.5,"achieved_pps":6.6}}"#;
        let r: Report = serde_json::from_str(json).expect("parse");
        let ip: IpAddr = "198.18.7.3".parse().expect("ip");
        assert_eq!(r.host(ip).map(|h| h.open_ports()), Some(BTreeSet::from([Port::tcp(22), Port::udp(161)])));
        assert_eq!(r.addresses().len(), 2);
        assert_eq!(r.stat("hosts_up"), Some(2.0));
        assert!(r.finding_ids(ip, Port::tcp(22)).is_empty());
    }

    #[test]
    fn finds_findings_and_notes_per_service() {
        let json = r#"{"schema":"wijkagent.report/1","complete":true,
          "hosts":[{"address":"198.18.7.30","services":[{"port":21,"protocol":"tcp","state":"open","service":"ftp",
                    "product":"vsftpd","version":"3.0.3","tls":null,"note":"timeout"}]}],
          "findings":[{"id":"ftp-anonymous-login","severity":"medium","host":"198.18.7.30","port":21,"protocol":"tcp"},
                      {"id":"ftp-cleartext","severity":"medium","host":"198.18.7.30","port":21,"protocol":"tcp"},
                      {"id":"telnet-open","severity":"high","host":"198.18.7.30","port":23,"protocol":"tcp"}]}"#;
        let r: Report = serde_json::from_str(json).expect("parse");
        let ip: IpAddr = "198.18.7.30".parse().expect("ip");
        let ids: Vec<String> = r.finding_ids(ip, Port::tcp(21)).into_iter().collect();
        assert_eq!(ids, ["ftp-anonymous-login", "ftp-cleartext"]);
        let s = r.service(ip, Port::tcp(21)).expect("service");
        assert_eq!((s.product.as_deref(), s.version.as_deref()), (Some("vsftpd"), Some("3.0.3")));
        assert!(s.other_text().contains("timeout"));
        assert!(r.service(ip, Port::udp(21)).is_none());
    }

    #[test]
    fn finds_events_flat_or_nested() {
        let flat: Value = serde_json::json!({"prev":"00","event":"scan_refused","reason":"x"});
        let nested: Value = serde_json::json!({"prev":"00","record":{"event":"scan_refused"}});
        let other: Value = serde_json::json!({"prev":"00","event":"scan_started"});
        assert!(is_event(&flat, "scan_refused"));
        assert!(is_event(&nested, "scan_refused"));
        assert!(!is_event(&other, "scan_refused"));
    }
}
