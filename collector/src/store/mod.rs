//! Where wijkpost keeps what it knows: one [`Store`] trait, two backends.
//!
//! - [`sqlite`]: the default, one file (`DATA/wijkpost.db`) in WAL mode with `synchronous=FULL`, so a
//!   committed summary survives a power cut; good for one wijkpost instance.
//! - [`postgres`]: for several instances sharing the load (`--database postgres://…`).
//!
//! The methods are synchronous; every component opens its own connection with
//! [`StoreConfig::open`] and calls it from a blocking thread (`spawn_blocking`, or a thread of its
//! own). Opening applies the versioned [`migrations`]; a database written by a newer wijkpost is
//! refused rather than misread.
//!
//! Tables (the same in both backends; times are Unix seconds, UTC):
//!
//! | table | rows |
//! |---|---|
//! | `schema_migrations` | `version`, `applied_at`: one per migration step applied |
//! | `tokens` | one-time enrollment tokens: `id`, `secret_hash` (SHA-256 of the secret, never the secret), `org`, `sector`, `size_class`, `province`, `created_at`, `expires_at`, `used_at`, `used_by` |
//! | `agents` | enrolled agents: `id` (pseudonymous, 24 hex), `signing_key` (Ed25519, 32 bytes), `cert_serial`, `org`, `sector`, `size_class`, `province`, `enrolled_at`, `token_id` |
//! | `summaries` | `(agent, seq)` once: `week`, `received_at`, `payload` (the validated summary JSON) |
//! | `rejected` | the newest rejected payloads (bounded): `agent`, `topic`, `reason`, `detail`, `received_at`, `payload` (first 4 KiB) |
//! | `rejected_counts` | `reason`, `count`: every rejection ever, never trimmed |
//! | `users` | dashboard users: `name`, `password_hash` (argon2id PHC string), `role` (`admin` \| `analyst`), `created_at`, `disabled` |

pub mod checkpoint;
pub mod migrations;
pub mod postgres;
pub mod sqlite;

#[cfg(test)]
mod conformance;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::org::Org;
use crate::users::{NewUser, User};

/// File name of the SQLite database inside the data directory.
pub const SQLITE_FILE: &str = "wijkpost.db";
/// How many rejected payloads are kept by default (the newest).
pub const REJECTED_KEEP: usize = 10_000;
/// How much of a rejected payload is kept.
pub const REJECTED_PAYLOAD_MAX: usize = 4096;
/// How much of a rejection's detail is kept.
pub const REJECTED_DETAIL_MAX: usize = 1024;

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The `--database` value is not one wijkpost understands.
    #[error("database {0:?} not understood: use sqlite:PATH or postgres://USER@HOST/DB")]
    BadUrl(String),
    /// SQLite said no.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// The data directory could not be prepared.
    #[error("{path}: {source}")]
    Io {
        /// Which path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database was migrated by a newer wijkpost.
    #[error(
        "the database is at schema version {found}, this wijkpost knows up to {known}: \
         run the newer wijkpost, or restore a backup made before the upgrade"
    )]
    TooNew {
        /// Version in the database.
        found: u32,
        /// Highest version this binary knows.
        known: u32,
    },
    /// A value read back is not what was written (a damaged or hand-edited row).
    #[error("damaged row: {0}")]
    Damaged(String),
    /// A value cannot be stored (out of range).
    #[error("cannot store: {0}")]
    Invalid(String),
}

/// What the ingest's log lines add when the disk under the database is full.
pub const DISK_FULL_ADVICE: &str = "; the disk holding the database is full: free space on it \
     (nothing was half-written; the agents keep what was not answered and send it again)";

impl StoreError {
    /// Whether the database said its disk is full (SQLite `SQLITE_FULL`, PostgreSQL `53100
    /// disk_full`, or the OS's ENOSPC / EDQUOT).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            StoreError::Postgres(e) => e.code() == Some(&::postgres::error::SqlState::DISK_FULL),
            StoreError::Io { source, .. } => {
                matches!(source.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
            }
            _ => false,
        }
    }
}

/// Which backend, where. Parsed from `--database`; the default is SQLite in the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgres://…` or `postgresql://…`).
    Postgres(String),
}

