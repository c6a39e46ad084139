//! HTTP probe against fake servers on loopback: weak and safe answers, chunked and endless bodies,
//! silence, floods, TLS, admin paths, Elasticsearch.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::*;
use crate::probe::fake;

/// A server answering every request with `answer` after reading the request head, then closing.
async fn answering(answer: &'static [u8]) -> fake::Server {
    fake::serve(move |mut s| async move {
        fake::read_until(&mut s, b"\r\n\r\n").await;
        let _ = s.write_all(answer).await;
    })
    .await
}

fn has(info: &ServiceInfo, id: &str) -> bool {
    info.observations.iter().any(|o| o.weakness == id)
}

#[tokio::test]
async fn nginx_with_a_directory_index_is_seen() {
    let server = answering(
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n\
          <html><head><title>Index of /</title></head><body><h1>Index of /</h1><a href=\"a\">a</a>",
    )
    .await;
    let info = identify(&server.target, &fake::deadline(2000), false).await;
    assert_eq!(info.service.as_deref(), Some("http"));
    assert_eq!(info.product.as_deref(), Some("nginx"));
    assert_eq!(info.version.as_deref(), Some("1.22.1"));
    assert_eq!(info.details.get("title").map(String::as_str), Some("Index of /"));
    assert!(has(&info, "http-directory-listing"), "{info:?}");
    assert_eq!(info.note, None);
}

#[tokio::test]
async fn a_plain_apache_page_has_no_weakness_and_our_request_is_polite() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = fake::serve(move |mut s| {
        let tx = tx.clone();
        async move {
            let req = fake::read_until(&mut s, b"\r\n\r\n").await;
            let _ = tx.send(req);
            // Keeps the connection open after a complete, length-framed answer: no waiting for close.
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nServer: Apache/2.4.49 (Unix)\r\nContent-Length: 33\r\n\r\n<title>Welkom gemeente</title>...")
                .await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    })
    .await;
    let started = Instant::now();
    let info = identify(&server.target, &fake::deadline(20_000), false).await;
    assert!(started.elapsed() < Duration::from_secs(10), "did not wait for the close (or the deadline)");
    assert_eq!(info.product.as_deref(), Some("Apache httpd"));
    assert_eq!(info.version.as_deref(), Some("2.4.49"));
    assert_eq!(info.details.get("title").map(String::as_str), Some("Welkom gemeente"));
    assert!(info.observations.is_empty());
    let req = String::from_utf8(rx.recv().await.expect("request")).expect("ascii");
    assert!(req.starts_with("GET / HTTP/1.1\r\n"));
    assert!(req.contains(&format!("Host: 127.0.0.1:{}\r\n", server.target.addr.port())));
    assert!(req.contains("User-Agent: wijkagent/"));
    assert!(req.contains("Connection: close\r\n"));
}

#[tokio::test]
async fn a_chunked_index_and_a_redirect_to_https() {
    // The marker is split over two chunks.
    let server = answering(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n<title>In\r\n10\r\ndex of /</title>\r\n0\r\n\r\n",
    )
    .await;
    let info = identify(&server.target, &fake::deadline(2000), false).await;
    assert!(has(&info, "http-directory-listing"), "{info:?}");

    let server =
        answering(b"HTTP/1.1 301 Moved\r\nLocation: https://gemeente.example/\r\nContent-Length: 0\r\n\r\n").await;
    let info = identify(&server.target, &fake::deadline(2000), false).await;
    assert_eq!(info.details.get("redirect-to-https").map(String::as_str), Some("yes"));
    assert!(info.observations.is_empty());
}

#[tokio::test]
async fn a_silent_server_costs_the_deadline() {
    let server = fake::silent().await;
    fake::times_out(&server.target, 400, 2000, async |t, l| identify(t, l, false).await).await;
}

#[tokio::test]
async fn a_flooding_server_costs_the_byte_budget() {
    // A head that never ends.
    let server = fake::flood(b"HTTP/1.1 200 OK\r\nX-Junk: ").await;
    let info = identify(&server.target, &fake::limits(5000, 8 * 1024), false).await;
    assert_eq!(info.note.as_deref(), Some("byte-limit"));
    // A proper head, then a body that never ends: the body is cut, the head is used.
    let server = fake::flood(b"HTTP/1.1 200 OK\r\nServer: nginx/1.25.0\r\n\r\n<title>x</title>").await;
    let started = Instant::now();
    let info = identify(&server.target, &fake::limits(20_000, 8 * 1024), false).await;
    assert!(started.elapsed() < Duration::from_secs(10), "the byte budget ends it, not the deadline");
    assert_eq!(info.product.as_deref(), Some("nginx"));
    assert_eq!(info.note, None);
}

