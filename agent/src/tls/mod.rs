//! TLS analysis (STUB: the TLS helper replaces this file; the public API below is the contract).
//!
//! [`analyse`] looks at one TLS endpoint: which protocol versions it accepts (SSLv3 … TLS 1.3; legacy
//! versions and weak suites with hand-built ClientHellos and parsed ServerHellos, since rustls speaks
//! only 1.2 and 1.3), which weak cipher suites it takes, and its certificate (x509-parser).

use serde::{Deserialize, Serialize};

use crate::probe::{Limits, Observation, Target};

/// How to reach the TLS handshake on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartTls {
    /// TLS from the first byte.
    Implicit,
    /// SMTP `STARTTLS`.
    Smtp,
    /// IMAP `STARTTLS`.
    Imap,
    /// POP3 `STLS`.
    Pop3,
    /// FTP `AUTH TLS`.
    Ftp,
    /// LDAP StartTLS extended operation.
    Ldap,
    /// PostgreSQL `SSLRequest`.
    Postgres,
}

/// What the analysis found. Serialised into the report's `services[].tls`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsReport {
    /// Accepted protocol versions, e.g. `["TLSv1.2", "TLSv1.3"]`.
    pub versions: Vec<String>,
    /// Weak cipher suites accepted (IANA names).
    pub weak_ciphers: Vec<String>,
    /// Weaknesses seen (catalog ids with evidence).
    pub observations: Vec<Observation>,
}

/// Analyses the TLS endpoint at `target`, reaching the handshake as `starttls` says.
pub async fn analyse(_target: &Target, _starttls: StartTls, _limits: &Limits) -> Option<TlsReport> {
    None
}
