//! HTTP and HTTPS identification, Elasticsearch, and the accept-any TLS connector that every probe
//! speaking a protocol over implicit TLS uses.
//!
//! The probe sends one `GET /` (`Connection: close`) and reads the head (at most 32 KiB) and the body
//! (at most 64 KiB, or what the byte budget leaves): the `Server` header gives product and version,
//! the page its title, a redirect to `https://` is noted, and an automatic directory index is the
//! weakness `http-directory-listing`. A password field or HTTP Basic authentication on plain HTTP is
//! `http-cleartext-login`. In a deep scan a short list of well-known admin paths is asked too; what
//! answers is reported as a detail (and counts for `http-cleartext-login` when it asks a password). A plain-HTTP port that turns out to
//! speak TLS is tried once more over TLS. All connections of one probe share its deadline and budget.
//!
//! [`tls_connect`] does a TLS handshake that accepts any certificate: probes identify, the judging of
//! certificates and protocol versions belongs to [`crate::tls::analyse`], which HTTPS ports also get.

pub(crate) mod parse;
#[cfg(test)]
mod tests;

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::io::{ProbeError, Session};
use super::{Limits, ServiceInfo, Target};
use crate::tls::{self, StartTls};
use parse::{Framing, Head};

pub(crate) use parse::server_product;

/// Any byte stream a probe talks over: plain TCP, or TLS over it.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A bounded session over plain TCP or TLS.
pub type AnySession = Session<Box<dyn Stream>>;

/// Most bytes of a response head.
const MAX_HEAD: usize = 32 * 1024;
/// Most bytes of the body of `GET /`.
const MAX_BODY: usize = 64 * 1024;
/// Most bytes of the body of an admin path.
const MAX_ADMIN_BODY: usize = 2048;
/// Admin paths asked in a deep scan (details only).
const ADMIN_PATHS: [&str; 4] = ["/server-status", "/phpmyadmin/", "/manager/html", "/.git/HEAD"];

/// Identifies HTTP (or HTTPS when `tls`) on `target`.
pub async fn identify(target: &Target, limits: &Limits, tls: bool) -> ServiceInfo {
    let mut info = ServiceInfo::named(if tls { "https" } else { "http" });
    let mut budget = Budget::new(limits);
    // In a deep scan keep a quarter of the byte budget for the admin paths.
    let first_cap = if target.deep { limits.max_bytes / 4 * 3 } else { limits.max_bytes };
    let (answer, tls) = get_with_fallback(target, &mut budget, tls, first_cap).await;
    info.service = Some(if tls { "https" } else { "http" }.into());
    match answer {
        Ok(resp) => {
            describe(&mut info, &resp, tls);
            if let Some(marker) = parse::directory_listing(resp.title().as_deref(), &resp.body) {
                info.observe(
                    "http-directory-listing",
                    format!("GET / toont een automatische mapindex ('{marker}')"),
                    format!("GET / shows an automatic directory index ('{marker}')"),
                );
            }
            let mut logins = Vec::new();
            if let Some(how) = parse::password_prompt(&resp.head, &resp.body) {
                logins.push(format!("/ ({how})"));
            }
            if target.deep {
                logins.extend(probe_admin_paths(target, &mut budget, tls, &mut info).await);
            }
            if !tls && !logins.is_empty() {
                let logins = logins.join(", ");
                info.observe(
                    "http-cleartext-login",
                    format!("aanmelden over HTTP zonder TLS: {logins}"),
                    format!("login over HTTP without TLS: {logins}"),
                );
            }
        }
        Err(e) => info.note = Some(e.note()),
    }
    if tls {
        tls::analyse_into(&mut info, target, StartTls::Implicit, limits).await;
    }
    info
}

/// Identifies Elasticsearch (or OpenSearch) on `target`: its root document, readable without
/// authentication, is `elasticsearch-no-auth`.
pub async fn identify_elasticsearch(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::named("elasticsearch");
    let mut budget = Budget::new(limits);
    let (answer, tls) = get_with_fallback(target, &mut budget, false, limits.max_bytes).await;
    match answer {
        Ok(resp) => match (resp.head.status, parse::elasticsearch(&resp.body)) {
            (200, Some(es)) => {
                info.product = Some(es.product.clone());
                info.version = Some(es.version.clone());
                info.detail("cluster_name", &es.cluster);
                let (version, cluster) = (super::io::sanitize(&es.version, 40), super::io::sanitize(&es.cluster, 60));
                info.observe(
                    "elasticsearch-no-auth",
                    format!("GET / zonder authenticatie geeft {} {version} (cluster '{cluster}')", es.product),
                    format!("GET / without authentication gives {} {version} (cluster '{cluster}')", es.product),
                );
            }
            (401 | 403, _) => {
                if let Some(product) = resp.head.header("x-elastic-product") {
                    info.product = Some(super::io::sanitize(product, 40));
                }
                info.detail("auth", &format!("authenticatie vereist ({})", resp.head.status));
            }
            _ => {
                info.service = Some(if tls { "https" } else { "http" }.into());
                describe(&mut info, &resp, tls);
            }
        },
        Err(e) => info.note = Some(e.note()),
    }
    if tls {
        tls::analyse_into(&mut info, target, StartTls::Implicit, limits).await;
    }
    info
}

