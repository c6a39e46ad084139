//! Cipher suites offered by the hand-built ClientHellos, which of them are weak, and the weak-suite
//! scan.
//!
//! A version probe offers [`catch_all`]: today's suites first, then older ones, then the weak
//! ones, so that a server answers if it speaks the version at all. The weak scan offers only
//! [`WEAK`] (NULL, EXPORT, RC4, single DES, 3DES, anonymous DH/ECDH); whatever the server picks
//! from that list is a weak suite it accepts. The scan repeats on fresh connections, each time
//! without the class of the suites already found, until the server refuses or five rounds are
//! done: one example per kind of weakness, not an exhaustive list. Suite names come from rustls' IANA table
//! ([`rustls::CipherSuite::as_str`]), so this file holds only code points.

use crate::probe::Target;

use super::versions::{self, HelloOutcome, Version};
use super::{Budget, StartTls};

/// Why a suite is weak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WeakClass {
    /// No encryption at all.
    Null,
    /// 40/56-bit "export" suites.
    Export,
    /// RC4 (RFC 7465 prohibits it).
    Rc4,
    /// Single DES (56-bit).
    Des,
    /// 3DES (64-bit block: Sweet32).
    TripleDes,
    /// No server authentication (anonymous DH/ECDH).
    Anonymous,
}

use WeakClass::*;

/// Weak suites, in the order offered (IANA names in the comments).
pub(crate) const WEAK: &[(u16, WeakClass)] = &[
    (0x0001, Null),      // TLS_RSA_WITH_NULL_MD5
    (0x0002, Null),      // TLS_RSA_WITH_NULL_SHA
    (0x003b, Null),      // TLS_RSA_WITH_NULL_SHA256
    (0xc001, Null),      // TLS_ECDH_ECDSA_WITH_NULL_SHA
    (0xc006, Null),      // TLS_ECDHE_ECDSA_WITH_NULL_SHA
    (0xc00b, Null),      // TLS_ECDH_RSA_WITH_NULL_SHA
    (0xc010, Null),      // TLS_ECDHE_RSA_WITH_NULL_SHA
    (0xc015, Null),      // TLS_ECDH_anon_WITH_NULL_SHA
    (0x0003, Export),    // TLS_RSA_EXPORT_WITH_RC4_40_MD5
    (0x0006, Export),    // TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5
    (0x0008, Export),    // TLS_RSA_EXPORT_WITH_DES40_CBC_SHA
    (0x000b, Export),    // TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA
    (0x000e, Export),    // TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA
    (0x0011, Export),    // TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA
    (0x0014, Export),    // TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA
    (0x0017, Export),    // TLS_DH_anon_EXPORT_WITH_RC4_40_MD5
    (0x0019, Export),    // TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA
    (0x0062, Export),    // TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA
    (0x0063, Export),    // TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA
    (0x0064, Export),    // TLS_RSA_EXPORT1024_WITH_RC4_56_SHA
    (0x0065, Export),    // TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA
    (0x0018, Anonymous), // TLS_DH_anon_WITH_RC4_128_MD5
    (0x001a, Anonymous), // TLS_DH_anon_WITH_DES_CBC_SHA
    (0x001b, Anonymous), // TLS_DH_anon_WITH_3DES_EDE_CBC_SHA
    (0x0034, Anonymous), // TLS_DH_anon_WITH_AES_128_CBC_SHA
    (0x003a, Anonymous), // TLS_DH_anon_WITH_AES_256_CBC_SHA
    (0x006c, Anonymous), // TLS_DH_anon_WITH_AES_128_CBC_SHA256
    (0x006d, Anonymous), // TLS_DH_anon_WITH_AES_256_CBC_SHA256
    (0x00a6, Anonymous), // TLS_DH_anon_WITH_AES_128_GCM_SHA256
    (0x00a7, Anonymous), // TLS_DH_anon_WITH_AES_256_GCM_SHA384
    (0x0046, Anonymous), // TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA
    (0x0089, Anonymous), // TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA
    (0x009b, Anonymous), // TLS_DH_anon_WITH_SEED_CBC_SHA
    (0x00bf, Anonymous), // TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256
    (0x00c5, Anonymous), // TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256
    (0xc016, Anonymous), // TLS_ECDH_anon_WITH_RC4_128_SHA
    (0xc017, Anonymous), // TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA
    (0xc018, Anonymous), // TLS_ECDH_anon_WITH_AES_128_CBC_SHA
    (0xc019, Anonymous), // TLS_ECDH_anon_WITH_AES_256_CBC_SHA
    (0x0004, Rc4),       // TLS_RSA_WITH_RC4_128_MD5
    (0x0005, Rc4),       // TLS_RSA_WITH_RC4_128_SHA
    (0x0066, Rc4),       // TLS_DHE_DSS_WITH_RC4_128_SHA
    (0xc002, Rc4),       // TLS_ECDH_ECDSA_WITH_RC4_128_SHA
    (0xc007, Rc4),       // TLS_ECDHE_ECDSA_WITH_RC4_128_SHA
    (0xc00c, Rc4),       // TLS_ECDH_RSA_WITH_RC4_128_SHA
    (0xc011, Rc4),       // TLS_ECDHE_RSA_WITH_RC4_128_SHA
    (0x0009, Des),       // TLS_RSA_WITH_DES_CBC_SHA
    (0x000c, Des),       // TLS_DH_DSS_WITH_DES_CBC_SHA
    (0x000f, Des),       // TLS_DH_RSA_WITH_DES_CBC_SHA
    (0x0012, Des),       // TLS_DHE_DSS_WITH_DES_CBC_SHA
    (0x0015, Des),       // TLS_DHE_RSA_WITH_DES_CBC_SHA
    (0x000a, TripleDes), // TLS_RSA_WITH_3DES_EDE_CBC_SHA
    (0x000d, TripleDes), // TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA
    (0x0010, TripleDes), // TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA
    (0x0013, TripleDes), // TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA
    (0x0016, TripleDes), // TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA
    (0xc003, TripleDes), // TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA
    (0xc008, TripleDes), // TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA
    (0xc00d, TripleDes), // TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA
    (0xc012, TripleDes), // TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA
];

