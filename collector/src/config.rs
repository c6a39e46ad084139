//! The service's config file: `wijkpost serve --config /etc/wijkpost/wijkpost.toml`.
//!
//! Three steps, as for every config here: [`read`] the file, [`from_toml`] its text into [`File`]
//! (serde, unknown keys refused with their line), then [`resolve`] it together with the command
//! line into a checked [`Settings`]. Every `serve` flag has a key:
//!
//! | flag              | key                 | default                  |
//! |-------------------|---------------------|--------------------------|
//! | `--lang`          | `lang`              | `nl`                     |
//! | `--data`          | `data`              | (required)               |
//! | `--database`      | `database`          | `sqlite:DATA/wijkpost.db`|
//! | `--k`             | `k`                 | 5 (at least 3)           |
//! | `--web`           | `web.listen`        | `127.0.0.1:8080`         |
//! | `--web-tls-cert`  | `web.tls_cert`      | none                     |
//! | `--web-tls-key`   | `web.tls_key`       | none                     |
//! | `--mqtt`          | `mqtt.listen`       | `127.0.0.1:8883`         |
//! | `--broker`        | `mqtt.broker`       | none (embedded broker)   |
//! | `--instance`      | `mqtt.instance`     | `1`                      |
//! | `--broker-public` | `mqtt.public`       | the broker's address     |
//! | `--server-name`   | `mqtt.server_names` | none                     |
//! | `--agent-rate`    | `mqtt.agent_rate`   | 10 (0: no budget)        |
//! | `--agent-burst`   | `mqtt.agent_burst`  | 500 (at least 1)         |
//!
//! A flag on the command line wins over the file. Relative paths in the file (`data`,
//! `database = "sqlite:…"`, the TLS files) are taken from the file's own directory, so a config
//! means the same whatever directory the service starts in. [`restart_keys`] tells a reload which
//! changed keys only a restart can apply. [`EXAMPLE`] is the default file the package installs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::ServeArgs;
use crate::i18n::Lang;
use crate::ingest::throttle::{self, Budget};
use crate::serve::ServeConfig;
use crate::store::{StoreConfig, StoreError};
use crate::trends::{DEFAULT_K, MIN_K};

/// The default config file (`/etc/wijkpost/wijkpost.toml` in the package).
pub const EXAMPLE: &str = include_str!("../../packaging/config/wijkpost.toml");

/// Default of `web.listen` / `--web`.
pub const DEFAULT_WEB: &str = "127.0.0.1:8080";
/// Default of `mqtt.listen` / `--mqtt`.
pub const DEFAULT_MQTT: &str = "127.0.0.1:8883";
/// Default of `mqtt.instance` / `--instance`.
pub const DEFAULT_INSTANCE: &str = "1";

/// The file as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Language of what people read.
    pub lang: Option<FileLang>,
    /// Data directory (CA, SQLite database, `toolkit.toml`).
    pub data: Option<PathBuf>,
    /// `sqlite:PATH` or `postgres://…`.
    pub database: Option<String>,
    /// k of k-anonymity.
    pub k: Option<u32>,
    /// The web side.
    #[serde(default)]
    pub web: WebSection,
    /// The broker.
    #[serde(default)]
    pub mqtt: MqttSection,
}

/// `lang = "nl" | "en"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileLang {
    /// Nederlands.
    Nl,
    /// English.
    En,
}

impl From<FileLang> for Lang {
    fn from(l: FileLang) -> Lang {
        match l {
            FileLang::Nl => Lang::Nl,
            FileLang::En => Lang::En,
        }
    }
}

/// `[web]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    /// Where enrollment and the dashboard listen.
    pub listen: Option<SocketAddr>,
    /// TLS certificate (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS key (PEM).
    pub tls_key: Option<PathBuf>,
}

/// `[mqtt]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSection {
    /// Where the embedded broker listens.
    pub listen: Option<SocketAddr>,
    /// An external broker (`mqtts://HOST:PORT`) instead of the embedded one.
    pub broker: Option<String>,
    /// This instance's name on an external broker.
    pub instance: Option<String>,
    /// The broker address handed to agents.
    pub public: Option<String>,
    /// Extra names for the server certificate.
    pub server_names: Option<Vec<String>>,
    /// Summary messages per second one agent may send (0: no budget).
    pub agent_rate: Option<u32>,
    /// Messages one agent may send at once after a quiet spell.
    pub agent_burst: Option<u32>,
}

