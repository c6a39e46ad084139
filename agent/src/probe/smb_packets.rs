//! SMB messages built and read by hand: the SMB1 NEGOTIATE ([MS-CIFS] 2.2.4.52) and
//! SESSION_SETUP_ANDX (2.2.4.53, [MS-SMB] 2.2.4.6 with extended security), the SMB2 header,
//! NEGOTIATE and SESSION_SETUP ([MS-SMB2] 2.2), and the 4-byte direct-TCP framing (RFC 1002 session
//! message header, 24-bit length). Pure functions; every offset is checked before use.

/// NT status: success.
pub const STATUS_SUCCESS: u32 = 0;
/// NT status: the session setup needs another leg.
pub const STATUS_MORE_PROCESSING_REQUIRED: u32 = 0xc000_0016;
/// NT status: an interim answer, the real one follows.
pub const STATUS_PENDING: u32 = 0x0000_0103;
/// SMB2 command NEGOTIATE.
pub const NEGOTIATE: u16 = 0x0000;
/// SMB2 command SESSION_SETUP.
pub const SESSION_SETUP: u16 = 0x0001;
/// SMB2 SecurityMode: signing enabled.
pub const SIGNING_ENABLED: u16 = 0x0001;
/// SMB2 SecurityMode: signing required.
pub const SIGNING_REQUIRED: u16 = 0x0002;
/// SessionFlags: the session is a guest session.
pub const SESSION_IS_GUEST: u16 = 0x0001;
/// SessionFlags: the session is anonymous.
pub const SESSION_IS_NULL: u16 = 0x0002;
/// SMB2 header length.
pub const HEADER: usize = 64;
/// The SMB2 dialects offered, oldest first.
pub const DIALECTS: [u16; 5] = [0x0202, 0x0210, 0x0300, 0x0302, 0x0311];

/// Why an SMB message could not be read.
pub type Malformed = &'static str;

/// Prefixes the direct-TCP session message header.
pub fn frame(msg: &[u8]) -> Vec<u8> {
    let len = (msg.len() as u32).to_be_bytes();
    let mut out = vec![0x00, len[1], len[2], len[3]];
    out.extend_from_slice(msg);
    out
}

/// The length announced by a session message header; `None` for a keep-alive (type 0x85).
pub fn frame_len(header: &[u8]) -> Result<Option<usize>, Malformed> {
    match header {
        [0x00, a, b, c] => Ok(Some(usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c))),
        [0x85, ..] => Ok(None),
        _ => Err("not an SMB session message"),
    }
}

/// SMB1 NEGOTIATE offering only `NT LM 0.12`, framed.
pub fn smb1_negotiate() -> Vec<u8> {
    let mut m = Vec::with_capacity(47);
    m.extend_from_slice(b"\xffSMB"); // protocol
    m.push(0x72); // command: NEGOTIATE
    m.extend_from_slice(&[0; 4]); // status
    m.push(0x18); // flags: canonicalised paths, case-insensitive
    m.extend_from_slice(&0xc801u16.to_le_bytes()); // flags2: unicode, NT status, extended security, long names
    m.extend_from_slice(&[0; 12]); // PID high, security features, reserved
    m.extend_from_slice(&[0; 2]); // TID
    m.extend_from_slice(b"wk"); // PID low
    m.extend_from_slice(&[0; 2]); // UID
    m.extend_from_slice(&[0; 2]); // MID
    m.push(0); // word count 0
    let dialects = b"\x02NT LM 0.12\0";
    m.extend_from_slice(&(dialects.len() as u16).to_le_bytes()); // byte count
    m.extend_from_slice(dialects);
    frame(&m)
}

/// What an SMB1 NEGOTIATE answer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1Negotiate {
    /// NT status of the answer.
    pub status: u32,
    /// Index of the chosen dialect; 0xFFFF when none.
    pub dialect_index: u16,
    /// SecurityMode, in an NT LM 0.12 answer.
    pub security_mode: Option<u8>,
    /// Flags2 of the answer: [`FLAGS2_EXTENDED_SECURITY`] says which session setup it expects.
    pub flags2: u16,
}

