//! The lab's addressing plan: which host gets which address, MAC address and open ports.
//!
//! Pure data, no I/O: tests that never build a lab (consent refusals, audit) still point their scope
//! at a lab range through [`Addressing`], and the lab itself is built from the same table, so the
//! expectations in the tests and the daemons the lab starts cannot drift apart.
//!
//! There are three plans ([`LabKind`]): the basic lab (one host per daemon, for discovery and port
//! scans), the services lab (weak and hardened twins of each service plus hostile fakes, for
//! service identification; see `crate::services`) and the packets lab (packet-level hostility; see
//! `crate::packets`). All share the scanner, the `outside` host and the dead addresses, so the
//! safety checks are the same in all.
//!
//! Every address lies in a benchmarking range that no real network uses: 198.18.0.0/15 (RFC 2544)
//! for IPv4 and 2001:2::/48 (RFC 5180) for IPv6. A lab uses `198.18.<s>.0/24` and
//! `2001:2:0:<s>::/64`, where `<s>` is chosen per lab. A host's IPv6 interface id spells its IPv4
//! last octet (`.11` ↔ `::11`), and its MAC is `02:00:c6:12:<s>:<octet>` (locally administered).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Transport protocol of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// `"tcp"` or `"udp"`, as in `report.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    /// Parses `"tcp"` / `"udp"` (any case).
    pub fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            _ => None,
        }
    }
}

/// A transport port: protocol and number. Shown as `22/tcp` (also in `{:?}`, for readable diffs).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    /// TCP or UDP.
    pub proto: Proto,
    /// Port number.
    pub number: u16,
}

impl Port {
    /// A TCP port.
    pub const fn tcp(number: u16) -> Port {
        Port { proto: Proto::Tcp, number }
    }
    /// A UDP port.
    pub const fn udp(number: u16) -> Port {
        Port { proto: Proto::Udp, number }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.proto.as_str())
    }
}

impl fmt::Debug for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Host names of the lab (also the last part of their namespace names).
pub mod host {
    /// Where the agent runs.
    pub const SCANNER: &str = "scanner";
    /// OpenSSH on TCP 22.
    pub const SSH: &str = "ssh";
    /// nginx on TCP 80, IPv4 and IPv6; its IPv6 address is the one the lab consent names.
    pub const WEB: &str = "web";
    /// vsftpd on TCP 21.
    pub const FTP: &str = "ftp";
    /// Redis on TCP 6379.
    pub const REDIS: &str = "redis";
    /// net-snmp on UDP 161.
    pub const SNMP: &str = "snmp";
    /// dnsmasq on UDP and TCP 53.
    pub const DNS: &str = "dns";
    /// Alive, nothing listening.
    pub const EMPTY: &str = "empty";
    /// In the subnet, excluded by the consent; carries the packet counters that must stay at zero.
    pub const OUTSIDE: &str = "outside";

    // The services lab (see `crate::services`): a weak and a hardened twin per service, and fakes.
    /// vsftpd, anonymous login allowed, no TLS.
    pub const FTP_WEAK: &str = "ftp-weak";
    /// vsftpd, no anonymous login, TLS required before `USER`.
    pub const FTP_SAFE: &str = "ftp-safe";
    /// Samba with SMB1, signing off and guest access.
    pub const SMB_WEAK: &str = "smb-weak";
    /// Samba, SMB 2.1 and up, signing mandatory, no guest.
    pub const SMB_SAFE: &str = "smb-safe";
    /// Redis without authentication.
    pub const REDIS_WEAK: &str = "redis-weak";
    /// Redis with `requirepass`.
    pub const REDIS_SAFE: &str = "redis-safe";
    /// net-snmp with community `public`.
    pub const SNMP_WEAK: &str = "snmp-weak";
    /// net-snmp with only a random community.
    pub const SNMP_SAFE: &str = "snmp-safe";
    /// Mosquitto with anonymous clients allowed.
    pub const MQTT_WEAK: &str = "mqtt-weak";
    /// Mosquitto with a password file and no anonymous clients.
    pub const MQTT_SAFE: &str = "mqtt-safe";
    /// nginx: TLS 1.0-1.2 with NULL and anonymous suites, an expired self-signed RSA-1024/SHA-1
    /// certificate, directory listings.
    pub const TLS_WEAK: &str = "tls-weak";
    /// nginx: TLS 1.2-1.3, RSA-2048/SHA-256 certificate from the lab CA, no listings.
    pub const TLS_SAFE: &str = "tls-safe";
    /// busybox telnetd (login disabled).
    pub const TELNET: &str = "telnet";
    /// Hostile fake: accepts and never speaks.
    pub const TARPIT: &str = "tarpit";
    /// Hostile fake: one byte per second, never a complete line.
    pub const DRIP: &str = "drip";
    /// Hostile fake: megabytes of garbage without a line end.
    pub const FLOOD: &str = "flood";

