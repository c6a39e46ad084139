use super::*;
use crate::probe::fake;

/// SMB1 NEGOTIATE answer choosing dialect 0 (NT LM 0.12), signing enabled, not required.
fn smb1_nt_lm() -> Vec<u8> {
    let mut m = b"\xffSMB".to_vec(); // protocol
    m.push(0x72); // NEGOTIATE
    m.extend_from_slice(&[0; 4]); // STATUS_SUCCESS
    m.push(0x98); // flags: reply
    m.extend_from_slice(&[0x01, 0xc8]); // flags2
    m.extend_from_slice(&[0; 20]); // PID high, security features, reserved, TID, PID low, UID, MID
    m.push(17); // word count 17
    m.extend_from_slice(&[0x00, 0x00]); // dialect index 0
    m.push(0x07); // security mode: user level, challenge/response, signatures enabled
    m.extend_from_slice(&[0; 31]); // max mpx .. challenge length
    m.extend_from_slice(&[0, 0]); // byte count 0
    m
}

/// SMB1 NEGOTIATE answer of a Samba without SMB1: no dialect chosen.
fn smb1_none() -> Vec<u8> {
    let mut m = smb1_nt_lm()[..32].to_vec();
    m.push(1); // word count 1
    m.extend_from_slice(&[0xff, 0xff]); // dialect index 0xFFFF
    m.extend_from_slice(&[0, 0]); // byte count 0
    m
}

/// An SMB1 SESSION_SETUP_ANDX answer with `status` and Unicode NativeOS `os` / NativeLanMan
/// `lanman`: 4 words and the security `blob` when `blob` is some (extended security), else 3 words.
fn smb1_session_answer(status: u32, blob: Option<&[u8]>, os: &str, lanman: &str) -> Vec<u8> {
    let utf16z = |s: &str| s.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
    let mut m = b"\xffSMB".to_vec(); // protocol
    m.push(0x73); // SESSION_SETUP_ANDX
    m.extend_from_slice(&status.to_le_bytes()); // status
    m.push(0x98); // flags: reply
    m.extend_from_slice(&[0x01, 0xc8]); // flags2: unicode, NT status, extended security, long names
    m.extend_from_slice(&[0; 12]); // PID high, security features, reserved
    m.extend_from_slice(&[0; 2]); // TID
    m.extend_from_slice(b"wk"); // PID low
    m.extend_from_slice(&0x0064u16.to_le_bytes()); // UID
    m.extend_from_slice(&1u16.to_le_bytes()); // MID
    m.push(if blob.is_some() { 4 } else { 3 }); // word count
    m.extend_from_slice(&[0xff, 0x00, 0x00, 0x00]); // no AndX command
    m.extend_from_slice(&[0; 2]); // action
    let mut bytes = Vec::new();
    if let Some(blob) = blob {
        m.extend_from_slice(&(blob.len() as u16).to_le_bytes()); // security blob length
        bytes.extend_from_slice(blob);
    }
    if (m.len() + 2 + bytes.len()) % 2 == 1 {
        bytes.push(0); // pad: Unicode strings are 2-aligned from the header's start
    }
    bytes.extend(utf16z(os));
    bytes.extend(utf16z(lanman));
    bytes.extend(utf16z("WORKGROUP")); // primary domain
    m.extend_from_slice(&(bytes.len() as u16).to_le_bytes()); // byte count
    m.extend(bytes);
    m
}

/// An SMB2 answer header for `command` with `status` and `session`.
fn smb2_answer(command: u16, status: u32, session: u64) -> Vec<u8> {
    let mut h = b"\xfeSMB".to_vec();
    h.extend_from_slice(&64u16.to_le_bytes()); // structure size
    h.extend_from_slice(&1u16.to_le_bytes()); // credit charge
    h.extend_from_slice(&status.to_le_bytes()); // status
    h.extend_from_slice(&command.to_le_bytes()); // command
    h.extend_from_slice(&31u16.to_le_bytes()); // credits granted
    h.extend_from_slice(&1u32.to_le_bytes()); // flags: response
    h.extend_from_slice(&[0; 4]); // next command
    h.extend_from_slice(&[0; 8]); // message id
    h.extend_from_slice(&[0; 8]); // reserved, tree id
    h.extend_from_slice(&session.to_le_bytes()); // session id
    h.extend_from_slice(&[0; 16]); // signature
    h
}

