//! FTP probe tests: greeting products, FEAT, the cleartext rule, and fake servers on loopback.

use super::*;
use crate::probe::fake;

fn reply(raw: &[u8]) -> Reply {
    dialog::parse_reply(raw).expect("reply")
}

#[test]
fn products_from_greetings() {
    let p = |g: &str| product(g);
    assert_eq!(p("(vsFTPd 3.0.3)"), Some(("vsftpd".into(), Some("3.0.3".into()))));
    assert_eq!(p("ProFTPD 1.3.8 Server (Debian) [::ffff:10.0.0.1]"), Some(("ProFTPD".into(), Some("1.3.8".into()))));
    assert_eq!(p("---------- Welcome to Pure-FTPd [privsep] [TLS] ----------"), Some(("Pure-FTPd".into(), None)));
    assert_eq!(p("FileZilla Server 1.7.0"), Some(("FileZilla Server".into(), Some("1.7.0".into()))));
    assert_eq!(p("Microsoft FTP Service"), Some(("Microsoft ftpd".into(), None)));
    assert_eq!(p("Welcome to the gemeente FTP"), None);
}

#[test]
fn features_and_tls_demands() {
    // A FEAT reply as vsftpd sends it with ssl_enable=YES.
    let feat = reply(b"211-Features:\r\n AUTH TLS\r\n EPRT\r\n PBSZ\r\n PROT\r\n211 End\r\n");
    let f = features(&feat);
    assert_eq!(f, ["AUTH TLS", "EPRT", "PBSZ", "PROT"]);
    assert!(offers_auth_tls(&f));
    assert!(!offers_auth_tls(&features(&reply(b"211-Features:\r\n MDTM\r\n211 End\r\n"))));
    assert!(features(&reply(b"211 no features\r\n")).is_empty());
    assert!(demands_tls(&reply(b"530 Non-anonymous sessions must use encryption.\r\n")));
    assert!(demands_tls(&reply(b"534 Policy requires SSL.\r\n")));
    assert!(!demands_tls(&reply(b"530 Login incorrect.\r\n")));
}

#[test]
fn the_cleartext_rule() {
    let r331 = reply(b"331 Please specify the password.\r\n");
    let r530 = reply(b"530 Login incorrect.\r\n");
    let r550 = reply(b"550 SSL/TLS required on the control channel\r\n");
    assert_eq!(
        cleartext_evidence(Some(&r331), Some(true)),
        Some(Said::new("USER aanvaard vóór TLS (331)", "USER accepted before TLS (331)"))
    );
    let both = cleartext_evidence(Some(&r331), Some(false)).expect("evidence");
    assert!(both.nl.contains("AUTH TLS niet aangeboden") && both.en.contains("AUTH TLS not offered"), "{both:?}");
    assert_eq!(
        cleartext_evidence(Some(&r530), Some(false)),
        Some(Said::new("AUTH TLS niet aangeboden", "AUTH TLS not offered"))
    );
    assert_eq!(cleartext_evidence(Some(&r530), Some(true)), None);
    assert_eq!(cleartext_evidence(Some(&r550), Some(true)), None);
    assert_eq!(cleartext_evidence(None, Some(false)), None);
}

fn vsftpd_anonymous(line: &str) -> String {
    match line {
        "FEAT" => "211-Features:\r\n EPRT\r\n PASV\r\n211 End\r\n",
        "USER anonymous" => "331 Please specify the password.\r\n",
        l if l.starts_with("PASS ") => "230 Login successful.\r\n",
        "QUIT" => "221 Goodbye.\r\n",
        _ => "500 Unknown command.\r\n",
    }
    .to_string()
}

fn proftpd_tls_only(line: &str) -> String {
    match line {
        "FEAT" => "211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n211 End\r\n",
        "USER anonymous" => "550 SSL/TLS required on the control channel\r\n",
        "QUIT" => "221 Goodbye.\r\n",
        _ => "500 Unknown command.\r\n",
    }
    .to_string()
}

#[tokio::test]
async fn anonymous_vsftpd_without_tls() {
    let (server, mut rx) = fake::text_server("220 (vsFTPd 3.0.3)\r\n", vsftpd_anonymous).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("vsftpd"), Some("3.0.3")));
    let ids: Vec<&str> = info.observations.iter().map(|o| o.weakness.as_str()).collect();
    assert_eq!(ids, ["ftp-anonymous-login", "ftp-cleartext"]);
    assert_eq!(info.details["auth-tls"], "niet aangeboden");
    // Nothing but these four commands: no listing, no download.
    assert_eq!(fake::drain(&mut rx), ["FEAT", "USER anonymous", "PASS wijkagent@example.invalid", "QUIT"]);
}

#[tokio::test]
async fn proftpd_requiring_tls_has_no_weakness() {
    let (server, _rx) = fake::text_server("220-Welkom\r\n220 ProFTPD 1.3.8 Server\r\n", proftpd_tls_only).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("ProFTPD"), Some("1.3.8")));
    assert!(info.observations.is_empty(), "{:?}", info.observations);
    assert_eq!(info.details["auth-tls"], "aangeboden");
}

#[tokio::test]
async fn silent_and_refusing_servers() {
    let server = fake::silent().await;
    fake::times_out(&server.target, 300, 2000, identify).await;
    let (server, _rx) = fake::text_server("421 Too many connections\r\n", |_| String::new()).await;
    let info = identify(&server.target, &fake::deadline(1000)).await;
    assert!(info.note.as_deref().is_some_and(|n| n.contains("421")), "{:?}", info.note);
    assert!(info.observations.is_empty());
}