    // The packets lab (see `crate::packets`): one host per packet-level hostility.
    /// Redis whose every SYN-ACK and RST is sent two or three times (`rawfake dup`).
    pub const SYNACK_DUP: &str = "synack-dup";
    /// Every SYN answered 3-5 s late (`rawfake late`), the kernel kept quiet.
    pub const SYNACK_LATE: &str = "synack-late";
    /// Every SYN answered with a storm of ICMP unreachables, forged ones among them (`rawfake storm`).
    pub const ICMP_STORM: &str = "icmp-storm";
    /// Every TCP port redirected (nftables) to one listener: SYN-ACK on every port.
    pub const MIDDLEBOX: &str = "middlebox";
    // The hostile lab (see `crate::hostile_lab`): one host per way a server misbehaves.
    /// Resets every connection right after the accept.
    pub const RESET: &str = "reset";
    /// Answers a ClientHello with random bytes.
    pub const TLS_GARBAGE: &str = "tls-garbage";
    /// A real TLS server presenting a chain of 100 certificates.
    pub const TLS_CHAIN: &str = "tls-chain";
    /// A real TLS server whose certificate has thousands of extensions.
    pub const TLS_EXT_MANY: &str = "tls-ext-many";
    /// A real TLS server whose certificate has an extension of deeply nested ASN.1.
    pub const TLS_EXT_DEEP: &str = "tls-ext-deep";
    /// Invalid UTF-8 in every text: plain-text protocols, and a real TLS server's certificate.
    pub const UTF8: &str = "utf8";
}

/// Which plan a lab follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabKind {
    /// One host per daemon: ssh, web, ftp, redis, snmp, dns, empty.
    Basic,
    /// Weak and hardened twins of each service, telnet, and the hostile fakes.
    Services,
    /// Packet-level hostility: duplicated and late SYN-ACKs, ICMP storms, a middlebox.
    Packets,
    /// Hostile TCP and TLS servers: resets, TLS garbage, hostile certificates, invalid UTF-8.
    Hostile,
}

/// The ports every hostile fake listens on: one per kind of probe that reads first (FTP, SSH,
/// Telnet, SMTP), writes first (HTTP, SMB, MQTT, Redis) or speaks TLS (HTTPS).
pub const HOSTILE_PORTS: &[Port] = &[
    Port::tcp(21),
    Port::tcp(22),
    Port::tcp(23),
    Port::tcp(25),
    Port::tcp(80),
    Port::tcp(443),
    Port::tcp(445),
    Port::tcp(1883),
    Port::tcp(6379),
];

/// The ports of the `tls-garbage` host: HTTPS and IMAPS (two probes that speak TLS first).
pub const GARBAGE_PORTS: &[Port] = &[Port::tcp(443), Port::tcp(993)];

/// The plain-text ports of the `utf8` host's fake (FTP, SSH, Telnet, SMTP, HTTP, MQTT, Redis).
pub const UTF8_PORTS: &[Port] =
    &[Port::tcp(21), Port::tcp(22), Port::tcp(23), Port::tcp(25), Port::tcp(80), Port::tcp(1883), Port::tcp(6379)];

/// Every port of the `utf8` host: [`UTF8_PORTS`] and a real TLS server on 443.
const UTF8_HOST_PORTS: &[Port] = &[
    Port::tcp(21),
    Port::tcp(22),
    Port::tcp(23),
    Port::tcp(25),
    Port::tcp(80),
    Port::tcp(443),
    Port::tcp(1883),
    Port::tcp(6379),
];

/// One row of the plan.
#[derive(Debug, Clone, Copy)]
struct Row {
    name: &'static str,
    octet: u8,
    ipv6: bool,
    open: &'static [Port],
}

/// The hosts of the basic lab, in start order.
const ROWS: &[Row] = &[
    Row { name: host::SCANNER, octet: 2, ipv6: true, open: &[] },
    Row { name: host::SSH, octet: 10, ipv6: false, open: &[Port::tcp(22)] },
    Row { name: host::WEB, octet: 11, ipv6: true, open: &[Port::tcp(80)] },
    Row { name: host::FTP, octet: 12, ipv6: false, open: &[Port::tcp(21)] },
    Row { name: host::REDIS, octet: 13, ipv6: false, open: &[Port::tcp(6379)] },
    Row { name: host::SNMP, octet: 14, ipv6: false, open: &[Port::udp(161)] },
    Row { name: host::DNS, octet: 15, ipv6: false, open: &[Port::tcp(53), Port::udp(53)] },
    Row { name: host::EMPTY, octet: 16, ipv6: false, open: &[] },
    Row { name: host::OUTSIDE, octet: 50, ipv6: true, open: &[] },
];

