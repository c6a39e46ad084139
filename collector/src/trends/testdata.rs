//! Rows for the trends tests, built in one line each.

use chrono::{DateTime, TimeZone, Utc};
use wijk_protocol::summary::{Counts, ServiceCount, Severity, TlsCounts, WeaknessCount};
use wijk_protocol::Summary;

use super::FactRow;
use crate::org::{Province, Sector, SizeClass};

/// A row being built.
#[derive(Debug, Clone)]
pub(crate) struct Row(pub(crate) FactRow);

/// A row of organisation `org` (a gemeente of 10k-25k in Antwerpen until told otherwise) from agent
/// `agent` (padded to a valid agent id) for `week`, with `seq`, received `seq` seconds after the epoch.
pub(crate) fn row(org: &str, agent: &str, week: &str, seq: u64) -> Row {
    let agent = format!("{agent:a<8}");
    Row(FactRow {
        org: org.to_string(),
        sector: Sector::Gemeente,
        size_class: SizeClass::UpTo25k,
        province: Province::Antwerpen,
        agent: agent.clone(),
        week: week.to_string(),
        seq,
        received_at: at(seq as i64),
        summary: Summary {
            schema: wijk_protocol::SUMMARY_SCHEMA.to_string(),
            agent,
            seq,
            week: week.to_string(),
            agent_version: "0.1.0".to_string(),
            profile: "standard".to_string(),
            complete: true,
            counts: Counts { hosts_alive: 1000, open_services: 1000, tls_endpoints: 100 },
            services: Vec::new(),
            weaknesses: Vec::new(),
            tls: TlsCounts::default(),
        },
    })
}

/// A time `secs` seconds after the Unix epoch.
pub(crate) fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

impl Row {
    /// Sets the organisation's attributes.
    pub(crate) fn attrs(mut self, sector: Sector, size_class: SizeClass, province: Province) -> Row {
        (self.0.sector, self.0.size_class, self.0.province) = (sector, size_class, province);
        self
    }

    /// Adds a weakness with `hosts` hosts, severity high unless [`Row::weak_sev`] is used.
    pub(crate) fn weak(self, id: &str, hosts: u32) -> Row {
        self.weak_sev(id, Severity::High, hosts)
    }

    /// Adds a weakness of a given severity.
    pub(crate) fn weak_sev(mut self, id: &str, severity: Severity, hosts: u32) -> Row {
        self.0.summary.weaknesses.push(WeaknessCount { id: id.to_string(), severity, hosts });
        self.0.summary.normalise();
        self
    }

    /// Adds an exposed service kind.
    pub(crate) fn service(mut self, kind: &str) -> Row {
        self.0.summary.services.push(ServiceCount { kind: kind.to_string(), services: 1 });
        self.0.summary.normalise();
        self
    }

    /// Changes the TLS counts.
    pub(crate) fn tls(mut self, change: impl FnOnce(&mut TlsCounts)) -> Row {
        change(&mut self.0.summary.tls);
        self
    }

    /// Sets when it was received.
    pub(crate) fn received(mut self, secs: i64) -> Row {
        self.0.received_at = at(secs);
        self
    }
}
