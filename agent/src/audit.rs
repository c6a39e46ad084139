//! Hash-chained, append-only audit log of every scan started, finished, paused, interrupted or
//! refused and every summary sent (DESIGN.md, "Audit log"). `wijkagent audit verify` runs [`verify`].
//!
//! # On-disk format
//!
//! One JSON object per line, `\n`-terminated, compact, fields in this order:
//!
//! ```text
//! {"seq":1,"ts":"2026-12-07T18:00:00.000Z","host":"wijkagent01","event":"scan_started",...,"prev":"000…0"}
//! ```
//!
//! `seq` counts from 1 and equals the line number; `ts` is RFC 3339 UTC; `event` and the fields
//! after it are [`AuditEvent`] (tag `event`, snake_case); `prev` is the hex SHA-256 of the previous
//! line's bytes without its newline, 64 zeros on the first line. [`AuditEvent::SummarySent`]'s
//! `seq` is written as `summary_seq`, so it cannot clash with the line's own `seq`.
//!
//! A chain cannot vouch for its own last line, so a *seal* `<log>.head` holds
//! `wijkagent-audit-head/1 <seq> <hex sha256 of the last line>\n`, replaced atomically (write,
//! fsync, rename) after every append. With it, changing or deleting the last line is detected too.
//! A crash between the append and the seal leaves the seal one line behind; that is accepted (the
//! summary says the last line is not sealed) and [`AuditLog::open`] re-seals.
//!
//! # Writing
//!
//! The file is created 0600 (its directories 0700) and opened with `O_APPEND`, without `flock`.
//! Each [`AuditLog::append`] is one `write` of one whole line followed by `fsync`. One writer at a
//! time is assumed; if the file grew behind our back (another process appended), `append` re-reads
//! the tail and continues the chain from the true last line.
//!
//! [`AuditLog::open`] verifies the whole chain and **refuses** a broken log (no scan without a
//! trustworthy audit trail; move the file aside after investigation and a new log starts). A torn
//! last line without newline (a crash mid-write) is the one exception: it is not part of the chain,
//! so `open` keeps a copy in `<log>.torn-<UTC time>`, truncates it away, and records that in the
//! chain as [`AuditEvent::TornTailRemoved`], so the repair itself is audited and nothing is lost.
//!
//! The chain and the seal catch damage and naive edits; anyone able to rewrite the whole file and
//! seal can forge them. Keep copies elsewhere if that matters.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const SEAL_MAGIC: &str = "wijkagent-audit-head/1";

/// One audited event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AuditEvent {
    /// A scan started.
    ScanStarted {
        /// Scan id.
        scan_id: String,
        /// `scan` (signed consent) or `self` (`scan --self`).
        mode: String,
        /// SHA-256 of the consent document (`self` for `--self`).
        consent_sha256: String,
        /// Fingerprint of the consent's signer.
        signer: String,
        /// Organisation named in the consent.
        organisation: String,
        /// Port profile used (`quick`, `standard`, `full`, or a name for explicit ports).
        profile: String,
        /// Number of target addresses.
        targets: u64,
        /// Number of TCP ports per host.
        tcp_ports: usize,
        /// Number of UDP ports per host.
        udp_ports: usize,
        /// Total rate cap (packets per second).
        rate: u32,
        /// Per-host rate cap (packets per second).
        per_host_rate: u32,
        /// Scan method (e.g. `syn`, `connect`).
        method: String,
    },
    /// A scan finished.
    ScanFinished {
        /// Scan id.
        scan_id: String,
        /// Whether every target and port was covered.
        complete: bool,
        /// Hosts found up.
        hosts_up: u64,
        /// Open TCP ports.
        open_tcp: u64,
        /// Open UDP ports.
        open_udp: u64,
        /// Probes sent.
        probes_sent: u64,
        /// Duration in seconds.
        duration_s: f64,
        /// Path of the report.
        report: String,
    },
    /// A scan stopped before the end (signal, error).
    ScanInterrupted {
        /// Scan id.
        scan_id: String,
        /// Why.
        reason: String,
    },
    /// A scan paused (end of window); it resumes in the next one.
    ScanPaused {
        /// Scan id.
        scan_id: String,
        /// Why.
        reason: String,
    },
    /// A paused scan carries on (the service, in a new window or after a restart).
    ScanResumed {
        /// Scan id.
        scan_id: String,
        /// Parts already finished, kept from before.
        parts_done: usize,
        /// Parts in all.
        parts: usize,
    },
    /// A scan was refused (consent invalid, outside window, …).
    ScanRefused {
        /// The refusal message.
        reason: String,
        /// The scope document, if one was given.
        scope: Option<String>,
    },
    /// An anonymised summary was sent.
    SummarySent {
        /// The summary's sequence number (written as `summary_seq`).
        #[serde(rename = "summary_seq")]
        seq: u64,
        /// The agent id.
        agent: String,
    },
    /// `open` removed a torn last line left by a crash, after keeping a copy.
    TornTailRemoved {
        /// Bytes removed.
        bytes: u64,
        /// Where the copy is.
        copy: String,
    },
}

