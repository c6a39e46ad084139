use chrono::Duration;
use ed25519_dalek::SigningKey;
use wijk_protocol::summary::{Counts, Severity, TlsCounts, WeaknessCount};
use wijk_protocol::{SignedSummary, Summary, SUMMARY_SCHEMA};

use super::*;
use crate::org::{Org, Province, Sector, SizeClass};
use crate::store::{sqlite::SqliteStore, NewAgent, NewToken, TokenOutcome};

pub(super) const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";

pub(super) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_000_000, 0).unwrap_or_default()
}

pub(super) fn key(agent: &str) -> SigningKey {
    SigningKey::from_bytes(&[agent.as_bytes()[0]; 32])
}

fn enroll(store: &mut dyn Store, agent: &str) {
    let org = Org {
        name: "Gemeente Test".into(),
        sector: Sector::Gemeente,
        size_class: SizeClass::UpTo25k,
        province: Province::Limburg,
    };
    let token = NewToken {
        id: format!("t-{agent}"),
        secret_hash: "h".into(),
        org,
        created_at: now(),
        expires_at: now() + Duration::days(1),
    };
    store.insert_token(&token).expect("token");
    let new =
        NewAgent { id: agent.into(), signing_key: key(agent).verifying_key().to_bytes(), cert_serial: "01".into() };
    assert!(matches!(store.enroll_agent(&token.id, "h", now(), &new).expect("enroll"), TokenOutcome::Consumed(_)));
}

fn summary(agent: &str, seq: u64) -> Summary {
    summary_with(agent, seq, true)
}

/// A small valid summary for tests (here and in the feed's): 3 hosts, 4 services, telnet open or not.
pub(crate) fn summary_with(agent: &str, seq: u64, telnet: bool) -> Summary {
    let weaknesses = if telnet {
        vec![WeaknessCount { id: "telnet-open".into(), severity: Severity::High, hosts: 1 }]
    } else {
        vec![]
    };
    Summary {
        schema: SUMMARY_SCHEMA.into(),
        agent: agent.into(),
        seq,
        week: "2026-W49".into(),
        agent_version: "0.1.0".into(),
        profile: "quick".into(),
        complete: true,
        counts: Counts { hosts_alive: 3, open_services: 4, tls_endpoints: 0 },
        services: vec![],
        weaknesses,
        tls: TlsCounts::default(),
    }
}

pub(super) fn message(agent: &str, payload: Vec<u8>) -> Message {
    Message::new(topics::summary(agent), payload)
}

pub(super) fn signed(agent: &str, seq: u64) -> Vec<u8> {
    SignedSummary::sign(summary(agent, seq), &key(agent)).to_bytes()
}

pub(super) fn setup() -> (tempfile::TempDir, Ingest, Arc<Stats>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = SqliteStore::open(&dir.path().join("w.db")).expect("store");
    enroll(&mut store, A);
    let stats = Arc::new(Stats::default());
    (dir, Ingest::new(Box::new(store), stats.clone()), stats)
}

fn statuses(receipts: &[Outgoing]) -> Vec<(String, u64, ReceiptStatus, String)> {
    receipts
        .iter()
        .map(|o| {
            let reason = o.receipt.reason.clone().unwrap_or_default();
            let code = reason.split(':').next().unwrap_or("").to_string();
            (o.topic.clone(), o.receipt.seq, o.receipt.status, code)
        })
        .collect()
}

