//! The parts of the install test (`tests/tests/install.rs`): building the Debian packages with
//! `packaging/build-debs`, a fresh Debian root to install them into, commands run inside it with
//! `chroot`, and snapshots of its file tree that show what an install and a purge changed.
//!
//! [`DebianRoot::fresh`] makes the root with `debootstrap --variant=minbase bookworm` plus `systemd`
//! (as on a real server: the units' targets exist for `systemd-analyze verify --root`) the first
//! time and keeps it as a tarball under `target/install-test/` (out of git: `/target` is ignored),
//! so a rerun only unpacks it. The tarball also holds apt's package lists, so resolving the
//! packages' `Depends` needs the mirror only for the few `.deb`s it fetches.
//!
//! dpkg, apt and systemd-analyze work without `/proc` in the root; the agent needs it only to see
//! its capabilities (without it, it falls back to connect scanning). [`DebianRoot::mount_proc`]
//! mounts it for the scan that runs as the service would; the [`Drop`] of a root unmounts it and
//! then checks `/proc/self/mountinfo`, refusing to delete a tree with anything still mounted below.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};

use crate::process::{program, run_bounded, show, Finished};

/// The Debian release the packages are built for and installed into.
pub const SUITE: &str = "bookworm";
/// The mirror debootstrap fetches from.
pub const MIRROR: &str = "http://deb.debian.org/debian";
/// How long debootstrap may take (it downloads about 40 MB).
const DEBOOTSTRAP_LIMIT: Duration = Duration::from_secs(900);
/// How long packing or unpacking the cached root may take.
const TAR_LIMIT: Duration = Duration::from_secs(300);

/// The repository's root (the parent of the `tests` crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".."))
}

/// The workspace version (`[workspace.package] version`), as in the packages' file names.
pub fn workspace_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// The two packages `packaging/build-debs` made.
#[derive(Debug, Clone)]
pub struct Debs {
    /// `wijkagent_<version>_amd64.deb`.
    pub agent: PathBuf,
    /// `wijkpost_<version>_amd64.deb`.
    pub post: PathBuf,
}

/// Runs `packaging/build-debs --out OUT` on the binaries `agent` and `post` (`WIJKAGENT_BIN`,
/// `WIJKPOST_BIN`), at most `limit`.
pub fn build_debs(agent: &Path, post: &Path, out: &Path, limit: Duration) -> Result<Debs> {
    let script = repo_root().join("packaging/build-debs");
    let mut cmd = Command::new(&script);
    // gzip: xz takes a minute and a half on the big debug binaries of a test build.
    cmd.args(["--compress", "gzip", "--out"]).arg(out).env("WIJKAGENT_BIN", agent).env("WIJKPOST_BIN", post);
    let f = run_bounded(&mut cmd, limit)?;
    if !f.success() {
        bail!("packaging/build-debs failed: {}", f.describe());
    }
    let version = workspace_version();
    let debs = Debs {
        agent: out.join(format!("wijkagent_{version}_amd64.deb")),
        post: out.join(format!("wijkpost_{version}_amd64.deb")),
    };
    for deb in [&debs.agent, &debs.post] {
        if !deb.is_file() {
            bail!("packaging/build-debs did not make {}; it said:\n{}", deb.display(), f.stdout);
        }
    }
    Ok(debs)
}

/// A Debian root made for one test, deleted when dropped.
#[derive(Debug)]
pub struct DebianRoot {
    dir: PathBuf,
    proc_mounted: bool,
}

