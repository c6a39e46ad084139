//! SSDP / UPnP identification (UDP 1900): one unicast M-SEARCH for `ssdp:all`
//! ([`SSDP_MSEARCH`](crate::ports::udp_payloads::SSDP_MSEARCH)); from the first answer the `SERVER`
//! header (operating system, UPnP version, product, e.g. `Linux/4.14 UPnP/1.0 MiniUPnPd/2.1`), the
//! `LOCATION` of the device description, `ST` and `USN` become details. The description itself is
//! never fetched: the LOCATION may point anywhere, also outside the consent's scope.

use super::io::{self, ProbeError};
use super::{Limits, ServiceInfo, Target};
use crate::ports::udp_payloads::SSDP_MSEARCH;

/// Headers read from one answer, at most.
const MAX_HEADERS: usize = 32;

/// Parses an SSDP answer: `Some(headers)` (names lower-cased) when it starts with an HTTP 200 status.
pub(crate) fn parse_answer(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let status = lines.next()?;
    let mut parts = status.split_whitespace();
    let (proto, code) = (parts.next()?, parts.next()?);
    if !proto.to_ascii_uppercase().starts_with("HTTP/1.") || code != "200" {
        return None;
    }
    Some(
        lines
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .take(MAX_HEADERS)
            .collect(),
    )
}

/// `("MiniUPnPd", Some("2.1"))` from `Linux/4.14 UPnP/1.0 MiniUPnPd/2.1`: the last token that is
/// not the OS (first) or UPnP itself.
pub(crate) fn server_product(server: &str) -> Option<(String, Option<String>)> {
    let tokens: Vec<&str> = server.split([' ', ',']).filter(|t| !t.is_empty()).collect();
    let product = tokens.iter().skip(1).rev().find(|t| !t.to_ascii_lowercase().starts_with("upnp/"))?;
    let (name, version) = match product.split_once('/') {
        Some((n, v)) => (n, Some(io::sanitize(v, 40))),
        None => (*product, None),
    };
    (!name.is_empty()).then(|| (io::sanitize(name, 60), version))
}

/// Identifies SSDP on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::for_port(target, "ssdp");
    match io::udp_exchange(target, SSDP_MSEARCH, limits).await {
        Ok(bytes) => match parse_answer(&bytes) {
            Some(headers) => describe(&mut info, &headers),
            None => info.note = Some(ProbeError::Protocol(io::sanitize_bytes(&bytes, 40)).note()),
        },
        Err(e) => info.note = Some(e.note()),
    }
    info
}

/// Fills `info` from the headers of an answer.
fn describe(info: &mut ServiceInfo, headers: &[(String, String)]) {
    info.service = Some("ssdp".into());
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    for (header, key) in [("server", "server"), ("location", "location"), ("st", "st"), ("usn", "usn")] {
        if let Some(value) = get(header) {
            info.detail(key, value);
        }
    }
    if let Some((product, version)) = get("server").and_then(server_product) {
        info.product = Some(product);
        info.version = version;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake;

    /// A router's answer to M-SEARCH ssdp:all.
    const ROUTER: &[u8] = b"HTTP/1.1 200 OK\r\n\
CACHE-CONTROL: max-age=120\r\n\
ST: upnp:rootdevice\r\n\
USN: uuid:2b9f3e5c-0000-1000-8000-001122334455::upnp:rootdevice\r\n\
EXT:\r\n\
SERVER: Linux/4.14 UPnP/1.0 MiniUPnPd/2.1\r\n\
LOCATION: http://192.0.2.1:5000/rootDesc.xml\r\n\
\r\n";

    #[test]
    fn parses_an_answer() {
        let h = parse_answer(ROUTER).expect("answer");
        assert!(h.contains(&("location".to_string(), "http://192.0.2.1:5000/rootDesc.xml".to_string())));
        assert!(h.contains(&("ext".to_string(), String::new())));
        assert_eq!(server_product("Linux/4.14 UPnP/1.0 MiniUPnPd/2.1"), Some(("MiniUPnPd".into(), Some("2.1".into()))));
        assert_eq!(
            server_product("Microsoft-Windows/10.0 UPnP/1.0 UPnP-Device-Host/1.0"),
            Some(("UPnP-Device-Host".into(), Some("1.0".into())))
        );
        assert_eq!(server_product("Linux"), None);
    }

    #[test]
    fn refuses_garbage_and_non_200_answers() {
        assert_eq!(parse_answer(b""), None);
        assert_eq!(parse_answer(b"HTTP/1.1 400 Bad Request\r\n\r\n"), None);
        assert_eq!(parse_answer(b"NOTIFY * HTTP/1.1\r\n\r\n"), None);
        assert_eq!(parse_answer(&[0xff, 0x00, 0x13]), None);
        // a flood of headers is cut
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..500 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        assert_eq!(parse_answer(&many).map(|h| h.len()), Some(MAX_HEADERS));
    }

    async fn fake_device(reply: Option<&'static [u8]>) -> fake::Server {
        fake::udp(move |req| reply.filter(|_| req.starts_with(b"M-SEARCH")).map(<[u8]>::to_vec)).await
    }

    #[tokio::test]
    async fn reads_server_and_location() {
        let server = fake_device(Some(ROUTER)).await;
        let info = identify(&server.target, &fake::deadline(2000)).await;
        assert_eq!(info.service.as_deref(), Some("ssdp"));
        assert_eq!(info.details.get("server").map(String::as_str), Some("Linux/4.14 UPnP/1.0 MiniUPnPd/2.1"));
        assert_eq!(info.details.get("location").map(String::as_str), Some("http://192.0.2.1:5000/rootDesc.xml"));
        assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("MiniUPnPd"), Some("2.1")));
        assert!(info.observations.is_empty());
    }

    #[tokio::test]
    async fn a_silent_device_ends_within_the_limits() {
        let server = fake_device(None).await;
        fake::times_out(&server.target, 300, 800, identify).await;
    }
}