#[test]
fn good_summaries_are_stored_once_and_answered() {
    let (_dir, mut ingest, stats) = setup();
    let batch = [message(A, signed(A, 1)), message(A, signed(A, 2)), message(A, signed(A, 1))];
    let receipts = ingest.handle(&batch, now()).expect("handled");
    let r = topics::receipt(A);
    assert_eq!(
        statuses(&receipts),
        vec![
            (r.clone(), 1, ReceiptStatus::Stored, String::new()),
            (r.clone(), 2, ReceiptStatus::Stored, String::new()),
            (r.clone(), 1, ReceiptStatus::Duplicate, String::new()),
        ]
    );
    // A later resend (the agent's retry) is a duplicate too.
    let again = ingest.handle(&[message(A, signed(A, 2))], now()).expect("handled");
    assert_eq!(again[0].receipt.status, ReceiptStatus::Duplicate);
    assert_eq!(ingest.committer.store.count_summaries().expect("count"), 2);
    assert_eq!((stats.stored.load(Ordering::Relaxed), stats.duplicates.load(Ordering::Relaxed)), (2, 2));
}

#[test]
fn only_agents_whose_envelope_says_so_are_answered_in_batches_and_never_a_refusal() {
    let (_dir, mut ingest, _) = setup();
    let mut older = SignedSummary::sign(summary(A, 2), &key(A));
    older.schema = wijk_protocol::SIGNED_SUMMARY_SCHEMA_1.into();
    older.receipts.clear();
    let mut tampered = SignedSummary::sign(summary(A, 3), &key(A));
    tampered.summary.counts.hosts_alive = 2;
    let batch = [
        message(A, signed(A, 1)),
        message(A, older.to_bytes()),
        message(A, tampered.to_bytes()),
        message(A, signed(A, 1)),
    ];
    let receipts = ingest.handle(&batch, now()).expect("handled");
    let seen: Vec<(u64, ReceiptStatus, bool)> =
        receipts.iter().map(|o| (o.receipt.seq, o.receipt.status, o.batch)).collect();
    assert_eq!(
        seen,
        [
            (1, ReceiptStatus::Stored, true),
            (2, ReceiptStatus::Stored, false),
            (3, ReceiptStatus::Rejected, false),
            (1, ReceiptStatus::Duplicate, true),
        ]
    );
    // On the wire: one batch for seq 1 twice (stored, then duplicate), the others alone.
    let published: Vec<usize> = answers::bundle(&receipts).iter().map(|p| p.answers).collect();
    assert_eq!(published, [2, 1, 1]);
}

#[test]
fn batches_judged_ahead_and_committed_together_are_answered_as_if_alone() {
    let (_dir, mut ingest, stats) = setup();
    let first: Vec<Message> = (1..=100).map(|seq| message(A, signed(A, seq))).collect();
    let mut second: Vec<Message> = (101..=200).map(|seq| message(A, signed(A, seq))).collect();
    // A resend of a summary the first batch stores, judged before that batch is stored.
    second.push(message(A, signed(A, 50)));
    second.push(message(A, b"garbage".to_vec()));
    let third = vec![message(A, signed(A, 150)), message(A, signed(A, 201))];
    let first = ingest.start_judging(first, now()).expect("first handed over");
    let second = ingest.start_judging(second, now()).expect("second handed over");
    let first = first.wait().expect("first judged");
    assert_eq!(ingest.committer.store.count_summaries().expect("count"), 0, "judging stores nothing");
    let receipts = ingest.commit(vec![first]).expect("first batch stored");
    let seqs: Vec<u64> = receipts.iter().map(|o| o.receipt.seq).collect();
    assert_eq!(seqs, (1..=100).collect::<Vec<u64>>(), "answered in order");
    assert!(receipts.iter().all(|o| o.receipt.status == ReceiptStatus::Stored));
    assert_eq!(ingest.committer.store.count_summaries().expect("count"), 100, "the next batch is not stored yet");
    // The second and third batch in one transaction, answered in the order they came.
    let third = ingest.start_judging(third, now()).expect("third handed over");
    let second = second.wait().expect("second judged");
    let receipts = ingest.commit(vec![second, third.wait().expect("third judged")]).expect("stored together");
    let got = statuses(&receipts);
    assert_eq!(got.len(), 104);
    assert!(got[..100].iter().all(|(_, _, status, _)| *status == ReceiptStatus::Stored));
    assert_eq!((got[100].1, got[100].2), (50, ReceiptStatus::Duplicate));
    assert_eq!((got[101].2, got[101].3.as_str()), (ReceiptStatus::Rejected, "malformed"));
    assert_eq!((got[102].1, got[102].2), (150, ReceiptStatus::Duplicate), "stored by the batch before, same commit");
    assert_eq!((got[103].1, got[103].2), (201, ReceiptStatus::Stored));
    assert_eq!(ingest.committer.store.count_summaries().expect("count"), 201);
    assert_eq!((stats.stored.load(Ordering::Relaxed), stats.duplicates.load(Ordering::Relaxed)), (201, 2));
}