impl DebianRoot {
    /// A fresh root in `work/root`: unpacked from `cache` (a tarball) when it exists, otherwise made
    /// with debootstrap, its package lists fetched, and then packed into `cache` for the next run.
    pub fn fresh(cache: &Path, work: &Path) -> Result<DebianRoot> {
        let dir = work.join("root");
        if dir.exists() {
            refuse_if_mounted(&dir)?;
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing the old {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)?;
        let root = DebianRoot { dir, proc_mounted: false };
        if cache.is_file() {
            let mut tar = Command::new(program("tar")?);
            tar.arg("-xf").arg(cache).arg("-C").arg(&root.dir).args(["--numeric-owner", "--same-permissions"]);
            checked(&mut tar, TAR_LIMIT)?;
            return Ok(root);
        }
        let mut debootstrap = Command::new(program("debootstrap")?);
        debootstrap.args(["--variant=minbase", SUITE]).arg(&root.dir).arg(MIRROR);
        checked(&mut debootstrap, DEBOOTSTRAP_LIMIT)?;
        // apt's lists, so that installing resolves Depends without an update on every run.
        root.run_ok(&["apt-get", "update", "-qq"], Duration::from_secs(300))?;
        root.run_ok(
            &["apt-get", "install", "-y", "-qq", "--no-install-recommends", "systemd"],
            Duration::from_secs(600),
        )?;
        root.run_ok(&["apt-get", "clean"], Duration::from_secs(60))?;
        let partial = cache.with_extension("partial");
        if let Some(parent) = cache.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut tar = Command::new(program("tar")?);
        tar.arg("-cf").arg(&partial).arg("-C").arg(&root.dir).args(["--numeric-owner", "."]);
        checked(&mut tar, TAR_LIMIT)?;
        std::fs::rename(&partial, cache)?;
        Ok(root)
    }

    /// Mounts a `proc` file system on the root's `/proc` (unmounted when the root is dropped).
    pub fn mount_proc(&mut self) -> Result<()> {
        if self.proc_mounted {
            return Ok(());
        }
        let mut mount = Command::new(program("mount")?);
        mount.args(["-t", "proc", "proc"]).arg(self.path("/proc"));
        checked(&mut mount, Duration::from_secs(30))?;
        self.proc_mounted = true;
        Ok(())
    }

    /// Unmounts the root's `/proc` if [`DebianRoot::mount_proc`] mounted it (lazily if it is busy).
    pub fn unmount_proc(&mut self) -> Result<()> {
        if !self.proc_mounted {
            return Ok(());
        }
        let target = self.path("/proc");
        let umount = program("umount")?;
        if checked(Command::new(&umount).arg(&target), Duration::from_secs(30)).is_err() {
            checked(Command::new(&umount).arg("-l").arg(&target), Duration::from_secs(30))?;
        }
        self.proc_mounted = false;
        Ok(())
    }

    /// The root's directory on this machine.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `path` (absolute inside the root) as a path on this machine.
    pub fn path(&self, path: &str) -> PathBuf {
        self.dir.join(path.trim_start_matches('/'))
    }

    /// Runs `args` inside the root (`chroot`, a clean environment, C.UTF-8), bounded by `limit`.
    pub fn run(&self, args: &[&str], limit: Duration) -> Result<Finished> {
        let mut cmd = Command::new(program("chroot")?);
        cmd.arg(&self.dir)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C.UTF-8")
            .env("HOME", "/root")
            .env("DEBIAN_FRONTEND", "noninteractive");
        run_bounded(&mut cmd, limit)
    }

    /// [`DebianRoot::run`] that must succeed; its stdout.
    pub fn run_ok(&self, args: &[&str], limit: Duration) -> Result<String> {
        let f = self.run(args, limit)?;
        if !f.success() {
            bail!("`{}` in {} failed: {}", args.join(" "), self.dir.display(), f.describe());
        }
        Ok(f.stdout)
    }

    /// Copies `src` to `dest` (absolute inside the root).
    pub fn copy_in(&self, src: &Path, dest: &str) -> Result<()> {
        std::fs::copy(src, self.path(dest)).with_context(|| format!("copying {} into the root", src.display()))?;
        Ok(())
    }
}

impl Drop for DebianRoot {
    fn drop(&mut self) {
        if let Err(e) = self.unmount_proc() {
            eprintln!("unmounting {}/proc: {e:#}", self.dir.display());
        }
        match refuse_if_mounted(&self.dir) {
            Ok(()) => {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
            Err(e) => eprintln!("not deleting {}: {e:#}", self.dir.display()),
        }
    }
}

/// Fails when anything is mounted at or below `dir` (deleting it would reach into the mount).
fn refuse_if_mounted(dir: &Path) -> Result<()> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    for line in mounts.lines() {
        // Field 5 is the mount point (octal escapes for spaces; our paths have none).
        if let Some(point) = line.split(' ').nth(4) {
            if Path::new(point).starts_with(&dir) {
                bail!("{point} is mounted inside {}", dir.display());
            }
        }
    }
    Ok(())
}

fn checked(cmd: &mut Command, limit: Duration) -> Result<()> {
    let shown = show(cmd);
    let f = run_bounded(cmd, limit)?;
    if !f.success() {
        bail!("`{shown}` failed: {}", f.describe());
    }
    Ok(())
}

/// What a snapshot records of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `d` directory, `f` file, `l` symlink, `o` other (device, fifo, socket).
    pub kind: char,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Files: size and modification time (ns); symlinks: the target's length; directories: 0
    /// (a directory's times change whenever an entry comes and goes).
    pub stamp: (u64, i64),
}

