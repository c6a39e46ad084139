//! The query parameters every dashboard page and API call understands, checked once: a refused
//! value is a 400 that names the parameter and what it accepts, never echoed into HTML unescaped.
//!
//! | parameter | values |
//! |---|---|
//! | `sector`, `size`, `province` | the slugs of [`crate::org`]; empty = all |
//! | `from`, `to` | ISO weeks `YYYY-Www`; empty = all weeks |
//! | `weakness` | a weakness id (slug) |
//! | `by` | `sector`, `size-class`, `province` |
//! | `measure` | `participation`, `weakness:ID`, `tls:CHECK`, `service:KIND` |
//! | `top` | 1-50 (priorities) |
//! | `format` | `json` (default for the API) or `csv` |
//! | `lang` | `nl` (default) or `en`; remembered in a cookie |

use serde::Deserialize;

use crate::i18n::Lang;
use crate::org::{Province, Sector, SizeClass};
use crate::trends::{Dimension, Filter, IsoWeek, Measure, TlsCheck};

/// The raw parameters, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Params {
    /// Sector slug.
    pub sector: Option<String>,
    /// Size class slug.
    pub size: Option<String>,
    /// Province slug.
    pub province: Option<String>,
    /// First week.
    pub from: Option<String>,
    /// Last week.
    pub to: Option<String>,
    /// Weakness id.
    pub weakness: Option<String>,
    /// Breakdown dimension.
    pub by: Option<String>,
    /// Breakdown measure.
    pub measure: Option<String>,
    /// Number of priorities.
    pub top: Option<String>,
    /// `json` or `csv`.
    pub format: Option<String>,
    /// `nl` or `en`.
    pub lang: Option<String>,
}

/// A refused parameter: which one and what it accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter {name}: {accepts}")]
pub struct BadParam {
    /// The parameter.
    pub name: &'static str,
    /// What it accepts.
    pub accepts: String,
}

fn bad(name: &'static str, accepts: impl Into<String>) -> BadParam {
    BadParam { name, accepts: accepts.into() }
}

/// An empty value counts as absent (an HTML select's "all").
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A vocabulary slug; the refusal lists the allowed values and never repeats what was sent.
fn slug<T: std::str::FromStr<Err = String>>(name: &'static str, v: &Option<String>) -> Result<Option<T>, BadParam> {
    let refuse = |e: String| {
        let allowed = e.split_once("(one of: ").map_or("", |(_, rest)| rest.trim_end_matches(')')).to_string();
        bad(name, format!("one of: {allowed}"))
    };
    given(v).map(|s| s.parse::<T>().map_err(refuse)).transpose()
}

impl Params {
    /// The filter these parameters select (a missing `from` or `to` is the index's first or last week).
    pub fn filter(&self) -> Result<Filter, BadParam> {
        let mut f = Filter::all();
        f.sector = slug::<Sector>("sector", &self.sector)?;
        f.size_class = slug::<SizeClass>("size", &self.size)?;
        f.province = slug::<Province>("province", &self.province)?;
        let week = |name, v: &Option<String>| {
            given(v).map(|s| IsoWeek::parse(s).map_err(|_| bad(name, "an ISO week such as 2026-W49"))).transpose()
        };
        (f.from, f.to) = (week("from", &self.from)?, week("to", &self.to)?);
        if let (Some(from), Some(to)) = (f.from, f.to) {
            if from > to {
                return Err(bad("from", "a week not after `to`"));
            }
        }
        Ok(f)
    }

    /// The language: `lang`, else the cookie's, else Dutch.
    pub fn lang(&self, cookie: Option<&str>) -> Lang {
        match given(&self.lang).or(cookie) {
            Some("en") => Lang::En,
            _ => Lang::Nl,
        }
    }

    /// The weakness id, if given (a slug: anything else is refused).
    pub fn weakness(&self) -> Result<Option<String>, BadParam> {
        match given(&self.weakness) {
            Some(id) if wijk_protocol::summary::is_slug(id) => Ok(Some(id.to_string())),
            Some(_) => Err(bad("weakness", "a weakness id such as telnet-open")),
            None => Ok(None),
        }
    }

