//! `wijkpost serve`: the long-running service.
//!
//! Start-up prepares what every part needs — the CA (and the server certificate for the broker and
//! the web side, `DATA/ca/server.crt`), the store (opened and migrated once here, so a schema
//! problem stops the start) — then starts the parts as tasks of one [`Tasks`] set under one
//! [`CancellationToken`]. The signal handler only cancels the token; every task ends when it sees
//! the cancellation. If any task ends on its own, with an error or not, the others are cancelled
//! too and `serve` returns, so a half-running collector never lingers.
//!
//! A new part (broker, ingest, trends) is one more [`Tasks::spawn`] in [`run`].
//!
//! With a [`Reload`] (SIGHUP, see [`reload_on_hangup`]) one more task re-reads the configuration
//! on request: the k of k-anonymity and `DATA/toolkit.toml` change at once (through
//! [`crate::feed::Tuning`]); a changed address, database, broker or data directory is logged as
//! needing a restart and the running value stays; a configuration that cannot be used is refused
//! as a whole with one log line, and everything in force stays.
//!
//! Stopping is bounded so a service manager never has to kill: the tasks get [`STOP_TIMEOUT`],
//! then the ingest thread gets [`INGEST_STOP_TIMEOUT`] to store the batch it holds.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::ca::{Ca, CaError};
use crate::feed::{Feed, SharedIndex, Toolkit, Tuning};
use crate::store::{StoreConfig, StoreError};
use crate::web::{self, WebError, WebListener, WebState};
use crate::{external, pipeline};

/// How long tasks get to finish after cancellation before they are aborted.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the ingest thread then gets to store its last batch (the whole stop stays under the
/// 10 s a service manager is promised).
pub const INGEST_STOP_TIMEOUT: Duration = Duration::from_secs(4);

/// What `serve` needs to know.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Data directory (CA, SQLite database).
    pub data_dir: PathBuf,
    /// Where the web side listens.
    pub web: SocketAddr,
    /// TLS certificate and key for the web side.
    pub web_tls: Option<(PathBuf, PathBuf)>,
    /// The store.
    pub database: StoreConfig,
    /// Where the embedded MQTT broker listens (TLS, client certificates; port 0: any free port).
    pub mqtt: SocketAddr,
    /// An external broker (`mqtts://HOST:PORT`) instead of the embedded one.
    pub external_broker: Option<String>,
    /// This instance's name on an external broker (client ids `wijkpost-<instance>` and
    /// `wijkpost-<instance>-receipts`).
    pub instance: String,
    /// The broker address handed to agents (`mqtts://HOST:PORT`); by default the embedded
    /// broker's own address, or the external broker's.
    pub broker_public: Option<String>,
    /// Extra names for the server certificate (the host of `broker_public` is added by itself).
    pub server_names: Vec<String>,
    /// How the trends index is set up (k of k-anonymity, demo).
    pub trends: crate::trends::Options,
    /// Summary messages one agent may send ([`crate::ingest::throttle`]).
    pub budget: crate::ingest::throttle::Budget,
}

