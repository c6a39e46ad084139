//! Benchmark support: wijkagent against nmap in the same lab and the same run.
//!
//! - [`measure`]: wall time and peak RSS of a process (VmHWM polled from /proc), bounded in time.
//! - [`nmap`]: running nmap and reading its grepable output.
//! - [`wire`]: counting the agent's packets on the wire with tcpdump, in one-second buckets.
//!
//! The program is `tests/src/bin/wijk-bench.rs`; run it with `tests/bench` (README, "Performance").

pub mod measure;
pub mod nmap;
pub mod wire;
