//! LDAP identification (389 with StartTLS, 636 LDAPS): what the directory shows without credentials.
//!
//! One connection (over TLS for LDAPS, accepting any certificate through
//! [`super::http::connect`]; the certificate is judged by [`crate::tls::analyse`]):
//!
//! 1. an anonymous simple bind (empty name and password);
//! 2. a base search of the rootDSE for its naming contexts, LDAP versions, vendor and extensions,
//!    which gives the product (vendorName, OpenLDAP's rootDSE class, Active Directory's functional
//!    levels). Every directory shows its rootDSE to anonymous clients: that alone is normal;
//! 3. under each of at most three naming contexts a one-level search for at most three entries, types
//!    only, no attribute values. Any entry returned is directory data readable without credentials:
//!    `ldap-anonymous-bind`, with the naming context and the number of entries as evidence;
//! 4. on 389, the StartTLS extended request; when the server accepts it, the TLS setup is analysed
//!    with [`crate::tls::StartTls::Ldap`] (the analysis opens its own connection).
//!
//! Then an unbind. Nothing is ever written.

#[path = "ldap_ber.rs"]
pub(crate) mod ber;
#[path = "ldap_messages.rs"]
pub(crate) mod messages;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::io::{self, ProbeError, Session};
use super::{Limits, ServiceInfo, Target};
use crate::tls::{self, StartTls};
use messages::{Entry, LdapResult, Scope};

/// rootDSE attributes asked.
const ROOT_DSE_ATTRS: [&str; 12] = [
    "namingContexts",
    "defaultNamingContext",
    "supportedLDAPVersion",
    "vendorName",
    "vendorVersion",
    "supportedExtension",
    "supportedSASLMechanisms",
    "dnsHostName",
    "objectClass",
    "domainControllerFunctionality",
    "forestFunctionality",
    "isGlobalCatalogReady",
];
/// Naming contexts tried for anonymous reads.
const MAX_CONTEXTS: usize = 3;
/// Messages read for one search, at most (entries and references).
const MAX_SEARCH_MESSAGES: usize = 16;

/// What the conversation learnt beyond `info`.
#[derive(Debug, Default)]
struct Outcome {
    /// The server accepted StartTLS.
    starttls: bool,
}

/// Identifies LDAP (or LDAPS when `tls`) on `target`.
pub async fn identify(target: &Target, limits: &Limits, tls: bool) -> ServiceInfo {
    let mut info = ServiceInfo::named(if tls { "ldaps" } else { "ldap" });
    let started = Instant::now();
    let outcome = if tls {
        match super::http::connect(target, limits, true).await {
            Ok(mut s) => converse(&mut s, &mut info, limits.max_bytes, false).await,
            Err(e) => Err(e),
        }
    } else {
        match Session::connect(target, limits).await {
            Ok(mut s) => converse(&mut s, &mut info, limits.max_bytes, true).await,
            Err(e) => Err(e),
        }
    };
    let refused = matches!(outcome, Err(ProbeError::Refused));
    let starttls = match outcome {
        Ok(o) => o.starttls,
        Err(e) => {
            info.note.get_or_insert(e.note());
            false
        }
    };
    // The TLS analysis gets what is left of the deadline, but at least half of it.
    let left = limits.deadline.saturating_sub(started.elapsed()).max(limits.deadline / 2);
    let tls_limits = Limits { deadline: left, ..*limits };
    if tls && !refused {
        tls::analyse_into(&mut info, target, StartTls::Implicit, &tls_limits).await;
    } else if starttls {
        tls::analyse_into(&mut info, target, StartTls::Ldap, &tls_limits).await;
    }
    info
}

