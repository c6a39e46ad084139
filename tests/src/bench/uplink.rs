//! The `uplink` job: summaries per second from agent to wijkpost and back (publish until receipt),
//! for the embedded stack (rumqttd + SQLite) and the scaled one (Mosquitto + PostgreSQL), each beside
//! the raw rate of the same broker for the same messages (published by the same agents on a topic of
//! their own and delivered back to them, without wijkpost in between).
//!
//! Every agent is enrolled through the real CLI; its summaries are signed with its own key before
//! the clock starts. Loopback only; every wait is bounded.
//!
//! Beside the wall-clock rates, each run counts the CPU time (user + system) the processes named
//! for it used: the load generator (this process), wijkpost (with the embedded broker inside it)
//! and an external broker. On a machine where every core is busy, the rates relate as the CPU
//! costs per message do, so `cpu_us_per_msg` shows where the time goes whatever else is running.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rumqttc::{Event, Packet, QoS};
use tokio::sync::Barrier;
use wijk_protocol::SignedSummary;

use super::cpu::{self, ThreadLoad};
use crate::collector::{enroll_agent, Collector};

/// Longest a run may take before it counts as failed.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// One stack's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figures {
    /// `embedded+sqlite` or `mosquitto+postgres`.
    pub stack: String,
    /// Summaries sent and answered.
    pub summaries: usize,
    /// Payload size of one summary, bytes.
    pub payload_bytes: usize,
    /// Summaries per second, first publish to last receipt.
    pub summaries_per_s: f64,
    /// The same broker's rate for the same messages, publish to delivery.
    pub raw_per_s: f64,
    /// The slowest and the fastest round of wijkpost (`summaries_per_s` is their median).
    pub summaries_range: (f64, f64),
    /// The slowest and the fastest round of the raw broker (`raw_per_s` is their median).
    pub raw_range: (f64, f64),
    /// CPU µs per summary, publish to receipt, of the counted processes.
    pub cpu_us_per_summary: f64,
    /// CPU µs per raw broker message, publish to delivery, of the same processes.
    pub raw_cpu_us_per_msg: f64,
    /// The busiest threads in the last raw round.
    pub raw_threads: Vec<ThreadLoad>,
    /// The busiest threads in the last summary round.
    pub summary_threads: Vec<ThreadLoad>,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Rate {
    /// Messages per second, first publish to last answer.
    pub per_s: f64,
    /// CPU µs (user + system) per message of the processes counted, in the same span.
    pub cpu_us_per_msg: f64,
    /// The busiest threads of the counted processes (the load generator's included), busiest first.
    pub threads: Vec<ThreadLoad>,
}

/// Threads listed in [`Rate::threads`].
const BUSIEST: usize = 8;

fn cpu_total(pids: &[u32]) -> f64 {
    pids.iter().map(|&p| cpu::process_seconds(p)).sum()
}

/// An enrolled agent of the load generator and the summaries it will publish, signed in advance.
#[derive(Debug, Clone)]
pub struct BenchAgent {
    /// Its state directory (keys, certificates).
    pub state: PathBuf,
    /// Its agent id.
    pub id: String,
    /// Signed summaries, seq 1, 2, ...
    pub payloads: Vec<Vec<u8>>,
}

impl BenchAgent {
    /// The same agent with only round `round` of its payloads (`per_round` each).
    pub fn round(&self, round: usize, per_round: usize) -> BenchAgent {
        let payloads = self.payloads.iter().skip(round * per_round).take(per_round).cloned().collect();
        BenchAgent { state: self.state.clone(), id: self.id.clone(), payloads }
    }
}

/// The median of `rates` (0 when empty).
pub fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates.get(rates.len() / 2).copied().unwrap_or(0.0)
}

/// The smallest and the largest of `rates` ((0, 0) when empty).
pub fn range(rates: &[f64]) -> (f64, f64) {
    let min = rates.iter().copied().reduce(f64::min).unwrap_or(0.0);
    let max = rates.iter().copied().reduce(f64::max).unwrap_or(0.0);
    (min, max)
}

/// Enrolls `agents` agents at `collector` under `work`, and signs `per_agent` summaries of
/// `report` for each.
pub fn prepare(
    collector: &Collector,
    work: &Path,
    report: &wijkagent::report::Report,
    agents: usize,
    per_agent: usize,
) -> Result<Vec<BenchAgent>> {
    let mut out = Vec::with_capacity(agents);
    for i in 0..agents {
        let state = work.join(format!("agent-{i}"));
        let id = enroll_agent(collector, &state, &format!("Bench {i}"))?;
        let loaded = wijkagent::uplink::state::State::load(&state).context("state")?;
        let payloads = (1..=per_agent as u64)
            .map(|seq| {
                let summary = wijkagent::summary::summarise(report, &id, seq);
                SignedSummary::sign(summary, &loaded.signing_key).to_bytes()
            })
            .collect();
        out.push(BenchAgent { state, id, payloads });
    }
    Ok(out)
}

