//! Mail probe tests against fake SMTP, POP3 and IMAP servers on loopback.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::probe::fake;

fn ids(info: &ServiceInfo) -> Vec<&str> {
    info.observations.iter().map(|o| o.weakness.as_str()).collect()
}

fn limits() -> Limits {
    fake::deadline(2000)
}

#[tokio::test]
async fn smtp_offering_auth_plain_before_starttls() {
    let (server, mut rx) = fake::text_server("220 mx.gemeente.be ESMTP Exim 4.96 Mon, 01 Jan 2024\r\n", |l| {
        match l {
            "EHLO wijkagent.invalid" => {
                "250-mx.gemeente.be Hello\r\n250-SIZE 52428800\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n"
            }
            "QUIT" => "221 closing\r\n",
            _ => "500 what\r\n",
        }
        .to_string()
    })
    .await;
    let info = identify(&server.target, &limits(), MailKind::Smtp).await;
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("Exim"), Some("4.96")));
    assert_eq!(ids(&info), ["cleartext-mail-login"]);
    assert_eq!(info.observations[0].evidence.nl, "AUTH PLAIN LOGIN aangeboden zonder TLS");
    assert_eq!(info.observations[0].evidence.en, "AUTH PLAIN LOGIN offered without TLS");
    assert_eq!(info.details["starttls"], "niet aangeboden");
    assert_eq!(fake::drain(&mut rx), ["EHLO wijkagent.invalid", "QUIT"]);
}

#[tokio::test]
async fn smtp_with_starttls_and_no_cleartext_auth() {
    let (server, _rx) = fake::text_server("220 mail.gemeente.be ESMTP Postfix (Debian/GNU)\r\n", |l| {
        match l {
            "EHLO wijkagent.invalid" => "250-mail.gemeente.be\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
            "QUIT" => "221 2.0.0 Bye\r\n",
            _ => "502 no\r\n",
        }
        .to_string()
    })
    .await;
    let info = identify(&server.target, &limits(), MailKind::Smtp).await;
    assert_eq!(info.product.as_deref(), Some("Postfix"));
    assert!(info.observations.is_empty());
    assert_eq!(info.details["starttls"], "aangeboden");
}

fn dovecot_pop3(line: &str, capa: &'static str) -> String {
    match line {
        "CAPA" => capa.to_string(),
        "QUIT" => "+OK Logging out.\r\n".to_string(),
        _ => "-ERR Unknown command.\r\n".to_string(),
    }
}

#[tokio::test]
async fn pop3_with_and_without_user_before_stls() {
    let (server, _rx) = fake::text_server("+OK Dovecot (Debian) ready.\r\n", |l| {
        dovecot_pop3(l, "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n")
    })
    .await;
    let info = identify(&server.target, &limits(), MailKind::Pop3).await;
    assert_eq!(info.product.as_deref(), Some("Dovecot"));
    assert_eq!(ids(&info), ["cleartext-mail-login"]);
    assert_eq!(info.observations[0].evidence.nl, "POP3 USER, SASL PLAIN aangeboden zonder TLS");
    assert_eq!(info.observations[0].evidence.en, "POP3 USER, SASL PLAIN offered without TLS");

    // Dovecot with disable_plaintext_auth: no USER, no mechanisms before STLS.
    let (server, _rx) = fake::text_server("+OK Dovecot (Debian) ready.\r\n", |l| {
        dovecot_pop3(l, "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nSTLS\r\nSASL\r\n.\r\n")
    })
    .await;
    let info = identify(&server.target, &limits(), MailKind::Pop3).await;
    assert!(info.observations.is_empty(), "{:?}", info.observations);
    assert_eq!(info.details["starttls"], "aangeboden");
}

fn imap(line: &str, caps: &str) -> String {
    match line {
        "a1 CAPABILITY" => format!("* CAPABILITY {caps}\r\na1 OK Pre-login capabilities listed.\r\n"),
        "a2 LOGOUT" => "* BYE Logging out\r\na2 OK Logout completed.\r\n".to_string(),
        _ => "* BAD what\r\n".to_string(),
    }
}

#[tokio::test]
async fn imap_with_and_without_logindisabled() {
    let (server, mut rx) =
        fake::text_server("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n", |l| {
            imap(l, "IMAP4rev1 SASL-IR STARTTLS AUTH=PLAIN")
        })
        .await;
    let info = identify(&server.target, &limits(), MailKind::Imap).await;
    assert_eq!(info.product.as_deref(), Some("Dovecot"));
    assert_eq!(info.details["banner"], "Dovecot (Debian) ready.");
    assert_eq!(ids(&info), ["cleartext-mail-login"]);
    // Our own connection comes first; the TLS analysis that follows (STARTTLS offered) may add its own.
    assert_eq!(fake::drain(&mut rx)[..2], ["a1 CAPABILITY", "a2 LOGOUT"]);

    let (server, _rx) =
        fake::text_server("* OK Cyrus IMAP v2.4.17 server ready\r\n", |l| imap(l, "IMAP4rev1 STARTTLS LOGINDISABLED"))
            .await;
    let info = identify(&server.target, &limits(), MailKind::Imap).await;
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("Cyrus"), Some("2.4.17")));
    assert!(info.observations.is_empty());
}

#[tokio::test]
async fn imaps_is_spoken_over_tls_and_never_called_cleartext() {
    let server = fake::serve_tls(|mut s| async move {
        let _ = s.write_all(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Dovecot ready.\r\n").await;
        let mut buf = [0u8; 256];
        while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await {
            if n == 0 {
                return;
            }
            let line = String::from_utf8_lossy(&buf[..n]).to_string();
            let _ = s.write_all(imap(line.trim_end(), "IMAP4rev1 AUTH=PLAIN").as_bytes()).await;
        }
    })
    .await;
    let info = identify(&server.target, &limits(), MailKind::Imaps).await;
    assert_eq!(info.service.as_deref(), Some("imaps"));
    assert_eq!(info.product.as_deref(), Some("Dovecot"));
    assert!(info.observations.is_empty());
    assert_eq!(info.note, None);
}

#[tokio::test]
async fn a_silent_mail_server_costs_the_deadline() {
    let server = fake::silent().await;
    let info = identify(&server.target, &fake::deadline(300), MailKind::Smtp).await;
    assert_eq!(info.note.as_deref(), Some("timeout"));
}