/// Errors of the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Reading or writing failed.
    #[error("fout bij auditlogboek {path}: controleer pad en rechten / audit log {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The chain is broken at `line` (1-based); `reason` is `Dutch / English`.
    #[error("{}", broken_message(*.line, .reason))]
    Broken {
        /// Line number (= expected `seq`).
        line: u64,
        /// What is wrong, Dutch then English separated by ` / `.
        reason: String,
    },
}

fn broken_message(line: u64, reason: &str) -> String {
    let (nl, en) = reason.split_once(" / ").unwrap_or((reason, reason));
    format!(
        "auditlogboek ongeldig op regel {line}: {nl}; bewaar het bestand voor onderzoek / \
         audit log broken at line {line}: {en}; keep the file for investigation"
    )
}

fn broken(line: u64, nl: &str, en: &str) -> AuditError {
    AuditError::Broken { line, reason: format!("{nl} / {en}") }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io { path: path.to_path_buf(), source: crate::fsutil::in_words(source) }
}

/// What [`verify`] found in an intact log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSummary {
    /// Number of lines.
    pub lines: u64,
    /// Time of the first line.
    pub first_ts: Option<DateTime<Utc>>,
    /// Time of the last line.
    pub last_ts: Option<DateTime<Utc>>,
    /// Hex SHA-256 of the last line (64 zeros for an empty log).
    pub last_hash: String,
    /// Whether the seal confirms the last line (false: seal missing or one line behind).
    pub sealed: bool,
}

fn seal_path(log: &Path) -> PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(".head");
    PathBuf::from(s)
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Splits into complete lines and a torn tail (bytes after the last newline).
fn split(data: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let (body, torn) = data.split_at(end);
    let lines = if body.is_empty() { Vec::new() } else { body[..body.len() - 1].split(|&b| b == b'\n').collect() };
    (lines, torn)
}

/// `prev` of a line, if it parses.
fn prev_of(line: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    v.get("prev")?.as_str().map(str::to_string)
}

/// Reads the seal: `None` if missing.
fn read_seal(log: &Path, lines: u64) -> Result<Option<(u64, String)>, AuditError> {
    let p = seal_path(log);
    let text = match fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(AuditError::Io { path: p, source: e }),
    };
    let f: Vec<&str> = text.split_whitespace().collect();
    match f.as_slice() {
        [SEAL_MAGIC, seq, hash] if hash.len() == 64 => match seq.parse() {
            Ok(seq) => Ok(Some((seq, hash.to_string()))),
            Err(_) => Err(broken(lines, "zegel (.head) onleesbaar", "seal (.head) malformed")),
        },
        _ => Err(broken(lines, "zegel (.head) onleesbaar", "seal (.head) malformed")),
    }
}

