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
            let payload = if scope.is_fragile(host) || is_printer_port(port) {
                Vec::new()
            } else {
                udp_payloads::udp_payload(port).map(|p| p.to_vec()).unwrap_or_default()
            };
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
