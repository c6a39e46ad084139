//! SSH probe tests: byte fixtures for the version line, packets and KEXINIT, and fake servers on
//! loopback, one of which runs the server side of the key exchange with the same primitives.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::chacha::PacketCipher;
use super::conn::Conn;
use super::wire::{msg, Framed, Reader, Writer};
use super::*;
use crate::probe::fake;

/// A KEXINIT payload with these comma-separated lists.
fn kexinit(kex: &str, host_keys: &str, ciphers: &str, macs: &str) -> Vec<u8> {
    Writer::msg(msg::KEXINIT)
        .raw(&[7u8; 16])
        .string(kex.as_bytes())
        .string(host_keys.as_bytes())
        .string(ciphers.as_bytes())
        .string(ciphers.as_bytes())
        .string(macs.as_bytes())
        .string(macs.as_bytes())
        .string(b"none,zlib@openssh.com")
        .string(b"none,zlib@openssh.com")
        .string(b"")
        .string(b"")
        .u8(0)
        .u32(0)
        .0
}

const MODERN_KEX: &str = "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,\
                          ecdh-sha2-nistp256,diffie-hellman-group16-sha512,kex-strict-s-v00@openssh.com";
const MODERN_CIPHERS: &str = "chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com";
const MODERN_MACS: &str = "umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512";

