//! wijkpost, the sector collector.
//!
//! Today only the skeleton exists: the binary builds and reports its version. Broker, ingest, store,
//! trends and the web dashboard arrive with the uplink and dashboard work (see DESIGN.md).

/// The summary schema this collector accepts.
pub fn accepted_summary_schema() -> &'static str {
    wijk_protocol::SUMMARY_SCHEMA
}
