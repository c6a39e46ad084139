//! Port profiles: which TCP and UDP ports a scan looks at, and why.
//!
//! The lists are data files (`agent/data/ports/*.toml`) embedded at build time; every entry carries the
//! reason it is there. `quick` is about 100 TCP ports and the six essential UDP ports (DNS, NTP, SNMP,
//! NetBIOS, SSDP, mDNS); `standard` adds about 900 TCP ports and a few UDP ports that have a payload;
//! `full` is every TCP port plus the UDP ports of `standard`.
//!
//! Parts:
//! - [`catalog`]: the data files, parsed and checked once ([`PortInfo`] per port: service, reason in
//!   Dutch and English, smallest profile, printer and OT flags).
//! - [`spec`]: the `--ports` flag ([`parse_port_spec`]), checked against the consent with
//!   [`narrowest_profile`].
//! - [`udp_payloads`]: hand-built probe datagrams for the UDP ports and a sanity check of replies.
//!
//! Safety rules that live here: printer ports ([`is_printer_port`]) and building controls
//! ([`is_ot_port`]) are flagged so that the scanner sends them no payload (printers never, OT only
//! when the consent allows identification); a `--ports` list wider than the consented profile is
//! found by [`narrowest_profile`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod catalog;
pub mod spec;
pub mod udp_payloads;

pub use catalog::{CatalogError, PortInfo};
pub use spec::{parse_port_spec, PortSpecError};
pub use udp_payloads::{looks_like_reply, ot_identification_payload, udp_payload};

/// How wide a scan looks. Ordered: `Quick < Standard < Full`, so a consent's profile is an upper bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// About 100 TCP ports and the essential UDP ports.
    Quick,
    /// About 1000 TCP ports and the essential UDP ports.
    Standard,
    /// TCP 1-65535 and the essential UDP ports.
    Full,
}

impl Profile {
    /// Every profile, narrowest first.
    pub const ALL: [Profile; 3] = [Profile::Quick, Profile::Standard, Profile::Full];

    /// The lowercase name used in the consent, on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Quick => "quick",
            Profile::Standard => "standard",
            Profile::Full => "full",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A profile name that is not `quick`, `standard` or `full`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("onbekend profiel \"{name}\"; kies quick, standard of full / unknown profile \"{name}\"; choose quick, standard or full")]
pub struct ProfileParseError {
    /// What was given.
    pub name: String,
}

impl FromStr for Profile {
    type Err = ProfileParseError;

    /// Accepts `quick`, `standard` and `full`, ignoring surrounding spaces and ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| ProfileParseError { name: s.to_string() })
    }
}

/// Transport protocol of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// `"tcp"` or `"udp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of TCP and UDP ports, each list sorted and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortList {
    /// TCP ports, ascending, unique.
    pub tcp: Vec<u16>,
    /// UDP ports, ascending, unique.
    pub udp: Vec<u16>,
}

impl PortList {
    /// Builds a list, sorting and deduplicating both halves.
    pub fn new(mut tcp: Vec<u16>, mut udp: Vec<u16>) -> Self {
        tcp.sort_unstable();
        tcp.dedup();
        udp.sort_unstable();
        udp.dedup();
        PortList { tcp, udp }
    }

    /// Number of (protocol, port) pairs.
    pub fn len(&self) -> usize {
        self.tcp.len() + self.udp.len()
    }

    /// True when there is no port at all.
    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.udp.is_empty()
    }

    /// Whether `port` is in the list for `proto` (the lists must be sorted, as [`PortList::new`] makes them).
    pub fn contains(&self, port: u16, proto: Proto) -> bool {
        let list = match proto {
            Proto::Tcp => &self.tcp,
            Proto::Udp => &self.udp,
        };
        list.binary_search(&port).is_ok()
    }
}

/// The ports of a profile. `full` is TCP 1-65535 plus the UDP ports of `standard`.
pub fn profile_ports(profile: Profile) -> PortList {
    catalog::get().ports(profile).clone()
}

/// The smallest profile that contains every port of `list`: what a `--ports` list needs the consent to
/// allow. A port that no profile names (any UDP port outside the lists, or port 0) counts as `Full`.
/// An empty list needs only `Quick`.
pub fn narrowest_profile(list: &PortList) -> Profile {
    let cat = catalog::get();
    let tcp = list.tcp.iter().map(|&p| (p, Proto::Tcp));
    let udp = list.udp.iter().map(|&p| (p, Proto::Udp));
    tcp.chain(udp)
        .map(|(port, proto)| cat.profile_of(port, proto).unwrap_or(Profile::Full))
        .max()
        .unwrap_or(Profile::Quick)
}

/// What the catalog knows about a port, if it names it.
pub fn port_info(port: u16, proto: Proto) -> Option<&'static PortInfo> {
    catalog::get().info(port, proto)
}

/// Every port the catalog names, TCP first, each protocol in ascending port order.
pub fn entries() -> impl Iterator<Item = &'static PortInfo> {
    catalog::get().entries()
}

/// The usual service on a port (`"ssh"`, `"jetdirect"`, …), if the catalog names the port.
pub fn service_name(port: u16, proto: Proto) -> Option<&'static str> {
    port_info(port, proto).map(|i| i.service.as_str())
}

/// Why the port is scanned, in Dutch, if the catalog names the port.
pub fn reason(port: u16, proto: Proto) -> Option<&'static str> {
    port_info(port, proto).map(|i| i.why.as_str())
}

/// Why the port is scanned, in English, if the catalog names the port and has an English reason.
pub fn reason_en(port: u16, proto: Proto) -> Option<&'static str> {
    port_info(port, proto).and_then(|i| i.why_en.as_deref())
}

/// Printer ports (9100-9107, 515, 631, 9999): open-port checks only, never a payload, whatever the
/// protocol. Fixed in code rather than read from data so that no data edit can drop it; the catalog
/// refuses data whose `printer` flags disagree with it.
pub fn is_printer_port(port: u16) -> bool {
    matches!(port, 515 | 631 | 9100..=9107 | 9999)
}

/// Building-control / OT ports (Modbus, S7, BACnet, KNX, serial device servers, …): identification
/// requests only with `ot_identification = true` in the consent.
pub fn is_ot_port(port: u16, proto: Proto) -> bool {
    port_info(port, proto).is_some_and(|i| i.ot)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
