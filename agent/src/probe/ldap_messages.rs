//! LDAP messages (RFC 4511) built and read by hand: the few requests the probe sends (anonymous simple
//! bind, search, StartTLS, unbind) and the answers it reads (LDAPResult, SearchResultEntry). Pure
//! functions over bytes, on top of [`super::ber`].

use super::ber::{self, BerError, Reader, Tlv};

/// `[APPLICATION 1] BindResponse`.
pub const BIND_RESPONSE: u8 = 0x61;
/// `[APPLICATION 4] SearchResultEntry`.
pub const SEARCH_ENTRY: u8 = 0x64;
/// `[APPLICATION 5] SearchResultDone`.
pub const SEARCH_DONE: u8 = 0x65;
/// `[APPLICATION 19] SearchResultReference`.
pub const SEARCH_REFERENCE: u8 = 0x73;
/// `[APPLICATION 24] ExtendedResponse`.
pub const EXTENDED_RESPONSE: u8 = 0x78;

/// The StartTLS extended operation (RFC 4511 4.14.1).
pub const STARTTLS_OID: &str = "1.3.6.1.4.1.1466.20037";

/// Search scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The base object only.
    Base = 0,
    /// The base object's children.
    OneLevel = 1,
}

/// `LDAPMessage ::= SEQUENCE { messageID, protocolOp, ... }` with `protocolOp` wrapped.
fn message(id: i64, op: &[u8]) -> Vec<u8> {
    ber::constructed(0x30, &[&ber::integer_tlv(0x02, id), op])
}

/// An anonymous simple bind: version 3, empty name, empty password.
pub fn bind_anonymous(id: i64) -> Vec<u8> {
    // [APPLICATION 0] BindRequest { version 3, name "", authentication simple [0] "" }
    let op = ber::constructed(0x60, &[&ber::integer_tlv(0x02, 3), &ber::tlv(0x04, b""), &ber::tlv(0x80, b"")]);
    message(id, &op)
}

/// A search for `(objectClass=*)` under `base`, at most `size_limit` entries, 5 s server time limit,
/// asking `attributes` (types only when `types_only`).
pub fn search(id: i64, base: &str, scope: Scope, size_limit: i64, types_only: bool, attributes: &[&str]) -> Vec<u8> {
    let attrs: Vec<u8> = attributes.iter().flat_map(|a| ber::tlv(0x04, a.as_bytes())).collect();
    let op = ber::constructed(
        0x63, // [APPLICATION 3] SearchRequest
        &[
            &ber::tlv(0x04, base.as_bytes()),
            &ber::integer_tlv(0x0a, scope as i64),
            &ber::integer_tlv(0x0a, 0), // derefAliases: never
            &ber::integer_tlv(0x02, size_limit),
            &ber::integer_tlv(0x02, 5), // timeLimit, seconds
            &ber::tlv(0x01, &[if types_only { 0xff } else { 0x00 }]),
            &ber::tlv(0x87, b"objectClass"), // filter: present [7] objectClass
            &ber::tlv(0x30, &attrs),
        ],
    );
    message(id, &op)
}

/// The StartTLS extended request.
pub fn starttls(id: i64) -> Vec<u8> {
    // [APPLICATION 23] ExtendedRequest { requestName [0] LDAPOID }
    message(id, &ber::tlv(0x77, &ber::tlv(0x80, STARTTLS_OID.as_bytes())))
}

/// An unbind request (the polite goodbye).
pub fn unbind(id: i64) -> Vec<u8> {
    message(id, &ber::tlv(0x42, b""))
}

/// A received LDAPMessage: its id and its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// messageID (0 for unsolicited notifications).
    pub id: i64,
    /// The protocolOp TLV.
    pub op: Tlv<'a>,
}

/// Parses one complete LDAPMessage.
pub fn parse_message(bytes: &[u8]) -> Result<Message<'_>, BerError> {
    let mut m = Reader::new(Reader::new(bytes).expect(0x30)?);
    let id = m.integer(0x02)?;
    let op = m.next_tlv()?;
    Ok(Message { id, op })
}

/// An LDAPResult.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapResult {
    /// resultCode.
    pub code: i64,
    /// diagnosticMessage (raw).
    pub diagnostic: Vec<u8>,
}

impl LdapResult {
    /// `49 invalidCredentials`, or just the number for codes without a name here.
    pub fn describe(&self) -> String {
        let name = match self.code {
            0 => "success",
            1 => "operationsError",
            2 => "protocolError",
            4 => "sizeLimitExceeded",
            7 => "authMethodNotSupported",
            8 => "strongerAuthRequired",
            13 => "confidentialityRequired",
            32 => "noSuchObject",
            48 => "inappropriateAuthentication",
            49 => "invalidCredentials",
            50 => "insufficientAccessRights",
            52 => "unavailable",
            53 => "unwillingToPerform",
            _ => "",
        };
        format!("{} {name}", self.code).trim_end().to_string()
    }
}

/// Parses the LDAPResult in an operation's content (BindResponse, SearchResultDone,
/// ExtendedResponse: all start with the same three fields).
pub fn parse_result(op: &Tlv<'_>) -> Result<LdapResult, BerError> {
    let mut r = Reader::new(op.value);
    let code = r.integer(0x0a)?;
    let _matched_dn = r.expect(0x04)?;
    let diagnostic = r.expect(0x04)?.to_vec();
    Ok(LdapResult { code, diagnostic })
}

/// A SearchResultEntry: its DN and attributes (values as raw bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// objectName.
    pub dn: Vec<u8>,
    /// (type, values) in the server's order.
    pub attributes: Vec<(String, Vec<Vec<u8>>)>,
}

impl Entry {
    /// The values of `name` (case-insensitive), as lossy text.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.attributes
            .iter()
            .filter(|(t, _)| t.eq_ignore_ascii_case(name))
            .flat_map(|(_, vs)| vs.iter().map(|v| String::from_utf8_lossy(v).into_owned()))
            .collect()
    }
}

/// Parses a SearchResultEntry's content.
pub fn parse_entry(op: &Tlv<'_>) -> Result<Entry, BerError> {
    let mut r = Reader::new(op.value);
    let dn = r.expect(0x04)?.to_vec();
    let mut list = Reader::new(r.expect(0x30)?);
    let mut attributes = Vec::new();
    while !list.is_empty() {
        let mut attr = Reader::new(list.expect(0x30)?);
        let name = String::from_utf8_lossy(attr.expect(0x04)?).into_owned();
        let mut set = Reader::new(attr.expect(0x31)?);
        let mut values = Vec::new();
        while !set.is_empty() {
            values.push(set.expect(0x04)?.to_vec());
        }
        attributes.push((name, values));
    }
    Ok(Entry { dn, attributes })
}
