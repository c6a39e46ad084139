//! Ingest: from a summary message to a stored row and a receipt.
//!
//! For each message on `/tenants/<agent>/wijk/v1/summary`: the payload is bounded, parsed and
//! validated ([`SignedSummary::decode`]), the summary must name the agent of its topic, that agent
//! must be enrolled, and the signature must verify with its enrolled key. Messages come in batches:
//! every good summary of a batch is stored in one transaction (each `(agent, seq)` once), every
//! refused one is kept (bounded) with its reason, and only then are the receipts handed out, so a
//! receipt always describes something durable. A batch the store cannot take gets no receipts: the
//! agents keep those summaries in their outboxes and send them again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use wijk_protocol::{topics, Receipt, ReceiptStatus, SignedSummary, SummaryError};

use crate::store::{Outcome, Rejected, Store, StoreError, SummaryRow, REJECTED_KEEP};

/// Most messages taken into one batch (one transaction).
pub const MAX_BATCH: usize = 512;

/// One message from the broker.
#[derive(Debug, Clone)]
pub struct Message {
    /// Topic it was published on.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
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
    /// Batches the store failed to take.
    pub store_failures: AtomicU64,
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
    store: Box<dyn Store>,
    /// Enrolled keys by agent id; `None` remembered for unknown agents until the next enrollment
    /// could have happened (the cache is cleared every [`Ingest::UNKNOWN_TTL`] batches).
    keys: HashMap<String, Option<VerifyingKey>>,
    batches: u64,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest").field("backend", &self.store.backend()).field("keys", &self.keys.len()).finish()
    }
}

/// What one message became before the store had its say.
enum Verdict {
    Good(SummaryRow),
    Refused { agent: Option<String>, seq: u64, reason: &'static str, detail: String },
}

impl Ingest {
    /// Batches between forgetting which agents were unknown.
    pub const UNKNOWN_TTL: u64 = 64;

    /// An ingest writing to `store`, counting into `stats`.
    pub fn new(store: Box<dyn Store>, stats: Arc<Stats>) -> Ingest {
        Ingest { store, keys: HashMap::new(), batches: 0, stats }
    }

    /// Its counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Handles one batch; the receipts to publish, or the store's error (then nothing is answered).
    pub fn handle(&mut self, batch: &[Message], now: DateTime<Utc>) -> Result<Vec<Outgoing>, StoreError> {
        self.batches += 1;
        if self.batches.is_multiple_of(Self::UNKNOWN_TTL) {
            self.keys.retain(|_, k| k.is_some());
        }
        let mut verdicts = Vec::with_capacity(batch.len());
        for message in batch {
            verdicts.push(self.judge(message, now)?);
        }
        let rows: Vec<SummaryRow> =
            verdicts.iter().filter_map(|v| if let Verdict::Good(row) = v { Some(row.clone()) } else { None }).collect();
        let rejected: Vec<Rejected> = verdicts
            .iter()
            .zip(batch)
            .filter_map(|(v, m)| match v {
                Verdict::Refused { agent, reason, detail, .. } => Some(Rejected {
                    agent: agent.clone(),
                    topic: m.topic.chars().take(256).collect(),
                    reason: reason.to_string(),
                    detail: detail.clone(),
                    received_at: now,
                    payload: m.payload.iter().take(crate::store::REJECTED_PAYLOAD_MAX).copied().collect(),
                }),
                Verdict::Good(_) => None,
            })
            .collect();
        let outcomes = match self.store.store_summaries(&rows) {
            Ok(o) => o,
            Err(e) => {
                self.stats.store_failures.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        if !rejected.is_empty() {
            self.store.record_rejected(&rejected, REJECTED_KEEP)?;
        }
        let mut outcomes = outcomes.into_iter();
        let mut receipts = Vec::with_capacity(batch.len());
        for verdict in verdicts {
            match verdict {
                Verdict::Good(row) => {
                    let status = match outcomes.next() {
                        Some(Outcome::Stored) => {
                            self.stats.stored.fetch_add(1, Ordering::Relaxed);
                            ReceiptStatus::Stored
                        }
                        _ => {
                            self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                            ReceiptStatus::Duplicate
                        }
                    };
                    receipts.push(Outgoing {
                        topic: topics::receipt(&row.agent),
                        receipt: Receipt::new(row.seq, status, None),
                    });
                }
                Verdict::Refused { agent, seq, reason, detail } => {
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

    /// Checks one message; only a store error while looking up the agent's key is an error.
    fn judge(&mut self, message: &Message, now: DateTime<Utc>) -> Result<Verdict, StoreError> {
        let Some(agent) = topics::agent_of_summary(&message.topic) else {
            return Ok(Verdict::Refused {
                agent: None,
                seq: 0,
                reason: "bad-topic",
                detail: "not a summary topic".into(),
            });
        };
        let agent = agent.to_string();
        let refused = |agent: &str, seq, e: SummaryError| Verdict::Refused {
            agent: Some(agent.to_string()),
            seq,
            reason: e.code(),
            detail: e.to_string(),
        };
        let signed = match SignedSummary::decode(&message.payload) {
            Ok(s) => s,
            Err(e) => return Ok(refused(&agent, lenient_seq(&message.payload), e)),
        };
        let seq = signed.summary.seq;
        if signed.summary.agent != agent {
            let detail = "the summary names another agent than its topic".to_string();
            return Ok(Verdict::Refused { agent: Some(agent), seq, reason: "agent-mismatch", detail });
        }
        let Some(key) = self.key(&agent)? else {
            let detail = "no enrolled agent has this id".to_string();
            return Ok(Verdict::Refused { agent: Some(agent), seq, reason: "unenrolled", detail });
        };
        if let Err(e) = signed.verify(&key) {
            return Ok(refused(&agent, seq, e));
        }
        let payload = serde_json::to_string(&signed.summary).unwrap_or_default();
        Ok(Verdict::Good(SummaryRow { agent, seq, week: signed.summary.week.clone(), received_at: now, payload }))
    }

    fn key(&mut self, agent: &str) -> Result<Option<VerifyingKey>, StoreError> {
        if let Some(cached) = self.keys.get(agent) {
            return Ok(*cached);
        }
        let key = self.store.agent(agent)?.and_then(|a| VerifyingKey::from_bytes(&a.signing_key).ok());
        self.keys.insert(agent.to_string(), key);
        Ok(key)
    }
}

/// The `summary.seq` of a payload that did not pass, when it can be read at all (0 otherwise), so the
/// agent can tell which of its summaries was refused.
fn lenient_seq(payload: &[u8]) -> u64 {
    if payload.len() > wijk_protocol::summary::MAX_PAYLOAD_BYTES {
        return 0;
    }
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("summary")?.get("seq")?.as_u64())
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
