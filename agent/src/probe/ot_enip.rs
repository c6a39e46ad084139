//! EtherNet/IP identification (TCP 44818): the encapsulation command ListIdentity (CIP Vol. 2,
//! 2-4.2), which every EtherNet/IP device answers without a session with its CIP Identity object:
//! vendor, device type, product code, revision, serial number and product name. Read-only by
//! design; no session is registered and no CIP service is sent.

use crate::probe::io::{self, ProbeError, Session};
use crate::probe::{Limits, ServiceInfo, Target};

/// Largest encapsulation payload accepted.
const MAX_PAYLOAD: usize = 1024;

/// The ListIdentity request: an encapsulation header without data.
pub(crate) const LIST_IDENTITY: [u8; 24] = [
    0x63, 0x00, // command: ListIdentity
    0x00, 0x00, // length 0
    0x00, 0x00, 0x00, 0x00, // session handle
    0x00, 0x00, 0x00, 0x00, // status
    b'w', b'i', b'j', b'k', b'a', b'g', b'n', b't', // sender context
    0x00, 0x00, 0x00, 0x00, // options
];

/// The CIP Identity item of a ListIdentity answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// Vendor id (1 = Rockwell Automation/Allen-Bradley).
    pub vendor: u16,
    /// Device type (0x0E = programmable logic controller).
    pub device_type: u16,
    /// Product code.
    pub product_code: u16,
    /// Revision: major, minor.
    pub revision: (u8, u8),
    /// Serial number.
    pub serial: u32,
    /// Product name (sanitised).
    pub name: String,
}

/// The payload length of an encapsulation header (24 bytes), checked; a shorter header is a
/// connection closed early.
pub(crate) fn parse_header(header: &[u8]) -> Result<usize, ProbeError> {
    let h = header.get(..24).ok_or(ProbeError::Closed)?;
    let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
    if h[..2] != [0x63, 0x00] || len > MAX_PAYLOAD {
        return Err(ProbeError::Protocol(format!("EtherNet/IP command {:02x?} length {len}", &h[..2])));
    }
    Ok(len)
}

/// Parses the payload of a ListIdentity answer.
pub(crate) fn parse_identity(p: &[u8]) -> Option<Identity> {
    let count = u16::from_le_bytes([*p.first()?, *p.get(1)?]);
    if count == 0 || u16::from_le_bytes([*p.get(2)?, *p.get(3)?]) != 0x000c {
        return None;
    }
    let len = usize::from(u16::from_le_bytes([*p.get(4)?, *p.get(5)?]));
    let item = p.get(6..6 + len)?;
    let u16_at = |i: usize| Some(u16::from_le_bytes([*item.get(i)?, *item.get(i + 1)?]));
    let name_len = usize::from(*item.get(32)?);
    Some(Identity {
        vendor: u16_at(18)?,
        device_type: u16_at(20)?,
        product_code: u16_at(22)?,
        revision: (*item.get(24)?, *item.get(25)?),
        serial: u32::from_le_bytes([*item.get(28)?, *item.get(29)?, *item.get(30)?, *item.get(31)?]),
        name: io::sanitize_bytes(item.get(33..33 + name_len)?, 80),
    })
}

/// A readable device type.
fn device_type(t: u16) -> String {
    match t {
        0x00 => "generiek apparaat".into(),
        0x02 => "AC-aandrijving".into(),
        0x0c => "communicatie-adapter".into(),
        0x0e => "PLC".into(),
        0x18 => "HMI".into(),
        other => format!("type {other:#06x}"),
    }
}

/// Asks ListIdentity; fills `info`.
pub(super) async fn identify(target: &Target, limits: &Limits, info: &mut ServiceInfo) {
    match ask(target, limits).await {
        Ok(id) => {
            info.service = Some("enip".into());
            let vendor = if id.vendor == 1 {
                "Rockwell Automation/Allen-Bradley".to_string()
            } else {
                format!("vendor id {}", id.vendor)
            };
            info.detail("vendor", &vendor);
            info.detail("device-type", &device_type(id.device_type));
            info.detail("product-code", &id.product_code.to_string());
            info.detail("serial", &format!("{:#010x}", id.serial));
            info.product = Some(id.name.clone()).filter(|n| !n.is_empty());
            info.version = Some(format!("{}.{:03}", id.revision.0, id.revision.1));
        }
        Err(e) => info.note = Some(e.note()),
    }
}

