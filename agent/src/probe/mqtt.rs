//! MQTT identification: an MQTT 3.1.1 CONNECT with a random client id, clean session, no user
//! name or password. CONNACK return code 0 means the broker takes anonymous clients
//! (`mqtt-anonymous`); then a QoS 0 SUBSCRIBE to `$SYS/broker/version`, a wait (at most
//! [`VERSION_WAIT`], within the deadline, at most [`VERSION_BYTES`]) for the retained PUBLISH that
//! names product and version (Mosquitto: `mosquitto version 2.0.11`), and DISCONNECT. Nothing is
//! published. On MQTT-over-TLS ports the same over the accept-any TLS connector, and
//! [`crate::tls::analyse`] on the endpoint.

use std::time::Duration;

use super::http;
use super::io::ProbeError;
use super::{Limits, ServiceInfo, Target};
use crate::tls::{self, StartTls};

/// The topic where brokers publish their version (retained).
pub const VERSION_TOPIC: &str = "$SYS/broker/version";
/// How long the probe waits for the version PUBLISH at most.
pub const VERSION_WAIT: Duration = Duration::from_secs(2);
/// How many bytes the probe reads while waiting for it at most.
pub const VERSION_BYTES: usize = 4096;

/// What the conversation learnt.
#[derive(Debug)]
struct Exchange {
    /// The CONNACK return code.
    code: u8,
    /// The payload of the version PUBLISH, if one came.
    version: Option<String>,
}

/// Identifies MQTT (over TLS when `tls`) on `target`.
pub async fn identify(target: &Target, limits: &Limits, tls: bool) -> ServiceInfo {
    let mut info = ServiceInfo::named(if tls { "mqtts" } else { "mqtt" });
    match exchange(target, limits, tls).await {
        Ok(Exchange { code, version }) => {
            info.detail("connack", &format!("{code} ({})", meaning(code)));
            if code == 0 {
                info.observe(
                    "mqtt-anonymous",
                    "CONNECT zonder gebruikersnaam en wachtwoord aanvaard (CONNACK 0)",
                    "CONNECT without user name and password accepted (CONNACK 0)",
                );
            }
            if let Some(text) = version {
                info.detail("sys-version", &text);
                if let Some((product, version)) = product_version(&text) {
                    info.product = Some(product.to_string());
                    info.version = Some(version);
                }
            }
        }
        Err(e) => info.note = Some(e.note()),
    }
    if tls {
        tls::analyse_into(&mut info, target, StartTls::Implicit, limits).await;
    }
    info
}

/// CONNECT, CONNACK; when accepted SUBSCRIBE to the version topic, its PUBLISH if one comes in time,
/// and DISCONNECT.
async fn exchange(target: &Target, limits: &Limits, tls: bool) -> Result<Exchange, ProbeError> {
    let mut s = http::connect(target, limits, tls).await?;
    let client_id = format!("wijkagent-{:08x}", rand::random::<u32>());
    s.write_all(&connect_packet(&client_id)).await?;
    let answer = s.read_exact(4).await?;
    let code = parse_connack(&answer).ok_or_else(|| ProbeError::Protocol(format!("{answer:02x?}")))?;
    let mut version = None;
    if code == 0 {
        if s.write_all(&subscribe_packet(VERSION_TOPIC)).await.is_ok() {
            let wait = VERSION_WAIT.min(s.time_left());
            let read = s.read_until(VERSION_BYTES, |b| find_publish(b, VERSION_TOPIC).is_some());
            // A silent broker, a close or a flood only end the wait: the version is a bonus.
            if let Ok(Ok(got)) = tokio::time::timeout(wait, read).await {
                version =
                    find_publish(&got, VERSION_TOPIC).map(|payload| String::from_utf8_lossy(payload).into_owned());
            }
        }
        let _ = s.write_all(&[0xe0, 0x00]).await;
    }
    Ok(Exchange { code, version })
}

/// An MQTT 3.1.1 CONNECT: protocol `MQTT` level 4, clean session, keep-alive 30 s, no will, no
/// user name, no password.
pub fn connect_packet(client_id: &str) -> Vec<u8> {
    let id = client_id.as_bytes();
    let id = &id[..id.len().min(64)];
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x1e];
    body.extend_from_slice(&(id.len() as u16).to_be_bytes());
    body.extend_from_slice(id);
    let mut packet = vec![0x10, body.len() as u8]; // < 128 bytes: one length byte
    packet.extend_from_slice(&body);
    packet
}

