//! A full disk under the agent's state directory and under wijkpost's database (issue 7), on small
//! tmpfs mounts of the test's own: filled to the last page, then grown again with a remount. Needs
//! root (mount); without it every test says SKIPPED. The programs are the real `wijkagent` and
//! `wijkpost serve`; loopback only; every wait is bounded.
//!
//! For each: a clear error (Dutch and English words for "disk full", naming the path), nothing
//! half-written or lost (outbox entries, the previous report, the audit chain, the database), and
//! recovery once space returns: what waited is delivered and stored exactly once.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wijk_lab::agent;
use wijk_lab::agent_service::{event, loopback_consent, start};
use wijk_lab::collector::{enroll_agent, metric, outbox_len, self_report, Collector};
use wijk_lab::consent_fixture::WindowSpec;
use wijk_lab::process::{find_program, is_root, run_bounded, skip, Finished};
use wijk_lab::tmpfs::Tmpfs;

const LIMIT: Duration = Duration::from_secs(120);
const ADMIN: (&str, &str) = ("beheerder", "schijf-vol-wachtwoord-1");

fn can_mount(test: &str) -> bool {
    if !is_root() || find_program("mount").is_none() {
        skip(&format!("SKIPPED {test}: needs root and mount(8) for a tmpfs of its own"));
        return false;
    }
    true
}

fn wijkagent(args: &[&std::ffi::OsStr]) -> Finished {
    let mut cmd = agent::command(args);
    run_bounded(&mut cmd, LIMIT).expect("run wijkagent")
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

/// Every file under `dir` (recursively) with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else if path.is_file() {
                out.push((path.clone(), std::fs::read(&path).expect("read")));
            }
        }
    }
    out.sort();
    out
}

/// Leftover temporary files (`*.tmp`) under `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir).into_iter().map(|(p, _)| p).filter(|p| p.to_string_lossy().ends_with(".tmp")).collect()
}

fn audit_verifies(log: &Path) {
    let f = wijkagent(&[os("--lang"), os("en"), os("audit"), os("verify"), os("--log"), log.as_os_str()]);
    assert!(f.success(), "audit verify {}: {}", log.display(), f.describe());
}

#[test]
fn push_on_a_full_disk_keeps_the_outbox_and_delivers_once_space_returns() {
    if !can_mount("push_on_a_full_disk_keeps_the_outbox_and_delivers_once_space_returns") {
        return;
    }
    agent::bin_checked().expect("wijkagent built");
    let work = tempfile::tempdir().expect("work");
    let collector = Collector::start(&work.path().join("wijkpost"), &[]).expect("wijkpost");
    let report = self_report(&work.path().join("report")).expect("report");
    let disk = Tmpfs::mount(&work.path().join("state"), 512).expect("tmpfs");
    let state = disk.path.clone();
    enroll_agent(&collector, &state, "Gemeente Volle Schijf").expect("enroll");
    let loaded = wijkagent::uplink::state::State::load(&state).expect("state");
    let parsed = wijkagent::report::diff::load(&report).expect("report");
    for _ in 0..2 {
        wijkagent::uplink::push::enqueue(&loaded, &parsed).expect("enqueue");
    }
    let outbox = state.join("outbox");
    let before = snapshot(&outbox);
    let audit = state.join("audit.log");

    disk.fill().expect("fill");
    for (lang, words) in [("nl", "de schijf is vol. Maak ruimte vrij"), ("en", "the disk is full. Free space")] {
        let f = wijkagent(&[
            os("--lang"),
            os(lang),
            os("push"),
            os("--state"),
            state.as_os_str(),
            report.as_os_str(),
            os("--audit-log"),
            audit.as_os_str(),
        ]);
        assert_eq!(f.code(), Some(1), "{}", f.describe());
        println!("push, full disk ({lang}): {}", f.stderr.trim());
        assert!(f.stderr.contains(words), "{lang}: {}", f.describe());
        assert!(f.stderr.contains(&outbox.display().to_string()), "names the outbox: {}", f.describe());
        assert_eq!(snapshot(&outbox).iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "json")).count(), 2);
        assert!(temporaries(&state).is_empty(), "half-written files: {:?}", temporaries(&state));
    }
    let after: Vec<_> = snapshot(&outbox).into_iter().filter(|(p, _)| !p.ends_with("last-seq")).collect();
    let kept: Vec<_> = before.into_iter().filter(|(p, _)| !p.ends_with("last-seq")).collect();
    assert_eq!(after, kept, "the entries waiting are untouched");

    // What waited is delivered even now: a receipt only removes a file. The audit record of it
    // cannot be written, which is said, and the chain stays whole.
    let f = wijkagent(&[
        os("--lang"),
        os("en"),
        os("push"),
        os("--state"),
        state.as_os_str(),
        os("--audit-log"),
        audit.as_os_str(),
        os("--timeout"),
        os("60"),
    ]);
    assert!(f.success() && f.stdout.contains("stored: 2,"), "{}", f.describe());
    assert!(
        f.stderr.contains(&audit.display().to_string()) && f.stderr.contains("disk full"),
        "the audit record that could not be written is named: {}",
        f.describe()
    );
    assert_eq!(outbox_len(&state), 0);

    // Space again: the next summary goes out, and the audit log verifies.
    disk.resize(4096).expect("grow");
    let f = wijkagent(&[
        os("--lang"),
        os("en"),
        os("push"),
        os("--state"),
        state.as_os_str(),
        report.as_os_str(),
        os("--audit-log"),
        audit.as_os_str(),
        os("--timeout"),
        os("60"),
    ]);
    assert!(f.success() && f.stdout.contains("stored: 1,"), "{}", f.describe());
    assert!(temporaries(&state).is_empty());
    audit_verifies(&audit);
    let mut store = wijkpost::store::StoreConfig::parse(None, &collector.data).expect("db").open().expect("store");
    assert_eq!(store.count_summaries().expect("count"), 3, "each summary stored once");
    drop(collector);
}

