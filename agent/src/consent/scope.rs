//! Address arithmetic of a consent's `[scope]`: which addresses are targets.
//!
//! Every entry of `include`, `exclude` and `fragile` is one of (IPv4 or IPv6, never mixed within
//! one entry):
//!
//! - a CIDR block: `10.20.0.0/16`, `2001:db8::/120` (host bits must be zero, so a typo such as
//!   `10.20.1.0/16` is refused instead of silently widened);
//! - a range: `192.0.2.10-192.0.2.20`, or short `192.0.2.10-20` (last octet) and
//!   `2001:db8::10-1f` (last group, hexadecimal); the end must not lie before the start;
//! - a single address: `192.0.2.7`, `2001:db8::10`.
//!
//! **Network and broadcast rule.** In `include`, an IPv4 CIDR block with a prefix length of 30 or
//! less does not target its first (network) and last (broadcast) address: `192.0.2.0/24` means
//! `192.0.2.1-192.0.2.254`. A /31 or /32, ranges, single addresses and IPv6 blocks are taken as
//! written. `exclude` and `fragile` blocks always cover the whole block (excluding more is safe).
//!
//! Targets are `include` minus `exclude`, kept as sorted, disjoint, merged inclusive ranges
//! ([`AddrRange`]), IPv4 before IPv6. Nothing is ever enumerated to build them: a scope costs
//! memory in the number of ranges, not of addresses, and [`Scope::targets`] walks them lazily.
//! A scope may hold at most [`MAX_TARGETS`] targets, and a single `include` entry may not be larger
//! either (an IPv6 /64 is refused with advice instead of being scanned for ever).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ConsentError;

/// The most targets one consent may name: 2^24, an IPv4 /8.
pub const MAX_TARGETS: u128 = 16_777_216;

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    /// First address.
    pub start: IpAddr,
    /// Last address (inclusive).
    pub end: IpAddr,
}

impl AddrRange {
    /// Number of addresses in the range.
    pub fn count(&self) -> u128 {
        let (_, lo) = key(self.start);
        let (_, hi) = key(self.end);
        hi.saturating_sub(lo).saturating_add(1)
    }

    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v6, x) = key(ip);
        let (sv6, lo) = key(self.start);
        let (_, hi) = key(self.end);
        v6 == sv6 && lo <= x && x <= hi
    }
}

/// One inclusive range as numbers; IPv4 lives in the low 32 bits. Ordered IPv4 first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Span {
    v6: bool,
    lo: u128,
    hi: u128,
}

impl Span {
    fn range(&self) -> AddrRange {
        AddrRange { start: addr(self.v6, self.lo), end: addr(self.v6, self.hi) }
    }
    fn count(&self) -> u128 {
        (self.hi - self.lo).saturating_add(1)
    }
}

fn key(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

fn addr(v6: bool, x: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(x))
    } else {
        // IPv4 spans never exceed u32::MAX by construction.
        IpAddr::V4(Ipv4Addr::from(u32::try_from(x).unwrap_or(u32::MAX)))
    }
}

/// Include minus exclude, plus the fragile ranges.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    spans: Vec<Span>,
    ranges: Vec<AddrRange>,
    fragile: Vec<Span>,
    count: u128,
}

impl Scope {
    /// Builds a scope from the document's lists (see the module documentation for the forms).
    pub fn new(include: &[String], exclude: &[String], fragile: &[String]) -> Result<Scope, ConsentError> {
        if include.is_empty() {
            return Err(ConsentError::InvalidField {
                field: "scope.include".into(),
                nl: "moet minstens één adres, bereik of CIDR bevatten".into(),
                en: "must list at least one address, range or CIDR".into(),
            });
        }
        let mut inc = Vec::with_capacity(include.len());
        for raw in include {
            let span = parse_entry("scope.include", raw, true)?;
            if span.count() > MAX_TARGETS {
                return Err(ConsentError::ScopeTooLarge { entry: Some(raw.trim().to_string()), count: span.count() });
            }
            inc.push(span);
        }
        let exc = exclude.iter().map(|r| parse_entry("scope.exclude", r, false)).collect::<Result<Vec<_>, _>>()?;
        let fra = fragile.iter().map(|r| parse_entry("scope.fragile", r, false)).collect::<Result<Vec<_>, _>>()?;
        let spans = subtract(&merge(inc), &merge(exc));
        let count = spans.iter().fold(0u128, |acc, s| acc.saturating_add(s.count()));
        if count == 0 {
            return Err(ConsentError::ScopeEmpty);
        }
        if count > MAX_TARGETS {
            return Err(ConsentError::ScopeTooLarge { entry: None, count });
        }
        let ranges = spans.iter().map(Span::range).collect();
        Ok(Scope { spans, ranges, fragile: merge(fra), count })
    }