/// The return code of a CONNACK (`20 02 flags code`), `None` for anything else.
pub fn parse_connack(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [0x20, 0x02, _, code, ..] => Some(*code),
        _ => None,
    }
}

/// An MQTT 3.1.1 SUBSCRIBE (packet id 1) to `topic` at QoS 0.
pub fn subscribe_packet(topic: &str) -> Vec<u8> {
    let topic = topic.as_bytes();
    let topic = &topic[..topic.len().min(64)];
    let mut body = vec![0x00, 0x01]; // packet id 1
    body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    body.extend_from_slice(topic);
    body.push(0x00); // requested QoS 0
    let mut packet = vec![0x82, body.len() as u8]; // < 128 bytes: one length byte
    packet.extend_from_slice(&body);
    packet
}

/// The first complete packet at the start of `bytes`: its first byte, its body (after the
/// remaining length) and its total length. `None` when incomplete or the length is malformed.
fn next_packet(bytes: &[u8]) -> Option<(u8, &[u8], usize)> {
    let first = *bytes.first()?;
    let mut len = 0usize;
    for i in 0..4 {
        let b = *bytes.get(1 + i)?;
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let start = 2 + i;
            let body = bytes.get(start..start.checked_add(len)?)?;
            return Some((first, body, start + len));
        }
    }
    None // a fifth length byte: malformed
}

/// A PUBLISH packet (whole, from its first byte): topic and payload. `None` for anything else,
/// truncated or inconsistent.
pub fn parse_publish(packet: &[u8]) -> Option<(&[u8], &[u8])> {
    let (first, body, total) = next_packet(packet)?;
    if first >> 4 != 3 || total != packet.len() {
        return None;
    }
    let qos = (first >> 1) & 0x03;
    if qos == 3 {
        return None;
    }
    let topic_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let topic = body.get(2..2 + topic_len)?;
    let payload_at = 2 + topic_len + if qos > 0 { 2 } else { 0 };
    let payload = body.get(payload_at..)?;
    Some((topic, payload))
}

/// The payload of the first PUBLISH on `topic` among the complete packets in `bytes` (SUBACK and
/// others are skipped).
pub fn find_publish<'a>(mut bytes: &'a [u8], topic: &str) -> Option<&'a [u8]> {
    while let Some((_, _, total)) = next_packet(bytes) {
        let (packet, rest) = bytes.split_at(total);
        if let Some((t, payload)) = parse_publish(packet) {
            if t == topic.as_bytes() {
                return Some(payload);
            }
        }
        bytes = rest;
    }
    None
}

/// Product and version from a version payload: `mosquitto version 2.0.11`, `EMQX 5.3.0`,
/// `VerneMQ 1.13.0`, `HiveMQ 4.20.0`. `None` for an unknown product or no version.
pub fn product_version(text: &str) -> Option<(&'static str, String)> {
    let mut words = text.split_whitespace();
    let name = words.next()?.to_ascii_lowercase();
    let product = match name.as_str() {
        "mosquitto" => "Mosquitto",
        "emqx" | "emq" => "EMQX",
        "vernemq" => "VerneMQ",
        "hivemq" => "HiveMQ",
        _ => return None,
    };
    let word = words.find(|w| w.trim_start_matches(['v', 'V']).starts_with(|c: char| c.is_ascii_digit()))?;
    let version: String = word
        .trim_start_matches(['v', 'V'])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(32)
        .collect();
    Some((product, version))
}

