//! Signed consent: the only source of what wijkagent may scan, how fast and when.
//!
//! A consent is a TOML scope document (shape in DESIGN.md, "Consent") plus a detached Ed25519
//! signature over its exact bytes (`scope.toml.sig`). [`load`] reads both, checks the signature
//! against the trusted public keys *before* parsing anything, then parses and validates the
//! document and returns a [`Consent`]. [`Consent::check_time`] then says whether scanning is
//! allowed *now*. Nothing in this module sends a packet; everything downstream takes its targets
//! from [`Consent::scope`] only.
//!
//! Parts: [`document`] (serde shape and validation), [`scope`] (address arithmetic), [`signature`]
//! (keys, signing, verification, file formats), [`window`] (time windows in a time zone),
//! [`template`](mod@template) (`consent init`). Every refusal is a [`ConsentError`] whose message is one line,
//! Dutch then English, saying what is wrong and what to do; [`ConsentError::exit_code`] is 3.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::ports::Profile;
pub use document::Document;

pub mod document;
pub mod scope;
pub mod signature;
pub mod template;
pub mod window;

pub use scope::{AddrRange, Scope};
pub use signature::{fingerprint, keygen, sign_file};
pub use template::template;
pub use window::Schedule;

use window::{brussels_en, brussels_nl};

/// Exit code of every consent refusal.
pub const EXIT_REFUSED: i32 = 3;

