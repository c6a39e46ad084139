//! Ethernet frames of the raw fake: parsing the TCP segments it reacts to and building the ones it
//! sends (TCP answers and ICMP destination unreachables), with correct IPv4, TCP and ICMP checksums.
//! No I/O; every length is checked before use, so a malformed frame is ignored, never a panic.

use std::net::Ipv4Addr;

/// TCP flag bit SYN.
pub const SYN: u8 = 0x02;
/// RST.
pub const RST: u8 = 0x04;
/// ACK.
pub const ACK: u8 = 0x10;

const ETH_LEN: usize = 14;
const IP_LEN: usize = 20;
const TCP_LEN: usize = 20;

/// A MAC address.
pub type Mac = [u8; 6];

/// The parts of an Ethernet frame carrying IPv4 and TCP that the fake looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFrame<'a> {
    /// Ethernet source.
    pub eth_src: Mac,
    /// IPv4 source.
    pub src: Ipv4Addr,
    /// IPv4 destination.
    pub dst: Ipv4Addr,
    /// TCP source port.
    pub sport: u16,
    /// TCP destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flag bits.
    pub flags: u8,
    /// The IPv4 header as received (what an ICMP error quotes), followed by the first 8 bytes of
    /// the segment.
    pub quote: &'a [u8],
}

impl TcpFrame<'_> {
    /// A connection request: SYN without ACK.
    pub fn is_syn(&self) -> bool {
        self.flags & (SYN | ACK | RST) == SYN
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parses an Ethernet II frame with an IPv4 header and (the start of) a TCP segment.
pub fn parse_tcp(frame: &[u8]) -> Option<TcpFrame<'_>> {
    if be16(frame, 12)? != 0x0800 {
        return None;
    }
    let ip = frame.get(ETH_LEN..)?;
    let first = *ip.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < IP_LEN || ip.get(9) != Some(&6) {
        return None;
    }
    let tcp = ip.get(ihl..)?;
    if tcp.len() < TCP_LEN {
        return None;
    }
    let v4 = |at: usize| Some(Ipv4Addr::new(*ip.get(at)?, *ip.get(at + 1)?, *ip.get(at + 2)?, *ip.get(at + 3)?));
    Some(TcpFrame {
        eth_src: frame.get(6..12)?.try_into().ok()?,
        src: v4(12)?,
        dst: v4(16)?,
        sport: be16(tcp, 0)?,
        dport: be16(tcp, 2)?,
        seq: be32(tcp, 4)?,
        ack: be32(tcp, 8)?,
        flags: tcp[13],
        quote: ip.get(..ihl + 8)?,
    })
}

/// RFC 1071 one's-complement checksum over several parts.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for part in parts {
        for &b in *part {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(hi) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A 20-byte IPv4 header with its checksum.
pub fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: usize, id: u16) -> [u8; IP_LEN] {
    let mut h = [0u8; IP_LEN];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&((IP_LEN + payload) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6] = 0x40; // don't fragment
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let sum = checksum(&[&h]);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h
}

fn ethernet(dst: Mac, src: Mac, ip_packet: &[&[u8]]) -> Vec<u8> {
    let mut f = Vec::with_capacity(ETH_LEN + ip_packet.iter().map(|p| p.len()).sum::<usize>());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    ip_packet.iter().for_each(|p| f.extend_from_slice(p));
    f
}

/// Where a frame goes and comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Our MAC.
    pub mac: Mac,
    /// Our IPv4 address.
    pub ip: Ipv4Addr,
    /// The peer's MAC.
    pub peer_mac: Mac,
    /// The peer's IPv4 address.
    pub peer: Ipv4Addr,
}

/// A TCP segment without options or payload from us to the peer.
pub fn tcp_segment(link: &Link, sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, id: u16) -> Vec<u8> {
    let mut t = [0u8; TCP_LEN];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = 0x50; // 5 words, no options
    t[13] = flags;
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    let mut pseudo = [0u8; 12];
    pseudo[0..4].copy_from_slice(&link.ip.octets());
    pseudo[4..8].copy_from_slice(&link.peer.octets());
    pseudo[9] = 6;
    pseudo[10..12].copy_from_slice(&(TCP_LEN as u16).to_be_bytes());
    let sum = checksum(&[&pseudo, &t]);
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    let ip = ipv4_header(link.ip, link.peer, 6, TCP_LEN, id);
    ethernet(link.peer_mac, link.mac, &[&ip, &t])
}

/// An ICMP destination unreachable (`code`) from us to the peer, quoting `quote` (an IPv4 header
/// and at least the first 8 bytes of what it carried).
pub fn icmp_unreachable(link: &Link, code: u8, quote: &[u8], id: u16) -> Vec<u8> {
    let mut icmp = Vec::with_capacity(8 + quote.len());
    icmp.extend_from_slice(&[3, code, 0, 0, 0, 0, 0, 0]);
    icmp.extend_from_slice(quote);
    let sum = checksum(&[&icmp]);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let ip = ipv4_header(link.ip, link.peer, 1, icmp.len(), id);
    ethernet(link.peer_mac, link.mac, &[&ip, &icmp])
}

