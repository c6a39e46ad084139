//! Measurements of the ingest's cost per summary, run by hand (`--ignored`, in release): what
//! judging and storing cost without a broker, what Ed25519 alone costs, and what a prehashed
//! signature rule would save in judging.

use std::time::Instant;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use wijk_protocol::summary::{base64_decode, base64_encode, ServiceCount, SIGNING_CONTEXT};
use wijk_protocol::{SignedSummary, Summary};

use super::tests::{key, message, now, setup, signed, A};
use super::*;

/// Ingest's own cost per summary (decode, batch verification, SQLite, receipts), without a broker.
#[test]
#[ignore = "measurement: cargo test -p wijkpost --release --lib ingest_rate -- --ignored --nocapture"]
fn ingest_rate() {
    let (_dir, mut ingest, _stats) = setup();
    let total = 20_000;
    let payloads: Vec<Message> = (1..=total).map(|seq| message(A, signed(A, seq))).collect();
    let started = Instant::now();
    for batch in payloads.chunks(MAX_BATCH) {
        let receipts = ingest.handle(batch, now()).expect("handled");
        assert!(receipts.iter().all(|r| r.receipt.status == ReceiptStatus::Stored));
    }
    let elapsed = started.elapsed();
    println!(
        "ingest: {total} summaries of {} bytes in {elapsed:?}: {:.0}/s, {:.1} µs each",
        payloads[0].payload.len(),
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / total as f64
    );
}

/// What Ed25519 verification alone costs per summary on one core, single and in batches as ingest
/// verifies: the floor under ingest's cost per summary, whatever else is made faster.
#[test]
#[ignore = "measurement: cargo test -p wijkpost --release --lib signature_cost -- --ignored --nocapture"]
fn signature_cost() {
    use ed25519_dalek::Signature;
    let total = 20_000;
    let key = SigningKey::from_bytes(&[9; 32]);
    let public: VerifyingKey = key.verifying_key();
    let messages: Vec<Vec<u8>> = (1..=total).map(|seq| signed(A, seq as u64)).collect();
    let signatures: Vec<Signature> = messages.iter().map(|m| key.sign(m)).collect();
    let started = Instant::now();
    for (m, s) in messages.iter().zip(&signatures) {
        public.verify_strict(m, s).expect("valid");
    }
    let single = started.elapsed().as_secs_f64() * 1e6 / total as f64;
    let started = Instant::now();
    let chunk = MAX_BATCH / 2;
    for (ms, ss) in messages.chunks(chunk).zip(signatures.chunks(chunk)) {
        let mut batch = ed25519_zebra::batch::Verifier::new();
        for (m, s) in ms.iter().zip(ss) {
            batch.queue((public.to_bytes().into(), *s, m));
        }
        batch.verify(rand::thread_rng()).expect("valid batch");
    }
    let batched = started.elapsed().as_secs_f64() * 1e6 / total as f64;
    println!(
        "ed25519 on one core, {} byte messages: {single:.1} µs each alone, {batched:.1} µs each in batches of {chunk} \
         from one key",
        messages[0].len()
    );
}

/// The envelope read as the prehashed rule would: the summary kept as the bytes that came.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    schema: &'a str,
    #[serde(default, borrow)]
    receipts: Vec<&'a str>,
    #[serde(borrow)]
    summary: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    signature: &'a str,
}

/// A summary about the size the uplink benchmark sends (974 bytes signed; the benchmark's are 911).
fn bench_sized(agent: &str, seq: u64) -> Summary {
    let mut summary = super::tests::summary_with(agent, seq, true);
    summary.counts.open_services = 40;
    summary.services = ["dns", "http", "https", "microsoft-ds", "ntp", "other", "rdp", "smtp", "ssh"]
        .iter()
        .map(|kind| ServiceCount { kind: kind.to_string(), services: 4 })
        .collect();
    summary
}

