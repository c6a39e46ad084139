//! The local report: `report.json` (schema `wijkagent.report/1`, documented in docs/report-schema.md).
//!
//! The report stays on premises. It is written atomically (temporary file, fsync, rename), so a crash
//! or a full disk never leaves a half-written report in place of the previous one.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::Proto;
use crate::portscan::PortTally;

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Always [`wijk_protocol::REPORT_SCHEMA`].
    pub schema: String,
    /// Unique id of this scan (also in the audit log).
    pub scan_id: String,
    /// wijkagent version that wrote it.
    pub agent_version: String,
    /// False when the scan was interrupted; `interrupted` says why.
    pub complete: bool,
    /// Why the scan stopped early (`ctrl-c`, `sigterm`, `window-closed`), if it did.
    pub interrupted: Option<String>,
    /// Start time (UTC).
    pub started_at: DateTime<Utc>,
    /// End time (UTC).
    pub finished_at: DateTime<Utc>,
    /// The consent this scan ran under.
    pub consent: ConsentRef,
    /// Profile and methods used.
    pub scan: ScanSettings,
    /// Hosts found alive, ascending by address.
    pub hosts: Vec<Host>,
    /// Weaknesses (filled by the rules engine; empty until service identification exists).
    pub findings: Vec<Finding>,
    /// Figures of the run.
    pub stats: Stats,
}

/// Which consent allowed the scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentRef {
    /// Organisation named in the consent.
    pub organisation: String,
    /// SHA-256 of the signed scope file (`self` for `--self`).
    pub sha256: String,
    /// Fingerprint of the key that signed it (`self` for `--self`).
    pub signer: String,
    /// Valid until (RFC 3339).
    pub valid_until: String,
}

/// How the scan ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanSettings {
    /// `quick`, `standard`, `full` or `custom` (`--ports`).
    pub profile: String,
    /// `syn` or `connect`.
    pub tcp_method: String,
    /// `raw` (ARP/ICMP/SYN/ACK) or `connect`.
    pub discovery_method: String,
    /// TCP ports per host.
    pub tcp_ports: usize,
    /// UDP ports per host.
    pub udp_ports: usize,
    /// Total rate cap in packets per second.
    pub rate: u32,
    /// Per-host rate cap.
    pub per_host_rate: u32,
}

/// One live host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Host {
    /// Address.
    pub address: IpAddr,
    /// MAC address from ARP, if on the same network.
    pub mac: Option<String>,
    /// Which probes it answered.
    pub discovered_by: Vec<String>,
    /// Whether it is in a `fragile` range (open-port checks only).
    pub fragile: bool,
    /// `normal`, `slowed` (stopped answering, slowed down) or `left-alone` (not scanned further).
    pub backoff: String,
    /// Open ports (TCP and UDP).
    pub services: Vec<Service>,
    /// Tally of all probed ports by state.
    pub tcp_ports: PortTally,
    /// Tally of UDP ports by state.
    pub udp_ports: PortTally,
}

/// One open port.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Service {
    /// Port number.
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: Proto,
    /// Always `open` in this list.
    pub state: String,
    /// Likely service, from the port list (identification comes later).
    pub service: Option<String>,
    /// Product, when identified.
    pub product: Option<String>,
    /// Version, when identified.
    pub version: Option<String>,
    /// TLS details, when identified.
    pub tls: Option<serde_json::Value>,
}

/// One weakness (shape fixed now; the rules engine fills it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// Stable weakness id.
    pub id: String,
    /// Severity.
    pub severity: String,
    /// Host.
    pub host: IpAddr,
    /// Port.
    pub port: Option<u16>,
    /// Protocol.
    pub protocol: Option<Proto>,
    /// Evidence.
    pub evidence: String,
    /// Advice.
    pub advice: String,
}

/// Figures of the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Addresses in scope.
    pub targets: u64,
    /// Hosts found alive.
    pub hosts_up: u64,
    /// Open TCP ports over all hosts.
    pub open_tcp: u64,
    /// Open UDP ports over all hosts.
    pub open_udp: u64,
    /// Packets or connection attempts sent, retransmissions included.
    pub probes_sent: u64,
    /// Retransmissions among them.
    pub retransmissions: u64,
    /// Wall time in seconds.
    pub duration_s: f64,
    /// probes_sent / duration_s.
    pub achieved_pps: f64,
    /// Hosts slowed or left alone because they stopped answering.
    pub hosts_backed_off: u64,
}

/// Writing the report failed.
#[derive(Debug, thiserror::Error)]
#[error("rapport schrijven naar {path} mislukt: {source} / writing the report to {path} failed")]
pub struct WriteError {
    /// File.
    pub path: PathBuf,
    /// Cause.
    pub source: std::io::Error,
}

impl Report {
    /// Writes `dir/report.json` atomically; returns its path. On failure (a full disk, say) the
    /// previous report stays in place and no temporary file is left behind.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, WriteError> {
        let path = dir.join("report.json");
        let err = |source| WriteError { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(err)?;
        let tmp = dir.join(".report.json.tmp");
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| err(std::io::Error::other(e)))?;
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(e));
        }
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(path)
    }
}
