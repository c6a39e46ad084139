//! Reaching the TLS handshake on a fresh connection, as [`StartTls`] says. Every byte goes through
//! the bounded [`Session`]; each dialogue stops after the server's "go ahead" and reads nothing
//! beyond it (a server must not send more before the ClientHello, and what it might send is not
//! read: the handshake starts on a clean stream).
//!
//! | mode | dialogue |
//! |---|---|
//! | Implicit | nothing |
//! | SMTP | read `220` greeting (multi-line allowed) → `EHLO wijkagent.invalid` → `250` → `STARTTLS` → `220` |
//! | IMAP | read `* OK` greeting → `a1 STARTTLS` → `a1 OK` (untagged lines before it are skipped) |
//! | POP3 | read `+OK` greeting → `STLS` → `+OK` |
//! | FTP | read `220` greeting (multi-line allowed) → `AUTH TLS` → `234` |
//! | LDAP | ExtendedRequest StartTLS (BER, below) → ExtendedResponse with resultCode 0 |
//! | PostgreSQL | SSLRequest `00 00 00 08 04 d2 16 2f` → one byte `S` (`N`: no TLS) |
//!
//! LDAP StartTLS request (RFC 4511 §4.14.1):
//! ```text
//! 30 1d                     LDAPMessage SEQUENCE, 29 bytes
//!   02 01 01                messageID 1
//!   77 18                   [APPLICATION 23] ExtendedRequest, 24 bytes
//!     80 16 "1.3.6.1.4.1.1466.20037"   [0] requestName, 22 bytes
//! ```
//! and its answer: `30 LL 02 01 01 78 LL 0a 01 RC …` — an LDAPMessage holding an
//! [APPLICATION 24] ExtendedResponse whose first element is the ENUMERATED resultCode `RC`
//! (lengths may use the long form `8n …`, as Active Directory does).

use tokio::io::{AsyncRead, AsyncWrite};

use crate::probe::io::{sanitize_bytes, ProbeError, Session};

use super::StartTls;

/// Largest text reply read during a dialogue.
const MAX_REPLY: usize = 8 * 1024;
/// Largest LDAP answer read.
const MAX_LDAP: usize = 4 * 1024;

/// The LDAP StartTLS ExtendedRequest (see the module docs).
pub(crate) const LDAP_STARTTLS: &[u8] = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x161.3.6.1.4.1.1466.20037";
/// The PostgreSQL SSLRequest: length 8, code 80877103.
pub(crate) const PG_SSL_REQUEST: [u8; 8] = [0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f];

/// Runs the dialogue that precedes the handshake on `session`.
pub(crate) async fn negotiate<S>(session: &mut Session<S>, mode: StartTls) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    match mode {
        StartTls::Implicit => Ok(()),
        StartTls::Smtp => {
            expect(session, None, Want::Code(220), "SMTP greeting").await?;
            expect(session, Some(b"EHLO wijkagent.invalid\r\n"), Want::Code(250), "SMTP EHLO").await?;
            expect(session, Some(b"STARTTLS\r\n"), Want::Code(220), "SMTP STARTTLS").await
        }
        StartTls::Ftp => {
            expect(session, None, Want::Code(220), "FTP greeting").await?;
            expect(session, Some(b"AUTH TLS\r\n"), Want::Code(234), "FTP AUTH TLS").await
        }
        StartTls::Pop3 => {
            expect(session, None, Want::Line(b"+OK"), "POP3 greeting").await?;
            expect(session, Some(b"STLS\r\n"), Want::Line(b"+OK"), "POP3 STLS").await
        }
        StartTls::Imap => {
            expect(session, None, Want::Line(b"* OK"), "IMAP greeting").await?;
            session.write_all(b"a1 STARTTLS\r\n").await?;
            let reply = session.read_until(MAX_REPLY, |b| tagged_line(b, b"a1 ").is_some()).await?;
            match tagged_line(&reply, b"a1 ") {
                Some(line) if starts_with_ci(line, b"a1 OK") => Ok(()),
                _ => Err(refused("IMAP STARTTLS", &reply)),
            }
        }
        StartTls::Ldap => {
            session.write_all(LDAP_STARTTLS).await?;
            let head = session.read_exact(2).await?;
            let len = match head.as_slice() {
                [0x30, n] if *n < 0x80 => usize::from(*n),
                [0x30, n] if (0x81..=0x84).contains(n) => be_len(&session.read_exact(usize::from(n & 0x7f)).await?),
                _ => return Err(refused("LDAP StartTLS", &head)),
            };
            if len > MAX_LDAP {
                return Err(ProbeError::Protocol(format!("LDAP answer claims {len} bytes")));
            }
            let body = session.read_exact(len).await?;
            match ldap_result_code(&body) {
                Some(0) => Ok(()),
                Some(code) => Err(ProbeError::Protocol(format!("LDAP StartTLS refused: resultCode {code}"))),
                None => Err(refused("LDAP StartTLS", &body)),
            }
        }
        StartTls::Postgres => {
            session.write_all(&PG_SSL_REQUEST).await?;
            match session.read_exact(1).await?.as_slice() {
                b"S" => Ok(()),
                b"N" => Err(ProbeError::Protocol("PostgreSQL refuses SSL (N)".into())),
                other => Err(refused("PostgreSQL SSLRequest", other)),
            }
        }
    }
}

