//! `wijkpost` binary: parse the command line, set up logging, run, print the error, exit.

use clap::Parser;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

/// mimalloc rather than the system allocator: ingest allocates a batch's rows on the judging
/// threads and frees them on the ingest thread, which glibc's allocator pays for in locks and
/// consolidation (a tenth of ingest's time in `perf`). Freed pages are kept a while
/// ([`wijkpost::allocator`]).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    wijkpost::allocator::keep_freed_pages();
    let cli = wijkpost::cli::Cli::parse();
    let lang = cli.lang;
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("WIJKPOST_LOG").unwrap_or_else(|_| "warn,wijkpost=info".into());
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    tracing_subscriber::registry().with(filter).with(filter_fn(not_per_message_span)).with(output).init();
    let code = match wijkpost::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            match wijkpost::cli::explain(&e, lang) {
                Some(dutch) => eprintln!("fout: {dutch}\n  ({e:#})"),
                None => eprintln!("{}: {e:#}", lang.pick("fout", "error")),
            }
            1
        }
    };
    std::process::exit(code);
}

/// The embedded broker's router opens error-level spans for every message it routes (formatting
/// the topic each time), which cost it as much as the routing itself at thousands of summaries a
/// second.
/// They are left out; its log lines, and the spans of its connections, stay.
fn not_per_message_span(meta: &tracing::Metadata<'_>) -> bool {
    !(meta.is_span() && meta.target().starts_with("rumqttd::router"))
}
