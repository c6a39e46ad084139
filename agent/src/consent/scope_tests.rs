//! Tests of `consent::scope`.

use super::*;

fn s(list: &[&str]) -> Vec<String> {
    list.iter().map(|x| x.to_string()).collect()
}

fn scope(inc: &[&str], exc: &[&str]) -> Scope {
    Scope::new(&s(inc), &s(exc), &[]).expect("valid scope")
}

fn ip(x: &str) -> IpAddr {
    x.parse().expect("ip")
}

fn all(sc: &Scope) -> Vec<String> {
    sc.targets().map(|i| i.to_string()).collect()
}

#[test]
fn network_and_broadcast_are_not_targets() {
    let sc = scope(&["192.0.2.0/24"], &[]);
    assert_eq!(sc.target_count(), 254);
    assert!(!sc.contains(ip("192.0.2.0")) && !sc.contains(ip("192.0.2.255")));
    assert!(sc.contains(ip("192.0.2.1")) && sc.contains(ip("192.0.2.254")));
    assert_eq!(scope(&["192.0.2.0/30"], &[]).target_count(), 2);
    assert_eq!(scope(&["192.0.2.0/31"], &[]).target_count(), 2);
    assert_eq!(scope(&["192.0.2.9/32"], &[]).target_count(), 1);
    // IPv6 blocks are taken whole.
    assert_eq!(scope(&["2001:db8::/120"], &[]).target_count(), 256);
}

#[test]
fn exclusions_in_the_middle_and_at_the_edges() {
    let sc = scope(&["192.0.2.10-192.0.2.20"], &["192.0.2.15", "192.0.2.10", "192.0.2.19-192.0.2.30"]);
    assert_eq!(
        all(&sc),
        ["192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14", "192.0.2.16", "192.0.2.17", "192.0.2.18"]
    );
    assert_eq!(sc.target_ranges().len(), 2);
    assert_eq!(sc.target_count(), 7);
}

#[test]
fn overlapping_and_adjacent_includes_merge() {
    let sc = scope(&["10.0.0.0/24", "10.0.0.0/25", "10.0.0.250-10.0.1.5", "10.0.1.6"], &[]);
    assert_eq!(sc.target_ranges(), &[AddrRange { start: ip("10.0.0.1"), end: ip("10.0.1.6") }]);
    assert_eq!(sc.target_count(), 262);
}

#[test]
fn short_ranges_and_ipv6() {
    assert_eq!(all(&scope(&["192.0.2.10-12"], &[])), ["192.0.2.10", "192.0.2.11", "192.0.2.12"]);
    assert_eq!(
        all(&scope(&["2001:db8::fe-101"], &[])),
        ["2001:db8::fe", "2001:db8::ff", "2001:db8::100", "2001:db8::101"]
    );
    let sc = scope(&["2001:db8::10", "192.0.2.1"], &[]);
    assert_eq!(all(&sc), ["192.0.2.1", "2001:db8::10"]);
    assert!(sc.has_v4() && sc.has_v6());
    assert!(!sc.contains(ip("::ffff:192.0.2.1")));
}

#[test]
fn bad_entries_are_named() {
    let cases = [
        "192.0.2.20-192.0.2.10",
        "192.0.2.1-2001:db8::1",
        "bogus",
        "10.0.0.0/33",
        "10.0.0.1/24",
        "192.0.2.1-300",
        "",
        "10.0.0.0/+8",
    ];
    for c in cases {
        match Scope::new(&s(&["192.0.2.1"]), &s(&[c]), &[]) {
            Err(ConsentError::ScopeEntry { field, entry, .. }) => {
                assert_eq!(field, "scope.exclude");
                assert_eq!(entry, c.trim());
            }
            other => panic!("{c}: {other:?}"),
        }
    }
    let err = Scope::new(&s(&["10.0.0.1/24"]), &[], &[]).expect_err("host bits");
    assert!(err.to_string().contains("10.0.0.0/24"), "{err}");
}

#[test]
fn exclude_covering_everything_is_refused() {
    let err = Scope::new(&s(&["192.0.2.0/24", "2001:db8::1"]), &s(&["0.0.0.0/0", "::/0"]), &[]).expect_err("empty");
    assert!(matches!(err, ConsentError::ScopeEmpty));
    assert!(matches!(Scope::new(&[], &[], &[]), Err(ConsentError::InvalidField { .. })));
}

