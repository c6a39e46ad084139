//! Signed consent documents for tests, made through the agent's own CLI.
//!
//! [`ConsentSpec::for_lab`] describes the consent a lab test scans under, in the exact shape of
//! DESIGN.md ("Consent"): the lab's `/24` and the web host's explicit IPv6 address (basic lab only)
//! included, the `outside` host and one dead address excluded, profile `full`, a window open all
//! week from 00:00 to 00:00 (whole days), valid from yesterday until 30 days from now. Tests change
//! fields to make the refusal cases (expired, not yet valid, outside every window, narrower profile,
//! lower rate).
//!
//! Keys and signatures come from `wijkagent consent keygen` and `wijkagent consent sign`, so these
//! helpers also exercise that part of the CLI; every call is bounded in time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Datelike, Duration as Span, FixedOffset, NaiveDate, SecondsFormat, Utc, Weekday};

use crate::addressing::Addressing;
use crate::agent;
use crate::process::run_bounded;

/// Time a consent subcommand may take.
const CLI_LIMIT: Duration = Duration::from_secs(30);

/// Day names as the consent spells them, Monday first.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One `[[window]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    /// Days the window starts on (`mon`..`sun`).
    pub days: Vec<String>,
    /// Start, `HH:MM`.
    pub from: String,
    /// End, `HH:MM` (may pass midnight; equal to `from` means whole days).
    pub until: String,
    /// IANA time zone.
    pub timezone: String,
}

impl WindowSpec {
    /// Every day, 00:00 to 00:00: always open.
    pub fn always() -> WindowSpec {
        WindowSpec::on(&DAYS, "00:00", "00:00")
    }

    /// A window on `days` from `from` until `until`, Europe/Brussels.
    pub fn on(days: &[&str], from: &str, until: &str) -> WindowSpec {
        WindowSpec {
            days: days.iter().map(|d| d.to_string()).collect(),
            from: from.into(),
            until: until.into(),
            timezone: "Europe/Brussels".into(),
        }
    }

    /// A window 12:00–13:00 (Brussels) on the day after tomorrow only — closed now, whatever the
    /// hour — and the date it next opens.
    pub fn only_the_day_after_tomorrow() -> (WindowSpec, NaiveDate) {
        let today = Utc::now().with_timezone(&chrono_tz::Europe::Brussels).date_naive();
        let day = today + Span::days(2);
        (WindowSpec::on(&[day_name(day.weekday())], "12:00", "13:00"), day)
    }
}

/// `mon`..`sun`.
pub fn day_name(d: Weekday) -> &'static str {
    DAYS[d.num_days_from_monday() as usize]
}

/// Everything a consent document says.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentSpec {
    /// `[consent] organisation`.
    pub organisation: String,
    /// `[consent] authorised_by`.
    pub authorised_by: String,
    /// `[consent] role`.
    pub role: String,
    /// `[consent] contact`.
    pub contact: String,
    /// `[consent] purpose`.
    pub purpose: String,
    /// `[consent] valid_from`.
    pub valid_from: DateTime<FixedOffset>,
    /// `[consent] valid_until`.
    pub valid_until: DateTime<FixedOffset>,
    /// `[scope] include`.
    pub include: Vec<String>,
    /// `[scope] exclude`.
    pub exclude: Vec<String>,
    /// `[scope] fragile`.
    pub fragile: Vec<String>,
    /// `[scope] profile`: `quick`, `standard` or `full`.
    pub profile: String,
    /// `[scope] max_rate`.
    pub max_rate: u32,
    /// `[scope] max_per_host_rate`.
    pub max_per_host_rate: u32,
    /// `[scope] ot_identification`.
    pub ot_identification: bool,
    /// `[[window]]` tables.
    pub windows: Vec<WindowSpec>,
}

