//! Building probe packets and parsing replies, with no I/O.
//!
//! Probes are built with `pnet_packet` (our own bytes, so its accessors are safe there). Replies come
//! from the network and may be crafted: they are parsed here by hand with every length checked before
//! use, never through pnet's option iterators (pnet #221, #260). A reply that does not parse is
//! dropped, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_base::MacAddr;
use pnet_packet::tcp::{self, MutableTcpPacket, TcpFlags};

/// Length of the TCP header we send: 20 bytes, no options.
const TCP_HEADER_LEN: usize = 20;

/// One packet the scanner wants on the wire. Every variant names its destination explicitly, so
/// the scope check in front of the sender sees exactly where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// TCP SYN: port scan and SYN ping.
    TcpSyn {
        /// Destination address.
        dst: IpAddr,
        /// Destination port.
        dport: u16,
        /// Our source port.
        sport: u16,
        /// Sequence number (a cookie, so replies can be validated without state).
        seq: u32,
    },
    /// TCP ACK: ACK ping; a live host answers with RST whose sequence number is our `ack`.
    TcpAck {
        /// Destination address.
        dst: IpAddr,
        /// Destination port.
        dport: u16,
        /// Our source port.
        sport: u16,
        /// Acknowledgement number (the cookie).
        ack: u32,
    },
    /// ICMP or ICMPv6 echo request.
    Echo {
        /// Destination address.
        dst: IpAddr,
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
    },
    /// ARP who-has for a directly attached IPv4 address.
    Arp {
        /// The address asked for.
        dst: Ipv4Addr,
    },
}

impl Probe {
    /// The address this probe is about: the IP destination, or the ARP target.
    pub fn target(&self) -> IpAddr {
        match *self {
            Probe::TcpSyn { dst, .. } | Probe::TcpAck { dst, .. } | Probe::Echo { dst, .. } => dst,
            Probe::Arp { dst } => IpAddr::V4(dst),
        }
    }
}

/// What came back, already parsed and bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A TCP segment addressed to us.
    Tcp {
        /// Sender address.
        src: IpAddr,
        /// Sender port.
        sport: u16,
        /// Our port.
        dport: u16,
        /// SYN flag.
        syn: bool,
        /// ACK flag.
        ack_flag: bool,
        /// RST flag.
        rst: bool,
        /// Sequence number.
        seq: u32,
        /// Acknowledgement number.
        ack: u32,
    },
    /// ICMP / ICMPv6 echo reply.
    EchoReply {
        /// Sender address.
        src: IpAddr,
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq: u16,
    },
    /// ICMP destination unreachable about a packet we sent.
    Unreachable {
        /// The destination of the original packet.
        orig_dst: IpAddr,
        /// IP protocol of the original packet.
        proto: u8,
        /// Destination port of the original packet (0 when not TCP/UDP).
        orig_dport: u16,
        /// Our source port in the original packet.
        orig_sport: u16,
        /// TCP sequence number of the original packet (the probe's cookie), when the quote holds it
        /// and the original was TCP; `None` otherwise.
        orig_seq: Option<u32>,
    },
    /// ARP reply.
    Arp {
        /// Address that answered.
        ip: Ipv4Addr,
        /// Its hardware address.
        mac: MacAddr,
    },
}

/// Builds a TCP segment (no IP header) for a raw IPPROTO_TCP socket, with a correct checksum.
pub fn build_tcp(src: IpAddr, probe: &Probe, buf: &mut [u8; TCP_HEADER_LEN]) -> Option<usize> {
    let (dst, dport, sport, seq, ack, flags) = match *probe {
        Probe::TcpSyn { dst, dport, sport, seq } => (dst, dport, sport, seq, 0, TcpFlags::SYN),
        Probe::TcpAck { dst, dport, sport, ack } => (dst, dport, sport, 0, ack, TcpFlags::ACK),
        _ => return None,
    };
    buf.fill(0);
    let mut tcp = MutableTcpPacket::new(&mut buf[..])?;
    tcp.set_source(sport);
    tcp.set_destination(dport);
    tcp.set_sequence(seq);
    tcp.set_acknowledgement(ack);
    tcp.set_data_offset(5);
    tcp.set_flags(flags);
    tcp.set_window(1024);
    let checksum = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => tcp::ipv4_checksum(&tcp.to_immutable(), &s, &d),
        (IpAddr::V6(s), IpAddr::V6(d)) => tcp::ipv6_checksum(&tcp.to_immutable(), &s, &d),
        _ => return None,
    };
    tcp.set_checksum(checksum);
    Some(TCP_HEADER_LEN)
}

