//! `wijkagent run` as municipal IT staff run it, across real processes on loopback: a scheduled
//! scan part by part, its report kept, its summary pushed to a real wijkpost, `wijkagent status`,
//! SIGHUP with broken files (refused, old config stays), SIGTERM within 10 seconds, and a scan
//! stopped halfway that carries on after a restart without scanning its finished parts again.
//! Loopback only (127.0.0.1-127.0.0.6); every wait is bounded.

use std::collections::BTreeSet;
use std::time::Duration;

use wijk_lab::agent;
use wijk_lab::agent_service::{event, loopback_consent, start, status, write_config};
use wijk_lab::collector::{enroll_agent, outbox_len, Collector};
use wijk_lab::consent_fixture::WindowSpec;
use wijk_lab::process::run_bounded;

const SCAN_LIMIT: Duration = Duration::from_secs(180);
const STOP_LIMIT: Duration = Duration::from_secs(10);

fn audit_events(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("audit log");
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("audit JSON"))
        .map(|v| v["event"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn audit_verifies(path: &std::path::Path) {
    let mut cmd = agent::command(["--lang", "en", "audit", "verify", "--log"]);
    cmd.arg(path);
    let f = run_bounded(&mut cmd, Duration::from_secs(30)).expect("audit verify");
    assert!(f.success(), "audit verify: {}", f.describe());
}

/// `part=N` of a `part-done` line.
fn part_number(line: &str) -> usize {
    let rest = line.split_once(" part=").expect("part= in line").1;
    rest.split_whitespace().next().and_then(|n| n.parse().ok()).expect("part number")
}

#[test]
fn the_service_scans_reports_pushes_and_answers_its_signals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&dir.path().join("wijkpost"), &[]).expect("wijkpost");
    let state = dir.path().join("state");
    let agent_id = enroll_agent(&collector, &state, "Gemeente Dienst").expect("enroll");
    let consent = loopback_consent(&dir.path().join("consent"), &["127.0.0.1-127.0.0.4"], vec![WindowSpec::always()])
        .expect("consent");
    let config = write_config(dir.path(), &consent, "part_size = 2").expect("config");

    let mut svc = start(&config, true).expect("wijkagent run");
    let parts = svc.wait_for_count(&event("part-done"), 2, SCAN_LIMIT).expect("two parts");
    assert!(parts.iter().all(|l| l.contains("parts=2")), "{parts:?}");
    svc.wait_for_count(&event("scan-finished"), 1, SCAN_LIMIT).expect("scan finished");
    svc.wait_for_count(&event("push-done"), 1, Duration::from_secs(60)).expect("push");
    assert_eq!(outbox_len(&state), 0, "the receipt emptied the outbox:\n{}", svc.log_text());

    let report_path = state.join("reports/latest/report.json");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).expect("latest report")).expect("JSON");
    assert_eq!(report["stats"]["targets"], 4, "both parts in one report");
    assert!(report["complete"].as_bool().expect("complete"), "{report}");
    let hosts: Vec<&str> =
        report["hosts"].as_array().expect("hosts").iter().filter_map(|h| h["address"].as_str()).collect();
    assert!(hosts.contains(&"127.0.0.1"), "{hosts:?}");
    assert_eq!(hosts.iter().collect::<BTreeSet<_>>().len(), hosts.len(), "no host twice: {hosts:?}");
    for file in ["report.html", "findings.csv"] {
        assert!(state.join("reports/latest").join(file).is_file(), "{file}");
    }

    let st = status(&config, false).expect("status");
    assert_eq!(st["schema"], "wijkagent.status/1");
    assert_eq!(st["agent_id"], agent_id.as_str());
    assert_eq!(st["consent"]["valid"], true, "{st}");
    assert_eq!(st["consent"]["window_open"], true, "{st}");
    assert_eq!(st["service"]["running"], true, "{st}");
    assert_eq!(st["service"]["pid"], svc.pid());
    assert_eq!(st["last_scan"]["scan_id"], report["scan_id"], "{st}");
    assert_eq!(st["outbox"]["waiting"], 0, "{st}");
    assert_eq!(st["collector"]["reachable"], true, "{st}");
    assert!(st["last_push"]["stored"].as_u64().expect("stored") >= 1, "{st}");

    // A consent changed without a new signature is refused; the old one stays in force.
    let original = std::fs::read_to_string(&consent.scope).expect("scope");
    std::fs::write(&consent.scope, original.replace("127.0.0.1-127.0.0.4", "127.0.0.1-127.0.0.9")).expect("tamper");
    svc.signal("HUP");
    let refused = svc.wait_for_count(&event("reload-refused"), 1, Duration::from_secs(15)).expect("refused");
    assert!(refused[0].contains("signature"), "{refused:?}");
    // So is a configuration with a typo.
    std::fs::write(&consent.scope, &original).expect("restore");
    let good_config = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, good_config.replace("part_size", "part_sise")).expect("typo");
    svc.signal("HUP");
    let refused = svc.wait_for_count(&event("reload-refused"), 2, Duration::from_secs(15)).expect("refused");
    assert!(refused[1].contains("part_sise"), "{refused:?}");
    std::fs::write(&config, &good_config).expect("restore");
    svc.signal("HUP");
    svc.wait_for_count(&event("reloaded"), 1, Duration::from_secs(15)).expect("reloaded");
    let st = status(&config, true).expect("status");
    assert_eq!(st["service"]["running"], true, "still running after the refusals: {st}");

    let (code, took) = svc.terminate(STOP_LIMIT).expect("stops");
    assert_eq!(code.code(), Some(0), "exit code after SIGTERM");
    assert!(took < STOP_LIMIT, "{took:?}");
    let st = status(&config, true).expect("status");
    assert_eq!(st["service"]["running"], false, "{st}");

    let audit = state.join("audit.log");
    audit_verifies(&audit);
    let events = audit_events(&audit);
    for want in ["scan_started", "scan_finished", "summary_sent"] {
        assert!(events.iter().any(|e| e == want), "{want} in {events:?}");
    }
    drop(collector);
}