#[test]
fn bad_input_is_refused_with_its_reason_and_nothing_else_is_disturbed() {
    let (_dir, mut ingest, stats) = setup();
    let mut tampered: serde_json::Value = serde_json::from_slice(&signed(A, 5)).expect("json");
    tampered["summary"]["counts"]["hosts_alive"] = 2.into();
    let forged = SignedSummary::sign(summary(A, 6), &key(B)).to_bytes();
    let mut future = signed(A, 7);
    future = String::from_utf8(future).expect("utf8").replace("wijk.summary/1", "wijk.summary/2").into_bytes();
    let sql = String::from_utf8(signed(A, 8)).expect("utf8").replace("telnet-open", "x'); DROP TABLE summaries;--");
    let batch = [
        message(A, b"\x00\xffgarbage".to_vec()),
        message(A, vec![b'{'; 70 * 1024]),
        message(A, serde_json::to_vec(&tampered).expect("json")),
        message(A, forged),
        message(A, future),
        message(A, sql.into_bytes()),
        message(B, signed(B, 1)),
        message(B, signed(A, 9)),
        Message::new("/tenants/aaaaaaaaaaaaaaaaaaaaaaaa/wijk/v1/receipt".into(), signed(A, 10)),
        message(A, signed(A, 11)),
    ];
    let receipts = ingest.handle(&batch, now()).expect("handled");
    let got: Vec<(u64, ReceiptStatus, String)> =
        statuses(&receipts).into_iter().map(|(_, s, st, c)| (s, st, c)).collect();
    use ReceiptStatus::{Rejected as R, Stored as S};
    assert_eq!(
        got,
        vec![
            (0, R, "malformed".into()),
            (0, R, "too-large".into()),
            (5, R, "bad-signature".into()),
            (6, R, "bad-signature".into()),
            (7, R, "unknown-schema".into()),
            (8, R, "invalid".into()),
            (1, R, "unenrolled".into()),
            (9, R, "agent-mismatch".into()),
            (11, S, String::new()),
        ],
        "the message on a wrong topic gets no receipt, the good one is stored"
    );
    assert_eq!(receipts[6].topic, topics::receipt(B), "an answer goes to the topic's agent only");
    assert_eq!(ingest.committer.store.count_summaries().expect("count"), 1);
    let counts = ingest.committer.store.rejected_counts().expect("counts");
    assert_eq!(counts.values().sum::<u64>(), 9);
    assert_eq!(counts.get("bad-signature"), Some(&2));
    assert_eq!(stats.rejected_total(), 9);
    let kept = ingest.committer.store.recent_rejected(20).expect("kept");
    assert!(kept.iter().all(|r| r.payload.len() <= crate::store::REJECTED_PAYLOAD_MAX));
}