    /// The breakdown dimension (default: sector).
    pub fn by(&self) -> Result<Dimension, BadParam> {
        match given(&self.by) {
            None | Some("sector") => Ok(Dimension::Sector),
            Some("size-class") => Ok(Dimension::SizeClass),
            Some("province") => Ok(Dimension::Province),
            Some(_) => Err(bad("by", "sector, size-class or province")),
        }
    }

    /// The breakdown measure (default: participation).
    pub fn measure(&self) -> Result<Measure, BadParam> {
        let accepts = "participation, weakness:ID, tls:CHECK or service:KIND";
        let Some(m) = given(&self.measure) else { return Ok(Measure::Participation) };
        let ok_slug =
            |s: &str| wijk_protocol::summary::is_slug(s).then(|| s.to_string()).ok_or_else(|| bad("measure", accepts));
        match m.split_once(':') {
            None if m == "participation" => Ok(Measure::Participation),
            Some(("weakness", id)) => Ok(Measure::Weakness(ok_slug(id)?)),
            Some(("service", kind)) => Ok(Measure::Service(ok_slug(kind)?)),
            Some(("tls", check)) => TlsCheck::ALL
                .iter()
                .find(|c| c.as_str() == check)
                .map(|c| Measure::Tls(*c))
                .ok_or_else(|| bad("measure", accepts)),
            _ => Err(bad("measure", accepts)),
        }
    }

    /// How many priorities (default 10, 1-50).
    pub fn top(&self) -> Result<usize, BadParam> {
        match given(&self.top) {
            None => Ok(10),
            Some(n) => {
                n.parse().ok().filter(|n| (1..=50).contains(n)).ok_or_else(|| bad("top", "a number from 1 to 50"))
            }
        }
    }

    /// Whether CSV was asked for.
    pub fn csv(&self) -> Result<bool, BadParam> {
        match given(&self.format) {
            None | Some("json") => Ok(false),
            Some("csv") => Ok(true),
            Some(_) => Err(bad("format", "json or csv")),
        }
    }

    /// The filter parameters again, as a query string (`sector=…&…`), for links that keep them.
    pub fn filter_query(&self) -> String {
        let pairs = [
            ("sector", &self.sector),
            ("size", &self.size),
            ("province", &self.province),
            ("from", &self.from),
            ("to", &self.to),
        ];
        let parts: Vec<String> =
            pairs.iter().filter_map(|(k, v)| given(v).map(|v| format!("{k}={}", encode(v)))).collect();
        parts.join("&")
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let q: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        serde_json::from_value(serde_json::Value::Object(
            pairs.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect(),
        ))
        .map_err(|e| format!("{e} in {q:?}"))
        .expect("params")
    }

    #[test]
    fn filters_and_refusals() {
        let f = params(&[("province", "limburg"), ("from", "2026-W03"), ("sector", "")]).filter().expect("ok");
        assert_eq!(f.province, Some(Province::Limburg));
        assert_eq!(f.sector, None);
        assert_eq!((f.from, f.to), (IsoWeek::parse("2026-W03").ok(), None));
        let e = params(&[("province", "<script>")]).filter().expect_err("bad");
        assert_eq!(e.name, "province");
        assert!(params(&[("from", "2026-W09"), ("to", "2026-W02")]).filter().is_err());
        assert!(params(&[("weakness", "a b")]).weakness().is_err());
        assert_eq!(params(&[("measure", "tls:tls1.0")]).measure(), Ok(Measure::Tls(TlsCheck::Tls1_0)));
        assert!(params(&[("measure", "tls:nope")]).measure().is_err());
        assert_eq!(params(&[("lang", "en")]).lang(None), Lang::En);
        assert_eq!(params(&[]).lang(Some("en")), Lang::En);
        assert_eq!(params(&[("top", "51")]).top().map_err(|e| e.name), Err("top"));
        assert_eq!(
            params(&[("province", "west-vlaanderen"), ("to", "2026-W02")]).filter_query(),
            "province=west-vlaanderen&to=2026-W02"
        );
    }
}