/// What a CONNACK return code means.
fn meaning(code: u8) -> &'static str {
    match code {
        0 => "aanvaard",
        1 => "protocolversie niet aanvaard",
        2 => "client-id geweigerd",
        3 => "server niet beschikbaar",
        4 => "gebruikersnaam of wachtwoord fout",
        5 => "niet gemachtigd",
        _ => "onbekend",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn connect_packet_bytes() {
        let p = connect_packet("wijkagent-0000002a");
        // Fixed header, remaining length 30, "MQTT" level 4, clean session, keep-alive 30.
        assert_eq!(&p[..12], b"\x10\x1e\x00\x04MQTT\x04\x02\x00\x1e");
        assert_eq!(&p[12..14], &[0x00, 0x12]);
        assert_eq!(&p[14..], b"wijkagent-0000002a");
        assert_eq!(p.len(), 2 + 0x1e);
    }

    #[test]
    fn connack_parsing() {
        assert_eq!(parse_connack(b"\x20\x02\x00\x00"), Some(0));
        assert_eq!(parse_connack(b"\x20\x02\x00\x05"), Some(5));
        // Truncated, an MQTT 5 CONNACK with properties, an HTTP answer.
        assert_eq!(parse_connack(b"\x20\x02\x00"), None);
        assert_eq!(parse_connack(b"\x20\x03\x00\x87\x00"), None);
        assert_eq!(parse_connack(b"HTTP"), None);
    }

    #[test]
    fn subscribe_packet_bytes() {
        let p = subscribe_packet(VERSION_TOPIC);
        // SUBSCRIBE with the reserved flags 0b0010, remaining length 24, packet id 1.
        assert_eq!(&p[..4], b"\x82\x18\x00\x01");
        // Topic filter length 19, the topic, requested QoS 0.
        assert_eq!(&p[4..6], &[0x00, 0x13]);
        assert_eq!(&p[6..25], b"$SYS/broker/version");
        assert_eq!(p[25], 0x00);
        assert_eq!(p.len(), 2 + 0x18);
    }

    #[test]
    fn publish_parsing() {
        // PUBLISH QoS 0 retained (0x31), remaining length 45: topic length 19, topic, payload.
        let mut p = b"\x31\x2d\x00\x13$SYS/broker/version".to_vec();
        p.extend_from_slice(b"mosquitto version 2.0.11");
        assert_eq!(parse_publish(&p), Some((&b"$SYS/broker/version"[..], &b"mosquitto version 2.0.11"[..])));
        // QoS 1 (0x33): a packet id (00 07) sits between topic and payload.
        assert_eq!(parse_publish(b"\x33\x07\x00\x01t\x00\x07ab"), Some((&b"t"[..], &b"ab"[..])));
        // Truncated by one byte; longer than announced; a topic length beyond the packet.
        assert_eq!(parse_publish(&p[..p.len() - 1]), None);
        assert_eq!(parse_publish(&[&p[..], b"x"].concat()), None);
        assert_eq!(parse_publish(b"\x30\x03\x00\x13$"), None);
        // QoS 3 is invalid; a SUBACK is no PUBLISH; five remaining-length bytes; nothing; HTTP.
        assert_eq!(parse_publish(b"\x36\x03\x00\x01t"), None);
        assert_eq!(parse_publish(b"\x90\x03\x00\x01\x00"), None);
        assert_eq!(parse_publish(b"\x30\xff\xff\xff\xff\x01"), None);
        assert_eq!(parse_publish(b""), None);
        assert_eq!(parse_publish(b"HTTP/1.1 400"), None);
    }

    #[test]
    fn the_version_publish_behind_a_suback() {
        // SUBACK for packet id 1, granted QoS 0; then the retained PUBLISH.
        let mut stream = b"\x90\x03\x00\x01\x00".to_vec();
        stream.extend_from_slice(b"\x31\x2d\x00\x13$SYS/broker/version");
        stream.extend_from_slice(b"mosquitto version 2.0.11");
        assert_eq!(find_publish(&stream, VERSION_TOPIC), Some(&b"mosquitto version 2.0.11"[..]));
        // Not complete yet; another topic only.
        assert_eq!(find_publish(&stream[..stream.len() - 3], VERSION_TOPIC), None);
        assert_eq!(find_publish(b"\x30\x05\x00\x01xab", VERSION_TOPIC), None);
    }

    #[test]
    fn products_and_versions() {
        let pv = product_version;
        assert_eq!(pv("mosquitto version 2.0.11"), Some(("Mosquitto", "2.0.11".into())));
        assert_eq!(pv("EMQX 5.3.0"), Some(("EMQX", "5.3.0".into())));
        assert_eq!(pv("VerneMQ v1.13.0"), Some(("VerneMQ", "1.13.0".into())));
        assert_eq!(pv("HiveMQ 4.20.0"), Some(("HiveMQ", "4.20.0".into())));
        assert_eq!(pv("mosquitto version"), None);
        assert_eq!(pv("2.0.11"), None);
        assert_eq!(pv(""), None);
    }

    /// A broker answering CONNECT with `code`, SUBSCRIBE with a SUBACK and then `publish` (if any);
    /// it reports the bytes it received after the CONNECT.
    async fn broker(
        code: u8,
        publish: Option<&'static [u8]>,
    ) -> (fake::Server, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let server = fake::serve(move |mut s| {
            let tx = tx.clone();
            async move {
                let mut connect = [0u8; 32];
                if s.read_exact(&mut connect).await.is_err() || connect[0] != 0x10 {
                    return;
                }
                let _ = s.write_all(&[0x20, 0x02, 0x00, code]).await;
                let mut rest = Vec::new();
                if code == 0 {
                    let mut subscribe = [0u8; 26];
                    if s.read_exact(&mut subscribe).await.is_err() {
                        return;
                    }
                    rest.extend_from_slice(&subscribe);
                    let _ = s.write_all(b"\x90\x03\x00\x01\x00").await;
                    if let Some(p) = publish {
                        let _ = s.write_all(p).await;
                    }
                }
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut rest)).await;
                let _ = tx.send(rest);
            }
        })
        .await;
        (server, rx)
    }

    /// The retained version PUBLISH of a Mosquitto broker (0x31: QoS 0, retain).
    const MOSQUITTO: &[u8] = b"\x31\x2d\x00\x13$SYS/broker/versionmosquitto version 2.0.11";

    #[tokio::test]
    async fn an_anonymous_broker_tells_its_version_and_gets_a_polite_disconnect() {
        let (server, mut rx) = broker(0, Some(MOSQUITTO)).await;
        let started = std::time::Instant::now();
        let info = identify(&server.target, &fake::deadline(2000), false).await;
        assert!(started.elapsed() < std::time::Duration::from_millis(1000), "no wait once the PUBLISH came");
        assert_eq!(info.observations[0].weakness, "mqtt-anonymous");
        assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("Mosquitto"), Some("2.0.11")));
        assert_eq!(info.details["sys-version"], "mosquitto version 2.0.11");
        let after = rx.recv().await.expect("after");
        assert_eq!(after[..26], subscribe_packet(VERSION_TOPIC)[..], "SUBSCRIBE");
        assert_eq!(after[26..], [0xe0, 0x00], "DISCONNECT, nothing published");
    }

    #[tokio::test]
    async fn a_broker_keeping_its_version_costs_the_wait_and_no_more() {
        let (server, mut rx) = broker(0, None).await;
        // A short deadline bounds the wait ...
        let started = std::time::Instant::now();
        let info = identify(&server.target, &fake::deadline(500), false).await;
        assert!(started.elapsed() < std::time::Duration::from_millis(900), "{:?}", started.elapsed());
        assert_eq!(info.observations[0].weakness, "mqtt-anonymous");
        assert_eq!((info.product.as_deref(), info.note.as_deref()), (None, None));
        assert_eq!(rx.recv().await.expect("after")[26..], [0xe0, 0x00], "DISCONNECT");
        // ... and a long one waits no more than VERSION_WAIT.
        let started = std::time::Instant::now();
        let info = identify(&server.target, &fake::deadline(10_000), false).await;
        let took = started.elapsed();
        assert!(took >= VERSION_WAIT && took < VERSION_WAIT + std::time::Duration::from_millis(800), "{took:?}");
        assert_eq!(info.observations[0].weakness, "mqtt-anonymous");
    }

    #[tokio::test]
    async fn a_broker_requiring_login_has_no_weakness() {
        let (server, _rx) = broker(5, None).await;
        let info = identify(&server.target, &fake::deadline(2000), false).await;
        assert!(info.observations.is_empty());
        assert_eq!(info.details["connack"], "5 (niet gemachtigd)");
    }

    #[tokio::test]
    async fn mqtt_over_tls_and_a_silent_broker() {
        let server = fake::serve_tls(|mut s| async move {
            let mut connect = [0u8; 32];
            if s.read_exact(&mut connect).await.is_ok() {
                let _ = s.write_all(&[0x20, 0x02, 0x00, 0x00]).await;
                let _ = s.read(&mut connect).await;
            }
        })
        .await;
        let info = identify(&server.target, &fake::deadline(3000), true).await;
        assert_eq!(info.service.as_deref(), Some("mqtts"));
        assert_eq!(info.observations[0].weakness, "mqtt-anonymous");

        let server = fake::silent().await;
        let info = identify(&server.target, &fake::deadline(300), false).await;
        assert_eq!(info.note.as_deref(), Some("timeout"));
    }
}
