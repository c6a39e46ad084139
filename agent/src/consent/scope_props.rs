//! Property tests of `consent::scope` against a model written from the rules in words (the module
//! documentation): random `include`, `exclude` and `fragile` lists of single addresses, ranges
//! (long and short form) and CIDR blocks, IPv4 and IPv6 mixed.
//!
//! - In a small universe (two blocks of 512 addresses, one per family) the model enumerates every
//!   address, so the scope must agree exactly: the targets it yields, their count, `contains` and
//!   `is_fragile` for every address of the universe and around it, ascending and never twice; and
//!   it refuses to build exactly when nothing is left.
//! - Anywhere in the address space (blocks up to the size limit), the model judges single
//!   addresses by interval arithmetic: `contains` agrees at every edge of every entry and at random
//!   addresses, every address yielded lies inside an include and outside every exclude, and the
//!   count is the sum of the ranges.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

/// One entry as the model sees it: an inclusive numeric interval of a family, and whether it is an
/// IPv4 CIDR block of prefix ≤ 30 (network and broadcast are not targets when it is included).
#[derive(Debug, Clone)]
struct Entry {
    text: String,
    v6: bool,
    lo: u128,
    hi: u128,
    v4_block: bool,
}

impl Entry {
    /// The interval it adds to the targets when listed under `include`.
    fn included(&self) -> (u128, u128) {
        if self.v4_block {
            (self.lo + 1, self.hi - 1)
        } else {
            (self.lo, self.hi)
        }
    }
}

fn ip_of(v6: bool, x: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(x))
    } else {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(x).expect("IPv4 fits")))
    }
}

fn num(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

/// Bases of the two families' address blocks in the small universe.
const V4_BASE: u128 = 0x0a14_0000; // 10.20.0.0
const V6_BASE: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0000; // 2001:db8::
const SMALL: u128 = 512;

/// An entry of family `v6` starting inside `[base, base + size)` (`base` aligned to
/// `2^max_host_bits`), at most `2^max_host_bits` long, in one of the forms, with blank padding that
/// the parser must ignore.
fn entry_in(v6: bool, base: u128, size: u128, max_host_bits: u32) -> impl Strategy<Value = Entry> {
    let width: u32 = if v6 { 128 } else { 32 };
    let single = (0..size).prop_map(move |o| {
        let x = base + o;
        Entry { text: ip_of(v6, x).to_string(), v6, lo: x, hi: x, v4_block: false }
    });
    let longest = 1u128 << max_host_bits;
    let range = (0..size, 0..longest, any::<bool>()).prop_map(move |(a, len, short)| {
        let (lo, hi) = (base + a, base + (a + len).min(size - 1));
        // The short form only changes the last octet (IPv4) or group (IPv6).
        let last_mask: u128 = if v6 { 0xffff } else { 0xff };
        let text = if short && lo & !last_mask == hi & !last_mask {
            if v6 {
                format!("{}-{:x}", ip_of(v6, lo), hi & last_mask)
            } else {
                format!("{}-{}", ip_of(v6, lo), hi & last_mask)
            }
        } else {
            format!("{} - {}", ip_of(v6, lo), ip_of(v6, hi))
        };
        Entry { text, v6, lo, hi, v4_block: false }
    });
    let block = (0..=max_host_bits, 0..size).prop_map(move |(host_bits, o)| {
        let mask = (1u128 << host_bits) - 1;
        let lo = (base + o) & !mask;
        let prefix = width - host_bits;
        Entry { text: format!("{}/{prefix}", ip_of(v6, lo)), v6, lo, hi: lo | mask, v4_block: !v6 && prefix <= 30 }
    });
    prop_oneof![single, range, block].prop_map(|mut e| {
        e.text = format!(" {} ", e.text);
        e
    })
}

fn small_entry() -> impl Strategy<Value = Entry> {
    prop_oneof![entry_in(false, V4_BASE, SMALL, 9), entry_in(true, V6_BASE, SMALL, 9)]
}

fn texts(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.text.clone()).collect()
}

/// The model's targets: every address of an include (with the network/broadcast rule) and of no
/// exclude, IPv4 first, ascending.
fn model_targets(include: &[Entry], exclude: &[Entry]) -> BTreeSet<(bool, u128)> {
    let mut set = BTreeSet::new();
    for e in include {
        let (lo, hi) = e.included();
        for x in lo..=hi {
            set.insert((e.v6, x));
        }
    }
    set.retain(|&(v6, x)| !exclude.iter().any(|e| e.v6 == v6 && e.lo <= x && x <= e.hi));
    set
}