/// Why `serve` could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The CA could not be loaded or created.
    #[error("CA: {0}")]
    Ca(#[from] CaError),
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The web side failed.
    #[error(transparent)]
    Web(#[from] WebError),
    /// The trends options are refused (k too small).
    #[error("--k: {0}")]
    Trends(String),
    /// VVSG's toolkit file cannot be used.
    #[error("toolkit links: {0}; fix the file or move it away")]
    Toolkit(String),
    /// `--broker-public` is not `mqtts://HOST:PORT`.
    #[error("--broker-public {0:?} is not mqtts://HOST:PORT")]
    BadBrokerUrl(String),
    /// The external broker cannot be used.
    #[error(transparent)]
    External(#[from] crate::external::ExternalError),
    /// The embedded broker did not start.
    #[error(transparent)]
    Broker(#[from] crate::broker::BrokerError),
    /// A task panicked.
    #[error("{0} task failed: {1}")]
    Task(&'static str, String),
}

/// The running parts of the service, each a named task under one cancellation token.
#[derive(Debug)]
pub struct Tasks {
    set: JoinSet<Result<(), ServeError>>,
    names: HashMap<tokio::task::Id, &'static str>,
    cancel: CancellationToken,
}

impl Tasks {
    /// An empty set under `cancel`.
    pub fn new(cancel: CancellationToken) -> Tasks {
        Tasks { set: JoinSet::new(), names: HashMap::new(), cancel }
    }

    /// The token every task must watch.
    pub fn token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Starts `task` under `name`.
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = Result<(), ServeError>> + Send + 'static,
    {
        let id = self.set.spawn(task).id();
        self.names.insert(id, name);
    }

    /// Runs until the token is cancelled or a task ends; then cancels the others and waits for
    /// them ([`STOP_TIMEOUT`] at most). Returns the first error.
    pub async fn run(mut self) -> Result<(), ServeError> {
        let mut first_error = None;
        tokio::select! {
            () = self.cancel.cancelled() => tracing::info!("stopping"),
            Some(ended) = self.set.join_next_with_id() => {
                let (name, result) = outcome(&self.names, ended);
                match result {
                    Ok(()) => tracing::warn!("{name} stopped by itself; stopping the rest"),
                    Err(e) => {
                        tracing::error!("{name}: {e}; stopping the rest");
                        first_error = Some(e);
                    }
                }
                self.cancel.cancel();
            }
        }
        let (set, names) = (&mut self.set, &self.names);
        let drain = async {
            while let Some(ended) = set.join_next_with_id().await {
                let (name, result) = outcome(names, ended);
                match result {
                    Ok(()) => tracing::debug!("{name} stopped"),
                    Err(e) => {
                        tracing::error!("{name}: {e}");
                        first_error.get_or_insert(e);
                    }
                }
            }
        };
        if tokio::time::timeout(STOP_TIMEOUT, drain).await.is_err() {
            tracing::warn!("tasks still running after {STOP_TIMEOUT:?}; aborting them");
            self.set.shutdown().await;
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// The name and result of a task that ended (a panic becomes [`ServeError::Task`]).
fn outcome(
    names: &HashMap<tokio::task::Id, &'static str>,
    ended: Result<(tokio::task::Id, Result<(), ServeError>), tokio::task::JoinError>,
) -> (&'static str, Result<(), ServeError>) {
    let name = |id| names.get(&id).copied().unwrap_or("task");
    match ended {
        Ok((id, result)) => (name(id), result),
        Err(e) => (name(e.id()), Err(ServeError::Task(name(e.id()), e.to_string()))),
    }
}

/// Cancels `cancel` on SIGTERM or Ctrl-C (SIGINT).
pub fn cancel_on_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = ctrl_c => {}
                        _ = term.recv() => {}
                    }
                }
                Err(e) => {
                    tracing::warn!("cannot watch SIGTERM: {e}");
                    let _ = ctrl_c.await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("stop requested (SIGTERM or Ctrl-C)");
        cancel.cancel();
    });
}

/// Re-reading the configuration while running.
pub struct Reload {
    /// One message per request (a SIGHUP); closed: no more requests.
    pub requests: tokio::sync::mpsc::Receiver<()>,
    /// Reads the configuration again; an error is one line saying what is wrong.
    pub reread: Arc<dyn Fn() -> Result<ServeConfig, String> + Send + Sync>,
}

impl std::fmt::Debug for Reload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reload")
    }
}

/// Turns every SIGHUP into a reload request, for as long as the process lives (so a SIGHUP while
/// stopping is harmless). Requests arriving while one is pending are merged.
pub fn reload_on_hangup() -> std::io::Result<tokio::sync::mpsc::Receiver<()>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangup = signal(SignalKind::hangup())?;
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!("reload requested (SIGHUP)");
                let _ = tx.try_send(());
            }
        });
    }
    #[cfg(not(unix))]
    drop(tx);
    Ok(rx)
}

/// Serves reload requests until `cancel`; `running` is the configuration in force.
async fn reload_loop(reload: Reload, mut running: ServeConfig, tuning: Tuning, cancel: CancellationToken) {
    let Reload { mut requests, reread } = reload;
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            request = requests.recv() => {
                if request.is_none() {
                    return cancel.cancelled().await;
                }
            }
        }
        let (reread, data_dir) = (reread.clone(), running.data_dir.clone());
        let read = tokio::task::spawn_blocking(move || {
            let wanted = reread()?;
            let toolkit = Toolkit::load(&data_dir.join("toolkit.toml")).map_err(|e| format!("toolkit links: {e}"))?;
            Ok::<_, String>((wanted, toolkit))
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match read {
            Ok((wanted, toolkit)) => apply(&mut running, wanted, toolkit, &tuning),
            Err(why) => {
                tracing::error!("config reload refused, the configuration in force stays: {}", why.replace('\n', " "))
            }
        }
    }
}

