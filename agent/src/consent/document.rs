//! The scope document's serde shape (DESIGN.md, "Consent") and its validation.
//!
//! ```toml
//! [consent]                      # all fields required
//! organisation  = "Gemeente Voorbeeld"
//! authorised_by = "An Peeters"
//! role          = "algemeen directeur"
//! contact       = "ict@voorbeeld.be"
//! purpose       = "Periodieke netwerkscan"
//! valid_from    = 2026-12-01T00:00:00+01:00   # TOML offset date-time (offset required)
//! valid_until   = 2027-12-01T00:00:00+01:00
//!
//! [scope]
//! include  = ["10.20.0.0/16"]    # required, see `scope` for the forms
//! exclude  = []                  # default empty
//! fragile  = []                  # default empty
//! profile  = "standard"          # quick | standard | full
//! max_rate = 200                 # default 200
//! max_per_host_rate = 20         # default 20; 1 <= this <= max_rate <= 1_000_000
//! ot_identification = false      # default false
//!
//! [[window]]                     # zero or more; none = never scan
//! days = ["mon"]
//! from = "19:00"
//! until = "06:00"
//! timezone = "Europe/Brussels"   # optional, default Europe/Brussels
//! ```
//!
//! Unknown keys are refused everywhere, so a misspelt `exclude` can never widen a scan.
//! [`parse`] does not look at signatures; [`super::load`] verifies before it parses.

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use super::scope::Scope;
use super::window::{Schedule, Window};
use super::ConsentError;
use crate::ports::Profile;

/// Highest `max_rate` a document may ask for (packets per second).
pub const MAX_RATE_LIMIT: u32 = 1_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    consent: RawConsent,
    scope: RawScope,
    #[serde(default, rename = "window")]
    windows: Vec<RawWindow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsent {
    organisation: String,
    authorised_by: String,
    role: String,
    contact: String,
    purpose: String,
    valid_from: toml::value::Datetime,
    valid_until: toml::value::Datetime,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    fragile: Vec<String>,
    profile: String,
    #[serde(default = "default_max_rate")]
    max_rate: u32,
    #[serde(default = "default_per_host")]
    max_per_host_rate: u32,
    #[serde(default)]
    ot_identification: bool,
}

fn default_max_rate() -> u32 {
    200
}

fn default_per_host() -> u32 {
    20
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    days: Vec<String>,
    from: String,
    until: String,
    timezone: Option<String>,
}

/// A parsed and validated document, not yet tied to a signature.
#[derive(Debug, Clone)]
pub struct Document {
    /// `consent.organisation`.
    pub organisation: String,
    /// `consent.authorised_by`.
    pub authorised_by: String,
    /// `consent.role`.
    pub role: String,
    /// `consent.contact`.
    pub contact: String,
    /// `consent.purpose`.
    pub purpose: String,
    /// `consent.valid_from`.
    pub valid_from: DateTime<FixedOffset>,
    /// `consent.valid_until`.
    pub valid_until: DateTime<FixedOffset>,
    /// Targets built from `scope.include`/`exclude`/`fragile`.
    pub scope: Scope,
    /// `scope.profile`.
    pub profile: Profile,
    /// `scope.max_rate`.
    pub max_rate: u32,
    /// `scope.max_per_host_rate`.
    pub max_per_host_rate: u32,
    /// `scope.ot_identification`.
    pub ot_identification: bool,
    /// The `[[window]]` tables.
    pub schedule: Schedule,
}

fn invalid(field: &str, nl: impl Into<String>, en: impl Into<String>) -> ConsentError {
    ConsentError::InvalidField { field: field.into(), nl: nl.into(), en: en.into() }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Parses and validates the exact bytes of a scope document; `path` only names it in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Document, ConsentError> {
    let toml_err =
        |line, column, message: String| ConsentError::Toml { path: path.to_path_buf(), line, column, message };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let ok = std::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default();
        let (line, col) = line_col(ok, ok.len());
        toml_err(line, col, "not UTF-8 text".into())
    })?;
    let raw: RawDocument = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        toml_err(line, col, e.message().replace('\n', " "))
    })?;
    validate(raw)
}