/// Checks the chain of complete lines against the seal.
fn check(lines: &[&[u8]], seal: Option<(u64, String)>) -> Result<AuditSummary, AuditError> {
    let hashes: Vec<String> = lines.iter().map(|l| sha_hex(l)).collect();
    let (mut first_ts, mut last_ts) = (None, None);
    for (i, line) in lines.iter().enumerate() {
        let n = i as u64 + 1;
        let v: serde_json::Value =
            serde_json::from_slice(line).map_err(|_| broken(n, "geen geldige JSON", "not valid JSON"))?;
        let seq = v.get("seq").and_then(serde_json::Value::as_u64);
        if seq != Some(n) {
            let found = seq.map_or_else(|| "none".to_string(), |s| s.to_string());
            return Err(broken(
                n,
                &format!("seq {found} waar {n} verwacht; regel verwijderd of verplaatst"),
                &format!("seq {found} where {n} expected; line deleted or moved"),
            ));
        }
        let ts = v
            .get("ts")
            .and_then(serde_json::Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .ok_or_else(|| broken(n, "ts ontbreekt of is ongeldig", "ts missing or invalid"))?;
        if v.get("event").and_then(serde_json::Value::as_str).is_none() {
            return Err(broken(n, "event ontbreekt", "event missing"));
        }
        let want = if i == 0 { ZERO } else { hashes[i - 1].as_str() };
        if v.get("prev").and_then(serde_json::Value::as_str) != Some(want) {
            // Line n or line n-1 changed: line n is intact if its successor (or the seal) vouches for it.
            let vouched = match lines.get(i + 1) {
                Some(next) => prev_of(next).as_deref() == Some(hashes[i].as_str()),
                None => seal.as_ref().is_some_and(|(s, h)| *s == n && *h == hashes[i]),
            };
            return Err(if vouched && n > 1 {
                broken(
                    n - 1,
                    "regel gewijzigd (hash past niet meer bij prev van de volgende)",
                    "line changed (hash no longer matches the next line's prev)",
                )
            } else {
                broken(
                    n,
                    "prev past niet bij de vorige regel; regel gewijzigd",
                    "prev does not match the previous line; line changed",
                )
            });
        }
        first_ts = first_ts.or(Some(ts.with_timezone(&Utc)));
        last_ts = Some(ts.with_timezone(&Utc));
    }
    let count = lines.len() as u64;
    let last_hash = hashes.last().cloned().unwrap_or_else(|| ZERO.to_string());
    let sealed = match seal {
        None => false,
        Some((s, h)) if s == count => {
            if h != last_hash {
                return Err(broken(
                    count,
                    "regel gewijzigd na het schrijven (zegel past niet)",
                    "line changed after it was written (seal mismatch)",
                ));
            }
            true
        }
        Some((s, _)) if s > count => {
            return Err(broken(
                count + 1,
                &format!("regel(s) verwijderd: het zegel telt {s} regels"),
                &format!("line(s) deleted: the seal counts {s} lines"),
            ))
        }
        // One line behind: a crash between the append and the seal.
        Some((s, h)) if s.checked_add(1) == Some(count) && s >= 1 && hashes.get(s as usize - 1) == Some(&h) => false,
        Some((s, _)) => {
            return Err(broken(s.max(1), "zegel past niet bij deze regel", "seal does not match this line"))
        }
    };
    Ok(AuditSummary { lines: count, first_ts, last_ts, last_hash, sealed })
}

/// Verifies the whole log at `path` (and its seal); a torn last line is reported as broken.
pub fn verify(path: &Path) -> Result<AuditSummary, AuditError> {
    let data = fs::read(path).map_err(io(path))?;
    let (lines, torn) = split(&data);
    let seal = read_seal(path, lines.len() as u64)?;
    let summary = check(&lines, seal)?;
    if !torn.is_empty() {
        return Err(broken(
            summary.lines + 1,
            "afgebroken laatste regel zonder newline (crash); `open` bewaart een kopie en verwijdert ze",
            "torn last line without newline (crash); `open` keeps a copy and removes it",
        ));
    }
    Ok(summary)
}

/// An open audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    host: String,
    seq: u64,
    prev: String,
    len: u64,
}

fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| fs::read_to_string(p).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

fn open_options(mode: u32) -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    o
}

