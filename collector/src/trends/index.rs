//! The [`Index`]: interned organisations, agents, weakness ids and service kinds, and per week the
//! latest summary of each agent and the merged facts of each organisation, in flat vectors.
//!
//! Layout, per ISO week ([`WeekStore`]): `agents` holds one entry per agent (its latest summary of the
//! week), `orgs` one per organisation (its agents merged), both pointing into the week's [`Arena`].
//! An organisation with one agent shares that agent's span; only organisations with several agents
//! get a merged copy. A replaced summary leaves its span behind as garbage, which is compacted away
//! once it outweighs the live entries. Organisations and agents list their `(week, slot)` pairs, so
//! an insert finds its place by binary search.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use wijk_protocol::summary::{is_slug, Severity};

use super::facts::{Arena, Facts, Scratch, Span, TlsCheck};
use super::filter::Attrs;
use super::kanon::Rule;
use super::week::IsoWeek;
use super::{FactRow, Inserted, Options, TrendsError, MIN_K};

/// The trends index. Build it with [`Index::new`] or [`Index::with_options`], feed it with
/// [`Index::insert`], query it through `&self`.
#[derive(Debug)]
pub struct Index {
    pub(crate) rule: Rule,
    pub(crate) recent_weeks: u32,
    pub(crate) orgs: Vec<OrgInfo>,
    org_ids: HashMap<String, u32>,
    pub(crate) agents: Vec<AgentInfo>,
    agent_ids: HashMap<String, u32>,
    pub(crate) weaknesses: Interner,
    /// Severity per weakness id and the week it was last given for.
    pub(crate) severity: Vec<(Severity, u32)>,
    pub(crate) kinds: Interner,
    pub(crate) weeks: BTreeMap<u32, WeekStore>,
    rows: u64,
    scratch: Scratch,
}

/// An organisation.
#[derive(Debug)]
pub(crate) struct OrgInfo {
    pub(crate) attrs: Attrs,
    /// `(week, slot in that week's orgs)`, sorted by week.
    pub(crate) weeks: Vec<(u32, u32)>,
}

/// An agent.
#[derive(Debug)]
pub(crate) struct AgentInfo {
    pub(crate) id: String,
    pub(crate) org: u32,
    /// Every seq inserted, sorted (to count a re-inserted row once).
    seqs: Vec<u64>,
    /// `(week, slot in that week's agents)`, sorted by week.
    pub(crate) weeks: Vec<(u32, u32)>,
}

/// One week.
#[derive(Debug, Default)]
pub(crate) struct WeekStore {
    pub(crate) agents: Vec<AgentEntry>,
    pub(crate) orgs: Vec<OrgEntry>,
    pub(crate) arena: Arena,
    garbage: usize,
}

/// An agent's latest summary of a week.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AgentEntry {
    pub(crate) agent: u32,
    pub(crate) org: u32,
    seq: u64,
    received_at: DateTime<Utc>,
    /// Summaries of this agent received for the week.
    pub(crate) received: u32,
    pub(crate) span: Span,
}

/// An organisation's merged facts of a week.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrgEntry {
    pub(crate) org: u32,
    /// Agents merged.
    agents: u32,
    /// The agent, when `agents == 1` (then `span` is that agent's).
    first_agent: u32,
    pub(crate) span: Span,
}

/// Strings numbered from 0 in order of arrival.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    pub(crate) names: Vec<String>,
    ids: HashMap<String, u16>,
}

impl Interner {
    pub(crate) fn get(&self, name: &str) -> Option<u16> {
        self.ids.get(name).copied()
    }

    fn unknown<'a>(&self, names: impl Iterator<Item = &'a str>) -> usize {
        let mut fresh: Vec<&str> = names.filter(|n| !self.ids.contains_key(*n)).collect();
        fresh.sort_unstable();
        fresh.dedup();
        fresh.len()
    }

    fn intern(&mut self, name: &str) -> u16 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        // The caller has checked there is room.
        let id = u16::try_from(self.names.len()).unwrap_or(u16::MAX);
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    /// Ids in the order of their names.
    pub(crate) fn by_name(&self) -> Vec<u16> {
        let mut ids: Vec<u16> = (0..self.names.len()).filter_map(|i| u16::try_from(i).ok()).collect();
        ids.sort_unstable_by(|a, b| self.names[*a as usize].cmp(&self.names[*b as usize]));
        ids
    }
}

