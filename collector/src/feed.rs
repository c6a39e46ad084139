//! Keeps the trends index ([`crate::trends::Index`]) fed and the agents advised.
//!
//! - At start, [`load`] builds the index from every stored summary (streamed from the store).
//! - The ingest thread hands every summary it stored to [`Feed::add`]; an agent whose summary became
//!   its latest for a week is marked for new advice.
//! - [`Feed::advice_due`] computes the advice (`wijk.advice/1`) of the marked agents, to be published
//!   retained on their advice topics; at most every [`ADVICE_INTERVAL`] under load, at once when
//!   ingest is idle, and for every agent after a start (the embedded broker keeps no retained
//!   messages across restarts).
//! - [`Toolkit`]: VVSG's toolkit pages per weakness id (`DATA/toolkit.toml`), which travel with the advice.
//! - [`Tuning`]: what a running service may change without a restart (the k of k-anonymity, the
//!   toolkit); a change makes every agent due for new advice.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use wijk_protocol::advice::Link;
use wijk_protocol::{topics, Summary};

use crate::org::Org;
use crate::store::{Store, StoreError, StoredSummary};
use crate::trends::{FactRow, Index, Inserted, Rule, TrendsError, MIN_K};

/// The index, shared by the ingest thread (writes) and the web side (reads).
pub type SharedIndex = Arc<RwLock<Index>>;

/// Shortest time between two advice rounds while summaries keep coming.
pub const ADVICE_INTERVAL: Duration = Duration::from_secs(5);
/// Priorities per advice document.
pub const ADVICE_TOP: usize = 10;

/// What [`load`] read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Summaries in the index.
    pub summaries: u64,
    /// Stored summaries the index refused (logged; they stay in the store).
    pub skipped: u64,
}

/// Adds every stored summary to `index` (a new one, from [`Index::with_options`]).
pub fn load(store: &mut dyn Store, mut index: Index) -> Result<(Index, Loaded), StoreError> {
    let mut loaded = Loaded::default();
    store.each_summary(&mut |stored| {
        let (agent, seq) = (stored.agent.clone(), stored.seq);
        match fact(stored).and_then(|row| index.insert(&row).map_err(|e| e.to_string())) {
            Ok(_) => loaded.summaries += 1,
            Err(why) => {
                loaded.skipped += 1;
                tracing::warn!("trends: stored summary {agent}/{seq} left out: {why}");
            }
        }
        Ok(())
    })?;
    index.shrink_to_fit();
    Ok((index, loaded))
}

fn fact(stored: StoredSummary) -> Result<FactRow, String> {
    let summary: Summary = serde_json::from_str(&stored.payload).map_err(|e| format!("unreadable summary: {e}"))?;
    Ok(row(stored.org, stored.agent, stored.seq, stored.received_at, summary))
}

fn row(org: Org, agent: String, seq: u64, received_at: chrono::DateTime<chrono::Utc>, summary: Summary) -> FactRow {
    FactRow {
        org: org.name,
        sector: org.sector,
        size_class: org.size_class,
        province: org.province,
        agent,
        week: summary.week.clone(),
        seq,
        received_at,
        summary,
    }
}

/// VVSG's toolkit pages per weakness id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Toolkit(pub HashMap<String, Vec<Link>>);

/// `toolkit.toml` as written by VVSG.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolkitFile {
    #[serde(default)]
    link: Vec<ToolkitLink>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolkitLink {
    weakness: String,
    title: String,
    url: String,
}

impl Toolkit {
    /// Reads `path` (`[[link]] weakness = "telnet-open"  title = "…"  url = "https://…"`); no file
    /// is an empty toolkit.
    pub fn load(path: &Path) -> Result<Toolkit, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Toolkit::default()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Toolkit::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks a toolkit file's text.
    pub fn parse(text: &str) -> Result<Toolkit, String> {
        let file: ToolkitFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut links: HashMap<String, Vec<Link>> = HashMap::new();
        for (i, l) in file.link.into_iter().enumerate() {
            let n = i + 1;
            if !wijk_protocol::summary::is_slug(&l.weakness) {
                return Err(format!("link {n}: weakness {:?} is not a weakness id", l.weakness));
            }
            if l.title.trim().is_empty() || l.title.chars().count() > 200 || l.title.chars().any(char::is_control) {
                return Err(format!("link {n}: title must be 1 to 200 characters on one line"));
            }
            let url_ok = l.url.starts_with("https://")
                && l.url.len() <= 500
                && !l.url.chars().any(|c| c.is_whitespace() || c.is_control() || "\"'<>".contains(c));
            if !url_ok {
                return Err(format!("link {n}: url must be an https:// address without spaces or quotes"));
            }
            links.entry(l.weakness).or_default().push(Link { title: l.title, url: l.url });
        }
        Ok(Toolkit(links))
    }
}

