//! The broker confines every agent to its own subtree `/tenants/<agent>/` (DESIGN.md, "MQTT
//! topics"): on the embedded rumqttd and on Mosquitto with wijkpost's ACL, with two agents enrolled
//! through the real CLI. Agent A, holding its own valid certificate, may use its own topics and
//! nothing of B's: it can neither read B's receipts or advice nor publish as B.

use std::path::Path;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, Packet, QoS, SubscribeReasonCode};
use wijk_lab::agent;
use wijk_lab::brokers::Mosquitto;
use wijk_lab::collector::{enroll_agent, self_report, Collector};
use wijk_lab::process::{find_program, run_bounded, skip};

/// How a broker answered a subscription or a publish.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Allowed,
    Refused,
}

fn connect(broker: &str, state: &Path, client_id: &str) -> (AsyncClient, EventLoop) {
    wijk_lab::mqtt::agent_client(broker, state, client_id, 16).expect("client")
}

/// Polls until the broker acknowledged what was asked (`Allowed`), refused it in its answer or by
/// closing the connection (`Refused`); at most 10 s.
async fn answer(events: &mut EventLoop, expect_puback: bool) -> Answer {
    let wait = async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let refused = ack.return_codes.iter().any(|c| matches!(c, SubscribeReasonCode::Failure));
                    return if refused { Answer::Refused } else { Answer::Allowed };
                }
                Ok(Event::Incoming(Packet::PubAck(_))) if expect_puback => return Answer::Allowed,
                Ok(_) => {}
                Err(_) => return Answer::Refused,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait).await.expect("the broker answered within 10 s")
}

async fn try_subscribe(broker: &str, state: &Path, me: &str, filter: &str) -> Answer {
    let (client, mut events) = connect(broker, state, me);
    client.subscribe(filter, QoS::AtLeastOnce).await.expect("queue subscribe");
    answer(&mut events, false).await
}

async fn try_publish(broker: &str, state: &Path, me: &str, topic: &str, payload: Vec<u8>) -> Answer {
    let (client, mut events) = connect(broker, state, me);
    client.publish(topic, QoS::AtLeastOnce, false, payload).await.expect("queue publish");
    answer(&mut events, true).await
}

