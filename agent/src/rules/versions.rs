//! The table of vulnerable product versions: `agent/data/versions.toml`, embedded at build time,
//! parsed and checked once with the catalog. It feeds the `outdated-software` weakness.
//!
//! Product names match ignoring ASCII case, with `-`, `_` and runs of spaces counted as one space
//! (`Microsoft-IIS` = `microsoft iis`), and through the `[aliases]` table (`Apache` = `Apache httpd`).
//! Versions compare by the rules of [`super::version`]. MariaDB's replication prefix `5.5.5-` (MariaDB
//! 10 and later announce themselves to MySQL clients as `5.5.5-10.11.6-MariaDB`) is dropped before
//! comparing.
//!
//! Loading refuses, naming the entry: an unknown field, a malformed CVE id, an empty product or note,
//! an entry without ranges, a range without exactly one upper bound (`to` or `below`), a bound that
//! is no version, a range whose `from` lies above its end, and an alias that names no product of the
//! table or is claimed by two products.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::catalog::{err, valid_cve, CatalogError};
use super::version::Version;
use crate::i18n::Lang;
use crate::report::Severity;

/// File name used in error messages.
const FILE: &str = "versions.toml";

/// One range of affected versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange {
    /// Lowest affected version (inclusive), if bounded below.
    pub from: Option<Version>,
    /// The upper bound.
    pub until: Until,
}

/// The upper bound of a [`VersionRange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Until {
    /// Up to and including this version.
    To(Version),
    /// Every version below this one (the first fixed version).
    Below(Version),
}

impl VersionRange {
    /// Whether `v` lies in the range.
    pub fn contains(&self, v: &Version) -> bool {
        self.from.as_ref().is_none_or(|f| v >= f)
            && match &self.until {
                Until::To(t) => v <= t,
                Until::Below(b) => v < b,
            }
    }
}

/// One known vulnerability of a product, by version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VulnerableVersion {
    /// Product as the probes name it.
    pub product: String,
    /// CVE id.
    pub cve: String,
    /// Severity of a finding it causes.
    pub severity: Severity,
    /// Affected ranges (any of them).
    pub affected: Vec<VersionRange>,
    /// What the flaw does, Dutch.
    pub note_nl: String,
    /// What the flaw does, English.
    pub note_en: String,
}

impl VulnerableVersion {
    /// The note in `lang`.
    pub fn note(&self, lang: Lang) -> &str {
        lang.pick(&self.note_nl, &self.note_en)
    }

    /// Whether `v` is affected.
    pub fn affects(&self, v: &Version) -> bool {
        self.affected.iter().any(|r| r.contains(v))
    }
}

/// The parsed, checked table.
#[derive(Debug, Default)]
pub struct VersionTable {
    entries: Vec<VulnerableVersion>,
    /// Normalised alias → normalised product name.
    aliases: BTreeMap<String, String>,
}

impl VersionTable {
    /// Parses and checks the TOML text of `versions.toml`.
    pub fn parse(text: &str) -> Result<VersionTable, CatalogError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let msg = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
            err(FILE, format!("geen geldige TOML: {msg}"), format!("not valid TOML: {msg}"))
        })?;
        let mut entries = Vec::with_capacity(raw.vulnerable.len());
        for (n, e) in raw.vulnerable.into_iter().enumerate() {
            entries.push(entry(n + 1, e)?);
        }
        let mut aliases = BTreeMap::new();
        for (product, names) in raw.aliases {
            let canonical = normalise(&product);
            if !entries.iter().any(|e| normalise(&e.product) == canonical) {
                return Err(err(
                    FILE,
                    format!("alias voor \"{product}\", dat geen enkele regel noemt"),
                    format!("aliases for \"{product}\", which no entry names"),
                ));
            }
            for name in names {
                let alias = normalise(&name);
                if alias.is_empty() || alias == canonical || aliases.insert(alias, canonical.clone()).is_some() {
                    return Err(err(
                        FILE,
                        format!("alias \"{name}\" is leeg, gelijk aan het product of dubbel"),
                        format!("alias \"{name}\" is empty, equal to the product or given twice"),
                    ));
                }
            }
        }
        Ok(VersionTable { entries, aliases })
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[VulnerableVersion] {
        &self.entries
    }

    /// The entries affecting `product` at `version`; empty when the version cannot be parsed.
    pub fn matching(&self, product: &str, version: &str) -> Vec<&VulnerableVersion> {
        let Some(v) = parse_for(product, version) else {
            return Vec::new();
        };
        let wanted = self.canonical(product);
        self.entries.iter().filter(|e| normalise(&e.product) == wanted && e.affects(&v)).collect()
    }

    /// The normalised product name `name` stands for.
    fn canonical(&self, name: &str) -> String {
        let n = normalise(name);
        self.aliases.get(&n).cloned().unwrap_or(n)
    }
}