impl StoreConfig {
    /// `url` if given (`sqlite:PATH`, `postgres://…`), else `sqlite:DATA/wijkpost.db`.
    pub fn parse(url: Option<&str>, data_dir: &Path) -> Result<StoreConfig, StoreError> {
        match url {
            None => Ok(StoreConfig::Sqlite(data_dir.join(SQLITE_FILE))),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(StoreConfig::Postgres(u.to_string()))
            }
            Some(u) => match u.strip_prefix("sqlite:") {
                Some(path) if !path.is_empty() => Ok(StoreConfig::Sqlite(PathBuf::from(path))),
                _ => Err(StoreError::BadUrl(u.to_string())),
            },
        }
    }

    /// Opens a connection and brings the schema up to date.
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            StoreConfig::Sqlite(path) => Box::new(sqlite::SqliteStore::open(path)?),
            StoreConfig::Postgres(url) => Box::new(postgres::PgStore::open(url)?),
        })
    }

    /// Opens the connection the ingest commits through; for SQLite also the thread that
    /// checkpoints its write-ahead log ([`checkpoint`]), to keep while the ingest runs.
    pub fn open_for_ingest(&self) -> Result<(Box<dyn Store>, Option<checkpoint::Checkpointer>), StoreError> {
        Ok(match self {
            StoreConfig::Sqlite(path) => {
                let store = sqlite::SqliteStore::open_for_ingest(path)?;
                (Box::new(store), Some(checkpoint::Checkpointer::start(path)?))
            }
            StoreConfig::Postgres(url) => (Box::new(postgres::PgStore::open(url)?), None),
        })
    }

    /// For logs: the file, or the connection string without its password.
    pub fn describe(&self) -> String {
        match self {
            StoreConfig::Sqlite(path) => format!("sqlite:{}", path.display()),
            StoreConfig::Postgres(url) => redact_password(url),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_string() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// A token about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// Token id.
    pub id: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// Who it is for.
    pub org: Org,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// What presenting a token amounted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOutcome {
    /// The token was good and is now used; the organisation it was issued for.
    Consumed(Org),
    /// No such token, or the secret is wrong (deliberately one outcome).
    Unknown,
    /// Used before.
    Used,
    /// Past its expiry.
    Expired,
}

/// An agent about to be enrolled (its organisation comes from the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgent {
    /// Pseudonymous id.
    pub id: String,
    /// Ed25519 public key for summaries.
    pub signing_key: [u8; 32],
    /// Serial of its client certificate, hex.
    pub cert_serial: String,
}

/// An enrolled agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Pseudonymous id.
    pub id: String,
    /// Ed25519 public key for summaries.
    pub signing_key: [u8; 32],
    /// Serial of its client certificate, hex.
    pub cert_serial: String,
    /// Its organisation.
    pub org: Org,
    /// When it enrolled.
    pub enrolled_at: DateTime<Utc>,
}

/// One validated summary to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// Agent id.
    pub agent: String,
    /// The agent's sequence number.
    pub seq: u64,
    /// ISO week, `YYYY-Www`.
    pub week: String,
    /// When wijkpost received it.
    pub received_at: DateTime<Utc>,
    /// The summary JSON, as validated.
    pub payload: String,
    /// SHA-256 (hex) of what the signature covers: tells a resend from other content under a
    /// stored `seq`.
    pub digest: String,
}

/// A stored summary as [`Store::each_summary`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSummary {
    /// Agent id.
    pub agent: String,
    /// The agent's sequence number.
    pub seq: u64,
    /// ISO week, `YYYY-Www`.
    pub week: String,
    /// When wijkpost received it.
    pub received_at: DateTime<Utc>,
    /// The summary JSON.
    pub payload: String,
    /// The agent's organisation.
    pub org: Org,
}

/// What storing one summary amounted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored now.
    Stored,
    /// This `(agent, seq)` was there already with the same content; nothing changed.
    Duplicate,
    /// This `(agent, seq)` was there already with other content; nothing changed.
    Conflict,
}

/// A repeated `(agent, seq)`: a duplicate when the stored digest is the new one's (or unknown,
/// stored before digests were kept), a conflict otherwise.
fn repeat_outcome(stored: &str, new: &str) -> Outcome {
    if stored.is_empty() || stored == new {
        Outcome::Duplicate
    } else {
        Outcome::Conflict
    }
}

/// A rejected payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The agent, when the topic named one.
    pub agent: Option<String>,
    /// The topic it came on.
    pub topic: String,
    /// Short reason code (`bad-signature`, `invalid`, ...).
    pub reason: String,
    /// What exactly was wrong (kept up to [`REJECTED_DETAIL_MAX`] bytes).
    pub detail: String,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// The payload (kept up to [`REJECTED_PAYLOAD_MAX`] bytes).
    pub payload: Vec<u8>,
}

/// wijkpost's storage. Every method is one transaction.
pub trait Store: Send {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// The schema version of the database.
    fn schema_version(&mut self) -> Result<u32, StoreError>;

    /// Stores a newly issued token.
    fn insert_token(&mut self, token: &NewToken) -> Result<(), StoreError>;

    /// Uses the token `id` if `secret_hash` matches, it is unused and `now` is before its expiry,
    /// marking it used by `used_by`. Atomic: of two concurrent calls at most one consumes it.
    fn consume_token(
        &mut self,
        id: &str,
        secret_hash: &str,
        now: DateTime<Utc>,
        used_by: &str,
    ) -> Result<TokenOutcome, StoreError>;

