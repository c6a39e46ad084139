//! `wijkagent push`: the outbox delivered over MQTT with TLS and the client certificate.
//!
//! One connection at a time: subscribe to the agent's receipt and advice topics, publish every entry
//! waiting (QoS 1), and act on each receipt (one per message, or several of a `wijk.receipt/2`):
//! `stored` and `duplicate` delete the entry, `rejected` sets it aside with the reason. A broken
//! connection is dropped whole (a new one subscribes again and publishes whatever still waits),
//! after a back-off of 1, 2, 4, ... up to 30 seconds, until the outbox is empty or the deadline
//! passes. A connection that stays up but brings no receipt for 10 seconds (wijkpost restarted
//! behind a broker that kept the connection) sends the waiting entries again. wijkpost stores each
//! `(agent, seq)` once, so publishing an entry twice is harmless; nothing is deleted without its
//! receipt.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use tokio::time::Instant;
use wijk_protocol::{read_receipts, topics, Receipt, ReceiptStatus, SignedSummary};

use super::state::{State, CA_CERT, CLIENT_CERT, CLIENT_KEY};
use super::UplinkError;
use crate::outbox::Outbox;
use crate::report::Report;

/// Longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a connection may bring no receipt before the entries still waiting are sent again.
const RESEND_AFTER: Duration = Duration::from_secs(10);

/// What happened during a push, reported as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// Connected; `waiting` entries are being published.
    Connected {
        /// Entries published on this connection.
        waiting: usize,
    },
    /// The receipt for `seq` arrived.
    Receipt {
        /// Sequence number.
        seq: u64,
        /// Outcome.
        status: ReceiptStatus,
        /// Why, when rejected.
        reason: Option<String>,
    },
    /// The connection failed; the next attempt follows after `retry_in`.
    ConnectionLost {
        /// The cause.
        why: String,
        /// Back-off before the next attempt.
        retry_in: Duration,
    },
    /// New advice was stored.
    Advice,
}

/// The end of a push.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Entries wijkpost stored now.
    pub stored: usize,
    /// Entries wijkpost had stored before.
    pub duplicates: usize,
    /// Entries wijkpost refused (set aside).
    pub rejected: usize,
    /// Entries still waiting (deadline passed).
    pub left: usize,
}

/// Summarises `report`, signs it and appends it to the outbox; returns its `seq`.
pub fn enqueue(state: &State, report: &Report) -> Result<u64, UplinkError> {
    let outbox = state.outbox()?;
    let seq = outbox.append(|seq| {
        let summary = crate::summary::summarise(report, &state.identity.agent_id, seq);
        SignedSummary::sign(summary, &state.signing_key).to_bytes()
    })?;
    Ok(seq)
}

