//! Probe datagrams for the UDP ports of the profiles, built by hand, one documented byte array per
//! protocol, and [`looks_like_reply`], a minimal check that an answer speaks the protocol we asked in.
//!
//! A UDP port only answers a question it understands, so an empty datagram tells "closed" (ICMP port
//! unreachable) from "open or filtered" and nothing more. Each payload here is the smallest harmless
//! question a service answers: a status or version query, never a change.
//!
//! - [`udp_payload`]: the ordinary probes (DNS, NTP, SNMP, NetBIOS, SSDP, mDNS, TFTP, SLP, IKE, IPMI,
//!   OpenVPN, SQL Server Browser, Ubiquiti discovery).
//! - [`ot_identification_payload`]: identification requests for building controls (BACnet, KNX). They
//!   are kept apart on purpose: a caller must check the consent's `ot_identification` before sending
//!   them, and [`udp_payload`] returns `None` for those ports so that forgetting the check sends an
//!   empty datagram, not an OT request.
//!
//! Printer ports and hosts in a consent's `fragile` ranges get no payload at all; that rule is the
//! caller's (see [`super::is_printer_port`]).
//!
//! Replies to TFTP come from a fresh server port (RFC 1350 transfer identifiers), so a socket
//! `connect`ed to port 69 never sees them: with such a socket TFTP shows closed or open|filtered only.
//!
//! Identifiers that the payloads carry (DNS id, SNMP request id, IKE cookie, …) spell "wk" / "wijkagnt"
//! so that an administrator who finds them in a log can tell where they came from.

/// DNS id, NBSTAT id, SLP XID: "wk".
const ID: [u8; 2] = [0x77, 0x6b];

/// IKE initiator cookie and OpenVPN session id: "wijkagnt".
const COOKIE: [u8; 8] = *b"wijkagnt";

/// DNS (53): standard query, recursion desired, for `version.bind` TXT in class CHAOS (the server's
/// software version; any DNS server answers, if only with REFUSED or NOTIMP).
pub const DNS_VERSION_BIND: [u8; 30] = [
    // --- header (RFC 1035 4.1.1)
    0x77, 0x6b, // ID "wk"
    0x01, 0x00, // QR=0 query, OPCODE=0 standard, AA=0, TC=0, RD=1 | RA=0, Z=0, RCODE=0
    0x00, 0x01, // QDCOUNT 1
    0x00, 0x00, // ANCOUNT 0
    0x00, 0x00, // NSCOUNT 0
    0x00, 0x00, // ARCOUNT 0
    // --- question
    0x07, b'v', b'e', b'r', b's', b'i', b'o', b'n', // label "version"
    0x04, b'b', b'i', b'n', b'd', // label "bind"
    0x00, // root label
    0x00, 0x10, // QTYPE TXT (16)
    0x00, 0x03, // QCLASS CH (3)
];

/// NTP (123): 48-byte NTPv4 client request (RFC 5905 7.3). Only the first byte and the transmit
/// timestamp are set; the server copies the transmit timestamp into its origin timestamp.
pub const NTP_CLIENT: [u8; 48] = [
    0x23, // LI=0 (no warning) | VN=4 | Mode=3 (client): 0b00_100_011
    0x00, // stratum: unspecified
    0x00, // poll interval
    0x00, // precision
    0x00, 0x00, 0x00, 0x00, // root delay
    0x00, 0x00, 0x00, 0x00, // root dispersion
    0x00, 0x00, 0x00, 0x00, // reference id
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // reference timestamp
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // origin timestamp
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // receive timestamp
    b'w', b'i', b'j', b'k', b'a', b'g', b'n', b't', // transmit timestamp: "wijkagnt", non-zero
];

/// SNMP (161): SNMPv2c GetRequest for sysDescr.0 (1.3.6.1.2.1.1.1.0) with community "public"
/// (RFC 3416, BER as in X.690; every length is short-form).
pub const SNMP_V2C_SYSDESCR: [u8; 43] = [
    0x30, 0x29, // SEQUENCE Message, 41 bytes
    0x02, 0x01, 0x01, //   INTEGER version = 1 (SNMPv2c)
    0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', //   OCTET STRING community "public"
    0xa0, 0x1c, //   [0] GetRequest-PDU, 28 bytes
    0x02, 0x04, 0x77, 0x6b, 0x61, 0x67, //     INTEGER request-id 0x776b6167 ("wkag")
    0x02, 0x01, 0x00, //     INTEGER error-status 0
    0x02, 0x01, 0x00, //     INTEGER error-index 0
    0x30, 0x0e, //     SEQUENCE VarBindList, 14 bytes
    0x30, 0x0c, //       SEQUENCE VarBind, 12 bytes
    0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, //         OID 1.3.6.1.2.1.1.1.0
    0x05, 0x00, //         NULL value
];

