//! wijkagent: a consent-gated network scanner for municipal networks.
//!
//! The data flows one way (DESIGN.md): `consent` → `scan::plan` → `discover` → `portscan` → `report`.
//!
//! - [`consent`]: the signed scope document, its signature, windows and address arithmetic.
//! - [`audit`]: the hash-chained audit log of every scan and refusal.
//! - [`ports`]: port profiles as data files, each port with its reason; UDP probe payloads.
//! - [`net`]: raw packets behind one trait, guarded by the scope; [`rate`]: the rate caps.
//! - [`sweep`]: the raw probe engine (retransmission, back-off) used by [`discover`] and the SYN scan.
//! - [`portscan`]: connect and UDP scans, port states.
//! - [`probe`]: service identification, one file per protocol; [`tls`]: TLS versions, suites, certificates.
//! - [`scan`]: one scan from plan to report; [`report`]: `report.json`.
//! - [`progress`], [`i18n`]: what people see while it runs, in Dutch or English.
//! - [`service`]: the long-running mode (`wijkagent run`, `wijkagent status`).
//! - [`cli`]: the command line of the `wijkagent` binary.
pub mod audit;
pub mod cli;
pub mod consent;
pub mod discover;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod i18n;
pub mod net;
pub mod outbox;
pub mod ports;
pub mod portscan;
pub mod probe;
pub mod progress;
pub mod rate;
pub mod report;
pub mod rules;
pub mod scan;
pub mod service;
pub mod summary;
pub mod sweep;
pub mod tls;
pub mod uplink;
