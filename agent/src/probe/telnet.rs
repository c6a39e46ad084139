//! Telnet identification: reads the option negotiation and the banner or login prompt, refusing
//! every option (`DO` → `WONT`, `WILL` → `DONT`) so servers that wait for an answer go on to their
//! prompt. Negotiation bytes never reach the banner. A server that answers is `telnet-open`.
//! Nothing else is sent: no user name, no password.
//!
//! The product is named only where a server gives itself away as surely as nmap's fingerprints
//! say: BusyBox telnetd by its exact opening ([`is_busybox`]). No version is guessed from it.

use std::time::Duration;

use tokio::time::Instant;

use super::io::{ProbeError, Session};
use super::{Limits, ServiceInfo, Target};

/// Longest wait for the banner.
const BANNER_WAIT: Duration = Duration::from_secs(3);
/// Banner bytes kept.
const MAX_TEXT: usize = 2048;

const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
const SB: u8 = 250;
const SE: u8 = 240;

/// Option codes (RFC 857, 858, 1073).
const ECHO: u8 = 1;
const SUPPRESS_GO_AHEAD: u8 = 3;
const NAWS: u8 = 31;

/// What BusyBox telnetd sends the moment a client connects (`iacs_to_send` in its `telnetd.c`),
/// before any text: nmap's `nmap-service-probes` names a server that opens with exactly these
/// bytes, followed by text, "BusyBox telnetd" (its `softmatch telnet` line,
/// `m|^\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03[^\xff]|`). That line also says
/// `v/1.14.0 or later/`, a constant of the fingerprint rather than anything read from the server,
/// so no version is taken from it.
#[rustfmt::skip]
pub const BUSYBOX_OPENING: [u8; 12] = [
    IAC, DO, ECHO,                // the client should echo ...
    IAC, DO, NAWS,                // ... and tell its window size;
    IAC, WILL, ECHO,              // the server will echo
    IAC, WILL, SUPPRESS_GO_AHEAD, // and not send go-ahead.
];

/// Whether `first`, the first bytes a server sent, is BusyBox telnetd's opening followed by text
/// (a byte that is not `IAC`), as nmap's fingerprint requires: the four commands alone, or other
/// options around them, are not enough.
pub fn is_busybox(first: &[u8]) -> bool {
    first.strip_prefix(&BUSYBOX_OPENING[..]).and_then(|rest| rest.first()).is_some_and(|&b| b != IAC)
}

/// Identifies Telnet on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::named("telnet");
    let mut session = match Session::connect(target, limits).await {
        Ok(s) => s,
        Err(e) => {
            info.note = Some(e.note());
            return info;
        }
    };
    let until = Instant::now() + BANNER_WAIT.min(session.time_left());
    let (mut text, mut pending, mut negotiated) = (Vec::new(), Vec::new(), false);
    // The first bytes as they came, for the product fingerprint.
    let mut opening = Vec::with_capacity(BUSYBOX_OPENING.len() + 1);
    let mut error = None;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let chunk = match tokio::time::timeout(left, session.read_some(4096)).await {
            Err(_) => break,
            Ok(Ok(chunk)) => chunk,
            Ok(Err(e)) => {
                error = Some(e);
                break;
            }
        };
        let room = (BUSYBOX_OPENING.len() + 1).saturating_sub(opening.len());
        opening.extend_from_slice(&chunk[..room.min(chunk.len())]);
        pending.extend_from_slice(&chunk);
        let parsed = negotiate(&pending);
        pending = parsed.rest;
        text.extend_from_slice(&parsed.text);
        negotiated |= parsed.commands > 0;
        if !parsed.replies.is_empty() && session.write_all(&parsed.replies).await.is_err() {
            break;
        }
        if text.len() >= MAX_TEXT || looks_like_prompt(&text) {
            break;
        }
    }
    let banner = super::io::sanitize_bytes(&text[..text.len().min(MAX_TEXT)], 200);
    if !banner.is_empty() {
        info.detail("banner", &banner);
    }
    if is_busybox(&opening) {
        info.product = Some(BUSYBOX_PRODUCT.to_string());
    }
    if negotiated || !banner.is_empty() {
        observe_open(&mut info, target.addr.port());
    } else {
        info.note = Some(error.map_or_else(|| ProbeError::Timeout.note(), |e| e.note()));
    }
    info
}