/// NetBIOS name service (137): node status request (NBSTAT) for the wildcard name "*" (RFC 1002
/// 4.2.17), answered with the host's NetBIOS names, domain and MAC address.
pub const NETBIOS_NBSTAT: [u8; 50] = [
    // --- header
    0x77, 0x6b, // NAME_TRN_ID "wk"
    0x00, 0x00, // R=0 request, OPCODE=0 query, NM_FLAGS=0 (unicast, no recursion), RCODE=0
    0x00, 0x01, // QDCOUNT 1
    0x00, 0x00, // ANCOUNT 0
    0x00, 0x00, // NSCOUNT 0
    0x00, 0x00, // ARCOUNT 0
    // --- question name: "*" padded with 15 NULs, first-level encoded (each nibble + 'A')
    0x20, // label length 32
    b'C', b'K', // '*' = 0x2a -> 'A'+0x2, 'A'+0xa
    b'A', b'A', b'A', b'A', b'A', b'A', b'A', b'A', b'A', b'A', // NUL x5
    b'A', b'A', b'A', b'A', b'A', b'A', b'A', b'A', b'A', b'A', // NUL x5
    b'A', b'A', b'A', b'A', b'A', b'A', b'A', b'A', b'A', b'A', // NUL x5
    0x00, // root label
    0x00, 0x21, // QUESTION_TYPE NBSTAT (0x21)
    0x00, 0x01, // QUESTION_CLASS IN
];

/// SSDP (1900): UPnP M-SEARCH for everything (UPnP Device Architecture 1.1, 1.3.2), sent unicast to
/// the host; devices answer with `HTTP/1.1 200 OK` and the URL of their description.
pub const SSDP_MSEARCH: &[u8] = b"M-SEARCH * HTTP/1.1\r\n\
HOST: 239.255.255.250:1900\r\n\
MAN: \"ssdp:discover\"\r\n\
MX: 1\r\n\
ST: ssdp:all\r\n\
\r\n";

/// mDNS (5353): one-shot query asking for a unicast response (RFC 6762 5.4, 6.7) for the DNS-SD
/// service type enumeration `_services._dns-sd._udp.local` PTR (RFC 6763 9).
pub const MDNS_SERVICES: [u8; 46] = [
    // --- header
    0x77, 0x6b, // ID "wk" (echoed by responders to queries from a port other than 5353)
    0x00, 0x00, // QR=0 query, OPCODE=0, no flags (mDNS ignores RD)
    0x00, 0x01, // QDCOUNT 1
    0x00, 0x00, // ANCOUNT 0
    0x00, 0x00, // NSCOUNT 0
    0x00, 0x00, // ARCOUNT 0
    // --- question
    0x09, b'_', b's', b'e', b'r', b'v', b'i', b'c', b'e', b's', // label "_services"
    0x07, b'_', b'd', b'n', b's', b'-', b's', b'd', // label "_dns-sd"
    0x04, b'_', b'u', b'd', b'p', // label "_udp"
    0x05, b'l', b'o', b'c', b'a', b'l', // label "local"
    0x00, // root label
    0x00, 0x0c, // QTYPE PTR (12)
    0x80, 0x01, // QCLASS: top bit QU (unicast response requested) | IN (1)
];

/// TFTP (69): read request (RFC 1350) for a file that does not exist; a server answers ERROR 1 (file
/// not found), or DATA if someone made the file. Nothing is written.
pub const TFTP_RRQ: [u8; 24] = [
    0x00, 0x01, // opcode 1: RRQ
    b'w', b'i', b'j', b'k', b'a', b'g', b'e', b'n', b't', b'-', b'p', b'r', b'o', b'b', b'e', // filename
    0x00, // end of filename
    b'o', b'c', b't', b'e', b't', // mode "octet"
    0x00, // end of mode
];

