//! SNMP identification (UDP 161): does the agent answer the community `public`?
//!
//! One SNMPv2c GetRequest for `sysDescr.0` with community `public`
//! ([`SNMP_V2C_SYSDESCR`](crate::ports::udp_payloads::SNMP_V2C_SYSDESCR)); when nothing answers
//! within three fifths of the deadline, the same request as SNMPv1 (old printers, UPSes and switches
//! speak only v1). A GetResponse carrying our request id and `noError` means the agent accepted the
//! community: `snmp-default-community`, with the sysDescr (sanitised, cut) as evidence. An agent that
//! does not know the community stays silent, so silence reads as "open|filtered or another community",
//! never as a finding. The product comes from sysDescr when it is recognisable.
//!
//! Nothing is ever set; only this one read-only object is asked.

use std::time::Duration;

use super::io::{self, ProbeError};
use super::ldap::ber::{self, BerError, Reader};
use super::{Limits, ServiceInfo, Target};
use crate::i18n::Said;
use crate::ports::udp_payloads::SNMP_V2C_SYSDESCR;

/// The request id the payload carries ("wkag").
const REQUEST_ID: i64 = 0x776b_6167;
/// The OID of sysDescr.0 (1.3.6.1.2.1.1.1.0), BER content octets.
const SYS_DESCR: [u8; 8] = [0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00];

/// What a GetResponse said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// 0 = SNMPv1, 1 = SNMPv2c.
    pub version: i64,
    /// The community the agent echoed.
    pub community: Vec<u8>,
    /// The request id (ours or not).
    pub request_id: i64,
    /// Error status (0 = noError).
    pub error_status: i64,
    /// The sysDescr value, when the agent gave an OCTET STRING for sysDescr.0.
    pub sys_descr: Option<Vec<u8>>,
}

/// Identifies SNMP on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::for_port(target, "snmp");
    let v2_time = limits.deadline * 3 / 5;
    let answer = match ask(target, &SNMP_V2C_SYSDESCR, &Limits { deadline: v2_time, ..*limits }).await {
        Err(ProbeError::Timeout) => {
            let mut v1 = SNMP_V2C_SYSDESCR;
            v1[4] = 0x00; // INTEGER version = 0 (SNMPv1); the rest of the message is the same
            let rest = limits.deadline.saturating_sub(v2_time).max(Duration::from_millis(1));
            ask(target, &v1, &Limits { deadline: rest, ..*limits }).await
        }
        other => other,
    };
    match answer {
        Ok(reply) => describe(&mut info, &reply),
        Err(e) => info.note = Some(e.note()),
    }
    info
}

/// Sends one request and parses the answer.
async fn ask(target: &Target, payload: &[u8], limits: &Limits) -> Result<Reply, ProbeError> {
    let bytes = io::udp_exchange(target, payload, limits).await?;
    parse_response(&bytes).map_err(|e| ProbeError::Protocol(format!("SNMP: {e}")))
}

/// Fills `info` from a reply.
fn describe(info: &mut ServiceInfo, reply: &Reply) {
    info.service = Some("snmp".into());
    let version = if reply.version == 0 { "v1" } else { "v2c" };
    info.detail("snmp-version", version);
    if reply.request_id != REQUEST_ID {
        info.note = Some("unexpected answer: SNMP reply to another request id".into());
        return;
    }
    if reply.error_status != 0 {
        info.detail("snmp-error-status", &reply.error_status.to_string());
        return;
    }
    let community = io::sanitize_bytes(&reply.community, 32);
    let descr = reply.sys_descr.as_deref().map(|d| io::sanitize_bytes(d, 200));
    if let Some(descr) = &descr {
        info.detail("sysdescr", descr);
        if let Some((product, version)) = product_from_sys_descr(descr) {
            info.product = Some(product);
            info.version = version;
        }
    }
    let shown = match &descr {
        Some(d) => Said::same(format!("sysDescr '{}'", io::sanitize(d, 80))),
        None => Said::new(
            "een antwoord zonder sysDescr (object buiten de view)",
            "an answer without sysDescr (object outside the view)",
        ),
    };
    info.observe(
        "snmp-default-community",
        format!("SNMP{version} aanvaardt de community '{community}': GetRequest sysDescr.0 geeft {}", shown.nl),
        format!("SNMP{version} accepts the community '{community}': GetRequest sysDescr.0 gives {}", shown.en),
    );
}