impl Index {
    /// An empty index with k-anonymity `k` (refused below [`MIN_K`]).
    pub fn new(k: u32) -> Result<Index, TrendsError> {
        Index::with_options(Options { k, ..Options::default() })
    }

    /// An empty index. k below [`MIN_K`] is refused unless `options.demo`; k = 0 and
    /// `recent_weeks = 0` always are.
    pub fn with_options(options: Options) -> Result<Index, TrendsError> {
        if options.k == 0 {
            return Err(TrendsError::Zero("k"));
        }
        if options.k < MIN_K && !options.demo {
            return Err(TrendsError::KTooSmall(options.k));
        }
        if options.recent_weeks == 0 {
            return Err(TrendsError::Zero("recent_weeks"));
        }
        Ok(Index {
            rule: Rule::new(options.k),
            recent_weeks: options.recent_weeks,
            orgs: Vec::new(),
            org_ids: HashMap::new(),
            agents: Vec::new(),
            agent_ids: HashMap::new(),
            weaknesses: Interner::default(),
            severity: Vec::new(),
            kinds: Interner::default(),
            weeks: BTreeMap::new(),
            rows: 0,
            scratch: Scratch::default(),
        })
    }

    /// The k in force.
    pub fn k(&self) -> u32 {
        self.rule.k()
    }

    /// Rows inserted (duplicates not counted).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// First and last week with any summary.
    pub fn week_span(&self) -> Option<(IsoWeek, IsoWeek)> {
        let first = self.weeks.keys().next()?;
        let last = self.weeks.keys().next_back()?;
        Some((IsoWeek::from_ordinal(*first), IsoWeek::from_ordinal(*last)))
    }

    /// Approximate heap bytes held by the figures (arenas and entries; the id tables are small).
    pub fn heap_bytes(&self) -> usize {
        let weeks: usize = self
            .weeks
            .values()
            .map(|w| {
                w.arena.heap_bytes()
                    + w.agents.capacity() * size_of::<AgentEntry>()
                    + w.orgs.capacity() * size_of::<OrgEntry>()
            })
            .sum();
        let orgs: usize = self.orgs.iter().map(|o| size_of::<OrgInfo>() + o.weeks.capacity() * 8).sum();
        let agents: usize = self
            .agents
            .iter()
            .map(|a| size_of::<AgentInfo>() + a.id.capacity() + a.seqs.capacity() * 8 + a.weeks.capacity() * 8)
            .sum();
        weeks + orgs + agents
    }

    /// Gives back spare capacity (after a bulk load).
    pub fn shrink_to_fit(&mut self) {
        for (ordinal, week) in &mut self.weeks {
            compact(week, *ordinal, &self.agents);
            week.arena.shrink();
            week.agents.shrink_to_fit();
            week.orgs.shrink_to_fit();
        }
        for agent in &mut self.agents {
            agent.seqs.shrink_to_fit();
            agent.weeks.shrink_to_fit();
        }
        for org in &mut self.orgs {
            org.weeks.shrink_to_fit();
        }
    }

    /// Adds one stored summary. Refuses a row whose week, agent id, weakness ids or service kinds are
    /// not of the protocol's form (the index then is unchanged).
    pub fn insert(&mut self, row: &FactRow) -> Result<Inserted, TrendsError> {
        let week = IsoWeek::parse(&row.week)?.ordinal();
        self.check(row)?;
        let org = self.org_id(row);
        let agent = self.agent_id(&row.agent, org);
        let info = &mut self.agents[agent as usize];
        // The same (agent, seq) again replaces the summary only if received later (the tie rule), and
        // is never counted twice.
        let again = match info.seqs.binary_search(&row.seq) {
            Ok(_) => true,
            Err(at) => {
                info.seqs.insert(at, row.seq);
                self.rows += 1;
                false
            }
        };
        let found = info.weeks.binary_search_by_key(&week, |s| s.0).map(|i| info.weeks[i].1);
        let existing = found.ok().and_then(|slot| self.weeks.get_mut(&week)?.agents.get_mut(slot as usize));
        match existing {
            Some(entry) => {
                entry.received += u32::from(!again);
                if (row.seq, row.received_at) <= (entry.seq, entry.received_at) {
                    return Ok(if again { Inserted::Duplicate } else { Inserted::Superseded });
                }
            }
            None if again => return Ok(Inserted::Duplicate), // a seq already seen in another week
            None => {}
        }
        let (pairs, kinds, tls) = self.facts_of(row, week);
        let store = self.weeks.entry(week).or_default();
        let span = store.arena.push(&pairs, &kinds, tls);
        let (slot, previous_org) = match found {
            Ok(slot) => {
                let entry = &mut store.agents[slot as usize];
                store.garbage += entry.span.entries();
                let previous = entry.org;
                (entry.span, entry.seq, entry.received_at, entry.org) = (span, row.seq, row.received_at, org);
                (slot as usize, Some(previous))
            }
            Err(i) => {
                let slot = store.agents.len();
                store.agents.push(AgentEntry {
                    agent,
                    org,
                    seq: row.seq,
                    received_at: row.received_at,
                    received: 1,
                    span,
                });
                self.agents[agent as usize].weeks.insert(i, (week, u32::try_from(slot).unwrap_or(u32::MAX)));
                (slot, None)
            }
        };
        if let Some(previous) = previous_org.filter(|p| *p != org) {
            remerge(store, week, previous, None, &mut self.orgs, &mut self.scratch);
        }
        remerge(store, week, org, Some((agent, slot)), &mut self.orgs, &mut self.scratch);
        if store.garbage > 4096 && store.garbage * 2 > store.arena.entries() {
            compact(store, week, &self.agents);
        }
        Ok(Inserted::Latest)
    }