/// SLP (427): SLPv2 service type request for all naming authorities in scope DEFAULT (RFC 2608 10.1),
/// answered with the service types the host offers (ESXi: `service:VMwareInfrastructure`, `wbem`).
pub const SLP_SRVTYPERQST: [u8; 29] = [
    // --- header (RFC 2608 8)
    0x02, // version 2
    0x09, // function 9: SrvTypeRqst
    0x00, 0x00, 0x1d, // length 29 (3 bytes)
    0x00, 0x00, // flags: O=0, F=0, R=0 (unicast)
    0x00, 0x00, 0x00, // next extension offset: none
    0x77, 0x6b, // XID "wk"
    0x00, 0x02, // language tag length 2
    b'e', b'n', // language tag "en"
    // --- SrvTypeRqst body
    0x00, 0x00, // PRList length 0
    0xff, 0xff, // naming authority length 0xFFFF: all naming authorities
    0x00, 0x07, // scope list length 7
    b'D', b'E', b'F', b'A', b'U', b'L', b'T', // scope list "DEFAULT"
];

/// IKE (500): IKEv1 Main Mode first message (RFC 2408, 2409) with one ISAKMP proposal of one transform:
/// AES-128-CBC, SHA-1, pre-shared key, MODP-2048, 8 hours. A gateway answers with its own SA or a
/// NO-PROPOSAL-CHOSEN notification; no key material is exchanged in this first message.
pub const IKE_MAIN_MODE: [u8; 84] = [
    // --- ISAKMP header, 28 bytes
    b'w', b'i', b'j', b'k', b'a', b'g', b'n', b't', // initiator cookie "wijkagnt"
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // responder cookie: 0
    0x01, // next payload: SA (1)
    0x10, // version 1.0 (major 1, minor 0)
    0x02, // exchange type: Identity Protection (Main Mode)
    0x00, // flags: none
    0x00, 0x00, 0x00, 0x00, // message id 0
    0x00, 0x00, 0x00, 0x54, // total length 84
    // --- SA payload, 56 bytes
    0x00, // next payload: none
    0x00, // reserved
    0x00, 0x38, // payload length 56
    0x00, 0x00, 0x00, 0x01, // DOI: IPsec (1)
    0x00, 0x00, 0x00, 0x01, // situation: SIT_IDENTITY_ONLY
    // --- Proposal payload, 44 bytes
    0x00, // next payload: none (last proposal)
    0x00, // reserved
    0x00, 0x2c, // payload length 44
    0x01, // proposal #1
    0x01, // protocol: PROTO_ISAKMP
    0x00, // SPI size 0
    0x01, // number of transforms 1
    // --- Transform payload, 36 bytes
    0x00, // next payload: none (last transform)
    0x00, // reserved
    0x00, 0x24, // payload length 36
    0x01, // transform #1
    0x01, // transform id: KEY_IKE
    0x00, 0x00, // reserved
    0x80, 0x01, 0x00, 0x07, // attribute (TV) encryption algorithm = AES-CBC (7)
    0x80, 0x0e, 0x00, 0x80, // attribute (TV) key length = 128
    0x80, 0x02, 0x00, 0x02, // attribute (TV) hash algorithm = SHA (2)
    0x80, 0x03, 0x00, 0x01, // attribute (TV) authentication method = pre-shared key (1)
    0x80, 0x04, 0x00, 0x0e, // attribute (TV) group description = MODP-2048 (14)
    0x80, 0x0b, 0x00, 0x01, // attribute (TV) life type = seconds (1)
    0x80, 0x0c, 0x70, 0x80, // attribute (TV) life duration = 28800
];

/// IPMI / RMCP (623): IPMI v1.5 session-less Get Channel Authentication Capabilities (IPMI 2.0 spec
/// 22.13), the first message of every IPMI session; answered with the supported authentication types.
pub const IPMI_GET_CHANNEL_AUTH: [u8; 23] = [
    // --- RMCP header
    0x06, // RMCP version 1.0
    0x00, // reserved
    0xff, // sequence number 0xFF: no RMCP ACK
    0x07, // class: IPMI (normal message)
    // --- IPMI v1.5 session header
    0x00, // authentication type: none
    0x00, 0x00, 0x00, 0x00, // session sequence number 0
    0x00, 0x00, 0x00, 0x00, // session id 0
    0x09, // message length 9
    // --- IPMI message
    0x20, // rsAddr: BMC
    0x18, // netFn 0x06 (App request) << 2 | rsLUN 0
    0xc8, // checksum 1: -(0x20 + 0x18) mod 256
    0x81, // rqAddr: remote console software id
    0x00, // rqSeq 0 << 2 | rqLUN 0
    0x38, // command: Get Channel Authentication Capabilities
    0x8e, // channel 0x0E (this channel) | bit 7: report IPMI v2.0 extended capabilities
    0x04, // requested privilege level: administrator
    0xb5, // checksum 2: -(0x81 + 0x00 + 0x38 + 0x8e + 0x04) mod 256
];

