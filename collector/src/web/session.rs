//! Dashboard sessions and login throttling, in memory, with no I/O and no clock of their own (every
//! call takes `now`, so tests move time by hand).
//!
//! - A [`Session`] is found by a random 256-bit id (64 hex characters) sent in an `HttpOnly;
//!   SameSite=Strict` cookie; it ends after [`IDLE`] without a request, after [`MAX_AGE`] in any
//!   case, at logout, or when its user is disabled. It carries a CSRF token of its own that every
//!   POST form must send back. A restart of wijkpost ends every session (users log in again).
//! - [`Throttle`] counts failed logins per key (the user name; the client address when known):
//!   after [`FREE_FAILURES`] failures each attempt must wait twice as long as the previous one (from
//!   1 s up to [`MAX_WAIT`]); failures are forgotten [`FORGET_AFTER`] after the last one, or at a
//!   successful login.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;

use crate::users::Role;

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(8 * 3600);
/// A session ends this long after login, however active.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Failed logins allowed per key before waits begin.
pub const FREE_FAILURES: u32 = 3;
/// Longest wait between attempts.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// Failures are forgotten this long after the last one.
pub const FORGET_AFTER: Duration = Duration::from_secs(900);
/// Most sessions or throttle entries kept (the oldest go first beyond it).
const MAX_ENTRIES: usize = 10_000;

/// One logged-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// User name.
    pub user: String,
    /// Role at login (checked against the store again on every request).
    pub role: Role,
    /// The token POST forms must carry.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// The sessions of this process.
#[derive(Debug)]
pub struct Sessions {
    idle: Duration,
    map: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether two secrets are equal, in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    /// Sessions ending after `idle` without a request.
    pub fn new(idle: Duration) -> Sessions {
        Sessions { idle, map: Mutex::new(HashMap::new()) }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a session; its id (for the cookie).
    pub fn create(&self, user: &str, role: Role, now: Instant) -> String {
        let id = random_token();
        let session = Session { user: user.to_string(), role, csrf: random_token(), created: now, last_seen: now };
        let mut map = self.map();
        if map.len() >= MAX_ENTRIES {
            let (idle, max) = (self.idle, MAX_AGE);
            map.retain(|_, s| live(s, now, idle, max));
            if map.len() >= MAX_ENTRIES {
                if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| k.clone()) {
                    map.remove(&oldest);
                }
            }
        }
        map.insert(id.clone(), session);
        id
    }

    /// The live session `id`, marked as seen now; an expired one is removed.
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let mut map = self.map();
        let session = map.get_mut(id)?;
        if !live(session, now, self.idle, MAX_AGE) {
            map.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends session `id`.
    pub fn remove(&self, id: &str) {
        self.map().remove(id);
    }

    /// Ends every session of `user`.
    pub fn remove_user(&self, user: &str) {
        self.map().retain(|_, s| s.user != user);
    }

    /// Live sessions (for `/metrics`).
    pub fn count(&self, now: Instant) -> usize {
        self.map().values().filter(|s| live(s, now, self.idle, MAX_AGE)).count()
    }
}

fn live(s: &Session, now: Instant, idle: Duration, max: Duration) -> bool {
    now.saturating_duration_since(s.last_seen) < idle && now.saturating_duration_since(s.created) < max
}

/// Failed logins per key.
#[derive(Debug, Default)]
pub struct Throttle {
    map: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.map.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long `key` must still wait before its next attempt (`None`: it may try now).
    pub fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let (failures, last) = *self.map().get(key)?;
        if failures < FREE_FAILURES || now.saturating_duration_since(last) >= FORGET_AFTER {
            return None;
        }
        let wait = Duration::from_secs(1u64 << (failures - FREE_FAILURES).min(16)).min(MAX_WAIT);
        let waited = now.saturating_duration_since(last);
        (waited < wait).then(|| wait - waited)
    }

    /// Records a failed attempt of `key`.
    pub fn failed(&self, key: &str, now: Instant) {
        let mut map = self.map();
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (_, last)| now.saturating_duration_since(*last) < FORGET_AFTER);
        }
        let entry = map.entry(key.to_string()).or_insert((0, now));
        if now.saturating_duration_since(entry.1) >= FORGET_AFTER {
            entry.0 = 0;
        }
        *entry = (entry.0.saturating_add(1), now);
    }

    /// Forgets the failures of `key` (after a successful login).
    pub fn succeeded(&self, key: &str) {
        self.map().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_when_idle_and_at_their_maximum_age() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let id = sessions.create("an", Role::Analyst, t0);
        assert_eq!(id.len(), 64);
        let s = sessions.get(&id, t0 + Duration::from_secs(59)).expect("live");
        assert_eq!((s.user.as_str(), s.role, s.csrf.len()), ("an", Role::Analyst, 64));
        // Seen at 59 s: live until 119 s.
        assert!(sessions.get(&id, t0 + Duration::from_secs(118)).is_some());
        assert!(sessions.get(&id, t0 + Duration::from_secs(179)).is_none(), "idle too long");
        assert!(sessions.get(&id, t0 + Duration::from_secs(100)).is_none(), "removed for good");

        let long = Sessions::new(MAX_AGE * 2);
        let id = long.create("an", Role::Admin, t0);
        assert!(long.get(&id, t0 + MAX_AGE).is_none(), "maximum age");
    }

    #[test]
    fn logout_and_disabling_end_sessions() {
        let sessions = Sessions::new(IDLE);
        let now = Instant::now();
        let (a, b) = (sessions.create("an", Role::Admin, now), sessions.create("piet", Role::Analyst, now));
        sessions.remove(&a);
        assert!(sessions.get(&a, now).is_none());
        sessions.remove_user("piet");
        assert!(sessions.get(&b, now).is_none());
        assert_eq!(sessions.count(now), 0);
        assert!(sessions.get("not-a-session", now).is_none());
    }

    #[test]
    fn failures_beyond_the_free_ones_make_attempts_wait() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(throttle.wait("user:an", t0), None);
            throttle.failed("user:an", t0);
        }
        assert_eq!(throttle.wait("user:an", t0), Some(Duration::from_secs(1)));
        assert_eq!(throttle.wait("user:an", t0 + Duration::from_secs(1)), None);
        throttle.failed("user:an", t0 + Duration::from_secs(1));
        assert_eq!(throttle.wait("user:an", t0 + Duration::from_secs(1)), Some(Duration::from_secs(2)));
        assert_eq!(throttle.wait("user:piet", t0), None, "per key");
        assert_eq!(throttle.wait("user:an", t0 + FORGET_AFTER * 2), None, "forgotten");
        throttle.succeeded("user:an");
        assert_eq!(throttle.wait("user:an", t0 + Duration::from_secs(1)), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