/// Parses `version` as `product` states it (MariaDB's `5.5.5-` prefix dropped).
pub fn parse_for(product: &str, version: &str) -> Option<Version> {
    let version = version.trim();
    let version = match version.strip_prefix("5.5.5-") {
        Some(rest) if normalise(product) == "mariadb" || rest.to_ascii_lowercase().contains("mariadb") => rest,
        _ => version,
    };
    Version::parse(version)
}

/// Lowercase, with `-`, `_` and runs of whitespace as one space.
fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace(['-', '_'], " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    aliases: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    vulnerable: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    product: String,
    cve: String,
    severity: Severity,
    affected: Vec<RawRange>,
    note_nl: String,
    note_en: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    from: Option<String>,
    to: Option<String>,
    below: Option<String>,
}

fn entry(n: usize, e: RawEntry) -> Result<VulnerableVersion, CatalogError> {
    let here =
        |nl: &str, en: &str| err(FILE, format!("regel {n} ({}): {nl}", e.cve), format!("entry {n} ({}): {en}", e.cve));
    if e.product.trim().is_empty() || e.note_nl.trim().is_empty() || e.note_en.trim().is_empty() {
        return Err(here("product of note is leeg", "product or note is empty"));
    }
    if !valid_cve(&e.cve) {
        return Err(here("geen geldig CVE-id", "not a valid CVE id"));
    }
    if e.affected.is_empty() {
        return Err(here("geen versies in affected", "no versions in affected"));
    }
    let version = |s: &str| {
        Version::parse(s).ok_or_else(|| here(&format!("\"{s}\" is geen versie"), &format!("\"{s}\" is not a version")))
    };
    let mut affected = Vec::with_capacity(e.affected.len());
    for r in &e.affected {
        let from = r.from.as_deref().map(version).transpose()?;
        let until = match (&r.to, &r.below) {
            (Some(t), None) => Until::To(version(t)?),
            (None, Some(b)) => Until::Below(version(b)?),
            _ => {
                return Err(here(
                    "elk bereik heeft precies één van to of below",
                    "every range has exactly one of to or below",
                ))
            }
        };
        let end = match &until {
            Until::To(t) | Until::Below(t) => t,
        };
        let empty = from.as_ref().is_some_and(|f| f > end || (f == end && matches!(until, Until::Below(_))));
        if empty {
            return Err(here("from ligt voorbij het einde van het bereik", "from lies beyond the end of the range"));
        }
        affected.push(VersionRange { from, until });
    }
    Ok(VulnerableVersion {
        product: e.product.trim().to_string(),
        cve: e.cve,
        severity: e.severity,
        affected,
        note_nl: e.note_nl,
        note_en: e.note_en,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> &'static VersionTable {
        crate::rules::catalog().versions()
    }

    fn cves(product: &str, version: &str) -> Vec<&'static str> {
        table().matching(product, version).into_iter().map(|e| e.cve.as_str()).collect()
    }

    #[test]
    fn the_embedded_table_loads_with_the_required_entries() {
        assert!(table().entries().len() >= 16, "{} entries", table().entries().len());
        assert_eq!(cves("OpenSSH", "8.5p1"), ["CVE-2024-6387"]);
        assert_eq!(cves("OpenSSH", "9.7p1"), ["CVE-2024-6387"]);
        assert_eq!(cves("OpenSSH", "9.8p1"), Vec::<&str>::new());
        assert_eq!(cves("OpenSSH", "8.4p1"), Vec::<&str>::new());
        assert_eq!(cves("OpenSSH", "7.4p1"), ["CVE-2018-15473"]);
        assert_eq!(cves("OpenSSH", "4.3p2"), ["CVE-2024-6387", "CVE-2018-15473"]);
        assert_eq!(cves("vsftpd", "2.3.4"), ["CVE-2011-2523"]);
        assert_eq!(cves("vsftpd", "2.3.5"), Vec::<&str>::new());
        assert!(cves("Apache httpd", "2.4.49").contains(&"CVE-2021-41773"));
        assert!(cves("Apache httpd", "2.4.49").contains(&"CVE-2021-42013"));
        assert!(cves("Apache httpd", "2.4.50").contains(&"CVE-2021-42013"));
        assert!(!cves("Apache httpd", "2.4.50").contains(&"CVE-2021-41773"));
        assert_eq!(cves("Apache httpd", "2.4.62"), Vec::<&str>::new());
    }

    #[test]
    fn product_names_match_loosely_and_through_aliases() {
        assert_eq!(cves("openssh", "9.2p1"), ["CVE-2024-6387"]);
        assert_eq!(cves("Microsoft IIS", "6.0"), ["CVE-2017-7269"]);
        assert_eq!(cves("microsoft_iis", "6.0"), ["CVE-2017-7269"]);
        assert!(cves("Apache", "2.4.49").contains(&"CVE-2021-41773"));
        assert_eq!(cves("Dropbear", "2012.55"), Vec::<&str>::new());
    }

    #[test]
    fn branches_with_their_own_fixes_are_told_apart() {
        assert!(cves("Samba", "4.5.9").contains(&"CVE-2017-7494"));
        assert!(!cves("Samba", "4.5.10").contains(&"CVE-2017-7494"), "fixed in the 4.5 branch");
        assert!(cves("Samba", "4.6.3").contains(&"CVE-2017-7494"));
        assert!(!cves("Samba", "4.6.4").contains(&"CVE-2017-7494"));
        assert!(!cves("Samba", "3.4.0").contains(&"CVE-2017-7494"), "before the flaw");
        assert_eq!(cves("Redis", "7.2.11"), Vec::<&str>::new());
        assert_eq!(cves("Redis", "7.2.10"), ["CVE-2025-49844"]);
        assert_eq!(cves("OpenSSL", "1.0.1f"), ["CVE-2014-0160"]);
        assert_eq!(cves("OpenSSL", "1.0.1g"), Vec::<&str>::new());
        assert_eq!(cves("OpenSSL", "1.0.1"), ["CVE-2014-0160"]);
        assert_eq!(cves("ProFTPD", "1.3.3b"), ["CVE-2010-4221"]);
        assert_eq!(cves("ProFTPD", "1.3.3c"), Vec::<&str>::new());
        assert_eq!(cves("ProFTPD", "1.3.5"), ["CVE-2015-3306"]);
        assert_eq!(cves("ProFTPD", "1.3.5a"), Vec::<&str>::new());
    }

    #[test]
    fn distribution_versions_and_mariadb_prefixes() {
        assert_eq!(cves("MySQL", "8.0.33-0ubuntu0.22.04.2"), Vec::<&str>::new());
        assert_eq!(cves("MySQL", "5.5.40-0+wheezy1"), ["CVE-2016-6662"]);
        assert_eq!(cves("MariaDB", "5.5.5-10.1.16-MariaDB"), ["CVE-2016-6662"]);
        assert_eq!(cves("MariaDB", "5.5.5-10.11.6-MariaDB-0+deb12u1"), Vec::<&str>::new());
        assert_eq!(cves("MySQL", "unknown"), Vec::<&str>::new());
    }

    #[test]
    fn bad_tables_are_refused_with_the_entry_named() {
        let entry = |extra: &str| {
            format!(
                "[[vulnerable]]\nproduct = \"X\"\ncve = \"CVE-2020-1234\"\nseverity = \"high\"\nnote_nl = \"a\"\nnote_en = \"b\"\n{extra}\n"
            )
        };
        let cases = [
            (entry("affected = [{ below = \"1.0\" }]").replace("CVE-2020-1234", "CVE-20-1"), "CVE"),
            (entry("affected = []"), "affected"),
            (entry("affected = [{ from = \"1.0\" }]"), "to"),
            (entry("affected = [{ to = \"1.0\", below = \"2.0\" }]"), "to"),
            (entry("affected = [{ from = \"2.0\", to = \"1.0\" }]"), "from"),
            (entry("affected = [{ from = \"1.0\", below = \"1.0\" }]"), "from"),
            (entry("affected = [{ below = \"latest\" }]"), "latest"),
            (entry("affected = [{ below = \"1.0\" }]\nfixed = \"1.0\""), "fixed"),
            (
                entry("affected = [{ below = \"1.0\" }]").replace("severity = \"high\"", "severity = \"severe\""),
                "severe",
            ),
            (format!("[aliases]\nY = [\"y2\"]\n{}", entry("affected = [{ below = \"1.0\" }]")), "Y"),
            (format!("[aliases]\nX = [\"x\"]\n{}", entry("affected = [{ below = \"1.0\" }]")), "x"),
        ];
        for (text, needle) in cases {
            let e = VersionTable::parse(&text).expect_err(&text);
            assert!(e.to_string().contains(needle), "{e} should mention {needle}");
        }
        let ok = VersionTable::parse(&entry("affected = [{ from = \"1.0\", to = \"1.0\" }]")).expect("single version");
        assert_eq!(ok.matching("x", "1.0").len(), 1);
    }
}
