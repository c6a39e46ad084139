//! Fuzz entry for the probes' reply parsers: the first byte picks a protocol family, the rest is
//! what a server sent. Each family runs every pure parser its probe applies to server bytes, in
//! the order the probe would, and checks the invariants a caller relies on (a reported length
//! stays inside the input, a round trip gives back what went in).

use std::hint::black_box;

use crate::probe::banner::{self, dialog};
use crate::probe::http::parse as http;
use crate::probe::ldap::{ber, messages as ldap};
use crate::probe::mail::parse as mail;
use crate::probe::mongodb::{self, bson};
use crate::probe::ot::{bacnet, enip, fox, modbus, s7};
use crate::probe::smb::{ntlm, packets as smb};
use crate::probe::ssh::wire as ssh;
use crate::probe::{amqp, ftp, mqtt, mssql, mysql, nats, ntp, postgres, rdp, redis, snmp, ssdp, telnet, vnc};

/// Families in the order of their selector byte (`selector % FAMILIES.len()`).
pub const FAMILIES: [&str; 25] = [
    "banner",
    "ssh",
    "http",
    "ftp",
    "mail",
    "snmp",
    "smb",
    "redis",
    "mqtt",
    "modbus",
    "s7",
    "bacnet",
    "enip",
    "fox",
    "amqp",
    "ldap",
    "mongodb",
    "mssql",
    "mysql",
    "nats",
    "ntp",
    "postgres",
    "rdp",
    "ssdp",
    "telnet-vnc",
];

/// Runs the parsers of family `data[0]` over `data[1..]`. Panics only when a parser does.
pub fn probe_reply(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(bytes);
    match FAMILIES[usize::from(selector) % FAMILIES.len()] {
        "banner" => banner_family(bytes, &text),
        "ssh" => ssh_family(bytes, &text),
        "http" => http_family(bytes),
        "ftp" => {
            black_box(ftp::product(&text));
            black_box(dialog::parse_reply(bytes).map(|r| r.text()));
        }
        "mail" => mail_family(bytes, &text),
        "snmp" => {
            if let Ok(reply) = snmp::parse_response(bytes) {
                black_box(format!("{reply:?}"));
            }
            black_box(snmp::product_from_sys_descr(&text));
        }
        "smb" => smb_family(bytes, &text),
        "redis" => {
            if let Some((_, used)) = redis::parse_resp(bytes) {
                assert!(used <= bytes.len(), "RESP used {used} of {} bytes", bytes.len());
            }
            black_box(redis::info_fields(bytes));
        }
        "mqtt" => {
            black_box(mqtt::parse_connack(bytes));
            black_box(mqtt::parse_publish(bytes));
            black_box(mqtt::find_publish(bytes, "$SYS/broker/version"));
            black_box(mqtt::product_version(&text));
        }
        "modbus" => {
            let (header, pdu) = after(bytes, 7);
            black_box(modbus::parse_mbap(header).ok());
            black_box(modbus::parse_pdu(pdu));
            black_box(modbus::parse_pdu(bytes));
        }
        "s7" => {
            let (header, tpdu) = after(bytes, 4);
            black_box(s7::parse_tpkt(header).ok());
            for tpdu in [tpdu, bytes] {
                if let Some((_, _, data)) = s7::parse_s7(tpdu) {
                    black_box(s7::parse_module(data));
                }
            }
            black_box(s7::parse_module(bytes));
            black_box(s7::family(&text));
        }
        "bacnet" => {
            black_box(bacnet::parse_reply(bytes));
        }
        "enip" => {
            let (header, payload) = after(bytes, 24);
            black_box(enip::parse_header(header).ok());
            black_box(enip::parse_identity(payload));
            black_box(enip::parse_identity(bytes));
        }
        "fox" => {
            black_box(fox::parse_hello(bytes));
        }
        "amqp" => {
            black_box(amqp::frame_size(bytes));
            black_box(amqp::protocol_header(bytes));
            black_box(amqp::parse_start(bytes));
            black_box(amqp::parse_table(bytes));
        }
        "ldap" => ldap_family(bytes),
        "mongodb" => {
            let (header, body) = after(bytes, 16);
            if let Ok((_, _, op_code)) = mongodb::parse_header(header, 64 * 1024) {
                black_box(mongodb::parse_reply(op_code, body).ok());
            }
            black_box(mongodb::parse_reply(1, bytes).ok());
            black_box(mongodb::parse_reply(2013, bytes).ok());
            if let Ok((_, used)) = bson::decode(bytes) {
                assert!(used <= bytes.len(), "BSON used {used} of {} bytes", bytes.len());
            }
        }
        "mssql" => {
            black_box(mssql::parse_prelogin(after(bytes, 8).1));
            black_box(mssql::parse_prelogin(bytes));
        }
        "mysql" => {
            black_box(mysql::parse_greeting(after(bytes, 4).1));
            black_box(mysql::parse_greeting(bytes));
            black_box(mysql::product_version(&text));
        }
        "nats" => {
            black_box(nats::parse_info(bytes));
        }
        "ntp" => {
            black_box(ntp::parse_reply(bytes));
        }
        "postgres" => {
            let (header, body) = after(bytes, 5);
            black_box(postgres::parse_header(header).ok());
            for body in [body, bytes] {
                black_box(postgres::parse_auth(body));
                black_box(postgres::parse_fields(body));
            }
        }
        "rdp" => {
            black_box(rdp::parse_confirm(after(bytes, 4).1).ok());
            black_box(rdp::parse_confirm(bytes).ok());
        }
        "ssdp" => {
            black_box(ssdp::parse_answer(bytes));
            black_box(ssdp::server_product(&text));
        }
        _ => {
            black_box(telnet::is_busybox(bytes));
            black_box(format!("{:?}", telnet::negotiate(bytes)));
            black_box(vnc::parse_version(bytes));
        }
    }
}

