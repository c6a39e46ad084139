//! Pure parsers for mail protocol answers: POP3 multi-line framing, IMAP tagged framing and
//! capabilities, SMTP EHLO extensions and AUTH mechanisms, products from greetings.

use crate::probe::banner::dialog::{line_end, version_after, Reply};

/// Length of the first complete POP3 answer: a `-ERR` line, or (when `multi`) `+OK` lines up to a
/// line holding only `.`; a single line otherwise.
pub fn pop3_end(buf: &[u8], multi: bool) -> Option<usize> {
    let first = line_end(buf)?;
    if !multi || buf.starts_with(b"-") {
        return Some(first);
    }
    let mut at = first;
    while let Some(len) = line_end(&buf[at..]) {
        let line = &buf[at..at + len];
        at += len;
        if line == b".\r\n" || line == b".\n" {
            return Some(at);
        }
    }
    None
}

/// Length through the line that starts with `tag ` (the end of an IMAP command's answer).
pub fn tagged_end(buf: &[u8], tag: &str) -> Option<usize> {
    let mut at = 0;
    while let Some(len) = line_end(&buf[at..]) {
        let line = &buf[at..at + len];
        at += len;
        if line.starts_with(tag.as_bytes()) && line.get(tag.len()) == Some(&b' ') {
            return Some(at);
        }
    }
    None
}

/// IMAP capabilities, upper case, from a greeting's `[CAPABILITY …]` code or `* CAPABILITY` lines.
pub fn imap_capabilities(text: &str) -> Vec<String> {
    let mut caps: Vec<String> = Vec::new();
    for line in text.lines() {
        let upper = line.to_ascii_uppercase();
        let words = if let Some(at) = upper.find("[CAPABILITY ") {
            let rest = &upper[at + 12..];
            rest.split(']').next().unwrap_or("")
        } else if let Some(rest) = upper.strip_prefix("* CAPABILITY ") {
            rest
        } else {
            continue;
        };
        for w in words.split_whitespace().take(128) {
            if !caps.iter().any(|c| c == w) {
                caps.push(w.to_string());
            }
        }
    }
    caps
}

/// SMTP extensions from an EHLO reply (upper case; the first line is the greeting, not one).
pub fn smtp_extensions(reply: &Reply) -> Vec<String> {
    reply.lines.iter().skip(1).take(64).map(|l| l.trim().to_ascii_uppercase()).filter(|l| !l.is_empty()).collect()
}

/// Mechanisms of an `AUTH` (or old-style `AUTH=`) SMTP extension or a POP3 `SASL` capability.
pub fn mechanisms(lines: &[String], keyword: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        let upper = line.to_ascii_uppercase();
        let rest = upper.strip_prefix(keyword).filter(|r| r.starts_with([' ', '=']));
        for m in rest.unwrap_or("").split([' ', '=']).filter(|m| !m.is_empty()) {
            if !out.iter().any(|o| o == m) {
                out.push(m.to_string());
            }
        }
    }
    out
}

/// The mechanisms among `mechs` that send a password in the clear (`PLAIN`, `LOGIN`).
pub fn cleartext_mechanisms(mechs: &[String]) -> Vec<&str> {
    mechs.iter().map(String::as_str).filter(|m| *m == "PLAIN" || *m == "LOGIN").collect()
}

