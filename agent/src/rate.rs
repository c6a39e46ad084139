//! Rate caps: one limiter for all packets together and one per host, both GCRA (governor).
//!
//! Bursts are chosen, not defaulted: governor's `per_second(n)` alone would allow a burst of `n`, so
//! the first second could carry `2n`. Here the total limiter allows a burst of 20 ms worth of packets
//! (at least 1), which lets a sender that overslept catch up without any one-second window carrying
//! more than `rate + rate/50`. The per-host limiter allows the same 20 ms worth. A host that stopped
//! answering is moved to a slower per-host quota (a quarter). The clock is governor's
//! `MonotonicClock` (std `Instant`), not quanta's (governor #299).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

type Direct = RateLimiter<NotKeyed, InMemoryState, MonotonicClock, NoOpMiddleware<std::time::Instant>>;
type Keyed = RateLimiter<IpAddr, DashMapStateStore<IpAddr>, MonotonicClock, NoOpMiddleware<std::time::Instant>>;

/// Default total rate when the consent sets none (packets per second).
pub const DEFAULT_RATE: u32 = 200;
/// Default per-host rate when the consent sets none.
pub const DEFAULT_PER_HOST_RATE: u32 = 20;

/// Packets-per-second caps in force for one scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateCaps {
    /// All packets together.
    pub total: u32,
    /// Packets to one host.
    pub per_host: u32,
}

/// The limiters of one scan.
pub struct Limiter {
    caps: RateCaps,
    total: Direct,
    per_host: Keyed,
    slowed: Keyed,
    clock: MonotonicClock,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("caps", &self.caps).finish()
    }
}

fn quota(rate: u32) -> Quota {
    let rate = NonZeroU32::new(rate.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new((rate.get() / 50).max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

impl Limiter {
    /// Limiters for `caps` (zero rates are treated as 1).
    pub fn new(caps: RateCaps) -> Limiter {
        let clock = MonotonicClock;
        Limiter {
            caps,
            total: RateLimiter::direct_with_clock(quota(caps.total), clock.clone()),
            per_host: RateLimiter::dashmap_with_clock(quota(caps.per_host), clock.clone()),
            slowed: RateLimiter::dashmap_with_clock(quota((caps.per_host / 4).max(1)), clock.clone()),
            clock,
        }
    }

    /// The caps in force.
    pub fn caps(&self) -> RateCaps {
        self.caps
    }

    /// Takes one per-host cell for `host` if available now; otherwise says how long to wait.
    /// When the per-host cap is not below the total cap it can never bind, and is not consulted.
    pub fn try_host(&self, host: IpAddr, slowed: bool) -> Result<(), Duration> {
        if !slowed && self.caps.per_host >= self.caps.total {
            return Ok(());
        }
        let limiter = if slowed { &self.slowed } else { &self.per_host };
        limiter.check_key(&host).map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Takes one cell of the total budget if available now; otherwise says how long to wait.
    pub fn try_total(&self) -> Result<(), Duration> {
        self.total.check().map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Waits (blocking this thread) for one cell of the total budget; false if `stop` fired.
    pub fn wait_total_blocking(&self, stop: &tokio_util::sync::CancellationToken) -> bool {
        loop {
            match self.try_total() {
                Ok(()) => return true,
                Err(wait) => {
                    if stop.is_cancelled() {
                        return false;
                    }
                    std::thread::sleep(wait.min(Duration::from_millis(50)));
                }
            }
        }
    }

    /// Waits (async) for a per-host and then a total cell.
    pub async fn acquire(&self, host: IpAddr) {
        while let Err(wait) = self.try_host(host, false) {
            tokio::time::sleep(wait).await;
        }
        while let Err(wait) = self.try_total() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Forgets per-host state of hosts not seen for a while (keeps memory flat on large scopes).
    pub fn shrink(&self) {
        self.per_host.retain_recent();
        self.per_host.shrink_to_fit();
        self.slowed.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_burst_is_twenty_milliseconds_of_traffic_not_a_whole_second() {
        let l = Limiter::new(RateCaps { total: 500, per_host: 500 });
        let mut immediate = 0;
        while l.try_total().is_ok() {
            immediate += 1;
            assert!(immediate < 100, "burst unbounded");
        }
        assert_eq!(immediate, 10, "500 pps allows a burst of 500/50 = 10");
    }

    #[test]
    fn per_host_cells_are_counted_per_host() {
        let l = Limiter::new(RateCaps { total: 1000, per_host: 20 });
        let a: IpAddr = "198.18.0.1".parse().expect("ip");
        let b: IpAddr = "198.18.0.2".parse().expect("ip");
        assert!(l.try_host(a, false).is_ok());
        let wait = l.try_host(a, false).expect_err("second cell for a must wait");
        assert!(wait > Duration::from_millis(30) && wait <= Duration::from_millis(50), "{wait:?}");
        assert!(l.try_host(b, false).is_ok(), "b has its own budget");
    }
}
