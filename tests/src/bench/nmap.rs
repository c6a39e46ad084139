//! Reading nmap's grepable output (`-oG -`) into open ports per host.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Open `(port, proto)` per host from `nmap -oG -` output.
pub fn open_ports(grepable: &str) -> BTreeMap<IpAddr, BTreeSet<(u16, String)>> {
    let mut out = BTreeMap::new();
    for line in grepable.lines().filter(|l| l.starts_with("Host: ") && l.contains("Ports: ")) {
        let Some(addr) = line.split_whitespace().nth(1).and_then(|a| a.parse::<IpAddr>().ok()) else { continue };
        let Some((_, ports)) = line.split_once("Ports: ") else { continue };
        let ports = ports.split('\t').next().unwrap_or("");
        let set: &mut BTreeSet<(u16, String)> = out.entry(addr).or_default();
        for entry in ports.split(", ") {
            let f: Vec<&str> = entry.split('/').collect();
            if f.len() > 2 && f[1] == "open" {
                if let Ok(p) = f[0].trim().parse() {
                    set.insert((p, f[2].to_string()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grepable_lines_become_open_ports_per_host() {
        let g = "# Nmap 7.93 scan\nHost: 198.18.1.10 ()\tStatus: Up\nHost: 198.18.1.10 ()\tPorts: 22/open/tcp//ssh///, 80/closed/tcp//http///\tIgnored State: closed (65533)\nHost: 198.18.1.16 ()\tPorts: \n";
        let m = open_ports(g);
        let ip: IpAddr = "198.18.1.10".parse().expect("ip");
        assert_eq!(m[&ip], BTreeSet::from([(22, "tcp".to_string())]));
        assert_eq!(m.len(), 2);
        assert!(m[&"198.18.1.16".parse::<IpAddr>().expect("ip")].is_empty());
    }
}