#[test]
fn a_scan_stopped_halfway_carries_on_without_scanning_finished_parts_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let consent = loopback_consent(&dir.path().join("consent"), &["127.0.0.1-127.0.0.6"], vec![WindowSpec::always()])
        .expect("consent");
    // One address per part, slowly, so that SIGTERM finds the scan halfway.
    let config = write_config(dir.path(), &consent, "part_size = 1\nrate = 40").expect("config");
    let state = dir.path().join("state");

    let mut first = start(&config, true).expect("wijkagent run");
    first.wait_for_count(&event("part-done"), 2, SCAN_LIMIT).expect("two parts");
    let (code, took) = first.terminate(STOP_LIMIT).expect("stops");
    assert_eq!(code.code(), Some(0));
    assert!(took < STOP_LIMIT, "{took:?}");
    let done_before: BTreeSet<usize> = first.matching(&event("part-done")).iter().map(|l| part_number(l)).collect();
    assert!(done_before.len() >= 2, "{done_before:?}");
    assert!(done_before.len() < 6, "the scan was stopped halfway: {}", first.log_text());
    let paused = first.matching(&event("scan-paused"));
    assert!(paused.iter().any(|l| l.contains("sigterm")), "paused by SIGTERM: {}", first.log_text());
    assert!(first.matching(&event("not-enrolled")).is_empty(), "nothing finished yet");
    let progress = state.join("service/scan");
    let kept = std::fs::read_dir(&progress)
        .expect("progress dir")
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().starts_with("part-")))
        .count();
    assert_eq!(kept, done_before.len(), "every finished part is on disk");
    let st = status(&config, true).expect("status");
    assert_eq!(st["current"]["parts_done"], done_before.len(), "{st}");

    // No --now: the scan in progress is due by itself.
    let mut second = start(&config, false).expect("wijkagent run again");
    let resumed = second.wait_for_count(&event("scan-resumed"), 1, Duration::from_secs(30)).expect("resumed");
    assert!(resumed[0].contains(&format!("parts_done={}", done_before.len())), "{resumed:?}");
    second.wait_for_count(&event("scan-finished"), 1, SCAN_LIMIT).expect("finished");
    let done_after: BTreeSet<usize> = second.matching(&event("part-done")).iter().map(|l| part_number(l)).collect();
    assert!(done_before.is_disjoint(&done_after), "no part twice: {done_before:?} then {done_after:?}");
    assert_eq!(done_before.union(&done_after).count(), 6, "every part once");
    second.wait_for_count(&event("not-enrolled"), 1, Duration::from_secs(10)).expect("says it cannot push");
    second.terminate(STOP_LIMIT).expect("stops");
    assert!(!progress.exists(), "the finished scan leaves no progress behind");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("reports/latest/report.json")).expect("report"))
            .expect("JSON");
    assert_eq!(report["stats"]["targets"], 6);
    let hosts: Vec<&str> =
        report["hosts"].as_array().expect("hosts").iter().filter_map(|h| h["address"].as_str()).collect();
    assert_eq!(hosts.iter().collect::<BTreeSet<_>>().len(), hosts.len(), "no host twice: {hosts:?}");
    let audit = state.join("audit.log");
    audit_verifies(&audit);
    let events = audit_events(&audit);
    let count = |name: &str| events.iter().filter(|e| *e == name).count();
    assert_eq!(
        (count("scan_started"), count("scan_paused"), count("scan_resumed"), count("scan_finished")),
        (1, 1, 1, 1),
        "{events:?}"
    );
}

