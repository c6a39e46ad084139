//! The services lab itself, checked with standard tools from the scanner's namespace and without
//! the agent: each weak twin really is weak, each hardened twin really is not, and the hostile fakes
//! misbehave as planned. When `lab_services.rs` fails, this test says whether the lab or the agent
//! is to blame.
//!
//! Every check is a short shell pipeline (bash, openssl, nmap's SMB scripts, smbclient, redis-cli,
//! snmpget, mosquitto_pub), bounded in time, run with `Lab::scanner_exec`; all are run and every
//! failure is listed before the test fails. Needs root and those programs (`.ci/run` installs
//! them); otherwise it prints SKIPPED (and fails when `CI=true`). Packets stay inside the lab.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use wijk_lab::lab::require_lab_or_skip;
use wijk_lab::process::{run_bounded, tail};
use wijk_lab::{host, Lab, LabKind};

/// Tools the checks use, besides the lab's own programs.
const TOOLS: &[&str] = &["bash", "timeout", "od", "wc", "nmap", "smbclient", "redis-cli", "snmpget", "mosquitto_pub"];

/// One check: a bash script run in the scanner's namespace (`{ip}` is the host's IPv4 address),
/// and what its combined output must and must not contain.
struct Check {
    what: &'static str,
    host: &'static str,
    script: &'static str,
    must: &'static [&'static str],
    must_not: &'static [&'static str],
}

/// An FTP dialogue: the commands, then up to 3 s of answers.
macro_rules! ftp {
    ($cmds:literal) => {
        concat!("exec 3<>/dev/tcp/{ip}/21; printf '", $cmds, "' >&3; timeout 3 cat <&3")
    };
}

/// `openssl s_client` to port 443 (`$args` after the address), showing the certificate too.
macro_rules! tls {
    ($args:literal) => {
        concat!(
            "echo | timeout 10 openssl s_client -connect {ip}:443 ",
            $args,
            " 2>&1 | tee /dev/stderr | openssl x509 -noout -text -dates -issuer 2>&1"
        )
    };
}

/// An HTTP/1.0 `GET /` on port 80.
const GET_80: &str =
    "exec 3<>/dev/tcp/{ip}/80; printf 'GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' >&3; timeout 3 cat <&3";
/// The same over TLS on port 443.
const GET_443: &str = "printf 'GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' | timeout 5 openssl s_client -quiet \
                       -cipher 'ALL:@SECLEVEL=0' -connect {ip}:443 2>&1";
const SMB_NMAP: &str = "timeout 60 nmap -n -Pn -p445 --script smb-protocols,smb2-security-mode {ip}";
/// `s_client` prints "Protocol : TLSv1" even for a refused handshake: only the cipher tells.
const REFUSED: &[&str] = &["Cipher is (NONE)"];