/// Product and version from a mail greeting (SMTP, POP3 or IMAP).
pub fn product(greeting: &str) -> Option<(String, Option<String>)> {
    let lower = greeting.to_ascii_lowercase();
    // (marker, product, marker to read a version after)
    let known: [(&str, &str, Option<&str>); 14] = [
        ("postfix", "Postfix", None),
        ("exim", "Exim", Some("exim")),
        ("microsoft esmtp", "Microsoft ESMTP", Some("version:")),
        ("microsoft exchange", "Microsoft Exchange", Some("microsoft exchange server")),
        ("sendmail", "Sendmail", Some("sendmail")),
        ("opensmtpd", "OpenSMTPD", None),
        ("dovecot", "Dovecot", None),
        ("cyrus", "Cyrus", Some(" v")),
        ("courier", "Courier", None),
        ("zimbra", "Zimbra", None),
        ("hmailserver", "hMailServer", None),
        ("kerio connect", "Kerio Connect", Some("kerio connect")),
        ("mdaemon", "MDaemon", Some("mdaemon")),
        ("haraka", "Haraka", Some("haraka")),
    ];
    known.iter().find(|(marker, _, _)| lower.contains(marker)).map(|(_, name, after)| {
        let version = after.and_then(|m| version_after(greeting, m)).map(|v| crate::probe::io::sanitize(&v, 40));
        (name.to_string(), version)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::banner::dialog::parse_reply;

    #[test]
    fn pop3_framing() {
        assert_eq!(pop3_end(b"+OK Dovecot ready.\r\n", false), Some(20));
        let capa = b"+OK\r\nCAPA\r\nUSER\r\nSTLS\r\n.\r\n";
        assert_eq!(pop3_end(capa, true), Some(capa.len()));
        assert_eq!(pop3_end(&capa[..capa.len() - 2], true), None, "truncated before the dot line");
        assert_eq!(pop3_end(b"-ERR unknown\r\nmore", true), Some(14));
        assert_eq!(pop3_end(b"+OK", false), None);
    }

    #[test]
    fn imap_framing_and_capabilities() {
        let answer = b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1x bogus\r\na1 OK done\r\n";
        assert_eq!(tagged_end(answer, "a1"), Some(answer.len()));
        assert_eq!(tagged_end(b"* CAPABILITY IMAP4rev1\r\na1 OK", "a1"), None, "truncated");
        let greeting = "* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.";
        assert_eq!(imap_capabilities(greeting), ["IMAP4REV1", "SASL-IR", "STARTTLS", "AUTH=PLAIN"]);
        assert_eq!(imap_capabilities("* CAPABILITY imap4rev1 LOGINDISABLED\r\na1 OK"), ["IMAP4REV1", "LOGINDISABLED"]);
        assert!(imap_capabilities("* OK [CAPABILITY").is_empty());
        assert!(imap_capabilities("\u{fffd}\u{fffd}").is_empty());
    }

    #[test]
    fn smtp_extensions_and_mechanisms() {
        let ehlo = parse_reply(b"250-mail.gemeente.be\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n250 STARTTLS\r\n")
            .expect("reply");
        let ext = smtp_extensions(&ehlo);
        assert_eq!(ext, ["PIPELINING", "AUTH PLAIN LOGIN", "AUTH=PLAIN LOGIN", "STARTTLS"]);
        let mechs = mechanisms(&ext, "AUTH");
        assert_eq!(mechs, ["PLAIN", "LOGIN"]);
        assert_eq!(cleartext_mechanisms(&mechs), ["PLAIN", "LOGIN"]);
        assert!(mechanisms(&["AUTHX FOO".to_string()], "AUTH").is_empty());
        let sasl = mechanisms(&["SASL CRAM-MD5".to_string()], "SASL");
        assert!(cleartext_mechanisms(&sasl).is_empty());
    }

    #[test]
    fn products_from_greetings() {
        assert_eq!(product("mail.gemeente.be ESMTP Postfix (Debian/GNU)"), Some(("Postfix".into(), None)));
        assert_eq!(product("mx ESMTP Exim 4.96 Mon, 01 Jan 2024"), Some(("Exim".into(), Some("4.96".into()))));
        assert_eq!(
            product("EX01 Microsoft ESMTP MAIL Service, Version: 10.0.17763.1697 ready"),
            Some(("Microsoft ESMTP".into(), Some("10.0.17763.1697".into())))
        );
        assert_eq!(product("mx ESMTP Sendmail 8.15.2/8.15.2; Mon"), Some(("Sendmail".into(), Some("8.15.2".into()))));
        assert_eq!(product("Dovecot (Debian) ready."), Some(("Dovecot".into(), None)));
        assert_eq!(product("imap Cyrus IMAP v2.4.17 server ready"), Some(("Cyrus".into(), Some("2.4.17".into()))));
        assert_eq!(product("Hello there."), None);
    }
}
