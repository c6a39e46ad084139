//! Hostile TCP and TLS servers end to end: the agent scans each case of the hostile lab
//! (`wijk_lab::hostile_lab`) on its own, with `--profile standard`, and must come through every
//! one: the scan finishes within [`SCAN_LIMIT`], its peak RSS (VmHWM, polled while it runs) stays
//! under [`PEAK_RSS_LIMIT_KIB`], it exits 0 without a panic, the report is `complete: true`, and
//! the report says what happened on every port of the case ([`CASES`]):
//!
//! - `reset`: every port's note says the connection was reset;
//! - `tls-garbage`: the note of each TLS port says the answer was not TLS;
//! - `tls-chain`: the certificate analysis counts 100 certificates and says it analysed only the
//!   first ones;
//! - `tls-extensions`: the certificate with 2,000 extensions is counted and called unusual; the
//!   extension of 10,000 nested SEQUENCEs is reported as nested too deep;
//! - `utf8`: every text of every port (banners, versions, HTTP header and title, Redis INFO, the MQTT
//!   broker version) shows the invalid bytes as U+FFFD, and so do the certificate's subject, issuer
//!   and subjectAltName, which the analysis also calls not valid UTF-8.
//!
//! Every row is checked and printed (PASS/FAIL, with the scan's time and peak RSS) before the test
//! fails. Run as root after building the agent:
//! `cargo build -p wijkagent && cargo test -p wijk-lab --test lab_hostile -- --nocapture`.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use wijk_lab::bench::measure;
use wijk_lab::consent_fixture::{self, ConsentSpec};
use wijk_lab::lab::require_lab_or_skip;
use wijk_lab::rows::Rows;
use wijk_lab::{agent, host, Lab, LabKind, Port, GARBAGE_PORTS, HOSTILE_PORTS, UTF8_PORTS};

/// One case's scan must end within this (it is killed then).
const SCAN_LIMIT: Duration = Duration::from_secs(180);
/// The agent's peak resident set size must stay under this.
const PEAK_RSS_LIMIT_KIB: u64 = 50 * 1024;
/// The replacement character lossy text shows for invalid UTF-8.
const REPLACEMENT: &str = "\u{fffd}";

/// What the report must say about one port: every one of these texts appears in the service's
/// JSON (note, details, product, version, TLS analysis).
type Says = &'static [&'static str];

/// One case: the hosts it scans and, per host, the ports with what the report must say.
struct Case {
    name: &'static str,
    hosts: &'static [&'static str],
    expect: &'static [(&'static str, &'static [Port], Says)],
}

const TLS: &[Port] = &[Port::tcp(443)];

const CASES: &[Case] = &[
    Case { name: "reset", hosts: &[host::RESET], expect: &[(host::RESET, HOSTILE_PORTS, &["\"note\":\"reset"])] },
    Case {
        name: "tls-garbage",
        hosts: &[host::TLS_GARBAGE],
        expect: &[(host::TLS_GARBAGE, GARBAGE_PORTS, &["not a TLS answer"])],
    },
    Case {
        name: "tls-chain",
        hosts: &[host::TLS_CHAIN],
        expect: &[(
            host::TLS_CHAIN,
            TLS,
            &["\"chain_length\":100", "chain of 100 certificates; analysed the first 10"],
        )],
    },
    Case {
        name: "tls-extensions",
        hosts: &[host::TLS_EXT_MANY, host::TLS_EXT_DEEP],
        expect: &[
            (host::TLS_EXT_MANY, TLS, &["\"extensions\":2000", "2000 extensions"]),
            (host::TLS_EXT_DEEP, TLS, &["1.3.6.1.4.1.55555.2", "nested more than"]),
        ],
    },
    Case {
        name: "utf8",
        hosts: &[host::UTF8],
        expect: &[
            (host::UTF8, &[Port::tcp(21)], &["\"banner\":\"(vsFTPd 3.0.\u{fffd}", "\"version\":\"3.0.\u{fffd}"]),
            (host::UTF8, &[Port::tcp(22)], &["\"banner\":\"SSH-2.0-OpenSSH_9.2\u{fffd}"]),
            (host::UTF8, &[Port::tcp(23)], &["\"banner\":\"Gemeente \u{fffd}"]),
            (host::UTF8, &[Port::tcp(25)], &["\"banner\":\"mail.gemeente\u{fffd}"]),
            (host::UTF8, &[Port::tcp(80)], &["\"server\":\"nginx/1.22.\u{fffd}", "\"title\":\"Gemeente \u{fffd}"]),
            (host::UTF8, &[Port::tcp(1883)], &["\"sys-version\":\"mosquitto version 2.0.\u{fffd}"]),
            (host::UTF8, &[Port::tcp(6379)], &["\"version\":\"7.0.\u{fffd}", "\"os\":\"Linux \u{fffd}"]),
            (
                host::UTF8,
                TLS,
                &[
                    "\"subject\":\"CN=Gemeente \u{fffd}",
                    "\"issuer\":\"CN=Gemeente \u{fffd}",
                    "loket.gemeente\u{fffd}",
                    "subject not valid UTF-8",
                    "subjectAltName DNS name not valid UTF-8",
                ],
            ),
        ],
    },
];

/// The service object of `ip`:`port` in `report`.
fn service(report: &Value, ip: IpAddr, port: Port) -> Option<&Value> {
    let host = report["hosts"].as_array()?.iter().find(|h| h["address"].as_str() == Some(&ip.to_string()))?;
    host["services"].as_array()?.iter().find(|s| {
        s["port"].as_u64() == Some(u64::from(port.number)) && s["protocol"].as_str() == Some(port.proto.as_str())
    })
}

