use super::*;
use crate::probe::fake;

/// MySQL 8.0 greeting, with its 4-byte packet header.
fn mysql8() -> Vec<u8> {
    [
        &[0x5b, 0x00, 0x00, 0x00][..], // payload length 91, sequence 0
        &[0x0a],                       // protocol version 10
        b"8.0.36-0ubuntu0.22.04.1\0",  // server version
        &[0x0d, 0x00, 0x00, 0x00],     // connection id 13
        b"ABCDEFGH",                   // auth-plugin-data part 1
        &[0x00],                       // filler
        &[0xff, 0xff],                 // capabilities, lower half (CLIENT_SSL 0x0800 set)
        &[0xff],                       // character set
        &[0x02, 0x00],                 // status: autocommit
        &[0xff, 0xdf],                 // capabilities, upper half
        &[0x15],                       // auth-plugin-data length 21
        &[0x00; 10],                   // reserved
        b"IJKLMNOPQRST\0",             // auth-plugin-data part 2 (13 bytes)
        b"caching_sha2_password\0",    // auth plugin name
    ]
    .concat()
}

/// MariaDB 10.11 greeting without TLS, with its packet header.
fn mariadb() -> Vec<u8> {
    [
        &[0x63, 0x00, 0x00, 0x00][..],        // payload length 99, sequence 0
        &[0x0a],                              // protocol version 10
        b"5.5.5-10.11.6-MariaDB-0+deb12u1\0", // server version (with the 5.5.5- prefix)
        &[0x21, 0x00, 0x00, 0x00],            // connection id
        b"12345678",                          // auth-plugin-data part 1
        &[0x00],                              // filler
        &[0xfe, 0xf7],                        // capabilities, lower half (no CLIENT_SSL)
        &[0x2d],                              // character set
        &[0x02, 0x00],                        // status
        &[0xff, 0x81],                        // capabilities, upper half
        &[0x15],                              // auth-plugin-data length 21
        &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1d, 0x00, 0x00, 0x00], // reserved / MariaDB caps
        b"abcdefghijkl\0",                    // auth-plugin-data part 2
        b"mysql_native_password\0",           // auth plugin name
    ]
    .concat()
}

/// ERR packet instead of a greeting: 1130 host not allowed.
fn host_not_allowed() -> Vec<u8> {
    let message = b"Host '10.0.0.5' is not allowed to connect to this MariaDB server";
    let mut p = vec![(message.len() + 3) as u8, 0x00, 0x00, 0x00]; // length, sequence 0
    p.extend_from_slice(&[0xff, 0x6a, 0x04]); // ERR, code 1130
    p.extend_from_slice(message);
    p
}

#[test]
fn fixtures_have_the_lengths_they_declare() {
    for f in [mysql8(), mariadb(), host_not_allowed()] {
        assert_eq!(usize::from(f[0]), f.len() - 4);
    }
}

#[test]
fn parses_a_mysql_greeting() {
    let g = parse_greeting(&mysql8()[4..]).expect("greeting");
    let Greeting::Handshake { version, capabilities, auth_plugin } = g else { panic!("not a handshake") };
    assert_eq!(version, "8.0.36-0ubuntu0.22.04.1");
    assert_ne!(capabilities & CLIENT_SSL, 0);
    assert_eq!(auth_plugin.as_deref(), Some("caching_sha2_password"));
    assert_eq!(product_version(&version), ("MySQL", "8.0.36".to_string()));
}

#[test]
fn parses_a_mariadb_greeting() {
    let Some(Greeting::Handshake { version, capabilities, auth_plugin }) = parse_greeting(&mariadb()[4..]) else {
        panic!("not a handshake")
    };
    assert_eq!(product_version(&version), ("MariaDB", "10.11.6".to_string()));
    assert_eq!(capabilities & CLIENT_SSL, 0);
    assert_eq!(auth_plugin.as_deref(), Some("mysql_native_password"));
}

#[test]
fn parses_an_error_packet() {
    let g = parse_greeting(&host_not_allowed()[4..]).expect("error");
    assert!(matches!(g, Greeting::Error { code: 1130, ref message } if message.starts_with("Host '10.0.0.5'")));
}

#[test]
fn truncated_and_garbage_greetings_never_panic() {
    let full = mysql8();
    for cut in 4..full.len() {
        let parsed = parse_greeting(&full[4..cut]);
        if cut < 4 + 1 + 24 + 15 {
            assert_eq!(parsed, None, "cut at {cut}");
        }
    }
    assert_eq!(parse_greeting(b""), None);
    assert_eq!(parse_greeting(b"SSH-2.0-OpenSSH_9.2\r\n"), None);
    assert_eq!(parse_greeting(&[0xff, 0x6a]), None);
    assert_eq!(parse_greeting(&[0x0a, b'8', b'.', b'0']), None); // no NUL after the version
}

#[tokio::test]
async fn identifies_mysql_from_its_greeting() {
    let server = fake::greeting(mysql8()).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.service.as_deref(), Some("mysql"));
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("MySQL"), Some("8.0.36")));
    assert_eq!(info.details.get("tls").map(String::as_str), Some("aangeboden"));
    assert!(info.observations.is_empty());
    assert_eq!(info.note, None);
}

#[tokio::test]
async fn a_refusing_server_becomes_the_note() {
    let server = fake::greeting(host_not_allowed()).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.note.as_deref(), Some("refused: host not allowed to connect"));
    assert!(info.details.get("error").is_some_and(|e| e.starts_with("1130 Host")));
}

#[tokio::test]
async fn an_oversized_length_is_refused_before_reading_it() {
    // header claiming 16 MiB - 1, then a little junk
    let server = fake::greeting(vec![0xff, 0xff, 0xff, 0x00, 0x0a, 0x00]).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert!(info.note.as_deref().is_some_and(|n| n.contains("packet length 16777215")), "{:?}", info.note);
}

#[tokio::test]
async fn a_silent_server_ends_within_the_limits() {
    let server = fake::silent().await;
    fake::times_out(&server.target, 300, 800, identify).await;
}
