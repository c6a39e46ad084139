//! wijkpost's answers, published on the agent's receipt topic once the outcome is durable: a
//! [`Receipt`] for one summary (`wijk.receipt/1`), or a [`BatchReceipt`] for several summaries of one
//! agent that were stored or found stored before (`wijk.receipt/2`, only to an agent whose envelope
//! said it reads it). The agent deletes its outbox entry for each `seq` stored or duplicate and
//! sets it aside when rejected; [`read_receipts`] reads either form.

use serde::{Deserialize, Serialize};

use crate::{BATCH_RECEIPT_SCHEMA, RECEIPT_SCHEMA};

/// Largest `wijk.receipt/1` payload an agent reads.
pub const MAX_RECEIPT_BYTES: usize = 4096;
/// Most `seq`s in one `wijk.receipt/2`.
pub const MAX_BATCH_RECEIPT_SEQS: usize = 512;
/// Largest `wijk.receipt/2` payload an agent reads: room for [`MAX_BATCH_RECEIPT_SEQS`] of 20 digits.
pub const MAX_BATCH_RECEIPT_BYTES: usize = 16 * 1024;

/// What happened to a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptStatus {
    /// Stored now.
    Stored,
    /// Stored before: this `(agent, seq)` was already there.
    Duplicate,
    /// Not stored; `reason` says why.
    Rejected,
}

/// Receipt for one summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Always [`RECEIPT_SCHEMA`].
    pub schema: String,
    /// The summary's `seq` (0 when the payload was unreadable and had none).
    pub seq: u64,
    /// Outcome.
    pub status: ReceiptStatus,
    /// Why it was rejected: a short code (`bad-signature`, `invalid`, ...) and the detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Receipt {
    /// A receipt with `status` for `seq`.
    pub fn new(seq: u64, status: ReceiptStatus, reason: Option<String>) -> Receipt {
        Receipt { schema: RECEIPT_SCHEMA.to_string(), seq, status, reason }
    }

    /// The payload bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a receipt; `None` for anything that is not one (bounded, known schema).
    pub fn decode(payload: &[u8]) -> Option<Receipt> {
        if payload.len() > MAX_RECEIPT_BYTES {
            return None;
        }
        let receipt: Receipt = serde_json::from_slice(payload).ok()?;
        (receipt.schema == RECEIPT_SCHEMA).then_some(receipt)
    }
}

/// Receipt for several summaries of one agent: the `seq`s stored now and those stored before. A
/// refusal is never in one; it goes alone, with its reason, as a [`Receipt`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchReceipt {
    /// Always [`BATCH_RECEIPT_SCHEMA`].
    pub schema: String,
    /// `seq`s stored now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stored: Vec<u64>,
    /// `seq`s stored before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicate: Vec<u64>,
}

impl BatchReceipt {
    /// An empty batch receipt.
    pub fn new() -> BatchReceipt {
        BatchReceipt { schema: BATCH_RECEIPT_SCHEMA.to_string(), ..BatchReceipt::default() }
    }

    /// How many `seq`s it answers.
    pub fn len(&self) -> usize {
        self.stored.len() + self.duplicate.len()
    }

    /// Whether it answers none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `seq` with `status` (`stored` or `duplicate`); false, adding nothing, when it is full
    /// ([`MAX_BATCH_RECEIPT_SEQS`]) or `status` is `rejected`.
    pub fn add(&mut self, seq: u64, status: ReceiptStatus) -> bool {
        if self.len() >= MAX_BATCH_RECEIPT_SEQS {
            return false;
        }
        match status {
            ReceiptStatus::Stored => self.stored.push(seq),
            ReceiptStatus::Duplicate => self.duplicate.push(seq),
            ReceiptStatus::Rejected => return false,
        }
        true
    }

    /// The payload bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a batch receipt; `None` for anything that is not one (bounded, known schema, 1 to
    /// [`MAX_BATCH_RECEIPT_SEQS`] `seq`s).
    pub fn decode(payload: &[u8]) -> Option<BatchReceipt> {
        if payload.len() > MAX_BATCH_RECEIPT_BYTES {
            return None;
        }
        let receipt: BatchReceipt = serde_json::from_slice(payload).ok()?;
        let fits = (1..=MAX_BATCH_RECEIPT_SEQS).contains(&receipt.len());
        (receipt.schema == BATCH_RECEIPT_SCHEMA && fits).then_some(receipt)
    }

