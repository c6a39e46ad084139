//! Ingest: from a summary message to a stored row and a receipt.
//!
//! For each message on `/tenants/<agent>/wijk/v1/summary`: the payload is bounded, parsed and
//! validated ([`wijk_protocol::SignedSummary::decode`]), the summary must name the agent of its
//! topic, that agent must be enrolled, and the signature must verify with its enrolled key
//! ([`judge`]). Messages come in batches: every good summary of a batch is stored in one transaction
//! (each `(agent, seq)` once: the same content again is a duplicate, other content under a stored
//! `seq` a `seq-conflict`), every refused one is kept (bounded) with its reason, and only then are
//! the receipts handed out, so a receipt always describes something durable. A batch the store
//! cannot take gets no receipts: the agents keep those summaries in their outboxes and send them
//! again.
//!
//! A batch goes through two steps: judging (decoding and signatures, on the ingest's judging
//! threads: [`Ingest::start_judging`] hands a batch to them and returns at once) and
//! [`Ingest::commit`] (the store, the trends, the receipts, on the calling thread). The caller
//! can keep several batches with the judges while it commits the ones judged before, and commit
//! several judged batches in one transaction; batches are committed in the order they came.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use wijk_protocol::{topics, Receipt, ReceiptStatus};

use crate::feed::{AdviceOut, Feed};
use crate::org::Org;
use crate::store::{Outcome, Rejected, Store, StoreError, SummaryRow, REJECTED_KEEP};

pub mod answers;
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

/// A receipt to publish ([`answers::bundle`] turns these into publications).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The agent's receipt topic.
    pub topic: String,
    /// The receipt.
    pub receipt: Receipt,
    /// Whether it may go in a `wijk.receipt/2` with others of its agent (the agent reads them, and
    /// it is not a refusal).
    pub batch: bool,
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

/// Enrolled keys by agent id; `None` for an agent that is not enrolled.
type Keys = HashMap<String, Option<VerifyingKey>>;

/// Turns batches of messages into stored rows and receipts.
pub struct Ingest {
    /// Enrolled keys by agent id; `None` remembered for unknown agents until the next enrollment
    /// could have happened (the cache is cleared every [`Ingest::UNKNOWN_TTL`] batches). Shared
    /// with the batches being judged; changed (copied first, if a batch still holds it) only when
    /// an agent is looked up.
    keys: Arc<Keys>,
    batches: u64,
    /// The threads that judge (one per core), kept for the life of the ingest: a thread started
    /// per batch would cost more than the judging of small batches, and start with a cold heap.
    /// `None` when they could not be started: then batches are judged on the calling thread.
    judges: Option<rayon::ThreadPool>,
    /// The store and what follows it.
    committer: Committer,
}

/// The committing half of [`Ingest`]: what [`Ingest::commit`] needs, apart from the keys.
struct Committer {
    store: Box<dyn Store>,
    /// Organisations of the enrolled agents in `keys`.
    orgs: HashMap<String, Org>,
    stats: Arc<Stats>,
    /// The trends index stored summaries go to, and the advice they make due.
    feed: Option<Feed>,
}

/// A batch judged and waiting to be committed.
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

/// A batch handed to the judges ([`Ingest::start_judging`]): judged already, or on its way.
#[derive(Debug)]
pub struct Judging(JudgingState);

#[derive(Debug)]
enum JudgingState {
    Done(Option<Judged>),
    Underway(mpsc::Receiver<Option<Judged>>),
}

impl Judging {
    /// Whether the judges are done with it ([`Judging::wait`] will not wait).
    pub fn is_done(&mut self) -> bool {
        if let JudgingState::Underway(rx) = &self.0 {
            match rx.try_recv() {
                Ok(judged) => self.0 = JudgingState::Done(judged),
                Err(mpsc::TryRecvError::Empty) => return false,
                Err(mpsc::TryRecvError::Disconnected) => self.0 = JudgingState::Done(None),
            }
        }
        true
    }

    /// The judged batch, once the judges are done; `None` when judging it failed (a bug, logged
    /// by the judge): then nothing of it is answered, and its agents send it again.
    pub fn wait(self) -> Option<Judged> {
        match self.0 {
            JudgingState::Done(judged) => judged,
            JudgingState::Underway(rx) => rx.recv().ok().flatten(),
        }
    }
}

