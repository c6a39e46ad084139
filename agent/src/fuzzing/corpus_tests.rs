//! Replays the committed seed corpora of `fuzz/corpus/<target>/` through the fuzz entry points, so
//! `cargo test` runs every seed (and the targets cannot drift from their parsers unnoticed).

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        eprintln!("{}", path.display());
        run(&bytes);
    }
}

#[test]
fn probe_reply_seeds() {
    let seeds = corpus("probe_reply");
    // Every family has at least one seed.
    for (i, family) in super::FAMILIES.iter().enumerate() {
        assert!(
            seeds.iter().any(|(_, b)| b.first().map(|&s| usize::from(s) % super::FAMILIES.len()) == Some(i)),
            "no probe_reply seed for {family}"
        );
    }
    replay("probe_reply", super::probe_reply);
}

#[test]
fn tls_flight_seeds() {
    replay("tls_flight", super::tls_flight);
}

#[test]
fn certificate_seeds() {
    replay("certificate", super::certificate);
}

#[test]
fn consent_file_seeds() {
    replay("consent_file", super::consent_file);
}

#[test]
fn report_file_seeds() {
    replay("report_file", super::report_file);
}
