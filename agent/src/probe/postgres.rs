//! PostgreSQL identification: TLS support and the authentication the server asks for.
//!
//! 1. `SSLRequest`: the server answers `S` (TLS available) or `N`. On `S` the TLS setup is analysed by
//!    [`crate::tls::analyse`] with [`StartTls::Postgres`] (it opens its own connection).
//! 2. A `StartupMessage` for user `wijkagent`, database `wijkagent` (on the same connection after
//!    `N`, on a fresh plain one after `S`). The first answer is an authentication request, whose
//!    method is a detail (`trust` when the server says AuthenticationOk without asking anything), or an
//!    ErrorResponse, whose severity, SQLSTATE and message are details (`no pg_hba.conf entry …`).
//!    No password is ever sent; the connection is closed at the first question.
//!
//! PostgreSQL sends its version only after a successful login (ParameterStatus `server_version`),
//! so the version stays unknown unless the server trusts the role `wijkagent`; a detail says so.

use tokio::time::Instant;

use super::io::{self, ProbeError, Session};
use super::{Limits, ServiceInfo, Target};
use crate::tls::{self, StartTls};

/// `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f];
/// Largest backend message accepted.
const MAX_MESSAGE: usize = 8192;
/// Messages read after AuthenticationOk, at most (ParameterStatus, BackendKeyData, ReadyForQuery).
const MAX_AFTER_OK: usize = 24;

/// The `StartupMessage` (protocol 3.0) for user and database `wijkagent`.
pub(crate) fn startup_message() -> Vec<u8> {
    let body: &[u8] = b"\x00\x03\x00\x00user\0wijkagent\0database\0wijkagent\0application_name\0wijkagent\0\0";
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(body);
    msg
}

/// An authentication request (`R` message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// AuthenticationOk: no question asked.
    Ok,
    /// Another method: code and a description (`md5`, `scram-sha-256`, ...).
    Method(u32, String),
}

/// Parses the body of an `R` message.
pub(crate) fn parse_auth(body: &[u8]) -> Option<Auth> {
    let code = u32::from_be_bytes(body.get(..4)?.try_into().ok()?);
    Some(match code {
        0 => Auth::Ok,
        10 => {
            let list: Vec<String> = body[4..]
                .split(|&b| b == 0)
                .take_while(|m| !m.is_empty())
                .take(8)
                .map(|m| io::sanitize_bytes(m, 40))
                .collect();
            Auth::Method(code, format!("SASL ({})", list.join(", ")))
        }
        _ => Auth::Method(
            code,
            match code {
                2 => "Kerberos V5",
                3 => "cleartext password",
                5 => "md5",
                6 => "SCM credentials",
                7 => "GSSAPI",
                9 => "SSPI",
                _ => "unknown",
            }
            .to_string(),
        ),
    })
}

/// The fields of an ErrorResponse or NoticeResponse body: (field type, sanitised value).
pub(crate) fn parse_fields(body: &[u8]) -> Vec<(u8, String)> {
    let mut fields = Vec::new();
    let mut rest = body;
    while let Some((&kind, after)) = rest.split_first() {
        if kind == 0 {
            break;
        }
        let end = after.iter().position(|&b| b == 0).unwrap_or(after.len());
        fields.push((kind, io::sanitize_bytes(&after[..end], 200)));
        rest = after.get(end + 1..).unwrap_or(&[]);
    }
    fields
}

/// The type and declared body length of a backend message header (5 bytes), checked.
pub(crate) fn parse_header(header: &[u8]) -> Result<(u8, usize), ProbeError> {
    let (&tag, len) = header.split_first().ok_or(ProbeError::Closed)?;
    let len = u32::from_be_bytes(len.get(..4).and_then(|l| l.try_into().ok()).ok_or(ProbeError::Closed)?) as usize;
    if !(4..=MAX_MESSAGE).contains(&len) || !tag.is_ascii_alphabetic() {
        return Err(ProbeError::Protocol(format!("PostgreSQL message {:?} of length {len}", char::from(tag))));
    }
    Ok((tag, len - 4))
}

/// Identifies PostgreSQL on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::for_port(target, "postgresql");
    let started = Instant::now();
    let ssl = match run(target, limits, started, &mut info).await {
        Ok(ssl) => ssl,
        Err((ssl, e)) => {
            info.note = Some(e.note());
            ssl
        }
    };
    if ssl {
        let left = limits.deadline.saturating_sub(started.elapsed()).max(limits.deadline / 2);
        tls::analyse_into(&mut info, target, StartTls::Postgres, &Limits { deadline: left, ..*limits }).await;
    }
    info
}

