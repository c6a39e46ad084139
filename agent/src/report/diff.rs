//! What changed between two reports: `wijkagent report diff OLD.json NEW.json [--json]`.
//!
//! Findings are matched by [`Finding::key`] (weakness id, host, port, protocol) and sorted into:
//! - `new`: in the new report only;
//! - `fixed`: in the old report only, on a host the new scan reached and did not leave alone;
//! - `unchanged`: in both (shown as the new report has it);
//! - `unverified`: in the old report only, but on a host the new scan did not find or left alone,
//!   or (for its TCP and host-wide findings) a host that now answers on every TCP port
//!   (`hosts[].middlebox`, which hides what really listens), so nobody knows whether it was fixed.
//!   Calling those "fixed" would be a comfortable lie.
//!
//! Hosts are matched by address, services by (host, port, protocol); `services` covers every service,
//! those of new and gone hosts included, and lists as `changed` a service whose name, product or
//! version differs. `caveats` names what makes the comparison weaker: an incomplete scan, another
//! profile (a port outside the narrower one looks closed), another organisation.
//!
//! The JSON form ([`ReportDiff`], schema `wijkagent.report-diff/1`) is documented in
//! docs/report-schema.md; [`render_text`] is the form people read. Reading a report ([`load`]) tells
//! unreadable files, invalid JSON, another schema and a report that does not fit the schema apart,
//! each in one line ([`LoadError::message`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Finding, FindingKey, Report, Service};
use crate::i18n::Lang;
use crate::ports::Proto;

/// Schema id of the JSON diff.
pub const DIFF_SCHEMA: &str = "wijkagent.report-diff/1";

/// The difference between two reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDiff {
    /// Always [`DIFF_SCHEMA`].
    pub schema: String,
    /// The older report.
    pub old: ScanRef,
    /// The newer report.
    pub new: ScanRef,
    /// What weakens the comparison: `old-scan-incomplete`, `new-scan-incomplete`, `profile-changed`,
    /// `organisation-changed`.
    pub caveats: Vec<String>,
    /// Weaknesses.
    pub findings: FindingChanges,
    /// Hosts.
    pub hosts: HostChanges,
    /// Services.
    pub services: ServiceChanges,
}

/// Which scan a side of the diff is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanRef {
    /// Scan id.
    pub scan_id: String,
    /// Organisation of the consent.
    pub organisation: String,
    /// When the scan finished.
    pub finished_at: DateTime<Utc>,
    /// Whether it ran to the end.
    pub complete: bool,
    /// Port profile.
    pub profile: String,
}

/// Findings by what happened to them, each list most severe first, then by host, port and id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingChanges {
    /// Only in the new report.
    pub new: Vec<Finding>,
    /// Only in the old report, on a host the new scan checked.
    pub fixed: Vec<Finding>,
    /// In both.
    pub unchanged: Vec<Finding>,
    /// Only in the old report, on a host the new scan did not find or left alone (or, TCP and
    /// host-wide findings, that now answers on every TCP port).
    pub unverified: Vec<Finding>,
}

/// Hosts that appeared or disappeared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostChanges {
    /// Only in the new report.
    pub new: Vec<IpAddr>,
    /// Only in the old report.
    pub gone: Vec<IpAddr>,
}

/// One service of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRef {
    /// Host.
    pub host: IpAddr,
    /// Port.
    pub port: u16,
    /// Protocol.
    pub protocol: Proto,
    /// Service name.
    pub service: Option<String>,
    /// Product.
    pub product: Option<String>,
    /// Version.
    pub version: Option<String>,
}

/// A service whose name, product or version changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceChange {
    /// As it was.
    pub old: ServiceRef,
    /// As it is.
    pub new: ServiceRef,
}

/// Services that appeared, disappeared or changed, by host and port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceChanges {
    /// Only in the new report.
    pub new: Vec<ServiceRef>,
    /// Only in the old report.
    pub gone: Vec<ServiceRef>,
    /// In both, with another service name, product or version.
    pub changed: Vec<ServiceChange>,
}

fn scan_ref(r: &Report) -> ScanRef {
    ScanRef {
        scan_id: r.scan_id.clone(),
        organisation: r.consent.organisation.clone(),
        finished_at: r.finished_at,
        complete: r.complete,
        profile: r.scan.profile.clone(),
    }
}

fn service_ref(host: IpAddr, s: &Service) -> ServiceRef {
    ServiceRef {
        host,
        port: s.port,
        protocol: s.protocol,
        service: s.service.clone(),
        product: s.product.clone(),
        version: s.version.clone(),
    }
}

fn services(r: &Report) -> BTreeMap<(IpAddr, u16, Proto), ServiceRef> {
    r.hosts
        .iter()
        .flat_map(|h| h.services.iter().map(move |s| ((h.address, s.port, s.protocol), service_ref(h.address, s))))
        .collect()
}

fn sort(list: &mut [Finding]) {
    list.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| (a.host, a.port, a.protocol, &a.id).cmp(&(b.host, b.port, b.protocol, &b.id)))
    });
}

