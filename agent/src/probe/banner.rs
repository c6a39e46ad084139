//! Any other open TCP port: wait up to 2 s for the server to speak first, recognise SSH, FTP, SMTP,
//! POP3, IMAP, HTTP, VNC, NATS, AMQP, MySQL and Telnet greetings by their content, and otherwise keep
//! the sanitised banner as a detail. Nothing is sent: unknown ports are not sprayed with other
//! protocols' requests. UDP ports without a payload of their own are not probed at all.
//!
//! Also home to what the text protocols share: [`dialog`] (line dialogues, reply framing).

pub(crate) mod dialog;

use std::time::Duration;

use tokio::time::Instant;

use super::io::{ProbeError, Session};
use super::{Limits, ServiceInfo, Target};
use crate::ports::Proto;

/// Longest wait for a first byte.
const WAIT: Duration = Duration::from_secs(2);
/// How long to wait for more after something arrived.
const SETTLE: Duration = Duration::from_millis(250);
/// Most banner bytes read.
const MAX_BANNER: usize = 4096;

/// A greeting recognised by its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    /// Service name.
    pub service: &'static str,
    /// Product, if the greeting names it.
    pub product: Option<String>,
    /// Version, if stated.
    pub version: Option<String>,
}

/// Identifies whatever listens on `target` by its banner.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::for_port(target, "unknown");
    if target.proto == Proto::Udp {
        info.note = Some("not-probed: no UDP payload for this port".into());
        return info;
    }
    let Some(got) = super::over_connection(target, limits, &mut info, async |mut s, _| listen(&mut s).await).await
    else {
        return info;
    };
    if got.is_empty() {
        info.note = Some("no banner".into());
        return info;
    }
    let shown = if got.first() == Some(&0xff) { super::telnet::negotiate(&got).text } else { got.clone() };
    let banner = super::io::sanitize_bytes(&shown, 200);
    if !banner.is_empty() {
        info.detail("banner", &banner);
    }
    if let Some(r) = recognise(&got) {
        info.service = Some(r.service.to_string());
        info.product = r.product.map(|p| super::io::sanitize(&p, 60));
        info.version = r.version.map(|v| super::io::sanitize(&v, 40));
        if r.service == "telnet" {
            super::telnet::observe_open(&mut info, target.addr.port());
        }
    }
    info
}

/// Reads what the server says on its own: up to [`WAIT`] for the first bytes, then until it pauses.
async fn listen(s: &mut Session) -> Result<Vec<u8>, ProbeError> {
    let mut got = Vec::new();
    let mut until = Instant::now() + WAIT.min(s.time_left());
    while got.len() < MAX_BANNER {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, s.read_some(MAX_BANNER - got.len())).await {
            Err(_) => break,
            Ok(Ok(chunk)) => {
                got.extend_from_slice(&chunk);
                until = until.min(Instant::now() + SETTLE);
            }
            Ok(Err(e)) if got.is_empty() => return Err(e),
            Ok(Err(_)) => break,
        }
    }
    Ok(got)
}

/// Recognises a greeting by its content.
pub fn recognise(banner: &[u8]) -> Option<Recognised> {
    let text = String::from_utf8_lossy(banner);
    let first = text.lines().next().unwrap_or("");
    let plain = |service| Some(Recognised { service, product: None, version: None });
    let with = |service, found: Option<(String, Option<String>)>| match found {
        Some((product, version)) => Some(Recognised { service, product: Some(product), version }),
        None => plain(service),
    };
    if banner.starts_with(b"SSH-") {
        let v = super::ssh::wire::parse_version(first.as_bytes())?;
        return with("ssh", Some(super::ssh::wire::product(&v.software)));
    }
    if super::telnet::is_busybox(banner) {
        return Some(Recognised {
            service: "telnet",
            product: Some(super::telnet::BUSYBOX_PRODUCT.to_string()),
            version: None,
        });
    }
    if banner.len() >= 2 && banner[0] == 0xff && (251..=254).contains(&banner[1]) {
        return plain("telnet");
    }
    if banner.starts_with(b"RFB ") && super::vnc::parse_version(banner).is_some() {
        return plain("vnc");
    }
    if banner.starts_with(b"INFO {") {
        return with("nats", super::nats::parse_info(banner).map(|i| ("NATS Server".to_string(), i.version)));
    }
    if banner.starts_with(b"AMQP") {
        return plain("amqp");
    }
    if banner.starts_with(b"HTTP/1.") {
        let server =
            text.lines().find_map(|l| l.get(..7).filter(|p| p.eq_ignore_ascii_case("server:")).map(|_| &l[7..]));
        return with("http", server.and_then(|s| super::http::server_product(s.trim())));
    }
    if let Some(rest) = first.strip_prefix("+OK") {
        return with("pop3", super::mail::greeting_product(rest));
    }
    if let Some(rest) = first.strip_prefix("* OK") {
        return with("imap", super::mail::greeting_product(rest));
    }
    if first.starts_with("220") {
        let lower = text.to_ascii_lowercase();
        if let Some(found) = super::ftp::product(&text) {
            return with("ftp", Some(found));
        }
        if lower.contains("smtp") || lower.contains("mail") {
            return with("smtp", super::mail::greeting_product(&text));
        }
        if lower.contains("ftp") {
            return plain("ftp");
        }
        return None;
    }
    mysql_greeting(banner)
}