const CHECKS: &[Check] = &[
    Check {
        what: "anonymous FTP login",
        host: host::FTP_WEAK,
        script: ftp!("USER anonymous\\r\\nPASS x@example.invalid\\r\\nQUIT\\r\\n"),
        must: &["220 (vsFTPd 3.0.3)", "230 Login successful"],
        must_not: &[],
    },
    Check {
        what: "no AUTH TLS",
        host: host::FTP_WEAK,
        script: ftp!("FEAT\\r\\nQUIT\\r\\n"),
        must: &["211 End"],
        must_not: &["AUTH TLS"],
    },
    Check {
        what: "anonymous needs TLS",
        host: host::FTP_SAFE,
        script: ftp!("FEAT\\r\\nUSER anonymous\\r\\n"),
        must: &["AUTH TLS", "530 Anonymous sessions must use encryption"],
        must_not: &["230"],
    },
    Check {
        what: "users need TLS",
        host: host::FTP_SAFE,
        script: ftp!("USER wijkagent\\r\\n"),
        must: &["530 Non-anonymous sessions must use encryption"],
        must_not: &["331"],
    },
    Check {
        what: "FTPS TLS 1.2",
        host: host::FTP_SAFE,
        script: "echo | timeout 10 openssl s_client -starttls ftp -connect {ip}:21 -tls1_2 2>&1",
        must: &["Protocol  : TLSv1.2", "wijk-lab test CA"],
        must_not: &[],
    },
    Check {
        what: "FTPS refuses TLS 1.0",
        host: host::FTP_SAFE,
        script:
            "echo | timeout 10 openssl s_client -starttls ftp -connect {ip}:21 -tls1 -cipher 'ALL:@SECLEVEL=0' 2>&1",
        must: REFUSED,
        must_not: &[],
    },
    Check {
        what: "SMB1, signing not required",
        host: host::SMB_WEAK,
        script: SMB_NMAP,
        must: &["NT LM 0.12", "signing enabled but not required"],
        must_not: &[],
    },
    Check {
        what: "unknown user becomes guest",
        host: host::SMB_WEAK,
        script: "timeout 20 smbclient -U wijkagent%not-a-password //{ip}/public -c ls 2>&1",
        must: &["readme.txt"],
        must_not: &[],
    },
    Check {
        what: "SMB2.1+, signing required",
        host: host::SMB_SAFE,
        script: SMB_NMAP,
        must: &["|     210", "signing enabled and required"],
        must_not: &["NT LM 0.12", "|     202"],
    },
    Check {
        what: "unknown user refused",
        host: host::SMB_SAFE,
        script: "timeout 20 smbclient -U wijkagent%not-a-password //{ip}/data -c ls 2>&1",
        must: &["NT_STATUS_LOGON_FAILURE"],
        must_not: &["readme.txt"],
    },
    Check {
        what: "Redis without password",
        host: host::REDIS_WEAK,
        script: "timeout 5 redis-cli -h {ip} INFO server 2>&1",
        must: &["redis_version:"],
        must_not: &[],
    },
    Check {
        what: "Redis wants a password",
        host: host::REDIS_SAFE,
        script: "timeout 5 redis-cli -h {ip} INFO server 2>&1",
        must: &["NOAUTH"],
        must_not: &["redis_version"],
    },
    Check {
        what: "SNMP community public",
        host: host::SNMP_WEAK,
        script: "timeout 10 snmpget -v2c -c public -t 1 -r 1 {ip} 1.3.6.1.2.1.1.5.0 2>&1",
        must: &["snmp.lab.wijk.test"],
        must_not: &[],
    },
    Check {
        what: "SNMP ignores public",
        host: host::SNMP_SAFE,
        script: "timeout 10 snmpget -v2c -c public -t 1 -r 1 {ip} 1.3.6.1.2.1.1.5.0 2>&1",
        must: &["Timeout"],
        must_not: &["STRING"],
    },
    Check {
        what: "MQTT anonymous",
        host: host::MQTT_WEAK,
        script: "timeout 5 mosquitto_pub -d -h {ip} -t wijk/lab -m x 2>&1",
        must: &["CONNACK (0)"],
        must_not: &[],
    },
    Check {
        what: "MQTT refuses anonymous",
        host: host::MQTT_SAFE,
        script: "timeout 5 mosquitto_pub -d -h {ip} -t wijk/lab -m x 2>&1",
        must: &["not authorised"],
        must_not: &["CONNACK (0)"],
    },
    Check {
        what: "TLS 1.0, expired self-signed RSA-1024/SHA-1",
        host: host::TLS_WEAK,
        script: tls!("-tls1 -cipher 'ALL:@SECLEVEL=0'"),
        must: &[
            "Protocol  : TLSv1\n",
            "Public-Key: (1024 bit)",
            "sha1WithRSAEncryption",
            "notAfter=Jan  1 00:00:00 2021 GMT",
            "issuer=CN = tls-weak.lab.wijk.test",
        ],
        must_not: REFUSED,
    },
    Check {
        what: "TLS 1.1",
        host: host::TLS_WEAK,
        script: tls!("-tls1_1 -cipher 'ALL:@SECLEVEL=0'"),
        must: &["Protocol  : TLSv1.1"],
        must_not: REFUSED,
    },
    Check {
        what: "NULL cipher",
        host: host::TLS_WEAK,
        script: tls!("-tls1_2 -cipher 'NULL-SHA:@SECLEVEL=0'"),
        must: &["Cipher is NULL-SHA"],
        must_not: &[],
    },
    Check {
        what: "directory listing on 80",
        host: host::TLS_WEAK,
        script: GET_80,
        must: &["Index of /", "Server: nginx/1.22.1"],
        must_not: &[],
    },
    Check {
        what: "directory listing on 443",
        host: host::TLS_WEAK,
        script: GET_443,
        must: &["Index of /", "documenten/"],
        must_not: &[],
    },
    Check {
        what: "TLS 1.3, RSA-2048/SHA-256 from the lab CA",
        host: host::TLS_SAFE,
        script: tls!("-tls1_3"),
        must: &[
            "New, TLSv1.3",
            "Public-Key: (2048 bit)",
            "sha256WithRSAEncryption",
            "issuer=O = wijk-lab, CN = wijk-lab test CA",
        ],
        must_not: &[],
    },
    Check {
        what: "no TLS 1.0",
        host: host::TLS_SAFE,
        script: tls!("-tls1 -cipher 'ALL:@SECLEVEL=0'"),
        must: REFUSED,
        must_not: &[],
    },
    Check {
        what: "no TLS 1.1",
        host: host::TLS_SAFE,
        script: tls!("-tls1_1 -cipher 'ALL:@SECLEVEL=0'"),
        must: REFUSED,
        must_not: &[],
    },
    Check {
        what: "no NULL cipher",
        host: host::TLS_SAFE,
        script: tls!("-tls1_2 -cipher 'NULL-SHA:ECDHE-RSA-NULL-SHA:@SECLEVEL=0'"),
        must: REFUSED,
        must_not: &[],
    },
    Check {
        what: "80 redirects to HTTPS",
        host: host::TLS_SAFE,
        script: GET_80,
        must: &["301 Moved Permanently", "Location: https://"],
        must_not: &["Index of"],
    },
    Check {
        what: "index page, no listing",
        host: host::TLS_SAFE,
        script: GET_443,
        must: &["tls-safe", "Strict-Transport-Security"],
        must_not: &["Index of", "nginx/"],
    },
    Check {
        what: "Telnet negotiates and greets",
        host: host::TELNET,
        // Hex: IAC DO (ff fd) first, then "wijk-lab" (77 69 6a 6b 2d 6c 61 62) in the issue text.
        script: "exec 3<>/dev/tcp/{ip}/23; timeout 2 cat <&3 | od -An -tx1 -v | tr -d ' \\n'",
        must: &["fffd", "77696a6b2d6c6162"],
        must_not: &[],
    },
    Check {
        what: "tarpit says nothing in 2 s",
        host: host::TARPIT,
        script: "exec 3<>/dev/tcp/{ip}/22; echo bytes=$(timeout 2 cat <&3 | wc -c)",
        must: &["bytes=0\n"],
        must_not: &[],
    },
    Check {
        what: "drip sends a byte a second",
        host: host::DRIP,
        script: "exec 3<>/dev/tcp/{ip}/21; timeout 2.5 cat <&3 | od -c",
        must: &["2   2   0"],
        must_not: &["\\n"],
    },
    Check {
        what: "flood sends megabytes in 2 s",
        host: host::FLOOD,
        script: "exec 3<>/dev/tcp/{ip}/80; echo bytes=$(timeout 2 cat <&3 | wc -c)",
        must: &["bytes="],
        must_not: &["bytes=0\n", "bytes=1\n"],
    },
];

