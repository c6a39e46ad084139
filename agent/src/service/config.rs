//! The service's configuration file (`/etc/wijkagent/agent.toml`): where the consent is, when to
//! scan, what to scan with, where state and reports go, whether to push.
//!
//! Unknown keys are refused (a typo must not silently fall back to a default); relative paths are
//! taken from the file's own directory. Everything except `[consent]` has a default; the packaged
//! file (`packaging/config/agent.toml`) shows them all.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::cron::Cron;
use crate::i18n::Lang;
use crate::ports::Profile;

/// The parsed, checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// Language of log lines and reports.
    pub lang: Lang,
    /// The signed scope document.
    pub scope: PathBuf,
    /// Keys whose signature on the scope counts.
    pub trust: Vec<PathBuf>,
    /// When scans are due.
    pub cron: Cron,
    /// Scan wishes (checked against the consent when a scan starts).
    pub scan: ScanSection,
    /// Enrollment, outbox, advice, scan progress.
    pub state: PathBuf,
    /// Where reports go, one directory per scan.
    pub reports: PathBuf,
    /// The audit log.
    pub audit_log: PathBuf,
    /// How many report directories to keep.
    pub keep_reports: usize,
    /// Push each summary when enrolled.
    pub push: bool,
    /// How long one push may wait for receipts, in seconds.
    pub push_timeout: u64,
}

/// What went wrong reading the file, said for people.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable.
    #[error("{path}: cannot be read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key, a wrong type.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names the line and the key).
        message: String,
    },
    /// A value that cannot be used.
    #[error("{path}: {key}: {en}")]
    Value {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// In Dutch.
        nl: String,
        /// In English.
        en: String,
    },
}

