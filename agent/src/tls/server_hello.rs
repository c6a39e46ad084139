//! Reading a server's first flight after a hand-built ClientHello: records, ServerHello,
//! Certificate, ServerHelloDone and Alerts. No I/O here; [`Flight::push`] takes one record at a time
//! and [`parse_flight`] a whole byte string (for tests).
//!
//! Record layer (RFC 5246 §6.2.1), 5 bytes of header then the fragment:
//! ```text
//! 16          content type: 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data
//! 03 01       record version (03 00 SSLv3, 03 01 TLS 1.0, ... 03 03 TLS 1.2)
//! 00 2a       fragment length, at most 2^14 + 2048 (anything longer is refused, never allocated)
//! ```
//! Handshake messages (§7.4) are carried in handshake records, and one message may span records
//! or several share one record; each starts with a 4-byte header:
//! ```text
//! 02          msg type: 2 server_hello, 11 certificate, 12 server_key_exchange, 14 server_hello_done
//! 00 00 26    body length (24 bits: a server may claim 16 MiB; more than MAX_HANDSHAKE is refused)
//! ```
//! ServerHello body (§7.4.1.3):
//! ```text
//! 03 01       server_version
//! 32 bytes    random
//! 00          session_id length (0..=32), then the id
//! 00 0a       cipher_suite chosen
//! 00          compression_method
//! [00 xx ...] extensions, optional: u16 total length, then (u16 type, u16 length, data)*;
//!             supported_versions (0x002b) carries the real version of a TLS 1.3 ServerHello
//! ```
//! Certificate body (§7.4.2): u24 list length, then (u24 length, DER)*.
//! Alert fragment (§7.2): level (1 warning, 2 fatal), description (40 handshake_failure,
//! 70 protocol_version, ...).

use thiserror::Error;

/// Longest record fragment a peer may send (TLSCiphertext: 2^14 + 2048).
pub(crate) const MAX_RECORD: usize = 16384 + 2048;
/// Most handshake bytes kept from one flight (ServerHello + Certificate chain).
pub(crate) const MAX_HANDSHAKE: usize = 64 * 1024;
/// Most certificates kept from one Certificate message (the rest are only counted).
pub(crate) const MAX_CERTS: usize = 10;

/// Content types of the record layer.
const CT_CHANGE_CIPHER_SPEC: u8 = 20;
const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const CT_APPLICATION_DATA: u8 = 23;

/// Handshake message types.
const HS_HELLO_REQUEST: u8 = 0;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;
const HS_SERVER_HELLO_DONE: u8 = 14;

/// Why the server's bytes could not be read as the expected TLS flight.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum ParseError {
    /// Not a TLS record at all (e.g. an HTTP or SSLv2 answer).
    #[error("not TLS: {0}")]
    NotTls(String),
    /// A length beyond what this reader accepts.
    #[error("{what} claims {len} bytes")]
    TooLarge {
        /// Which length.
        what: &'static str,
        /// The claimed length.
        len: usize,
    },
    /// A structure ended early or had bytes left over.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// Valid TLS, but not what comes after a ClientHello.
    #[error("unexpected {0}")]
    Unexpected(String),
}

/// A record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    /// Content type (20..=23).
    pub content_type: u8,
    /// Record-layer version.
    pub version: u16,
    /// Fragment length.
    pub len: usize,
}

/// Parses the 5-byte record header at the start of `b`.
pub(crate) fn record_header(b: &[u8]) -> Result<RecordHeader, ParseError> {
    let [content_type, major, minor, hi, lo, ..] = *b else {
        return Err(ParseError::Malformed("record header"));
    };
    if content_type & 0x80 != 0 {
        return Err(ParseError::NotTls("SSLv2-style record".into()));
    }
    if !(CT_CHANGE_CIPHER_SPEC..=CT_APPLICATION_DATA).contains(&content_type) || major != 3 {
        return Err(ParseError::NotTls(format!("starts with {}", crate::probe::io::sanitize_bytes(&b[..5], 5))));
    }
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len > MAX_RECORD {
        return Err(ParseError::TooLarge { what: "record", len });
    }
    if len == 0 && content_type != CT_APPLICATION_DATA {
        return Err(ParseError::Malformed("empty record"));
    }
    Ok(RecordHeader { content_type, version: u16::from_be_bytes([major, minor]), len })
}

/// The fields of a ServerHello that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerHello {
    /// The version chosen: `supported_versions` if present, else `server_version`.
    pub version: u16,
    /// The cipher suite chosen.
    pub suite: u16,
}

/// An alert from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Alert {
    /// 1 warning, 2 fatal.
    pub level: u8,
    /// Alert description code.
    pub description: u8,
}

