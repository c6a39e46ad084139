//! Tests of the k rule and of complementary suppression, the latter against an attacker who knows
//! the total, the shown parts and that every listed part has at least one organisation.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

#[test]
fn shares_follow_the_rule_at_its_edges() {
    let rule = Rule::new(5);
    let cases = [
        ((4, 0), false), // population below k
        ((5, 0), true),  // nobody affected among k
        ((5, 5), true),  // everybody affected among k
        ((10, 1), false),
        ((10, 4), false),
        ((10, 5), true),
        ((10, 6), false), // only 4 not affected
        ((10, 9), false),
        ((10, 10), true),
        ((100, 50), true),
    ];
    for ((n, m), ok) in cases {
        assert_eq!(rule.share_ok(n, m), ok, "{m} of {n}");
        assert_eq!(rule.share(n, m).is_suppressed(), !ok, "{m} of {n}");
    }
    assert!(!rule.count_ok(4) && rule.count_ok(5));
}

#[test]
fn a_suppressed_cell_reads_less_than_k_never_zero() {
    let rule = Rule::new(7);
    let json = serde_json::to_string(&rule.share(3, 0)).expect("serialises");
    assert_eq!(json, r#""< 7""#);
    let json = serde_json::to_string(&rule.count(0)).expect("serialises");
    assert_eq!(json, r#""< 7""#);
    let shown = serde_json::to_value(rule.share(20, 10)).expect("serialises");
    assert_eq!(shown, serde_json::json!({"organisations": 20, "matching": 10, "pct": 50.0}));
}

#[test]
fn hosts_are_shown_only_when_k_affected_organisations_contribute() {
    let rule = Rule::new(3);
    assert!(rule.hosts(10, &mut [4, 1]).is_suppressed());
    let stats = rule.hosts(10, &mut [5, 1, 3, 100]);
    assert_eq!(stats, Cell::Value(HostStats { mean: 27.3, median: 4.0 }));
    assert_eq!(rule.hosts(10, &mut [2, 9, 4]), Cell::Value(HostStats { mean: 5.0, median: 4.0 }));
}

#[test]
fn a_single_hidden_province_takes_the_smallest_other_with_it() {
    // Organisations per province: 20, 3 and 30; the 3 would be the total minus the others.
    let rule = Rule::new(5);
    let parts = [(20, 20), (3, 3), (30, 30)];
    let shown = rule.protect_breakdown((53, 53), &parts);
    // The smallest shown part (20) goes with the 3.
    assert_eq!(shown, Shown { total: true, parts: vec![false, false, true] });
}

#[test]
fn parts_that_are_one_organisation_each_hide_the_total() {
    let rule = Rule::new(5);
    let parts = [(1, 1); 6];
    let shown = rule.protect_breakdown((6, 6), &parts);
    assert_eq!(shown, Shown { total: false, parts: vec![false; 6] });
}

#[test]
fn hidden_parts_that_together_are_all_zero_take_more_with_them() {
    // 10 of 40 affected, all in the big parts; the two small parts are known 0 % if only they hide.
    let rule = Rule::new(3);
    let parts = [(2, 0), (2, 0), (18, 5), (18, 5)];
    let shown = rule.protect_breakdown((40, 10), &parts);
    assert!(!shown.parts[0] && !shown.parts[1]);
    assert!(!shown.parts[2] || !shown.parts[3], "{shown:?}");
}

/// Everything an attacker can say about any one hidden part: the values of its organisations and
/// matching counts consistent with the total, the shown parts and each part having an organisation.
/// (The hidden parts are interchangeable for the attacker, so the answer is the same for each.)
fn feasible(parts: &[(u32, u32)], shown: &[bool]) -> (Vec<u32>, Vec<u32>) {
    let hidden: Vec<(u32, u32)> = parts.iter().zip(shown).filter(|(_, s)| !**s).map(|(p, _)| *p).collect();
    let n_s: u32 = hidden.iter().map(|p| p.0).sum();
    let m_s: u32 = hidden.iter().map(|p| p.1).sum();
    let others = u32::try_from(hidden.len() - 1).expect("small");
    let (mut ns, mut ms) = (Vec::new(), Vec::new());
    for n in 1..=n_s {
        for m in 0..=n.min(m_s) {
            let (rest_n, rest_m) = (n_s - n, m_s - m);
            let rest_ok = if others == 0 { rest_n == 0 && rest_m == 0 } else { rest_n >= others && rest_m <= rest_n };
            if rest_ok {
                ns.push(n);
                ms.push(m);
            }
        }
    }
    ns.sort_unstable();
    ns.dedup();
    ms.sort_unstable();
    ms.dedup();
    (ns, ms)
}

#[test]
fn random_breakdowns_show_only_safe_cells_and_hide_nothing_derivable() {
    let mut rng = StdRng::seed_from_u64(0x77696a6b);
    let mut hidden_seen = 0;
    for _ in 0..20_000 {
        let k = rng.gen_range(3..=6);
        let rule = Rule::new(k);
        let groups = rng.gen_range(1..=6);
        let parts: Vec<(u32, u32)> = (0..groups)
            .map(|_| {
                let n = if rng.gen_bool(0.5) { rng.gen_range(1..=4) } else { rng.gen_range(1..=20) };
                let m = match rng.gen_range(0..4) {
                    0 => 0,
                    1 => n,
                    _ => rng.gen_range(0..=n),
                };
                (n, m)
            })
            .collect();
        let total = parts.iter().fold((0, 0), |t, p| (t.0 + p.0, t.1 + p.1));
        let shown = rule.protect_breakdown(total, &parts);
        // Nothing shown that fewer than k stand behind.
        if shown.total {
            assert!(rule.share_ok(total.0, total.1), "total {total:?} k={k}");
        }
        for (p, s) in parts.iter().zip(&shown.parts) {
            if *s {
                assert!(rule.share_ok(p.0, p.1), "part {p:?} k={k}");
            }
        }
        let hidden: Vec<usize> = (0..groups).filter(|&i| !shown.parts[i]).collect();
        hidden_seen += hidden.len();
        if !shown.total {
            // Without a total there is nothing to subtract from, but the total must not be the sum
            // of shown parts.
            assert!(!hidden.is_empty(), "hidden total {total:?} is the sum of shown parts {parts:?} k={k}");
            continue;
        }
        let degenerate = total.1 == 0 || total.1 == total.0;
        if !hidden.is_empty() {
            // What subtraction gives, the hidden parts together, is itself a figure the rule allows,
            // and not all-0 % or all-100 % unless the total says so already.
            let (n, m) = hidden.iter().fold((0, 0), |s, &i| (s.0 + parts[i].0, s.1 + parts[i].1));
            assert!(rule.share_ok(n, m), "derivable union {m} of {n}: {parts:?} {shown:?} k={k}");
            assert!(degenerate || (m != 0 && m != n), "derivable union {m} of {n} is degenerate: {parts:?} k={k}");
        }
        for &i in &hidden {
            let (ns, ms) = feasible(&parts, &shown.parts);
            assert!(ns.len() >= 2, "organisations of part {i} derivable: {parts:?} {shown:?} k={k}");
            assert!(degenerate || ms.len() >= 2, "matching of part {i} derivable: {parts:?} {shown:?} k={k}");
            assert!(ns.contains(&parts[i].0) && ms.contains(&parts[i].1), "the truth is feasible");
        }
    }
    assert!(hidden_seen > 1000, "the random breakdowns exercise suppression ({hidden_seen} hidden parts)");
}

#[test]
fn whole_percentages_never_round_to_nobody_or_everybody() {
    assert_eq!(whole_pct(1, 1000), 1);
    assert_eq!(whole_pct(999, 1000), 99);
    assert_eq!(whole_pct(0, 10), 0);
    assert_eq!(whole_pct(10, 10), 100);
    assert_eq!(whole_pct(1, 3), 33);
}
