//! Pure parsers for HTTP answers: the response head, body framing (chunked, length, until close),
//! the `Server` header as product and version, the page title, directory-listing markers and the
//! Elasticsearch root document. No I/O; every function takes server bytes and never panics.

/// The status line and headers of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Status code (`200`).
    pub status: u16,
    /// Reason phrase as sent (`OK`), possibly empty.
    pub reason: String,
    /// Header names and values in order, names as sent.
    pub headers: Vec<(String, String)>,
}

/// How the body's end is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: n`.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ends when the server closes.
    UntilClose,
    /// The status has no body (1xx, 204, 304).
    Empty,
}

/// Headers kept at most; a server sending more is ignored beyond this.
const MAX_HEADERS: usize = 100;

impl Head {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// How the body that follows is framed.
    pub fn framing(&self) -> Framing {
        if self.status < 200 || self.status == 204 || self.status == 304 {
            return Framing::Empty;
        }
        if self.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
            return Framing::Chunked;
        }
        match self.header("content-length").and_then(|v| v.trim().parse::<usize>().ok()) {
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    }
}

/// Index just past the blank line that ends the head (`\r\n\r\n` or a bare `\n\n`), if present.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = find(buf, b"\r\n\r\n").map(|i| i + 4);
    let lf = find(buf, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parses a response head (status line and headers). `None` when the status line is not HTTP.
pub fn parse_head(head: &[u8]) -> Option<Head> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next()?;
    let rest = status_line.strip_prefix("HTTP/")?;
    let mut parts = rest.splitn(3, ' ');
    let _version = parts.next()?;
    let code = parts.next()?;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let status = code.parse().ok()?;
    let reason = parts.next().unwrap_or("").trim().to_string();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: continues the previous header's value.
            if let Some((_, v)) = headers.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if headers.len() >= MAX_HEADERS {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if !name.is_empty() && !name.contains(' ') {
                headers.push((name.to_string(), value.trim().to_string()));
            }
        }
    }
    Some(Head { status, reason, headers })
}

/// Decodes a chunked body as far as it arrived: the data, and whether the last (zero) chunk was seen.
/// Bytes that do not parse as chunks end the decoding.
pub fn dechunk(body: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let Some(eol) = find(rest, b"\n") else { return (out, false) };
        let line = String::from_utf8_lossy(&rest[..eol]);
        let size_text = line.trim().split(';').next().unwrap_or("").trim().to_string();
        let Ok(size) = usize::from_str_radix(&size_text, 16) else { return (out, false) };
        rest = &rest[eol + 1..];
        if size == 0 {
            return (out, true);
        }
        let take = size.min(rest.len());
        out.extend_from_slice(&rest[..take]);
        if take < size {
            return (out, false);
        }
        rest = &rest[take..];
        rest = rest.strip_prefix(b"\r\n").or_else(|| rest.strip_prefix(b"\n")).unwrap_or(rest);
    }
}

/// Whether a body framed as `framing` is complete with `body` bytes.
pub fn body_complete(framing: Framing, body: &[u8]) -> bool {
    match framing {
        Framing::Empty => true,
        Framing::Length(n) => body.len() >= n,
        Framing::Chunked => dechunk(body).1,
        Framing::UntilClose => false,
    }
}

/// Product and version from a `Server` header: `nginx/1.22.1` → (`nginx`, `1.22.1`),
/// `Apache/2.4.49 (Unix)` → (`Apache httpd`, `2.4.49`), `Microsoft-IIS/10.0` → (`Microsoft IIS httpd`,
/// `10.0`). Unknown products keep their own name.
pub fn server_product(server: &str) -> Option<(String, Option<String>)> {
    let first = server.split_whitespace().next()?;
    let (name, version) = match first.split_once('/') {
        Some((n, v)) => (n, Some(v)),
        None => (first, None),
    };
    if name.is_empty() {
        return None;
    }
    let version = version
        .map(|v| v.trim_end_matches([',', ';']))
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        .filter(|v| v.chars().all(|c| c.is_ascii_alphanumeric() || ".-_+~".contains(c)))
        .map(str::to_string);
    let product = match name.to_ascii_lowercase().as_str() {
        "apache" => "Apache httpd".to_string(),
        "microsoft-iis" => "Microsoft IIS httpd".to_string(),
        "microsoft-httpapi" => "Microsoft HTTPAPI httpd".to_string(),
        "nginx" => "nginx".to_string(),
        "openresty" => "OpenResty".to_string(),
        "lighttpd" => "lighttpd".to_string(),
        "caddy" => "Caddy".to_string(),
        "litespeed" => "LiteSpeed".to_string(),
        "apache-coyote" => "Apache Tomcat (Coyote)".to_string(),
        _ => name.to_string(),
    };
    Some((product, version))
}

