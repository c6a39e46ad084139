//! wijkpost on an external broker (Mosquitto, EMQX, a cluster of them): `serve --broker
//! mqtts://HOST:PORT`.
//!
//! wijkpost connects as the client `wijkpost` with a certificate from its own CA (CN = O =
//! `wijkpost`, made once in `DATA/ca/wijkpost-client.{crt,key}`), subscribes through the shared
//! subscription `$share/wijkpost//tenants/+/wijk/v1/summary` so that several instances split the
//! summaries, and publishes receipts on the agents' receipt topics. The broker confines the agents
//! (Mosquitto: `require_certificate`, `use_identity_as_username`, an ACL `pattern` on `%u`; see
//! [`mosquitto_acl`]). A lost connection is retried with back-off and the subscription renewed on
//! every CONNACK (clean sessions); a summary the broker delivered but wijkpost did not store before
//! a crash is sent again by its agent, whose outbox keeps it until the receipt.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wijk_protocol::topics;

use crate::ca::Ca;
use crate::feed::AdviceOut;
use crate::ingest::answers::Publication;
use crate::ingest::throttle::Throttle;
use crate::ingest::Message;
use crate::pipeline::ReceiptSink;

/// wijkpost's client name on an external broker (its certificate's CN and O).
pub const SERVICE_ID: &str = "wijkpost";
/// Requests rumqttc may queue (receipts waiting to go out).
const REQUEST_QUEUE: usize = 16 * 1024;

/// Errors connecting to an external broker.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    /// `--broker` is not `mqtts://HOST:PORT`.
    #[error("--broker {0:?} is not mqtts://HOST:PORT")]
    BadUrl(String),
    /// wijkpost's client certificate could not be made or read.
    #[error("wijkpost's broker client certificate {path}: {why}")]
    Identity {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
}

/// The client certificate and key wijkpost shows an external broker, made once.
pub fn service_identity(ca: &Ca, data_dir: &Path) -> Result<(PathBuf, PathBuf), ExternalError> {
    let dir = data_dir.join("ca");
    let (cert_path, key_path) = (dir.join("wijkpost-client.crt"), dir.join("wijkpost-client.key"));
    if cert_path.is_file() && key_path.is_file() {
        return Ok((cert_path, key_path));
    }
    let err = |path: &Path, why: String| ExternalError::Identity { path: path.to_path_buf(), why };
    let key = rcgen::KeyPair::generate().map_err(|e| err(&key_path, e.to_string()))?;
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .and_then(|p| p.serialize_request(&key))
        .and_then(|c| c.pem())
        .map_err(|e| err(&cert_path, e.to_string()))?;
    let cert = ca.sign_agent_csr(&csr, SERVICE_ID).map_err(|e| err(&cert_path, e.to_string()))?;
    crate::files::write_atomic(&key_path, key.serialize_pem().as_bytes(), 0o600)
        .map_err(|e| err(&key_path, e.to_string()))?;
    crate::files::write_atomic(&cert_path, cert.cert_pem.as_bytes(), 0o644)
        .map_err(|e| err(&cert_path, e.to_string()))?;
    Ok((cert_path, key_path))
}

/// The Mosquitto ACL that confines every agent to its subtree and lets wijkpost read summaries and
/// write receipts and advice (with `use_identity_as_username true`, `%u` is the certificate's CN).
pub fn mosquitto_acl() -> String {
    format!(
        "# wijkpost: every agent's summaries in, receipts and advice out\n\
         user {SERVICE_ID}\n\
         topic read /tenants/+/wijk/v1/summary\n\
         topic write /tenants/+/wijk/v1/receipt\n\
         topic write /tenants/+/wijk/v1/advice\n\
         \n\
         # every agent: its own subtree only\n\
         pattern write /tenants/%u/wijk/v1/summary\n\
         pattern read /tenants/%u/wijk/v1/receipt\n\
         pattern read /tenants/%u/wijk/v1/advice\n"
    )
}

