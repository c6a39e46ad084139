//! The anonymised summary (`wijk.summary/1`) and its signed envelope (`wijk.signed-summary/2`, which
//! also lists the receipt schemas the agent reads; `/1`, without that list, is still read).
//!
//! A summary holds only counts and identifiers from closed vocabularies: weakness ids and service
//! kinds are slugs (`[a-z0-9][a-z0-9.-]*`), everything else is a number, a flag or a fixed word. No
//! address, host name, MAC, banner or certificate subject fits in it, and [`Summary::validate`] refuses
//! anything that tries (a string built to break SQL or HTML is not a slug).
//!
//! The envelope carries the summary as a JSON object and an Ed25519 signature over its canonical
//! bytes: [`SIGNING_CONTEXT`] followed by the compact JSON serde writes for [`Summary`] (fields in
//! declaration order, lists sorted by [`Summary::normalise`]). The reader parses the object into the
//! typed struct (unknown fields refused), writes it again and checks the signature over that, so any
//! change of a value breaks the signature while formatting does not matter.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{is_agent_id, BATCH_RECEIPT_SCHEMA, SIGNED_SUMMARY_SCHEMA, SIGNED_SUMMARY_SCHEMA_1, SUMMARY_SCHEMA};

/// Largest MQTT payload accepted for a signed summary.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Most service kinds in one summary.
pub const MAX_SERVICE_KINDS: usize = 128;
/// Most weakness ids in one summary.
pub const MAX_WEAKNESSES: usize = 256;
/// Largest count (the agent's scope is capped at 2^24 addresses).
pub const MAX_COUNT: u32 = 1 << 24;
/// Most receipt schemas an envelope lists.
pub const MAX_RECEIPT_SCHEMAS: usize = 8;
/// Longest slug (weakness id, service kind).
pub const MAX_SLUG: usize = 48;
/// Bytes signed before the canonical JSON, so a signature over a summary means nothing elsewhere.
pub const SIGNING_CONTEXT: &[u8] = b"wijk.summary/1\0";

/// How bad a weakness is (the catalog's severities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Fix when convenient.
    Low,
    /// Fix in the normal planning.
    Medium,
    /// Fix soon.
    High,
    /// Fix now.
    Critical,
}

impl Severity {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What one scan of one organisation amounts to, without anything that identifies a machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Always [`SUMMARY_SCHEMA`].
    pub schema: String,
    /// Pseudonymous agent id from enrollment.
    pub agent: String,
    /// Per-agent sequence number, from 1, one per summary.
    pub seq: u64,
    /// ISO week the scan finished in, `YYYY-Www`.
    pub week: String,
    /// wijkagent version (`0.1.0`).
    pub agent_version: String,
    /// Port profile: `quick`, `standard`, `full` or `custom`.
    pub profile: String,
    /// False when the scan stopped early.
    pub complete: bool,
    /// Overall counts.
    pub counts: Counts,
    /// Open services per kind (`ssh`, `http`, ...), sorted by kind.
    pub services: Vec<ServiceCount>,
    /// Weaknesses with the number of hosts affected, sorted by id.
    pub weaknesses: Vec<WeaknessCount>,
    /// TLS hygiene.
    pub tls: TlsCounts,
}

/// Overall counts of a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Hosts that answered.
    pub hosts_alive: u32,
    /// Open ports, TCP and UDP.
    pub open_services: u32,
    /// Services that speak TLS (STARTTLS included).
    pub tls_endpoints: u32,
}

/// Open services of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceCount {
    /// Service kind, a slug (`ssh`, `http`, `microsoft-ds`, `other`).
    pub kind: String,
    /// How many open ports run it.
    pub services: u32,
}

/// One weakness across the organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeaknessCount {
    /// Catalog weakness id.
    pub id: String,
    /// Its severity.
    pub severity: Severity,
    /// Hosts affected.
    pub hosts: u32,
}

/// TLS endpoints by what they accept and what their certificates show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsCounts {
    /// Endpoints accepting each protocol version.
    pub protocols: ProtocolCounts,
    /// Endpoints accepting a weak cipher suite (RC4, 3DES, NULL, EXPORT, anonymous).
    pub weak_ciphers: u32,
    /// Certificates by verdict.
    pub certificates: CertificateCounts,
}

/// Endpoints accepting each TLS protocol version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolCounts {
    /// SSL 3.0.
    pub sslv3: u32,
    /// TLS 1.0.
    pub tls1_0: u32,
    /// TLS 1.1.
    pub tls1_1: u32,
    /// TLS 1.2.
    pub tls1_2: u32,
    /// TLS 1.3.
    pub tls1_3: u32,
}