    /// A row's facts with ids interned: sorted `(weakness, hosts)`, sorted kinds, TLS flags. Records
    /// the severity the newest week gives each weakness id.
    fn facts_of(&mut self, row: &FactRow, week: u32) -> (Vec<(u16, u32)>, Vec<u16>, u16) {
        let mut pairs: Vec<(u16, u32)> = Vec::with_capacity(row.summary.weaknesses.len());
        for w in &row.summary.weaknesses {
            let id = self.weaknesses.intern(&w.id);
            match self.severity.get_mut(id as usize) {
                None => self.severity.push((w.severity, week)),
                Some(known) if known.1 <= week => *known = (w.severity, week),
                Some(_) => {}
            }
            pairs.push((id, w.hosts));
        }
        pairs.sort_unstable_by_key(|p| p.0);
        pairs.dedup_by(|later, kept| later.0 == kept.0);
        let mut kinds: Vec<u16> = row.summary.services.iter().map(|s| self.kinds.intern(&s.kind)).collect();
        kinds.sort_unstable();
        kinds.dedup();
        (pairs, kinds, TlsCheck::flags(&row.summary.tls))
    }

    /// Inserts many rows (a bulk load); stops at the first refused row, after the ones before it.
    pub fn extend<'a>(&mut self, rows: impl IntoIterator<Item = &'a FactRow>) -> Result<(), TrendsError> {
        for row in rows {
            self.insert(row)?;
        }
        Ok(())
    }

    fn check(&self, row: &FactRow) -> Result<(), TrendsError> {
        if !wijk_protocol::is_agent_id(&row.agent) {
            return Err(TrendsError::NotASlug("agent id"));
        }
        let s = &row.summary;
        if !s.weaknesses.iter().all(|w| is_slug(&w.id)) {
            return Err(TrendsError::NotASlug("weakness id"));
        }
        if !s.services.iter().all(|k| is_slug(&k.kind)) {
            return Err(TrendsError::NotASlug("service kind"));
        }
        let room = usize::from(u16::MAX) + 1;
        if self.weaknesses.names.len() + self.weaknesses.unknown(s.weaknesses.iter().map(|w| w.id.as_str())) > room {
            return Err(TrendsError::TooManyIds("weakness ids"));
        }
        if self.kinds.names.len() + self.kinds.unknown(s.services.iter().map(|k| k.kind.as_str())) > room {
            return Err(TrendsError::TooManyIds("service kinds"));
        }
        Ok(())
    }

    fn org_id(&mut self, row: &FactRow) -> u32 {
        let attrs = Attrs { sector: row.sector, size_class: row.size_class, province: row.province };
        if let Some(&id) = self.org_ids.get(&row.org) {
            self.orgs[id as usize].attrs = attrs;
            return id;
        }
        let id = u32::try_from(self.orgs.len()).unwrap_or(u32::MAX);
        self.orgs.push(OrgInfo { attrs, weeks: Vec::new() });
        self.org_ids.insert(row.org.clone(), id);
        id
    }

    fn agent_id(&mut self, agent: &str, org: u32) -> u32 {
        if let Some(&id) = self.agent_ids.get(agent) {
            self.agents[id as usize].org = org;
            return id;
        }
        let id = u32::try_from(self.agents.len()).unwrap_or(u32::MAX);
        self.agents.push(AgentInfo { id: agent.to_string(), org, seqs: Vec::new(), weeks: Vec::new() });
        self.agent_ids.insert(agent.to_string(), id);
        id
    }

    /// Entries held in all week arenas, live or not (for tests of compaction).
    #[cfg(test)]
    pub(crate) fn arena_entries(&self) -> usize {
        self.weeks.values().map(|w| w.arena.entries()).sum()
    }

    /// An agent's number, if it has summaries.
    pub(crate) fn agent(&self, id: &str) -> Option<u32> {
        self.agent_ids.get(id).copied()
    }

    /// Every agent with a summary in the index (pseudonymous ids; for advice, never for analysts).
    pub fn agent_ids(&self) -> Vec<String> {
        self.agents.iter().map(|a| a.id.clone()).collect()
    }
}

