//! `wijkpost serve`: reads the configuration (flags over the `--config` file, see
//! [`crate::config`]), builds the runtime, turns SIGTERM and Ctrl-C into a cancellation and SIGHUP
//! into a reload, runs [`crate::serve::run_with`].

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::ServeArgs;
use crate::config;
use crate::i18n::Lang;
use crate::serve::{self, Reload};

/// How long the runtime may take to let go of its blocking threads once the service has stopped.
const RUNTIME_SHUTDOWN: Duration = Duration::from_millis(500);

/// Runs the command until a signal stops it.
pub fn run(args: ServeArgs, lang: Lang) -> anyhow::Result<i32> {
    let settings = config::resolve(&args)?;
    // `--lang` (or WIJKPOST_LANG) wins over the file's `lang`.
    let lang = if lang_given() { lang } else { settings.lang.unwrap_or(lang) };
    if let Some(file) = &settings.file {
        tracing::info!("config {}", file.display());
    }
    let args = Arc::new(args);
    let reread = move || config::resolve(&args).map(|s| s.serve).map_err(|e| e.describe(lang).replace('\n', " "));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        // SIGHUP first: from here on it reloads instead of ending the process.
        let requests = serve::reload_on_hangup()?;
        let cancel = CancellationToken::new();
        serve::cancel_on_signals(cancel.clone());
        let reload = Reload { requests, reread: Arc::new(reread) };
        Ok::<_, anyhow::Error>(serve::run_with(settings.serve, cancel, None, Some(reload)).await?)
    });
    // A blocking call still running (a store that hangs) must not hold the exit up.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    result?;
    eprintln!("{}", lang.pick("wijkpost gestopt", "wijkpost stopped"));
    Ok(0)
}

/// Whether the language was chosen on the command line or in the environment.
fn lang_given() -> bool {
    std::env::var_os("WIJKPOST_LANG").is_some()
        || std::env::args_os().any(|a| a == "--lang" || a.to_string_lossy().starts_with("--lang="))
}
