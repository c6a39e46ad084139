//! The `tls` job: wijkagent's TLS analysis against testssl.sh, per TLS endpoint of the services lab
//! (`tls-weak:443`, `tls-safe:443`, and `ftp-safe:21` through `AUTH TLS`).
//!
//! testssl.sh (Debian package `testssl.sh`, program `testssl`) runs from the scanner namespace with
//! `--quiet --color 0 --warnings off --nodns none --connect-timeout 5 --openssl-timeout 5
//! --jsonfile <file> -p -S <ip>:<port>` (`-t ftp` for FTP), each run bounded by [`DEADLINE`].
//! From its flat JSON the job takes:
//! - accepted versions: ids `SSLv2`, `SSLv3`, `TLS1`, `TLS1_1`, `TLS1_2`, `TLS1_3` whose finding starts
//!   with `offered`, against the agent's `tls.versions`;
//! - `cert_expirationStatus` (`expired`) against the finding `tls-cert-expired`;
//! - `cert_chain_of_trust`: `(self signed)` in it (not `(self signed CA in chain)`) against `certificate.self_signed`, `passed` against
//!   `certificate.trusted`;
//! - `cert_keySize` (`RSA 2048 bits`) against `certificate.key` and `key_bits`;
//! - `cert_signatureAlgorithm` (`SHA256 with RSA`) against `certificate.signature_algorithm`
//!   (`sha256WithRSAEncryption`), compared as (hash, key algorithm).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::{agent_scan, lab_consent, measure};
use crate::addressing::{host, Port};
use crate::lab::Lab;
use crate::process::{find_program, run_bounded};
use crate::report::Report;

/// How long one testssl.sh run may take.
pub const DEADLINE: Duration = Duration::from_secs(300);

/// The TLS endpoints of the services lab: host, port, STARTTLS protocol.
pub const ENDPOINTS: &[(&str, u16, Option<&str>)] =
    &[(host::TLS_WEAK, 443, None), (host::TLS_SAFE, 443, None), (host::FTP_SAFE, 21, Some("ftp"))];

/// testssl.sh's protocol ids and the agent's names for them.
const VERSIONS: &[(&str, &str)] = &[
    ("SSLv2", "SSLv2"),
    ("SSLv3", "SSLv3"),
    ("TLS1", "TLSv1.0"),
    ("TLS1_1", "TLSv1.1"),
    ("TLS1_2", "TLSv1.2"),
    ("TLS1_3", "TLSv1.3"),
];

/// The testssl.sh program: `testssl` (Debian) or `testssl.sh` (upstream).
pub fn program() -> Option<PathBuf> {
    find_program("testssl").or_else(|| find_program("testssl.sh"))
}

/// What one side says about an endpoint; `None` where it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdicts {
    /// Accepted versions, agent names (`TLSv1.2`).
    pub versions: Option<BTreeSet<String>>,
    /// The certificate has expired.
    pub expired: Option<bool>,
    /// The certificate is self-signed.
    pub self_signed: Option<bool>,
    /// The chain leads to a trusted root.
    pub trusted: Option<bool>,
    /// Key type (upper case, `RSA`, `EC`) and size in bits.
    pub key: Option<(String, u32)>,
    /// Signature algorithm as (hash, key algorithm), lower case: `("sha256", "rsa")`.
    pub signature: Option<(String, String)>,
}

/// The finding of the first entry whose id is `id` (testssl.sh appends ` <hostCert#1>` to the ids
/// of each certificate when a server has several).
fn finding<'a>(entries: &'a [Value], id: &str) -> Option<&'a str> {
    entries
        .iter()
        .find(|e| e.get("id").and_then(Value::as_str).and_then(|i| i.split_whitespace().next()) == Some(id))
        .and_then(|e| e.get("finding").and_then(Value::as_str))
}

/// (hash, key algorithm) from any spelling: `SHA256 with RSA`, `sha256WithRSAEncryption`,
/// `ecdsa-with-SHA384`, `RSASSA-PSS`.
pub fn signature_parts(s: &str) -> (String, String) {
    let l = s.to_ascii_lowercase().replace(['-', ' ', '_'], "");
    let hash = ["md2", "md5", "sha224", "sha256", "sha384", "sha512", "sha1"].iter().find(|h| l.contains(*h));
    let alg = if l.contains("pss") {
        "rsa-pss"
    } else if l.contains("ecdsa") {
        "ecdsa"
    } else if l.contains("ed25519") {
        "ed25519"
    } else if l.contains("rsa") {
        "rsa"
    } else if l.contains("dsa") {
        "dsa"
    } else {
        "?"
    };
    (hash.map_or("?", |h| *h).to_string(), alg.to_string())
}

