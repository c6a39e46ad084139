//! SMTP, POP3 and IMAP identification (stub until the probe lands).

use super::{Limits, ServiceInfo, Target};

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

/// Identifies a mail service on `target`.
pub async fn identify(_target: &Target, _limits: &Limits, kind: MailKind) -> ServiceInfo {
    ServiceInfo::named(match kind {
        MailKind::Smtp => "smtp",
        MailKind::Smtps => "smtps",
        MailKind::Pop3 => "pop3",
        MailKind::Pop3s => "pop3s",
        MailKind::Imap => "imap",
        MailKind::Imaps => "imaps",
    })
}
