//! The commented scope document printed by `wijkagent consent init`.
//!
//! Every field is explained, Dutch first and English after; the placeholder values parse and
//! validate (documentation ranges 192.0.2.0/24 and 2001:db8::/32), so the text is a working
//! starting point that only needs real values, a review and a signature.

const TEMPLATE: &str = r#"# wijkagent — toestemming om te scannen / consent to scan
#
# NL: Vul dit document in, laat het nalezen door wie toestemming geeft en onderteken het met
#     `wijkagent consent sign`. De handtekening geldt voor de exacte bytes: elke wijziging, ook
#     een spatie, vraagt een nieuwe handtekening. Zonder geldige toestemming verstuurt wijkagent
#     geen enkel pakket.
# EN: Fill in this document, have it reviewed by whoever gives consent and sign it with
#     `wijkagent consent sign`. The signature covers the exact bytes: any change, even a space,
#     needs a new signature. Without a valid consent wijkagent sends no packet.

[consent]
# NL: Organisatie die de toestemming geeft. / EN: Organisation giving consent.
organisation  = "Gemeente Voorbeeld"
# NL: Naam van wie de toestemming geeft. / EN: Name of the person authorising the scan.
authorised_by = "An Peeters"
# NL: Functie van die persoon. / EN: That person's role.
role          = "algemeen directeur"
# NL: Contact bij problemen tijdens een scan. / EN: Contact for problems during a scan.
contact       = "ict@voorbeeld.be"
# NL: Waarom er gescand wordt. / EN: Why the network is scanned.
purpose       = "Periodieke netwerkscan, programma cyberveilige gemeenten"
# NL: Geldig vanaf en tot (datum, tijd en tijdzone verplicht).
# EN: Valid from and until (date, time and UTC offset required).
valid_from    = 2026-12-01T00:00:00+01:00
valid_until   = 2027-12-01T00:00:00+01:00

[scope]
# NL: Wat gescand mag worden: CIDR (10.20.0.0/16), bereik (192.0.2.10-192.0.2.20 of
#     192.0.2.10-20) of één adres, IPv4 en IPv6. Bij IPv4-CIDR's tot en met /30 worden het
#     netwerk- en broadcastadres niet gescand. Hoogstens 16 777 216 adressen in totaal.
# EN: What may be scanned: CIDR, range or single address, IPv4 and IPv6. For IPv4 CIDRs up to
#     /30 the network and broadcast addresses are not scanned. At most 16,777,216 addresses.
include  = ["192.0.2.0/24", "2001:db8::10-2001:db8::1f"]
# NL: Nooit scannen, ook niet als het in include valt (bv. gebouwbeheer van het zwembad).
# EN: Never scanned, even inside include (e.g. the swimming pool's building controls).
exclude  = ["192.0.2.128/28"]
# NL: Kwetsbare toestellen: enkel ontdekking en open poorten, nooit inhoud (payloads).
# EN: Fragile devices: discovery and open ports only, never payloads.
fragile  = ["192.0.2.200-192.0.2.210"]
# NL: Breedste toegelaten poortprofiel: quick | standard | full.
# EN: Widest port profile allowed: quick | standard | full.
profile  = "standard"
# NL: Pakketten per seconde voor alle doelen samen (1 tot 1 000 000).
# EN: Packets per second for all targets together (1 to 1,000,000).
max_rate = 200
# NL: Pakketten per seconde naar één toestel (1 tot max_rate).
# EN: Packets per second to one host (1 to max_rate).
max_per_host_rate = 20
# NL: Mogen OT-toestellen (Modbus/BACnet/S7) om hun identificatie gevraagd worden?
# EN: May OT devices (Modbus/BACnet/S7) be asked to identify themselves?
ot_identification = false

# NL: Tijdvensters waarin gescand mag worden; zonder venster wordt er nooit gescand. Meerdere
#     [[window]]-tabellen zijn toegelaten. Dagen: mon tue wed thu fri sat sun (de dag waarop het
#     venster begint). Een venster mag over middernacht lopen (19:00 tot 06:00 eindigt de volgende
#     ochtend); from gelijk aan until betekent de hele dag. Tijden in de tijdzone eronder.
# EN: Time windows in which scanning is allowed; without a window there is no scanning at all.
#     Several [[window]] tables are allowed. Days: mon..sun (the day the window starts). A window
#     may pass midnight (19:00 until 06:00 ends the next morning); from equal to until means the
#     whole day. Times in the time zone below.
[[window]]
days  = ["mon", "tue", "wed", "thu", "fri"]
from  = "19:00"
until = "06:00"
timezone = "Europe/Brussels"
"#;

/// The commented template printed by `wijkagent consent init`.
pub fn template() -> String {
    TEMPLATE.to_string()
}

#[cfg(test)]
mod tests {
    use super::template;
    use crate::consent::document::parse;
    use std::path::Path;

    #[test]
    fn template_parses_and_yields_a_valid_scope() {
        let d = parse(template().as_bytes(), Path::new("template")).expect("template must validate");
        // 192.0.2.1-254 minus 192.0.2.128/28, plus 16 IPv6 addresses.
        assert_eq!(d.scope.target_count(), 254 - 16 + 16);
        assert!(!d.scope.contains("192.0.2.130".parse().expect("ip")));
        assert!(d.scope.is_fragile("192.0.2.205".parse().expect("ip")));
        assert!(!d.schedule.is_never());
        for line in template().lines() {
            assert!(line.chars().count() <= 100, "line too long: {line}");
        }
    }
}
