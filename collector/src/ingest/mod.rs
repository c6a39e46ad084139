//! Ingest: from a summary message to a stored row and a receipt.
//!
//! For each message on `/tenants/<agent>/wijk/v1/summary`: the payload is bounded, parsed and
//! validated ([`wijk_protocol::SignedSummary::decode`]), the summary must name the agent of its
//! topic, that agent must be enrolled, and the signature must verify with its enrolled key
//! ([`judge`]). Messages come in batches: every good summary of a batch is stored in one transaction
//! (each `(agent, seq)` once: the same content again is a duplicate, other content under a stored
//! `seq` a `seq-conflict`), every refused one is kept (bounded) with its reason, and only then are
//! the receipts handed out, so a receipt always describes something durable. A batch the store cannot take gets no receipts: the
//! agents keep those summaries in their outboxes and send them again.
//!
//! A batch goes through two steps: [`Ingest::judge`] (decoding and signatures, spread over the
//! cores) and [`Ingest::commit`] (the store, the trends, the receipts, one thread).
//! [`Ingest::commit_and_judge`] does both at once for two consecutive batches, so the store's
//! time and the signatures' time overlap; batches are still committed in the order they came.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use wijk_protocol::{topics, Receipt, ReceiptStatus};

use crate::feed::{AdviceOut, Feed};
use crate::org::Org;
use crate::store::{Outcome, Rejected, Store, StoreError, SummaryRow, REJECTED_KEEP};

mod judge;
pub mod throttle;
use judge::{Refusal, Verdict};

/// Why a replayed `seq` with other content is refused (the agent sets that summary aside).
const CONFLICT_DETAIL: &str = "this seq was stored before with other content; an agent never reuses a seq \
     (was its state directory restored from an older copy?)";

/// Most messages taken into one batch (one transaction, one wait for the disk). Under load the
/// queue holds more than this, and each batch is full: a larger batch spreads the commit's fsync
/// (about 5 ms on this project's test machine) and the per-batch work over more summaries, and
/// gives each judging thread a larger batch verification. 2,048 summaries of 1 KiB are judged in
/// about 20 ms on two cores.
pub const MAX_BATCH: usize = 2048;

/// One message from the broker.
#[derive(Debug, Clone)]
pub struct Message {
    /// Topic it was published on.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// When wijkpost read it from the broker (for the ingest lag).
    pub received: std::time::Instant,
}

impl Message {
    /// A message read now.
    pub fn new(topic: String, payload: Vec<u8>) -> Message {
        Message { topic, payload, received: std::time::Instant::now() }
    }
}

/// A receipt to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The agent's receipt topic.
    pub topic: String,
    /// The receipt.
    pub receipt: Receipt,
}

/// Counters for `/metrics` and the logs.
#[derive(Debug, Default)]
pub struct Stats {
    /// Summaries stored.
    pub stored: AtomicU64,
    /// Summaries that were stored before.
    pub duplicates: AtomicU64,
    /// Messages refused, per reason.
    pub rejected: Mutex<HashMap<String, u64>>,
    /// Batches the store failed to take (each attempt).
    pub store_failures: AtomicU64,
    /// Whether the store refuses the batch in hand now (a full disk, a database down).
    pub store_failing: AtomicBool,
    /// Messages dropped unread because their agent was over its budget ([`throttle`]).
    pub throttled: AtomicU64,
    /// Agents over their budget recently, by agent id ([`Stats::throttled_now`]).
    pub throttled_agents: Mutex<HashMap<String, throttle::Episode>>,
    /// The last stored batch's lag, ms: from reading its oldest message to having stored it.
    pub lag_ms: AtomicU64,
}

impl Stats {
    fn reject(&self, reason: &str) {
        if let Ok(mut map) = self.rejected.lock() {
            *map.entry(reason.to_string()).or_default() += 1;
        }
    }

    /// Messages refused, all reasons together.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.lock().map(|m| m.values().sum()).unwrap_or(0)
    }
}