impl Alert {
    /// The description's name (RFC 8446 §6), or its number.
    pub(crate) fn name(&self) -> String {
        let name = match self.description {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            22 => "record_overflow",
            40 => "handshake_failure",
            42 => "bad_certificate",
            47 => "illegal_parameter",
            50 => "decode_error",
            51 => "decrypt_error",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            109 => "missing_extension",
            110 => "unsupported_extension",
            112 => "unrecognized_name",
            other => return format!("alert {other}"),
        };
        name.to_string()
    }

    /// The usual ways of saying "not this version / none of these suites".
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self.description, 0 | 40 | 47 | 70 | 71 | 86)
    }
}

/// What the server's first flight said so far.
#[derive(Debug, Default)]
pub(crate) struct Flight {
    /// Handshake bytes not yet parsed into a message.
    pending: Vec<u8>,
    /// Handshake bytes taken in so far (bounded by [`MAX_HANDSHAKE`]).
    taken: usize,
    /// The ServerHello, once seen.
    pub hello: Option<ServerHello>,
    /// The certificate chain (DER, leaf first, at most [`MAX_CERTS`]), once seen.
    pub certificates: Option<Vec<Vec<u8>>>,
    /// How many certificates the Certificate message held (may be more than were kept).
    pub presented: usize,
    /// ServerHelloDone (or anything after the certificate position) seen: no chain will come.
    pub done: bool,
    /// An alert, if the server sent one.
    pub alert: Option<Alert>,
}

impl Flight {
    /// Whether reading can stop: an alert, or a ServerHello (and, if `want_chain`, the chain or
    /// a sign that none will come).
    pub(crate) fn complete(&self, want_chain: bool) -> bool {
        self.alert.is_some() || (self.hello.is_some() && (!want_chain || self.certificates.is_some() || self.done))
    }

    /// Takes in one record.
    pub(crate) fn push(&mut self, header: &RecordHeader, fragment: &[u8]) -> Result<(), ParseError> {
        if fragment.len() != header.len {
            return Err(ParseError::Malformed("record"));
        }
        match header.content_type {
            CT_ALERT => {
                let [level, description, ..] = *fragment else {
                    return Err(ParseError::Malformed("alert"));
                };
                self.alert = Some(Alert { level, description });
                Ok(())
            }
            CT_HANDSHAKE => {
                self.taken += fragment.len();
                if self.taken > MAX_HANDSHAKE {
                    return Err(ParseError::TooLarge { what: "handshake flight", len: self.taken });
                }
                self.pending.extend_from_slice(fragment);
                self.parse_messages()
            }
            CT_CHANGE_CIPHER_SPEC if self.hello.is_some() => {
                self.done = true;
                Ok(())
            }
            other => Err(ParseError::Unexpected(format!("record type {other} before the handshake"))),
        }
    }

    /// Parses every complete handshake message in `pending`.
    fn parse_messages(&mut self) -> Result<(), ParseError> {
        loop {
            let Some(&[kind, a, b, c]) = self.pending.first_chunk::<4>() else {
                return Ok(());
            };
            let len = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
            if len > MAX_HANDSHAKE {
                return Err(ParseError::TooLarge { what: "handshake message", len });
            }
            if self.pending.len() < 4 + len {
                return Ok(());
            }
            let body: Vec<u8> = self.pending.drain(..4 + len).skip(4).collect();
            self.message(kind, &body)?;
        }
    }

    fn message(&mut self, kind: u8, body: &[u8]) -> Result<(), ParseError> {
        match (kind, self.hello.is_some()) {
            (HS_HELLO_REQUEST, _) => Ok(()),
            (HS_SERVER_HELLO, false) => {
                self.hello = Some(parse_server_hello(body)?);
                Ok(())
            }
            (HS_CERTIFICATE, true) if self.certificates.is_none() => {
                let (certificates, presented) = parse_certificates(body)?;
                self.certificates = Some(certificates);
                self.presented = presented;
                Ok(())
            }
            (HS_SERVER_HELLO_DONE, true) => {
                self.done = true;
                Ok(())
            }
            // ServerKeyExchange, CertificateRequest, CertificateStatus, ...: no chain before them
            // means none will come (anonymous suites).
            (_, true) => {
                self.done = true;
                Ok(())
            }
            (other, false) => Err(ParseError::Unexpected(format!("handshake message {other} before ServerHello"))),
        }
    }
}

/// A cursor over a byte slice: every read checks the length and fails as `Malformed(what)`.
struct Reader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let (head, rest) = self.rest.split_at_checked(n).ok_or(ParseError::Malformed(self.what))?;
        self.rest = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ParseError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u24(&mut self) -> Result<usize, ParseError> {
        let b = self.take(3)?;
        Ok((usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]))
    }
}

