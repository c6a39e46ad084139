use super::*;
use crate::probe::fake;

/// AuthenticationSASL offering SCRAM-SHA-256 (PostgreSQL 14+ default).
const AUTH_SASL: [u8; 24] = [
    b'R', // Authentication
    0x00, 0x00, 0x00, 0x17, // length 23
    0x00, 0x00, 0x00, 0x0a, // code 10: SASL
    b'S', b'C', b'R', b'A', b'M', b'-', b'S', b'H', b'A', b'-', b'2', b'5', b'6', 0x00, // mechanism
    0x00, // end of list
];

/// AuthenticationMD5Password with its salt.
const AUTH_MD5: [u8; 13] = [
    b'R', 0x00, 0x00, 0x00, 0x0c, // Authentication, length 12
    0x00, 0x00, 0x00, 0x05, // code 5: MD5
    0x01, 0x02, 0x03, 0x04, // salt
];

/// AuthenticationOk (trust).
const AUTH_OK: [u8; 9] = [b'R', 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00];

/// An ErrorResponse with fields S, V, C, M, R.
fn error_response(code: &str, message: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (kind, value) in
        [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', code), (b'M', message), (b'R', "ClientAuthentication")]
    {
        body.push(kind); // field type
        body.extend_from_slice(value.as_bytes());
        body.push(0); // end of field
    }
    body.push(0); // end of fields
    let mut msg = vec![b'E'];
    msg.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    msg.extend(body);
    msg
}

const NO_HBA: &str =
    "no pg_hba.conf entry for host \"10.0.0.5\", user \"wijkagent\", database \"wijkagent\", no encryption";

#[test]
fn startup_message_is_well_formed() {
    let m = startup_message();
    assert_eq!(u32::from_be_bytes([m[0], m[1], m[2], m[3]]) as usize, m.len());
    assert_eq!(&m[4..8], &[0x00, 0x03, 0x00, 0x00]); // protocol 3.0
    assert!(m.ends_with(b"application_name\0wijkagent\0\0"));
}

#[test]
fn parses_authentication_requests() {
    let (tag, len) = parse_header(&AUTH_SASL[..5]).expect("header");
    assert_eq!((tag, len), (b'R', 19));
    assert_eq!(parse_auth(&AUTH_SASL[5..]), Some(Auth::Method(10, "SASL (SCRAM-SHA-256)".into())));
    assert_eq!(parse_auth(&AUTH_MD5[5..]), Some(Auth::Method(5, "md5".into())));
    assert_eq!(parse_auth(&AUTH_OK[5..]), Some(Auth::Ok));
    assert_eq!(parse_auth(&[0x00, 0x00]), None);
}

#[test]
fn parses_error_fields() {
    let e = error_response("28000", NO_HBA);
    let (tag, len) = parse_header(&e[..5]).expect("header");
    assert_eq!((tag, len), (b'E', e.len() - 5));
    let fields = parse_fields(&e[5..]);
    assert_eq!(fields[2], (b'C', "28000".to_string()));
    assert_eq!(fields[3].1, NO_HBA);
    // truncated in the middle of a field: what is there, no panic
    assert_eq!(parse_fields(&e[5..16]), vec![(b'S', "FATAL".to_string()), (b'V', "FAT".to_string())]);
    assert!(parse_fields(&[]).is_empty());
}

#[test]
fn refuses_oversized_and_garbage_headers() {
    assert!(matches!(parse_header(&[b'E', 0x7f, 0xff, 0xff, 0xff]), Err(ProbeError::Protocol(_))));
    assert!(matches!(parse_header(&[b'E', 0x00, 0x00, 0x00, 0x02]), Err(ProbeError::Protocol(_))));
    assert!(matches!(parse_header(b"\x16\x03\x01\x00\x10"), Err(ProbeError::Protocol(_)))); // a TLS record
    assert!(matches!(parse_header(b"R"), Err(ProbeError::Closed)));
}

/// A fake PostgreSQL: answers SSLRequest with `ssl`, the StartupMessage with `startup`.
async fn fake_server(ssl: u8, startup: Vec<u8>) -> fake::Server {
    fake::answering(move |r| match r {
        r if r == SSL_REQUEST => Some(vec![ssl]),
        r if r.get(4..8) == Some(&[0, 3, 0, 0]) => Some(startup.clone()),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn reads_the_auth_method_after_a_refused_ssl_request() {
    let server = fake_server(b'N', AUTH_SASL.to_vec()).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.product.as_deref(), Some("PostgreSQL"));
    assert_eq!(info.version, None);
    assert_eq!(info.details.get("ssl").map(String::as_str), Some("niet ondersteund (SSLRequest: N)"));
    assert_eq!(info.details.get("auth-method").map(String::as_str), Some("SASL (SCRAM-SHA-256) (code 10)"));
    assert!(info.details.contains_key("version"));
    assert_eq!(info.note, None);
    assert!(info.observations.is_empty());
}

#[tokio::test]
async fn asks_again_on_a_fresh_connection_after_ssl_yes() {
    let server = fake_server(b'S', error_response("28000", NO_HBA)).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.details.get("ssl").map(String::as_str), Some("ondersteund"));
    assert_eq!(info.details.get("error-code").map(String::as_str), Some("28000"));
    assert_eq!(info.details.get("error-severity").map(String::as_str), Some("FATAL"));
    assert!(info.details.get("error-message").is_some_and(|m| m.starts_with("no pg_hba.conf entry")));
    assert_eq!(info.note, None);
}

#[tokio::test]
async fn trust_authentication_is_a_detail_and_a_weakness() {
    let mut answer = AUTH_OK.to_vec();
    answer.extend(error_response("28000", "role \"wijkagent\" does not exist"));
    let server = fake_server(b'N', answer).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert!(info.details.get("auth-method").is_some_and(|m| m.starts_with("trust")), "{:?}", info.details);
    assert_eq!(info.details.get("error-code").map(String::as_str), Some("28000"));
    let ids: Vec<&str> = info.observations.iter().map(|o| o.weakness.as_str()).collect();
    assert_eq!(ids, vec!["postgres-trust-auth"]);
}

#[tokio::test]
async fn a_trusted_login_reads_the_version_and_says_goodbye() {
    let mut answer = AUTH_OK.to_vec();
    let status = b"server_version\x0016.2 (Debian 16.2-1.pgdg120+2)\x00";
    answer.push(b'S');
    answer.extend_from_slice(&((status.len() + 4) as u32).to_be_bytes());
    answer.extend_from_slice(status);
    answer.extend_from_slice(&[b'Z', 0, 0, 0, 5, b'I']); // ReadyForQuery, idle
    let server = fake_server(b'N', answer).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.version.as_deref(), Some("16.2 (Debian 16.2-1.pgdg120+2)"));
}

#[tokio::test]
async fn a_silent_server_ends_within_the_limits() {
    let server = fake::silent().await;
    fake::times_out(&server.target, 300, 800, identify).await;
}

#[tokio::test]
async fn a_non_postgres_answer_is_a_clean_error() {
    let server = fake_server(b'H', Vec::new()).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert!(info.note.as_deref().is_some_and(|n| n.contains("SSLRequest answered 'H'")), "{:?}", info.note);
    assert_eq!(info.product, None);
}
