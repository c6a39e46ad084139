//! UDP scan of the essential services with protocol-specific payloads (DNS, NTP, SNMP, NetBIOS, SSDP,
//! mDNS; see `ports::udp_payloads`).
//!
//! Each probe uses its own connected UDP socket, so the kernel hands us both the answer and an ICMP
//! port unreachable (as `ECONNREFUSED`) without raw sockets. An answer means open; unreachable means
//! closed; silence after one retry is open|filtered. Fragile hosts and printer ports get an empty
//! datagram instead of a payload: they can only turn out closed or open|filtered.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::PortState;
use crate::consent::Scope;
use crate::ports::{is_printer_port, udp_payloads};
use crate::progress::Progress;
use crate::rate::Limiter;

/// Result for one (host, port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpResult {
    /// Host.
    pub host: IpAddr,
    /// Port.
    pub port: u16,
    /// State.
    pub state: PortState,
    /// Whether the answer looked like the protocol we asked in.
    pub recognised: bool,
}

/// Outcome of a UDP scan.
#[derive(Debug, Default)]
pub struct UdpOutcome {
    /// One result per (host, port) that was probed.
    pub results: Vec<UdpResult>,
    /// Datagrams sent.
    pub probes_sent: u64,
    /// False if stopped early.
    pub complete: bool,
}

/// Probes every (host, port). Retries once on silence.
pub async fn scan(
    hosts: &[IpAddr],
    ports: &[u16],
    scope: &Scope,
    limiter: &Arc<Limiter>,
    progress: &Arc<Progress>,
    timeout: Duration,
    stop: &CancellationToken,
) -> UdpOutcome {
    let mut tasks = JoinSet::new();
    let mut out = UdpOutcome { complete: true, ..Default::default() };
    // Sockets in flight at most; the limiter decides the pace, this bounds open files and wakeups.
    let slots = Arc::new(Semaphore::new(256));
    progress.phase("udp", (hosts.len() * ports.len()) as u64);
    for &port in ports {
        for &host in hosts.iter().filter(|h| scope.contains(**h)) {
            let payload = payload_for(scope, host, port);
            let limiter = limiter.clone();
            let progress = progress.clone();
            let stop = stop.clone();
            let slots = slots.clone();
            tasks.spawn(async move {
                let Ok(_slot) = slots.acquire_owned().await else { return (None, 0) };
                probe(host, port, payload, timeout, &limiter, &progress, &stop).await
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        if let Ok((result, sent)) = r {
            out.probes_sent += sent;
            match result {
                Some(r) => {
                    if r.state == PortState::Open {
                        progress.open_ports.fetch_add(1, Ordering::Relaxed);
                    }
                    out.results.push(r);
                }
                None => out.complete = false,
            }
        }
    }
    out.results.sort_by_key(|r| (r.host, r.port));
    out
}

/// What to send to `host:port`: the protocol payload, or nothing at all for fragile hosts and printer
/// ports (an empty datagram can only show closed or open|filtered, and never upsets a device).
pub fn payload_for(scope: &Scope, host: IpAddr, port: u16) -> Vec<u8> {
    if scope.is_fragile(host) || is_printer_port(port) {
        return Vec::new();
    }
    udp_payloads::udp_payload(port).map(|p| p.to_vec()).unwrap_or_default()
}

async fn probe(
    host: IpAddr,
    port: u16,
    payload: Vec<u8>,
    timeout: Duration,
    limiter: &Limiter,
    progress: &Progress,
    stop: &CancellationToken,
) -> (Option<UdpResult>, u64) {
    let bind: SocketAddr = if host.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let mut sent = 0;
    let result = |state, recognised| Some(UdpResult { host, port, state, recognised });
    let Ok(sock) = UdpSocket::bind(bind).await else { return (result(PortState::Filtered, false), 0) };
    if sock.connect((host, port)).await.is_err() {
        return (result(PortState::Filtered, false), 0);
    }
    let mut buf = vec![0u8; 2048];
    for attempt in 0..2 {
        tokio::select! {
            _ = stop.cancelled() => return (None, sent),
            _ = limiter.acquire(host) => {}
        }
        if sock.send(&payload).await.is_err() {
            return (result(PortState::Filtered, false), sent);
        }
        sent += 1;
        progress.sent(attempt == 0);
        let answer = tokio::select! {
            _ = stop.cancelled() => return (None, sent),
            r = tokio::time::timeout(timeout, sock.recv(&mut buf)) => r,
        };
        match answer {
            Ok(Ok(n)) => {
                let recognised = udp_payloads::looks_like_reply(port, &buf[..n]);
                return (result(PortState::Open, recognised), sent);
            }
            Ok(Err(e)) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                return (result(PortState::Closed, false), sent);
            }
            Ok(Err(_)) => return (result(PortState::Filtered, false), sent),
            Err(_timeout) => {}
        }
    }
    (result(PortState::OpenFiltered, false), sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::RateCaps;

    #[test]
    fn fragile_hosts_and_printer_ports_never_get_a_payload() {
        let scope = Scope::new(&["198.18.0.0/24".into()], &[], &["198.18.0.9".into()]).expect("scope");
        let normal: IpAddr = "198.18.0.8".parse().expect("ip");
        let fragile: IpAddr = "198.18.0.9".parse().expect("ip");
        assert!(!payload_for(&scope, normal, 161).is_empty(), "SNMP gets its GetRequest");
        assert!(payload_for(&scope, fragile, 161).is_empty(), "a fragile host gets no payload");
        assert!(payload_for(&scope, normal, 9100).is_empty(), "a printer port gets no payload");
    }

    #[tokio::test]
    async fn an_answer_is_open_an_unreachable_is_closed() {
        let server = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let open = server.local_addr().expect("addr").port();
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let echo = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            if let Ok((n, from)) = server.recv_from(&mut buf).await {
                let _ = server.send_to(&buf[..n.max(1)], from).await;
            }
        });
        let scope = Scope::new(&["127.0.0.1".into()], &[], &[]).expect("scope");
        let limiter = Arc::new(Limiter::new(RateCaps { total: 1000, per_host: 1000 }));
        let progress = Arc::new(Progress::default());
        let host: IpAddr = "127.0.0.1".parse().expect("ip");
        let out = scan(
            &[host],
            &[open, closed],
            &scope,
            &limiter,
            &progress,
            Duration::from_millis(500),
            &CancellationToken::new(),
        )
        .await;
        echo.abort();
        let states: Vec<(u16, PortState)> = out.results.iter().map(|r| (r.port, r.state)).collect();
        let mut expected = vec![(open, PortState::Open), (closed, PortState::Closed)];
        expected.sort();
        assert_eq!(states, expected);
        assert!(out.complete);
    }
}
