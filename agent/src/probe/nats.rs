//! NATS identification: the server greets every client with `INFO {json}`; its `server_name`,
//! `version` and `auth_required` are read. No `auth_required` (or `false`) is `nats-no-auth`.
//! Nothing is sent: the connection is closed before CONNECT.

use super::io::Session;
use super::{Limits, ServiceInfo, Target};

/// Longest INFO line read (it can list cluster URLs).
const MAX_INFO: usize = 16 * 1024;

/// What the INFO line says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info {
    /// `version`.
    pub version: Option<String>,
    /// `server_name` (or `server_id`).
    pub name: Option<String>,
    /// `auth_required`, false when absent.
    pub auth_required: bool,
    /// `tls_required`.
    pub tls_required: bool,
}

/// Identifies NATS on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::named("nats");
    let first_line = async |mut s: Session, _: &mut ServiceInfo| s.read_until(MAX_INFO, |b| b.contains(&b'\n')).await;
    let Some(line) = super::over_connection(target, limits, &mut info, first_line).await else {
        return info;
    };
    let Some(parsed) = parse_info(&line) else {
        info.detail("banner", &super::io::sanitize_bytes(&line, 200));
        info.note = Some("unexpected answer: no INFO line".into());
        return info;
    };
    info.product = Some("NATS Server".into());
    info.version = parsed.version.as_deref().map(|v| super::io::sanitize(v, 40));
    if let Some(name) = &parsed.name {
        info.detail("server_name", name);
    }
    info.detail("auth_required", if parsed.auth_required { "true" } else { "false" });
    info.detail("tls_required", if parsed.tls_required { "true" } else { "false" });
    if !parsed.auth_required {
        info.observe("nats-no-auth", "INFO-regel zegt auth_required false", "INFO line says auth_required false");
    }
    info
}

/// Parses `INFO {json}` (through the line end); `None` for anything else.
pub fn parse_info(line: &[u8]) -> Option<Info> {
    let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
    let rest = line[..end].strip_prefix(b"INFO")?;
    let doc: serde_json::Value = serde_json::from_slice(rest.trim_ascii()).ok()?;
    let text = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let flag = |k: &str| doc.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
    doc.is_object().then(|| Info {
        version: text("version"),
        name: text("server_name").or_else(|| text("server_id")),
        auth_required: flag("auth_required"),
        tls_required: flag("tls_required"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake;
    use tokio::io::AsyncWriteExt;

    const OPEN: &[u8] = b"INFO {\"server_id\":\"NBX\",\"server_name\":\"gemeente-nats\",\"version\":\"2.10.7\",\"go\":\"go1.21\",\"max_payload\":1048576}\r\n";
    const LOCKED: &[u8] =
        b"INFO {\"server_id\":\"NBX\",\"version\":\"2.10.7\",\"auth_required\":true,\"tls_required\":true}\r\n";

    #[test]
    fn info_lines() {
        let open = parse_info(OPEN).expect("info");
        assert_eq!(open.version.as_deref(), Some("2.10.7"));
        assert_eq!(open.name.as_deref(), Some("gemeente-nats"));
        assert!(!open.auth_required);
        assert!(parse_info(LOCKED).expect("info").auth_required);
        // Truncated JSON, another protocol, invalid UTF-8, a JSON that is not an object.
        assert_eq!(parse_info(&OPEN[..40]), None);
        assert_eq!(parse_info(b"+OK\r\n"), None);
        assert_eq!(parse_info(b"INFO {\"version\":\"\xff\"}\r\n"), None);
        assert_eq!(parse_info(b"INFO 42\r\n"), None);
    }

    async fn nats(info: &'static [u8]) -> fake::Server {
        fake::serve(move |mut s| async move {
            let _ = s.write_all(info).await;
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        })
        .await
    }

    #[tokio::test]
    async fn open_and_locked_servers() {
        let server = nats(OPEN).await;
        let info = identify(&server.target, &fake::deadline(2000)).await;
        assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("NATS Server"), Some("2.10.7")));
        assert_eq!(info.observations[0].weakness, "nats-no-auth");
        let server = nats(LOCKED).await;
        let info = identify(&server.target, &fake::deadline(2000)).await;
        assert!(info.observations.is_empty());
        let server = fake::silent().await;
        let info = identify(&server.target, &fake::deadline(300)).await;
        assert_eq!(info.note.as_deref(), Some("timeout"));
    }
}
