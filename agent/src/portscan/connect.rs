//! TCP connect scan: the kernel does the handshake; works without privileges.
//!
//! Probes go out port-major across hosts (port 1 to every host, then port 2, ...), each after a
//! per-host and a total rate cell. The work is split into one shard task per core; each shard keeps
//! its connections in flight inside its own task (a `FuturesUnordered`, at most `concurrency / shards`
//! at once), so a finished connect never needs a wakeup on another thread. "Too many open files" or
//! exhausted local ports are conditions, not crashes: the probe waits and is tried again, and the
//! shard's in-flight cap is halved. A connect that times out is retried `retries` times, then the
//! port is filtered. A host that has accepted connections on at least 100 ports and on 90 % of the
//! attempts finished so far answers everything ([`super::middlebox`]): its remaining ports are not
//! tried and stay `unscanned`.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::net::TcpStream;
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
    /// Connections in flight at most, over all shards.
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
    hosts: Vec<IpAddr>,
    ports: Vec<u16>,
    states: Vec<AtomicU8>,
    sent: AtomicU64,
    retransmissions: AtomicU64,
    resource_errors: AtomicUsize,
    /// Per host: connections accepted, and first attempts finished.
    open: Vec<AtomicU32>,
    finished: Vec<AtomicU32>,
}

impl Shared {
    fn answers_everything(&self, host: usize) -> bool {
        super::middlebox::answers_everything(
            u64::from(self.open[host].load(Ordering::Relaxed)),
            u64::from(self.finished[host].load(Ordering::Relaxed)),
        )
    }