/// Turns batches of messages into stored rows and receipts.
pub struct Ingest {
    /// Enrolled keys by agent id; `None` remembered for unknown agents until the next enrollment
    /// could have happened (the cache is cleared every [`Ingest::UNKNOWN_TTL`] batches).
    keys: HashMap<String, Option<VerifyingKey>>,
    batches: u64,
    /// The threads that judge (one per core), kept for the life of the ingest: a thread started
    /// per batch would cost more than the judging of small batches, and start with a cold heap.
    /// `None` when they could not be started: then batches are judged on the calling thread.
    judges: Option<rayon::ThreadPool>,
    /// The store and what follows it.
    committer: Committer,
}

/// The committing half of [`Ingest`]: what [`Ingest::commit`] needs, apart from the keys, so a
/// batch can be committed while the next one is judged with the keys.
struct Committer {
    store: Box<dyn Store>,
    /// Organisations of the enrolled agents in `keys`.
    orgs: HashMap<String, Org>,
    stats: Arc<Stats>,
    /// The trends index stored summaries go to, and the advice they make due.
    feed: Option<Feed>,
}

/// A batch judged ([`Ingest::judge`]) and waiting to be committed.
pub struct Judged {
    batch: Vec<Message>,
    verdicts: Vec<Verdict>,
    now: DateTime<Utc>,
}

impl std::fmt::Debug for Judged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judged").field("messages", &self.batch.len()).finish()
    }
}

impl Judged {
    /// Messages in it.
    pub fn len(&self) -> usize {
        self.batch.len()
    }

    /// Whether it holds no message.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }
}

/// A batch the store failed on: it comes back to be tried again, nothing of it answered.
#[derive(Debug)]
pub struct NotDone<B> {
    /// The messages ([`Ingest::judge`]) or the judged batch ([`Ingest::commit`]).
    pub batch: B,
    /// What the store said.
    pub error: StoreError,
}

/// What [`Ingest::judge`] gives: the judged batch, or the messages back when the store failed.
pub type JudgeResult = Result<Judged, Box<NotDone<Vec<Message>>>>;