/// The command line and the file together, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What `serve` runs with.
    pub serve: ServeConfig,
    /// `lang` from the file, if it has one.
    pub lang: Option<Lang>,
    /// The file read, if any.
    pub file: Option<PathBuf>,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}; check the path and that wijkpost may read it")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong kind.
    #[error("{path}, line {line}: {message}; fix that line (docs/wijkpost.md lists the keys)")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// What the parser says.
        message: String,
    },
    /// Neither `--data` nor `data`.
    #[error("no data directory: give --data DIR or set data = \"/var/lib/wijkpost\" in the config file")]
    NoData,
    /// k below [`MIN_K`].
    #[error("k = {k} ({from}) is too small: k-anonymity needs k >= {MIN_K}; set k to {MIN_K} or more")]
    KTooSmall {
        /// The value.
        k: u32,
        /// `--k` or the file.
        from: String,
    },
    /// Only one of the TLS certificate and key.
    #[error("web.tls_cert and web.tls_key go together: give both (or neither, on loopback)")]
    TlsHalf,
    /// A per-agent budget with a burst of 0.
    #[error("agent_burst = 0 ({from}) lets nothing through: set it to 1 or more (or agent_rate = 0 for no budget)")]
    NoBurst {
        /// `--agent-burst` or the file.
        from: String,
    },
    /// `database` is not understood.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ConfigError {
    /// The same in Dutch.
    pub fn dutch(&self) -> String {
        match self {
            ConfigError::Read { path, source } => {
                format!("kan {} niet lezen: {source}; controleer het pad en of wijkpost het mag lezen", path.display())
            }
            ConfigError::Syntax { path, line, message } => format!(
                "{}, regel {line}: {}; verbeter die regel (docs/wijkpost.md toont de sleutels)",
                path.display(),
                dutch_syntax(message)
            ),
            ConfigError::NoData => "geen gegevensmap: geef --data MAP of zet data = \"/var/lib/wijkpost\" in het \
                                    configuratiebestand"
                .to_string(),
            ConfigError::KTooSmall { k, from } => {
                format!("k = {k} ({from}) is te klein: k-anonimiteit vraagt k >= {MIN_K}; zet k op {MIN_K} of meer")
            }
            ConfigError::TlsHalf => {
                "web.tls_cert en web.tls_key horen samen: geef beide (of geen van beide, op loopback)".to_string()
            }
            ConfigError::NoBurst { from } => format!(
                "agent_burst = 0 ({from}) laat niets door: zet het op 1 of meer (of agent_rate = 0 voor geen grens)"
            ),
            ConfigError::Store(StoreError::BadUrl(u)) => {
                format!("databank {u:?} niet begrepen: gebruik sqlite:PAD of postgres://GEBRUIKER@HOST/DB")
            }
            ConfigError::Store(e) => e.to_string(),
        }
    }

    /// In `lang`, on one line (for a log line).
    pub fn describe(&self, lang: Lang) -> String {
        match lang {
            Lang::Nl => self.dutch(),
            Lang::En => self.to_string(),
        }
    }
}

/// The parser's words for the errors met most, in Dutch; other messages stay as they are.
fn dutch_syntax(message: &str) -> String {
    match message.strip_prefix("unknown field ") {
        Some(rest) => match rest.split_once(", expected ") {
            Some((key, expected)) => {
                let allowed = expected.strip_prefix("one of ").unwrap_or(expected);
                format!("onbekende sleutel {key} (toegelaten: {allowed})")
            }
            None => format!("onbekende sleutel {rest}"),
        },
        None => message.to_string(),
    }
}

/// Reads and parses the file at `path`.
pub fn read(path: &Path) -> Result<File, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    from_toml(&text, path)
}

/// Parses a config file's text (`path` only names it in errors).
pub fn from_toml(text: &str, path: &Path) -> Result<File, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let message = e.message().trim().replace('\n', " ");
        ConfigError::Syntax { path: path.into(), line, message }
    })
}

/// The settings of `serve`: `args.config` read if given, the flags over it, the defaults under it.
pub fn resolve(args: &ServeArgs) -> Result<Settings, ConfigError> {
    let file = match &args.config {
        Some(path) => Some((path.as_path(), read(path)?)),
        None => None,
    };
    combine(args, file)
}

