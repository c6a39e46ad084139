//! Per-week series: participation, prevalence of weaknesses (with hosts per affected organisation),
//! TLS hygiene and service exposure. Each week stands on its own; a week in which the filter selects
//! no organisation is left out.

use serde::Serialize;
use wijk_protocol::summary::{is_slug, Severity};

use super::facts::TlsCheck;
use super::filter::Filter;
use super::index::{Index, WeekStore};
use super::kanon::{Cell, HostStats, Share};
use super::week::IsoWeek;
use super::TrendsError;

/// Who took part in one week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekParticipation {
    /// The week.
    pub week: IsoWeek,
    /// Organisations with at least one summary.
    pub organisations: Cell<u32>,
    /// Agents with at least one summary.
    pub agents: Cell<u32>,
    /// Summaries received (superseded ones included).
    pub summaries: Cell<u32>,
}

/// Weaknesses in one week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekPrevalence {
    /// The week.
    pub week: IsoWeek,
    /// Organisations participating.
    pub organisations: Cell<u32>,
    /// One cell per weakness id, by id.
    pub weaknesses: Vec<WeakCell>,
}

/// One weakness in one week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeakCell {
    /// Weakness id.
    pub id: String,
    /// Its severity.
    pub severity: Severity,
    /// Organisations affected among those participating.
    pub prevalence: Cell<Share>,
    /// Hosts affected per affected organisation; absent when the prevalence is shown and is 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Cell<HostStats>>,
}

/// Shares of organisations in one week (TLS checks, service kinds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekShares {
    /// The week.
    pub week: IsoWeek,
    /// Organisations participating.
    pub organisations: Cell<u32>,
    /// One share per check or kind.
    pub items: Vec<NamedShare>,
}

/// A named share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedShare {
    /// The TLS check or service kind (a slug).
    pub name: String,
    /// Organisations matching.
    pub share: Cell<Share>,
}

