//! The shape of a certificate, bounded: how many extensions it has, and how deep the ASN.1 inside
//! an extension's value nests.
//!
//! Real certificates have about ten extensions and nest a few levels deep; a certificate with
//! thousands of extensions, or an extension of thousands of nested SEQUENCEs, is built to hurt
//! parsers. x509-parser keeps every extension (the byte budget of the TLS analysis bounds how many
//! can arrive, 64 KiB) and does not look into the value of an extension it does not know, so
//! neither costs more than its bytes; but the report should say that the certificate is odd. The
//! depth is measured without recursion, with a stack that stops at [`MAX_NESTING`] levels, so no
//! value can make the walk deep or long: it reads each byte of a value at most once.

use x509_parser::prelude::X509Certificate;

/// More extensions than this is unusual, and reported.
pub(crate) const UNUSUAL_EXTENSIONS: usize = 100;
/// Nesting beyond this many levels is reported (and not walked further).
pub(crate) const MAX_NESTING: usize = 32;
/// At most this many deeply nested extensions are named.
const MAX_NAMED: usize = 3;

/// How deep a DER value nests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Constructed elements nest this many levels (0: none).
    Within(usize),
    /// Deeper than [`MAX_NESTING`].
    Deeper,
    /// Not DER (a length beyond the data, an indefinite length, ...): not walked.
    Unreadable,
}

/// Problems of shape, in English (the report's `problems`).
pub(crate) fn problems(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let count = cert.extensions().len();
    if count > UNUSUAL_EXTENSIONS {
        out.push(format!("certificate has {count} extensions (more than {UNUSUAL_EXTENSIONS} is unusual)"));
    }
    let deep: Vec<String> =
        cert.extensions().iter().filter(|e| depth(e.value) == Depth::Deeper).map(|e| e.oid.to_id_string()).collect();
    for oid in deep.iter().take(MAX_NAMED) {
        out.push(format!("extension {oid}: ASN.1 nested more than {MAX_NESTING} levels deep (not read further)"));
    }
    if deep.len() > MAX_NAMED {
        out.push(format!("{} more extensions nested too deep", deep.len() - MAX_NAMED));
    }
    out
}

/// How deep the constructed elements of `der` (one or more elements) nest.
pub(crate) fn depth(der: &[u8]) -> Depth {
    // What is left to read at each open level; the bottom is the value itself.
    let mut stack: Vec<&[u8]> = vec![der];
    let mut deepest = 0;
    while let Some(top) = stack.last_mut() {
        if top.is_empty() {
            stack.pop();
            continue;
        }
        let Some((constructed, content, rest)) = element(top) else {
            return Depth::Unreadable;
        };
        *top = rest;
        if constructed {
            if stack.len() > MAX_NESTING {
                return Depth::Deeper;
            }
            stack.push(content);
            deepest = deepest.max(stack.len() - 1);
        }
    }
    Depth::Within(deepest)
}

/// One element: (constructed, content, what follows). Tags of any length; definite lengths of at
/// most four bytes.
fn element(input: &[u8]) -> Option<(bool, &[u8], &[u8])> {
    let (&first, mut rest) = input.split_first()?;
    if first & 0x1f == 0x1f {
        // High tag number: base-128 bytes, the last without its top bit.
        let n = rest.iter().position(|b| b & 0x80 == 0)?;
        rest = rest.get(n + 1..)?;
    }
    let (&len_byte, rest) = rest.split_first()?;
    let (len, rest) = match len_byte {
        0..=0x7f => (usize::from(len_byte), rest),
        0x81..=0x84 => {
            let (bytes, rest) = rest.split_at_checked(usize::from(len_byte & 0x7f))?;
            (bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)), rest)
        }
        _ => return None,
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((first & 0x20 != 0, content, rest))
}

/// `n` SEQUENCEs, each holding the next: test input for the depth bound (here and in `hostile_tests`).
#[cfg(test)]
pub(super) fn nested(n: usize) -> Vec<u8> {
    (0..n).fold(Vec::new(), |inner, _| {
        let mut out = vec![0x30];
        match inner.len() {
            l @ 0..=0x7f => out.push(l as u8),
            l @ 0x80..=0xff => out.extend_from_slice(&[0x81, l as u8]),
            l => out.extend_from_slice(&[0x82, (l >> 8) as u8, l as u8]),
        }
        out.extend_from_slice(&inner);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_constructed_levels() {
        assert_eq!(depth(&[0x04, 0x00]), Depth::Within(0), "an empty OCTET STRING");
        assert_eq!(depth(&[0x30, 0x03, 0x02, 0x01, 0x05]), Depth::Within(1), "SEQUENCE {{ INTEGER 5 }}");
        assert_eq!(depth(&nested(MAX_NESTING)), Depth::Within(MAX_NESTING));
        // SEQUENCE { SEQUENCE {}, INTEGER } beside another element: siblings do not add depth.
        assert_eq!(depth(&[0x30, 0x05, 0x30, 0x00, 0x02, 0x01, 0x01, 0x05, 0x00]), Depth::Within(2));
        // A high-tag-number context tag [31] constructed, holding NULL.
        assert_eq!(depth(&[0xbf, 0x1f, 0x02, 0x05, 0x00]), Depth::Within(1));
    }

    #[test]
    fn ten_thousand_nested_sequences_stop_the_walk_at_the_bound() {
        let deep = nested(10_000);
        assert!(deep.len() > 30_000);
        assert_eq!(depth(&deep), Depth::Deeper);
        assert_eq!(depth(&nested(MAX_NESTING + 1)), Depth::Deeper);
    }

    #[test]
    fn lengths_beyond_the_data_and_indefinite_lengths_are_unreadable() {
        assert_eq!(depth(&[0x30, 0x05, 0x02, 0x01]), Depth::Unreadable);
        assert_eq!(depth(&[0x30, 0x80, 0x00, 0x00]), Depth::Unreadable);
        assert_eq!(depth(&[0x30, 0x85, 1, 1, 1, 1, 1]), Depth::Unreadable);
        assert_eq!(depth(&[0x1f]), Depth::Unreadable, "a tag cut short");
    }
}
