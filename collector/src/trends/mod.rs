//! The sector trends engine: an in-memory [`Index`] of the summaries wijkpost stored, and the
//! k-anonymous figures VVSG's dashboard and each agent's advice are made of. Pure: no I/O, no
//! database, no clock; the store turns its rows into [`FactRow`]s, the ingest thread calls
//! [`Index::insert`] after each stored batch, and readers query through `&self` (an `RwLock` around
//! the index is enough).
//!
//! # Model
//!
//! - **Latest per agent per week.** Of an agent's summaries for one ISO week, the one with the highest
//!   `seq` counts (equal `seq`: the later `received_at`); the others only count as "summaries
//!   received". A `(agent, seq)` inserted twice counts once.
//! - **Organisations, not agents.** An organisation with several agents counts once per week: it is
//!   affected by a weakness if any of its agents' latest summaries that week has it; its hosts affected
//!   are the sum over those agents; it exposes a service kind, or fails a [`TlsCheck`], if any of them
//!   does. Sector, size class and province are the organisation's, from its most recently inserted row.
//! - **Week ranges.** Per-week series (participation, prevalence, TLS, services) take each week on its
//!   own. A figure over a range (breakdowns, priorities, advice) takes each organisation's *current
//!   state in the range*: for each of its agents the latest summary in the range, merged as above.
//!   Without a range, priorities use the latest [`Options::recent_weeks`] weeks (default 4, so an
//!   organisation whose scan has not reported yet this week still counts with last week's state).
//! - **Shares** are of organisations: matching organisations / organisations in the population
//!   (the filter's sector, size class and province, participating in the week or range).
//! - **Priorities** rank weaknesses by prevalence × severity weight, with weights
//!   info 0, low 1, medium 2, high 4, critical 8 ([`severity_weight`]); severity is the one the most
//!   recent summary gave for the id.
//!
//! # The k rule
//!
//! k is 5 by default, configurable; [`Index::with_options`] refuses k < 3 unless
//! [`Options::demo`] is set. A figure is returned only when at least k distinct organisations stand
//! behind it; otherwise it is a [`Cell::Suppressed`], which serialises as the string `"< k"`
//! (e.g. `"< 5"`), never as 0 or null. Precisely ([`Rule`]):
//! - a **count of organisations** `n` (participation, group sizes) is shown iff `n >= k`; agents and
//!   summaries of a week are shown iff that week's organisation count is;
//! - a **share** `m` of `n` (prevalence, exposure, TLS check, peers fixed) is shown iff `n >= k` and
//!   neither `m` nor `n - m` lies in `1..=k-1` (0 % and 100 % of at least k are shown: nobody
//!   contributes a finding that is not true of all of them);
//! - **hosts per affected organisation** (mean, median) are shown iff their share is shown and
//!   `m >= k` (the affected organisations are the contributors); the field is left out only when
//!   the share is shown and is 0, so its presence tells nothing a hidden share hides;
//! - groups, weeks and weakness ids with no organisation at all are left out, not shown as 0;
//!   a weakness whose prevalence is hidden is not ranked among priorities by its hidden value: it is
//!   ranked by what its suppression already says (at least `n - k + 1` affected when only the
//!   unaffected count is small; left out when the affected count is small or `n < k`);
//! - advice: `organisations_pct` and `peers_fixed_pct` are `None` under the same share rule; a shown
//!   whole percentage is never rounded to 0 or 100 unless it is exactly that.
//!
//! # Complementary suppression
//!
//! A [`Breakdown`] shows a total and its parts (by sector, size class or province), and the parts add
//! up to the total, so a single hidden part would be the total minus the others. After the rule above
//! ([`Rule::protect_breakdown`]): while the total is shown and the hidden parts are not *safe
//! together*, the smallest shown part (fewest organisations, then fewest matching, then first in the
//! vocabulary's order) is hidden as well; with no part left, the total is hidden. Hidden parts are
//! safe together when there are none, or at least two whose sums `N` (organisations) and `M`
//! (matching) satisfy `N >= k`, `N > number of hidden parts`, `M >= k` unless the total's `M` is 0, and
//! `N - M >= k` unless the total is 100 %. Then each hidden part's organisations and matching count
//! have at least two values consistent with everything shown (the test `kanon_tests` checks this by
//! enumeration).
//!
//! Per-week series need no complementary suppression: their cells (one week, one weakness, one TLS
//! check, one service kind) do not add up to any figure that is shown.
//!
//! # Limits
//!
//! The rules hold per query. Figures of *different* queries can be subtracted from one another: the
//! whole population's prevalence minus that of every sector but one gives the last sector's, even
//! when a breakdown by sector hides it. Whoever offers free combinations of filters (the dashboard)
//! should offer breakdowns rather than arbitrary filter pairs, or audit the combinations it serves.
//! A hidden cell also says that its count lies in `1..=k-1` (or its population is below k): it
//! hides the number, not that the number is small.
//!
//! # Files
//!
//! [`week`] (ISO weeks as ordinals), `facts` (compact facts in flat vectors), `index` (the index and
//! its updates), [`kanon`] (the rule), [`filter`] (what a query selects), `series` (per-week queries),
//! `breakdown`, `snapshot` (state over a range), `priorities` (priorities and advice).