async fn ask(target: &Target, limits: &Limits) -> Result<Identity, ProbeError> {
    let mut s = Session::connect(target, limits).await?;
    s.write_all(&LIST_IDENTITY).await?;
    let len = parse_header(&s.read_exact(24).await?)?;
    let payload = s.read_exact(len).await?;
    parse_identity(&payload).ok_or_else(|| ProbeError::Protocol("EtherNet/IP ListIdentity answer".into()))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// ListIdentity answer of a 1756-L71 ControlLogix, revision 20.11.
    pub(crate) fn controllogix() -> Vec<u8> {
        let name = b"1756-L71/B LOGIX5571";
        let mut item = vec![0x01, 0x00]; // encapsulation protocol version 1
        item.extend_from_slice(&[0x00, 0x02, 0xaf, 0x12, 192, 0, 2, 44, 0, 0, 0, 0, 0, 0, 0, 0]); // sockaddr
        item.extend_from_slice(&[0x01, 0x00]); // vendor 1
        item.extend_from_slice(&[0x0e, 0x00]); // device type: PLC
        item.extend_from_slice(&[0x36, 0x00]); // product code 54
        item.extend_from_slice(&[20, 11]); // revision 20.11
        item.extend_from_slice(&[0x60, 0x30]); // status
        item.extend_from_slice(&[0x78, 0x56, 0x34, 0x12]); // serial 0x12345678
        item.push(name.len() as u8); // product name length
        item.extend_from_slice(name);
        item.push(0x03); // state
        let mut payload = vec![0x01, 0x00, 0x0c, 0x00]; // 1 item, type 0x0C (CIP identity)
        payload.extend_from_slice(&(item.len() as u16).to_le_bytes());
        payload.extend(item);
        let mut m = LIST_IDENTITY.to_vec();
        m[2..4].copy_from_slice(&(payload.len() as u16).to_le_bytes());
        m.extend(payload);
        m
    }

    /// Found by fuzzing (`probe_reply`): a header shorter than 24 bytes indexed out of bounds.
    #[test]
    fn a_short_header_is_an_error_not_a_panic() {
        assert!(matches!(parse_header(&[0x13]), Err(ProbeError::Closed)));
        assert!(matches!(parse_header(&[0x63, 0x00, 0x04]), Err(ProbeError::Closed)));
        assert!(matches!(parse_header(&controllogix()[..23]), Err(ProbeError::Closed)));
        assert!(parse_header(&controllogix()[..24]).is_ok());
    }

    #[test]
    fn parses_a_list_identity_answer() {
        let m = controllogix();
        assert_eq!(parse_header(&m[..24]).expect("header"), m.len() - 24);
        let id = parse_identity(&m[24..]).expect("identity");
        assert_eq!((id.vendor, id.device_type, id.product_code, id.revision), (1, 0x0e, 54, (20, 11)));
        assert_eq!(id.serial, 0x1234_5678);
        assert_eq!(id.name, "1756-L71/B LOGIX5571");
    }

    #[test]
    fn refuses_truncated_and_oversized_answers() {
        let m = controllogix();
        for cut in 24..m.len() - 1 {
            assert_eq!(parse_identity(&m[24..cut]), None, "cut at {cut}");
        }
        let mut big = m.clone();
        big[2..4].copy_from_slice(&[0xff, 0xff]);
        assert!(parse_header(&big[..24]).is_err());
        assert!(parse_header(b"HTTP/1.1 400 Bad Request").is_err());
        let mut long_name = m.clone();
        long_name[24 + 6 + 32] = 0xff; // product name claiming 255 bytes
        assert_eq!(parse_identity(&long_name[24..]), None);
    }
}
