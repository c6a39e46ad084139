use super::*;
use crate::probe::fake;

/// SQL Server 2019 (15.0.2000.5) PRELOGIN answer, encryption for the login only.
const SQL2019: [u8; 43] = [
    0x04, 0x01, 0x00, 0x2b, 0x00, 0x00, 0x01, 0x00, // TDS header: tabular result, EOM, length 43
    0x00, 0x00, 0x1a, 0x00, 0x06, // VERSION at 26, 6 bytes
    0x01, 0x00, 0x20, 0x00, 0x01, // ENCRYPTION at 32, 1 byte
    0x02, 0x00, 0x21, 0x00, 0x01, // INSTOPT at 33, 1 byte
    0x03, 0x00, 0x22, 0x00, 0x00, // THREADID at 34, 0 bytes
    0x04, 0x00, 0x22, 0x00, 0x01, // MARS at 34, 1 byte
    0xff, // terminator
    0x0f, 0x00, 0x07, 0xd0, 0x00, 0x05, // version 15.0, build 2000, sub-build 5
    0x00, // ENCRYPT_OFF
    0x00, // INSTOPT: instance matches
    0x00, // MARS off
];

#[test]
fn the_request_declares_its_own_length() {
    assert_eq!(usize::from(PRELOGIN[3]), PRELOGIN.len());
    assert_eq!(parse_prelogin(&PRELOGIN[8..]).map(|p| p.encryption), Some(Some(0)));
}

#[test]
fn parses_a_prelogin_answer() {
    assert_eq!(usize::from(SQL2019[3]), SQL2019.len());
    let p = parse_prelogin(&SQL2019[8..]).expect("prelogin");
    assert_eq!(p.version, Some((15, 0, 2000, 5)));
    assert_eq!(p.encryption, Some(0));
    assert_eq!(release(15, 0), Some("SQL Server 2019"));
    assert_eq!(release(10, 50), Some("SQL Server 2008 R2"));
}

#[test]
fn truncated_garbage_and_out_of_range_options_are_refused() {
    for cut in 8..SQL2019.len() - 3 {
        assert_eq!(parse_prelogin(&SQL2019[8..cut]), None, "cut at {cut}");
    }
    assert_eq!(parse_prelogin(b"HTTP/1.1 400 Bad Request"), None);
    // VERSION pointing 65535 bytes away
    let mut far = SQL2019;
    far[10..12].copy_from_slice(&[0xff, 0xff]);
    assert_eq!(parse_prelogin(&far[8..]), None);
    // no terminator within the option limit
    assert_eq!(parse_prelogin(&[0x07; 200]), None);
}

/// A fake SQL Server answering PRELOGIN with `answer`, and nothing else.
async fn fake_server(answer: Vec<u8>) -> fake::Server {
    fake::answering(move |req| Some(if req == PRELOGIN { answer.clone() } else { Vec::new() })).await
}

#[tokio::test]
async fn identifies_sql_server_and_its_encryption() {
    let server = fake_server(SQL2019.to_vec()).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.product.as_deref(), Some("Microsoft SQL Server"));
    assert_eq!(info.version.as_deref(), Some("15.0.2000"));
    assert_eq!(info.details.get("release").map(String::as_str), Some("SQL Server 2019"));
    assert_eq!(info.details.get("encryption").map(String::as_str), Some("alleen de aanmelding (ENCRYPT_OFF)"));
    assert!(info.observations.is_empty());
}

#[tokio::test]
async fn an_oversized_length_is_a_clean_error() {
    let mut huge = SQL2019.to_vec();
    huge[2..4].copy_from_slice(&[0xff, 0xff]);
    let server = fake_server(huge).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert!(info.note.as_deref().is_some_and(|n| n.contains("length 65535")), "{:?}", info.note);
    assert_eq!(info.product, None);
}

#[tokio::test]
async fn a_silent_server_ends_within_the_limits() {
    let server = fake::silent().await;
    fake::times_out(&server.target, 300, 800, identify).await;
}
