//! The packaging of issue 6, checked on the real tools.
//!
//! - `packages_install_run_and_purge_cleanly` (root): `packaging/build-debs` on the debug binaries,
//!   a fresh Debian root (debootstrap minbase + systemd, cached under `target/install-test/`), both
//!   packages installed with apt (Depends resolved), then inside the root: versions, the system
//!   users, `/var/lib/<name>` modes and owners, the conffiles, the enabled units,
//!   `systemd-analyze verify` and `security` against the root, the consent ceremony (keygen, init,
//!   sign, verify; a changed document refused) and a `scan --self` (this machine's loopback) as the
//!   service user with the unit's one capability; lintian's tags; then a purge and a comparison of
//!   the root's file tree before and after: only dpkg's and apt's own records and logs may differ.
//! - `units_are_hardened_and_keep_the_contract`: the unit files' settings and their
//!   `systemd-analyze security --offline=yes` exposure (at most 2.0), and the default configs' keys.
//! - `container_files_match_the_tests`: compose.yaml parsed (PyYAML), every file it mounts present,
//!   Mosquitto's configuration and ACL equal to what wijkpost and the tests use, the wijkpost configs
//!   parsed with the keys of the service contract, and Mosquitto started on that configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use wijk_lab::install::{self, account_lines, changes, exposure, snapshot, DebianRoot, SUITE};
use wijk_lab::process::{find_program, is_root, run_bounded, skip};

/// The highest `systemd-analyze security` exposure a unit may have.
const EXPOSURE_MAX: f64 = 2.0;
/// Top-level directories of the root that are not compared (kernel file systems, scratch space).
const NOT_COMPARED: [&str; 5] = ["proc", "sys", "dev", "run", "tmp"];
/// dpkg's and apt's records, caches and logs: what may differ after install and purge.
const BOOKKEEPING: [&str; 7] = [
    "var/lib/dpkg/",
    "var/lib/apt/",
    "var/cache/apt/",
    "var/cache/debconf/",
    "var/cache/ldconfig/",
    "var/log/",
    "etc/ld.so.cache",
];
/// The account databases: compared by their entries (rewritten, with `-` backups, by adduser).
const ACCOUNTS: [&str; 4] = ["etc/passwd", "etc/group", "etc/shadow", "etc/gshadow"];

/// Prints how long each step took (visible with `--nocapture`).
struct Steps(Instant);

impl Steps {
    fn done(&mut self, what: &str) {
        eprintln!("  {:>6.1} s  {what}", self.0.elapsed().as_secs_f64());
        self.0 = Instant::now();
    }
}

