//! The real daemons the lab's hosts run, each with its own configuration under the lab directory.
//!
//! | host    | program (Debian package)       | listens                      |
//! |---------|--------------------------------|------------------------------|
//! | `ssh`   | `sshd` (openssh-server)        | TCP 22                       |
//! | `web`   | `nginx` (nginx-light)          | TCP 80 on IPv4 and IPv6      |
//! | `ftp`   | `vsftpd`                       | TCP 21                       |
//! | `redis` | `redis-server`                 | TCP 6379                     |
//! | `snmp`  | `snmpd` (v2c `public`, ro)     | UDP 161                      |
//! | `dns`   | `dnsmasq` (dnsmasq-base)       | UDP and TCP 53               |
//!
//! Configuration templates live in `tests/lab/` and are rendered with `@DIR@` replaced by the
//! daemon's own directory; nothing is read from `/etc` where the program lets us avoid it. Each
//! daemon runs in the foreground, started with `ip netns exec <ns>` in a process group of its own,
//! with stdout and stderr in `<dir>/log`, so the lab can stop the whole group and show the log when
//! a daemon does not come up. [`Daemon::wait_listening`] polls `ss -Hltnu` inside the namespace
//! (bounded) until every expected socket exists.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::addressing::{host, Addressing, Port, Proto};
use crate::process::{program, run_checked, tail};

/// Programs the daemons need (besides `ip`, `ss`, `nft` and `sysctl`).
pub const PROGRAMS: &[&str] = &["sshd", "ssh-keygen", "nginx", "vsftpd", "redis-server", "snmpd", "dnsmasq"];

/// One socket a daemon must have open before the lab is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Listen {
    port: Port,
    /// An IPv6 (`[::]`) socket rather than an IPv4 one.
    v6: bool,
}

/// What to start: program, arguments, environment, and the sockets that prove it is up.
#[derive(Debug)]
pub(crate) struct DaemonPlan {
    pub(crate) host: &'static str,
    pub(crate) name: &'static str,
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) listens: Vec<Listen>,
    pub(crate) dir: PathBuf,
}

/// A started daemon.
#[derive(Debug)]
pub(crate) struct Daemon {
    pub(crate) host: &'static str,
    pub(crate) name: &'static str,
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
    listens: Vec<Listen>,
}

impl Listen {
    /// The port.
    pub(crate) fn port(&self) -> Port {
        self.port
    }
}

pub(crate) fn v4(port: Port) -> Listen {
    Listen { port, v6: false }
}

pub(crate) fn v6(port: Port) -> Listen {
    Listen { port, v6: true }
}

