//! k-anonymity: which figures may be shown, and how a suppressed figure reads.
//!
//! [`Rule`] holds k and decides per cell (see the module documentation of [`crate::trends`] for the
//! rules in words); [`Rule::protect_breakdown`] adds the complementary suppression a total with its
//! parts needs. [`Cell`] is what every query returns instead of a bare number.

use serde::{Serialize, Serializer};

/// One figure, or the statement that fewer than k organisations stand behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<T> {
    /// The figure.
    Value(T),
    /// Hidden by the k rule; serialises as the string `"< k"` (e.g. `"< 5"`), never as 0 or null.
    Suppressed {
        /// The k in force.
        k: u32,
    },
}

impl<T> Cell<T> {
    /// The figure, if shown.
    pub fn value(&self) -> Option<&T> {
        match self {
            Cell::Value(v) => Some(v),
            Cell::Suppressed { .. } => None,
        }
    }

    /// Whether the figure is hidden.
    pub fn is_suppressed(&self) -> bool {
        matches!(self, Cell::Suppressed { .. })
    }
}

impl<T: Serialize> Serialize for Cell<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Value(v) => v.serialize(s),
            Cell::Suppressed { k } => s.collect_str(&format_args!("< {k}")),
        }
    }
}

/// A share of organisations: how many are in the population and how many of them match.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Share {
    /// Organisations in the population (the denominator).
    pub organisations: u32,
    /// Organisations that match (affected, exposing, ...).
    pub matching: u32,
    /// `matching / organisations` in percent, one decimal.
    pub pct: f64,
}

/// Hosts affected per affected organisation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HostStats {
    /// Mean, one decimal.
    pub mean: f64,
    /// Median (the mean of the two middle values for an even count), one decimal.
    pub median: f64,
}

/// The k rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    k: u32,
}

/// Which cells of a breakdown are shown after complementary suppression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// Whether the total is shown.
    pub total: bool,
    /// Whether each part is shown, in the order given.
    pub parts: Vec<bool>,
}

impl Rule {
    /// A rule for `k` (the caller has checked k against the demo flag).
    pub(crate) fn new(k: u32) -> Rule {
        Rule { k: k.max(1) }
    }

    /// The k in force.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// Whether a count of `n` organisations may be shown: `n >= k`.
    pub fn count_ok(&self, n: u32) -> bool {
        n >= self.k
    }

    /// Whether a share of `matching` among `n` organisations may be shown: `n >= k`, and neither the
    /// matching nor the non-matching count lies between 1 and k-1.
    pub fn share_ok(&self, n: u32, matching: u32) -> bool {
        let small = |c: u32| (1..self.k).contains(&c);
        n >= self.k && matching <= n && !small(matching) && !small(n - matching)
    }

    /// A count cell.
    pub fn count(&self, n: u32) -> Cell<u32> {
        if self.count_ok(n) {
            Cell::Value(n)
        } else {
            self.suppressed()
        }
    }

    /// A share cell.
    pub fn share(&self, n: u32, matching: u32) -> Cell<Share> {
        if self.share_ok(n, matching) {
            Cell::Value(Share { organisations: n, matching, pct: pct(matching, n) })
        } else {
            self.suppressed()
        }
    }

    /// The hosts cell of a weakness cell: shown when its share is shown and at least k organisations
    /// are affected (those are the ones contributing hosts). `hosts` are per affected organisation.
    pub fn hosts(&self, n: u32, hosts: &mut [u32]) -> Cell<HostStats> {
        let affected = u32::try_from(hosts.len()).unwrap_or(u32::MAX);
        if !self.share_ok(n, affected) || affected < self.k {
            return self.suppressed();
        }
        Cell::Value(host_stats(hosts))
    }

    /// A suppressed cell.
    pub fn suppressed<T>(&self) -> Cell<T> {
        Cell::Suppressed { k: self.k }
    }

