//! The hostile lab ([`crate::addressing::LabKind::Hostile`]): one host per way a TCP or TLS server
//! can misbehave, for `tests/tests/lab_hostile.rs`.
//!
//! | host           | program                                   | port(s)                 | misbehaviour                              |
//! |----------------|-------------------------------------------|-------------------------|-------------------------------------------|
//! | `reset`        | `hostile reset` (this crate)              | [`HOSTILE_PORTS`]       | resets every connection after the accept  |
//! | `tls-garbage`  | `hostile tls-garbage`                     | [`GARBAGE_PORTS`]       | answers a ClientHello with random bytes   |
//! | `tls-chain`    | `openssl s_server` (openssl)              | 443                     | a chain of 100 certificates               |
//! | `tls-ext-many` | `openssl s_server`                        | 443                     | a certificate with 2,000 extensions       |
//! | `tls-ext-deep` | `openssl s_server`                        | 443                     | an extension of 10,000 nested SEQUENCEs   |
//! | `utf8`         | `hostile utf8` and `openssl s_server`     | [`UTF8_PORTS`], 443     | invalid UTF-8 in every text and in the certificate's names |
//!
//! The certificates come from [`crate::hostile_certs`]. `openssl s_server` serves one connection
//! at a time, over IPv4 only (`-4`), and answers `GET /` with its status page (`-www`); it runs
//! until the lab stops it. The `hostile` programs live ten minutes at most.

use std::path::Path;

use anyhow::{bail, Result};

use crate::addressing::{host, Addressing, Port, GARBAGE_PORTS, HOSTILE_PORTS, UTF8_PORTS};
use crate::daemons::{host_dir, make_dir, path_str, v4, DaemonPlan};
use crate::hostile_certs::{self, ServedCert};
use crate::process::program;
use crate::services::lab_name;

/// Programs the hostile lab needs (besides `ip`, `ss`, `nft` and `sysctl`).
pub const PROGRAMS: &[&str] = &["openssl"];

/// Writes a hostile certificate for a DNS name into a directory (see [`hostile_certs`]).
type MakeCert = fn(&Path, &str) -> Result<ServedCert>;

/// The TLS port of the certificate hosts.
const TLS_PORT: Port = Port::tcp(443);

/// Writes every server's files under `lab_dir/<host>/` and returns what to start. `hostile` is this
/// crate's `hostile` program.
pub(crate) fn plan(lab_dir: &Path, addr: &Addressing, hostile: &Path) -> Result<Vec<DaemonPlan>> {
    if !hostile.is_file() {
        bail!("the hostile program is not at {} (cargo builds it with the tests)", hostile.display());
    }
    let mut plans = vec![
        fake(lab_dir, host::RESET, "hostile reset", "reset", HOSTILE_PORTS, hostile)?,
        fake(lab_dir, host::TLS_GARBAGE, "hostile tls-garbage", "tls-garbage", GARBAGE_PORTS, hostile)?,
        fake(lab_dir, host::UTF8, "hostile utf8", "utf8", UTF8_PORTS, hostile)?,
    ];
    let servers: [(&'static str, MakeCert); 4] = [
        (host::TLS_CHAIN, hostile_certs::long_chain),
        (host::TLS_EXT_MANY, hostile_certs::many_extensions),
        (host::TLS_EXT_DEEP, hostile_certs::deep_extension),
        (host::UTF8, hostile_certs::invalid_utf8),
    ];
    for (name, make) in servers {
        // A directory of its own (its log), also on the utf8 host beside `hostile utf8`.
        let dir = host_dir(lab_dir, name)?.join("tls");
        make_dir(&dir)?;
        let cert = make(&dir, &lab_name(name))?;
        plans.push(s_server(name, &dir, &cert)?);
    }
    // Every planned port must belong to the host's row of the addressing plan.
    for p in &plans {
        let open = addr.host(p.host).open;
        if let Some(l) = p.listens.iter().find(|l| !open.contains(&l.port())) {
            bail!("{} on {} would listen on {:?}, which the addressing plan does not list", p.name, p.host, l);
        }
    }
    Ok(plans)
}

/// This crate's `hostile` program in `mode` on `ports`, living at most ten minutes.
fn fake(
    lab_dir: &Path,
    host: &'static str,
    name: &'static str,
    mode: &str,
    ports: &[Port],
    hostile: &Path,
) -> Result<DaemonPlan> {
    let dir = host_dir(lab_dir, host)?;
    let list: Vec<String> = ports.iter().map(|p| p.number.to_string()).collect();
    let args = vec![mode.to_string(), "--ports".into(), list.join(","), "--lifetime-secs".into(), "600".into()];
    Ok(DaemonPlan {
        host,
        name,
        program: hostile.to_path_buf(),
        args,
        env: vec![],
        listens: ports.iter().map(|&p| v4(p)).collect(),
        dir,
    })
}

/// `openssl s_server` on 443 with `cert`.
fn s_server(host: &'static str, dir: &Path, cert: &ServedCert) -> Result<DaemonPlan> {
    let mut args: Vec<String> = ["s_server", "-4", "-accept", "443", "-www", "-cert"].map(String::from).into();
    args.push(path_str(&cert.cert));
    args.extend(["-key".to_string(), path_str(&cert.key)]);
    if std::fs::metadata(&cert.chain).is_ok_and(|m| m.len() > 0) {
        args.extend(["-cert_chain".to_string(), path_str(&cert.chain)]);
    }
    Ok(DaemonPlan {
        host,
        name: "openssl s_server",
        program: program("openssl")?,
        args,
        env: vec![],
        listens: vec![v4(TLS_PORT)],
        dir: dir.to_path_buf(),
    })
}