/// Puts what can change live in force and logs the rest; `running` keeps the values in force.
fn apply(running: &mut ServeConfig, wanted: ServeConfig, toolkit: Toolkit, tuning: &Tuning) {
    let old_k = tuning.k();
    let links = toolkit.0.len();
    let mut changed = 0;
    // k first: it is the one live value that can still be refused, and nothing is changed yet.
    match tuning.set_k(wanted.trends.k) {
        Ok(true) => {
            running.trends.k = wanted.trends.k;
            changed += 1;
            tracing::info!("config: k changed from {old_k} to {}", wanted.trends.k);
        }
        Ok(false) => {}
        Err(e) => {
            tracing::error!("config reload refused, the configuration in force stays: k: {e}");
            return;
        }
    }
    if tuning.set_toolkit(toolkit) {
        changed += 1;
        tracing::info!("config: toolkit reloaded, links for {links} weaknesses");
    }
    for key in crate::config::restart_keys(running, &wanted) {
        changed += 1;
        tracing::warn!(
            "config: {} changed to {}, which needs a restart; keeping {} until then",
            key.key,
            key.wanted,
            key.running
        );
    }
    if changed == 0 {
        tracing::info!("config reloaded: nothing changed");
    }
}

/// Runs the service until `cancel` (or a failing part) stops it.
pub async fn run(cfg: ServeConfig, cancel: CancellationToken) -> Result<(), ServeError> {
    run_reporting(cfg, cancel, None).await
}

/// Where a started service can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addresses {
    /// The web side (`http://…` or `https://…`).
    pub web: String,
    /// The broker address handed to agents (`mqtts://…`).
    pub broker: String,
}

/// As [`run`], and once everything listens, sends where to `ready`.
pub async fn run_reporting(
    cfg: ServeConfig,
    cancel: CancellationToken,
    ready: Option<tokio::sync::oneshot::Sender<Addresses>>,
) -> Result<(), ServeError> {
    run_with(cfg, cancel, ready, None).await
}