/// What [`Ingest::commit`] gives: the receipts, or the judged batch back when the store failed.
pub type CommitResult = Result<Vec<Outgoing>, Box<NotDone<Judged>>>;

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("backend", &self.committer.store.backend())
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Ingest {
    /// Batches between forgetting which agents were unknown.
    pub const UNKNOWN_TTL: u64 = 64;

    /// An ingest writing to `store`, counting into `stats`.
    pub fn new(store: Box<dyn Store>, stats: Arc<Stats>) -> Ingest {
        let judges = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("judge-{i}"))
            .build()
            .inspect_err(|e| tracing::warn!("no threads to judge summaries with ({e}); judging on the ingest thread"))
            .ok();
        Ingest {
            keys: HashMap::new(),
            batches: 0,
            judges,
            committer: Committer { store, orgs: HashMap::new(), stats, feed: None },
        }
    }

    /// Also adds every stored summary to `feed`'s trends index.
    pub fn with_feed(mut self, feed: Feed) -> Ingest {
        self.committer.feed = Some(feed);
        self
    }

    /// The advice documents due now (see [`Feed::advice_due`]); none without a feed.
    pub fn advice_due(&mut self, idle: bool) -> Vec<AdviceOut> {
        self.committer.feed.as_mut().map(|f| f.advice_due(idle)).unwrap_or_default()
    }

    /// Its counters.
    pub fn stats(&self) -> &Stats {
        &self.committer.stats
    }

    /// Handles one batch; the receipts to publish, or the store's error (then nothing is answered).
    pub fn handle(&mut self, batch: &[Message], now: DateTime<Utc>) -> Result<Vec<Outgoing>, StoreError> {
        let judged = self.judge(batch.to_vec(), now).map_err(|e| e.error)?;
        self.commit(judged).map_err(|e| e.error)
    }

    /// Judges a batch (every check, signatures over all cores), nothing stored yet. Refused when
    /// the store cannot look up a key the batch needs.
    pub fn judge(&mut self, batch: Vec<Message>, now: DateTime<Utc>) -> JudgeResult {
        if let Err(error) = self.look_up_keys(&batch) {
            return Err(Box::new(NotDone { batch, error }));
        }
        let keys = &self.keys;
        let verdicts = match &self.judges {
            Some(judges) => judges.install(|| judge::judge_batch(&batch, keys, now)),
            None => judge::judge_batch(&batch, keys, now),
        };
        Ok(Judged { batch, verdicts, now })
    }

    /// Stores a judged batch and gives the receipts to publish; on the store's error the batch
    /// comes back untouched, to commit again (nothing of it is answered meanwhile).
    pub fn commit(&mut self, judged: Judged) -> CommitResult {
        self.committer.commit(judged)
    }

    /// Commits `current` on this thread while `next` is judged on others: what [`Ingest::commit`]
    /// gives for `current`, and what [`Ingest::judge`] gives for `next`.
    pub fn commit_and_judge(
        &mut self,
        current: Judged,
        next: Vec<Message>,
        now: DateTime<Utc>,
    ) -> (CommitResult, JudgeResult) {
        if let Err(error) = self.look_up_keys(&next) {
            return (self.commit(current), Err(Box::new(NotDone { batch: next, error })));
        }
        let (keys, committer) = (&self.keys, &mut self.committer);
        let Some(judges) = &self.judges else {
            return (
                committer.commit(current),
                Ok(Judged { verdicts: judge::judge_batch(&next, keys, now), batch: next, now }),
            );
        };
        let mut verdicts = Vec::new();
        // The commit runs here while the judges take the next batch; a panic in either goes on
        // as if on this thread (neither panics).
        let committed = judges.in_place_scope(|scope| {
            scope.spawn(|_| verdicts = judge::judge_batch(&next, keys, now));
            committer.commit(current)
        });
        (committed, Ok(Judged { batch: next, verdicts, now }))
    }

    /// Makes sure the keys of every agent `batch` names are in the cache.
    fn look_up_keys(&mut self, batch: &[Message]) -> Result<(), StoreError> {
        self.batches += 1;
        if self.batches.is_multiple_of(Self::UNKNOWN_TTL) {
            self.keys.retain(|_, k| k.is_some());
        }
        for message in batch {
            if let Some(agent) = topics::agent_of_summary(&message.topic) {
                if !self.keys.contains_key(agent) {
                    let enrolled = self.committer.store.agent(agent)?;
                    let key = enrolled.as_ref().and_then(|a| VerifyingKey::from_bytes(&a.signing_key).ok());
                    if let Some(a) = enrolled {
                        self.committer.orgs.insert(a.id, a.org);
                    }
                    self.keys.insert(agent.to_string(), key);
                }
            }
        }
        Ok(())
    }
}