#[test]
fn a_scan_on_a_full_disk_says_so_and_keeps_the_previous_report() {
    if !can_mount("a_scan_on_a_full_disk_says_so_and_keeps_the_previous_report") {
        return;
    }
    agent::bin_checked().expect("wijkagent built");
    let work = tempfile::tempdir().expect("work");
    let disk = Tmpfs::mount(&work.path().join("state"), 2048).expect("tmpfs");
    let reports = disk.path.join("reports");
    // One audit log elsewhere (the scan gets as far as its report), one on the full disk.
    let (elsewhere, on_disk) = (work.path().join("audit.log"), disk.path.join("audit.log"));
    let scan = |lang: &str, audit: &Path| {
        wijkagent(&[
            os("--lang"),
            os(lang),
            os("scan"),
            os("--self"),
            os("--no-services"),
            os("--progress"),
            os("none"),
            os("--out"),
            reports.as_os_str(),
            os("--state"),
            disk.path.as_os_str(),
            os("--audit-log"),
            audit.as_os_str(),
        ])
    };
    let first = scan("en", &elsewhere);
    assert!(first.success(), "{}", first.describe());
    let before = snapshot(&reports);
    assert_eq!(before.len(), 3, "report.json, report.html, findings.csv");

    disk.fill().expect("fill");
    for (audit, named) in [(&elsewhere, reports.join("report.json")), (&on_disk, on_disk.clone())] {
        let full = scan("nl", audit);
        assert_eq!(full.code(), Some(1), "{}", full.describe());
        println!("scan, full disk: {}", full.stderr.trim());
        assert!(
            full.stderr.contains("schijf vol: maak ruimte vrij") && full.stderr.contains("disk full: free space"),
            "{}",
            full.describe()
        );
        assert!(full.stderr.contains(&named.display().to_string()), "names {}: {}", named.display(), full.describe());
        assert_eq!(snapshot(&reports), before, "the previous report is untouched");
        assert!(temporaries(&disk.path).is_empty(), "half-written files: {:?}", temporaries(&disk.path));
    }
    let audited = std::fs::read_to_string(&elsewhere).expect("audit log");
    assert!(audited.contains("report-not-written"), "the scan that wrote no report is audited:\n{audited}");

    disk.unfill().expect("space again");
    let again = scan("en", &on_disk);
    assert!(again.success(), "{}", again.describe());
    assert_ne!(snapshot(&reports), before, "a new report");
    audit_verifies(&elsewhere);
    audit_verifies(&on_disk);
}

