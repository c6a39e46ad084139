//! Hand-built ClientHellos that offer exactly one protocol version (SSLv3 … TLS 1.2) and a chosen
//! list of cipher suites. rustls speaks only TLS 1.2 and 1.3 and only strong suites, so old
//! versions and weak suites are asked for with these bytes, and the answer is read by
//! [`super::server_hello`]. Nothing after the ServerHello is ever negotiated.
//!
//! Layout (RFC 5246 §7.4.1.2; SSLv3 is the same without extensions):
//! ```text
//! 16                      record: handshake
//! 03 00 | 03 01           record version: 03 00 for SSLv3, 03 01 otherwise (what servers expect)
//! LL LL                   record length
//!   01                    handshake: client_hello
//!   LL LL LL              handshake length
//!   03 0v                 client_version: the one version offered (03 00 … 03 03)
//!   32 bytes              random
//!   00                    session_id: empty
//!   LL LL  (ss ss)*       cipher_suites, then 00 ff (TLS_EMPTY_RENEGOTIATION_INFO_SCSV)
//!   01 00                 compression_methods: null only
//!   LL LL                 extensions length (TLS 1.0 and later only), then each extension:
//!     00 00  server_name          when a host name is known (never an IP literal)
//!     00 0a  supported_groups     x25519, secp256r1, secp384r1, secp521r1
//!     00 0b  ec_point_formats     uncompressed
//!     00 0d  signature_algorithms TLS 1.2 only: ECDSA, RSA-PSS, RSA PKCS#1, SHA-1 last
//!     00 17  extended_master_secret
//!     00 15  padding              when the hello would be 256..=511 bytes long (RFC 7685):
//!                                 some middleboxes hang on exactly those lengths
//! ```
//! No `TLS_FALLBACK_SCSV` is sent: a server that honours it would refuse the old versions this
//! hello asks about.

use super::ciphers::RENEGOTIATION_SCSV;
use super::versions::Version;

/// What to put into a hand-built ClientHello.
#[derive(Debug, Clone)]
pub(crate) struct Hello<'a> {
    /// The one version offered.
    pub version: Version,
    /// Cipher suites, in order of preference (the renegotiation SCSV is added).
    pub suites: &'a [u16],
    /// Host name for SNI; must already be a valid DNS name.
    pub server_name: Option<&'a str>,
    /// Client random.
    pub random: [u8; 32],
}

/// Named groups offered: x25519, secp256r1, secp384r1, secp521r1.
const GROUPS: [u16; 4] = [0x001d, 0x0017, 0x0018, 0x0019];
/// Signature schemes offered in TLS 1.2: ecdsa_secp256r1_sha256, _384, _521, rsa_pss_rsae_sha256,
/// _384, _512, rsa_pkcs1_sha256, _384, _512, ed25519, ecdsa_sha1, rsa_pkcs1_sha1.
const SIGNATURE_SCHEMES: [u16; 12] =
    [0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0807, 0x0203, 0x0201];

/// Appends `n` as a big-endian u16 (lengths here are built from our own short lists).
fn put_u16(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
}

/// Appends one extension: type, length, data.
fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    put_u16(out, data.len());
    out.extend_from_slice(data);
}

/// The extensions block for TLS 1.0 … 1.2, without padding.
fn extensions(hello: &Hello<'_>) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(name) = hello.server_name {
        // server_name_list: u16 length, then (type 0 = host_name, u16 length, name).
        let mut data = Vec::new();
        put_u16(&mut data, name.len() + 3);
        data.push(0);
        put_u16(&mut data, name.len());
        data.extend_from_slice(name.as_bytes());
        extension(&mut ext, 0x0000, &data);
    }
    let mut groups = Vec::new();
    put_u16(&mut groups, GROUPS.len() * 2);
    GROUPS.iter().for_each(|g| groups.extend_from_slice(&g.to_be_bytes()));
    extension(&mut ext, 0x000a, &groups);
    extension(&mut ext, 0x000b, &[0x01, 0x00]);
    if hello.version == Version::Tls12 {
        let mut schemes = Vec::new();
        put_u16(&mut schemes, SIGNATURE_SCHEMES.len() * 2);
        SIGNATURE_SCHEMES.iter().for_each(|s| schemes.extend_from_slice(&s.to_be_bytes()));
        extension(&mut ext, 0x000d, &schemes);
    }
    extension(&mut ext, 0x0017, &[]);
    ext
}

