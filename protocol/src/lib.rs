//! Wire contract between wijkagent and wijkpost.
//!
//! Everything both ends must agree on byte for byte lives here, and nothing here performs I/O:
//! - [`summary`]: the anonymised [`Summary`] an agent sends (`wijk.summary/1`), its bounds and
//!   validation, and the [`SignedSummary`] envelope carrying an Ed25519 signature over its canonical bytes;
//! - [`receipt`]: wijkpost's [`Receipt`] for each summary (`stored`, `duplicate`, `rejected` + reason),
//!   and the [`BatchReceipt`] answering several summaries of one agent at once;
//! - [`advice`]: the retained [`Advice`] wijkpost keeps for each agent;
//! - [`enroll`]: the one-time [`EnrollToken`] and the enrollment request and answer;
//! - [`topics`]: the MQTT topic scheme (DESIGN.md, "MQTT topics").
//!
//! The JSON schemas are documented in `docs/protocol.md`; a change that old readers cannot read gets a
//! new schema version.

pub mod advice;
pub mod enroll;
pub mod receipt;
pub mod summary;

pub use advice::Advice;
pub use enroll::{EnrollRequest, EnrollResponse, EnrollToken};
pub use receipt::{read_receipts, BatchReceipt, Receipt, ReceiptStatus};
pub use summary::{SignedSummary, Summary, SummaryError};

/// Schema identifier of the agent's local report (`report.json`).
pub const REPORT_SCHEMA: &str = "wijkagent.report/1";

/// Schema identifier of the anonymised summary an agent sends to wijkpost.
pub const SUMMARY_SCHEMA: &str = "wijk.summary/1";

/// Schema identifier of the signed envelope around a summary (the MQTT payload) that agents write:
/// it lists the receipt schemas the agent reads.
pub const SIGNED_SUMMARY_SCHEMA: &str = "wijk.signed-summary/2";

/// The first envelope, without the list of receipt schemas; wijkpost still reads it (older agents,
/// and outbox entries written before an agent's update) and answers it with `wijk.receipt/1` only.
pub const SIGNED_SUMMARY_SCHEMA_1: &str = "wijk.signed-summary/1";

/// Schema identifier of a receipt for one summary.
pub const RECEIPT_SCHEMA: &str = "wijk.receipt/1";

/// Schema identifier of a receipt for several summaries of one agent (stored or duplicate).
pub const BATCH_RECEIPT_SCHEMA: &str = "wijk.receipt/2";

/// Schema identifier of the advice document.
pub const ADVICE_SCHEMA: &str = "wijk.advice/1";

/// Whether `id` is a well-formed pseudonymous agent id: 8 to 40 lowercase letters and digits, so it
/// is a valid rumqttd tenant (alphanumeric) and a single MQTT topic level.
pub fn is_agent_id(id: &str) -> bool {
    (8..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Host and port of a broker address `mqtts://HOST:PORT` (an IPv6 host in brackets comes back
/// without them; a trailing `/` is allowed). The form wijkpost hands out at enrollment and takes in
/// `--broker`; anything else (another scheme, no port, port 0, user info, a path) is `None`.
pub fn parse_broker_url(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("mqtts://")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':')?)
        }
        None => rest.rsplit_once(':')?,
    };
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    let clean = !host.is_empty() && !host.contains(['/', '@', ' ', '[', ']']);
    clean.then(|| (host.to_string(), port))
}

/// MQTT topics of one agent's subtree (`/tenants/<agent>/wijk/v1/...`).
pub mod topics {
    /// Prefix of every topic of `agent`.
    pub fn prefix(agent: &str) -> String {
        format!("/tenants/{agent}/")
    }

    /// Topic on which `agent` publishes its signed summaries.
    pub fn summary(agent: &str) -> String {
        format!("/tenants/{agent}/wijk/v1/summary")
    }

    /// Topic on which wijkpost answers with a receipt for each summary.
    pub fn receipt(agent: &str) -> String {
        format!("/tenants/{agent}/wijk/v1/receipt")
    }

    /// Retained topic holding the agent's benchmark and the sector's advice.
    pub fn advice(agent: &str) -> String {
        format!("/tenants/{agent}/wijk/v1/advice")
    }

    /// The agent id in a summary topic, if `topic` is one.
    pub fn agent_of_summary(topic: &str) -> Option<&str> {
        let agent = topic.strip_prefix("/tenants/")?.strip_suffix("/wijk/v1/summary")?;
        super::is_agent_id(agent).then_some(agent)
    }

    /// Filter matching every agent's summary topic.
    pub const ALL_SUMMARIES: &str = "/tenants/+/wijk/v1/summary";

    /// Shared subscription through which several wijkpost instances split the summaries.
    pub const SHARED_SUMMARY_SUBSCRIPTION: &str = "$share/wijkpost//tenants/+/wijk/v1/summary";
}

#[cfg(test)]
mod tests {
    use super::{is_agent_id, topics};

    #[test]
    fn every_topic_of_an_agent_lies_in_its_own_subtree() {
        let prefix = topics::prefix("a1b2c3d4");
        for topic in [topics::summary("a1b2c3d4"), topics::receipt("a1b2c3d4"), topics::advice("a1b2c3d4")] {
            assert!(topic.starts_with(&prefix), "{topic} escapes {prefix}");
        }
        assert!(topics::SHARED_SUMMARY_SUBSCRIPTION.ends_with(topics::ALL_SUMMARIES));
    }

    #[test]
    fn the_agent_is_read_back_from_a_summary_topic_only() {
        assert_eq!(topics::agent_of_summary(&topics::summary("a1b2c3d4")), Some("a1b2c3d4"));
        assert_eq!(topics::agent_of_summary(&topics::receipt("a1b2c3d4")), None);
        assert_eq!(topics::agent_of_summary("/tenants/+/wijk/v1/summary"), None);
        assert_eq!(topics::agent_of_summary("/tenants/a/b/wijk/v1/summary"), None);
    }

    #[test]
    fn broker_addresses_are_read_strictly() {
        use super::parse_broker_url as parse;
        assert_eq!(parse("mqtts://127.0.0.1:8883"), Some(("127.0.0.1".into(), 8883)));
        assert_eq!(parse("mqtts://[::1]:8883"), Some(("::1".into(), 8883)));
        assert_eq!(parse("mqtts://wijkpost.vvsg.be:8883/"), Some(("wijkpost.vvsg.be".into(), 8883)));
        for bad in [
            "mqtt://h:1883",
            "mqtts://h",
            "mqtts://:8883",
            "mqtts://h:0",
            "mqtts://u@h:1",
            "mqtts://h:x",
            "mqtts://[::1:1",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn agent_ids_are_short_lowercase_alphanumerics() {
        assert!(is_agent_id("a1b2c3d4e5f6"));
        for bad in ["short", "Abcdefgh1", "abc.defgh", "abcdefgh/", &"a".repeat(41), "abcdefgh+"] {
            assert!(!is_agent_id(bad), "{bad} accepted");
        }
    }
}
