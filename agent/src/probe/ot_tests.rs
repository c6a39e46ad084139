use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use super::*;

fn target(addr: SocketAddr, proto: Proto, ot_allowed: bool) -> Target {
    Target { addr, proto, hostname: None, deep: false, ot_allowed }
}

fn limits(ms: u64) -> Limits {
    Limits { connect: Duration::from_secs(1), deadline: Duration::from_millis(ms), max_bytes: 64 * 1024 }
}

/// A TCP server answering each read with `answer(request)`; `None` closes, an empty answer is silence.
async fn fake_server(answer: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                while let Ok(n @ 1..) = s.read(&mut buf).await {
                    match answer(&buf[..n]) {
                        Some(reply) if s.write_all(&reply).await.is_ok() => {}
                        _ => break,
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn nothing_is_sent_without_consent() {
    // Port 502 on loopback: nothing listens there in a test run, so any attempt would say "refused".
    let addr: SocketAddr = ([127, 0, 0, 1], 502).into();
    let started = Instant::now();
    let info = identify(&target(addr, Proto::Tcp, false), &limits(2000)).await;
    assert_eq!(info.note.as_deref(), Some(NOT_ALLOWED));
    assert_eq!(info.service.as_deref(), Some("modbus"));
    assert!(started.elapsed() < Duration::from_millis(50));
    let bacnet = identify(&target(([127, 0, 0, 1], 47808).into(), Proto::Tcp, false), &limits(2000)).await;
    assert_eq!(bacnet.note.as_deref(), Some(NOT_ALLOWED));
}

#[tokio::test]
async fn ports_without_a_request_are_named_only() {
    let info = identify(&target(([127, 0, 0, 1], 20000).into(), Proto::Tcp, true), &limits(2000)).await;
    assert_eq!(info.note.as_deref(), Some(NO_REQUEST));
    assert_eq!(info.service.as_deref(), Some("dnp3"));
}

#[tokio::test]
async fn modbus_device_identification() {
    let addr = fake_server(|req| (req == modbus::request_bytes(0xff, 0)).then(|| modbus::tests::M221.to_vec())).await;
    let mut info = ServiceInfo::default();
    modbus::identify(&target(addr, Proto::Tcp, true), &limits(2000), &mut info).await;
    assert_eq!(info.note, None);
    assert_eq!(info.product.as_deref(), Some("Schneider Electric M221"));
    assert_eq!(info.version.as_deref(), Some("v1.10"));
    assert!(info.observations.is_empty());
}

#[tokio::test]
async fn modbus_falls_back_to_unit_1_and_reads_exceptions() {
    // unit 255 unanswered (silence), unit 1: illegal function
    let addr =
        fake_server(|req| Some(if req[6] == 1 { vec![0x77, 0x6b, 0, 0, 0, 3, 1, 0xab, 0x01] } else { Vec::new() }))
            .await;
    let mut info = ServiceInfo::default();
    modbus::identify(&target(addr, Proto::Tcp, true), &limits(600), &mut info).await;
    assert_eq!(info.details.get("modbus-unit").map(String::as_str), Some("1"));
    assert!(info.details.get("device-identification").is_some_and(|d| d.contains("0x01")));
}

#[tokio::test]
async fn modbus_silent_device_ends_within_the_limits() {
    let addr = fake_server(|_| Some(Vec::new())).await;
    let mut info = ServiceInfo::default();
    let started = Instant::now();
    modbus::identify(&target(addr, Proto::Tcp, true), &limits(400), &mut info).await;
    assert!(started.elapsed() < Duration::from_millis(900));
    assert_eq!(info.note.as_deref(), Some("timeout"));
}

/// A fake S7-300 refusing TSAP 0x0102 when `picky`.
fn s7_answer(picky: bool, req: &[u8]) -> Option<Vec<u8>> {
    if req.get(5) == Some(&0xe0) {
        if picky && req.ends_with(&[0x01, 0x02]) {
            return None; // drop the connection: no such rack/slot
        }
        return Some(vec![0x03, 0x00, 0x00, 0x0b, 0x06, 0xd0, 0x00, 0x01, 0x00, 0x01, 0x00]);
    }
    if req == s7::SETUP_COMMUNICATION {
        return Some(vec![
            0x03, 0x00, 0x00, 0x1b, 0x02, 0xf0, 0x80, // TPKT, COTP DT
            0x32, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, // ack data, no error
            0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0xf0, // setup communication, PDU 240
        ]);
    }
    if req == s7::READ_SZL_0011 {
        let tpdu = s7::tests::szl_answer();
        let mut m = vec![0x03, 0x00];
        m.extend_from_slice(&((tpdu.len() + 4) as u16).to_be_bytes());
        m.extend(tpdu);
        return Some(m);
    }
    None
}

#[tokio::test]
async fn s7_module_identification() {
    let addr = fake_server(|req| s7_answer(false, req)).await;
    let mut info = ServiceInfo::default();
    s7::identify(&target(addr, Proto::Tcp, true), &limits(2000), &mut info).await;
    assert_eq!(info.note, None);
    assert_eq!(info.product.as_deref(), Some("Siemens SIMATIC S7-300"));
    assert_eq!(info.version.as_deref(), Some("V3.2.6"));
    assert_eq!(info.details.get("order-number").map(String::as_str), Some("6ES7 315-2EH14-0AB0"));
}

#[tokio::test]
async fn s7_tries_the_second_tsap() {
    let addr = fake_server(|req| s7_answer(true, req)).await;
    let mut info = ServiceInfo::default();
    s7::identify(&target(addr, Proto::Tcp, true), &limits(2000), &mut info).await;
    assert_eq!(info.details.get("cotp-tsap").map(String::as_str), Some("0x0200"));
    assert_eq!(info.version.as_deref(), Some("V3.2.6"));
}

#[tokio::test]
async fn s7_silent_plc_ends_within_the_limits() {
    let addr = fake_server(|_| Some(Vec::new())).await;
    let mut info = ServiceInfo::default();
    let started = Instant::now();
    s7::identify(&target(addr, Proto::Tcp, true), &limits(300), &mut info).await;
    assert!(started.elapsed() < Duration::from_millis(800));
    assert_eq!(info.note.as_deref(), Some("timeout"));
}

#[tokio::test]
async fn enip_list_identity() {
    let addr = fake_server(|req| (req == enip::LIST_IDENTITY).then(enip::tests::controllogix)).await;
    let mut info = ServiceInfo::default();
    enip::identify(&target(addr, Proto::Tcp, true), &limits(2000), &mut info).await;
    assert_eq!(info.product.as_deref(), Some("1756-L71/B LOGIX5571"));
    assert_eq!(info.version.as_deref(), Some("20.011"));
    assert_eq!(info.details.get("vendor").map(String::as_str), Some("Rockwell Automation/Allen-Bradley"));
}

#[tokio::test]
async fn fox_hello() {
    let addr = fake_server(|req| (req == fox::HELLO).then(|| fox::tests::STATION.to_vec())).await;
    let mut info = ServiceInfo::default();
    fox::identify(&target(addr, Proto::Tcp, true), &limits(2000), &mut info).await;
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("Tridium Niagara"), Some("4.10.1.36")));
    assert_eq!(info.details.get("station").map(String::as_str), Some("Zwembad_HVAC"));
}

/// A UDP BACnet device answering the identification payload and the name plate.
async fn fake_bacnet(silent: bool) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = sock.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let (invoke, property) = (buf[8], buf[n - 1]);
            let reply = match property {
                _ if silent => continue,
                75 => bacnet::tests::DEVICE_ID.to_vec(),
                121 => bacnet::tests::text_reply(invoke, "Siemens Building Technologies"),
                70 => bacnet::tests::text_reply(invoke, "PXC36-E.D"),
                44 => bacnet::tests::text_reply(invoke, "FW=V3.1"),
                _ => vec![0x81, 0x0a, 0x00, 0x0d, 0x01, 0x00, 0x50, invoke, 0x0c, 0x91, 0x02, 0x91, 0x20],
            };
            let _ = sock.send_to(&reply, from).await;
        }
    });
    addr
}

#[tokio::test]
async fn bacnet_name_plate() {
    let mut info = ServiceInfo::default();
    bacnet::identify(&target(fake_bacnet(false).await, Proto::Udp, true), &limits(2000), &mut info).await;
    assert_eq!(info.note, None);
    assert_eq!(info.details.get("device-instance").map(String::as_str), Some("1234"));
    assert_eq!(info.product.as_deref(), Some("Siemens Building Technologies PXC36-E.D"));
    assert_eq!(info.version.as_deref(), Some("FW=V3.1"));
    assert_eq!(bacnet::udp_target(&target(([192, 0, 2, 7], 47808).into(), Proto::Tcp, true)).proto, Proto::Udp);
}

#[tokio::test]
async fn bacnet_silent_device_ends_within_the_limits() {
    let mut info = ServiceInfo::default();
    let started = Instant::now();
    bacnet::identify(&target(fake_bacnet(true).await, Proto::Udp, true), &limits(300), &mut info).await;
    assert!(started.elapsed() < Duration::from_millis(800));
    assert_eq!(info.note.as_deref(), Some("timeout"));
}
