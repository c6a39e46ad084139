//! Tests of `ports::udp_payloads`: every payload decoded back by a small decoder written here, every
//! reply check against a hand-made answer, and no panic on truncated or random input.

use super::*;

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// A DNS question parsed back: header fields, name, type, class, and bytes consumed.
struct DnsQuery {
    id: u16,
    flags: u16,
    counts: [u16; 4],
    name: String,
    qtype: u16,
    qclass: u16,
    end: usize,
}

fn decode_dns_query(b: &[u8]) -> DnsQuery {
    assert!(b.len() >= 12, "header");
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(b[i]);
        assert!(len < 64, "no compression in a query");
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8(b[i..i + len].to_vec()).expect("ascii label"));
        i += len;
    }
    DnsQuery {
        id: u16_at(b, 0),
        flags: u16_at(b, 2),
        counts: [u16_at(b, 4), u16_at(b, 6), u16_at(b, 8), u16_at(b, 10)],
        name: labels.join("."),
        qtype: u16_at(b, i),
        qclass: u16_at(b, i + 2),
        end: i + 4,
    }
}

#[test]
fn dns_is_a_version_bind_chaos_txt_query_with_rd() {
    let q = decode_dns_query(&DNS_VERSION_BIND);
    assert_eq!(q.id, 0x776b);
    assert_eq!(q.flags & 0x8000, 0, "QR=0: a query");
    assert_eq!((q.flags >> 11) & 0x0f, 0, "standard query");
    assert_eq!(q.flags & 0x0100, 0x0100, "recursion desired");
    assert_eq!(q.counts, [1, 0, 0, 0]);
    assert_eq!(q.name, "version.bind");
    assert_eq!((q.qtype, q.qclass), (16, 3), "TXT, CH");
    assert_eq!(q.end, DNS_VERSION_BIND.len(), "nothing after the question");
}

#[test]
fn mdns_asks_for_the_service_list_with_unicast_response() {
    let q = decode_dns_query(&MDNS_SERVICES);
    assert_eq!(q.flags, 0);
    assert_eq!(q.counts, [1, 0, 0, 0]);
    assert_eq!(q.name, "_services._dns-sd._udp.local");
    assert_eq!(q.qtype, 12, "PTR");
    assert_eq!(q.qclass & 0x8000, 0x8000, "QU bit");
    assert_eq!(q.qclass & 0x7fff, 1, "IN");
    assert_eq!(q.end, MDNS_SERVICES.len());
}

#[test]
fn netbios_is_an_nbstat_query_for_the_wildcard_name() {
    let b = &NETBIOS_NBSTAT;
    assert_eq!(u16_at(b, 2), 0, "request, unicast");
    assert_eq!([u16_at(b, 4), u16_at(b, 6), u16_at(b, 8), u16_at(b, 10)], [1, 0, 0, 0]);
    assert_eq!(b[12], 32, "encoded name length");
    // First-level decoding (RFC 1001 14.1): two letters 'A'..'P' per byte.
    let name: Vec<u8> = b[13..45]
        .chunks(2)
        .map(|pair| {
            assert!(pair.iter().all(|c| (b'A'..=b'P').contains(c)));
            ((pair[0] - b'A') << 4) | (pair[1] - b'A')
        })
        .collect();
    let mut expected = vec![0u8; 16];
    expected[0] = b'*';
    assert_eq!(name, expected);
    assert_eq!(b[45], 0, "root label");
    assert_eq!((u16_at(b, 46), u16_at(b, 48)), (0x21, 1), "NBSTAT, IN");
    assert_eq!(b.len(), 50);
}

#[test]
fn ntp_is_a_v4_client_request() {
    let b = &NTP_CLIENT;
    assert_eq!(b.len(), 48);
    assert_eq!(b[0] >> 6, 0, "LI");
    assert_eq!((b[0] >> 3) & 7, 4, "version 4");
    assert_eq!(b[0] & 7, 3, "mode 3: client");
    assert!(b[1..40].iter().all(|&x| x == 0));
    assert_ne!(&b[40..48], &[0; 8], "transmit timestamp set");
}

