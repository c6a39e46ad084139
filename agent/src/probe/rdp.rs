//! RDP identification (3389): which security protocols the server accepts, from the X.224
//! Connection Request / Confirm with RDP negotiation ([MS-RDPBCGR] 2.2.1.1, 2.2.1.2).
//!
//! 1. Request only standard RDP security (`PROTOCOL_RDP`). A server that confirms it lets anyone
//!    reach its logon screen before any authentication (and with RDP's own weak encryption):
//!    `rdp-nla-disabled`. An old server that confirms without negotiation data does the same.
//! 2. Request TLS or CredSSP (`PROTOCOL_SSL | PROTOCOL_HYBRID`): the protocol the server selects
//!    (HYBRID = Network Level Authentication available) is a detail.
//! 3. When step 1 was refused with "TLS required", request TLS alone: confirmed means NLA is not
//!    required either, which is `rdp-nla-disabled` too; "HYBRID required" means NLA is enforced.
//!
//! Each step is its own connection, closed right after the confirm: no MCS, no TLS, no logon.

use tokio::time::Instant;

use super::io::{ProbeError, Session};
use super::{Limits, ServiceInfo, Target};

/// Standard RDP security.
pub(crate) const PROTOCOL_RDP: u32 = 0x0;
/// TLS.
pub(crate) const PROTOCOL_SSL: u32 = 0x1;
/// CredSSP (NLA).
pub(crate) const PROTOCOL_HYBRID: u32 = 0x2;
/// Failure: the server requires TLS.
const SSL_REQUIRED_BY_SERVER: u32 = 1;
/// Failure: the server requires CredSSP.
const HYBRID_REQUIRED_BY_SERVER: u32 = 5;
/// Largest confirm accepted.
const MAX_TPDU: usize = 512;
/// The routing cookie, so that an administrator can tell the scanner in the logs.
const COOKIE: &[u8] = b"Cookie: mstshash=wijkagent\r\n";

/// The X.224 Connection Request with an RDP_NEG_REQ for `requested` protocols.
pub(crate) fn connection_request(requested: u32) -> Vec<u8> {
    let li = 6 + COOKIE.len() + 8;
    let total = 4 + 1 + li;
    let mut m = vec![0x03, 0x00]; // TPKT version 3, reserved
    m.extend_from_slice(&(total as u16).to_be_bytes()); // TPKT length
    m.push(li as u8); // X.224 length indicator
    m.push(0xe0); // CR, credit 0
    m.extend_from_slice(&[0x00, 0x00, 0x00, 0x00, 0x00]); // dst-ref, src-ref, class 0
    m.extend_from_slice(COOKIE);
    m.extend_from_slice(&[0x01, 0x00, 0x08, 0x00]); // RDP_NEG_REQ, flags 0, length 8
    m.extend_from_slice(&requested.to_le_bytes()); // requestedProtocols
    m
}

/// What an X.224 Connection Confirm said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Confirm {
    /// RDP_NEG_RSP: the selected protocol.
    Selected(u32),
    /// RDP_NEG_FAILURE: the failure code.
    Failure(u32),
    /// A confirm without negotiation data (servers before RDP 5.2): standard RDP security.
    Legacy,
}

/// Parses the TPDU after the TPKT header.
pub(crate) fn parse_confirm(tpdu: &[u8]) -> Result<Confirm, &'static str> {
    let li = usize::from(*tpdu.first().ok_or("empty X.224 TPDU")?);
    let code = *tpdu.get(1).ok_or("short X.224 TPDU")?;
    if code & 0xf0 != 0xd0 {
        return Err(if code & 0xf0 == 0x80 { "X.224 disconnect request" } else { "not an X.224 Connection Confirm" });
    }
    if li < 6 + 8 {
        return Ok(Confirm::Legacy);
    }
    let neg = tpdu.get(7..15).ok_or("short RDP negotiation data")?;
    let value = u32::from_le_bytes([neg[4], neg[5], neg[6], neg[7]]);
    match neg[0] {
        0x02 => Ok(Confirm::Selected(value)),
        0x03 => Ok(Confirm::Failure(value)),
        _ => Err("unknown RDP negotiation type"),
    }
}

/// `HYBRID (CredSSP/NLA)` for 2.
pub(crate) fn protocol_name(p: u32) -> &'static str {
    match p {
        PROTOCOL_RDP => "RDP (standaard RDP-beveiliging)",
        PROTOCOL_SSL => "SSL (TLS)",
        PROTOCOL_HYBRID => "HYBRID (CredSSP/NLA)",
        0x4 => "RDSTLS",
        0x8 => "HYBRID_EX (CredSSP/NLA)",
        0x10 => "RDSAAD",
        _ => "onbekend",
    }
}

