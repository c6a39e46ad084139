//! `wijkpost` binary: parses the command line and hands over to the library.

use clap::Parser;

/// wijkpost — centrale collector voor wijkagent-samenvattingen (VVSG).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    println!(
        "wijkpost {}: enkel het skelet bestaat; aanvaardt schema {}",
        env!("CARGO_PKG_VERSION"),
        wijkpost::accepted_summary_schema()
    );
    Ok(())
}