/// SMB2 NEGOTIATE answer: `dialect`, SecurityMode `mode`.
fn smb2_negotiated(dialect: u16, mode: u16) -> Vec<u8> {
    let mut m = smb2_answer(0, 0, 0);
    m.extend_from_slice(&65u16.to_le_bytes()); // structure size
    m.extend_from_slice(&mode.to_le_bytes()); // security mode
    m.extend_from_slice(&dialect.to_le_bytes()); // dialect revision
    m.extend_from_slice(&[0; 2]); // negotiate context count
    m.extend_from_slice(&[0x11; 16]); // server GUID
    m.extend_from_slice(&0x2fu32.to_le_bytes()); // capabilities
    m.extend_from_slice(&[0; 12]); // max transact, read, write sizes
    m.extend_from_slice(&[0; 16]); // system time, start time
    m.extend_from_slice(&128u16.to_le_bytes()); // security buffer offset
    m.extend_from_slice(&0u16.to_le_bytes()); // security buffer length
    m.extend_from_slice(&[0; 4]); // negotiate context offset
    m
}

/// An NTLMSSP CHALLENGE with `version` and the names of a Windows domain member.
fn challenge(version: [u8; 4]) -> Vec<u8> {
    let utf16 = |s: &str| s.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
    let target = utf16("GEMEENTE");
    let mut info = Vec::new();
    for (id, text) in [(2u16, "GEMEENTE"), (1, "FS01"), (4, "gemeente.local"), (3, "fs01.gemeente.local")] {
        let v = utf16(text);
        info.extend_from_slice(&id.to_le_bytes()); // AvId
        info.extend_from_slice(&(v.len() as u16).to_le_bytes()); // AvLen
        info.extend(v);
    }
    info.extend_from_slice(&[0; 4]); // MsvAvEOL
    let mut m = b"NTLMSSP\0".to_vec(); // signature
    m.extend_from_slice(&2u32.to_le_bytes()); // message type 2
    m.extend_from_slice(&(target.len() as u16).to_le_bytes()); // target name length
    m.extend_from_slice(&(target.len() as u16).to_le_bytes()); // target name max length
    m.extend_from_slice(&56u32.to_le_bytes()); // target name offset
    m.extend_from_slice(&0xe28a_8215u32.to_le_bytes()); // flags (with NEGOTIATE_VERSION)
    m.extend_from_slice(b"chalnge!"); // server challenge
    m.extend_from_slice(&[0; 8]); // reserved
    m.extend_from_slice(&(info.len() as u16).to_le_bytes()); // target info length
    m.extend_from_slice(&(info.len() as u16).to_le_bytes()); // target info max length
    m.extend_from_slice(&(56 + target.len() as u32).to_le_bytes()); // target info offset
    m.extend_from_slice(&version); // version: major, minor, build
    m.extend_from_slice(&[0, 0, 0, 15]); // reserved, NTLM revision 15
    m.extend(target);
    m.extend(info);
    m
}

const WINDOWS_2019: [u8; 4] = [10, 0, 0x63, 0x45]; // 10.0 build 17763
const SAMBA: [u8; 4] = [6, 1, 0, 0]; // 6.1 build 0

/// SESSION_SETUP answer with `status`, `flags` and `blob`.
fn session_answer(status: u32, flags: u16, blob: &[u8]) -> Vec<u8> {
    let mut m = smb2_answer(1, status, 0x4000_0000_0001);
    m.extend_from_slice(&9u16.to_le_bytes()); // structure size
    m.extend_from_slice(&flags.to_le_bytes()); // session flags
    m.extend_from_slice(&72u16.to_le_bytes()); // security buffer offset
    m.extend_from_slice(&(blob.len() as u16).to_le_bytes()); // security buffer length
    m.extend_from_slice(blob);
    m
}

#[test]
fn requests_have_the_declared_shape() {
    let n1 = packets::smb1_negotiate();
    assert_eq!(packets::frame_len(&n1[..4]), Ok(Some(n1.len() - 4)));
    assert_eq!(&n1[4..9], b"\xffSMB\x72");
    assert!(n1.ends_with(b"\x02NT LM 0.12\0"));
    let n2 = packets::smb2_negotiate();
    assert_eq!(n2.len(), 4 + 174);
    let body = &n2[4 + 64..];
    assert_eq!(packets::u16_at(body, 2), Some(5)); // dialect count
    assert_eq!(packets::u32_at(body, 28), Some(112)); // context offset
    assert_eq!(packets::u16_at(&n2[4..], 112), Some(1)); // pre-auth integrity context there
    assert_eq!(packets::u16_at(&n2[4..], 160), Some(2)); // encryption context, 8-aligned
    let setup = packets::smb2_session_setup(1, 7, 1, b"blob");
    assert_eq!(&setup[4 + 88..], b"blob");
}

