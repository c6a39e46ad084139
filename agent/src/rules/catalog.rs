//! The weakness catalog: `agent/data/weaknesses.toml` (format in its header), embedded at build time,
//! parsed and checked once together with the version table, then looked up by id.
//!
//! Loading refuses, with a [`CatalogError`] naming the file and the weakness:
//! - an unknown field, a severity other than critical/high/medium/low/info;
//! - an id that is not a slug (`a-z`, `0-9`, `-`, `.`) or appears twice;
//! - an empty title, evidence hint or advice, in either language;
//! - references without a CyberFundamentals control or a CIS safeguard, or one of the wrong shape
//!   (`PR.DS-02`, `3.10`, `CVE-2014-3566`);
//! - a trigger service that is no service name;
//! - a catalog without the weaknesses the rules themselves emit ([`REQUIRED`]).
//!
//! The embedded data is checked by the tests, so the `expect` in [`super::catalog()`] cannot fire in a
//! build whose tests pass.

use std::collections::HashMap;

use serde::Deserialize;

use super::versions::VersionTable;
use crate::i18n::Lang;
use crate::report::{References, Severity};

/// The embedded weakness catalog.
pub const WEAKNESSES_TOML: &str = include_str!("../../data/weaknesses.toml");
/// The embedded version table.
pub const VERSIONS_TOML: &str = include_str!("../../data/versions.toml");

/// The id of the weakness the version table produces.
pub const OUTDATED_SOFTWARE: &str = "outdated-software";
/// Ids the rules engine emits itself, which the catalog must hold.
pub const REQUIRED: [&str; 1] = [OUTDATED_SOFTWARE];

/// The data files are wrong. One line: Dutch, then English after " / ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("zwaktecatalogus {file}: {nl} / weakness catalog {file}: {en}")]
pub struct CatalogError {
    /// The data file.
    pub file: String,
    /// What is wrong, in Dutch.
    pub nl: String,
    /// What is wrong, in English.
    pub en: String,
}

/// One weakness of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weakness {
    /// Stable id (`telnet-open`).
    pub id: String,
    /// Severity of its findings (for `outdated-software`: the default; the version table decides).
    pub severity: Severity,
    /// Title, Dutch.
    pub title_nl: String,
    /// Title, English.
    pub title_en: String,
    /// What the evidence of a finding shows (a hint for whoever writes a probe).
    pub evidence: String,
    /// Advice, Dutch; the first line is the action.
    pub advice_nl: String,
    /// Advice, English; the first line is the action.
    pub advice_en: String,
    /// CyberFundamentals, CIS and CVE references.
    pub references: References,
    /// When the weakness applies without an observation.
    pub triggers: Triggers,
}

impl Weakness {
    /// The title in `lang`.
    pub fn title(&self, lang: Lang) -> &str {
        lang.pick(&self.title_nl, &self.title_en)
    }

    /// The advice in `lang`.
    pub fn advice(&self, lang: Lang) -> &str {
        lang.pick(&self.advice_nl, &self.advice_en)
    }

    /// The action: the first line of the advice in `lang`.
    pub fn action(&self, lang: Lang) -> &str {
        first_line(self.advice(lang))
    }
}

/// The first non-empty line of `text`, trimmed.
pub fn first_line(text: &str) -> &str {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("")
}

/// When a weakness applies by itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    /// Every open port identified as one of these services has the weakness.
    #[serde(default)]
    pub service: Vec<String>,
}

/// The parsed, checked catalog and version table.
#[derive(Debug)]
pub struct Catalog {
    weaknesses: Vec<Weakness>,
    by_id: HashMap<String, usize>,
    versions: VersionTable,
}

