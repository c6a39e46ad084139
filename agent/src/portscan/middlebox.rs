//! Hosts that answer on (nearly) every TCP port: a middlebox, firewall or tarpit that completes the
//! handshake for any port (some IPS appliances, "portspoof"-style deception, a NAT that redirects
//! everything to one listener).
//!
//! Such a host says nothing about what really runs there: each of its "open" ports would be a
//! service to identify, and `full` would give 65,535 of them. The rule, one place for every engine:
//!
//! **a host answers everything when at least [`MIN_OPEN`] (100) of its probed TCP ports are open
//! and they are at least [`MIN_SHARE_PERCENT`] (90 %) of the ports probed.**
//!
//! A real server with a hundred open ports out of a hundred and ten probed does not exist in the
//! networks this agent scans; a server with 100 open ports among the ~1000 of `standard` stays far
//! below 90 %. The engines stop probing such a host's TCP ports as soon as the rule holds (the rest
//! are `unscanned`), identification leaves its TCP ports alone, and the report says so on the host
//! (`hosts[].middlebox`) instead of listing "services".
//!
//! Open and probed counts are those of the moment a sweep decides: the SYN sweep counts first
//! transmissions, so the rule still holds in the final tally (every probed port is counted, and
//! open ports only grow); the connect scan counts finished attempts, as thousands can be in flight.

use super::PortTally;

/// Open ports needed before a host can count as answering everything.
pub const MIN_OPEN: u64 = 100;
/// Share of the probed ports that must be open, in percent.
pub const MIN_SHARE_PERCENT: u64 = 90;

/// Whether `open` ports out of `probed` make a host that answers everything.
pub fn answers_everything(open: u64, probed: u64) -> bool {
    open >= MIN_OPEN && open.saturating_mul(100) >= probed.saturating_mul(MIN_SHARE_PERCENT)
}

/// [`answers_everything`] over a host's final TCP tally (`unscanned` ports were not probed).
pub fn tally_answers_everything(t: &PortTally) -> bool {
    let probed = u64::from(t.open) + u64::from(t.closed) + u64::from(t.filtered) + u64::from(t.open_filtered);
    answers_everything(u64::from(t.open), probed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_needs_a_hundred_open_ports_and_ninety_percent() {
        assert!(answers_everything(100, 100));
        assert!(answers_everything(100, 111), "90.09 %");
        assert!(!answers_everything(100, 112), "89.3 %");
        assert!(!answers_everything(99, 99), "too few ports to tell");
        assert!(answers_everything(65_535, 65_535));
        assert!(!answers_everything(100, 1000), "a busy server among the standard ports");
        assert!(!answers_everything(0, 0));
    }

    #[test]
    fn unscanned_ports_do_not_count_as_probed() {
        let cut_short = PortTally { open: 120, closed: 3, unscanned: 65_000, ..Default::default() };
        assert!(tally_answers_everything(&cut_short));
        let firewalled = PortTally { open: 120, filtered: 880, ..Default::default() };
        assert!(!tally_answers_everything(&firewalled));
    }
}
