//! TLS analysis of one endpoint: which protocol versions it accepts (SSLv3 … TLS 1.3), which weak
//! cipher suites it takes, and what its certificate chain is worth.
//!
//! [`analyse`] makes a handful of sequential connections, each fresh, each reaching the handshake
//! as [`StartTls`] says ([`starttls`]):
//! 1. a real handshake with rustls, TLS 1.3 preferred, 1.2 allowed ([`handshake`]), whose verifier
//!    ([`accept_any`], shared with the probes' TLS connections) records the chain instead of
//!    judging it;
//! 2. a hand-built ClientHello ([`client_hello`]) for each of TLS 1.2 (unless rustls already
//!    negotiated it), 1.1, 1.0 and SSLv3, offering exactly that version and every suite known,
//!    the answer read by [`server_hello`] ([`versions`]); a version is skipped once a lower offer
//!    has already been answered with it; when rustls got no chain, the first accepting hello reads
//!    on to the (clear-text) Certificate message;
//! 3. at the highest of those versions the server accepts, hellos offering only weak suites,
//!    each time without what it picked before, up to five ([`ciphers`]);
//! 4. the chain is analysed with x509-parser and checked against the Mozilla roots ([`cert`]).
//!
//! When the server answers, but never in TLS (garbage, another protocol), there is no analysis;
//! [`analyse_into`] then says so in the probe's note. The chain is kept to its first ten
//! certificates ([`server_hello::MAX_CERTS`]); how many the server sent is counted and reported.
//!
//! At most 1 + 4 + 5 connections, usually 5 or 6. Limits: [`Limits::deadline`] bounds the whole
//! analysis and each connection gets at most a quarter of it (at least a second), so one silent
//! server cannot eat it all; [`Limits::max_bytes`] bounds the bytes read over all connections
//! together; every byte goes through [`crate::probe::io::Session`]. Whatever the server sends, the
//! analysis ends with a report or `None`, never a panic.
//!
//! Observations use catalog ids: `sslv3-enabled`, `tls-1.0-enabled`, `tls-1.1-enabled`,
//! `tls-weak-cipher`, and the certificate's `tls-cert-*` (see [`cert`]). Subjects, names and
//! fingerprints go into [`CertReport`], never into ids.

mod accept_any;
pub(crate) mod cert;
mod ciphers;
mod client_hello;
mod handshake;
pub(crate) mod server_hello;
pub(crate) mod starttls;
mod versions;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::i18n::{Lang, Said};
use crate::probe::io::{sanitize, ProbeError, Session};
use crate::probe::{Limits, Observation, ServiceInfo, Target};

pub(crate) use accept_any::{client_config_accepting_any, server_name};
pub use cert::{CertReport, EXPIRING_DAYS};
use versions::{HelloOutcome, Version};

/// How to reach the TLS handshake on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartTls {
    /// TLS from the first byte.
    Implicit,
    /// SMTP `STARTTLS`.
    Smtp,
    /// IMAP `STARTTLS`.
    Imap,
    /// POP3 `STLS`.
    Pop3,
    /// FTP `AUTH TLS`.
    Ftp,
    /// LDAP StartTLS extended operation.
    Ldap,
    /// PostgreSQL `SSLRequest`.
    Postgres,
}

/// What the analysis found. Serialised into the report's `services[].tls`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsReport {
    /// Accepted protocol versions, oldest first, e.g. `["TLSv1.2", "TLSv1.3"]`.
    pub versions: Vec<String>,
    /// Weak cipher suites accepted (IANA names).
    pub weak_ciphers: Vec<String>,
    /// Weaknesses seen (catalog ids with evidence).
    pub observations: Vec<Observation>,
    /// The leaf certificate and what its checks found, when a chain was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertReport>,
    /// What failed or stopped early (rustls handshake error, odd answers, time or byte limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl TlsReport {
    /// The report's `services[].tls` object: this analysis with each observation's evidence as a
    /// string in `lang` (the report speaks one language; the findings carry both).
    pub fn to_report_json(&self, lang: Lang) -> Option<serde_json::Value> {
        let mut value = serde_json::to_value(self).ok()?;
        if let Some(list) = value.get_mut("observations").and_then(serde_json::Value::as_array_mut) {
            for (json, obs) in list.iter_mut().zip(&self.observations) {
                json["evidence"] = serde_json::Value::String(obs.evidence.get(lang).to_string());
            }
        }
        Some(value)
    }
}

