//! The current state of each organisation over a range of weeks: for each of its agents the latest
//! summary in the range, merged per organisation. Breakdowns, priorities and advice are figures of a
//! snapshot; per-week series read the weeks directly.

use super::facts::{Arena, Facts, Scratch, Span};
use super::filter::Filter;
use super::index::Index;
use super::week::IsoWeek;

/// Organisations' merged current state, in their own arena.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// `(org, facts, latest week of any of its agents in the range)`, sorted by org.
    entries: Vec<(u32, Span, u32)>,
    arena: Arena,
}

impl Snapshot {
    /// Organisations with their facts and latest week.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, Facts<'_>, u32)> + '_ {
        self.entries.iter().map(|(org, span, week)| (*org, self.arena.view(*span), *week))
    }

    /// Organisations in the snapshot.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

impl Index {
    /// The filter's week range as ordinals: its bounds, else the index's first and last week.
    /// `None` when the index is empty or the range is.
    pub(crate) fn range_of(&self, filter: &Filter) -> Option<(u32, u32)> {
        let (first, last) = self.week_span()?;
        let from = filter.from.unwrap_or(first).ordinal();
        let to = filter.to.unwrap_or(last).ordinal();
        (from <= to).then_some((from, to))
    }

    /// The range for "current state": the filter's range when it names one, else the latest
    /// `recent_weeks` weeks (up to the filter's `to`, else the index's last week).
    pub(crate) fn current_range(&self, filter: &Filter) -> Option<(u32, u32)> {
        let (first, last) = self.week_span()?;
        let to = filter.to.unwrap_or(last);
        let from = filter.from.unwrap_or_else(|| to.minus(self.recent_weeks - 1).max(first));
        (from <= to).then_some((from.ordinal(), to.ordinal()))
    }

    /// The snapshot of the organisations `filter` selects over weeks `from..=to`.
    pub(crate) fn snapshot(&self, (from, to): (u32, u32), filter: &Filter) -> Snapshot {
        let mut seen = vec![false; self.agents.len()];
        let mut picks: Vec<(u32, u32, u32)> = Vec::new(); // (org, week, slot)
        for (&week, store) in self.weeks.range(from..=to).rev() {
            for (slot, entry) in store.agents.iter().enumerate() {
                let agent = entry.agent as usize;
                if seen[agent] {
                    continue;
                }
                seen[agent] = true;
                if filter.selects(&self.orgs[entry.org as usize].attrs) {
                    picks.push((entry.org, week, u32::try_from(slot).unwrap_or(u32::MAX)));
                }
            }
        }
        picks.sort_unstable();
        let mut snapshot = Snapshot::default();
        let mut scratch = Scratch::default();
        for group in picks.chunk_by(|a, b| a.0 == b.0) {
            let facts: Vec<Facts<'_>> =
                group.iter().filter_map(|&(_, week, slot)| self.agent_facts(week, slot)).collect();
            let latest = group.iter().map(|p| p.1).max().unwrap_or(from);
            let span = match facts.as_slice() {
                [one] => snapshot.arena.copy(*one),
                many => {
                    let tls = scratch.merge(many);
                    snapshot.arena.push_merged(&scratch, tls)
                }
            };
            snapshot.entries.push((group[0].0, span, latest));
        }
        snapshot
    }

    /// The facts of the agent entry at `slot` of `week`.
    pub(crate) fn agent_facts(&self, week: u32, slot: u32) -> Option<Facts<'_>> {
        let store = self.weeks.get(&week)?;
        let entry = store.agents.get(slot as usize)?;
        Some(store.arena.view(entry.span))
    }

    /// An agent's latest week and its slot there.
    pub(crate) fn agent_latest(&self, agent: u32) -> Option<(IsoWeek, u32)> {
        let &(week, slot) = self.agents.get(agent as usize)?.weeks.last()?;
        Some((IsoWeek::from_ordinal(week), slot))
    }
}