#[test]
fn version_lines() {
    let v = wire::parse_version(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n").expect("version");
    assert_eq!((v.proto.as_str(), v.software.as_str()), ("2.0", "OpenSSH_9.2p1"));
    assert_eq!(v.comment.as_deref(), Some("Debian-2+deb12u3"));
    assert_eq!(wire::product(&v.software), ("OpenSSH".into(), Some("9.2p1".into())));
    assert_eq!(wire::product("dropbear_2022.83"), ("Dropbear sshd".into(), Some("2022.83".into())));
    assert_eq!(wire::product("OpenSSH_for_Windows_8.1"), ("OpenSSH for Windows".into(), Some("8.1".into())));
    assert_eq!(wire::product("Cisco-1.25"), ("Cisco SSH".into(), Some("1.25".into())));
    assert_eq!(wire::product("ROSSSH"), ("MikroTik RouterOS sshd".into(), None));
    // Not SSH, missing parts, invalid UTF-8.
    assert_eq!(wire::parse_version(b"220 ftp ready\r\n"), None);
    assert_eq!(wire::parse_version(b"SSH-2.0-\r\n"), None);
    assert_eq!(wire::parse_version(b"SSH-"), None);
    let v = wire::parse_version(b"SSH-1.99-Srv\xff\n").expect("lossy");
    assert_eq!(v.software, "Srv\u{fffd}");
}

#[test]
fn packets_are_framed_and_lengths_checked() {
    let framed = wire::packet(b"\x15");
    assert_eq!(framed.len() % 8, 0);
    assert_eq!(wire::unframe(&framed), Framed::Packet { payload: vec![0x15], used: framed.len() });
    // Truncated: the length only, or half the packet.
    assert_eq!(wire::unframe(&framed[..3]), Framed::Incomplete);
    assert_eq!(wire::unframe(&framed[..framed.len() - 1]), Framed::Incomplete);
    // Length 0x41414141 (an 'AAAA' flood), padding longer than the packet, length 1.
    assert_eq!(wire::unframe(b"AAAAAAAA"), Framed::Invalid);
    assert_eq!(wire::unframe(b"\x00\x00\x00\x08\x09\x14\x00\x00"), Framed::Invalid);
    assert_eq!(wire::unframe(b"\x00\x00\x00\x01\x00"), Framed::Invalid);
}

#[test]
fn kexinit_parsing_and_truncation() {
    let payload =
        kexinit("curve25519-sha256,diffie-hellman-group1-sha1", "ssh-ed25519,ssh-dss", "aes128-cbc", "hmac-md5");
    let kex = wire::parse_kexinit(&payload).expect("kexinit");
    assert_eq!(kex.kex, ["curve25519-sha256", "diffie-hellman-group1-sha1"]);
    assert_eq!(kex.compression[0], ["none", "zlib@openssh.com"]);
    // Every truncation before the (unread) language lists fails cleanly.
    for cut in 0..payload.len() - 13 {
        assert_eq!(wire::parse_kexinit(&payload[..cut]), None, "cut at {cut}");
    }
    // A name-list longer than the packet, a wrong message number.
    assert_eq!(wire::parse_kexinit(b"\x14AAAAAAAAAAAAAAAA\xff\xff\xff\xffcurve"), None);
    assert_eq!(wire::parse_kexinit(b"\x15"), None);
    assert_eq!(Reader::new(b"\x00\x00\x00\x00").name_list(), Some(vec![]));
}

#[test]
fn weak_algorithms_are_named() {
    let weak = kexinit(
        "diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1,curve25519-sha256",
        "ssh-rsa,ssh-dss",
        "aes128-ctr,3des-cbc,arcfour256,rijndael-cbc@lysator.liu.se",
        "hmac-sha2-256,hmac-md5-96,hmac-sha1-96",
    );
    let kex = wire::parse_kexinit(&weak).expect("kexinit");
    assert_eq!(
        weak_algorithms(&kex),
        [
            "diffie-hellman-group14-sha1",
            "diffie-hellman-group-exchange-sha1",
            "ssh-dss",
            "3des-cbc",
            "arcfour256",
            "rijndael-cbc@lysator.liu.se",
            "hmac-md5-96",
            "hmac-sha1-96"
        ]
    );
    let modern = wire::parse_kexinit(&kexinit(MODERN_KEX, "ssh-ed25519,rsa-sha2-512", MODERN_CIPHERS, MODERN_MACS));
    assert_eq!(weak_algorithms(&modern.expect("kexinit")), Vec::<String>::new());
}

/// A fake sshd: version line, KEXINIT, and when `methods` is set the server side of
/// curve25519-sha256 / chacha20-poly1305 ending in a USERAUTH_FAILURE listing `methods`.
async fn fake_sshd(version: &'static str, server_kexinit: Vec<u8>, methods: Option<&'static str>) -> fake::Server {
    fake::serve(move |stream| {
        let i_s = server_kexinit.clone();
        async move {
            let mut conn = Conn::new(crate::probe::io::Session::over(stream, &fake::limits(5000, 1 << 20)));
            let _ = conn.write_raw(format!("{version}\r\n").as_bytes()).await;
            let _ = conn.send(&i_s).await;
            let (Ok(v_c), Ok(i_c)) = (conn.line().await, conn.recv().await) else { return };
            let Some(methods) = methods else { return };
            let _ = server_kex(&mut conn, v_c.trim_ascii_end(), version.as_bytes(), &i_c, &i_s, methods).await;
        }
    })
    .await
}

async fn server_kex(
    conn: &mut Conn<tokio::net::TcpStream>,
    v_c: &[u8],
    v_s: &[u8],
    i_c: &[u8],
    i_s: &[u8],
    methods: &str,
) -> Result<(), crate::probe::io::ProbeError> {
    let init = conn.recv().await?;
    let q_c = Reader::new(&init[1..]).string().map(<[u8]>::to_vec).unwrap_or_default();
    let kx = rustls::crypto::ring::kx_group::X25519.start().expect("x25519");
    let q_s = kx.pub_key().to_vec();
    let k_s = Writer::default().string(b"ssh-ed25519").string(&[1u8; 32]).0;
    let shared = kx.complete(&q_c).expect("shared");
    let k = Writer::default().mpint(shared.secret_bytes()).0;
    let mut hash = Sha256::new();
    for part in [v_c, v_s, i_c, i_s, &k_s, &q_c, &q_s] {
        hash.update(Writer::default().string(part).0);
    }
    hash.update(&k);
    let h = hash.finalize();
    let signature = Writer::default().string(b"ssh-ed25519").string(&[0u8; 64]).0;
    conn.send(&Writer::msg(msg::KEX_ECDH_REPLY).string(&k_s).string(&q_s).string(&signature).0).await?;
    conn.send(&[msg::NEWKEYS]).await?;
    assert_eq!(conn.recv().await?, [msg::NEWKEYS]);
    conn.set_keys(
        PacketCipher::new(&super::auth::derive(&k, &h, b'D')),
        PacketCipher::new(&super::auth::derive(&k, &h, b'C')),
    );
    conn.send(&Writer::msg(msg::IGNORE).string(b"noise").0).await?;
    let request = conn.recv().await?;
    assert_eq!(request[0], msg::SERVICE_REQUEST);
    conn.send(&Writer::msg(msg::SERVICE_ACCEPT).string(b"ssh-userauth").0).await?;
    let auth = conn.recv().await?;
    assert_eq!(auth[0], msg::USERAUTH_REQUEST);
    conn.send(&Writer::msg(msg::USERAUTH_BANNER).string(b"Alleen voor bevoegden\n").string(b"").0).await?;
    conn.send(&Writer::msg(msg::USERAUTH_FAILURE).string(methods.as_bytes()).u8(0).0).await?;
    let _ = conn.recv().await; // DISCONNECT
    Ok(())
}

fn has(info: &ServiceInfo, id: &str) -> bool {
    info.observations.iter().any(|o| o.weakness == id)
}

#[tokio::test]
async fn an_old_server_with_weak_algorithms() {
    let i_s = kexinit(
        "diffie-hellman-group1-sha1,diffie-hellman-group14-sha1",
        "ssh-rsa,ssh-dss",
        "aes128-cbc,3des-cbc",
        "hmac-md5,hmac-sha1",
    );
    let server = fake_sshd("SSH-2.0-OpenSSH_5.3", i_s, None).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("OpenSSH"), Some("5.3")));
    let weak = info.observations.iter().find(|o| o.weakness == "ssh-weak-algorithms").expect("weak");
    assert_eq!(
        weak.evidence,
        Said::same("diffie-hellman-group1-sha1, diffie-hellman-group14-sha1, ssh-dss, aes128-cbc, 3des-cbc, hmac-md5")
    );
    assert!(info.details["auth-methods"].starts_with("niet bepaald"));
    assert_eq!(info.note, None);
}