/// Listens as `me` on `filters` for `window` and returns the topics of whatever arrived (a
/// refused subscription or a closed connection hears nothing).
async fn eavesdrop(
    broker: &str,
    state: &Path,
    me: &str,
    filters: &[String],
    heard: tokio::sync::oneshot::Sender<Vec<String>>,
    window: Duration,
) {
    let (client, mut events) = connect(broker, state, me);
    for filter in filters {
        let _ = client.subscribe(filter.clone(), QoS::AtLeastOnce).await;
    }
    let mut topics = Vec::new();
    let _ = tokio::time::timeout(window, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => topics.push(p.topic),
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await;
    let _ = heard.send(topics);
}

/// The rejections wijkpost recorded so far, all reasons together.
fn rejections(database: Option<&str>, data: &Path) -> u64 {
    let config = wijkpost::store::StoreConfig::parse(database, data).expect("config");
    config.open().expect("store").rejected_counts().expect("counts").values().sum()
}

/// A and B enrolled on `collector`; A tries B's topics. `refusals_are_answered`: the broker
/// answers a forbidden subscription or publish (rumqttd: a refused SUBACK or a closed connection);
/// Mosquitto's ACL grants the subscription and drops a forbidden publish silently, so there only
/// the effect is checked: A hears nothing of B, and nothing A publishes as B reaches wijkpost.
fn confinement(collector: &Collector, database: Option<&str>, refusals_are_answered: bool) {
    let work = tempfile::tempdir().expect("work");
    let (state_a, state_b) = (work.path().join("a"), work.path().join("b"));
    let a = enroll_agent(collector, &state_a, "Gemeente A").expect("enroll A");
    let b = enroll_agent(collector, &state_b, "Gemeente B").expect("enroll B");
    let broker = collector.broker_url.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        // The control: A's own topics are A's.
        assert_eq!(
            try_subscribe(&broker, &state_a, &a, &format!("/tenants/{a}/wijk/v1/receipt")).await,
            Answer::Allowed
        );
        assert_eq!(
            try_subscribe(&broker, &state_a, &a, &format!("/tenants/{a}/wijk/v1/advice")).await,
            Answer::Allowed
        );
        let others = [
            format!("/tenants/{b}/wijk/v1/receipt"),
            format!("/tenants/{b}/wijk/v1/advice"),
            "/tenants/+/wijk/v1/receipt".to_string(),
            "#".to_string(),
        ];
        // rumqttd refuses such subscriptions outright; Mosquitto 2.0 grants them and checks the ACL
        // on every message it would deliver, so there only the eavesdropping below tells.
        if refusals_are_answered {
            for filter in &others {
                let answer = try_subscribe(&broker, &state_a, &a, filter).await;
                assert_eq!(answer, Answer::Refused, "A subscribing to {filter}");
            }
        }
        // Whatever the broker answers, A hears nothing of B while B delivers a summary.
        let (heard_tx, heard_rx) = tokio::sync::oneshot::channel();
        let listener = tokio::spawn({
            let (broker, state_a, a, others) = (broker.clone(), state_a.clone(), a.clone(), others.to_vec());
            async move { eavesdrop(&broker, &state_a, &a, &others, heard_tx, Duration::from_secs(8)).await }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let report = self_report(&work.path().join("report")).expect("report");
        let mut push = agent::command(["--lang", "en", "push", "--timeout", "30", "--state"]);
        push.arg(&state_b).arg(&report).arg("--audit-log").arg(work.path().join("audit.log"));
        let pushed =
            tokio::task::spawn_blocking(move || run_bounded(&mut push, Duration::from_secs(60)).expect("push"))
                .await
                .expect("join");
        assert!(pushed.success() && pushed.stdout.contains("stored: 1,"), "B's own push: {}", pushed.describe());
        let heard = heard_rx.await.expect("eavesdropper");
        listener.await.expect("join");
        assert!(heard.is_empty(), "A heard B's traffic: {heard:?}");

        // Publishing as B, even under B's client id, never reaches wijkpost.
        let before = rejections(database, &collector.data);
        let as_b = format!("{{\"summary\":{{\"agent\":\"{b}\"}}}}").into_bytes();
        let forbidden = try_publish(&broker, &state_a, &b, &format!("/tenants/{b}/wijk/v1/summary"), as_b).await;
        if refusals_are_answered {
            assert_eq!(forbidden, Answer::Refused);
        }
        // The control: garbage on A's own topic does reach wijkpost (and is rejected there).
        let own_topic = format!("/tenants/{a}/wijk/v1/summary");
        let own = try_publish(&broker, &state_a, &a, &own_topic, b"not a summary".to_vec()).await;
        assert_eq!(own, Answer::Allowed);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while rejections(database, &collector.data) == before {
            assert!(std::time::Instant::now() < deadline, "the control was not recorded:\n{}", collector.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(rejections(database, &collector.data), before + 1, "only the control arrived");
    });
}

#[test]
fn on_the_embedded_broker_an_agent_uses_its_own_topics_only() {
    agent::bin_checked().expect("wijkagent built");
    let work = tempfile::tempdir().expect("work");
    let collector = Collector::start(&work.path().join("wijkpost"), &[]).expect("serve");
    confinement(&collector, None, true);
}

#[test]
fn on_mosquitto_with_the_acl_an_agent_uses_its_own_topics_only() {
    if find_program("mosquitto").is_none() {
        skip("SKIPPED on_mosquitto_with_the_acl_an_agent_uses_its_own_topics_only: mosquitto not installed");
        return;
    }
    agent::bin_checked().expect("wijkagent built");
    let work = tempfile::tempdir().expect("work");
    let data = work.path().join("wijkpost");
    let broker = Mosquitto::for_wijkpost(&work.path().join("mosquitto"), &data).expect("mosquitto");
    let collector = Collector::start(&data, &["--broker", &broker.url]).expect("serve");
    confinement(&collector, None, false);
}

/// Waits until wijkpost has recorded `want` refusals in all; at most 10 s.
async fn await_rejections(collector: &Collector, want: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rejections(None, &collector.data) < want {
        assert!(std::time::Instant::now() < deadline, "{want} refusals not recorded:\n{}", collector.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// wijkpost answers on topics no client may be subscribed to (an agent that publishes and never
/// listens; advice for an agent that is not connected). The embedded broker drops such an answer,
/// and nothing else is disturbed: wijkpost keeps reading, storing and answering.
#[test]
fn answers_no_one_listens_for_disturb_nothing() {
    agent::bin_checked().expect("wijkagent built");
    let work = tempfile::tempdir().expect("work");
    let collector = Collector::start(&work.path().join("wijkpost"), &[]).expect("serve");
    let (state_a, state_b) = (work.path().join("a"), work.path().join("b"));
    let a = enroll_agent(&collector, &state_a, "Gemeente A").expect("enroll A");
    enroll_agent(&collector, &state_b, "Gemeente B").expect("enroll B");
    let (broker, own_topic) = (collector.broker_url.clone(), format!("/tenants/{a}/wijk/v1/summary"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let garbage = |times: u64| {
        runtime.block_on(async {
            let before = rejections(None, &collector.data);
            for _ in 0..times {
                let sent = try_publish(&broker, &state_a, &a, &own_topic, b"not a summary".to_vec()).await;
                assert_eq!(sent, Answer::Allowed);
            }
            await_rejections(&collector, before + times).await;
        })
    };
    // A never subscribes to its receipts: three refusals answered into the void.
    garbage(3);
    let report = self_report(&work.path().join("report")).expect("report");
    for round in 1..=2 {
        let mut push = agent::command(["--lang", "en", "push", "--timeout", "30", "--state"]);
        push.arg(&state_b).arg(&report).arg("--audit-log").arg(work.path().join("audit.log"));
        let pushed = run_bounded(&mut push, Duration::from_secs(60)).expect("push");
        assert!(pushed.success() && pushed.stdout.contains("stored: 1,"), "B's push {round}: {}", pushed.describe());
    }
    garbage(1);
}