/// The Mosquitto settings wijkpost needs beyond TLS and the ACL: agents publish in bursts, and
/// Mosquitto's defaults (20 messages in flight, 1,000 queued per client) would drop what queues up
/// for wijkpost's client while it stores a batch; the agents would send it again, but only after
/// their resend delay. Summaries are at most 64 KiB, so 100,000 queued stay within a few hundred MB
/// at worst (typically 1 KiB each: ~100 MB). A packet larger than wijkpost's own limit
/// ([`crate::broker::MAX_PAYLOAD`]) is refused by the broker (the sender is disconnected) rather than
/// passed to wijkpost, whose client would have to drop its connection over it.
pub fn mosquitto_settings() -> &'static str {
    "# wijkpost: let summaries queue for wijkpost's client instead of being dropped\n\
     max_inflight_messages 200\n\
     max_queued_messages 100000\n\
     max_packet_size 81920\n"
}

/// A client (lazily connected: the first poll connects) to `url` with client id `client_id`.
pub fn client(
    url: &str,
    ca: &Ca,
    identity: &(PathBuf, PathBuf),
    client_id: &str,
) -> Result<(AsyncClient, EventLoop), ExternalError> {
    let (host, port) = wijk_protocol::parse_broker_url(url).ok_or_else(|| ExternalError::BadUrl(url.to_string()))?;
    let tls = tls(ca, identity)?;
    let mut options = MqttOptions::new(client_id, host, port);
    options
        .set_keep_alive(Duration::from_secs(20))
        .set_clean_session(true)
        .set_max_packet_size(crate::broker::MAX_PAYLOAD, crate::broker::MAX_PAYLOAD)
        .set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    Ok(AsyncClient::new(options, REQUEST_QUEUE))
}

/// The two client ids of instance `instance`: one that reads summaries, one that publishes receipts.
/// Two connections, because one rumqttc event loop cannot wait for room in the ingest queue and
/// send receipts at the same time: the ingest thread would wait for the receipts to go out while
/// the loop waits for the ingest thread.
pub fn client_ids(instance: &str) -> (String, String) {
    (format!("{SERVICE_ID}-{instance}"), format!("{SERVICE_ID}-{instance}-receipts"))
}