impl ConsentSpec {
    /// The consent for a lab (see the module documentation).
    pub fn for_lab(addr: &Addressing) -> ConsentSpec {
        let web_v6 = addr.find(crate::addressing::host::WEB).and_then(|h| h.ipv6).map(|v| v.to_string());
        let now = now_secs();
        ConsentSpec {
            organisation: "Gemeente Labo".into(),
            authorised_by: "Test Persoon".into(),
            role: "testleider".into(),
            contact: "lab@wijk.test".into(),
            purpose: "Geautomatiseerde test in een afgesloten netwerklabo".into(),
            valid_from: now - Span::days(1),
            valid_until: now + Span::days(30),
            include: std::iter::once(addr.ipv4_net()).chain(web_v6).collect(),
            exclude: addr.excluded().iter().map(|a| a.to_string()).collect(),
            fragile: vec![],
            profile: "full".into(),
            max_rate: 500,
            max_per_host_rate: 100,
            ot_identification: false,
            windows: vec![WindowSpec::always()],
        }
    }

    /// The document as TOML, laid out like DESIGN.md.
    pub fn to_toml(&self) -> String {
        let mut s = String::from("# wijk-lab test consent, written by tests/src/consent_fixture.rs.\n\n[consent]\n");
        s += &format!("organisation  = {}\n", q(&self.organisation));
        s += &format!("authorised_by = {}\n", q(&self.authorised_by));
        s += &format!("role          = {}\n", q(&self.role));
        s += &format!("contact       = {}\n", q(&self.contact));
        s += &format!("purpose       = {}\n", q(&self.purpose));
        s += &format!("valid_from    = {}\n", self.valid_from.to_rfc3339_opts(SecondsFormat::Secs, false));
        s += &format!("valid_until   = {}\n", self.valid_until.to_rfc3339_opts(SecondsFormat::Secs, false));
        s += "\n[scope]\n";
        s += &format!("include  = {}\n", list(&self.include));
        s += &format!("exclude  = {}\n", list(&self.exclude));
        s += &format!("fragile  = {}\n", list(&self.fragile));
        s += &format!("profile  = {}\n", q(&self.profile));
        s += &format!("max_rate = {}\n", self.max_rate);
        s += &format!("max_per_host_rate = {}\n", self.max_per_host_rate);
        s += &format!("ot_identification = {}\n", self.ot_identification);
        for w in &self.windows {
            s += "\n[[window]]\n";
            s += &format!("days  = {}\n", list(&w.days));
            s += &format!("from  = {}\n", q(&w.from));
            s += &format!("until = {}\n", q(&w.until));
            s += &format!("timezone = {}\n", q(&w.timezone));
        }
        s
    }
}

/// Now, to the second, in UTC with an explicit `+00:00` offset.
fn now_secs() -> DateTime<FixedOffset> {
    let now = Utc::now();
    let secs = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    secs.fixed_offset()
}

/// A TOML basic string (JSON string escapes are valid TOML).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|i| q(i)).collect::<Vec<_>>().join(", "))
}

/// A key pair made by `wijkagent consent keygen`.
#[derive(Debug, Clone)]
pub struct Keys {
    /// `DIR/consent.key` (mode 0600).
    pub private_key: PathBuf,
    /// `DIR/consent.pub`, what `--trust` takes.
    pub public_key: PathBuf,
}

/// A consent document with its signature.
#[derive(Debug, Clone)]
pub struct SignedConsent {
    /// `scope.toml`.
    pub scope: PathBuf,
    /// `scope.toml.sig`.
    pub signature: PathBuf,
    /// The key pair that signed it.
    pub keys: Keys,
}

/// `wijkagent consent keygen --out dir`.
pub fn keygen(dir: &Path) -> Result<Keys> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = agent::command(["consent", "keygen", "--out"]);
    cmd.arg(dir);
    cli(&mut cmd, "consent keygen")?;
    let keys = Keys { private_key: dir.join("consent.key"), public_key: dir.join("consent.pub") };
    for p in [&keys.private_key, &keys.public_key] {
        if !p.is_file() {
            bail!("`wijkagent consent keygen --out {}` exited 0 but did not write {}", dir.display(), p.display());
        }
    }
    Ok(keys)
}

