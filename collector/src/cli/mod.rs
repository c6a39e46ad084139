//! The `wijkpost` command line: argument definitions and dispatch, one file per command.
//!
//! Exit codes: 0 done (for `serve`: stopped by SIGTERM or Ctrl-C); 1 error; 2 usage error (clap).

mod demo_cmd;
mod serve_cmd;
mod token_cmd;
mod user_cmd;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::i18n::Lang;
use crate::org::{Province, Sector, SizeClass};

/// wijkpost — centrale collector voor wijkagent-samenvattingen (VVSG).
/// (sector collector for wijkagent summaries)
#[derive(Debug, Parser)]
#[command(name = "wijkpost", version, about, long_about = None)]
pub struct Cli {
    /// Taal van de uitvoer / output language.
    #[arg(long, global = true, value_enum, default_value_t = Lang::Nl, env = "WIJKPOST_LANG")]
    pub lang: Lang,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Maakt een eenmalig inschrijvingstoken voor een organisatie / issues a one-time enrollment token.
    Token(TokenArgs),
    /// Draait wijkpost: broker, ontvangst, inschrijving en dashboard / runs the service.
    Serve(ServeArgs),
    /// Alles op deze machine in één opdracht: wijkpost, een agent die zich inschrijft, deze machine
    /// scant en zijn samenvatting stuurt, en het dashboard / the whole pipeline on this machine.
    Demo(DemoArgs),
    /// Beheert gebruikers van het dashboard / manages dashboard users.
    #[command(subcommand)]
    User(UserCommand),
}

/// `wijkpost demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Gegevensmap van de demo / the demo's data directory.
    #[arg(long, default_value = "wijkpost-demo")]
    pub data: PathBuf,
    /// Adres van het dashboard / dashboard address (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub web: SocketAddr,
    /// Adres van de ingebouwde broker / embedded broker address (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8883")]
    pub mqtt: SocketAddr,
    /// Het wijkagent-programma (standaard: naast wijkpost, anders in PATH) / the wijkagent program.
    #[arg(long, env = "WIJKAGENT_BIN")]
    pub agent: Option<PathBuf>,
}

/// `wijkpost user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Maakt een gebruiker; wachtwoord via stdin of WIJKPOST_PASSWORD / adds a user; the password
    /// comes from stdin (first line) or the WIJKPOST_PASSWORD environment variable, never an argument.
    Add(UserAddArgs),
    /// Toont de gebruikers / lists the users.
    List(UserDbArgs),
    /// Schakelt een gebruiker uit (sessies stoppen) / disables a user (their sessions end).
    Disable(UserNameArgs),
}

/// Where the users are.
#[derive(Debug, Args)]
pub struct UserDbArgs {
    /// Gegevensmap / data directory.
    #[arg(long)]
    pub data: PathBuf,
    /// Databank / database: sqlite:PATH (standaard / default DATA/wijkpost.db) of / or postgres://…
    #[arg(long)]
    pub database: Option<String>,
}

/// `wijkpost user add ...`
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// Gegevensmap en databank / data directory and database.
    #[command(flatten)]
    pub db: UserDbArgs,
    /// Gebruikersnaam (a-z, 0-9, . _ -) / user name.
    #[arg(long)]
    pub name: String,
    /// Rol / role: admin, analyst.
    #[arg(long)]
    pub role: crate::users::Role,
}

/// `wijkpost user disable ...`
#[derive(Debug, Args)]
pub struct UserNameArgs {
    /// Gegevensmap en databank / data directory and database.
    #[command(flatten)]
    pub db: UserDbArgs,
    /// Gebruikersnaam / user name.
    #[arg(long)]
    pub name: String,
}

/// `wijkpost token ...`
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Gegevensmap (CA, SQLite-databank) / data directory.
    #[arg(long)]
    pub data: PathBuf,
    /// Naam van de organisatie / organisation name.
    #[arg(long)]
    pub org: String,
    /// Sector: gemeente, ocmw, politiezone, intercommunale, andere.
    #[arg(long)]
    pub sector: Sector,
    /// Inwoners / inhabitants: 0-10k, 10k-25k, 25k-50k, 50k-100k, 100k+.
    #[arg(long)]
    pub size_class: SizeClass,
    /// Provincie / province: antwerpen, limburg, oost-vlaanderen, vlaams-brabant, west-vlaanderen, brussel.
    #[arg(long)]
    pub province: Province,
    /// Dagen geldig (0: verloopt meteen) / days valid (0: expires at once).
    #[arg(long, default_value_t = 7)]
    pub valid_days: u32,
    /// Databank / database: sqlite:PATH (standaard / default DATA/wijkpost.db) of / or postgres://…
    #[arg(long)]
    pub database: Option<String>,
}

