//! The `wijkagent` command line: argument definitions and dispatch to one file per command group.
//!
//! Exit codes: 0 done; 1 error (I/O, audit log, sockets); 2 usage error (from clap); 3 refused by
//! the consent (one line on stderr says what and what to do); 130 interrupted (Ctrl-C, SIGTERM, or the
//! consent window closed; the partial report is written and marked incomplete).

mod audit_cmd;
mod consent_cmd;
mod report_cmd;
mod scan_cmd;
mod service_cmd;
mod uplink_cmd;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::i18n::Lang;
use crate::ports::{self, PortList, Profile};
use crate::progress::ProgressStyle;

/// Exit code for a refusal by the consent.
pub const EXIT_REFUSED: i32 = 3;
/// Exit code for an interrupted scan.
pub const EXIT_INTERRUPTED: i32 = 130;

/// wijkagent — netwerkscanner voor lokale besturen, enkel binnen een ondertekende toestemming.
/// (network scanner for local governments, only within a signed consent)
#[derive(Debug, Parser)]
#[command(name = "wijkagent", version, about, long_about = None)]
pub struct Cli {
    /// Taal van de uitvoer / output language.
    #[arg(long, global = true, value_enum, default_value_t = Lang::Nl, env = "WIJKAGENT_LANG")]
    pub lang: Lang,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Toestemming: sleutels, sjabloon, ondertekenen, nakijken / consent: keys, template, sign, verify.
    Consent {
        /// Consent subcommand.
        #[command(subcommand)]
        cmd: ConsentCmd,
    },
    /// Scannen binnen de toestemming / scan within the consent.
    Scan(ScanArgs),
    /// Toont de poorten van een profiel en waarom ze erin staan / lists a profile's ports and why.
    Ports {
        /// Profiel / profile (quick, standard, full).
        #[arg(long, value_parser = parse_profile, default_value = "quick")]
        profile: Profile,
        /// Enkel de nummers, kommagescheiden, bruikbaar als --ports of voor nmap -p / numbers only.
        #[arg(long)]
        list: bool,
    },
    /// Auditlog / audit log.
    Audit {
        /// Audit subcommand.
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Toont exact wat naar wijkpost zou gaan / prints exactly what would be sent to wijkpost.
    Summary {
        /// Het report.json / the report.json.
        report: PathBuf,
        /// Statusmap van de inschrijving: dan de ondertekende samenvatting met het volgende
        /// volgnummer / enrollment state directory: then the signed summary with the next seq.
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Schrijft deze agent in bij wijkpost met een eenmalig token / enrolls this agent at wijkpost.
    Enroll {
        /// Adres van wijkpost, bv. http://127.0.0.1:8080 / wijkpost's address.
        #[arg(long)]
        collector: String,
        /// Eenmalig token van VVSG (wijk1.…) / one-time token from VVSG.
        #[arg(long, env = "WIJKAGENT_TOKEN", hide_env_values = true)]
        token: String,
        /// Statusmap voor sleutels, certificaten en outbox / state directory.
        #[arg(long)]
        state: PathBuf,
    },
    /// Zet de samenvatting van een rapport in de outbox en verstuurt de outbox / queues a report's
    /// summary and delivers the outbox.
    Push {
        /// Statusmap van de inschrijving / enrollment state directory.
        #[arg(long)]
        state: PathBuf,
        /// Het report.json (zonder: enkel de outbox versturen) / the report.json (none: outbox only).
        report: Option<PathBuf>,
        /// Hoe lang wachten op ontvangstbewijzen, in seconden / how long to wait for receipts.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Auditlog (zie `audit verify --help`) / audit log path.
        #[arg(long)]
        audit_log: Option<PathBuf>,
    },
    /// Draait als dienst: scant volgens schema binnen de vensters van de toestemming, bewaart
    /// rapporten, verstuurt samenvattingen; SIGHUP herleest, SIGTERM stopt / runs as a service.
    Run {
        /// Configuratiebestand / configuration file.
        #[arg(long, default_value = "/etc/wijkagent/agent.toml")]
        config: PathBuf,
        /// Meteen een scan (in het eerstvolgende venster), niet pas op het schema / scan at once
        /// (in the next window) instead of waiting for the schedule.
        #[arg(long)]
        now: bool,
    },
    /// Toont wat de dienst doet: toestemming, vensters, scans, outbox, wijkpost / shows what the
    /// service does: consent, windows, scans, outbox, wijkpost.
    Status {
        /// Configuratiebestand / configuration file.
        #[arg(long, default_value = "/etc/wijkagent/agent.toml")]
        config: PathBuf,
        /// Machineleesbaar (schema wijkagent.status/1) / machine-readable output.
        #[arg(long)]
        json: bool,
        /// Niet verbinden met wijkpost / do not connect to wijkpost.
        #[arg(long)]
        offline: bool,
    },
    /// Rapporten vergelijken / compare reports.
    Report {
        /// Report subcommand.
        #[command(subcommand)]
        cmd: ReportCmd,
    },
}

/// `wijkagent report ...`
#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// Maakt report.html en findings.csv opnieuw uit report.json, in --lang / re-renders report.html
    /// and findings.csv from report.json, in --lang.
    Render {
        /// Het report.json / the report.json.
        report: PathBuf,
        /// Map voor de uitvoer (standaard: die van report.json) / output directory (default: beside it).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Wat veranderde tussen twee scans / what changed between two scans (exit 1: unreadable report).
    Diff {
        /// Het oude report.json / the old report.json.
        old: PathBuf,
        /// Het nieuwe report.json / the new report.json.
        new: PathBuf,
        /// Machineleesbaar (schema wijkagent.report-diff/1) / machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// `wijkagent consent ...`
#[derive(Debug, Subcommand)]
pub enum ConsentCmd {
    /// Maakt een Ed25519-sleutelpaar: DIR/consent.key (0600) en DIR/consent.pub / makes a key pair.
    Keygen {
        /// Map voor de sleutels / directory for the keys.
        #[arg(long)]
        out: PathBuf,
    },
    /// Drukt een becommentarieerd sjabloon voor scope.toml af / prints a commented scope.toml template.
    Init,
    /// Ondertekent het bestand en schrijft FILE.sig / signs the file, writes FILE.sig.
    Sign {
        /// Het scopebestand / the scope file.
        file: PathBuf,
        /// Geheime sleutel / secret key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Controleert handtekening, geldigheid, bereik en vensters / checks signature, validity, scope, windows.
    Verify {
        /// Het scopebestand / the scope file.
        file: PathBuf,
        /// Vertrouwde publieke sleutel(s) / trusted public key(s); repeat for several.
        #[arg(long, required = true)]
        trust: Vec<PathBuf>,
    },
}

/// `wijkagent audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Controleert de hashketen van de auditlog / verifies the audit log's hash chain.
    Verify {
        /// Auditlog (standaard / default: $WIJKAGENT_AUDIT_LOG, /var/lib/wijkagent/audit.log, or
        /// ~/.local/state/wijkagent/audit.log).
        #[arg(long)]
        log: Option<PathBuf>,
    },
}

/// `wijkagent scan ...`
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Ondertekend scopebestand (met SCOPE.sig ernaast) / signed scope file (SCOPE.sig beside it).
    #[arg(long, required_unless_present = "self_scan")]
    pub scope: Option<PathBuf>,
    /// Vertrouwde publieke sleutel(s) / trusted public key(s); repeat for several.
    #[arg(long, required_unless_present = "self_scan")]
    pub trust: Vec<PathBuf>,
    /// Enkel deze machine via loopback (127.0.0.1, ::1), zonder toestemmingsbestand / this machine's
    /// loopback only, no consent file needed.
    #[arg(long = "self", id = "self_scan", conflicts_with_all = ["scope", "trust"])]
    pub self_scan: bool,
    /// Map voor report.json / directory for report.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Statusmap van `enroll`: het laatste advies van wijkpost komt in het rapport / state directory
    /// of `enroll`: wijkpost's latest advice goes into the report ("how you compare").
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Poortprofiel (niet breder dan de toestemming) / port profile (not wider than the consent).
    #[arg(long, value_parser = parse_profile)]
    pub profile: Option<Profile>,
    /// Eigen poortlijst, bv. 22,80,8000-8100,U:161 / own port list (T: TCP default, U: UDP).
    #[arg(long, value_parser = parse_ports, conflicts_with = "profile")]
    pub ports: Option<PortList>,
    /// Pakketten per seconde in totaal (max: max_rate) / packets per second in total.
    #[arg(long)]
    pub rate: Option<u32>,
    /// Pakketten per seconde per host (max: max_per_host_rate) / packets per second per host.
    #[arg(long)]
    pub per_host_rate: Option<u32>,
    /// TCP-connect-scan, ook met rechten voor ruwe sockets / connect scan even when privileged.
    #[arg(long)]
    pub connect: bool,
    /// Enkel open poorten, geen dienstherkenning (zoals nmap -sS) / open ports only, no service
    /// identification.
    #[arg(long)]
    pub no_services: bool,
    /// Auditlog (zie `audit verify --help`) / audit log path.
    #[arg(long)]
    pub audit_log: Option<PathBuf>,
    /// Voortgang: auto (balk of regel per 10 s), json, none / progress display.
    #[arg(long, value_enum, default_value_t = ProgressStyle::Auto)]
    pub progress: ProgressStyle,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse::<Profile>().map_err(|e| e.to_string())
}

fn parse_ports(s: &str) -> Result<PortList, String> {
    ports::parse_port_spec(s).map_err(|e| e.to_string())
}

/// `wijkagent ports`: the ports of a profile, with their service and reason (or, with `--list`, the
/// numbers only: `T:1,2,…,U:53,…`, the `--ports` syntax).
fn ports_cmd(profile: Profile, list: bool, lang: Lang) {
    let p = ports::profile_ports(profile);
    if list {
        let tcp = p.tcp.iter().map(|n| n.to_string());
        let udp = p.udp.iter().map(|n| format!("U:{n}"));
        println!("{}", tcp.chain(udp).collect::<Vec<_>>().join(","));
        return;
    }
    for (proto, numbers) in [(ports::Proto::Tcp, &p.tcp), (ports::Proto::Udp, &p.udp)] {
        for &n in numbers {
            let why = match lang {
                Lang::Nl => ports::reason(n, proto),
                Lang::En => ports::reason_en(n, proto).or_else(|| ports::reason(n, proto)),
            };
            println!("{n}/{proto}\t{}\t{}", ports::service_name(n, proto).unwrap_or("-"), why.unwrap_or("-"));
        }
    }
}

/// Runs the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Consent { cmd } => consent_cmd::run(cmd, cli.lang),
        Command::Ports { profile, list } => {
            ports_cmd(profile, list, cli.lang);
            Ok(0)
        }
        Command::Audit { cmd: AuditCmd::Verify { log } } => audit_cmd::verify(log, cli.lang),
        Command::Scan(args) => scan_cmd::run(args, cli.lang),
        Command::Report { cmd } => report_cmd::run(cmd, cli.lang),
        Command::Run { config, now } => service_cmd::run(&config, now, cli.lang),
        Command::Status { config, json, offline } => service_cmd::status(&config, json, offline, cli.lang),
        Command::Summary { report, state } => uplink_cmd::summary(&report, state.as_deref(), cli.lang),
        Command::Enroll { collector, token, state } => uplink_cmd::enroll(&collector, &token, &state, cli.lang),
        Command::Push { state, report, timeout, audit_log } => {
            uplink_cmd::push(&state, report.as_deref(), std::time::Duration::from_secs(timeout), audit_log, cli.lang)
        }
    }
}