mod breakdown;
mod facts;
pub mod filter;
mod index;
pub mod kanon;
mod priorities;
mod series;
mod snapshot;
pub mod week;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod property_tests;
#[cfg(test)]
mod testdata;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use wijk_protocol::summary::Severity;
use wijk_protocol::Summary;

use crate::org::{Province, Sector, SizeClass};

pub use breakdown::{Breakdown, Part};
pub use facts::TlsCheck;
pub use filter::{Dimension, Filter, Measure};
pub use index::Index;
pub use kanon::{Cell, HostStats, Rule, Share};
pub use priorities::{Priorities, Ranked};
pub use series::{NamedShare, WeakCell, WeekParticipation, WeekPrevalence, WeekShares};
pub use week::IsoWeek;

/// The default k.
pub const DEFAULT_K: u32 = 5;
/// The smallest k allowed outside a demo.
pub const MIN_K: u32 = 3;
/// Default weeks of "current state" for priorities and advice.
pub const DEFAULT_RECENT_WEEKS: u32 = 4;

/// One stored summary with what wijkpost knows of its organisation (the store's row).
#[derive(Debug, Clone, PartialEq)]
pub struct FactRow {
    /// Stable key of the organisation (its name as enrolled); never shown by any query.
    pub org: String,
    /// The organisation's sector.
    pub sector: Sector,
    /// Its size class.
    pub size_class: SizeClass,
    /// Its province.
    pub province: Province,
    /// Agent id (pseudonymous).
    pub agent: String,
    /// ISO week `YYYY-Www` of the summary.
    pub week: String,
    /// The agent's sequence number of the summary.
    pub seq: u64,
    /// When wijkpost received it.
    pub received_at: DateTime<Utc>,
    /// The validated summary.
    pub summary: Summary,
}

/// How an index is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The k of k-anonymity (default [`DEFAULT_K`]).
    pub k: u32,
    /// Allow k below [`MIN_K`] (demonstrations on a handful of test organisations only).
    pub demo: bool,
    /// Weeks that make up the current state for priorities without a range, and for advice
    /// (default [`DEFAULT_RECENT_WEEKS`]; at least 1).
    pub recent_weeks: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options { k: DEFAULT_K, demo: false, recent_weeks: DEFAULT_RECENT_WEEKS }
    }
}

/// What [`Index::insert`] did with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// It is now its agent's latest summary for its week: figures of that week may have changed.
    Latest,
    /// Counted as received, but an equal or later summary of its agent and week counts.
    Superseded,
    /// This `(agent, seq)` was inserted before; nothing changed.
    Duplicate,
}

/// Why the trends engine refused something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrendsError {
    /// k below the minimum without the demo flag.
    #[error("k = {0} is too small: k-anonymity needs k >= {MIN_K} (a smaller k is only for a demo index)")]
    KTooSmall(u32),
    /// k = 0 or no weeks of current state.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// Not an ISO week (the offending text, letters and digits only).
    #[error("not an ISO week YYYY-Www (years 2000-2199): {0:?}")]
    BadWeek(String),
    /// An identifier that is not a slug (never echoed: it may be anything).
    #[error("{0} is not a slug ([a-z0-9][a-z0-9.-]*, at most 48 characters)")]
    NotASlug(&'static str),
    /// More distinct ids than the index can number.
    #[error("more than 65536 distinct {0}; refusing to grow further")]
    TooManyIds(&'static str),
    /// The agent has no summary in the index.
    #[error("no summary of agent {0} in the trends index")]
    UnknownAgent(String),
}

/// Weight of a severity in the priority score: info 0, low 1, medium 2, high 4, critical 8.
pub fn severity_weight(severity: Severity) -> u32 {
    match severity {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 4,
        Severity::Critical => 8,
    }
}
