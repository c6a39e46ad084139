//! wijk-lab: support for wijkagent's end-to-end tests, which run real programs across processes.
//!
//! - [`addressing`]: the lab's addressing plan (benchmarking ranges only), hosts and expected ports.
//! - [`lab`]: [`Lab`](lab::Lab), network namespaces on a private bridge with real daemons, packet
//!   counters, and the root check every lab test starts with.
//! - [`daemons`]: the daemons the lab runs and their configurations (templates in `tests/lab/`).
//! - [`services`]: the services lab: weak and hardened twins of real daemons, and hostile fakes
//!   ([`hostile`], run by the `hostile` program); [`certs`] makes their certificates.
//! - [`packets`]: the packets lab: duplicated and late SYN-ACKs and ICMP storms from [`rawfake`]
//!   (run by the `rawfake` program), and a middlebox that answers on every port (nftables).
//! - [`hostile_lab`]: the hostile lab: resets, TLS garbage, hostile certificates ([`hostile_certs`])
//!   and invalid UTF-8 ([`hostile_text`]).
//! - [`counters`]: nftables counters that prove no packet reached an out-of-scope host.
//! - [`agent`]: finding the `wijkagent` binary and running it in an empty network namespace.
//! - [`collector`]: running `wijkpost serve` on loopback and issuing its tokens; [`brokers`]: a
//!   Mosquitto and a PostgreSQL database of a test's own for the scaled stack.
//! - [`consent_fixture`]: consent documents in DESIGN.md's shape, signed through the agent's CLI.
//! - [`report`]: reading `report.json` and the audit log; [`rows`]: PASS/FAIL rows of a lab run.
//! - [`mqtt`]: MQTT clients as an enrolled agent (TLS with its client certificate).
//! - [`dashboard`]: an HTTP client of wijkpost's dashboard and its login form.
//! - [`install`]: the Debian packages, a fresh Debian root (debootstrap) to install them into, and
//!   snapshots of its file tree.
//! - [`process`]: running programs with a deadline; every wait in these tests ends; [`service`]: a
//!   long-running program sent signals, its log read line by line.
//! - [`tmpfs`]: a small tmpfs of a test's own, filled and grown again, for the full-disk tests.
//!
//! Safety (DESIGN.md, "How tests reach a network"): packets go only to 127.0.0.0/8, ::1, or
//! addresses inside namespaces these helpers created; lab addresses come from 198.18.0.0/15 and
//! 2001:2::/48; no namespace gets a default route, nothing is bridged into the root namespace.

pub mod addressing;
pub mod agent;
pub mod agent_service;
pub mod bench;
pub mod brokers;
pub mod certs;
pub mod collector;
pub mod consent_fixture;
pub mod counters;
pub mod daemons;
pub mod dashboard;
pub mod hostile;
pub mod hostile_certs;
pub mod hostile_lab;
pub mod hostile_text;
pub mod install;
pub mod lab;
pub mod mqtt;
pub mod packets;
pub mod process;
pub mod rawfake;
pub mod report;
pub mod rows;
pub mod service;
pub mod services;
pub mod sockets;
pub mod tmpfs;

pub use addressing::{host, Addressing, LabHost, LabKind, Port, Proto, GARBAGE_PORTS, HOSTILE_PORTS, UTF8_PORTS};
pub use counters::PacketCounts;
pub use lab::{require_root_or_skip, Lab};
pub use report::Report;