/// Every path below a root (relative, without a leading `/`) and what it is.
pub type Tree = BTreeMap<String, Entry>;

/// Walks `root`, leaving out the top-level directories in `skip` (e.g. `proc`, `tmp`).
pub fn snapshot(root: &Path, skip: &[&str]) -> Result<Tree> {
    let mut tree = Tree::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let rel_path = rel.join(entry.file_name());
            let name = rel_path.to_string_lossy().into_owned();
            if rel.as_os_str().is_empty() && skip.contains(&name.as_str()) {
                continue;
            }
            let meta = entry.path().symlink_metadata()?;
            let ft = meta.file_type();
            let (kind, stamp) = if ft.is_dir() {
                stack.push(rel_path.clone());
                ('d', (0, 0))
            } else if ft.is_file() {
                ('f', (meta.size(), meta.mtime() * 1_000_000_000 + meta.mtime_nsec()))
            } else if ft.is_symlink() {
                ('l', (meta.size(), 0))
            } else {
                ('o', (0, 0))
            };
            tree.insert(name, Entry { kind, mode: meta.mode() & 0o7777, uid: meta.uid(), gid: meta.gid(), stamp });
        }
    }
    Ok(tree)
}

/// Paths added, removed or changed from `before` to `after`, each as `+ path`, `- path`, `~ path`.
pub fn changes(before: &Tree, after: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (path, entry) in after {
        match before.get(path) {
            None => out.push(format!("+ {path}")),
            Some(old) if old != entry => out.push(format!("~ {path}")),
            Some(_) => {}
        }
    }
    for path in before.keys() {
        if !after.contains_key(path) {
            out.push(format!("- {path}"));
        }
    }
    out.sort_by(|a, b| a[2..].cmp(&b[2..]));
    out
}

/// The passwd/group-style file `path` of a root as a sorted list of its lines (entries).
pub fn account_lines(root: &Path, path: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(root.join(path)).with_context(|| format!("reading {path}"))?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    Ok(lines)
}

/// `Overall exposure level for UNIT: N.N` of `systemd-analyze security` output.
pub fn exposure(output: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for").map(|(_, rest)| rest))
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(_, level)| level.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `compose.yaml` as JSON, read by PyYAML (`python3-yaml`); `None` when no python3 with PyYAML
/// is installed.
pub fn compose_as_json(path: &Path) -> Result<Option<serde_json::Value>> {
    const READ: &str = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)";
    let pythons = [PathBuf::from("/usr/bin/python3")].into_iter().chain(crate::process::find_program("python3"));
    for python in pythons.filter(|p| p.is_file()) {
        let f = run_bounded(Command::new(&python).args(["-c", READ]).arg(path), Duration::from_secs(30))?;
        if f.success() {
            return Ok(Some(serde_json::from_str(&f.stdout).context("PyYAML's JSON")?));
        }
        if !f.stderr.contains("No module named 'yaml'") {
            bail!("{} is not valid YAML: {}", path.display(), f.describe());
        }
    }
    Ok(None)
}

