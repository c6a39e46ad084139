//! Names from a certificate as text, whatever bytes they hold.
//!
//! x509-parser reads every string type of a name as UTF-8 and gives up on the whole name when one
//! value is not (its `Display` then says `<X509Error: Invalid X.509 name>`, `as_str` fails, and a
//! subjectAltName DNS name that is not UTF-8 becomes `GeneralName::Invalid`). Devices do put
//! Latin-1 or broken bytes into T61Strings and IA5Strings, so here every value is read on its own:
//! UTF-8 and the 8-bit string types lossily (invalid bytes become U+FFFD), BMPString as UTF-16 and
//! UniversalString as UTF-32 (lossily too), anything else as `#` and hex (RFC 4514). [`Text::valid`]
//! says whether replacement was needed, so the analysis can report it. Output is laid out as
//! x509-parser's `Display` does it: `CN=…, O=…`, several values of one RDN joined by ` + `.

use x509_parser::asn1_rs::{Any, Oid, Tag};
use x509_parser::extensions::GeneralName;
use x509_parser::objects::{oid2abbrev, oid_registry};
use x509_parser::x509::X509Name;

/// Text read from a certificate, and whether every byte of it was valid for its string type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text {
    /// The text, invalid bytes shown as U+FFFD.
    pub text: String,
    /// No replacement was needed.
    pub valid: bool,
}

/// One attribute value or name.
pub(crate) fn value_text(any: &Any<'_>) -> Text {
    let data = any.data;
    match any.tag() {
        Tag::BmpString => {
            let units = data.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
            let mut valid = data.len().is_multiple_of(2);
            let text = char::decode_utf16(units)
                .map(|c| {
                    c.unwrap_or_else(|_| {
                        valid = false;
                        char::REPLACEMENT_CHARACTER
                    })
                })
                .collect();
            Text { text, valid }
        }
        Tag::UniversalString => {
            let mut valid = data.len().is_multiple_of(4);
            let text = data
                .chunks_exact(4)
                .map(|c| {
                    char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).unwrap_or_else(|| {
                        valid = false;
                        char::REPLACEMENT_CHARACTER
                    })
                })
                .collect();
            Text { text, valid }
        }
        Tag::NumericString
        | Tag::VisibleString
        | Tag::PrintableString
        | Tag::GeneralString
        | Tag::ObjectDescriptor
        | Tag::GraphicString
        | Tag::T61String
        | Tag::VideotexString
        | Tag::Utf8String
        | Tag::Ia5String => lossy(data),
        _ => Text { text: format!("#{}", hex::encode(data)), valid: true },
    }
}

/// Bytes read as UTF-8, invalid sequences shown as U+FFFD.
fn lossy(data: &[u8]) -> Text {
    Text { text: String::from_utf8_lossy(data).into_owned(), valid: std::str::from_utf8(data).is_ok() }
}

/// `CN`, `O`, … for a known attribute type, else its dotted OID.
fn attr_name(oid: &Oid<'_>) -> String {
    oid2abbrev(oid, oid_registry()).map_or_else(|_| oid.to_id_string(), str::to_string)
}

/// A whole name, `CN=…, O=…`.
pub(crate) fn name_text(name: &X509Name<'_>) -> Text {
    let mut valid = true;
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            let parts: Vec<String> = rdn
                .iter()
                .map(|attr| {
                    let value = value_text(attr.attr_value());
                    valid &= value.valid;
                    format!("{}={}", attr_name(attr.attr_type()), value.text)
                })
                .collect();
            parts.join(" + ")
        })
        .collect();
    Text { text: rdns.join(", "), valid }
}

/// The first common name of `name`.
pub(crate) fn common_name(name: &X509Name<'_>) -> Option<Text> {
    name.iter_common_name().next().map(|attr| value_text(attr.attr_value()))
}

/// A subjectAltName DNS name as text, also when it is not valid (x509-parser's `Invalid` with the
/// DNS name tag, 2); `None` for every other kind of name.
pub(crate) fn dns_name(name: &GeneralName<'_>) -> Option<Text> {
    match name {
        GeneralName::DNSName(d) => Some(Text { text: (*d).to_string(), valid: true }),
        GeneralName::Invalid(tag, data) if tag.0 == 2 => Some(lossy(data)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::asn1_rs::FromDer;

    fn any(der: &[u8]) -> Any<'_> {
        Any::from_der(der).expect("DER").1
    }

    #[test]
    fn invalid_bytes_become_replacement_characters_and_are_flagged() {
        // T61String "Gemeente " ff fe c3 28: not UTF-8.
        let t = value_text(&any(b"\x14\x0dGemeente \xff\xfe\xc3\x28"));
        assert_eq!(t.text, "Gemeente \u{fffd}\u{fffd}\u{fffd}(");
        assert!(!t.valid);
        // UTF8String "é" is fine.
        assert_eq!(value_text(&any(b"\x0c\x02\xc3\xa9")), Text { text: "é".into(), valid: true });
        // BMPString "Aé", and one with a lone surrogate (d800).
        assert_eq!(value_text(&any(b"\x1e\x04\x00\x41\x00\xe9")), Text { text: "Aé".into(), valid: true });
        assert!(!value_text(&any(b"\x1e\x02\xd8\x00")).valid);
        // A non-string value: hex.
        assert_eq!(value_text(&any(b"\x04\x02\xab\xcd")).text, "#abcd");
    }

    #[test]
    fn a_name_reads_like_x509_parser_shows_a_valid_one() {
        // SEQUENCE { SET { SEQ { CN, T61String "a\xff" } }, SET { SEQ { O, UTF8String "wijk" } } }
        let der = b"\x30\x1e\x31\x0d\x30\x0b\x06\x03\x55\x04\x03\x14\x04a\xffbc\x31\x0d\x30\x0b\x06\x03\x55\x04\x0a\x0c\x04wijk";
        let (_, name) = X509Name::from_der(der).expect("name");
        let t = name_text(&name);
        assert_eq!(t.text, "CN=a\u{fffd}bc, O=wijk");
        assert!(!t.valid);
        assert_eq!(name.to_string(), "<X509Error: Invalid X.509 name>", "what x509-parser alone would show");
        assert_eq!(common_name(&name).map(|c| c.text), Some("a\u{fffd}bc".to_string()));
    }

    #[test]
    fn an_invalid_dns_name_is_still_read() {
        let tag = x509_parser::asn1_rs::Tag(2);
        let t = dns_name(&GeneralName::Invalid(tag, b"loket\xff.test")).expect("a DNS name");
        assert_eq!((t.text.as_str(), t.valid), ("loket\u{fffd}.test", false));
        assert_eq!(dns_name(&GeneralName::DNSName("a.test")).map(|t| t.valid), Some(true));
        assert!(dns_name(&GeneralName::Invalid(Tag(6), b"\xff")).is_none(), "a URI is not a DNS name");
    }
}