/// Why a consent cannot be used. Every message is one line: Dutch, then English after " / ".
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// The signature file does not exist.
    #[error("handtekening {path} ontbreekt; onderteken na nazicht met `wijkagent consent sign {document}` / signature file {path} missing; sign after review with `wijkagent consent sign {document}`")]
    SignatureMissing {
        /// The expected signature file.
        path: PathBuf,
        /// The document it should sign.
        document: PathBuf,
    },
    /// The signature file is not in the expected format.
    #[error("handtekening {path} is onleesbaar ({reason}); onderteken opnieuw met `wijkagent consent sign` / signature file {path} malformed ({reason}); sign again with `wijkagent consent sign`")]
    SignatureMalformed {
        /// The signature file.
        path: PathBuf,
        /// What is wrong (English).
        reason: String,
    },
    /// The signature was made by a trusted key but does not match the document.
    #[error("handtekening {signature} past niet bij {document}: document of handtekening is gewijzigd; laat het nazien en onderteken opnieuw / signature does not match {document}: document or signature was tampered with; re-sign after review")]
    SignatureMismatch {
        /// The document.
        document: PathBuf,
        /// The signature file.
        signature: PathBuf,
    },
    /// The signing key is not among the trusted keys.
    #[error("ondertekend met sleutel {fingerprint} die niet vertrouwd wordt; vertrouw de publieke sleutel met --trust <consent.pub> als dat terecht is / signed with key {fingerprint} which is not trusted; trust its public key with --trust <consent.pub> if that is right")]
    UntrustedSigner {
        /// Fingerprint named in the signature file.
        fingerprint: String,
    },
    /// No trusted key is configured at all.
    #[error("geen vertrouwde sleutels ingesteld; voeg een publieke sleutel toe met --trust <consent.pub> / no trusted keys configured; add a public key with --trust <consent.pub>")]
    NoTrustedKeys,
    /// A trusted public key file cannot be read or is invalid.
    #[error("vertrouwde sleutel {path} onbruikbaar ({reason}); controleer het --trust-bestand / trusted key file {path} unusable ({reason}); check the --trust file")]
    TrustedKeyUnreadable {
        /// The key file.
        path: PathBuf,
        /// What is wrong (English).
        reason: String,
    },
    /// The private key file is invalid.
    #[error("sleutelbestand {path} onleesbaar ({reason}); gebruik een bestand van `wijkagent consent keygen` / key file {path} unreadable ({reason}); use a file made by `wijkagent consent keygen`")]
    KeyUnreadable {
        /// The key file.
        path: PathBuf,
        /// What is wrong (English).
        reason: String,
    },
    /// The private key file is readable by group or others.
    #[error("sleutelbestand {path} is toegankelijk voor groep of anderen (modus {mode:03o}); voer `chmod 600 {path}` uit / key file {path} is accessible to group or others (mode {mode:03o}); run `chmod 600 {path}`")]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// `keygen` refuses to overwrite a key.
    #[error("{path} bestaat al en wordt niet overschreven; kies een andere map of verwijder de oude sleutel bewust / {path} already exists and is not overwritten; choose another directory or remove the old key deliberately")]
    KeyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The document is not valid TOML or has unknown or missing keys.
    #[error("{path} regel {line}, kolom {column}: ongeldige TOML, verbeter en onderteken opnieuw / {path} line {line}, column {column}: invalid TOML: {message}")]
    Toml {
        /// The document.
        path: PathBuf,
        /// 1-based line (0 if unknown).
        line: usize,
        /// 1-based column (0 if unknown).
        column: usize,
        /// The parser's message (English).
        message: String,
    },
    /// A field has a value that is not allowed.
    #[error("veld {field} ongeldig: {nl} / field {field} invalid: {en}")]
    InvalidField {
        /// Dotted field name, e.g. `scope.max_rate` or `window[2].from`.
        field: String,
        /// What is wrong and what is allowed, in Dutch.
        nl: String,
        /// The same in English.
        en: String,
    },
    /// A scope entry cannot be parsed.
    #[error("{field}: \"{entry}\" ongeldig: {nl}; toegelaten: CIDR, bereik a-b of één adres / {field}: \"{entry}\" invalid: {en}; allowed: CIDR, range a-b or a single address")]
    ScopeEntry {
        /// `scope.include`, `scope.exclude` or `scope.fragile`.
        field: String,
        /// The entry as written.
        entry: String,
        /// Dutch reason.
        nl: String,
        /// English reason.
        en: String,
    },
    /// Nothing is left to scan after exclusion.
    #[error("scope is leeg na exclude: er blijft geen enkel doel over; herzie include en exclude / scope is empty after exclusion: no target left; review include and exclude")]
    ScopeEmpty,
    /// Too many targets.
    #[error("scope te groot{e}: {count} adressen, hoogstens 16777216; som expliciete adressen op of gebruik kleinere prefixen (IPv6: /104 of langer) / scope too large{e}: {count} addresses, at most 16777216; list explicit addresses or smaller prefixes (IPv6: /104 or longer)", e = .entry.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    ScopeTooLarge {
        /// The include entry that is too large, or `None` for the total.
        entry: Option<String>,
        /// Number of addresses.
        count: u128,
    },
    /// `valid_from` lies in the future.
    #[error("toestemming nog niet geldig, pas vanaf {from}; wacht of laat een nieuwe toestemming ondertekenen / consent not yet valid, only from {from}; wait or have a new consent signed")]
    NotYetValid {
        /// Start of validity.
        from: DateTime<FixedOffset>,
    },
    /// `valid_until` has passed.
    #[error("toestemming verlopen sinds {since}; laat een nieuwe toestemming ondertekenen / consent expired since {since}; have a new consent signed")]
    Expired {
        /// End of validity.
        since: DateTime<FixedOffset>,
    },
    /// Valid, but not inside a window now.
    #[error("buiten elk tijdvenster; {} / outside every time window; {}", next_nl(.next.as_ref()), next_en(.next.as_ref()))]
    OutsideWindow {
        /// Start of the next window before the consent expires, if any.
        next: Option<DateTime<Utc>>,
    },
    /// The document has no `[[window]]` at all.
    #[error("toestemming zonder [[window]]: er mag nooit gescand worden; voeg een tijdvenster toe en onderteken opnieuw / consent without [[window]]: scanning is never allowed; add a time window and sign again")]
    NoWindow,
    /// Reading or writing a file failed.
    #[error("fout bij {path}: controleer pad en rechten / I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

fn next_nl(next: Option<&DateTime<Utc>>) -> String {
    next.map_or_else(
        || "geen venster meer voor de toestemming verloopt".into(),
        |t| format!("volgende venster opent {}", brussels_nl(t)),
    )
}

fn next_en(next: Option<&DateTime<Utc>>) -> String {
    next.map_or_else(
        || "no window left before the consent expires".into(),
        |t| format!("next window opens {}", brussels_en(t)),
    )
}