/// [`resolve`] with the file already read: `file` is its path and contents.
pub fn combine(args: &ServeArgs, file: Option<(&Path, File)>) -> Result<Settings, ConfigError> {
    let (path, f) = match file {
        Some((p, f)) => (Some(p), f),
        None => (None, File::default()),
    };
    let base = path.and_then(Path::parent).unwrap_or(Path::new(""));
    let in_file = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
    let data = args.data.clone().or(f.data.map(in_file)).ok_or(ConfigError::NoData)?;
    let database = match (&args.database, f.database) {
        (Some(url), _) => Some(url.clone()),
        (None, Some(url)) => Some(match url.strip_prefix("sqlite:") {
            Some(p) if !p.is_empty() => format!("sqlite:{}", in_file(PathBuf::from(p)).display()),
            _ => url,
        }),
        (None, None) => None,
    };
    let k = match (args.k, f.k) {
        (Some(k), _) => k,
        (None, Some(k)) if k < MIN_K => {
            let from = path.map_or("config".to_string(), |p| p.display().to_string());
            return Err(ConfigError::KTooSmall { k, from });
        }
        (None, Some(k)) => k,
        (None, None) => DEFAULT_K,
    };
    let cert = args.web_tls_cert.clone().or(f.web.tls_cert.map(in_file));
    let key = args.web_tls_key.clone().or(f.web.tls_key.map(in_file));
    let web_tls = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err(ConfigError::TlsHalf),
    };
    let budget = Budget {
        rate: args.agent_rate.or(f.mqtt.agent_rate).unwrap_or(throttle::DEFAULT_RATE),
        burst: args.agent_burst.or(f.mqtt.agent_burst).unwrap_or(throttle::DEFAULT_BURST),
    };
    if budget.rate > 0 && budget.burst == 0 {
        let from = match (args.agent_burst, path) {
            (Some(_), _) => "--agent-burst".to_string(),
            (None, Some(p)) => p.display().to_string(),
            (None, None) => "config".to_string(),
        };
        return Err(ConfigError::NoBurst { from });
    }
    let serve = ServeConfig {
        database: StoreConfig::parse(database.as_deref(), &data)?,
        data_dir: data,
        web: args.web.or(f.web.listen).unwrap_or_else(|| default_addr(DEFAULT_WEB)),
        web_tls,
        mqtt: args.mqtt.or(f.mqtt.listen).unwrap_or_else(|| default_addr(DEFAULT_MQTT)),
        external_broker: args.external_broker.clone().or(f.mqtt.broker),
        instance: args.instance.clone().or(f.mqtt.instance).unwrap_or_else(|| DEFAULT_INSTANCE.to_string()),
        broker_public: args.broker_public.clone().or(f.mqtt.public),
        server_names: if args.server_name.is_empty() {
            f.mqtt.server_names.unwrap_or_default()
        } else {
            args.server_name.clone()
        },
        trends: crate::trends::Options { k, ..Default::default() },
        budget,
    };
    Ok(Settings { serve, lang: f.lang.map(Lang::from), file: path.map(Path::to_path_buf) })
}

fn default_addr(text: &str) -> SocketAddr {
    text.parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// A changed key that only a restart applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsRestart {
    /// The key's name in the file.
    pub key: &'static str,
    /// The value in force.
    pub running: String,
    /// The value in the file.
    pub wanted: String,
}

/// The keys whose value differs between the running and the newly read settings and that a
/// running service cannot change (addresses, database, broker, data directory).
pub fn restart_keys(running: &ServeConfig, wanted: &ServeConfig) -> Vec<NeedsRestart> {
    fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
        v.as_ref().map_or_else(|| "(none)".to_string(), T::to_string)
    }
    let tls = |t: &Option<(PathBuf, PathBuf)>| {
        t.as_ref().map_or_else(|| "(none)".to_string(), |(c, k)| format!("{} + {}", c.display(), k.display()))
    };
    let budget = |b: &Budget| b.describe();
    let pairs: [(&'static str, bool, String, String); 10] = [
        (
            "data",
            running.data_dir != wanted.data_dir,
            running.data_dir.display().to_string(),
            wanted.data_dir.display().to_string(),
        ),
        ("database", running.database != wanted.database, running.database.describe(), wanted.database.describe()),
        ("web.listen", running.web != wanted.web, running.web.to_string(), wanted.web.to_string()),
        ("web.tls_cert/web.tls_key", running.web_tls != wanted.web_tls, tls(&running.web_tls), tls(&wanted.web_tls)),
        ("mqtt.listen", running.mqtt != wanted.mqtt, running.mqtt.to_string(), wanted.mqtt.to_string()),
        (
            "mqtt.broker",
            running.external_broker != wanted.external_broker,
            opt(&running.external_broker),
            opt(&wanted.external_broker),
        ),
        ("mqtt.instance", running.instance != wanted.instance, running.instance.clone(), wanted.instance.clone()),
        (
            "mqtt.public",
            running.broker_public != wanted.broker_public,
            opt(&running.broker_public),
            opt(&wanted.broker_public),
        ),
        (
            "mqtt.server_names",
            running.server_names != wanted.server_names,
            format!("{:?}", running.server_names),
            format!("{:?}", wanted.server_names),
        ),
        (
            "mqtt.agent_rate/mqtt.agent_burst",
            running.budget != wanted.budget,
            budget(&running.budget),
            budget(&wanted.budget),
        ),
    ];
    pairs
        .into_iter()
        .filter(|(_, changed, _, _)| *changed)
        .map(|(key, _, running, wanted)| NeedsRestart { key, running, wanted })
        .collect()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
