//! `wijkagent consent keygen | init | sign | verify`.

use chrono::Utc;

use super::{ConsentCmd, EXIT_REFUSED};
use crate::consent::{self, signature, template, window, Consent};
use crate::i18n::Lang;

/// Runs one consent subcommand.
pub fn run(cmd: ConsentCmd, lang: Lang) -> anyhow::Result<i32> {
    match cmd {
        ConsentCmd::Keygen { out } => match signature::keygen(&out) {
            Ok((key, public)) => {
                println!(
                    "{}: {}",
                    lang.pick("geheime sleutel (0600, bewaar offline)", "secret key (0600, keep offline)"),
                    key.display()
                );
                println!(
                    "{}: {}",
                    lang.pick("publieke sleutel (voor --trust)", "public key (for --trust)"),
                    public.display()
                );
                Ok(0)
            }
            Err(e) => refuse(&e),
        },
        ConsentCmd::Init => {
            print!("{}", template::template());
            Ok(0)
        }
        ConsentCmd::Sign { file, key } => match consent::sign(&file, &key) {
            Ok(sig) => {
                println!("{}: {}", lang.pick("handtekening geschreven", "signature written"), sig.display());
                Ok(0)
            }
            Err(e) => refuse(&e),
        },
        ConsentCmd::Verify { file, trust } => match consent::load(&file, &trust) {
            Ok(c) => verify_report(&c, lang),
            Err(e) => refuse(&e),
        },
    }
}

fn refuse(e: &consent::ConsentError) -> anyhow::Result<i32> {
    eprintln!("{e}");
    Ok(EXIT_REFUSED)
}

/// Prints what a valid consent allows; exit 3 if it is not valid *now* (expired, not yet valid).
fn verify_report(c: &Consent, lang: Lang) -> anyhow::Result<i32> {
    let now = Utc::now();
    let within_validity = c.terms.valid_from <= now && now <= c.terms.valid_until;
    let l = |nl, en| lang.pick(nl, en);
    println!(
        "{}",
        if within_validity {
            l("toestemming geldig", "consent valid")
        } else {
            l("toestemming NIET geldig", "consent NOT valid")
        }
    );
    println!("  {}: {}", l("organisatie", "organisation"), c.terms.organisation);
    println!(
        "  {}: {} ({}), {}",
        l("gegeven door", "authorised by"),
        c.terms.authorised_by,
        c.terms.role,
        c.terms.contact
    );
    println!("  {}: {}", l("doel", "purpose"), c.terms.purpose);
    println!("  {}: {}", l("ondertekend met sleutel", "signed with key"), c.signer);
    println!("  {}: {} → {}", l("geldig", "valid"), c.terms.valid_from.to_rfc3339(), c.terms.valid_until.to_rfc3339());
    let ranges = c.terms.scope.target_ranges();
    println!(
        "  {}: {} {} {} {}",
        l("bereik", "scope"),
        c.terms.scope.target_count(),
        l("adressen in", "addresses in"),
        ranges.len(),
        l("reeksen", "ranges")
    );
    for r in ranges.iter().take(20) {
        if r.start == r.end {
            println!("    {}", r.start);
        } else {
            println!("    {} - {}", r.start, r.end);
        }
    }
    if ranges.len() > 20 {
        println!("    … {} {}", ranges.len() - 20, l("meer", "more"));
    }
    println!("  {}: {}", l("breedste profiel", "widest profile"), c.terms.profile);
    println!(
        "  {}: {} pps {}, {} pps {}",
        l("snelheid", "rate"),
        c.terms.max_rate,
        l("totaal", "total"),
        c.terms.max_per_host_rate,
        l("per host", "per host")
    );
    println!(
        "  {}: {}",
        l("OT-identificatie", "OT identification"),
        if c.terms.ot_identification { l("toegestaan", "allowed") } else { l("niet toegestaan", "not allowed") }
    );
    println!("  {}: {}", l("vensters", "windows"), c.terms.schedule.describe());
    let when = |t: chrono::DateTime<Utc>| match lang {
        Lang::Nl => window::brussels_nl(&t),
        Lang::En => window::brussels_en(&t),
    };
    if c.terms.schedule.is_open(now) {
        let end = c.terms.schedule.current_end(now).map(when);
        println!("  {}: {}", l("nu open, sluit", "open now, closes"), end.unwrap_or_else(|| "-".into()));
    } else {
        let next = c.terms.schedule.next_open(now).map(when);
        println!(
            "  {}: {}",
            l("nu gesloten; volgend venster", "closed now; next window"),
            next.unwrap_or_else(|| l("geen", "none").into())
        );
    }
    match c.check_time(now) {
        Err(e) if !within_validity => {
            eprintln!("{e}");
            Ok(EXIT_REFUSED)
        }
        _ => Ok(0),
    }
}