/// The hosts of the services lab, in start order (octets apart from the basic lab's, so a mix-up
/// in a test shows as a missing host rather than a wrong one).
const SERVICE_ROWS: &[Row] = &[
    Row { name: host::SCANNER, octet: 2, ipv6: true, open: &[] },
    Row { name: host::FTP_WEAK, octet: 30, ipv6: false, open: &[Port::tcp(21)] },
    Row { name: host::FTP_SAFE, octet: 31, ipv6: false, open: &[Port::tcp(21)] },
    Row { name: host::SMB_WEAK, octet: 32, ipv6: false, open: &[Port::tcp(445)] },
    Row { name: host::SMB_SAFE, octet: 33, ipv6: false, open: &[Port::tcp(445)] },
    Row { name: host::REDIS_WEAK, octet: 34, ipv6: false, open: &[Port::tcp(6379)] },
    Row { name: host::REDIS_SAFE, octet: 35, ipv6: false, open: &[Port::tcp(6379)] },
    Row { name: host::SNMP_WEAK, octet: 36, ipv6: false, open: &[Port::udp(161)] },
    Row { name: host::SNMP_SAFE, octet: 37, ipv6: false, open: &[Port::udp(161)] },
    Row { name: host::MQTT_WEAK, octet: 38, ipv6: false, open: &[Port::tcp(1883)] },
    Row { name: host::MQTT_SAFE, octet: 39, ipv6: false, open: &[Port::tcp(1883)] },
    Row { name: host::TLS_WEAK, octet: 40, ipv6: false, open: &[Port::tcp(80), Port::tcp(443)] },
    Row { name: host::TLS_SAFE, octet: 41, ipv6: false, open: &[Port::tcp(80), Port::tcp(443)] },
    Row { name: host::TELNET, octet: 42, ipv6: false, open: &[Port::tcp(23)] },
    Row { name: host::TARPIT, octet: 60, ipv6: false, open: HOSTILE_PORTS },
    Row { name: host::DRIP, octet: 61, ipv6: false, open: HOSTILE_PORTS },
    Row { name: host::FLOOD, octet: 62, ipv6: false, open: HOSTILE_PORTS },
    Row { name: host::OUTSIDE, octet: 50, ipv6: true, open: &[] },
];

/// The hosts of the packets lab (see `crate::packets`); `open` lists what really listens there.
const PACKET_ROWS: &[Row] = &[
    Row { name: host::SCANNER, octet: 2, ipv6: true, open: &[] },
    Row { name: host::SYNACK_DUP, octet: 70, ipv6: false, open: &[Port::tcp(6379)] },
    Row { name: host::SYNACK_LATE, octet: 71, ipv6: false, open: &[] },
    Row { name: host::ICMP_STORM, octet: 72, ipv6: false, open: &[] },
    Row { name: host::MIDDLEBOX, octet: 73, ipv6: false, open: &[Port::tcp(6379)] },
    Row { name: host::OUTSIDE, octet: 50, ipv6: true, open: &[] },
];

/// The hosts of the hostile lab, in start order (octets 70 and up, apart from the other plans').
const HOSTILE_ROWS: &[Row] = &[
    Row { name: host::SCANNER, octet: 2, ipv6: true, open: &[] },
    Row { name: host::RESET, octet: 70, ipv6: false, open: HOSTILE_PORTS },
    Row { name: host::TLS_GARBAGE, octet: 71, ipv6: false, open: GARBAGE_PORTS },
    Row { name: host::TLS_CHAIN, octet: 72, ipv6: false, open: &[Port::tcp(443)] },
    Row { name: host::TLS_EXT_MANY, octet: 73, ipv6: false, open: &[Port::tcp(443)] },
    Row { name: host::TLS_EXT_DEEP, octet: 74, ipv6: false, open: &[Port::tcp(443)] },
    Row { name: host::UTF8, octet: 75, ipv6: false, open: UTF8_HOST_PORTS },
    Row { name: host::OUTSIDE, octet: 50, ipv6: true, open: &[] },
];