fn tls(ca: &Ca, (cert, key): &(PathBuf, PathBuf)) -> Result<Arc<rustls::ClientConfig>, ExternalError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let err = |path: &Path, why: String| ExternalError::Identity { path: path.to_path_buf(), why };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.cert_der().to_vec())).map_err(|e| err(&ca.cert_path(), e.to_string()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| err(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(cert, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| err(key, e.to_string()))?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(cert, e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| err(cert, e.to_string()))?;
    Ok(Arc::new(config))
}

/// Receipts through the external broker, on a connection of their own ([`drive_receipts`]). A
/// publish waits while rumqttc's request queue is full, which slows ingest down to what the broker
/// takes instead of dropping receipts.
#[derive(Debug)]
pub struct ClientSink {
    client: AsyncClient,
    runtime: tokio::runtime::Handle,
}

impl ClientSink {
    /// A sink publishing through `client`, whose event loop runs on `runtime`.
    pub fn new(client: AsyncClient, runtime: tokio::runtime::Handle) -> ClientSink {
        ClientSink { client, runtime }
    }
}

impl ReceiptSink for ClientSink {
    fn publish(&mut self, out: &Publication) -> Result<(), String> {
        // QoS 0: a lost receipt costs a resend of the summary, answered `duplicate` (docs/protocol.md).
        let publish = self.client.publish(out.topic.clone(), QoS::AtMostOnce, false, out.payload.clone());
        self.runtime.block_on(publish).map_err(|e| e.to_string())
    }

    fn publish_advice(&mut self, out: &AdviceOut) -> Result<(), String> {
        let publish = self.client.publish(out.topic.clone(), QoS::AtLeastOnce, true, out.payload.clone());
        self.runtime.block_on(publish).map_err(|e| e.to_string())
    }
}

/// Polls the receipts connection until `cancel`, retrying a lost connection after 1, 2, 4, ... 30 s.
pub async fn drive_receipts(client: AsyncClient, mut events: EventLoop, cancel: CancellationToken) {
    let mut backoff = Duration::from_secs(1);
    while let Some(event) = next_event(&client, &mut events, &cancel).await {
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => backoff = Duration::from_secs(1),
            Ok(_) => {}
            Err(e) => {
                if !retry_after(&mut backoff, &cancel, &format!("broker connection for receipts: {e}")).await {
                    return;
                }
            }
        }
    }
}

/// The next event of `events`, or `None` once `cancel` is cancelled (then the client disconnects).
async fn next_event(
    client: &AsyncClient,
    events: &mut EventLoop,
    cancel: &CancellationToken,
) -> Option<Result<Event, rumqttc::ConnectionError>> {
    tokio::select! {
        () = cancel.cancelled() => {
            let _ = client.try_disconnect();
            None
        }
        e = events.poll() => Some(e),
    }
}

/// Logs `why`, waits `backoff` (false: cancelled meanwhile), and doubles it up to 30 s.
async fn retry_after(backoff: &mut Duration, cancel: &CancellationToken, why: &str) -> bool {
    tracing::warn!("{why}; retrying in {} s", backoff.as_secs());
    tokio::select! {
        () = cancel.cancelled() => return false,
        () = tokio::time::sleep(*backoff) => {}
    }
    *backoff = (*backoff * 2).min(Duration::from_secs(30));
    true
}

/// Polls the connection until `cancel`: subscribes on every CONNACK, passes summaries within their
/// agent's budget on (`throttle`), retries a lost connection after 1, 2, 4, ... 30 s.
pub async fn read_external(
    client: AsyncClient,
    mut events: EventLoop,
    queue: mpsc::Sender<Message>,
    mut throttle: Throttle,
    cancel: CancellationToken,
) {
    let mut backoff = Duration::from_secs(1);
    while let Some(event) = next_event(&client, &mut events, &cancel).await {
        // Keep-alive pings bring an event at least every 20 s, so the bookkeeping runs when idle.
        throttle.tick_if_due();
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_secs(1);
                tracing::info!("connected to the broker; subscribing to {}", topics::SHARED_SUMMARY_SUBSCRIPTION);
                if let Err(e) = client.try_subscribe(topics::SHARED_SUMMARY_SUBSCRIPTION, QoS::AtLeastOnce) {
                    tracing::error!("subscription not queued: {e}");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack.return_codes.iter().any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)) {
                    tracing::error!("the broker refused the subscription: check its ACL for user {SERVICE_ID}");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) if throttle.admit(p.topic.as_bytes()) => {
                let message = Message::new(p.topic, p.payload.to_vec());
                if queue.send(message).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                if !retry_after(&mut backoff, &cancel, &format!("broker connection: {e}")).await {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_acl_confines_agents_by_identity() {
        let acl = mosquitto_acl();
        assert!(acl.contains("pattern write /tenants/%u/wijk/v1/summary"));
        assert!(!acl.contains("pattern read /tenants/+"), "no agent reads another's subtree");
    }

    #[test]
    fn the_mosquitto_settings_allow_a_full_summary() {
        let limit: usize = mosquitto_settings()
            .lines()
            .find_map(|l| l.strip_prefix("max_packet_size "))
            .and_then(|v| v.trim().parse().ok())
            .expect("max_packet_size");
        assert!(limit >= wijk_protocol::summary::MAX_PAYLOAD_BYTES + 1024, "room for topic and headers");
        assert_eq!(limit, crate::broker::MAX_PAYLOAD);
    }
}
