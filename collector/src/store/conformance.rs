//! The behaviour every [`Store`] backend must show, written once and run against each backend by
//! its own tests (SQLite always, PostgreSQL when a server is reachable).

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use super::{NewAgent, NewToken, Outcome, Rejected, Store, StoreError, SummaryRow, TokenOutcome};
use crate::org::{Org, Province, Sector, SizeClass};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_000_000, 0).unwrap_or_default()
}

fn org() -> Org {
    Org {
        name: "Gemeente Voorbeeld'; DROP TABLE tokens; --".into(),
        sector: Sector::Gemeente,
        size_class: SizeClass::UpTo25k,
        province: Province::OostVlaanderen,
    }
}

fn token(id: &str, expires_in: Duration) -> NewToken {
    NewToken {
        id: id.into(),
        secret_hash: format!("{id}-hash"),
        org: org(),
        created_at: now() - Duration::hours(1),
        expires_at: now() + expires_in,
    }
}

fn agent(id: &str) -> NewAgent {
    NewAgent { id: id.into(), signing_key: [7; 32], cert_serial: "0a0b".into() }
}

/// Enrolls `id` through a fresh token.
pub fn enrolled(store: &mut dyn Store, id: &str) {
    let t = token(&format!("tok-{id}"), Duration::days(1));
    store.insert_token(&t).expect("token");
    let outcome = store.enroll_agent(&t.id, &t.secret_hash, now(), &agent(id)).expect("enroll");
    assert!(matches!(outcome, TokenOutcome::Consumed(_)), "{outcome:?}");
}

/// The schema is complete after the first open and untouched by later ones.
pub fn migrations_are_idempotent(
    store: &mut dyn Store,
    reopen: &mut dyn FnMut() -> Result<Box<dyn Store>, StoreError>,
) {
    let version = store.schema_version().expect("version");
    assert_eq!(version as usize, super::migrations::SQLITE.len());
    enrolled(store, "aaaaaaaaaaaaaaaaaaaaaaaa");
    for _ in 0..2 {
        let mut again = reopen().expect("reopen");
        assert_eq!(again.schema_version().expect("version"), version);
        assert!(again.agent("aaaaaaaaaaaaaaaaaaaaaaaa").expect("agent").is_some(), "data kept");
    }
}

/// Every way of presenting a token gives its own outcome, and a token works once.
pub fn token_outcomes(store: &mut dyn Store) {
    store.insert_token(&token("good", Duration::days(7))).expect("good");
    store.insert_token(&token("old", Duration::seconds(-1))).expect("old");
    store.insert_token(&token("edge", Duration::zero())).expect("edge");

    let by = "bbbbbbbbbbbbbbbbbbbbbbbb";
    assert_eq!(store.consume_token("none", "none-hash", now(), by).expect("c"), TokenOutcome::Unknown);
    assert_eq!(store.consume_token("good", "wrong", now(), by).expect("c"), TokenOutcome::Unknown);
    assert_eq!(store.consume_token("good", "good-hash", now(), by).expect("c"), TokenOutcome::Consumed(org()));
    assert_eq!(store.consume_token("good", "good-hash", now(), by).expect("c"), TokenOutcome::Used);
    assert_eq!(store.consume_token("good", "wrong", now(), by).expect("c"), TokenOutcome::Unknown, "no hint");
    assert_eq!(store.consume_token("old", "old-hash", now(), by).expect("c"), TokenOutcome::Expired);
    assert_eq!(
        store.consume_token("edge", "edge-hash", now(), by).expect("c"),
        TokenOutcome::Expired,
        "expiry is exclusive"
    );
    assert_eq!(store.consume_token("old", "wrong", now(), by).expect("c"), TokenOutcome::Unknown);

    // Enrollment stores the agent with the token's organisation, and only when the token is good.
    let id = "cccccccccccccccccccccccc";
    store.insert_token(&token("enroll", Duration::days(1))).expect("t");
    assert_eq!(store.enroll_agent("enroll", "wrong", now(), &agent(id)).expect("e"), TokenOutcome::Unknown);
    assert_eq!(store.agent(id).expect("agent"), None);
    assert_eq!(
        store.enroll_agent("enroll", "enroll-hash", now(), &agent(id)).expect("e"),
        TokenOutcome::Consumed(org())
    );
    let stored = store.agent(id).expect("agent").expect("enrolled");
    assert_eq!((stored.org, stored.signing_key, stored.enrolled_at), (org(), [7; 32], now()));
    let other = "dddddddddddddddddddddddd";
    assert_eq!(store.enroll_agent("enroll", "enroll-hash", now(), &agent(other)).expect("e"), TokenOutcome::Used);
    assert_eq!(store.agent(other).expect("agent"), None);
}

