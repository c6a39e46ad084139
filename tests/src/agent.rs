//! Finding and running the `wijkagent` binary under test.
//!
//! The binary is `$WIJKAGENT_BIN` if set, else `target/<profile>/wijkagent` next to the test
//! executable (`target/<profile>/deps/<test>-<hash>`, two levels up). `cargo build --workspace`
//! produces it; `.ci/run` builds the workspace's binaries before `cargo test`.
//!
//! Commands that could send packets but are expected to be refused (a bad consent) or to touch
//! only loopback (`scan --self`) run through [`isolated`]: inside a fresh, empty network namespace
//! made by `unshare` (as an unprivileged user namespace when the kernel allows it, else as root),
//! with only `lo` up. Should the agent ever fail to refuse, its packets have nowhere to go.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::process::{find_program, is_root, run_bounded, skip};

/// The agent binary's path (it may not exist yet; see [`bin_checked`]).
pub fn bin() -> PathBuf {
    match std::env::var_os("WIJKAGENT_BIN") {
        Some(p) => PathBuf::from(p),
        None => workspace_binary("wijkagent"),
    }
}

/// `target/<profile>/NAME` beside the test executable (`target/<profile>/deps/<test>-<hash>`).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    match exe.parent().and_then(|deps| deps.parent()) {
        Some(profile_dir) => profile_dir.join(name),
        None => PathBuf::from(name),
    }
}

/// The agent binary's path, or an error saying how to build it. Without `$WIJKAGENT_BIN`, a binary
/// older than one of its own sources (as listed in cargo's `wijkagent.d` beside it) is refused as
/// stale: `cargo test` does not rebuild another package's binary by itself.
pub fn bin_checked() -> Result<PathBuf> {
    let p = bin();
    if !p.is_file() {
        bail!(
            "wijkagent binary not found at {} (build it with `cargo build -p wijkagent`, or set WIJKAGENT_BIN)",
            p.display()
        );
    }
    if std::env::var_os("WIJKAGENT_BIN").is_none() {
        if let Some(source) = newer_source(&p) {
            bail!(
                "wijkagent binary at {} is older than its source {}; run `cargo build -p wijkagent` first",
                p.display(),
                source.display()
            );
        }
    }
    Ok(p)
}

/// A source file of `binary` (from cargo's dep-info `<binary>.d`) modified after the binary.
pub fn newer_source(binary: &Path) -> Option<PathBuf> {
    let built = std::fs::metadata(binary).and_then(|m| m.modified()).ok()?;
    let mut dep_info = binary.as_os_str().to_owned();
    dep_info.push(".d");
    let text = std::fs::read_to_string(PathBuf::from(dep_info)).ok()?;
    let (_, inputs) = text.lines().next()?.split_once(": ")?;
    inputs
        .split_whitespace()
        .map(PathBuf::from)
        .find(|src| std::fs::metadata(src).and_then(|m| m.modified()).is_ok_and(|t| t > built))
}

/// `wijkagent args…` with a clean logging environment (no `RUST_LOG`), stdin closed.
pub fn command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(bin());
    cmd.args(args).env_remove("RUST_LOG").stdin(Stdio::null());
    cmd
}

/// How [`isolated`] makes its empty network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// `unshare --map-root-user --net`: works without root where user namespaces are allowed.
    UserNamespace,
    /// `unshare --net`: needs root.
    RootNamespace,
}

impl Isolation {
    fn unshare_args(self) -> &'static [&'static str] {
        match self {
            Isolation::UserNamespace => &["--map-root-user", "--net"],
            Isolation::RootNamespace => &["--net"],
        }
    }
}

/// The isolation this machine allows, probed once.
pub fn isolation() -> Option<Isolation> {
    static PROBE: OnceLock<Option<Isolation>> = OnceLock::new();
    *PROBE.get_or_init(|| {
        let unshare = find_program("unshare")?;
        let truth = find_program("true")?;
        let works = |iso: Isolation| {
            run_bounded(Command::new(&unshare).args(iso.unshare_args()).arg(&truth), Duration::from_secs(10))
                .map(|f| f.success())
                .unwrap_or(false)
        };
        if works(Isolation::UserNamespace) {
            Some(Isolation::UserNamespace)
        } else if is_root() && works(Isolation::RootNamespace) {
            Some(Isolation::RootNamespace)
        } else {
            None
        }
    })
}

/// Whether [`isolated`] can work here; otherwise prints a SKIPPED line (or panics when `CI=true`).
pub fn isolation_or_skip(test: &str) -> bool {
    if isolation().is_some() {
        return true;
    }
    skip(&format!(
        "SKIPPED {test}: needs root or unprivileged user namespaces, and unshare (run as root, or via .ci/run) \
         [no way to run the agent in an empty network namespace]"
    ));
    false
}

/// `wijkagent args…` inside a fresh network namespace with only loopback up. Panics if no isolation
/// is possible: call [`isolation_or_skip`] first.
pub fn isolated<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let Some(iso) = isolation() else {
        panic!("no network isolation available; call agent::isolation_or_skip first");
    };
    let unshare = find_program("unshare").unwrap_or_else(|| PathBuf::from("unshare"));
    let ip = find_program("ip").map(|p| p.display().to_string()).unwrap_or_else(|| "ip".into());
    let mut cmd = Command::new(unshare);
    cmd.args(iso.unshare_args())
        .arg("sh")
        .arg("-c")
        // $0 is the agent, "$@" its arguments; a failure to raise lo only affects `scan --self`.
        .arg(format!("{ip} link set lo up 2>/dev/null; exec \"$0\" \"$@\""))
        .arg(bin())
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}
