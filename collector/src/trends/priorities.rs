//! Priorities (weaknesses ranked by prevalence × severity weight) and each agent's advice: its
//! sector's priorities with VVSG's toolkit links, and where its organisation stands against its peers
//! (same sector and size class).

use std::collections::HashMap;

use serde::Serialize;
use wijk_protocol::advice::{Advice, Link, Position, Priority};
use wijk_protocol::summary::Severity;

use super::filter::Filter;
use super::index::Index;
use super::kanon::{whole_pct, Cell, Share};
use super::snapshot::Snapshot;
use super::week::IsoWeek;
use super::{severity_weight, TrendsError};

/// Weaknesses ranked for a population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Priorities {
    /// First week of the current state.
    pub from: IsoWeek,
    /// Last week of the current state.
    pub to: IsoWeek,
    /// Organisations in the population.
    pub organisations: Cell<u32>,
    /// Highest score first.
    pub ranked: Vec<Ranked>,
}

/// One ranked weakness.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    /// Weakness id.
    pub id: String,
    /// Its severity.
    pub severity: Severity,
    /// Its weight ([`severity_weight`]).
    pub weight: u32,
    /// Organisations affected.
    pub prevalence: Cell<Share>,
}

impl Index {
    /// The `top_n` priorities of the filtered population's current state (the filter's range, else
    /// the latest `recent_weeks` weeks). `None` when the index is empty.
    pub fn priorities(&self, filter: &Filter, top_n: usize) -> Option<Priorities> {
        let range = self.current_range(filter)?;
        let snapshot = self.snapshot(range, filter);
        let ranked = self.rank(&snapshot, top_n);
        Some(Priorities {
            from: IsoWeek::from_ordinal(range.0),
            to: IsoWeek::from_ordinal(range.1),
            organisations: self.rule.count(count(snapshot.len())),
            ranked: ranked
                .into_iter()
                .map(|(w, prevalence)| {
                    let severity = self.severity[w as usize].0;
                    let id = self.weaknesses.names[w as usize].clone();
                    Ranked { id, severity, weight: severity_weight(severity), prevalence }
                })
                .collect(),
        })
    }

    /// Weakness numbers with their prevalence, best first. A shown prevalence ranks by its value; one
    /// hidden only because fewer than k organisations are *not* affected ranks by the bound its
    /// suppression already tells (n - k + 1 of n); others hidden, and weight 0, are not ranked.
    fn rank(&self, snapshot: &Snapshot, top_n: usize) -> Vec<(u16, Cell<Share>)> {
        let n = count(snapshot.len());
        let k = self.rule.k();
        if !self.rule.count_ok(n) {
            return Vec::new();
        }
        let mut affected = vec![0u32; self.weaknesses.names.len()];
        for (_, facts, _) in snapshot.iter() {
            for &w in facts.weaknesses {
                affected[w as usize] += 1;
            }
        }
        let mut scored: Vec<(u64, u32, &str, u16)> = Vec::new();
        for (w, &a) in affected.iter().enumerate() {
            let Ok(w) = u16::try_from(w) else { continue };
            let weight = u64::from(severity_weight(self.severity[w as usize].0));
            let known = if self.rule.share_ok(n, a) {
                a
            } else if a >= k && n - a < k {
                n - k + 1
            } else {
                continue;
            };
            // Score in millionths of (share × weight), so the order is exact and needs no floats.
            let score = u64::from(known) * weight * 1_000_000 / u64::from(n);
            if score > 0 {
                scored.push((
                    score,
                    severity_weight(self.severity[w as usize].0),
                    &self.weaknesses.names[w as usize],
                    w,
                ));
            }
        }
        scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(b.2)));
        scored.into_iter().take(top_n).map(|(_, _, _, w)| (w, self.rule.share(n, affected[w as usize]))).collect()
    }

    /// The advice for `agent`: its organisation's sector's `top_n` priorities over the current state
    /// up to the agent's latest week, with `links` (toolkit pages per weakness id), and for each of
    /// them whether the agent's latest summary has it and the share of peers (other organisations of
    /// the same sector and size class in the current state) that had it in an earlier week and no
    /// longer have it in their current state.
    pub fn advice(&self, agent: &str, top_n: usize, links: &HashMap<String, Vec<Link>>) -> Result<Advice, TrendsError> {
        if !wijk_protocol::is_agent_id(agent) {
            return Err(TrendsError::NotASlug("agent id"));
        }
        let unknown = || TrendsError::UnknownAgent(agent.to_string());
        let number = self.agent(agent).ok_or_else(unknown)?;
        let (week, slot) = self.agent_latest(number).ok_or_else(unknown)?;
        let own = self.agent_facts(week.ordinal(), slot).ok_or_else(unknown)?;
        let org = self.agents[number as usize].org;
        let attrs = self.orgs[org as usize].attrs;
        let range = (week.minus(self.recent_weeks - 1).ordinal(), week.ordinal());
        let sector = self.snapshot(range, &Filter::all().sector(attrs.sector));
        let ranked = self.rank(&sector, top_n);
        let peers: Vec<_> = sector
            .iter()
            .filter(|(o, _, _)| *o != org && self.orgs[*o as usize].attrs.size_class == attrs.size_class)
            .collect();
        let ids: Vec<u16> = ranked.iter().map(|r| r.0).collect();
        let (mut had, mut fixed) = (vec![0u32; ids.len()], vec![0u32; ids.len()]);
        for (peer, facts, latest) in &peers {
            for (i, before) in self.had_before(*peer, &ids, *latest).into_iter().enumerate() {
                if before {
                    had[i] += 1;
                    fixed[i] += u32::from(facts.hosts_of(ids[i]).is_none());
                }
            }
        }
        let pct = |c: &Cell<Share>| c.value().map(|s| whole_pct(s.matching, s.organisations));
        let mut priorities = Vec::new();
        let mut position = Vec::new();
        for (i, (w, cell)) in ranked.into_iter().enumerate() {
            let id = self.weaknesses.names[w as usize].clone();
            let peers_fixed_pct = pct(&self.rule.share(had[i], fixed[i]));
            position.push(Position { id: id.clone(), you_have_it: own.hosts_of(w).is_some(), peers_fixed_pct });
            priorities.push(Priority {
                links: links.get(&id).cloned().unwrap_or_default(),
                severity: self.severity[w as usize].0,
                organisations_pct: pct(&cell),
                id,
            });
        }
        Ok(Advice {
            schema: wijk_protocol::ADVICE_SCHEMA.to_string(),
            agent: agent.to_string(),
            week: week.to_string(),
            k: self.rule.k(),
            peer_group: format!("{}, {}", attrs.sector, attrs.size_class),
            priorities,
            position,
        })
    }

    /// For each of `ids`, whether organisation `org` had it in any week before `week`.
    fn had_before(&self, org: u32, ids: &[u16], week: u32) -> Vec<bool> {
        let mut had = vec![false; ids.len()];
        for &(wk, slot) in self.orgs[org as usize].weeks.iter().take_while(|(wk, _)| *wk < week) {
            let Some(store) = self.weeks.get(&wk) else { continue };
            let Some(entry) = store.orgs.get(slot as usize) else { continue };
            let facts = store.arena.view(entry.span);
            for (h, &w) in had.iter_mut().zip(ids) {
                *h = *h || facts.hosts_of(w).is_some();
            }
        }
        had
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