#[test]
fn the_service_keeps_its_last_report_on_a_full_disk_and_writes_the_next_when_space_returns() {
    if !can_mount("the_service_keeps_its_last_report_on_a_full_disk_and_writes_the_next_when_space_returns") {
        return;
    }
    agent::bin_checked().expect("wijkagent built");
    let work = tempfile::tempdir().expect("work");
    let consent =
        loopback_consent(&work.path().join("consent"), &["127.0.0.1"], vec![WindowSpec::always()]).expect("consent");
    // The reports on a disk of their own, so the scan's checkpoint still fits while they do not.
    let disk = Tmpfs::mount(&work.path().join("reports"), 1024).expect("tmpfs");
    let config = work.path().join("agent.toml");
    let text = format!(
        "lang = \"en\"\n\n[consent]\nscope = \"{}\"\ntrust = [\"{}\"]\n\n[schedule]\ncron = \"0 3 1 1 *\"\n\n\
         [scan]\npart_size = 1\n\n[paths]\nstate = \"state\"\nreports = \"reports\"\nkeep_reports = 2\n\n\
         [uplink]\ntimeout = 30\n",
        consent.scope.display(),
        consent.keys.public_key.display()
    );
    std::fs::write(&config, text).expect("config");

    let mut svc = start(&config, true).expect("wijkagent run");
    svc.wait_for_count(&event("scan-finished"), 1, LIMIT).expect("first scan");
    svc.terminate(Duration::from_secs(10)).expect("stops");
    let before = snapshot(&disk.path);
    let latest = std::fs::read_link(disk.path.join("latest")).expect("latest");

    disk.fill().expect("fill");
    let mut svc = start(&config, true).expect("wijkagent run");
    let refused = svc.wait_for_count(&event("report-not-written"), 1, LIMIT).expect("report refused");
    println!("service, full disk: {}", refused[0]);
    assert!(
        refused[0].contains("the disk is full: free space on it") || refused[0].contains("disk full: free space"),
        "{refused:?}"
    );
    assert!(refused[0].contains(&disk.path.display().to_string()), "names the file: {refused:?}");
    let now: Vec<_> = snapshot(&disk.path).into_iter().filter(|(p, _)| before.iter().any(|(b, _)| b == p)).collect();
    assert_eq!(now, before, "the previous report is untouched");
    assert_eq!(std::fs::read_link(disk.path.join("latest")).expect("latest"), latest, "latest still points at it");
    assert!(temporaries(&disk.path).is_empty(), "half-written files: {:?}", temporaries(&disk.path));
    assert!(svc.running(), "the service keeps running");
    svc.terminate(Duration::from_secs(10)).expect("stops");

    // Space again: the service carries on with the scan it kept and writes its report.
    disk.unfill().expect("space again");
    let mut svc = start(&config, true).expect("wijkagent run");
    svc.wait_for_count(&event("scan-resumed"), 1, LIMIT).expect("resumed");
    svc.wait_for_count(&event("scan-finished"), 1, LIMIT).expect("report written");
    let newest = std::fs::read_link(disk.path.join("latest")).expect("latest");
    assert_ne!(newest, latest);
    assert!(disk.path.join(&newest).join("report.json").is_file() && disk.path.join(&latest).is_dir());
    svc.terminate(Duration::from_secs(10)).expect("stops");
    audit_verifies(&work.path().join("state/audit.log"));
}

