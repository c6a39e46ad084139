//! `wijkagent` binary: parse the command line, set up logging, run, print the error, exit.

use clap::Parser;

fn main() {
    let cli = wijkagent::cli::Cli::parse();
    // The service logs what it does (journald keeps stderr); one-shot commands only warnings.
    let default = if matches!(cli.command, wijkagent::cli::Command::Run { .. }) { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WIJKAGENT_LOG").unwrap_or_else(|_| default.into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let code = match wijkagent::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            let text = chain_text(&e);
            eprintln!("fout / error: {text}");
            if e.chain().any(wijkagent::fsutil::disk_full_in) && !text.contains(wijkagent::fsutil::DISK_FULL) {
                eprintln!("{}", wijkagent::fsutil::DISK_FULL);
            }
            1
        }
    };
    std::process::exit(code);
}

/// The error and its causes, `: `-separated like `{:#}`, leaving out a cause whose text was said
/// already (many errors here print their cause in their own message).
fn chain_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let said = cause.to_string();
        if text.contains(&said) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&said);
    }
    text
}
