//! Delivery under faults (Mosquitto + PostgreSQL): 10 agents deliver 1,000 summaries in all while
//! the broker is restarted twice, wijkpost is killed with SIGKILL and started again, and one agent's
//! push is killed with SIGKILL mid-publish and started again. Afterwards the database holds exactly
//! 1,000 rows, each `(agent, seq)` once, and every outbox is empty.
//!
//! Summaries are queued gradually (about 100 per second) while every agent runs `wijkagent push`
//! in a loop, so the faults land in the middle of the traffic. Every loop is bounded in time.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wijk_lab::agent;
use wijk_lab::brokers::{Mosquitto, PgDatabase};
use wijk_lab::collector::{enroll_agent, outbox_len, self_report, Collector};
use wijk_lab::process::{find_program, skip};

const AGENTS: usize = 10;
const PER_AGENT: usize = 100;
/// Everything must be delivered within this.
const LIMIT: Duration = Duration::from_secs(240);

/// One agent's delivery loop: `wijkagent push` again and again until the queueing is over and the
/// outbox is empty, or the deadline. The running child is published in `current` so it can be killed.
fn push_loop(
    state: PathBuf,
    audit: PathBuf,
    queued_all: Arc<AtomicBool>,
    current: Arc<Mutex<Option<u32>>>,
    deadline: Instant,
) {
    while Instant::now() < deadline {
        if queued_all.load(Ordering::SeqCst) && outbox_len(&state) == 0 {
            return;
        }
        let mut cmd = agent::command(["--lang", "en", "push", "--timeout", "15", "--state"]);
        cmd.arg(&state).arg("--audit-log").arg(&audit).stdout(Stdio::null()).stderr(Stdio::null());
        let mut child: Child = cmd.spawn().expect("spawn push");
        *current.lock().expect("lock") = Some(child.id());
        let _ = child.wait();
        *current.lock().expect("lock") = None;
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_thousand_summaries_survive_broker_restarts_and_killed_processes() {
    if find_program("mosquitto").is_none() {
        skip("SKIPPED a_thousand_summaries_survive_broker_restarts_and_killed_processes: mosquitto not installed");
        return;
    }
    let Some(db) = PgDatabase::create().expect("postgres") else { return };
    agent::bin_checked().expect("wijkagent built");
    let work = tempfile::tempdir().expect("work");
    let data = work.path().join("wijkpost");
    let mut broker = Mosquitto::for_wijkpost(&work.path().join("mosquitto"), &data).expect("mosquitto");
    let args: Vec<String> = ["--broker", &broker.url, "--database", &db.url].iter().map(|s| s.to_string()).collect();
    let arg_refs = || args.iter().map(String::as_str).collect::<Vec<_>>();
    let mut collector = Some(Collector::start(&data, &arg_refs()).expect("wijkpost"));

    let report_path = self_report(&work.path().join("report")).expect("report");
    let report = wijkagent::report::diff::load(&report_path).expect("report");

    let states: Vec<PathBuf> = (0..AGENTS).map(|i| work.path().join(format!("agent-{i}"))).collect();
    for (i, state) in states.iter().enumerate() {
        enroll_agent(collector.as_ref().expect("running"), state, &format!("Gemeente {i}")).expect("enroll");
    }

    let deadline = Instant::now() + LIMIT;
    let queued_all = Arc::new(AtomicBool::new(false));
    let queued = Arc::new(AtomicU32::new(0));
    let pids: Vec<Arc<Mutex<Option<u32>>>> = (0..AGENTS).map(|_| Arc::new(Mutex::new(None))).collect();
    let loops: Vec<_> = states
        .iter()
        .zip(&pids)
        .map(|(state, pid)| {
            let (state, audit) = (state.clone(), state.join("audit.log"));
            let (queued_all, pid) = (queued_all.clone(), pid.clone());
            std::thread::spawn(move || push_loop(state, audit, queued_all, pid, deadline))
        })
        .collect();
    let queuer = {
        let (states, queued_all, queued) = (states.clone(), queued_all.clone(), queued.clone());
        std::thread::spawn(move || {
            let loaded: Vec<_> =
                states.iter().map(|s| wijkagent::uplink::state::State::load(s).expect("state")).collect();
            for round in 0..PER_AGENT {
                for state in &loaded {
                    wijkagent::uplink::push::enqueue(state, &report).expect("enqueue");
                    queued.fetch_add(1, Ordering::SeqCst);
                }
                if round % 10 == 9 {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            queued_all.store(true, Ordering::SeqCst);
        })
    };

    // The faults, in the middle of the traffic.
    let wait_for = |n: u32| {
        while queued.load(Ordering::SeqCst) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(150);
    broker.restart().expect("first broker restart");
    wait_for(350);
    let killed_agent = loop {
        if let Some(pid) = *pids[3].lock().expect("lock") {
            let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            break pid;
        }
        assert!(Instant::now() < deadline, "agent 3 never ran a push");
        std::thread::sleep(Duration::from_millis(10));
    };
    wait_for(500);
    collector.take().expect("running").kill();
    collector = Some(Collector::start(&data, &arg_refs()).expect("wijkpost after SIGKILL"));
    wait_for(750);
    broker.restart().expect("second broker restart");

    queuer.join().expect("queuer");
    for l in loops {
        l.join().expect("push loop");
    }
    let left: Vec<usize> = states.iter().map(|s| outbox_len(s)).collect();
    let log = collector.as_ref().map(Collector::log_text).unwrap_or_default();
    assert!(
        left.iter().all(|&n| n == 0),
        "outboxes not empty: {left:?} (agent 3's push {killed_agent} was killed)\n{log}"
    );

    let mut store = wijkpost::store::StoreConfig::Postgres(db.url.clone()).open().expect("store");
    assert_eq!(store.count_summaries().expect("count"), (AGENTS * PER_AGENT) as u64, "exactly once each\n{log}");
    drop(collector);
}
