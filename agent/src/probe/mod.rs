//! Service identification: what runs on an open port, its product and version, and what it gives
//! away. One file per protocol, dispatched in one place ([`Prober`]); every probe works through
//! [`io`], which enforces a time limit and a byte limit, so a server that never answers, drips bytes,
//! or floods megabytes costs at most those limits.
//!
//! A probe reports a [`ServiceInfo`]: names, details and [`Observation`]s. An observation names a
//! weakness id of the catalog (`rules/`) with the evidence that shows it, in Dutch and English
//! ([`Said`]: the report shows the one of its language); the rules turn observations,
//! service names and versions into findings. TLS is analysed by [`crate::tls`], called from the
//! probes of TLS ports and of protocols with STARTTLS. The tests of every probe (and of the TLS
//! analysis) talk to tiny loopback servers from one kit, `fake` (test builds only).

#[cfg(test)]
pub(crate) mod fake;
pub mod io;

pub mod amqp;
pub mod banner;
pub mod ftp;
pub mod http;
pub mod ldap;
pub mod mail;
pub mod mongodb;
pub mod mqtt;
pub mod mssql;
pub mod mysql;
pub mod nats;
pub mod ntp;
pub mod ot;
pub mod postgres;
pub mod rdp;
pub mod redis;
pub mod smb;
pub mod snmp;
pub mod ssdp;
pub mod ssh;
pub mod telnet;
pub mod vnc;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::i18n::Said;
use crate::ports::{self, Proto};
use io::{ProbeError, Session};

/// One open port to identify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Address and port.
    pub addr: SocketAddr,
    /// TCP or UDP.
    pub proto: Proto,
    /// A DNS name for the host, when one is known (TLS name checks); none from a plain scan.
    pub hostname: Option<String>,
    /// The scan runs the standard profile or wider: HTTP may ask a short list of admin paths.
    pub deep: bool,
    /// The consent allows identification requests to building controls (Modbus, BACnet, S7).
    pub ot_allowed: bool,
}

/// Bounds of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to set up one connection.
    pub connect: Duration,
    /// Time for the whole probe (all its connections and reads).
    pub deadline: Duration,
    /// Bytes read from the server at most, over the whole probe.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { connect: Duration::from_secs(3), deadline: Duration::from_secs(10), max_bytes: 64 * 1024 }
    }
}

/// A weakness seen, with its evidence. `weakness` is a catalog id such as `ftp-anonymous-login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Catalog weakness id.
    pub weakness: String,
    /// What was seen, for the report (short, no secrets), in Dutch and English: the report shows
    /// the one of its language.
    pub evidence: Said,
}

impl Observation {
    /// An observation of `weakness` with its evidence in Dutch (`nl`) and English (`en`).
    pub fn new(weakness: &str, nl: impl Into<String>, en: impl Into<String>) -> Observation {
        Observation::said(weakness, Said::new(nl, en))
    }

    /// An observation of `weakness` with `evidence` already in both languages.
    pub fn said(weakness: &str, evidence: Said) -> Observation {
        Observation { weakness: weakness.to_string(), evidence }
    }
}

/// What identification learnt about one open port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// Service name (`ssh`, `http`, `smb`, ...), from the protocol when identified, else the port list.
    pub service: Option<String>,
    /// Product (`OpenSSH`, `nginx`, `vsftpd`, ...).
    pub product: Option<String>,
    /// Version as the product states it (`9.2p1`, `1.22.1`).
    pub version: Option<String>,
    /// Details worth showing (banner, HTTP title, SMB dialects, sysDescr, ...), sanitised text.
    pub details: BTreeMap<String, String>,
    /// Weaknesses seen.
    pub observations: Vec<Observation>,
    /// TLS analysis, for TLS services and STARTTLS.
    pub tls: Option<crate::tls::TlsReport>,
    /// Why identification stopped early, if it did (`timeout`, `byte-limit`, `refused`, `reset`,
    /// `not-probed: printer port`, ...).
    pub note: Option<String>,
}

impl ServiceInfo {
    /// Only the name, nothing learnt (yet).
    pub fn named(service: &str) -> ServiceInfo {
        ServiceInfo { service: Some(service.to_string()), ..Default::default() }
    }

