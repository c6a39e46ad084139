//! `wijkagent report diff OLD.json NEW.json [--json]`: what changed between two scans, and
//! `wijkagent report render REPORT.json [--out DIR]`: the HTML and CSV views again, in `--lang`.
//!
//! Prints new, fixed, unchanged (and unverifiable) weaknesses, new and gone hosts and services, in
//! `--lang`; with `--json` the machine-readable diff (schema `wijkagent.report-diff/1`, see
//! docs/report-schema.md). Exit 0 when both reports could be read, 1 with one line on stderr when one
//! is unreadable, not JSON, of another schema or not fitting it.

use std::io::Write;
use std::path::Path;

use super::ReportCmd;
use crate::i18n::Lang;
use crate::report::diff;

/// Runs a `report` subcommand; returns the exit code.
pub fn run(cmd: ReportCmd, lang: Lang) -> anyhow::Result<i32> {
    match cmd {
        ReportCmd::Diff { old, new, json } => diff_cmd(&old, &new, json, lang),
        ReportCmd::Render { report, out } => render_cmd(&report, out.as_deref(), lang),
    }
}

fn render_cmd(path: &Path, out: Option<&Path>, lang: Lang) -> anyhow::Result<i32> {
    let report = match diff::load(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}", e.message(lang));
            return Ok(1);
        }
    };
    let dir = out.or_else(|| path.parent()).unwrap_or(Path::new("."));
    for written in crate::report::write_views(&report, dir, lang)? {
        println!("{}", written.display());
    }
    Ok(0)
}

fn diff_cmd(old: &Path, new: &Path, json: bool, lang: Lang) -> anyhow::Result<i32> {
    let (old, new) = match (diff::load(old), diff::load(new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{}", e.message(lang));
            return Ok(1);
        }
    };
    let d = diff::diff(&old, &new);
    let text = if json { serde_json::to_string_pretty(&d)? + "\n" } else { diff::render_text(&d, lang) };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(0),
        // `| head` closing the pipe is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::report::fixtures;

    #[test]
    fn the_command_line_parses() {
        let cli =
            Cli::try_parse_from(["wijkagent", "--lang", "en", "report", "diff", "old.json", "new.json", "--json"])
                .expect("parses");
        assert_eq!(cli.lang, Lang::En);
        let Command::Report { cmd: ReportCmd::Diff { old, new, json } } = cli.command else {
            panic!("report diff expected");
        };
        assert_eq!((old.to_str(), new.to_str(), json), (Some("old.json"), Some("new.json"), true));
        assert!(Cli::try_parse_from(["wijkagent", "report", "diff", "only-one.json"]).is_err());
    }

    #[test]
    fn exit_codes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = fixtures::report().write(dir.path()).expect("written");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "not json").expect("write");
        let run = |old: &Path, new: &Path, json| diff_cmd(old, new, json, Lang::Nl).expect("no I/O error");
        assert_eq!(run(&good, &good, false), 0);
        assert_eq!(run(&good, &good, true), 0);
        assert_eq!(run(&good, &bad, false), 1);
        assert_eq!(run(&dir.path().join("missing.json"), &good, true), 1);
    }
}
