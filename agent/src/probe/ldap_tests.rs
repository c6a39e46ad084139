use super::*;
use crate::probe::fake;

/// BindResponse to message 1: success.
const BIND_OK: [u8; 14] = [
    0x30, 0x0c, // LDAPMessage, 12 bytes
    0x02, 0x01, 0x01, //   messageID 1
    0x61, 0x07, //   [APPLICATION 1] BindResponse, 7 bytes
    0x0a, 0x01, 0x00, //     resultCode success
    0x04, 0x00, //     matchedDN ""
    0x04, 0x00, //     diagnosticMessage ""
];

/// SearchResultEntry for message 2: an OpenLDAP rootDSE.
const OPENLDAP_ROOT_DSE: [u8; 89] = [
    0x30, 0x57, // LDAPMessage, 87 bytes
    0x02, 0x01, 0x02, //   messageID 2
    0x64, 0x52, //   [APPLICATION 4] SearchResultEntry, 82 bytes
    0x04, 0x00, //     objectName "" (the rootDSE)
    0x30, 0x4e, //     attributes, 78 bytes
    0x30, 0x25, //       attribute, 37 bytes
    0x04, 0x0e, b'n', b'a', b'm', b'i', b'n', b'g', b'C', b'o', b'n', b't', b'e', b'x', b't',
    b's', //         type
    0x31, 0x13, //         SET of values, 19 bytes
    0x04, 0x11, b'd', b'c', b'=', b'e', b'x', b'a', b'm', b'p', b'l', b'e', b',', b'd', b'c', b'=', b'o', b'r', b'g',
    0x30, 0x25, //       attribute, 37 bytes
    0x04, 0x0b, b'o', b'b', b'j', b'e', b'c', b't', b'C', b'l', b'a', b's', b's', //         type
    0x31, 0x16, //         SET of values, 22 bytes
    0x04, 0x03, b't', b'o', b'p', //           "top"
    0x04, 0x0f, b'O', b'p', b'e', b'n', b'L', b'D', b'A', b'P', b'r', b'o', b'o', b't', b'D', b'S', b'E',
];

fn attribute(name: &str, values: &[&str]) -> Vec<u8> {
    let set: Vec<u8> = values.iter().flat_map(|v| ber::tlv(0x04, v.as_bytes())).collect();
    ber::constructed(0x30, &[&ber::tlv(0x04, name.as_bytes()), &ber::tlv(0x31, &set)])
}

fn entry(id: i64, dn: &str, attributes: &[Vec<u8>]) -> Vec<u8> {
    let op = ber::constructed(0x64, &[&ber::tlv(0x04, dn.as_bytes()), &ber::tlv(0x30, &attributes.concat())]);
    ber::constructed(0x30, &[&ber::integer_tlv(0x02, id), &op])
}

fn result(id: i64, op: u8, code: i64, diagnostic: &str) -> Vec<u8> {
    let op = ber::constructed(
        op,
        &[&ber::integer_tlv(0x0a, code), &ber::tlv(0x04, b""), &ber::tlv(0x04, diagnostic.as_bytes())],
    );
    ber::constructed(0x30, &[&ber::integer_tlv(0x02, id), &op])
}

#[test]
fn builds_the_requests_byte_for_byte() {
    // LDAPMessage { id 1, BindRequest { version 3, name "", simple "" } }
    assert_eq!(
        messages::bind_anonymous(1),
        [0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00]
    );
    // LDAPMessage { id 5, UnbindRequest }
    assert_eq!(messages::unbind(5), [0x30, 0x05, 0x02, 0x01, 0x05, 0x42, 0x00]);
    let tls = messages::starttls(4);
    assert_eq!(&tls[..7], &[0x30, 0x1d, 0x02, 0x01, 0x04, 0x77, 0x18]);
    assert!(tls.ends_with(b"1.3.6.1.4.1.1466.20037"));
}

#[test]
fn parses_a_bind_response_and_a_root_dse() {
    assert_eq!(result(1, 0x61, 0, ""), BIND_OK.to_vec());
    let m = messages::parse_message(&BIND_OK).expect("message");
    assert_eq!((m.id, m.op.tag), (1, messages::BIND_RESPONSE));
    assert_eq!(messages::parse_result(&m.op).expect("result").code, 0);

    let built = entry(
        2,
        "",
        &[attribute("namingContexts", &["dc=example,dc=org"]), attribute("objectClass", &["top", "OpenLDAProotDSE"])],
    );
    assert_eq!(built, OPENLDAP_ROOT_DSE.to_vec());
    let m = messages::parse_message(&OPENLDAP_ROOT_DSE).expect("message");
    let root = messages::parse_entry(&m.op).expect("entry");
    assert_eq!(root.values("namingcontexts"), vec!["dc=example,dc=org".to_string()]);
    assert_eq!(product(&root), Some(("OpenLDAP".to_string(), None)));
}

