//! TCP connect scan: the kernel does the handshake; works without privileges.
//!
//! Probes go out port-major across hosts (port 1 to every host, then port 2, ...), each after a
//! per-host and a total rate cell, with at most `concurrency` connections in flight (a semaphore,
//! separate from the limiter). "Too many open files" or exhausted local ports are conditions, not
//! crashes: the probe waits and is tried again, and concurrency is halved. A connect that times out
//! is retried once, then the port is filtered.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::PortState;
use crate::consent::Scope;
use crate::progress::Progress;
use crate::rate::Limiter;

/// Settings of a connect sweep.
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    /// Time allowed for one connect.
    pub timeout: Duration,
    /// Tries after the first for connects that timed out.
    pub retries: u8,
    /// Connections in flight at most.
    pub concurrency: usize,
    /// Progress phase name (`tcp`, or `discovery` for the connect ping).
    pub phase: &'static str,
}

impl Default for ConnectConfig {
    fn default() -> Self {
        ConnectConfig { timeout: Duration::from_millis(1000), retries: 1, concurrency: 512, phase: "tcp" }
    }
}

/// Results: one state per (host, port), host-major.
#[derive(Debug)]
pub struct ConnectOutcome {
    /// Hosts in the order given.
    pub hosts: Vec<IpAddr>,
    /// Ports in the order given.
    pub ports: Vec<u16>,
    /// `states[h * ports.len() + p]`.
    pub states: Vec<PortState>,
    /// Connection attempts made.
    pub probes_sent: u64,
    /// Retries among them.
    pub retransmissions: u64,
    /// False if stopped early.
    pub complete: bool,
}

const PENDING: u8 = 0;
const OPEN: u8 = 1;
const CLOSED: u8 = 2;
const FILTERED: u8 = 3;
const TIMED_OUT: u8 = 4;

struct Shared {
    states: Vec<AtomicU8>,
    sent: AtomicU64,
    concurrency_cut: AtomicUsize,
}

/// Connects to every (host, port). `stop` ends it early; what was found is kept.
pub async fn scan(
    hosts: &[IpAddr],
    ports: &[u16],
    scope: &Scope,
    limiter: &Arc<Limiter>,
    progress: &Arc<Progress>,
    config: &ConnectConfig,
    stop: &CancellationToken,
) -> ConnectOutcome {
    let hosts: Vec<IpAddr> = hosts.iter().copied().filter(|h| scope.contains(*h)).collect();
    let n = hosts.len() * ports.len();
    let shared = Arc::new(Shared {
        states: (0..n).map(|_| AtomicU8::new(PENDING)).collect(),
        sent: AtomicU64::new(0),
        concurrency_cut: AtomicUsize::new(0),
    });
    progress.phase(config.phase, n as u64);
    let sem = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut complete = true;
    let mut retransmissions = 0u64;
    'passes: for pass in 0..=config.retries {
        let mut tasks = JoinSet::new();
        for (pi, &port) in ports.iter().enumerate() {
            for (hi, &host) in hosts.iter().enumerate() {
                let idx = hi * ports.len() + pi;
                let st = shared.states[idx].load(Ordering::Relaxed);
                if !(st == PENDING || (pass > 0 && st == TIMED_OUT)) {
                    continue;
                }
                let permit = tokio::select! {
                    _ = stop.cancelled() => { complete = false; break 'passes; }
                    p = sem.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break 'passes },
                };
                tokio::select! {
                    _ = stop.cancelled() => { complete = false; break 'passes; }
                    _ = limiter.acquire(host) => {}
                }
                if pass > 0 {
                    retransmissions += 1;
                }
                progress.sent(pass == 0);
                let shared = shared.clone();
                let timeout = config.timeout;
                let sem2 = sem.clone();
                tasks.spawn(async move {
                    let state = connect_once(SocketAddr::new(host, port), timeout, &shared, &sem2).await;
                    shared.states[idx].store(state, Ordering::Relaxed);
                    drop(permit);
                    state == OPEN
                });
                while let Some(done) = tasks.try_join_next() {
                    if matches!(done, Ok(true)) {
                        progress.open_ports.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        loop {
            tokio::select! {
                _ = stop.cancelled() => { complete = false; tasks.abort_all(); break 'passes; }
                next = tasks.join_next() => match next {
                    Some(Ok(true)) => { progress.open_ports.fetch_add(1, Ordering::Relaxed); }
                    Some(_) => {}
                    None => break,
                },
            }
        }
    }
    let states = shared
        .states
        .iter()
        .map(|s| match s.load(Ordering::Relaxed) {
            OPEN => PortState::Open,
            CLOSED => PortState::Closed,
            FILTERED | TIMED_OUT => PortState::Filtered,
            _ => PortState::Unscanned,
        })
        .collect();
    ConnectOutcome {
        hosts,
        ports: ports.to_vec(),
        states,
        probes_sent: shared.sent.load(Ordering::Relaxed),
        retransmissions,
        complete,
    }
}

/// One connection attempt, retried in place on local resource exhaustion.
async fn connect_once(addr: SocketAddr, timeout: Duration, shared: &Shared, sem: &Semaphore) -> u8 {
    let mut pause = Duration::from_millis(10);
    loop {
        shared.sent.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Err(_elapsed) => return TIMED_OUT,
            Ok(Ok(_stream)) => return OPEN,
            Ok(Err(e)) => match e.raw_os_error() {
                Some(libc::ECONNREFUSED) => return CLOSED,
                Some(libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EACCES | libc::EPERM) => return FILTERED,
                Some(libc::EMFILE | libc::ENFILE | libc::EADDRNOTAVAIL | libc::ENOBUFS) => {
                    // Our own limits, not the target's answer: shrink concurrency once and retry.
                    shared.sent.fetch_sub(1, Ordering::Relaxed);
                    if shared.concurrency_cut.fetch_add(1, Ordering::Relaxed) % 64 == 0 {
                        sem.forget_permits(sem.available_permits() / 2);
                        tracing::warn!(error = %e, "lokale limiet bereikt, minder gelijktijdige verbindingen / local limit reached, fewer connections in flight");
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                _ if e.kind() == ErrorKind::TimedOut => return TIMED_OUT,
                _ => return FILTERED,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::RateCaps;

    #[tokio::test]
    async fn open_and_closed_loopback_ports_are_told_apart() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let open = listener.local_addr().expect("addr").port();
        // A port that was just free: bind, note, drop.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let accept = tokio::spawn(async move { while listener.accept().await.is_ok() {} });
        let scope = Scope::new(&["127.0.0.1".into()], &[], &[]).expect("scope");
        let limiter = Arc::new(Limiter::new(RateCaps { total: 1000, per_host: 1000 }));
        let progress = Arc::new(Progress::default());
        let out = scan(
            &["127.0.0.1".parse().expect("ip"), "127.0.0.2".parse().expect("ip")],
            &[open, closed],
            &scope,
            &limiter,
            &progress,
            &ConnectConfig::default(),
            &CancellationToken::new(),
        )
        .await;
        accept.abort();
        assert_eq!(out.hosts.len(), 1, "127.0.0.2 is outside the scope and must not be probed");
        assert_eq!(out.states, vec![PortState::Open, PortState::Closed]);
        assert_eq!(out.probes_sent, 2);
        assert!(out.complete);
    }
}