/// SSLRequest and StartupMessage; returns whether the server offers TLS (also with an error).
async fn run(
    target: &Target,
    limits: &Limits,
    started: Instant,
    info: &mut ServiceInfo,
) -> Result<bool, (bool, ProbeError)> {
    let mut s = Session::connect(target, limits).await.map_err(|e| (false, e))?;
    s.write_all(&SSL_REQUEST).await.map_err(|e| (false, e))?;
    let answer = s.read_exact(1).await.map_err(|e| (false, e))?;
    let ssl = match answer[0] {
        b'S' => true,
        b'N' => false,
        other => return Err((false, ProbeError::Protocol(format!("SSLRequest answered {:?}", char::from(other))))),
    };
    info.service = Some("postgresql".into());
    info.product = Some("PostgreSQL".into());
    info.detail("ssl", if ssl { "ondersteund" } else { "niet ondersteund (SSLRequest: N)" });
    info.detail("version", "niet meegedeeld vóór aanmelding");
    if ssl {
        // The server now expects a TLS handshake; ask the startup question on a fresh plain connection.
        let used = s.bytes_read();
        drop(s);
        let left = Limits {
            deadline: limits.deadline.saturating_sub(started.elapsed()),
            max_bytes: limits.max_bytes.saturating_sub(used),
            ..*limits
        };
        if left.deadline.is_zero() {
            return Err((ssl, ProbeError::Timeout));
        }
        s = Session::connect(target, &left).await.map_err(|e| (ssl, e))?;
    }
    startup(&mut s, info).await.map_err(|e| (ssl, e))?;
    Ok(ssl)
}

/// Sends the StartupMessage and reads what the server makes of it.
async fn startup(s: &mut Session, info: &mut ServiceInfo) -> Result<(), ProbeError> {
    s.write_all(&startup_message()).await?;
    let mut authenticated = false;
    for _ in 0..MAX_AFTER_OK {
        let (tag, len) = parse_header(&s.read_exact(5).await?)?;
        let body = if len == 0 { Vec::new() } else { s.read_exact(len).await? };
        match tag {
            b'R' if !authenticated => match parse_auth(&body) {
                Some(Auth::Ok) => {
                    authenticated = true;
                    info.detail("auth-method", "trust (AuthenticationOk zonder wachtwoord voor gebruiker 'wijkagent')");
                    info.observe(
                        "postgres-trust-auth",
                        "AuthenticationOk zonder wachtwoord voor de onbekende gebruiker 'wijkagent' (trust in pg_hba.conf)",
                        "AuthenticationOk without a password for the unknown user 'wijkagent' (trust in pg_hba.conf)",
                    );
                }
                Some(Auth::Method(code, name)) => {
                    info.detail("auth-method", &format!("{name} (code {code})"));
                    return Ok(());
                }
                None => return Err(ProbeError::Protocol("PostgreSQL authentication request".into())),
            },
            b'E' => {
                let fields = parse_fields(&body);
                for (kind, key) in [(b'V', "error-severity"), (b'C', "error-code"), (b'M', "error-message")] {
                    let value = fields.iter().find(|(k, _)| *k == kind).or_else(|| {
                        // servers before 9.6 send no V, only the localised S
                        (kind == b'V').then(|| fields.iter().find(|(k, _)| *k == b'S')).flatten()
                    });
                    if let Some((_, v)) = value {
                        info.detail(key, v);
                    }
                }
                return Ok(());
            }
            b'S' if authenticated => {
                let mut parts = body.split(|&b| b == 0);
                if parts.next() == Some(b"server_version") {
                    let version = io::sanitize_bytes(parts.next().unwrap_or_default(), 60);
                    info.detail("version", &version);
                    info.version = Some(version);
                }
            }
            b'Z' if authenticated => {
                // Logged in (the role exists and is trusted): say goodbye properly.
                let _ = s.write_all(&[b'X', 0, 0, 0, 4]).await;
                return Ok(());
            }
            _ if authenticated => {}
            other => return Err(ProbeError::Protocol(format!("PostgreSQL message {:?}", char::from(other)))),
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "postgres_tests.rs"]
mod tests;
