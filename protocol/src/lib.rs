//! Wire contract between wijkagent and wijkpost.
//!
//! This crate holds only what both ends must agree on byte for byte: schema identifiers and the MQTT
//! topic scheme of DESIGN.md ("MQTT topics"). The summary, receipt and advice types arrive with the
//! uplink work; nothing here performs I/O.

/// Schema identifier of the agent's local report (`report.json`).
pub const REPORT_SCHEMA: &str = "wijkagent.report/1";

/// Schema identifier of the anonymised summary an agent sends to wijkpost.
pub const SUMMARY_SCHEMA: &str = "wijk.summary/1";

/// MQTT topics of one agent's subtree (`/tenants/<agent>/wijk/v1/...`).
pub mod topics {
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

    /// Shared subscription through which several wijkpost instances split the summaries.
    pub const SHARED_SUMMARY_SUBSCRIPTION: &str = "$share/wijkpost//tenants/+/wijk/v1/summary";
}

#[cfg(test)]
mod tests {
    use super::topics;

    #[test]
    fn every_topic_of_an_agent_lies_in_its_own_subtree() {
        let prefix = "/tenants/a1b2c3/";
        for topic in [topics::summary("a1b2c3"), topics::receipt("a1b2c3"), topics::advice("a1b2c3")] {
            assert!(topic.starts_with(prefix), "{topic} escapes {prefix}");
        }
        assert!(topics::SHARED_SUMMARY_SUBSCRIPTION.ends_with(&topics::summary("+")));
    }
}