/// A Mosquitto started on the compose file's `mosquitto.conf` (`conf`), with only what differs on
/// this machine rewritten: the listener (a free loopback port), the certificate paths (a CA and
/// server certificate made by wijkpost's own code in `dir`), the ACL path, persistence and log
/// locations. wijkpost's broker client connects with its certificate and subscribes to the shared
/// summary subscription. Returns the broker's address; the broker is stopped before returning.
pub fn start_compose_mosquitto(program: &Path, conf: &str, acl: &Path, dir: &Path) -> Result<String> {
    let data = dir.join("wijkpost");
    let ca = wijkpost::ca::Ca::open_or_create(&data)?;
    let server = ca.issue_server_cert(&[])?;
    let identity = wijkpost::external::service_identity(&ca, &data)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let log = dir.join("mosquitto.log");
    let mut text = String::from("user root\n");
    for line in conf.lines() {
        let rewritten = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["listener", _] => format!("listener {port} 127.0.0.1"),
            ["cafile", _] => format!("cafile {}", ca.cert_path().display()),
            ["certfile", _] => format!("certfile {}", server.cert_path.display()),
            ["keyfile", _] => format!("keyfile {}", server.key_path.display()),
            ["acl_file", _] => format!("acl_file {}", acl.display()),
            ["persistence_location", _] => format!("persistence_location {}/", dir.display()),
            ["log_dest", _] => format!("log_dest file {}", log.display()),
            _ => line.to_string(),
        };
        text.push_str(&rewritten);
        text.push('\n');
    }
    let conf_path = dir.join("mosquitto.conf");
    std::fs::write(&conf_path, text)?;
    let console = dir.join("console.txt");
    let out = std::fs::File::create(&console)?;
    let child = std::process::Command::new(program)
        .arg("-c")
        .arg(&conf_path)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()?;
    let mut broker = Killed(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = broker.0.try_wait()? {
            bail!(
                "mosquitto exited with {status} on the compose configuration: {}{}",
                read_lossy(&console),
                read_lossy(&log)
            );
        }
        ensure!(std::time::Instant::now() < deadline, "mosquitto not listening on {port} after 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("mqtts://127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let subscribed = runtime.block_on(async {
        let (client, mut events) = wijkpost::external::client(&url, &ca, &identity, "wijkpost-1")?;
        let topic = wijk_protocol::topics::SHARED_SUMMARY_SUBSCRIPTION;
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match events.poll().await? {
                    rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)) => {
                        client.subscribe(topic, rumqttc::QoS::AtLeastOnce).await?
                    }
                    rumqttc::Event::Incoming(rumqttc::Packet::SubAck(ack)) => return Ok::<_, anyhow::Error>(ack),
                    _ => {}
                }
            }
        })
        .await
        .context("no SUBACK from mosquitto within 10 s")?
    });
    let ack =
        subscribed.with_context(|| format!("wijkpost's client on the compose Mosquitto: {}", read_lossy(&log)))?;
    ensure!(
        ack.return_codes.iter().all(|c| matches!(c, rumqttc::SubscribeReasonCode::Success(_))),
        "mosquitto refused wijkpost's shared subscription: {ack:?}"
    );
    Ok(url)
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

/// A child process killed when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure_is_read_from_systemd_analyze_security() {
        let out = "✓ UMask=   Files created…\n\n→ Overall exposure level for wijkagent.service: 1.6 OK 🙂\n";
        assert_eq!(exposure(out), Some(1.6));
        assert_eq!(exposure("nothing here"), None);
    }

    #[test]
    fn changes_name_added_removed_and_changed_paths() {
        let e = |size| Entry { kind: 'f', mode: 0o644, uid: 0, gid: 0, stamp: (size, 1) };
        let before: Tree = [("a".to_string(), e(1)), ("b".to_string(), e(1))].into();
        let after: Tree = [("b".to_string(), e(2)), ("c".to_string(), e(1))].into();
        assert_eq!(changes(&before, &after), ["- a", "~ b", "+ c"]);
        assert!(changes(&before, &before).is_empty());
    }
}
