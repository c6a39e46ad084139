//! BACnet/IP identification (UDP 47808): ReadProperty requests to the device object, by the
//! wildcard instance 4194303 that every BACnet device answers for itself (ASHRAE 135, 15.5).
//!
//! First the catalog's identification payload
//! ([`ot_identification_payload`](crate::ports::udp_payloads::ot_identification_payload)): the
//! device's object identifier (its instance number). When that answers, the device's name plate:
//! vendor-name, model-name, firmware-revision, application-software-version and object-name. All
//! are properties of the device object itself; no point (input, output, value) is ever read and
//! nothing is written. BACnet/IP lives on UDP: a TCP 47808 port found open is asked over UDP.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::ports::{udp_payloads, Proto};
use crate::probe::io;
use crate::probe::{Limits, ServiceInfo, Target};

/// Device-object properties asked after the object identifier: (property id, detail key).
const NAME_PLATE: [(u8, &str); 5] =
    [(121, "vendor"), (70, "model"), (44, "firmware"), (12, "application-software"), (77, "object-name")];
/// Longest wait for one name-plate property.
const PROPERTY_WAIT: Duration = Duration::from_secs(1);

/// ReadProperty of `property` of the device with the wildcard instance.
pub(crate) fn read_property(invoke_id: u8, property: u8) -> [u8; 17] {
    [
        0x81, 0x0a, 0x00, 0x11, // BVLC: BACnet/IP, Original-Unicast-NPDU, length 17
        0x01, 0x04, // NPDU: version 1, expecting reply
        0x00, 0x05, invoke_id, 0x0c, // APDU: confirmed request, max APDU 1476, invoke id, ReadProperty
        0x0c, 0x02, 0x3f, 0xff, 0xff, // context 0: object id device,4194303
        0x19, property, // context 1: property id
    ]
}

/// A property value, as far as identification needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// An object identifier: (object type, instance).
    Object(u16, u32),
    /// A character string.
    Text(String),
    /// An unsigned integer.
    Unsigned(u32),
    /// Anything else: its application tag.
    Other(u8),
}

/// What a device answered: the invoke id and the value, or a BACnet error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// ComplexACK to ReadProperty.
    Value(u8, Value),
    /// Error, Reject or Abort PDU (PDU type).
    Refused(u8),
}

/// A BACnet tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    /// Opening tag of a constructed context value.
    Open(u8),
    /// Closing tag.
    Close(u8),
    /// A primitive value: tag number, context (not application) class, content length.
    Value(u8, bool, usize),
}

/// The tag at `at` and the length of its header.
fn tag(b: &[u8], at: usize) -> Option<(Tag, usize)> {
    let first = *b.get(at)?;
    let mut head = 1;
    let number = if first >> 4 == 0x0f {
        head += 1;
        *b.get(at + 1)?
    } else {
        first >> 4
    };
    let context = first & 0x08 != 0;
    let lvt = first & 0x07;
    match (context, lvt) {
        (true, 6) => return Some((Tag::Open(number), head)),
        (true, 7) => return Some((Tag::Close(number), head)),
        _ => {}
    }
    let len = if lvt < 5 {
        usize::from(lvt)
    } else {
        let ext = *b.get(at + head)?;
        head += 1;
        match ext {
            254 => {
                let l = u16::from_be_bytes([*b.get(at + head)?, *b.get(at + head + 1)?]);
                head += 2;
                usize::from(l)
            }
            255 => return None, // 32-bit lengths: never for identification properties
            n => usize::from(n),
        }
    };
    Some((Tag::Value(number, context, len), head))
}

/// Parses a BVLC/NPDU/APDU datagram answering ReadProperty.
pub(crate) fn parse_reply(b: &[u8]) -> Option<Reply> {
    if b.first()? != &0x81 || !matches!(b.get(1)?, 0x0a | 0x0b) {
        return None;
    }
    // NPDU: version, control, [DNET, DLEN, DADR], [SNET, SLEN, SADR], [hop count]
    let control = *b.get(5)?;
    if b.get(4)? != &0x01 || control & 0x80 != 0 {
        return None; // network-layer message, not an APDU
    }
    let mut at = 6;
    if control & 0x20 != 0 {
        at += 3 + usize::from(*b.get(at + 2)?);
    }
    if control & 0x08 != 0 {
        at += 3 + usize::from(*b.get(at + 2)?);
    }
    if control & 0x20 != 0 {
        at += 1; // hop count
    }
    let apdu = b.get(at..)?;
    match apdu.first()? >> 4 {
        3 if apdu[0] & 0x08 == 0 && apdu.get(2)? == &0x0c => {
            let invoke = apdu[1];
            // context 0 object id, context 1 property id, optional context 2 array index, then [3]
            let mut at = 3;
            loop {
                match tag(apdu, at)? {
                    (Tag::Open(3), head) => {
                        at += head;
                        break;
                    }
                    (Tag::Value(_, true, len), head) => at += head + len,
                    _ => return None,
                }
            }
            let (Tag::Value(number, false, len), head) = tag(apdu, at)? else { return None };
            let v = apdu.get(at + head..at + head + len)?;
            if tag(apdu, at + head + len)?.0 != Tag::Close(3) {
                return None;
            }
            let value = match number {
                7 => Value::Text(io::sanitize_bytes(v.get(1..)?, 80)), // charset byte, then text
                12 if len == 4 => {
                    let id = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
                    Value::Object((id >> 22) as u16, id & 0x003f_ffff)
                }
                2 if (1..=4).contains(&len) => Value::Unsigned(v.iter().fold(0, |a, &x| a << 8 | u32::from(x))),
                n => Value::Other(n),
            };
            Some(Reply::Value(invoke, value))
        }
        5..=7 => Some(Reply::Refused(apdu[0] >> 4)),
        _ => None,
    }
}