/// Parses an SMB1 NEGOTIATE answer (unframed).
pub fn parse_smb1_negotiate(msg: &[u8]) -> Result<Smb1Negotiate, Malformed> {
    if msg.get(..4) != Some(b"\xffSMB") {
        return Err("not an SMB1 answer");
    }
    if msg.get(4) != Some(&0x72) {
        return Err("not an SMB1 NEGOTIATE answer");
    }
    let status = u32_at(msg, 5).ok_or("short SMB1 header")?;
    let words = usize::from(*msg.get(32).ok_or("short SMB1 header")?);
    let dialect_index = if words >= 1 { u16_at(msg, 33).ok_or("short SMB1 NEGOTIATE")? } else { 0xffff };
    let security_mode = if words >= 17 { msg.get(35).copied() } else { None };
    let flags2 = u16_at(msg, 10).ok_or("short SMB1 header")?;
    Ok(Smb1Negotiate { status, dialect_index, security_mode, flags2 })
}

/// SMB1 Flags2: Unicode strings.
pub const FLAGS2_UNICODE: u16 = 0x8000;
/// SMB1 Flags2: extended security (a security blob instead of passwords).
pub const FLAGS2_EXTENDED_SECURITY: u16 = 0x0800;
/// SMB1 command SESSION_SETUP_ANDX.
pub const SMB1_SESSION_SETUP: u8 = 0x73;
/// Longest NativeOS / NativeLanMan string kept, in characters.
const NATIVE_MAX: usize = 128;

/// SMB1 SESSION_SETUP_ANDX, framed: with extended security (`Some(blob)`, 12 words) carrying the
/// security blob, else a null session (13 words, empty account and passwords). The client's own
/// NativeOS and NativeLanMan are empty.
pub fn smb1_session_setup(blob: Option<&[u8]>) -> Vec<u8> {
    let extended = blob.is_some();
    let mut m = b"\xffSMB".to_vec(); // protocol
    m.push(SMB1_SESSION_SETUP); // command
    m.extend_from_slice(&[0; 4]); // status
    m.push(0x18); // flags: canonicalised paths, case-insensitive
    let flags2 = if extended { 0xc801u16 } else { 0xc001 }; // unicode, NT status, (extended security), long names
    m.extend_from_slice(&flags2.to_le_bytes());
    m.extend_from_slice(&[0; 12]); // PID high, security features, reserved
    m.extend_from_slice(&[0; 2]); // TID
    m.extend_from_slice(b"wk"); // PID low
    m.extend_from_slice(&[0; 2]); // UID
    m.extend_from_slice(&1u16.to_le_bytes()); // MID
    m.push(if extended { 12 } else { 13 }); // word count
    m.extend_from_slice(&[0xff, 0x00, 0x00, 0x00]); // no AndX command, reserved, AndX offset
    m.extend_from_slice(&4356u16.to_le_bytes()); // max buffer size
    m.extend_from_slice(&1u16.to_le_bytes()); // max mpx count
    m.extend_from_slice(&[0; 2]); // VC number
    m.extend_from_slice(&[0; 4]); // session key
                                  // Capabilities: unicode, NT status (and extended security).
    let caps: u32 = if extended { 0x8000_0044 } else { 0x0000_0044 };
    let mut bytes = Vec::new();
    match blob {
        Some(blob) => {
            m.extend_from_slice(&(blob.len() as u16).to_le_bytes()); // security blob length
            m.extend_from_slice(&[0; 4]); // reserved
            m.extend_from_slice(&caps.to_le_bytes());
            bytes.extend_from_slice(blob);
        }
        None => {
            m.extend_from_slice(&[0; 2]); // OEM password length 0
            m.extend_from_slice(&[0; 2]); // unicode password length 0
            m.extend_from_slice(&[0; 4]); // reserved
            m.extend_from_slice(&caps.to_le_bytes());
        }
    }
    // Byte count follows at m.len(); the strings start 2 bytes later and are 2-aligned.
    if (m.len() + 2 + bytes.len()) % 2 == 1 {
        bytes.push(0); // pad
    }
    let strings = if extended { 2 } else { 4 }; // (account, domain,) NativeOS, NativeLanMan: empty
    bytes.resize(bytes.len() + 2 * strings, 0);
    m.extend_from_slice(&(bytes.len() as u16).to_le_bytes()); // byte count
    m.extend_from_slice(&bytes);
    frame(&m)
}

