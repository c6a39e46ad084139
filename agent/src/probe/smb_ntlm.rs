//! NTLMSSP ([MS-NLMP] 2.2) inside SPNEGO (RFC 4178), built and read by hand for the SMB probe:
//! the NEGOTIATE message, the AUTHENTICATE message for an anonymous or unknown user, and the
//! server's CHALLENGE, whose target information names the host and its domain and whose version
//! field gives the Windows build (Samba always claims 6.1 build 0).
//!
//! No password is ever known, so no response is ever computed: the anonymous AUTHENTICATE carries
//! empty responses, the unknown-user one carries zeroes. Only a server that hands out guest
//! sessions to anyone accepts either.

use crate::probe::io;
use crate::probe::ldap::ber;

/// NTLMSSP signature.
const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
/// NEGOTIATE_UNICODE | REQUEST_TARGET | NEGOTIATE_NTLM | ALWAYS_SIGN | EXTENDED_SESSIONSECURITY |
/// NEGOTIATE_VERSION | NEGOTIATE_128 | NEGOTIATE_56.
const FLAGS: u32 =
    0x0000_0001 | 0x0000_0004 | 0x0000_0200 | 0x0000_8000 | 0x0008_0000 | 0x0200_0000 | 0x2000_0000 | 0x8000_0000;
/// NEGOTIATE_ANONYMOUS.
const ANONYMOUS: u32 = 0x0000_0800;
/// NEGOTIATE_VERSION: the version field is meaningful.
const VERSION_FLAG: u32 = 0x0200_0000;
/// Our version field: 10.0, build 0, NTLM revision 15.
const VERSION: [u8; 8] = [10, 0, 0, 0, 0, 0, 0, 15];
/// The SPNEGO mechanism OID (1.3.6.1.5.5.2).
const SPNEGO_OID: [u8; 6] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// The NTLMSSP mechanism OID (1.3.6.1.4.1.311.2.2.10).
const NTLMSSP_OID: [u8; 10] = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
/// Target-information pairs read at most.
const MAX_AV_PAIRS: usize = 32;

/// The NTLMSSP NEGOTIATE message (40 bytes, no domain or workstation).
pub fn negotiate_message() -> Vec<u8> {
    let mut m = SIGNATURE.to_vec();
    m.extend_from_slice(&1u32.to_le_bytes()); // message type 1
    m.extend_from_slice(&FLAGS.to_le_bytes()); // negotiate flags
    m.extend_from_slice(&[0; 8]); // domain name fields: empty
    m.extend_from_slice(&[0; 8]); // workstation fields: empty
    m.extend_from_slice(&VERSION); // version
    m
}

/// The AUTHENTICATE message: anonymous when `user` is `None` (empty responses, NEGOTIATE_ANONYMOUS),
/// else `user` with zeroed LM and NTLMv2-shaped responses that match no password.
#[cfg(test)]
pub fn authenticate_message(user: Option<&str>) -> Vec<u8> {
    authenticate_message_for(user, &[0; 4])
}

/// [`authenticate_message`] whose NTLMv2 blob carries the server's own target information (from its
/// CHALLENGE, ending in MsvAvEOL), as real clients send it: Samba refuses a blob without the server's
/// NetBIOS names with STATUS_INVALID_PARAMETER before it ever considers a guest session.
pub fn authenticate_message_for(user: Option<&str>, target_info: &[u8]) -> Vec<u8> {
    let utf16 = |s: &str| s.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
    let (lm, nt, name, flags) = match user {
        None => (vec![0u8], Vec::new(), Vec::new(), FLAGS | ANONYMOUS),
        Some(u) => {
            let mut nt = vec![0u8; 16]; // NTProofStr
            nt.extend_from_slice(&[0x01, 0x01, 0, 0, 0, 0, 0, 0]); // blob version 1, reserved
            nt.extend_from_slice(&[0; 8]); // timestamp
            nt.extend_from_slice(b"wijkagnt"); // client challenge
            nt.extend_from_slice(&[0; 4]); // reserved
            nt.extend_from_slice(target_info); // AV pairs, ending in MsvAvEOL
            nt.extend_from_slice(&[0; 4]); // padding
            (vec![0u8; 24], nt, utf16(u), FLAGS)
        }
    };
    let workstation = if user.is_some() { utf16("WIJKAGENT") } else { Vec::new() };
    let payload: [&[u8]; 6] = [&lm, &nt, &[], &name, &workstation, &[]]; // LM, NT, domain, user, workstation, key
    let mut m = SIGNATURE.to_vec();
    m.extend_from_slice(&3u32.to_le_bytes()); // message type 3
    let mut offset = 72u32; // header with version, no MIC
    for field in payload {
        m.extend_from_slice(&(field.len() as u16).to_le_bytes()); // length
        m.extend_from_slice(&(field.len() as u16).to_le_bytes()); // maximum length
        m.extend_from_slice(&offset.to_le_bytes()); // offset
        offset += field.len() as u32;
    }
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&VERSION);
    for field in payload {
        m.extend_from_slice(field);
    }
    m
}