/// The analysis' share of time and bytes, spent connection by connection.
#[derive(Debug)]
pub(crate) struct Budget {
    deadline: Instant,
    bytes_left: usize,
    connect: Duration,
    per_connection: Duration,
    /// The SNI name for hand-built hellos, when the target's host name is a valid DNS name.
    pub(crate) sni: Option<String>,
}

impl Budget {
    fn new(target: &Target, limits: &Limits) -> Budget {
        let sni = match server_name(target) {
            rustls::pki_types::ServerName::DnsName(name) => Some(name.as_ref().to_string()),
            _ => None,
        };
        Budget {
            deadline: Instant::now() + limits.deadline,
            bytes_left: limits.max_bytes,
            connect: limits.connect,
            per_connection: (limits.deadline / 4).max(Duration::from_secs(1)).min(limits.deadline),
            sni,
        }
    }

    /// A fresh connection to `target` that has reached the handshake, bounded by what is left.
    pub(crate) async fn open(&mut self, target: &Target, starttls: StartTls) -> Result<Session, ProbeError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ProbeError::Timeout);
        }
        if self.bytes_left == 0 {
            return Err(ProbeError::ByteLimit);
        }
        let limits = Limits {
            connect: self.connect.min(left),
            deadline: self.per_connection.min(left),
            max_bytes: self.bytes_left,
        };
        let mut session = Session::connect(target, &limits).await?;
        match starttls::negotiate(&mut session, starttls).await {
            Ok(()) => Ok(session),
            Err(e) => {
                self.spend(session.bytes_read());
                Err(e)
            }
        }
    }

    /// Counts bytes a finished connection read.
    pub(crate) fn spend(&mut self, bytes: usize) {
        self.bytes_left = self.bytes_left.saturating_sub(bytes);
    }
}

/// Analyses the TLS endpoint at `target`, reaching the handshake as `starttls` says.
///
/// `None` when the handshake cannot be reached (connection refused, STARTTLS refused or not
/// understood) or the server never answered in TLS (no ServerHello, no alert, no certificate).
pub async fn analyse(target: &Target, starttls: StartTls, limits: &Limits) -> Option<TlsReport> {
    analyse_or_why(target, starttls, limits).await.ok()
}

/// [`analyse`] for a probe: the analysis goes into `info.tls`; when there is none because the
/// server answered with something that is not TLS, `info.note` says so
/// (`TLS: not a TLS answer (…)`, after any note already there).
pub async fn analyse_into(info: &mut ServiceInfo, target: &Target, starttls: StartTls, limits: &Limits) {
    match analyse_or_why(target, starttls, limits).await {
        Ok(report) => info.tls = Some(report),
        Err(why) => {
            info.tls = None;
            if let Some(why) = why {
                let said = format!("TLS: not a TLS answer ({why})");
                info.note = Some(match info.note.take() {
                    Some(before) => format!("{before}; {said}"),
                    None => said,
                });
            }
        }
    }
}