/// Builds a 20-byte IPv4 header for an IPPROTO_RAW socket. The kernel fills in the header checksum
/// and, since the identification is zero, the identification too.
pub fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload_len: usize) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x45; // version 4, header length 5 words
    let total = (20 + payload_len).min(usize::from(u16::MAX)) as u16;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[8] = 64; // TTL
    h[9] = protocol;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    h
}

/// Builds an ICMP (v4, with checksum) or ICMPv6 (the kernel fills the checksum) echo request.
pub fn build_echo(dst: IpAddr, ident: u16, seq: u16) -> [u8; 16] {
    let kind = if dst.is_ipv4() { 8 } else { 128 };
    let mut pkt = [0u8; 16];
    pkt[0] = kind; // type: echo request
    pkt[1] = 0; // code
    pkt[4..6].copy_from_slice(&ident.to_be_bytes());
    pkt[6..8].copy_from_slice(&seq.to_be_bytes());
    pkt[8..16].copy_from_slice(b"wijkagnt"); // 8 bytes of payload that say who asks
    if dst.is_ipv4() {
        let sum = internet_checksum(&pkt);
        pkt[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    pkt
}

/// Builds an Ethernet broadcast frame carrying an ARP request for `target`.
pub fn build_arp(src_mac: MacAddr, src_ip: Ipv4Addr, target: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]); // destination: broadcast
    f[6..12].copy_from_slice(&mac_bytes(src_mac));
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes()); // EtherType ARP
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // hardware type Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol type IPv4
    f[18] = 6; // hardware address length
    f[19] = 4; // protocol address length
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // operation: request
    f[22..28].copy_from_slice(&mac_bytes(src_mac));
    f[28..32].copy_from_slice(&src_ip.octets());
    // 32..38: target hardware address, zero in a request
    f[38..42].copy_from_slice(&target.octets());
    f
}

fn mac_bytes(m: MacAddr) -> [u8; 6] {
    [m.0, m.1, m.2, m.3, m.4, m.5]
}

/// RFC 1071 one's-complement checksum.
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

/// Skips an IPv4 header, returning (source, destination, protocol, payload).
fn ipv4_parts(pkt: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u8, &[u8])> {
    let first = *pkt.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 || pkt.len() < ihl {
        return None;
    }
    let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
    let dst = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
    Some((src, dst, pkt[9], &pkt[ihl..]))
}

/// Parses a TCP segment; `src` is the sender's address.
pub fn parse_tcp(src: IpAddr, seg: &[u8]) -> Option<Reply> {
    if seg.len() < TCP_HEADER_LEN {
        return None;
    }
    let flags = seg[13];
    Some(Reply::Tcp {
        src,
        sport: be16(seg, 0)?,
        dport: be16(seg, 2)?,
        seq: be32(seg, 4)?,
        ack: be32(seg, 8)?,
        syn: flags & 0x02 != 0,
        ack_flag: flags & 0x10 != 0,
        rst: flags & 0x04 != 0,
    })
}

/// Parses what an IPv4 raw TCP socket returns: the IP header followed by the segment.
pub fn parse_tcp_v4(pkt: &[u8]) -> Option<Reply> {
    let (src, _dst, proto, seg) = ipv4_parts(pkt)?;
    if proto != 6 {
        return None;
    }
    parse_tcp(IpAddr::V4(src), seg)
}

