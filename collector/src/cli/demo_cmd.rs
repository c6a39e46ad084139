//! `wijkpost demo`: the whole pipeline on this machine in one command. It starts wijkpost (embedded
//! broker, SQLite in `--data`) with k lowered to [`DEMO_K`] (the dashboard says so on every page),
//! issues a token, lets a local wijkagent enroll, scan this machine's own loopback under its
//! self-consent (`scan --self`: 127.0.0.1 and ::1 only) and push the summary until its receipt, makes
//! a dashboard user with a fresh random password, prints the dashboard address and login, and keeps
//! serving until Ctrl-C or SIGTERM.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _};
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::DemoArgs;
use crate::ca::Ca;
use crate::i18n::Lang;
use crate::org::{Org, Province, Sector, SizeClass};
use crate::serve::{self, Addresses, ServeConfig};
use crate::store::{Store, StoreConfig};
use crate::users::{hash_password, NewUser, Role};

/// The k of the demo: one organisation, so every figure shows.
pub const DEMO_K: u32 = 1;
/// The file that shows the demo agent enrolled before (`wijkagent enroll` writes it).
const AGENT_IDENTITY: &str = "identity.json";
/// Longest the start of wijkpost may take.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Runs the demo until a signal stops it.
pub fn run(args: DemoArgs, lang: Lang) -> anyhow::Result<i32> {
    let l = |nl, en| lang.pick(nl, en);
    let agent = agent_program(args.agent.as_deref())?;
    crate::files::private_dir(&args.data).with_context(|| format!("{}", args.data.display()))?;
    let config = ServeConfig {
        database: StoreConfig::parse(None, &args.data)?,
        data_dir: args.data.clone(),
        web: args.web,
        web_tls: None,
        mqtt: args.mqtt,
        external_broker: None,
        instance: "1".into(),
        broker_public: None,
        server_names: Vec::new(),
        trends: crate::trends::Options { k: DEMO_K, demo: true, ..Default::default() },
        budget: Default::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let cancel = CancellationToken::new();
        serve::cancel_on_signals(cancel.clone());
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let service = tokio::spawn(serve::run_reporting(config, cancel.clone(), Some(ready_tx)));
        let addresses = match tokio::time::timeout(START_LIMIT, ready_rx).await {
            Ok(Ok(a)) => a,
            _ => {
                cancel.cancel();
                return match service.await {
                    Ok(Err(e)) => Err(anyhow::Error::new(e)),
                    _ => Err(anyhow::anyhow!("wijkpost did not start within {START_LIMIT:?}")),
                };
            }
        };
        let data = args.data.clone();
        let pipeline = tokio::task::spawn_blocking(move || pipeline(&data, &agent, &addresses, lang)).await?;
        match pipeline {
            Ok((addresses, user, password)) => {
                println!();
                println!("{}", l("wijkpost draait (demo).", "wijkpost is running (demo)."));
                println!(
                    "  {}",
                    l(
                        "Demo: k = 1, elk cijfer is zichtbaar. Nooit zo voor echte organisaties.",
                        "Demo: k = 1, every figure shows. Never so for real organisations."
                    )
                );
                println!("  {}: {}", l("Dashboard", "Dashboard"), addresses.web);
                println!("  {}: {user}", l("Gebruiker", "User"));
                println!("  {}: {password}", l("Wachtwoord", "Password"));
                println!("{}", l("Stoppen met Ctrl-C.", "Stop with Ctrl-C."));
            }
            Err(e) => {
                cancel.cancel();
                let _ = service.await;
                return Err(e);
            }
        }
        service.await.context("wijkpost")??;
        Ok::<_, anyhow::Error>(())
    })?;
    eprintln!("{}", l("wijkpost gestopt", "wijkpost stopped"));
    Ok(0)
}

/// Token, enrollment, scan, push and a dashboard user; returns the addresses and the login.
fn pipeline(
    data: &Path,
    agent: &Path,
    addresses: &Addresses,
    lang: Lang,
) -> anyhow::Result<(Addresses, String, String)> {
    let l = |nl, en| lang.pick(nl, en);
    let mut store = StoreConfig::parse(None, data)?.open()?;
    let state = data.join("agent");
    if !state.join(AGENT_IDENTITY).is_file() {
        let ca = Ca::open_or_create(data)?;
        let org = Org {
            name: "Demogemeente".into(),
            sector: Sector::Gemeente,
            size_class: SizeClass::UpTo25k,
            province: Province::OostVlaanderen,
        };
        let token = crate::enroll::issue_token(store.as_mut(), &ca, org, chrono::Duration::hours(1), Utc::now())?;
        eprintln!("== {}", l("de agent schrijft zich in", "the agent enrolls"));
        let mut enroll = agent_command(agent, lang);
        enroll.args(["enroll", "--collector", &addresses.web, "--state"]).arg(&state);
        step(enroll.env("WIJKAGENT_TOKEN", token.encode()), "enroll")?;
    }
    let report = data.join("report");
    eprintln!(
        "== {}",
        l("de agent scant deze machine (127.0.0.1, ::1)", "the agent scans this machine (127.0.0.1, ::1)")
    );
    let mut scan = agent_command(agent, lang);
    scan.args(["scan", "--self", "--progress", "none", "--out"]).arg(&report).arg("--state").arg(&state);
    step(&mut scan, "scan --self")?;
    eprintln!("== {}", l("de agent stuurt zijn samenvatting", "the agent sends its summary"));
    let mut push = agent_command(agent, lang);
    push.args(["push", "--timeout", "60", "--state"]).arg(&state).arg(report.join("report.json"));
    step(&mut push, "push")?;
    let (user, password) = demo_user(store.as_mut())?;
    Ok((addresses.clone(), user, password))
}

/// `wijkagent --lang L`, speaking the demo's language.
fn agent_command(agent: &Path, lang: Lang) -> Command {
    let mut cmd = Command::new(agent);
    cmd.args(["--lang", lang.pick("nl", "en")]);
    cmd
}

fn step(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("wijkagent {what}"))?;
    if !status.success() {
        bail!("wijkagent {what} failed ({status}); its message is above");
    }
    Ok(())
}

/// An admin `demo` (or `demo-XXXX` when taken) with a fresh random password.
fn demo_user(store: &mut dyn Store) -> anyhow::Result<(String, String)> {
    // 20 hex digits: 80 random bits.
    let password = crate::web::session::random_token()[..20].to_string();
    let hash = hash_password(&password)?;
    for name in std::iter::once("demo".to_string()).chain((0..8).map(|_| format!("demo-{:04x}", rand::random::<u16>())))
    {
        let user =
            NewUser { name: name.clone(), password_hash: hash.clone(), role: Role::Admin, created_at: Utc::now() };
        if store.insert_user(&user)? {
            return Ok((name, password));
        }
    }
    bail!("no free demo user name; remove the demo data directory and start again")
}

/// `--agent`, else `wijkagent` beside this program, else on the PATH.
fn agent_program(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let beside = std::env::current_exe().ok().map(|exe| exe.with_file_name("wijkagent"));
    if let Some(p) = beside.filter(|p| p.is_file()) {
        return Ok(p);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("wijkagent"))
        .find(|p| p.is_file());
    on_path.context("wijkagent not found beside wijkpost or on the PATH: build it (cargo build --release -p wijkagent) or pass --agent")
}