/// `wijkagent consent sign scope --key key`; returns `scope.sig`'s path.
pub fn sign(scope: &Path, key: &Path) -> Result<PathBuf> {
    let mut cmd = agent::command(["consent", "sign"]);
    cmd.arg(scope).arg("--key").arg(key);
    cli(&mut cmd, "consent sign")?;
    let sig = signature_path(scope);
    if !sig.is_file() {
        bail!("`wijkagent consent sign` exited 0 but did not write {}", sig.display());
    }
    Ok(sig)
}

/// `scope.toml` → `scope.toml.sig`.
pub fn signature_path(scope: &Path) -> PathBuf {
    let mut s = scope.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

/// Writes `spec` to `dir/scope.toml` without signing it.
pub fn write_unsigned(dir: &Path, spec: &ConsentSpec) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let scope = dir.join("scope.toml");
    std::fs::write(&scope, spec.to_toml()).with_context(|| format!("writing {}", scope.display()))?;
    Ok(scope)
}

/// Writes `spec` to `dir/scope.toml`, makes a key pair in `dir/keys` and signs the document.
pub fn write_signed(dir: &Path, spec: &ConsentSpec) -> Result<SignedConsent> {
    let scope = write_unsigned(dir, spec)?;
    let keys = keygen(&dir.join("keys"))?;
    let signature = sign(&scope, &keys.private_key)?;
    Ok(SignedConsent { scope, signature, keys })
}

/// The lab consent ([`ConsentSpec::for_lab`]), signed, in `dir`.
pub fn lab_consent(dir: &Path, addr: &Addressing) -> Result<SignedConsent> {
    write_signed(dir, &ConsentSpec::for_lab(addr))
}

fn cli(cmd: &mut std::process::Command, what: &str) -> Result<()> {
    agent::bin_checked()?;
    let f = run_bounded(cmd, CLI_LIMIT)?;
    if !f.success() {
        bail!("`wijkagent {what}` failed: {}", f.describe());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_consent_has_the_design_shape() {
        let spec = ConsentSpec::for_lab(&Addressing::new(9));
        let doc: toml::Table = toml::from_str(&spec.to_toml()).expect("valid TOML");
        let consent = doc["consent"].as_table().expect("[consent]");
        for key in ["organisation", "authorised_by", "role", "contact", "purpose"] {
            assert!(consent[key].is_str(), "{key}");
        }
        assert!(consent["valid_from"].is_datetime());
        assert!(consent["valid_until"].is_datetime());
        let scope = doc["scope"].as_table().expect("[scope]");
        let include: Vec<&str> =
            scope["include"].as_array().expect("include").iter().filter_map(|v| v.as_str()).collect();
        assert_eq!(include, ["198.18.9.0/24", "2001:2:0:9::11"]);
        let exclude: Vec<&str> =
            scope["exclude"].as_array().expect("exclude").iter().filter_map(|v| v.as_str()).collect();
        assert_eq!(exclude, ["198.18.9.50", "198.18.9.51"]);
        assert_eq!(scope["max_rate"].as_integer(), Some(500));
        assert_eq!(scope["ot_identification"].as_bool(), Some(false));
        let windows = doc["window"].as_array().expect("[[window]]");
        assert_eq!(windows.len(), 1);
        assert_eq!(windows[0]["days"].as_array().map(|d| d.len()), Some(7));
        assert_eq!(windows[0]["from"].as_str(), Some("00:00"));
        assert_eq!(windows[0]["until"].as_str(), Some("00:00"));
    }

    #[test]
    fn later_window_is_not_today() {
        let (w, day) = WindowSpec::only_the_day_after_tomorrow();
        let today = Utc::now().with_timezone(&chrono_tz::Europe::Brussels).date_naive();
        assert_eq!(w.days, [day_name(day.weekday())]);
        assert_ne!(w.days[0], day_name(today.weekday()));
        assert_ne!(w.days[0], day_name((today + Span::days(1)).weekday()));
    }
}