#[test]
fn parses_smb1_answers() {
    let on = packets::parse_smb1_negotiate(&smb1_nt_lm()).expect("smb1");
    assert_eq!((on.status, on.dialect_index, on.security_mode), (0, 0, Some(0x07)));
    let off = packets::parse_smb1_negotiate(&smb1_none()).expect("smb1");
    assert_eq!((off.dialect_index, off.security_mode), (0xffff, None));
    assert!(packets::parse_smb1_negotiate(&smb1_nt_lm()[..20]).is_err());
    assert!(packets::parse_smb1_negotiate(&smb2_negotiated(0x0311, 1)).is_err());
    assert!(packets::parse_smb1_negotiate(b"").is_err());
}

#[test]
fn smb1_session_setup_requests() {
    let null = packets::smb1_session_setup(None);
    assert_eq!(packets::frame_len(&null[..4]), Ok(Some(null.len() - 4)));
    let m = &null[4..];
    assert_eq!(&m[..5], b"\xffSMB\x73");
    assert_eq!(m[32], 13, "basic form: 13 words");
    assert_eq!(packets::u16_at(m, 33 + 14), Some(0), "OEM password length");
    assert_eq!(packets::u16_at(m, 33 + 16), Some(0), "Unicode password length");
    // Byte count at 59: a pad byte (61 is odd), then four empty Unicode strings.
    assert_eq!(packets::u16_at(m, 59), Some(9));
    assert_eq!(&m[61..], &[0; 9]);

    let ext = packets::smb1_session_setup(Some(b"blob"));
    let m = &ext[4..];
    assert_eq!(m[32], 12, "extended security: 12 words");
    assert_eq!(packets::u16_at(m, 33 + 14), Some(4), "security blob length");
    assert_eq!(packets::u32_at(m, 33 + 20), Some(0x8000_0044), "CAP_EXTENDED_SECURITY");
    // Byte count at 57, the blob at 59, a pad to 64, two empty Unicode strings.
    assert_eq!(packets::u16_at(m, 57), Some(4 + 1 + 4));
    assert_eq!(&m[59..63], b"blob");
    assert_eq!(m.len(), 59 + 9);
}

#[test]
fn parses_smb1_session_setup_answers() {
    // Basic (3 words) from Samba: byte count at 39, a pad at 41, then the strings.
    let basic = smb1_session_answer(0, None, "Windows 6.1", "Samba 4.17.12-Debian");
    assert_eq!(basic[41], 0, "pad");
    let got = packets::parse_smb1_session_setup(&basic).expect("basic");
    assert_eq!(got.status, 0);
    assert_eq!((got.native_os.as_str(), got.native_lanman.as_str()), ("Windows 6.1", "Samba 4.17.12-Debian"));
    // Extended (4 words), MORE_PROCESSING_REQUIRED with a 5-byte blob: no pad needed (43 + 5 = 48).
    let ext = smb1_session_answer(
        STATUS_MORE_PROCESSING_REQUIRED,
        Some(b"\xa1\x03abc"),
        "Windows Server 2016 Standard 14393",
        "Windows Server 2016 Standard 6.3",
    );
    let got = packets::parse_smb1_session_setup(&ext).expect("extended");
    assert_eq!(got.status, STATUS_MORE_PROCESSING_REQUIRED);
    assert_eq!(got.native_os, "Windows Server 2016 Standard 14393");
    assert_eq!(got.native_lanman, "Windows Server 2016 Standard 6.3");
    // OEM strings (flags2 without Unicode), no pad.
    let mut oem = basic[..39].to_vec();
    oem[11] = 0x48; // flags2 0x4801: no Unicode
    oem.extend_from_slice(&11u16.to_le_bytes()); // byte count
    oem.extend_from_slice(b"Unix\0Samba\0");
    let got = packets::parse_smb1_session_setup(&oem).expect("oem");
    assert_eq!((got.native_os.as_str(), got.native_lanman.as_str()), ("Unix", "Samba"));
    // An error answer: 0 words, 0 bytes.
    let mut err = basic[..32].to_vec();
    err[5..9].copy_from_slice(&0xc000_006du32.to_le_bytes());
    err.extend_from_slice(&[0, 0, 0]); // word count 0, byte count 0
    let got = packets::parse_smb1_session_setup(&err).expect("error answer");
    assert_eq!((got.status, got.native_lanman.as_str()), (0xc000_006d, ""));

    // Truncated: in the header, before the byte count, inside the strings.
    assert!(packets::parse_smb1_session_setup(&basic[..20]).is_err());
    assert!(packets::parse_smb1_session_setup(&basic[..38]).is_err());
    assert!(packets::parse_smb1_session_setup(&basic[..basic.len() - 1]).is_err());
    // A blob longer than the byte count; an unknown word count; a NEGOTIATE answer; SMB2; garbage.
    let mut long_blob = ext.clone();
    long_blob[39..41].copy_from_slice(&0xfff0u16.to_le_bytes());
    assert!(packets::parse_smb1_session_setup(&long_blob).is_err());
    let mut words = basic.clone();
    words[32] = 200;
    assert!(packets::parse_smb1_session_setup(&words).is_err());
    assert!(packets::parse_smb1_session_setup(&smb1_nt_lm()).is_err());
    assert!(packets::parse_smb1_session_setup(&smb2_negotiated(0x0311, 1)).is_err());
    assert!(packets::parse_smb1_session_setup(b"HTTP/1.1 400 Bad Request\r\n").is_err());
}