/// Delivers the outbox until it is empty or `deadline` passes.
pub async fn deliver(
    state: &State,
    deadline: Duration,
    mut on_event: impl FnMut(&PushEvent),
) -> Result<PushOutcome, UplinkError> {
    let outbox = state.outbox()?;
    let until = Instant::now() + deadline;
    let tls = tls_config(state)?;
    let mut outcome = PushOutcome::default();
    let mut backoff = Duration::from_secs(1);
    loop {
        let pending = outbox.pending()?;
        if pending.is_empty() {
            return Ok(outcome);
        }
        let attempt = connection(state, &tls, pending, &mut outcome, &mut on_event);
        let failure = match tokio::time::timeout_at(until, attempt).await {
            Err(_) => None,
            Ok(Ok(())) => continue,
            Ok(Err(why)) => Some(why),
        };
        let now = Instant::now();
        match failure {
            Some(why) if now + backoff < until => {
                on_event(&PushEvent::ConnectionLost { why, retry_in: backoff });
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Some(why) if outcome == PushOutcome::default() => {
                let (host, port) = state.broker_address()?;
                return Err(UplinkError::Unreachable { target: format!("{host}:{port}"), why });
            }
            _ => {
                outcome.left = outbox.seqs()?.len();
                return Ok(outcome);
            }
        }
    }
}

/// One connection: publishes `pending` and handles receipts until every one is answered (`Ok`) or
/// the connection fails (`Err` with the cause).
async fn connection(
    state: &State,
    tls: &Arc<rustls::ClientConfig>,
    pending: Vec<crate::outbox::Entry>,
    outcome: &mut PushOutcome,
    on_event: &mut impl FnMut(&PushEvent),
) -> Result<(), String> {
    let agent = &state.identity.agent_id;
    let (client, mut events) = AsyncClient::new(mqtt_options(state, tls)?, 64);
    let (receipt_topic, advice_topic) = (topics::receipt(agent), topics::advice(agent));
    client.subscribe(receipt_topic.clone(), QoS::AtLeastOnce).await.map_err(|e| e.to_string())?;
    client.subscribe(advice_topic.clone(), QoS::AtLeastOnce).await.map_err(|e| e.to_string())?;
    let mut waiting: BTreeSet<u64> = pending.iter().map(|e| e.seq).collect();
    let mut publisher = None;
    let outbox = state.outbox().map_err(|e| e.to_string())?;
    let mut subacks = 0;
    let mut quiet_since = Instant::now();
    while !waiting.is_empty() {
        let event = match tokio::time::timeout_at(quiet_since + RESEND_AFTER, events.poll()).await {
            Ok(event) => event.map_err(|e| e.to_string())?,
            Err(_) => {
                // No receipt for a while: wijkpost may have restarted and missed them. Send again
                // what is still waiting; wijkpost answers `duplicate` for what it already has.
                if publisher.is_some() {
                    let again: Vec<_> = pending.iter().filter(|e| waiting.contains(&e.seq)).cloned().collect();
                    if let Some(old) =
                        publisher.replace(spawn_publisher(client.clone(), topics::summary(agent), &again))
                    {
                        old.abort();
                    }
                }
                quiet_since = Instant::now();
                continue;
            }
        };
        match event {
            Event::Incoming(Packet::ConnAck(_)) => on_event(&PushEvent::Connected { waiting: waiting.len() }),
            Event::Incoming(Packet::SubAck(ack)) => {
                if ack.return_codes.iter().any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)) {
                    return Err("the broker refused the subscription to this agent's topics".into());
                }
                subacks += 1;
                if subacks == 2 && publisher.is_none() {
                    publisher = Some(spawn_publisher(client.clone(), topics::summary(agent), &pending));
                }
            }
            Event::Incoming(Packet::Publish(p)) if p.topic == receipt_topic => {
                // One receipt, or several in a `wijk.receipt/2`; anything else reads as none.
                let receipts: Vec<Receipt> =
                    read_receipts(&p.payload).into_iter().filter(|r| waiting.remove(&r.seq)).collect();
                if !receipts.is_empty() {
                    quiet_since = Instant::now();
                }
                settle(&outbox, &receipts, outcome)?;
                for receipt in receipts {
                    on_event(&PushEvent::Receipt { seq: receipt.seq, status: receipt.status, reason: receipt.reason });
                }
            }
            Event::Incoming(Packet::Publish(p))
                if p.topic == advice_topic
                    && wijk_protocol::Advice::decode(&p.payload).is_some()
                    && state.save_advice(&p.payload).is_ok() =>
            {
                on_event(&PushEvent::Advice);
            }
            _ => {}
        }
    }
    if let Some(task) = publisher {
        task.abort();
    }
    let _ = client.try_disconnect();
    // Let the DISCONNECT go out; a failure here changes nothing delivered.
    let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
    Ok(())
}

