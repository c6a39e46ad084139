//! Breakdowns: one figure over a week range, for the whole filtered population and per sector, size
//! class or province, with complementary suppression ([`super::Rule::protect_breakdown`]).

use serde::Serialize;
use wijk_protocol::summary::is_slug;

use super::filter::{Dimension, Filter, Measure, Resolved};
use super::index::Index;
use super::kanon::{Cell, Share};
use super::week::IsoWeek;
use super::TrendsError;

/// A figure for a total and its parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    /// What is counted (`participation`, `weakness:ID`, `tls:CHECK`, `service:KIND`).
    pub measure: String,
    /// What the parts are.
    pub by: Dimension,
    /// First week of the range.
    pub from: IsoWeek,
    /// Last week of the range.
    pub to: IsoWeek,
    /// The whole filtered population.
    pub total: Cell<Share>,
    /// One per group with at least one organisation, in the vocabulary's order.
    pub parts: Vec<Part>,
}

/// One group of a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    /// The group's slug (`gemeente`, `10k-25k`, `limburg`, ...).
    pub group: &'static str,
    /// Its figure.
    pub share: Cell<Share>,
}

impl Index {
    /// `measure` over the filter's week range (each organisation's current state in it), for the
    /// filtered population and per group of `by`. `None` when the index or the range is empty.
    pub fn breakdown(
        &self,
        filter: &Filter,
        measure: &Measure,
        by: Dimension,
    ) -> Result<Option<Breakdown>, TrendsError> {
        let resolved = self.resolve(measure)?;
        let Some(range) = self.range_of(filter) else { return Ok(None) };
        let groups = by.groups();
        let mut parts = vec![(0u32, 0u32); groups.len()];
        for (org, facts, _) in self.snapshot(range, filter).iter() {
            let part = &mut parts[by.group_of(&self.orgs[org as usize].attrs)];
            part.0 += 1;
            part.1 += u32::from(resolved.matches(&facts));
        }
        let present: Vec<usize> = (0..groups.len()).filter(|&i| parts[i].0 > 0).collect();
        let shown_parts: Vec<(u32, u32)> = present.iter().map(|&i| parts[i]).collect();
        let total = shown_parts.iter().fold((0, 0), |t, p| (t.0 + p.0, t.1 + p.1));
        let shown = self.rule.protect_breakdown(total, &shown_parts);
        let cell = |show: bool, (n, m): (u32, u32)| if show { self.rule.share(n, m) } else { self.rule.suppressed() };
        Ok(Some(Breakdown {
            measure: measure.label(),
            by,
            from: IsoWeek::from_ordinal(range.0),
            to: IsoWeek::from_ordinal(range.1),
            total: cell(shown.total, total),
            parts: present
                .iter()
                .zip(&shown.parts)
                .map(|(&i, &show)| Part { group: groups[i], share: cell(show, parts[i]) })
                .collect(),
        }))
    }

    /// The measure with its id looked up; ids must be slugs.
    pub(crate) fn resolve(&self, measure: &Measure) -> Result<Resolved, TrendsError> {
        Ok(match measure {
            Measure::Participation => Resolved::All,
            Measure::Tls(check) => Resolved::Tls(check.bit()),
            Measure::Weakness(id) if !is_slug(id) => return Err(TrendsError::NotASlug("weakness id")),
            Measure::Service(kind) if !is_slug(kind) => return Err(TrendsError::NotASlug("service kind")),
            Measure::Weakness(id) => self.weaknesses.get(id).map_or(Resolved::Nobody, Resolved::Weakness),
            Measure::Service(kind) => self.kinds.get(kind).map_or(Resolved::Nobody, Resolved::Service),
        })
    }
}
