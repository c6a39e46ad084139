//! wijkpost's answer to one summary (`wijk.receipt/1`), published on the agent's receipt topic once
//! the outcome is durable. The agent deletes its outbox entry for `seq` on `stored` or `duplicate`
//! and sets it aside on `rejected`.

use serde::{Deserialize, Serialize};

use crate::RECEIPT_SCHEMA;

/// Largest receipt payload an agent reads.
pub const MAX_RECEIPT_BYTES: usize = 4096;

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
}
