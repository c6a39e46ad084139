//! `wijkpost token`: issues a one-time enrollment token. The token line goes to stdout (so it can
//! be captured); for whom and until when goes to stderr, for the person issuing it.

use anyhow::Context as _;
use chrono::{Duration, Utc};

use super::TokenArgs;
use crate::ca::Ca;
use crate::enroll::issue_token;
use crate::i18n::Lang;
use crate::org::Org;
use crate::store::StoreConfig;

/// Runs the command.
pub fn run(args: TokenArgs, lang: Lang) -> anyhow::Result<i32> {
    let ca = Ca::open_or_create(&args.data).context("CA")?;
    let config = StoreConfig::parse(args.database.as_deref(), &args.data)?;
    let mut store = config.open().with_context(|| format!("store {}", config.describe()))?;
    let org = Org { name: args.org, sector: args.sector, size_class: args.size_class, province: args.province };
    let described = format!("{} ({}, {}, {})", org.name.trim(), org.sector, org.size_class, org.province);
    let now = Utc::now();
    let token = issue_token(store.as_mut(), &ca, org, Duration::days(i64::from(args.valid_days)), now)?;
    let until = (now + Duration::days(i64::from(args.valid_days)))
        .with_timezone(&chrono_tz::Europe::Brussels)
        .format("%Y-%m-%d %H:%M %Z");
    println!("{}", token.encode());
    let l = |nl, en| lang.pick(nl, en);
    eprintln!("{}: {described}", l("Eenmalig inschrijvingstoken voor", "One-time enrollment token for"));
    eprintln!("{}: {until}", l("Geldig tot", "Valid until"));
    eprintln!(
        "{}",
        l(
            "Bezorg het langs een vertrouwd kanaal aan de IT-dienst; die schrijft er één wijkagent mee in \
             (wijkagent enroll --token ...). Het token bevat de vingerafdruk van deze CA.",
            "Hand it over through a trusted channel to the IT staff; it enrolls one wijkagent \
             (wijkagent enroll --token ...). The token carries this CA's fingerprint."
        )
    );
    eprintln!("CA SHA-256: {}", ca.fingerprint());
    Ok(0)
}
