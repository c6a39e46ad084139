//! Judging a batch of summary messages before the store sees them: topic, size, schema, bounds,
//! the agent named, its enrolled key, and the signature.
//!
//! Signatures are the expensive part. They are checked with Ed25519 batch verification (one
//! multiscalar multiplication for a whole batch; the ingest judges several batches at once, one on
//! each of its judging threads). The batch check is ed25519-zebra's: it adds up the terms of
//! signatures made with the same key, so a batch of many summaries from few agents (an agent
//! emptying its outbox after an outage) needs a multiplication about half the size of one from as
//! many agents. When a batch's check fails, its halves are checked, down to a few signatures
//! checked one by one ([`signatures_valid`]), so a bad signature costs its own summary, not its
//! neighbours'. Both checks follow the ZIP 215 rules, under which batch and single verification
//! agree on every signature: whether a summary is accepted never depends on what else is in its
//! batch. (Every signature a real Ed25519 signer makes is valid under them; enrollment refuses
//! small-order keys, the one kind of key for which these rules and RFC 8032 part ways in a way
//! that matters.)

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use ed25519_zebra::batch;
use sha2::{Digest, Sha256};
use wijk_protocol::summary::SIGNING_CONTEXT;
use wijk_protocol::{topics, SignedSummary, Summary, SummaryError};

use super::Message;
use crate::store::SummaryRow;

/// What one message became before the store had its say.
pub(super) enum Verdict {
    /// Good: store it.
    Good {
        /// The row to store.
        row: SummaryRow,
        /// The summary it holds.
        summary: Box<Summary>,
        /// Whether its agent reads `wijk.receipt/2` (its envelope said so).
        batch_receipts: bool,
    },
    /// Refused.
    Refused(Refusal),
}

/// A refused message: the agent (when the topic names one), the seq (when readable) and why.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) agent: Option<String>,
    pub(super) seq: u64,
    pub(super) reason: &'static str,
    pub(super) detail: String,
}

/// A message that passed every check but its signature.
struct Pending {
    agent: String,
    signed: SignedSummary,
    /// [`wijk_protocol::Summary::canonical_bytes`]: what the signature covers.
    message: Vec<u8>,
    signature: Signature,
    key: VerifyingKey,
}

/// Judges `batch`, in order, with the enrolled `keys` (every agent the batch names must have been
/// looked up: absent or `None` means not enrolled).
pub(super) fn judge_batch(
    batch: &[Message],
    keys: &HashMap<String, Option<VerifyingKey>>,
    now: DateTime<Utc>,
) -> Vec<Verdict> {
    let read: Vec<Result<Pending, Refusal>> = batch.iter().map(|m| read(m, keys)).collect();
    let pending: Vec<&Pending> = read.iter().filter_map(|r| r.as_ref().ok()).collect();
    let mut valid = signatures_valid(&pending).into_iter();
    read.into_iter()
        .map(|r| match r {
            Err(refusal) => Verdict::Refused(refusal),
            Ok(p) if valid.next().unwrap_or(false) => {
                let batch_receipts = p.signed.reads_batch_receipts();
                let (row, summary) = row(p, now);
                Verdict::Good { row, summary: Box::new(summary), batch_receipts }
            }
            Ok(p) => Verdict::Refused(refused(&p.agent, p.signed.summary.seq, SummaryError::BadSignature)),
        })
        .collect()
}

/// Every check but the signature.
fn read(message: &Message, keys: &HashMap<String, Option<VerifyingKey>>) -> Result<Pending, Refusal> {
    let Some(agent) = topics::agent_of_summary(&message.topic) else {
        return Err(Refusal { agent: None, seq: 0, reason: "bad-topic", detail: "not a summary topic".into() });
    };
    let signed =
        SignedSummary::decode(&message.payload).map_err(|e| refused(agent, lenient_seq(&message.payload), e))?;
    let seq = signed.summary.seq;
    if signed.summary.agent != agent {
        let detail = "the summary names another agent than its topic".to_string();
        return Err(Refusal { agent: Some(agent.to_string()), seq, reason: "agent-mismatch", detail });
    }
    let Some(Some(key)) = keys.get(agent) else {
        let detail = "no enrolled agent has this id".to_string();
        return Err(Refusal { agent: Some(agent.to_string()), seq, reason: "unenrolled", detail });
    };
    let signature = signed.signature().map_err(|e| refused(agent, seq, e))?;
    let message = signed.summary.canonical_bytes();
    Ok(Pending { agent: agent.to_string(), signed, message, signature, key: *key })
}

/// Signatures below which a failed batch check is followed by single checks rather than by
/// checks of its two halves.
const ONE_BY_ONE: usize = 32;

/// Whether each signature is valid: one batch check; when it fails, each half is checked the same
/// way, down to [`ONE_BY_ONE`] signatures checked singly. One bad signature among 2,048 costs
/// about three batch checks of the whole, not 2,048 single checks.
fn signatures_valid(pending: &[&Pending]) -> Vec<bool> {
    let items: Vec<batch::Item> =
        pending.iter().map(|p| batch::Item::from((p.key.to_bytes().into(), p.signature, &p.message))).collect();
    let mut valid = vec![false; items.len()];
    check(&items, &mut valid);
    valid
}

/// Sets `valid[i]` for `items[i]` ([`signatures_valid`]).
fn check(items: &[batch::Item], valid: &mut [bool]) {
    if items.len() <= ONE_BY_ONE {
        for (item, valid) in items.iter().zip(valid) {
            *valid = item.clone().verify_single().is_ok();
        }
        return;
    }
    let mut verifier = batch::Verifier::new();
    for item in items {
        verifier.queue(item.clone());
    }
    if verifier.verify(rand::thread_rng()).is_ok() {
        valid.fill(true);
        return;
    }
    let (left, right) = items.split_at(items.len() / 2);
    let (valid_left, valid_right) = valid.split_at_mut(left.len());
    check(left, valid_left);
    check(right, valid_right);
}

/// The row to store: the canonical JSON the signature covers, and its SHA-256 (a replayed `seq`
/// with other content is told apart from a resend by it).
fn row(p: Pending, now: DateTime<Utc>) -> (SummaryRow, Summary) {
    let json = &p.message[SIGNING_CONTEXT.len()..];
    let row = SummaryRow {
        agent: p.agent,
        seq: p.signed.summary.seq,
        week: p.signed.summary.week.clone(),
        received_at: now,
        // serde_json writes UTF-8, so the empty fallback is never taken.
        payload: String::from_utf8(json.to_vec()).unwrap_or_default(),
        digest: hex::encode(Sha256::digest(&p.message)),
    };
    (row, p.signed.summary)
}

fn refused(agent: &str, seq: u64, e: SummaryError) -> Refusal {
    Refusal { agent: Some(agent.to_string()), seq, reason: e.code(), detail: e.to_string() }
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
