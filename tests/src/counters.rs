//! nftables counters that prove which packets reached a lab host from the scanner.
//!
//! Every lab host except the scanner gets, at `Lab::up`, a table `wijk_lab` in two families:
//!
//! - `inet`: an input chain (priority -300, before anything else could drop) with the named counters
//!   `from_scanner_v4` (`ip saddr` = the scanner's IPv4 address) and `from_scanner_v6` (`ip6 saddr` =
//!   the scanner's global and link-local IPv6 addresses);
//! - `arp`: an input chain with the named counter `arp_requests`: ARP requests whose target IP is the
//!   host's own IPv4 address or, on `outside`, also the dead address the consent excludes. ARP requests
//!   are broadcast, so `outside` sees every one the scanner sends and can count the requests for an
//!   address nobody owns.
//!
//! The chains only count; their policy is accept, so the lab behaves as if they were not there.
//! [`read`] parses `nft -j list ruleset` with serde_json.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::process::run_checked;

const TABLE: &str = "wijk_lab";

/// Packets one host received from the scanner, as counted by its nftables counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketCounts {
    /// IPv4 packets with the scanner's IPv4 source address.
    pub ipv4: u64,
    /// IPv6 packets with one of the scanner's IPv6 source addresses.
    pub ipv6: u64,
    /// ARP requests asking for this host's IPv4 address (on `outside`, also for the excluded dead one).
    pub arp_requests: u64,
}

impl PacketCounts {
    /// All three added up.
    pub fn total(&self) -> u64 {
        self.ipv4 + self.ipv6 + self.arp_requests
    }
}

/// The ruleset for one host.
pub(crate) fn ruleset(scanner: &[IpAddr], arp_targets: &[Ipv4Addr]) -> String {
    let v4: Vec<String> = scanner.iter().filter(|a| a.is_ipv4()).map(|a| a.to_string()).collect();
    let v6: Vec<String> = scanner.iter().filter(|a| a.is_ipv6()).map(|a| a.to_string()).collect();
    let targets: Vec<String> = arp_targets.iter().map(|a| a.to_string()).collect();
    let mut s = format!(
        "table inet {TABLE} {{\n\
         \tcounter from_scanner_v4 {{ }}\n\
         \tcounter from_scanner_v6 {{ }}\n\
         \tchain input {{\n\
         \t\ttype filter hook input priority -300; policy accept;\n"
    );
    if !v4.is_empty() {
        s += &format!("\t\tip saddr {{ {} }} counter name \"from_scanner_v4\"\n", v4.join(", "));
    }
    if !v6.is_empty() {
        s += &format!("\t\tip6 saddr {{ {} }} counter name \"from_scanner_v6\"\n", v6.join(", "));
    }
    s += &format!(
        "\t}}\n}}\n\
         table arp {TABLE} {{\n\
         \tcounter arp_requests {{ }}\n\
         \tchain input {{\n\
         \t\ttype filter hook input priority 0; policy accept;\n\
         \t\tarp operation request arp daddr ip {{ {} }} counter name \"arp_requests\"\n\
         \t}}\n}}\n",
        targets.join(", ")
    );
    s
}

/// Loads `rules` into namespace `ns` (`nft -f` from a file in the lab directory).
pub(crate) fn install(ip: &Path, ns: &str, rules: &str, file: &Path) -> Result<()> {
    std::fs::write(file, rules).with_context(|| format!("writing {}", file.display()))?;
    run_checked(Command::new(ip).args(["netns", "exec", ns, "nft", "-f"]).arg(file))
        .with_context(|| format!("loading nftables counters into {ns}:\n{rules}"))?;
    Ok(())
}

/// Reads the counters of namespace `ns`.
pub(crate) fn read(ip: &Path, ns: &str) -> Result<PacketCounts> {
    let out = run_checked(Command::new(ip).args(["netns", "exec", ns, "nft", "-j", "list", "ruleset"]))?;
    parse(&out).with_context(|| format!("parsing `nft -j list ruleset` of {ns}"))
}

fn parse(json: &str) -> Result<PacketCounts> {
    let v: Value = serde_json::from_str(json)?;
    let Some(items) = v.get("nftables").and_then(Value::as_array) else {
        bail!("no `nftables` array in {json}");
    };
    let mut found = [None; 3];
    for c in items.iter().filter_map(|i| i.get("counter")) {
        if c.get("table").and_then(Value::as_str) != Some(TABLE) {
            continue;
        }
        let slot = match c.get("name").and_then(Value::as_str) {
            Some("from_scanner_v4") => 0,
            Some("from_scanner_v6") => 1,
            Some("arp_requests") => 2,
            _ => continue,
        };
        found[slot] = c.get("packets").and_then(Value::as_u64);
    }
    match found {
        [Some(ipv4), Some(ipv6), Some(arp_requests)] => Ok(PacketCounts { ipv4, ipv6, arp_requests }),
        _ => bail!("counters missing from the ruleset (found {found:?}): {json}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_named_counters() {
        let json = r#"{"nftables":[{"metainfo":{"version":"1.0.6","json_schema_version":1}},
            {"table":{"family":"inet","name":"wijk_lab","handle":1}},
            {"counter":{"family":"inet","name":"from_scanner_v4","table":"wijk_lab","handle":1,"packets":7,"bytes":420}},
            {"counter":{"family":"inet","name":"from_scanner_v6","table":"wijk_lab","handle":2,"packets":0,"bytes":0}},
            {"counter":{"family":"arp","name":"arp_requests","table":"wijk_lab","handle":1,"packets":2,"bytes":56}},
            {"counter":{"family":"inet","name":"from_scanner_v4","table":"other","handle":1,"packets":99,"bytes":1}}]}"#;
        let c = parse(json).expect("parse");
        assert_eq!(c, PacketCounts { ipv4: 7, ipv6: 0, arp_requests: 2 });
        assert_eq!(c.total(), 9);
    }

    #[test]
    fn missing_counter_is_an_error() {
        assert!(parse(r#"{"nftables":[]}"#).is_err());
    }

    #[test]
    fn ruleset_names_every_address() {
        let r = ruleset(
            &["198.18.7.2".parse().expect("v4"), "2001:2:0:7::2".parse().expect("v6")],
            &["198.18.7.50".parse().expect("v4"), "198.18.7.51".parse().expect("v4")],
        );
        assert!(r.contains("ip saddr { 198.18.7.2 }"));
        assert!(r.contains("ip6 saddr { 2001:2:0:7::2 }"));
        assert!(r.contains("arp daddr ip { 198.18.7.50, 198.18.7.51 }"));
    }
}