fn datetime(dt: &toml::value::Datetime, field: &str) -> Result<DateTime<FixedOffset>, ConsentError> {
    let bad = || {
        invalid(
            field,
            format!("\"{dt}\" is geen datum met tijd en tijdzone; schrijf bv. 2026-12-01T00:00:00+01:00"),
            format!("\"{dt}\" is not a date-time with offset; write e.g. 2026-12-01T00:00:00+01:00"),
        )
    };
    if dt.date.is_none() || dt.time.is_none() || dt.offset.is_none() {
        return Err(bad());
    }
    DateTime::parse_from_rfc3339(&dt.to_string()).map_err(|_| bad())
}

fn validate(raw: RawDocument) -> Result<Document, ConsentError> {
    let c = raw.consent;
    for (field, value) in [
        ("consent.organisation", &c.organisation),
        ("consent.authorised_by", &c.authorised_by),
        ("consent.contact", &c.contact),
    ] {
        if value.trim().is_empty() {
            return Err(invalid(field, "mag niet leeg zijn", "must not be empty"));
        }
    }
    let valid_from = datetime(&c.valid_from, "consent.valid_from")?;
    let valid_until = datetime(&c.valid_until, "consent.valid_until")?;
    if valid_until <= valid_from {
        return Err(invalid("consent.valid_until", "moet na valid_from liggen", "must lie after valid_from"));
    }
    let s = raw.scope;
    let profile = match s.profile.as_str() {
        "quick" => Profile::Quick,
        "standard" => Profile::Standard,
        "full" => Profile::Full,
        other => {
            return Err(invalid(
                "scope.profile",
                format!("onbekend profiel \"{other}\"; toegelaten: quick, standard, full"),
                format!("unknown profile \"{other}\"; allowed: quick, standard, full"),
            ))
        }
    };
    if s.max_rate == 0 || s.max_rate > MAX_RATE_LIMIT {
        return Err(invalid(
            "scope.max_rate",
            format!("{} ligt niet tussen 1 en {MAX_RATE_LIMIT}", s.max_rate),
            format!("{} is not between 1 and {MAX_RATE_LIMIT}", s.max_rate),
        ));
    }
    if s.max_per_host_rate == 0 || s.max_per_host_rate > s.max_rate {
        return Err(invalid(
            "scope.max_per_host_rate",
            format!("{} ligt niet tussen 1 en max_rate ({})", s.max_per_host_rate, s.max_rate),
            format!("{} is not between 1 and max_rate ({})", s.max_per_host_rate, s.max_rate),
        ));
    }
    let scope = Scope::new(&s.include, &s.exclude, &s.fragile)?;
    let windows = raw
        .windows
        .iter()
        .enumerate()
        .map(|(i, w)| Window::new(&w.days, &w.from, &w.until, w.timezone.as_deref(), &format!("window[{}]", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Document {
        organisation: c.organisation,
        authorised_by: c.authorised_by,
        role: c.role,
        contact: c.contact,
        purpose: c.purpose,
        valid_from,
        valid_until,
        scope,
        profile,
        max_rate: s.max_rate,
        max_per_host_rate: s.max_per_host_rate,
        ot_identification: s.ot_identification,
        schedule: Schedule::new(windows),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"
[consent]
organisation  = "Gemeente Voorbeeld"
authorised_by = "An Peeters"
role          = "algemeen directeur"
contact       = "ict@voorbeeld.be"
purpose       = "Periodieke netwerkscan"
valid_from    = 2026-12-01T00:00:00+01:00
valid_until   = 2027-12-01T00:00:00+01:00

[scope]
include  = ["10.20.0.0/16", "192.0.2.10-192.0.2.20", "2001:db8::10"]
exclude  = ["10.20.5.0/24"]
fragile  = ["10.20.9.0/24"]
profile  = "standard"
max_rate = 200
max_per_host_rate = 20
ot_identification = false

[[window]]
days  = ["mon", "tue", "wed", "thu", "fri"]
from  = "19:00"
until = "06:00"
timezone = "Europe/Brussels"
"#;

    fn p(s: &str) -> Result<Document, ConsentError> {
        parse(s.as_bytes(), Path::new("scope.toml"))
    }

    #[test]
    fn design_example_parses() {
        let d = p(DOC).expect("valid");
        assert_eq!(d.profile, Profile::Standard);
        assert_eq!(d.scope.target_count(), 65534 - 256 + 11 + 1);
        assert!(d.scope.is_fragile("10.20.9.7".parse().expect("ip")));
        assert_eq!(d.schedule.windows().len(), 1);
    }

    #[test]
    fn defaults_apply() {
        let s = DOC
            .replace("max_rate = 200\n", "")
            .replace("max_per_host_rate = 20\n", "")
            .replace("ot_identification = false\n", "");
        let d = p(&s).expect("valid");
        assert_eq!((d.max_rate, d.max_per_host_rate, d.ot_identification), (200, 20, false));
    }

    #[test]
    fn unknown_field_has_position() {
        let s = DOC.replace("exclude  =", "exlcude  =");
        match p(&s) {
            Err(ConsentError::Toml { line, message, .. }) => {
                assert_eq!(line, 13);
                assert!(message.contains("exlcude"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_fields_are_named() {
        let cases = [
            (DOC.replace("\"Gemeente Voorbeeld\"", "\" \""), "consent.organisation"),
            (DOC.replace("2027-12-01T00:00:00+01:00", "2026-11-01T00:00:00+01:00"), "consent.valid_until"),
            (DOC.replace("2026-12-01T00:00:00+01:00", "2026-12-01T00:00:00"), "consent.valid_from"),
            (DOC.replace("\"standard\"", "\"huge\""), "scope.profile"),
            (DOC.replace("max_rate = 200", "max_rate = 0"), "scope.max_rate"),
            (DOC.replace("max_rate = 200", "max_rate = 2000000"), "scope.max_rate"),
            (DOC.replace("max_per_host_rate = 20", "max_per_host_rate = 300"), "scope.max_per_host_rate"),
            (DOC.replace("max_per_host_rate = 20", "max_per_host_rate = 0"), "scope.max_per_host_rate"),
            (DOC.replace("\"fri\"", "\"fry\""), "window[1].days"),
            (DOC.replace("\"19:00\"", "\"7pm\""), "window[1].from"),
            (DOC.replace("\"06:00\"", "\"24:00\""), "window[1].until"),
            (DOC.replace("Europe/Brussels\"", "Europe/Brussel\""), "window[1].timezone"),
        ];
        for (doc, want) in cases {
            match p(&doc) {
                Err(ConsentError::InvalidField { field, .. }) => assert_eq!(field, want),
                other => panic!("{want}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_scope_entry_is_named() {
        let s = DOC.replace("\"10.20.5.0/24\"", "\"10.20.5.0/33\"");
        match p(&s) {
            Err(ConsentError::ScopeEntry { field, entry, .. }) => {
                assert_eq!((field.as_str(), entry.as_str()), ("scope.exclude", "10.20.5.0/33"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_window_parses_but_never_opens() {
        let s = DOC.split("[[window]]").next().unwrap_or_default().to_string();
        let d = p(&s).expect("valid");
        assert!(d.schedule.is_never());
    }

    #[test]
    fn bad_toml_and_utf8_have_positions() {
        match p("[consent]\norganisation = \n") {
            Err(ConsentError::Toml { line, column, .. }) => assert_eq!((line, column), (2, 16)),
            other => panic!("{other:?}"),
        }
        match parse(b"[consent]\nx = \"\xff\"", Path::new("s")) {
            Err(ConsentError::Toml { line, column, .. }) => assert_eq!((line, column), (2, 6)),
            other => panic!("{other:?}"),
        }
    }
}