#[test]
fn big_scopes() {
    let sc = scope(&["10.0.0.0/8"], &["10.128.0.0/9"]);
    assert_eq!(sc.target_count(), (1 << 23) - 1);
    assert!(sc.contains(ip("10.127.255.255")) && !sc.contains(ip("10.128.0.0")));
    // A /16 is walked lazily with a handful of ranges in memory.
    let sc = scope(&["10.20.0.0/16"], &["10.20.5.0/24"]);
    assert_eq!(sc.targets().count() as u128, sc.target_count());
    assert_eq!(sc.targets().last(), Some(ip("10.20.255.254")));
    // At the cap, over the cap, and an IPv6 /64.
    assert_eq!(scope(&["10.0.0.0-10.255.255.255"], &[]).target_count(), MAX_TARGETS);
    let too_big = Scope::new(&s(&["10.0.0.0/8", "11.0.0.0-11.0.0.2"]), &[], &[]).expect_err("too big");
    assert!(matches!(too_big, ConsentError::ScopeTooLarge { entry: None, .. }));
    match Scope::new(&s(&["2001:db8::/64"]), &[], &[]) {
        Err(e @ ConsentError::ScopeTooLarge { .. }) => assert!(e.to_string().contains("2001:db8::/64"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(Scope::new(&s(&["::/0"]), &[], &[]).is_err());
    // Excluding huge ranges is fine.
    assert_eq!(scope(&["2001:db8::1"], &["8000::/1"]).target_count(), 1);
}

#[test]
fn fragile_ranges() {
    let sc = Scope::new(&s(&["192.0.2.0/24"]), &[], &s(&["192.0.2.0/28"])).expect("valid");
    assert!(sc.is_fragile(ip("192.0.2.0")) && sc.is_fragile(ip("192.0.2.15")));
    assert!(!sc.is_fragile(ip("192.0.2.16")));
}

/// xorshift64*: a small deterministic PRNG for the randomised check.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_entry(r: &mut Rng) -> String {
    let base = |r: &mut Rng| r.below(1024) as u32;
    let v6 = r.below(4) == 0;
    let a = base(r);
    match (r.below(3), v6) {
        (0, false) => format!("{}/{}", Ipv4Addr::from(0x0A00_0000 + (a & !7)), 29),
        (0, true) => format!("{}/{}", Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(a & !15)), 124),
        (1, false) => format!("{}-{}", Ipv4Addr::from(0x0A00_0000 + a), Ipv4Addr::from(0x0A00_0000 + a + base(r) % 40)),
        (1, true) => {
            let lo = 0x2001_0db8_u128 << 96 | u128::from(a);
            format!("{}-{}", Ipv6Addr::from(lo), Ipv6Addr::from(lo + u128::from(base(r) % 40)))
        }
        (_, false) => Ipv4Addr::from(0x0A00_0000 + a).to_string(),
        (_, true) => Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(a)).to_string(),
    }
}

#[test]
fn randomised_targets_agree_with_contains_and_count() {
    let mut r = Rng(0x5EED_1234_ABCD_0001);
    for round in 0..300 {
        let inc: Vec<String> = (0..1 + r.below(6)).map(|_| random_entry(&mut r)).collect();
        let exc: Vec<String> = (0..r.below(6)).map(|_| random_entry(&mut r)).collect();
        let Ok(sc) = Scope::new(&inc, &exc, &[]) else { continue };
        let excluded: Vec<Span> = exc.iter().filter_map(|e| parse_entry("x", e, false).ok()).collect();
        let mut n = 0u128;
        let mut prev: Option<IpAddr> = None;
        for t in sc.targets() {
            assert!(sc.contains(t), "round {round}: {t} yielded but not contained");
            let (v6, x) = key(t);
            assert!(!excluded.iter().any(|e| e.v6 == v6 && e.lo <= x && x <= e.hi), "round {round}: {t} excluded");
            if let Some(p) = prev {
                assert!(key(p) < key(t), "round {round}: not ascending");
            }
            prev = Some(t);
            n += 1;
        }
        assert_eq!(n, sc.target_count(), "round {round}");
        // Addresses near the ranges that are not yielded must not be contained.
        for _ in 0..50 {
            let probe = if r.below(2) == 0 {
                IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + r.below(1200) as u32))
            } else {
                IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(r.below(1200))))
            };
            assert_eq!(sc.contains(probe), sc.targets().any(|t| t == probe), "round {round}: {probe}");
        }
    }
}

#[test]
fn parts_cover_every_target_once_in_order_and_keep_the_fragile_ranges() {
    let frag = s(&["10.0.0.0/24"]);
    let sc =
        Scope::new(&s(&["10.0.0.0/23", "10.0.5.1-10.0.5.3", "2001:db8::1-2001:db8::5"]), &s(&["10.0.0.128/25"]), &frag)
            .expect("scope");
    for size in [1u128, 3, 100, 256, 10_000] {
        let parts = sc.parts(size);
        let joined: Vec<String> = parts.iter().flat_map(all).collect();
        assert_eq!(joined, all(&sc), "size {size}");
        assert!(parts.iter().all(|p| p.target_count() <= size && p.target_count() > 0), "size {size}");
        assert!(parts.iter().all(|p| p.fragile_ranges() == sc.fragile_ranges()));
        let whole = parts.iter().map(Scope::target_count).sum::<u128>();
        assert_eq!(whole, sc.target_count());
        assert_eq!(parts.len() as u128, sc.target_count().div_ceil(size), "size {size}");
    }
    let parts = sc.parts(256);
    // 10.0.0.0/23 minus 10.0.0.128/25 minus network/broadcast: 127 + 255 = 382 addresses, then 3 + 5.
    assert_eq!(parts.iter().map(Scope::target_count).collect::<Vec<_>>(), [256, 134]);
    assert!(parts[1].contains(ip("2001:db8::5")) && !parts[0].contains(ip("2001:db8::5")));
}
