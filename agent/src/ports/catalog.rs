//! The port catalog: the data files of `agent/data/ports/`, embedded at build time, parsed and checked
//! once, then looked up by (protocol, port).
//!
//! The format is described in the header of `agent/data/ports/quick.toml`. Loading refuses, with a
//! [`CatalogError`] naming the file and the entry:
//! - a (protocol, port) that appears twice (even with the same service: one port, one reason);
//! - port 0, a reversed or malformed range, an empty reason or service name;
//! - `printer` flags that disagree with [`super::is_printer_port`], or `printer` together with `ot`;
//! - a UDP port without a probe payload in [`super::udp_payloads`] (an identification payload for `ot`
//!   groups).
//!
//! The embedded data is checked by the tests, so the `expect` in [`get`] cannot fire in a build
//! whose tests pass.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::{is_printer_port, spec, udp_payloads, PortList, Profile, Proto};

/// The embedded data files, in load order.
pub const FILES: [(&str, &str); 2] = [
    ("quick.toml", include_str!("../../data/ports/quick.toml")),
    ("standard.toml", include_str!("../../data/ports/standard.toml")),
];

/// What the catalog knows about one (protocol, port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// The port.
    pub port: u16,
    /// Its protocol.
    pub proto: Proto,
    /// The usual service name (`"ssh"`, `"jetdirect"`, …).
    pub service: String,
    /// Why it is scanned, in Dutch.
    pub why: String,
    /// Why it is scanned, in English, when the data gives it.
    pub why_en: Option<String>,
    /// The smallest profile that contains it.
    pub profile: Profile,
    /// A printer port: open-port checks only.
    pub printer: bool,
    /// A building-control / OT port: identification only with consent.
    pub ot: bool,
}

/// The data files are wrong. One line: Dutch, then English after " / ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("poortcatalogus {file}: {nl} / port catalog {file}: {en}")]
pub struct CatalogError {
    /// The data file.
    pub file: String,
    /// What is wrong, in Dutch.
    pub nl: String,
    /// What is wrong, in English.
    pub en: String,
}

/// The parsed, checked catalog.
#[derive(Debug)]
pub struct Catalog {
    entries: BTreeMap<(Proto, u16), PortInfo>,
    /// Port lists of quick, standard and full, in that order.
    lists: [PortList; 3],
}

/// The catalog of the embedded data, parsed on first use.
pub fn get() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::parse(&FILES).expect("embedded port catalog is checked by the ports tests"))
}

impl Catalog {
    /// Parses and checks data files given as (name, TOML text).
    pub fn parse(files: &[(&str, &str)]) -> Result<Catalog, CatalogError> {
        let mut entries = BTreeMap::new();
        for (file, text) in files {
            let raw: RawFile = toml::from_str(text).map_err(|e| {
                let msg = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
                err(file, format!("geen geldige TOML: {msg}"), format!("not valid TOML: {msg}"))
            })?;
            for (n, group) in raw.group.into_iter().enumerate() {
                add_group(&mut entries, file, n + 1, group)?;
            }
        }
        let names = files.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ");
        for port in (0..=u16::MAX).filter(|&p| is_printer_port(p)) {
            if !entries.get(&(Proto::Tcp, port)).is_some_and(|i: &PortInfo| i.printer) {
                return Err(err(
                    &names,
                    format!("printerpoort tcp/{port} ontbreekt of heeft geen printer = true"),
                    format!("printer port tcp/{port} missing or without printer = true"),
                ));
            }
        }
        let list = |profile: Profile| {
            let of = |proto| entries.values().filter(move |i: &&PortInfo| i.proto == proto && i.profile <= profile);
            let tcp = if profile == Profile::Full {
                (1..=u16::MAX).collect()
            } else {
                of(Proto::Tcp).map(|i| i.port).collect()
            };
            PortList::new(tcp, of(Proto::Udp).map(|i| i.port).collect())
        };
        let lists = [list(Profile::Quick), list(Profile::Standard), list(Profile::Full)];
        Ok(Catalog { entries, lists })
    }

    /// The ports of a profile.
    pub fn ports(&self, profile: Profile) -> &PortList {
        match profile {
            Profile::Quick => &self.lists[0],
            Profile::Standard => &self.lists[1],
            Profile::Full => &self.lists[2],
        }
    }

    /// The entry of a (protocol, port), if any.
    pub fn info(&self, port: u16, proto: Proto) -> Option<&PortInfo> {
        self.entries.get(&(proto, port))
    }

    /// The smallest profile containing the port: its entry's profile, `Full` for any other TCP port
    /// 1-65535, `None` for anything else (unnamed UDP ports, port 0).
    pub fn profile_of(&self, port: u16, proto: Proto) -> Option<Profile> {
        match self.info(port, proto) {
            Some(i) => Some(i.profile),
            None if proto == Proto::Tcp && port != 0 => Some(Profile::Full),
            None => None,
        }
    }