/// What the answer to a text command must be.
#[derive(Debug, Clone, Copy)]
enum Want<'a> {
    /// A reply whose final line carries this code (SMTP, FTP; multi-line allowed).
    Code(u16),
    /// One line starting with this (POP3, IMAP greeting).
    Line(&'a [u8]),
}

/// Sends `command` (if any) and reads the answer, which must be what `want` says.
async fn expect<S>(
    session: &mut Session<S>,
    command: Option<&[u8]>,
    want: Want<'_>,
    what: &str,
) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    if let Some(c) = command {
        session.write_all(c).await?;
    }
    let (reply, ok) = match want {
        Want::Code(code) => {
            let reply = session.read_until(MAX_REPLY, |b| final_reply(b).is_some()).await?;
            let ok = final_reply(&reply) == Some(code);
            (reply, ok)
        }
        Want::Line(prefix) => {
            let line = session.read_line().await?;
            let ok = starts_with_ci(&line, prefix) && line.ends_with(b"\n");
            (line, ok)
        }
    };
    if ok {
        Ok(())
    } else {
        Err(refused(what, &reply))
    }
}

fn refused(what: &str, reply: &[u8]) -> ProbeError {
    ProbeError::Protocol(format!("{what}: {}", sanitize_bytes(reply, 60)))
}

fn starts_with_ci(line: &[u8], prefix: &[u8]) -> bool {
    line.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Complete lines of `buf` (each without its line end).
fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let complete = buf.iter().rposition(|&b| b == b'\n').map_or(&buf[..0], |i| &buf[..i]);
    complete.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// The code of the final line of an SMTP/FTP reply (`ddd ` or `ddd` alone), once it is complete.
pub(crate) fn final_reply(buf: &[u8]) -> Option<u16> {
    lines(buf).find_map(|l| match l {
        [a, b, c, rest @ ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            if rest.is_empty() || rest[0] == b' ' {
                std::str::from_utf8(&l[..3]).ok()?.parse().ok()
            } else {
                None
            }
        }
        _ => None,
    })
}

/// The first complete line starting with `tag` (case-insensitive), IMAP style.
pub(crate) fn tagged_line<'a>(buf: &'a [u8], tag: &[u8]) -> Option<&'a [u8]> {
    lines(buf).find(|l| starts_with_ci(l, tag))
}

fn be_len(bytes: &[u8]) -> usize {
    bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
}

