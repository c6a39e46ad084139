use super::*;
use crate::probe::fake;

/// GetResponse to our request: community "public", sysDescr.0 = "Linux nas 6.1.0-18-amd64".
const LINUX_REPLY: [u8; 67] = [
    0x30, 0x41, // SEQUENCE Message, 65 bytes
    0x02, 0x01, 0x01, //   INTEGER version 1 (v2c)
    0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', //   community "public"
    0xa2, 0x34, //   [2] GetResponse-PDU, 52 bytes
    0x02, 0x04, 0x77, 0x6b, 0x61, 0x67, //     request-id "wkag"
    0x02, 0x01, 0x00, //     error-status 0
    0x02, 0x01, 0x00, //     error-index 0
    0x30, 0x26, //     VarBindList, 38 bytes
    0x30, 0x24, //       VarBind, 36 bytes
    0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, //         OID sysDescr.0
    0x04, 0x18, //         OCTET STRING, 24 bytes
    b'L', b'i', b'n', b'u', b'x', b' ', b'n', b'a', b's', b' ', b'6', b'.', b'1', b'.', b'0', b'-', b'1', b'8', b'-',
    b'a', b'm', b'd', b'6', b'4',
];

/// The same answer, as the encoder builds it (checks the hand-counted lengths above).
fn encoded(version: i64, descr_tag: u8, descr: &[u8]) -> Vec<u8> {
    let binding = ber::constructed(0x30, &[&ber::tlv(0x06, &SYS_DESCR), &ber::tlv(descr_tag, descr)]);
    let list = ber::tlv(0x30, &binding);
    let pdu = ber::constructed(
        0xa2,
        &[&ber::integer_tlv(0x02, REQUEST_ID), &ber::integer_tlv(0x02, 0), &ber::integer_tlv(0x02, 0), &list],
    );
    ber::constructed(0x30, &[&ber::integer_tlv(0x02, version), &ber::tlv(0x04, b"public"), &pdu])
}

#[test]
fn parses_a_get_response() {
    assert_eq!(encoded(1, 0x04, b"Linux nas 6.1.0-18-amd64"), LINUX_REPLY.to_vec());
    let reply = parse_response(&LINUX_REPLY).expect("reply");
    assert_eq!(reply.version, 1);
    assert_eq!(reply.community, b"public");
    assert_eq!(reply.request_id, REQUEST_ID);
    assert_eq!(reply.error_status, 0);
    assert_eq!(reply.sys_descr.as_deref(), Some(&b"Linux nas 6.1.0-18-amd64"[..]));
}

#[test]
fn no_such_object_carries_no_sys_descr() {
    // value [0x80] noSuchObject, empty
    let reply = parse_response(&encoded(1, 0x80, b"")).expect("reply");
    assert_eq!(reply.sys_descr, None);
}

#[test]
fn truncated_garbage_and_oversized_answers_are_errors() {
    for cut in [0, 1, 2, 10, 30, 66] {
        assert!(parse_response(&LINUX_REPLY[..cut]).is_err(), "cut at {cut}");
    }
    assert!(parse_response(b"HTTP/1.1 400 Bad Request\r\n\r\n").is_err());
    // a message claiming 16 MiB in a 10-byte datagram
    assert!(parse_response(&[0x30, 0x83, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01, 0x04, 0x00]).is_err());
    // a GetRequest (0xa0) is not an answer
    let mut request = LINUX_REPLY;
    request[13] = 0xa0;
    assert!(parse_response(&request).is_err());
}

#[test]
fn recognises_common_sys_descr_families() {
    let cases = [
        ("Linux nas 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian", "Linux (net-snmp)", Some("6.1.0-18-amd64")),
        (
            "Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 15.0(2)SE11, RELEASE SOFTWARE (fc3)",
            "Cisco IOS",
            Some("15.0(2)SE11"),
        ),
        ("ProCurve J9019B Switch 2510B-24, revision Q.11.17, ROM Q.10.02", "HP ProCurve", Some("Q.11.17")),
        ("Aruba JL256A 2930F-48G-PoE+-4SFP+ Switch, revision WC.16.10.0012, ROM WC.16.01.0008", "Aruba", Some("WC.16.10.0012")),
        (
            "Hardware: Intel64 Family 6 Model 85 Stepping 7 AT/AT COMPATIBLE - Software: Windows Version 6.3 (Build 17763 Multiprocessor Free)",
            "Windows",
            Some("6.3"),
        ),
        ("RouterOS RB4011iGS+", "MikroTik RouterOS", Some("RB4011iGS+")),
    ];
    for (descr, product, version) in cases {
        let (p, v) = product_from_sys_descr(descr).expect(descr);
        assert_eq!((p.as_str(), v.as_deref()), (product, version), "{descr}");
    }
    assert_eq!(product_from_sys_descr("APC Web/SNMP Management Card"), None);
}

#[tokio::test]
async fn an_agent_answering_public_is_a_finding() {
    let server = fake::udp(|req| (req == SNMP_V2C_SYSDESCR).then(|| LINUX_REPLY.to_vec())).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.service.as_deref(), Some("snmp"));
    assert_eq!(info.product.as_deref(), Some("Linux (net-snmp)"));
    assert_eq!(info.version.as_deref(), Some("6.1.0-18-amd64"));
    let obs = info.observations.iter().find(|o| o.weakness == "snmp-default-community").expect("finding");
    let en = &obs.evidence.en;
    assert!(en.contains("accepts the community 'public'") && en.contains("Linux nas"), "{en}");
    assert!(obs.evidence.nl.contains("aanvaardt de community 'public'"), "{:?}", obs.evidence);
}

#[tokio::test]
async fn a_v1_only_agent_is_asked_again_in_v1() {
    let server = fake::udp(|req| (req.get(4) == Some(&0)).then(|| encoded(0, 0x04, b"Linux ups 4.4.0"))).await;
    let info = identify(&server.target, &fake::deadline(500)).await;
    assert_eq!(info.details.get("snmp-version").map(String::as_str), Some("v1"));
    assert!(info.observations.iter().any(|o| o.weakness == "snmp-default-community"));
}

#[tokio::test]
async fn a_silent_agent_is_no_finding_and_costs_the_deadline() {
    let server = fake::udp(|_| None).await;
    let info = fake::times_out(&server.target, 400, 900, identify).await;
    assert!(info.observations.is_empty());
}

#[tokio::test]
async fn a_reply_to_another_request_is_no_finding() {
    let mut other = LINUX_REPLY;
    other[20] = 0x00; // request-id "wka\0"
    let server = fake::udp(move |_| Some(other.to_vec())).await;
    let info = identify(&server.target, &fake::deadline(500)).await;
    assert!(info.observations.is_empty());
}
