//! NTP identification (UDP 123): one client request
//! ([`NTP_CLIENT`](crate::ports::udp_payloads::NTP_CLIENT)), and from the server's answer its NTP
//! version, stratum, reference id (a clock name for stratum 1, the upstream server's IPv4 address
//! from stratum 2 on, a kiss code for stratum 0) and leap indicator. Only mode 3 (client) is ever
//! sent: no control or private-mode queries.

use std::net::Ipv4Addr;

use super::io::{self, ProbeError};
use super::{Limits, ServiceInfo, Target};
use crate::ports::udp_payloads::NTP_CLIENT;

/// What a server's answer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NtpReply {
    /// Leap indicator (3 = clock not synchronised).
    pub leap: u8,
    /// NTP version.
    pub version: u8,
    /// Mode (4 = server).
    pub mode: u8,
    /// Stratum (0 = kiss-o'-death, 1 = primary, 16 = unsynchronised).
    pub stratum: u8,
    /// Reference id, raw.
    pub reference_id: [u8; 4],
    /// The server echoed our transmit timestamp as its origin timestamp.
    pub echoed: bool,
}

impl NtpReply {
    /// The reference id as people read it.
    pub fn reference(&self) -> String {
        let r = self.reference_id;
        match self.stratum {
            0 | 1 => io::sanitize_bytes(r.split(|&b| b == 0).next().unwrap_or(&r[..]), 4),
            _ if self.version >= 3 => Ipv4Addr::from(r).to_string(),
            _ => format!("{:02x}{:02x}{:02x}{:02x}", r[0], r[1], r[2], r[3]),
        }
    }
}

/// Parses a 48-byte (or longer, with extensions) NTP answer.
pub(crate) fn parse_reply(bytes: &[u8]) -> Option<NtpReply> {
    let b = bytes.get(..48)?;
    let reply = NtpReply {
        leap: b[0] >> 6,
        version: (b[0] >> 3) & 0x07,
        mode: b[0] & 0x07,
        stratum: b[1],
        reference_id: [b[12], b[13], b[14], b[15]],
        echoed: b[24..32] == NTP_CLIENT[40..48],
    };
    (reply.mode == 4 && (1..=4).contains(&reply.version)).then_some(reply)
}

/// Identifies NTP on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::for_port(target, "ntp");
    match io::udp_exchange(target, &NTP_CLIENT, limits).await {
        Ok(bytes) => match parse_reply(&bytes) {
            Some(reply) => describe(&mut info, &reply),
            None => info.note = Some(ProbeError::Protocol(io::sanitize_bytes(&bytes, 40)).note()),
        },
        Err(e) => info.note = Some(e.note()),
    }
    info
}

/// Fills `info` from an answer.
fn describe(info: &mut ServiceInfo, reply: &NtpReply) {
    info.service = Some("ntp".into());
    info.detail("ntp-version", &reply.version.to_string());
    let stratum = match reply.stratum {
        0 => "0 (kiss-o'-death)".to_string(),
        1 => "1 (primaire bron)".to_string(),
        16 => "16 (niet gesynchroniseerd)".to_string(),
        s => s.to_string(),
    };
    info.detail("stratum", &stratum);
    let key = if reply.stratum == 0 { "kiss-code" } else { "reference-id" };
    info.detail(key, &reply.reference());
    if reply.leap == 3 {
        info.detail("leap", "klok niet gesynchroniseerd (LI=3)");
    }
    if !reply.echoed {
        info.detail("origin", "ons zendtijdstip niet teruggestuurd");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake;

    /// A stratum-2 NTPv4 server answer synchronised to 192.0.2.123.
    fn server_reply() -> [u8; 48] {
        let mut r = [0u8; 48];
        r[0] = 0x24; // LI 0, version 4, mode 4 (server)
        r[1] = 2; // stratum 2
        r[2] = 6; // poll
        r[3] = 0xe9; // precision
        r[12..16].copy_from_slice(&[192, 0, 2, 123]); // reference id: upstream IPv4
        r[24..32].copy_from_slice(b"wijkagnt"); // origin timestamp: our transmit timestamp
        r[40..48].copy_from_slice(&[0xe9, 0, 0, 0, 0, 0, 0, 1]); // transmit timestamp
        r
    }

    #[test]
    fn parses_a_server_answer() {
        let reply = parse_reply(&server_reply()).expect("reply");
        assert_eq!((reply.version, reply.mode, reply.stratum, reply.leap), (4, 4, 2, 0));
        assert_eq!(reply.reference(), "192.0.2.123");
        assert!(reply.echoed);
        let mut gps = server_reply();
        gps[1] = 1;
        gps[12..16].copy_from_slice(b"GPS\0");
        assert_eq!(parse_reply(&gps).expect("reply").reference(), "GPS");
    }

    #[test]
    fn refuses_short_and_non_server_answers() {
        assert_eq!(parse_reply(&server_reply()[..47]), None);
        assert_eq!(parse_reply(&[]), None);
        assert_eq!(parse_reply(&NTP_CLIENT), None); // mode 3: our own request reflected
        let mut v0 = server_reply();
        v0[0] = 0x04; // version 0
        assert_eq!(parse_reply(&v0), None);
    }

    async fn fake_server(reply: Option<[u8; 48]>) -> fake::Server {
        fake::udp(move |_| reply.map(|r| r.to_vec())).await
    }

    #[tokio::test]
    async fn reads_stratum_and_reference_from_a_server() {
        let server = fake_server(Some(server_reply())).await;
        let info = identify(&server.target, &fake::deadline(2000)).await;
        assert_eq!(info.service.as_deref(), Some("ntp"));
        assert_eq!(info.details.get("stratum").map(String::as_str), Some("2"));
        assert_eq!(info.details.get("reference-id").map(String::as_str), Some("192.0.2.123"));
        assert_eq!(info.details.get("ntp-version").map(String::as_str), Some("4"));
        assert!(info.observations.is_empty());
    }

    #[tokio::test]
    async fn a_silent_server_ends_within_the_limits() {
        let server = fake_server(None).await;
        fake::times_out(&server.target, 300, 800, identify).await;
    }
}