    /// Whether `ip` is a target: inside `include` (after the network/broadcast rule), outside `exclude`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        find(&self.spans, ip)
    }

    /// Whether `ip` lies in a fragile range (discovery and open-port checks only, no payloads).
    pub fn is_fragile(&self, ip: IpAddr) -> bool {
        find(&self.fragile, ip)
    }

    /// Number of targets.
    pub fn target_count(&self) -> u128 {
        self.count
    }

    /// Disjoint ascending target ranges, IPv4 first.
    pub fn target_ranges(&self) -> &[AddrRange] {
        &self.ranges
    }

    /// The fragile ranges, merged and ascending (they may reach outside the targets).
    pub fn fragile_ranges(&self) -> Vec<AddrRange> {
        self.fragile.iter().map(Span::range).collect()
    }

    /// Whether any target is an IPv4 address.
    pub fn has_v4(&self) -> bool {
        self.spans.iter().any(|s| !s.v6)
    }

    /// Whether any target is an IPv6 address.
    pub fn has_v6(&self) -> bool {
        self.spans.iter().any(|s| s.v6)
    }

    /// Every target, ascending, lazily; memory does not grow with the number of addresses.
    pub fn targets(&self) -> impl Iterator<Item = IpAddr> + '_ {
        Targets { spans: &self.spans, idx: 0, cur: self.spans.first().map_or(0, |s| s.lo) }
    }

    /// The targets cut into consecutive parts of at most `size` addresses each, ascending. Each part
    /// is a scope of its own with the same fragile ranges, so a long scan can be done, kept and
    /// resumed part by part; the same scope always gives the same parts.
    pub fn parts(&self, size: u128) -> Vec<Scope> {
        let size = size.max(1);
        let mut parts = Vec::new();
        let mut current = Vec::new();
        let mut room = size;
        for span in &self.spans {
            let mut lo = span.lo;
            loop {
                let take = (span.hi - lo).saturating_add(1).min(room);
                let hi = lo + (take - 1);
                current.push(Span { v6: span.v6, lo, hi });
                room -= take;
                if room == 0 {
                    parts.push(self.with_spans(std::mem::take(&mut current)));
                    room = size;
                }
                if hi == span.hi {
                    break;
                }
                lo = hi + 1;
            }
        }
        if !current.is_empty() {
            parts.push(self.with_spans(current));
        }
        parts
    }

    fn with_spans(&self, spans: Vec<Span>) -> Scope {
        let count = spans.iter().fold(0u128, |acc, s| acc.saturating_add(s.count()));
        Scope { ranges: spans.iter().map(Span::range).collect(), spans, fragile: self.fragile.clone(), count }
    }
}

struct Targets<'a> {
    spans: &'a [Span],
    idx: usize,
    cur: u128,
}

impl Iterator for Targets<'_> {
    type Item = IpAddr;
    fn next(&mut self) -> Option<IpAddr> {
        let span = self.spans.get(self.idx)?;
        let ip = addr(span.v6, self.cur);
        if self.cur >= span.hi {
            self.idx += 1;
            if let Some(next) = self.spans.get(self.idx) {
                self.cur = next.lo;
            }
        } else {
            self.cur += 1;
        }
        Some(ip)
    }
}

fn find(spans: &[Span], ip: IpAddr) -> bool {
    let (v6, x) = key(ip);
    let i = spans.partition_point(|s| (s.v6, s.hi) < (v6, x));
    spans.get(i).is_some_and(|s| s.v6 == v6 && s.lo <= x)
}

/// Sorts and merges overlapping or adjacent spans of the same family.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if last.v6 == s.v6 && s.lo <= last.hi.saturating_add(1) => last.hi = last.hi.max(s.hi),
            _ => out.push(s),
        }
    }
    out
}

/// `inc` minus `exc`; both merged and sorted.
fn subtract(inc: &[Span], exc: &[Span]) -> Vec<Span> {
    let mut out = Vec::with_capacity(inc.len());
    let mut j = 0;
    for s in inc {
        while j < exc.len() && (exc[j].v6, exc[j].hi) < (s.v6, s.lo) {
            j += 1;
        }
        let (mut lo, mut alive) = (s.lo, true);
        let mut k = j;
        while alive && k < exc.len() && exc[k].v6 == s.v6 && exc[k].lo <= s.hi {
            let e = exc[k];
            if e.lo > lo {
                out.push(Span { v6: s.v6, lo, hi: e.lo - 1 });
            }
            if e.hi >= s.hi {
                alive = false;
            } else {
                lo = lo.max(e.hi + 1);
            }
            k += 1;
        }
        if alive {
            out.push(Span { v6: s.v6, lo, hi: s.hi });
        }
    }
    out
}