    fn record(&self, host: usize, state: u8, first_attempt: bool) {
        if first_attempt {
            self.finished[host].fetch_add(1, Ordering::Relaxed);
        }
        if state == OPEN {
            self.open[host].fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct ShardJob {
    shard: usize,
    shards: usize,
    pass: u8,
    cap: usize,
    timeout: Duration,
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
    let counters = |_| AtomicU32::new(0);
    let shared = Arc::new(Shared {
        open: (0..hosts.len()).map(counters).collect(),
        finished: (0..hosts.len()).map(counters).collect(),
        hosts,
        ports: ports.to_vec(),
        states: (0..n).map(|_| AtomicU8::new(PENDING)).collect(),
        sent: AtomicU64::new(0),
        retransmissions: AtomicU64::new(0),
        resource_errors: AtomicUsize::new(0),
    });
    progress.phase(config.phase, n as u64);
    let shards = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1).clamp(1, 8).min(n.max(1));
    let mut complete = true;
    for pass in 0..=config.retries {
        let mut tasks = JoinSet::new();
        for shard in 0..shards {
            let job =
                ShardJob { shard, shards, pass, cap: (config.concurrency / shards).max(1), timeout: config.timeout };
            let (shared, limiter, progress, stop) = (shared.clone(), limiter.clone(), progress.clone(), stop.clone());
            tasks.spawn(async move { run_shard(job, &shared, &limiter, &progress, &stop).await });
        }
        while let Some(done) = tasks.join_next().await {
            complete &= done.unwrap_or(false);
        }
        if !complete {
            break;
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
        hosts: shared.hosts.clone(),
        ports: shared.ports.clone(),
        states,
        probes_sent: shared.sent.load(Ordering::Relaxed),
        retransmissions: shared.retransmissions.load(Ordering::Relaxed),
        complete,
    }
}

/// One shard's share of a pass: indices `shard, shard + shards, ...` in port-major order.
async fn run_shard(
    job: ShardJob,
    shared: &Shared,
    limiter: &Limiter,
    progress: &Progress,
    stop: &CancellationToken,
) -> bool {
    let (nh, np) = (shared.hosts.len(), shared.ports.len());
    let mut cap = job.cap;
    let mut inflight = FuturesUnordered::new();
    let mut seen_errors = 0;
    for order in (job.shard..nh * np).step_by(job.shards) {
        let (pi, hi) = (order / nh, order % nh);
        let idx = hi * np + pi;
        let st = shared.states[idx].load(Ordering::Relaxed);
        if !(st == PENDING || (job.pass > 0 && st == TIMED_OUT)) || shared.answers_everything(hi) {
            continue;
        }
        while inflight.len() >= cap {
            tokio::select! {
                _ = stop.cancelled() => return false,
                Some(open) = inflight.next() => count_open(open, progress),
            }
        }
        let host = shared.hosts[hi];
        tokio::select! {
            _ = stop.cancelled() => return false,
            _ = limiter.acquire(host) => {}
        }
        if job.pass > 0 {
            shared.retransmissions.fetch_add(1, Ordering::Relaxed);
        }
        progress.sent(job.pass == 0);
        let addr = SocketAddr::new(host, shared.ports[pi]);
        let first_attempt = job.pass == 0;
        inflight.push(async move {
            let state = connect_once(addr, job.timeout, shared).await;
            shared.states[idx].store(state, Ordering::Relaxed);
            shared.record(hi, state, first_attempt);
            state == OPEN
        });
        let errors = shared.resource_errors.load(Ordering::Relaxed);
        if errors > seen_errors {
            seen_errors = errors;
            cap = (cap / 2).max(1);
        }
    }
    loop {
        tokio::select! {
            _ = stop.cancelled() => return false,
            next = inflight.next() => match next {
                Some(open) => count_open(open, progress),
                None => return true,
            },
        }
    }
}

fn count_open(open: bool, progress: &Progress) {
    if open {
        progress.open_ports.fetch_add(1, Ordering::Relaxed);
    }
}

/// One connection attempt, retried in place on local resource exhaustion.
async fn connect_once(addr: SocketAddr, timeout: Duration, shared: &Shared) -> u8 {
    let mut pause = Duration::from_millis(10);
    loop {
        shared.sent.fetch_add(1, Ordering::Relaxed);
        let result = match tokio::time::timeout(timeout, connect(addr)).await {
            Err(_elapsed) => return TIMED_OUT,
            Ok(r) => r,
        };
        let Err(e) = result else { return OPEN };
        match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => return CLOSED,
            Some(libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EACCES | libc::EPERM) => return FILTERED,
            Some(libc::EMFILE | libc::ENFILE | libc::EADDRNOTAVAIL | libc::ENOBUFS) => {
                // Our own limits, not the target's answer: fewer in flight, wait, retry.
                shared.sent.fetch_sub(1, Ordering::Relaxed);
                if shared.resource_errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(error = %e, "lokale limiet bereikt, minder gelijktijdige verbindingen / local limit reached, fewer connections in flight");
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            _ if e.kind() == ErrorKind::TimedOut => return TIMED_OUT,
            _ => return FILTERED,
        }
    }
}

/// A non-blocking connect that looks at the socket's error before registering it with the reactor:
/// on a fast network the refusal is often already there, which saves two `epoll_ctl` calls and a
/// wakeup per closed port. `Ok` means the handshake completed.
async fn connect(addr: SocketAddr) -> std::io::Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM.nonblocking(), Some(Protocol::TCP))?;
    match sock.connect(&addr.into()) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    if let Some(e) = sock.take_error()? {
        return Err(e);
    }
    let stream = TcpStream::from_std(std::net::TcpStream::from(sock))?;
    stream.writable().await?;
    match stream.take_error()? {
        Some(e) => Err(e),
        None => stream.peer_addr().map(|_| ()),
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

    #[tokio::test]
    async fn a_host_accepting_every_connection_is_left_after_a_hundred() {
        // 400 real listeners on loopback: a host where (nearly) every port is open.
        let listeners: Vec<std::net::TcpListener> =
            (0..400).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind")).collect();
        let ports: Vec<u16> = listeners.iter().map(|l| l.local_addr().expect("addr").port()).collect();
        let scope = Scope::new(&["127.0.0.1".into()], &[], &[]).expect("scope");
        let limiter = Arc::new(Limiter::new(RateCaps { total: 10_000, per_host: 10_000 }));
        let progress = Arc::new(Progress::default());
        let config = ConnectConfig { concurrency: 8, ..ConnectConfig::default() };
        let host: IpAddr = "127.0.0.1".parse().expect("ip");
        let out = scan(&[host], &ports, &scope, &limiter, &progress, &config, &CancellationToken::new()).await;
        let open = out.states.iter().filter(|s| **s == PortState::Open).count();
        let unscanned = out.states.iter().filter(|s| **s == PortState::Unscanned).count();
        assert_eq!(open + unscanned, ports.len(), "{:?}", out.states);
        assert!((100..150).contains(&open), "stopped soon after 100 accepted connections: {open}");
        assert_eq!(out.probes_sent, open as u64);
        assert!(super::super::middlebox::answers_everything(open as u64, open as u64));
        drop(listeners);
    }
}