    /// Complementary suppression for a total `(n, matching)` and its parts (disjoint, summing to the
    /// total, each with `n >= 1`).
    ///
    /// Primary: a part or the total is hidden when [`Rule::share_ok`] refuses it. Then, while the total
    /// is shown and the hidden parts `S` are not safe together, the smallest shown part (fewest
    /// organisations, then fewest matching, then first in order) is hidden too; when no part is left
    /// to hide, the total is hidden. `S` is safe together when it is empty, or when
    /// - it has at least two parts (one hidden part is the total minus the others), and
    /// - `N_S >= k` and `N_S > |S|` (each hidden part has at least one organisation, so with
    ///   `N_S = |S|` every hidden count would be 1), and
    /// - `M_S >= k` unless the total's matching count is 0, and `N_S - M_S >= k` unless it is the
    ///   total's `n` (so the hidden parts together are neither a small group nor known to be all-0 % or
    ///   all-100 % beyond what the total already says),
    ///
    /// where `N_S` and `M_S` are the sums over `S`, the figures anybody can work out as the total minus
    /// the shown parts. Under this rule every hidden part's `n` and `matching` have at least two values
    /// consistent with what is shown (`matching` only when the total is not itself 0 % or 100 %).
    pub fn protect_breakdown(&self, total: (u32, u32), parts: &[(u32, u32)]) -> Shown {
        let mut shown = Shown {
            total: self.share_ok(total.0, total.1),
            parts: parts.iter().map(|&(n, m)| self.share_ok(n, m)).collect(),
        };
        while shown.total && !self.safe_together(total, parts, &shown.parts) {
            let smallest = (0..parts.len()).filter(|&i| shown.parts[i]).min_by_key(|&i| (parts[i], i));
            match smallest {
                Some(i) => shown.parts[i] = false,
                None => shown.total = false,
            }
        }
        shown
    }

    fn safe_together(&self, total: (u32, u32), parts: &[(u32, u32)], shown: &[bool]) -> bool {
        let hidden: Vec<(u32, u32)> = parts.iter().zip(shown).filter(|(_, s)| !**s).map(|(p, _)| *p).collect();
        if hidden.is_empty() {
            return true;
        }
        let count = u32::try_from(hidden.len()).unwrap_or(u32::MAX);
        let n: u32 = hidden.iter().map(|p| p.0).sum();
        let m: u32 = hidden.iter().map(|p| p.1).sum();
        hidden.len() >= 2
            && n >= self.k
            && n > count
            && (m >= self.k || total.1 == 0)
            && (n - m >= self.k || total.1 == total.0)
    }
}

/// `part / whole` in percent with one decimal (0 for an empty whole).
pub(crate) fn pct(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (f64::from(part) * 1000.0 / f64::from(whole)).round() / 10.0
}

/// A percentage as a whole number for the advice document: rounded, but never 0 or 100 when the true
/// share is neither (so a small share cannot read as "nobody").
pub(crate) fn whole_pct(part: u32, whole: u32) -> u8 {
    if whole == 0 {
        return 0;
    }
    let rounded = (f64::from(part) * 100.0 / f64::from(whole)).round().clamp(0.0, 100.0);
    let mut p = rounded as u8;
    if part > 0 && p == 0 {
        p = 1;
    }
    if part < whole && p == 100 {
        p = 99;
    }
    p
}

fn host_stats(hosts: &mut [u32]) -> HostStats {
    let n = hosts.len();
    if n == 0 {
        return HostStats { mean: 0.0, median: 0.0 };
    }
    let sum: u64 = hosts.iter().map(|&h| u64::from(h)).sum();
    let mean = sum as f64 / n as f64;
    let (_, &mut upper, _) = hosts.select_nth_unstable(n / 2);
    let median = if n % 2 == 1 {
        f64::from(upper)
    } else {
        let lower = hosts[..n / 2].iter().copied().max().unwrap_or(upper);
        (f64::from(lower) + f64::from(upper)) / 2.0
    };
    HostStats { mean: (mean * 10.0).round() / 10.0, median: (median * 10.0).round() / 10.0 }
}

#[cfg(test)]
#[path = "kanon_tests.rs"]
mod tests;