fn entry_error(field: &str, raw: &str, nl: &str, en: &str) -> ConsentError {
    ConsentError::ScopeEntry { field: field.into(), entry: raw.trim().into(), nl: nl.into(), en: en.into() }
}

/// Parses one entry; `include` applies the network/broadcast rule to IPv4 CIDR blocks.
fn parse_entry(field: &str, raw: &str, include: bool) -> Result<Span, ConsentError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(entry_error(field, raw, "leeg item", "empty entry"));
    }
    if let Some((a, p)) = s.split_once('/') {
        return parse_cidr(field, raw, a, p, include);
    }
    if let Some((a, b)) = s.split_once('-') {
        return parse_range(field, raw, a.trim(), b.trim());
    }
    match s.parse::<IpAddr>() {
        Ok(ip) => {
            let (v6, x) = key(ip);
            Ok(Span { v6, lo: x, hi: x })
        }
        Err(_) => Err(entry_error(field, raw, "geen IP-adres", "not an IP address")),
    }
}

fn parse_cidr(field: &str, raw: &str, a: &str, p: &str, include: bool) -> Result<Span, ConsentError> {
    let ip: IpAddr = a
        .trim()
        .parse()
        .map_err(|_| entry_error(field, raw, "geen IP-adres vóór de /", "no IP address before the /"))?;
    let p = p.trim();
    let prefix: u32 = match p.parse() {
        Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => return Err(entry_error(field, raw, "prefixlengte is geen getal", "prefix length is not a number")),
    };
    let (v6, x) = key(ip);
    let width = if v6 { 128 } else { 32 };
    if prefix > width {
        return Err(entry_error(field, raw, "prefixlengte te groot", "prefix length too large"));
    }
    let host_bits = width - prefix;
    let hostmask = if host_bits == 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
    if x & hostmask != 0 {
        let net = addr(v6, x & !hostmask);
        return Err(ConsentError::ScopeEntry {
            field: field.into(),
            entry: raw.trim().into(),
            nl: format!("hostbits staan aan; bedoelde u {net}/{prefix}?"),
            en: format!("host bits set; did you mean {net}/{prefix}?"),
        });
    }
    let (lo, hi) = (x, x | hostmask);
    if include && !v6 && prefix <= 30 {
        return Ok(Span { v6, lo: lo + 1, hi: hi - 1 });
    }
    Ok(Span { v6, lo, hi })
}

fn parse_range(field: &str, raw: &str, a: &str, b: &str) -> Result<Span, ConsentError> {
    let start: IpAddr = a.parse().map_err(|_| {
        entry_error(field, raw, "begin van het bereik is geen IP-adres", "range start is not an IP address")
    })?;
    let end = match (b.parse::<IpAddr>(), start) {
        (Ok(ip), _) => ip,
        (Err(_), IpAddr::V4(s)) if !b.is_empty() && b.len() <= 3 && b.bytes().all(|c| c.is_ascii_digit()) => {
            let last: u8 =
                b.parse().map_err(|_| entry_error(field, raw, "laatste octet boven 255", "last octet above 255"))?;
            let [o1, o2, o3, _] = s.octets();
            IpAddr::V4(Ipv4Addr::new(o1, o2, o3, last))
        }
        (Err(_), IpAddr::V6(s)) if !b.is_empty() && b.len() <= 4 && b.bytes().all(|c| c.is_ascii_hexdigit()) => {
            let last = u16::from_str_radix(b, 16)
                .map_err(|_| entry_error(field, raw, "ongeldige laatste groep", "invalid last group"))?;
            let mut seg = s.segments();
            seg[7] = last;
            IpAddr::V6(Ipv6Addr::from(seg))
        }
        _ => {
            return Err(entry_error(
                field,
                raw,
                "einde van het bereik is geen IP-adres",
                "range end is not an IP address",
            ))
        }
    };
    let (v6, lo) = key(start);
    let (ev6, hi) = key(end);
    if v6 != ev6 {
        return Err(entry_error(field, raw, "IPv4 en IPv6 gemengd in één bereik", "IPv4 and IPv6 mixed in one range"));
    }
    if hi < lo {
        return Err(entry_error(field, raw, "einde ligt vóór het begin", "end lies before start"));
    }
    Ok(Span { v6, lo, hi })
}

#[cfg(test)]
#[path = "scope_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "scope_props.rs"]
mod props;