/// Parses a ServerHello body (after the 4-byte handshake header).
pub(crate) fn parse_server_hello(body: &[u8]) -> Result<ServerHello, ParseError> {
    let mut r = Reader { rest: body, what: "ServerHello" };
    let mut version = r.u16()?;
    r.take(32)?;
    let sid = usize::from(r.u8()?);
    if sid > 32 {
        return Err(ParseError::Malformed("ServerHello session id"));
    }
    r.take(sid)?;
    let suite = r.u16()?;
    r.u8()?;
    if !r.rest.is_empty() {
        let len = usize::from(r.u16()?);
        let mut exts = Reader { rest: r.take(len)?, what: "ServerHello extensions" };
        while !exts.rest.is_empty() {
            let kind = exts.u16()?;
            let len = usize::from(exts.u16()?);
            let data = exts.take(len)?;
            if let (0x002b, &[hi, lo]) = (kind, data) {
                version = u16::from_be_bytes([hi, lo]);
            }
        }
    }
    if !r.rest.is_empty() {
        return Err(ParseError::Malformed("ServerHello (trailing bytes)"));
    }
    Ok(ServerHello { version, suite })
}

/// Parses a (TLS ≤ 1.2) Certificate body into DER certificates, leaf first, at most [`MAX_CERTS`]
/// of them, and how many the message held.
pub(crate) fn parse_certificates(body: &[u8]) -> Result<(Vec<Vec<u8>>, usize), ParseError> {
    let mut r = Reader { rest: body, what: "Certificate" };
    let len = r.u24()?;
    let mut list = Reader { rest: r.take(len)?, what: "Certificate list" };
    let mut certs = Vec::new();
    let mut presented = 0;
    while !list.rest.is_empty() {
        let len = list.u24()?;
        let der = list.take(len)?;
        presented += 1;
        if certs.len() < MAX_CERTS {
            certs.push(der.to_vec());
        }
    }
    Ok((certs, presented))
}