/// Judging's CPU per summary today (decode, canonical bytes written again, SHA-512 of them inside
/// Ed25519, SHA-256 for the row, batch verification: the real [`judge::judge_batch`]) against a
/// sketch of a prehashed rule (Ed25519 over the context and the SHA-256 of the summary's bytes as
/// sent: no second serialisation, SHA-512 over 47 bytes). Both in batches of [`MAX_BATCH`] from
/// ten agents, interleaved, thread CPU time.
#[test]
#[ignore = "measurement: cargo test -p wijkpost --release --lib prehashed_signature_saving -- --ignored --nocapture"]
fn prehashed_signature_saving() {
    let agents: Vec<String> = "abcdefghij".chars().map(|c| c.to_string().repeat(24)).collect();
    let keys: Keys = agents.iter().map(|a| (a.clone(), Some(key(a).verifying_key()))).collect();
    let mut today = Vec::new();
    let mut prehashed = Vec::new();
    for seq in 1..=(MAX_BATCH / agents.len()) as u64 {
        for agent in &agents {
            let summary = bench_sized(agent, seq);
            today.push(message(agent, SignedSummary::sign(summary.clone(), &key(agent)).to_bytes()));
            let mut signed_bytes = SIGNING_CONTEXT.to_vec();
            signed_bytes.extend(Sha256::digest(serde_json::to_vec(&summary).expect("json")));
            let mut envelope = SignedSummary::sign(summary, &key(agent));
            envelope.signature = base64_encode(&key(agent).sign(&signed_bytes).to_bytes());
            prehashed.push((agent.clone(), envelope.to_bytes()));
        }
    }
    let judge_today = || {
        let verdicts = judge::judge_batch(&today, &keys, now());
        assert!(verdicts.iter().all(|v| matches!(v, judge::Verdict::Good { .. })));
    };
    let judge_prehashed = || {
        let mut batch = ed25519_zebra::batch::Verifier::new();
        let mut rows = Vec::with_capacity(prehashed.len());
        for (agent, payload) in &prehashed {
            let envelope: RawEnvelope<'_> = serde_json::from_slice(payload).expect("envelope");
            let summary: Summary = serde_json::from_str(envelope.summary.get()).expect("summary");
            summary.validate().expect("valid");
            assert!(envelope.schema.starts_with("wijk.signed-summary/") && !envelope.receipts.is_empty());
            let signature = base64_decode(envelope.signature).expect("base64");
            let signature = ed25519_dalek::Signature::from_slice(&signature).expect("signature");
            let digest = Sha256::digest(envelope.summary.get());
            let mut signed_bytes = SIGNING_CONTEXT.to_vec();
            signed_bytes.extend(digest);
            let Some(Some(key)) = keys.get(agent) else { panic!("key") };
            batch.queue(ed25519_zebra::batch::Item::from((key.to_bytes().into(), signature, &signed_bytes)));
            rows.push((envelope.summary.get().to_string(), hex::encode(digest), summary));
        }
        assert!(batch.verify(rand::thread_rng()).is_ok());
    };
    let (mut cpu_today, mut cpu_prehashed) = (0.0, 0.0);
    let rounds = 12;
    for _ in 0..rounds {
        let start = thread_cpu_seconds();
        judge_today();
        cpu_today += thread_cpu_seconds() - start;
        let start = thread_cpu_seconds();
        judge_prehashed();
        cpu_prehashed += thread_cpu_seconds() - start;
    }
    let per_summary = |cpu: f64| cpu * 1e6 / (rounds * today.len()) as f64;
    println!(
        "judging {} byte summaries: {:.1} CPU µs each today, {:.1} prehashed ({:.0} % less)",
        today[0].payload.len(),
        per_summary(cpu_today),
        per_summary(cpu_prehashed),
        100.0 * (1.0 - cpu_prehashed / cpu_today)
    );
}

/// CPU time (user + system) of the calling thread, from `/proc/thread-self/stat`.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