fn run_check(lab: &Lab, c: &Check, ip: Ipv4Addr) -> Option<String> {
    let script = c.script.replace("{ip}", &ip.to_string());
    let f = match run_bounded(&mut lab.scanner_exec(["bash", "-c", &script]), Duration::from_secs(90)) {
        Ok(f) => f,
        Err(e) => return Some(format!("{e:#}")),
    };
    let out = format!("{}{}", f.stdout, f.stderr);
    let missing: Vec<&str> = c.must.iter().copied().filter(|m| !out.contains(m)).collect();
    let present: Vec<&str> = c.must_not.iter().copied().filter(|m| out.contains(m)).collect();
    if missing.is_empty() && present.is_empty() && !f.timed_out {
        return None;
    }
    Some(format!("missing {missing:?}, unwanted {present:?}; output:\n{}", tail(&out, 25)))
}

#[test]
fn services_lab_twins_and_fakes_behave_as_planned() {
    let test = "services_lab_twins_and_fakes_behave_as_planned";
    if !require_lab_or_skip(test, LabKind::Services, TOOLS) {
        return;
    }
    let lab = Lab::up_services("wlsvcsm", Path::new(env!("CARGO_BIN_EXE_hostile"))).expect("services lab up");
    let mut failures = Vec::new();
    for c in CHECKS {
        if let Some(why) = run_check(&lab, c, lab.host(c.host).ipv4) {
            failures.push(format!("--- {} on {}: {why}", c.what, c.host));
        }
    }
    // The flood really is megabytes: at least 1 MiB in those 2 seconds.
    let flood = lab.host(host::FLOOD).ipv4;
    let script = format!("exec 3<>/dev/tcp/{flood}/443; timeout 2 cat <&3 | wc -c");
    match run_bounded(&mut lab.scanner_exec(["bash", "-c", &script]), Duration::from_secs(30)) {
        Ok(f) if f.stdout.trim().parse::<u64>().is_ok_and(|n| n >= 1 << 20) => {}
        other => failures.push(format!("--- flood on 443: fewer than 1 MiB in 2 s: {other:?}")),
    }
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}\ndaemon logs:\n{}",
        failures.len(),
        CHECKS.len() + 1,
        failures.join("\n"),
        tail(&lab.daemon_logs(), 60)
    );
}
