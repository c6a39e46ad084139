//! Raw sweep: sends every (host, slot) probe of a plan under the rate limiter, with retransmission
//! for silence and back-off for hosts that stop answering. Used by discovery (ARP, ICMP echo, SYN and
//! ACK pings; the first answer settles a host) and by the SYN port scan (every slot settles itself).
//!
//! The sender walks the hosts round-robin, one probe per host per turn, so the load spreads over the
//! hosts and the per-host cap is met by skipping a host that has no budget left rather than stalling
//! the others. Probes carry a keyed cookie (TCP sequence number, ICMP identifier) so a reply is matched
//! to its probe without per-probe state ([`table`]). After each pass the sender waits `settle` for late
//! replies, then sends again what is still unanswered, up to `retries` times.
//!
//! Back-off: a host that answered most of what it was sent (at least 16 answers, at least half of the
//! probes up to its last answer) and then falls silent for `max(64, per_host/2)` probes is slowed to a
//! quarter of the per-host rate; if it stays silent for `max(16, per_host/8)` more, it is left alone
//! and its remaining slots are marked skipped. A host that answers little from the start (a firewall
//! dropping most ports) is not backed off: its silence is its answer.
//!
//! Answering everything: in a port scan, a host that has answered SYN-ACK on at least 100 ports and
//! on 90 % of those sent ([`crate::portscan::middlebox`]) is probed no further; its remaining slots
//! are marked skipped, so a middlebox that accepts every port costs a hundred probes, not 65,535.

pub mod slot;
pub mod table;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::net::{NetError, PacketIo, Probe, Reply};
use crate::progress::Progress;
use crate::rate::Limiter;
pub use slot::{Slot, SlotState};
pub use table::Table;

/// Back-off stage of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// Normal rate.
    Normal,
    /// Stopped answering; slowed to a quarter of the per-host rate.
    Slowed,
    /// Stayed silent after slowing; left alone.
    Abandoned,
}

/// How one sweep runs.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Retransmissions after the first pass.
    pub retries: u8,
    /// How long to wait for late replies after each pass.
    pub settle: Duration,
    /// Progress phase name.
    pub phase: &'static str,
    /// Sender threads. Each takes every n-th slot of every host, so all hosts are spread over all
    /// senders; more than one pays off only at high rates, where the kernel's per-packet work (done
    /// on the sending thread's core) is the bottleneck.
    pub senders: usize,
}

impl SweepConfig {
    /// Senders worth using for `rate` packets per second on this machine.
    pub fn senders_for(rate: u32) -> usize {
        if rate < 20_000 {
            return 1;
        }
        std::thread::available_parallelism().map(|n| n.get().min(4)).unwrap_or(1)
    }
}

/// Outcome of a sweep.
#[derive(Debug)]
pub struct SweepOutcome {
    /// The filled table.
    pub table: Arc<Table>,
    /// Back-off stage per host (same order as `table.hosts`).
    pub backoff: Vec<Backoff>,
    /// Probes sent, retransmissions included.
    pub probes_sent: u64,
    /// Retransmissions among them.
    pub retransmissions: u64,
    /// Probes the packet layer refused or failed to send.
    pub send_errors: u64,
    /// False if `stop` fired before the sweep finished.
    pub complete: bool,
    /// The reply channel, handed back for the next sweep on the same sockets.
    pub replies: Option<Receiver<Reply>>,
}

/// Back-off state of every host, shared by the senders.
struct HostBackoff {
    stage: Vec<AtomicU8>,
    slowed_at: Vec<AtomicU32>,
}

struct Sender<'a> {
    io: &'a dyn PacketIo,
    limiter: &'a Limiter,
    table: &'a Table,
    progress: &'a Progress,
    stop: &'a CancellationToken,
    hosts: &'a HostBackoff,
    /// This sender takes slots `shard, shard + shards, ...` of every host.
    shard: usize,
    shards: usize,
    sent: u64,
    retransmissions: u64,
    send_errors: u64,
    last_error: Option<String>,
}