/// Writes every daemon's configuration under `lab_dir/<host>/` and returns what to start.
pub(crate) fn plan(lab_dir: &Path, addr: &Addressing) -> Result<Vec<DaemonPlan>> {
    let mut plans = Vec::new();

    // ssh: OpenSSH wants its privilege-separation directory even with our own config.
    let dir = host_dir(lab_dir, host::SSH)?;
    ensure_privsep_dir()?;
    let key = dir.join("ssh_host_ed25519_key");
    run_checked(
        Command::new(program("ssh-keygen")?).args(["-q", "-t", "ed25519", "-N", "", "-C", "wijk-lab", "-f"]).arg(&key),
    )?;
    let conf = render(&dir, "sshd_config", include_str!("../lab/sshd_config"))?;
    plans.push(DaemonPlan {
        host: host::SSH,
        name: "sshd",
        program: program("sshd")?,
        args: vec!["-D".into(), "-e".into(), "-f".into(), path_str(&conf)],
        env: vec![],
        listens: vec![v4(Port::tcp(22))],
        dir,
    });

    // web: nginx on IPv4 and IPv6.
    let dir = host_dir(lab_dir, host::WEB)?;
    for sub in ["www", "tmp"] {
        make_dir(&dir.join(sub))?;
    }
    fs::write(dir.join("www/index.html"), "<!doctype html><title>wijk-lab</title><p>wijk-lab web</p>\n")?;
    let conf = render(&dir, "nginx.conf", include_str!("../lab/nginx.conf"))?;
    plans.push(DaemonPlan {
        host: host::WEB,
        name: "nginx",
        program: program("nginx")?,
        args: vec![
            "-e".into(),
            "stderr".into(),
            "-p".into(),
            format!("{}/", dir.display()),
            "-c".into(),
            path_str(&conf),
        ],
        env: vec![],
        listens: vec![v4(Port::tcp(80)), v6(Port::tcp(80))],
        dir,
    });

    // ftp: vsftpd standalone, read-only anonymous.
    let dir = host_dir(lab_dir, host::FTP)?;
    for sub in ["ftproot", "empty"] {
        make_dir(&dir.join(sub))?;
    }
    let conf = render(&dir, "vsftpd.conf", include_str!("../lab/vsftpd.conf"))?;
    plans.push(DaemonPlan {
        host: host::FTP,
        name: "vsftpd",
        program: program("vsftpd")?,
        args: vec![path_str(&conf)],
        env: vec![],
        listens: vec![v4(Port::tcp(21))],
        dir,
    });

    // redis: no persistence, reachable from the lab, no password.
    let mut redis = crate::services::redis(lab_dir, host::REDIS, None)?;
    redis.listens = vec![v4(Port::tcp(6379))];
    plans.push(redis);

    // snmp: net-snmp, own config only (-C), no smux, persistent state in the lab dir.
    let dir = host_dir(lab_dir, host::SNMP)?;
    let persist = dir.join("persist");
    make_dir(&persist)?;
    let conf = render(&dir, "snmpd.conf", include_str!("../lab/snmpd.conf"))?;
    plans.push(DaemonPlan {
        host: host::SNMP,
        name: "snmpd",
        program: program("snmpd")?,
        args: ["-f", "-Lo", "-C", "-I", "-smux", "-c"].iter().map(|s| s.to_string()).chain([path_str(&conf)]).collect(),
        env: vec![("SNMP_PERSISTENT_DIR".into(), path_str(&persist)), ("MIBS".into(), String::new())],
        listens: vec![v4(Port::udp(161))],
        dir,
    });

    // dns: dnsmasq with a few records for the lab, UDP and TCP.
    let dir = host_dir(lab_dir, host::DNS)?;
    let web = addr.host(host::WEB);
    let mut args: Vec<String> = [
        "--no-daemon",
        "--no-resolv",
        "--no-hosts",
        "--port",
        "53",
        "--conf-file=/dev/null",
        "--log-facility=-",
        "--log-queries",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let web_v6 = web.ipv6.map(|v| format!(",{v}")).unwrap_or_default();
    args.push(format!("--host-record=web.lab.wijk.test,{}{web_v6}", web.ipv4));
    for name in [host::SSH, host::FTP, host::REDIS, host::SNMP, host::DNS, host::EMPTY] {
        args.push(format!("--host-record={name}.lab.wijk.test,{}", addr.host(name).ipv4));
    }
    args.push(format!("--pid-file={}", dir.join("dnsmasq.pid").display()));
    plans.push(DaemonPlan {
        host: host::DNS,
        name: "dnsmasq",
        program: program("dnsmasq")?,
        args,
        env: vec![],
        listens: vec![v4(Port::udp(53)), v4(Port::tcp(53))],
        dir,
    });

    Ok(plans)
}

impl DaemonPlan {
    /// Starts the daemon in namespace `ns`, in its own process group, logging to `<dir>/log`.
    pub(crate) fn spawn(self, ip: &Path, ns: &str) -> Result<Daemon> {
        let log = self.dir.join("log");
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(ip);
        cmd.args(["netns", "exec", ns])
            .arg(&self.program)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().with_context(|| format!("starting {} in {ns}", self.name))?;
        Ok(Daemon { host: self.host, name: self.name, child, log, listens: self.listens })
    }
}

impl Daemon {
    /// Waits (at most `limit`) until every expected socket is open in `ns`; fails with the log if
    /// the daemon exits or the deadline passes.
    pub(crate) fn wait_listening(&mut self, ip: &Path, ns: &str, limit: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} on host {} exited with {status} before listening; its log:\n{}",
                    self.name,
                    self.host,
                    tail(&self.log_text(), 40)
                );
            }
            let sockets = listeners(ip, ns)?;
            let missing: Vec<_> = self.listens.iter().filter(|l| !sockets.iter().any(|s| s.matches(l))).collect();
            if missing.is_empty() {
                return Ok(());
            }
            if start.elapsed() >= limit {
                bail!(
                    "{} on host {} not listening on {:?} after {:?}; sockets: {:?}; its log:\n{}",
                    self.name,
                    self.host,
                    missing,
                    limit,
                    sockets,
                    tail(&self.log_text(), 40)
                );
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// The daemon's log so far.
    pub(crate) fn log_text(&self) -> String {
        fs::read(&self.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }
}

/// One listening socket as `ss` shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Socket {
    pub(crate) proto: Proto,
    pub(crate) local: String,
    pub(crate) port: u16,
}