/// Opens a session to `target` within `limits`: plain TCP, or TLS accepting any certificate when
/// `tls`. The TLS handshake counts against the session's deadline.
pub async fn connect(target: &Target, limits: &Limits, tls: bool) -> Result<AnySession, ProbeError> {
    let stream = match tokio::time::timeout(limits.connect, TcpStream::connect(target.addr)).await {
        Ok(s) => s?,
        Err(_) => return Err(ProbeError::Timeout),
    };
    let _ = stream.set_nodelay(true);
    if !tls {
        return Ok(Session::over(Box::new(stream), limits));
    }
    let started = Instant::now();
    let stream = tls_connect(stream, target, limits.deadline).await?;
    let left = Limits { deadline: limits.deadline.saturating_sub(started.elapsed()), ..*limits };
    Ok(Session::over(Box::new(stream), &left))
}

/// A TLS handshake over `stream` that accepts any certificate (identification only: the TLS module
/// judges certificates), within `within`, with [`tls::client_config_accepting_any`] (TLS 1.3 and
/// 1.2, no resumption). The server name is the target's host name if it has one, else its address
/// (no SNI).
pub async fn tls_connect<S>(
    stream: S,
    target: &Target,
    within: Duration,
) -> Result<tokio_rustls::client::TlsStream<S>, ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = tls::client_config_accepting_any().map_err(ProbeError::Protocol)?;
    let connector = tokio_rustls::TlsConnector::from(config);
    match tokio::time::timeout(within, connector.connect(tls::server_name(target), stream)).await {
        Err(_) => Err(ProbeError::Timeout),
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => Err(ProbeError::Protocol(format!("TLS: {e}"))),
        Ok(Err(e)) => Err(e.into()),
    }
}

/// What is left of one probe's deadline and byte budget across its connections.
#[derive(Debug)]
struct Budget {
    connect: Duration,
    deadline: Instant,
    bytes_left: usize,
}

impl Budget {
    fn new(limits: &Limits) -> Budget {
        Budget { connect: limits.connect, deadline: Instant::now() + limits.deadline, bytes_left: limits.max_bytes }
    }

    /// Limits for the next connection, at most `cap` bytes; `None` once time or bytes are spent.
    fn next(&self, cap: usize) -> Option<Limits> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let bytes = self.bytes_left.min(cap);
        (!left.is_zero() && bytes > 0).then_some(Limits {
            connect: self.connect.min(left),
            deadline: left,
            max_bytes: bytes,
        })
    }
}

/// One response as far as it was read; the body is de-chunked.
#[derive(Debug)]
struct Response {
    head: Head,
    body: Vec<u8>,
}

impl Response {
    fn title(&self) -> Option<String> {
        parse::title(&self.body)
    }
}

/// `GET /`, and when that gets no HTTP answer, once more the other way (plain HTTP on a TLS port,
/// TLS on a plain port). Returns the answer and whether TLS was used; after two failures the first
/// error, and `tls` as asked (so a TLS port that rustls cannot talk to still gets its TLS analysis).
async fn get_with_fallback(
    target: &Target,
    budget: &mut Budget,
    tls: bool,
    cap: usize,
) -> (Result<Response, ProbeError>, bool) {
    let first = get(target, budget, tls, "/", MAX_BODY, cap).await;
    match first {
        Err(ProbeError::Protocol(_) | ProbeError::Closed | ProbeError::Reset) => {
            match get(target, budget, !tls, "/", MAX_BODY, cap).await {
                Ok(resp) => (Ok(resp), !tls),
                Err(_) => (first, tls),
            }
        }
        other => (other, tls),
    }
}

/// One `GET path` on a fresh connection, charged to `budget`.
async fn get(
    target: &Target,
    budget: &mut Budget,
    tls: bool,
    path: &str,
    max_body: usize,
    cap: usize,
) -> Result<Response, ProbeError> {
    let limits = budget.next(cap).ok_or(ProbeError::ByteLimit)?;
    let mut session = connect(target, &limits, tls).await?;
    let answer = exchange(&mut session, &request(target, tls, path), max_body).await;
    budget.bytes_left = budget.bytes_left.saturating_sub(session.bytes_read());
    answer
}