/// Parses what an IPv4 raw ICMP socket returns (IP header + ICMP message).
pub fn parse_icmp_v4(pkt: &[u8]) -> Option<Reply> {
    let (src, _dst, proto, icmp) = ipv4_parts(pkt)?;
    if proto != 1 || icmp.len() < 8 {
        return None;
    }
    match icmp[0] {
        0 => Some(Reply::EchoReply { src: IpAddr::V4(src), ident: be16(icmp, 4)?, seq: be16(icmp, 6)? }),
        3 => {
            // Destination unreachable: 8 bytes of ICMP header, then the original IP header + 8 bytes.
            let (_osrc, odst, oproto, ohead) = ipv4_parts(&icmp[8..])?;
            let (orig_sport, orig_dport) = (be16(ohead, 0).unwrap_or(0), be16(ohead, 2).unwrap_or(0));
            let orig_seq = if oproto == 6 { be32(ohead, 4) } else { None };
            Some(Reply::Unreachable { orig_dst: IpAddr::V4(odst), proto: oproto, orig_dport, orig_sport, orig_seq })
        }
        _ => None,
    }
}

/// Parses what an ICMPv6 raw socket returns (the ICMPv6 message; no IPv6 header).
pub fn parse_icmp_v6(src: Ipv6Addr, msg: &[u8]) -> Option<Reply> {
    if msg.len() < 8 {
        return None;
    }
    match msg[0] {
        129 => Some(Reply::EchoReply { src: IpAddr::V6(src), ident: be16(msg, 4)?, seq: be16(msg, 6)? }),
        1 => {
            // Destination unreachable: 8 bytes header, then the original IPv6 header (40) + 8 bytes.
            let orig = msg.get(8..)?;
            if orig.len() < 44 || orig[0] >> 4 != 6 {
                return None;
            }
            let mut d = [0u8; 16];
            d.copy_from_slice(&orig[24..40]);
            Some(Reply::Unreachable {
                orig_dst: IpAddr::V6(Ipv6Addr::from(d)),
                proto: orig[6],
                orig_sport: be16(orig, 40)?,
                orig_dport: be16(orig, 42)?,
                orig_seq: if orig[6] == 6 { be32(orig, 44) } else { None },
            })
        }
        _ => None,
    }
}

