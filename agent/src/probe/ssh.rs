//! SSH identification: the version line gives product and version (`SSH-2.0-OpenSSH_9.2p1
//! Debian-2+deb12u3` → OpenSSH 9.2p1), the server's KEXINIT its algorithm lists (weak ones are
//! `ssh-weak-algorithms`), and, when the server speaks `curve25519-sha256` with
//! `chacha20-poly1305@openssh.com` (OpenSSH ≥ 6.5, recent Dropbear), a finished key exchange and a
//! `none` authentication request its authentication methods (`password` or `keyboard-interactive`
//! offered is `ssh-password-auth`). See [`auth`] for why a key exchange is needed and what it sends.
//!
//! Files: [`wire`] (version line, packets, KEXINIT), [`conn`] (bounded packet I/O), [`chacha`] (the
//! packet cipher), [`auth`] (key exchange and `none` request).

mod auth;
mod chacha;
mod conn;
#[cfg(test)]
mod tests;
pub(crate) mod wire;

use super::io::ProbeError;
use super::{Limits, ServiceInfo, Target};
use crate::i18n::Said;
use conn::Conn;
use wire::KexInit;

/// Identifies SSH on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::named("ssh");
    let talk = async |session, info: &mut ServiceInfo| converse(&mut Conn::new(session), info).await;
    super::over_connection(target, limits, &mut info, talk).await;
    info
}

/// Our version line.
fn our_version() -> String {
    format!("SSH-2.0-wijkagent_{}", env!("CARGO_PKG_VERSION"))
}

/// Version exchange, KEXINIT, and the authentication methods if we can get them.
async fn converse<S: super::http::Stream>(conn: &mut Conn<S>, info: &mut ServiceInfo) -> Result<(), ProbeError> {
    let v_c = our_version();
    conn.write_raw(format!("{v_c}\r\n").as_bytes()).await?;
    // Servers may send other lines before their version line (RFC 4253 §4.2).
    let mut line = conn.line().await?;
    for _ in 0..16 {
        if line.starts_with(b"SSH-") {
            break;
        }
        line = conn.line().await?;
    }
    let version =
        wire::parse_version(&line).ok_or_else(|| ProbeError::Protocol(String::from_utf8_lossy(&line).into()))?;
    let v_s: &[u8] = line.strip_suffix(b"\n").unwrap_or(&line);
    let v_s = v_s.strip_suffix(b"\r").unwrap_or(v_s);
    info.detail("banner", &String::from_utf8_lossy(v_s));
    let (product, product_version) = wire::product(&version.software);
    info.product = Some(super::io::sanitize(&product, 60));
    info.version = product_version.map(|v| super::io::sanitize(&v, 40));
    if version.proto != "2.0" && version.proto != "1.99" {
        info.detail("protocol", &format!("SSH {} (alleen SSH-1)", version.proto));
        return Ok(());
    }

    let i_c = auth::our_kexinit();
    conn.send(&i_c).await?;
    let i_s = conn.recv_msg().await?;
    let kex = wire::parse_kexinit(&i_s).ok_or_else(|| ProbeError::Protocol("no KEXINIT".into()))?;
    describe_kexinit(info, &kex);

    if !auth::supported(&kex) {
        info.detail("auth-methods", "niet bepaald: geen curve25519-sha256 met chacha20-poly1305@openssh.com");
        conn.disconnect().await;
        return Ok(());
    }
    let hello = auth::Hello { v_c: v_c.as_bytes(), v_s, i_c: &i_c, i_s: &i_s };
    match auth::methods(conn, &hello).await {
        Ok(auth::Answer::Methods(methods)) => {
            info.detail("auth-methods", &methods.join(","));
            let passwords = auth::password_methods(&methods);
            if !passwords.is_empty() {
                let methods = super::io::sanitize(&passwords.join(", "), 60);
                info.observe(
                    "ssh-password-auth",
                    format!("server biedt aanmelden met wachtwoord aan ({methods})"),
                    format!("server offers password login ({methods})"),
                );
            }
        }
        Ok(auth::Answer::NoneAccepted) => {
            info.detail("auth-methods", "none: aanmelden zonder enige authenticatie aanvaard")
        }
        Err(e) => info.detail("auth-methods", &format!("niet bepaald: {}", e.note())),
    }
    conn.disconnect().await;
    Ok(())
}

/// Details and the weak-algorithm observation from the server's KEXINIT.
fn describe_kexinit(info: &mut ServiceInfo, kex: &KexInit) {
    info.detail("kex", &kex.kex.join(","));
    info.detail("host-keys", &kex.host_key.join(","));
    info.detail("ciphers", &union(&kex.ciphers).join(","));
    info.detail("macs", &union(&kex.macs).join(","));
    let weak = weak_algorithms(kex);
    if !weak.is_empty() {
        // Algorithm names only: the same in both languages.
        info.observe_said("ssh-weak-algorithms", Said::same(super::io::sanitize(&weak.join(", "), 300)));
    }
}

/// Both directions' names, each once, in order.
fn union(lists: &[Vec<String>; 2]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in lists.iter().flatten() {
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

/// The weak algorithms a server offers: SHA-1 and 1024-bit key exchanges, DSA host keys, CBC and
/// other broken ciphers, MD5 and truncated MACs, `none`.
pub fn weak_algorithms(kex: &KexInit) -> Vec<String> {
    let mut weak: Vec<String> = Vec::new();
    let mut add = |name: &String| {
        if !weak.contains(name) {
            weak.push(name.clone());
        }
    };
    for name in &kex.kex {
        if is_weak_kex(name) {
            add(name);
        }
    }
    for name in &kex.host_key {
        if name == "ssh-dss" || name.starts_with("ssh-dss-cert") || name == "ssh-rsa1" {
            add(name);
        }
    }
    for name in kex.ciphers.iter().flatten() {
        if is_weak_cipher(name) {
            add(name);
        }
    }
    for name in kex.macs.iter().flatten() {
        if is_weak_mac(name) {
            add(name);
        }
    }
    weak
}

fn is_weak_kex(name: &str) -> bool {
    matches!(
        name,
        "diffie-hellman-group1-sha1"
            | "diffie-hellman-group14-sha1"
            | "diffie-hellman-group-exchange-sha1"
            | "rsa1024-sha1"
    ) || (name.starts_with("gss-") && name.contains("sha1"))
}

fn is_weak_cipher(name: &str) -> bool {
    let base = name.split('@').next().unwrap_or(name);
    name == "none"
        || base.ends_with("-cbc")
        || base.starts_with("arcfour")
        || base.starts_with("3des")
        || base.starts_with("des")
        || base.starts_with("blowfish")
        || base.starts_with("cast128")
}

fn is_weak_mac(name: &str) -> bool {
    let base = name.split('@').next().unwrap_or(name);
    name == "none" || base.starts_with("hmac-md5") || base.starts_with("hmac-sha1-96") || base.starts_with("umac-32")
}