#[test]
fn samba_versions() {
    assert_eq!(packets::samba_version("Samba 4.17.12-Debian").as_deref(), Some("4.17.12"));
    assert_eq!(packets::samba_version("Samba 3.6.25").as_deref(), Some("3.6.25"));
    assert_eq!(packets::samba_version("Samba"), None);
    assert_eq!(packets::samba_version("Samba unknown"), None);
    assert_eq!(packets::samba_version("Windows Server 2016 Standard 6.3"), None);
}

#[test]
fn parses_smb2_negotiate_and_session_setup() {
    let n = packets::parse_smb2_negotiate(&smb2_negotiated(0x0311, 0x0001)).expect("negotiate");
    assert_eq!((n.dialect, n.security_mode), (0x0311, 0x0001));
    for cut in [0, 3, 40, 63, 64, 66, 69] {
        assert!(packets::parse_smb2_negotiate(&smb2_negotiated(0x0311, 1)[..cut]).is_err(), "cut at {cut}");
    }
    let answer = session_answer(STATUS_MORE_PROCESSING_REQUIRED, 0, b"spnego");
    let s = packets::parse_session_setup(&answer).expect("setup");
    assert_eq!((s.header.session_id, s.blob), (0x4000_0000_0001, &b"spnego"[..]));
    // security buffer pointing past the end
    let mut bad = answer.clone();
    bad[68..70].copy_from_slice(&0xffffu16.to_le_bytes());
    assert!(packets::parse_session_setup(&bad).is_err());
    // a failure carries no blob
    let failed = session_answer(0xc000_006d, 0, b"");
    assert_eq!(packets::parse_session_setup(&failed).expect("setup").header.status, 0xc000_006d);
    assert_eq!(packets::frame_len(&[0x85, 0, 0, 0]), Ok(None));
    assert!(packets::frame_len(b"HTTP").is_err());
}

#[test]
fn builds_ntlm_messages() {
    let n = ntlm::negotiate_message();
    assert_eq!(n.len(), 40);
    assert_eq!(&n[..12], b"NTLMSSP\0\x01\0\0\0");
    let anon = ntlm::authenticate_message(None);
    assert_eq!(packets::u16_at(&anon, 12), Some(1)); // LM response: one zero byte
    assert_eq!(packets::u16_at(&anon, 20), Some(0)); // NT response: empty
    assert_eq!(packets::u16_at(&anon, 36), Some(0)); // user name: empty
    assert_ne!(packets::u32_at(&anon, 60).unwrap_or(0) & 0x800, 0); // NEGOTIATE_ANONYMOUS
    assert_eq!(anon.len(), 73);
    let user = ntlm::authenticate_message(Some("wijkagent"));
    assert_eq!(packets::u16_at(&user, 36), Some(18)); // "wijkagent" in UTF-16
    let spnego = ntlm::spnego_init(&n);
    assert_eq!(&spnego[..2], &[0x60, 0x48]);
    assert_eq!(ntlm::find_message(&spnego, 1), Some(&n[..]));
    assert_eq!(ntlm::find_message(&spnego, 2), None);
}