#[test]
fn packages_install_run_and_purge_cleanly() -> Result<()> {
    let needed = ["debootstrap", "chroot", "dpkg-deb", "dpkg-shlibdeps", "strip", "tar", "systemd-analyze", "mount"];
    let missing: Vec<&str> = needed.iter().copied().filter(|p| find_program(p).is_none()).collect();
    if !is_root() || !missing.is_empty() {
        skip(&format!(
            "SKIPPED packages_install_run_and_purge_cleanly: needs root and {} (run as root, or via .ci/run) \
             [root: {}, missing: {missing:?}]",
            needed.join(", "),
            is_root()
        ));
        return Ok(());
    }
    let total = Instant::now();
    let mut steps = Steps(Instant::now());
    let work = install::repo_root().join("target/install-test");
    let agent_bin = wijk_lab::agent::bin_checked()?;
    let post_bin = wijk_lab::collector::bin_checked()?;
    let debs = install::build_debs(&agent_bin, &post_bin, &work.join("debs"), Duration::from_secs(300))?;
    steps.done("packages built (packaging/build-debs on the debug binaries)");
    check_lintian(&debs)?;
    steps.done("lintian");

    let mut root = DebianRoot::fresh(&work.join(format!("{SUITE}-minbase-systemd.tar")), &work)?;
    steps.done("fresh Debian root (debootstrap, or unpacked from the cache)");
    let before = snapshot(root.dir(), &NOT_COMPARED)?;
    let accounts_before = ACCOUNTS.iter().map(|a| account_lines(root.dir(), a)).collect::<Result<Vec<_>>>()?;

    install_packages(&root, &debs)?;
    steps.done("installed with apt-get (Depends resolved)");
    check_installed(&root)?;
    check_units_in_root(&root)?;
    steps.done("users, state directories, conffiles, units checked");
    root.mount_proc()?;
    let started = services_start_as_installed(&root);
    root.unmount_proc()?;
    started?;
    steps.done("both services start as installed (the agent waits for its consent)");
    consent_ceremony(&root)?;
    steps.done("consent keygen, init, sign, verify");
    root.mount_proc()?;
    let scanned = self_scan_as_the_service(&root);
    root.unmount_proc()?;
    scanned?;
    steps.done("scan --self as the service user with CAP_NET_RAW");

    let purge = ["apt-get", "purge", "-y", "--autoremove", "wijkagent", "wijkpost"];
    root.run_ok(&purge, Duration::from_secs(300))?;
    steps.done("purged");
    check_purged(&root)?;
    let after = snapshot(root.dir(), &NOT_COMPARED)?;
    let changed = changes(&before, &after);
    let (bookkeeping, left): (Vec<&String>, Vec<&String>) =
        changed.iter().partition(|c| BOOKKEEPING.iter().any(|p| c[2..].starts_with(p)));
    let left: Vec<&String> =
        left.into_iter().filter(|c| !ACCOUNTS.iter().any(|a| c[2..] == **a || c[2..] == format!("{a}-"))).collect();
    ensure!(left.is_empty(), "the purge left these changes (+ added, - removed, ~ changed):\n{}", join(&left));
    for (account, lines) in ACCOUNTS.iter().zip(&accounts_before) {
        let now = account_lines(root.dir(), account)?;
        ensure!(&now == lines, "/{account} differs after the purge: {:?}", diff_lines(lines, &now));
    }
    let named: Vec<&String> = after.keys().filter(|p| p.contains("wijkagent") || p.contains("wijkpost")).collect();
    ensure!(named.is_empty(), "paths naming the packages remain: {named:?}");
    eprintln!(
        "  only dpkg/apt records differ after the purge ({} paths, e.g. {})",
        bookkeeping.len(),
        bookkeeping.first().map(|s| s.as_str()).unwrap_or("none")
    );
    steps.done("file tree before install = after purge");
    eprintln!("install test: {:.1} s in all", total.elapsed().as_secs_f64());
    Ok(())
}

fn join(lines: &[&String]) -> String {
    lines.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
}

fn diff_lines(before: &[String], after: &[String]) -> Vec<String> {
    let (b, a): (BTreeSet<&String>, BTreeSet<&String>) = (before.iter().collect(), after.iter().collect());
    a.difference(&b).map(|l| format!("+ {l}")).chain(b.difference(&a).map(|l| format!("- {l}"))).collect()
}

/// lintian's tags that packaging/README.md explains; any other tag fails the test.
const LINTIAN_ACCEPTED: [&str; 4] = [
    "no-manual-page",
    "package-supports-alternative-init-but-no-init.d-script",
    // C parts of dependencies (ring, SQLite) built by cc without _FORTIFY_SOURCE (informational).
    "hardening-no-fortify-functions",
    // Dutch words and strings of dependencies taken for English misspellings (informational).
    "spelling-error-in-binary",
];

/// lintian on both packages: only the tags of [`LINTIAN_ACCEPTED`] (skipped without lintian).
fn check_lintian(debs: &install::Debs) -> Result<()> {
    let Some(lintian) = find_program("lintian") else {
        skip("SKIPPED the lintian part of the install test: lintian not installed (apt-get install lintian)");
        return Ok(());
    };
    let mut cmd = Command::new(lintian);
    cmd.args(["--tag-display-limit", "0", "-I"]).arg(&debs.agent).arg(&debs.post);
    let f = run_bounded(&mut cmd, Duration::from_secs(300))?;
    // Lines like `W: wijkagent: no-manual-page [usr/bin/wijkagent]`.
    let tags: BTreeSet<String> = f
        .stdout
        .lines()
        .filter_map(|l| l.splitn(3, ": ").nth(2))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect();
    let unexpected: Vec<&String> = tags.iter().filter(|t| !LINTIAN_ACCEPTED.contains(&t.as_str())).collect();
    ensure!(unexpected.is_empty(), "lintian: unexpected tags {unexpected:?}:\n{}", f.stdout);
    ensure!(f.code().is_some() && !f.timed_out, "lintian did not finish: {}", f.describe());
    eprintln!("  lintian tags: {tags:?}");
    Ok(())
}

