//! The broker confines every agent to its own subtree `/tenants/<agent>/` (DESIGN.md, "MQTT
//! topics"): here on the embedded rumqttd, with two agents enrolled through the real CLI. Agent A,
//! holding its own valid certificate, may use its own topics and nothing of B's.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, SubscribeReasonCode, TlsConfiguration, Transport,
};
use wijk_lab::agent;
use wijk_lab::collector::Collector;
use wijk_lab::process::run_bounded;

/// How a broker answered a subscription or a publish.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Allowed,
    Refused,
}

fn enroll(collector: &Collector, state: &Path, org: &str) -> String {
    let token = collector.token(org).expect("token");
    let mut cmd = agent::command(["enroll", "--collector", &collector.web_url, "--token", &token, "--state"]);
    cmd.arg(state);
    let f = run_bounded(&mut cmd, Duration::from_secs(60)).expect("enroll");
    assert!(f.success(), "{}", f.describe());
    let identity: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("identity.json")).expect("identity")).expect("json");
    identity["agent_id"].as_str().expect("id").to_string()
}

fn tls(state: &Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(state.join("ca.crt")).expect("ca") {
        roots.add(c.expect("ca cert")).expect("root");
    }
    let chain: Vec<_> =
        CertificateDer::pem_file_iter(state.join("client.crt")).expect("crt").map(|c| c.expect("c")).collect();
    let key = PrivateKeyDer::from_pem_file(state.join("client.key")).expect("key");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client auth");
    Arc::new(config)
}

fn connect(broker: &str, state: &Path, client_id: &str) -> (AsyncClient, EventLoop) {
    let (host, port) = broker.strip_prefix("mqtts://").and_then(|r| r.rsplit_once(':')).expect("broker url");
    let mut options = MqttOptions::new(client_id, host, port.parse().expect("port"));
    options.set_keep_alive(Duration::from_secs(10));
    options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls(state))));
    AsyncClient::new(options, 16)
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

#[test]
fn an_agent_can_neither_publish_as_another_nor_read_its_receipts_or_advice() {
    agent::bin_checked().expect("wijkagent built");
    let work = tempfile::tempdir().expect("work");
    let collector = Collector::start(&work.path().join("wijkpost"), &[]).expect("serve");
    let (state_a, state_b) = (work.path().join("a"), work.path().join("b"));
    let a = enroll(&collector, &state_a, "Gemeente A");
    let b = enroll(&collector, &state_b, "Gemeente B");
    let broker = collector.broker_url.clone();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
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
        // B's receipts and advice, or everyone's, are not.
        for filter in [
            format!("/tenants/{b}/wijk/v1/receipt"),
            format!("/tenants/{b}/wijk/v1/advice"),
            "/tenants/+/wijk/v1/receipt".to_string(),
            "#".to_string(),
        ] {
            assert_eq!(
                try_subscribe(&broker, &state_a, &a, &filter).await,
                Answer::Refused,
                "A subscribing to {filter}"
            );
        }
        // Publishing as B, even under B's client id, is refused by the broker.
        let as_b = format!("{{\"summary\":{{\"agent\":\"{b}\"}}}}").into_bytes();
        assert_eq!(
            try_publish(&broker, &state_a, &b, &format!("/tenants/{b}/wijk/v1/summary"), as_b).await,
            Answer::Refused
        );
        // Publishing a summary on A's own topic reaches the broker (it is refused later by ingest).
        assert_eq!(
            try_publish(&broker, &state_a, &a, &format!("/tenants/{a}/wijk/v1/summary"), b"not a summary".to_vec())
                .await,
            Answer::Allowed
        );
    });
    // Nothing was stored for anyone; the garbage on A's topic was counted as rejected.
    let mut store = wijkpost::store::StoreConfig::parse(None, &collector.data).expect("config").open().expect("store");
    assert_eq!(store.count_summaries().expect("count"), 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.rejected_counts().expect("counts").get("malformed").copied().unwrap_or(0) == 0 {
        assert!(std::time::Instant::now() < deadline, "the garbage was not recorded:\n{}", collector.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
}