#[test]
fn truncated_and_garbage_messages_are_errors() {
    for cut in [0, 1, 5, 20, 60, 88] {
        let bytes = &OPENLDAP_ROOT_DSE[..cut];
        let parsed = messages::parse_message(bytes).and_then(|m| messages::parse_entry(&m.op));
        assert!(parsed.is_err(), "cut at {cut}");
    }
    assert!(messages::parse_message(b"220 smtp ready\r\n").is_err());
    // a value set claiming 2^32-1 bytes
    let mut huge = OPENLDAP_ROOT_DSE.to_vec();
    huge.splice(29..31, [0x31, 0x84, 0xff, 0xff, 0xff, 0xff]);
    assert!(messages::parse_message(&huge).and_then(|m| messages::parse_entry(&m.op)).is_err());
}

#[test]
fn names_products_from_the_root_dse() {
    let samba = messages::parse_entry(&ber::Tlv {
        tag: 0x64,
        value: &entry_body(&[
            attribute("vendorName", &["Samba Team (https://www.samba.org)"]),
            attribute("vendorVersion", &["4.17.12-Debian"]),
        ]),
    })
    .expect("entry");
    assert_eq!(product(&samba), Some(("Samba".to_string(), Some("4.17.12-Debian".to_string()))));
    let ad = messages::parse_entry(&ber::Tlv {
        tag: 0x64,
        value: &entry_body(&[attribute("domainControllerFunctionality", &["7"])]),
    })
    .expect("entry");
    assert_eq!(product(&ad).map(|p| p.0), Some("Microsoft Active Directory".to_string()));
    assert_eq!(windows_level("7"), "Windows Server 2016");
}

fn entry_body(attributes: &[Vec<u8>]) -> Vec<u8> {
    [ber::tlv(0x04, b""), ber::tlv(0x30, &attributes.concat())].concat()
}

/// How the fake directory behaves.
#[derive(Clone, Copy)]
struct Directory {
    /// Anonymous one-level searches return entries.
    open: bool,
    /// StartTLS result code.
    starttls: i64,
}

/// A fake LDAP server: answers bind, search and StartTLS by message, as `dir` says.
fn answer(dir: Directory, request: &[u8]) -> Option<Vec<u8>> {
    let m = messages::parse_message(request).ok()?;
    Some(match m.op.tag {
        0x60 => result(m.id, 0x61, 0, ""),
        0x63 => {
            let base = ber::Reader::new(m.op.value).expect(0x04).ok()?;
            if base.is_empty() {
                let mut out = OPENLDAP_ROOT_DSE.to_vec();
                out[4] = m.id as u8;
                out.extend(result(m.id, 0x65, 0, ""));
                out
            } else if dir.open {
                let mut out = entry(m.id, "ou=people,dc=example,dc=org", &[]);
                out.extend(entry(m.id, "ou=groups,dc=example,dc=org", &[]));
                out.extend(result(m.id, 0x65, 0, ""));
                out
            } else {
                result(m.id, 0x65, 1, "000004DC: LdapErr: DSID-0C090A5C, comment: a successful bind must be completed")
            }
        }
        0x77 => result(m.id, 0x78, dir.starttls, if dir.starttls == 0 { "" } else { "unsupported extended operation" }),
        _ => return None,
    })
}

#[tokio::test]
async fn an_open_directory_is_a_finding() {
    let server = fake::answering(|req| answer(Directory { open: true, starttls: 2 }, req)).await;
    let info = identify(&server.target, &fake::deadline(2000), false).await;
    assert_eq!(info.note, None);
    assert_eq!(info.product.as_deref(), Some("OpenLDAP"));
    assert_eq!(info.details.get("naming-contexts").map(String::as_str), Some("dc=example,dc=org"));
    let obs = info.observations.iter().find(|o| o.weakness == "ldap-anonymous-bind").expect("finding");
    assert!(obs.evidence.nl.contains("2 item(s) onder 'dc=example,dc=org'"), "{:?}", obs.evidence);
    assert!(obs.evidence.en.contains("2 entry(ies) under 'dc=example,dc=org'"), "{:?}", obs.evidence);
    assert!(info.details.get("starttls").is_some_and(|s| s.starts_with("geweigerd: 2")), "{:?}", info.details);
}

#[tokio::test]
async fn a_directory_showing_only_its_root_dse_is_no_finding() {
    let server = fake::answering(|req| answer(Directory { open: false, starttls: 0 }, req)).await;
    let info = identify(&server.target, &fake::deadline(2000), false).await;
    assert!(info.observations.is_empty(), "{:?}", info.observations);
    assert_eq!(info.details.get("anonymous-bind").map(String::as_str), Some("aanvaard"));
    assert_eq!(info.details.get("starttls").map(String::as_str), Some("aanvaard"));
}

#[tokio::test]
async fn a_silent_server_ends_within_the_limits() {
    let server = fake::silent().await;
    let info = fake::times_out(&server.target, 300, 800, async |t, l| identify(t, l, false).await).await;
    assert!(info.observations.is_empty());
}

#[tokio::test]
async fn a_flooding_server_costs_the_byte_budget() {
    // a message header claiming 16 MiB, then junk
    let server = fake::answering(|_| Some([&[0x30, 0x84, 0x01, 0x00, 0x00, 0x00][..], &[0u8; 4096]].concat())).await;
    let info = identify(&server.target, &fake::limits(2000, 2048), false).await;
    assert!(info.note.as_deref().is_some_and(|n| n.contains("byte budget")), "{:?}", info.note);
}
