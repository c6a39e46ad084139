//! `wijkpost serve`: builds the runtime, turns SIGTERM and Ctrl-C into a cancellation, runs
//! [`crate::serve::run`].

use tokio_util::sync::CancellationToken;

use super::ServeArgs;
use crate::i18n::Lang;
use crate::serve::{self, ServeConfig};
use crate::store::StoreConfig;

/// Runs the command until a signal stops it.
pub fn run(args: ServeArgs, lang: Lang) -> anyhow::Result<i32> {
    let config = ServeConfig {
        database: StoreConfig::parse(args.database.as_deref(), &args.data)?,
        data_dir: args.data,
        web: args.web,
        web_tls: args.web_tls_cert.zip(args.web_tls_key),
        mqtt: args.mqtt,
        external_broker: args.external_broker,
        instance: args.instance,
        broker_public: args.broker_public,
        server_names: args.server_name,
        trends: crate::trends::Options { k: args.k, ..Default::default() },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let cancel = CancellationToken::new();
        serve::cancel_on_signals(cancel.clone());
        serve::run(config, cancel).await
    })?;
    eprintln!("{}", lang.pick("wijkpost gestopt", "wijkpost stopped"));
    Ok(0)
}