/// The page title (`<title>…</title>`, case-insensitive), with the common entities decoded.
pub fn title(body: &[u8]) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let open = find(&lower, b"<title")?;
    let start = open + find(&lower[open..], b">")? + 1;
    let end = start + find(&lower[start..], b"</title").unwrap_or(lower.len() - start);
    let raw = String::from_utf8_lossy(&body[start..end]);
    let text = raw
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// The marker of an automatic directory index in a page, if there is one: Apache, nginx and
/// lighttpd (`Index of /`), Python's http.server (`Directory listing for /`), IIS
/// (`[To Parent Directory]`).
pub fn directory_listing(title: Option<&str>, body: &[u8]) -> Option<&'static str> {
    if let Some(t) = title {
        if t.starts_with("Index of /") {
            return Some("Index of /");
        }
        if t.starts_with("Directory listing for /") {
            return Some("Directory listing for /");
        }
    }
    let lower = body.to_ascii_lowercase();
    if find(&lower, b"<h1>index of /").is_some() {
        return Some("Index of /");
    }
    if find(&lower, b"[to parent directory]").is_some() {
        return Some("[To Parent Directory]");
    }
    None
}

/// How a page asks for a password, if it does: a form with a password field, or HTTP Basic
/// authentication (both send the password as readable text over plain HTTP).
pub fn password_prompt(head: &Head, body: &[u8]) -> Option<&'static str> {
    if head.status == 401
        && head.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("www-authenticate") && v.trim_start().to_ascii_lowercase().starts_with("basic")
        })
    {
        return Some("Basic-aanmelding");
    }
    let lower = body.to_ascii_lowercase();
    let field = [&b"type=\"password\""[..], b"type='password'", b"type=password"];
    (head.status == 200 && field.iter().any(|f| find(&lower, f).is_some())).then_some("wachtwoordveld")
}

/// What the Elasticsearch (or OpenSearch) root document tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsInfo {
    /// `Elasticsearch` or `OpenSearch`.
    pub product: String,
    /// `version.number`.
    pub version: String,
    /// `cluster_name`.
    pub cluster: String,
}

/// Parses the JSON answer of `GET /` on Elasticsearch; `None` unless it has `version.number`.
pub fn elasticsearch(body: &[u8]) -> Option<EsInfo> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    let version = doc.get("version")?;
    let number = version.get("number")?.as_str()?.to_string();
    let product = match version.get("distribution").and_then(|d| d.as_str()) {
        Some("opensearch") => "OpenSearch",
        _ => "Elasticsearch",
    };
    let cluster = doc.get("cluster_name").and_then(|c| c.as_str()).unwrap_or("").to_string();
    Some(EsInfo { product: product.to_string(), version: number, cluster })
}

