//! From what a probe saw to weaknesses with advice: the rules engine.
//!
//! The weaknesses are data, not code. [`catalog()`] holds them, loaded once from
//! `agent/data/weaknesses.toml` (id, severity, titles and advice in Dutch and English, references,
//! triggers) and `agent/data/versions.toml` (vulnerable product versions with their CVE). Adding a
//! weakness is adding an entry there; a probe then reports it with `info.observe("the-id", nl, en)`,
//! its evidence in Dutch and English.
//!
//! [`evaluate`] turns one identified port into [`Finding`]s, from three sources:
//! 1. the probe's observations and those of its TLS analysis (`info.tls.observations`), each naming a
//!    catalog id with its evidence in Dutch and English;
//! 2. the catalog's service triggers: a weakness such as `telnet-open` applies to every port
//!    identified as `telnet`, observation or not;
//! 3. the version table: a product and version the table lists give `outdated-software`, with the CVEs,
//!    notes and, for distribution packages, the caution that the fix may have been backported.
//!
//! One finding per weakness and port: several observations of the same id are merged (their
//! evidence joined with `; `), and a trigger adds nothing when a probe already reported the id. An
//! observation whose id the catalog does not know is not dropped: it becomes a finding of severity
//! `info` under the id as given, and a warning is logged, so a probe and a catalog that drifted apart
//! show up in the report instead of vanishing.
//!
//! Parts: [`mod@catalog`] (the weakness data and its checks), [`versions`] (the version table),
//! [`version`] (how `9.2p1`, `1.22.1` or `8.0.33-0ubuntu0.22.04.2` compare).

pub mod catalog;
pub mod version;
pub mod versions;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::OnceLock;

pub use catalog::{Catalog, CatalogError, Triggers, Weakness, OUTDATED_SOFTWARE};
pub use version::Version;
pub use versions::{VersionRange, VersionTable, VulnerableVersion};

use crate::i18n::{Lang, Said};
use crate::ports::Proto;
use crate::probe::ServiceInfo;
use crate::report::{Finding, References, Severity};

/// The embedded catalog and version table, parsed and checked on first use.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        Catalog::parse(catalog::WEAKNESSES_TOML, catalog::VERSIONS_TOML)
            .expect("embedded weakness catalog is checked by the rules tests")
    })
}

/// What was gathered for one weakness id before it becomes a finding.
#[derive(Default)]
struct Pending {
    evidence: Vec<Said>,
    /// Set for `outdated-software`: the worst severity of the matched versions.
    severity: Option<Severity>,
    cves: Vec<String>,
}

impl Pending {
    fn add(&mut self, evidence: &Said) {
        let e = evidence.map(|t| t.trim().to_string());
        if (!e.nl.is_empty() || !e.en.is_empty()) && !self.evidence.contains(&e) {
            self.evidence.push(e);
        }
    }

    /// The evidence, several joined with `; `.
    fn evidence(&self) -> Said {
        if self.evidence.is_empty() {
            return Said::new("gezien op deze poort", "seen on this port");
        }
        let join = |pick: fn(&Said) -> &str| self.evidence.iter().map(pick).collect::<Vec<_>>().join("; ");
        Said::new(join(|s| &s.nl), join(|s| &s.en))
    }
}

