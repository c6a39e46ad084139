//! AMQP identification: the AMQP 0-9-1 protocol header (`AMQP\0\0\x09\x01`) makes the broker send
//! Connection.Start, whose server-properties table names the product and version (RabbitMQ 3.12.1)
//! and whose mechanisms list shows how clients log in. A broker speaking another version answers
//! with its own protocol header (AMQP 1.0: ActiveMQ, Qpid, …), which is reported. The connection is
//! closed before any login.

use super::io::{ProbeError, Session};
use super::{Limits, ServiceInfo, Target};

/// Largest Connection.Start frame read.
const MAX_FRAME: usize = 32 * 1024;

/// What Connection.Start says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Start {
    /// Protocol version major.minor as the broker states it.
    pub version: (u8, u8),
    /// Text server properties (`product`, `version`, `platform`, `cluster_name`, …).
    pub properties: Vec<(String, String)>,
    /// Login mechanisms (`PLAIN AMQPLAIN`).
    pub mechanisms: String,
}

/// Identifies AMQP on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::named("amqp");
    super::over_connection(target, limits, &mut info, converse).await;
    info
}

async fn converse<S: super::http::Stream>(mut s: Session<S>, info: &mut ServiceInfo) -> Result<(), ProbeError> {
    s.write_all(b"AMQP\x00\x00\x09\x01").await?;
    let head = s.read_exact(7).await?;
    if head.starts_with(b"AMQP") {
        // Another protocol version: the broker sends its own header (8 bytes) and closes.
        let mut header = head;
        if let Ok(last) = s.read_exact(1).await {
            header.extend_from_slice(&last);
        }
        info.detail("protocol", &protocol_header(&header));
        return Ok(());
    }
    let size = frame_size(&head).ok_or_else(|| ProbeError::Protocol(format!("{head:02x?}")))?;
    let rest = s.read_exact(size + 1).await?;
    let mut frame = head;
    frame.extend_from_slice(&rest);
    let start = parse_start(&frame).ok_or_else(|| ProbeError::Protocol("no Connection.Start".into()))?;
    let prop = |k: &str| start.properties.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    info.product = prop("product").map(|p| super::io::sanitize(&p, 60));
    info.version = prop("version").map(|v| super::io::sanitize(&v, 40));
    info.detail("protocol", &format!("AMQP 0-{}-{}", start.version.0, start.version.1));
    for key in ["platform", "cluster_name"] {
        if let Some(v) = prop(key) {
            info.detail(key, &v);
        }
    }
    info.detail("mechanisms", &start.mechanisms);
    Ok(())
}

/// The payload size of a method frame header on channel 0 (`01 0000 size`), if sensible.
pub fn frame_size(head: &[u8]) -> Option<usize> {
    match head {
        [1, 0, 0, a, b, c, d, ..] => Some(u32::from_be_bytes([*a, *b, *c, *d]) as usize).filter(|&n| n <= MAX_FRAME),
        _ => None,
    }
}

/// Describes a protocol header a broker sent back (`AMQP 0 1 0 0` → `AMQP 1.0.0`).
pub fn protocol_header(h: &[u8]) -> String {
    match h {
        [b'A', b'M', b'Q', b'P', id, major, minor, rev, ..] => {
            let kind = match id {
                0 => "",
                2 => " (TLS)",
                3 => " (SASL)",
                _ => " (?)",
            };
            format!("AMQP {major}.{minor}.{rev}{kind}")
        }
        _ => super::io::sanitize_bytes(h, 40),
    }
}

/// Parses a whole Connection.Start frame (header, payload, frame end 0xCE).
pub fn parse_start(frame: &[u8]) -> Option<Start> {
    let size = frame_size(frame)?;
    let payload = frame.get(7..7 + size)?;
    if frame.get(7 + size) != Some(&0xce) {
        return None;
    }
    let mut r = Reader(payload);
    if (r.u16()?, r.u16()?) != (10, 10) {
        return None;
    }
    let version = (r.u8()?, r.u8()?);
    let table_len = r.u32()? as usize;
    let table = r.bytes(table_len)?;
    let properties = parse_table(table);
    let mechanisms_len = r.u32()? as usize;
    let mechanisms = String::from_utf8_lossy(r.bytes(mechanisms_len)?).into_owned();
    Some(Start { version, properties, mechanisms })
}

