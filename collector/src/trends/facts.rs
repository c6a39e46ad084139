//! What the index keeps of one summary, or of one organisation's summaries merged: interned weakness
//! ids with hosts affected, interned service kinds, and TLS hygiene as one bit per [`TlsCheck`]. The
//! lists live in flat vectors of an [`Arena`]; a [`Span`] says where.

use serde::Serialize;
use wijk_protocol::summary::TlsCounts;

/// A TLS hygiene check: does the organisation have at least one endpoint (or certificate) like this?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsCheck {
    /// An endpoint accepting SSL 3.0.
    Sslv3,
    /// An endpoint accepting TLS 1.0.
    #[serde(rename = "tls1.0")]
    Tls1_0,
    /// An endpoint accepting TLS 1.1.
    #[serde(rename = "tls1.1")]
    Tls1_1,
    /// An endpoint accepting TLS 1.2 (good).
    #[serde(rename = "tls1.2")]
    Tls1_2,
    /// An endpoint accepting TLS 1.3 (good).
    #[serde(rename = "tls1.3")]
    Tls1_3,
    /// An endpoint accepting a weak cipher suite.
    WeakCiphers,
    /// An expired certificate.
    CertExpired,
    /// A certificate ending within 30 days.
    CertExpiring,
    /// A certificate not valid yet.
    CertNotYetValid,
    /// A self-signed certificate.
    CertSelfSigned,
    /// A certificate not leading to a trusted root.
    CertUntrusted,
    /// A certificate with a weak key.
    CertWeakKey,
    /// A certificate with a weak signature.
    CertWeakSignature,
    /// A certificate not naming the host.
    CertNameMismatch,
}

impl TlsCheck {
    /// Every check, in the order queries list them.
    pub const ALL: &'static [TlsCheck] = &[
        TlsCheck::Sslv3,
        TlsCheck::Tls1_0,
        TlsCheck::Tls1_1,
        TlsCheck::Tls1_2,
        TlsCheck::Tls1_3,
        TlsCheck::WeakCiphers,
        TlsCheck::CertExpired,
        TlsCheck::CertExpiring,
        TlsCheck::CertNotYetValid,
        TlsCheck::CertSelfSigned,
        TlsCheck::CertUntrusted,
        TlsCheck::CertWeakKey,
        TlsCheck::CertWeakSignature,
        TlsCheck::CertNameMismatch,
    ];

    /// The slug, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsCheck::Sslv3 => "sslv3",
            TlsCheck::Tls1_0 => "tls1.0",
            TlsCheck::Tls1_1 => "tls1.1",
            TlsCheck::Tls1_2 => "tls1.2",
            TlsCheck::Tls1_3 => "tls1.3",
            TlsCheck::WeakCiphers => "weak-ciphers",
            TlsCheck::CertExpired => "cert-expired",
            TlsCheck::CertExpiring => "cert-expiring",
            TlsCheck::CertNotYetValid => "cert-not-yet-valid",
            TlsCheck::CertSelfSigned => "cert-self-signed",
            TlsCheck::CertUntrusted => "cert-untrusted",
            TlsCheck::CertWeakKey => "cert-weak-key",
            TlsCheck::CertWeakSignature => "cert-weak-signature",
            TlsCheck::CertNameMismatch => "cert-name-mismatch",
        }
    }

    /// The bit of this check in a [`Span`]'s flags.
    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The flags of a summary's TLS counts.
    pub(crate) fn flags(tls: &TlsCounts) -> u16 {
        let p = &tls.protocols;
        let c = &tls.certificates;
        let counts = [
            p.sslv3,
            p.tls1_0,
            p.tls1_1,
            p.tls1_2,
            p.tls1_3,
            tls.weak_ciphers,
            c.expired,
            c.expiring,
            c.not_yet_valid,
            c.self_signed,
            c.untrusted,
            c.weak_key,
            c.weak_signature,
            c.name_mismatch,
        ];
        TlsCheck::ALL.iter().zip(counts).filter(|(_, n)| *n > 0).fold(0, |acc, (check, _)| acc | check.bit())
    }
}

/// Where one set of facts lies in an [`Arena`], and its TLS flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    weak_start: u32,
    weak_len: u32,
    kind_start: u32,
    kind_len: u32,
    pub(crate) tls: u16,
}

impl Span {
    /// Entries this span holds in the arena (for garbage accounting).
    pub(crate) fn entries(&self) -> usize {
        self.weak_len as usize + self.kind_len as usize
    }
}