    /// Consumes the token (as [`Store::consume_token`]) and, if it was good, stores `agent` with the
    /// token's organisation, both in one transaction.
    fn enroll_agent(
        &mut self,
        token_id: &str,
        secret_hash: &str,
        now: DateTime<Utc>,
        agent: &NewAgent,
    ) -> Result<TokenOutcome, StoreError>;

    /// The enrolled agent `id`, if any.
    fn agent(&mut self, id: &str) -> Result<Option<Agent>, StoreError>;

    /// Stores each summary unless its `(agent, seq)` is there already, all in one transaction; one
    /// outcome per row, in order: a row whose `(agent, seq)` is there already (stored before or
    /// earlier in the batch) is a duplicate when its digest is the same, a conflict otherwise.
    fn store_summaries(&mut self, batch: &[&SummaryRow]) -> Result<Vec<Outcome>, StoreError>;

    /// Number of stored summaries.
    fn count_summaries(&mut self) -> Result<u64, StoreError>;

    /// Hands every stored summary, with its agent's organisation, to `each`, in the order they
    /// were received (streamed: the store never holds them all at once). An error from `each`
    /// stops the walk and is returned.
    fn each_summary(&mut self, each: &mut dyn FnMut(StoredSummary) -> Result<(), StoreError>)
        -> Result<(), StoreError>;

    /// Keeps the rejected payloads (truncated), counts them per reason, and trims the kept rows to
    /// the newest `keep`.
    fn record_rejected(&mut self, batch: &[Rejected], keep: usize) -> Result<(), StoreError>;

    /// Rejections per reason since the database was created.
    fn rejected_counts(&mut self) -> Result<BTreeMap<String, u64>, StoreError>;

    /// The newest kept rejected payloads, newest first.
    fn recent_rejected(&mut self, limit: usize) -> Result<Vec<Rejected>, StoreError>;

    /// Adds a dashboard user; `false` (and nothing changed) when the name is taken.
    fn insert_user(&mut self, user: &NewUser) -> Result<bool, StoreError>;

    /// The user `name`, if any (disabled ones too).
    fn user(&mut self, name: &str) -> Result<Option<User>, StoreError>;

    /// Every user, by name.
    fn users(&mut self) -> Result<Vec<User>, StoreError>;

    /// Disables (or enables again) the user `name`; `false` when there is no such user.
    fn set_user_disabled(&mut self, name: &str, disabled: bool) -> Result<bool, StoreError>;

    /// Every enrolled agent, by enrollment time (for administrators only: names organisations).
    fn agents(&mut self) -> Result<Vec<Agent>, StoreError>;

    /// Every issued token without its secret hash, newest first (for administrators only).
    fn tokens(&mut self) -> Result<Vec<TokenInfo>, StoreError>;
}

/// An issued token as administrators see it (never the secret or its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Token id.
    pub id: String,
    /// Who it is for.
    pub org: Org,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was used, if it was.
    pub used_at: Option<DateTime<Utc>>,
    /// The agent it enrolled, if any.
    pub used_by: Option<String>,
}

/// `s` cut to at most `max` bytes at a character boundary.
pub(crate) fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub(crate) fn to_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(crate) fn from_secs(s: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp(s, 0).ok_or_else(|| StoreError::Damaged(format!("time {s} out of range")))
}

pub(crate) fn seq_to_db(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::Invalid(format!("seq {seq} larger than {}", i64::MAX)))
}

/// A stored seq (never negative: the store writes only what [`seq_to_db`] accepts).
pub(crate) fn seq_from_db(seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::Invalid(format!("stored seq {seq} is negative")))
}

/// An [`Org`] from its four stored columns.
pub(crate) fn org_from_row(name: String, sector: &str, size: &str, province: &str) -> Result<Org, StoreError> {
    Ok(Org {
        name,
        sector: sector.parse().map_err(StoreError::Damaged)?,
        size_class: size.parse().map_err(StoreError::Damaged)?,
        province: province.parse().map_err(StoreError::Damaged)?,
    })
}

pub(crate) fn key_from_row(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Damaged(format!("signing key of {} bytes", bytes.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        let data = Path::new("/srv/wijkpost");
        assert_eq!(StoreConfig::parse(None, data).ok(), Some(StoreConfig::Sqlite(data.join("wijkpost.db"))));
        assert_eq!(
            StoreConfig::parse(Some("sqlite:/tmp/x.db"), data).ok(),
            Some(StoreConfig::Sqlite("/tmp/x.db".into()))
        );
        let pg = StoreConfig::parse(Some("postgresql://wp:geheim@127.0.0.1/wijk"), data).expect("pg");
        assert_eq!(pg.describe(), "postgresql://wp:***@127.0.0.1/wijk");
        for bad in ["mysql://x", "sqlite:", "wijkpost.db"] {
            assert!(matches!(StoreConfig::parse(Some(bad), data), Err(StoreError::BadUrl(_))), "{bad}");
        }
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate_str("één", 2), "é");
        assert_eq!(truncate_str("abc", 10), "abc");
    }
}