#[tokio::test]
async fn https_is_spoken_over_any_certificate() {
    let server = fake::serve_tls(|mut s| async move {
        let mut buf = vec![0u8; 4096];
        let _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/10.0\r\nContent-Length: 0\r\n\r\n").await;
        let _ = s.shutdown().await;
    })
    .await;
    let info = identify(&server.target, &fake::deadline(3000), true).await;
    assert_eq!(info.service.as_deref(), Some("https"));
    assert_eq!(info.product.as_deref(), Some("Microsoft IIS httpd"));
    assert_eq!(info.version.as_deref(), Some("10.0"));
    // A plain-HTTP port that speaks TLS is found out too.
    let info = identify(&server.target, &fake::deadline(3000), false).await;
    assert_eq!(info.service.as_deref(), Some("https"));
    assert_eq!(info.product.as_deref(), Some("Microsoft IIS httpd"));
    // And plain HTTP on a port listed as HTTPS: like real servers, it answers a ClientHello with 400.
    let server = fake::serve(|mut s| async move {
        let mut buf = vec![0u8; 4096];
        let n = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await.unwrap_or(0);
        let answer: &[u8] = if buf[..n].starts_with(b"GET ") {
            b"HTTP/1.1 200 OK\r\nServer: lighttpd/1.4.69\r\nContent-Length: 0\r\n\r\n"
        } else {
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        };
        let _ = s.write_all(answer).await;
    })
    .await;
    let info = identify(&server.target, &fake::deadline(3000), true).await;
    assert_eq!(info.service.as_deref(), Some("http"));
    assert_eq!(info.product.as_deref(), Some("lighttpd"));
}

#[tokio::test]
async fn deep_scans_list_admin_paths_that_are_there() {
    let server = fake::serve(|mut s| async move {
        let req = fake::read_until(&mut s, b"\r\n\r\n").await;
        let answer: &[u8] = if req.starts_with(b"GET /.git/HEAD ") {
            b"HTTP/1.1 200 OK\r\nContent-Length: 23\r\n\r\nref: refs/heads/main\n\n\n"
        } else if req.starts_with(b"GET / ") {
            b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n<title>x</title>"
        } else {
            // A catch-all page must not count as an admin page.
            b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nwelkom!"
        };
        let _ = s.write_all(answer).await;
    })
    .await;
    let mut target = server.target.clone();
    target.deep = true;
    let info = identify(&target, &fake::deadline(3000), false).await;
    assert_eq!(info.details.get("admin-paths").map(String::as_str), Some("/.git/HEAD (200)"));
    assert!(info.observations.is_empty());
}

#[tokio::test]
async fn elasticsearch_without_and_with_authentication() {
    let server = answering(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n\
          {\"name\":\"n1\",\"cluster_name\":\"gemeente\",\"version\":{\"number\":\"7.17.9\"},\"tagline\":\"\"}",
    )
    .await;
    let info = identify_elasticsearch(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.product.as_deref(), Some("Elasticsearch"));
    assert_eq!(info.version.as_deref(), Some("7.17.9"));
    assert!(has(&info, "elasticsearch-no-auth"), "{info:?}");

    let server = answering(
        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"security\"\r\nX-elastic-product: Elasticsearch\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    let info = identify_elasticsearch(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.product.as_deref(), Some("Elasticsearch"));
    assert!(info.observations.is_empty());
}

#[tokio::test]
async fn a_login_form_over_plain_http_but_not_over_https() {
    const PAGE: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 48\r\n\r\n<title>UPS</title><input type=\"password\" name=p>";
    let server = answering(PAGE).await;
    let info = identify(&server.target, &fake::deadline(2000), false).await;
    let login = info.observations.iter().find(|o| o.weakness == "http-cleartext-login").expect("observed");
    assert_eq!(login.evidence.nl, "aanmelden over HTTP zonder TLS: / (wachtwoordveld)");
    assert_eq!(login.evidence.en, "login over HTTP without TLS: / (wachtwoordveld)");

    let server = fake::serve_tls(|mut s| async move {
        let mut buf = vec![0u8; 4096];
        let _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await;
        let _ = s.write_all(PAGE).await;
        let _ = s.shutdown().await;
    })
    .await;
    let info = identify(&server.target, &fake::deadline(3000), true).await;
    assert!(info.observations.is_empty(), "{:?}", info.observations);
}