/// Borrowed facts: weakness ids (sorted, unique) with hosts, service kinds (sorted, unique), TLS flags.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts<'a> {
    pub(crate) weaknesses: &'a [u16],
    pub(crate) hosts: &'a [u32],
    pub(crate) kinds: &'a [u16],
    pub(crate) tls: u16,
}

impl Facts<'_> {
    /// Hosts affected by weakness `w`, if present.
    pub(crate) fn hosts_of(&self, w: u16) -> Option<u32> {
        self.weaknesses.binary_search(&w).ok().and_then(|i| self.hosts.get(i).copied())
    }

    /// Whether service kind `kind` is exposed.
    pub(crate) fn exposes(&self, kind: u16) -> bool {
        self.kinds.binary_search(&kind).is_ok()
    }
}

/// Flat storage of facts: one vector per column.
#[derive(Debug, Default)]
pub(crate) struct Arena {
    weaknesses: Vec<u16>,
    hosts: Vec<u32>,
    kinds: Vec<u16>,
}

impl Arena {
    /// Appends facts given as sorted unique `(weakness, hosts)` pairs and sorted unique kinds.
    pub(crate) fn push(&mut self, weaknesses: &[(u16, u32)], kinds: &[u16], tls: u16) -> Span {
        let span = Span {
            weak_start: len32(&self.weaknesses),
            weak_len: u32::try_from(weaknesses.len()).unwrap_or(u32::MAX),
            kind_start: len32(&self.kinds),
            kind_len: u32::try_from(kinds.len()).unwrap_or(u32::MAX),
            tls,
        };
        self.weaknesses.extend(weaknesses.iter().map(|p| p.0));
        self.hosts.extend(weaknesses.iter().map(|p| p.1));
        self.kinds.extend_from_slice(kinds);
        span
    }

    /// Appends a copy of facts held elsewhere.
    pub(crate) fn copy(&mut self, facts: Facts<'_>) -> Span {
        let span = Span {
            weak_start: len32(&self.weaknesses),
            weak_len: len32(facts.weaknesses),
            kind_start: len32(&self.kinds),
            kind_len: len32(facts.kinds),
            tls: facts.tls,
        };
        self.weaknesses.extend_from_slice(facts.weaknesses);
        self.hosts.extend_from_slice(facts.hosts);
        self.kinds.extend_from_slice(facts.kinds);
        span
    }

    /// Appends what `scratch` holds after [`Scratch::merge`].
    pub(crate) fn push_merged(&mut self, scratch: &Scratch, tls: u16) -> Span {
        self.push(&scratch.pairs, &scratch.kinds, tls)
    }

    /// The facts at `span`.
    pub(crate) fn view(&self, span: Span) -> Facts<'_> {
        let w = span.weak_start as usize..(span.weak_start as usize + span.weak_len as usize);
        let k = span.kind_start as usize..(span.kind_start as usize + span.kind_len as usize);
        Facts {
            weaknesses: self.weaknesses.get(w.clone()).unwrap_or(&[]),
            hosts: self.hosts.get(w).unwrap_or(&[]),
            kinds: self.kinds.get(k).unwrap_or(&[]),
            tls: span.tls,
        }
    }

    /// Entries held, live or not.
    pub(crate) fn entries(&self) -> usize {
        self.weaknesses.len() + self.kinds.len()
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.weaknesses.capacity() * 2 + self.hosts.capacity() * 4 + self.kinds.capacity() * 2
    }

    /// Gives back unused capacity.
    pub(crate) fn shrink(&mut self) {
        self.weaknesses.shrink_to_fit();
        self.hosts.shrink_to_fit();
        self.kinds.shrink_to_fit();
    }
}

/// Reusable buffers for merging facts.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pairs: Vec<(u16, u32)>,
    kinds: Vec<u16>,
}

impl Scratch {
    /// Merges several facts into the buffers: union of weaknesses with hosts summed, union of kinds.
    /// Returns the TLS flags or-ed.
    pub(crate) fn merge(&mut self, parts: &[Facts<'_>]) -> u16 {
        self.pairs.clear();
        self.kinds.clear();
        let mut tls = 0;
        for f in parts {
            self.pairs.extend(f.weaknesses.iter().copied().zip(f.hosts.iter().copied()));
            self.kinds.extend_from_slice(f.kinds);
            tls |= f.tls;
        }
        self.pairs.sort_unstable_by_key(|p| p.0);
        self.pairs.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = kept.1.saturating_add(later.1);
            }
            same
        });
        self.kinds.sort_unstable();
        self.kinds.dedup();
        tls
    }
}

fn len32<T>(v: &[T]) -> u32 {
    u32::try_from(v.len()).unwrap_or(u32::MAX)
}