impl Index {
    /// Weeks in the filter's range.
    fn series_weeks(&self, filter: &Filter) -> impl Iterator<Item = (u32, &WeekStore)> + '_ {
        let (from, to) = self.range_of(filter).unwrap_or((1, 0));
        let range = if from <= to { self.weeks.range(from..=to) } else { self.weeks.range(0..0) };
        range.map(|(w, s)| (*w, s))
    }

    /// Organisations, agents and summaries per week.
    pub fn participation(&self, filter: &Filter) -> Vec<WeekParticipation> {
        let rule = &self.rule;
        let mut out = Vec::new();
        for (week, store) in self.series_weeks(filter) {
            let selected = |org: u32| filter.selects(&self.orgs[org as usize].attrs);
            let orgs = count(store.orgs.iter().filter(|o| selected(o.org)));
            if orgs == 0 {
                continue;
            }
            let agents = store.agents.iter().filter(|a| selected(a.org));
            let (agents, summaries) = agents.fold((0u32, 0u32), |(n, s), a| (n + 1, s.saturating_add(a.received)));
            let shown = rule.count_ok(orgs);
            let gate = |v: u32| if shown { Cell::Value(v) } else { rule.suppressed() };
            out.push(WeekParticipation {
                week: IsoWeek::from_ordinal(week),
                organisations: rule.count(orgs),
                agents: gate(agents),
                summaries: gate(summaries),
            });
        }
        out
    }

    /// Prevalence per week of every weakness id the index knows (or of `weakness` only), with hosts
    /// affected per affected organisation. `weakness` must be a slug.
    pub fn prevalence(&self, filter: &Filter, weakness: Option<&str>) -> Result<Vec<WeekPrevalence>, TrendsError> {
        let ids: Vec<u16> = match weakness {
            Some(id) if !is_slug(id) => return Err(TrendsError::NotASlug("weakness id")),
            Some(id) => self.weaknesses.get(id).into_iter().collect(),
            None => self.weaknesses.by_name(),
        };
        let rule = &self.rule;
        let single = weakness.map(|_| ids.first().copied());
        // Hosts of each affected organisation, one bucket per weakness, reused week after week.
        let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); self.weaknesses.names.len()];
        let mut out = Vec::new();
        for (week, store) in self.series_weeks(filter) {
            buckets.iter_mut().for_each(Vec::clear);
            let mut n = 0;
            for o in store.orgs.iter().filter(|o| filter.selects(&self.orgs[o.org as usize].attrs)) {
                n += 1;
                let facts = store.arena.view(o.span);
                match single {
                    None => {
                        for (&w, &h) in facts.weaknesses.iter().zip(facts.hosts) {
                            buckets[w as usize].push(h);
                        }
                    }
                    Some(None) => {}
                    Some(Some(w)) => buckets[w as usize].extend(facts.hosts_of(w)),
                }
            }
            if n == 0 {
                continue;
            }
            let cells = ids.iter().map(|&w| {
                let group = &mut buckets[w as usize];
                let a = count(group.iter());
                let prevalence = rule.share(n, a);
                // Absent only when a shown prevalence says nobody is affected: whether the field is
                // there must not tell anything a hidden prevalence hides.
                let nobody = !prevalence.is_suppressed() && a == 0;
                WeakCell {
                    id: self.weaknesses.names[w as usize].clone(),
                    severity: self.severity[w as usize].0,
                    prevalence,
                    hosts: (!nobody).then(|| rule.hosts(n, group)),
                }
            });
            let weaknesses = cells.collect();
            out.push(WeekPrevalence { week: IsoWeek::from_ordinal(week), organisations: rule.count(n), weaknesses });
        }
        Ok(out)
    }

    /// Per week, the share of organisations with at least one endpoint or certificate failing (for
    /// TLS 1.2 and 1.3: offering) each [`TlsCheck`].
    pub fn tls_hygiene(&self, filter: &Filter) -> Vec<WeekShares> {
        self.shares(filter, TlsCheck::ALL.len(), |facts, counts| {
            for (i, check) in TlsCheck::ALL.iter().enumerate() {
                if facts.tls & check.bit() != 0 {
                    counts[i] += 1;
                }
            }
        })
        .into_iter()
        .map(|(week, organisations, counts)| WeekShares {
            week,
            organisations,
            items: TlsCheck::ALL
                .iter()
                .zip(counts)
                .map(|(c, share)| NamedShare { name: c.as_str().into(), share })
                .collect(),
        })
        .collect()
    }

    /// Per week, the share of organisations exposing each service kind the index knows.
    pub fn service_exposure(&self, filter: &Filter) -> Vec<WeekShares> {
        let order = self.kinds.by_name();
        self.shares(filter, self.kinds.names.len(), |facts, counts| {
            for &k in facts.kinds {
                counts[k as usize] += 1;
            }
        })
        .into_iter()
        .map(|(week, organisations, mut counts)| WeekShares {
            week,
            organisations,
            items: order
                .iter()
                .map(|&k| NamedShare {
                    name: self.kinds.names[k as usize].clone(),
                    share: std::mem::replace(&mut counts[k as usize], self.rule.suppressed()),
                })
                .collect(),
        })
        .collect()
    }

    /// Per week: organisations and one share cell per counter `tally` fills.
    fn shares(
        &self,
        filter: &Filter,
        counters: usize,
        tally: impl Fn(&super::facts::Facts<'_>, &mut [u32]),
    ) -> Vec<(IsoWeek, Cell<u32>, Vec<Cell<Share>>)> {
        let mut out = Vec::new();
        let mut counts = vec![0u32; counters];
        for (week, store) in self.series_weeks(filter) {
            counts.iter_mut().for_each(|c| *c = 0);
            let mut n = 0;
            for o in store.orgs.iter().filter(|o| filter.selects(&self.orgs[o.org as usize].attrs)) {
                n += 1;
                tally(&store.arena.view(o.span), &mut counts);
            }
            if n > 0 {
                let cells = counts.iter().map(|&m| self.rule.share(n, m)).collect();
                out.push((IsoWeek::from_ordinal(week), self.rule.count(n), cells));
            }
        }
        out
    }
}

fn count<T>(items: impl Iterator<Item = T>) -> u32 {
    u32::try_from(items.count()).unwrap_or(u32::MAX)
}
