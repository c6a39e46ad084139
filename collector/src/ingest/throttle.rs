//! The per-agent budget: how many summary messages one agent may send per second, checked by the
//! broker reader *before* a message is copied, decoded or verified, so a flood from one enrolled
//! agent (replays, malformed or oversized payloads, thousands per second) costs wijkpost a topic
//! check and a counter per message, and the other agents' summaries are stored as usual.
//!
//! The budget is GCRA per agent id (governor, keyed by the id from the topic, on the std monotonic
//! clock rather than quanta's, governor #299) with an explicit burst: `per_second(rate)` alone would
//! let a burst of `rate` through on top of the rate. A message over the budget is dropped unread and
//! unanswered: no receipt, so the agent's outbox keeps it and sends it again when no receipt came
//! for a while (`wijkagent push` does after 10 s); a well-behaved agent loses nothing, a flooding
//! one only slows itself down. A `rejected` receipt would be wrong: the outbox would set a valid
//! summary aside.
//!
//! The default budget (10 per second, a burst of 500) is far above what a real agent sends (one
//! summary per scan; after a long outage its whole outbox at once, a few hundred at most) and far
//! below a flood. A load generator sending thousands per second per agent (the uplink benchmark)
//! runs with `--agent-rate 0`: no budget.
//!
//! Dropped messages are counted in [`Stats`] (`wijkpost_throttled_total`, and per agent for the
//! agents throttled in the last minute) and logged at most once per agent per minute.

use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use wijk_protocol::topics;

use super::Stats;

/// Default sustained rate per agent, messages per second.
pub const DEFAULT_RATE: u32 = 10;
/// Default burst per agent: messages one agent may send at once after being quiet.
pub const DEFAULT_BURST: u32 = 500;
/// An agent counts as throttled for this long after its last dropped message; log lines about one
/// agent are at least this far apart.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Agents listed by name in `/metrics` at most (the ones that dropped most).
pub const MAX_LISTED: usize = 20;
/// How often idle bookkeeping runs (log lines owed, forgetting quiet agents).
pub const TICK: Duration = Duration::from_secs(10);

/// Messages per second and burst allowed to one agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Sustained messages per second; 0: no budget at all.
    pub rate: u32,
    /// Messages at once after a quiet spell (at least 1 when `rate` > 0).
    pub burst: u32,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget { rate: DEFAULT_RATE, burst: DEFAULT_BURST }
    }
}

impl Budget {
    /// No budget: every message goes on (for load generators, not for production).
    pub const OFF: Budget = Budget { rate: 0, burst: 0 };

    /// For logs: `10/s, burst 500` or `off`.
    pub fn describe(&self) -> String {
        match self.quota() {
            Some(_) => format!("{}/s, burst {}", self.rate, self.burst.max(1)),
            None => "off".to_string(),
        }
    }

    fn quota(&self) -> Option<Quota> {
        let rate = NonZeroU32::new(self.rate)?;
        Some(Quota::per_second(rate).allow_burst(NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN)))
    }
}

/// One agent's current spell of being throttled, kept in [`Stats::throttled_agents`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Episode {
    /// Messages dropped since the spell began.
    pub dropped: u64,
    /// The last message dropped.
    pub last: Instant,
    /// Dropped messages not yet in a log line.
    unlogged: u64,
    /// When the last log line about this agent was written.
    logged_at: Option<Instant>,
}

impl Stats {
    /// The agents throttled within [`WINDOW`] before `now` with their dropped messages, most first
    /// (at most [`MAX_LISTED`]), and how many agents that is in all.
    pub fn throttled_now(&self, now: Instant) -> (Vec<(String, u64)>, usize) {
        let Ok(map) = self.throttled_agents.lock() else { return (Vec::new(), 0) };
        let mut recent: Vec<(String, u64)> = map
            .iter()
            .filter(|(_, e)| now.saturating_duration_since(e.last) < WINDOW)
            .map(|(agent, e)| (agent.clone(), e.dropped))
            .collect();
        let all = recent.len();
        recent.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        recent.truncate(MAX_LISTED);
        (recent, all)
    }
}

/// An agent id as a key that needs no allocation (ids are at most 40 bytes, see
/// [`wijk_protocol::is_agent_id`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct AgentKey {
    len: u8,
    bytes: [u8; 40],
}

impl AgentKey {
    fn new(agent: &str) -> Option<AgentKey> {
        let len = u8::try_from(agent.len()).ok().filter(|&l| l <= 40)?;
        let mut bytes = [0u8; 40];
        bytes[..agent.len()].copy_from_slice(agent.as_bytes());
        Some(AgentKey { len, bytes })
    }
}