/// OpenVPN (1194): P_CONTROL_HARD_RESET_CLIENT_V2, the first packet of a session, without tls-auth.
/// Servers without tls-auth/tls-crypt answer P_CONTROL_HARD_RESET_SERVER_V2; the others stay silent.
pub const OPENVPN_HARD_RESET: [u8; 14] = [
    0x38, // opcode 7 (P_CONTROL_HARD_RESET_CLIENT_V2) << 3 | key id 0
    b'w', b'i', b'j', b'k', b'a', b'g', b'n', b't', // session id "wijkagnt"
    0x00, // ack packet-id array length 0
    0x00, 0x00, 0x00, 0x00, // message packet-id 0
];

/// SQL Server Browser (1434): CLNT_UCAST_EX ([MC-SQLR] 2.2.2), answered with every instance's name,
/// version and port.
pub const MSSQL_BROWSER: [u8; 1] = [
    0x03, // CLNT_UCAST_EX: list all instances
];

/// Ubiquiti discovery (10001): version 1 discovery request, answered by UniFi/airOS devices with
/// model, firmware, name and addresses.
pub const UBIQUITI_DISCOVERY: [u8; 4] = [
    0x01, // version 1
    0x00, // command 0: discovery
    0x00, 0x00, // payload length 0
];

/// BACnet/IP (47808), OT identification: ReadProperty of the object-identifier of the device with
/// the wildcard instance 4194303 (ASHRAE 135 annex J, 15.5), answered by any BACnet device with its
/// real device instance. Send only with `ot_identification = true`.
pub const BACNET_READ_DEVICE_ID: [u8; 17] = [
    // --- BVLC (annex J)
    0x81, // type: BACnet/IP
    0x0a, // function: Original-Unicast-NPDU
    0x00, 0x11, // BVLC length 17
    // --- NPDU
    0x01, // protocol version 1
    0x04, // control: expecting reply, no destination/source specifiers
    // --- APDU: Confirmed-Request ReadProperty
    0x00, // PDU type 0 (confirmed request), not segmented
    0x05, // max segments: unspecified | max APDU: 1476 octets
    0x01, // invoke id 1
    0x0c, // service choice 12: ReadProperty
    0x0c, 0x02, 0x3f, 0xff, 0xff, // context tag 0, 4 bytes: object id device (8) << 22 | 4194303
    0x19, 0x4b, // context tag 1, 1 byte: property identifier 75 (object-identifier)
];

/// KNXnet/IP (3671), OT identification: DESCRIPTION_REQUEST (KNXnet/IP Core 7.8.1) with a "route back"
/// endpoint 0.0.0.0:0, so the device answers to the sender; answered with the device's name, KNX
/// address and serial number. Send only with `ot_identification = true`.
pub const KNX_DESCRIPTION_REQUEST: [u8; 14] = [
    // --- KNXnet/IP header
    0x06, // header length 6
    0x10, // protocol version 1.0
    0x02, 0x03, // service type DESCRIPTION_REQUEST (0x0203)
    0x00, 0x0e, // total length 14
    // --- HPAI: control endpoint
    0x08, // structure length 8
    0x01, // host protocol: IPv4 UDP
    0x00, 0x00, 0x00, 0x00, // IP address 0.0.0.0: reply to the sender
    0x00, 0x00, // port 0: reply to the sender
];

/// The probe payload for a UDP port, if there is one. `None` for building-control ports: see
/// [`ot_identification_payload`].
pub fn udp_payload(port: u16) -> Option<&'static [u8]> {
    Some(match port {
        53 => &DNS_VERSION_BIND,
        69 => &TFTP_RRQ,
        123 => &NTP_CLIENT,
        137 => &NETBIOS_NBSTAT,
        161 => &SNMP_V2C_SYSDESCR,
        427 => &SLP_SRVTYPERQST,
        500 => &IKE_MAIN_MODE,
        623 => &IPMI_GET_CHANNEL_AUTH,
        1194 => &OPENVPN_HARD_RESET,
        1434 => &MSSQL_BROWSER,
        1900 => SSDP_MSEARCH,
        5353 => &MDNS_SERVICES,
        10001 => &UBIQUITI_DISCOVERY,
        _ => return None,
    })
}