/// In a few words, what the report says about a service: its note, its certificate's problems, or
/// the first detail (or product/version) with a replacement character.
fn gist(s: &Value) -> String {
    let mut said: Vec<String> = Vec::new();
    if let Some(note) = s["note"].as_str() {
        said.push(format!("note {note:?}"));
    }
    if let Some(problems) = s["tls"]["certificate"]["problems"].as_array().filter(|p| !p.is_empty()) {
        said.push(format!("certificate problems {}", Value::Array(problems.clone())));
    }
    if said.is_empty() {
        let mut texts: Vec<(String, String)> =
            ["product", "version"].iter().filter_map(|k| Some((k.to_string(), s[*k].as_str()?.to_string()))).collect();
        if let Some(details) = s["details"].as_object() {
            texts.extend(details.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))));
        }
        if let Some((k, v)) = texts.into_iter().find(|(_, v)| v.contains(REPLACEMENT)) {
            said.push(format!("{k} {v:?}"));
        }
    }
    let text = said.join("; ");
    match text.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// Scans the hosts of `case` alone and checks its rows.
fn run_case(lab: &Lab, case: &Case, rows: &mut Rows) {
    let work = tempfile::tempdir().expect("work dir");
    let mut spec = ConsentSpec::for_lab(&lab.addressing());
    spec.include = case.hosts.iter().map(|h| lab.host(h).ipv4.to_string()).collect();
    spec.exclude = vec![];
    spec.max_rate = 1000;
    spec.max_per_host_rate = 200;
    let consent = consent_fixture::write_signed(&work.path().join("consent"), &spec).expect("signed consent");
    let out = work.path().join("report");
    let mut cmd = lab.scan_command(&consent, &out, &work.path().join("audit.log"), "standard");
    let run = match measure::run(&mut cmd, None, SCAN_LIMIT) {
        Ok(run) => run,
        Err(e) => {
            rows.check(format!("{} scan ran", case.name), false, format!("{e:#}"));
            return;
        }
    };
    let c = case.name;
    rows.check(
        format!("{c} scan finished within {SCAN_LIMIT:?} ({:.1} s)", run.wall.as_secs_f64()),
        run.wall < SCAN_LIMIT,
        format!("{:.1} s", run.wall.as_secs_f64()),
    );
    rows.check(
        format!("{c} peak RSS under {} MiB ({} KiB)", PEAK_RSS_LIMIT_KIB / 1024, run.peak_rss_kib),
        run.peak_rss_kib > 0 && run.peak_rss_kib < PEAK_RSS_LIMIT_KIB,
        format!("VmHWM {} KiB", run.peak_rss_kib),
    );
    rows.check(
        format!("{c} exit 0, no panic"),
        run.code == Some(0) && !run.stderr.contains("panicked"),
        format!("exit {:?}; stderr: {}", run.code, run.stderr),
    );
    let text = std::fs::read_to_string(out.join("report.json"));
    let report: Value = match text.as_deref().map(serde_json::from_str) {
        Ok(Ok(v)) => v,
        other => {
            rows.check(format!("{c} report.json readable"), false, format!("{other:?}"));
            return;
        }
    };
    rows.check(format!("{c} report complete"), report["complete"] == Value::Bool(true), report["complete"].to_string());
    for &(h, ports, says) in case.expect {
        let ip = IpAddr::V4(lab.host(h).ipv4);
        for &port in ports {
            let label = format!("{c} {h} {port} says {says:?}");
            match service(&report, ip, port) {
                None => rows.check(label, false, "port not reported"),
                Some(s) => {
                    let text = s.to_string();
                    let missing: Vec<&str> = says.iter().copied().filter(|w| !text.contains(w)).collect();
                    let label = format!("{label}: {}", gist(s));
                    rows.check(label, missing.is_empty(), format!("missing {missing:?} in {text}"));
                }
            }
        }
    }
    if rows.failed() > 0 {
        let kept = work.keep();
        eprintln!("{c}: report kept at {}", kept.join("report/report.json").display());
    }
}

#[test]
fn every_hostile_server_gets_a_complete_report_that_says_what_happened() {
    let test = "every_hostile_server_gets_a_complete_report_that_says_what_happened";
    if !require_lab_or_skip(test, LabKind::Hostile, &[]) {
        return;
    }
    if let Err(e) = agent::bin_checked() {
        panic!("{e:#}");
    }
    let lab = Lab::up_hostile("wlhost", Path::new(env!("CARGO_BIN_EXE_hostile"))).expect("hostile lab up");
    let mut rows = Rows::default();
    // Every port of every case host is checked (a port added to the lab cannot go unasserted).
    for case in CASES {
        for h in case.hosts {
            let checked: Vec<Port> =
                case.expect.iter().filter(|e| e.0 == *h).flat_map(|e| e.1.iter().copied()).collect();
            let unchecked: Vec<Port> = lab.host(h).open.iter().copied().filter(|p| !checked.contains(p)).collect();
            rows.check(
                format!("{} {h}: every open port has a row", case.name),
                unchecked.is_empty(),
                format!("{unchecked:?}"),
            );
        }
    }
    assert_eq!(UTF8_PORTS.len() + 1, lab.host(host::UTF8).open.len(), "the utf8 host: the fake's ports and 443");
    for case in CASES {
        run_case(&lab, case, &mut rows);
    }
    let outside = lab.count_packets_from_scanner(host::OUTSIDE).expect("outside counters");
    rows.check("no packet reached the excluded host", outside.total() == 0, format!("{outside:?}"));
    let table = rows.table();
    // Shown even when the test passes (libtest captures only the print macros).
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{table}");
    if rows.failed() > 0 {
        panic!("{} rows failed:\n{table}\ndaemon logs:\n{}", rows.failed(), lab.daemon_logs());
    }
}
