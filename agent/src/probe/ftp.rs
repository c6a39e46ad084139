//! FTP identification: the 220 greeting gives the product (`(vsFTPd 3.0.3)` → vsftpd 3.0.3,
//! ProFTPD, Pure-FTPd, FileZilla Server, Microsoft ftpd, Serv-U), `FEAT` whether `AUTH TLS` is
//! offered (then [`crate::tls::analyse`] with [`StartTls::Ftp`]), and `USER anonymous` /
//! `PASS wijkagent@example.invalid` whether anonymous login works (`ftp-anonymous-login`). A server
//! that takes `USER` before TLS, or offers no `AUTH TLS` at all, allows cleartext login
//! (`ftp-cleartext`). Then `QUIT`. No listing, no download, no data connection.

#[cfg(test)]
mod tests;

use super::banner::dialog::{self, Dialog, Reply};
use super::io::ProbeError;
use super::{Limits, ServiceInfo, Target};
use crate::i18n::Said;
use crate::tls::{self, StartTls};

/// Most bytes of one reply (a long FEAT list fits).
const MAX_REPLY: usize = 8 * 1024;
/// The anonymous password: an address that cannot receive mail.
const ANON_PASSWORD: &str = "wijkagent@example.invalid";

/// What the conversation showed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    /// `FEAT` features, `None` when FEAT is not supported.
    features: Option<Vec<String>>,
    /// The reply to `USER anonymous`.
    user: Option<Reply>,
    /// Anonymous login succeeded.
    anonymous: bool,
}

/// Identifies FTP on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::named("ftp");
    let talk = async |session, info: &mut ServiceInfo| converse(&mut Dialog::new(session), info).await;
    let Some(seen) = super::over_connection(target, limits, &mut info, talk).await else {
        return info;
    };
    let auth_tls = seen.features.as_ref().map(|f| offers_auth_tls(f));
    info.detail(
        "auth-tls",
        match auth_tls {
            Some(true) => "aangeboden",
            Some(false) => "niet aangeboden",
            None => "onbekend (geen FEAT)",
        },
    );
    if seen.anonymous {
        info.observe(
            "ftp-anonymous-login",
            format!("USER anonymous / PASS {ANON_PASSWORD} gaf 230"),
            format!("USER anonymous / PASS {ANON_PASSWORD} gave 230"),
        );
    }
    if let Some(evidence) = cleartext_evidence(seen.user.as_ref(), auth_tls) {
        info.observe_said("ftp-cleartext", evidence);
    }
    if auth_tls != Some(false) {
        tls::analyse_into(&mut info, target, StartTls::Ftp, limits).await;
    }
    info
}

/// Greeting, FEAT, the anonymous login attempt, QUIT.
async fn converse<S: super::http::Stream>(d: &mut Dialog<S>, info: &mut ServiceInfo) -> Result<Seen, ProbeError> {
    let greeting = reply(d).await?;
    info.detail("banner", &greeting.text());
    if greeting.code != 220 {
        return Err(ProbeError::Protocol(format!("{} {}", greeting.code, greeting.text())));
    }
    if let Some((product, version)) = product(&greeting.text()) {
        info.product = Some(product);
        info.version = version;
    }
    let mut seen = Seen::default();
    d.send("FEAT").await?;
    let feat = reply(d).await?;
    if feat.code == 211 {
        let features = features(&feat);
        info.detail("features", &features.join(", "));
        seen.features = Some(features);
    }
    d.send("USER anonymous").await?;
    let user = reply(d).await?;
    match user.code {
        230 => seen.anonymous = true,
        331 => {
            d.send(&format!("PASS {ANON_PASSWORD}")).await?;
            seen.anonymous = reply(d).await?.code == 230;
        }
        _ => {}
    }
    seen.user = Some(user);
    if d.send("QUIT").await.is_ok() {
        let _ = reply(d).await;
    }
    Ok(seen)
}

async fn reply<S: super::http::Stream>(d: &mut Dialog<S>) -> Result<Reply, ProbeError> {
    let raw = d.read(MAX_REPLY, dialog::numeric_reply_end).await?;
    dialog::parse_reply(&raw).ok_or_else(|| ProbeError::Protocol(String::from_utf8_lossy(&raw).into()))
}

/// The feature lines of a 211 FEAT reply (first and last line are not features).
fn features(reply: &Reply) -> Vec<String> {
    let n = reply.lines.len();
    reply.lines.iter().take(n.saturating_sub(1)).skip(1).filter(|l| !l.is_empty()).take(64).cloned().collect()
}

/// Whether FEAT lists `AUTH TLS` (or `AUTH SSL`, `AUTH TLS;TLS-C;...`).
fn offers_auth_tls(features: &[String]) -> bool {
    features.iter().any(|f| {
        let f = f.to_ascii_uppercase();
        f.starts_with("AUTH") && (f.contains("TLS") || f.contains("SSL"))
    })
}

/// Whether a refusal says TLS is required first (vsftpd "must use encryption", ProFTPD "SSL/TLS
/// required", IIS/FileZilla "534 Policy requires SSL").
fn demands_tls(reply: &Reply) -> bool {
    let text = reply.text().to_ascii_lowercase();
    reply.code == 534 || ["tls", "ssl", "encrypt", "secure"].iter().any(|w| text.contains(w))
}

/// The `ftp-cleartext` evidence, if login works without TLS.
fn cleartext_evidence(user: Option<&Reply>, auth_tls: Option<bool>) -> Option<Said> {
    let user = user?;
    let no_auth_tls = auth_tls == Some(false);
    let code = user.code;
    match code {
        230 | 331 => Some(if no_auth_tls {
            Said::new(
                format!("USER aanvaard zonder TLS ({code}); AUTH TLS niet aangeboden"),
                format!("USER accepted without TLS ({code}); AUTH TLS not offered"),
            )
        } else {
            Said::new(format!("USER aanvaard vóór TLS ({code})"), format!("USER accepted before TLS ({code})"))
        }),
        _ if demands_tls(user) => None,
        _ if no_auth_tls => Some(Said::new("AUTH TLS niet aangeboden", "AUTH TLS not offered")),
        _ => None,
    }
}

/// Product and version from a greeting.
pub(crate) fn product(greeting: &str) -> Option<(String, Option<String>)> {
    let lower = greeting.to_ascii_lowercase();
    let known: [(&str, &str); 7] = [
        ("vsftpd", "vsftpd"),
        ("proftpd", "ProFTPD"),
        ("pure-ftpd", "Pure-FTPd"),
        ("filezilla server", "FileZilla Server"),
        ("microsoft ftp service", "Microsoft ftpd"),
        ("serv-u ftp server", "Serv-U"),
        ("pyftpdlib", "pyftpdlib"),
    ];
    known.iter().find(|(marker, _)| lower.contains(marker)).map(|(marker, name)| {
        let version = dialog::version_after(greeting, marker).map(|v| super::io::sanitize(&v, 40));
        (name.to_string(), version)
    })
}