/// The analysis, or why there is none: `Err(Some(what))` when the server answered, but not in
/// TLS; `Err(None)` when the handshake was not reached or nothing answered.
async fn analyse_or_why(target: &Target, starttls: StartTls, limits: &Limits) -> Result<TlsReport, Option<String>> {
    let mut budget = Budget::new(target, limits);
    let mut notes: Vec<String> = Vec::new();
    // The first answer that was not TLS, for when nothing else was.
    let mut not_tls: Option<String> = None;
    // Accepted versions, each with the evidence for its observation.
    let mut accepted: BTreeMap<Version, Said> = BTreeMap::new();
    let mut weak: Vec<u16> = Vec::new();

    // 1. rustls: TLS 1.3 / 1.2 and, usually, the chain.
    let modern = match handshake::modern(&mut budget, target, starttls).await {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(addr = %target.addr, error = %e, "TLS handshake not reached");
            return Err(None);
        }
    };
    let mut tls_seen = modern.tls_seen;
    let mut chain = modern.chain;
    let mut presented = modern.presented;
    if let Some(v) = modern.version {
        let suite = modern.suite.as_deref().unwrap_or("?");
        accepted.insert(
            v,
            Said::new(format!("handshake voltooid met {suite}"), format!("handshake completed with {suite}")),
        );
    }
    if let Some(f) = modern.failure {
        notes.push(format!("rustls handshake: {f}"));
    }

    // 2. Legacy versions with hand-built hellos.
    let offer = ciphers::catch_all();
    for v in Version::LEGACY {
        if accepted.contains_key(&v) {
            continue;
        }
        match versions::hello_probe(&mut budget, target, starttls, v, &offer, chain.is_empty()).await {
            Ok(HelloOutcome::Accepted { version, suite, chain: sent, presented: count }) => {
                tls_seen = true;
                match Version::from_wire(version) {
                    Some(got) if got <= v => {
                        let (name, suite_name) = (got.name(), ciphers::name(suite));
                        let evidence = Said::new(
                            format!("ServerHello {name} met {suite_name}"),
                            format!("ServerHello {name} with {suite_name}"),
                        );
                        accepted.entry(got).or_insert(evidence);
                        if ciphers::weak_class(suite).is_some() && !weak.contains(&suite) {
                            weak.push(suite);
                        }
                        if chain.is_empty() {
                            chain = sent;
                            presented = count;
                        }
                    }
                    _ => notes.push(format!("{} hello answered with version 0x{version:04X}", v.name())),
                }
            }
            Ok(HelloOutcome::Alert { name, usual }) => {
                tls_seen = true;
                if !usual {
                    notes.push(format!("{} hello: alert {name}", v.name()));
                }
            }
            Ok(HelloOutcome::Refused(_)) => {}
            Ok(HelloOutcome::Odd(what)) => {
                let said = format!("{} hello: {what}", v.name());
                not_tls.get_or_insert_with(|| said.clone());
                notes.push(said);
            }
            Err(e) => {
                notes.push(format!("{} hello: {}", v.name(), e.note()));
                break;
            }
        }
    }

    // 3. Weak suites at the highest version a hand-built hello can speak.
    if let Some(&v) = accepted.keys().rev().find(|v| Version::LEGACY.contains(v)) {
        let scan = ciphers::weak_scan(&mut budget, target, starttls, v, &weak).await;
        weak.extend(scan.found);
        notes.extend(scan.note);
    }

    if !tls_seen && chain.is_empty() {
        return Err(not_tls.map(|n| sanitize(&n, 120)));
    }

    // 4. Observations: versions, suites, certificate.
    let mut observations = Vec::new();
    for (v, evidence) in &accepted {
        let id = match v {
            Version::Ssl3 => "sslv3-enabled",
            Version::Tls10 => "tls-1.0-enabled",
            Version::Tls11 => "tls-1.1-enabled",
            _ => continue,
        };
        observations.push(Observation::said(id, evidence.clone()));
    }
    let weak_ciphers: Vec<String> = weak.iter().map(|&s| ciphers::name(s)).collect();
    if !weak_ciphers.is_empty() {
        let list = weak_ciphers.join(", ");
        observations.push(Observation::new(
            "tls-weak-cipher",
            format!("aanvaard: {list}"),
            format!("accepted: {list}"),
        ));
    }
    let certificate = if chain.is_empty() {
        None
    } else {
        match cert::analyse(&chain, target.hostname.as_deref(), &cert::MOZILLA_ROOTS, chrono::Utc::now()) {
            Ok(mut a) => {
                a.report.count_presented(presented);
                observations.extend(a.observations);
                Some(a.report)
            }
            Err(e) => {
                notes.push(e);
                None
            }
        }
    };

    Ok(TlsReport {
        versions: accepted.keys().map(|v| v.name().to_string()).collect(),
        weak_ciphers,
        observations,
        certificate,
        note: (!notes.is_empty()).then(|| sanitize(&notes.join("; "), 400)),
    })
}