impl ConsentError {
    /// Process exit code: 3 for every refusal (all variants, I/O on the scope file included).
    pub fn exit_code(&self) -> i32 {
        EXIT_REFUSED
    }
}

/// A consent whose signature checked out and whose content is valid: the document's terms plus the
/// facts of its signature.
#[derive(Debug, Clone)]
pub struct Consent {
    /// What the signed document says.
    pub terms: Document,
    /// SHA-256 (hex) of the exact signed bytes.
    pub sha256: String,
    /// Fingerprint of the key that signed, or `self` for a `--self` consent.
    pub signer: String,
}

fn utc_date(y: i32, m: u32, d: u32) -> Option<DateTime<FixedOffset>> {
    NaiveDate::from_ymd_opt(y, m, d)?.and_hms_opt(0, 0, 0).map(|n| n.and_utc().fixed_offset())
}

impl Consent {
    /// The implicit consent of `scan --self`: 127.0.0.1 and ::1 only, always open.
    pub fn self_loopback() -> Consent {
        let loopback = ["127.0.0.1".to_string(), "::1".to_string()];
        let terms = Document {
            organisation: "eigen machine (--self)".into(),
            authorised_by: "lokale gebruiker / local user".into(),
            role: String::new(),
            contact: String::new(),
            purpose: "scan van de eigen machine via loopback / scan of this machine over loopback".into(),
            valid_from: utc_date(2000, 1, 1).unwrap_or(DateTime::<Utc>::MIN_UTC.fixed_offset()),
            valid_until: utc_date(9999, 12, 31).unwrap_or(DateTime::<Utc>::MAX_UTC.fixed_offset()),
            // Two fixed single addresses: cannot fail; an empty scope would only refuse more.
            scope: Scope::new(&loopback, &[], &[]).unwrap_or_default(),
            profile: Profile::Full,
            // Loopback never leaves this machine, so the cap only guards its own services.
            max_rate: 5000,
            max_per_host_rate: 5000,
            ot_identification: false,
            schedule: Schedule::always(),
        };
        Consent { terms, sha256: "self".into(), signer: "self".into() }
    }

    /// Builds a consent from a validated document and the facts of its signature.
    pub fn from_document(terms: Document, sha256: String, signer: String) -> Consent {
        Consent { terms, sha256, signer }
    }

    /// Whether scanning is allowed at `now`: within validity and inside a window.
    pub fn check_time(&self, now: DateTime<Utc>) -> Result<(), ConsentError> {
        if now < self.terms.valid_from {
            return Err(ConsentError::NotYetValid { from: self.terms.valid_from });
        }
        if now >= self.terms.valid_until {
            return Err(ConsentError::Expired { since: self.terms.valid_until });
        }
        if self.terms.schedule.is_never() {
            return Err(ConsentError::NoWindow);
        }
        if self.terms.schedule.is_open(now) {
            return Ok(());
        }
        let next = self.terms.schedule.next_open(now).filter(|t| *t < self.terms.valid_until);
        Err(ConsentError::OutsideWindow { next })
    }
}

/// Reads `scope_path` and `scope_path.sig`, verifies against `trusted_keys`, parses and validates.
pub fn load(scope_path: &Path, trusted_keys: &[PathBuf]) -> Result<Consent, ConsentError> {
    let bytes =
        std::fs::read(scope_path).map_err(|source| ConsentError::Io { path: scope_path.to_path_buf(), source })?;
    let signer = signature::verify(scope_path, &bytes, trusted_keys)?;
    let doc = document::parse(&bytes, scope_path)?;
    Ok(Consent::from_document(doc, hex::encode(Sha256::digest(&bytes)), signer))
}

/// Validates the document at `doc` (without a signature) and, if it is valid, signs it with the
/// key file `key`, writing `<doc>.sig`. Refuses to sign a document that [`load`] would refuse.
pub fn sign(doc: &Path, key: &Path) -> Result<PathBuf, ConsentError> {
    let bytes = std::fs::read(doc).map_err(|source| ConsentError::Io { path: doc.to_path_buf(), source })?;
    document::parse(&bytes, doc)?;
    signature::sign_bytes(doc, &bytes, key)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
