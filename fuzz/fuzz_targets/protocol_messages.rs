//! The other wire messages an agent or wijkpost reads: receipts (one or a batch) and advice (agent side, from the
//! broker), enrollment tokens, broker URLs and summary topics. Whatever decodes must encode and
//! decode again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wijk_protocol::{topics, Advice, BatchReceipt, EnrollToken, Receipt};

fuzz_target!(|data: &[u8]| {
    if let Some(receipt) = Receipt::decode(data) {
        assert_eq!(Receipt::decode(&receipt.to_bytes()), Some(receipt), "receipt round trip");
    }
    if let Some(batch) = BatchReceipt::decode(data) {
        assert_eq!(BatchReceipt::decode(&batch.to_bytes()), Some(batch.clone()), "batch receipt round trip");
        assert_eq!(wijk_protocol::read_receipts(data).len(), batch.len(), "one receipt per seq");
    }
    if let Some(advice) = Advice::decode(data) {
        assert!(Advice::decode(&advice.to_bytes()).is_some(), "advice round trip");
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(token) = EnrollToken::decode(&text) {
        assert_eq!(EnrollToken::decode(&token.encode()), Ok(token), "token round trip");
    }
    if let Some((host, port)) = wijk_protocol::parse_broker_url(&text) {
        std::hint::black_box((host, port));
    }
    if let Some(agent) = topics::agent_of_summary(&text) {
        assert!(wijk_protocol::is_agent_id(agent));
        assert_eq!(topics::agent_of_summary(&topics::summary(agent)), Some(agent), "topic round trip");
    }
});