/// One BER TLV: tag, content range. Only what SNMP needs: single-byte tags, short or long lengths.
fn ber(b: &[u8], at: usize) -> (u8, std::ops::Range<usize>) {
    let tag = b[at];
    let first = b[at + 1];
    let (len, start) = if first < 0x80 {
        (usize::from(first), at + 2)
    } else {
        let n = usize::from(first & 0x7f);
        let len = b[at + 2..at + 2 + n].iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        (len, at + 2 + n)
    };
    assert!(start + len <= b.len(), "TLV at {at} runs past the end");
    (tag, start..start + len)
}

/// Children of a constructed TLV; asserts that they exactly fill it.
fn children(b: &[u8], content: std::ops::Range<usize>) -> Vec<(u8, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut i = content.start;
    while i < content.end {
        let (tag, c) = ber(b, i);
        i = c.end;
        out.push((tag, c));
    }
    assert_eq!(i, content.end, "children fill their parent exactly");
    out
}

fn oid(bytes: &[u8]) -> String {
    let mut parts = vec![u32::from(bytes[0] / 40), u32::from(bytes[0] % 40)];
    let mut acc = 0u32;
    for &x in &bytes[1..] {
        acc = (acc << 7) | u32::from(x & 0x7f);
        if x & 0x80 == 0 {
            parts.push(acc);
            acc = 0;
        }
    }
    parts.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

#[test]
fn snmp_is_a_v2c_get_of_sysdescr_with_consistent_ber_lengths() {
    let b = &SNMP_V2C_SYSDESCR[..];
    let (tag, msg) = ber(b, 0);
    assert_eq!(tag, 0x30);
    assert_eq!(msg.end, b.len(), "outer length covers the packet");
    let parts = children(b, msg);
    assert_eq!(parts.len(), 3);
    assert_eq!((parts[0].0, &b[parts[0].1.clone()]), (0x02, &[1u8][..]), "version 2c");
    assert_eq!((parts[1].0, &b[parts[1].1.clone()]), (0x04, &b"public"[..]));
    assert_eq!(parts[2].0, 0xa0, "GetRequest-PDU");
    let pdu = children(b, parts[2].1.clone());
    assert_eq!(pdu.iter().map(|p| p.0).collect::<Vec<_>>(), [0x02, 0x02, 0x02, 0x30]);
    assert!(b[pdu[0].1.start] < 0x80, "request id is positive");
    assert_eq!(&b[pdu[1].1.clone()], &[0], "error-status");
    assert_eq!(&b[pdu[2].1.clone()], &[0], "error-index");
    let varbinds = children(b, pdu[3].1.clone());
    assert_eq!(varbinds.len(), 1);
    let vb = children(b, varbinds[0].1.clone());
    assert_eq!(vb[0].0, 0x06);
    assert_eq!(oid(&b[vb[0].1.clone()]), "1.3.6.1.2.1.1.1.0");
    assert_eq!((vb[1].0, vb[1].1.len()), (0x05, 0), "NULL");
}

#[test]
fn ssdp_is_an_msearch_for_everything() {
    let text = std::str::from_utf8(SSDP_MSEARCH).expect("ascii");
    assert!(text.ends_with("\r\n\r\n"));
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert_eq!(lines[0], "M-SEARCH * HTTP/1.1");
    let headers: Vec<(String, &str)> = lines[1..]
        .iter()
        .map(|l| {
            let (k, v) = l.split_once(':').expect("header");
            (k.to_ascii_uppercase(), v.trim())
        })
        .collect();
    let get = |k: &str| headers.iter().find(|(h, _)| h == k).map(|(_, v)| *v);
    assert_eq!(get("HOST"), Some("239.255.255.250:1900"));
    assert_eq!(get("MAN"), Some("\"ssdp:discover\""));
    assert_eq!(get("MX"), Some("1"));
    assert_eq!(get("ST"), Some("ssdp:all"));
    assert_eq!(headers.len(), 4);
}

#[test]
fn tftp_reads_a_file_that_does_not_exist() {
    let b = &TFTP_RRQ;
    assert_eq!(u16_at(b, 0), 1, "RRQ");
    let fields: Vec<&[u8]> = b[2..].split(|&x| x == 0).collect();
    assert_eq!(fields, [&b"wijkagent-probe"[..], b"octet", b""], "two NUL-terminated strings");
}

#[test]
fn slp_is_a_service_type_request() {
    let b = &SLP_SRVTYPERQST;
    assert_eq!((b[0], b[1]), (2, 9), "SLPv2 SrvTypeRqst");
    let len = (usize::from(b[2]) << 16) | (usize::from(b[3]) << 8) | usize::from(b[4]);
    assert_eq!(len, b.len());
    assert_eq!(u16_at(b, 5), 0, "flags");
    assert_eq!(&b[7..10], &[0, 0, 0], "no extensions");
    assert_eq!(&b[10..12], &ID);
    let lang = usize::from(u16_at(b, 12));
    assert_eq!(&b[14..14 + lang], b"en");
    let mut i = 14 + lang;
    assert_eq!(u16_at(b, i), 0, "empty PRList");
    i += 2;
    assert_eq!(u16_at(b, i), 0xffff, "all naming authorities");
    i += 2;
    let scope = usize::from(u16_at(b, i));
    i += 2;
    assert_eq!(&b[i..i + scope], b"DEFAULT");
    assert_eq!(i + scope, b.len());
}

#[test]
fn ike_payload_lengths_nest() {
    let b = &IKE_MAIN_MODE;
    assert_eq!(&b[0..8], &COOKIE);
    assert_eq!(&b[8..16], &[0; 8], "responder cookie");
    assert_eq!(b[16], 1, "first payload SA");
    assert_eq!(b[17], 0x10, "version 1.0");
    assert_eq!(b[18], 2, "main mode");
    assert_eq!(u32_at(b, 20), 0, "message id");
    assert_eq!(u32_at(b, 24) as usize, b.len());
    // SA payload
    let sa = 28;
    assert_eq!(b[sa], 0, "no payload after SA");
    assert_eq!(usize::from(u16_at(b, sa + 2)), b.len() - sa);
    assert_eq!((u32_at(b, sa + 4), u32_at(b, sa + 8)), (1, 1), "DOI IPsec, identity only");
    // Proposal payload fills the SA payload after its 12 bytes.
    let prop = sa + 12;
    assert_eq!(usize::from(u16_at(b, prop + 2)), b.len() - prop);
    assert_eq!((b[prop + 4], b[prop + 5], b[prop + 6], b[prop + 7]), (1, 1, 0, 1), "#1, ISAKMP, no SPI, 1 transform");
    // Transform payload fills the proposal after its 8 bytes.
    let tr = prop + 8;
    assert_eq!(usize::from(u16_at(b, tr + 2)), b.len() - tr);
    assert_eq!((b[tr + 4], b[tr + 5]), (1, 1), "#1, KEY_IKE");
    let attrs: Vec<(u16, u16)> = b[tr + 8..].chunks(4).map(|a| (u16_at(a, 0), u16_at(a, 2))).collect();
    assert!(attrs.iter().all(|(t, _)| t & 0x8000 != 0), "all TV attributes");
    let attrs: Vec<(u16, u16)> = attrs.into_iter().map(|(t, v)| (t & 0x7fff, v)).collect();
    assert_eq!(attrs, [(1, 7), (14, 128), (2, 2), (3, 1), (4, 14), (11, 1), (12, 28800)]);
}

#[test]
fn ipmi_checksums_and_length_add_up() {
    let b = &IPMI_GET_CHANNEL_AUTH;
    assert_eq!(&b[0..4], &[0x06, 0x00, 0xff, 0x07], "RMCP v1, no ack, IPMI class");
    assert_eq!(b[4], 0, "no authentication");
    let msg_len = usize::from(b[13]);
    let msg = &b[14..];
    assert_eq!(msg.len(), msg_len);
    let sum = |s: &[u8]| s.iter().fold(0u8, |a, &x| a.wrapping_add(x));
    assert_eq!(sum(&msg[0..3]), 0, "checksum 1 over rsAddr, netFn");
    assert_eq!(sum(&msg[3..]), 0, "checksum 2 over rqAddr..data");
    assert_eq!(msg[1] >> 2, 0x06, "netFn App");
    assert_eq!(msg[5], 0x38, "Get Channel Authentication Capabilities");
}

#[test]
fn openvpn_is_a_hard_reset_v2() {
    let b = &OPENVPN_HARD_RESET;
    assert_eq!((b[0] >> 3, b[0] & 7), (7, 0), "P_CONTROL_HARD_RESET_CLIENT_V2, key 0");
    assert_eq!(&b[1..9], &COOKIE);
    assert_eq!(b[9], 0, "no acks");
    assert_eq!(u32_at(b, 10), 0, "packet id 0");
    assert_eq!(b.len(), 14);
}

#[test]
fn small_payloads() {
    assert_eq!(MSSQL_BROWSER, [0x03]);
    assert_eq!(UBIQUITI_DISCOVERY[0], 1);
    assert_eq!(usize::from(u16_at(&UBIQUITI_DISCOVERY, 2)), UBIQUITI_DISCOVERY.len() - 4);
}

#[test]
fn bacnet_is_a_read_property_of_the_wildcard_device() {
    let b = &BACNET_READ_DEVICE_ID;
    assert_eq!((b[0], b[1]), (0x81, 0x0a), "BACnet/IP, original unicast NPDU");
    assert_eq!(usize::from(u16_at(b, 2)), b.len(), "BVLC length");
    assert_eq!((b[4], b[5]), (1, 0x04), "NPDU v1, expecting reply, no addresses");
    let apdu = &b[6..];
    assert_eq!(apdu[0] >> 4, 0, "confirmed request");
    assert_eq!(apdu[3], 12, "ReadProperty");
    // context tag 0, length 4: object identifier
    assert_eq!(apdu[4], 0x0c);
    let object = u32_at(apdu, 5);
    assert_eq!((object >> 22, object & 0x3f_ffff), (8, 4_194_303), "device, wildcard instance");
    // context tag 1, length 1: property identifier
    assert_eq!((apdu[9], apdu[10]), (0x19, 75));
    assert_eq!(apdu.len(), 11);
}

#[test]
fn knx_is_a_description_request_with_route_back_endpoint() {
    let b = &KNX_DESCRIPTION_REQUEST;
    assert_eq!((b[0], b[1]), (6, 0x10), "header length, version 1.0");
    assert_eq!(u16_at(b, 2), 0x0203);
    assert_eq!(usize::from(u16_at(b, 4)), b.len());
    assert_eq!(usize::from(b[6]), b.len() - 6, "HPAI fills the rest");
    assert_eq!(b[7], 1, "IPv4 UDP");
    assert_eq!(&b[8..14], &[0; 6], "0.0.0.0:0");
}

#[test]
fn payload_functions_route_ports() {
    for port in [53, 69, 123, 137, 161, 427, 500, 623, 1194, 1434, 1900, 5353, 10001] {
        assert!(udp_payload(port).is_some_and(|p| !p.is_empty()), "{port}");
        assert_eq!(ot_identification_payload(port), None, "{port}");
    }
    for port in [3671, 47808] {
        assert_eq!(udp_payload(port), None, "OT port {port} has no ordinary payload");
        assert!(ot_identification_payload(port).is_some(), "{port}");
    }
    for port in [0, 1, 9100, 515, 631, 9999, 65535] {
        assert_eq!(udp_payload(port), None, "{port}");
        assert_eq!(ot_identification_payload(port), None, "{port}");
    }
}

// ---------------------------------------------------------------------------------------------
// looks_like_reply
// ---------------------------------------------------------------------------------------------

/// A plausible answer per port, made by hand from each protocol's reply format.
fn sample_replies() -> Vec<(u16, Vec<u8>)> {
    let mut dns = DNS_VERSION_BIND.to_vec();
    dns[2] = 0x81; // QR=1, RD=1
    dns[3] = 0x05; // RCODE REFUSED
    let mut ntp = vec![0u8; 48];
    ntp[0] = 0x24; // LI 0, VN 4, mode 4
    let mut nb = vec![0x77, 0x6b, 0x84, 0x00, 0, 0, 0, 1, 0, 0, 0, 0];
    nb.extend_from_slice(&NETBIOS_NBSTAT[12..46]);
    let snmp = vec![0x30, 0x03, 0x02, 0x01, 0x01];
    let slp = vec![2, 10, 0, 0, 20, 0, 0, 0, 0, 0, 0x77, 0x6b, 0, 2, b'e', b'n', 0, 0, 0, 0];
    let mut ike = IKE_MAIN_MODE[..28].to_vec();
    ike[8..16].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    let ipmi = vec![0x06, 0x00, 0xff, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x81, 0x1c, 0x63];
    let mut ovpn = vec![0x40];
    ovpn.extend_from_slice(b"serverid");
    ovpn.extend_from_slice(&[1, 0, 0, 0, 0]);
    ovpn.extend_from_slice(&COOKIE);
    ovpn.extend_from_slice(&[0, 0, 0, 0]);
    let mssql = [&[0x05, 0x10, 0x00][..], b"ServerName;SQL1;"].concat();
    let ssdp = b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n\r\n".to_vec();
    let mut mdns = MDNS_SERVICES.to_vec();
    mdns[2] = 0x84; // QR=1, AA=1
    let ubnt = vec![0x01, 0x00, 0x00, 0x04, 0x02, 0x00, 0x01, 0xaa]; // one TLV: type 2, length 1
    let knx = vec![0x06, 0x10, 0x02, 0x04, 0x00, 0x06];
    let bacnet = vec![0x81, 0x0a, 0x00, 0x04];
    let tftp = [&[0x00, 0x05, 0x00, 0x01][..], b"File not found\0"].concat();
    vec![
        (53, dns),
        (69, tftp),
        (123, ntp),
        (137, nb),
        (161, snmp),
        (427, slp),
        (500, ike),
        (623, ipmi),
        (1194, ovpn),
        (1434, mssql),
        (1900, ssdp),
        (3671, knx),
        (5353, mdns),
        (10001, ubnt),
        (47808, bacnet),
    ]
}

#[test]
fn replies_are_recognised() {
    for (port, reply) in sample_replies() {
        assert!(looks_like_reply(port, &reply), "port {port}");
        assert!(!looks_like_reply(port, &[]), "empty on {port}");
    }
    assert!(looks_like_reply(1900, b"http/1.0 200 ok\r\n\r\n"));
}

#[test]
fn own_requests_and_other_protocols_are_not_replies() {
    // Our own datagram reflected back is not an answer (echo services, loops).
    for port in [53, 69, 123, 137, 427, 623, 1194, 1434, 1900, 3671, 5353, 10001] {
        let payload = udp_payload(port).or_else(|| ot_identification_payload(port)).expect("payload");
        assert!(!looks_like_reply(port, payload), "own request on {port}");
    }
    // A DNS answer with someone else's id.
    let mut dns = DNS_VERSION_BIND.to_vec();
    dns[0] = 0x12;
    dns[2] = 0x81;
    assert!(!looks_like_reply(53, &dns));
    // An HTTP error is not an SSDP answer.
    assert!(!looks_like_reply(1900, b"HTTP/1.1 400 Bad Request\r\n\r\n"));
    // Ports without payload never match.
    for port in [0, 22, 9100, 65535] {
        assert!(!looks_like_reply(port, b"HTTP/1.1 200 OK\r\n\r\n"));
    }
}

/// Deterministic xorshift, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn reply_check_never_panics() {
    let mut ports: Vec<u16> = sample_replies().iter().map(|(p, _)| *p).collect();
    ports.extend([0, 1, 22, 9100, 65535]);
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    // Every prefix of every sample reply and of every payload.
    for (_, r) in sample_replies() {
        inputs.extend((0..=r.len()).map(|n| r[..n].to_vec()));
    }
    for port in &ports {
        if let Some(p) = udp_payload(*port).or_else(|| ot_identification_payload(*port)) {
            inputs.extend((0..=p.len()).map(|n| p[..n].to_vec()));
        }
    }
    // Random bytes of random lengths, and all-0xff / all-0x00 blocks.
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for _ in 0..3000 {
        let len = (rng.next() % 300) as usize;
        inputs.push((0..len).map(|_| rng.next() as u8).collect());
    }
    inputs.push(vec![0xff; 2048]);
    inputs.push(vec![0x00; 2048]);
    for port in ports {
        for input in &inputs {
            // The call must return; the value does not matter here.
            let _ = looks_like_reply(port, input);
        }
    }
}
