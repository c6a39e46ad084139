//! The local report: `report.json` (schema `wijkagent.report/1`, documented in docs/report-schema.md)
//! and what people read of it.
//!
//! The report stays on premises. Every file is written atomically (temporary file, fsync, rename), so a
//! crash or a full disk never leaves a half-written file in place of the previous one.
//!
//! Parts:
//! - this file: the model ([`Report`], [`Host`], [`Service`], [`Finding`] with its [`Severity`] and
//!   [`References`]) and [`write_all`], which writes the three files below beside each other;
//! - [`html`]: `report.html`, self-contained and printable, management summary first;
//! - [`csv`]: `findings.csv`, one row per finding (RFC 4180);
//! - [`diff`]: what changed between two reports (`wijkagent report diff`).
//!
//! Titles and advice come from the catalog ([`crate::rules::catalog()`]) in the language asked for when
//! it knows the weakness, else from the finding, and evidence from the finding's Dutch and English
//! texts ([`Finding::evidence_in`]), so a report can be shown in another language than the one it was
//! evaluated in.

mod compare_html;
pub mod csv;
pub mod diff;
pub mod html;
pub mod merge;

#[cfg(test)]
pub(crate) mod fixtures;

use std::fmt;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::i18n::{Lang, Said};
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
    /// Weaknesses found by the rules engine.
    pub findings: Vec<Finding>,
    /// Figures of the run.
    pub stats: Stats,
    /// How this organisation compares with its sector: the latest advice wijkpost sent this agent
    /// (`wijk.advice/1`, docs/protocol.md), when the scan had one (`scan --state DIR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<wijk_protocol::Advice>,
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
    /// Whether open ports were identified (false with `--no-services`: open ports only).
    #[serde(default = "identified_by_default")]
    pub services_identified: bool,
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
    /// Present when the host answered on (nearly) every TCP port probed (a middlebox, firewall or
    /// tarpit; [`crate::portscan::middlebox`]): its TCP ports are then neither listed in `services`
    /// nor identified, and the rest were not probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middlebox: Option<Middlebox>,
    /// Odd answers to the SYN scan, when there were any (see [`TcpReplies`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_replies: Option<TcpReplies>,
}

/// A host that answers on (nearly) every TCP port: what the scan saw before it stopped probing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Middlebox {
    /// TCP ports that answered as open.
    pub open: u32,
    /// TCP ports probed.
    pub probed: u32,
    /// TCP ports of the profile left unprobed once the pattern was clear.
    pub unscanned: u32,
}

impl Middlebox {
    /// The note for a host whose TCP tally shows it answers everything, else `None`.
    pub fn from_tally(t: &PortTally) -> Option<Middlebox> {
        crate::portscan::middlebox::tally_answers_everything(t).then(|| Middlebox {
            open: t.open,
            probed: t.open + t.closed + t.filtered + t.open_filtered,
            unscanned: t.unscanned,
        })
    }

    /// One line for people, in `lang`.
    pub fn sentence(&self, lang: Lang) -> String {
        let (open, probed) = (self.open, self.probed);
        match lang {
            Lang::Nl => format!(
                "antwoordt op (bijna) elke TCP-poort ({open} van {probed} open): een middlebox, firewall of \
                 tarpit die elke verbinding aanneemt; deze poorten zijn niet als diensten opgenomen noch \
                 geïdentificeerd"
            ),
            Lang::En => format!(
                "answers on (nearly) every TCP port ({open} of {probed} open): a middlebox, firewall or tarpit \
                 that accepts every connection; these ports are neither listed as services nor identified"
            ),
        }
    }
}

/// Answers to the SYN scan that repeated or trailed the one that counted, or said "unreachable".
/// None of them changes a port's state once settled; they show a network that duplicates, delays
/// or drowns packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpReplies {
    /// Answers repeating one already received (the same probe answered twice or more).
    pub duplicate: u32,
    /// Answers that came only after their probe had been sent again.
    pub late: u32,
    /// ICMP unreachables quoting one of our probes to this host (every repeat counted).
    pub unreachable: u32,
}

