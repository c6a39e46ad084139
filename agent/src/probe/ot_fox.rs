//! Tridium Niagara Fox identification (1911, and 4911 over TLS): the `fox hello` every Fox client
//! opens with, answered by the station with its name-plate (Niagara version, station and host name,
//! OS and Java VM). The same greeting nmap's `fox-info` sends; no login, no point is read.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::probe::io::{self, ProbeError, Session};
use crate::probe::{Limits, ServiceInfo, Target};

/// The client hello.
pub(crate) const HELLO: &[u8] = b"fox a 1 -1 fox hello\n{\nfox.version=s:1.0\nid=i:1\n};;\n";
/// Largest hello answer read.
const MAX_ANSWER: usize = 8 * 1024;
/// (Fox key, detail key) shown.
const SHOWN: [(&str, &str); 8] = [
    ("fox.version", "fox-version"),
    ("app.name", "app"),
    ("station.name", "station"),
    ("hostName", "host-name"),
    ("os.name", "os"),
    ("os.version", "os-version"),
    ("vm.name", "java-vm"),
    ("brandId", "brand"),
];

/// The `key=type:value` pairs of a hello answer; `None` when it is not a Fox hello.
pub(crate) fn parse_hello(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines();
    if !lines.next()?.starts_with("fox a ") {
        return None;
    }
    Some(
        lines
            .take_while(|l| !l.starts_with("};;"))
            .filter_map(|l| {
                let (key, typed) = l.split_once('=')?;
                let value = typed.split_once(':').map_or(typed, |(_, v)| v);
                Some((key.trim().to_string(), io::sanitize(value, 120)))
            })
            .take(64)
            .collect(),
    )
}

/// Sends the hello over `s` and fills `info` from the answer.
pub(super) async fn converse<S: AsyncRead + AsyncWrite + Unpin + Send>(
    mut s: Session<S>,
    info: &mut ServiceInfo,
) -> Result<(), ProbeError> {
    s.write_all(HELLO).await?;
    let answer = s.read_until(MAX_ANSWER, |b| b.windows(3).any(|w| w == b"};;")).await?;
    let pairs = parse_hello(&answer).ok_or_else(|| ProbeError::Protocol(io::sanitize_bytes(&answer, 40)))?;
    info.service = Some("fox".into());
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    for (key, detail) in SHOWN {
        if let Some(v) = get(key) {
            info.detail(detail, &v);
        }
    }
    info.product = Some("Tridium Niagara".into());
    info.version = get("app.version");
    Ok(())
}

/// Plain Fox (1911): connect, hello.
pub(super) async fn identify(target: &Target, limits: &Limits, info: &mut ServiceInfo) {
    crate::probe::over_connection(target, limits, info, converse).await;
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A Niagara 4 station's answer.
    pub(crate) const STATION: &[u8] = b"fox a 0 -1 fox hello\n\
{\n\
fox.version=s:1.0.1\n\
id=i:212\n\
hostName=s:jace-zwembad\n\
app.name=s:Station\n\
app.version=s:4.10.1.36\n\
vm.name=s:Java HotSpot(TM) Embedded Client VM\n\
os.name=s:QNX\n\
station.name=s:Zwembad_HVAC\n\
brandId=s:vykon\n\
};;\n";

    #[test]
    fn parses_a_station_hello() {
        let pairs = parse_hello(STATION).expect("hello");
        assert!(pairs.contains(&("app.version".to_string(), "4.10.1.36".to_string())));
        assert!(pairs.contains(&("station.name".to_string(), "Zwembad_HVAC".to_string())));
        assert_eq!(pairs.len(), 9);
    }

    #[test]
    fn refuses_other_protocols() {
        assert_eq!(parse_hello(b"HTTP/1.1 400 Bad Request\r\n\r\n"), None);
        assert_eq!(parse_hello(b""), None);
        assert_eq!(parse_hello(&[0xff; 64]), None);
        // an endless answer is cut
        let mut long = b"fox a 0 -1 fox hello\n{\n".to_vec();
        for i in 0..1000 {
            long.extend_from_slice(format!("k{i}=s:v\n").as_bytes());
        }
        assert_eq!(parse_hello(&long).map(|p| p.len()), Some(64));
    }
}
