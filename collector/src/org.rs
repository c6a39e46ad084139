//! The closed vocabularies that describe an enrolled organisation: its sector, its size class (by
//! inhabitants of the area it serves) and its province. They are chosen when a token is issued,
//! stored with the agent, and are what the sector trends are cut by; an agent never sends them.

use std::fmt;
use std::str::FromStr;

/// Defines an enum of slugs with `as_str`, `ALL`, `FromStr` (naming the allowed values on error)
/// and `Display`.
macro_rules! slugs {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($(#[$vdoc:meta])* $variant:ident = $slug:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The slug.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $slug,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let all: Vec<_> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} {s:?} (one of: {})", $what, all.join(", "))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

slugs!(
    /// Kind of local government.
    Sector, "sector", {
        /// Gemeente (municipality).
        Gemeente = "gemeente",
        /// OCMW (public centre for social welfare).
        Ocmw = "ocmw",
        /// Politiezone (police zone).
        Politiezone = "politiezone",
        /// Intercommunale (inter-municipal company).
        Intercommunale = "intercommunale",
        /// Anything else.
        Andere = "andere",
    }
);

slugs!(
    /// Inhabitants of the area the organisation serves.
    SizeClass, "size class", {
        /// Fewer than 10,000.
        UpTo10k = "0-10k",
        /// 10,000 to 25,000.
        UpTo25k = "10k-25k",
        /// 25,000 to 50,000.
        UpTo50k = "25k-50k",
        /// 50,000 to 100,000.
        UpTo100k = "50k-100k",
        /// More than 100,000.
        Over100k = "100k+",
    }
);

slugs!(
    /// Province (Brussels counted as one).
    Province, "province", {
        /// Antwerpen.
        Antwerpen = "antwerpen",
        /// Limburg.
        Limburg = "limburg",
        /// Oost-Vlaanderen.
        OostVlaanderen = "oost-vlaanderen",
        /// Vlaams-Brabant.
        VlaamsBrabant = "vlaams-brabant",
        /// West-Vlaanderen.
        WestVlaanderen = "west-vlaanderen",
        /// Brussels-Capital Region.
        Brussel = "brussel",
    }
);

/// Who a token is for and, after enrollment, who an agent belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// Organisation name as VVSG knows it (never shown in trends).
    pub name: String,
    /// Sector.
    pub sector: Sector,
    /// Size class.
    pub size_class: SizeClass,
    /// Province.
    pub province: Province,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip_and_strangers_are_named() {
        for s in SizeClass::ALL {
            assert_eq!(s.as_str().parse::<SizeClass>(), Ok(*s));
        }
        assert_eq!("oost-vlaanderen".parse(), Ok(Province::OostVlaanderen));
        assert_eq!(Sector::Ocmw.to_string(), "ocmw");
        let err = "stad".parse::<Sector>().expect_err("unknown");
        assert!(err.contains("gemeente, ocmw, politiezone, intercommunale, andere"), "{err}");
    }
}