#[test]
fn parses_a_windows_and_a_samba_challenge() {
    let c = ntlm::parse_challenge(&challenge(WINDOWS_2019)).expect("challenge");
    assert_eq!(c.version, Some((10, 0, 17763)));
    assert_eq!(c.target_name, "GEMEENTE");
    assert_eq!(c.name(1), Some("FS01"));
    assert_eq!(c.name(3), Some("fs01.gemeente.local"));
    assert!(!c.is_samba());
    assert!(ntlm::parse_challenge(&challenge(SAMBA)).expect("challenge").is_samba());
}

#[test]
fn malformed_challenges_are_errors() {
    let good = challenge(WINDOWS_2019);
    for cut in [0, 8, 11, 30, 56, 70, good.len() - 1] {
        assert!(ntlm::parse_challenge(&good[..cut]).is_err(), "cut at {cut}");
    }
    // target info offset far out
    let mut far = good.clone();
    far[44..48].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    assert!(ntlm::parse_challenge(&far).is_err());
    // an AV pair claiming 65535 bytes
    let mut long = good.clone();
    let info_at = 56 + 16;
    long[info_at + 2..info_at + 4].copy_from_slice(&0xffffu16.to_le_bytes());
    assert!(ntlm::parse_challenge(&long).is_err());
}

/// How the fake SMB server behaves.
#[derive(Clone, Copy)]
struct Server {
    smb1: bool,
    /// NativeLanMan in the SMB1 session setup answer.
    lanman: &'static str,
    security_mode: u16,
    guest: bool,
    version: [u8; 4],
}

/// Answers one framed request, as `srv` says; `None` drops the connection.
fn answer(srv: Server, framed: &[u8]) -> Option<Vec<u8>> {
    let req = framed.get(4..)?;
    let reply = if req.starts_with(b"\xffSMB") {
        if !srv.smb1 {
            return None;
        }
        match (req.get(4), req.get(32)) {
            (Some(0x72), _) => smb1_nt_lm(),
            // Extended security, as the NEGOTIATE answer's flags2 asks: the NTLMSSP NEGOTIATE leg.
            (Some(0x73), Some(12)) if ntlm::find_message(req, 1).is_some() => {
                let blob = ntlm::spnego_response(&challenge(srv.version));
                smb1_session_answer(STATUS_MORE_PROCESSING_REQUIRED, Some(&blob), "Windows 6.1", srv.lanman)
            }
            // The basic form: a null session.
            (Some(0x73), Some(13)) => smb1_session_answer(0, None, "Unix", srv.lanman),
            _ => return None,
        }
    } else {
        let header = packets::parse_smb2_header(req).ok()?;
        match header.command {
            0 => smb2_negotiated(0x0311, srv.security_mode),
            1 if header.session_id == 0 => {
                let blob = ntlm::spnego_response(&challenge(srv.version));
                session_answer(STATUS_MORE_PROCESSING_REQUIRED, 0, &blob)
            }
            1 => {
                let auth = ntlm::find_message(req, 3)?;
                let anonymous = packets::u16_at(auth, 36)? == 0;
                match (anonymous, srv.guest) {
                    (true, _) => session_answer(0, packets::SESSION_IS_NULL, b""),
                    (false, true) => session_answer(0, packets::SESSION_IS_GUEST, b""),
                    (false, false) => session_answer(0xc000_006d, 0, b""),
                }
            }
            _ => return None,
        }
    };
    Some(packets::frame(&reply))
}

fn weaknesses(info: &ServiceInfo) -> Vec<&str> {
    info.observations.iter().map(|o| o.weakness.as_str()).collect()
}

#[tokio::test]
async fn a_weak_samba_shows_all_three_findings() {
    let srv = Server { smb1: true, lanman: "Samba 4.17.12-Debian", security_mode: 0x0001, guest: true, version: SAMBA };
    let server = fake::answering(move |r| answer(srv, r)).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.note, None);
    assert_eq!(weaknesses(&info), vec!["smb1-enabled", "smb-signing-not-required", "smb-guest-access"]);
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("Samba"), Some("4.17.12")));
    assert_eq!(info.details.get("native-lanman").map(String::as_str), Some("Samba 4.17.12-Debian"));
    assert_eq!(info.details.get("native-os").map(String::as_str), Some("Windows 6.1"));
    assert_eq!(info.details.get("smb2-dialect").map(String::as_str), Some("3.1.1"));
    assert_eq!(info.details.get("netbios-name").map(String::as_str), Some("FS01"));
    assert!(info.details.get("smb-anonymous").is_some_and(|a| a.contains("IS_NULL")));
}