#[test]
fn a_replayed_seq_with_other_content_is_a_conflict_and_the_first_stays() {
    let (_dir, mut ingest, stats) = setup();
    ingest.handle(&[message(A, signed(A, 1))], now()).expect("first");
    let mut changed = summary(A, 1);
    changed.weaknesses[0].hosts = 2;
    changed.counts.hosts_alive = 3;
    let replay = SignedSummary::sign(changed, &key(A)).to_bytes();
    let receipts = ingest.handle(&[message(A, replay), message(A, signed(A, 1))], now()).expect("replay");
    let got: Vec<(u64, ReceiptStatus, String)> =
        statuses(&receipts).into_iter().map(|(_, s, st, c)| (s, st, c)).collect();
    assert_eq!(
        got,
        vec![(1, ReceiptStatus::Rejected, "seq-conflict".into()), (1, ReceiptStatus::Duplicate, String::new())]
    );
    assert!(receipts[0].receipt.reason.as_deref().unwrap_or("").contains("restored"), "{:?}", receipts[0]);
    assert_eq!(ingest.committer.store.count_summaries().expect("count"), 1);
    assert_eq!(ingest.committer.store.rejected_counts().expect("counts").get("seq-conflict"), Some(&1));
    assert_eq!(stats.rejected_total(), 1);
}

#[test]
fn bad_signatures_in_a_large_batch_cost_only_their_own_summaries() {
    let (_dir, mut ingest, _stats) = setup();
    // Alone, at both ends, and a run of 41 (the halves of the batch check fail at several depths).
    let bad = |seq: u64| [1, 150, 1000].contains(&seq) || (600..=640).contains(&seq);
    let batch: Vec<Message> = (1..=1000)
        .map(|seq| {
            let signer = if bad(seq) { key(B) } else { key(A) };
            message(A, SignedSummary::sign(summary(A, seq), &signer).to_bytes())
        })
        .collect();
    let receipts = ingest.handle(&batch, now()).expect("handled");
    assert_eq!(receipts.len(), 1000);
    for (i, r) in receipts.iter().enumerate() {
        assert_eq!(r.receipt.seq, i as u64 + 1, "answers in order");
        let want = if bad(r.receipt.seq) { ReceiptStatus::Rejected } else { ReceiptStatus::Stored };
        assert_eq!(r.receipt.status, want, "seq {}", r.receipt.seq);
    }
    assert_eq!(ingest.committer.store.count_summaries().expect("count"), 1000 - 44);
}

#[test]
fn each_agent_in_a_mixed_batch_is_judged_by_its_own_key() {
    let (dir, mut ingest, _stats) = setup();
    let mut store = SqliteStore::open(&dir.path().join("w.db")).expect("store");
    enroll(&mut store, B);
    // Two agents interleaved (their terms are added up per key in the batch check); B's seq 77
    // is signed with A's key, which is valid for A but not for B.
    let batch: Vec<Message> = (1..=400)
        .map(|i| {
            let (agent, seq) = if i % 2 == 0 { (A, i / 2) } else { (B, i / 2 + 1) };
            let signer = if (agent, seq) == (B, 77) { key(A) } else { key(agent) };
            message(agent, SignedSummary::sign(summary(agent, seq), &signer).to_bytes())
        })
        .collect();
    let receipts = ingest.handle(&batch, now()).expect("handled");
    let refused: Vec<_> = statuses(&receipts).into_iter().filter(|r| r.2 == ReceiptStatus::Rejected).collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!((refused[0].0.as_str(), refused[0].1), (topics::receipt(B).as_str(), 77));
    assert!(refused[0].3.starts_with("bad-signature"), "{refused:?}");
    assert_eq!(ingest.committer.store.count_summaries().expect("count"), 399);
}

#[test]
fn the_lag_is_measured_from_reading_the_oldest_message_of_a_batch() {
    let (_dir, mut ingest, stats) = setup();
    let mut old = message(A, signed(A, 1));
    old.received = std::time::Instant::now().checked_sub(std::time::Duration::from_secs(2)).expect("2 s ago");
    ingest.handle(&[message(A, signed(A, 2)), old], now()).expect("handled");
    let lag = stats.lag_ms.load(Ordering::Relaxed);
    assert!((2000..10_000).contains(&lag), "lag {lag} ms");
    ingest.handle(&[message(A, signed(A, 3))], now()).expect("handled");
    assert!(stats.lag_ms.load(Ordering::Relaxed) < 2000, "the next batch has its own lag");
}
