//! wijkpost, the sector collector run by VVSG.
//!
//! The parts, each in its own module:
//! - [`ca`]: wijkpost's own certificate authority (server certificate, agents' client certificates);
//! - [`store`]: one [`store::Store`] trait with SQLite (default) and PostgreSQL backends and
//!   versioned migrations: tokens, agents, summaries, rejected payloads;
//! - [`enroll`]: one-time tokens and the enrollment of an agent;
//! - [`org`]: the closed vocabularies describing an organisation (sector, size class, province);
//! - [`trends`]: the k-anonymous trends index over every stored summary, and the advice per agent;
//!   [`feed`] keeps it current (loaded from the store, fed by ingest) and makes the advice due;
//! - [`users`]: dashboard users, roles and password hashes;
//! - [`web`]: the HTTP endpoint (`POST /v1/enroll`, `GET /healthz`) and the dashboard;
//! - [`serve`]: the long-running service, one cancellation tree over all its tasks;
//! - [`cli`]: the command line; [`config`]: the service's config file; [`i18n`]: Dutch or English
//!   for people;
//! - [`files`]: private directories and atomic writes.

pub mod allocator;
pub mod broker;
pub mod ca;
pub mod cli;
pub mod config;
pub mod enroll;
pub mod external;
pub mod feed;
pub mod files;
pub mod i18n;
pub mod ingest;
pub mod org;
pub mod pipeline;
pub mod serve;
pub mod store;
pub mod trends;
pub mod users;
pub mod web;

/// The summary schema this collector accepts.
pub fn accepted_summary_schema() -> &'static str {
    wijk_protocol::SUMMARY_SCHEMA
}