/// `wijkpost serve ...`: every flag also has a key in the `--config` file (see [`crate::config`]);
/// a flag given here wins over the file.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuratiebestand (TOML; SIGHUP leest het opnieuw) / config file (TOML; SIGHUP re-reads it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Gegevensmap (CA, SQLite-databank); verplicht zonder `data` in --config / data directory
    /// (required unless the config file gives `data`).
    #[arg(long, required_unless_present = "config")]
    pub data: Option<PathBuf>,
    /// Adres voor inschrijving en web (poort 0: vrij te kiezen) / web address (port 0: any free port)
    /// [standaard / default: 127.0.0.1:8080].
    #[arg(long)]
    pub web: Option<SocketAddr>,
    /// TLS-certificaat (PEM), verplicht buiten loopback / TLS certificate, required off loopback.
    #[arg(long, requires = "web_tls_key")]
    pub web_tls_cert: Option<PathBuf>,
    /// TLS-sleutel (PEM) / TLS key.
    #[arg(long, requires = "web_tls_cert")]
    pub web_tls_key: Option<PathBuf>,
    /// Databank / database: sqlite:PATH (standaard / default DATA/wijkpost.db) of / or postgres://…
    #[arg(long)]
    pub database: Option<String>,
    /// Adres van de ingebouwde MQTT-broker (TLS, clientcertificaten; poort 0: vrij te kiezen) /
    /// address of the embedded MQTT broker (TLS, client certificates; port 0: any free port)
    /// [standaard / default: 127.0.0.1:8883].
    #[arg(long)]
    pub mqtt: Option<SocketAddr>,
    /// Externe broker (Mosquitto, EMQX) i.p.v. de ingebouwde / external broker instead of the
    /// embedded one: mqtts://HOST:PORT.
    #[arg(long = "broker")]
    pub external_broker: Option<String>,
    /// Naam van deze instantie op een externe broker / this instance's name on an external broker
    /// [standaard / default: 1].
    #[arg(long)]
    pub instance: Option<String>,
    /// Brokeradres dat agenten krijgen (standaard: dat van --mqtt of --broker) / broker address given
    /// to agents (default: the --mqtt or --broker address).
    #[arg(long)]
    pub broker_public: Option<String>,
    /// Extra naam voor het servercertificaat (herhaalbaar) / extra server certificate name (repeatable).
    #[arg(long)]
    pub server_name: Vec<String>,
    /// k van k-anonimiteit: geen cijfer waar minder organisaties aan bijdragen (minstens 3) / k of
    /// k-anonymity: no figure fewer organisations contribute to (at least 3) [standaard / default: 5].
    #[arg(long)]
    pub k: Option<u32>,
    /// Samenvattingen per seconde per agent; meer wordt ongelezen gedropt (0: geen grens) / summary
    /// messages per second per agent; more are dropped unread (0: no budget) [standaard / default: 10].
    #[arg(long)]
    pub agent_rate: Option<u32>,
    /// Samenvattingen in één keer per agent na een stille periode / messages at once per agent after
    /// a quiet spell [standaard / default: 500].
    #[arg(long)]
    pub agent_burst: Option<u32>,
}

/// Runs the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Token(args) => token_cmd::run(args, cli.lang),
        Command::Serve(args) => serve_cmd::run(args, cli.lang),
        Command::Demo(args) => demo_cmd::run(args, cli.lang),
        Command::User(cmd) => user_cmd::run(cmd, cli.lang),
    }
}

/// A Dutch explanation of the errors an operator meets most, for `--lang nl`; `None` where the
/// English message is all there is.
pub fn explain(err: &anyhow::Error, lang: Lang) -> Option<String> {
    use crate::config::ConfigError;
    use crate::serve::ServeError;
    use crate::store::StoreError;
    use crate::web::WebError;
    if lang == Lang::En {
        return None;
    }
    let store = |e: &StoreError| match e {
        StoreError::TooNew { found, known } => Some(format!(
            "de databank staat op schemaversie {found}, deze wijkpost kent tot {known}: gebruik de nieuwere \
             wijkpost, of zet een back-up van voor de upgrade terug"
        )),
        StoreError::BadUrl(u) => {
            Some(format!("databank {u:?} niet begrepen: gebruik sqlite:PAD of postgres://GEBRUIKER@HOST/DB"))
        }
        _ => None,
    };
    let web = |e: &WebError| match e {
        WebError::NeedsTls(addr) => Some(format!(
            "{addr} is geen loopbackadres: gewone HTTP zou inschrijvingsgeheimen over het netwerk sturen; geef \
             --web-tls-cert en --web-tls-key, of luister op 127.0.0.1 / [::1] achter een TLS-proxy"
        )),
        WebError::Bind { addr, source } => Some(format!("kan niet luisteren op {addr}: {source}")),
        _ => None,
    };
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<ConfigError>() {
            return Some(e.dutch());
        }
        if let Some(e) = cause.downcast_ref::<StoreError>() {
            return store(e);
        }
        if let Some(e) = cause.downcast_ref::<WebError>() {
            return web(e);
        }
        match cause.downcast_ref::<ServeError>() {
            Some(ServeError::Store(e)) => return store(e),
            Some(ServeError::Web(e)) => return web(e),
            Some(ServeError::BadBrokerUrl(u)) => {
                return Some(format!("--broker-public {u:?} is geen mqtts://HOST:POORT"))
            }
            _ => {}
        }
    }
    None
}
