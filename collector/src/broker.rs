//! The MQTT broker wijkpost listens on: by default an embedded rumqttd with TLS and client
//! certificates (DESIGN.md, "MQTT topics").
//!
//! rumqttd is built with `verify-client-cert` and `validate-tenant-prefix`: a client must show a
//! certificate signed by wijkpost's CA, its Organization (the agent id) becomes its tenant, and every
//! topic it publishes or subscribes to must start with `/tenants/<agent>/`. wijkpost itself talks to
//! the router through an in-process link, which has no tenant and sees every agent's topics.
//!
//! rumqttd keeps its router and listener on threads of its own and offers no way to stop them; they
//! end with the process. The listener's address is checked free before start, and start is
//! confirmed by seeing the address taken, so a wrong address is a clear error instead of a silent
//! thread.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use rumqttd::local::{LinkRx, LinkTx};

/// Largest MQTT payload the broker accepts (a signed summary is at most 64 KiB).
pub const MAX_PAYLOAD: usize = 80 * 1024;

/// Errors starting the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr} for MQTT: {source}; choose another --mqtt address or stop what uses it")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration was refused by rumqttd.
    #[error("broker configuration: {0}")]
    Config(String),
    /// The broker did not come up.
    #[error("the embedded broker did not start on {addr}: {why}")]
    Start {
        /// The address.
        addr: SocketAddr,
        /// What happened.
        why: String,
    },
}

/// The embedded broker, started, and wijkpost's link into it.
pub struct Embedded {
    /// Where agents connect (TLS).
    pub addr: SocketAddr,
    /// wijkpost's link: publish receipts and advice, subscribe to summaries.
    pub link_tx: LinkTx,
    /// wijkpost's link: what the router forwards.
    pub link_rx: LinkRx,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// TLS files of the broker's listener.
#[derive(Debug, Clone)]
pub struct TlsFiles<'a> {
    /// CA that signs client certificates.
    pub ca: &'a Path,
    /// Server certificate (PEM).
    pub cert: &'a Path,
    /// Server key (PEM).
    pub key: &'a Path,
}

/// Starts rumqttd on `listen` (port 0: a free port is picked) with TLS and client certificates.
pub fn start_embedded(listen: SocketAddr, tls: &TlsFiles<'_>) -> Result<Embedded, BrokerError> {
    let addr = {
        let probe = TcpListener::bind(listen).map_err(|source| BrokerError::Bind { addr: listen, source })?;
        probe.local_addr().map_err(|source| BrokerError::Bind { addr: listen, source })?
    };
    let config = config(addr, tls)?;
    let mut broker = rumqttd::Broker::new(config);
    let (link_tx, link_rx) = broker.link("wijkpost").map_err(|e| BrokerError::Config(e.to_string()))?;
    let (failed_tx, failed_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                let _ = failed_tx.send(e.to_string());
            }
        })
        .map_err(|e| BrokerError::Start { addr, why: e.to_string() })?;
    // Ready once the address is taken: binding it ourselves then fails. (Connecting instead would
    // make rumqttd log a failed TLS handshake.)
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(why) = failed_rx.try_recv() {
            return Err(BrokerError::Start { addr, why });
        }
        if TcpListener::bind(addr).is_err() {
            return Ok(Embedded { addr, link_tx, link_rx });
        }
        if Instant::now() > deadline {
            return Err(BrokerError::Start { addr, why: "no listener after 10 s".into() });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// rumqttd's configuration: one MQTT 3.1.1 listener with TLS, bounded payloads and memory.
fn config(addr: SocketAddr, tls: &TlsFiles<'_>) -> Result<rumqttd::Config, BrokerError> {
    let quote = |p: &Path| toml_string(&p.display().to_string());
    let text = format!(
        r#"
id = 0
[router]
id = 0
max_connections = 10010
max_outgoing_packet_count = 200
max_segment_size = 16777216
max_segment_count = 10

[v4.1]
name = "wijkpost-mqtts"
listen = "{addr}"
next_connection_delay_ms = 0
    [v4.1.tls]
    capath = {ca}
    certpath = {cert}
    keypath = {key}
    [v4.1.connections]
    connection_timeout_ms = 10000
    max_payload_size = {MAX_PAYLOAD}
    max_inflight_count = 200
    dynamic_filters = true
"#,
        ca = quote(tls.ca),
        cert = quote(tls.cert),
        key = quote(tls.key),
    );
    toml::from_str(&text).map_err(|e| BrokerError::Config(e.to_string()))
}

/// A TOML basic string for `s`.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_is_accepted_and_quotes_paths() {
        let weird = Path::new("/tmp/a \"b\"\\c/ca.crt");
        let files = TlsFiles { ca: weird, cert: Path::new("/x/server.crt"), key: Path::new("/x/server.key") };
        let config = config("127.0.0.1:8883".parse().expect("addr"), &files).expect("config");
        let v4 = config.v4.expect("v4");
        let server = v4.values().next().expect("one server");
        assert_eq!(server.connections.max_payload_size, MAX_PAYLOAD);
        assert!(server.tls.is_some());
    }

    #[test]
    fn a_taken_address_is_a_clear_error() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let files =
            TlsFiles { ca: Path::new("/nonexistent"), cert: Path::new("/nonexistent"), key: Path::new("/nonexistent") };
        let err = start_embedded(addr, &files).expect_err("taken");
        assert!(err.to_string().contains("--mqtt"), "{err}");
    }
}