/// A MySQL/MariaDB handshake (protocol 10): `8.0.36` → MySQL, `5.5.5-10.11.6-MariaDB` → MariaDB.
fn mysql_greeting(b: &[u8]) -> Option<Recognised> {
    let len = usize::from(*b.first()?) | usize::from(*b.get(1)?) << 8 | usize::from(*b.get(2)?) << 16;
    if b.get(3) != Some(&0) || b.get(4) != Some(&10) || !(2..=1024).contains(&len) {
        return None;
    }
    let rest = b.get(5..)?;
    let end = rest.iter().position(|&c| c == 0)?;
    let version = std::str::from_utf8(&rest[..end]).ok()?;
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let version = version.strip_prefix("5.5.5-").unwrap_or(version);
    let (product, version) = match version.find("-MariaDB") {
        Some(i) => ("MariaDB", &version[..i]),
        None => ("MySQL", version.split('-').next().unwrap_or(version)),
    };
    Some(Recognised { service: "mysql", product: Some(product.into()), version: Some(version.into()) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake;
    use tokio::io::AsyncWriteExt;

    fn names(b: &[u8]) -> Option<(&'static str, Option<String>, Option<String>)> {
        recognise(b).map(|r| (r.service, r.product, r.version))
    }

    #[test]
    fn greetings_are_recognised() {
        let s = |x: &str| Some(x.to_string());
        assert_eq!(names(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), Some(("ssh", s("OpenSSH"), s("9.2p1"))));
        assert_eq!(names(b"220 (vsFTPd 3.0.3)\r\n"), Some(("ftp", s("vsftpd"), s("3.0.3"))));
        assert_eq!(names(b"220 mx ESMTP Postfix\r\n"), Some(("smtp", s("Postfix"), None)));
        assert_eq!(names(b"220 printer FTP ready\r\n"), Some(("ftp", None, None)));
        assert_eq!(names(b"+OK Dovecot ready.\r\n"), Some(("pop3", s("Dovecot"), None)));
        assert_eq!(names(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n").map(|n| n.0), Some("imap"));
        assert_eq!(
            names(b"HTTP/1.0 400 Bad Request\r\nServer: nginx/1.22.1\r\n"),
            Some(("http", s("nginx"), s("1.22.1")))
        );
        assert_eq!(names(b"RFB 003.008\n"), Some(("vnc", None, None)));
        assert_eq!(names(b"\xff\xfd\x18\xff\xfd\x20"), Some(("telnet", None, None)));
        // BusyBox telnetd's opening (DO ECHO, DO NAWS, WILL ECHO, WILL SUPPRESS-GO-AHEAD), then text.
        assert_eq!(
            names(b"\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03\r\r\nwijk-lab login: "),
            Some(("telnet", Some("BusyBox telnetd".into()), None))
        );
        assert_eq!(names(b"INFO {\"version\":\"2.10.7\"}\r\n"), Some(("nats", s("NATS Server"), s("2.10.7"))));
    }

    #[test]
    fn mysql_and_unknown_greetings() {
        // MySQL 8 handshake start: length 74, sequence 0, protocol 10, version, NUL.
        let mysql = b"\x4a\x00\x00\x00\x0a8.0.36\x00\x0d\x00\x00\x00";
        assert_eq!(names(mysql), Some(("mysql", Some("MySQL".into()), Some("8.0.36".into()))));
        let maria = b"\x5b\x00\x00\x00\x0a5.5.5-10.11.6-MariaDB-0+deb12u1\x00";
        assert_eq!(names(maria), Some(("mysql", Some("MariaDB".into()), Some("10.11.6".into()))));
        // Truncated handshake, MySQL's "host not allowed" error packet, garbage, nothing.
        assert_eq!(names(b"\x4a\x00\x00\x00\x0a8.0"), None);
        assert_eq!(names(b"\x45\x00\x00\x00\xff\x6a\x04Host is not allowed"), None);
        assert_eq!(names(b"\x00\x01\xfe\xfd\xfc"), None);
        assert_eq!(names(b""), None);
        assert_eq!(names(b"220 \xff\xfe\r\n"), None);
        assert_eq!(names(b"SSH-garbage"), None);
    }

    #[tokio::test]
    async fn a_banner_is_kept_and_a_silent_port_gets_nothing_sent() {
        let server = fake::serve(|mut s| async move {
            let _ = s.write_all(b"Welkom bij de \x1b[1mUPS\x1b[0m console\r\n").await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        })
        .await;
        let started = std::time::Instant::now();
        let info = identify(&server.target, &fake::deadline(5000)).await;
        assert!(started.elapsed() < Duration::from_millis(1800), "stops once the banner pauses, before the 2 s wait");
        assert_eq!(info.details["banner"], "Welkom bij de [1mUPS[0m console");
        assert!(info.observations.is_empty());

        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let server = fake::serve(move |mut s| {
            let tx = tx.clone();
            async move {
                let got = fake::read_until(&mut s, b"\n").await;
                let _ = tx.send(got);
            }
        })
        .await;
        let info = identify(&server.target, &fake::deadline(5000)).await;
        assert_eq!(info.note.as_deref(), Some("no banner"));
        drop(info);
        assert_eq!(rx.recv().await.expect("closed"), Vec::<u8>::new(), "nothing was sent");
    }

    #[tokio::test]
    async fn an_ssh_server_on_an_odd_port_is_named() {
        let server = fake::serve(|mut s| async move {
            let _ = s.write_all(b"SSH-2.0-dropbear_2022.83\r\n").await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        })
        .await;
        let info = identify(&server.target, &fake::deadline(3000)).await;
        assert_eq!(info.service.as_deref(), Some("ssh"));
        assert_eq!(info.product.as_deref(), Some("Dropbear sshd"));
    }
}
