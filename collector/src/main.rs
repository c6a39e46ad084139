//! `wijkpost` binary: parse the command line, set up logging, run, print the error, exit.

use clap::Parser;

fn main() {
    let cli = wijkpost::cli::Cli::parse();
    let lang = cli.lang;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WIJKPOST_LOG").unwrap_or_else(|_| "warn,wijkpost=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
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