/// `HYBRID_REQUIRED_BY_SERVER` for 5.
pub(crate) fn failure_name(code: u32) -> &'static str {
    match code {
        1 => "SSL_REQUIRED_BY_SERVER",
        2 => "SSL_NOT_ALLOWED_BY_SERVER",
        3 => "SSL_CERT_NOT_ON_SERVER",
        4 => "INCONSISTENT_FLAGS",
        5 => "HYBRID_REQUIRED_BY_SERVER",
        6 => "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
        _ => "onbekend",
    }
}

/// Identifies RDP on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::for_port(target, "rdp");
    if let Err(e) = run(target, limits, &mut info).await {
        info.note = Some(e.note());
    }
    info
}

/// The up to three negotiations.
async fn run(target: &Target, limits: &Limits, info: &mut ServiceInfo) -> Result<(), ProbeError> {
    let mut ask = Asker { target, limits, started: Instant::now(), used: 0 };
    let plain = ask.negotiate(PROTOCOL_RDP).await?;
    info.service = Some("rdp".into());
    let mut nla = None;
    match plain {
        Confirm::Selected(_) | Confirm::Legacy => {
            info.detail("rdp-standard-security", "aanvaard");
            info.observe(
                "rdp-nla-disabled",
                "de server aanvaardt standaard RDP-beveiliging (PROTOCOL_RDP): het aanmeldscherm is bereikbaar zonder \
                 voorafgaande authenticatie (geen NLA)",
                "the server accepts standard RDP security (PROTOCOL_RDP): the logon screen can be reached without \
                 authenticating first (no NLA)",
            );
            nla = Some("niet vereist");
        }
        Confirm::Failure(code) => {
            info.detail("rdp-standard-security", &format!("geweigerd ({})", failure_name(code)));
            if code == HYBRID_REQUIRED_BY_SERVER {
                nla = Some("vereist");
            }
        }
    }
    match ask.negotiate(PROTOCOL_SSL | PROTOCOL_HYBRID).await? {
        Confirm::Selected(p) => info.detail("rdp-selected", protocol_name(p)),
        Confirm::Failure(code) => info.detail("rdp-selected", &format!("geweigerd ({})", failure_name(code))),
        Confirm::Legacy => info.detail("rdp-selected", protocol_name(PROTOCOL_RDP)),
    }
    if plain == Confirm::Failure(SSL_REQUIRED_BY_SERVER) {
        match ask.negotiate(PROTOCOL_SSL).await? {
            Confirm::Selected(PROTOCOL_SSL) => {
                nla = Some("niet vereist");
                info.observe(
                    "rdp-nla-disabled",
                    "de server aanvaardt TLS zonder CredSSP (PROTOCOL_SSL): het aanmeldscherm is bereikbaar zonder \
                     voorafgaande authenticatie (NLA niet vereist)",
                    "the server accepts TLS without CredSSP (PROTOCOL_SSL): the logon screen can be reached without \
                     authenticating first (NLA not required)",
                );
            }
            Confirm::Failure(HYBRID_REQUIRED_BY_SERVER) => nla = Some("vereist"),
            _ => {}
        }
    }
    info.detail("nla", nla.unwrap_or("onbekend"));
    Ok(())
}

/// Opens one connection per question, within what is left of the probe's limits.
#[derive(Debug)]
struct Asker<'a> {
    target: &'a Target,
    limits: &'a Limits,
    started: Instant,
    used: usize,
}

impl Asker<'_> {
    /// One Connection Request for `requested`, one Confirm.
    async fn negotiate(&mut self, requested: u32) -> Result<Confirm, ProbeError> {
        let left = Limits {
            deadline: self.limits.deadline.saturating_sub(self.started.elapsed()),
            max_bytes: self.limits.max_bytes.saturating_sub(self.used),
            ..*self.limits
        };
        if left.deadline.is_zero() {
            return Err(ProbeError::Timeout);
        }
        let mut s = Session::connect(self.target, &left).await?;
        let answer = exchange(&mut s, requested).await;
        self.used += s.bytes_read();
        answer
    }
}

async fn exchange(s: &mut Session, requested: u32) -> Result<Confirm, ProbeError> {
    s.write_all(&connection_request(requested)).await?;
    let tpkt = s.read_exact(4).await?;
    let len = usize::from(u16::from_be_bytes([tpkt[2], tpkt[3]]));
    if tpkt[0] != 0x03 || !(4 + 7..=MAX_TPDU).contains(&len) {
        return Err(ProbeError::Protocol(format!("TPKT version {} length {len}", tpkt[0])));
    }
    let tpdu = s.read_exact(len - 4).await?;
    parse_confirm(&tpdu).map_err(|e| ProbeError::Protocol(e.into()))
}

#[cfg(test)]
#[path = "rdp_tests.rs"]
mod tests;