impl Socket {
    fn matches(&self, l: &Listen) -> bool {
        let is_v6 = self.local.starts_with('[');
        self.proto == l.port.proto && self.port == l.port.number && (is_v6 == l.v6 || self.local == "*")
    }

    /// Whether it is bound to a loopback address only (invisible to the scanner).
    pub(crate) fn loopback_only(&self) -> bool {
        self.local.starts_with("127.") || self.local == "[::1]"
    }
}

/// Listening TCP and bound UDP sockets in namespace `ns` (`ss -Hltnu`).
pub(crate) fn listeners(ip: &Path, ns: &str) -> Result<Vec<Socket>> {
    let out = run_checked(Command::new(ip).args(["netns", "exec", ns, "ss", "-Hltnu"]))?;
    Ok(parse_ss(&out))
}

fn parse_ss(out: &str) -> Vec<Socket> {
    let mut v: Vec<Socket> = out
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let proto = Proto::parse(f.first()?)?;
            let (local, port) = f.get(4)?.rsplit_once(':')?;
            // `0.0.0.0%eth0:53` style interface suffixes are dropped.
            let local = local.split('%').next().unwrap_or(local).to_string();
            Some(Socket { proto, local, port: port.parse().ok()? })
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The ports reachable from other hosts in namespace `ns`: every socket not bound to loopback.
pub(crate) fn exposed_ports(ip: &Path, ns: &str) -> Result<BTreeSet<Port>> {
    Ok(listeners(ip, ns)?
        .into_iter()
        .filter(|s| !s.loopback_only())
        .map(|s| Port { proto: s.proto, number: s.port })
        .collect())
}

pub(crate) fn host_dir(lab_dir: &Path, host: &str) -> Result<PathBuf> {
    let dir = lab_dir.join(host);
    make_dir(&dir)?;
    Ok(dir)
}

/// Creates a directory readable by the daemons' unprivileged workers (nginx, vsftpd, dnsmasq).
pub(crate) fn make_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

pub(crate) fn render(dir: &Path, name: &str, template: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    fs::write(&path, template.replace("@DIR@", &dir.display().to_string()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

pub(crate) fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// sshd refuses to start without `/run/sshd`; the Debian package creates it at boot only.
fn ensure_privsep_dir() -> Result<()> {
    let dir = Path::new("/run/sshd");
    if !dir.is_dir() {
        fs::create_dir_all(dir).context("creating /run/sshd (sshd's privilege-separation directory)")?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ss_output() {
        let out = "tcp   LISTEN 0      511          0.0.0.0:80        0.0.0.0:*\n\
                   tcp   LISTEN 0      511             [::]:80           [::]:*\n\
                   udp   UNCONN 0      0          127.0.0.1:199       0.0.0.0:*\n\
                   udp   UNCONN 0      0       0.0.0.0%eth0:53        0.0.0.0:*\n";
        let s = parse_ss(out);
        assert_eq!(s.len(), 4);
        assert!(s.iter().any(|x| x.matches(&v6(Port::tcp(80)))));
        assert!(s.iter().any(|x| x.matches(&v4(Port::tcp(80)))));
        assert!(s.iter().any(|x| x.matches(&v4(Port::udp(53)))));
        assert!(!s.iter().any(|x| x.matches(&v4(Port::udp(161)))));
        assert!(s.iter().any(|x| x.port == 199 && x.loopback_only()));
    }
}
