use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::probe::fake;

/// A target at `addr` over `proto`, building controls allowed or not.
fn target(addr: SocketAddr, proto: Proto, ot_allowed: bool) -> Target {
    Target { proto, ot_allowed, ..fake::target(addr) }
}

/// The fake server's target, building controls allowed.
fn allowed(server: &fake::Server) -> Target {
    Target { ot_allowed: true, ..server.target.clone() }
}

/// A protocol's `identify`, which fills the caller's [`ServiceInfo`], as one that returns it.
fn filled(
    identify: impl AsyncFnOnce(&Target, &Limits, &mut ServiceInfo),
) -> impl AsyncFnOnce(&Target, &Limits) -> ServiceInfo {
    async move |target, limits| {
        let mut info = ServiceInfo::default();
        identify(target, limits, &mut info).await;
        info
    }
}

#[tokio::test]
async fn nothing_is_sent_without_consent() {
    // Port 502 on loopback: nothing listens there in a test run, so any attempt would say "refused".
    let addr: SocketAddr = ([127, 0, 0, 1], 502).into();
    let started = Instant::now();
    let info = identify(&target(addr, Proto::Tcp, false), &fake::deadline(2000)).await;
    assert_eq!(info.note.as_deref(), Some(NOT_ALLOWED));
    assert_eq!(info.service.as_deref(), Some("modbus"));
    assert!(started.elapsed() < Duration::from_millis(50));
    let bacnet = identify(&target(([127, 0, 0, 1], 47808).into(), Proto::Tcp, false), &fake::deadline(2000)).await;
    assert_eq!(bacnet.note.as_deref(), Some(NOT_ALLOWED));
}

#[tokio::test]
async fn ports_without_a_request_are_named_only() {
    let info = identify(&target(([127, 0, 0, 1], 20000).into(), Proto::Tcp, true), &fake::deadline(2000)).await;
    assert_eq!(info.note.as_deref(), Some(NO_REQUEST));
    assert_eq!(info.service.as_deref(), Some("dnp3"));
}

#[tokio::test]
async fn modbus_device_identification() {
    let server =
        fake::answering(|req| (req == modbus::request_bytes(0xff, 0)).then(|| modbus::tests::M221.to_vec())).await;
    let mut info = ServiceInfo::default();
    modbus::identify(&allowed(&server), &fake::deadline(2000), &mut info).await;
    assert_eq!(info.note, None);
    assert_eq!(info.product.as_deref(), Some("Schneider Electric M221"));
    assert_eq!(info.version.as_deref(), Some("v1.10"));
    assert!(info.observations.is_empty());
}

#[tokio::test]
async fn modbus_falls_back_to_unit_1_and_reads_exceptions() {
    // unit 255 unanswered (silence), unit 1: illegal function
    let server =
        fake::answering(|req| Some(if req[6] == 1 { vec![0x77, 0x6b, 0, 0, 0, 3, 1, 0xab, 0x01] } else { Vec::new() }))
            .await;
    let mut info = ServiceInfo::default();
    modbus::identify(&allowed(&server), &fake::deadline(600), &mut info).await;
    assert_eq!(info.details.get("modbus-unit").map(String::as_str), Some("1"));
    assert!(info.details.get("device-identification").is_some_and(|d| d.contains("0x01")));
}

#[tokio::test]
async fn modbus_silent_device_ends_within_the_limits() {
    let server = fake::silent().await;
    fake::times_out(&allowed(&server), 400, 900, filled(modbus::identify)).await;
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
    let server = fake::answering(|req| s7_answer(false, req)).await;
    let mut info = ServiceInfo::default();
    s7::identify(&allowed(&server), &fake::deadline(2000), &mut info).await;
    assert_eq!(info.note, None);
    assert_eq!(info.product.as_deref(), Some("Siemens SIMATIC S7-300"));
    assert_eq!(info.version.as_deref(), Some("V3.2.6"));
    assert_eq!(info.details.get("order-number").map(String::as_str), Some("6ES7 315-2EH14-0AB0"));
}

#[tokio::test]
async fn s7_tries_the_second_tsap() {
    let server = fake::answering(|req| s7_answer(true, req)).await;
    let mut info = ServiceInfo::default();
    s7::identify(&allowed(&server), &fake::deadline(2000), &mut info).await;
    assert_eq!(info.details.get("cotp-tsap").map(String::as_str), Some("0x0200"));
    assert_eq!(info.version.as_deref(), Some("V3.2.6"));
}

#[tokio::test]
async fn s7_silent_plc_ends_within_the_limits() {
    let server = fake::silent().await;
    fake::times_out(&allowed(&server), 300, 800, filled(s7::identify)).await;
}

#[tokio::test]
async fn enip_list_identity() {
    let server = fake::answering(|req| (req == enip::LIST_IDENTITY).then(enip::tests::controllogix)).await;
    let mut info = ServiceInfo::default();
    enip::identify(&allowed(&server), &fake::deadline(2000), &mut info).await;
    assert_eq!(info.product.as_deref(), Some("1756-L71/B LOGIX5571"));
    assert_eq!(info.version.as_deref(), Some("20.011"));
    assert_eq!(info.details.get("vendor").map(String::as_str), Some("Rockwell Automation/Allen-Bradley"));
}

#[tokio::test]
async fn fox_hello() {
    let server = fake::answering(|req| (req == fox::HELLO).then(|| fox::tests::STATION.to_vec())).await;
    let mut info = ServiceInfo::default();
    fox::identify(&allowed(&server), &fake::deadline(2000), &mut info).await;
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("Tridium Niagara"), Some("4.10.1.36")));
    assert_eq!(info.details.get("station").map(String::as_str), Some("Zwembad_HVAC"));
}

/// A UDP BACnet device answering the identification payload and the name plate.
async fn fake_bacnet() -> fake::Server {
    fake::udp(|req| {
        let (invoke, property) = (*req.get(8)?, *req.last()?);
        Some(match property {
            75 => bacnet::tests::DEVICE_ID.to_vec(),
            121 => bacnet::tests::text_reply(invoke, "Siemens Building Technologies"),
            70 => bacnet::tests::text_reply(invoke, "PXC36-E.D"),
            44 => bacnet::tests::text_reply(invoke, "FW=V3.1"),
            _ => vec![0x81, 0x0a, 0x00, 0x0d, 0x01, 0x00, 0x50, invoke, 0x0c, 0x91, 0x02, 0x91, 0x20],
        })
    })
    .await
}

#[tokio::test]
async fn bacnet_name_plate() {
    let server = fake_bacnet().await;
    let mut info = ServiceInfo::default();
    bacnet::identify(&allowed(&server), &fake::deadline(2000), &mut info).await;
    assert_eq!(info.note, None);
    assert_eq!(info.details.get("device-instance").map(String::as_str), Some("1234"));
    assert_eq!(info.product.as_deref(), Some("Siemens Building Technologies PXC36-E.D"));
    assert_eq!(info.version.as_deref(), Some("FW=V3.1"));
    assert_eq!(bacnet::udp_target(&target(([192, 0, 2, 7], 47808).into(), Proto::Tcp, true)).proto, Proto::Udp);
}

#[tokio::test]
async fn bacnet_silent_device_ends_within_the_limits() {
    let server = fake::udp(|_| None).await;
    fake::times_out(&allowed(&server), 300, 800, filled(bacnet::identify)).await;
}