/// Certificates seen on TLS endpoints, by verdict (one certificate may count under several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateCounts {
    /// Endpoints that showed a certificate.
    pub seen: u32,
    /// Past their end of validity.
    pub expired: u32,
    /// Ending within 30 days.
    pub expiring: u32,
    /// Not valid yet.
    pub not_yet_valid: u32,
    /// Issued by themselves.
    pub self_signed: u32,
    /// Not leading to a Mozilla root.
    pub untrusted: u32,
    /// RSA under 2048 bits or EC under 256.
    pub weak_key: u32,
    /// Signed with SHA-1 or MD5.
    pub weak_signature: u32,
    /// Not naming the host they were reached under.
    pub name_mismatch: u32,
}

/// Why a summary or envelope is refused. [`SummaryError::code`] is the short reason used in receipts
/// and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SummaryError {
    /// Payload larger than [`MAX_PAYLOAD_BYTES`].
    #[error("payload of {0} bytes is larger than the {MAX_PAYLOAD_BYTES} allowed")]
    TooLarge(usize),
    /// Not JSON of the expected shape.
    #[error("not a readable signed summary: {0}")]
    Malformed(String),
    /// A schema this version does not read.
    #[error(
        "unknown schema {0:?} (this wijkpost reads {SIGNED_SUMMARY_SCHEMA} and {SIGNED_SUMMARY_SCHEMA_1} with {SUMMARY_SCHEMA})"
    )]
    UnknownSchema(String),
    /// A value out of bounds or of the wrong form.
    #[error("invalid field {field}: {why}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The signature does not verify with the agent's enrolled key.
    #[error("signature does not match the agent's enrolled key")]
    BadSignature,
}

impl SummaryError {
    /// Short stable reason: `too-large`, `malformed`, `unknown-schema`, `invalid`, `bad-signature`.
    pub fn code(&self) -> &'static str {
        match self {
            SummaryError::TooLarge(_) => "too-large",
            SummaryError::Malformed(_) => "malformed",
            SummaryError::UnknownSchema(_) => "unknown-schema",
            SummaryError::Invalid { .. } => "invalid",
            SummaryError::BadSignature => "bad-signature",
        }
    }
}

fn invalid(field: &'static str, why: impl Into<String>) -> SummaryError {
    SummaryError::Invalid { field, why: why.into() }
}