/// A window from the start of the current minute to the next whole minute (at least 20 s away) and a
/// second one a minute later, in Brussels time: the scan starts in the first, pauses at its end and
/// carries on in the second.
fn two_short_windows() -> Vec<WindowSpec> {
    use chrono::{Duration as Span, DurationRound, Utc};
    use wijk_lab::consent_fixture::day_name;
    let brussels = |t: chrono::DateTime<Utc>| t.with_timezone(&chrono_tz::Europe::Brussels);
    let now = Utc::now();
    let mut end = now.duration_trunc(Span::minutes(1)).expect("minute") + Span::minutes(1);
    if end - now < Span::seconds(20) {
        end += Span::minutes(1);
    }
    let window = |from: chrono::DateTime<Utc>, until: chrono::DateTime<Utc>| {
        let (f, u) = (brussels(from), brussels(until));
        WindowSpec::on(
            &[day_name(chrono::Datelike::weekday(&f))],
            &f.format("%H:%M").to_string(),
            &u.format("%H:%M").to_string(),
        )
    };
    let start = now.duration_trunc(Span::minutes(1)).expect("minute");
    vec![window(start, end), window(end + Span::minutes(1), end + Span::minutes(3))]
}

#[test]
fn the_end_of_a_window_pauses_the_scan_and_the_next_window_carries_it_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let windows = two_short_windows();
    let consent =
        loopback_consent(&dir.path().join("consent"), &["127.0.0.1-127.0.0.40"], windows.clone()).expect("consent");
    // Forty parts at 20 packets per second: longer than the first window.
    let config = write_config(dir.path(), &consent, "part_size = 1\nrate = 20").expect("config");
    let mut svc = start(&config, true).expect("wijkagent run");
    let paused =
        svc.wait_for_count(&event("scan-paused"), 1, Duration::from_secs(90)).expect("paused at the window's end");
    assert!(paused[0].contains("window-closed"), "{paused:?} (windows {windows:?})");
    let done_before: BTreeSet<usize> = svc.matching(&event("part-done")).iter().map(|l| part_number(l)).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let st = loop {
        let st = status(&config, true).expect("status");
        if st["service"]["phase"] == "waiting-for-window" || std::time::Instant::now() > deadline {
            break st;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(st["service"]["phase"], "waiting-for-window", "{st}");
    assert_eq!(st["current"]["parts_done"], done_before.len(), "{st}");
    assert_eq!(st["consent"]["window_open"], false, "{st}");
    let resumed =
        svc.wait_for_count(&event("scan-resumed"), 1, Duration::from_secs(90)).expect("resumed in the next window");
    assert!(resumed[0].contains(&format!("parts_done={}", done_before.len())), "{resumed:?}");
    // Enough to see it carry on; the rest of the scan is not waited for.
    let lines =
        svc.wait_for_count(&event("part-done"), done_before.len() + 2, Duration::from_secs(60)).expect("more parts");
    let numbers: Vec<usize> = lines.iter().map(|l| part_number(l)).collect();
    let unique: BTreeSet<usize> = numbers.iter().copied().collect();
    assert_eq!(unique.len(), numbers.len(), "no part scanned twice: {numbers:?}");
    svc.terminate(STOP_LIMIT).expect("stops");
}