/// Parses an Ethernet frame carrying an ARP reply.
pub fn parse_arp(frame: &[u8]) -> Option<Reply> {
    if frame.len() < 42 || be16(frame, 12)? != 0x0806 {
        return None;
    }
    let arp = &frame[14..];
    if be16(arp, 0)? != 1 || be16(arp, 2)? != 0x0800 || arp[4] != 6 || arp[5] != 4 || be16(arp, 6)? != 2 {
        return None;
    }
    let mac = MacAddr::new(arp[8], arp[9], arp[10], arp[11], arp[12], arp[13]);
    let ip = Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]);
    Some(Reply::Arp { ip, mac })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    #[test]
    fn syn_probe_round_trips_through_the_reply_parser_with_a_valid_checksum() {
        let mut buf = [0u8; 20];
        let probe = Probe::TcpSyn { dst: IpAddr::V4(B), dport: 443, sport: 40000, seq: 0xdead_beef };
        let n = build_tcp(IpAddr::V4(A), &probe, &mut buf).expect("tcp");
        assert_eq!(n, 20);
        // Checksum over pseudo header + segment must fold to zero.
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&A.octets());
        pseudo.extend_from_slice(&B.octets());
        pseudo.extend_from_slice(&[0, 6, 0, 20]);
        pseudo.extend_from_slice(&buf);
        assert_eq!(internet_checksum(&pseudo), 0);
        match parse_tcp(IpAddr::V4(A), &buf) {
            Some(Reply::Tcp { sport: 40000, dport: 443, syn: true, rst: false, ack_flag: false, seq, .. }) => {
                assert_eq!(seq, 0xdead_beef)
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn ipv4_header_for_a_syn_parses_back_with_the_reply_parser() {
        let mut seg = [0u8; 20];
        let probe = Probe::TcpSyn { dst: IpAddr::V4(B), dport: 22, sport: 40001, seq: 9 };
        build_tcp(IpAddr::V4(A), &probe, &mut seg).expect("tcp");
        let mut pkt = ipv4_header(A, B, 6, seg.len()).to_vec();
        pkt.extend_from_slice(&seg);
        assert_eq!(u16::from_be_bytes([pkt[2], pkt[3]]), 40);
        match parse_tcp_v4(&pkt) {
            Some(Reply::Tcp { src, sport: 40001, dport: 22, syn: true, .. }) => assert_eq!(src, IpAddr::V4(A)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn icmp_echo_request_has_a_checksum_that_folds_to_zero() {
        let pkt = build_echo(IpAddr::V4(B), 0x1234, 7);
        assert_eq!(pkt[0], 8);
        assert_eq!(internet_checksum(&pkt), 0);
        assert_eq!(build_echo(IpAddr::V6(Ipv6Addr::LOCALHOST), 1, 1)[0], 128);
    }

    #[test]
    fn arp_request_asks_for_the_target_and_a_reply_parses() {
        let mac = MacAddr::new(2, 0, 0, 0, 0, 1);
        let mut f = build_arp(mac, A, B);
        assert_eq!(&f[38..42], &B.octets());
        // Turn it into the reply B would send: operation 2, sender = B with its MAC.
        f[20..22].copy_from_slice(&2u16.to_be_bytes());
        f[22..28].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[28..32].copy_from_slice(&B.octets());
        assert_eq!(parse_arp(&f), Some(Reply::Arp { ip: B, mac: MacAddr::new(2, 0, 0, 0, 0, 2) }));
    }

    #[test]
    fn icmp_port_unreachable_names_the_original_destination_and_port() {
        // IPv4 header (20) from B, ICMP type 3 code 3, then the original IPv4 header + 8 bytes of UDP.
        let mut p = vec![0x45, 0, 0, 56, 0, 0, 0, 0, 64, 1, 0, 0];
        p.extend_from_slice(&B.octets());
        p.extend_from_slice(&A.octets());
        p.extend_from_slice(&[3, 3, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&[0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0]);
        p.extend_from_slice(&A.octets());
        p.extend_from_slice(&B.octets());
        p.extend_from_slice(&[0x9c, 0x40, 0, 161, 0, 8, 0, 0]); // sport 40000, dport 161
        assert_eq!(
            parse_icmp_v4(&p),
            Some(Reply::Unreachable {
                orig_dst: IpAddr::V4(B),
                proto: 17,
                orig_dport: 161,
                orig_sport: 40000,
                orig_seq: None
            })
        );
    }

    #[test]
    fn icmp_unreachable_about_a_syn_quotes_the_probe_cookie() {
        // The router's ICMP (host unreachable) quotes our SYN's IPv4 header and its first 8 bytes:
        // source port, destination port and the sequence number that carries the cookie.
        let mut seg = [0u8; 20];
        let probe = Probe::TcpSyn { dst: IpAddr::V4(B), dport: 443, sport: 40002, seq: 0x0bad_cafe };
        build_tcp(IpAddr::V4(A), &probe, &mut seg).expect("tcp");
        let mut p = vec![0x45, 0, 0, 56, 0, 0, 0, 0, 64, 1, 0, 0];
        p.extend_from_slice(&B.octets());
        p.extend_from_slice(&A.octets());
        p.extend_from_slice(&[3, 1, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(&ipv4_header(A, B, 6, 20));
        p.extend_from_slice(&seg[..8]);
        let want = Reply::Unreachable {
            orig_dst: IpAddr::V4(B),
            proto: 6,
            orig_dport: 443,
            orig_sport: 40002,
            orig_seq: Some(0x0bad_cafe),
        };
        assert_eq!(parse_icmp_v4(&p), Some(want));
        // A quote cut after the ports (shorter than RFC 792 asks) keeps the ports, not a sequence.
        p.truncate(p.len() - 4);
        assert!(matches!(parse_icmp_v4(&p), Some(Reply::Unreachable { orig_seq: None, orig_dport: 443, .. })));
    }

    #[test]
    fn truncated_and_hostile_packets_are_dropped_without_panicking() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..120 {
            for _ in 0..50 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed as u8
                    })
                    .collect();
                let _ = parse_tcp_v4(&bytes);
                let _ = parse_icmp_v4(&bytes);
                let _ = parse_icmp_v6(Ipv6Addr::LOCALHOST, &bytes);
                let _ = parse_arp(&bytes);
                let _ = parse_tcp(IpAddr::V4(A), &bytes);
            }
        }
        // An IPv4 header claiming a 60-byte header in a 20-byte packet is refused.
        let mut short = [0u8; 20];
        short[0] = 0x4f;
        assert_eq!(parse_tcp_v4(&short), None);
    }
}
