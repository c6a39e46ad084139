//! What one raw probe asks ([`Slot`]), what came of it ([`SlotState`], packed in one byte with the
//! transmission that settled it), and the keyed [`Cookie`] that ties an answer to its probe.
//!
//! The cookie travels in the TCP sequence number of a SYN (echoed back, plus one, in the SYN-ACK's
//! or RST's acknowledgement number and quoted in an ICMP unreachable) and in the acknowledgement
//! number of an ACK ping (echoed in the RST's sequence number). Its 30 high bits are a keyed hash of
//! (host, port), so an answer that does not carry them is not an answer to us; its 2 low bits say
//! which pass sent the probe, so an answer tells which transmission it answers: a duplicate (the
//! same transmission answered twice) is told apart from a late answer (one that came after its
//! probe had been sent again).

use std::hash::BuildHasher;
use std::net::IpAddr;

/// What one raw probe asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// TCP SYN to a port.
    Syn(u16),
    /// TCP ACK to a port (ACK ping).
    Ack(u16),
    /// ICMP echo.
    Echo,
    /// ARP who-has.
    Arp,
}

impl Slot {
    /// Name used in `discovered_by`.
    pub fn label(self) -> String {
        match self {
            Slot::Syn(p) => format!("tcp-syn:{p}"),
            Slot::Ack(p) => format!("tcp-ack:{p}"),
            Slot::Echo => "icmp-echo".into(),
            Slot::Arp => "arp".into(),
        }
    }
}

/// State of one (host, slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SlotState {
    /// Not answered (yet).
    Pending = 0,
    /// SYN-ACK.
    Open = 1,
    /// RST to our SYN.
    Closed = 2,
    /// ICMP unreachable about our probe.
    Unreachable = 3,
    /// Answered (echo reply, ARP reply, RST to ACK).
    Answered = 4,
    /// Never sent: the host was left alone (or answers on every port).
    Skipped = 5,
}

/// Low nibble of a packed cell: the state; bits 4-5: the pass whose probe was answered.
const STATE_BITS: u8 = 0x0f;

impl SlotState {
    /// The state of a packed cell.
    pub(crate) fn unpack(v: u8) -> SlotState {
        match v & STATE_BITS {
            1 => SlotState::Open,
            2 => SlotState::Closed,
            3 => SlotState::Unreachable,
            4 => SlotState::Answered,
            5 => SlotState::Skipped,
            _ => SlotState::Pending,
        }
    }

    /// A cell holding this state, settled by an answer to pass `pass`.
    pub(crate) fn pack(self, pass: u8) -> u8 {
        self as u8 | (pass.min(MAX_TAG) << 4)
    }
}

/// The pass that settled a packed cell.
pub(crate) fn packed_pass(v: u8) -> u8 {
    v >> 4
}

/// Highest pass number a cookie can carry; later passes share it.
pub const MAX_TAG: u8 = 3;
const TAG_BITS: u32 = 0b11;

/// Keyed cookie that ties replies to our probes without keeping per-probe state.
#[derive(Debug)]
pub struct Cookie(std::hash::RandomState);

impl Cookie {
    /// A fresh random key.
    pub fn new() -> Cookie {
        Cookie(std::hash::RandomState::new())
    }

    /// The keyed 32-bit hash of a (host, port); its two low bits are replaced by [`Cookie::tagged`].
    pub fn of(&self, ip: IpAddr, port: u16) -> u32 {
        self.0.hash_one((ip, port)) as u32
    }

    /// The cookie a probe to (host, port) carries in pass `pass` (passes above [`MAX_TAG`] carry it).
    pub fn tagged(&self, ip: IpAddr, port: u16, pass: u8) -> u32 {
        (self.of(ip, port) & !TAG_BITS) | u32::from(pass.min(MAX_TAG))
    }

    /// The pass whose probe to (host, port) carried `echoed`, or `None` if it is not our cookie.
    pub fn pass_of(&self, ip: IpAddr, port: u16, echoed: u32) -> Option<u8> {
        ((echoed ^ self.of(ip, port)) & !TAG_BITS == 0).then_some((echoed & TAG_BITS) as u8)
    }
}

impl Default for Cookie {
    fn default() -> Self {
        Cookie::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tagged_cookie_names_its_pass_and_nothing_else_passes() {
        let c = Cookie::new();
        let ip: IpAddr = "198.18.0.2".parse().expect("ip");
        for pass in 0..6u8 {
            assert_eq!(c.pass_of(ip, 22, c.tagged(ip, 22, pass)), Some(pass.min(MAX_TAG)));
        }
        let tagged = c.tagged(ip, 22, 1);
        assert_eq!(c.pass_of(ip, 23, tagged), None, "another port's cookie");
        assert_eq!(c.pass_of("198.18.0.3".parse().expect("ip"), 22, tagged), None, "another host's cookie");
        assert_eq!(c.pass_of(ip, 22, tagged ^ 0x8000_0000), None, "a forged high bit");
        assert_ne!(Cookie::new().pass_of(ip, 22, tagged), Some(1), "another key (fails 1 in 2^30)");
    }

    #[test]
    fn cells_pack_state_and_pass() {
        for state in [SlotState::Open, SlotState::Closed, SlotState::Unreachable, SlotState::Answered] {
            for pass in 0..5 {
                let v = state.pack(pass);
                assert_eq!(SlotState::unpack(v), state);
                assert_eq!(packed_pass(v), pass.min(MAX_TAG));
            }
        }
        assert_eq!(SlotState::unpack(0), SlotState::Pending);
    }
}