/// Addresses in the consent's scope that nobody owns.
const DEAD_IN_SCOPE: &[u8] = &[20, 21];
/// An address nobody owns that the consent excludes: not even an ARP request may ask for it.
const DEAD_EXCLUDED: u8 = 51;

/// One host of a lab with its concrete addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabHost {
    /// Host name (see [`host`]).
    pub name: &'static str,
    /// IPv4 address in `198.18.<s>.0/24`.
    pub ipv4: Ipv4Addr,
    /// IPv6 address in `2001:2:0:<s>::/64`, for the hosts that have one.
    pub ipv6: Option<Ipv6Addr>,
    /// MAC address of its lab interface, `02:00:c6:12:<s>:<octet>`.
    pub mac: String,
    /// Ports its daemon listens on (from every address it has).
    pub open: &'static [Port],
}

impl LabHost {
    /// Its addresses, IPv4 first.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut v = vec![IpAddr::V4(self.ipv4)];
        v.extend(self.ipv6.map(IpAddr::V6));
        v
    }
}

/// The addressing plan of one lab: `198.18.<s>.0/24` and `2001:2:0:<s>::/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addressing {
    subnet: u8,
    kind: LabKind,
}

impl Addressing {
    /// The basic plan for third octet `subnet` (clamped into 1..=254).
    pub fn new(subnet: u8) -> Addressing {
        Addressing::of(LabKind::Basic, subnet)
    }

    /// The plan of kind `kind` for third octet `subnet` (clamped into 1..=254).
    pub fn of(kind: LabKind, subnet: u8) -> Addressing {
        Addressing { subnet: subnet.clamp(1, 254), kind }
    }

    /// Which plan this is.
    pub fn kind(&self) -> LabKind {
        self.kind
    }