/// The findings of one open port (`host`, `port`, `proto`) that the probe identified as `info`,
/// with texts (title, advice, evidence) in `lang` and the evidence in both languages beside them;
/// most severe first, then by id.
pub fn evaluate(host: IpAddr, port: u16, proto: Proto, info: &ServiceInfo, lang: Lang) -> Vec<Finding> {
    let cat = catalog();
    let mut found: BTreeMap<String, Pending> = BTreeMap::new();

    let tls = info.tls.iter().flat_map(|t| t.observations.iter());
    for obs in info.observations.iter().chain(tls) {
        let id = match obs.weakness.trim() {
            "" => "unnamed-observation",
            id => id,
        };
        if cat.get(id).is_none() {
            tracing::warn!(weakness = id, %host, port, "observation with a weakness id the catalog does not know");
        }
        found.entry(id.to_string()).or_default().add(&obs.evidence);
    }

    if let Some(service) = info.service.as_deref() {
        for w in cat.triggered_by_service(service) {
            found.entry(w.id.clone()).or_insert_with(|| {
                let mut p = Pending::default();
                p.add(&trigger_evidence(port, proto, service, info));
                p
            });
        }
    }

    if let Some(outdated) = outdated(cat, info) {
        let p = found.entry(OUTDATED_SOFTWARE.to_string()).or_default();
        p.severity = Some(p.severity.map_or(outdated.severity, |s| s.max(outdated.severity)));
        p.cves.extend(outdated.cves);
        p.add(&outdated.evidence);
    }

    let mut findings: Vec<Finding> = found
        .into_iter()
        .map(|(id, p)| {
            let evidence = p.evidence();
            let mut f = match cat.get(&id) {
                Some(w) => Finding {
                    id,
                    severity: p.severity.unwrap_or(w.severity),
                    title: w.title(lang).to_string(),
                    host,
                    port: Some(port),
                    protocol: Some(proto),
                    evidence: evidence.get(lang).to_string(),
                    evidence_by_lang: Some(evidence),
                    advice: w.advice(lang).to_string(),
                    references: w.references.clone(),
                },
                None => unknown(id, host, port, proto, evidence, lang),
            };
            for cve in p.cves {
                if !f.references.cve.contains(&cve) {
                    f.references.cve.push(cve);
                }
            }
            f
        })
        .collect();
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    findings
}

/// The finding for an observation id the catalog does not know.
fn unknown(id: String, host: IpAddr, port: u16, proto: Proto, evidence: Said, lang: Lang) -> Finding {
    Finding {
        title: format!("{} {id}", lang.pick("Onbekende waarneming:", "Unknown observation:")),
        advice: lang
            .pick(
                "Bekijk het bewijs zelf: deze waarneming staat niet in de zwaktecatalogus van deze versie van wijkagent.\n\
                 Meld het id aan wie wijkagent onderhoudt, zodat het een titel, een ernst en advies krijgt.",
                "Review the evidence yourself: this observation is not in the weakness catalog of this wijkagent version.\n\
                 Report the id to whoever maintains wijkagent, so that it gets a title, a severity and advice.",
            )
            .to_string(),
        id,
        severity: Severity::Info,
        host,
        port: Some(port),
        protocol: Some(proto),
        evidence: evidence.get(lang).to_string(),
        evidence_by_lang: Some(evidence),
        references: References::default(),
    }
}

/// Evidence of a service trigger: the port, the service, and product and version when known.
fn trigger_evidence(port: u16, proto: Proto, service: &str, info: &ServiceInfo) -> Said {
    let what = [info.product.as_deref(), info.version.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let what = if what.is_empty() { String::new() } else { format!(" ({what})") };
    Said::new(
        format!("poort {port}/{proto} open, herkend als {service}{what}"),
        format!("port {port}/{proto} open, identified as {service}{what}"),
    )
}

/// What the version table says about the product and version of `info`.
struct Outdated {
    severity: Severity,
    cves: Vec<String>,
    evidence: Said,
}

fn outdated(cat: &Catalog, info: &ServiceInfo) -> Option<Outdated> {
    let (product, version) = (info.product.as_deref()?, info.version.as_deref()?);
    let hits = cat.versions().matching(product, version);
    let severity = hits.iter().map(|h| h.severity).max()?;
    let list = |lang: Lang| {
        hits.iter()
            .map(|h| format!("{} ({}): {}", h.cve, h.severity.label(lang), h.note(lang)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut evidence = Said::new(
        format!("{product} {version}: {}", list(Lang::Nl)),
        format!("{product} {version}: {}", list(Lang::En)),
    );
    let packaged = versions::parse_for(product, version).is_some_and(|v| v.from_distribution())
        || info.details.values().any(|d| version::names_distribution(d));
    if packaged {
        evidence.nl.push_str(
            ". Let op: dit lijkt een pakket van een distributie; die brengt fixes vaak over zonder het \
             versienummer te verhogen. Vergelijk de pakketversie met de beveiligingstracker van de distributie.",
        );
        evidence.en.push_str(
            ". Note: this looks like a distribution package; distributions often backport fixes without \
             raising the version number. Compare the package version with the distribution's security tracker.",
        );
    }
    Some(Outdated { severity, cves: hits.iter().map(|h| h.cve.clone()).collect(), evidence })
}