/// The UDP target BACnet is asked at: `target`'s address, port 47808.
pub(super) fn udp_target(target: &Target) -> Target {
    Target { addr: SocketAddr::new(target.addr.ip(), 47808), proto: Proto::Udp, ..target.clone() }
}

/// Asks the device at `udp` (see [`udp_target`]); fills `info`.
pub(super) async fn identify(udp: &Target, limits: &Limits, info: &mut ServiceInfo) {
    let Some(payload) = udp_payloads::ot_identification_payload(47808) else {
        info.note = Some("not-probed: no BACnet payload".into());
        return;
    };
    let started = Instant::now();
    let first = match io::udp_exchange(udp, payload, limits).await {
        Ok(bytes) => parse_reply(&bytes),
        Err(e) => {
            info.note = Some(e.note());
            return;
        }
    };
    match first {
        Some(Reply::Value(_, Value::Object(8, instance))) => {
            info.service = Some("bacnet".into());
            info.detail("device-instance", &instance.to_string());
        }
        Some(Reply::Value(..) | Reply::Refused(_)) => {
            info.service = Some("bacnet".into());
            info.detail("device-instance", "onbekend");
        }
        None => {
            info.note = Some("unexpected answer: not a BACnet ReadProperty answer".into());
            return;
        }
    }
    for (invoke, (property, key)) in (2u8..).zip(NAME_PLATE) {
        let left = limits.deadline.saturating_sub(started.elapsed()).min(PROPERTY_WAIT);
        if left.is_zero() {
            break;
        }
        let asked =
            io::udp_exchange(udp, &read_property(invoke, property), &Limits { deadline: left, ..*limits }).await;
        if let Ok(Some(Reply::Value(id, Value::Text(text)))) = asked.map(|b| parse_reply(&b)) {
            if id == invoke && !text.is_empty() {
                info.detail(key, &text);
            }
        }
    }
    let vendor = info.details.get("vendor").cloned();
    let model = info.details.get("model").cloned();
    info.product = match (vendor, model) {
        (Some(v), Some(m)) => Some(format!("{v} {m}")),
        (v, m) => v.or(m),
    };
    info.version = info.details.get("firmware").or_else(|| info.details.get("application-software")).cloned();
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// ComplexACK to the catalog payload (invoke id 1): device,1234.
    pub(crate) const DEVICE_ID: [u8; 23] = [
        0x81, 0x0a, 0x00, 0x17, // BVLC: unicast NPDU, length 23
        0x01, 0x00, // NPDU: version 1, no specifiers
        0x30, 0x01, 0x0c, // APDU: ComplexACK, invoke id 1, ReadProperty
        0x0c, 0x02, 0x00, 0x04, 0xd2, // context 0: object id device,1234
        0x19, 0x4b, // context 1: property 75 (object-identifier)
        0x3e, // opening tag 3
        0xc4, 0x02, 0x00, 0x04, 0xd2, // application tag 12: object id device,1234
        0x3f, // closing tag 3
    ];

    /// ComplexACK (invoke `id`) carrying a character string, routed (source specifier present).
    pub(crate) fn text_reply(id: u8, text: &str) -> Vec<u8> {
        let mut b = vec![0x81, 0x0a, 0x00, 0x00]; // BVLC, length patched below
        b.extend_from_slice(&[0x01, 0x08, 0x00, 0x05, 0x01, 0x2a]); // NPDU: source specifier SNET 5, SADR 0x2a
        b.extend_from_slice(&[0x30, id, 0x0c, 0x0c, 0x02, 0x3f, 0xff, 0xff, 0x19, 0x79, 0x3e]);
        b.push(0x75); // application tag 7 (character string), extended length
        b.push((text.len() + 1) as u8); // length incl. charset byte
        b.push(0x00); // charset UTF-8
        b.extend_from_slice(text.as_bytes());
        b.push(0x3f); // closing tag 3
        let len = b.len() as u16;
        b[2..4].copy_from_slice(&len.to_be_bytes());
        b
    }

    #[test]
    fn the_catalog_payload_is_our_read_property() {
        assert_eq!(udp_payloads::ot_identification_payload(47808), Some(&read_property(1, 75)[..]));
    }

    #[test]
    fn parses_object_ids_and_strings() {
        assert_eq!(parse_reply(&DEVICE_ID), Some(Reply::Value(1, Value::Object(8, 1234))));
        assert_eq!(
            parse_reply(&text_reply(2, "Siemens Building Technologies")),
            Some(Reply::Value(2, Value::Text("Siemens Building Technologies".into())))
        );
    }

    #[test]
    fn refusals_truncation_and_garbage() {
        // Error PDU: class property, code unknown-property
        let error = [0x81, 0x0a, 0x00, 0x0d, 0x01, 0x00, 0x50, 0x02, 0x0c, 0x91, 0x02, 0x91, 0x20];
        assert_eq!(parse_reply(&error), Some(Reply::Refused(5)));
        let full = text_reply(3, "PXC Modular");
        for cut in 0..full.len() - 1 {
            assert!(!matches!(parse_reply(&full[..cut]), Some(Reply::Value(_, Value::Text(_)))), "cut at {cut}");
        }
        assert_eq!(parse_reply(b"HTTP/1.1 200 OK\r\n"), None);
        assert_eq!(parse_reply(&[0x81, 0x0a, 0x00, 0x06, 0x01, 0x80]), None); // network-layer message
        let mut huge = full.clone();
        huge[22] = 0xfe; // a 16-bit length (0x0050) follows, longer than the datagram
        assert!(!matches!(parse_reply(&huge), Some(Reply::Value(_, Value::Text(_)))));
    }
}