/// A batch the store failed on: it comes back to be tried again, nothing of it answered.
#[derive(Debug)]
pub struct NotDone<B> {
    /// The messages ([`Ingest::start_judging`]) or the judged batches ([`Ingest::commit`]).
    pub batch: B,
    /// What the store said.
    pub error: StoreError,
}

/// What [`Ingest::start_judging`] gives: the batch on its way, or the messages back when the
/// store could not look up their agents' keys.
pub type JudgingResult = Result<Judging, Box<NotDone<Vec<Message>>>>;

/// What [`Ingest::commit`] gives: the receipts, or the judged batches back when the store failed.
pub type CommitResult = Result<Vec<Outgoing>, Box<NotDone<Vec<Judged>>>>;

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
            keys: Arc::new(HashMap::new()),
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

    /// Handles one batch, judging and committing it before it returns; the receipts to publish,
    /// or the store's error (then nothing is answered).
    pub fn handle(&mut self, batch: &[Message], now: DateTime<Utc>) -> Result<Vec<Outgoing>, StoreError> {
        let judging = self.start_judging(batch.to_vec(), now).map_err(|e| e.error)?;
        let Some(judged) = judging.wait() else {
            return Ok(Vec::new());
        };
        self.commit(vec![judged]).map_err(|e| e.error)
    }

    /// Batches to keep with the judges at most: one being judged on each of their threads and
    /// two more waiting, so a thread that finishes finds the next at once; one without threads.
    pub fn judging_ahead(&self) -> usize {
        self.judges.as_ref().map_or(1, |pool| pool.current_num_threads() + 2)
    }

    /// Hands a batch to the judges (every check; nothing stored) and returns at once. The judges
    /// take batches in the order they were handed over, each on one of their threads. Refused
    /// when the store cannot look up a key the batch needs.
    pub fn start_judging(&mut self, batch: Vec<Message>, now: DateTime<Utc>) -> JudgingResult {
        if let Err(error) = self.look_up_keys(&batch) {
            return Err(Box::new(NotDone { batch, error }));
        }
        let keys = Arc::clone(&self.keys);
        let Some(judges) = &self.judges else {
            return Ok(Judging(JudgingState::Done(judge_safely(batch, &keys, now))));
        };
        let (tx, rx) = mpsc::sync_channel(1);
        judges.spawn_fifo(move || {
            let _ = tx.send(judge_safely(batch, &keys, now));
        });
        Ok(Judging(JudgingState::Underway(rx)))
    }

    /// Stores judged batches in one transaction and gives the receipts to publish, in the order
    /// of the batches; on the store's error the batches come back untouched, to commit again
    /// (nothing of them is answered meanwhile).
    pub fn commit(&mut self, group: Vec<Judged>) -> CommitResult {
        self.committer.commit(group)
    }

    /// Makes sure the keys of every agent `batch` names are in the cache.
    fn look_up_keys(&mut self, batch: &[Message]) -> Result<(), StoreError> {
        self.batches += 1;
        if self.batches.is_multiple_of(Self::UNKNOWN_TTL) && self.keys.values().any(Option::is_none) {
            Arc::make_mut(&mut self.keys).retain(|_, k| k.is_some());
        }
        for message in batch {
            if let Some(agent) = topics::agent_of_summary(&message.topic) {
                if !self.keys.contains_key(agent) {
                    let enrolled = self.committer.store.agent(agent)?;
                    let key = enrolled.as_ref().and_then(|a| VerifyingKey::from_bytes(&a.signing_key).ok());
                    if let Some(a) = enrolled {
                        self.committer.orgs.insert(a.id, a.org);
                    }
                    Arc::make_mut(&mut self.keys).insert(agent.to_string(), key);
                }
            }
        }
        Ok(())
    }
}

/// Judges `batch` ([`judge::judge_batch`]); `None`, logged, if judging panicked (a bug: the
/// batch is left unanswered rather than taking the ingest down).
fn judge_safely(batch: Vec<Message>, keys: &Keys, now: DateTime<Utc>) -> Option<Judged> {
    match catch_unwind(AssertUnwindSafe(|| judge::judge_batch(&batch, keys, now))) {
        Ok(verdicts) => Some(Judged { batch, verdicts, now }),
        Err(_) => {
            tracing::error!(
                "judging a batch of {} summaries failed (a bug in wijkpost; please report it); they are not \
                 answered, and their agents send them again",
                batch.len()
            );
            None
        }
    }
}