/// Builds the record holding the ClientHello.
pub(crate) fn build(hello: &Hello<'_>) -> Vec<u8> {
    let mut body = Vec::with_capacity(512);
    body.extend_from_slice(&hello.version.wire().to_be_bytes());
    body.extend_from_slice(&hello.random);
    body.push(0); // session_id
    put_u16(&mut body, (hello.suites.len() + 1) * 2);
    hello.suites.iter().for_each(|s| body.extend_from_slice(&s.to_be_bytes()));
    body.extend_from_slice(&RENEGOTIATION_SCSV.to_be_bytes());
    body.extend_from_slice(&[0x01, 0x00]); // compression: null
    if hello.version != Version::Ssl3 {
        let mut ext = extensions(hello);
        // Handshake message length so far: 4 (header) + body + 2 (extensions length) + ext.
        let len = 4 + body.len() + 2 + ext.len();
        if (256..512).contains(&len) {
            let pad = (512 - len).saturating_sub(4);
            extension(&mut ext, 0x0015, &vec![0; pad]);
        }
        put_u16(&mut body, ext.len());
        body.extend_from_slice(&ext);
    }
    let mut record = Vec::with_capacity(body.len() + 9);
    record.push(0x16);
    record.extend_from_slice(&(if hello.version == Version::Ssl3 { 0x0300u16 } else { 0x0301 }).to_be_bytes());
    put_u16(&mut record, body.len() + 4);
    record.push(0x01);
    record.extend_from_slice(&u32::try_from(body.len()).unwrap_or(0).to_be_bytes()[1..]);
    record.extend_from_slice(&body);
    record
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What a test needs from a ClientHello.
    #[derive(Debug)]
    pub(crate) struct Parsed {
        pub version: u16,
        pub suites: Vec<u16>,
        pub sni: Option<String>,
        pub extensions: Vec<u16>,
    }

    /// Parses a ClientHello record (test servers use it too).
    pub(crate) fn parse(record: &[u8]) -> Option<Parsed> {
        let hs = record.get(5..)?;
        let body = hs.get(4..)?;
        let version = u16::from_be_bytes([*body.first()?, *body.get(1)?]);
        let sid = usize::from(*body.get(34)?);
        let at = 35 + sid;
        let n = usize::from(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]));
        let suites = body.get(at + 2..at + 2 + n)?.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
        let mut rest = body.get(at + 2 + n..)?;
        let comp = usize::from(*rest.first()?);
        rest = rest.get(1 + comp..)?;
        let mut sni = None;
        let mut extensions = Vec::new();
        if rest.len() >= 2 {
            let mut exts = rest.get(2..)?;
            while exts.len() >= 4 {
                let kind = u16::from_be_bytes([exts[0], exts[1]]);
                let len = usize::from(u16::from_be_bytes([exts[2], exts[3]]));
                let data = exts.get(4..4 + len)?;
                extensions.push(kind);
                if kind == 0 {
                    sni = Some(String::from_utf8_lossy(data.get(5..)?).into_owned());
                }
                exts = &exts[4 + len..];
            }
        }
        Some(Parsed { version, suites, sni, extensions })
    }

    #[test]
    fn an_sslv3_hello_byte_for_byte() {
        let hello = Hello { version: Version::Ssl3, suites: &[0x000a, 0x0005], server_name: None, random: [0x42; 32] };
        let mut expected = vec![
            0x16, 0x03, 0x00, 0x00, 0x31, // record: handshake, SSLv3, 49 bytes
            0x01, 0x00, 0x00, 0x2d, // client_hello, 45 bytes
            0x03, 0x00, // client_version SSLv3
        ];
        expected.extend_from_slice(&[0x42; 32]); // random
        expected.extend_from_slice(&[
            0x00, // session_id: empty
            0x00, 0x06, 0x00, 0x0a, 0x00, 0x05, 0x00, 0xff, // 3 suites: 3DES, RC4-SHA, SCSV
            0x01, 0x00, // compression: null
        ]);
        assert_eq!(build(&hello), expected);
    }

    #[test]
    fn a_tls12_hello_with_sni_has_consistent_lengths_and_parses_back() {
        let suites = super::super::ciphers::catch_all();
        let hello =
            Hello { version: Version::Tls12, suites: &suites, server_name: Some("mail.voorbeeld.be"), random: [7; 32] };
        let rec = build(&hello);
        assert_eq!(&rec[..3], &[0x16, 0x03, 0x01]);
        assert_eq!(usize::from(u16::from_be_bytes([rec[3], rec[4]])), rec.len() - 5);
        let hs_len = (usize::from(rec[6]) << 16) | (usize::from(rec[7]) << 8) | usize::from(rec[8]);
        assert_eq!(hs_len, rec.len() - 9);
        let p = parse(&rec).expect("parses back");
        assert_eq!(p.version, 0x0303);
        assert_eq!(p.suites.len(), suites.len() + 1);
        assert_eq!(p.suites.last(), Some(&RENEGOTIATION_SCSV));
        assert_eq!(p.sni.as_deref(), Some("mail.voorbeeld.be"));
        assert_eq!(p.extensions, [0x0000, 0x000a, 0x000b, 0x000d, 0x0017, 0x0015]);
        assert!(!(256..512).contains(&(rec.len() - 5)), "padded past the 256..511 range");
    }

    #[test]
    fn tls10_has_no_signature_algorithms_and_is_padded_when_needed() {
        let suites: Vec<u16> = (1..=100).collect();
        let rec = build(&Hello { version: Version::Tls10, suites: &suites, server_name: None, random: [0; 32] });
        assert_eq!(rec.len() - 5, 512, "a 300-byte hello is padded to 512");
        let p = parse(&rec).expect("parses back");
        assert_eq!((p.version, p.sni), (0x0301, None));
        assert_eq!(p.extensions, [0x000a, 0x000b, 0x0017, 0x0015]);
    }
}
