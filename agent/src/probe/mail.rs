//! SMTP, POP3 and IMAP identification, on their STARTTLS ports or over implicit TLS.
//!
//! The greeting gives the product (Postfix, Exim, Microsoft ESMTP, Sendmail, Dovecot, Cyrus, …)
//! and, where stated, its version. `EHLO` / `CAPA` / `CAPABILITY` show whether STARTTLS (`STLS`) is
//! offered — then [`crate::tls::analyse`] looks at it — and which login methods are open on the
//! cleartext channel: SMTP `AUTH PLAIN`/`LOGIN` before STARTTLS, POP3 `USER` or SASL `PLAIN`/`LOGIN`
//! (or no CAPA at all, so no STLS), IMAP without `LOGINDISABLED`. Those are `cleartext-mail-login`.
//! The conversation ends with `QUIT` / `LOGOUT`; nothing is authenticated, no mail is sent.

pub(crate) mod parse;
#[cfg(test)]
mod tests;

pub(crate) use parse::product as greeting_product;

use super::banner::dialog::{self, Dialog, Reply};
use super::http::{self, Stream};
use super::io::ProbeError;
use super::{Limits, ServiceInfo, Target};
use crate::i18n::Said;
use crate::tls::{self, StartTls};

/// Which mail protocol, and whether TLS is implicit (`…s`) or by STARTTLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// SMTP / submission, STARTTLS.
    Smtp,
    /// SMTP over implicit TLS (465).
    Smtps,
    /// POP3, STLS.
    Pop3,
    /// POP3 over implicit TLS (995).
    Pop3s,
    /// IMAP, STARTTLS.
    Imap,
    /// IMAP over implicit TLS (993).
    Imaps,
}

impl MailKind {
    fn service(self) -> &'static str {
        match self {
            MailKind::Smtp => "smtp",
            MailKind::Smtps => "smtps",
            MailKind::Pop3 => "pop3",
            MailKind::Pop3s => "pop3s",
            MailKind::Imap => "imap",
            MailKind::Imaps => "imaps",
        }
    }

    fn implicit_tls(self) -> bool {
        matches!(self, MailKind::Smtps | MailKind::Pop3s | MailKind::Imaps)
    }

    fn starttls(self) -> StartTls {
        match self {
            MailKind::Smtp | MailKind::Smtps => StartTls::Smtp,
            MailKind::Pop3 | MailKind::Pop3s => StartTls::Pop3,
            MailKind::Imap | MailKind::Imaps => StartTls::Imap,
        }
    }
}

/// Most bytes of one answer.
const MAX_ANSWER: usize = 8 * 1024;
/// Our EHLO name: a name that is not anybody's.
const EHLO_NAME: &str = "wijkagent.invalid";

/// What one conversation showed.
#[derive(Debug, Default)]
struct Seen {
    /// STARTTLS / STLS offered.
    starttls: bool,
    /// Login methods open without TLS, as evidence (empty: none).
    cleartext_login: Option<Said>,
}

/// Identifies a mail service on `target`.
pub async fn identify(target: &Target, limits: &Limits, kind: MailKind) -> ServiceInfo {
    let mut info = ServiceInfo::named(kind.service());
    let implicit = kind.implicit_tls();
    let seen = match http::connect(target, limits, implicit).await {
        Ok(session) => {
            let mut d = Dialog::new(session);
            match kind {
                MailKind::Smtp | MailKind::Smtps => smtp(&mut d, &mut info).await,
                MailKind::Pop3 | MailKind::Pop3s => pop3(&mut d, &mut info).await,
                MailKind::Imap | MailKind::Imaps => imap(&mut d, &mut info).await,
            }
        }
        Err(e) => Err(e),
    };
    match seen {
        Ok(seen) if !implicit => {
            info.detail("starttls", if seen.starttls { "aangeboden" } else { "niet aangeboden" });
            if let Some(evidence) = seen.cleartext_login {
                info.observe_said("cleartext-mail-login", evidence);
            }
            if seen.starttls {
                tls::analyse_into(&mut info, target, kind.starttls(), limits).await;
            }
        }
        Ok(_) => {}
        Err(e) => info.note = Some(e.note()),
    }
    // Implicit TLS is analysed even when our own handshake failed (legacy-only servers).
    if implicit {
        tls::analyse_into(&mut info, target, StartTls::Implicit, limits).await;
    }
    info
}

/// Records the greeting as banner and product.
fn greeted(info: &mut ServiceInfo, text: &str) {
    info.detail("banner", text);
    if let Some((product, version)) = parse::product(text) {
        info.product = Some(product);
        info.version = version;
    }
}

async fn smtp_reply<S: Stream>(d: &mut Dialog<S>) -> Result<Reply, ProbeError> {
    let raw = d.read(MAX_ANSWER, dialog::numeric_reply_end).await?;
    dialog::parse_reply(&raw).ok_or_else(|| ProbeError::Protocol(String::from_utf8_lossy(&raw).into()))
}

