//! MySQL / MariaDB identification: the server's initial handshake packet, nothing more.
//!
//! The server speaks first. A protocol-10 handshake gives the version string, which tells MySQL from
//! MariaDB (MariaDB 10+ prefixes `5.5.5-` for old clients; the prefix is dropped), the default
//! authentication plugin and whether the server offers TLS (`CLIENT_SSL`). An ERR packet instead of a
//! handshake ("Host '…' is not allowed to connect", "Too many connections") becomes the note.
//!
//! The probe never logs in: it closes right after the greeting. MySQL counts a connection that ends
//! inside the handshake against `max_connect_errors` for the scanner's address; the counter resets at
//! the next successful login from that address and is 100 by default, far above one scan per window.

use super::io::{self, ProbeError, Session};
use super::{Limits, ServiceInfo, Target};

/// Largest greeting accepted (a real one is about 100 bytes).
const MAX_PACKET: usize = 4096;
/// `CLIENT_SSL` capability.
const CLIENT_SSL: u32 = 0x0800;

/// What the server's first packet said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Greeting {
    /// A protocol-10 handshake.
    Handshake {
        /// The version string as sent.
        version: String,
        /// Capability flags (lower and, when present, upper half).
        capabilities: u32,
        /// The default authentication plugin, when sent.
        auth_plugin: Option<String>,
    },
    /// An ERR packet: code and message.
    Error {
        /// MySQL error code (1130: host not allowed, 1040: too many connections).
        code: u16,
        /// The message, raw.
        message: String,
    },
}

/// Identifies MySQL or MariaDB on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::for_port(target, "mysql");
    match greeting(target, limits).await {
        Ok(g) => describe(&mut info, &g),
        Err(e) => info.note = Some(e.note()),
    }
    info
}

/// Connects and reads the first packet.
async fn greeting(target: &Target, limits: &Limits) -> Result<Greeting, ProbeError> {
    let mut s = Session::connect(target, limits).await?;
    let header = s.read_exact(4).await?;
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    if len == 0 || len > MAX_PACKET.min(limits.max_bytes) {
        return Err(ProbeError::Protocol(format!("MySQL packet length {len}")));
    }
    let payload = s.read_exact(len).await?;
    parse_greeting(&payload).ok_or_else(|| ProbeError::Protocol(io::sanitize_bytes(&payload, 60)))
}

/// Fills `info` from the greeting.
fn describe(info: &mut ServiceInfo, greeting: &Greeting) {
    info.service = Some("mysql".into());
    match greeting {
        Greeting::Handshake { version, capabilities, auth_plugin } => {
            let (product, number) = product_version(version);
            info.product = Some(product.into());
            info.version = Some(io::sanitize(&number, 60));
            info.detail("version-string", version);
            info.detail("tls", if capabilities & CLIENT_SSL != 0 { "aangeboden" } else { "niet aangeboden" });
            if let Some(plugin) = auth_plugin {
                info.detail("auth-plugin", plugin);
            }
        }
        Greeting::Error { code, message } => {
            info.detail("error", &format!("{code} {message}"));
            info.note = Some(match code {
                1130 => "refused: host not allowed to connect".to_string(),
                1040 => "refused: too many connections".to_string(),
                _ => format!("refused: MySQL error {code}"),
            });
        }
    }
}

/// `("MariaDB", "10.11.6")` from `5.5.5-10.11.6-MariaDB-0+deb12u1`, `("MySQL", "8.0.36")` from
/// `8.0.36-0ubuntu0.22.04.1`.
pub(crate) fn product_version(version: &str) -> (&'static str, String) {
    let lower = version.to_ascii_lowercase();
    let product = if lower.contains("mariadb") {
        "MariaDB"
    } else if lower.contains("percona") {
        "Percona Server"
    } else {
        "MySQL"
    };
    let rest = if product == "MariaDB" { version.strip_prefix("5.5.5-").unwrap_or(version) } else { version };
    let number: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    (product, if number.is_empty() { rest.to_string() } else { number })
}

/// Parses the payload of the server's first packet (without the 4-byte packet header).
pub(crate) fn parse_greeting(payload: &[u8]) -> Option<Greeting> {
    match *payload.first()? {
        0xff => {
            let code = u16::from_le_bytes([*payload.get(1)?, *payload.get(2)?]);
            let mut message = payload.get(3..)?;
            // A '#' and a five-character SQL state may precede the message.
            if message.first() == Some(&b'#') && message.len() >= 6 {
                message = &message[6..];
            }
            Some(Greeting::Error { code, message: io::sanitize_bytes(message, 160) })
        }
        0x0a => {
            let rest = &payload[1..];
            let end = rest.iter().position(|&b| b == 0)?;
            let version = io::sanitize_bytes(&rest[..end], 100);
            // thread id (4), auth-plugin-data part 1 (8), filler (1), capabilities lower (2)
            let after = rest.get(end + 1..)?;
            let lower = u16::from_le_bytes([*after.get(13)?, *after.get(14)?]);
            // charset (1), status (2), capabilities upper (2), auth data length (1), reserved (10)
            let upper = after.get(18..20).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
            let capabilities = u32::from(lower) | u32::from(upper) << 16;
            let auth_len = after.get(20).map_or(0, |&l| usize::from(l));
            // auth-plugin-data part 2: max(13, length - 8) bytes, then the plugin name
            let plugin_at = 31 + auth_len.saturating_sub(8).max(13);
            let auth_plugin = after.get(plugin_at..).and_then(|p| {
                let name = &p[..p.iter().position(|&b| b == 0).unwrap_or(p.len())];
                (!name.is_empty()).then(|| io::sanitize_bytes(name, 60))
            });
            Some(Greeting::Handshake { version, capabilities, auth_plugin })
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "mysql_tests.rs"]
mod tests;
