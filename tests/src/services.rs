//! The services lab: real daemons from Debian's packages configured weak on purpose, their hardened
//! twins, and hostile fakes, each on a host of its own ([`crate::addressing::LabKind::Services`]).
//!
//! | host         | program (package)              | port(s)    | configured                                 |
//! |--------------|--------------------------------|------------|--------------------------------------------|
//! | `ftp-weak`   | vsftpd                         | 21/tcp     | anonymous login, no TLS                    |
//! | `ftp-safe`   | vsftpd                         | 21/tcp     | no anonymous, TLS required (lab CA)        |
//! | `smb-weak`   | smbd (samba)                   | 445/tcp    | SMB1, signing disabled, guest share        |
//! | `smb-safe`   | smbd (samba)                   | 445/tcp    | SMB 2.1+, signing mandatory, no guest      |
//! | `redis-weak` | redis-server                   | 6379/tcp   | no authentication                          |
//! | `redis-safe` | redis-server                   | 6379/tcp   | `requirepass` (random)                     |
//! | `snmp-weak`  | snmpd                          | 161/udp    | community `public`                         |
//! | `snmp-safe`  | snmpd                          | 161/udp    | one random community                       |
//! | `mqtt-weak`  | mosquitto                      | 1883/tcp   | anonymous clients                          |
//! | `mqtt-safe`  | mosquitto                      | 1883/tcp   | password file, no anonymous                |
//! | `tls-weak`   | nginx (nginx-light)            | 80, 443    | TLS 1.0-1.2, NULL suites, expired          |
//! |              |                                |            | self-signed RSA-1024/SHA-1, autoindex      |
//! | `tls-safe`   | nginx (nginx-light)            | 80, 443    | 80 redirects; TLS 1.2-1.3, RSA-2048/SHA-256|
//! |              |                                |            | from the lab CA, no listings               |
//! | `telnet`     | busybox telnetd (busybox-static)| 23/tcp    | login program `/bin/false`                 |
//! | `tarpit`     | `hostile tarpit` (this crate)  | [`HOSTILE_PORTS`] | accepts, never speaks               |
//! | `drip`       | `hostile drip`                 | [`HOSTILE_PORTS`] | one byte per second                 |
//! | `flood`      | `hostile flood`                | [`HOSTILE_PORTS`] | 64 MiB of garbage per connection    |
//!
//! The configuration files are in `tests/lab/services/` (each says what it makes weak or safe and
//! which findings it should cause) plus `tests/lab/snmpd.conf` for `snmp-weak`; they are rendered
//! into `<lab>/<host>/` like the basic lab's. Secrets of the hardened twins (Redis password, SNMP
//! community, MQTT password) are random per lab, from `/dev/urandom`. Certificates: see
//! [`crate::certs`]. Debian's `busybox` has no `telnetd` applet; `busybox-static` has.
//!
//! Known limits: Debian 12's OpenSSL has no 3DES, RC4 or export suites, so `tls-weak`'s weak suites
//! are NULL and anonymous ECDH ones. smbd starts `samba-dcerpcd` only when a client asks for RPC
//! (the agent never does; `smbclient -L` does), and that helper writes its start line to
//! `/var/log/samba` whatever the configuration says. The basic lab's `ftp` host allows anonymous
//! login too; here `ftp-safe` is the hardened twin.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::addressing::{host, Addressing, HOSTILE_PORTS};
use crate::certs::{self, LabCa};
use crate::daemons::{host_dir, make_dir, path_str, render, v4, DaemonPlan};
use crate::process::{program, run_checked};

/// Programs the services lab needs (besides `ip`, `ss`, `nft` and `sysctl`).
pub const PROGRAMS: &[&str] =
    &["vsftpd", "smbd", "redis-server", "snmpd", "mosquitto", "mosquitto_passwd", "nginx", "busybox", "openssl"];

/// The DNS-style name of a lab host in certificates and `server_name`s.
pub fn lab_name(host: &str) -> String {
    format!("{host}.lab.wijk.test")
}

