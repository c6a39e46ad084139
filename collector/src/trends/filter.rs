//! What a query selects: a [`Filter`] (week range, sector, size class, province, any combination),
//! the [`Dimension`] a breakdown is cut by and the [`Measure`] it counts.

use serde::Serialize;

use super::facts::{Facts, TlsCheck};
use super::week::IsoWeek;
use crate::org::{Province, Sector, SizeClass};

/// Which organisations and weeks a query looks at; `None` is "all".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filter {
    /// First week, inclusive.
    pub from: Option<IsoWeek>,
    /// Last week, inclusive.
    pub to: Option<IsoWeek>,
    /// Only this sector.
    pub sector: Option<Sector>,
    /// Only this size class.
    pub size_class: Option<SizeClass>,
    /// Only this province.
    pub province: Option<Province>,
}

impl Filter {
    /// Everything.
    pub fn all() -> Filter {
        Filter::default()
    }

    /// The same filter for weeks `from..=to`.
    pub fn weeks(self, from: IsoWeek, to: IsoWeek) -> Filter {
        Filter { from: Some(from), to: Some(to), ..self }
    }

    /// The same filter for one week.
    pub fn week(self, week: IsoWeek) -> Filter {
        self.weeks(week, week)
    }

    /// The same filter for one sector.
    pub fn sector(self, sector: Sector) -> Filter {
        Filter { sector: Some(sector), ..self }
    }

    /// The same filter for one size class.
    pub fn size_class(self, size_class: SizeClass) -> Filter {
        Filter { size_class: Some(size_class), ..self }
    }

    /// The same filter for one province.
    pub fn province(self, province: Province) -> Filter {
        Filter { province: Some(province), ..self }
    }

    /// Whether an organisation with these attributes is selected.
    pub(crate) fn selects(&self, attrs: &Attrs) -> bool {
        self.sector.is_none_or(|s| s == attrs.sector)
            && self.size_class.is_none_or(|s| s == attrs.size_class)
            && self.province.is_none_or(|p| p == attrs.province)
    }
}

/// An organisation's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attrs {
    pub(crate) sector: Sector,
    pub(crate) size_class: SizeClass,
    pub(crate) province: Province,
}

/// What a breakdown cuts the population by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dimension {
    /// By [`Sector`].
    Sector,
    /// By [`SizeClass`].
    SizeClass,
    /// By [`Province`].
    Province,
}

impl Dimension {
    /// The groups, in the vocabulary's order.
    pub fn groups(self) -> Vec<&'static str> {
        match self {
            Dimension::Sector => Sector::ALL.iter().map(|s| s.as_str()).collect(),
            Dimension::SizeClass => SizeClass::ALL.iter().map(|s| s.as_str()).collect(),
            Dimension::Province => Province::ALL.iter().map(|s| s.as_str()).collect(),
        }
    }

    /// The position of an organisation's group in [`Dimension::groups`].
    pub(crate) fn group_of(self, attrs: &Attrs) -> usize {
        let position = match self {
            Dimension::Sector => Sector::ALL.iter().position(|s| *s == attrs.sector),
            Dimension::SizeClass => SizeClass::ALL.iter().position(|s| *s == attrs.size_class),
            Dimension::Province => Province::ALL.iter().position(|p| *p == attrs.province),
        };
        position.unwrap_or(0)
    }
}

/// The organisation-level figure a breakdown counts: which organisations "match".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measure {
    /// Every participating organisation (the breakdown of organisations by group).
    Participation,
    /// Organisations affected by this weakness id.
    Weakness(String),
    /// Organisations failing (or, for TLS 1.2/1.3, offering) this TLS check.
    Tls(TlsCheck),
    /// Organisations exposing this service kind.
    Service(String),
}

impl Measure {
    /// A label for the output: `participation`, `weakness:ID`, `tls:CHECK`, `service:KIND`.
    pub fn label(&self) -> String {
        match self {
            Measure::Participation => "participation".to_string(),
            Measure::Weakness(id) => format!("weakness:{id}"),
            Measure::Tls(check) => format!("tls:{}", check.as_str()),
            Measure::Service(kind) => format!("service:{kind}"),
        }
    }
}

/// A measure with its id resolved against the index's interned ids.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Resolved {
    /// Everyone matches.
    All,
    /// Nobody matches (an id the index has never seen).
    Nobody,
    /// Has this interned weakness.
    Weakness(u16),
    /// Has this TLS flag.
    Tls(u16),
    /// Exposes this interned kind.
    Service(u16),
}

impl Resolved {
    /// Whether facts match.
    pub(crate) fn matches(self, facts: &Facts<'_>) -> bool {
        match self {
            Resolved::All => true,
            Resolved::Nobody => false,
            Resolved::Weakness(w) => facts.hosts_of(w).is_some(),
            Resolved::Tls(bit) => facts.tls & bit != 0,
            Resolved::Service(kind) => facts.exposes(kind),
        }
    }
}