impl ConfigError {
    /// One line for people, in `lang`, saying what to fix.
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (ConfigError::Io { path, source }, Lang::Nl) => {
                format!("{}: kan niet gelezen worden ({source}); controleer pad en rechten.", path.display())
            }
            (ConfigError::Syntax { path, message }, Lang::Nl) => {
                format!(
                    "{}: ongeldige configuratie: {message}Verbeter het bestand (zie /usr/share/doc/wijkagent).",
                    path.display()
                )
            }
            (ConfigError::Value { path, key, nl, .. }, Lang::Nl) => format!("{}: {key}: {nl}", path.display()),
            (ConfigError::Syntax { path, message }, Lang::En) => {
                format!(
                    "{}: invalid configuration: {message}Fix the file (see /usr/share/doc/wijkagent).",
                    path.display()
                )
            }
            (e, Lang::En) => e.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    lang: Option<String>,
    consent: ConsentSection,
    #[serde(default)]
    schedule: ScheduleSection,
    #[serde(default)]
    scan: ScanSection,
    #[serde(default)]
    paths: PathsSection,
    #[serde(default)]
    uplink: UplinkSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentSection {
    scope: PathBuf,
    trust: Vec<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ScheduleSection {
    cron: String,
    timezone: String,
}

impl Default for ScheduleSection {
    fn default() -> Self {
        ScheduleSection { cron: "30 19 * * mon".into(), timezone: "Europe/Brussels".into() }
    }
}

/// `[scan]`: wishes for each scan, never wider than the consent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSection {
    /// Port profile (`quick`, `standard`, `full`).
    #[serde(default, deserialize_with = "profile")]
    pub profile: Option<Profile>,
    /// Total packets per second.
    pub rate: Option<u32>,
    /// Packets per second to one host.
    pub per_host_rate: Option<u32>,
    /// TCP connect scanning even with raw-socket rights.
    #[serde(default)]
    pub connect: bool,
    /// Addresses per part of a scan: progress is kept part by part (default 256, a /24).
    pub part_size: Option<u32>,
}

fn profile<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Profile>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    text.map(|t| t.parse::<Profile>().map_err(serde::de::Error::custom)).transpose()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PathsSection {
    state: PathBuf,
    reports: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    keep_reports: usize,
}

impl Default for PathsSection {
    fn default() -> Self {
        PathsSection { state: "/var/lib/wijkagent".into(), reports: None, audit_log: None, keep_reports: 8 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct UplinkSection {
    push: bool,
    timeout: u64,
}

impl Default for UplinkSection {
    fn default() -> Self {
        UplinkSection { push: true, timeout: 60 }
    }
}

/// Reads and checks the file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
    parse(&text, path)
}

/// Checks `text` as if read from `path` (relative paths resolve against its directory).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let file: File = toml::from_str(text)
        .map_err(|e| ConfigError::Syntax { path: path.to_path_buf(), message: one_line(&e, text) })?;
    let value_err =
        |key: &str, nl: String, en: String| ConfigError::Value { path: path.to_path_buf(), key: key.into(), nl, en };
    let lang = match file.lang.as_deref() {
        None | Some("nl") => Lang::Nl,
        Some("en") => Lang::En,
        Some(other) => {
            return Err(value_err(
                "lang",
                format!("\"{other}\" onbekend; kies nl of en"),
                format!("\"{other}\" unknown; use nl or en"),
            ))
        }
    };
    let cron = Cron::parse(&file.schedule.cron, &file.schedule.timezone)
        .map_err(|e| value_err("schedule.cron", e.nl, e.en))?;
    if file.consent.trust.is_empty() {
        return Err(value_err(
            "consent.trust",
            "noem minstens één publieke sleutel die de toestemming mag ondertekenen".into(),
            "name at least one public key that may sign the consent".into(),
        ));
    }
    if file.paths.keep_reports == 0 {
        return Err(value_err(
            "paths.keep_reports",
            "0 zou elk rapport meteen wissen; kies minstens 1".into(),
            "0 would delete every report at once; use at least 1".into(),
        ));
    }
    if file.scan.part_size == Some(0) {
        return Err(value_err("scan.part_size", "kies minstens 1".into(), "use at least 1".into()));
    }
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let abs = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
    let state = abs(&file.paths.state);
    Ok(Config {
        path: path.to_path_buf(),
        lang,
        scope: abs(&file.consent.scope),
        trust: file.consent.trust.iter().map(|p| abs(p)).collect(),
        cron,
        scan: file.scan,
        reports: file.paths.reports.as_deref().map_or_else(|| state.join("reports"), abs),
        audit_log: file.paths.audit_log.as_deref().map_or_else(|| state.join("audit.log"), abs),
        state,
        keep_reports: file.paths.keep_reports,
        push: file.uplink.push,
        push_timeout: file.uplink.timeout.max(1),
    })
}

/// The parser's complaint on one line (log lines must not break): `line N: what`.
fn one_line(e: &toml::de::Error, text: &str) -> String {
    let what = e.message().trim_end_matches('.');
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {what}. ")
        }
        None => format!("{what}. "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file the Debian package installs as /etc/wijkagent/agent.toml.
    const PACKAGED: &str = include_str!("../../../packaging/config/agent.toml");

    #[test]
    fn the_packaged_file_parses_with_the_documented_defaults() {
        let c = parse(PACKAGED, Path::new("/etc/wijkagent/agent.toml")).expect("packaged config");
        assert_eq!(c.scope, Path::new("/etc/wijkagent/scope.toml"));
        assert_eq!(c.trust, [PathBuf::from("/etc/wijkagent/trusted/consent.pub")]);
        assert_eq!(c.cron.text(), "30 19 * * mon");
        assert_eq!(c.state, Path::new("/var/lib/wijkagent"));
        assert_eq!(c.reports, Path::new("/var/lib/wijkagent/reports"));
        assert_eq!(c.audit_log, Path::new("/var/lib/wijkagent/audit.log"));
        assert_eq!((c.keep_reports, c.push, c.push_timeout, c.lang), (8, true, 60, Lang::Nl));
        assert!(c.scan.profile.is_none() && c.scan.rate.is_none());
    }

    #[test]
    fn only_the_consent_is_required_and_relative_paths_follow_the_file() {
        let text = "[consent]\nscope = \"scope.toml\"\ntrust = [\"keys/a.pub\"]\n[paths]\nstate = \"state\"\n";
        let c = parse(text, Path::new("/srv/agent/agent.toml")).expect("minimal");
        assert_eq!(c.scope, Path::new("/srv/agent/scope.toml"));
        assert_eq!(c.trust, [PathBuf::from("/srv/agent/keys/a.pub")]);
        assert_eq!(c.reports, Path::new("/srv/agent/state/reports"));
        assert_eq!(c.audit_log, Path::new("/srv/agent/state/audit.log"));
        assert_eq!(c.cron.text(), "30 19 * * mon");
    }

    #[test]
    fn mistakes_are_named() {
        let base = "[consent]\nscope = \"s\"\ntrust = [\"k\"]\n";
        let cases = [
            (format!("{base}[scan]\nprofiel = \"quick\"\n"), "profiel"),
            (format!("{base}[schedule]\ncron = \"30 19 * *\"\n"), "schedule.cron"),
            (format!("{base}[scan]\nprofile = \"huge\"\n"), "huge"),
            (format!("{base}[paths]\nkeep_reports = 0\n"), "keep_reports"),
            (format!("lang = \"fr\"\n{base}"), "lang"),
            ("[consent]\nscope = \"s\"\ntrust = []\n".to_string(), "consent.trust"),
            ("[schedule]\ncron = \"* * * * *\"\n".to_string(), "consent"),
        ];
        for (text, want) in cases {
            let e = parse(&text, Path::new("/etc/wijkagent/agent.toml")).expect_err(&text);
            let said = e.message(Lang::Nl);
            assert!(said.contains(want) && said.contains("/etc/wijkagent/agent.toml"), "{text}: {said}");
            assert!(!said.contains('\n'), "one line: {said}");
        }
    }
}