/// Whether `s` is a slug: lowercase letters, digits, `.` and `-`, starting with a letter or digit.
pub fn is_slug(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.len() <= MAX_SLUG
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// Whether `week` is an ISO week `YYYY-Www` that exists (week 53 only in long years), years 2000-2199.
pub fn is_iso_week(week: &str) -> bool {
    let b = week.as_bytes();
    if b.len() != 8 || b[4] != b'-' || b[5] != b'W' {
        return false;
    }
    let (Ok(year), Ok(w)) = (week[..4].parse::<i32>(), week[6..].parse::<u32>()) else { return false };
    if !(2000..2200).contains(&year) || !b[..4].iter().chain(&b[6..]).all(u8::is_ascii_digit) {
        return false;
    }
    (1..=iso_weeks_in(year)).contains(&w)
}

/// 52 or 53: a year has 53 ISO weeks when it starts on a Thursday, or on a Wednesday in a leap year.
fn iso_weeks_in(year: i32) -> u32 {
    // Day of the week of 1 January (0 = Monday), by Gauss's method.
    let y = year - 1;
    let jan1 = (1 + 5 * (y % 4) + 4 * (y % 100) + 6 * (y % 400)) % 7; // 0 = Sunday
    let monday_based = (jan1 + 6) % 7;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if monday_based == 3 || (leap && monday_based == 2) {
        53
    } else {
        52
    }
}

impl Summary {
    /// Sorts the lists and merges duplicates, so equal content gives equal canonical bytes.
    pub fn normalise(&mut self) {
        self.services.sort_by(|a, b| a.kind.cmp(&b.kind));
        self.services.dedup_by(|b, a| {
            let same = a.kind == b.kind;
            if same {
                a.services = a.services.saturating_add(b.services);
            }
            same
        });
        self.weaknesses.sort_by(|a, b| a.id.cmp(&b.id));
        self.weaknesses.dedup_by(|b, a| {
            let same = a.id == b.id;
            if same {
                a.hosts = a.hosts.max(b.hosts);
                a.severity = a.severity.max(b.severity);
            }
            same
        });
    }

    /// The bytes the signature covers: [`SIGNING_CONTEXT`] and the compact JSON.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut bytes = SIGNING_CONTEXT.to_vec();
        // Serialising plain structs of strings, numbers and lists cannot fail.
        bytes.extend(serde_json::to_vec(self).unwrap_or_default());
        bytes
    }

    /// Checks every bound of the contract; the first problem found is the error.
    pub fn validate(&self) -> Result<(), SummaryError> {
        if self.schema != SUMMARY_SCHEMA {
            return Err(SummaryError::UnknownSchema(self.schema.chars().take(64).collect()));
        }
        if !is_agent_id(&self.agent) {
            return Err(invalid("agent", "not an agent id (8-40 lowercase letters and digits)"));
        }
        if self.seq == 0 || self.seq > i64::MAX as u64 {
            return Err(invalid("seq", "must be between 1 and 2^63-1"));
        }
        if !is_iso_week(&self.week) {
            return Err(invalid("week", "not an ISO week YYYY-Www"));
        }
        let version_ok = |v: &str| {
            !v.is_empty() && v.len() <= 32 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
        };
        if !version_ok(&self.agent_version) {
            return Err(invalid("agent_version", "not a version (up to 32 of [A-Za-z0-9.+-])"));
        }
        if !["quick", "standard", "full", "custom"].contains(&self.profile.as_str()) {
            return Err(invalid("profile", "not one of quick, standard, full, custom"));
        }
        self.validate_counts()?;
        self.validate_lists()
    }

    fn validate_counts(&self) -> Result<(), SummaryError> {
        let c = &self.counts;
        if c.hosts_alive > MAX_COUNT || c.open_services > MAX_COUNT {
            return Err(invalid("counts", format!("counts above {MAX_COUNT}")));
        }
        if c.tls_endpoints > c.open_services {
            return Err(invalid("counts.tls_endpoints", "more TLS endpoints than open services"));
        }
        let p = &self.tls.protocols;
        let certs = &self.tls.certificates;
        let per_endpoint = [p.sslv3, p.tls1_0, p.tls1_1, p.tls1_2, p.tls1_3, self.tls.weak_ciphers, certs.seen];
        if per_endpoint.iter().any(|&n| n > c.tls_endpoints) {
            return Err(invalid("tls", "a TLS count is larger than counts.tls_endpoints"));
        }
        let verdicts = [
            certs.expired,
            certs.expiring,
            certs.not_yet_valid,
            certs.self_signed,
            certs.untrusted,
            certs.weak_key,
            certs.weak_signature,
            certs.name_mismatch,
        ];
        if verdicts.iter().any(|&n| n > certs.seen) {
            return Err(invalid("tls.certificates", "a verdict count is larger than certificates.seen"));
        }
        Ok(())
    }

    fn validate_lists(&self) -> Result<(), SummaryError> {
        if self.services.len() > MAX_SERVICE_KINDS {
            return Err(invalid("services", format!("more than {MAX_SERVICE_KINDS} kinds")));
        }
        if self.weaknesses.len() > MAX_WEAKNESSES {
            return Err(invalid("weaknesses", format!("more than {MAX_WEAKNESSES} ids")));
        }
        if !self.services.windows(2).all(|w| w[0].kind < w[1].kind) {
            return Err(invalid("services", "kinds not sorted or repeated"));
        }
        if !self.weaknesses.windows(2).all(|w| w[0].id < w[1].id) {
            return Err(invalid("weaknesses", "ids not sorted or repeated"));
        }
        for s in &self.services {
            if !is_slug(&s.kind) {
                return Err(invalid("services.kind", "not a slug ([a-z0-9][a-z0-9.-]*, at most 48)"));
            }
            if s.services == 0 || s.services > self.counts.open_services {
                return Err(invalid("services.services", "zero or more than counts.open_services"));
            }
        }
        for w in &self.weaknesses {
            if !is_slug(&w.id) {
                return Err(invalid("weaknesses.id", "not a slug ([a-z0-9][a-z0-9.-]*, at most 48)"));
            }
            if w.hosts == 0 || w.hosts > self.counts.hosts_alive {
                return Err(invalid("weaknesses.hosts", "zero or more than counts.hosts_alive"));
            }
        }
        Ok(())
    }
}

/// The MQTT payload: a summary and the agent's signature over its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedSummary {
    /// [`SIGNED_SUMMARY_SCHEMA`], or [`SIGNED_SUMMARY_SCHEMA_1`] from an older agent.
    pub schema: String,
    /// The receipt schemas beyond `wijk.receipt/1` (which every agent reads) that the agent reads,
    /// such as [`BATCH_RECEIPT_SCHEMA`]; present in `/2` only. Not signed: it decides no more than
    /// the form of the agent's own receipts, and only the agent may publish on its topic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receipts: Vec<String>,
    /// The summary.
    pub summary: Summary,
    /// Ed25519 signature over [`Summary::canonical_bytes`], base64 (standard alphabet, padded).
    pub signature: String,
}