#[tokio::test]
async fn a_modern_server_offering_passwords_after_a_real_key_exchange() {
    let i_s = kexinit(MODERN_KEX, "ssh-ed25519", MODERN_CIPHERS, MODERN_MACS);
    let server = fake_sshd("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", i_s, Some("publickey,password")).await;
    let info = identify(&server.target, &fake::deadline(3000)).await;
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("OpenSSH"), Some("9.2p1")));
    assert_eq!(info.details["banner"], "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
    assert_eq!(info.details["auth-methods"], "publickey,password");
    assert!(has(&info, "ssh-password-auth"));
    assert!(!has(&info, "ssh-weak-algorithms"));
}

#[tokio::test]
async fn a_modern_server_with_keys_only_has_no_weakness() {
    let i_s = kexinit(MODERN_KEX, "ssh-ed25519", MODERN_CIPHERS, MODERN_MACS);
    let server = fake_sshd("SSH-2.0-OpenSSH_9.6", i_s, Some("publickey")).await;
    let info = identify(&server.target, &fake::deadline(3000)).await;
    assert_eq!(info.details["auth-methods"], "publickey");
    assert!(info.observations.is_empty(), "{:?}", info.observations);
}

#[tokio::test]
async fn silent_and_flooding_servers_stay_within_limits() {
    let server = fake::silent().await;
    fake::times_out(&server.target, 300, 2000, identify).await;

    // A version line, then endless bytes: the packet length is nonsense.
    let server = fake::flood(b"SSH-2.0-Flood\r\n").await;
    let info = identify(&server.target, &fake::deadline(3000)).await;
    assert!(info.note.as_deref().is_some_and(|n| n.contains("invalid SSH packet length")), "{:?}", info.note);
    // Endless pre-version text without a line end.
    let server = fake::flood(b"").await;
    let started = Instant::now();
    let info = identify(&server.target, &fake::deadline(20_000)).await;
    assert!(info.note.as_deref().is_some_and(|n| n.starts_with("unexpected answer")), "{:?}", info.note);
    assert!(started.elapsed() < Duration::from_secs(10), "the line cap ends it, not the deadline");

    // Endless IGNORE packets after the version line.
    let server = fake::serve(|mut s| async move {
        let _ = s.write_all(b"SSH-2.0-Chatty\r\n").await;
        let ignore = wire::packet(&Writer::msg(msg::IGNORE).string(&[0u8; 1000]).0);
        for _ in 0..10_000 {
            if s.write_all(&ignore).await.is_err() {
                return;
            }
        }
    })
    .await;
    let info = identify(&server.target, &fake::limits(3000, 16 * 1024)).await;
    assert!(info.note.is_some());
}