#[tokio::test]
async fn a_hardened_windows_shows_none() {
    let srv = Server { smb1: false, lanman: "", security_mode: 0x0003, guest: false, version: WINDOWS_2019 };
    let server = fake::answering(move |r| answer(srv, r)).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.note, None);
    assert!(info.observations.is_empty(), "{:?}", info.observations);
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("Windows"), Some("10.0.17763")));
    assert_eq!(info.details.get("smb2-signing").map(String::as_str), Some("vereist"));
    assert!(info.details.get("smb1").is_some_and(|d| d.starts_with("uitgeschakeld")));
    assert_eq!(info.details.get("smb-guest").map(String::as_str), Some("geweigerd (STATUS_LOGON_FAILURE)"));
    assert_eq!(info.details.get("dns-domain").map(String::as_str), Some("gemeente.local"));
}

#[tokio::test]
async fn a_samba_answering_no_dialect_has_smb1_off() {
    let server = fake::answering(|r| {
        if r.get(4..8) == Some(b"\xffSMB") {
            return Some(packets::frame(&smb1_none()));
        }
        answer(Server { smb1: false, lanman: "", security_mode: 3, guest: false, version: SAMBA }, r)
    })
    .await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert!(!weaknesses(&info).contains(&"smb1-enabled"));
    assert!(info.details.get("smb1").is_some_and(|d| d.contains("0xffff")), "{:?}", info.details);
}

#[tokio::test]
async fn a_silent_server_ends_within_the_limits() {
    let server = fake::silent().await;
    let info = fake::times_out(&server.target, 400, 900, identify).await;
    assert!(info.observations.is_empty());
}

#[tokio::test]
async fn an_oversized_frame_is_refused() {
    let server = fake::answering(|_| Some(vec![0x00, 0xff, 0xff, 0xff, 0xfe])).await;
    let info = identify(&server.target, &fake::deadline(1000)).await;
    assert!(info.note.as_deref().is_some_and(|n| n.contains("16777215 bytes")), "{:?}", info.note);
}

#[tokio::test]
async fn a_windows_with_smb1_gives_its_name_as_a_detail_only() {
    let srv = Server {
        smb1: true,
        lanman: "Windows Server 2016 Standard 6.3",
        security_mode: 3,
        guest: false,
        version: WINDOWS_2019,
    };
    let server = fake::answering(move |r| answer(srv, r)).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.note, None);
    assert_eq!(weaknesses(&info), vec!["smb1-enabled"]);
    assert_eq!(info.details.get("native-lanman").map(String::as_str), Some("Windows Server 2016 Standard 6.3"));
    // The product and version come from the NTLM CHALLENGE, not from the native strings.
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("Windows"), Some("10.0.17763")));
}

#[tokio::test]
async fn an_smb1_server_silent_after_negotiate_still_gets_its_smb2_questions() {
    let srv = Server { smb1: true, lanman: "", security_mode: 1, guest: false, version: SAMBA };
    let server = fake::answering(move |r| {
        if r.get(4..9) == Some(b"\xffSMB\x73") {
            return Some(Vec::new()); // silence: the server reads on
        }
        answer(srv, r)
    })
    .await;
    let info = identify(&server.target, &fake::deadline(1000)).await;
    assert_eq!(info.note, None);
    assert_eq!(weaknesses(&info), vec!["smb1-enabled", "smb-signing-not-required"]);
    assert_eq!(info.version, None);
    assert!(!info.details.contains_key("native-lanman"));
}

#[tokio::test]
async fn an_old_samba_without_extended_security_answers_a_null_session() {
    let srv = Server { smb1: true, lanman: "Samba 3.6.25", security_mode: 1, guest: false, version: SAMBA };
    let server = fake::answering(move |r| {
        if r.get(4..9) == Some(b"\xffSMB\x72") {
            let mut negotiated = smb1_nt_lm();
            negotiated[11] = 0xc0; // flags2 0xc001: no extended security
            return Some(packets::frame(&negotiated));
        }
        answer(srv, r)
    })
    .await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.note, None);
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("Samba"), Some("3.6.25")));
    assert_eq!(info.details.get("native-os").map(String::as_str), Some("Unix"));
}
