//! The audit log is a hash chain: `wijkagent audit verify` accepts it as the agent wrote it and
//! rejects it, naming the line, once one line has been edited.
//!
//! The log is filled by real runs: two `scan --self --connect` (loopback only) and one refused scan
//! of a lab range, all inside an empty network namespace (`unshare`), so no root and no lab needed.

use std::path::Path;
use std::time::Duration;

use wijk_lab::consent_fixture::{self, ConsentSpec};
use wijk_lab::process::{run_bounded, Finished};
use wijk_lab::report::{audit_lines, count_events};
use wijk_lab::{agent, Addressing};

const LIMIT: Duration = Duration::from_secs(60);

fn self_scan(dir: &Path, audit: &Path, n: u32) -> Finished {
    let out = dir.join(format!("self-{n}"));
    let mut args: Vec<std::ffi::OsString> =
        ["scan", "--self", "--connect", "--ports", "22,80", "--lang", "en", "--out"].map(Into::into).into();
    args.push(out.into());
    args.push("--audit-log".into());
    args.push(audit.into());
    run_bounded(&mut agent::isolated(&args), LIMIT).expect("spawn wijkagent")
}

fn verify(audit: &Path) -> Finished {
    let mut cmd = agent::command(["audit", "verify", "--log"]);
    cmd.arg(audit);
    run_bounded(&mut cmd, LIMIT).expect("spawn wijkagent")
}

/// Changes one digit inside a JSON string on line `line` (1-based), so the line stays valid JSON.
fn edit_one_digit(text: &str, line: usize) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let l = &mut lines[line - 1];
    let (mut in_string, mut escaped, mut at) = (false, false, None);
    for (i, c) in l.char_indices() {
        if in_string && !escaped && c.is_ascii_digit() {
            at = Some((i, c));
            break;
        }
        match c {
            '\\' if in_string => escaped = !escaped,
            '"' if !escaped => in_string = !in_string,
            _ => escaped = false,
        }
    }
    let (i, c) = at.unwrap_or_else(|| panic!("no digit inside a string on audit line {line}: {l}"));
    let replacement = if c == '9' { '0' } else { char::from(c as u8 + 1) };
    l.replace_range(i..i + 1, &replacement.to_string());
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[test]
fn audit_verify_accepts_the_chain_and_names_an_edited_line() {
    if !agent::isolation_or_skip("audit_verify_accepts_the_chain_and_names_an_edited_line") {
        return;
    }
    if let Err(e) = agent::bin_checked() {
        panic!("{e:#}");
    }
    let w = tempfile::tempdir().expect("temp dir");
    let audit = w.path().join("audit.log");

    let f = self_scan(w.path(), &audit, 1);
    assert_eq!(f.code(), Some(0), "scan --self: {}", f.describe());

    // A refused scan is audited too (unsigned scope of a lab range).
    let scope =
        consent_fixture::write_unsigned(&w.path().join("consent"), &ConsentSpec::for_lab(&Addressing::new(201)))
            .expect("scope");
    let keys = consent_fixture::keygen(&w.path().join("keys")).expect("keygen");
    let mut args: Vec<std::ffi::OsString> = ["scan", "--scope"].map(Into::into).into();
    args.extend([scope.into_os_string(), "--trust".into(), keys.public_key.into_os_string(), "--out".into()]);
    args.extend([w.path().join("refused").into_os_string(), "--audit-log".into(), audit.clone().into_os_string()]);
    let f = run_bounded(&mut agent::isolated(&args), LIMIT).expect("spawn");
    assert_eq!(f.code(), Some(3), "unsigned scope: {}", f.describe());

    let f = self_scan(w.path(), &audit, 2);
    assert_eq!(f.code(), Some(0), "second scan --self: {}", f.describe());

    let records = audit_lines(&audit).expect("every audit line is JSON");
    assert!(records.len() >= 5, "expected start+finish twice and a refusal, got {} lines", records.len());
    assert_eq!(count_events(&audit, "scan_refused").expect("log"), 1);
    assert_eq!(count_events(&audit, "scan_started").expect("log"), 2);
    assert_eq!(count_events(&audit, "scan_finished").expect("log"), 2);

    let f = verify(&audit);
    assert_eq!(f.code(), Some(0), "audit verify on the untouched log: {}", f.describe());

    // Edit line 2. A chain of previous-line hashes notices either at line 2 itself or at line 3.
    let original = std::fs::read_to_string(&audit).expect("read log");
    let edited = edit_one_digit(&original, 2);
    assert_eq!(original.lines().count(), edited.lines().count());
    assert_ne!(original, edited);
    std::fs::write(&audit, &edited).expect("write log");
    let f = verify(&audit);
    assert!(f.code().is_some_and(|c| c != 0), "audit verify accepted an edited log: {}", f.describe());
    let said = format!("{}\n{}", f.stdout, f.stderr).to_lowercase();
    let file = audit.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let names_line = [2, 3].iter().any(|n| {
        [
            format!("line {n}"),
            format!("line: {n}"),
            format!("line={n}"),
            format!("regel {n}"),
            format!("regel: {n}"),
            format!("lijn {n}"),
            format!("#{n}"),
            format!("{file}:{n}"),
        ]
        .iter()
        .any(|p| said.contains(p.as_str()))
    });
    assert!(names_line, "audit verify must name the edited line (2, or 3 where the chain breaks): {}", f.describe());

    // Undo the edit: the same log verifies again, so it was the edit that was caught.
    std::fs::write(&audit, &original).expect("restore log");
    let f = verify(&audit);
    assert_eq!(f.code(), Some(0), "audit verify after restoring the line: {}", f.describe());
}

#[test]
fn editing_a_line_keeps_it_json() {
    let text = "{\"a\":1,\"ts\":\"2026-01-01\"}\n{\"prev\":\"ab\\\"9\",\"ts\":\"2026-01-02T10:00:00Z\",\"n\":5}\n";
    let edited = edit_one_digit(text, 2);
    let line2 = edited.lines().nth(1).expect("line 2");
    let v: serde_json::Value = serde_json::from_str(line2).expect("still JSON");
    // The escaped quote is skipped over; the digit after it is inside the string and changes.
    assert_eq!(v["prev"], "ab\"0");
    assert_eq!(edited.lines().next(), text.lines().next());
}
