//! Judging a batch of summary messages before the store sees them: topic, size, schema, bounds,
//! the agent named, its enrolled key, and the signature.
//!
//! Signatures are the expensive part. They are checked with Ed25519 batch verification (one
//! multiscalar multiplication for a whole chunk, about twice as fast as one by one), and a large
//! batch is split over the machine's cores. When a chunk's batch check fails, its signatures are
//! checked one by one, so a bad signature costs its own summary, not its neighbours'. Batch
//! verification (ed25519-dalek's `verify_batch`, deterministic) accepts what single verification
//! accepts for every signature a real signer makes; the two could only disagree on a signature
//! built with small-order points by the holder of the key itself, which can sign anything anyway.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use wijk_protocol::summary::SIGNING_CONTEXT;
use wijk_protocol::{topics, SignedSummary, Summary, SummaryError};

use super::Message;
use crate::store::SummaryRow;

/// Messages per chunk below which another thread is not worth starting.
const MIN_CHUNK: usize = 64;

/// What one message became before the store had its say.
pub(super) enum Verdict {
    /// Good: store it (the row, and the summary it holds).
    Good(SummaryRow, Box<Summary>),
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
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunks = (batch.len() / MIN_CHUNK).clamp(1, threads);
    if chunks == 1 {
        return judge_chunk(batch, keys, now);
    }
    let size = batch.len().div_ceil(chunks);
    std::thread::scope(|scope| {
        let others: Vec<_> =
            batch.chunks(size).skip(1).map(|chunk| scope.spawn(move || judge_chunk(chunk, keys, now))).collect();
        let mut verdicts = judge_chunk(&batch[..size], keys, now);
        for other in others {
            // judge_chunk does not panic; if it ever did, the panic goes on as if on this thread.
            verdicts.extend(other.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        verdicts
    })
}

fn judge_chunk(chunk: &[Message], keys: &HashMap<String, Option<VerifyingKey>>, now: DateTime<Utc>) -> Vec<Verdict> {
    let read: Vec<Result<Pending, Refusal>> = chunk.iter().map(|m| read(m, keys)).collect();
    let pending: Vec<&Pending> = read.iter().filter_map(|r| r.as_ref().ok()).collect();
    let mut valid = signatures_valid(&pending).into_iter();
    read.into_iter()
        .map(|r| match r {
            Err(refusal) => Verdict::Refused(refusal),
            Ok(p) if valid.next().unwrap_or(false) => {
                let (row, summary) = row(p, now);
                Verdict::Good(row, Box::new(summary))
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

/// Whether each signature is valid: one batch check, and one by one only when it fails.
fn signatures_valid(pending: &[&Pending]) -> Vec<bool> {
    let messages: Vec<&[u8]> = pending.iter().map(|p| p.message.as_slice()).collect();
    let signatures: Vec<Signature> = pending.iter().map(|p| p.signature).collect();
    let keys: Vec<VerifyingKey> = pending.iter().map(|p| p.key).collect();
    if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
        return vec![true; pending.len()];
    }
    pending.iter().map(|p| p.key.verify(&p.message, &p.signature).is_ok()).collect()
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