impl AuditLog {
    /// Opens or creates the log, verifies it, repairs a torn last line (see the module docs) and
    /// refuses a broken chain.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut b = fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(dir).map_err(io(dir))?;
        }
        let mut file = open_options(0o600).read(true).append(true).create(true).open(path).map_err(io(path))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(io(path))?;
        let (lines, torn) = split(&data);
        let seal = read_seal(path, lines.len() as u64)?;
        let summary = check(&lines, seal)?;
        let repaired =
            if torn.is_empty() { None } else { Some(Self::cut_torn(path, &file, torn, data.len() - torn.len())?) };
        let len = (data.len() - torn.len()) as u64;
        let mut log = AuditLog {
            path: path.to_path_buf(),
            file,
            host: hostname(),
            seq: summary.lines,
            prev: summary.last_hash,
            len,
        };
        if !summary.sealed && log.seq > 0 {
            log.write_seal()?;
        }
        if let Some(event) = repaired {
            log.append(event)?;
        }
        Ok(log)
    }

    /// Keeps a copy of the torn tail, then truncates the log to `keep` bytes.
    fn cut_torn(path: &Path, file: &File, torn: &[u8], keep: usize) -> Result<AuditEvent, AuditError> {
        let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let mut copy = path.as_os_str().to_owned();
        copy.push(format!(".torn-{stamp}"));
        let copy = PathBuf::from(copy);
        let mut f = open_options(0o600).write(true).create_new(true).open(&copy).map_err(io(&copy))?;
        f.write_all(torn).and_then(|()| f.sync_all()).map_err(io(&copy))?;
        file.set_len(keep as u64).and_then(|()| file.sync_all()).map_err(io(path))?;
        Ok(AuditEvent::TornTailRemoved { bytes: torn.len() as u64, copy: copy.display().to_string() })
    }

    /// Path of the log.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event as one line in a single write, then fsyncs the log and renews the seal.
    pub fn append(&mut self, event: AuditEvent) -> Result<(), AuditError> {
        let now_len = self.file.metadata().map_err(io(&self.path))?.len();
        if now_len != self.len {
            self.resync()?;
        }
        #[derive(Serialize)]
        struct Line<'a> {
            seq: u64,
            ts: String,
            host: &'a str,
            #[serde(flatten)]
            event: &'a AuditEvent,
            prev: &'a str,
        }
        let line = Line {
            seq: self.seq + 1,
            ts: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            host: &self.host,
            event: &event,
            prev: &self.prev,
        };
        let mut buf =
            serde_json::to_vec(&line).map_err(|e| AuditError::Io { path: self.path.clone(), source: e.into() })?;
        let hash = sha_hex(&buf);
        buf.push(b'\n');
        let n = self.file.write(&buf).map_err(io(&self.path))?;
        if n != buf.len() {
            // A full disk shows as a short write. Writing the rest names the cause (or completes the
            // line); a line left torn is repaired by the next open.
            self.file.write_all(&buf[n..]).map_err(|e| {
                let why = crate::fsutil::in_words(e);
                let e = std::io::Error::new(why.kind(), format!("{why}; the torn line is repaired on the next open"));
                AuditError::Io { path: self.path.clone(), source: e }
            })?;
        }
        self.file.sync_data().map_err(io(&self.path))?;
        self.seq += 1;
        self.prev = hash;
        self.len += buf.len() as u64;
        self.write_seal()
    }

    /// Another writer appended: continue from the file's real last line.
    fn resync(&mut self) -> Result<(), AuditError> {
        let data = fs::read(&self.path).map_err(io(&self.path))?;
        let (lines, torn) = split(&data);
        if !torn.is_empty() {
            return Err(broken(lines.len() as u64 + 1, "afgebroken laatste regel", "torn last line"));
        }
        let last = lines.last().copied().unwrap_or_default();
        let seq = serde_json::from_slice::<serde_json::Value>(last).ok().and_then(|v| v.get("seq")?.as_u64());
        self.seq = if lines.is_empty() {
            0
        } else {
            seq.ok_or_else(|| broken(lines.len() as u64, "geen geldige JSON", "not valid JSON"))?
        };
        self.prev = if lines.is_empty() { ZERO.to_string() } else { sha_hex(last) };
        self.len = data.len() as u64;
        Ok(())
    }

    /// Replaces the seal atomically; on failure (a full disk) the old seal and no temporary file
    /// stay, which leaves the seal one line behind: accepted, and re-sealed by the next `open`.
    fn write_seal(&self) -> Result<(), AuditError> {
        let seal = seal_path(&self.path);
        let text = format!("{SEAL_MAGIC} {} {}\n", self.seq, self.prev);
        crate::fsutil::write_atomic(&seal, text.as_bytes(), 0o600).map_err(io(&seal))
    }
}

/// Where the audit log lives: `$WIJKAGENT_AUDIT_LOG`; else `/var/lib/wijkagent/audit.log` if
/// that directory exists and is writable; else `$XDG_STATE_HOME/wijkagent/audit.log` or
/// `~/.local/state/wijkagent/audit.log`.
pub fn default_path() -> PathBuf {
    default_path_from(|k| std::env::var_os(k), Path::new("/var/lib/wijkagent"))
}