/// Parses an SNMP v1/v2c message holding a GetResponse-PDU.
pub(crate) fn parse_response(bytes: &[u8]) -> Result<Reply, BerError> {
    let (message, _) = ber::split(bytes)?;
    if message.tag != 0x30 {
        return Err(BerError::Tag { wanted: 0x30, got: message.tag });
    }
    let mut m = Reader::new(message.value);
    let version = m.integer(0x02)?;
    let community = m.expect(0x04)?.to_vec();
    let mut pdu = Reader::new(m.expect(0xa2)?); // [2] GetResponse-PDU
    let request_id = pdu.integer(0x02)?;
    let error_status = pdu.integer(0x02)?;
    let _error_index = pdu.integer(0x02)?;
    let mut bindings = Reader::new(pdu.expect(0x30)?);
    let mut sys_descr = None;
    while !bindings.is_empty() {
        let mut binding = Reader::new(bindings.expect(0x30)?);
        let oid = binding.expect(0x06)?;
        let value = binding.next_tlv()?;
        // 0x04 OCTET STRING; noSuchObject (0x80), noSuchInstance (0x81), endOfMibView (0x82) carry none.
        if oid == SYS_DESCR && value.tag == 0x04 {
            sys_descr = Some(value.value.to_vec());
        }
    }
    Ok(Reply { version, community, request_id, error_status, sys_descr })
}

/// Product and version from a sysDescr, for the families common in municipal networks.
pub(crate) fn product_from_sys_descr(descr: &str) -> Option<(String, Option<String>)> {
    let word = |i: usize| descr.split_whitespace().nth(i).map(str::to_string);
    let after = |marker: &str| {
        let at = descr.find(marker)? + marker.len();
        let v: String = descr[at..].chars().take_while(|c| !matches!(c, ',' | ' ' | ';')).collect();
        (!v.is_empty()).then_some(v)
    };
    let has = |needle: &str| descr.contains(needle);
    let found = if descr.starts_with("Linux ") {
        ("Linux (net-snmp)", word(2))
    } else if descr.starts_with("FreeBSD ") {
        ("FreeBSD (net-snmp)", word(2))
    } else if has("Cisco Adaptive Security Appliance") {
        ("Cisco ASA", after("Version "))
    } else if has("Cisco NX-OS") {
        ("Cisco NX-OS", after("Version "))
    } else if has("IOS-XE") || has("IOS XE") {
        ("Cisco IOS XE", after("Version "))
    } else if has("Cisco IOS") || has("Cisco Internetwork Operating System") {
        ("Cisco IOS", after("Version "))
    } else if has("ProCurve") {
        ("HP ProCurve", after("revision "))
    } else if has("Aruba") {
        ("Aruba", after("revision ").or_else(|| after("Version ")))
    } else if has("Comware") {
        ("HPE Comware", after("Version "))
    } else if has("Software: Windows") {
        ("Windows", after("Windows Version "))
    } else if has("RouterOS") {
        ("MikroTik RouterOS", after("RouterOS "))
    } else if has("JUNOS") {
        ("Juniper Junos", after("JUNOS "))
    } else if has("FortiGate") {
        ("Fortinet FortiGate", None)
    } else {
        return None;
    };
    Some((found.0.to_string(), found.1))
}

#[cfg(test)]
#[path = "snmp_tests.rs"]
mod tests;