/// Both packages through apt (so Depends are resolved from the mirror); one `apt-get update` and
/// a retry when the cached package lists have gone stale.
fn install_packages(root: &DebianRoot, debs: &install::Debs) -> Result<()> {
    let mut args = vec!["apt-get".to_string(), "install".into(), "-y".into(), "--no-install-recommends".into()];
    for deb in [&debs.agent, &debs.post] {
        let name = deb.file_name().context("deb name")?.to_string_lossy().into_owned();
        root.copy_in(deb, &format!("/tmp/{name}"))?;
        args.push(format!("/tmp/{name}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = root.run(&args, Duration::from_secs(600))?;
    if first.success() {
        return Ok(());
    }
    eprintln!("  apt-get install failed once ({}); updating the package lists", first.stderr.trim());
    root.run_ok(&["apt-get", "update", "-qq"], Duration::from_secs(300))?;
    root.run_ok(&args, Duration::from_secs(600))?;
    Ok(())
}

/// A system account as `getent passwd` shows it: (uid, gid, home, shell).
fn account(root: &DebianRoot, name: &str) -> Result<(u32, u32, String, String)> {
    let line = root.run_ok(&["getent", "passwd", name], Duration::from_secs(30))?;
    let f: Vec<&str> = line.trim().split(':').collect();
    ensure!(f.len() == 7, "getent passwd {name}: {line:?}");
    Ok((f[2].parse()?, f[3].parse()?, f[5].to_string(), f[6].to_string()))
}

fn check_installed(root: &DebianRoot) -> Result<()> {
    let version = install::workspace_version();
    let status = root.run_ok(
        &["dpkg-query", "-W", "-f", "${Package} ${Status} ${Version}\\n", "wijkagent", "wijkpost"],
        Duration::from_secs(30),
    )?;
    for name in ["wijkagent", "wijkpost"] {
        ensure!(status.contains(&format!("{name} install ok installed {version}")), "dpkg-query: {status}");
        let shown = root.run_ok(&[name, "--version"], Duration::from_secs(30))?;
        ensure!(shown.trim() == format!("{name} {version}"), "{name} --version said {shown:?}");

        let (uid, gid, home, shell) = account(root, name)?;
        ensure!(uid < 1000 && gid < 1000, "{name} is not a system user: uid {uid}, gid {gid}");
        ensure!(home == format!("/var/lib/{name}"), "{name}'s home is {home}");
        ensure!(shell == "/usr/sbin/nologin", "{name}'s shell is {shell}");
        let group = root.run_ok(&["getent", "group", name], Duration::from_secs(30))?;
        ensure!(group.starts_with(&format!("{name}:x:{gid}:")), "group {name}: {group:?}");

        let state = std::fs::metadata(root.path(&format!("/var/lib/{name}")))?;
        ensure!(
            state.is_dir() && state.mode() & 0o7777 == 0o750,
            "/var/lib/{name} has mode {:o}",
            state.mode() & 0o7777
        );
        ensure!(
            state.uid() == uid && state.gid() == gid,
            "/var/lib/{name} is owned by {}:{}",
            state.uid(),
            state.gid()
        );

        let config = if name == "wijkagent" { "agent.toml" } else { "wijkpost.toml" };
        let conffiles = root.run_ok(&["dpkg-query", "-W", "-f", "${Conffiles}\\n", name], Duration::from_secs(30))?;
        ensure!(
            conffiles.lines().any(|l| l.trim().starts_with(&format!("/etc/{name}/{config} "))),
            "/etc/{name}/{config} is not a conffile of {name}: {conffiles:?}"
        );
        let meta = std::fs::metadata(root.path(&format!("/etc/{name}/{config}")))?;
        ensure!(
            (meta.mode() & 0o7777, meta.uid(), meta.gid()) == (0o640, 0, gid),
            "/etc/{name}/{config} should be 0640 root:{name}, is {:o} {}:{}",
            meta.mode() & 0o7777,
            meta.uid(),
            meta.gid()
        );
        let shipped = std::fs::read_to_string(root.path(&format!("/etc/{name}/{config}")))?;
        let source = std::fs::read_to_string(install::repo_root().join("packaging/config").join(config))?;
        ensure!(shipped == source, "/etc/{name}/{config} differs from packaging/config/{config}");
    }
    let help = root.run_ok(&["wijkpost", "token", "--help"], Duration::from_secs(30))?;
    ensure!(help.contains("--org") && help.contains("--province"), "wijkpost token --help: {help}");
    Ok(())
}

/// The units are installed, enabled (deb-systemd-helper), pass `systemd-analyze verify` against the
/// root (its ExecStart binaries and targets) and keep their exposure at most [`EXPOSURE_MAX`].
fn check_units_in_root(root: &DebianRoot) -> Result<()> {
    let analyze = find_program("systemd-analyze").context("systemd-analyze")?;
    let root_arg = format!("--root={}", root.dir().display());
    for name in ["wijkagent", "wijkpost"] {
        let unit = format!("{name}.service");
        let wants = root.path(&format!("/etc/systemd/system/multi-user.target.wants/{unit}"));
        let target = std::fs::read_link(&wants).with_context(|| format!("{unit} is not enabled"))?;
        ensure!(target == Path::new("/lib/systemd/system").join(&unit), "{unit} enabled as {}", target.display());

        let verify = run_bounded(Command::new(&analyze).args(["verify", &root_arg, &unit]), Duration::from_secs(60))?;
        ensure!(verify.success(), "systemd-analyze verify {unit}: {}", verify.describe());
        ensure!(!verify.stderr.contains(&format!("{unit}:")), "systemd-analyze verify complains: {}", verify.stderr);

        let security = run_bounded(
            Command::new(&analyze).args(["security", "--offline=yes", &root_arg, &unit]),
            Duration::from_secs(60),
        )?;
        let level =
            exposure(&security.stdout).with_context(|| format!("no exposure level: {}", security.describe()))?;
        eprintln!("  {unit}: exposure {level} (installed, systemd-analyze security --offline=yes --root)");
        ensure!(level <= EXPOSURE_MAX, "{unit}: exposure {level} > {EXPOSURE_MAX}");
    }
    Ok(())
}

/// The ceremony of docs/toestemming.md inside the root: the signer's keys (here in /tmp, which
/// stands for the signer's offline machine), the template filled in, signed, placed in
/// /etc/wijkagent readable by the service's group, and verified as the service user; a document
/// changed after signing is refused.
fn consent_ceremony(root: &DebianRoot) -> Result<()> {
    let t = Duration::from_secs(60);
    let keygen = root.run_ok(&["wijkagent", "consent", "keygen", "--out", "/tmp/signer"], t)?;
    ensure!(keygen.contains("/tmp/signer/consent.key"), "keygen said {keygen:?}");
    let key_mode = std::fs::metadata(root.path("/tmp/signer/consent.key"))?.mode() & 0o777;
    ensure!(key_mode == 0o600, "consent.key has mode {key_mode:o}");

    let template = root.run_ok(&["wijkagent", "consent", "init"], t)?;
    let now = chrono::Utc::now();
    let from = (now - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%S+00:00");
    let until = (now + chrono::Duration::days(364)).format("%Y-%m-%dT%H:%M:%S+00:00");
    let scope: String = template
        .lines()
        .map(|l| {
            if l.starts_with("valid_from") {
                format!("valid_from    = {from}")
            } else if l.starts_with("valid_until") {
                format!("valid_until   = {until}")
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    ensure!(scope.contains(&format!("valid_from    = {from}")), "the template has no valid_from line");
    std::fs::write(root.path("/etc/wijkagent/scope.toml"), &scope)?;
    root.run_ok(&["wijkagent", "consent", "sign", "/etc/wijkagent/scope.toml", "--key", "/tmp/signer/consent.key"], t)?;
    std::fs::copy(root.path("/tmp/signer/consent.pub"), root.path("/etc/wijkagent/trusted/consent.pub"))?;
    for file in ["/etc/wijkagent/scope.toml", "/etc/wijkagent/scope.toml.sig"] {
        root.run_ok(&["chown", "root:wijkagent", file], t)?;
        root.run_ok(&["chmod", "0640", file], t)?;
    }
    let verify = [
        "setpriv",
        "--reuid=wijkagent",
        "--regid=wijkagent",
        "--init-groups",
        "wijkagent",
        "consent",
        "verify",
        "/etc/wijkagent/scope.toml",
        "--trust",
        "/etc/wijkagent/trusted/consent.pub",
    ];
    let verified = root.run(&verify, t)?;
    ensure!(verified.success(), "consent verify as wijkagent: {}", verified.describe());
    ensure!(
        verified.stdout.contains("toestemming geldig") && verified.stdout.contains("Gemeente Voorbeeld"),
        "consent verify said {:?}",
        verified.stdout
    );

    // One character changed after signing: the signature no longer holds (exit 3, a reason).
    std::fs::write(root.path("/tmp/changed.toml"), scope.replace("max_rate = 200", "max_rate = 900"))?;
    std::fs::copy(root.path("/etc/wijkagent/scope.toml.sig"), root.path("/tmp/changed.toml.sig"))?;
    let changed = root.run(
        &["wijkagent", "consent", "verify", "/tmp/changed.toml", "--trust", "/etc/wijkagent/trusted/consent.pub"],
        t,
    )?;
    ensure!(changed.code() == Some(3), "a changed document was not refused: {}", changed.describe());
    ensure!(!changed.stderr.trim().is_empty(), "the refusal gave no reason");
    Ok(())
}

/// `scan --self` (127.0.0.1 and ::1 only) as the unit runs the agent: user wijkagent with
/// CAP_NET_RAW as its only (ambient) capability; the report in /tmp/r, the audit log in the state
/// directory.
fn self_scan_as_the_service(root: &DebianRoot) -> Result<()> {
    let scan = [
        "setpriv",
        "--reuid=wijkagent",
        "--regid=wijkagent",
        "--init-groups",
        "--bounding-set=-all,+net_raw",
        "--inh-caps=-all,+net_raw",
        "--ambient-caps=+net_raw",
        "wijkagent",
        "scan",
        "--self",
        "--out",
        "/tmp/r",
        "--profile",
        "quick",
        "--progress",
        "none",
    ];
    let f = root.run(&scan, Duration::from_secs(300))?;
    ensure!(f.success(), "scan --self in the root: {}", f.describe());
    let report = wijk_lab::Report::read(&root.path("/tmp/r"))?;
    ensure!(report.complete, "the report is marked incomplete");
    let addresses = report.addresses();
    ensure!(
        addresses.iter().all(|a| a.is_loopback()) && addresses.contains(&"127.0.0.1".parse()?),
        "scan --self reported {addresses:?}"
    );
    let host = report.host("127.0.0.1".parse()?).context("127.0.0.1 in the report")?;
    eprintln!("  127.0.0.1 discovered by {:?}, {} services", host.discovered_by, host.services.len());
    // The unit's one capability is enough for raw sockets: SYN scan, not the connect fallback.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root.path("/tmp/r/report.json"))?)?;
    let method = (json["scan"]["discovery_method"].as_str(), json["scan"]["tcp_method"].as_str());
    ensure!(method == (Some("raw"), Some("syn")), "with CAP_NET_RAW the scan ran as {method:?}");
    for file in ["report.json", "report.html", "findings.csv"] {
        let mode = std::fs::metadata(root.path(&format!("/tmp/r/{file}")))?.mode() & 0o777;
        ensure!(mode == 0o640, "/tmp/r/{file} has mode {mode:o}");
    }
    let audit = std::fs::metadata(root.path("/var/lib/wijkagent/audit.log")).context("audit log in the state dir")?;
    let (uid, ..) = account(root, "wijkagent")?;
    ensure!(audit.uid() == uid, "the audit log is owned by uid {}", audit.uid());
    root.run_ok(&["wijkagent", "audit", "verify", "--log", "/var/lib/wijkagent/audit.log"], Duration::from_secs(60))?;
    Ok(())
}

/// Both services as their units start them, with the packaged configuration, for a few seconds:
/// the agent without a consent yet waits (no crash loop) and answers `status`; wijkpost serves
/// (on ports the kernel picks: flags override the file). SIGTERM from `timeout` stops both.
fn services_start_as_installed(root: &DebianRoot) -> Result<()> {
    let agent = [
        "--reuid=wijkagent",
        "--regid=wijkagent",
        "--init-groups",
        "--inh-caps=-all,+net_raw",
        "--ambient-caps=+net_raw",
    ];
    let mut run = vec!["timeout", "-s", "TERM", "-k", "15", "6", "setpriv"];
    run.extend(agent);
    run.extend(["wijkagent", "run", "--config", "/etc/wijkagent/agent.toml"]);
    let f = root.run(&run, Duration::from_secs(60))?;
    // `timeout` says 124 when it had to send SIGTERM; the agent itself exits 0 on it.
    ensure!(f.code() == Some(124), "wijkagent run ended on its own: {}", f.describe());
    for event in ["started", "consent-unusable", "stopped"] {
        ensure!(f.stderr.contains(&format!("event=\"{event}\"")), "wijkagent run did not log {event}: {}", f.stderr);
    }
    let status = root.run_ok(
        &[
            "setpriv",
            "--reuid=wijkagent",
            "--regid=wijkagent",
            "--init-groups",
            "wijkagent",
            "--lang",
            "en",
            "status",
            "--offline",
        ],
        Duration::from_secs(30),
    )?;
    ensure!(status.contains("NOT USABLE") && status.contains("not enrolled"), "wijkagent status said:\n{status}");
    let mut serve = vec!["timeout", "-s", "TERM", "-k", "15", "6", "setpriv"];
    serve.extend(["--reuid=wijkpost", "--regid=wijkpost", "--init-groups", "--inh-caps=-all"]);
    serve.extend([
        "wijkpost",
        "serve",
        "--config",
        "/etc/wijkpost/wijkpost.toml",
        "--web",
        "127.0.0.1:0",
        "--mqtt",
        "127.0.0.1:0",
    ]);
    let f = root.run(&serve, Duration::from_secs(60))?;
    ensure!(f.code() == Some(124), "wijkpost serve ended on its own: {}", f.describe());
    ensure!(
        f.stderr.contains("gestopt") || f.stderr.contains("stopped"),
        "wijkpost did not stop cleanly: {}",
        f.stderr
    );
    ensure!(root.path("/var/lib/wijkpost/ca").is_dir(), "wijkpost made no CA in its state directory");
    Ok(())
}

fn check_purged(root: &DebianRoot) -> Result<()> {
    for name in ["wijkagent", "wijkpost"] {
        let status = root.run(&["dpkg-query", "-W", "-f", "${Status}", name], Duration::from_secs(30))?;
        ensure!(!status.stdout.contains("installed"), "{name} after purge: {}", status.stdout);
        let user = root.run(&["getent", "passwd", name], Duration::from_secs(30))?;
        ensure!(!user.success(), "user {name} is still there: {}", user.stdout);
        let group = root.run(&["getent", "group", name], Duration::from_secs(30))?;
        ensure!(!group.success(), "group {name} is still there: {}", group.stdout);
        for path in [
            format!("/etc/{name}"),
            format!("/var/lib/{name}"),
            format!("/usr/bin/{name}"),
            format!("/lib/systemd/system/{name}.service"),
            format!("/etc/systemd/system/multi-user.target.wants/{name}.service"),
            format!("/var/lib/systemd/deb-systemd-helper-enabled/{name}.service.dsh-also"),
            format!("/var/lib/systemd/deb-systemd-helper-masked/{name}.service"),
        ] {
            ensure!(root.path(&path).symlink_metadata().is_err(), "{path} is still there after the purge");
        }
    }
    Ok(())
}

/// `[Section] Key=value` lines of a unit file: every value of every key (a key may repeat).
fn unit_settings(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('[')) {
        if let Some((k, v)) = line.split_once('=') {
            map.entry(k.trim().to_string()).or_default().push(v.trim().to_string());
        }
    }
    map
}

#[test]
fn units_are_hardened_and_keep_the_contract() -> Result<()> {
    let packaging = install::repo_root().join("packaging");
    for (name, config, caps, families) in [
        ("wijkagent", "agent.toml", "CAP_NET_RAW", "AF_INET AF_INET6 AF_PACKET AF_UNIX AF_NETLINK"),
        ("wijkpost", "wijkpost.toml", "", "AF_INET AF_INET6 AF_UNIX"),
    ] {
        let path = packaging.join(format!("{name}.service"));
        let s = unit_settings(&std::fs::read_to_string(&path)?);
        let one = |k: &str| -> Result<String> {
            match s.get(k).map(Vec::as_slice) {
                Some([v]) => Ok(v.clone()),
                other => bail!("{name}.service: {k}= should be set once, is {other:?}"),
            }
        };
        let command = if name == "wijkagent" { "run" } else { "serve" };
        ensure!(one("ExecStart")? == format!("/usr/bin/{name} {command} --config /etc/{name}/{config}"));
        ensure!(one("ExecReload")? == "/bin/kill -HUP $MAINPID");
        ensure!(one("TimeoutStopSec")? == "15");
        ensure!(one("Restart")? == "on-failure" && s.contains_key("RestartSec"));
        ensure!(one("User")? == name && one("Group")? == name);
        ensure!(one("StateDirectory")? == name && one("StateDirectoryMode")? == "0750");
        ensure!(!s.contains_key("ReadWritePaths"), "{name}: only the state directory may be writable");
        ensure!(one("CapabilityBoundingSet")? == caps && one("AmbientCapabilities")? == caps, "{name}: capabilities");
        ensure!(one("RestrictAddressFamilies")? == families, "{name}: address families");
        ensure!(s.get("SystemCallFilter").is_some_and(|v| v.contains(&"@system-service".to_string())));
        for (key, value) in [
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
            ("PrivateDevices", "yes"),
            ("ProtectKernelTunables", "yes"),
            ("ProtectKernelModules", "yes"),
            ("ProtectKernelLogs", "yes"),
            ("ProtectControlGroups", "yes"),
            ("ProtectClock", "yes"),
            ("ProtectHostname", "yes"),
            ("ProtectProc", "invisible"),
            ("ProcSubset", "pid"),
            ("RestrictNamespaces", "yes"),
            ("RestrictRealtime", "yes"),
            ("RestrictSUIDSGID", "yes"),
            ("LockPersonality", "yes"),
            ("MemoryDenyWriteExecute", "yes"),
            ("RemoveIPC", "yes"),
            ("UMask", "0077"),
            ("DevicePolicy", "closed"),
            ("SystemCallArchitectures", "native"),
        ] {
            ensure!(one(key)? == value, "{name}.service: {key}= should be {value}");
        }
        let nofile: u64 = one("LimitNOFILE")?.parse()?;
        ensure!(nofile >= 16384, "{name}: LimitNOFILE={nofile} is too low for a scanner or a broker");

        check_config_keys(&packaging.join("config").join(config), name)?;

        let Some(analyze) = find_program("systemd-analyze") else {
            skip("SKIPPED the exposure part of units_are_hardened_and_keep_the_contract: systemd-analyze missing");
            continue;
        };
        let f = run_bounded(
            Command::new(&analyze).args(["security", "--offline=yes"]).arg(&path),
            Duration::from_secs(60),
        )?;
        let level = exposure(&f.stdout).with_context(|| format!("no exposure level: {}", f.describe()))?;
        eprintln!("{name}.service: exposure {level}");
        ensure!(level <= EXPOSURE_MAX, "{name}.service: exposure {level} > {EXPOSURE_MAX}:\n{}", f.stdout);
    }
    Ok(())
}

/// The keys the service contract (issue 6) gives each config file, as `section.key`.
fn contract_keys(service: &str) -> BTreeSet<&'static str> {
    let keys: &[&str] = if service == "wijkagent" {
        &[
            "lang",
            "consent.scope",
            "consent.trust",
            "schedule.cron",
            "schedule.timezone",
            "scan.profile",
            "scan.rate",
            "scan.per_host_rate",
            "paths.state",
            "paths.reports",
            "paths.audit_log",
            "paths.keep_reports",
            "uplink.push",
            "uplink.timeout",
        ]
    } else {
        &[
            "lang",
            "data",
            "database",
            "k",
            "web.listen",
            "web.tls_cert",
            "web.tls_key",
            "mqtt.listen",
            "mqtt.broker",
            "mqtt.instance",
            "mqtt.public",
            "mqtt.server_names",
        ]
    };
    keys.iter().copied().collect()
}

/// The `section.key` names of a TOML file (tables one level deep, as both configs are).
fn toml_keys(path: &Path) -> Result<BTreeSet<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: toml::Table = toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut keys = BTreeSet::new();
    for (k, v) in &value {
        match v.as_table() {
            Some(table) => keys.extend(table.keys().map(|inner| format!("{k}.{inner}"))),
            None => {
                keys.insert(k.clone());
            }
        }
    }
    Ok(keys)
}

/// Every key of the config at `path` is one the contract gives `service`.
fn check_config_keys(path: &Path, service: &str) -> Result<BTreeSet<String>> {
    let keys = toml_keys(path)?;
    let allowed = contract_keys(service);
    let unknown: Vec<&String> = keys.iter().filter(|k| !allowed.contains(k.as_str())).collect();
    ensure!(unknown.is_empty(), "{}: keys outside the contract: {unknown:?}", path.display());
    Ok(keys)
}

#[test]
fn container_files_match_the_tests() -> Result<()> {
    let docker = install::repo_root().join("packaging/docker");
    let Some(compose) = install::compose_as_json(&docker.join("compose.yaml"))? else {
        skip("SKIPPED container_files_match_the_tests: python3 with PyYAML missing (apt-get install python3-yaml)");
        return Ok(());
    };
    let services = compose["services"].as_object().context("compose.yaml: no services")?;
    for wanted in ["db", "mosquitto", "wijkpost-1", "wijkpost-2"] {
        ensure!(services.contains_key(wanted), "compose.yaml has no service {wanted}");
    }
    // Every file or directory mounted from the repository exists; the Dockerfile and what it copies too.
    for (name, service) in services {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let spec = volume.as_str().context("short volume syntax expected")?;
            let source = spec.split(':').next().unwrap_or_default();
            if source.starts_with("./") || source.starts_with("../") {
                ensure!(docker.join(source).exists(), "{name} mounts {source}, which is not in packaging/docker");
            }
        }
        if let Some(build) = service.get("build") {
            let context = docker.join(build["context"].as_str().context("build.context")?);
            let dockerfile = context.join(build["dockerfile"].as_str().context("build.dockerfile")?);
            let text = std::fs::read_to_string(&dockerfile).context("the Dockerfile")?;
            for line in text.lines().filter(|l| l.starts_with("COPY ") && !l.contains("--from=")) {
                let source = line.split_whitespace().nth(1).unwrap_or_default();
                if source != "." && !source.starts_with("target/") {
                    ensure!(context.join(source).exists(), "the Dockerfile copies {source}, which does not exist");
                }
            }
            ensure!(text.contains(r#"CMD ["serve", "--config", "/etc/wijkpost/wijkpost.toml"]"#));
            ensure!(text.contains("USER wijkpost"), "the image must not run as root");
        }
    }

    // Mosquitto: the tests' TLS and identity rules, wijkpost's settings, and wijkpost's ACL exactly.
    let conf = std::fs::read_to_string(docker.join("mosquitto/mosquitto.conf"))?;
    let lines: BTreeSet<&str> = conf.lines().map(str::trim).collect();
    let settings = wijkpost::external::mosquitto_settings();
    for required in [
        "allow_anonymous false",
        "require_certificate true",
        "use_identity_as_username true",
        "per_listener_settings false",
    ]
    .into_iter()
    .chain(settings.lines().filter(|l| !l.starts_with('#')))
    {
        ensure!(lines.contains(required), "mosquitto.conf lacks `{required}` (tests/src/brokers.rs has it)");
    }
    let acl = std::fs::read_to_string(docker.join("mosquitto/acl"))?;
    ensure!(
        acl == wijkpost::external::mosquitto_acl(),
        "mosquitto/acl differs from wijkpost::external::mosquitto_acl()"
    );

    // The wijkpost configs: the contract's keys; one database and broker, two instances; the
    // broker's host name in the server certificate's names.
    let mut instances = BTreeSet::new();
    for n in ["1", "2"] {
        let path = docker.join(format!("wijkpost-{n}.toml"));
        check_config_keys(&path, "wijkpost")?;
        let config: toml::Table = toml::from_str(&std::fs::read_to_string(&path)?)?;
        let database = config.get("database").and_then(|v| v.as_str());
        ensure!(database == Some("postgres://wijkpost@db/wijkpost"), "wijkpost-{n}: database {database:?}");
        ensure!(config.get("k").and_then(|v| v.as_integer()).is_some_and(|k| k >= 3), "wijkpost-{n}: k below 3");
        let mqtt = config.get("mqtt").and_then(|v| v.as_table()).context("[mqtt]")?;
        ensure!(mqtt.get("broker").and_then(|v| v.as_str()) == Some("mqtts://mosquitto:8883"), "wijkpost-{n}: broker");
        let names = mqtt.get("server_names").and_then(|v| v.as_array()).context("server_names")?;
        ensure!(names.iter().any(|v| v.as_str() == Some("mosquitto")), "wijkpost-{n}: mosquitto not in server_names");
        instances.insert(mqtt.get("instance").and_then(|v| v.as_str()).unwrap_or_default().to_string());
    }
    ensure!(instances.len() == 2, "the two wijkpost instances need different names: {instances:?}");

    let Some(mosquitto) = find_program("mosquitto") else {
        skip("SKIPPED starting Mosquitto on packaging/docker/mosquitto.conf: mosquitto not installed");
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let started = install::start_compose_mosquitto(&mosquitto, &conf, &docker.join("mosquitto/acl"), dir.path())?;
    eprintln!("mosquitto started on the compose configuration: {started}");
    Ok(())
}