impl Catalog {
    /// Parses and checks the weakness catalog and the version table (TOML texts).
    pub fn parse(weaknesses: &str, versions: &str) -> Result<Catalog, CatalogError> {
        const FILE: &str = "weaknesses.toml";
        let raw: RawFile = toml::from_str(weaknesses).map_err(|e| {
            let msg = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
            err(FILE, format!("geen geldige TOML: {msg}"), format!("not valid TOML: {msg}"))
        })?;
        let mut by_id = HashMap::new();
        let mut list = Vec::with_capacity(raw.weakness.len());
        for (n, w) in raw.weakness.into_iter().enumerate() {
            let w = check(FILE, n + 1, w)?;
            if by_id.insert(w.id.clone(), list.len()).is_some() {
                let id = &w.id;
                return Err(err(FILE, format!("id {id} staat er twee keer in"), format!("id {id} appears twice")));
            }
            list.push(w);
        }
        for id in REQUIRED {
            if !by_id.contains_key(id) {
                return Err(err(
                    FILE,
                    format!("{id} ontbreekt (de regels gebruiken het)"),
                    format!("{id} is missing (the rules use it)"),
                ));
            }
        }
        let versions = VersionTable::parse(versions)?;
        Ok(Catalog { weaknesses: list, by_id, versions })
    }

    /// The weakness with `id`.
    pub fn get(&self, id: &str) -> Option<&Weakness> {
        self.by_id.get(id).and_then(|&i| self.weaknesses.get(i))
    }

    /// Every weakness, in file order.
    pub fn weaknesses(&self) -> &[Weakness] {
        &self.weaknesses
    }