/// Suites that are not weak, offered first by a version probe: ECDHE with AEAD, then CBC, then
/// DHE and plain RSA key exchange, then older ciphers (Camellia, SEED) and static ECDH.
pub(crate) const OTHERS: &[u16] = &[
    0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, // ECDHE AES-GCM, ChaCha20
    0xc009, 0xc013, 0xc00a, 0xc014, 0xc023, 0xc027, 0xc024, 0xc028, // ECDHE AES-CBC
    0x009e, 0x009f, 0xccaa, 0x0033, 0x0039, 0x0067, 0x006b, 0x0032, 0x0038, // DHE
    0x009c, 0x009d, 0x002f, 0x0035, 0x003c, 0x003d, // RSA key exchange
    0x0041, 0x0084, 0x0045, 0x0088, 0x0096, // Camellia, SEED
    0xc004, 0xc005, 0xc00e, 0xc00f, // static ECDH
];

/// `TLS_EMPTY_RENEGOTIATION_INFO_SCSV`, sent with every hello (RFC 5746) in place of the extension.
pub(crate) const RENEGOTIATION_SCSV: u16 = 0x00ff;

/// How many weak-scan connections at most.
const MAX_WEAK_PROBES: usize = 5;

/// Every suite a version probe offers: [`OTHERS`] then [`WEAK`].
pub(crate) fn catch_all() -> Vec<u16> {
    OTHERS.iter().copied().chain(WEAK.iter().map(|&(code, _)| code)).collect()
}

/// Why `code` is weak, if it is.
pub(crate) fn weak_class(code: u16) -> Option<WeakClass> {
    WEAK.iter().find(|&&(c, _)| c == code).map(|&(_, class)| class)
}

/// The IANA name of a suite, or its number.
pub(crate) fn name(code: u16) -> String {
    rustls::CipherSuite::from(code).as_str().map_or_else(|| format!("0x{code:04X}"), str::to_string)
}

/// What the weak scan found.
#[derive(Debug, Default)]
pub(crate) struct WeakScan {
    /// Weak suites the server picked, in the order found.
    pub found: Vec<u16>,
    /// Why the scan stopped early, if it did for a reason worth telling.
    pub note: Option<String>,
}

/// Offers only weak suites at `version`, on up to [`MAX_WEAK_PROBES`] fresh connections, each time
/// without the classes of what the server picked before (or of `known`, already seen accepted):
/// the result is at most one suite per [`WeakClass`], not every weak suite the server takes.
pub(crate) async fn weak_scan(
    budget: &mut Budget,
    target: &Target,
    starttls: StartTls,
    version: Version,
    known: &[u16],
) -> WeakScan {
    let mut scan = WeakScan::default();
    for _ in 0..MAX_WEAK_PROBES {
        // Each round leaves out the classes already shown, so the list names different
        // weaknesses (3DES and RC4 and NULL) rather than five NULL variants.
        let shown: Vec<WeakClass> = known.iter().chain(&scan.found).filter_map(|&c| weak_class(c)).collect();
        let offer: Vec<u16> = WEAK.iter().filter(|(_, class)| !shown.contains(class)).map(|&(c, _)| c).collect();
        if offer.is_empty() {
            break;
        }
        match versions::hello_probe(budget, target, starttls, version, &offer, false).await {
            Ok(HelloOutcome::Accepted { version: v, suite, .. }) if offer.contains(&suite) && v <= version.wire() => {
                scan.found.push(suite);
            }
            Ok(HelloOutcome::Accepted { version: v, suite, .. }) => {
                scan.note = Some(format!("weak-suite scan: server chose {} (0x{v:04X}), not offered", name(suite)));
                break;
            }
            Ok(HelloOutcome::Alert { .. } | HelloOutcome::Refused(_)) => break,
            Ok(HelloOutcome::Odd(what)) => {
                scan.note = Some(format!("weak-suite scan: {what}"));
                break;
            }
            Err(e) => {
                scan.note = Some(format!("weak-suite scan: {}", e.note()));
                break;
            }
        }
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_weak_suite_has_an_iana_name_that_shows_its_class() {
        for &(code, class) in WEAK {
            let name = name(code);
            let marker = match class {
                Null => "NULL",
                Export => "EXPORT",
                Rc4 => "RC4",
                Des => "_DES_CBC",
                TripleDes => "3DES",
                Anonymous => "anon",
            };
            assert!(name.contains(marker), "0x{code:04x} is {name}, expected {marker}");
        }
    }

    #[test]
    fn no_suite_is_offered_twice_and_others_are_not_weak() {
        let all = catch_all();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
        for &code in OTHERS {
            assert!(weak_class(code).is_none());
            let name = name(code);
            assert!(!name.starts_with("0x"), "0x{code:04x} has no IANA name");
            for bad in ["NULL", "EXPORT", "RC4", "_DES_CBC", "3DES", "anon"] {
                assert!(!name.contains(bad), "{name} is in OTHERS");
            }
        }
        assert!(!all.contains(&RENEGOTIATION_SCSV));
    }

    #[test]
    fn names() {
        assert_eq!(name(0x000a), "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
        assert_eq!(weak_class(0x000a), Some(TripleDes));
        assert_eq!(name(0x0a0a), "0x0A0A"); // a GREASE value
    }
}
