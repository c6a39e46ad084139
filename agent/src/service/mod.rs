//! The long-running mode: `wijkagent run --config FILE` and `wijkagent status --config FILE`.
//!
//! Municipal IT staff install the agent once; from then on it scans on its schedule, only inside
//! the consent's windows, keeps each report on premises and pushes each summary to wijkpost.
//!
//! - [`config`]: the configuration file (`/etc/wijkagent/agent.toml`);
//! - [`cron`]: when scans are due;
//! - [`runner`]: the loop — wait, scan part by part, pause at a window's end, resume, push; SIGHUP
//!   reloads, SIGTERM stops within seconds;
//! - [`checkpoint`]: the scan in progress on disk, part by part;
//! - [`finish`]: the finished scan's report, old reports pruned, the outbox delivered;
//! - [`record`]: what the service writes down about itself (`memory.json`, `status.json`);
//! - [`status`]: `wijkagent status`.

pub mod checkpoint;
pub mod config;
pub mod cron;
pub mod finish;
pub mod record;
pub mod runner;
pub mod status;
