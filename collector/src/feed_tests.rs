use chrono::{DateTime, Duration, Utc};
use wijk_protocol::Advice;

use super::*;
use crate::ingest::tests::summary_with as summary;
use crate::org::{Province, Sector, SizeClass};
use crate::store::{sqlite::SqliteStore, NewAgent, NewToken, SummaryRow};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_000_000, 0).unwrap_or_default()
}

fn org(i: usize) -> Org {
    Org {
        name: format!("Gemeente {i}"),
        sector: Sector::Gemeente,
        size_class: SizeClass::UpTo25k,
        province: Province::Limburg,
    }
}

fn agent(i: usize) -> String {
    format!("{i:024x}")
}

/// A SQLite store with `n` enrolled agents, one organisation each, each with one stored summary
/// (telnet open at the even ones), plus one stored row whose payload is not a summary.
fn store_with(n: usize, dir: &Path) -> SqliteStore {
    let mut store = SqliteStore::open(&dir.join("w.db")).expect("store");
    let mut rows = Vec::new();
    for i in 0..n {
        let token = NewToken {
            id: format!("t{i}"),
            secret_hash: "h".into(),
            org: org(i),
            created_at: now(),
            expires_at: now() + Duration::days(1),
        };
        store.insert_token(&token).expect("token");
        let new = NewAgent { id: agent(i), signing_key: [i as u8; 32], cert_serial: "01".into() };
        store.enroll_agent(&token.id, "h", now(), &new).expect("enroll");
        let s = summary(&agent(i), 1, i % 2 == 0);
        let payload = serde_json::to_string(&s).expect("json");
        rows.push(SummaryRow {
            agent: agent(i),
            seq: 1,
            week: s.week,
            received_at: now(),
            payload,
            digest: format!("d{i}"),
        });
    }
    rows.push(SummaryRow {
        agent: agent(0),
        seq: 2,
        week: "2026-W49".into(),
        received_at: now(),
        payload: r#"{"not":"a summary"}"#.into(),
        digest: "x".into(),
    });
    store.store_summaries(&rows.iter().collect::<Vec<_>>()).expect("rows");
    store
}

#[test]
fn the_index_is_loaded_from_every_stored_summary_and_bad_rows_are_left_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_with(6, dir.path());
    let (index, loaded) = load(&mut store, Index::new(3).expect("k")).expect("load");
    assert_eq!(loaded, Loaded { summaries: 6, skipped: 1 });
    assert_eq!(index.rows(), 6);
    let mut ids = index.agent_ids();
    ids.sort();
    assert_eq!(ids, (0..6).map(agent).collect::<Vec<_>>());
}

#[test]
fn stored_summaries_make_their_agents_due_for_advice_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_with(6, dir.path());
    let (index, _) = load(&mut store, Index::new(3).expect("k")).expect("load");
    let toolkit = Toolkit::parse(
        "[[link]]\nweakness = \"telnet-open\"\ntitle = \"Telnet uitschakelen\"\nurl = \"https://vvsg.example/telnet\"\n",
    )
    .expect("toolkit");
    let mut feed = Feed::new(Arc::new(RwLock::new(index)), toolkit);
    // After a start every agent is due: nothing is retained on the broker yet.
    let first = feed.advice_due(false);
    assert_eq!(first.len(), 6);
    let advice = Advice::decode(&first[0].payload).expect("an advice document");
    assert_eq!(first[0].topic, topics::advice(&advice.agent));
    let telnet = advice.priorities.iter().find(|p| p.id == "telnet-open").expect("telnet is a priority");
    assert_eq!(telnet.links[0].url, "https://vvsg.example/telnet", "VVSG's link travels with the advice");
    assert!(feed.advice_due(true).is_empty(), "nobody is due twice");

    // A new latest summary makes its agent due; under load only after the interval, idle at once.
    feed.add(vec![(org(1), agent(1), 2, now(), summary(&agent(1), 2, true))]);
    assert!(feed.advice_due(false).is_empty(), "under load: wait for the interval");
    let again = feed.advice_due(true);
    assert_eq!(again.iter().map(|a| a.topic.clone()).collect::<Vec<_>>(), vec![topics::advice(&agent(1))]);
    // An older seq of the same week changes nothing.
    feed.add(vec![(org(1), agent(1), 1, now(), summary(&agent(1), 1, false))]);
    assert!(feed.advice_due(true).is_empty());
}

#[test]
fn a_new_k_or_toolkit_is_in_force_at_once_and_every_agent_is_advised_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = store_with(6, dir.path());
    let (index, _) = load(&mut store, Index::new(3).expect("k")).expect("load");
    let mut feed = Feed::new(Arc::new(RwLock::new(index)), Toolkit::default());
    let tuning = feed.tuning();
    assert_eq!(feed.advice_due(true).len(), 6);
    assert!(feed.advice_due(true).is_empty());

    let link = "[[link]]\nweakness = \"telnet-open\"\ntitle = \"Telnet uit\"\nurl = \"https://vvsg.example/v2\"\n";
    assert!(tuning.set_toolkit(Toolkit::parse(link).expect("toolkit")));
    assert!(!tuning.set_toolkit(Toolkit::parse(link).expect("toolkit")), "the same toolkit is no change");
    let again = feed.advice_due(true);
    assert_eq!(again.len(), 6, "a new toolkit: every agent advised again");
    let with_telnet = again
        .iter()
        .filter_map(|a| Advice::decode(&a.payload))
        .flat_map(|a| a.priorities)
        .find(|p| p.id == "telnet-open")
        .expect("telnet is a priority");
    assert_eq!(with_telnet.links[0].url, "https://vvsg.example/v2");

    assert_eq!(tuning.set_k(2), Err(crate::trends::TrendsError::KTooSmall(2)), "k < 3 refused");
    assert_eq!(tuning.k(), 3, "a refused k changes nothing");
    assert!(feed.advice_due(true).is_empty(), "nor makes anyone due");
    assert_eq!(tuning.set_k(4), Ok(true));
    assert_eq!(feed.index().read().map(|i| i.k()).ok(), Some(4), "the web side reads the same index");
    assert_eq!(tuning.set_k(4), Ok(false), "the same k is no change");
    assert_eq!(feed.advice_due(true).len(), 6, "a new k: every agent advised again");
}

#[test]
fn toolkit_files_are_checked_and_a_missing_file_is_an_empty_toolkit() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(Toolkit::load(&dir.path().join("none.toml")).expect("missing"), Toolkit::default());
    let link = |w: &str, t: &str, u: &str| format!("[[link]]\nweakness = {w:?}\ntitle = {t:?}\nurl = {u:?}\n");
    for (text, says) in [
        (link("telnet-open", "Gids", "http://vvsg.example/x"), "https://"),
        (link("telnet-open", "Gids", "https://vvsg.example/\"><script>"), "https://"),
        (link("Telnet Open", "Gids", "https://vvsg.example/x"), "weakness"),
        (link("telnet-open", "", "https://vvsg.example/x"), "title"),
        ("[[link]]\nweakness = \"a\"\ntitle = \"b\"\nurl = \"https://c\"\ncolour = 1\n".into(), "colour"),
    ] {
        let err = Toolkit::parse(&text).expect_err(&text);
        assert!(err.contains(says), "{text}: {err}");
    }
    let two =
        format!("{}{}", link("telnet-open", "A", "https://a.example"), link("telnet-open", "B", "https://b.example"));
    assert_eq!(Toolkit::parse(&two).expect("two").0["telnet-open"].len(), 2);
}