/// The product name of a server that opens as BusyBox telnetd does (nmap's name for it).
pub const BUSYBOX_PRODUCT: &str = "BusyBox telnetd";

/// Records `telnet-open`: a Telnet server answers on `port`.
pub(crate) fn observe_open(info: &mut ServiceInfo, port: u16) {
    info.observe(
        "telnet-open",
        format!("Telnet-server antwoordt op poort {port}"),
        format!("Telnet server answers on port {port}"),
    );
}

/// What one pass over received bytes gives.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// Text for the banner, negotiation removed.
    pub text: Vec<u8>,
    /// Our refusals to send back.
    pub replies: Vec<u8>,
    /// An incomplete command at the end, kept for the next bytes.
    pub rest: Vec<u8>,
    /// Telnet commands seen.
    pub commands: usize,
}

/// Splits received bytes into text and Telnet commands (RFC 854), and answers option requests with
/// refusals. An escaped `IAC IAC` is a 255 byte of text; subnegotiation is skipped.
pub fn negotiate(data: &[u8]) -> Negotiated {
    let mut out = Negotiated::default();
    let mut i = 0;
    while i < data.len() {
        if data[i] != IAC {
            if data[i] != 0 {
                out.text.push(data[i]);
            }
            i += 1;
            continue;
        }
        let Some(&cmd) = data.get(i + 1) else { break };
        match cmd {
            IAC => {
                out.text.push(IAC);
                i += 2;
                continue;
            }
            WILL | WONT | DO | DONT => {
                let Some(&option) = data.get(i + 2) else { break };
                match cmd {
                    DO => out.replies.extend_from_slice(&[IAC, WONT, option]),
                    WILL => out.replies.extend_from_slice(&[IAC, DONT, option]),
                    _ => {}
                }
                i += 3;
            }
            SB => {
                let end = data[i + 2..].windows(2).position(|w| w == [IAC, SE]);
                let Some(end) = end else { break };
                i += 2 + end + 2;
            }
            _ => i += 2,
        }
        out.commands += 1;
    }
    out.rest = data[i.min(data.len())..].to_vec();
    out
}

