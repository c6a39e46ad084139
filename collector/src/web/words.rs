//! Names people read on the dashboard, in Dutch and English: the groups of a breakdown, the TLS
//! checks, the pages. Slugs stay the keys (in URLs, JSON and CSV); only what is shown is translated.

use crate::i18n::Lang;

/// A sector, size class or province slug as people read it (the slug itself when unknown).
pub fn group(slug: &str, lang: Lang) -> String {
    let l = |nl: &str, en: &str| lang.pick(nl, en).to_string();
    match slug {
        "total" => l("Totaal", "Total"),
        "gemeente" => l("Gemeente", "Municipality"),
        "ocmw" => l("OCMW", "Public social welfare centre"),
        "politiezone" => l("Politiezone", "Police zone"),
        "intercommunale" => l("Intercommunale", "Inter-municipal company"),
        "andere" => l("Andere", "Other"),
        "antwerpen" => l("Antwerpen", "Antwerp"),
        "limburg" => "Limburg".to_string(),
        "oost-vlaanderen" => l("Oost-Vlaanderen", "East Flanders"),
        "vlaams-brabant" => l("Vlaams-Brabant", "Flemish Brabant"),
        "west-vlaanderen" => l("West-Vlaanderen", "West Flanders"),
        "brussel" => l("Brussel", "Brussels"),
        size if size.ends_with('k') || size.ends_with("k+") => {
            format!("{size} {}", lang.pick("inwoners", "inhabitants"))
        }
        other => other.to_string(),
    }
}

/// A TLS check slug as people read it.
pub fn tls_check(slug: &str, lang: Lang) -> String {
    let l = |nl: &str, en: &str| lang.pick(nl, en).to_string();
    match slug {
        "sslv3" => l("SSL 3.0 aanvaard", "SSL 3.0 accepted"),
        "tls1.0" => l("TLS 1.0 aanvaard", "TLS 1.0 accepted"),
        "tls1.1" => l("TLS 1.1 aanvaard", "TLS 1.1 accepted"),
        "tls1.2" => l("TLS 1.2 aangeboden (goed)", "TLS 1.2 offered (good)"),
        "tls1.3" => l("TLS 1.3 aangeboden (goed)", "TLS 1.3 offered (good)"),
        "weak-ciphers" => l("Zwakke cipher suites", "Weak cipher suites"),
        "cert-expired" => l("Verlopen certificaat", "Expired certificate"),
        "cert-expiring" => l("Certificaat verloopt binnen 30 dagen", "Certificate expiring within 30 days"),
        "cert-not-yet-valid" => l("Certificaat nog niet geldig", "Certificate not valid yet"),
        "cert-self-signed" => l("Zelfondertekend certificaat", "Self-signed certificate"),
        "cert-untrusted" => l("Certificaat zonder vertrouwde keten", "Untrusted certificate chain"),
        "cert-weak-key" => l("Certificaat met zwakke sleutel", "Certificate with a weak key"),
        "cert-weak-signature" => l("Certificaat met zwakke handtekening", "Certificate with a weak signature"),
        "cert-name-mismatch" => l("Certificaat voor een andere naam", "Certificate for another name"),
        other => other.to_string(),
    }
}

/// A severity slug as people read it.
pub fn severity(slug: &str, lang: Lang) -> &str {
    match slug {
        "info" => "info",
        "low" => lang.pick("laag", "low"),
        "medium" => lang.pick("middel", "medium"),
        "high" => lang.pick("hoog", "high"),
        "critical" => lang.pick("kritiek", "critical"),
        other => other,
    }
}

/// A breakdown dimension's name.
pub fn dimension(slug: &str, lang: Lang) -> &'static str {
    match slug {
        "size-class" => lang.pick("Grootte", "Size class"),
        "province" => lang.pick("Provincie", "Province"),
        _ => lang.pick("Sector", "Sector"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vocabulary_value_has_a_name_in_both_languages() {
        use crate::org::{Province, Sector, SizeClass};
        let slugs = Sector::ALL
            .iter()
            .map(|s| s.as_str())
            .chain(SizeClass::ALL.iter().map(|s| s.as_str()))
            .chain(Province::ALL.iter().map(|s| s.as_str()));
        for slug in slugs {
            for lang in [Lang::Nl, Lang::En] {
                let name = group(slug, lang);
                assert!(name != slug || slug == "limburg", "{slug} has no {lang:?} name");
            }
        }
        for check in crate::trends::TlsCheck::ALL {
            assert_ne!(tls_check(check.as_str(), Lang::En), check.as_str());
        }
    }
}