/// Where the load generator publishes and what answers it counts.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The topic an agent publishes on.
    pub topic_of: fn(&str) -> String,
    /// The topic its answers come on.
    pub answer_of: fn(&str) -> String,
    /// How many of its messages one answer payload answers.
    pub answers_in: fn(&[u8]) -> usize,
}

impl Route {
    /// Summaries to wijkpost, answered by receipts (several in one `wijk.receipt/2`).
    pub fn summaries() -> Route {
        Route {
            topic_of: wijk_protocol::topics::summary,
            answer_of: wijk_protocol::topics::receipt,
            answers_in: |payload| wijk_protocol::read_receipts(payload).len(),
        }
    }

    /// The raw broker: each message delivered back on `topic_of`, the topic it was published on.
    pub fn echo(topic_of: fn(&str) -> String) -> Route {
        Route { topic_of, answer_of: topic_of, answers_in: |_| 1 }
    }
}

/// Every agent publishes its payloads on its `route` topic and counts the answers that come back;
/// returns messages per second from the common start to the last answer, and the CPU time per
/// message that this process and `pids` used meanwhile.
pub fn run(broker: &str, agents: &[BenchAgent], route: Route, pids: &[u32]) -> Result<Rate> {
    let pids: Vec<u32> = std::iter::once(std::process::id()).chain(pids.iter().copied()).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let barrier = Arc::new(Barrier::new(agents.len() + 1));
        let answered_all = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for agent in agents {
            let (state, id) = (&agent.state, &agent.id);
            let (client, mut events) = crate::mqtt::agent_client(broker, state, &format!("{id}-bench"), 4096)?;
            let (topic, answer, payloads, barrier) =
                ((route.topic_of)(id), (route.answer_of)(id), agent.payloads.clone(), barrier.clone());
            let answered_all = answered_all.clone();
            let want = payloads.len();
            tasks.push(tokio::spawn(async move {
                client.subscribe(answer.clone(), QoS::AtLeastOnce).await?;
                loop {
                    if let Event::Incoming(Packet::SubAck(_)) = events.poll().await? {
                        break;
                    }
                }
                barrier.wait().await;
                let _publisher = {
                    let client = client.clone();
                    tokio::spawn(async move {
                        for p in payloads {
                            if client.publish(topic.clone(), QoS::AtLeastOnce, false, p).await.is_err() {
                                return;
                            }
                        }
                    })
                };
                let mut answered = 0;
                while answered < want {
                    if let Event::Incoming(Packet::Publish(p)) = events.poll().await? {
                        if p.topic == answer {
                            let n = (route.answers_in)(&p.payload);
                            answered += n;
                            answered_all.fetch_add(n, Ordering::Relaxed);
                        }
                    }
                }
                let done = Instant::now();
                let _ = client.try_disconnect();
                anyhow::Ok(done)
            }));
        }
        let total: usize = agents.iter().map(|a| a.payloads.len()).sum();
        barrier.wait().await;
        let start = Instant::now();
        let cpu_start = cpu_total(&pids);
        let threads_start = cpu::threads_of(&pids);
        let progress = {
            let answered_all = answered_all.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    eprintln!("  {} of {total} answered", answered_all.load(Ordering::Relaxed));
                }
            })
        };
        let mut last = start;
        for task in tasks {
            let remaining = RUN_LIMIT.saturating_sub(start.elapsed());
            let Ok(done) = tokio::time::timeout(remaining, task).await else {
                progress.abort();
                let answered = answered_all.load(Ordering::Relaxed);
                anyhow::bail!("only {answered} of {total} answered within {RUN_LIMIT:?}");
            };
            last = last.max(done??);
        }
        progress.abort();
        let cpu = cpu_total(&pids) - cpu_start;
        let wall = (last - start).as_secs_f64();
        let threads = cpu::busiest(&threads_start, &cpu::threads_of(&pids), wall, total, BUSIEST);
        Ok(Rate { per_s: total as f64 / wall, cpu_us_per_msg: cpu * 1e6 / total as f64, threads })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_and_the_range_of_rounds() {
        let rounds = [82_772.0, 161_719.0, 115_983.0, 99_000.0, 120_500.0];
        assert_eq!(median(rounds.to_vec()), 115_983.0);
        assert_eq!(range(&rounds), (82_772.0, 161_719.0));
        assert_eq!((median(Vec::new()), range(&[])), (0.0, (0.0, 0.0)));
    }
}