/// What an SMB1 SESSION_SETUP_ANDX answer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb1SessionSetup {
    /// NT status.
    pub status: u32,
    /// NativeOS (`Windows 6.1`, `Unix`, `Windows Server 2016 Standard 14393`), empty when absent.
    pub native_os: String,
    /// NativeLanMan (`Samba 4.17.12-Debian`, `Windows Server 2016 Standard 6.3`), empty when absent.
    pub native_lanman: String,
}

/// Parses an SMB1 SESSION_SETUP_ANDX answer (unframed): 3 words (basic), 4 words (extended
/// security, a security blob before the strings) or 0 words (an error answer, no strings).
pub fn parse_smb1_session_setup(msg: &[u8]) -> Result<Smb1SessionSetup, Malformed> {
    if msg.get(..4) != Some(b"\xffSMB") {
        return Err("not an SMB1 answer");
    }
    if msg.get(4) != Some(&SMB1_SESSION_SETUP) {
        return Err("not an SMB1 SESSION_SETUP_ANDX answer");
    }
    let status = u32_at(msg, 5).ok_or("short SMB1 header")?;
    let flags2 = u16_at(msg, 10).ok_or("short SMB1 header")?;
    let words = usize::from(*msg.get(32).ok_or("short SMB1 header")?);
    let blob_len = match words {
        0 | 3 => 0,
        4 => usize::from(u16_at(msg, 33 + 6).ok_or("short SMB1 SESSION_SETUP_ANDX")?),
        _ => return Err("SMB1 SESSION_SETUP_ANDX answer of an unknown word count"),
    };
    let count_at = 33 + 2 * words;
    let count = usize::from(u16_at(msg, count_at).ok_or("short SMB1 SESSION_SETUP_ANDX")?);
    let bytes_at = count_at + 2;
    let end = bytes_at + count;
    if msg.len() < end {
        return Err("SMB1 byte count beyond the message");
    }
    if blob_len > count {
        return Err("SMB1 security blob beyond the byte count");
    }
    let mut at = bytes_at + blob_len;
    let unicode = flags2 & FLAGS2_UNICODE != 0;
    if unicode && at % 2 == 1 && at < end {
        at += 1; // pad to 2 bytes from the header's start
    }
    let strings = &msg[at.min(end)..end];
    let (native_os, native_lanman) = if unicode {
        let (os, rest) = utf16z(strings);
        (os, utf16z(rest).0)
    } else {
        let (os, rest) = asciiz(strings);
        (os, asciiz(rest).0)
    };
    Ok(Smb1SessionSetup { status, native_os, native_lanman })
}

/// A NUL-terminated UTF-16LE string at the start of `b` (unterminated: to the end) and what follows.
fn utf16z(b: &[u8]) -> (String, &[u8]) {
    let mut units = Vec::new();
    let mut used = b.len();
    for (i, pair) in b.chunks(2).enumerate() {
        let [lo, hi] = pair else { break };
        if *lo == 0 && *hi == 0 {
            used = 2 * i + 2;
            break;
        }
        units.push(u16::from_le_bytes([*lo, *hi]));
    }
    let text: String = char::decode_utf16(units).map(|c| c.unwrap_or('\u{fffd}')).take(NATIVE_MAX).collect();
    (text, &b[used.min(b.len())..])
}

/// A NUL-terminated OEM string at the start of `b` (unterminated: to the end) and what follows.
fn asciiz(b: &[u8]) -> (String, &[u8]) {
    let len = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let text: String = String::from_utf8_lossy(&b[..len]).chars().take(NATIVE_MAX).collect();
    (text, &b[(len + 1).min(b.len())..])
}

/// The Samba version in a NativeLanMan or NativeOS string: `4.17.12` from `Samba 4.17.12-Debian`.
pub fn samba_version(native: &str) -> Option<String> {
    let rest = native.trim().strip_prefix("Samba ")?;
    let version: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').take(32).collect();
    let version = version.trim_end_matches('.');
    version.starts_with(|c: char| c.is_ascii_digit()).then(|| version.to_string())
}