    /// Each `seq` as the one-summary receipt it stands for.
    pub fn receipts(&self) -> impl Iterator<Item = Receipt> + '_ {
        let stored = self.stored.iter().map(|&seq| Receipt::new(seq, ReceiptStatus::Stored, None));
        stored.chain(self.duplicate.iter().map(|&seq| Receipt::new(seq, ReceiptStatus::Duplicate, None)))
    }
}

/// What a payload on an agent's receipt topic answers: one receipt (`wijk.receipt/1`), one per `seq`
/// (`wijk.receipt/2`), or none (anything else, ignored).
pub fn read_receipts(payload: &[u8]) -> Vec<Receipt> {
    if let Some(one) = Receipt::decode(payload) {
        return vec![one];
    }
    BatchReceipt::decode(payload).map(|batch| batch.receipts().collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_round_trip_and_strangers_are_ignored() {
        let r = Receipt::new(9, ReceiptStatus::Rejected, Some("bad-signature".into()));
        assert_eq!(Receipt::decode(&r.to_bytes()), Some(r));
        assert_eq!(
            String::from_utf8(Receipt::new(3, ReceiptStatus::Stored, None).to_bytes()).expect("utf8"),
            r#"{"schema":"wijk.receipt/1","seq":3,"status":"stored"}"#
        );
        assert_eq!(Receipt::decode(br#"{"schema":"wijk.receipt/2","seq":3,"status":"stored"}"#), None);
        assert_eq!(Receipt::decode(br#"{"schema":"wijk.receipt/1","seq":3,"status":"lost"}"#), None);
        assert_eq!(Receipt::decode(&[b'x'; MAX_RECEIPT_BYTES + 1]), None);
    }

    #[test]
    fn a_batch_receipt_answers_each_seq_and_holds_its_bound() {
        let mut batch = BatchReceipt::new();
        assert!(batch.add(4, ReceiptStatus::Stored) && batch.add(2, ReceiptStatus::Duplicate));
        assert!(batch.add(5, ReceiptStatus::Stored));
        assert!(!batch.add(6, ReceiptStatus::Rejected), "a refusal goes alone, with its reason");
        let bytes = batch.to_bytes();
        assert_eq!(
            String::from_utf8(bytes.clone()).expect("utf8"),
            r#"{"schema":"wijk.receipt/2","stored":[4,5],"duplicate":[2]}"#
        );
        let seqs: Vec<(u64, ReceiptStatus)> = read_receipts(&bytes).into_iter().map(|r| (r.seq, r.status)).collect();
        assert_eq!(seqs, [(4, ReceiptStatus::Stored), (5, ReceiptStatus::Stored), (2, ReceiptStatus::Duplicate)]);

        // Full at the bound, and a full one of the largest seqs still fits the payload limit.
        let mut full = BatchReceipt::new();
        while full.add(u64::MAX, ReceiptStatus::Duplicate) {}
        assert_eq!(full.len(), MAX_BATCH_RECEIPT_SEQS);
        assert_eq!(BatchReceipt::decode(&full.to_bytes()).map(|b| b.len()), Some(MAX_BATCH_RECEIPT_SEQS));

        // Strangers: empty, too many, another schema, an unknown field, too large.
        let too_many =
            format!(r#"{{"schema":"wijk.receipt/2","stored":[{}]}}"#, vec!["1"; MAX_BATCH_RECEIPT_SEQS + 1].join(","));
        for stranger in [
            r#"{"schema":"wijk.receipt/2"}"#.to_string(),
            too_many,
            r#"{"schema":"wijk.receipt/3","stored":[1]}"#.to_string(),
            r#"{"schema":"wijk.receipt/2","stored":[1],"rejected":[2]}"#.to_string(),
            format!(r#"{{"schema":"wijk.receipt/2","stored":[1]{}}}"#, " ".repeat(MAX_BATCH_RECEIPT_BYTES)),
        ] {
            assert_eq!(BatchReceipt::decode(stranger.as_bytes()), None, "{}", &stranger[..60.min(stranger.len())]);
            assert!(read_receipts(stranger.as_bytes()).is_empty());
        }
        // The one-summary form still reads.
        let one = Receipt::new(9, ReceiptStatus::Rejected, Some("invalid: x".into()));
        assert_eq!(read_receipts(&one.to_bytes()), [one]);
    }
}
