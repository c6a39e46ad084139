//! Tests of `ports`: the embedded catalog, the profiles, `--ports` parsing and `narrowest_profile`.

use super::catalog::{Catalog, FILES};
use super::*;

/// Ports that the weakness checks depend on: both quick and standard must contain them.
const CRITICAL_TCP: &[u16] = &[
    // remote access
    22, 23, 3389, 5900, 5901, 5902, 5903, 5985, 5986, //
    // file sharing
    21, 111, 139, 445, 2049, //
    // mail
    25, 110, 143, 465, 587, 993, 995, //
    // web and management: generic, Webmin, iLO, Intel AMT, Proxmox, ESXi, Synology, UniFi
    80, 443, 8000, 8008, 8080, 8443, 8888, 9443, 10000, 17988, 17990, 16992, 16993, 8006, 902, 427, 5000, 5001, //
    // databases
    1433, 1521, 3306, 5432, 27017, 9200, 6379, 11211, 5984, 9042, //
    // brokers
    1883, 8883, 5672, 4222, 61616, //
    // directory
    53, 88, 135, 389, 636, 3268, //
    // printers
    515, 631, 9100, 9101, 9102, 9103, 9104, 9105, 9106, 9107, 9999, //
    // building controls / OT
    102, 502, 1911, 4911, 20000, 44818, 47808, //
    // VoIP, cameras
    5060, 5061, 554, 37777, //
    // backups, VPN, network devices
    9392, 9401, 1723, 10443, 4786, //
    // Kubernetes / Docker
    2375, 2376, 6443, 10250,
];

/// The UDP ports every profile must carry.
const ESSENTIAL_UDP: &[u16] = &[53, 123, 137, 161, 1900, 5353];

fn list(tcp: &[u16], udp: &[u16]) -> PortList {
    PortList::new(tcp.to_vec(), udp.to_vec())
}

fn is_subset(small: &[u16], big: &[u16]) -> bool {
    small.iter().all(|p| big.binary_search(p).is_ok())
}

// ---------------------------------------------------------------------------------------------
// The embedded catalog
// ---------------------------------------------------------------------------------------------

#[test]
fn embedded_catalog_parses() {
    // This is what makes the `expect` in `catalog::get` safe.
    if let Err(e) = Catalog::parse(&FILES) {
        panic!("{e}");
    }
}

#[test]
fn profile_sizes_are_near_100_and_1000() {
    let quick = profile_ports(Profile::Quick);
    let standard = profile_ports(Profile::Standard);
    let full = profile_ports(Profile::Full);
    assert!((95..=110).contains(&quick.tcp.len()), "quick has {} TCP ports", quick.tcp.len());
    assert!((950..=1050).contains(&standard.tcp.len()), "standard has {} TCP ports", standard.tcp.len());
    assert_eq!(full.tcp.len(), 65535);
    assert_eq!(full.tcp.first(), Some(&1));
    assert_eq!(full.tcp.last(), Some(&65535));
    assert_eq!(quick.udp, ESSENTIAL_UDP);
    assert!(standard.udp.len() <= 20, "standard has {} UDP ports", standard.udp.len());
    assert_eq!(full.udp, standard.udp);
}

#[test]
fn profiles_nest() {
    let [q, s, f] = Profile::ALL.map(profile_ports);
    assert!(is_subset(&q.tcp, &s.tcp) && is_subset(&s.tcp, &f.tcp));
    assert!(is_subset(&q.udp, &s.udp) && is_subset(&s.udp, &f.udp));
    assert!(q.tcp.len() < s.tcp.len() && s.tcp.len() < f.tcp.len());
    for p in Profile::ALL {
        let l = profile_ports(p);
        assert_eq!(l, PortList::new(l.tcp.clone(), l.udp.clone()), "{p} is sorted and unique");
        assert!(!l.tcp.contains(&0) && !l.udp.contains(&0));
    }
}

#[test]
fn critical_ports_are_in_quick_and_standard() {
    for profile in [Profile::Quick, Profile::Standard] {
        let l = profile_ports(profile);
        let missing: Vec<u16> = CRITICAL_TCP.iter().copied().filter(|&p| !l.contains(p, Proto::Tcp)).collect();
        assert!(missing.is_empty(), "{profile} lacks TCP {missing:?}");
        for &p in ESSENTIAL_UDP {
            assert!(l.contains(p, Proto::Udp), "{profile} lacks UDP {p}");
        }
    }
    // nmap's top 1000 misses these; we do not.
    assert_eq!(port_info(1883, Proto::Tcp).map(|i| i.profile), Some(Profile::Quick));
    assert_eq!(port_info(6379, Proto::Tcp).map(|i| i.profile), Some(Profile::Quick));
}