/// Runs a sweep to completion (or until `stop`) on the calling thread; replies are read from
/// `replies` on a helper thread.
pub fn run(
    io: &dyn PacketIo,
    replies: Receiver<Reply>,
    table: Arc<Table>,
    limiter: &Limiter,
    progress: &Arc<Progress>,
    config: &SweepConfig,
    stop: &CancellationToken,
) -> SweepOutcome {
    let done = CancellationToken::new();
    let receiver = spawn_receiver(replies, table.clone(), progress.clone(), done.clone());
    let hosts = HostBackoff {
        stage: (0..table.hosts.len()).map(|_| AtomicU8::new(0)).collect(),
        slowed_at: (0..table.hosts.len()).map(|_| AtomicU32::new(0)).collect(),
    };
    let shards = config.senders.clamp(1, table.slots.len().max(1));
    let mut senders: Vec<Sender<'_>> = (0..shards)
        .map(|shard| Sender {
            io,
            limiter,
            table: &table,
            progress,
            stop,
            hosts: &hosts,
            shard,
            shards,
            sent: 0,
            retransmissions: 0,
            send_errors: 0,
            last_error: None,
        })
        .collect();
    progress.phase(config.phase, (table.hosts.len() * table.slots.len()) as u64);
    let mut complete = true;
    for pass in 0..=config.retries {
        if table.pending.load(Ordering::Relaxed) == 0 {
            break;
        }
        table.begin_pass(pass);
        let finished = std::thread::scope(|scope| {
            let running: Vec<_> = senders.iter_mut().map(|s| scope.spawn(move || s.pass(pass))).collect();
            running.into_iter().all(|r| r.join().unwrap_or(false))
        });
        if !finished || !settle(&table, config.settle, stop) {
            complete = false;
            break;
        }
    }
    done.cancel();
    let replies = receiver.join().ok();
    let send_errors = senders.iter().map(|s| s.send_errors).sum();
    if let Some(e) = senders.iter().find_map(|s| s.last_error.as_ref()) {
        tracing::warn!(errors = send_errors, last = %e, "niet alle pakketten verzonden / not every probe was sent");
    }
    SweepOutcome {
        table: table.clone(),
        backoff: hosts.stage.iter().map(|b| decode_backoff(b.load(Ordering::Relaxed))).collect(),
        probes_sent: senders.iter().map(|s| s.sent).sum(),
        retransmissions: senders.iter().map(|s| s.retransmissions).sum(),
        send_errors,
        complete,
        replies,
    }
}

fn decode_backoff(v: u8) -> Backoff {
    match v {
        1 => Backoff::Slowed,
        2 => Backoff::Abandoned,
        _ => Backoff::Normal,
    }
}

