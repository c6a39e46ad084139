//! Redis identification: `PING` and, when that is answered without authentication, `INFO server`
//! (both as RESP arrays). `+PONG` and readable INFO are `redis-no-auth`, with the version from
//! `redis_version:`; `-NOAUTH` means authentication is required, `-DENIED` that protected mode
//! refuses remote clients. Ends with `QUIT`. Nothing is read or written in the database.

use super::io::{ProbeError, Session};
use super::{Limits, ServiceInfo, Target};

/// Largest INFO answer read.
const MAX_INFO: usize = 32 * 1024;

/// One RESP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resp {
    /// `+text`.
    Simple(String),
    /// `-text`.
    Error(String),
    /// `$n` and n bytes; `None` for `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `:n`, `*n` and anything else we do not need.
    Other(String),
}

/// Identifies Redis on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::named("redis");
    super::over_connection(target, limits, &mut info, converse).await;
    info
}

async fn converse<S: super::http::Stream>(mut s: Session<S>, info: &mut ServiceInfo) -> Result<(), ProbeError> {
    s.write_all(b"*1\r\n$4\r\nPING\r\n").await?;
    let pong = read_resp(&mut s).await?;
    match &pong {
        Resp::Simple(t) if t.eq_ignore_ascii_case("PONG") => {}
        Resp::Error(e) => {
            info.product = Some("Redis".into());
            let word = e.split_whitespace().next().unwrap_or("");
            let meaning = match word {
                "NOAUTH" | "WRONGPASS" => "authenticatie vereist",
                "DENIED" => "protected mode: geen toegang van buitenaf",
                _ => "fout",
            };
            info.detail("auth", &format!("{meaning} ({})", super::io::sanitize(e, 80)));
            quit(&mut s).await;
            return Ok(());
        }
        other => return Err(ProbeError::Protocol(format!("{other:?}"))),
    }
    info.product = Some("Redis".into());
    s.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n").await?;
    let answer = read_resp(&mut s).await?;
    let fields = match &answer {
        Resp::Bulk(Some(text)) => info_fields(text),
        _ => Vec::new(),
    };
    let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    if let Some(version) = get("valkey_version") {
        info.product = Some("Valkey".into());
        info.version = Some(super::io::sanitize(version, 40));
    } else if let Some(version) = get("redis_version") {
        info.version = Some(super::io::sanitize(version, 40));
    }
    for key in ["redis_mode", "os"] {
        if let Some(v) = get(key) {
            info.detail(key, v);
        }
    }
    let (nl, en) = match &info.version {
        Some(v) => (
            format!("PING gaf +PONG en INFO zonder aanmelding (versie {v})"),
            format!("PING gave +PONG and INFO without logging in (version {v})"),
        ),
        None => ("PING gaf +PONG zonder aanmelding".to_string(), "PING gave +PONG without logging in".to_string()),
    };
    info.observe("redis-no-auth", nl, en);
    quit(&mut s).await;
    Ok(())
}

async fn quit<S: super::http::Stream>(s: &mut Session<S>) {
    if s.write_all(b"*1\r\n$4\r\nQUIT\r\n").await.is_ok() {
        let _ = s.read_line().await;
    }
}

/// Reads one RESP answer (at most [`MAX_INFO`] bytes).
async fn read_resp<S: super::http::Stream>(s: &mut Session<S>) -> Result<Resp, ProbeError> {
    let raw = s.read_until(MAX_INFO + 64, |b| parse_resp(b).is_some()).await?;
    parse_resp(&raw).map(|(r, _)| r).ok_or_else(|| ProbeError::Protocol(String::from_utf8_lossy(&raw).into()))
}

/// Parses the RESP answer at the start of `buf`: the answer and the bytes it took, or `None` while
/// incomplete (or when a bulk length is negative other than -1, or too large).
pub fn parse_resp(buf: &[u8]) -> Option<(Resp, usize)> {
    let eol = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = String::from_utf8_lossy(buf.get(1..eol).unwrap_or_default()).into_owned();
    let used = eol + 2;
    match buf.first()? {
        b'+' => Some((Resp::Simple(line), used)),
        b'-' => Some((Resp::Error(line), used)),
        b'$' => {
            let n: i64 = line.trim().parse().ok()?;
            if n == -1 {
                return Some((Resp::Bulk(None), used));
            }
            let n = usize::try_from(n).ok().filter(|&n| n <= MAX_INFO)?;
            let body = buf.get(used..used + n)?;
            buf.get(used + n..used + n + 2)?;
            Some((Resp::Bulk(Some(body.to_vec())), used + n + 2))
        }
        _ => Some((Resp::Other(line), used)),
    }
}