/// Recomputes organisation `org`'s entry of `week` from its agents' entries. `changed` is the agent
/// (and its slot) whose entry just changed, if it belongs to `org`: when it is the organisation's only
/// agent of the week, no scan of the week's agents is needed.
fn remerge(
    store: &mut WeekStore,
    week: u32,
    org: u32,
    changed: Option<(u32, usize)>,
    orgs: &mut [OrgInfo],
    scratch: &mut Scratch,
) {
    let slots = &mut orgs[org as usize].weeks;
    let found = slots.binary_search_by_key(&week, |s| s.0);
    let old = found.ok().map(|i| store.orgs[slots[i].1 as usize]);
    let alone = match (old, changed) {
        (None, Some((_, slot))) => Some(slot),
        (Some(o), Some((agent, slot))) if o.agents == 1 && o.first_agent == agent => Some(slot),
        _ => None,
    };
    let members: Vec<usize> = match alone {
        Some(slot) => vec![slot],
        None => store.agents.iter().enumerate().filter(|(_, a)| a.org == org).map(|(i, _)| i).collect(),
    };
    if let Some(old) = old.filter(|o| o.agents > 1) {
        store.garbage += old.span.entries();
    }
    let entry = match members.as_slice() {
        [] => None,
        [one] => {
            let a = store.agents[*one];
            Some(OrgEntry { org, agents: 1, first_agent: a.agent, span: a.span })
        }
        many => {
            let parts: Vec<Facts<'_>> = many.iter().map(|&i| store.arena.view(store.agents[i].span)).collect();
            let tls = scratch.merge(&parts);
            let span = store.arena.push_merged(scratch, tls);
            let count = u32::try_from(many.len()).unwrap_or(u32::MAX);
            Some(OrgEntry { org, agents: count, first_agent: store.agents[many[0]].agent, span })
        }
    };
    match (found, entry) {
        (Ok(i), Some(e)) => store.orgs[slots[i].1 as usize] = e,
        (Err(i), Some(e)) => {
            slots.insert(i, (week, u32::try_from(store.orgs.len()).unwrap_or(u32::MAX)));
            store.orgs.push(e);
        }
        (Ok(i), None) => {
            // The organisation's only agent moved to another organisation this week.
            let slot = slots.remove(i).1 as usize;
            store.orgs.swap_remove(slot);
            if let Some(moved) = store.orgs.get(slot) {
                let moved_slots = &mut orgs[moved.org as usize].weeks;
                if let Ok(j) = moved_slots.binary_search_by_key(&week, |s| s.0) {
                    moved_slots[j].1 = u32::try_from(slot).unwrap_or(u32::MAX);
                }
            }
        }
        (Err(_), None) => {}
    }
}

/// Rewrites a week's arena with only the live spans.
fn compact(store: &mut WeekStore, week: u32, agents: &[AgentInfo]) {
    let mut arena = Arena::default();
    for entry in &mut store.agents {
        entry.span = arena.copy(store.arena.view(entry.span));
    }
    for entry in &mut store.orgs {
        entry.span = if entry.agents == 1 {
            let slots = &agents[entry.first_agent as usize].weeks;
            let slot = slots.binary_search_by_key(&week, |s| s.0).ok().map(|i| slots[i].1 as usize);
            match slot {
                Some(s) => store.agents[s].span,
                None => arena.copy(store.arena.view(entry.span)),
            }
        } else {
            arena.copy(store.arena.view(entry.span))
        };
    }
    store.arena = arena;
    store.garbage = 0;
}