/// Bind, rootDSE, anonymous reads, StartTLS (when `try_starttls`), unbind.
async fn converse<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    info: &mut ServiceInfo,
    cap: usize,
    try_starttls: bool,
) -> Result<Outcome, ProbeError> {
    let mut id = 1;
    s.write_all(&messages::bind_anonymous(id)).await?;
    let bind = read_result(s, cap, id, messages::BIND_RESPONSE).await?;
    info.service = Some(if try_starttls { "ldap" } else { "ldaps" }.into());
    let bound = bind.code == 0;
    info.detail("anonymous-bind", &if bound { "aanvaard".to_string() } else { refusal(&bind) });

    id += 1;
    s.write_all(&messages::search(id, "", Scope::Base, 1, false, &ROOT_DSE_ATTRS)).await?;
    let (entries, done) = read_search(s, cap, id).await?;
    let contexts = match entries.first() {
        Some(root) => describe_root_dse(info, root),
        None => {
            info.detail("rootdse", &if done.code == 0 { "leeg".to_string() } else { refusal(&done) });
            Vec::new()
        }
    };

    for context in contexts.iter().take(MAX_CONTEXTS) {
        id += 1;
        s.write_all(&messages::search(id, context, Scope::OneLevel, 3, true, &["1.1"])).await?;
        let (entries, _) = read_search(s, cap, id).await?;
        if !entries.is_empty() {
            let (how_nl, how_en) = if bound {
                ("een anonieme bind", "an anonymous bind")
            } else {
                ("een verbinding zonder bind", "a connection without bind")
            };
            let (n, base) = (entries.len(), io::sanitize(context, 80));
            info.observe(
                "ldap-anonymous-bind",
                format!(
                    "{how_nl} leest gegevens buiten de rootDSE: {n} item(s) onder '{base}' (zoekopdracht op één \
                     niveau, alleen attribuutnamen gevraagd)"
                ),
                format!(
                    "{how_en} reads data beyond the rootDSE: {n} entry(ies) under '{base}' (one-level search, \
                     attribute names only)"
                ),
            );
            break;
        }
    }

    let mut outcome = Outcome::default();
    if try_starttls {
        id += 1;
        s.write_all(&messages::starttls(id)).await?;
        let answer = read_result(s, cap, id, messages::EXTENDED_RESPONSE).await?;
        outcome.starttls = answer.code == 0;
        info.detail("starttls", &if outcome.starttls { "aanvaard".to_string() } else { refusal(&answer) });
    }
    if !outcome.starttls {
        let _ = s.write_all(&messages::unbind(id + 1)).await;
    }
    Ok(outcome)
}

/// "geweigerd: 49 invalidCredentials (diagnostic)".
fn refusal(result: &LdapResult) -> String {
    let diagnostic = io::sanitize_bytes(&result.diagnostic, 80);
    if diagnostic.is_empty() {
        format!("geweigerd: {}", result.describe())
    } else {
        format!("geweigerd: {} ({diagnostic})", result.describe())
    }
}

/// Fills `info` from the rootDSE; returns its naming contexts.
fn describe_root_dse(info: &mut ServiceInfo, root: &Entry) -> Vec<String> {
    let joined = |name: &str| root.values(name).join(", ");
    let contexts = root.values("namingContexts");
    for (key, attr) in [
        ("naming-contexts", "namingContexts"),
        ("ldap-versions", "supportedLDAPVersion"),
        ("sasl-mechanisms", "supportedSASLMechanisms"),
        ("dns-host-name", "dnsHostName"),
        ("vendor", "vendorName"),
        ("vendor-version", "vendorVersion"),
    ] {
        let value = joined(attr);
        if !value.is_empty() {
            info.detail(key, &value);
        }
    }
    if let Some((product, version)) = product(root) {
        info.product = Some(product);
        info.version = version;
    }
    if let Some(level) = root.values("domainControllerFunctionality").first() {
        info.detail("dc-functional-level", &format!("{level} ({})", windows_level(level)));
    }
    let extensions = root.values("supportedExtension");
    if !extensions.is_empty() {
        let starttls = extensions.iter().any(|e| e == messages::STARTTLS_OID);
        info.detail("starttls-advertised", if starttls { "ja" } else { "nee" });
    }
    contexts.into_iter().filter(|c| !c.is_empty()).collect()
}