/// First index of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_of_an_nginx_answer() {
        // A typical nginx answer head, CRLF line ends.
        let raw = b"HTTP/1.1 301 Moved Permanently\r\nServer: nginx/1.22.1\r\nLocation: https://x/\r\n\r\nbody";
        let end = head_end(raw).expect("end");
        assert_eq!(&raw[end..], b"body");
        let head = parse_head(&raw[..end]).expect("head");
        assert_eq!(head.status, 301);
        assert_eq!(head.reason, "Moved Permanently");
        assert_eq!(head.header("server"), Some("nginx/1.22.1"));
        assert_eq!(head.header("LOCATION"), Some("https://x/"));
        assert_eq!(head.framing(), Framing::UntilClose);
    }

    #[test]
    fn heads_that_are_not_http() {
        // SSH banner, a TLS alert, a bad status code, nothing at all.
        assert!(parse_head(b"SSH-2.0-OpenSSH_9.2\r\n\r\n").is_none());
        assert!(parse_head(b"\x15\x03\x01\x00\x02\x02\x46").is_none());
        assert!(parse_head(b"HTTP/1.1 2x0 OK\r\n\r\n").is_none());
        assert!(parse_head(b"").is_none());
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\nServer: x\r\n"), None, "truncated head");
    }

    #[test]
    fn head_with_invalid_utf8_folding_and_bare_lf() {
        // Latin-1 in a header, a folded header, LF-only line ends, a line without a colon.
        let raw = b"HTTP/1.0 200\nServer: Caf\xe9/1.0\nX-Long: a\n  b\ngarbage line\nContent-Length: 12\n\n";
        let head = parse_head(&raw[..head_end(raw).expect("end")]).expect("head");
        assert_eq!(head.status, 200);
        assert_eq!(head.reason, "");
        assert_eq!(head.header("server"), Some("Caf\u{fffd}/1.0"));
        assert_eq!(head.header("x-long"), Some("a b"));
        assert_eq!(head.framing(), Framing::Length(12));
    }

    #[test]
    fn chunked_bodies_whole_truncated_and_broken() {
        // Two chunks and the last chunk.
        assert_eq!(dechunk(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"), (b"hello world".to_vec(), true));
        // Cut inside the second chunk.
        assert_eq!(dechunk(b"5\r\nhello\r\n6\r\n wo"), (b"hello wo".to_vec(), false));
        // Not hex at all.
        assert_eq!(dechunk(b"zz\r\nhello"), (Vec::new(), false));
        // A size that overflows usize is not a size.
        assert_eq!(dechunk(b"ffffffffffffffffffff\r\nx"), (Vec::new(), false));
        assert!(body_complete(Framing::Length(3), b"abc"));
        assert!(!body_complete(Framing::UntilClose, b"abc"));
    }

    #[test]
    fn server_header_products() {
        let p = |s| server_product(s);
        assert_eq!(p("nginx/1.22.1"), Some(("nginx".into(), Some("1.22.1".into()))));
        assert_eq!(p("Apache/2.4.49 (Unix)"), Some(("Apache httpd".into(), Some("2.4.49".into()))));
        assert_eq!(p("Microsoft-IIS/10.0"), Some(("Microsoft IIS httpd".into(), Some("10.0".into()))));
        assert_eq!(p("Apache"), Some(("Apache httpd".into(), None)));
        assert_eq!(p("lighttpd/abc"), Some(("lighttpd".into(), None)), "not a version");
        assert_eq!(p("   "), None);
        assert_eq!(p("/1.0"), None);
    }

    #[test]
    fn titles() {
        assert_eq!(title(b"<html><TITLE>Index of /</TITLE>"), Some("Index of /".into()));
        assert_eq!(title(b"<title lang=nl>Gemeente &amp; OCMW</title>"), Some("Gemeente & OCMW".into()));
        // Unclosed title (body cut at the limit), invalid UTF-8 inside.
        assert_eq!(title(b"<title>Caf\xe9 login"), Some("Caf\u{fffd} login".into()));
        assert_eq!(title(b"<title>  </title>"), None);
        assert_eq!(title(b"<title"), None);
        assert_eq!(title(b"no title here"), None);
    }

    #[test]
    fn directory_listings() {
        let apache = b"<html><head><title>Index of /</title></head><body><h1>Index of /</h1>";
        assert_eq!(directory_listing(title(apache).as_deref(), apache), Some("Index of /"));
        let python = b"<title>Directory listing for /</title>";
        assert_eq!(directory_listing(title(python).as_deref(), python), Some("Directory listing for /"));
        let iis = b"<pre><A HREF=\"/\">[To Parent Directory]</A>";
        assert_eq!(directory_listing(None, iis), Some("[To Parent Directory]"));
        assert_eq!(directory_listing(Some("Welcome to nginx!"), b"<h1>Welcome</h1>"), None);
    }

    #[test]
    fn password_prompts() {
        let head = |raw: &[u8]| parse_head(raw).expect("head");
        let ok = head(b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(password_prompt(&ok, b"<form><INPUT Type=\"Password\" name=pw>"), Some("wachtwoordveld"));
        assert_eq!(password_prompt(&ok, b"<input type=password>"), Some("wachtwoordveld"));
        assert_eq!(password_prompt(&ok, b"<input type=\"text\"> password reset"), None);
        let basic = head(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"UPS\"\r\n\r\n");
        assert_eq!(password_prompt(&basic, b""), Some("Basic-aanmelding"));
        let digest = head(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"x\"\r\n\r\n");
        assert_eq!(password_prompt(&digest, b""), None);
        // A 404 page that happens to hold a login form is not the page asked for.
        let missing = head(b"HTTP/1.1 404 Not Found\r\n\r\n");
        assert_eq!(password_prompt(&missing, b"<input type=password>"), None);
    }

    #[test]
    fn elasticsearch_root_documents() {
        let es = br#"{"name":"n1","cluster_name":"gemeente","version":{"number":"7.17.9"},"tagline":"You Know, for Search"}"#;
        assert_eq!(
            elasticsearch(es),
            Some(EsInfo { product: "Elasticsearch".into(), version: "7.17.9".into(), cluster: "gemeente".into() })
        );
        let os = br#"{"cluster_name":"c","version":{"distribution":"opensearch","number":"2.11.0"}}"#;
        assert_eq!(elasticsearch(os).map(|i| i.product), Some("OpenSearch".into()));
        // An authentication error, truncated JSON, garbage.
        assert_eq!(elasticsearch(br#"{"error":{"type":"security_exception"},"status":401}"#), None);
        assert_eq!(elasticsearch(br#"{"version":{"number":"7."#), None);
        assert_eq!(elasticsearch(b"\xff\xfe"), None);
    }
}