/// SMTP: greeting, EHLO, QUIT.
async fn smtp<S: Stream>(d: &mut Dialog<S>, info: &mut ServiceInfo) -> Result<Seen, ProbeError> {
    let greeting = smtp_reply(d).await?;
    greeted(info, &greeting.text());
    if greeting.code != 220 {
        return Err(ProbeError::Protocol(format!("{} {}", greeting.code, greeting.text())));
    }
    d.send(&format!("EHLO {EHLO_NAME}")).await?;
    let ehlo = smtp_reply(d).await?;
    let mut seen = Seen::default();
    if ehlo.code == 250 {
        let extensions = parse::smtp_extensions(&ehlo);
        info.detail("extensions", &extensions.join(", "));
        seen.starttls = extensions.iter().any(|e| e == "STARTTLS");
        let mechs = parse::mechanisms(&extensions, "AUTH");
        let clear = parse::cleartext_mechanisms(&mechs);
        if !clear.is_empty() {
            seen.cleartext_login = Some(Said::new(
                format!("AUTH {} aangeboden zonder TLS", clear.join(" ")),
                format!("AUTH {} offered without TLS", clear.join(" ")),
            ));
        }
    }
    if d.send("QUIT").await.is_ok() {
        let _ = smtp_reply(d).await;
    }
    Ok(seen)
}

async fn pop3_answer<S: Stream>(d: &mut Dialog<S>, multi: bool) -> Result<String, ProbeError> {
    let raw = d.read(MAX_ANSWER, |b| parse::pop3_end(b, multi)).await?;
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

/// POP3: greeting, CAPA, QUIT.
async fn pop3<S: Stream>(d: &mut Dialog<S>, info: &mut ServiceInfo) -> Result<Seen, ProbeError> {
    let greeting = pop3_answer(d, false).await?;
    let text = greeting.trim_end().strip_prefix("+OK").map(str::trim);
    let Some(text) = text else { return Err(ProbeError::Protocol(greeting)) };
    greeted(info, text);
    d.send("CAPA").await?;
    let capa = pop3_answer(d, true).await?;
    let mut seen = Seen::default();
    if capa.starts_with("+OK") {
        let caps: Vec<String> =
            capa.lines().skip(1).map(|l| l.trim().to_string()).filter(|l| !l.is_empty() && l != ".").take(64).collect();
        info.detail("capabilities", &caps.join(", "));
        let upper: Vec<String> = caps.iter().map(|c| c.to_ascii_uppercase()).collect();
        seen.starttls = upper.iter().any(|c| c == "STLS");
        let mechs = parse::mechanisms(&upper, "SASL");
        let mut open: Vec<&str> = Vec::new();
        if upper.iter().any(|c| c == "USER") {
            open.push("USER");
        }
        open.extend(parse::cleartext_mechanisms(&mechs).iter().map(|m| match *m {
            "PLAIN" => "SASL PLAIN",
            _ => "SASL LOGIN",
        }));
        if !open.is_empty() {
            seen.cleartext_login = Some(Said::new(
                format!("POP3 {} aangeboden zonder TLS", open.join(", ")),
                format!("POP3 {} offered without TLS", open.join(", ")),
            ));
        }
    } else {
        seen.cleartext_login = Some(Said::new(
            "POP3 zonder CAPA: geen STLS, aanmelden enkel zonder TLS",
            "POP3 without CAPA: no STLS, login only without TLS",
        ));
    }
    if d.send("QUIT").await.is_ok() {
        let _ = pop3_answer(d, false).await;
    }
    Ok(seen)
}

/// IMAP: greeting, CAPABILITY, LOGOUT.
async fn imap<S: Stream>(d: &mut Dialog<S>, info: &mut ServiceInfo) -> Result<Seen, ProbeError> {
    let greeting = String::from_utf8_lossy(&d.read(MAX_ANSWER, dialog::line_end).await?).into_owned();
    let text = greeting.trim_end();
    let rest = text.strip_prefix("* OK").or_else(|| text.strip_prefix("* PREAUTH"));
    let Some(rest) = rest else { return Err(ProbeError::Protocol(greeting)) };
    // The text after a `[...]` response code is the product's greeting.
    let shown = rest.trim().rsplit_once(']').map_or(rest.trim(), |(_, t)| t.trim());
    greeted(info, shown);
    if text.starts_with("* PREAUTH") {
        info.detail("preauth", "sessie is al aangemeld zonder login");
    }
    d.send("a1 CAPABILITY").await?;
    let answer = String::from_utf8_lossy(&d.read(MAX_ANSWER, |b| parse::tagged_end(b, "a1")).await?).into_owned();
    let mut caps = parse::imap_capabilities(&answer);
    if caps.is_empty() {
        caps = parse::imap_capabilities(text);
    }
    info.detail("capabilities", &caps.join(" "));
    let mut seen = Seen { starttls: caps.iter().any(|c| c == "STARTTLS"), cleartext_login: None };
    if !caps.is_empty() && !caps.iter().any(|c| c == "LOGINDISABLED") {
        let mut open = vec!["LOGIN".to_string()];
        open.extend(caps.iter().filter(|c| *c == "AUTH=PLAIN" || *c == "AUTH=LOGIN").cloned());
        seen.cleartext_login = Some(Said::new(
            format!("IMAP {} zonder TLS (geen LOGINDISABLED)", open.join(", ")),
            format!("IMAP {} without TLS (no LOGINDISABLED)", open.join(", ")),
        ));
    }
    if d.send("a2 LOGOUT").await.is_ok() {
        let _ = d.read(MAX_ANSWER, |b| parse::tagged_end(b, "a2")).await;
    }
    Ok(seen)
}
