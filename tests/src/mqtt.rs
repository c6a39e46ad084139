//! MQTT clients as an enrolled agent, for the confinement tests and the uplink benchmark: TLS with
//! the agent's client certificate from its state directory (what `wijkagent enroll` wrote).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use rumqttc::{AsyncClient, EventLoop, MqttOptions, TlsConfiguration, Transport};

/// TLS trusting the state's `ca.crt`, showing its `client.crt` and `client.key`.
pub fn agent_tls(state: &Path) -> Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(state.join("ca.crt")).context("ca.crt")? {
        roots.add(cert.context("ca.crt")?)?;
    }
    let chain = CertificateDer::pem_file_iter(state.join("client.crt"))
        .context("client.crt")?
        .collect::<Result<Vec<_>, _>>()
        .context("client.crt")?;
    let key = PrivateKeyDer::from_pem_file(state.join("client.key")).context("client.key")?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// A client (not yet connected: the first poll connects) to `broker` (`mqtts://HOST:PORT`) as the
/// agent of `state`, with client id `client_id` and room for `queue` requests.
pub fn agent_client(broker: &str, state: &Path, client_id: &str, queue: usize) -> Result<(AsyncClient, EventLoop)> {
    let (host, port) = wijk_protocol::parse_broker_url(broker).context("broker address")?;
    let mut options = MqttOptions::new(client_id, host, port);
    options.set_keep_alive(Duration::from_secs(30)).set_inflight(200).set_max_packet_size(256 * 1024, 256 * 1024);
    options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(agent_tls(state)?)));
    Ok(AsyncClient::new(options, queue))
}
