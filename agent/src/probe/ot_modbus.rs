//! Modbus/TCP identification: Read Device Identification (function 43, MEI type 14, basic
//! category: objects 0x00 VendorName, 0x01 ProductCode, 0x02 MajorMinorRevision; Modbus Application
//! Protocol v1.1b3, 6.21). A read of the device's name plate; no register or coil is ever read or
//! written.
//!
//! Unit id 255 first (the "this device" address of Modbus/TCP); a device or gateway that does not
//! answer it, or answers "gateway target failed" (exception 0x0B), is asked once more with unit 1.

use crate::probe::io::{self, ProbeError, Session};
use crate::probe::{Limits, ServiceInfo, Target};

/// Transaction id "wk".
const TRANSACTION: [u8; 2] = *b"wk";
/// Rounds of "more follows" followed at most.
const MAX_ROUNDS: usize = 3;

/// The request for `object` of the basic category, to `unit`.
pub(crate) fn request_bytes(unit: u8, object: u8) -> [u8; 11] {
    let [t0, t1] = TRANSACTION;
    [
        t0, t1, 0x00, 0x00, // transaction id, protocol id 0 (Modbus)
        0x00, 0x05, unit, // length 5 (unit id + 4 PDU bytes), unit id
        0x2b, 0x0e, 0x01,   // function 43, MEI type 14 (read device identification), basic stream
        object, // first object id
    ]
}

/// What the device answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Identification objects, whether more follow, and the next object id.
    Objects {
        /// (object id, sanitised value).
        objects: Vec<(u8, String)>,
        /// More objects follow from `next`.
        more: bool,
        /// The next object id to ask.
        next: u8,
    },
    /// A Modbus exception code.
    Exception(u8),
}

/// The PDU length of an MBAP header (7 bytes), checked.
pub(crate) fn parse_mbap(header: &[u8]) -> Result<usize, ProbeError> {
    let h = header.get(..7).ok_or(ProbeError::Closed)?;
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    if h[2..4] != [0, 0] || !(2..=254).contains(&len) {
        return Err(ProbeError::Protocol(format!("Modbus MBAP protocol {:?} length {len}", &h[2..4])));
    }
    Ok(len - 1) // the unit id is counted in the length
}

/// Parses a Read Device Identification answer PDU.
pub(crate) fn parse_pdu(pdu: &[u8]) -> Option<Answer> {
    match *pdu.first()? {
        0xab => Some(Answer::Exception(*pdu.get(1)?)),
        0x2b if pdu.get(1) == Some(&0x0e) => {
            let (more, next, count) = (*pdu.get(4)? == 0xff, *pdu.get(5)?, *pdu.get(6)?);
            let mut objects = Vec::new();
            let mut at = 7;
            for _ in 0..count {
                let (id, len) = (*pdu.get(at)?, usize::from(*pdu.get(at + 1)?));
                let value = pdu.get(at + 2..at + 2 + len)?;
                objects.push((id, io::sanitize_bytes(value, 80)));
                at += 2 + len;
            }
            Some(Answer::Objects { objects, more, next })
        }
        _ => None,
    }
}

/// Asks the device for its identification and fills `info`.
pub(super) async fn identify(target: &Target, limits: &Limits, info: &mut ServiceInfo) {
    let first = Limits { deadline: limits.deadline / 2, ..*limits };
    let answer = match ask(target, &first, 0xff).await {
        Ok(Answer::Exception(0x0a | 0x0b)) | Err(ProbeError::Timeout) => {
            let rest = Limits { deadline: limits.deadline - first.deadline, ..*limits };
            ask(target, &rest, 1).await.map(|a| (a, 1))
        }
        other => other.map(|a| (a, 0xff)),
    };
    match answer {
        Ok((Answer::Objects { objects, .. }, unit)) => {
            info.service = Some("modbus".into());
            info.detail("modbus-unit", &unit.to_string());
            let get = |id: u8| objects.iter().find(|(i, _)| *i == id).map(|(_, v)| v.clone());
            let (vendor, code, revision) = (get(0), get(1), get(2));
            if let Some(v) = &vendor {
                info.detail("vendor", v);
            }
            if let Some(c) = &code {
                info.detail("product-code", c);
            }
            info.product = match (vendor, code) {
                (Some(v), Some(c)) => Some(format!("{v} {c}")),
                (v, c) => v.or(c),
            };
            info.version = revision;
        }
        Ok((Answer::Exception(code), unit)) => {
            info.service = Some("modbus".into());
            info.detail("modbus-unit", &unit.to_string());
            info.detail("device-identification", &format!("niet ondersteund (Modbus-exceptie {code:#04x})"));
        }
        Err(e) => info.note = Some(e.note()),
    }
}

