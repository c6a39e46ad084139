//! Port scanning: which TCP and UDP ports of the live hosts are open.
//!
//! - SYN scan over raw sockets when privileged: a [`crate::sweep`] with one `Syn` slot per port.
//! - [`connect`]: full TCP connects through the kernel, when unprivileged or with `--connect`.
//! - [`udp`]: protocol-specific payloads for the essential UDP services.
//! - [`middlebox`]: the rule for hosts that answer on (nearly) every TCP port, which both TCP engines
//!   apply while they run and the report applies to the final tally.
//!
//! All of them take their hosts from discovery (already inside the consent) and check the scope again
//! before each connection, and all of them draw every packet from the same [`crate::rate::Limiter`].

pub mod connect;
pub mod middlebox;
pub mod udp;

use serde::{Deserialize, Serialize};

/// State of one port, as nmap names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortState {
    /// Something accepts connections / answered.
    Open,
    /// The host answered that nothing listens.
    Closed,
    /// No answer after retransmission, or an ICMP unreachable.
    Filtered,
    /// UDP without an answer: open or filtered, cannot tell.
    #[serde(rename = "open|filtered")]
    OpenFiltered,
    /// Not probed: the host was left alone after it stopped answering.
    Unscanned,
}

/// Per-port tally of one host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortTally {
    /// Open ports.
    pub open: u32,
    /// Closed ports.
    pub closed: u32,
    /// Filtered ports.
    pub filtered: u32,
    /// UDP ports without an answer.
    pub open_filtered: u32,
    /// Ports never probed.
    pub unscanned: u32,
}

impl PortTally {
    /// Counts one port.
    pub fn add(&mut self, state: PortState) {
        match state {
            PortState::Open => self.open += 1,
            PortState::Closed => self.closed += 1,
            PortState::Filtered => self.filtered += 1,
            PortState::OpenFiltered => self.open_filtered += 1,
            PortState::Unscanned => self.unscanned += 1,
        }
    }
}