#[test]
fn every_entry_has_a_service_and_reasons() {
    let mut n = 0;
    for i in entries() {
        n += 1;
        let id = format!("{}/{}", i.proto, i.port);
        assert!(!i.service.trim().is_empty(), "{id}: no service");
        assert!(i.why.trim().len() >= 10, "{id}: reason too short: {:?}", i.why);
        assert!(i.why_en.as_deref().is_some_and(|w| w.trim().len() >= 10), "{id}: no English reason");
        assert_eq!(service_name(i.port, i.proto), Some(i.service.as_str()));
        assert_eq!(reason(i.port, i.proto), Some(i.why.as_str()));
        assert_eq!(reason_en(i.port, i.proto), i.why_en.as_deref());
    }
    let s = profile_ports(Profile::Standard);
    assert_eq!(n, s.tcp.len() + s.udp.len(), "every named port is in standard");
}

/// Each (protocol, port) is written once in the data, counting the ports of every range, so a port
/// can never carry two services or two reasons.
#[test]
fn no_port_is_listed_twice_in_the_data() {
    #[derive(serde::Deserialize)]
    struct F {
        group: Vec<toml::Table>,
    }
    let mut seen = std::collections::BTreeMap::new();
    for (file, text) in FILES {
        let f: F = toml::from_str(text).expect("toml");
        for g in f.group {
            for proto in ["tcp", "udp"] {
                let entries = g.get(proto).and_then(|v| v.as_array()).cloned().unwrap_or_default();
                for e in entries {
                    let service = e.get("service").and_then(|s| s.as_str()).expect("service").to_string();
                    let ports = match e.get("port").expect("port") {
                        toml::Value::Integer(n) => vec![u16::try_from(*n).expect("u16")],
                        toml::Value::String(r) => {
                            let (a, b) = spec::parse_range(r).expect("range");
                            (a..=b).collect()
                        }
                        other => panic!("bad port {other}"),
                    };
                    for p in ports {
                        if let Some(old) = seen.insert((proto, p), (file, service.clone())) {
                            panic!("{proto}/{p} twice: {old:?} and {file}/{service}");
                        }
                    }
                }
            }
        }
    }
    assert_eq!(seen.len(), entries().count());
}

#[test]
fn lookups() {
    assert_eq!(service_name(22, Proto::Tcp), Some("ssh"));
    assert_eq!(service_name(53, Proto::Udp), Some("domain"));
    assert_eq!(service_name(9104, Proto::Tcp), Some("jetdirect"));
    assert_eq!(service_name(8500, Proto::Tcp), Some("consul"));
    assert_eq!(service_name(22, Proto::Udp), None);
    assert_eq!(service_name(40000, Proto::Tcp), None);
    assert_eq!(reason(40000, Proto::Tcp), None);
    assert!(reason(23, Proto::Tcp).is_some_and(|r| r.contains("onversleuteld")));
    assert!(reason_en(23, Proto::Tcp).is_some_and(|r| r.contains("clear text")));
    // An entry-level reason overrides the group's; other entries inherit the group's.
    assert_ne!(reason(23, Proto::Tcp), reason(22, Proto::Tcp));
    assert_eq!(reason(110, Proto::Tcp), reason(143, Proto::Tcp));
}

#[test]
fn printer_ports_are_flagged_and_fixed() {
    let printers: Vec<u16> = (0..=u16::MAX).filter(|&p| is_printer_port(p)).collect();
    assert_eq!(printers, [515, 631, 9100, 9101, 9102, 9103, 9104, 9105, 9106, 9107, 9999]);
    for i in entries() {
        assert_eq!(i.printer, i.proto == Proto::Tcp && is_printer_port(i.port), "{}/{}", i.proto, i.port);
    }
    for p in printers {
        assert_eq!(port_info(p, Proto::Tcp).map(|i| (i.printer, i.profile)), Some((true, Profile::Quick)));
    }
}

#[test]
fn ot_ports_are_flagged() {
    for p in [102, 502, 1911, 4911, 20000, 44818, 47808, 2404, 4840, 3671] {
        assert!(is_ot_port(p, Proto::Tcp), "tcp/{p}");
    }
    assert!(is_ot_port(47808, Proto::Udp) && is_ot_port(3671, Proto::Udp));
    assert!(!is_ot_port(22, Proto::Tcp) && !is_ot_port(161, Proto::Udp) && !is_ot_port(40000, Proto::Tcp));
}