    /// Every entry, TCP first, each protocol in ascending port order.
    pub fn entries(&self) -> impl Iterator<Item = &PortInfo> {
        self.entries.values()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    group: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    profile: Profile,
    why: String,
    why_en: Option<String>,
    #[serde(default)]
    printer: bool,
    #[serde(default)]
    ot: bool,
    #[serde(default)]
    tcp: Vec<RawEntry>,
    #[serde(default)]
    udp: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    port: RawPort,
    service: String,
    why: Option<String>,
    why_en: Option<String>,
}

/// `port = 22` or `port = "8000-8010"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawPort {
    Number(i64),
    Text(String),
}

fn err(file: &str, nl: impl Into<String>, en: impl Into<String>) -> CatalogError {
    CatalogError { file: file.to_string(), nl: nl.into(), en: en.into() }
}

fn add_group(
    entries: &mut BTreeMap<(Proto, u16), PortInfo>,
    file: &str,
    n: usize,
    g: RawGroup,
) -> Result<(), CatalogError> {
    let here_nl = format!("groep {n}");
    let here_en = format!("group {n}");
    let blank = |s: &Option<String>| s.as_deref().is_some_and(|s| s.trim().is_empty());
    if g.why.trim().is_empty() || blank(&g.why_en) {
        return Err(err(file, format!("{here_nl}: lege why of why_en"), format!("{here_en}: empty why or why_en")));
    }
    if g.tcp.is_empty() && g.udp.is_empty() {
        return Err(err(file, format!("{here_nl}: geen poorten"), format!("{here_en}: no ports")));
    }
    if g.printer && g.ot {
        return Err(err(
            file,
            format!("{here_nl}: printer en ot samen"),
            format!("{here_en}: printer and ot together"),
        ));
    }
    let lists = [(Proto::Tcp, &g.tcp), (Proto::Udp, &g.udp)];
    for (proto, list) in lists {
        for e in list {
            let (low, high) = range(&e.port).ok_or_else(|| {
                let shown = match &e.port {
                    RawPort::Number(n) => n.to_string(),
                    RawPort::Text(t) => format!("\"{t}\""),
                };
                err(
                    file,
                    format!("{here_nl}: ongeldige poort {shown}; verwacht 1-65535 of \"laag-hoog\""),
                    format!("{here_en}: invalid port {shown}; expected 1-65535 or \"low-high\""),
                )
            })?;
            let what = format!("{proto}/{}", e.service);
            if !valid_service(&e.service) || e.why.as_deref().is_some_and(|s| s.trim().is_empty()) || blank(&e.why_en) {
                return Err(err(
                    file,
                    format!("{here_nl}, {what}: dienstnaam moet uit a-z, 0-9, '-', '.', '_' bestaan en why mag niet leeg zijn"),
                    format!("{here_en}, {what}: service name must use a-z, 0-9, '-', '.', '_' and why must not be empty"),
                ));
            }
            for port in low..=high {
                let info = PortInfo {
                    port,
                    proto,
                    service: e.service.clone(),
                    why: e.why.clone().unwrap_or_else(|| g.why.clone()),
                    why_en: e.why_en.clone().or_else(|| g.why_en.clone()),
                    profile: g.profile,
                    printer: g.printer,
                    ot: g.ot,
                };
                if let Some(old) = entries.get(&(proto, port)) {
                    return Err(err(
                        file,
                        format!("{proto}/{port} staat twee keer in de catalogus ({} en {})", old.service, info.service),
                        format!("{proto}/{port} appears twice in the catalog ({} and {})", old.service, info.service),
                    ));
                }
                check_entry(file, &info)?;
                entries.insert((proto, port), info);
            }
        }
    }
    Ok(())
}

/// The per-port rules: printer flags match the code, every UDP port has a payload.
fn check_entry(file: &str, i: &PortInfo) -> Result<(), CatalogError> {
    let id = format!("{}/{}", i.proto, i.port);
    if i.printer != (i.proto == Proto::Tcp && is_printer_port(i.port)) {
        return Err(err(
            file,
            format!("{id}: printer = true hoort precies bij tcp 9100-9107, 515, 631 en 9999"),
            format!("{id}: printer = true belongs exactly to tcp 9100-9107, 515, 631 and 9999"),
        ));
    }
    if i.proto == Proto::Udp {
        let payload =
            if i.ot { udp_payloads::ot_identification_payload(i.port) } else { udp_payloads::udp_payload(i.port) };
        if payload.is_none() {
            return Err(err(
                file,
                format!("{id}: geen UDP-payload in udp_payloads.rs{}", if i.ot { " (identificatie)" } else { "" }),
                format!("{id}: no UDP payload in udp_payloads.rs{}", if i.ot { " (identification)" } else { "" }),
            ));
        }
    }
    Ok(())
}

fn range(p: &RawPort) -> Option<(u16, u16)> {
    match p {
        RawPort::Number(n) => u16::try_from(*n).ok().filter(|&n| n != 0).map(|n| (n, n)),
        RawPort::Text(t) => spec::parse_range(t).ok(),
    }
}

fn valid_service(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_'))
}