/// Writes every daemon's configuration under `lab_dir/<host>/` and returns what to start.
/// `hostile` is the `hostile` program of this crate (`env!("CARGO_BIN_EXE_hostile")` in a test).
pub(crate) fn plan(lab_dir: &Path, addr: &Addressing, hostile: &Path) -> Result<Vec<DaemonPlan>> {
    let ca = LabCa::create(&lab_dir.join("ca"))?;
    let mut plans = vec![
        vsftpd(lab_dir, host::FTP_WEAK, None)?,
        vsftpd(lab_dir, host::FTP_SAFE, Some(&ca))?,
        smbd(lab_dir, host::SMB_WEAK, include_str!("../lab/services/smb-weak.conf"))?,
        smbd(lab_dir, host::SMB_SAFE, include_str!("../lab/services/smb-safe.conf"))?,
        redis(lab_dir, host::REDIS_WEAK, None)?,
        redis(lab_dir, host::REDIS_SAFE, Some(&secret()?))?,
        snmpd(lab_dir, host::SNMP_WEAK, include_str!("../lab/snmpd.conf"))?,
        snmpd(
            lab_dir,
            host::SNMP_SAFE,
            &include_str!("../lab/services/snmpd-safe.conf").replace("@COMMUNITY@", &secret()?),
        )?,
        mosquitto(lab_dir, host::MQTT_WEAK, false)?,
        mosquitto(lab_dir, host::MQTT_SAFE, true)?,
        nginx(lab_dir, host::TLS_WEAK, None)?,
        nginx(lab_dir, host::TLS_SAFE, Some(&ca))?,
        telnetd(lab_dir)?,
    ];
    for (host, mode) in [(host::TARPIT, "tarpit"), (host::DRIP, "drip"), (host::FLOOD, "flood")] {
        plans.push(hostile_plan(lab_dir, host, mode, hostile)?);
    }
    // Each daemon is up when every port of its host in the addressing plan listens.
    for p in &mut plans {
        p.listens = addr.host(p.host).open.iter().map(|&port| v4(port)).collect();
    }
    Ok(plans)
}