/// One BER element at the start of `b`: (tag, content, rest).
fn ber(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x84 => {
            let (n, rest) = rest.split_at_checked(usize::from(first & 0x7f))?;
            (be_len(n), rest)
        }
        _ => return None,
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

/// The resultCode of an LDAP ExtendedResponse, given the LDAPMessage's content (after `30 LL`).
pub(crate) fn ldap_result_code(message: &[u8]) -> Option<u32> {
    let (0x02, _id, rest) = ber(message)? else { return None };
    let (0x78, response, _) = ber(rest)? else { return None };
    let (0x0a, code, _) = ber(response)? else { return None };
    if code.is_empty() || code.len() > 4 {
        return None;
    }
    u32::try_from(be_len(code)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake;

    #[test]
    fn smtp_and_ftp_replies() {
        assert_eq!(final_reply(b"220 mail.voorbeeld.be ESMTP\r\n"), Some(220));
        assert_eq!(final_reply(b"220-first\r\n220-second\r\n"), None);
        assert_eq!(final_reply(b"220-first\r\n220 last\r\n"), Some(220));
        assert_eq!(final_reply(b"250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME"), None, "incomplete line");
        assert_eq!(final_reply(b"454\r\n"), Some(454));
        assert_eq!(final_reply(b"garbage\r\n"), None);
    }

    #[test]
    fn imap_tagged_lines() {
        let reply = b"* CAPABILITY IMAP4rev1\r\na1 OK Begin TLS negotiation now\r\n";
        assert_eq!(tagged_line(reply, b"a1 "), Some(&b"a1 OK Begin TLS negotiation now"[..]));
        assert_eq!(tagged_line(b"a1 OK partial", b"a1 "), None);
    }

    #[test]
    fn ldap_request_bytes_and_responses() {
        assert_eq!(LDAP_STARTTLS.len(), 2 + 0x1d);
        assert_eq!(&LDAP_STARTTLS[..9], &[0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16]);
        // OpenLDAP: success, with the responseName.
        let mut ok = vec![0x02, 0x01, 0x01, 0x78, 0x1f, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00, 0x8a, 0x16];
        ok.extend_from_slice(b"1.3.6.1.4.1.1466.20037");
        assert_eq!(ldap_result_code(&ok), Some(0));
        // Long-form lengths (Active Directory style), resultCode 2 (protocolError).
        let ad = [0x02, 0x01, 0x01, 0x78, 0x84, 0x00, 0x00, 0x00, 0x07, 0x0a, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00];
        assert_eq!(ldap_result_code(&ad), Some(2));
        // A BindResponse (0x61), truncated content, garbage.
        assert_eq!(ldap_result_code(&[0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00]), None);
        assert_eq!(ldap_result_code(&[0x02, 0x01, 0x01, 0x78, 0x20, 0x0a]), None);
        assert_eq!(ldap_result_code(b"\xff\xff"), None);
    }

    /// Runs `mode` against a scripted server: (expect to read, then answer) pairs.
    async fn dialogue(mode: StartTls, script: Vec<(&'static [u8], &'static [u8])>) -> Result<(), ProbeError> {
        let server = fake::scripted(script).await;
        let mut session = Session::connect(&server.target, &fake::limits(800, 4096)).await.expect("connect");
        negotiate(&mut session, mode).await
    }

    #[tokio::test]
    async fn scripted_dialogues() {
        let smtp = vec![
            (&b""[..], &b"220-mail.voorbeeld.be ESMTP\r\n220 ready\r\n"[..]),
            (b"EHLO wijkagent.invalid\r\n", b"250-mail\r\n250-STARTTLS\r\n250 8BITMIME\r\n"),
            (b"STARTTLS\r\n", b"220 2.0.0 Ready to start TLS\r\n"),
        ];
        dialogue(StartTls::Smtp, smtp).await.expect("smtp");
        let imap = vec![
            (&b""[..], &b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"[..]),
            (b"a1 STARTTLS\r\n", b"* BYE not really\r\na1 OK Begin TLS\r\n"),
        ];
        dialogue(StartTls::Imap, imap).await.expect("imap");
        dialogue(StartTls::Pop3, vec![(b"", b"+OK POP3 ready\r\n"), (b"STLS\r\n", b"+OK Begin TLS\r\n")])
            .await
            .expect("pop3");
        dialogue(StartTls::Ftp, vec![(b"", b"220 FTP\r\n"), (b"AUTH TLS\r\n", b"234 AUTH TLS OK.\r\n")])
            .await
            .expect("ftp");
        dialogue(StartTls::Postgres, vec![(&PG_SSL_REQUEST[..], b"S")]).await.expect("postgres");
        let ldap_ok: &[u8] = b"\x30\x0c\x02\x01\x01\x78\x07\x0a\x01\x00\x04\x00\x04\x00";
        dialogue(StartTls::Ldap, vec![(LDAP_STARTTLS, ldap_ok)]).await.expect("ldap");
    }

    #[tokio::test]
    async fn refusals_are_protocol_errors() {
        let smtp = vec![
            (&b""[..], &b"220 mail\r\n"[..]),
            (b"EHLO wijkagent.invalid\r\n", b"250 mail\r\n"),
            (b"STARTTLS\r\n", b"454 TLS not available\r\n"),
        ];
        let e = dialogue(StartTls::Smtp, smtp).await.expect_err("refused");
        assert!(matches!(&e, ProbeError::Protocol(m) if m.contains("454")), "{e:?}");
        let e = dialogue(StartTls::Postgres, vec![(&PG_SSL_REQUEST[..], b"N")]).await.expect_err("refused");
        assert!(matches!(e, ProbeError::Protocol(_)));
        let e = dialogue(StartTls::Ftp, vec![(b"", b"220 FTP\r\n"), (b"AUTH TLS\r\n", b"500 unknown\r\n")])
            .await
            .expect_err("refused");
        assert!(matches!(e, ProbeError::Protocol(_)));
        let e = dialogue(StartTls::Smtp, vec![]).await.expect_err("silent");
        assert!(matches!(e, ProbeError::Timeout));
    }
}