impl Committer {
    fn commit(&mut self, group: Vec<Judged>) -> CommitResult {
        let rows: Vec<&SummaryRow> = group
            .iter()
            .flat_map(|judged| &judged.verdicts)
            .filter_map(|v| if let Verdict::Good { row, .. } = v { Some(row) } else { None })
            .collect();
        let outcomes = match self.store.store_summaries(&rows) {
            Ok(o) => o,
            Err(e) => {
                self.stats.store_failures.fetch_add(1, Ordering::Relaxed);
                self.stats.store_failing.store(true, Ordering::Relaxed);
                return Err(Box::new(NotDone { batch: group, error: e }));
            }
        };
        self.stats.store_failing.store(false, Ordering::Relaxed);
        // What the store said, per message: a stored or duplicate status, or a refusal.
        let mut outcomes = outcomes.into_iter();
        let messages = group.iter().map(Judged::len).sum();
        let mut settled: Vec<Result<(SummaryRow, ReceiptStatus, bool), Refusal>> = Vec::with_capacity(messages);
        let mut stored = Vec::with_capacity(outcomes.len());
        let mut rejected = Vec::new();
        let mut oldest = None;
        for Judged { batch, verdicts, now } in group {
            for (verdict, message) in verdicts.into_iter().zip(&batch) {
                let verdict = match verdict {
                    Verdict::Good { row, summary, batch_receipts } => match outcomes.next() {
                        Some(Outcome::Stored) => {
                            if let Some(org) = self.orgs.get(&row.agent) {
                                stored.push((org.clone(), row.agent.clone(), row.seq, row.received_at, *summary));
                            }
                            Ok((row, ReceiptStatus::Stored, batch_receipts))
                        }
                        Some(Outcome::Conflict) => Err(Refusal {
                            agent: Some(row.agent),
                            seq: row.seq,
                            reason: "seq-conflict",
                            detail: CONFLICT_DETAIL.to_string(),
                        }),
                        Some(Outcome::Duplicate) | None => Ok((row, ReceiptStatus::Duplicate, batch_receipts)),
                    },
                    Verdict::Refused(refusal) => Err(refusal),
                };
                if let Err(Refusal { agent, reason, detail, .. }) = &verdict {
                    rejected.push(Rejected {
                        agent: agent.clone(),
                        topic: message.topic.chars().take(256).collect(),
                        reason: reason.to_string(),
                        detail: detail.clone(),
                        received_at: now,
                        payload: message.payload.iter().take(crate::store::REJECTED_PAYLOAD_MAX).copied().collect(),
                    });
                }
                settled.push(verdict);
            }
            oldest = batch.iter().map(|m| m.received).chain(oldest).min();
        }
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
        if let Some(oldest) = oldest {
            let lag = u64::try_from(oldest.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.stats.lag_ms.store(lag, Ordering::Relaxed);
        }
        Ok(settled.into_iter().filter_map(|verdict| self.receipt(verdict)).collect())
    }

    /// The receipt for a settled message (with whether its agent reads batch receipts), counted;
    /// `None` for a refused message whose topic names no agent (there is no one to answer).
    fn receipt(&self, settled: Result<(SummaryRow, ReceiptStatus, bool), Refusal>) -> Option<Outgoing> {
        match settled {
            Ok((row, status, batch)) => {
                let counter = if status == ReceiptStatus::Stored { &self.stats.stored } else { &self.stats.duplicates };
                counter.fetch_add(1, Ordering::Relaxed);
                let receipt = Receipt::new(row.seq, status, None);
                Some(Outgoing { topic: topics::receipt(&row.agent), receipt, batch })
            }
            Err(Refusal { agent, seq, reason, detail }) => {
                self.stats.reject(reason);
                let why = format!("{reason}: {}", detail.chars().take(200).collect::<String>());
                Some(Outgoing {
                    topic: topics::receipt(&agent?),
                    receipt: Receipt::new(seq, ReceiptStatus::Rejected, Some(why)),
                    batch: false,
                })
            }
        }
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
        Some(Verdict::Good { row, .. }) => Ok(row),
        Some(Verdict::Refused(refusal)) => Err((refusal.reason, refusal.detail)),
        None => Err(("empty", "a batch of one message gave no verdict".to_string())),
    }
}

#[cfg(test)]
mod measurements;
#[cfg(test)]
pub(crate) mod tests;