fn daemon(host: &'static str, name: &'static str, program: PathBuf, args: Vec<String>, dir: PathBuf) -> DaemonPlan {
    DaemonPlan { host, name, program, args, env: vec![], listens: vec![], dir }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// 16 random bytes from `/dev/urandom`, hex: a password or community nobody can guess.
fn secret() -> Result<String> {
    let mut b = [0u8; 16];
    fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).context("reading /dev/urandom")?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// vsftpd: weak without a CA (anonymous, no TLS), hardened with a certificate from `ca`.
fn vsftpd(lab_dir: &Path, host: &'static str, ca: Option<&LabCa>) -> Result<DaemonPlan> {
    let dir = host_dir(lab_dir, host)?;
    for sub in ["ftproot", "empty"] {
        make_dir(&dir.join(sub))?;
    }
    let template = match ca {
        None => include_str!("../lab/services/vsftpd-weak.conf"),
        Some(ca) => {
            ca.issue(&lab_name(host), &dir.join("tls"))?;
            include_str!("../lab/services/vsftpd-safe.conf")
        }
    };
    let conf = render(&dir, "vsftpd.conf", template)?;
    Ok(daemon(host, "vsftpd", program("vsftpd")?, vec![path_str(&conf)], dir))
}

/// smbd in the foreground, in our process group, every state directory under the lab directory.
fn smbd(lab_dir: &Path, host: &'static str, template: &str) -> Result<DaemonPlan> {
    let dir = host_dir(lab_dir, host)?;
    for sub in ["lock", "state", "cache", "private", "run", "ncalrpc", "usershares", "share"] {
        make_dir(&dir.join(sub))?;
    }
    fs::write(dir.join("share/readme.txt"), "wijk-lab share\n")?;
    let conf = render(&dir, "smb.conf", template)?;
    let args =
        vec!["--foreground".into(), "--no-process-group".into(), "--debug-stdout".into(), "-s".into(), path_str(&conf)];
    Ok(daemon(host, "smbd", program("smbd")?, args, dir))
}

/// redis-server without persistence; with `requirepass` when a password is given.
pub(crate) fn redis(lab_dir: &Path, host: &'static str, password: Option<&str>) -> Result<DaemonPlan> {
    let dir = host_dir(lab_dir, host)?;
    let mut args = strings(&[
        "--port",
        "6379",
        "--bind",
        "0.0.0.0",
        "--protected-mode",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--logfile",
        "",
        "--dir",
    ]);
    args.push(path_str(&dir));
    if let Some(p) = password {
        fs::write(dir.join("password"), p)?;
        args.extend(["--requirepass".to_string(), p.to_string()]);
    }
    Ok(daemon(host, "redis-server", program("redis-server")?, args, dir))
}

/// net-snmp with the configuration `text` only (`-C`), no AgentX, state in the lab directory.
fn snmpd(lab_dir: &Path, host: &'static str, text: &str) -> Result<DaemonPlan> {
    let dir = host_dir(lab_dir, host)?;
    let persist = dir.join("persist");
    make_dir(&persist)?;
    let conf = render(&dir, "snmpd.conf", text)?;
    let mut args = strings(&["-f", "-Lo", "-C", "-I", "-smux", "-c"]);
    args.push(path_str(&conf));
    let mut d = daemon(host, "snmpd", program("snmpd")?, args, dir);
    d.env = vec![("SNMP_PERSISTENT_DIR".into(), path_str(&persist)), ("MIBS".into(), String::new())];
    Ok(d)
}

/// Mosquitto in the foreground; the hardened one with a password file and a random password.
fn mosquitto(lab_dir: &Path, host: &'static str, safe: bool) -> Result<DaemonPlan> {
    let dir = host_dir(lab_dir, host)?;
    let template = if safe {
        let passwd = dir.join("passwd");
        run_checked(
            Command::new(program("mosquitto_passwd")?).arg("-b").arg("-c").arg(&passwd).args(["wijklab", &secret()?]),
        )?;
        // Mosquitto reads it after dropping to its own user.
        fs::set_permissions(&passwd, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        include_str!("../lab/services/mosquitto-safe.conf")
    } else {
        include_str!("../lab/services/mosquitto-weak.conf")
    };
    let conf = render(&dir, "mosquitto.conf", template)?;
    Ok(daemon(host, "mosquitto", program("mosquitto")?, vec!["-c".into(), path_str(&conf)], dir))
}

/// nginx on 80 and 443: weak without a CA (expired self-signed certificate, listings), hardened
/// with a certificate from `ca`.
fn nginx(lab_dir: &Path, host: &'static str, ca: Option<&LabCa>) -> Result<DaemonPlan> {
    let dir = host_dir(lab_dir, host)?;
    for sub in ["www", "www/documenten", "tmp"] {
        make_dir(&dir.join(sub))?;
    }
    let tls = dir.join("tls");
    let template = match ca {
        None => {
            certs::expired_self_signed(&lab_name(host), &tls)?;
            fs::write(dir.join("www/documenten/begroting-2026.txt"), "wijk-lab: not a real budget\n")?;
            include_str!("../lab/services/nginx-weak.conf")
        }
        Some(ca) => {
            ca.issue(&lab_name(host), &tls)?;
            fs::write(dir.join("www/index.html"), "<!doctype html><title>wijk-lab</title><p>tls-safe</p>\n")?;
            include_str!("../lab/services/nginx-safe.conf")
        }
    };
    let conf = render(&dir, "nginx.conf", template)?;
    let args =
        vec!["-e".into(), "stderr".into(), "-p".into(), format!("{}/", dir.display()), "-c".into(), path_str(&conf)];
    Ok(daemon(host, "nginx", program("nginx")?, args, dir))
}

/// busybox telnetd in the foreground; its login program is `/bin/false`, so nobody logs in.
/// Without `-K`: with it, telnetd drops a session as soon as its login program exits, and when
/// that exit is noticed before the pty was read (often with a few connections at once, as
/// `nmap -sV` makes) the issue text after the option negotiation is lost. Without it the session
/// ends when the pty is drained, a few milliseconds later, and every client sees the text.
fn telnetd(lab_dir: &Path) -> Result<DaemonPlan> {
    let dir = host_dir(lab_dir, host::TELNET)?;
    let issue = dir.join("issue");
    fs::write(&issue, "wijk-lab telnet (login disabled)\n")?;
    let mut args = strings(&["telnetd", "-F", "-p", "23", "-l", "/bin/false", "-f"]);
    args.push(path_str(&issue));
    Ok(daemon(host::TELNET, "busybox telnetd", program("busybox")?, args, dir))
}

/// This crate's `hostile` program in `mode` on [`HOSTILE_PORTS`], living at most ten minutes.
fn hostile_plan(lab_dir: &Path, host: &'static str, mode: &str, hostile: &Path) -> Result<DaemonPlan> {
    let dir = host_dir(lab_dir, host)?;
    if !hostile.is_file() {
        anyhow::bail!("the hostile program is not at {} (cargo builds it with the tests)", hostile.display());
    }
    let ports: Vec<String> = HOSTILE_PORTS.iter().map(|p| p.number.to_string()).collect();
    let args = vec![mode.to_string(), "--ports".into(), ports.join(","), "--lifetime-secs".into(), "600".into()];
    let name = match mode {
        "tarpit" => "hostile tarpit",
        "drip" => "hostile drip",
        _ => "hostile flood",
    };
    Ok(daemon(host, name, hostile.to_path_buf(), args, dir))
}
