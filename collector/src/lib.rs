//! wijkpost, the sector collector run by VVSG.
//!
//! The parts, each in its own module:
//! - [`ca`]: wijkpost's own certificate authority (server certificate, agents' client certificates);
//! - [`store`]: one [`store::Store`] trait with SQLite (default) and PostgreSQL backends and
//!   versioned migrations: tokens, agents, summaries, rejected payloads;
//! - [`org`]: the closed vocabularies describing an organisation (sector, size class, province);
//! - [`files`]: private directories and atomic writes.

pub mod broker;
pub mod ca;
pub mod files;
pub mod ingest;
pub mod org;
pub mod store;

/// The summary schema this collector accepts.
pub fn accepted_summary_schema() -> &'static str {
    wijk_protocol::SUMMARY_SCHEMA
}