#[test]
fn wijkpost_on_a_full_disk_answers_nothing_it_did_not_store_and_stores_it_once_later() {
    if !can_mount("wijkpost_on_a_full_disk_answers_nothing_it_did_not_store_and_stores_it_once_later") {
        return;
    }
    agent::bin_checked().expect("wijkagent built");
    let work = tempfile::tempdir().expect("work");
    let disk = Tmpfs::mount(&work.path().join("wijkpost"), 8192).expect("tmpfs");
    let collector = Collector::start(&disk.path, &[]).expect("wijkpost");
    collector.add_admin(ADMIN.0, ADMIN.1).expect("admin");
    let report =
        wijkagent::report::diff::load(&self_report(&work.path().join("report")).expect("report")).expect("report");
    let states: Vec<PathBuf> = (0..3).map(|i| work.path().join(format!("agent-{i}"))).collect();
    let mut queued = 0usize;
    let enqueue = |state: &Path, n: usize| {
        let loaded = wijkagent::uplink::state::State::load(state).expect("state");
        for _ in 0..n {
            wijkagent::uplink::push::enqueue(&loaded, &report).expect("enqueue");
        }
    };
    let push_all = |timeout: &str| -> Vec<Finished> {
        let handles: Vec<_> = states
            .iter()
            .map(|state| {
                let mut cmd = agent::command(["--lang", "en", "push", "--timeout", timeout, "--state"]);
                cmd.arg(state).arg("--audit-log").arg(state.join("audit.log"));
                std::thread::spawn(move || run_bounded(&mut cmd, LIMIT).expect("push"))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("push thread")).collect()
    };
    for (i, state) in states.iter().enumerate() {
        enroll_agent(&collector, state, &format!("Gemeente {i}")).expect("enroll");
        enqueue(state, 1);
        queued += 1;
    }
    assert!(push_all("60").iter().all(Finished::success));

    // Full: pushes get no receipt for what was not stored; keep queueing until the store refuses.
    disk.fill().expect("fill");
    let deadline = Instant::now() + LIMIT;
    let metrics = loop {
        for state in &states {
            enqueue(state, 40);
            queued += 40;
        }
        push_all("15");
        let m = collector.metrics(ADMIN.0, ADMIN.1).expect("metrics");
        if metric(&m, "wijkpost_ingest_store_failing") == Some(1.0) {
            break m;
        }
        assert!(Instant::now() < deadline, "the store never refused on a full disk:\n{m}\n{}", collector.log_text());
    };
    assert!(metric(&metrics, "wijkpost_ingest_store_failures_total").is_some_and(|n| n >= 1.0), "{metrics}");
    let stored = metric(&metrics, "wijkpost_summaries_stored").expect("stored") as usize;
    let waiting: usize = states.iter().map(|s| outbox_len(s)).sum();
    assert!(waiting > 0, "something waits");
    // A batch stored just as a push gave up is both stored and still waiting (sent again later,
    // answered `duplicate`); fewer than `queued` would mean a receipt for something not stored.
    assert!(stored + waiting >= queued, "{stored} stored + {waiting} waiting < {queued} queued: answered unstored");
    let log = collector.log_text();
    if let Some(line) = log.lines().find(|l| l.contains("the store did not take")) {
        println!("wijkpost, full disk: {line}");
    }
    assert!(
        log.contains("the disk holding the database is full: free space on it"),
        "a clear log line:\n{}",
        wijk_lab::process::tail(&log, 20)
    );

    // Space again: everything that waited is stored, once.
    disk.resize(65536).expect("grow");
    let pushed = push_all("100");
    for (state, f) in states.iter().zip(&pushed) {
        assert!(
            f.success(),
            "{}: {}\n{}",
            state.display(),
            f.describe(),
            wijk_lab::process::tail(&collector.log_text(), 30)
        );
        assert_eq!(outbox_len(state), 0);
    }
    let m = collector.metrics(ADMIN.0, ADMIN.1).expect("metrics");
    assert_eq!(metric(&m, "wijkpost_ingest_store_failing"), Some(0.0), "{m}");
    assert_eq!(metric(&m, "wijkpost_summaries_stored"), Some(queued as f64), "each exactly once:\n{m}");
    assert!(collector.log_text().contains("the store took the batch of"), "recovery is logged");
    println!(
        "wijkpost disk full: {} summaries queued, {} stored before the store refused, {} failed attempts, all {} stored once after",
        queued,
        stored,
        metric(&m, "wijkpost_ingest_store_failures_total").unwrap_or(0.0),
        queued
    );
    let data = collector.data.clone();
    drop(collector);
    let mut store = wijkpost::store::StoreConfig::parse(None, &data).expect("db").open().expect("store reopens");
    let mut seen = std::collections::BTreeSet::new();
    store
        .each_summary(&mut |s| {
            assert!(seen.insert((s.agent, s.seq)), "a row twice");
            Ok(())
        })
        .expect("every row reads back");
    assert_eq!(seen.len(), queued);
}