/// Applies replies to the table. Polls rather than blocks, so a busy channel is drained in batches
/// without a wakeup per reply.
fn spawn_receiver(
    replies: Receiver<Reply>,
    table: Arc<Table>,
    progress: Arc<Progress>,
    done: CancellationToken,
) -> std::thread::JoinHandle<Receiver<Reply>> {
    std::thread::spawn(move || loop {
        match replies.try_recv() {
            Ok(r) => {
                if let Some(applied) = table.apply(&r) {
                    if applied.newly_open {
                        progress.open_ports.fetch_add(1, Ordering::Relaxed);
                    }
                    if applied.newly_alive && table.host_level {
                        progress.hosts_up.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Err(TryRecvError::Empty) if done.is_cancelled() => return replies,
            Err(TryRecvError::Empty) => std::thread::sleep(Duration::from_micros(500)),
            Err(TryRecvError::Disconnected) => return replies,
        }
    })
}

/// Waits up to `settle` for late replies; returns early when nothing is pending. False if stopped.
fn settle(table: &Table, settle: Duration, stop: &CancellationToken) -> bool {
    let until = Instant::now() + settle;
    while Instant::now() < until {
        if stop.is_cancelled() {
            return false;
        }
        if table.pending.load(Ordering::Relaxed) == 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    !stop.is_cancelled()
}

impl Sender<'_> {
    /// One pass over every pending (host, slot). False if stopped.
    fn pass(&mut self, pass: u8) -> bool {
        let table = self.table;
        let nslots = table.slots.len();
        let (first, step) = (self.shard as u32, self.shards as u32);
        let mut active: VecDeque<(u32, u32)> = (0..table.hosts.len() as u32).map(|h| (h, first)).collect();
        let mut blocked_in_a_row = 0usize;
        let mut shortest_wait = Duration::from_millis(50);
        let mut since_shrink = 0u32;
        while let Some((h, mut cursor)) = active.pop_front() {
            if self.stop.is_cancelled() {
                return false;
            }
            let hi = h as usize;
            if table.host_level && table.alive(hi) {
                continue;
            }
            while (cursor as usize) < nslots && table.state(hi, cursor as usize) != SlotState::Pending {
                cursor += step;
            }
            if cursor as usize >= nslots {
                continue;
            }
            let stage = self.update_backoff(hi);
            if stage == Backoff::Abandoned || self.answers_everything(hi) {
                (cursor as usize..nslots).step_by(step as usize).for_each(|s| table.skip(hi, s));
                continue;
            }
            let ip = table.hosts[hi];
            if let Err(wait) = self.limiter.try_host(ip, stage == Backoff::Slowed) {
                shortest_wait = shortest_wait.min(wait);
                blocked_in_a_row += 1;
                active.push_back((h, cursor));
                if blocked_in_a_row >= active.len() {
                    std::thread::sleep(shortest_wait.max(Duration::from_micros(50)));
                    blocked_in_a_row = 0;
                    shortest_wait = Duration::from_millis(50);
                }
                continue;
            }
            blocked_in_a_row = 0;
            if !self.limiter.wait_total_blocking(self.stop) {
                return false;
            }
            self.send(hi, table.slots[cursor as usize], pass);
            if ((cursor + step) as usize) < nslots {
                active.push_back((h, cursor + step));
            }
            since_shrink += 1;
            if since_shrink >= 4096 {
                self.limiter.shrink();
                since_shrink = 0;
            }
        }
        true
    }

    fn send(&mut self, host: usize, slot: Slot, pass: u8) {
        let t = self.table;
        let dst = t.hosts[host];
        let probe = match slot {
            Slot::Syn(port) => {
                Probe::TcpSyn { dst, dport: port, sport: t.sport, seq: t.cookie.tagged(dst, port, pass) }
            }
            Slot::Ack(port) => {
                Probe::TcpAck { dst, dport: port, sport: t.sport, ack: t.cookie.tagged(dst, port, pass) }
            }
            Slot::Echo => Probe::Echo { dst, ident: t.ident, seq: u16::from(pass) },
            Slot::Arp => match dst {
                IpAddr::V4(v4) => Probe::Arp { dst: v4 },
                IpAddr::V6(_) => return,
            },
        };
        t.note_sent(host, pass == 0);
        match self.io.send(&probe) {
            Ok(()) => {
                self.sent += 1;
                if pass > 0 {
                    self.retransmissions += 1;
                }
                self.progress.sent(pass == 0);
            }
            Err(e) => {
                self.send_errors += 1;
                if matches!(e, NetError::OutOfScope(_)) {
                    tracing::error!(%e, "scope guard refused a probe");
                }
                self.last_error = Some(e.to_string());
            }
        }
    }

    /// Whether the host answers on (nearly) every port; says so once, when first noticed.
    fn answers_everything(&self, host: usize) -> bool {
        if !self.table.answers_everything(host) {
            return false;
        }
        if !self.table.counters[host].answers_everything.swap(true, Ordering::Relaxed) {
            tracing::info!(
                host = %self.table.hosts[host],
                "host antwoordt op elke poort: niet verder gescand / host answers on every port: not scanned further"
            );
        }
        true
    }

    fn update_backoff(&self, host: usize) -> Backoff {
        let stage = decode_backoff(self.hosts.stage[host].load(Ordering::Relaxed));
        if self.table.host_level || stage == Backoff::Abandoned {
            return stage;
        }
        let c = &self.table.counters[host];
        let sent = c.sent.load(Ordering::Relaxed);
        let answers = c.answers.load(Ordering::Relaxed);
        let last = c.sent_at_last_answer.load(Ordering::Relaxed);
        let answered_well = answers >= 16 && u64::from(answers) * 2 >= u64::from(last);
        let per_host = self.limiter.caps().per_host;
        match stage {
            Backoff::Normal if answered_well && sent.saturating_sub(last) > (per_host / 2).max(64) => {
                self.hosts.stage[host].store(1, Ordering::Relaxed);
                self.hosts.slowed_at[host].store(sent, Ordering::Relaxed);
                tracing::info!(host = %self.table.hosts[host], "host antwoordt niet meer: vertraagd / host stopped answering: slowed");
                Backoff::Slowed
            }
            Backoff::Slowed => {
                let slowed_at = self.hosts.slowed_at[host].load(Ordering::Relaxed);
                let since = sent.saturating_sub(last.max(slowed_at));
                if last > slowed_at {
                    return Backoff::Slowed; // answered again while slowed: keep going, gently
                }
                if since > (per_host / 8).max(16) {
                    self.hosts.stage[host].store(2, Ordering::Relaxed);
                    tracing::warn!(host = %self.table.hosts[host], "host blijft stil: met rust gelaten / host stays silent: left alone");
                    Backoff::Abandoned
                } else {
                    Backoff::Slowed
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;
