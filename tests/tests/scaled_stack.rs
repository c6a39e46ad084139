//! The scaled stack: Mosquitto (TLS, wijkpost's CA, client certificates, identity as user name,
//! wijkpost's ACL) and PostgreSQL, with two wijkpost instances sharing the subscription
//! `$share/wijkpost//tenants/+/wijk/v1/summary`. Every summary is stored exactly once, both
//! instances take part, every outbox empties, and the ACL confines the agents as rumqttd does.
//! Without mosquitto or a PostgreSQL server the test says SKIPPED (in CI it must run).

use std::time::Duration;

use wijk_lab::agent;
use wijk_lab::brokers::{Mosquitto, PgDatabase};
use wijk_lab::collector::{enroll_agent, outbox_len, self_report, Collector};
use wijk_lab::process::{find_program, run_bounded, skip};

/// Summaries each agent queues before one push delivers them all.
const PER_AGENT: usize = 20;

#[test]
fn two_instances_on_mosquitto_and_postgresql_store_every_summary_once() {
    if find_program("mosquitto").is_none() {
        skip("SKIPPED two_instances_on_mosquitto_and_postgresql_store_every_summary_once: mosquitto not installed");
        return;
    }
    let Some(db) = PgDatabase::create().expect("postgres") else { return };
    agent::bin_checked().expect("wijkagent built");
    let work = tempfile::tempdir().expect("work");
    let data = work.path().join("wijkpost");

    let broker = Mosquitto::for_wijkpost(&work.path().join("mosquitto"), &data).expect("mosquitto");

    let args = |instance: &'static str| {
        ["--broker", broker.url.as_str(), "--database", db.url.as_str(), "--instance", instance]
    };
    let one = Collector::start(&data, &args("1")).expect("wijkpost 1");
    let two = Collector::start(&data, &args("2")).expect("wijkpost 2");

    let report_path = self_report(&work.path().join("report")).expect("report");
    let report = wijkagent::report::diff::load(&report_path).expect("report");
    let states: Vec<_> = ["a", "b", "c"].iter().map(|n| work.path().join(format!("state-{n}"))).collect();
    for (i, state) in states.iter().enumerate() {
        enroll_agent(if i % 2 == 0 { &one } else { &two }, state, &format!("Gemeente {i}")).expect("enroll");
        let loaded = wijkagent::uplink::state::State::load(state).expect("state");
        for _ in 0..PER_AGENT {
            wijkagent::uplink::push::enqueue(&loaded, &report).expect("enqueue");
        }
    }
    for state in &states {
        let mut cmd = agent::command(["--lang", "en", "push", "--timeout", "60", "--state"]);
        cmd.arg(state).arg("--audit-log").arg(work.path().join("audit.log"));
        let f = run_bounded(&mut cmd, Duration::from_secs(120)).expect("push");
        assert!(
            f.success() && f.stdout.contains(&format!("stored: {PER_AGENT},")),
            "{}\n--- wijkpost 1:\n{}\n--- wijkpost 2:\n{}",
            f.describe(),
            one.log_text(),
            two.log_text()
        );
        assert_eq!(outbox_len(state), 0);
    }

    let mut store = wijkpost::store::StoreConfig::Postgres(db.url.clone()).open().expect("store");
    assert_eq!(store.count_summaries().expect("count"), (PER_AGENT * states.len()) as u64, "each exactly once");
    let (log_one, log_two) = (one.stop(), two.stop());
    for (name, log) in [("1", &log_one), ("2", &log_two)] {
        let line = log
            .lines()
            .find(|l| l.contains("ingest stopped:"))
            .unwrap_or_else(|| panic!("no stats from {name}:\n{log}"));
        let stored: u64 = line
            .split("ingest stopped: ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(stored > 0, "wijkpost {name} took no part: {line}");
    }
    drop(broker);
}