impl TcpReplies {
    /// `None` when every count is zero (the field is then left out of the report).
    pub fn nonzero(self) -> Option<TcpReplies> {
        (self != TcpReplies::default()).then_some(self)
    }
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
    /// Service: as identified by a probe, else the likely service from the port list.
    pub service: Option<String>,
    /// Product, when identified.
    pub product: Option<String>,
    /// Version, when identified.
    pub version: Option<String>,
    /// TLS details, when identified (the `tls` module's report).
    pub tls: Option<serde_json::Value>,
    /// What identification showed beyond product and version (banner, title, dialects, ...),
    /// sanitised server text.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub details: std::collections::BTreeMap<String, String>,
    /// Why identification stopped early or did not run (`timeout`, `byte-limit`,
    /// `not-probed: printer port`, `not-probed: fragile range`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One weakness on one host (and port), as the rules engine ([`crate::rules::evaluate`]) found it.
///
/// A finding is identified across reports by [`Finding::key`]: weakness id, host, port and protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable weakness id (catalog `agent/data/weaknesses.toml`).
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// Title, in the language of the scan (empty in reports written before titles existed).
    #[serde(default)]
    pub title: String,
    /// Host.
    pub host: IpAddr,
    /// Port, when the weakness belongs to one service.
    pub port: Option<u16>,
    /// Protocol of the port.
    pub protocol: Option<Proto>,
    /// What was seen, in the language of the scan (server-derived text: escape it wherever it is
    /// shown).
    pub evidence: String,
    /// The evidence in Dutch and English, so that the report can be shown in either language
    /// ([`Finding::evidence_in`]); absent in reports written before evidence had both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_by_lang: Option<Said>,
    /// What to do, in the language of the scan; the first line is the action in one sentence.
    pub advice: String,
    /// CyberFundamentals, CIS Controls and CVE references.
    #[serde(default)]
    pub references: References,
}

/// The key that identifies a finding across reports: (id, host, port, protocol).
pub type FindingKey = (String, IpAddr, Option<u16>, Option<Proto>);

impl Finding {
    /// Weakness id, host, port and protocol.
    pub fn key(&self) -> FindingKey {
        (self.id.clone(), self.host, self.port, self.protocol)
    }

    /// `23/tcp`, or an empty string for a host-wide finding.
    pub fn port_label(&self) -> String {
        match (self.port, self.protocol) {
            (Some(p), Some(proto)) => format!("{p}/{proto}"),
            (Some(p), None) => p.to_string(),
            _ => String::new(),
        }
    }

    /// The evidence in `lang` when the finding has it in both languages, else as stored.
    pub fn evidence_in(&self, lang: Lang) -> &str {
        self.evidence_by_lang.as_ref().map_or(self.evidence.as_str(), |e| e.get(lang))
    }

    /// Title and advice in `lang`: from the catalog when it knows the id, else as stored (the id
    /// stands in for a missing title).
    pub fn texts(&self, lang: Lang) -> (&str, &str) {
        match crate::rules::catalog().get(&self.id) {
            Some(w) => (w.title(lang), w.advice(lang)),
            None if self.title.trim().is_empty() => (self.id.as_str(), self.advice.as_str()),
            None => (self.title.as_str(), self.advice.as_str()),
        }
    }
}

/// How bad a weakness is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, nothing to fix.
    Info,
    /// Fix when convenient.
    Low,
    /// Fix in the normal planning.
    Medium,
    /// Fix soon.
    High,
    /// Fix now.
    Critical,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 5] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];

    /// The lowercase name used in data files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// The word people read.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Severity::Critical => lang.pick("kritiek", "critical"),
            Severity::High => lang.pick("hoog", "high"),
            Severity::Medium => lang.pick("middel", "medium"),
            Severity::Low => lang.pick("laag", "low"),
            Severity::Info => "info",
        }
    }

    /// Weight for ranking actions by severity × hosts affected: one critical host outweighs 39 low
    /// ones, one high host two medium ones but not three. Info weighs nothing.
    pub fn weight(self) -> u64 {
        match self {
            Severity::Critical => 40,
            Severity::High => 15,
            Severity::Medium => 5,
            Severity::Low => 1,
            Severity::Info => 0,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not `critical`, `high`, `medium`, `low` or `info`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("onbekende ernst \"{0}\" / unknown severity \"{0}\"")]
pub struct SeverityParseError(pub String);

impl FromStr for Severity {
    type Err = SeverityParseError;

    /// Accepts the lowercase names of [`Severity::as_str`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s.trim()).ok_or_else(|| SeverityParseError(s.to_string()))
    }
}

/// Where a weakness is described in the frameworks municipalities use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct References {
    /// CyberFundamentals 2025 controls (NIST CSF 2.0 ids, e.g. `PR.DS-02`).
    #[serde(default)]
    pub cyfun: Vec<String>,
    /// CIS Controls v8 safeguards (e.g. `3.10`).
    #[serde(default)]
    pub cis: Vec<String>,
    /// CVE ids (e.g. `CVE-2014-3566`).
    #[serde(default)]
    pub cve: Vec<String>,
}