/// Key type and bits from `RSA 2048 bits`, `EC 256 bits (curve P-256)`, or the agent's `EC P-256`.
fn key_parts(kind: &str, bits: u32) -> (String, u32) {
    let kind = kind.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    (if kind == "ECDSA" { "EC".to_string() } else { kind }, bits)
}

/// Verdicts from testssl.sh's flat JSON (`--jsonfile`).
pub fn from_testssl(json: &str) -> Result<Verdicts> {
    let entries: Vec<Value> = serde_json::from_str(json).context("testssl.sh JSON is not a flat array")?;
    let versions: BTreeSet<String> = VERSIONS
        .iter()
        .filter(|(id, _)| finding(&entries, id).is_some_and(|f| f.trim_start().starts_with("offered")))
        .map(|(_, name)| name.to_string())
        .collect();
    let any_version = VERSIONS.iter().any(|(id, _)| finding(&entries, id).is_some());
    let chain = finding(&entries, "cert_chain_of_trust");
    let key = finding(&entries, "cert_keySize").and_then(|f| {
        let mut w = f.split_whitespace();
        let kind = w.next()?;
        let bits = w.next()?.parse().ok()?;
        Some(key_parts(kind, bits))
    });
    Ok(Verdicts {
        versions: any_version.then_some(versions),
        expired: finding(&entries, "cert_expirationStatus").map(|f| f.to_ascii_lowercase().contains("expired")),
        // `(self signed)` is the leaf itself; `(self signed CA in chain)` a root that is not trusted.
        self_signed: chain.map(|c| c.to_ascii_lowercase().contains("(self signed)")),
        trusted: chain.map(|c| c.trim_start().to_ascii_lowercase().starts_with("passed")),
        key,
        signature: finding(&entries, "cert_signatureAlgorithm").map(signature_parts),
    })
}

/// Verdicts from the agent's `tls` object of one service and its findings' ids there.
pub fn from_agent(tls: Option<&Value>, findings: &BTreeSet<String>) -> Verdicts {
    let Some(tls) = tls.filter(|t| !t.is_null()) else { return Verdicts::default() };
    let versions = tls
        .get("versions")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter_map(Value::as_str).map(str::to_string).collect());
    let cert = tls.get("certificate").filter(|c| !c.is_null());
    let field = |k: &str| cert.and_then(|c| c.get(k));
    let expired = cert.map(|_| {
        findings.contains("tls-cert-expired") || field("days_left").and_then(Value::as_i64).is_some_and(|d| d < 0)
    });
    let key = field("key").and_then(Value::as_str).zip(field("key_bits").and_then(Value::as_u64)).map(|(k, b)| {
        let bits = u32::try_from(b).unwrap_or(u32::MAX);
        key_parts(k, bits)
    });
    Verdicts {
        versions,
        expired,
        self_signed: field("self_signed").and_then(Value::as_bool),
        trusted: field("trusted").and_then(Value::as_bool),
        key,
        signature: field("signature_algorithm").and_then(Value::as_str).map(signature_parts),
    }
}

/// One compared aspect: name, testssl.sh's value, the agent's, whether they agree (`None` when one
/// side says nothing).
pub type Aspect = (&'static str, String, String, Option<bool>);

fn show<T: std::fmt::Debug>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_string(), |x| format!("{x:?}").replace('"', ""))
}

/// The aspects of one endpoint, compared.
pub fn compare(theirs: &Verdicts, ours: &Verdicts) -> Vec<Aspect> {
    fn aspect<T: PartialEq + std::fmt::Debug>(name: &'static str, t: &Option<T>, o: &Option<T>) -> Aspect {
        let agree = match (t, o) {
            (Some(a), Some(b)) => Some(a == b),
            _ => None,
        };
        (name, show(t), show(o), agree)
    }
    vec![
        aspect("versions", &theirs.versions, &ours.versions),
        aspect("expired", &theirs.expired, &ours.expired),
        aspect("self-signed", &theirs.self_signed, &ours.self_signed),
        aspect("chain trusted", &theirs.trusted, &ours.trusted),
        aspect("key", &theirs.key, &ours.key),
        aspect("signature", &theirs.signature, &ours.signature),
    ]
}

