//! MQTT identification: an MQTT 3.1.1 CONNECT with a random client id, clean session, no user
//! name or password. CONNACK return code 0 means the broker takes anonymous clients
//! (`mqtt-anonymous`); then DISCONNECT. Nothing is subscribed or published. On MQTT-over-TLS ports
//! the same over the accept-any TLS connector, and [`crate::tls::analyse`] on the endpoint.

use super::http;
use super::io::ProbeError;
use super::{Limits, ServiceInfo, Target};
use crate::tls::{self, StartTls};

/// Identifies MQTT (over TLS when `tls`) on `target`.
pub async fn identify(target: &Target, limits: &Limits, tls: bool) -> ServiceInfo {
    let mut info = ServiceInfo::named(if tls { "mqtts" } else { "mqtt" });
    match exchange(target, limits, tls).await {
        Ok(code) => {
            info.detail("connack", &format!("{code} ({})", meaning(code)));
            if code == 0 {
                info.observe("mqtt-anonymous", "CONNECT zonder gebruikersnaam en wachtwoord aanvaard (CONNACK 0)");
            }
        }
        Err(e) => info.note = Some(e.note()),
    }
    if tls {
        info.tls = tls::analyse(target, StartTls::Implicit, limits).await;
    }
    info
}

/// CONNECT, CONNACK, and DISCONNECT when accepted; the CONNACK return code.
async fn exchange(target: &Target, limits: &Limits, tls: bool) -> Result<u8, ProbeError> {
    let mut s = http::connect(target, limits, tls).await?;
    let client_id = format!("wijkagent-{:08x}", rand::random::<u32>());
    s.write_all(&connect_packet(&client_id)).await?;
    let answer = s.read_exact(4).await?;
    let code = parse_connack(&answer).ok_or_else(|| ProbeError::Protocol(format!("{answer:02x?}")))?;
    if code == 0 {
        let _ = s.write_all(&[0xe0, 0x00]).await;
    }
    Ok(code)
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

    /// A broker answering CONNECT with `code`; it reports the packet types it received after.
    async fn broker(code: u8) -> (fake::Server, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
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
                let _ = tokio::time::timeout(std::time::Duration::from_secs(2), s.read_to_end(&mut rest)).await;
                let _ = tx.send(rest);
            }
        })
        .await;
        (server, rx)
    }

    #[tokio::test]
    async fn an_anonymous_broker_and_a_polite_disconnect() {
        let (server, mut rx) = broker(0).await;
        let info = identify(&server.target, &fake::deadline(2000), false).await;
        assert_eq!(info.observations[0].weakness, "mqtt-anonymous");
        assert_eq!(rx.recv().await.expect("after"), [0xe0, 0x00], "DISCONNECT");
    }

    #[tokio::test]
    async fn a_broker_requiring_login_has_no_weakness() {
        let (server, _rx) = broker(5).await;
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