impl References {
    /// Labels people read: `CyFun PR.DS-02`, `CIS 3.10`, `CVE-2014-3566`.
    pub fn labels(&self) -> Vec<String> {
        let cyfun = self.cyfun.iter().map(|c| format!("CyFun {c}"));
        let cis = self.cis.iter().map(|c| format!("CIS {c}"));
        cyfun.chain(cis).chain(self.cve.iter().cloned()).collect()
    }

    /// No reference at all.
    pub fn is_empty(&self) -> bool {
        self.cyfun.is_empty() && self.cis.is_empty() && self.cve.is_empty()
    }
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
    /// Replies addressed to our raw probes that answered none of them (wrong cookie, host or port:
    /// stray, forged, or from an earlier scan); ignored. Absent in older reports (read as 0).
    #[serde(default)]
    pub unmatched_replies: u64,
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

fn identified_by_default() -> bool {
    true
}

/// File name of the JSON report.
pub const REPORT_JSON: &str = "report.json";
/// File name of the HTML report.
pub const REPORT_HTML: &str = "report.html";
/// File name of the CSV list of findings.
pub const FINDINGS_CSV: &str = "findings.csv";

impl Report {
    /// Writes `dir/report.json` atomically; returns its path. On failure (a full disk, say) the
    /// previous report stays in place and no temporary file is left behind.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, WriteError> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| WriteError { path: dir.join(REPORT_JSON), source: std::io::Error::other(e) })?;
        write_atomic(dir, REPORT_JSON, &bytes)
    }
}

/// Writes `report.json`, `report.html` (in `lang`) and `findings.csv` (titles and advice in `lang`)
/// into `dir`, each atomically; returns their paths in that order. The first failure stops the
/// writing and is returned; files already written stay, each of them complete.
pub fn write_all(report: &Report, dir: &Path, lang: Lang) -> Result<Vec<PathBuf>, WriteError> {
    let mut written = vec![report.write(dir)?];
    written.extend(write_views(report, dir, lang)?);
    Ok(written)
}

/// Writes the views people read, `report.html` and `findings.csv`, in `lang`; returns their paths.
pub fn write_views(report: &Report, dir: &Path, lang: Lang) -> Result<Vec<PathBuf>, WriteError> {
    let html = write_atomic(dir, REPORT_HTML, html::render(report, lang).as_bytes())?;
    let csv = write_atomic(dir, FINDINGS_CSV, csv::render(report, lang).as_bytes())?;
    Ok(vec![html, csv])
}

/// Writes `dir/name` atomically: a temporary file `.name.tmp` beside it (mode 0640 on Unix, since a
/// report maps the network's weak spots), fsync, rename, fsync of the directory. A text that does not
/// end in a newline gets one. On failure the previous file stays and the temporary file is removed.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, WriteError> {
    let path = dir.join(name);
    let err = |source| WriteError { path: path.clone(), source };
    std::fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        if !bytes.ends_with(b"\n") {
            f.write_all(b"\n")?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_parse_and_print() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).ok(), Some(format!("\"{s}\"")));
        }
        assert!("severe".parse::<Severity>().is_err());
        assert_eq!(Severity::High.label(Lang::Nl), "hoog");
    }

    #[test]
    fn a_finding_of_an_older_report_without_title_or_references_still_reads() {
        let json = r#"{"id":"telnet-open","severity":"high","host":"192.0.2.1","port":23,"protocol":"tcp",
                       "evidence":"open","advice":"zet uit"}"#;
        let f: Finding = serde_json::from_str(json).expect("parses");
        assert_eq!(f.title, "");
        assert!(f.references.is_empty());
        assert_eq!(f.port_label(), "23/tcp");
        assert_eq!(f.texts(Lang::En).0, "Telnet is enabled");
    }

    #[test]
    fn write_all_writes_three_files_and_no_temporary_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let report = fixtures::report();
        let paths = write_all(&report, dir.path(), Lang::Nl).expect("written");
        let names: Vec<_> = paths.iter().filter_map(|p| p.file_name()?.to_str()).collect();
        assert_eq!(names, [REPORT_JSON, REPORT_HTML, FINDINGS_CSV]);
        let listed = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(listed, 3, "no temporary files left");
        let back: Report =
            serde_json::from_slice(&std::fs::read(&paths[0]).expect("read")).expect("report.json parses back");
        assert_eq!(back.findings, report.findings);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&paths[1]).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode & 0o007, 0, "not readable by others: {mode:o}");
        }
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join(REPORT_HTML)).expect("a directory where the file should go");
        let err = write_all(&fixtures::report(), dir.path(), Lang::En).expect_err("cannot rename over a directory");
        assert!(err.path.ends_with(REPORT_HTML));
        assert!(!dir.path().join(".report.html.tmp").exists());
    }
}