/// One connection: the request to `unit`, following "more follows" a few rounds.
async fn ask(target: &Target, limits: &Limits, unit: u8) -> Result<Answer, ProbeError> {
    let mut s = Session::connect(target, limits).await?;
    let mut object = 0u8;
    let mut all = Vec::new();
    for _ in 0..MAX_ROUNDS {
        s.write_all(&request_bytes(unit, object)).await?;
        let header = s.read_exact(7).await?;
        let len = parse_mbap(&header)?;
        let pdu = s.read_exact(len).await?;
        match parse_pdu(&pdu)
            .ok_or_else(|| ProbeError::Protocol(format!("Modbus PDU {:02x?}", &pdu[..pdu.len().min(4)])))?
        {
            Answer::Objects { objects, more, next } => {
                all.extend(objects);
                if !more || next <= object {
                    break;
                }
                object = next;
            }
            exception if all.is_empty() => return Ok(exception),
            Answer::Exception(_) => break,
        }
    }
    Ok(Answer::Objects { objects: all, more: false, next: 0 })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Answer of a Schneider M221 (unit 255): three basic objects, no more.
    pub(crate) const M221: [u8; 47] = [
        0x77, 0x6b, 0x00, 0x00, 0x00, 0x29, 0xff, // MBAP: transaction "wk", protocol 0, length 41, unit 255
        0x2b, 0x0e, 0x01, // function 43, MEI 14, read device id code 1
        0x01, // conformity level: basic
        0x00, 0x00, // more follows: no, next object 0
        0x03, // 3 objects
        0x00, 0x12, b'S', b'c', b'h', b'n', b'e', b'i', b'd', b'e', b'r', b' ', b'E', b'l', b'e', b'c', b't', b'r',
        b'i', b'c', // VendorName, 18 bytes
        0x01, 0x04, b'M', b'2', b'2', b'1', // ProductCode, 4 bytes
        0x02, 0x05, b'v', b'1', b'.', b'1', b'0', // MajorMinorRevision, 5 bytes
    ];

    #[test]
    fn builds_the_request() {
        assert_eq!(request_bytes(0xff, 0), [0x77, 0x6b, 0x00, 0x00, 0x00, 0x05, 0xff, 0x2b, 0x0e, 0x01, 0x00]);
        assert_eq!(usize::from(request_bytes(1, 0)[5]), request_bytes(1, 0).len() - 6);
    }

    #[test]
    fn parses_identification_objects() {
        let len = parse_mbap(&M221).expect("mbap");
        assert_eq!(len, M221.len() - 7);
        let Some(Answer::Objects { objects, more, .. }) = parse_pdu(&M221[7..]) else { panic!("objects") };
        assert!(!more);
        assert_eq!(objects[0], (0, "Schneider Electric".to_string()));
        assert_eq!(objects[1], (1, "M221".to_string()));
        assert_eq!(objects[2], (2, "v1.10".to_string()));
    }

    #[test]
    fn parses_exceptions_and_refuses_garbage() {
        assert_eq!(parse_pdu(&[0xab, 0x01]), Some(Answer::Exception(1)));
        assert_eq!(parse_pdu(&[0x03, 0x02, 0x00, 0x01]), None); // a register read answer is not ours
        assert_eq!(parse_pdu(&[]), None);
        for cut in 8..M221.len() {
            assert_eq!(parse_pdu(&M221[7..cut]), None, "cut at {cut}");
        }
        // an object claiming 255 bytes
        let mut long = M221;
        long[15] = 0xff;
        assert_eq!(parse_pdu(&long[7..]), None);
        assert!(parse_mbap(&[0x77, 0x6b, 0x00, 0x00, 0xff, 0xff, 0xff]).is_err()); // 65535-byte length
        assert!(parse_mbap(&[0x77, 0x6b, 0x12, 0x34, 0x00, 0x05, 0xff]).is_err());
        // not Modbus
    }
}
