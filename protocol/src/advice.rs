//! The advice document (`wijk.advice/1`) wijkpost keeps retained on each agent's advice topic: the
//! sector's priorities with VVSG's toolkit links, and where this organisation stands against its peers.
//! Figures that fewer than `k` organisations contribute to are absent (`None`), never zero.

use serde::{Deserialize, Serialize};

use crate::summary::Severity;
use crate::ADVICE_SCHEMA;

/// Largest advice payload an agent reads.
pub const MAX_ADVICE_BYTES: usize = 256 * 1024;

/// Advice for one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advice {
    /// Always [`ADVICE_SCHEMA`].
    pub schema: String,
    /// The agent it is meant for.
    pub agent: String,
    /// ISO week of the figures (`YYYY-Www`).
    pub week: String,
    /// The k of k-anonymity the figures respect.
    pub k: u32,
    /// Peer group the position compares with, e.g. `gemeente, 10000-25000`.
    pub peer_group: String,
    /// The sector's weaknesses ranked by prevalence times severity.
    pub priorities: Vec<Priority>,
    /// This organisation against its peers, per common weakness.
    pub position: Vec<Position>,
}

/// One of the sector's priorities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Priority {
    /// Weakness id.
    pub id: String,
    /// Its severity.
    pub severity: Severity,
    /// Share of organisations affected, in percent (`None`: fewer than k contribute).
    pub organisations_pct: Option<u8>,
    /// VVSG toolkit pages for it.
    #[serde(default)]
    pub links: Vec<Link>,
}

/// Where this organisation stands on one weakness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Weakness id.
    pub id: String,
    /// Whether this organisation's latest summary has it.
    pub you_have_it: bool,
    /// Share of peers that had it and fixed it, in percent (`None`: fewer than k peers).
    pub peers_fixed_pct: Option<u8>,
}

/// A link to a toolkit page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Title to show.
    pub title: String,
    /// Address (https).
    pub url: String,
}

impl Advice {
    /// The payload bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads an advice document; `None` for anything that is not one.
    pub fn decode(payload: &[u8]) -> Option<Advice> {
        if payload.len() > MAX_ADVICE_BYTES {
            return None;
        }
        let advice: Advice = serde_json::from_slice(payload).ok()?;
        (advice.schema == ADVICE_SCHEMA).then_some(advice)
    }
}