type Limiter<C> = RateLimiter<AgentKey, HashMapStateStore<AgentKey>, C, NoOpMiddleware<Instant>>;

/// The per-agent budget of one broker reader.
pub struct Throttle<C: Clock<Instant = Instant> = MonotonicClock> {
    limiter: Option<Limiter<C>>,
    clock: C,
    budget: Budget,
    stats: Arc<Stats>,
    next_tick: Instant,
}

impl<C: Clock<Instant = Instant>> std::fmt::Debug for Throttle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").field("budget", &self.budget).finish_non_exhaustive()
    }
}

impl Throttle {
    /// A throttle with `budget` per agent, counting into `stats`.
    pub fn new(budget: Budget, stats: Arc<Stats>) -> Throttle {
        Throttle::with_clock(budget, stats, MonotonicClock)
    }
}

impl<C: Clock<Instant = Instant> + Clone> Throttle<C> {
    /// The same on `clock` (tests move time by hand).
    pub fn with_clock(budget: Budget, stats: Arc<Stats>, clock: C) -> Throttle<C> {
        let limiter = budget.quota().map(|q| RateLimiter::new(q, HashMapStateStore::default(), clock.clone()));
        let next_tick = clock.now() + TICK;
        Throttle { limiter, clock, budget, stats, next_tick }
    }