/// As [`run_reporting`], and with `reload` the configuration is re-read on its requests.
pub async fn run_with(
    cfg: ServeConfig,
    cancel: CancellationToken,
    ready: Option<tokio::sync::oneshot::Sender<Addresses>>,
    reload: Option<Reload>,
) -> Result<(), ServeError> {
    let mut names = cfg.server_names.clone();
    let public = cfg.broker_public.clone().or_else(|| cfg.external_broker.clone());
    let host = match &public {
        Some(url) => wijk_protocol::parse_broker_url(url).ok_or_else(|| ServeError::BadBrokerUrl(url.clone()))?.0,
        None => cfg.mqtt.ip().to_string(),
    };
    if !names.contains(&host) && !crate::ca::LOOPBACK_NAMES.contains(&host.as_str()) {
        names.push(host);
    }
    // The listener first: a refused address stops the start before anything is created.
    let tls = cfg.web_tls.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
    let listener = WebListener::bind(cfg.web, tls).await?;
    let (data_dir, database) = (cfg.data_dir.clone(), cfg.database.clone());
    let index = crate::trends::Index::with_options(cfg.trends).map_err(|e| ServeError::Trends(e.to_string()))?;
    let toolkit_path = cfg.data_dir.join("toolkit.toml");
    let (ca, server_cert, store, (ingest_store, checkpointer), (index, loaded), toolkit) = blocking(move || {
        let toolkit = Toolkit::load(&toolkit_path).map_err(ServeError::Toolkit)?;
        let ca = Ca::open_or_create(&data_dir)?;
        let server_cert = ca.issue_server_cert(&names)?;
        let (mut ingest_store, checkpointer) = database.open_for_ingest()?;
        let trends = crate::feed::load(ingest_store.as_mut(), index)?;
        Ok::<_, ServeError>((ca, server_cert, database.open()?, (ingest_store, checkpointer), trends, toolkit))
    })
    .await?;
    tracing::info!(fingerprint = %ca.fingerprint(), "CA {}", ca.cert_path().display());
    tracing::info!("server certificate {}", server_cert.cert_path.display());
    tracing::info!("store {} ({})", cfg.database.describe(), store.backend());
    tracing::info!(
        "trends: {} summaries (k = {}){}; toolkit links for {} weaknesses",
        loaded.summaries,
        index.k(),
        if loaded.skipped > 0 { format!(", {} left out (see above)", loaded.skipped) } else { String::new() },
        toolkit.0.len()
    );
    let trends: SharedIndex = Arc::new(std::sync::RwLock::new(index));

    let mut tasks = Tasks::new(cancel);
    // The pipeline: broker → bounded queue → ingest thread → receipts back through the broker.
    let (queue_tx, queue_rx) = tokio::sync::mpsc::channel(pipeline::QUEUE);
    let stats = Arc::new(crate::ingest::Stats::default());
    let feed = Feed::new(trends.clone(), toolkit);
    if let Some(reload) = reload {
        let (running, tuning, token) = (cfg.clone(), feed.tuning(), tasks.token());
        tasks.spawn("reload", async move {
            reload_loop(reload, running, tuning, token).await;
            Ok(())
        });
    }
    let ingest = crate::ingest::Ingest::new(ingest_store, stats.clone()).with_feed(feed);
    let throttle = crate::ingest::throttle::Throttle::new(cfg.budget, stats.clone());
    tracing::info!("summary budget per agent: {}", cfg.budget.describe());
    let token = tasks.token();
    let (sink, broker_public): (Box<dyn pipeline::ReceiptSink>, String) = match &cfg.external_broker {
        None => {
            let mqtt = cfg.mqtt;
            let files = (ca.cert_path(), server_cert.cert_path.clone(), server_cert.key_path.clone());
            let broker = blocking(move || {
                let tls = crate::broker::TlsFiles { ca: &files.0, cert: &files.1, key: &files.2 };
                Ok(crate::broker::start_embedded(mqtt, &tls)?)
            })
            .await?;
            let crate::broker::Embedded { addr, mut link_tx, link_rx } = broker;
            pipeline::subscribe_embedded(&mut link_tx)
                .map_err(|why| crate::broker::BrokerError::Start { addr, why })?;
            tracing::info!("mqtt listening on mqtts://{addr}");
            tasks.spawn("broker", async move {
                pipeline::read_embedded(link_rx, queue_tx, throttle, token).await;
                Ok(())
            });
            let public = public.unwrap_or_else(|| format!("mqtts://{addr}"));
            let sink = pipeline::LinkSink(pipeline::LinkTxHolder(link_tx), tokio::runtime::Handle::current());
            (Box::new(sink), public)
        }
        Some(url) => {
            let identity = external::service_identity(&ca, &cfg.data_dir)?;
            let (reader_id, receipts_id) = external::client_ids(&cfg.instance);
            let (reader, events) = external::client(url, &ca, &identity, &reader_id)?;
            let (receipts, receipt_events) = external::client(url, &ca, &identity, &receipts_id)?;
            tracing::info!("mqtt via external broker {url} as {reader_id} and {receipts_id}");
            tasks.spawn("broker", async move {
                external::read_external(reader, events, queue_tx, throttle, token).await;
                Ok(())
            });
            let (token, sender) = (tasks.token(), receipts.clone());
            tasks.spawn("receipts", async move {
                external::drive_receipts(sender, receipt_events, token).await;
                Ok(())
            });
            let sink = external::ClientSink::new(receipts, tokio::runtime::Handle::current());
            (Box::new(sink), public.unwrap_or_else(|| url.clone()))
        }
    };
    let ingest =
        pipeline::spawn_ingest(ingest, queue_rx, sink).map_err(|e| ServeError::Task("ingest", e.to_string()))?;

    let addresses = Addresses { web: listener.url(), broker: broker_public.clone() };
    let state = WebState {
        store: Arc::new(Mutex::new(store)),
        ca: Arc::new(ca),
        broker_public,
        trends,
        stats: Some(stats),
        dashboard: web::Dashboard::new(listener.url().starts_with("https:")),
    };
    // One line tests and operators read: the address actually bound.
    tracing::info!("web listening on {}", listener.url());
    let token = tasks.token();
    tasks.spawn("web", async move { Ok(listener.serve(web::router(state), token).await?) });
    if let Some(ready) = ready {
        let _ = ready.send(addresses);
    }
    let result = tasks.run().await;
    // The broker reader has ended, so the queue is closed: let the ingest thread finish its batch
    // (and log its figures) before the process ends.
    let joined = tokio::task::spawn_blocking(move || ingest.join());
    if tokio::time::timeout(INGEST_STOP_TIMEOUT, joined).await.is_err() {
        tracing::warn!("the ingest thread did not stop within {INGEST_STOP_TIMEOUT:?}");
    }
    drop(checkpointer);
    result
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServeError> + Send + 'static,
) -> Result<T, ServeError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ServeError::Task("start-up", e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_fails_stops_the_others() {
        let cancel = CancellationToken::new();
        let mut tasks = Tasks::new(cancel.clone());
        let t = tasks.token();
        tasks.spawn("waits", async move {
            t.cancelled().await;
            Ok(())
        });
        tasks.spawn("fails", async { Err(ServeError::BadBrokerUrl("x".into())) });
        assert!(matches!(tasks.run().await, Err(ServeError::BadBrokerUrl(_))));
        assert!(cancel.is_cancelled());
    }

    #[tokio::test]
    async fn cancelling_stops_every_task() {
        let cancel = CancellationToken::new();
        let mut tasks = Tasks::new(cancel.clone());
        for name in ["one", "two"] {
            let t = tasks.token();
            tasks.spawn(name, async move {
                t.cancelled().await;
                Ok(())
            });
        }
        cancel.cancel();
        tasks.run().await.expect("clean stop");
    }
}