#[test]
fn every_udp_port_has_a_payload() {
    for p in profile_ports(Profile::Full).udp {
        let payload = if is_ot_port(p, Proto::Udp) { ot_identification_payload(p) } else { udp_payload(p) };
        assert!(payload.is_some_and(|b| !b.is_empty()), "udp/{p} has no payload");
        // OT ports never get a payload through the ordinary function.
        if is_ot_port(p, Proto::Udp) {
            assert_eq!(udp_payload(p), None, "udp/{p}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Catalog validation
// ---------------------------------------------------------------------------------------------

/// The smallest valid catalog: the printer group, plus `extra`.
fn parse_with(extra: &str) -> Result<Catalog, CatalogError> {
    let printers = r#"
[[group]]
profile = "quick"
printer = true
why = "printers, nothing sent"
tcp = [ { port = 515, service = "printer" }, { port = 631, service = "ipp" },
        { port = "9100-9107", service = "jetdirect" }, { port = 9999, service = "printer-config" } ]
"#;
    Catalog::parse(&[("printers.toml", printers), ("extra.toml", extra)])
}

fn group(profile: &str, entries: &str) -> String {
    format!("[[group]]\nprofile = \"{profile}\"\nwhy = \"a reason\"\ntcp = [ {entries} ]\n")
}

#[test]
fn catalog_accepts_a_small_valid_catalog() {
    let c = parse_with(&group(
        "standard",
        r#"{ port = 22, service = "ssh" }, { port = "8000-8002", service = "http-alt" }"#,
    ))
    .expect("valid");
    assert_eq!(c.ports(Profile::Quick).tcp.len(), 11);
    assert_eq!(c.ports(Profile::Standard).tcp.len(), 15);
    assert_eq!(c.profile_of(8001, Proto::Tcp), Some(Profile::Standard));
    assert_eq!(c.profile_of(8003, Proto::Tcp), Some(Profile::Full));
    assert_eq!(c.profile_of(8003, Proto::Udp), None);
    assert_eq!(c.profile_of(0, Proto::Tcp), None);
}

#[test]
fn catalog_refuses_bad_data() {
    let udp = |flags: &str, entries: &str| {
        format!("[[group]]\nprofile = \"quick\"\n{flags}why = \"a reason\"\nudp = [ {entries} ]\n")
    };
    let cases = [
        ("twice, other service", group("quick", r#"{ port = 22, service = "ssh" }, { port = 22, service = "ssh-alt" }"#), "tcp/22 appears twice"),
        ("twice, same service", group("quick", r#"{ port = 22, service = "ssh" }, { port = "20-25", service = "ssh" }"#), "tcp/22 appears twice"),
        ("twice across files", group("quick", r#"{ port = 631, service = "ipp" }"#), "tcp/631 appears twice"),
        ("port 0", group("quick", r#"{ port = 0, service = "zero" }"#), "invalid port 0"),
        ("port too large", group("quick", r#"{ port = 65536, service = "big" }"#), "invalid port 65536"),
        ("reversed range", group("quick", r#"{ port = "30-20", service = "x" }"#), "invalid port \"30-20\""),
        ("garbage range", group("quick", r#"{ port = "twenty", service = "x" }"#), "invalid port \"twenty\""),
        ("empty service", group("quick", r#"{ port = 22, service = "" }"#), "service name must use"),
        ("service with spaces", group("quick", r#"{ port = 22, service = "Secure Shell" }"#), "service name must use"),
        ("empty entry reason", group("quick", r#"{ port = 22, service = "ssh", why = " " }"#), "why must not be empty"),
        ("unknown field", group("quick", r#"{ port = 22, service = "ssh", note = "x" }"#), "unknown field `note`"),
        ("unknown profile", group("huge", r#"{ port = 22, service = "ssh" }"#), "unknown variant `huge`"),
        ("printer port named again", group("quick", r#"{ port = 9100, service = "node-exporter" }"#), "tcp/9100 appears twice"),
        ("empty group", "[[group]]\nprofile = \"quick\"\nwhy = \"a reason\"\n".to_string(), "no ports"),
        ("empty group reason", "[[group]]\nprofile = \"quick\"\nwhy = \"\"\ntcp = [ { port = 22, service = \"ssh\" } ]\n".to_string(), "empty why"),
        ("printer and ot", "[[group]]\nprofile = \"quick\"\nprinter = true\not = true\nwhy = \"a reason\"\ntcp = [ { port = 22, service = \"ssh\" } ]\n".to_string(), "printer and ot together"),
        ("printer flag on another port", "[[group]]\nprofile = \"quick\"\nprinter = true\nwhy = \"a reason\"\ntcp = [ { port = 22, service = \"ssh\" } ]\n".to_string(), "tcp/22: printer = true belongs exactly"),
        ("udp without payload", udp("", r#"{ port = 9, service = "discard" }"#), "udp/9: no UDP payload"),
        ("ot udp without identification payload", udp("ot = true\n", r#"{ port = 53, service = "domain" }"#), "udp/53: no UDP payload in udp_payloads.rs (identification)"),
        ("ot payload on an ordinary port", udp("", r#"{ port = 47808, service = "bacnet" }"#), "udp/47808: no UDP payload"),
        ("not toml", "[[group]\n".to_string(), "not valid TOML"),
    ];
    for (what, text, expected) in cases {
        match parse_with(&text) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(expected), "{what}: {msg}");
                assert!(
                    msg.starts_with("poortcatalogus extra.toml: ") && msg.contains(" / port catalog extra.toml: "),
                    "{what}: {msg}"
                );
                assert!(!msg.contains('\n'), "{what}: {msg}");
            }
        }
    }
    // A printer port that only a non-printer group names.
    let printers = r#"
[[group]]
profile = "quick"
printer = true
why = "printers, nothing sent"
tcp = [ { port = 515, service = "printer" }, { port = 631, service = "ipp" },
        { port = "9101-9107", service = "jetdirect" }, { port = 9999, service = "printer-config" } ]
"#;
    let other = group("quick", r#"{ port = 9100, service = "node-exporter" }"#);
    let e = Catalog::parse(&[("printers.toml", printers), ("other.toml", &other)]).expect_err("unflagged printer port");
    assert!(e.to_string().contains("tcp/9100: printer = true belongs exactly"), "{e}");
    // Without any printer group, the printer ports are missing.
    let e = Catalog::parse(&[("only.toml", &group("quick", r#"{ port = 22, service = "ssh" }"#))])
        .expect_err("no printers");
    assert!(e.to_string().contains("printer port tcp/515 missing"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// --ports
// ---------------------------------------------------------------------------------------------

#[test]
fn port_spec_accepts_the_documented_forms() {
    let ok = |s: &str| parse_port_spec(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(ok("22,80,8000-8003"), list(&[22, 80, 8000, 8001, 8002, 8003], &[]));
    assert_eq!(ok("U:53,U:161"), list(&[], &[53, 161]));
    assert_eq!(ok("u:53"), list(&[], &[53]));
    assert_eq!(ok("T:22,t:443,U:53"), list(&[22, 443], &[53]));
    assert_eq!(ok(" 22 , 80 - 81 ,U: 53,  T : 25 "), list(&[22, 25, 80, 81], &[53]));
    assert_eq!(ok("443,22,443,20-23"), list(&[20, 21, 22, 23, 443], &[]));
    assert_eq!(ok("1-65535").tcp.len(), 65535);
    assert_eq!(ok("65535"), list(&[65535], &[]));
    assert_eq!(ok("7-7"), list(&[7], &[]));
    // Each piece has its own prefix: 161 here is TCP (nmap would make it UDP).
    assert_eq!(ok("U:53,161"), list(&[161], &[53]));
}

#[test]
fn port_spec_refuses_bad_pieces() {
    let bad = |s: &str| parse_port_spec(s).expect_err(s);
    let piece = |p: &str| p.to_string();
    assert_eq!(bad(""), PortSpecError::Empty);
    assert_eq!(bad("  "), PortSpecError::Empty);
    assert_eq!(bad("0"), PortSpecError::Zero { piece: piece("0") });
    assert_eq!(bad("0-10"), PortSpecError::Zero { piece: piece("0-10") });
    assert_eq!(bad("65536"), PortSpecError::TooLarge { piece: piece("65536") });
    assert_eq!(bad("22,99999999999999999999999"), PortSpecError::TooLarge { piece: piece("99999999999999999999999") });
    assert_eq!(bad("80-70000"), PortSpecError::TooLarge { piece: piece("80-70000") });
    assert_eq!(bad("100-90"), PortSpecError::Reversed { piece: piece("100-90") });
    assert_eq!(bad("U:200-100"), PortSpecError::Reversed { piece: piece("U:200-100") });
    assert_eq!(bad("ssh"), PortSpecError::Garbage { piece: piece("ssh") });
    assert_eq!(bad("22,http"), PortSpecError::Garbage { piece: piece("http") });
    assert_eq!(bad("-5"), PortSpecError::Garbage { piece: piece("-5") });
    assert_eq!(bad("5-"), PortSpecError::Garbage { piece: piece("5-") });
    assert_eq!(bad("1-2-3"), PortSpecError::Garbage { piece: piece("1-2-3") });
    assert_eq!(bad("+22"), PortSpecError::Garbage { piece: piece("+22") });
    assert_eq!(bad("0x16"), PortSpecError::Garbage { piece: piece("0x16") });
    assert_eq!(bad("2 2"), PortSpecError::Garbage { piece: piece("2 2") });
    assert_eq!(bad("U:"), PortSpecError::Garbage { piece: piece("U:") });
    assert_eq!(bad("２２"), PortSpecError::Garbage { piece: piece("２２") });
    assert_eq!(bad("S:22"), PortSpecError::UnknownProtocol { piece: piece("S:22") });
    assert_eq!(bad("udp:53"), PortSpecError::UnknownProtocol { piece: piece("udp:53") });
    assert_eq!(bad("22,,80"), PortSpecError::EmptyPiece { spec: "22,,80".into() });
    assert_eq!(bad("22,"), PortSpecError::EmptyPiece { spec: "22,".into() });
}

#[test]
fn port_spec_errors_are_one_line_dutch_then_english() {
    for s in ["", "0", "70000", "9-1", "abc", "X:1", "1,,2"] {
        let msg = parse_port_spec(s).expect_err(s).to_string();
        assert!(!msg.contains('\n'), "{msg}");
        let (nl, en) = msg.split_once(" / ").unwrap_or_else(|| panic!("no ' / ' in {msg}"));
        assert!(nl.contains("verwacht bv. 22,80,8000-8100,U:53"), "{msg}");
        assert!(en.contains("expected e.g. 22,80,8000-8100,U:53"), "{msg}");
        if !s.is_empty() && s != "1,,2" {
            assert!(nl.contains(s) && en.contains(s), "the piece is named: {msg}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// narrowest_profile, Profile names
// ---------------------------------------------------------------------------------------------

#[test]
fn narrowest_profile_is_the_smallest_that_contains_the_list() {
    assert_eq!(narrowest_profile(&PortList::default()), Profile::Quick);
    assert_eq!(narrowest_profile(&list(&[22, 80, 443], &[53])), Profile::Quick);
    assert_eq!(narrowest_profile(&list(&[22, 8500], &[])), Profile::Standard);
    assert_eq!(narrowest_profile(&list(&[22], &[500])), Profile::Standard);
    assert_eq!(narrowest_profile(&list(&[22, 40000], &[])), Profile::Full);
    assert_eq!(narrowest_profile(&list(&[], &[9999])), Profile::Full, "UDP outside every list");
    assert_eq!(narrowest_profile(&list(&[0], &[])), Profile::Full);
    for p in Profile::ALL {
        assert_eq!(narrowest_profile(&profile_ports(p)), p);
    }
    let spec = parse_port_spec("22,80,8000-8100").expect("spec");
    assert_eq!(narrowest_profile(&spec), Profile::Standard);
}

#[test]
fn profile_names_round_trip() {
    for p in Profile::ALL {
        assert_eq!(p.to_string().parse::<Profile>(), Ok(p));
        let json = serde_json::to_string(&p).expect("json");
        assert_eq!(json, format!("\"{p}\""));
    }
    assert_eq!(" Standard ".parse::<Profile>(), Ok(Profile::Standard));
    assert_eq!("FULL".parse::<Profile>(), Ok(Profile::Full));
    let e = "huge".parse::<Profile>().expect_err("unknown");
    assert_eq!(
        e.to_string(),
        "onbekend profiel \"huge\"; kies quick, standard of full / unknown profile \"huge\"; choose quick, standard or full"
    );
    assert!("".parse::<Profile>().is_err() && "quick,full".parse::<Profile>().is_err());
    assert_eq!(Proto::Udp.to_string(), "udp");
    assert_eq!(serde_json::to_string(&Proto::Tcp).expect("json"), "\"tcp\"");
}

#[test]
fn port_list_helpers() {
    let l = PortList::new(vec![443, 22, 22], vec![53]);
    assert_eq!(l.tcp, [22, 443]);
    assert_eq!(l.len(), 3);
    assert!(!l.is_empty() && PortList::default().is_empty());
    assert!(l.contains(22, Proto::Tcp) && !l.contains(22, Proto::Udp) && l.contains(53, Proto::Udp));
}