/// The text entries (`S` long strings) of a field table; nested tables and other values are
/// skipped by their sizes; parsing stops at an unknown type or a length past the end.
pub fn parse_table(table: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut r = Reader(table);
    while !r.0.is_empty() && out.len() < 64 {
        let Some(name) = r.u8().and_then(|n| r.bytes(n as usize)) else { break };
        let name = String::from_utf8_lossy(name).into_owned();
        let Some(kind) = r.u8() else { break };
        let skip = match kind {
            b'S' => {
                let Some(value) = r.u32().and_then(|n| r.bytes(n as usize)) else { break };
                out.push((name, String::from_utf8_lossy(value).into_owned()));
                continue;
            }
            b'F' | b'A' | b'x' => r.u32().map(|n| n as usize),
            b't' | b'b' | b'B' => Some(1),
            b's' | b'u' => Some(2),
            b'I' | b'i' | b'f' => Some(4),
            b'l' | b'L' | b'd' | b'T' => Some(8),
            b'D' => Some(5),
            b'V' => Some(0),
            _ => None,
        };
        if skip.and_then(|n| r.bytes(n)).is_none() {
            break;
        }
    }
    out
}

/// A bounds-checked big-endian reader.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.bytes(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake;
    use tokio::io::AsyncWriteExt;

    /// A Connection.Start frame as RabbitMQ sends it (shortened): a nested capabilities table, a
    /// bool, then product, version, platform; mechanisms and locales.
    fn rabbit_start() -> Vec<u8> {
        let mut table = Vec::new();
        let put_str = |t: &mut Vec<u8>, k: &str, v: &str| {
            t.push(k.len() as u8);
            t.extend_from_slice(k.as_bytes());
            t.push(b'S');
            t.extend_from_slice(&(v.len() as u32).to_be_bytes());
            t.extend_from_slice(v.as_bytes());
        };
        // capabilities: F, a 7-byte table holding one bool (`acks` = true).
        table.extend_from_slice(b"\x0ccapabilitiesF\x00\x00\x00\x07\x04ackst\x01");
        put_str(&mut table, "product", "RabbitMQ");
        put_str(&mut table, "version", "3.12.1");
        put_str(&mut table, "platform", "Erlang/OTP 25.3");
        let mut payload = vec![0, 10, 0, 10, 0, 9];
        payload.extend_from_slice(&(table.len() as u32).to_be_bytes());
        payload.extend_from_slice(&table);
        payload.extend_from_slice(b"\x00\x00\x00\x0ePLAIN AMQPLAIN\x00\x00\x00\x05en_US");
        let mut frame = vec![1, 0, 0];
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(&payload);
        frame.push(0xce);
        frame
    }

    #[test]
    fn connection_start_is_parsed() {
        let start = parse_start(&rabbit_start()).expect("start");
        assert_eq!(start.version, (0, 9));
        assert_eq!(start.mechanisms, "PLAIN AMQPLAIN");
        let names: Vec<&str> = start.properties.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["product", "version", "platform"]);
    }

    #[test]
    fn broken_frames_are_refused() {
        let frame = rabbit_start();
        // Every truncation, a missing frame end, a huge size, another frame type.
        for cut in 0..frame.len() {
            assert_eq!(parse_start(&frame[..cut]), None, "cut at {cut}");
        }
        let mut bad_end = frame.clone();
        *bad_end.last_mut().expect("end") = 0;
        assert_eq!(parse_start(&bad_end), None);
        assert_eq!(frame_size(b"\x01\x00\x00\xff\xff\xff\xff"), None);
        assert_eq!(frame_size(b"\x08\x00\x00\x00\x00\x00\x00"), None);
        // A table whose string claims more bytes than there are, and an unknown type.
        assert!(parse_table(b"\x07productS\x00\x00\xff\xffRabbit").is_empty());
        assert!(parse_table(b"\x01aZ\x00").is_empty());
        assert_eq!(protocol_header(b"AMQP\x00\x01\x00\x00"), "AMQP 1.0.0");
        assert_eq!(protocol_header(b"AMQP\x03\x01\x00\x00"), "AMQP 1.0.0 (SASL)");
    }

    #[tokio::test]
    async fn a_rabbitmq_broker_is_named() {
        let server = fake::serve(|mut s| async move {
            if fake::read_until(&mut s, b"AMQP\x00\x00\x09\x01").await.len() == 8 {
                let _ = s.write_all(&rabbit_start()).await;
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        })
        .await;
        let info = identify(&server.target, &fake::deadline(2000)).await;
        assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("RabbitMQ"), Some("3.12.1")));
        assert_eq!(info.details["mechanisms"], "PLAIN AMQPLAIN");
        assert!(info.observations.is_empty());
        assert_eq!(info.note, None);
    }

    #[tokio::test]
    async fn an_amqp_1_broker_and_a_silent_one() {
        let server = fake::serve(|mut s| async move {
            fake::read_until(&mut s, b"\x09\x01").await;
            let _ = s.write_all(b"AMQP\x03\x01\x00\x00").await;
        })
        .await;
        let info = identify(&server.target, &fake::deadline(2000)).await;
        assert_eq!(info.details["protocol"], "AMQP 1.0.0 (SASL)");
        let server = fake::silent().await;
        let info = identify(&server.target, &fake::deadline(300)).await;
        assert_eq!(info.note.as_deref(), Some("timeout"));
    }
}
