//! Which user authentication methods an SSH server offers. They are told only after a finished key
//! exchange, so this runs one: `curve25519-sha256` (X25519 from rustls' ring provider, SHA-256 from
//! `sha2`) and `chacha20-poly1305@openssh.com` ([`super::chacha`]), then a `none` request for the
//! user `wijkagent` (RFC 4252 §5.2), whose failure lists the methods. The host key signature is not
//! checked: nothing secret is sent, and only the method list is read. Servers that offer neither
//! algorithm (old or unusual ones) are left undetermined.

use sha2::{Digest, Sha256};

use super::chacha::PacketCipher;
use super::conn::Conn;
use super::wire::{msg, KexInit, Reader, Writer};
use crate::probe::http::Stream;
use crate::probe::io::ProbeError;

/// Key exchange methods we can run.
pub const KEX: [&str; 2] = ["curve25519-sha256", "curve25519-sha256@libssh.org"];
/// The cipher we can run.
pub const CIPHER: &str = "chacha20-poly1305@openssh.com";
/// Host key algorithms we accept (the signature is not checked, so any will do).
const HOST_KEYS: &str = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,\
                         rsa-sha2-512,rsa-sha2-256,ssh-rsa,ssh-dss";
/// MACs offered (not used with an AEAD cipher, but the list must not be empty).
const MACS: &str = "hmac-sha2-256-etm@openssh.com,hmac-sha2-256,hmac-sha1";
/// The user name of the `none` request.
const USER: &[u8] = b"wijkagent";

/// Our KEXINIT payload.
pub fn our_kexinit() -> Vec<u8> {
    let cookie: [u8; 16] = rand::random();
    Writer::msg(msg::KEXINIT)
        .raw(&cookie)
        .string(KEX.join(",").as_bytes())
        .string(HOST_KEYS.as_bytes())
        .string(CIPHER.as_bytes())
        .string(CIPHER.as_bytes())
        .string(MACS.as_bytes())
        .string(MACS.as_bytes())
        .string(b"none")
        .string(b"none")
        .string(b"")
        .string(b"")
        .u8(0)
        .u32(0)
        .0
}

/// Whether the server's KEXINIT lets us finish a key exchange.
pub fn supported(server: &KexInit) -> bool {
    let has = |list: &[String], name: &str| list.iter().any(|n| n == name);
    KEX.iter().any(|k| has(&server.kex, k))
        && server.ciphers.iter().all(|c| has(c, CIPHER))
        && server.compression.iter().all(|c| has(c, "none"))
}

/// What the server answered to `none`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The methods that can continue.
    Methods(Vec<String>),
    /// `none` itself was accepted: no authentication at all.
    NoneAccepted,
}

/// The four strings the exchange hash starts with.
#[derive(Debug)]
pub struct Hello<'a> {
    /// Our version line, without line end.
    pub v_c: &'a [u8],
    /// The server's version line, without line end.
    pub v_s: &'a [u8],
    /// Our KEXINIT payload.
    pub i_c: &'a [u8],
    /// The server's KEXINIT payload.
    pub i_s: &'a [u8],
}

/// Runs the key exchange and the `none` request on `conn` (both KEXINITs already exchanged).
pub async fn methods<S: Stream>(conn: &mut Conn<S>, hello: &Hello<'_>) -> Result<Answer, ProbeError> {
    let fail = |what: &str| ProbeError::Protocol(what.to_string());
    let kx = rustls::crypto::ring::kx_group::X25519.start().map_err(|e| fail(&e.to_string()))?;
    let q_c = kx.pub_key().to_vec();
    conn.send(&Writer::msg(msg::KEX_ECDH_INIT).string(&q_c).0).await?;

    let reply = conn.recv_msg().await?;
    let mut r = Reader::new(&reply);
    if r.u8() != Some(msg::KEX_ECDH_REPLY) {
        return Err(fail("no ECDH reply"));
    }
    let (k_s, q_s) = match (r.string(), r.string(), r.string()) {
        (Some(k_s), Some(q_s), Some(_signature)) if q_s.len() == 32 => (k_s, q_s),
        _ => return Err(fail("bad ECDH reply")),
    };
    let shared = kx.complete(q_s).map_err(|e| fail(&e.to_string()))?;
    let k = Writer::default().mpint(shared.secret_bytes()).0;
    let mut hash = Sha256::new();
    for part in [hello.v_c, hello.v_s, hello.i_c, hello.i_s, k_s, &q_c, q_s] {
        hash.update(Writer::default().string(part).0);
    }
    hash.update(&k);
    let h = hash.finalize();

    conn.send(&[msg::NEWKEYS]).await?;
    if conn.recv_msg().await?.first() != Some(&msg::NEWKEYS) {
        return Err(fail("no NEWKEYS"));
    }
    conn.set_keys(PacketCipher::new(&derive(&k, &h, b'C')), PacketCipher::new(&derive(&k, &h, b'D')));

    conn.send(&Writer::msg(msg::SERVICE_REQUEST).string(b"ssh-userauth").0).await?;
    if conn.recv_msg().await?.first() != Some(&msg::SERVICE_ACCEPT) {
        return Err(fail("ssh-userauth refused"));
    }
    let request = Writer::msg(msg::USERAUTH_REQUEST).string(USER).string(b"ssh-connection").string(b"none").0;
    conn.send(&request).await?;
    for _ in 0..8 {
        let answer = conn.recv_msg().await?;
        match answer[0] {
            msg::USERAUTH_BANNER => continue,
            msg::USERAUTH_SUCCESS => return Ok(Answer::NoneAccepted),
            msg::USERAUTH_FAILURE => {
                let mut r = Reader::new(&answer[1..]);
                return r.name_list().map(Answer::Methods).ok_or_else(|| fail("bad USERAUTH_FAILURE"));
            }
            _ => return Err(fail("unexpected answer to userauth")),
        }
    }
    Err(fail("no userauth answer"))
}

/// 64 bytes of key material for `letter` (RFC 4253 §7.2; the session id is `h`, the first hash).
pub(super) fn derive(k: &[u8], h: &[u8], letter: u8) -> [u8; 64] {
    let k1 = Sha256::new().chain_update(k).chain_update(h).chain_update([letter]).chain_update(h).finalize();
    let k2 = Sha256::new().chain_update(k).chain_update(h).chain_update(k1).finalize();
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&k1);
    out[32..].copy_from_slice(&k2);
    out
}

/// The methods that take a password: `password`, and `keyboard-interactive` (PAM asks for one).
pub fn password_methods(methods: &[String]) -> Vec<&str> {
    methods.iter().map(String::as_str).filter(|m| *m == "password" || *m == "keyboard-interactive").collect()
}
