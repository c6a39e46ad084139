//! A line-oriented text dialogue over a bounded [`Session`] (FTP, SMTP, POP3, IMAP): commands go
//! out with CRLF, answers are cut from a buffer by a framing function, so bytes that arrive early
//! for the next answer are kept for it. Also the pure framing and version helpers they share.

use crate::probe::http::Stream;
use crate::probe::io::{ProbeError, Session};

/// A text dialogue.
#[derive(Debug)]
pub struct Dialog<S> {
    session: Session<S>,
    buf: Vec<u8>,
}

impl<S: Stream> Dialog<S> {
    /// Talks over `session`.
    pub fn new(session: Session<S>) -> Dialog<S> {
        Dialog { session, buf: Vec::new() }
    }

    /// Sends `line` and CRLF.
    pub async fn send(&mut self, line: &str) -> Result<(), ProbeError> {
        self.session.write_all(format!("{line}\r\n").as_bytes()).await
    }

    /// The next answer: `end` gives its length once the buffer holds a whole one; at most `max`
    /// bytes are waited for.
    pub async fn read(&mut self, max: usize, end: impl Fn(&[u8]) -> Option<usize>) -> Result<Vec<u8>, ProbeError> {
        loop {
            if let Some(n) = end(&self.buf) {
                let n = n.min(self.buf.len());
                return Ok(self.buf.drain(..n).collect());
            }
            if self.buf.len() >= max {
                return Err(ProbeError::Protocol(String::from_utf8_lossy(&self.buf[..80.min(self.buf.len())]).into()));
            }
            let chunk = self.session.read_some(max - self.buf.len()).await?;
            self.buf.extend_from_slice(&chunk);
        }
    }
}

/// Length through the first `\n`.
pub fn line_end(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n').map(|i| i + 1)
}

/// Length of the first complete FTP/SMTP reply (RFC 959 §4.2, RFC 5321 §4.2): `ddd text`, or
/// `ddd-text` lines up to one that starts `ddd ` (or is `ddd` alone).
pub fn numeric_reply_end(buf: &[u8]) -> Option<usize> {
    let first = line_end(buf)?;
    let code = buf.get(..3).filter(|c| c.iter().all(u8::is_ascii_digit))?;
    if buf.get(3) != Some(&b'-') {
        return Some(first);
    }
    let mut at = first;
    while let Some(len) = line_end(&buf[at..]) {
        let line = &buf[at..at + len];
        let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        at += len;
        if line.starts_with(code) && (trimmed.len() == 3 || line.get(3) == Some(&b' ')) {
            return Some(at);
        }
    }
    None
}

/// A parsed FTP/SMTP reply: its code and its lines' text (code and separator removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// Each line's text.
    pub lines: Vec<String>,
}

impl Reply {
    /// All lines joined by spaces.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

/// Parses a reply cut by [`numeric_reply_end`]; `None` if it does not start with a code.
pub fn parse_reply(raw: &[u8]) -> Option<Reply> {
    let code: u16 = std::str::from_utf8(raw.get(..3)?).ok()?.parse().ok()?;
    let text = String::from_utf8_lossy(raw);
    let lines = text
        .lines()
        .map(|l| {
            let l = l.trim_end_matches('\r');
            let l = match l.get(..3) {
                Some(code) if code.bytes().all(|b| b.is_ascii_digit()) => {
                    let rest = &l[3..];
                    rest.strip_prefix([' ', '-']).unwrap_or(rest)
                }
                _ => l,
            };
            l.trim().to_string()
        })
        .collect();
    Some(Reply { code, lines })
}

/// The version-looking word after `marker` in `text` (case-insensitive), skipping `version`, `v`
/// or `V` before it: `("ProFTPD 1.3.8 Server", "ProFTPD")` → `1.3.8`.
pub fn version_after(text: &str, marker: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find(&marker.to_ascii_lowercase())? + marker.len();
    let rest = text.get(at..)?;
    let mut words = rest.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',' || c == ';' || c == '/');
    for word in words.by_ref().take(3) {
        let word =
            word.strip_prefix(['v', 'V']).filter(|w| w.starts_with(|c: char| c.is_ascii_digit())).unwrap_or(word);
        if word.is_empty() || word.eq_ignore_ascii_case("version") {
            continue;
        }
        if word.starts_with(|c: char| c.is_ascii_digit()) && word.contains('.') {
            return Some(word.trim_end_matches('.').to_string());
        }
        return None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_replies_single_multi_and_truncated() {
        assert_eq!(numeric_reply_end(b"220 (vsFTPd 3.0.3)\r\nextra"), Some(20));
        // Multi-line FEAT answer; an inner line that starts with another code does not end it.
        let feat = b"211-Features:\r\n AUTH TLS\r\n 200 lookalike\r\n211 End\r\n";
        assert_eq!(numeric_reply_end(feat), Some(feat.len()));
        assert_eq!(numeric_reply_end(&feat[..feat.len() - 3]), None, "truncated");
        assert_eq!(numeric_reply_end(b"250-a\r\n250\r\n"), Some(12), "bare code ends it");
        assert_eq!(numeric_reply_end(b"abc ok\r\n"), None, "not a code");
        assert_eq!(numeric_reply_end(b"22"), None);
        let r = parse_reply(&feat[..]).expect("reply");
        assert_eq!(r.code, 211);
        assert_eq!(r.lines, ["Features:", "AUTH TLS", "200 lookalike", "End"]);
        assert_eq!(parse_reply(b"2\xff0 x"), None);
        assert_eq!(parse_reply(b"220 caf\xe9\r\n").map(|r| r.text()), Some("caf\u{fffd}".into()));
        // A multi-byte character right after the code, a bare code.
        assert_eq!(parse_reply("220é x\r\n".as_bytes()).map(|r| r.text()), Some("é x".into()));
        assert_eq!(parse_reply(b"250").map(|r| r.text()), Some(String::new()));
    }

    #[test]
    fn versions_after_a_marker() {
        assert_eq!(version_after("ProFTPD 1.3.8 Server (Debian)", "ProFTPD").as_deref(), Some("1.3.8"));
        assert_eq!(
            version_after("FileZilla Server version 0.9.60 beta", "FileZilla Server").as_deref(),
            Some("0.9.60")
        );
        assert_eq!(version_after("Serv-U FTP Server v15.1 ready", "Serv-U FTP Server").as_deref(), Some("15.1"));
        assert_eq!(version_after("ProFTPD Server (ProFTPD)", "ProFTPD"), None);
        assert_eq!(version_after("x", "ProFTPD"), None);
        assert_eq!(version_after("Exim 4.96 Mon, 1 Jan", "exim").as_deref(), Some("4.96"));
    }
}