/// Runs the job in `lab` (a services lab), working in `dir`; testssl.sh's JSON files are kept in
/// `keep`. Prints the table; returns the figures.
pub fn run(lab: &Lab, dir: &Path, keep: &Path, rate: u32) -> Result<Value> {
    let Some(testssl) = program() else {
        println!("     tls: skipped — testssl.sh is not installed (apt-get install testssl.sh)");
        return Ok(json!({"skipped": "testssl.sh not installed"}));
    };
    let version = std::process::Command::new(&testssl)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    let version = version
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.first().is_some_and(|p| p.starts_with("testssl")) && w.len() > 1)
        .map_or_else(|| "testssl.sh ?".to_string(), |w| format!("testssl.sh {}", w[1]));
    let hosts: BTreeSet<&str> = ENDPOINTS.iter().map(|e| e.0).collect();
    let addrs: Vec<IpAddr> = hosts.iter().map(|h| IpAddr::V4(lab.host(h).ipv4)).collect();
    let consent = lab_consent(lab, &dir.join("consent-tls"), &addrs, rate)?;
    let out = dir.join("report-tls");
    let ports: Vec<String> = ENDPOINTS.iter().map(|e| e.1.to_string()).collect::<BTreeSet<_>>().into_iter().collect();
    let ports = ports.join(",");
    let extra = ["--lang", "en", "--ports", &ports];
    let ours = measure::run(&mut agent_scan(lab, &consent, &out, &extra), None, Duration::from_secs(300))?;
    if ours.code != Some(0) {
        bail!("wijkagent TLS scan failed ({:?}): {}", ours.code, ours.stderr);
    }
    let report = Report::read(&out).context("agent report")?;
    println!(
        "     tls: {version}; wijkagent scanned the {} endpoints' hosts (ports {ports}) in {:.2} s (its own duration_s {:.2})",
        ENDPOINTS.len(),
        ours.wall.as_secs_f64(),
        report.stat("duration_s").unwrap_or(f64::NAN)
    );
    let mut text = String::new();
    let (mut agree, mut compared) = (0, 0);
    let mut endpoints = Vec::new();
    for &(h, port, starttls) in ENDPOINTS {
        let ip = IpAddr::V4(lab.host(h).ipv4);
        let file = keep.join(format!("testssl-{h}-{port}.json"));
        // testssl.sh will not overwrite a JSON file.
        let _ = std::fs::remove_file(&file);
        let mut args: Vec<String> = vec![testssl.display().to_string()];
        args.extend(
            [
                "--quiet",
                "--color",
                "0",
                "--warnings",
                "off",
                "--nodns",
                "none",
                "--connect-timeout",
                "5",
                "--openssl-timeout",
                "5",
                "--jsonfile",
            ]
            .map(String::from),
        );
        args.push(file.display().to_string());
        args.extend(["-p".into(), "-S".into()]);
        if let Some(proto) = starttls {
            args.extend(["--starttls".into(), proto.into()]);
        }
        args.push(format!("{ip}:{port}"));
        let run = run_bounded(&mut lab.scanner_exec(&args), DEADLINE)?;
        let theirs = std::fs::read_to_string(&file)
            .map_err(anyhow::Error::from)
            .and_then(|j| from_testssl(&j))
            .with_context(|| format!("testssl.sh on {h}:{port}: {}", run.describe()));
        let theirs = match theirs {
            Ok(v) => v,
            Err(e) => {
                let _ = writeln!(text, "  {h}:{port}: no result from testssl.sh: {e:#}");
                endpoints.push(json!({"endpoint": format!("{h}:{port}"), "error": format!("{e:#}")}));
                continue;
            }
        };
        let service = report.service(ip, Port::tcp(port));
        let ids = report.finding_ids(ip, Port::tcp(port));
        let ours = from_agent(service.and_then(|s| s.tls.as_ref()), &ids);
        let aspects = compare(&theirs, &ours);
        let _ = writeln!(
            text,
            "  {h}:{port}{} — testssl.sh {:.1} s{}",
            starttls.map(|p| format!(" (STARTTLS {p})")).unwrap_or_default(),
            run.elapsed.as_secs_f64(),
            if run.timed_out { " (stopped at the deadline)" } else { "" }
        );
        for (name, t, o, ok) in &aspects {
            let mark = match ok {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "n/a",
            };
            let _ = writeln!(text, "    {name:<14} {mark:<4} testssl.sh {t:<46} wijkagent {o}");
        }
        agree += aspects.iter().filter(|a| a.3 == Some(true)).count();
        compared += aspects.iter().filter(|a| a.3.is_some()).count();
        let rows: Vec<Value> = aspects
            .iter()
            .map(|(n, t, o, ok)| json!({"aspect": n, "testssl": t, "wijkagent": o, "agree": ok}))
            .collect();
        endpoints.push(json!({"endpoint": format!("{h}:{port}"), "testssl_s": run.elapsed.as_secs_f64(),
                              "timed_out": run.timed_out, "aspects": rows}));
    }
    print!("{text}");
    println!("  agreement: {agree}/{compared} aspects");
    Ok(json!({"testssl": version, "wijkagent_s": ours.wall.as_secs_f64(), "agree": agree, "of": compared,
              "endpoints": endpoints}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testssl_flat_json_gives_versions_and_certificate_verdicts() {
        let j = r#"[
 {"id":"SSLv2","ip":"198.18.9.40/198.18.9.40","port":"443","severity":"OK","finding":"not offered"},
 {"id":"SSLv3","ip":"198.18.9.40/198.18.9.40","port":"443","severity":"OK","finding":"not offered"},
 {"id":"TLS1","ip":"198.18.9.40/198.18.9.40","port":"443","severity":"LOW","finding":"offered (deprecated)"},
 {"id":"TLS1_1","ip":"198.18.9.40/198.18.9.40","port":"443","severity":"LOW","finding":"offered (deprecated)"},
 {"id":"TLS1_2","ip":"198.18.9.40/198.18.9.40","port":"443","severity":"OK","finding":"offered"},
 {"id":"TLS1_3","ip":"198.18.9.40/198.18.9.40","port":"443","severity":"INFO","finding":"not offered and downgraded to a weaker protocol"},
 {"id":"cert_signatureAlgorithm","ip":"198.18.9.40/198.18.9.40","port":"443","severity":"MEDIUM","finding":"SHA1 with RSA"},
 {"id":"cert_keySize","ip":"198.18.9.40/198.18.9.40","port":"443","severity":"MEDIUM","finding":"RSA 1024 bits"},
 {"id":"cert_chain_of_trust","ip":"198.18.9.40/198.18.9.40","port":"443","severity":"CRITICAL","finding":"failed (self signed)."},
 {"id":"cert_chain_of_trust <hostCert#2>","ip":"198.18.9.40/198.18.9.40","port":"443","severity":"CRITICAL","finding":"passed."},
 {"id":"cert_expirationStatus","ip":"198.18.9.40/198.18.9.40","port":"443","severity":"CRITICAL","finding":"expired"}
]"#;
        let v = from_testssl(j).expect("parse");
        let want: BTreeSet<String> = ["TLSv1.0", "TLSv1.1", "TLSv1.2"].iter().map(|s| s.to_string()).collect();
        assert_eq!(v.versions, Some(want));
        assert_eq!((v.expired, v.self_signed, v.trusted), (Some(true), Some(true), Some(false)));
        assert_eq!(v.key, Some(("RSA".into(), 1024)));
        assert_eq!(v.signature, Some(("sha1".into(), "rsa".into())));
        let ca = j.replace("failed (self signed).", "failed (self signed CA in chain).");
        let v = from_testssl(&ca).expect("parse");
        assert_eq!((v.self_signed, v.trusted), (Some(false), Some(false)));
    }

    #[test]
    fn agent_tls_object_gives_the_same_verdicts() {
        let tls = json!({"versions": ["TLSv1.0", "TLSv1.1", "TLSv1.2"], "certificate": {
            "days_left": -400, "key": "RSA", "key_bits": 1024, "signature_algorithm": "sha1WithRSAEncryption",
            "self_signed": true, "trusted": false}});
        let ids: BTreeSet<String> = ["tls-cert-expired".to_string()].into();
        let ours = from_agent(Some(&tls), &ids);
        let aspects = compare(&ours, &ours);
        assert!(aspects.iter().all(|a| a.3 == Some(true)), "{aspects:?}");
        assert_eq!(ours.signature, Some(("sha1".into(), "rsa".into())));
        assert_eq!(from_agent(None, &ids), Verdicts::default());
    }

    #[test]
    fn signature_spellings_meet() {
        assert_eq!(signature_parts("SHA256 with RSA"), signature_parts("sha256WithRSAEncryption"));
        assert_eq!(signature_parts("ECDSA with SHA384"), signature_parts("ecdsa-with-SHA384"));
        assert_ne!(signature_parts("SHA1 with RSA"), signature_parts("sha256WithRSAEncryption"));
    }
}
