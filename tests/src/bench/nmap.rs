//! Reading nmap's output: grepable (`-oG -`) into open ports per host, and XML (`-oX -`) into
//! the services `-sV` identified. The XML reader is a small hand parser for the few elements nmap
//! writes (`host`, `address`, `port`, `state`, `service`), not a general XML parser.

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

/// One port of `nmap -oX -` output, with what `-sV` said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlPort {
    /// The host's address.
    pub addr: IpAddr,
    /// Port number.
    pub port: u16,
    /// `tcp` or `udp`.
    pub proto: String,
    /// `open`, `closed`, `filtered`, …
    pub state: String,
    /// Service name (`ftp`, `http`, `microsoft-ds`, …).
    pub name: Option<String>,
    /// Product (`vsftpd`, `nginx`, …).
    pub product: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// `ssl` when nmap spoke TLS first.
    pub tunnel: Option<String>,
}

/// Every port element of `nmap -oX -` output, host by host.
pub fn xml_ports(xml: &str) -> Vec<XmlPort> {
    let mut out = Vec::new();
    for host in xml.split("<host ").skip(1) {
        let host = host.split("</host>").next().unwrap_or("");
        let Some(addr) = element(host, "address").and_then(|a| attr(a, "addr")).and_then(|a| a.parse().ok()) else {
            continue;
        };
        for port in host.split("<port ").skip(1) {
            let port = port.split("</port>").next().unwrap_or("");
            let head = port.split('>').next().unwrap_or("");
            let Some(number) = attr(head, "portid").and_then(|p| p.parse().ok()) else { continue };
            let service = element(port, "service");
            let field = |name: &str| service.and_then(|s| attr(s, name)).filter(|v| !v.is_empty());
            out.push(XmlPort {
                addr,
                port: number,
                proto: attr(head, "protocol").unwrap_or_default(),
                state: element(port, "state").and_then(|s| attr(s, "state")).unwrap_or_default(),
                name: field("name"),
                product: field("product"),
                version: field("version"),
                tunnel: field("tunnel"),
            });
        }
    }
    out
}

/// The start tag `<name …>` in `text` (attributes only), if any.
fn element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("<{name} "))? + name.len() + 2;
    let rest = &text[start..];
    Some(&rest[..rest.find('>').unwrap_or(rest.len())])
}

/// The value of attribute `name` in a start tag, entities decoded.
fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let mut from = 0;
    // The attribute name must start the tag or follow white space (`addr` is not `hostaddr`).
    while let Some(i) = tag[from..].find(&needle) {
        let at = from + i;
        if at == 0 || tag.as_bytes()[at - 1].is_ascii_whitespace() {
            let value = &tag[at + needle.len()..];
            return Some(unescape(&value[..value.find('"')?]));
        }
        from = at + needle.len();
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
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

    #[test]
    fn xml_ports_carry_what_service_detection_said() {
        let x = r#"<?xml version="1.0"?><nmaprun scanner="nmap">
<host starttime="1" endtime="2"><status state="up" reason="arp-response"/>
<address addr="198.18.9.30" addrtype="ipv4"/><address addr="02:00:C6:12:09:1E" addrtype="mac"/>
<hostnames></hostnames><ports><extraports state="closed" count="998"></extraports>
<port protocol="tcp" portid="21"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ftp" product="vsftpd" version="3.0.3" ostype="Unix" method="probed" conf="10"><cpe>cpe:/a:vsftpd:vsftpd:3.0.3</cpe></service></port>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="http" product="nginx" tunnel="ssl" method="probed" conf="10"/></port>
<port protocol="tcp" portid="1883"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="mqtt" product="Mosquitto version 2.0.11" extrainfo="a &amp; b" method="probed" conf="10"/></port>
</ports></host>
<host starttime="1" endtime="2"><status state="up"/><address addr="198.18.9.31" addrtype="ipv4"/><ports>
<port protocol="tcp" portid="23"><state state="open" reason="syn-ack"/><service name="telnet" method="table" conf="3"/></port>
</ports></host></nmaprun>"#;
        let p = xml_ports(x);
        assert_eq!(p.len(), 4);
        assert_eq!(p[0].addr, "198.18.9.30".parse::<IpAddr>().expect("ip"));
        assert_eq!((p[0].port, p[0].state.as_str(), p[0].proto.as_str()), (21, "open", "tcp"));
        assert_eq!((p[0].product.as_deref(), p[0].version.as_deref()), (Some("vsftpd"), Some("3.0.3")));
        assert_eq!(
            (p[1].name.as_deref(), p[1].tunnel.as_deref(), p[1].version.as_deref()),
            (Some("http"), Some("ssl"), None)
        );
        assert_eq!(p[2].product.as_deref(), Some("Mosquitto version 2.0.11"));
        assert_eq!(
            (p[3].addr.to_string().as_str(), p[3].name.as_deref(), p[3].product.as_deref()),
            ("198.18.9.31", Some("telnet"), None)
        );
    }
}