    /// Named as the port list names `target`'s port, else `fallback`.
    pub fn for_port(target: &Target, fallback: &str) -> ServiceInfo {
        ServiceInfo::named(ports::service_name(target.addr.port(), target.proto).unwrap_or(fallback))
    }

    /// Records an observation of `weakness`, its evidence in Dutch (`nl`) and English (`en`).
    pub fn observe(&mut self, weakness: &str, nl: impl Into<String>, en: impl Into<String>) {
        self.observations.push(Observation::new(weakness, nl, en));
    }

    /// Records an observation whose evidence is already in both languages.
    pub fn observe_said(&mut self, weakness: &str, evidence: Said) {
        self.observations.push(Observation::said(weakness, evidence));
    }

    /// Records a detail, sanitised ([`io::sanitize`]) and cut to 200 characters.
    pub fn detail(&mut self, key: &str, value: &str) {
        self.details.insert(key.to_string(), io::sanitize(value, 200));
    }
}

/// Connects to `target` and hands the session to `converse`, which fills `info`; whatever stops
/// either becomes `info.note`, and then the answer is `None`. The preamble of every probe that has
/// one conversation over one plain TCP connection.
pub(crate) async fn over_connection<T>(
    target: &Target,
    limits: &Limits,
    info: &mut ServiceInfo,
    converse: impl AsyncFnOnce(Session, &mut ServiceInfo) -> Result<T, ProbeError>,
) -> Option<T> {
    let result = match Session::connect(target, limits).await {
        Ok(session) => converse(session, info).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            info.note = Some(e.note());
            None
        }
    }
}

/// Every protocol probe, dispatched in [`Prober::identify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prober {
    /// SSH.
    Ssh,
    /// HTTP, or HTTPS when `tls`.
    Http {
        /// Speak TLS first.
        tls: bool,
    },
    /// FTP (with AUTH TLS).
    Ftp,
    /// Telnet.
    Telnet,
    /// SMTP, POP3, IMAP (STARTTLS), or their implicit-TLS ports.
    Mail(mail::MailKind),
    /// SMB.
    Smb,
    /// RDP.
    Rdp,
    /// MySQL / MariaDB.
    Mysql,
    /// PostgreSQL.
    Postgres,
    /// Microsoft SQL Server.
    Mssql,
    /// Redis.
    Redis,
    /// MongoDB.
    Mongodb,
    /// Elasticsearch.
    Elasticsearch,
    /// MQTT (or MQTT over TLS).
    Mqtt {
        /// Speak TLS first.
        tls: bool,
    },
    /// AMQP.
    Amqp,
    /// NATS.
    Nats,
    /// VNC.
    Vnc,
    /// LDAP (StartTLS) or LDAPS.
    Ldap {
        /// Speak TLS first.
        tls: bool,
    },
    /// SNMP (UDP).
    Snmp,
    /// NTP (UDP).
    Ntp,
    /// SSDP / UPnP (UDP).
    Ssdp,
    /// Building controls: Modbus, BACnet, S7 (open port only unless the consent allows more).
    Ot,
    /// Printer ports: open port only, never sent data.
    Printer,
    /// Anything else: wait for a banner, recognise it if possible.
    Banner,
}