/// An SMB2 header for `command`.
fn smb2_header(command: u16, message_id: u64, session_id: u64, credit_charge: u16) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER);
    h.extend_from_slice(b"\xfeSMB"); // protocol
    h.extend_from_slice(&64u16.to_le_bytes()); // structure size
    h.extend_from_slice(&credit_charge.to_le_bytes()); // credit charge
    h.extend_from_slice(&[0; 4]); // status / channel sequence
    h.extend_from_slice(&command.to_le_bytes()); // command
    h.extend_from_slice(&31u16.to_le_bytes()); // credits requested
    h.extend_from_slice(&[0; 4]); // flags: a request, synchronous, unsigned
    h.extend_from_slice(&[0; 4]); // next command
    h.extend_from_slice(&message_id.to_le_bytes()); // message id
    h.extend_from_slice(b"wkag"); // reserved / process id
    h.extend_from_slice(&[0; 4]); // tree id
    h.extend_from_slice(&session_id.to_le_bytes()); // session id
    h.extend_from_slice(&[0; 16]); // signature
    h
}

/// SMB2 NEGOTIATE offering 2.0.2 to 3.1.1, with the negotiate contexts 3.1.1 needs (pre-auth
/// integrity SHA-512, encryption AES-128-GCM/CCM), framed.
pub fn smb2_negotiate() -> Vec<u8> {
    let mut m = smb2_header(NEGOTIATE, 0, 0, 0);
    m.extend_from_slice(&36u16.to_le_bytes()); // structure size
    m.extend_from_slice(&(DIALECTS.len() as u16).to_le_bytes()); // dialect count
    m.extend_from_slice(&SIGNING_ENABLED.to_le_bytes()); // security mode
    m.extend_from_slice(&[0; 2]); // reserved
    m.extend_from_slice(&[0; 4]); // capabilities
    m.extend_from_slice(b"wijkagent-probe\0"); // client GUID (16 bytes)
    let contexts_at = 112u32; // 64 + 36 + 10 dialect bytes = 110, padded to 8
    m.extend_from_slice(&contexts_at.to_le_bytes()); // negotiate context offset
    m.extend_from_slice(&2u16.to_le_bytes()); // negotiate context count
    m.extend_from_slice(&[0; 2]); // reserved
    for d in DIALECTS {
        m.extend_from_slice(&d.to_le_bytes());
    }
    m.extend_from_slice(&[0; 2]); // padding to 112
                                  // SMB2_PREAUTH_INTEGRITY_CAPABILITIES: one hash (SHA-512), 32-byte salt
    m.extend_from_slice(&[0x01, 0x00, 0x26, 0x00, 0, 0, 0, 0]); // type 1, data length 38, reserved
    m.extend_from_slice(&[0x01, 0x00, 0x20, 0x00, 0x01, 0x00]); // hash count 1, salt length 32, SHA-512
    m.extend_from_slice(b"wijkagent-wijkagent-wijkagent-wk"); // salt
    m.extend_from_slice(&[0; 2]); // padding to 8 (158 -> 160)
                                  // SMB2_ENCRYPTION_CAPABILITIES: AES-128-GCM, AES-128-CCM
    m.extend_from_slice(&[0x02, 0x00, 0x06, 0x00, 0, 0, 0, 0]); // type 2, data length 6, reserved
    m.extend_from_slice(&[0x02, 0x00, 0x02, 0x00, 0x01, 0x00]); // cipher count 2, GCM, CCM
    frame(&m)
}

/// SMB2 SESSION_SETUP carrying the security `blob`, framed.
pub fn smb2_session_setup(message_id: u64, session_id: u64, credit_charge: u16, blob: &[u8]) -> Vec<u8> {
    let mut m = smb2_header(SESSION_SETUP, message_id, session_id, credit_charge);
    m.extend_from_slice(&25u16.to_le_bytes()); // structure size
    m.push(0); // flags
    m.push(SIGNING_ENABLED as u8); // security mode
    m.extend_from_slice(&[0; 4]); // capabilities
    m.extend_from_slice(&[0; 4]); // channel
    m.extend_from_slice(&88u16.to_le_bytes()); // security buffer offset (64 + 24)
    m.extend_from_slice(&(blob.len() as u16).to_le_bytes()); // security buffer length
    m.extend_from_slice(&[0; 8]); // previous session id
    m.extend_from_slice(blob);
    frame(&m)
}