/// The identification request for a building-control UDP port (BACnet 47808, KNXnet/IP 3671).
/// Send it only when the consent says `ot_identification = true`.
pub fn ot_identification_payload(port: u16) -> Option<&'static [u8]> {
    Some(match port {
        3671 => &KNX_DESCRIPTION_REQUEST,
        47808 => &BACNET_READ_DEVICE_ID,
        _ => return None,
    })
}

/// Whether `reply`, received from a UDP `port` after its payload, looks like an answer in that
/// protocol. A minimal check (ids, message type bits, magic bytes), not a parser; it reads only
/// within `reply` and never panics. `false` for ports without a payload.
pub fn looks_like_reply(port: u16, reply: &[u8]) -> bool {
    let at = |i: usize| reply.get(i).copied();
    let starts = |prefix: &[u8]| reply.starts_with(prefix);
    match port {
        // DNS: our id, QR bit set.
        53 => starts(&ID) && at(2).is_some_and(|b| b & 0x80 != 0) && reply.len() >= 12,
        // TFTP: DATA (3) or ERROR (5).
        69 => reply.len() >= 4 && (starts(&[0x00, 0x03]) || starts(&[0x00, 0x05])),
        // NTP: at least 48 bytes, mode 4 (server), version 1-4.
        123 => reply.len() >= 48 && at(0).is_some_and(|b| b & 0x07 == 4 && (1..=4).contains(&((b >> 3) & 0x07))),
        // NetBIOS: our transaction id, response bit set.
        137 => reply.len() >= 12 && starts(&ID) && at(2).is_some_and(|b| b & 0x80 != 0),
        // SNMP: a BER SEQUENCE.
        161 => reply.len() >= 2 && at(0) == Some(0x30),
        // SLP: version 2, SrvTypeRply (10), our XID.
        427 => reply.len() >= 12 && at(0) == Some(2) && at(1) == Some(10) && reply.get(10..12) == Some(&ID[..]),
        // IKE: our initiator cookie echoed in a full header.
        500 => reply.len() >= 28 && starts(&COOKIE),
        // IPMI: RMCP version 1.0, class IPMI; without session authentication, a response netFn (odd).
        623 => starts(&[0x06, 0x00, 0xff, 0x07]) && (at(4) != Some(0x00) || at(15).is_some_and(|b| (b >> 2) & 1 == 1)),
        // OpenVPN: P_CONTROL_HARD_RESET_SERVER_V2 (opcode 8).
        1194 => reply.len() >= 14 && at(0).is_some_and(|b| b >> 3 == 8),
        // SQL Server Browser: SVR_RESP.
        1434 => reply.len() >= 3 && at(0) == Some(0x05),
        // SSDP: an HTTP 200 status line.
        1900 => {
            let head = reply.get(..12).unwrap_or(reply);
            head.eq_ignore_ascii_case(b"HTTP/1.1 200") || head.eq_ignore_ascii_case(b"HTTP/1.0 200")
        }
        // KNXnet/IP: header 06 10, DESCRIPTION_RESPONSE (0x0204).
        3671 => starts(&[0x06, 0x10, 0x02, 0x04]),
        // mDNS: a DNS header with the QR bit set (responders may or may not echo the id).
        5353 => reply.len() >= 12 && at(2).is_some_and(|b| b & 0x80 != 0),
        // Ubiquiti: version 1 reply to command 0 or a version 2 packet, with a non-empty payload that fits.
        10001 => {
            let declared = reply.get(2..4).map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
            (starts(&[0x01, 0x00]) || at(0) == Some(0x02)) && declared > 0 && declared <= reply.len().saturating_sub(4)
        }
        // BACnet/IP: BVLC type 0x81, a unicast or broadcast NPDU.
        47808 => reply.len() >= 4 && at(0) == Some(0x81) && matches!(at(1), Some(0x0a | 0x0b)),
        _ => false,
    }
}

#[cfg(test)]
#[path = "udp_payloads_tests.rs"]
mod tests;
