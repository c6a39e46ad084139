use super::*;
use crate::probe::fake;

/// Connection Confirm selecting HYBRID (Windows with NLA).
const CC_HYBRID: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, // TPKT version 3, length 19
    0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, // X.224 CC: LI 14, dst-ref 0, src-ref 0x1234, class 0
    0x02, 0x1f, 0x08, 0x00, // RDP_NEG_RSP, flags 0x1f, length 8
    0x02, 0x00, 0x00, 0x00, // selectedProtocol: HYBRID
];

/// Connection Confirm refusing: HYBRID_REQUIRED_BY_SERVER.
const CC_NEED_NLA: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, // TPKT
    0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, // X.224 CC
    0x03, 0x00, 0x08, 0x00, // RDP_NEG_FAILURE, flags 0, length 8
    0x05, 0x00, 0x00, 0x00, // failureCode 5
];

/// Connection Confirm of an old server: no negotiation data.
const CC_LEGACY: [u8; 11] = [
    0x03, 0x00, 0x00, 0x0b, // TPKT, length 11
    0x06, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, // X.224 CC, LI 6
];

fn confirm(c: Confirm) -> Vec<u8> {
    let (kind, flags, value) = match c {
        Confirm::Selected(p) => (0x02, 0x1f, p),
        Confirm::Failure(f) => (0x03, 0x00, f),
        Confirm::Legacy => return CC_LEGACY.to_vec(),
    };
    let mut m = CC_HYBRID[..11].to_vec();
    m.extend_from_slice(&[kind, flags, 0x08, 0x00]);
    m.extend_from_slice(&value.to_le_bytes());
    m
}

#[test]
fn builds_the_connection_request() {
    let r = connection_request(PROTOCOL_SSL | PROTOCOL_HYBRID);
    assert_eq!(usize::from(u16::from_be_bytes([r[2], r[3]])), r.len());
    assert_eq!(usize::from(r[4]), r.len() - 5); // LI: everything after itself
    assert_eq!(r[5], 0xe0);
    assert!(r.ends_with(&[0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00]));
}

#[test]
fn parses_confirms() {
    assert_eq!(confirm(Confirm::Selected(2)), CC_HYBRID.to_vec());
    assert_eq!(confirm(Confirm::Failure(5)), CC_NEED_NLA.to_vec());
    assert_eq!(parse_confirm(&CC_HYBRID[4..]), Ok(Confirm::Selected(PROTOCOL_HYBRID)));
    assert_eq!(parse_confirm(&CC_NEED_NLA[4..]), Ok(Confirm::Failure(5)));
    assert_eq!(parse_confirm(&CC_LEGACY[4..]), Ok(Confirm::Legacy));
}

#[test]
fn truncated_and_foreign_tpdus_are_errors() {
    for cut in [4, 5, 12, 18] {
        assert!(parse_confirm(&CC_HYBRID[4..cut]).is_err(), "cut at {cut}");
    }
    assert_eq!(parse_confirm(&[0x06, 0x80, 0, 0, 0, 0, 0]), Err("X.224 disconnect request"));
    assert!(parse_confirm(b"SSH-2.0-x").is_err());
    let mut odd = CC_HYBRID;
    odd[11] = 0x7f;
    assert!(parse_confirm(&odd[4..]).is_err());
}

/// A fake RDP server answering each requested-protocols value (the request's last four bytes) with
/// `policy(requested)`; `None` is silence.
async fn fake_server(policy: impl Fn(u32) -> Option<Confirm> + Send + Sync + 'static) -> fake::Server {
    fake::answering(move |req| {
        let requested = u32::from_le_bytes(req.last_chunk::<4>().copied()?);
        Some(policy(requested).map(confirm).unwrap_or_default())
    })
    .await
}

#[tokio::test]
async fn standard_rdp_security_is_a_finding() {
    // xrdp-like: takes RDP, picks TLS when offered TLS or CredSSP
    let server = fake_server(|r| Some(Confirm::Selected(if r == 0 { PROTOCOL_RDP } else { PROTOCOL_SSL }))).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.service.as_deref(), Some("rdp"));
    assert_eq!(info.observations.len(), 1);
    assert_eq!(info.observations[0].weakness, "rdp-nla-disabled");
    assert_eq!(info.details.get("rdp-selected").map(String::as_str), Some("SSL (TLS)"));
    assert_eq!(info.details.get("nla").map(String::as_str), Some("niet vereist"));
}

#[tokio::test]
async fn enforced_nla_is_no_finding() {
    let server = fake_server(|r| {
        Some(if r & PROTOCOL_HYBRID != 0 { Confirm::Selected(PROTOCOL_HYBRID) } else { Confirm::Failure(5) })
    })
    .await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert!(info.observations.is_empty(), "{:?}", info.observations);
    assert_eq!(info.details.get("nla").map(String::as_str), Some("vereist"));
    assert_eq!(info.details.get("rdp-selected").map(String::as_str), Some("HYBRID (CredSSP/NLA)"));
    assert_eq!(info.note, None);
}

#[tokio::test]
async fn tls_without_nla_is_a_finding() {
    let server =
        fake_server(|r| Some(if r == 0 { Confirm::Failure(1) } else { Confirm::Selected(PROTOCOL_SSL) })).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    let obs = info.observations.iter().find(|o| o.weakness == "rdp-nla-disabled").expect("finding");
    assert!(obs.evidence.nl.contains("PROTOCOL_SSL") && obs.evidence.en.contains("PROTOCOL_SSL"), "{:?}", obs.evidence);
    assert!(obs.evidence.en.contains("NLA not required"), "{:?}", obs.evidence);
    assert_eq!(
        info.details.get("rdp-standard-security").map(String::as_str),
        Some("geweigerd (SSL_REQUIRED_BY_SERVER)")
    );
}

#[tokio::test]
async fn an_old_server_without_negotiation_is_a_finding() {
    let server = fake_server(|_| Some(Confirm::Legacy)).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.observations.len(), 1);
}

#[tokio::test]
async fn a_silent_server_ends_within_the_limits() {
    let server = fake_server(|_| None).await;
    let info = fake::times_out(&server.target, 300, 800, identify).await;
    assert!(info.observations.is_empty());
}