/// The live-changeable settings of a running service, shared by the ingest thread (which reads
/// them for every advice round) and whoever reloads the configuration (which changes them).
#[derive(Debug, Clone)]
pub struct Tuning {
    index: SharedIndex,
    toolkit: Arc<RwLock<Arc<Toolkit>>>,
    /// Bumped by every change; the feed compares it with the last value it saw.
    changes: Arc<AtomicU64>,
}

impl Tuning {
    /// The k in force.
    pub fn k(&self) -> u32 {
        self.index.read().map(|i| i.k()).unwrap_or(0)
    }

    /// Puts `k` in force for every figure from now on (refused below [`MIN_K`]); `true` when it
    /// changed.
    pub fn set_k(&self, k: u32) -> Result<bool, TrendsError> {
        if k < MIN_K {
            return Err(TrendsError::KTooSmall(k));
        }
        let Ok(mut index) = self.index.write() else { return Ok(false) };
        if index.k() == k {
            return Ok(false);
        }
        index.rule = Rule::new(k);
        drop(index);
        self.changes.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// The toolkit in force.
    pub fn toolkit(&self) -> Arc<Toolkit> {
        self.toolkit.read().map(|t| t.clone()).unwrap_or_default()
    }

    /// Puts `toolkit` in force for the advice from now on; `true` when it changed.
    pub fn set_toolkit(&self, toolkit: Toolkit) -> bool {
        let Ok(mut current) = self.toolkit.write() else { return false };
        if **current == toolkit {
            return false;
        }
        *current = Arc::new(toolkit);
        drop(current);
        self.changes.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// The ingest side of the index: adds stored summaries, tracks who is due for advice.
#[derive(Debug)]
pub struct Feed {
    index: SharedIndex,
    tuning: Tuning,
    /// The [`Tuning`] change count this feed's advice reflects.
    seen: u64,
    due: BTreeSet<String>,
    last_round: Option<Instant>,
}

/// An advice document to publish (retained).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdviceOut {
    /// The agent's advice topic.
    pub topic: String,
    /// `wijk.advice/1` JSON.
    pub payload: Vec<u8>,
}

impl Feed {
    /// A feed for `index`; every agent in it is due for advice (nothing is retained yet).
    pub fn new(index: SharedIndex, toolkit: Toolkit) -> Feed {
        let due = index.read().map(|i| i.agent_ids().into_iter().collect()).unwrap_or_default();
        let tuning =
            Tuning { index: index.clone(), toolkit: Arc::new(RwLock::new(Arc::new(toolkit))), changes: Arc::default() };
        Feed { index, tuning, seen: 0, due, last_round: None }
    }

    /// The handle that changes k and the toolkit while the feed runs.
    pub fn tuning(&self) -> Tuning {
        self.tuning.clone()
    }

    /// The shared index.
    pub fn index(&self) -> &SharedIndex {
        &self.index
    }

    /// Adds summaries just stored, each with its agent's organisation.
    pub fn add(&mut self, stored: Vec<(Org, String, u64, chrono::DateTime<chrono::Utc>, Summary)>) {
        if stored.is_empty() {
            return;
        }
        let Ok(mut index) = self.index.write() else { return };
        for (org, agent, seq, received_at, summary) in stored {
            let row = row(org, agent, seq, received_at, summary);
            match index.insert(&row) {
                Ok(Inserted::Latest) => {
                    self.due.insert(row.agent);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("trends: summary {}/{} left out: {e}", row.agent, row.seq),
            }
        }
    }

    /// The advice to publish now: for every agent due, when ingest is `idle` or the last round is
    /// [`ADVICE_INTERVAL`] ago.
    /// After a [`Tuning`] change every agent is due (its advice carries other figures or links).
    pub fn advice_due(&mut self, idle: bool) -> Vec<AdviceOut> {
        let changes = self.tuning.changes.load(Ordering::Relaxed);
        if changes != self.seen {
            self.seen = changes;
            if let Ok(index) = self.index.read() {
                self.due.extend(index.agent_ids());
            }
        }
        let recent = self.last_round.is_some_and(|t| t.elapsed() < ADVICE_INTERVAL);
        if self.due.is_empty() || (recent && !idle) {
            return Vec::new();
        }
        self.last_round = Some(Instant::now());
        let toolkit = self.tuning.toolkit();
        let Ok(index) = self.index.read() else { return Vec::new() };
        std::mem::take(&mut self.due)
            .into_iter()
            .filter_map(|agent| match index.advice(&agent, ADVICE_TOP, &toolkit.0) {
                Ok(advice) => Some(AdviceOut { topic: topics::advice(&agent), payload: advice.to_bytes() }),
                Err(e) => {
                    tracing::warn!("advice for {agent} not made: {e}");
                    None
                }
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "feed_tests.rs"]
mod tests;
