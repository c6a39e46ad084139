//! VNC identification: the RFB version handshake (`RFB 003.008`), then the security types the
//! server offers. Type 1 (None) means anyone can see and use the screen: `vnc-no-auth`. The
//! connection is closed before a security type is chosen.

use super::io::{ProbeError, Session};
use super::{Limits, ServiceInfo, Target};

/// Identifies VNC on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::named("vnc");
    super::over_connection(target, limits, &mut info, converse).await;
    info
}

async fn converse<S: super::http::Stream>(mut s: Session<S>, info: &mut ServiceInfo) -> Result<(), ProbeError> {
    let hello = s.read_exact(12).await?;
    let (major, minor) =
        parse_version(&hello).ok_or_else(|| ProbeError::Protocol(super::io::sanitize_bytes(&hello, 40)))?;
    info.detail("rfb", &format!("{major}.{minor}"));
    if let Some(product) = product(major, minor) {
        info.product = Some(product.to_string());
    }
    // We answer with the highest version both speak: 3.8, 3.7 or 3.3 (Apple's 3.889 counts as 3.8).
    let ours: &[u8] = match (major, minor) {
        (3, 7) => b"RFB 003.007\n",
        (3, m) if m < 7 => b"RFB 003.003\n",
        _ => b"RFB 003.008\n",
    };
    s.write_all(ours).await?;
    let types = if ours == b"RFB 003.003\n" {
        let t = s.read_exact(4).await?;
        vec![u32::from_be_bytes([t[0], t[1], t[2], t[3]])]
    } else {
        let n = s.read_exact(1).await?[0] as usize;
        if n == 0 {
            Vec::new()
        } else {
            s.read_exact(n).await?.into_iter().map(u32::from).collect()
        }
    };
    if types.is_empty() || types == [0] {
        // A failure with a reason (e.g. too many authentication failures).
        let reason = match s.read_exact(4).await {
            Ok(len) => {
                let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
                s.read_exact(len.min(512)).await.map(|r| super::io::sanitize_bytes(&r, 120)).unwrap_or_default()
            }
            Err(_) => String::new(),
        };
        info.detail("security-types", &format!("geen (server weigert: {reason})"));
        return Ok(());
    }
    let names: Vec<String> = types.iter().map(|&t| format!("{} ({t})", type_name(t))).collect();
    info.detail("security-types", &names.join(", "));
    if types.contains(&1) {
        info.observe(
            "vnc-no-auth",
            "beveiligingstype None (1) aangeboden: toegang zonder wachtwoord",
            "security type None (1) offered: access without a password",
        );
    }
    Ok(())
}

/// Parses `RFB xxx.yyy\n`.
pub fn parse_version(hello: &[u8]) -> Option<(u16, u16)> {
    let text = std::str::from_utf8(hello.get(..12)?).ok()?;
    let rest = text.strip_prefix("RFB ")?.strip_suffix('\n')?;
    let (major, minor) = rest.split_once('.')?;
    if major.len() != 3 || minor.len() != 3 {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Products known by their RFB version.
fn product(major: u16, minor: u16) -> Option<&'static str> {
    match (major, minor) {
        (3, 889) => Some("Apple Remote Desktop"),
        (4, _) | (5, _) => Some("RealVNC"),
        _ => None,
    }
}

/// Names of security types (RFC 6143 §7.2 and the IANA registry).
pub fn type_name(t: u32) -> &'static str {
    match t {
        1 => "None",
        2 => "VNC Authentication",
        5 => "RA2",
        6 => "RA2ne",
        16 => "Tight",
        18 => "TLS",
        19 => "VeNCrypt",
        22 => "XVP",
        30 => "Apple",
        _ => "onbekend",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn versions() {
        assert_eq!(parse_version(b"RFB 003.008\n"), Some((3, 8)));
        assert_eq!(parse_version(b"RFB 003.889\n"), Some((3, 889)));
        // Truncated, not RFB, no newline, invalid UTF-8.
        assert_eq!(parse_version(b"RFB 003.00"), None);
        assert_eq!(parse_version(b"SSH-2.0-xxxx"), None);
        assert_eq!(parse_version(b"RFB 003.008x"), None);
        assert_eq!(parse_version(b"RFB 00\xff.008\n"), None);
        assert_eq!(type_name(2), "VNC Authentication");
    }

    /// A VNC server speaking `version` and offering `types` (3.7+ form).
    async fn vnc(version: &'static [u8], types: &'static [u8]) -> fake::Server {
        fake::serve(move |mut s| async move {
            let _ = s.write_all(version).await;
            let mut theirs = [0u8; 12];
            if s.read_exact(&mut theirs).await.is_ok() {
                let _ = s.write_all(types).await;
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        })
        .await
    }

    #[tokio::test]
    async fn no_auth_and_password_servers() {
        let server = vnc(b"RFB 003.008\n", b"\x02\x01\x02").await;
        let info = identify(&server.target, &fake::deadline(2000)).await;
        assert_eq!(info.observations[0].weakness, "vnc-no-auth");
        assert_eq!(info.details["security-types"], "None (1), VNC Authentication (2)");

        let server = vnc(b"RFB 003.008\n", b"\x01\x02").await;
        let info = identify(&server.target, &fake::deadline(2000)).await;
        assert!(info.observations.is_empty());

        // RFB 3.3: the server picks the type itself, as a 32-bit number.
        let server = vnc(b"RFB 003.003\n", b"\x00\x00\x00\x01").await;
        let info = identify(&server.target, &fake::deadline(2000)).await;
        assert_eq!(info.observations[0].weakness, "vnc-no-auth");

        // A refusal with a reason.
        let server = vnc(b"RFB 003.008\n", b"\x00\x00\x00\x00\x07too many").await;
        let info = identify(&server.target, &fake::deadline(2000)).await;
        assert!(info.observations.is_empty());
        assert_eq!(info.details["security-types"], "geen (server weigert: too man)");
    }

    #[tokio::test]
    async fn a_silent_vnc_server() {
        let server = fake::silent().await;
        let info = identify(&server.target, &fake::deadline(300)).await;
        assert_eq!(info.note.as_deref(), Some("timeout"));
    }
}