/// SPNEGO NegTokenInit offering NTLMSSP, carrying `token`.
pub fn spnego_init(token: &[u8]) -> Vec<u8> {
    let mechs = ber::tlv(0xa0, &ber::tlv(0x30, &ber::tlv(0x06, &NTLMSSP_OID))); // [0] mechTypes
    let mech_token = ber::tlv(0xa2, &ber::tlv(0x04, token)); // [2] mechToken
    let init = ber::tlv(0xa0, &ber::constructed(0x30, &[&mechs, &mech_token])); // [0] NegTokenInit
    ber::constructed(0x60, &[&ber::tlv(0x06, &SPNEGO_OID), &init]) // [APPLICATION 0]
}

/// SPNEGO NegTokenResp carrying `token`.
pub fn spnego_response(token: &[u8]) -> Vec<u8> {
    ber::tlv(0xa1, &ber::tlv(0x30, &ber::tlv(0xa2, &ber::tlv(0x04, token)))) // [1] { [2] responseToken }
}

/// The NTLMSSP message of `message_type` inside a security blob, wherever SPNEGO put it.
pub fn find_message(blob: &[u8], message_type: u32) -> Option<&[u8]> {
    let mut start = 0;
    while let Some(pos) = blob.get(start..)?.windows(8).position(|w| w == SIGNATURE) {
        let at = start + pos;
        if blob.get(at + 8..at + 12) == Some(&message_type.to_le_bytes()[..]) {
            return Some(&blob[at..]);
        }
        start = at + 1;
    }
    None
}

/// What a CHALLENGE message tells about the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Challenge {
    /// Negotiate flags.
    pub flags: u32,
    /// TargetName (the domain, or the server's NetBIOS name when stand-alone).
    pub target_name: String,
    /// Product version: major, minor, build.
    pub version: Option<(u8, u8, u16)>,
    /// Target information: (AvId, text) for the name pairs 1-5 and 9.
    pub names: Vec<(u16, String)>,
    /// The target information as sent, through its MsvAvEOL (echoed in the AUTHENTICATE blob).
    pub target_info: Vec<u8>,
}

impl Challenge {
    /// The text of AvId `id`, if present.
    pub fn name(&self, id: u16) -> Option<&str> {
        self.names.iter().find(|(i, _)| *i == id).map(|(_, s)| s.as_str())
    }

    /// Samba claims Windows 6.1 build 0, a build no Windows ever had.
    pub fn is_samba(&self) -> bool {
        self.version == Some((6, 1, 0))
    }
}

/// Parses a CHALLENGE message (starting at its signature).
pub fn parse_challenge(msg: &[u8]) -> Result<Challenge, &'static str> {
    if msg.get(..8) != Some(&SIGNATURE[..]) || msg.get(8..12) != Some(&2u32.to_le_bytes()[..]) {
        return Err("not an NTLMSSP CHALLENGE");
    }
    let flags = u32_at(msg, 20).ok_or("short CHALLENGE")?;
    let target_name = utf16_text(field(msg, 12).ok_or("CHALLENGE target name out of bounds")?);
    let info = field(msg, 40).ok_or("CHALLENGE target info out of bounds")?;
    // The version sits between the fixed fields and the payload, when the flag says so.
    let payload_at =
        [u32_at(msg, 16), u32_at(msg, 44)].into_iter().flatten().filter(|&o| o != 0).min().unwrap_or(msg.len() as u32);
    let version = if flags & VERSION_FLAG != 0 && payload_at >= 56 {
        msg.get(48..52).map(|v| (v[0], v[1], u16::from_le_bytes([v[2], v[3]])))
    } else {
        None
    };
    let mut names = Vec::new();
    let mut at = 0;
    for _ in 0..MAX_AV_PAIRS {
        let (Some(id), Some(len)) = (u16_at(info, at), u16_at(info, at + 2)) else { break };
        let value = info.get(at + 4..at + 4 + usize::from(len)).ok_or("CHALLENGE AV pair out of bounds")?;
        match id {
            0 => {
                at += 4;
                break;
            }
            1..=5 | 9 => names.push((id, utf16_text(value))),
            _ => {}
        }
        at += 4 + usize::from(len);
    }
    let mut target_info = info[..at.min(info.len())].to_vec();
    if !target_info.ends_with(&[0; 4]) {
        target_info.extend_from_slice(&[0; 4]); // a list cut short still ends in MsvAvEOL
    }
    Ok(Challenge { flags, target_name, version, names, target_info })
}

/// A (length, max length, offset) field at `at` of `msg`, resolved to its bytes.
fn field(msg: &[u8], at: usize) -> Option<&[u8]> {
    let len = usize::from(u16_at(msg, at)?);
    let offset = usize::try_from(u32_at(msg, at + 4)?).ok()?;
    msg.get(offset..offset.checked_add(len)?)
}

/// UTF-16LE text, sanitised.
fn utf16_text(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    io::sanitize(&String::from_utf16_lossy(&units), 100)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
