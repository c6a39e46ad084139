//! `wijkpost user add | list | disable`: dashboard users in the store.
//!
//! The password of `add` is read from the environment variable `WIJKPOST_PASSWORD` if set, else
//! from the first line of stdin, never from an argument (arguments show in `ps` and shell
//! history). Disabling a user ends their sessions at their next request: the dashboard checks the
//! store on every request.

use std::io::BufRead as _;

use anyhow::{bail, Context as _};
use chrono::Utc;

use super::{UserCommand, UserDbArgs};
use crate::i18n::Lang;
use crate::store::{Store, StoreConfig};
use crate::users::{check_name, hash_password, NewUser};

/// The environment variable `user add` reads the password from.
pub const PASSWORD_ENV: &str = "WIJKPOST_PASSWORD";

/// Runs the command.
pub fn run(cmd: UserCommand, lang: Lang) -> anyhow::Result<i32> {
    let l = |nl, en| lang.pick(nl, en);
    match cmd {
        UserCommand::Add(args) => {
            check_name(&args.name)?;
            let password = read_password()?;
            let user = NewUser {
                name: args.name.clone(),
                password_hash: hash_password(&password)?,
                role: args.role,
                created_at: Utc::now(),
            };
            if !open(&args.db)?.insert_user(&user)? {
                bail!(
                    "{} {:?} {}",
                    l("er is al een gebruiker", "there is a user"),
                    args.name,
                    l("already; kies een andere naam", "already; choose another name")
                );
            }
            eprintln!("{} {} ({})", l("Gebruiker gemaakt:", "User added:"), args.name, args.role);
        }
        UserCommand::List(db) => {
            for u in open(&db)?.users()? {
                let state = if u.disabled { l("uitgeschakeld", "disabled") } else { l("actief", "active") };
                println!("{}\t{}\t{}\t{}", u.name, u.role, u.created_at.format("%Y-%m-%d"), state);
            }
        }
        UserCommand::Disable(args) => {
            if !open(&args.db)?.set_user_disabled(&args.name, true)? {
                bail!(
                    "{} {:?}; {}",
                    l("geen gebruiker", "no user"),
                    args.name,
                    l("zie wijkpost user list", "see wijkpost user list")
                );
            }
            eprintln!("{} {}", l("Gebruiker uitgeschakeld:", "User disabled:"), args.name);
        }
    }
    Ok(0)
}

fn open(db: &UserDbArgs) -> anyhow::Result<Box<dyn Store>> {
    let config = StoreConfig::parse(db.database.as_deref(), &db.data)?;
    config.open().with_context(|| format!("store {}", config.describe()))
}

/// `WIJKPOST_PASSWORD`, else the first line of stdin (without its line end).
fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("no password: pipe it on stdin (one line) or set {PASSWORD_ENV}");
    }
    Ok(password)
}