/// Recomputes the TCP checksum of an Ethernet/IPv4/TCP frame in place. A frame captured on its
/// way out may carry only a partial checksum (the interface, or veth's peer, would finish it); a
/// replayed copy must carry the full one. False if the frame is not IPv4/TCP or is cut short.
pub fn fix_tcp_checksum(frame: &mut [u8]) -> bool {
    let Some(ip) = frame.get(ETH_LEN..) else { return false };
    let ihl = usize::from(ip.first().copied().unwrap_or(0) & 0x0f) * 4;
    let total = be16(ip, 2).map_or(0, usize::from);
    if parse_tcp(frame).is_none() || total < ihl + TCP_LEN || frame.len() < ETH_LEN + total {
        return false;
    }
    let ip = &mut frame[ETH_LEN..ETH_LEN + total];
    let mut pseudo = [0u8; 12];
    pseudo[0..8].copy_from_slice(&ip[12..20]);
    pseudo[9] = 6;
    pseudo[10..12].copy_from_slice(&((total - ihl) as u16).to_be_bytes());
    let (_, seg) = ip.split_at_mut(ihl);
    seg[16..18].fill(0);
    let sum = checksum(&[&pseudo, seg]);
    seg[16..18].copy_from_slice(&sum.to_be_bytes());
    true
}

/// What an ICMP error would quote of a TCP segment from `src` to `dst` that nobody sent: an IPv4
/// header and the first 8 bytes of a TCP header (ports and sequence number).
pub fn forged_quote(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, seq: u32) -> Vec<u8> {
    let mut q = ipv4_header(src, dst, 6, TCP_LEN, 0).to_vec();
    q.extend_from_slice(&sport.to_be_bytes());
    q.extend_from_slice(&dport.to_be_bytes());
    q.extend_from_slice(&seq.to_be_bytes());
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 9, 2);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 9, 70);

    fn link() -> Link {
        Link { mac: [2, 0, 0, 0, 0, 70], ip: B, peer_mac: [2, 0, 0, 0, 0, 2], peer: A }
    }

    #[test]
    fn a_built_segment_parses_back_with_valid_checksums() {
        let f = tcp_segment(&link(), 22, 40001, 7, 0x1000_0001, SYN | ACK, 5);
        let t = parse_tcp(&f).expect("parses");
        assert_eq!((t.src, t.dst, t.sport, t.dport, t.seq, t.ack), (B, A, 22, 40001, 7, 0x1000_0001));
        assert_eq!(t.flags, SYN | ACK);
        assert!(!t.is_syn());
        assert_eq!(&f[0..6], &[2, 0, 0, 0, 0, 2], "to the peer's MAC");
        assert_eq!(checksum(&[&f[ETH_LEN..ETH_LEN + IP_LEN]]), 0, "IPv4 header checksum");
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&B.octets());
        pseudo.extend_from_slice(&A.octets());
        pseudo.extend_from_slice(&[0, 6, 0, 20]);
        assert_eq!(checksum(&[&pseudo, &f[ETH_LEN + IP_LEN..]]), 0, "TCP checksum");
        assert_eq!(t.quote.len(), IP_LEN + 8);
    }

    #[test]
    fn a_partial_checksum_is_completed() {
        let good = tcp_segment(&link(), 6379, 40001, 9, 10, SYN | ACK, 3);
        let mut partial = good.clone();
        partial[ETH_LEN + IP_LEN + 16] = 0x12; // what an offloading interface leaves there
        partial[ETH_LEN + IP_LEN + 17] = 0x34;
        assert!(fix_tcp_checksum(&mut partial));
        assert_eq!(partial, good);
        assert!(!fix_tcp_checksum(&mut partial[..30].to_vec()));
    }

    #[test]
    fn an_unreachable_quotes_the_syn_and_checks_out() {
        let peer = Link { mac: link().peer_mac, ip: A, peer_mac: link().mac, peer: B };
        let syn = tcp_segment(&peer, 40001, 443, 0xcafe_0000, 0, SYN, 1);
        let t = parse_tcp(&syn).expect("syn");
        assert!(t.is_syn());
        let icmp = icmp_unreachable(&link(), 3, t.quote, 2);
        let body = &icmp[ETH_LEN + IP_LEN..];
        assert_eq!((body[0], body[1]), (3, 3));
        assert_eq!(checksum(&[body]), 0, "ICMP checksum");
        assert_eq!(&body[8..], t.quote, "quotes the SYN's header and ports and sequence number");
        let forged = forged_quote(A, Ipv4Addr::new(198, 18, 9, 71), 40001, 22, 99);
        assert_eq!(forged.len(), 28);
        assert_eq!(u32::from_be_bytes([forged[24], forged[25], forged[26], forged[27]]), 99);
    }

    #[test]
    fn anything_else_is_ignored_without_panicking() {
        assert_eq!(parse_tcp(&[]), None);
        let mut f = tcp_segment(&link(), 1, 2, 3, 4, SYN, 0);
        f[ETH_LEN + 9] = 17; // UDP
        assert_eq!(parse_tcp(&f), None);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..80 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let _ = parse_tcp(&bytes);
        }
        let short = &tcp_segment(&link(), 1, 2, 3, 4, SYN, 0)[..ETH_LEN + IP_LEN + 10];
        assert_eq!(parse_tcp(short), None);
    }
}