fn row(agent: &str, seq: u64) -> SummaryRow {
    SummaryRow {
        agent: agent.into(),
        seq,
        week: "2026-W49".into(),
        received_at: now(),
        payload: format!(r#"{{"seq":{seq},"note":"<script>'\""}}"#),
        digest: format!("{agent}-{seq}"),
    }
}

/// [`Store::store_summaries`] for rows owned by the caller.
fn store_rows(store: &mut dyn Store, rows: &[SummaryRow]) -> Result<Vec<Outcome>, StoreError> {
    store.store_summaries(&rows.iter().collect::<Vec<_>>())
}

/// Each `(agent, seq)` is stored once, whether repeated across batches or within one.
pub fn summaries_once(store: &mut dyn Store) {
    let (a, b) = ("eeeeeeeeeeeeeeeeeeeeeeee", "ffffffffffffffffffffffff");
    enrolled(store, a);
    enrolled(store, b);
    assert_eq!(store_rows(store, &[]).expect("empty"), vec![]);
    let first = store_rows(store, &[row(a, 1), row(a, 2), row(b, 1)]).expect("first");
    assert_eq!(first, vec![Outcome::Stored; 3]);
    let second = store_rows(store, &[row(a, 2), row(a, 3), row(a, 3), row(b, 1)]).expect("second");
    assert_eq!(second, vec![Outcome::Duplicate, Outcome::Stored, Outcome::Duplicate, Outcome::Duplicate]);
    assert_eq!(store.count_summaries().expect("count"), 4);
    // The same seq with other content: a conflict, before and within the batch; the first stays.
    let other = |agent: &str, seq| SummaryRow { digest: "other".into(), payload: "{}".into(), ..row(agent, seq) };
    let third = store_rows(store, &[other(a, 1), row(a, 4), other(a, 4), row(a, 4)]).expect("third");
    assert_eq!(third, vec![Outcome::Conflict, Outcome::Stored, Outcome::Conflict, Outcome::Duplicate]);
    assert_eq!(store.count_summaries().expect("count"), 5);
    let again = store_rows(store, &[row(a, 1)]).expect("again");
    assert_eq!(again, vec![Outcome::Duplicate], "the first content is what was kept");
    assert!(matches!(store_rows(store, &[row(a, u64::MAX)]), Err(StoreError::Invalid(_))));
    assert!(store_rows(store, &[row(a, 9), row("unenrolled00000000000000", 1)]).is_err(), "unknown agent");
    assert_eq!(store.count_summaries().expect("count"), 5, "a failed batch stores nothing");
    let mut seen = Vec::new();
    store
        .each_summary(&mut |s| {
            seen.push((s.agent, s.seq, s.org.name, s.payload.contains("<script>")));
            Ok(())
        })
        .expect("each");
    seen.sort();
    let name = org().name;
    let want: Vec<_> = [(a, 1), (a, 2), (a, 3), (a, 4), (b, 1)]
        .iter()
        .map(|(agent, seq)| (agent.to_string(), *seq, name.clone(), true))
        .collect();
    assert_eq!(seen, want, "every stored summary once, with its organisation, payload intact");
    let stop = store.each_summary(&mut |_| Err(StoreError::Invalid("stop".into())));
    assert!(matches!(stop, Err(StoreError::Invalid(_))), "an error from the callback ends the walk");
}

/// Rejected payloads are cut and trimmed to the newest; the counters never are.
pub fn rejected_is_bounded(store: &mut dyn Store) {
    let reject = |i: usize| Rejected {
        agent: i.is_multiple_of(2).then(|| "eeeeeeeeeeeeeeeeeeeeeeee".to_string()),
        topic: "/tenants/x/wijk/v1/summary".into(),
        reason: if i.is_multiple_of(3) { "bad-signature" } else { "invalid" }.into(),
        detail: format!("{i} {}", "é".repeat(1000)),
        received_at: now(),
        payload: vec![i as u8; 10_000],
    };
    let batch: Vec<_> = (0..20).map(reject).collect();
    store.record_rejected(&batch[..5], 8).expect("first");
    store.record_rejected(&batch[5..], 8).expect("rest");
    let kept = store.recent_rejected(100).expect("recent");
    assert_eq!(kept.len(), 8);
    assert_eq!(kept[0].payload, vec![19; super::REJECTED_PAYLOAD_MAX], "newest first, cut to 4 KiB");
    assert!(kept[0].detail.starts_with("19 ") && kept[0].detail.len() <= super::REJECTED_DETAIL_MAX);
    assert_eq!((kept[0].agent.as_deref(), kept[1].agent.as_deref()), (None, Some("eeeeeeeeeeeeeeeeeeeeeeee")));
    assert_eq!(kept[7].payload[0], 12);
    let counts = store.rejected_counts().expect("counts");
    assert_eq!(counts.get("bad-signature"), Some(&7));
    assert_eq!(counts.get("invalid"), Some(&13));
}

/// Stores `total` summaries of about 1 KiB from 10 agents in batches of `batch`; returns rows/s.
pub fn batch_rate(store: &mut dyn Store, total: usize, batch: usize) -> f64 {
    let agents: Vec<String> = (0..10).map(|i| format!("{i:024x}")).collect();
    for a in &agents {
        enrolled(store, a);
    }
    let filler = "x".repeat(900);
    let rows: Vec<SummaryRow> = (0..total)
        .map(|i| SummaryRow {
            payload: format!(r#"{{"seq":{i},"filler":"{filler}"}}"#),
            ..row(&agents[i % agents.len()], i as u64 + 1)
        })
        .collect();
    let started = Instant::now();
    for chunk in rows.chunks(batch) {
        let outcomes = store_rows(store, chunk).expect("store");
        assert!(outcomes.iter().all(|o| *o == Outcome::Stored));
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    assert_eq!(store.count_summaries().expect("count"), total as u64);
    rate
}

/// Of several connections racing for one token, exactly one consumes it and the others see it used.
pub fn one_consumer_wins(open: &(dyn Fn() -> Box<dyn Store> + Sync)) {
    let mut first = open();
    first.insert_token(&token("race", Duration::days(1))).expect("token");
    let outcomes: Vec<TokenOutcome> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..4)
            .map(|i| {
                s.spawn(move || {
                    let mut store = open();
                    let id = format!("{i:024x}");
                    store.enroll_agent("race", "race-hash", now(), &agent(&id)).expect("enroll")
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().expect("racer")).collect()
    });
    let won = outcomes.iter().filter(|o| matches!(o, TokenOutcome::Consumed(_))).count();
    let used = outcomes.iter().filter(|o| **o == TokenOutcome::Used).count();
    assert_eq!((won, used), (1, 3), "{outcomes:?}");
}

/// Users: created once per name, read back, disabled; agents and tokens listed for administrators
/// (tokens without their secret hash).
pub fn users_and_listings(store: &mut dyn Store) {
    use crate::users::{NewUser, Role};
    let user = |name: &str, role| NewUser {
        name: name.into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${name}"),
        role,
        created_at: now(),
    };
    assert!(store.insert_user(&user("piet", Role::Analyst)).expect("insert"));
    assert!(store.insert_user(&user("an", Role::Admin)).expect("insert"));
    assert!(!store.insert_user(&user("an", Role::Analyst)).expect("taken"), "a name is taken once");
    let an = store.user("an").expect("read").expect("there");
    assert_eq!((an.role, an.disabled, an.created_at), (Role::Admin, false, now()));
    assert!(an.password_hash.ends_with("$an"));
    assert_eq!(store.user("nobody").expect("read"), None);
    assert!(store.set_user_disabled("piet", true).expect("disable"));
    assert!(!store.set_user_disabled("nobody", true).expect("disable"));
    let all = store.users().expect("list");
    let names: Vec<(&str, bool)> = all.iter().map(|u| (u.name.as_str(), u.disabled)).collect();
    assert_eq!(names, vec![("an", false), ("piet", true)]);

    enrolled(store, "bbbbbbbbbbbbbbbbbbbbbbbb");
    let agents = store.agents().expect("agents");
    assert_eq!(agents.len(), 1);
    assert_eq!((agents[0].id.as_str(), &agents[0].org), ("bbbbbbbbbbbbbbbbbbbbbbbb", &org()));
    let tokens = store.tokens().expect("tokens");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].used_by.as_deref(), Some("bbbbbbbbbbbbbbbbbbbbbbbb"));
    assert!(tokens[0].used_at.is_some());
}