impl SignedSummary {
    /// Normalises `summary` and signs it with the agent's key, in the envelope this version writes
    /// (it reads batch receipts).
    pub fn sign(mut summary: Summary, key: &SigningKey) -> SignedSummary {
        summary.normalise();
        let signature = key.sign(&summary.canonical_bytes());
        SignedSummary {
            schema: SIGNED_SUMMARY_SCHEMA.to_string(),
            receipts: vec![BATCH_RECEIPT_SCHEMA.to_string()],
            summary,
            signature: base64_encode(&signature.to_bytes()),
        }
    }

    /// Whether the agent reads `wijk.receipt/2` (several of its summaries answered at once).
    pub fn reads_batch_receipts(&self) -> bool {
        self.receipts.iter().any(|r| r == BATCH_RECEIPT_SCHEMA)
    }

    /// The payload bytes (compact JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a payload: bounded size, JSON of the right shape, known schemas, valid summary. The
    /// signature is checked separately ([`SignedSummary::verify`]) once the agent's key is known.
    pub fn decode(payload: &[u8]) -> Result<SignedSummary, SummaryError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(SummaryError::TooLarge(payload.len()));
        }
        let signed = match serde_json::from_slice::<SignedSummary>(payload) {
            Ok(signed) => signed,
            // Tell an unknown schema (a newer agent) apart from a broken payload.
            Err(e) => return Err(schema_error(payload).unwrap_or_else(|| SummaryError::Malformed(e.to_string()))),
        };
        match signed.schema.as_str() {
            SIGNED_SUMMARY_SCHEMA => check_receipt_schemas(&signed.receipts)?,
            SIGNED_SUMMARY_SCHEMA_1 if signed.receipts.is_empty() => {}
            SIGNED_SUMMARY_SCHEMA_1 => {
                return Err(SummaryError::Malformed(format!("unknown field `receipts` in {SIGNED_SUMMARY_SCHEMA_1}")))
            }
            other => return Err(SummaryError::UnknownSchema(other.chars().take(64).collect())),
        }
        signed.summary.validate()?;
        Ok(signed)
    }

    /// The signature's bytes, or [`SummaryError::BadSignature`] when it is not one.
    pub fn signature(&self) -> Result<Signature, SummaryError> {
        let bytes = base64_decode(&self.signature).ok_or(SummaryError::BadSignature)?;
        Signature::from_slice(&bytes).map_err(|_| SummaryError::BadSignature)
    }

    /// Checks the signature with the agent's enrolled key.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), SummaryError> {
        key.verify(&self.summary.canonical_bytes(), &self.signature()?).map_err(|_| SummaryError::BadSignature)
    }
}

/// The list of receipt schemas of a `/2` envelope: 1 to [`MAX_RECEIPT_SCHEMAS`] ids of the form
/// `name/N` (ids this version does not know are allowed: the agent may read newer ones).
fn check_receipt_schemas(receipts: &[String]) -> Result<(), SummaryError> {
    if receipts.is_empty() || receipts.len() > MAX_RECEIPT_SCHEMAS {
        return Err(invalid("receipts", format!("1 to {MAX_RECEIPT_SCHEMAS} receipt schemas, not {}", receipts.len())));
    }
    let well_formed = |id: &str| {
        id.len() <= MAX_SLUG
            && id
                .split_once('/')
                .is_some_and(|(name, n)| is_slug(name) && n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty())
    };
    match receipts.iter().find(|id| !well_formed(id)) {
        Some(bad) => {
            Err(invalid("receipts", format!("{:?} is not a schema id", bad.chars().take(64).collect::<String>())))
        }
        None => Ok(()),
    }
}

/// For a payload that is not a signed summary of a version this one reads: the unknown schema it
/// names, if it names one (outer first, then the summary's).
fn schema_error(payload: &[u8]) -> Option<SummaryError> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let outer = value.get("schema").and_then(|s| s.as_str()).unwrap_or("");
    let inner = value.get("summary").and_then(|s| s.get("schema")).and_then(|s| s.as_str()).unwrap_or("");
    if ![SIGNED_SUMMARY_SCHEMA, SIGNED_SUMMARY_SCHEMA_1].contains(&outer) {
        return Some(SummaryError::UnknownSchema(outer.chars().take(64).collect()));
    }
    (inner != SUMMARY_SCHEMA).then(|| SummaryError::UnknownSchema(inner.chars().take(64).collect()))
}

/// Base64, standard alphabet with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Base64 (standard alphabet, padded), `None` when malformed.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