/// Whether the text ends like a prompt (`login:`, `Password:`, `>`, `#`, `$`).
fn looks_like_prompt(text: &[u8]) -> bool {
    let trimmed = text.trim_ascii_end();
    trimmed.ends_with(b":") || trimmed.ends_with(b">") || trimmed.ends_with(b"#") || trimmed.ends_with(b"$")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn negotiation_is_refused_and_kept_out_of_the_text() {
        // DO ECHO, WILL SUPPRESS-GO-AHEAD, DO TTYPE, then text with an escaped 255 and a NUL.
        let got = negotiate(b"\xff\xfd\x01\xff\xfb\x03\xff\xfd\x18Ubuntu 22.04\xff\xff\x00\r\nlogin: ");
        assert_eq!(got.replies, b"\xff\xfc\x01\xff\xfe\x03\xff\xfc\x18");
        assert_eq!(got.text, b"Ubuntu 22.04\xff\r\nlogin: ");
        assert_eq!(got.commands, 3);
        assert!(got.rest.is_empty());
        // Subnegotiation (terminal speed) is skipped; WONT/DONT need no answer; GA is a command.
        let got = negotiate(b"\xff\xfa\x20\x01\xff\xf0\xff\xfc\x01\xff\xf9ok");
        assert_eq!((got.text.as_slice(), got.replies.len(), got.commands), (&b"ok"[..], 0, 3));
    }

    #[test]
    fn truncated_commands_wait_for_more_bytes() {
        assert_eq!(negotiate(b"ab\xff").rest, b"\xff");
        assert_eq!(negotiate(b"\xff\xfd").rest, b"\xff\xfd");
        let got = negotiate(b"x\xff\xfa\x18\x01");
        assert_eq!((got.text.as_slice(), got.rest.as_slice()), (&b"x"[..], &b"\xff\xfa\x18\x01"[..]));
        assert_eq!(negotiate(b"").commands, 0);
    }

    #[test]
    fn busybox_is_known_by_its_exact_opening() {
        // BusyBox telnetd 1.35 (Debian's busybox-static, as in the services lab), first segment:
        // IAC DO ECHO, IAC DO NAWS, IAC WILL ECHO, IAC WILL SUPPRESS-GO-AHEAD ...
        let opening = b"\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03";
        // ... then, in a second segment, the issue file through the pty ("\r" + "\r\n" newlines).
        let issue = b"\r\r\nwijk-lab telnet (login disabled)\r\n\r";
        assert_eq!(opening, &BUSYBOX_OPENING);
        assert!(is_busybox(&[&opening[..], &issue[..]].concat()));
        assert!(is_busybox(&[&opening[..], b"login: "].concat()), "any text after it");
        assert!(!is_busybox(opening), "the opening alone is not enough: nmap wants a byte of text after it");
        // Followed by another command (IAC DO TTYPE): not nmap's fingerprint.
        assert!(!is_busybox(&[&opening[..], b"\xff\xfd\x18login: "].concat()));
        // Older BusyBox also asked DO LFLOW (0x21, '!') before WILL ECHO: other nmap lines, which
        // need more text, name those; this fingerprint does not.
        assert!(!is_busybox(b"\xff\xfd\x01\xff\xfd\x1f\xff\xfd\x21\xff\xfb\x01\xff\xfb\x03login: "));
        // The same commands in another order (a Linux netkit telnetd asks DO TTYPE first anyway).
        assert!(!is_busybox(b"\xff\xfd\x1f\xff\xfd\x01\xff\xfb\x01\xff\xfb\x03login: "));
        assert!(!is_busybox(b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27"));
        assert!(!is_busybox(b""));
    }

    #[tokio::test]
    async fn busybox_telnetd_is_named_from_its_opening() {
        let server = fake::serve(|mut s| async move {
            // Two writes, as BusyBox sends them: the opening, then the issue text from the pty.
            let _ = s.write_all(&BUSYBOX_OPENING).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = s.write_all(b"\r\r\nwijk-lab telnet (login disabled)\r\n\r").await;
        })
        .await;
        let info = identify(&server.target, &fake::deadline(5000)).await;
        assert_eq!(info.product.as_deref(), Some(BUSYBOX_PRODUCT));
        assert_eq!(info.version, None, "nmap's '1.14.0 or later' is a guess, not taken");
        assert_eq!(info.details["banner"], "wijk-lab telnet (login disabled)");
        assert_eq!(info.observations[0].weakness, "telnet-open");
    }

    #[tokio::test]
    async fn a_negotiating_server_is_telnet_open() {
        let server = fake::serve(|mut s| async move {
            let _ = s.write_all(b"\xff\xfd\x18\xff\xfd\x20").await;
            // Waits for our refusals before showing the prompt, as many servers do.
            let mut buf = [0u8; 6];
            if s.read_exact(&mut buf).await.is_ok() && buf == *b"\xff\xfc\x18\xff\xfc\x20" {
                let _ = s.write_all(b"\r\nDebian GNU/Linux 12\r\ngemeente login: ").await;
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
        })
        .await;
        let info = identify(&server.target, &fake::deadline(5000)).await;
        assert_eq!(info.details["banner"], "Debian GNU/Linux 12 gemeente login:");
        assert_eq!(info.product, None, "no product without a fingerprint");
        let port = server.target.addr.port();
        assert_eq!(info.observations[0].weakness, "telnet-open");
        assert_eq!(info.observations[0].evidence.nl, format!("Telnet-server antwoordt op poort {port}"));
        assert_eq!(info.observations[0].evidence.en, format!("Telnet server answers on port {port}"));
    }

    #[tokio::test]
    async fn a_silent_port_is_not_called_telnet_open() {
        let server = fake::silent().await;
        let info = fake::times_out(&server.target, 400, 2000, identify).await;
        assert!(info.observations.is_empty());
    }
}