/// The request: `GET path HTTP/1.1` with Host, our User-Agent and `Connection: close`.
fn request(target: &Target, tls: bool, path: &str) -> Vec<u8> {
    let port = target.addr.port();
    let host = match (&target.hostname, target.addr) {
        (Some(h), _) => h.clone(),
        (None, std::net::SocketAddr::V6(a)) => format!("[{}]", a.ip()),
        (None, a) => a.ip().to_string(),
    };
    let host = if (tls && port == 443) || (!tls && port == 80) { host } else { format!("{host}:{port}") };
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: wijkagent/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// Sends `req` and reads the answer: the head, then the body until it is complete, `max_body`
/// bytes arrived, or the server closes, stalls or floods (what arrived is kept).
async fn exchange<S: Stream>(s: &mut Session<S>, req: &[u8], max_body: usize) -> Result<Response, ProbeError> {
    s.write_all(req).await?;
    let raw = s.read_until(MAX_HEAD, |b| parse::head_end(b).is_some()).await?;
    let end = parse::head_end(&raw).ok_or_else(|| ProbeError::Protocol(String::from_utf8_lossy(&raw).into()))?;
    let head =
        parse::parse_head(&raw[..end]).ok_or_else(|| ProbeError::Protocol(String::from_utf8_lossy(&raw).into()))?;
    let framing = head.framing();
    let mut body = raw[end..].to_vec();
    let want = match framing {
        Framing::Empty => 0,
        Framing::Length(n) => n.min(max_body),
        Framing::Chunked | Framing::UntilClose => max_body,
    };
    while body.len() < want && !parse::body_complete(framing, &body) {
        match s.read_some(want - body.len()).await {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(_) => break,
        }
    }
    body.truncate(max_body);
    if framing == Framing::Chunked {
        body = parse::dechunk(&body).0;
    }
    Ok(Response { head, body })
}

/// Fills `info` from the answer to `GET /`.
fn describe(info: &mut ServiceInfo, resp: &Response, tls: bool) {
    let head = &resp.head;
    info.detail("status", &format!("{} {}", head.status, head.reason));
    if let Some(server) = head.header("server") {
        info.detail("server", server);
        if let Some((product, version)) = parse::server_product(server) {
            info.product = Some(super::io::sanitize(&product, 60));
            info.version = version.map(|v| super::io::sanitize(&v, 40));
        }
    }
    if let Some(powered) = head.header("x-powered-by") {
        info.detail("x-powered-by", powered);
    }
    if let Some(auth) = head.header("www-authenticate") {
        info.detail("www-authenticate", auth);
    }
    if let Some(title) = resp.title() {
        info.detail("title", &title);
    }
    if (300..400).contains(&head.status) {
        if let Some(location) = head.header("location") {
            info.detail("redirect", location);
            if !tls && location.to_ascii_lowercase().starts_with("https://") {
                info.detail("redirect-to-https", "yes");
            }
        }
    }
}

/// Deep scans: asks the admin paths and lists those that are plainly there. Returns those of them
/// that ask for a password (for `http-cleartext-login`).
async fn probe_admin_paths(target: &Target, budget: &mut Budget, tls: bool, info: &mut ServiceInfo) -> Vec<String> {
    let mut seen = Vec::new();
    let mut logins = Vec::new();
    for path in ADMIN_PATHS {
        let Ok(resp) = get(target, budget, tls, path, MAX_ADMIN_BODY, usize::MAX).await else {
            if budget.next(1).is_none() {
                break;
            }
            continue;
        };
        if admin_path_present(path, &resp.head, &resp.body) {
            seen.push(format!("{path} ({})", resp.head.status));
            if let Some(how) = parse::password_prompt(&resp.head, &resp.body) {
                logins.push(format!("{path} ({how})"));
            }
        }
    }
    if !seen.is_empty() {
        info.detail("admin-paths", &seen.join(", "));
    }
    logins
}

/// Whether the answer to an admin path shows that thing (not a catch-all page).
fn admin_path_present(path: &str, head: &Head, body: &[u8]) -> bool {
    let lower = body.to_ascii_lowercase();
    let has = |needle: &[u8]| parse::find(&lower, needle).is_some();
    match (path, head.status) {
        ("/server-status", 200) => has(b"server status"),
        ("/phpmyadmin/", 200) => has(b"phpmyadmin"),
        ("/phpmyadmin/", 401) => true,
        ("/manager/html", 200 | 401 | 403) => {
            has(b"tomcat") || head.header("www-authenticate").is_some_and(|a| a.contains("Tomcat"))
        }
        ("/.git/HEAD", 200) => {
            body.starts_with(b"ref: ") || body.get(..40).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
        }
        _ => false,
    }
}