fn model_contains(include: &[Entry], exclude: &[Entry], ip: IpAddr) -> bool {
    let (v6, x) = num(ip);
    let inside = |e: &Entry, (lo, hi): (u128, u128)| e.v6 == v6 && lo <= x && x <= hi;
    include.iter().any(|e| inside(e, e.included())) && !exclude.iter().any(|e| inside(e, (e.lo, e.hi)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn small_scopes_agree_with_the_enumerated_model(
        include in prop::collection::vec(small_entry(), 1..6),
        exclude in prop::collection::vec(small_entry(), 0..6),
        fragile in prop::collection::vec(small_entry(), 0..4),
    ) {
        let want = model_targets(&include, &exclude);
        let scope = match Scope::new(&texts(&include), &texts(&exclude), &texts(&fragile)) {
            Ok(scope) => scope,
            Err(ConsentError::ScopeEmpty) => {
                prop_assert!(want.is_empty(), "refused as empty, but the model has {} targets", want.len());
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(format!("valid entries refused: {e}"))),
        };
        let got: Vec<(bool, u128)> = scope.targets().map(num).collect();
        // Ascending (IPv4 first) means no address is yielded twice.
        prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "targets not strictly ascending");
        prop_assert_eq!(&got, &want.iter().copied().collect::<Vec<_>>());
        prop_assert_eq!(scope.target_count(), got.len() as u128);
        prop_assert_eq!(scope.target_ranges().iter().map(AddrRange::count).sum::<u128>(), got.len() as u128);
        prop_assert_eq!(scope.has_v4(), want.iter().any(|t| !t.0));
        prop_assert_eq!(scope.has_v6(), want.iter().any(|t| t.0));
        // Every address of the universe and a margin around it.
        for (v6, base) in [(false, V4_BASE), (true, V6_BASE)] {
            for x in base - 4..base + SMALL + 4 {
                let ip = ip_of(v6, x);
                prop_assert_eq!(scope.contains(ip), want.contains(&(v6, x)), "contains({})", ip);
                let fragile_model = fragile.iter().any(|e| e.v6 == v6 && e.lo <= x && x <= e.hi);
                prop_assert_eq!(scope.is_fragile(ip), fragile_model, "is_fragile({})", ip);
            }
        }
    }

    #[test]
    fn large_scopes_never_yield_an_address_outside(
        include in prop::collection::vec(prop_oneof![
            entry_in(false, 0, 1 << 32, 20),
            entry_in(true, 0, u128::MAX >> 1, 20),
            entry_in(true, u128::MAX - (1 << 40), 1 << 40, 22),
        ], 1..5),
        exclude in prop::collection::vec(prop_oneof![
            entry_in(false, 0, 1 << 32, 24),
            entry_in(true, 0, u128::MAX >> 1, 40),
        ], 0..5),
        probes in prop::collection::vec((any::<bool>(), any::<u128>()), 32),
    ) {
        // Anything in the include's neighbourhood, so the exclusions often cut into it.
        let exclude: Vec<Entry> = exclude
            .into_iter()
            .zip(include.iter().cycle())
            .map(|(mut e, inc)| {
                if e.v6 == inc.v6 && e.hi - e.lo < inc.hi - inc.lo {
                    let len = e.hi - e.lo;
                    e.lo = inc.lo + (e.lo % (inc.hi - inc.lo - len + 1));
                    e.hi = e.lo + len;
                    e.text = if e.lo == e.hi {
                        ip_of(e.v6, e.lo).to_string()
                    } else {
                        format!("{}-{}", ip_of(e.v6, e.lo), ip_of(e.v6, e.hi))
                    };
                }
                e
            })
            .collect();
        let scope = match Scope::new(&texts(&include), &texts(&exclude), &[]) {
            Ok(scope) => scope,
            Err(ConsentError::ScopeEmpty) => {
                for e in &include {
                    let (lo, hi) = e.included();
                    for x in [lo, hi, lo + (hi - lo) / 2] {
                        prop_assert!(!model_contains(&include, &exclude, ip_of(e.v6, x)));
                    }
                }
                return Ok(());
            }
            Err(ConsentError::ScopeTooLarge { .. }) => {
                let total: u128 = include.iter().map(|e| e.included().1 - e.included().0 + 1).sum();
                prop_assert!(total > MAX_TARGETS, "refused as too large with {} addresses included", total);
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(format!("valid entries refused: {e}"))),
        };
        // Edges of every entry, one step either side, and random addresses.
        let mut points: Vec<(bool, u128)> = probes;
        for e in include.iter().chain(&exclude) {
            for x in [e.lo, e.hi] {
                points.extend([x.wrapping_sub(1), x, x.wrapping_add(1)].map(|p| (e.v6, p)));
            }
        }
        for (v6, x) in points {
            let x = if v6 { x } else { x & 0xffff_ffff };
            let ip = ip_of(v6, x);
            prop_assert_eq!(scope.contains(ip), model_contains(&include, &exclude, ip), "contains({})", ip);
        }
        let mut last: Option<(bool, u128)> = None;
        let mut yielded = 0u128;
        for ip in scope.targets().take(2000) {
            prop_assert!(model_contains(&include, &exclude, ip), "yielded {} outside the scope", ip);
            prop_assert!(last < Some(num(ip)), "yielded {} twice or out of order", ip);
            last = Some(num(ip));
            yielded += 1;
        }
        let ranges: u128 = scope.target_ranges().iter().map(AddrRange::count).sum();
        prop_assert_eq!(scope.target_count(), ranges);
        prop_assert!(yielded == scope.target_count().min(2000));
        prop_assert!(scope.target_count() <= MAX_TARGETS);
    }
}
