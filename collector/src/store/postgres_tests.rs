//! The store behaviour on this machine's PostgreSQL (`WIJK_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, trust authentication). Each test creates a
//! database of its own and drops it afterwards. Without a reachable server the tests say SKIPPED,
//! except in CI (`CI=true`), where `.ci/run` starts one and they must run.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;
use crate::store::conformance;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database of one test's own, dropped with this value.
struct TestDb {
    admin: postgres::Config,
    name: String,
    url: String,
}

impl TestDb {
    fn create() -> Option<TestDb> {
        static N: AtomicU32 = AtomicU32::new(0);
        let server = std::env::var("WIJK_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_URL.to_string());
        let mut admin: postgres::Config = server.parse().expect("WIJK_TEST_POSTGRES is not a postgres URL");
        admin.connect_timeout(Duration::from_secs(3));
        let mut client = match admin.connect(NoTls) {
            Ok(c) => c,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL not reachable at {server} in CI: {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED: PostgreSQL not reachable at {server} ({e}); set WIJK_TEST_POSTGRES");
                return None;
            }
        };
        let name = format!("wijkpost_test_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).expect("drop old db");
        client.batch_execute(&format!("CREATE DATABASE {name}")).expect("create db");
        let url = format!("{}/{name}", server.rsplit_once('/').map(|(base, _)| base).unwrap_or(&server));
        Some(TestDb { admin, name, url })
    }

    fn open(&self) -> PgStore {
        PgStore::open(&self.url).expect("open test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut c) = self.admin.connect(NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

#[test]
fn migrations_apply_once_and_a_newer_database_is_refused() {
    let Some(db) = TestDb::create() else { return };
    let mut store = db.open();
    conformance::migrations_are_idempotent(&mut store, &mut || Ok(Box::new(PgStore::open(&db.url)?) as Box<dyn Store>));
    let future = migrations::POSTGRES.len() as i32 + 1;
    store
        .client()
        .expect("client")
        .execute("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", &[&future])
        .expect("bump");
    drop(store);
    assert!(matches!(PgStore::open(&db.url), Err(StoreError::TooNew { .. })));
}

#[test]
fn summaries_kept_as_jsonb_before_step_4_read_back_unchanged_as_text() {
    let Some(db) = TestDb::create() else { return };
    let mut store = db.open();
    conformance::enrolled(&mut store, "dddddddddddddddddddddddd");
    // Back to version 3: the payload column as it was, one summary stored in it.
    let payload = r#"{"seq":1,"week":"2026-W49","counts":{"hosts_alive":3},"note":"<b>'\"x\"</b>"}"#;
    store
        .client()
        .expect("client")
        .batch_execute(&format!(
            "ALTER TABLE summaries ALTER COLUMN payload TYPE JSONB USING payload::jsonb;
             DELETE FROM schema_migrations WHERE version = 4;
             INSERT INTO summaries (agent, seq, week, received_at, payload, digest)
                 VALUES ('dddddddddddddddddddddddd', 1, '2026-W49', 0, '{}'::jsonb, 'd1');",
            payload.replace('\'', "''")
        ))
        .expect("a version 3 database");
    drop(store);
    let mut store = db.open();
    assert_eq!(store.schema_version().expect("version") as usize, migrations::POSTGRES.len());
    let kind: String = store
        .client()
        .expect("client")
        .query_one("SELECT data_type FROM information_schema.columns WHERE table_name = 'summaries' AND column_name = 'payload'", &[])
        .expect("column")
        .get(0);
    assert_eq!(kind, "text");
    let mut read = Vec::new();
    store
        .each_summary(&mut |s| {
            read.push(s.payload);
            Ok(())
        })
        .expect("each summary");
    let value = |text: &str| serde_json::from_str::<serde_json::Value>(text).expect("JSON");
    assert_eq!(read.len(), 1);
    assert_eq!(value(&read[0]), value(payload), "the same JSON, whatever jsonb did to its spacing");
}

#[test]
fn concurrent_opens_migrate_once() {
    let Some(db) = TestDb::create() else { return };
    let url = db.url.clone();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::open(&url).map(|mut s| s.schema_version()))
        })
        .collect();
    for h in handles {
        let version = h.join().expect("thread").expect("open").expect("version");
        assert_eq!(version as usize, migrations::POSTGRES.len());
    }
}

#[test]
fn tokens() {
    let Some(db) = TestDb::create() else { return };
    conformance::token_outcomes(&mut db.open());
}

#[test]
fn one_consumer_wins() {
    let Some(db) = TestDb::create() else { return };
    conformance::one_consumer_wins(&|| Box::new(db.open()));
}

#[test]
fn summaries() {
    let Some(db) = TestDb::create() else { return };
    conformance::summaries_once(&mut db.open());
}

#[test]
fn users_and_listings() {
    let Some(db) = TestDb::create() else { return };
    conformance::users_and_listings(&mut db.open());
}

#[test]
fn rejected() {
    let Some(db) = TestDb::create() else { return };
    conformance::rejected_is_bounded(&mut db.open());
}

/// A measurement, not a check:
/// `cargo test -p wijkpost --release -- --ignored --nocapture postgres_batch_rate` prints the rate.
#[test]
#[ignore = "measurement: prints the batch insert rate"]
fn postgres_batch_rate() {
    let Some(db) = TestDb::create() else { return };
    let rate = conformance::batch_rate(&mut db.open(), 10_000, 250);
    println!("PostgreSQL: {rate:.0} summaries/s in batches of 250");
}

#[test]
fn a_store_dropped_inside_a_runtime_does_not_panic() {
    let Some(db) = TestDb::create() else { return };
    let store = db.open();
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    rt.block_on(async move { drop(store) });
}