/// Parses a whole byte string of records (as a test or fuzzer would hand it over).
pub(crate) fn parse_flight(mut bytes: &[u8], want_chain: bool) -> Result<Flight, ParseError> {
    let mut flight = Flight::default();
    while !flight.complete(want_chain) {
        let header = record_header(bytes)?;
        let fragment = bytes.get(5..5 + header.len).ok_or(ParseError::Malformed("record (truncated)"))?;
        flight.push(&header, fragment)?;
        bytes = &bytes[5 + header.len..];
    }
    Ok(flight)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A TLS 1.0 ServerHello choosing TLS_RSA_WITH_3DES_EDE_CBC_SHA, no extensions.
    pub(crate) fn tls10_3des_hello() -> Vec<u8> {
        let mut b = vec![
            0x16, 0x03, 0x01, 0x00, 0x2a, // record: handshake, TLS 1.0, 42 bytes
            0x02, 0x00, 0x00, 0x26, // ServerHello, 38 bytes
            0x03, 0x01, // server_version TLS 1.0
        ];
        b.extend_from_slice(&[0x5a; 32]); // random
        b.extend_from_slice(&[
            0x00, // session_id: empty
            0x00, 0x0a, // TLS_RSA_WITH_3DES_EDE_CBC_SHA
            0x00, // compression: null
        ]);
        b
    }

    #[test]
    fn a_tls10_server_hello_choosing_3des() {
        let f = parse_flight(&tls10_3des_hello(), false).expect("parses");
        assert_eq!(f.hello, Some(ServerHello { version: 0x0301, suite: 0x000a }));
        assert_eq!(f.alert, None);
    }

    #[test]
    fn hello_certificate_and_done_in_one_record() {
        let mut hs = tls10_3des_hello()[5..].to_vec(); // the ServerHello message alone
        hs.extend_from_slice(&[
            0x0b, 0x00, 0x00, 0x0b, // Certificate, 11 bytes
            0x00, 0x00, 0x08, // certificate_list: 8 bytes
            0x00, 0x00, 0x05, 0x30, 0x03, 0x02, 0x01, 0x01, // one "certificate" of 5 bytes
            0x0e, 0x00, 0x00, 0x00, // ServerHelloDone
        ]);
        let mut rec = vec![0x16, 0x03, 0x01];
        rec.extend_from_slice(&u16::try_from(hs.len()).expect("small").to_be_bytes());
        rec.extend_from_slice(&hs);
        let f = parse_flight(&rec, true).expect("parses");
        assert_eq!(f.certificates, Some(vec![vec![0x30, 0x03, 0x02, 0x01, 0x01]]));
        assert_eq!(f.presented, 1);
        assert!(f.done);
    }

    #[test]
    fn a_long_chain_is_counted_but_only_the_first_certificates_are_kept() {
        // 100 "certificates" of 5 bytes each: u24 length 5, then 30 03 02 01 <i>.
        let mut list = Vec::new();
        for i in 0..100u8 {
            list.extend_from_slice(&[0x00, 0x00, 0x05, 0x30, 0x03, 0x02, 0x01, i]);
        }
        let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
        body.extend_from_slice(&list);
        let (kept, presented) = parse_certificates(&body).expect("parses");
        assert_eq!(presented, 100);
        assert_eq!(kept.len(), MAX_CERTS);
        assert_eq!(kept[9], [0x30, 0x03, 0x02, 0x01, 9]);
    }

    #[test]
    fn a_hello_split_over_two_records() {
        let msg = &tls10_3des_hello()[5..];
        let mut b = vec![0x16, 0x03, 0x01, 0x00, 0x0a]; // first 10 bytes of the message
        b.extend_from_slice(&msg[..10]);
        b.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x20]); // the other 32
        b.extend_from_slice(&msg[10..]);
        let f = parse_flight(&b, false).expect("parses");
        assert_eq!(f.hello.map(|h| h.suite), Some(0x000a));
    }

    #[test]
    fn a_tls13_server_hello_reports_supported_versions() {
        let mut body = vec![0x03, 0x03]; // legacy_version TLS 1.2
        body.extend_from_slice(&[0x11; 32]);
        body.extend_from_slice(&[
            0x00, // session id
            0x13, 0x01, // TLS13_AES_128_GCM_SHA256
            0x00, // compression
            0x00, 0x06, // extensions: 6 bytes
            0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, // supported_versions: TLS 1.3
        ]);
        assert_eq!(parse_server_hello(&body), Ok(ServerHello { version: 0x0304, suite: 0x1301 }));
    }

    #[test]
    fn an_alert_protocol_version() {
        let b = [
            0x15, 0x03, 0x01, 0x00, 0x02, // record: alert, TLS 1.0, 2 bytes
            0x02, 0x46, // fatal, protocol_version (70)
        ];
        let f = parse_flight(&b, false).expect("parses");
        let alert = f.alert.expect("alert");
        assert_eq!(alert.name(), "protocol_version");
        assert!(alert.is_refusal());
        assert!(f.hello.is_none());
    }

    #[test]
    fn truncated_records_and_messages_are_errors() {
        let hello = tls10_3des_hello();
        assert_eq!(parse_flight(&hello[..3], false).err(), Some(ParseError::Malformed("record header")));
        assert_eq!(parse_flight(&hello[..20], false).err(), Some(ParseError::Malformed("record (truncated)")));
        // A ServerHello message cut short inside its own (consistent) record.
        let short = [0x16, 0x03, 0x01, 0x00, 0x08, 0x02, 0x00, 0x00, 0x04, 0x03, 0x01, 0x00, 0x00];
        assert_eq!(parse_flight(&short, false).err(), Some(ParseError::Malformed("ServerHello")));
        // An alert of one byte.
        assert_eq!(
            parse_flight(&[0x15, 0x03, 0x01, 0x00, 0x01, 0x02], false).err(),
            Some(ParseError::Malformed("alert"))
        );
    }

    #[test]
    fn garbage_is_not_tls() {
        assert!(matches!(parse_flight(b"HTTP/1.1 400 Bad Request\r\n", false), Err(ParseError::NotTls(_))));
        assert!(matches!(parse_flight(&[0x80, 0x2e, 0x04, 0x00, 0x01, 0x00], false), Err(ParseError::NotTls(_))));
        assert!(matches!(parse_flight(&[0x17, 0x03, 0x01, 0x00, 0x01, 0x00], false), Err(ParseError::Unexpected(_))));
        // Handshake bytes of a type that never starts a server flight (ClientHello, 1).
        let b = [0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00];
        assert!(matches!(parse_flight(&b, false), Err(ParseError::Unexpected(_))));
    }

    #[test]
    fn huge_claims_are_refused_without_allocating() {
        // A record claiming 65535 bytes (beyond 2^14 + 2048).
        assert_eq!(
            record_header(&[0x16, 0x03, 0x01, 0xff, 0xff]),
            Err(ParseError::TooLarge { what: "record", len: 65535 })
        );
        // A handshake message claiming 16 MiB - 1 in a 4-byte record: refused at once.
        let b = [0x16, 0x03, 0x01, 0x00, 0x04, 0x0b, 0xff, 0xff, 0xff];
        assert_eq!(
            parse_flight(&b, true).err(),
            Some(ParseError::TooLarge { what: "handshake message", len: 0xff_ffff })
        );
    }

    #[test]
    fn a_session_id_longer_than_32_is_malformed() {
        let mut body = vec![0x03, 0x01];
        body.extend_from_slice(&[0; 32]);
        body.push(33);
        body.extend_from_slice(&[0; 36]);
        assert_eq!(parse_server_hello(&body), Err(ParseError::Malformed("ServerHello session id")));
    }
}