fn index(r: &Report) -> BTreeMap<FindingKey, &Finding> {
    r.findings.iter().map(|f| (f.key(), f)).collect()
}

/// Compares `old` with `new`.
pub fn diff(old: &Report, new: &Report) -> ReportDiff {
    let (old_f, new_f) = (index(old), index(new));
    let checked: BTreeSet<IpAddr> = new.hosts.iter().filter(|h| h.backoff != "left-alone").map(|h| h.address).collect();
    // A host that answers on every TCP port hides what really listens there: its TCP findings of
    // before are not known to be fixed.
    let masked: BTreeSet<IpAddr> = new.hosts.iter().filter(|h| h.middlebox.is_some()).map(|h| h.address).collect();
    let verified =
        |f: &Finding| checked.contains(&f.host) && !(masked.contains(&f.host) && f.protocol != Some(Proto::Udp));

    let mut findings = FindingChanges::default();
    for (k, f) in &new_f {
        let list = if old_f.contains_key(k) { &mut findings.unchanged } else { &mut findings.new };
        list.push((*f).clone());
    }
    for (k, f) in &old_f {
        if !new_f.contains_key(k) {
            let list = if verified(f) { &mut findings.fixed } else { &mut findings.unverified };
            list.push((*f).clone());
        }
    }
    for list in [&mut findings.new, &mut findings.fixed, &mut findings.unchanged, &mut findings.unverified] {
        sort(list);
    }

    let addresses = |r: &Report| r.hosts.iter().map(|h| h.address).collect::<BTreeSet<_>>();
    let (old_h, new_h) = (addresses(old), addresses(new));
    let hosts = HostChanges {
        new: new_h.difference(&old_h).copied().collect(),
        gone: old_h.difference(&new_h).copied().collect(),
    };

    let (old_s, new_s) = (services(old), services(new));
    let mut svc = ServiceChanges::default();
    for (k, s) in &new_s {
        match old_s.get(k) {
            None => svc.new.push(s.clone()),
            Some(o) if o != s => svc.changed.push(ServiceChange { old: o.clone(), new: s.clone() }),
            Some(_) => {}
        }
    }
    svc.gone = old_s.iter().filter(|(k, _)| !new_s.contains_key(k)).map(|(_, s)| s.clone()).collect();

    let mut caveats = Vec::new();
    if !old.complete {
        caveats.push("old-scan-incomplete".to_string());
    }
    if !new.complete {
        caveats.push("new-scan-incomplete".to_string());
    }
    if old.scan.profile != new.scan.profile {
        caveats.push("profile-changed".to_string());
    }
    if old.consent.organisation != new.consent.organisation {
        caveats.push("organisation-changed".to_string());
    }
    ReportDiff {
        schema: DIFF_SCHEMA.to_string(),
        old: scan_ref(old),
        new: scan_ref(new),
        caveats,
        findings,
        hosts,
        services: svc,
    }
}

/// Server-derived text made safe for a terminal: control characters (escape sequences) become `?`.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn caveat_text(code: &str, d: &ReportDiff, lang: Lang) -> String {
    match code {
        "old-scan-incomplete" => lang.pick("de oude scan was onvolledig", "the old scan was incomplete").to_string(),
        "new-scan-incomplete" => lang
            .pick(
                "de nieuwe scan was onvolledig: wat verdween, kan ook niet nagekeken zijn",
                "the new scan was incomplete: what disappeared may simply not have been checked",
            )
            .to_string(),
        "profile-changed" => format!(
            "{} ({} → {})",
            lang.pick(
                "ander poortprofiel: een poort buiten het smalste profiel lijkt gesloten",
                "different port profile: a port outside the narrower one looks closed"
            ),
            clean(&d.old.profile),
            clean(&d.new.profile)
        ),
        "organisation-changed" => lang
            .pick("de rapporten zijn van verschillende organisaties", "the reports are of different organisations")
            .to_string(),
        other => clean(other),
    }
}

fn finding_lines(out: &mut String, heading: &str, list: &[Finding], lang: Lang) {
    let _ = writeln!(out, "\n{heading} ({})", list.len());
    for f in list {
        let (title, _) = f.texts(lang);
        let _ = writeln!(
            out,
            "  {:<8} {:<26} {:<16} {:<10} {}",
            f.severity.label(lang),
            clean(&f.id),
            f.host,
            f.port_label(),
            clean(title)
        );
    }
}

