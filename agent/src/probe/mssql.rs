//! Microsoft SQL Server identification: one TDS PRELOGIN exchange ([MS-TDS] 2.2.6.5).
//!
//! The client's PRELOGIN carries its version, `ENCRYPT_OFF` (encryption for the login only, which
//! lets the server say what it wants), an empty instance name and thread id 0. The server's answer
//! gives its version (major.minor.build: the product release and patch level) and its encryption
//! stance (`off` = login only, `on`, `not supported`, `required`). Nothing else is sent: no login.

use super::io::{ProbeError, Session};
use super::{Limits, ServiceInfo, Target};

/// TDS packet header length.
const HEADER: usize = 8;
/// Largest PRELOGIN answer accepted.
const MAX_PACKET: usize = 4096;
/// Option tokens read at most.
const MAX_OPTIONS: usize = 16;

/// The client's PRELOGIN packet.
pub(crate) const PRELOGIN: [u8; 41] = [
    // --- TDS header
    0x12, // type: PRELOGIN
    0x01, // status: end of message
    0x00, 0x29, // length 41
    0x00, 0x00, // SPID
    0x01, // packet id
    0x00, // window
    // --- option tokens: token, offset (from the start of this payload), length
    0x00, 0x00, 0x15, 0x00, 0x06, // VERSION at 21, 6 bytes
    0x01, 0x00, 0x1b, 0x00, 0x01, // ENCRYPTION at 27, 1 byte
    0x02, 0x00, 0x1c, 0x00, 0x01, // INSTOPT at 28, 1 byte
    0x03, 0x00, 0x1d, 0x00, 0x04, // THREADID at 29, 4 bytes
    0xff, // terminator
    // --- option data
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // VERSION: 0.0.0.0
    0x00, // ENCRYPTION: ENCRYPT_OFF
    0x00, // INSTOPT: "" (default instance)
    0x00, 0x00, 0x00, 0x00, // THREADID 0
];

/// What the server's PRELOGIN answer said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Prelogin {
    /// major, minor, build, sub-build.
    pub version: Option<(u8, u8, u16, u16)>,
    /// The ENCRYPTION option's value.
    pub encryption: Option<u8>,
}

/// Parses the payload of a PRELOGIN answer (after the TDS header).
pub(crate) fn parse_prelogin(payload: &[u8]) -> Option<Prelogin> {
    let mut out = Prelogin::default();
    for i in 0..MAX_OPTIONS {
        let token = payload.get(i * 5..i * 5 + 5)?;
        if token[0] == 0xff {
            return Some(out);
        }
        let offset = usize::from(u16::from_be_bytes([token[1], token[2]]));
        let len = usize::from(u16::from_be_bytes([token[3], token[4]]));
        let data = payload.get(offset..offset.checked_add(len)?)?;
        match (token[0], data) {
            (0x00, [major, minor, b0, b1, s0, s1, ..]) => {
                out.version = Some((*major, *minor, u16::from_be_bytes([*b0, *b1]), u16::from_be_bytes([*s0, *s1])));
            }
            (0x01, [e, ..]) => out.encryption = Some(*e),
            _ => {}
        }
    }
    None
}

/// The SQL Server release of a major.minor version.
pub(crate) fn release(major: u8, minor: u8) -> Option<&'static str> {
    Some(match (major, minor) {
        (8, _) => "SQL Server 2000",
        (9, _) => "SQL Server 2005",
        (10, 50) => "SQL Server 2008 R2",
        (10, _) => "SQL Server 2008",
        (11, _) => "SQL Server 2012",
        (12, _) => "SQL Server 2014",
        (13, _) => "SQL Server 2016",
        (14, _) => "SQL Server 2017",
        (15, _) => "SQL Server 2019",
        (16, _) => "SQL Server 2022",
        (17, _) => "SQL Server 2025",
        _ => return None,
    })
}

/// Identifies SQL Server on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::for_port(target, "mssql");
    match exchange(target, limits).await {
        Ok(p) => describe(&mut info, &p),
        Err(e) => info.note = Some(e.note()),
    }
    info
}

/// Sends PRELOGIN and reads the answer.
async fn exchange(target: &Target, limits: &Limits) -> Result<Prelogin, ProbeError> {
    let mut s = Session::connect(target, limits).await?;
    s.write_all(&PRELOGIN).await?;
    let header = s.read_exact(HEADER).await?;
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if header[0] != 0x04 || !(HEADER + 6..=MAX_PACKET).contains(&len) {
        return Err(ProbeError::Protocol(format!("TDS packet type {:#04x} length {len}", header[0])));
    }
    let payload = s.read_exact(len - HEADER).await?;
    parse_prelogin(&payload).ok_or_else(|| ProbeError::Protocol("TDS PRELOGIN answer".into()))
}

/// Fills `info` from the answer.
fn describe(info: &mut ServiceInfo, p: &Prelogin) {
    info.service = Some("mssql".into());
    info.product = Some("Microsoft SQL Server".into());
    if let Some((major, minor, build, sub)) = p.version {
        info.version = Some(format!("{major}.{minor}.{build}"));
        if let Some(name) = release(major, minor) {
            info.detail("release", name);
        }
        info.detail("version-full", &format!("{major}.{minor}.{build}.{sub}"));
    }
    if let Some(e) = p.encryption {
        let stance = match e {
            0 => "alleen de aanmelding (ENCRYPT_OFF)",
            1 => "aan (ENCRYPT_ON)",
            2 => "niet ondersteund (ENCRYPT_NOT_SUP)",
            3 => "vereist (ENCRYPT_REQ)",
            _ => "onbekend",
        };
        info.detail("encryption", stance);
    }
}

#[cfg(test)]
#[path = "mssql_tests.rs"]
mod tests;
