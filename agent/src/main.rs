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
            eprintln!("fout / error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