impl Committer {
    fn commit(&mut self, judged: Judged) -> CommitResult {
        let rows: Vec<SummaryRow> = judged
            .verdicts
            .iter()
            .filter_map(|v| if let Verdict::Good(row, _) = v { Some(row.clone()) } else { None })
            .collect();
        let outcomes = match self.store.store_summaries(&rows) {
            Ok(o) => o,
            Err(e) => {
                self.stats.store_failures.fetch_add(1, Ordering::Relaxed);
                self.stats.store_failing.store(true, Ordering::Relaxed);
                return Err(Box::new(NotDone { batch: judged, error: e }));
            }
        };
        self.stats.store_failing.store(false, Ordering::Relaxed);
        let Judged { batch, verdicts, now } = judged;
        // What the store said, per message: a stored or duplicate status, or a refusal.
        let mut outcomes = outcomes.into_iter();
        let mut stored = Vec::new();
        let settled: Vec<Result<(SummaryRow, ReceiptStatus), Refusal>> = verdicts
            .into_iter()
            .map(|verdict| match verdict {
                Verdict::Good(row, summary) => match outcomes.next() {
                    Some(Outcome::Stored) => {
                        if let Some(org) = self.orgs.get(&row.agent) {
                            stored.push((org.clone(), row.agent.clone(), row.seq, row.received_at, *summary));
                        }
                        Ok((row, ReceiptStatus::Stored))
                    }
                    Some(Outcome::Conflict) => Err(Refusal {
                        agent: Some(row.agent),
                        seq: row.seq,
                        reason: "seq-conflict",
                        detail: CONFLICT_DETAIL.to_string(),
                    }),
                    Some(Outcome::Duplicate) | None => Ok((row, ReceiptStatus::Duplicate)),
                },
                Verdict::Refused(refusal) => Err(refusal),
            })
            .collect();
        let rejected: Vec<Rejected> = settled
            .iter()
            .zip(&batch)
            .filter_map(|(v, m)| match v {
                Err(Refusal { agent, reason, detail, .. }) => Some(Rejected {
                    agent: agent.clone(),
                    topic: m.topic.chars().take(256).collect(),
                    reason: reason.to_string(),
                    detail: detail.clone(),
                    received_at: now,
                    payload: m.payload.iter().take(crate::store::REJECTED_PAYLOAD_MAX).copied().collect(),
                }),
                _ => None,
            })
            .collect();
        // The good summaries are committed: a refusal record that cannot be written (a full disk)
        // must not fail the batch, or its retry would answer them `duplicate` and leave them out
        // of the trends. The refusals are still answered and counted here.
        if !rejected.is_empty() {
            if let Err(e) = self.store.record_rejected(&rejected, REJECTED_KEEP) {
                self.stats.store_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    "{} refused messages not recorded in the database ({e}){}",
                    rejected.len(),
                    if e.is_disk_full() { crate::store::DISK_FULL_ADVICE } else { "" }
                );
            }
        }
        if let Some(feed) = &mut self.feed {
            feed.add(stored);
        }
        if let Some(oldest) = batch.iter().map(|m| m.received).min() {
            let lag = u64::try_from(oldest.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.stats.lag_ms.store(lag, Ordering::Relaxed);
        }
        let mut receipts = Vec::with_capacity(batch.len());
        for verdict in settled {
            match verdict {
                Ok((row, status)) => {
                    let counter =
                        if status == ReceiptStatus::Stored { &self.stats.stored } else { &self.stats.duplicates };
                    counter.fetch_add(1, Ordering::Relaxed);
                    receipts.push(Outgoing {
                        topic: topics::receipt(&row.agent),
                        receipt: Receipt::new(row.seq, status, None),
                    });
                }
                Err(Refusal { agent, seq, reason, detail }) => {
                    self.stats.reject(reason);
                    if let Some(agent) = agent {
                        let why = format!("{reason}: {}", detail.chars().take(200).collect::<String>());
                        receipts.push(Outgoing {
                            topic: topics::receipt(&agent),
                            receipt: Receipt::new(seq, ReceiptStatus::Rejected, Some(why)),
                        });
                    }
                }
            }
        }
        Ok(receipts)
    }
}

/// What ingest makes of one message before the store has its say, without a store: the row it
/// would store, or the refusal's reason code and detail. `key` is the enrolled key of the agent
/// the topic names (`None`: not enrolled). For the fuzz targets in `fuzz/` and for tests.
#[doc(hidden)]
pub fn judge_one(
    message: &Message,
    key: Option<VerifyingKey>,
    now: DateTime<Utc>,
) -> Result<SummaryRow, (&'static str, String)> {
    let mut keys = HashMap::new();
    if let Some(agent) = topics::agent_of_summary(&message.topic) {
        keys.insert(agent.to_string(), key);
    }
    match judge::judge_batch(std::slice::from_ref(message), &keys, now).pop() {
        Some(Verdict::Good(row, _)) => Ok(row),
        Some(Verdict::Refused(refusal)) => Err((refusal.reason, refusal.detail)),
        None => Err(("empty", "a batch of one message gave no verdict".to_string())),
    }
}

#[cfg(test)]
pub(crate) mod tests;