fn service_label(s: &ServiceRef) -> String {
    let what = [s.service.as_deref(), s.product.as_deref(), s.version.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    clean(&what)
}

/// The diff as people read it, in `lang`.
pub fn render_text(d: &ReportDiff, lang: Lang) -> String {
    let t = |nl: &'static str, en: &'static str| lang.pick(nl, en);
    let mut out = String::new();
    let when =
        |s: &ScanRef| s.finished_at.with_timezone(&chrono_tz::Europe::Brussels).format("%Y-%m-%d %H:%M").to_string();
    let _ = writeln!(
        out,
        "{} {}",
        t("Vergelijking van twee scans van", "Comparison of two scans of"),
        clean(&d.new.organisation)
    );
    let _ = writeln!(out, "  {:<6} {} ({})", t("oud:", "old:"), clean(&d.old.scan_id), when(&d.old));
    let _ = writeln!(out, "  {:<6} {} ({})", t("nieuw:", "new:"), clean(&d.new.scan_id), when(&d.new));
    for c in &d.caveats {
        let _ = writeln!(out, "{}: {}", t("Let op", "Note"), caveat_text(c, d, lang));
    }
    finding_lines(&mut out, t("Nieuwe zwaktes", "New weaknesses"), &d.findings.new, lang);
    finding_lines(&mut out, t("Opgeloste zwaktes", "Fixed weaknesses"), &d.findings.fixed, lang);
    finding_lines(&mut out, t("Onveranderde zwaktes", "Unchanged weaknesses"), &d.findings.unchanged, lang);
    if !d.findings.unverified.is_empty() {
        let heading = t(
            "Niet meer nagekeken (host niet gevonden, met rust gelaten of antwoordt op elke poort)",
            "No longer checked (host not found, left alone or answering on every port)",
        );
        finding_lines(&mut out, heading, &d.findings.unverified, lang);
    }
    for (heading, list) in
        [(t("Nieuwe hosts", "New hosts"), &d.hosts.new), (t("Verdwenen hosts", "Gone hosts"), &d.hosts.gone)]
    {
        let _ = writeln!(out, "\n{heading} ({})", list.len());
        for h in list {
            let _ = writeln!(out, "  {h}");
        }
    }
    for (heading, list) in [
        (t("Nieuwe diensten", "New services"), &d.services.new),
        (t("Verdwenen diensten", "Gone services"), &d.services.gone),
    ] {
        let _ = writeln!(out, "\n{heading} ({})", list.len());
        for s in list {
            let _ = writeln!(out, "  {:<16} {:<10} {}", s.host, format!("{}/{}", s.port, s.protocol), service_label(s));
        }
    }
    let _ = writeln!(out, "\n{} ({})", t("Gewijzigde diensten", "Changed services"), d.services.changed.len());
    for c in &d.services.changed {
        let port = format!("{}/{}", c.new.port, c.new.protocol);
        let _ = writeln!(out, "  {:<16} {port:<10} {} → {}", c.new.host, service_label(&c.old), service_label(&c.new));
    }
    out
}

/// Reading a report for the diff failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{} / {}", self.message(Lang::Nl), self.message(Lang::En))]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{} / {}", self.message(Lang::Nl), self.message(Lang::En))]
    Json {
        /// File.
        path: PathBuf,
        /// Cause.
        source: serde_json::Error,
    },
    /// The JSON is not a `wijkagent.report/1` report.
    #[error("{} / {}", self.message(Lang::Nl), self.message(Lang::En))]
    Schema {
        /// File.
        path: PathBuf,
        /// The `schema` it has, if any.
        found: Option<String>,
    },
    /// It says `wijkagent.report/1` but does not fit the schema.
    #[error("{} / {}", self.message(Lang::Nl), self.message(Lang::En))]
    Shape {
        /// File.
        path: PathBuf,
        /// Cause.
        source: serde_json::Error,
    },
}

impl LoadError {
    /// One line in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let schema = wijk_protocol::REPORT_SCHEMA;
        match self {
            LoadError::Read { path, source } => {
                format!("{} {}: {source}", lang.pick("kan niet lezen:", "cannot read:"), path.display())
            }
            LoadError::Json { path, source } => {
                format!("{}: {} ({source})", path.display(), lang.pick("geen geldige JSON", "not valid JSON"))
            }
            LoadError::Schema { path, found } => {
                let found = match found {
                    Some(f) => format!("\"{}\"", clean(f)),
                    None => lang.pick("geen", "none").to_string(),
                };
                let (nl, en) = (
                    format!("geen wijkagent-rapport (schema {found}, verwacht {schema})"),
                    format!("not a wijkagent report (schema {found}, expected {schema})"),
                );
                format!("{}: {}", path.display(), lang.pick(&nl, &en))
            }
            LoadError::Shape { path, source } => {
                let (nl, en) = (format!("past niet in schema {schema}"), format!("does not fit schema {schema}"));
                format!("{}: {} ({source})", path.display(), lang.pick(&nl, &en))
            }
        }
    }
}

/// Reads and checks a `report.json`.
pub fn load(path: &Path) -> Result<Report, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
    parse(&bytes, path)
}

/// Checks the bytes of a `report.json` (`path` only names it in errors): JSON, the schema it
/// names, then the shape.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Report, LoadError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|source| LoadError::Json { path: path.to_path_buf(), source })?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(s) if s == wijk_protocol::REPORT_SCHEMA => {}
        other => {
            let found = other.map(str::to_string).or_else(|| value.get("schema").map(|v| v.to_string()));
            return Err(LoadError::Schema { path: path.to_path_buf(), found });
        }
    }
    serde_json::from_value(value).map_err(|source| LoadError::Shape { path: path.to_path_buf(), source })
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