/// `key:value` lines of an INFO answer (comments and other lines skipped).
pub fn info_fields(text: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn resp_answers_whole_truncated_and_odd() {
        assert_eq!(parse_resp(b"+PONG\r\n"), Some((Resp::Simple("PONG".into()), 7)));
        assert_eq!(
            parse_resp(b"-NOAUTH Authentication required.\r\n").map(|r| r.0),
            Some(Resp::Error("NOAUTH Authentication required.".into()))
        );
        assert_eq!(parse_resp(b"$5\r\nhello\r\n"), Some((Resp::Bulk(Some(b"hello".to_vec())), 11)));
        assert_eq!(parse_resp(b"$-1\r\n"), Some((Resp::Bulk(None), 5)));
        // Incomplete: no line end, bulk cut short, bulk without its final CRLF.
        assert_eq!(parse_resp(b"+PON"), None);
        assert_eq!(parse_resp(b"$5\r\nhel"), None);
        assert_eq!(parse_resp(b"$5\r\nhello"), None);
        // Nonsense lengths never complete (the probe then stops at its byte limit).
        assert_eq!(parse_resp(b"$-7\r\n"), None);
        assert_eq!(parse_resp(b"$99999999999\r\n"), None);
        assert_eq!(parse_resp(b"\xff\xfe\r\n").map(|r| r.1), Some(4));
        assert_eq!(parse_resp(b"\r\n").map(|r| r.1), Some(2), "an empty line");
    }

    #[test]
    fn info_fields_are_read() {
        let text = b"# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nos:Linux 6.1.0 x86_64\r\n\xff\r\n";
        let f = info_fields(text);
        assert_eq!(f[0], ("redis_version".into(), "7.0.15".into()));
        assert_eq!(f.len(), 3);
    }

    /// A fake Redis: `open` answers PING with PONG and INFO; otherwise NOAUTH.
    async fn fake_redis(open: bool) -> fake::Server {
        fake::serve(move |mut s| async move {
            let ping = fake::read_until(&mut s, b"PING\r\n").await;
            if ping.is_empty() {
                return;
            }
            if !open {
                let _ = s.write_all(b"-NOAUTH Authentication required.\r\n").await;
                fake::read_until(&mut s, b"QUIT\r\n").await;
                let _ = s.write_all(b"+OK\r\n").await;
                return;
            }
            let _ = s.write_all(b"+PONG\r\n").await;
            fake::read_until(&mut s, b"server\r\n").await;
            let body = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n";
            let _ = s.write_all(format!("${}\r\n{body}\r\n", body.len()).as_bytes()).await;
            fake::read_until(&mut s, b"QUIT\r\n").await;
            let _ = s.write_all(b"+OK\r\n").await;
        })
        .await
    }

    #[tokio::test]
    async fn an_open_redis_is_redis_no_auth() {
        let server = fake_redis(true).await;
        let info = identify(&server.target, &fake::deadline(2000)).await;
        assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("Redis"), Some("7.0.15")));
        assert_eq!(info.observations[0].weakness, "redis-no-auth");
        assert_eq!(info.note, None);
    }

    #[tokio::test]
    async fn a_redis_with_a_password_has_no_weakness() {
        let server = fake_redis(false).await;
        let info = identify(&server.target, &fake::deadline(2000)).await;
        assert!(info.observations.is_empty());
        assert!(info.details["auth"].starts_with("authenticatie vereist"));
    }

    #[tokio::test]
    async fn silent_and_flooding_redis() {
        let server = fake::silent().await;
        let info = identify(&server.target, &fake::deadline(300)).await;
        assert_eq!(info.note.as_deref(), Some("timeout"));
        let server = fake::flood(b"$30000\r\n").await;
        let info = identify(&server.target, &fake::limits(3000, 8 * 1024)).await;
        assert!(info.observations.is_empty());
        assert!(info.note.is_some());
    }
}