impl Prober {
    /// The probe for an open port, by its likely service (from the port list) and number.
    pub fn for_port(port: u16, proto: Proto) -> Prober {
        if ports::is_printer_port(port) {
            return Prober::Printer;
        }
        if ports::is_ot_port(port, proto) {
            return Prober::Ot;
        }
        let service = ports::service_name(port, proto).unwrap_or("");
        match (proto, service, port) {
            (Proto::Udp, "snmp", _) => Prober::Snmp,
            (Proto::Udp, "ntp", _) => Prober::Ntp,
            (Proto::Udp, "ssdp", _) => Prober::Ssdp,
            (Proto::Udp, _, _) => Prober::Banner,
            (_, "ssh", _) => Prober::Ssh,
            (_, "ftp", _) => Prober::Ftp,
            (_, "telnet", _) => Prober::Telnet,
            (_, "smtp" | "submission", _) => Prober::Mail(mail::MailKind::Smtp),
            (_, "smtps", _) => Prober::Mail(mail::MailKind::Smtps),
            (_, "pop3", _) => Prober::Mail(mail::MailKind::Pop3),
            (_, "pop3s", _) => Prober::Mail(mail::MailKind::Pop3s),
            (_, "imap", _) => Prober::Mail(mail::MailKind::Imap),
            (_, "imaps", _) => Prober::Mail(mail::MailKind::Imaps),
            (_, "microsoft-ds" | "smb", _) | (_, _, 445) => Prober::Smb,
            (_, _, 3389) => Prober::Rdp,
            (_, "mysql", _) => Prober::Mysql,
            (_, "postgresql", _) | (_, _, 5432) => Prober::Postgres,
            (_, "mssql" | "ms-sql-s", _) | (_, _, 1433) => Prober::Mssql,
            (_, "redis", _) => Prober::Redis,
            (_, "mongodb", _) => Prober::Mongodb,
            (_, "elasticsearch", _) | (_, _, 9200) => Prober::Elasticsearch,
            (_, "mqtt", _) => Prober::Mqtt { tls: false },
            (_, "mqtts" | "secure-mqtt", _) | (_, _, 8883) => Prober::Mqtt { tls: true },
            (_, "amqp", _) => Prober::Amqp,
            (_, "nats", _) => Prober::Nats,
            (_, _, 5900..=5903) => Prober::Vnc,
            (_, "ldap", _) => Prober::Ldap { tls: false },
            (_, "ldaps", _) => Prober::Ldap { tls: true },
            (_, s, _) if s.starts_with("https") || s.ends_with("-tls") || s.ends_with("s-web") => {
                Prober::Http { tls: true }
            }
            (_, _, 443 | 8443 | 9443 | 4443 | 5001 | 5986 | 8006 | 10443) => Prober::Http { tls: true },
            (_, s, _) if s.starts_with("http") || s.contains("web") => Prober::Http { tls: false },
            _ => Prober::Banner,
        }
    }

    /// Identifies `target` within `limits`.
    pub async fn identify(self, target: &Target, limits: &Limits) -> ServiceInfo {
        let budget = limits.deadline + limits.connect;
        let run = async {
            match self {
                Prober::Ssh => ssh::identify(target, limits).await,
                Prober::Http { tls } => http::identify(target, limits, tls).await,
                Prober::Ftp => ftp::identify(target, limits).await,
                Prober::Telnet => telnet::identify(target, limits).await,
                Prober::Mail(kind) => mail::identify(target, limits, kind).await,
                Prober::Smb => smb::identify(target, limits).await,
                Prober::Rdp => rdp::identify(target, limits).await,
                Prober::Mysql => mysql::identify(target, limits).await,
                Prober::Postgres => postgres::identify(target, limits).await,
                Prober::Mssql => mssql::identify(target, limits).await,
                Prober::Redis => redis::identify(target, limits).await,
                Prober::Mongodb => mongodb::identify(target, limits).await,
                Prober::Elasticsearch => http::identify_elasticsearch(target, limits).await,
                Prober::Mqtt { tls } => mqtt::identify(target, limits, tls).await,
                Prober::Amqp => amqp::identify(target, limits).await,
                Prober::Nats => nats::identify(target, limits).await,
                Prober::Vnc => vnc::identify(target, limits).await,
                Prober::Ldap { tls } => ldap::identify(target, limits, tls).await,
                Prober::Snmp => snmp::identify(target, limits).await,
                Prober::Ntp => ntp::identify(target, limits).await,
                Prober::Ssdp => ssdp::identify(target, limits).await,
                Prober::Ot => ot::identify(target, limits).await,
                Prober::Printer => {
                    let mut info = ServiceInfo::for_port(target, "printer");
                    info.note = Some("not-probed: printer port".into());
                    info
                }
                Prober::Banner => banner::identify(target, limits).await,
            }
        };
        // A last guard: whatever a probe does, it cannot outlive its budget (plus a little for TLS).
        match tokio::time::timeout(budget * 2, run).await {
            Ok(info) => info,
            Err(_) => ServiceInfo { note: Some("timeout".into()), ..ServiceInfo::default() },
        }
    }
}