/// Product and version from the rootDSE.
fn product(root: &Entry) -> Option<(String, Option<String>)> {
    let first = |name: &str| root.values(name).into_iter().next().map(|v| io::sanitize(&v, 80));
    if let Some(vendor) = first("vendorName") {
        let name = vendor.split(" (").next().unwrap_or(&vendor).trim().to_string();
        let name = if name.starts_with("Samba") { "Samba".to_string() } else { name };
        return Some((name, first("vendorVersion")));
    }
    if root.values("objectClass").iter().any(|c| c.eq_ignore_ascii_case("OpenLDAProotDSE")) {
        return Some(("OpenLDAP".into(), None));
    }
    if first("domainControllerFunctionality").is_some() {
        return Some(("Microsoft Active Directory".into(), None));
    }
    None
}

/// The Windows Server version of an Active Directory functional level.
fn windows_level(level: &str) -> &'static str {
    match level.trim() {
        "0" => "Windows 2000",
        "1" => "Windows Server 2003 interim",
        "2" => "Windows Server 2003",
        "3" => "Windows Server 2008",
        "4" => "Windows Server 2008 R2",
        "5" => "Windows Server 2012",
        "6" => "Windows Server 2012 R2",
        "7" => "Windows Server 2016",
        "10" => "Windows Server 2025",
        _ => "onbekend",
    }
}

/// Reads one complete LDAPMessage (at most `cap` bytes).
async fn read_message<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    cap: usize,
) -> Result<Vec<u8>, ProbeError> {
    let mut buf = s.read_exact(2).await?;
    loop {
        match ber::header(&buf) {
            Ok(Some((head, len))) => {
                let total = head
                    .checked_add(len)
                    .filter(|&t| t <= cap)
                    .ok_or_else(|| ProbeError::Protocol("LDAP message larger than the byte budget".into()))?;
                if total > buf.len() {
                    let more = s.read_exact(total - buf.len()).await?;
                    buf.extend_from_slice(&more);
                }
                return Ok(buf);
            }
            Ok(None) => buf.extend_from_slice(&s.read_exact(1).await?),
            Err(e) => return Err(ProbeError::Protocol(format!("LDAP: {e}"))),
        }
    }
}

/// Reads the answer to request `id`, which must be operation `op`, and its result.
async fn read_result<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    cap: usize,
    id: i64,
    op: u8,
) -> Result<LdapResult, ProbeError> {
    let bytes = read_message(s, cap).await?;
    let m = messages::parse_message(&bytes).map_err(protocol)?;
    if m.id != id || m.op.tag != op {
        return Err(unexpected(&m));
    }
    messages::parse_result(&m.op).map_err(protocol)
}

/// Reads the answers to search `id`: its entries and its final result.
async fn read_search<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    cap: usize,
    id: i64,
) -> Result<(Vec<Entry>, LdapResult), ProbeError> {
    let mut entries = Vec::new();
    for _ in 0..MAX_SEARCH_MESSAGES {
        let bytes = read_message(s, cap).await?;
        let m = messages::parse_message(&bytes).map_err(protocol)?;
        match (m.id == id, m.op.tag) {
            (true, messages::SEARCH_ENTRY) => entries.push(messages::parse_entry(&m.op).map_err(protocol)?),
            (true, messages::SEARCH_REFERENCE) => {}
            (true, messages::SEARCH_DONE) => return Ok((entries, messages::parse_result(&m.op).map_err(protocol)?)),
            _ => return Err(unexpected(&m)),
        }
    }
    Err(ProbeError::Protocol("LDAP search without an end".into()))
}

fn protocol(e: ber::BerError) -> ProbeError {
    ProbeError::Protocol(format!("LDAP: {e}"))
}

/// An answer out of turn: a notice of disconnection (id 0) says why, anything else is a protocol error.
fn unexpected(m: &messages::Message<'_>) -> ProbeError {
    let why = messages::parse_result(&m.op).map(|r| refusal(&r)).unwrap_or_default();
    ProbeError::Protocol(format!("LDAP message {} op {:#04x} {why}", m.id, m.op.tag))
}

#[cfg(test)]
#[path = "ldap_tests.rs"]
mod tests;