    /// The weaknesses that apply to every open port identified as `service` (ASCII case ignored).
    pub fn triggered_by_service<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a Weakness> + 'a {
        let service = service.trim();
        self.weaknesses.iter().filter(move |w| w.triggers.service.iter().any(|s| s.eq_ignore_ascii_case(service)))
    }

    /// The table of vulnerable versions.
    pub fn versions(&self) -> &VersionTable {
        &self.versions
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    weakness: Vec<RawWeakness>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeakness {
    id: String,
    severity: Severity,
    title_nl: String,
    title_en: String,
    evidence: String,
    advice_nl: String,
    advice_en: String,
    references: RawReferences,
    #[serde(default)]
    triggers: Triggers,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReferences {
    cyfun: Vec<String>,
    cis: Vec<String>,
    #[serde(default)]
    cve: Vec<String>,
}

pub(super) fn err(file: &str, nl: impl Into<String>, en: impl Into<String>) -> CatalogError {
    CatalogError { file: file.to_string(), nl: nl.into(), en: en.into() }
}

fn check(file: &str, n: usize, w: RawWeakness) -> Result<Weakness, CatalogError> {
    let here = |nl: String, en: String| {
        err(file, format!("zwakte {n} ({}): {nl}", w.id), format!("weakness {n} ({}): {en}", w.id))
    };
    if !valid_id(&w.id) {
        return Err(here(
            "id moet uit a-z, 0-9, '-' en '.' bestaan".into(),
            "id must use a-z, 0-9, '-' and '.'".into(),
        ));
    }
    let texts = [
        ("title_nl", &w.title_nl),
        ("title_en", &w.title_en),
        ("evidence", &w.evidence),
        ("advice_nl", &w.advice_nl),
        ("advice_en", &w.advice_en),
    ];
    if let Some((field, _)) = texts.iter().find(|(_, t)| t.trim().is_empty()) {
        return Err(here(format!("{field} is leeg"), format!("{field} is empty")));
    }
    if w.title_nl.contains('\n') || w.title_en.contains('\n') {
        return Err(here("een titel past op één regel".into(), "a title fits on one line".into()));
    }
    let r = &w.references;
    if r.cyfun.is_empty() || r.cis.is_empty() {
        return Err(here(
            "references heeft minstens één cyfun- en één cis-verwijzing nodig".into(),
            "references needs at least one cyfun and one cis reference".into(),
        ));
    }
    let bad = r
        .cyfun
        .iter()
        .find(|c| !valid_cyfun(c))
        .or_else(|| r.cis.iter().find(|c| !valid_cis(c)))
        .or_else(|| r.cve.iter().find(|c| !valid_cve(c)));
    if let Some(b) = bad {
        return Err(here(
            format!("verwijzing \"{b}\" heeft niet de juiste vorm"),
            format!("reference \"{b}\" has the wrong shape"),
        ));
    }
    if let Some(s) = w.triggers.service.iter().find(|s| !valid_service(s)) {
        return Err(here(format!("trigger \"{s}\" is geen dienstnaam"), format!("trigger \"{s}\" is no service name")));
    }
    Ok(Weakness {
        id: w.id.clone(),
        severity: w.severity,
        title_nl: w.title_nl.trim().to_string(),
        title_en: w.title_en.trim().to_string(),
        evidence: w.evidence.trim().to_string(),
        advice_nl: w.advice_nl.trim().to_string(),
        advice_en: w.advice_en.trim().to_string(),
        references: References { cyfun: r.cyfun.clone(), cis: r.cis.clone(), cve: r.cve.clone() },
        triggers: w.triggers.clone(),
    })
}

/// A weakness id: lowercase letters, digits, `-` and `.`, starting with a letter, no empty piece.
pub fn valid_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .split(['-', '.'])
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// A CyberFundamentals 2025 / CSF 2.0 control: `PR.DS-02` (function, category, two digits).
fn valid_cyfun(c: &str) -> bool {
    let Some((head, num)) = c.split_once('-') else { return false };
    let Some((function, category)) = head.split_once('.') else { return false };
    ["GV", "ID", "PR", "DE", "RS", "RC"].contains(&function)
        && category.len() == 2
        && category.bytes().all(|b| b.is_ascii_uppercase())
        && num.len() == 2
        && num.bytes().all(|b| b.is_ascii_digit())
}

/// A CIS Controls v8 safeguard: control 1-18, a dot, a safeguard number.
fn valid_cis(c: &str) -> bool {
    let Some((control, safeguard)) = c.split_once('.') else { return false };
    let number =
        |s: &str| !s.is_empty() && !s.starts_with('0') && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    number(control) && number(safeguard) && control.parse::<u8>().is_ok_and(|n| (1..=18).contains(&n))
}

/// A CVE id: `CVE-YYYY-NNNN` with four or more digits.
pub(super) fn valid_cve(c: &str) -> bool {
    let mut parts = c.split('-');
    let (Some("CVE"), Some(year), Some(num), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && num.len() >= 4
        && num.bytes().all(|b| b.is_ascii_digit())
}

fn valid_service(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_shapes() {
        for good in ["PR.DS-02", "ID.RA-01", "DE.CM-09", "GV.OC-01"] {
            assert!(valid_cyfun(good), "{good}");
        }
        for bad in ["PR.DS-2", "PR.DS02", "XX.DS-02", "PR.Ds-02", "PR-DS-02", "PR.DS-02a"] {
            assert!(!valid_cyfun(bad), "{bad}");
        }
        for good in ["3.10", "4.8", "12.6", "18.1"] {
            assert!(valid_cis(good), "{good}");
        }
        for bad in ["19.1", "0.1", "4", "4.08", "4.8.1", "v4.8"] {
            assert!(!valid_cis(bad), "{bad}");
        }
        for good in ["CVE-2014-3566", "CVE-2024-12345"] {
            assert!(valid_cve(good), "{good}");
        }
        for bad in ["cve-2014-3566", "CVE-14-3566", "CVE-2014-356", "CVE-2014-3566-1"] {
            assert!(!valid_cve(bad), "{bad}");
        }
        for good in ["telnet-open", "tls-1.0-enabled", "smb1-enabled"] {
            assert!(valid_id(good), "{good}");
        }
        for bad in ["", "Telnet-open", "telnet_open", "-telnet", "telnet--open", "1-open", "tls-1.0-"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn first_line_is_the_action() {
        assert_eq!(first_line("\n  Zet het uit.\nWant."), "Zet het uit.");
        assert_eq!(first_line(""), "");
    }
}