/// The fields of an SMB2 header the probe uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2Header {
    /// NT status.
    pub status: u32,
    /// Command.
    pub command: u16,
    /// Flags (0x1 response, 0x2 async).
    pub flags: u32,
    /// Session id.
    pub session_id: u64,
}

/// Parses the SMB2 header at the start of `msg` (unframed).
pub fn parse_smb2_header(msg: &[u8]) -> Result<Smb2Header, Malformed> {
    if msg.get(..4) != Some(b"\xfeSMB") {
        return Err("not an SMB2 answer");
    }
    if msg.len() < HEADER {
        return Err("short SMB2 header");
    }
    Ok(Smb2Header {
        status: u32_at(msg, 8).ok_or("short SMB2 header")?,
        command: u16_at(msg, 12).ok_or("short SMB2 header")?,
        flags: u32_at(msg, 16).ok_or("short SMB2 header")?,
        session_id: u64_at(msg, 40).ok_or("short SMB2 header")?,
    })
}

/// What an SMB2 NEGOTIATE answer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb2Negotiate {
    /// The chosen dialect.
    pub dialect: u16,
    /// SecurityMode (signing enabled / required).
    pub security_mode: u16,
    /// Capabilities.
    pub capabilities: u32,
}

/// Parses an SMB2 NEGOTIATE answer (unframed, header included).
pub fn parse_smb2_negotiate(msg: &[u8]) -> Result<Smb2Negotiate, Malformed> {
    let header = parse_smb2_header(msg)?;
    if header.command != NEGOTIATE {
        return Err("not an SMB2 NEGOTIATE answer");
    }
    if u16_at(msg, HEADER) != Some(65) {
        return Err("SMB2 NEGOTIATE answer of the wrong structure size");
    }
    Ok(Smb2Negotiate {
        security_mode: u16_at(msg, HEADER + 2).ok_or("short SMB2 NEGOTIATE")?,
        dialect: u16_at(msg, HEADER + 4).ok_or("short SMB2 NEGOTIATE")?,
        capabilities: u32_at(msg, HEADER + 24).ok_or("short SMB2 NEGOTIATE")?,
    })
}

/// What an SMB2 SESSION_SETUP answer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSetup<'a> {
    /// Its header.
    pub header: Smb2Header,
    /// SessionFlags (guest, null, encrypt).
    pub session_flags: u16,
    /// The security blob (SPNEGO, NTLMSSP challenge inside).
    pub blob: &'a [u8],
}

/// Parses an SMB2 SESSION_SETUP answer (unframed, header included). Error answers carry an
/// ERROR body (structure size 9 too) and an empty blob.
pub fn parse_session_setup(msg: &[u8]) -> Result<SessionSetup<'_>, Malformed> {
    let header = parse_smb2_header(msg)?;
    if header.command != SESSION_SETUP {
        return Err("not an SMB2 SESSION_SETUP answer");
    }
    if u16_at(msg, HEADER) != Some(9) {
        return Err("SMB2 SESSION_SETUP answer of the wrong structure size");
    }
    let ok = header.status == STATUS_SUCCESS || header.status == STATUS_MORE_PROCESSING_REQUIRED;
    if !ok {
        return Ok(SessionSetup { header, session_flags: 0, blob: &[] });
    }
    let session_flags = u16_at(msg, HEADER + 2).ok_or("short SMB2 SESSION_SETUP")?;
    let offset = usize::from(u16_at(msg, HEADER + 4).ok_or("short SMB2 SESSION_SETUP")?);
    let len = usize::from(u16_at(msg, HEADER + 6).ok_or("short SMB2 SESSION_SETUP")?);
    let blob =
        if len == 0 { &[][..] } else { msg.get(offset..offset + len).ok_or("SMB2 security buffer out of bounds")? };
    Ok(SessionSetup { header, session_flags, blob })
}

/// `3.1.1` for 0x0311.
pub fn dialect_name(d: u16) -> String {
    match d {
        0x0202 => "2.0.2".into(),
        0x0210 => "2.1".into(),
        0x0300 => "3.0".into(),
        0x0302 => "3.0.2".into(),
        0x0311 => "3.1.1".into(),
        0x02ff => "2.??? (wildcard)".into(),
        other => format!("{other:#06x}"),
    }
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}
