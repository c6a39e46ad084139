//! wijkpost's summary intake without a store: the payload through `SignedSummary::decode` and the
//! ingest's judge (topic, size, schema, bounds, agent, signature) as an enrolled agent's message.
//! A payload that decodes is then signed again with the enrolled key, which must round-trip and
//! be stored (a valid summary is never refused for its content once its signature is right), and
//! a refusal's receipt must round-trip too.
#![no_main]

use chrono::{TimeZone, Utc};
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use wijk_protocol::{topics, Receipt, ReceiptStatus, SignedSummary};
use wijkpost::ingest::{judge_one, Message};

const FALLBACK_AGENT: &str = "gent-0001";

fuzz_target!(|data: &[u8]| {
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).single().expect("a valid time");
    let key = SigningKey::from_bytes(&[7; 32]);
    let enrolled = Some(key.verifying_key());

    let decoded = SignedSummary::decode(data);
    let agent = match &decoded {
        Ok(signed) if wijk_protocol::is_agent_id(&signed.summary.agent) => signed.summary.agent.clone(),
        _ => FALLBACK_AGENT.to_string(),
    };
    let verdict = judge_one(&Message::new(topics::summary(&agent), data.to_vec()), enrolled, now);
    match (&decoded, &verdict) {
        (Err(_), Ok(_)) => panic!("judge stored a payload that does not decode"),
        (_, Err((reason, detail))) => {
            let receipt = Receipt::new(0, ReceiptStatus::Rejected, Some(format!("{reason}: {detail}")));
            assert_eq!(Receipt::decode(&receipt.to_bytes()), Some(receipt), "receipt round trip");
        }
        _ => {}
    }

    if let Ok(signed) = decoded {
        let resigned = SignedSummary::sign(signed.summary, &key);
        let bytes = resigned.to_bytes();
        let back = SignedSummary::decode(&bytes).expect("a re-signed valid summary decodes");
        assert_eq!(back, resigned, "signed summary round trip");
        back.verify(&key.verifying_key()).expect("its signature verifies");
        let row = judge_one(&Message::new(topics::summary(&back.summary.agent), bytes), enrolled, now)
            .expect("a valid, correctly signed summary is accepted");
        serde_json::from_str::<serde_json::Value>(&row.payload).expect("the stored payload is JSON");
    }
});
