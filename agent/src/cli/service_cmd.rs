//! `wijkagent run` and `wijkagent status`: the service and a look at it.
//!
//! `run` exits 0 after SIGTERM or Ctrl-C, 1 when its configuration cannot be read at start (one
//! line on stderr says what to fix). `status` exits 0, or 1 when the configuration is unreadable.

use std::path::Path;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use crate::i18n::Lang;
use crate::service::runner::{Runner, Signals};
use crate::service::{config, status};

/// `wijkagent run --config FILE [--now]`.
pub fn run(config_path: &Path, scan_now: bool, lang: Lang) -> anyhow::Result<i32> {
    let config = match config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", e.message(lang));
            return Ok(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let signals = Signals::default();
        let watcher = tokio::spawn(watch(signals.clone()));
        Runner::new(config, signals, scan_now).run().await;
        watcher.abort();
    });
    // Raw-socket receiver threads end on their own within their read timeout.
    runtime.shutdown_timeout(Duration::from_millis(500));
    Ok(0)
}

/// SIGTERM and Ctrl-C stop, SIGHUP reloads.
async fn watch(signals: Signals) {
    let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
        tracing::error!(event = "signals-unavailable", "SIGTERM/SIGHUP cannot be watched");
        let _ = tokio::signal::ctrl_c().await;
        signals.stop.cancel();
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => {
                tracing::info!(event = "signal", signal = "SIGTERM");
                signals.stop.cancel();
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::info!(event = "signal", signal = "SIGINT");
                signals.stop.cancel();
            }
            _ = hup.recv() => {
                tracing::info!(event = "signal", signal = "SIGHUP");
                signals.reload.notify_one();
            }
        }
    }
}

/// `wijkagent status --config FILE [--json] [--offline]`.
pub fn status(config_path: &Path, json: bool, offline: bool, lang: Lang) -> anyhow::Result<i32> {
    let config = match config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", e.message(lang));
            return Ok(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let gathered = runtime.block_on(status::gather(&config, lang, !offline, Duration::from_secs(5)));
    if json {
        println!("{}", serde_json::to_string_pretty(&gathered)?);
    } else {
        println!("{}", status::render(&gathered, lang));
    }
    Ok(0)
}