/// Acts on the receipts of one receipt message: the entries wijkpost has (`stored`, `duplicate`)
/// leave the outbox together (one directory fsync), the refused ones are set aside with the reason.
fn settle(outbox: &Outbox, receipts: &[Receipt], outcome: &mut PushOutcome) -> Result<(), String> {
    let seqs_with = |status| receipts.iter().filter(move |r| r.status == status).map(|r| r.seq).collect::<Vec<_>>();
    outcome.stored += outbox.acknowledge_all(&seqs_with(ReceiptStatus::Stored)).map_err(|e| e.to_string())?;
    outcome.duplicates += outbox.acknowledge_all(&seqs_with(ReceiptStatus::Duplicate)).map_err(|e| e.to_string())?;
    for receipt in receipts.iter().filter(|r| r.status == ReceiptStatus::Rejected) {
        let reason = receipt.reason.as_deref().unwrap_or("rejected");
        outcome.rejected += usize::from(outbox.set_aside(receipt.seq, reason).map_err(|e| e.to_string())?);
    }
    Ok(())
}

/// Connection settings: wijkpost's broker, TLS with the client certificate.
fn mqtt_options(state: &State, tls: &Arc<rustls::ClientConfig>) -> Result<MqttOptions, String> {
    let agent = &state.identity.agent_id;
    let (host, port) = state.broker_address().map_err(|e| e.to_string())?;
    // A client id of its own per connection, so two pushes of one agent (the service and a manual
    // one) do not take each other's session over; the broker knows the agent by its certificate.
    let mut options = MqttOptions::new(format!("{agent}-{:08x}", rand::random::<u32>()), host, port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(
            wijk_protocol::advice::MAX_ADVICE_BYTES + 1024,
            wijk_protocol::summary::MAX_PAYLOAD_BYTES + 1024,
        )
        .set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls.clone())));
    Ok(options)
}

/// Whether wijkpost's broker accepts this agent now: connects with TLS and the client certificate
/// and waits for the broker's CONNACK (sends nothing else); returns how long that took.
pub async fn reach(state: &State, timeout: Duration) -> Result<Duration, UplinkError> {
    let tls = tls_config(state)?;
    let started = Instant::now();
    let unreachable = |why: String| {
        let target = state.identity.broker.clone();
        UplinkError::Unreachable { target, why }
    };
    let (client, mut events) = AsyncClient::new(mqtt_options(state, &tls).map_err(&unreachable)?, 4);
    let connack = tokio::time::timeout(timeout, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await;
    let _ = client.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
    match connack {
        Ok(Ok(())) => Ok(started.elapsed()),
        Ok(Err(why)) => Err(unreachable(why)),
        Err(_) => Err(unreachable(format!("no answer within {} s", timeout.as_secs()))),
    }
}

/// Publishes every entry from a task of its own, so the event loop keeps turning while the request
/// queue is full.
fn spawn_publisher(
    client: AsyncClient,
    topic: String,
    pending: &[crate::outbox::Entry],
) -> tokio::task::JoinHandle<()> {
    let payloads: Vec<Vec<u8>> = pending.iter().map(|e| e.payload.clone()).collect();
    tokio::spawn(async move {
        for payload in payloads {
            if client.publish(topic.clone(), QoS::AtLeastOnce, false, payload).await.is_err() {
                return;
            }
        }
    })
}

/// TLS 1.2/1.3 with wijkpost's CA as the only root and the client certificate.
fn tls_config(state: &State) -> Result<Arc<rustls::ClientConfig>, UplinkError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |name: &str, why: String| UplinkError::State { path: state.dir.join(name).display().to_string(), why };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(state.read(CA_CERT)?.as_bytes()) {
        let cert = cert.map_err(|e| bad(CA_CERT, e.to_string()))?;
        roots.add(cert).map_err(|e| bad(CA_CERT, e.to_string()))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(state.read(CLIENT_CERT)?.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| bad(CLIENT_CERT, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(state.read(CLIENT_KEY)?.as_bytes())
        .map_err(|e| bad(CLIENT_KEY, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(CA_CERT, e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| bad(CLIENT_CERT, e.to_string()))?;
    Ok(Arc::new(config))
}
