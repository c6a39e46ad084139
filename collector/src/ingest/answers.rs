//! From the receipts of a commit to the MQTT messages that carry them ([`bundle`]).
//!
//! An agent that reads `wijk.receipt/2` (its envelope said so) gets one message for all of its
//! summaries a commit stored or found stored before, up to
//! [`wijk_protocol::receipt::MAX_BATCH_RECEIPT_SEQS`] each, instead of one per summary: an agent
//! emptying a long outbox costs the broker a few messages rather than one per summary. Everything
//! else goes alone as a `wijk.receipt/1`: refusals (with their reason) and the answers to agents
//! that did not say they read batches.

use std::collections::HashMap;

use wijk_protocol::BatchReceipt;

use super::Outgoing;

/// One MQTT message to publish on an agent's receipt topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The agent's receipt topic.
    pub topic: String,
    /// The payload: a `wijk.receipt/1` or a `wijk.receipt/2`.
    pub payload: Vec<u8>,
    /// How many summaries it answers.
    pub answers: usize,
}

/// The messages that carry `receipts`: each agent's batchable receipts together (in the place of
/// its first, a new message when one is full), every other receipt alone, in its place.
pub fn bundle(receipts: &[Outgoing]) -> Vec<Publication> {
    enum Slot<'a> {
        Alone(&'a Outgoing),
        Batch(&'a str, BatchReceipt),
    }
    let mut slots: Vec<Slot<'_>> = Vec::new();
    // The slot of each agent's batch being filled, by receipt topic.
    let mut filling: HashMap<&str, usize> = HashMap::new();
    for out in receipts {
        if !out.batch {
            slots.push(Slot::Alone(out));
            continue;
        }
        let (seq, status) = (out.receipt.seq, out.receipt.status);
        let added = filling.get(out.topic.as_str()).is_some_and(|&i| match &mut slots[i] {
            Slot::Batch(_, batch) => batch.add(seq, status),
            Slot::Alone(_) => false,
        });
        if !added {
            let mut batch = BatchReceipt::new();
            if batch.add(seq, status) {
                filling.insert(&out.topic, slots.len());
                slots.push(Slot::Batch(&out.topic, batch));
            } else {
                slots.push(Slot::Alone(out));
            }
        }
    }
    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Alone(out) => Publication { topic: out.topic.clone(), payload: out.receipt.to_bytes(), answers: 1 },
            Slot::Batch(topic, batch) => {
                Publication { topic: topic.to_string(), payload: batch.to_bytes(), answers: batch.len() }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use wijk_protocol::receipt::MAX_BATCH_RECEIPT_SEQS;
    use wijk_protocol::{read_receipts, topics, Receipt, ReceiptStatus};

    use super::*;

    fn out(agent: &str, seq: u64, status: ReceiptStatus, batch: bool) -> Outgoing {
        let reason = (status == ReceiptStatus::Rejected).then(|| "invalid: x".to_string());
        Outgoing { topic: topics::receipt(agent), receipt: Receipt::new(seq, status, reason), batch }
    }

    /// Per publication: the topic's agent and the (seq, status) pairs it answers.
    fn read(publications: &[Publication]) -> Vec<(String, Vec<(u64, ReceiptStatus)>)> {
        publications
            .iter()
            .map(|p| {
                let answers: Vec<_> = read_receipts(&p.payload).into_iter().map(|r| (r.seq, r.status)).collect();
                assert_eq!(answers.len(), p.answers, "the count matches the payload");
                (p.topic.split('/').nth(2).unwrap_or_default().to_string(), answers)
            })
            .collect()
    }

    #[test]
    fn an_agent_that_reads_batches_gets_one_message_and_the_others_one_per_summary() {
        use ReceiptStatus::{Duplicate, Rejected, Stored};
        let (a, b) = ("aaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb");
        let receipts = [
            out(a, 1, Stored, true),
            out(b, 7, Stored, false),
            out(a, 2, Duplicate, true),
            out(a, 3, Rejected, false),
            out(b, 8, Duplicate, false),
            out(a, 4, Stored, true),
        ];
        let published = bundle(&receipts);
        assert_eq!(
            read(&published),
            [
                (a.to_string(), vec![(1, Stored), (4, Stored), (2, Duplicate)]),
                (b.to_string(), vec![(7, Stored)]),
                (a.to_string(), vec![(3, Rejected)]),
                (b.to_string(), vec![(8, Duplicate)]),
            ]
        );
        assert!(String::from_utf8_lossy(&published[2].payload).contains("invalid: x"), "a refusal keeps its reason");
        assert!(bundle(&[]).is_empty());
    }

    #[test]
    fn a_full_batch_is_followed_by_another() {
        let a = "aaaaaaaaaaaaaaaaaaaaaaaa";
        let receipts: Vec<Outgoing> =
            (1..=MAX_BATCH_RECEIPT_SEQS as u64 * 2 + 3).map(|seq| out(a, seq, ReceiptStatus::Stored, true)).collect();
        let published = bundle(&receipts);
        let sizes: Vec<usize> = published.iter().map(|p| p.answers).collect();
        assert_eq!(sizes, [MAX_BATCH_RECEIPT_SEQS, MAX_BATCH_RECEIPT_SEQS, 3]);
        let seqs: Vec<u64> = read(&published).into_iter().flat_map(|(_, r)| r).map(|(seq, _)| seq).collect();
        assert_eq!(seqs, (1..=MAX_BATCH_RECEIPT_SEQS as u64 * 2 + 3).collect::<Vec<_>>(), "each seq once, in order");
    }
}