fn default_path_from(env: impl Fn(&str) -> Option<std::ffi::OsString>, system: &Path) -> PathBuf {
    let set = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = set("WIJKAGENT_AUDIT_LOG") {
        return p;
    }
    if writable_dir(system) {
        return system.join("audit.log");
    }
    if let Some(state) = set("XDG_STATE_HOME").filter(|p| p.is_absolute()) {
        return state.join("wijkagent/audit.log");
    }
    match set("HOME") {
        Some(home) => home.join(".local/state/wijkagent/audit.log"),
        None => system.join("audit.log"),
    }
}

/// Whether we can write in `dir`: the log opens for appending, or a probe file can be created.
fn writable_dir(dir: &Path) -> bool {
    if !dir.is_dir() {
        return false;
    }
    let log = dir.join("audit.log");
    if log.exists() {
        return OpenOptions::new().append(true).open(&log).is_ok();
    }
    let probe = dir.join(format!(".wijkagent-probe-{}", std::process::id()));
    let ok = OpenOptions::new().write(true).create_new(true).open(&probe).is_ok();
    if ok {
        let _ = fs::remove_file(&probe);
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn event(i: u64) -> AuditEvent {
        match i % 4 {
            0 => AuditEvent::ScanStarted {
                scan_id: format!("s{i}"),
                mode: "scan".into(),
                consent_sha256: "ab".repeat(32),
                signer: "0123456789abcdef".into(),
                organisation: "Gemeente Voorbeeld".into(),
                profile: "standard".into(),
                targets: 254,
                tcp_ports: 1000,
                udp_ports: 12,
                rate: 200,
                per_host_rate: 20,
                method: "syn".into(),
            },
            1 => AuditEvent::ScanFinished {
                scan_id: format!("s{i}"),
                complete: true,
                hosts_up: 3,
                open_tcp: 7,
                open_udp: 1,
                probes_sent: 9000,
                duration_s: 12.5,
                report: "/var/lib/wijkagent/r.json".into(),
            },
            2 => AuditEvent::ScanRefused { reason: "buiten venster".into(), scope: Some("scope.toml".into()) },
            _ => AuditEvent::SummarySent { seq: i, agent: "a1".into() },
        }
    }

    fn log_with(n: u64) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state/wijk/audit.log");
        let mut log = AuditLog::open(&path).expect("open");
        for i in 0..n {
            log.append(event(i)).expect("append");
        }
        (dir, path)
    }

    fn broken_line(path: &Path) -> u64 {
        match verify(path) {
            Err(AuditError::Broken { line, .. }) => line,
            other => panic!("expected broken, got {other:?}"),
        }
    }

    #[test]
    fn chain_verifies_and_continues_after_reopen() {
        let (_d, path) = log_with(4);
        let s = verify(&path).expect("verify");
        assert_eq!((s.lines, s.sealed), (4, true));
        assert!(s.first_ts.is_some() && s.first_ts <= s.last_ts);
        let mut log = AuditLog::open(&path).expect("reopen");
        log.append(AuditEvent::ScanPaused { scan_id: "s".into(), reason: "venster".into() }).expect("append");
        assert_eq!(verify(&path).expect("verify").lines, 5);
        let text = fs::read_to_string(&path).expect("read");
        let first = text.lines().next().expect("line");
        assert!(
            first.starts_with("{\"seq\":1,\"ts\":\"") && first.ends_with(&format!(",\"prev\":\"{ZERO}\"}}")),
            "{first}"
        );
        assert!(first.contains(",\"event\":\"scan_started\",") && text.contains("\"summary_seq\":3"));
        let back: AuditEvent = serde_json::from_str(text.lines().nth(3).expect("line")).expect("event");
        assert_eq!(back, AuditEvent::SummarySent { seq: 3, agent: "a1".into() });
    }

    #[test]
    fn file_and_directory_modes() {
        let (_d, path) = log_with(1);
        assert_eq!(fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        let dir = path.parent().expect("dir");
        assert_eq!(fs::metadata(dir).expect("meta").permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn every_changed_byte_is_found_on_its_line() {
        let (_d, path) = log_with(5);
        let orig = fs::read(&path).expect("read");
        let mut start = 0;
        for (i, line) in orig.split(|&b| b == b'\n').take(5).enumerate() {
            for off in 0..line.len() {
                let mut data = orig.clone();
                let b = &mut data[start + off];
                *b = if *b == b'x' { b'y' } else { b'x' };
                fs::write(&path, &data).expect("write");
                assert_eq!(broken_line(&path), i as u64 + 1, "line {} byte {off}", i + 1);
            }
            start += line.len() + 1;
        }
    }

    #[test]
    fn deleted_and_reordered_lines_are_found() {
        let (_d, path) = log_with(5);
        let orig = fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = orig.lines().collect();
        let join = |v: Vec<&str>| v.iter().map(|l| format!("{l}\n")).collect::<String>();
        for del in 0..5 {
            let mut v = lines.clone();
            v.remove(del);
            fs::write(&path, join(v)).expect("write");
            assert_eq!(broken_line(&path), del as u64 + 1, "deleted line {}", del + 1);
        }
        let mut v = lines.clone();
        v.swap(1, 2);
        fs::write(&path, join(v)).expect("write");
        assert_eq!(broken_line(&path), 2);
        // A broken log is refused by open.
        assert!(matches!(AuditLog::open(&path), Err(AuditError::Broken { line: 2, .. })));
        let msg = AuditLog::open(&path).expect_err("broken").to_string();
        assert!(msg.contains("regel 2") && msg.contains("line 2") && !msg.contains('\n'), "{msg}");
    }

    #[test]
    fn torn_last_line_is_reported_then_kept_and_cut() {
        let (d, path) = log_with(3);
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"seq\":4,\"ts\":\"2026").expect("write");
        drop(f);
        assert_eq!(broken_line(&path), 4);
        let mut log = AuditLog::open(&path).expect("open repairs");
        let s = verify(&path).expect("verify");
        assert_eq!(s.lines, 4);
        let last = fs::read_to_string(&path).expect("read").lines().last().map(str::to_string).unwrap_or_default();
        assert!(last.contains("\"event\":\"torn_tail_removed\"") && last.contains("\"bytes\":19"), "{last}");
        let dir = path.parent().expect("dir");
        let copies: Vec<_> = fs::read_dir(dir)
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".torn-"))
            .collect();
        assert_eq!(copies.len(), 1);
        assert_eq!(fs::read(copies[0].path()).expect("copy"), b"{\"seq\":4,\"ts\":\"2026");
        log.append(event(1)).expect("append");
        assert_eq!(verify(&path).expect("verify").lines, 5);
        drop(d);
    }

    #[test]
    fn lagging_seal_and_second_writer() {
        let (_d, path) = log_with(2);
        let seal = seal_path(&path);
        let old_seal = fs::read(&seal).expect("seal");
        let mut a = AuditLog::open(&path).expect("a");
        let mut b = AuditLog::open(&path).expect("b");
        a.append(event(0)).expect("a");
        b.append(event(1)).expect("b");
        a.append(event(2)).expect("a");
        assert_eq!(verify(&path).expect("verify").lines, 5);
        // Seal one line behind (crash between append and seal): accepted, then re-sealed by open.
        let mut a = AuditLog::open(&path).expect("a");
        let sealed = fs::read(&seal).expect("seal");
        a.append(event(3)).expect("a");
        fs::write(&seal, &sealed).expect("restore");
        assert!(!verify(&path).expect("lagging").sealed);
        AuditLog::open(&path).expect("reseal");
        assert!(verify(&path).expect("sealed").sealed);
        // A seal that matches nothing is refused.
        fs::write(&seal, &old_seal).expect("old");
        assert!(verify(&path).is_err());
    }

    #[test]
    fn default_path_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = dir.path().join("missing");
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.into())
        };
        assert_eq!(
            default_path_from(env(&[("WIJKAGENT_AUDIT_LOG", "/x/a.log")]), dir.path()),
            PathBuf::from("/x/a.log")
        );
        assert_eq!(default_path_from(env(&[]), dir.path()), dir.path().join("audit.log"));
        assert_eq!(
            default_path_from(env(&[("XDG_STATE_HOME", "/st"), ("HOME", "/h")]), &none),
            PathBuf::from("/st/wijkagent/audit.log")
        );
        assert_eq!(
            default_path_from(env(&[("HOME", "/h")]), &none),
            PathBuf::from("/h/.local/state/wijkagent/audit.log")
        );
    }
}