    fn rows(&self) -> &'static [Row] {
        match self.kind {
            LabKind::Basic => ROWS,
            LabKind::Services => SERVICE_ROWS,
            LabKind::Packets => PACKET_ROWS,
            LabKind::Hostile => HOSTILE_ROWS,
        }
    }

    /// The third IPv4 octet (also the fourth IPv6 group).
    pub fn subnet(&self) -> u8 {
        self.subnet
    }

    /// `198.18.<s>.0/24`.
    pub fn ipv4_net(&self) -> String {
        format!("{}/24", self.ipv4(0))
    }

    /// `2001:2:0:<s>::/64`.
    pub fn ipv6_net(&self) -> String {
        format!("{}/64", Ipv6Addr::new(0x2001, 2, 0, u16::from(self.subnet), 0, 0, 0, 0))
    }

    /// `198.18.<s>.<octet>`.
    pub fn ipv4(&self, octet: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.subnet, octet)
    }

    /// `2001:2:0:<s>::<octet>`, the octet's decimal digits read as hex (`.11` → `::11`).
    pub fn ipv6(&self, octet: u8) -> Ipv6Addr {
        let id = u16::from_str_radix(&octet.to_string(), 16).unwrap_or(u16::from(octet));
        Ipv6Addr::new(0x2001, 2, 0, u16::from(self.subnet), 0, 0, 0, id)
    }

    /// `02:00:c6:12:<s>:<octet>` in lower-case hex.
    pub fn mac(&self, octet: u8) -> String {
        format!("02:00:c6:12:{:02x}:{:02x}", self.subnet, octet)
    }

    /// Every host, in start order (the scanner first).
    pub fn hosts(&self) -> Vec<LabHost> {
        self.rows().iter().map(|r| self.row(r)).collect()
    }

    /// The host called `name`, if the plan has it.
    pub fn find(&self, name: &str) -> Option<LabHost> {
        self.rows().iter().find(|r| r.name == name).map(|r| self.row(r))
    }

    /// The host called `name`; panics on a name that is not in the plan (a bug in the test).
    pub fn host(&self, name: &str) -> LabHost {
        match self.rows().iter().find(|r| r.name == name) {
            Some(r) => self.row(r),
            None => panic!("wijk-lab: no host {name:?} in the {:?} lab plan", self.kind),
        }
    }

    /// The hosts the consent allows and that are alive (every host but the scanner and `outside`).
    pub fn live_targets(&self) -> Vec<LabHost> {
        self.hosts().into_iter().filter(|h| h.name != host::SCANNER && h.name != host::OUTSIDE).collect()
    }

    /// Addresses inside the scope that nobody owns.
    pub fn dead_in_scope(&self) -> Vec<Ipv4Addr> {
        DEAD_IN_SCOPE.iter().map(|&o| self.ipv4(o)).collect()
    }

    /// The dead address the consent excludes.
    pub fn dead_excluded(&self) -> Ipv4Addr {
        self.ipv4(DEAD_EXCLUDED)
    }

    /// Every address nobody owns: in scope and excluded.
    pub fn dead_addresses(&self) -> Vec<Ipv4Addr> {
        let mut v = self.dead_in_scope();
        v.push(self.dead_excluded());
        v
    }

    /// What the lab consent excludes: the `outside` host and the excluded dead address.
    pub fn excluded(&self) -> Vec<Ipv4Addr> {
        vec![self.host(host::OUTSIDE).ipv4, self.dead_excluded()]
    }

    fn row(&self, r: &Row) -> LabHost {
        LabHost {
            name: r.name,
            ipv4: self.ipv4(r.octet),
            ipv6: r.ipv6.then(|| self.ipv6(r.octet)),
            mac: self.mac(r.octet),
            open: r.open,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_uses_benchmark_ranges_only() {
        let a = Addressing::new(7);
        for h in a.hosts() {
            assert_eq!(&h.ipv4.octets()[..3], &[198, 18, 7], "{}", h.name);
            if let Some(v6) = h.ipv6 {
                assert_eq!(&v6.segments()[..4], &[0x2001, 2, 0, 7], "{}", h.name);
            }
        }
        assert_eq!(a.ipv4_net(), "198.18.7.0/24");
        assert_eq!(a.ipv6_net(), "2001:2:0:7::/64");
        assert_eq!(a.host(host::WEB).ipv6.map(|v| v.to_string()).as_deref(), Some("2001:2:0:7::11"));
        assert_eq!(a.host(host::SSH).mac, "02:00:c6:12:07:0a");
    }

    #[test]
    fn dead_and_excluded_addresses_belong_to_nobody() {
        for a in [
            Addressing::new(200),
            Addressing::of(LabKind::Services, 200),
            Addressing::of(LabKind::Packets, 200),
            Addressing::of(LabKind::Hostile, 200),
        ] {
            check_dead_and_excluded(a);
        }
    }

    #[test]
    fn services_plan_has_unique_short_names_and_octets() {
        for kind in [LabKind::Services, LabKind::Packets] {
            check_unique_short_names(Addressing::of(kind, 7));
        }
        let a = Addressing::of(LabKind::Services, 7);
        assert!(a.find(host::WEB).is_none());
        assert_eq!(a.host(host::TLS_WEAK).open, &[Port::tcp(80), Port::tcp(443)]);
        assert_eq!(Addressing::of(LabKind::Packets, 7).live_targets().len(), 4);
    }

    fn check_unique_short_names(a: Addressing) {
        let hosts = a.hosts();
        let mut octets: Vec<u8> = hosts.iter().map(|h| h.ipv4.octets()[3]).collect();
        let mut names: Vec<&str> = hosts.iter().map(|h| h.name).collect();
        octets.sort_unstable();
        octets.dedup();
        names.sort_unstable();
        names.dedup();
        assert_eq!((octets.len(), names.len()), (hosts.len(), hosts.len()));
        for h in &hosts {
            // `p-<name>` is an interface name: at most 15 bytes.
            assert!(h.name.len() <= 13, "{} is too long for an interface name", h.name);
            assert_eq!(&h.ipv4.octets()[..3], &[198, 18, 7]);
        }
    }

    #[test]
    fn hostile_plan_has_unique_short_names_and_octets_and_every_utf8_port() {
        let a = Addressing::of(LabKind::Hostile, 9);
        let hosts = a.hosts();
        let mut octets: Vec<u8> = hosts.iter().map(|h| h.ipv4.octets()[3]).collect();
        octets.sort_unstable();
        octets.dedup();
        assert_eq!(octets.len(), hosts.len());
        assert!(hosts.iter().all(|h| h.name.len() <= 13), "interface names are at most 15 bytes");
        let utf8 = a.host(host::UTF8).open;
        assert!(UTF8_PORTS.iter().all(|p| utf8.contains(p)) && utf8.contains(&Port::tcp(443)));
        assert_eq!(utf8.len(), UTF8_PORTS.len() + 1);
        assert!(a.find(host::TARPIT).is_none());
    }

    fn check_dead_and_excluded(a: Addressing) {
        let owned: Vec<Ipv4Addr> = a.hosts().iter().map(|h| h.ipv4).collect();
        for d in a.dead_addresses() {
            assert!(!owned.contains(&d), "{d} is owned by a host");
        }
        assert!(a.excluded().contains(&a.host(host::OUTSIDE).ipv4));
        assert!(!a.live_targets().iter().any(|h| h.name == host::OUTSIDE || h.name == host::SCANNER));
    }
}