/// `bytes` split after a header of `len` bytes (all of it header when shorter).
fn after(bytes: &[u8], len: usize) -> (&[u8], &[u8]) {
    bytes.split_at(len.min(bytes.len()))
}

fn banner_family(bytes: &[u8], text: &str) {
    black_box(banner::recognise(bytes));
    for end in [dialog::line_end(bytes), dialog::numeric_reply_end(bytes)].into_iter().flatten() {
        assert!(end <= bytes.len(), "line end {end} beyond {} bytes", bytes.len());
    }
    black_box(dialog::parse_reply(bytes).map(|r| r.text()));
    black_box(dialog::version_after(text, "version"));
    black_box(dialog::version_after(text, " "));
}

fn ssh_family(bytes: &[u8], text: &str) {
    if let Some(v) = ssh::parse_version(bytes) {
        black_box(format!("{v:?}"));
    }
    black_box(ssh::product(text));
    if let ssh::Framed::Packet { payload, used } = ssh::unframe(bytes) {
        assert!(used <= bytes.len(), "SSH packet used {used} of {} bytes", bytes.len());
        black_box(ssh::parse_kexinit(&payload));
        black_box(ssh::disconnect_reason(&payload));
    }
    black_box(ssh::parse_kexinit(bytes));
    black_box(ssh::disconnect_reason(bytes));
    // What the agent frames, it reads back (every message has at least its type byte).
    if !bytes.is_empty() && bytes.len() < 4096 {
        match ssh::unframe(&ssh::packet(bytes)) {
            ssh::Framed::Packet { payload, .. } => assert_eq!(payload, bytes, "SSH packet round trip"),
            other => panic!("SSH packet round trip: {other:?}"),
        }
    }
}

fn http_family(bytes: &[u8]) {
    let end = http::head_end(bytes);
    if let Some(end) = end {
        assert!(end <= bytes.len(), "head end {end} beyond {} bytes", bytes.len());
    }
    let (head_bytes, body) = bytes.split_at(end.unwrap_or(bytes.len()));
    if let Some(head) = http::parse_head(head_bytes) {
        let framing = head.framing();
        black_box(http::body_complete(framing, body));
        black_box(http::password_prompt(&head, body));
        if let Some(server) = head.header("server") {
            black_box(http::server_product(server));
        }
    }
    black_box(http::dechunk(bytes));
    let title = http::title(bytes);
    black_box(http::directory_listing(title.as_deref(), bytes));
    black_box(http::elasticsearch(bytes));
    black_box(http::server_product(&String::from_utf8_lossy(bytes)));
}

fn mail_family(bytes: &[u8], text: &str) {
    let ends = [mail::pop3_end(bytes, false), mail::pop3_end(bytes, true), mail::tagged_end(bytes, "a1")];
    for end in ends.into_iter().flatten() {
        assert!(end <= bytes.len(), "mail reply end {end} beyond {} bytes", bytes.len());
    }
    black_box(mail::imap_capabilities(text));
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    black_box(mail::mechanisms(&lines, "AUTH"));
    black_box(mail::mechanisms(&lines, "SASL"));
    black_box(mail::product(text));
}

fn smb_family(bytes: &[u8], text: &str) {
    let (header, message) = after(bytes, 4);
    black_box(smb::frame_len(header).ok());
    for msg in [message, bytes] {
        black_box(smb::parse_smb1_negotiate(msg).ok());
        black_box(smb::parse_smb1_session_setup(msg).ok());
        black_box(smb::parse_smb2_header(msg).ok());
        black_box(smb::parse_smb2_negotiate(msg).ok());
        if let Ok(setup) = smb::parse_session_setup(msg) {
            black_box(format!("{setup:?}"));
        }
    }
    black_box(smb::samba_version(text));
    let message = ntlm::find_message(bytes, 2).unwrap_or(bytes);
    if let Ok(challenge) = ntlm::parse_challenge(message) {
        black_box(challenge.is_samba());
        black_box(ntlm::authenticate_message_for(Some("gast"), &challenge.target_info));
    }
}

fn ldap_family(bytes: &[u8]) {
    if let Ok(Some((head, len))) = ber::header(bytes) {
        black_box((head, len));
    }
    if let Ok((tlv, rest)) = ber::split(bytes) {
        assert!(rest.len() < bytes.len(), "a TLV took no bytes");
        black_box(ber::integer(tlv.value).ok());
    }
    if let Ok(message) = ldap::parse_message(bytes) {
        if let Ok(result) = ldap::parse_result(&message.op) {
            black_box(result.describe());
        }
        if let Ok(entry) = ldap::parse_entry(&message.op) {
            black_box(entry.values("namingContexts"));
        }
    }
    // What the agent encodes, it reads back.
    if let Some((&tag, content)) = bytes.split_first() {
        if tag & 0x1f != 0x1f {
            let encoded = ber::tlv(tag, content);
            match ber::split(&encoded) {
                Ok((tlv, rest)) => assert!(tlv.value == content && rest.is_empty(), "BER round trip"),
                Err(e) => panic!("BER round trip: {e:?}"),
            }
        }
    }
}