    /// Whether a message on `topic` may go on. Only summary topics of a well-formed agent id are
    /// budgeted; anything else goes on (and is refused by the ingest with its reason).
    pub fn admit(&mut self, topic: &[u8]) -> bool {
        let Some(limiter) = &self.limiter else { return true };
        let agent = std::str::from_utf8(topic).ok().and_then(topics::agent_of_summary);
        let Some((agent, key)) = agent.and_then(|a| Some((a, AgentKey::new(a)?))) else { return true };
        if limiter.check_key(&key).is_ok() {
            self.tick_if_due();
            return true;
        }
        let now = self.clock.now();
        self.stats.throttled.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut map) = self.stats.throttled_agents.lock() {
            let episode = match map.get_mut(agent) {
                Some(e) => e,
                None => map.entry(agent.to_string()).or_insert(Episode {
                    dropped: 0,
                    last: now,
                    unlogged: 0,
                    logged_at: None,
                }),
            };
            if now.saturating_duration_since(episode.last) >= WINDOW {
                episode.dropped = 0;
            }
            episode.dropped += 1;
            episode.unlogged += 1;
            episode.last = now;
            if episode.logged_at.is_none_or(|at| now.saturating_duration_since(at) >= WINDOW) {
                log_episode(agent, episode, &self.budget, now);
            }
        }
        self.tick_if_due();
        false
    }

    /// Runs [`Throttle::tick`] when [`TICK`] has passed since the last one.
    pub fn tick_if_due(&mut self) {
        if self.clock.now() >= self.next_tick {
            self.tick();
        }
    }

    /// Bookkeeping: writes the log lines owed (dropped messages not logged, the last line a
    /// [`WINDOW`] ago), forgets agents quiet for a [`WINDOW`], and shrinks the limiter's state to
    /// the agents that used their budget recently.
    pub fn tick(&mut self) {
        let now = self.clock.now();
        self.next_tick = now + TICK;
        if let Ok(mut map) = self.stats.throttled_agents.lock() {
            for (agent, episode) in map.iter_mut() {
                let due = episode.logged_at.is_none_or(|at| now.saturating_duration_since(at) >= WINDOW);
                if episode.unlogged > 0 && due {
                    log_episode(agent, episode, &self.budget, now);
                }
            }
            map.retain(|_, e| e.unlogged > 0 || now.saturating_duration_since(e.last) < WINDOW);
        }
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn log_episode(agent: &str, episode: &mut Episode, budget: &Budget, now: Instant) {
    let since = if episode.logged_at.is_some() { "in the last minute" } else { "so far" };
    tracing::warn!(
        "agent {agent} sends more than its budget ({}): {} messages dropped unread {since}; \
         its outbox sends them again once it slows down (see wijkpost_throttled_total in /metrics)",
        budget.describe(),
        episode.unlogged
    );
    episode.unlogged = 0;
    episode.logged_at = Some(now);
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A clock moved by hand.
    #[derive(Debug, Clone)]
    struct HandClock(Arc<Mutex<Instant>>);

    impl HandClock {
        fn advance(&self, by: Duration) {
            if let Ok(mut t) = self.0.lock() {
                *t += by;
            }
        }
    }

    impl Clock for HandClock {
        type Instant = Instant;
        fn now(&self) -> Instant {
            self.0.lock().map(|t| *t).unwrap_or_else(|_| Instant::now())
        }
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";

    fn topic(agent: &str) -> Vec<u8> {
        topics::summary(agent).into_bytes()
    }

    fn throttle(budget: Budget) -> (Throttle<HandClock>, HandClock, Arc<Stats>) {
        let clock = HandClock(Arc::new(Mutex::new(Instant::now())));
        let stats = Arc::new(Stats::default());
        (Throttle::with_clock(budget, stats.clone(), clock.clone()), clock, stats)
    }

    #[test]
    fn the_burst_passes_then_the_rate_and_other_agents_are_not_affected() {
        let (mut t, clock, stats) = throttle(Budget { rate: 10, burst: 50 });
        let passed = (0..1000).filter(|_| t.admit(&topic(A))).count();
        assert_eq!(passed, 50, "exactly the burst at once, not burst + rate");
        assert_eq!(stats.throttled.load(Ordering::Relaxed), 950);
        assert!(t.admit(&topic(B)), "another agent has its own budget");
        clock.advance(Duration::from_secs(1));
        let passed = (0..1000).filter(|_| t.admit(&topic(A))).count();
        assert_eq!(passed, 10, "one second later: the rate");
        clock.advance(Duration::from_secs(10));
        let passed = (0..1000).filter(|_| t.admit(&topic(A))).count();
        assert_eq!(passed, 50, "quiet long enough: the burst again, never more");
    }

    #[test]
    fn only_budgeted_topics_count_and_off_admits_everything() {
        let (mut t, _, stats) = throttle(Budget { rate: 1, burst: 1 });
        for other in [&b"/tenants/x/wijk/v1/summary"[..], b"/other", b"\xff\xfe", b""] {
            for _ in 0..10 {
                assert!(t.admit(other), "{other:?} is left to the ingest");
            }
        }
        assert_eq!(stats.throttled.load(Ordering::Relaxed), 0);
        let (mut off, _, stats) = throttle(Budget::OFF);
        assert!((0..10_000).all(|_| off.admit(&topic(A))));
        assert_eq!(stats.throttled.load(Ordering::Relaxed), 0);
        assert_eq!(Budget::OFF.describe(), "off");
    }

    #[test]
    fn throttled_agents_are_listed_for_a_minute_after_their_last_drop() {
        let (mut t, clock, stats) = throttle(Budget { rate: 1, burst: 2 });
        for _ in 0..7 {
            t.admit(&topic(A));
        }
        for _ in 0..3 {
            t.admit(&topic(B));
        }
        let (listed, all) = stats.throttled_now(clock.now());
        assert_eq!((listed, all), (vec![(A.to_string(), 5), (B.to_string(), 1)], 2));
        clock.advance(WINDOW + Duration::from_secs(1));
        t.tick();
        assert_eq!(stats.throttled_now(clock.now()), (Vec::new(), 0));
        assert!(stats.throttled_agents.lock().map(|m| m.is_empty()).unwrap_or(false), "forgotten after a quiet minute");
        // A new spell counts from zero.
        for _ in 0..4 {
            t.admit(&topic(A));
        }
        assert_eq!(stats.throttled_now(clock.now()).0, vec![(A.to_string(), 2)]);
    }

    #[test]
    fn one_log_line_per_agent_per_minute_and_the_rest_is_owed() {
        let (mut t, clock, stats) = throttle(Budget { rate: 1, burst: 1 });
        // Dropped messages not yet logged (an agent forgotten owes nothing).
        let owed = |stats: &Stats| stats.throttled_agents.lock().map(|m| m.get(A).map_or(0, |e| e.unlogged)).ok();
        t.admit(&topic(A));
        t.admit(&topic(A));
        assert_eq!(owed(&stats), Some(0), "the first drop is logged at once");
        for _ in 0..100 {
            t.admit(&topic(A));
        }
        assert_eq!(owed(&stats), Some(100), "then nothing for a minute");
        clock.advance(Duration::from_secs(30));
        t.tick();
        assert_eq!(owed(&stats), Some(100), "half a minute is not enough");
        clock.advance(Duration::from_secs(31));
        t.tick();
        assert_eq!(owed(&stats), Some(0), "a minute after the last line the rest is logged");
    }
}
