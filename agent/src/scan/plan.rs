//! Turning a consent and the command-line wishes into a scan plan, or a refusal.
//!
//! Everything a person may ask on the command line is checked against the consent here, before any
//! socket is opened: the profile, the port list, the rates, and the time (validity and windows).
//! A refusal is one line that says what is wrong and what to do; the binary exits with code 3.

use chrono::{DateTime, Utc};

use crate::consent::{Consent, ConsentError};
use crate::ports::{self, PortList, Profile};
use crate::rate::RateCaps;

/// What the person asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Wishes {
    /// `--profile`.
    pub profile: Option<Profile>,
    /// `--ports`.
    pub ports: Option<PortList>,
    /// `--rate`.
    pub rate: Option<u32>,
    /// `--per-host-rate`.
    pub per_host_rate: Option<u32>,
    /// `--connect`.
    pub force_connect: bool,
    /// `--no-services`: find open ports only, do not identify what runs there.
    pub ports_only: bool,
}

/// A checked plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The consent it runs under.
    pub consent: Consent,
    /// Profile name for the report (`custom` for `--ports`).
    pub profile_name: String,
    /// Ports to probe.
    pub ports: PortList,
    /// Rate caps in force.
    pub caps: RateCaps,
    /// Connect scan even when privileged.
    pub force_connect: bool,
    /// Skip service identification (open ports only).
    pub ports_only: bool,
}

/// Why a scan is refused. Exit code 3.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The consent itself (signature, validity, window, content).
    #[error(transparent)]
    Consent(#[from] ConsentError),
    /// `--profile` wider than the consent.
    #[error("profiel '{asked}' gaat verder dan de toestemming toelaat ('{allowed}'); kies --profile {allowed} of laat de toestemming verruimen / profile '{asked}' exceeds the consent ('{allowed}'); use --profile {allowed} or have the consent widened")]
    ProfileBeyond {
        /// Asked.
        asked: Profile,
        /// Allowed.
        allowed: Profile,
    },
    /// `--ports` outside the consent's profile.
    #[error("--ports vraagt poorten buiten profiel '{allowed}' van de toestemming (nodig: '{needed}'); beperk de lijst of laat de toestemming verruimen / --ports asks for ports outside the consent's profile '{allowed}' (needs '{needed}'); narrow the list or have the consent widened")]
    PortsBeyond {
        /// Needed.
        needed: Profile,
        /// Allowed.
        allowed: Profile,
    },
    /// `--rate` above the consent's `max_rate`.
    #[error("--rate {asked} is hoger dan max_rate {max} van de toestemming; kies --rate {max} of lager / --rate {asked} exceeds the consent's max_rate {max}; use --rate {max} or lower")]
    RateBeyond {
        /// Asked.
        asked: u32,
        /// Maximum.
        max: u32,
    },
    /// `--per-host-rate` above the consent's `max_per_host_rate`.
    #[error("--per-host-rate {asked} is hoger dan max_per_host_rate {max} van de toestemming; kies {max} of lager / --per-host-rate {asked} exceeds the consent's max_per_host_rate {max}; use {max} or lower")]
    PerHostRateBeyond {
        /// Asked.
        asked: u32,
        /// Maximum.
        max: u32,
    },
    /// A rate of zero.
    #[error("een snelheid van 0 pakketten per seconde scant niets; kies minstens 1 / a rate of 0 packets per second scans nothing; use at least 1")]
    ZeroRate,
}

/// Checks `wishes` against `consent` at `now`.
pub fn plan(consent: &Consent, wishes: &Wishes, now: DateTime<Utc>) -> Result<Plan, Refusal> {
    consent.check_time(now)?;
    let allowed = consent.terms.profile;
    let (profile_name, ports) = match (&wishes.ports, wishes.profile) {
        (Some(list), _) => {
            let needed = ports::narrowest_profile(list);
            if needed > allowed {
                return Err(Refusal::PortsBeyond { needed, allowed });
            }
            ("custom".to_string(), list.clone())
        }
        (None, asked) => {
            let profile = asked.unwrap_or(allowed.min(Profile::Standard));
            if profile > allowed {
                return Err(Refusal::ProfileBeyond { asked: profile, allowed });
            }
            (profile.to_string(), ports::profile_ports(profile))
        }
    };
    let total = wishes.rate.unwrap_or(consent.terms.max_rate);
    let per_host = wishes.per_host_rate.unwrap_or(consent.terms.max_per_host_rate.min(total));
    if total == 0 || per_host == 0 {
        return Err(Refusal::ZeroRate);
    }
    if total > consent.terms.max_rate {
        return Err(Refusal::RateBeyond { asked: total, max: consent.terms.max_rate });
    }
    if per_host > consent.terms.max_per_host_rate {
        return Err(Refusal::PerHostRateBeyond { asked: per_host, max: consent.terms.max_per_host_rate });
    }
    Ok(Plan {
        consent: consent.clone(),
        profile_name,
        ports,
        caps: RateCaps { total, per_host: per_host.min(total) },
        force_connect: wishes.force_connect,
        ports_only: wishes.ports_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consent(profile: Profile) -> Consent {
        let mut c = Consent::self_loopback();
        c.terms.profile = profile;
        c.terms.max_rate = 200;
        c.terms.max_per_host_rate = 20;
        c
    }

    #[test]
    fn wishes_within_the_consent_become_a_plan_with_consent_defaults() {
        let p = plan(&consent(Profile::Standard), &Wishes::default(), Utc::now()).expect("plan");
        assert_eq!(p.profile_name, "standard");
        assert_eq!(p.caps, RateCaps { total: 200, per_host: 20 });
    }

    #[test]
    fn wider_profile_ports_or_rates_are_refused() {
        let c = consent(Profile::Quick);
        let w = Wishes { profile: Some(Profile::Full), ..Default::default() };
        assert!(matches!(plan(&c, &w, Utc::now()), Err(Refusal::ProfileBeyond { .. })));
        let all = ports::parse_port_spec("1-65535").expect("spec");
        let w = Wishes { ports: Some(all), ..Default::default() };
        assert!(matches!(plan(&c, &w, Utc::now()), Err(Refusal::PortsBeyond { .. })));
        let w = Wishes { rate: Some(201), ..Default::default() };
        assert!(matches!(plan(&c, &w, Utc::now()), Err(Refusal::RateBeyond { asked: 201, max: 200 })));
        let w = Wishes { per_host_rate: Some(21), ..Default::default() };
        assert!(matches!(plan(&c, &w, Utc::now()), Err(Refusal::PerHostRateBeyond { .. })));
        let w = Wishes { rate: Some(0), ..Default::default() };
        assert!(matches!(plan(&c, &w, Utc::now()), Err(Refusal::ZeroRate)));
    }

    #[test]
    fn a_lower_total_rate_also_lowers_the_default_per_host_rate() {
        let w = Wishes { rate: Some(5), ..Default::default() };
        let p = plan(&consent(Profile::Quick), &w, Utc::now()).expect("plan");
        assert_eq!(p.caps, RateCaps { total: 5, per_host: 5 });
    }
}
