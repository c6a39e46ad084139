//! MongoDB identification: version, and whether databases can be listed without logging in.
//!
//! One connection, three read-only commands on `admin`:
//!
//! 1. `isMaster` as a legacy OP_QUERY (every server answers it, also 6.0+ which keeps OP_QUERY for
//!    the handshake): the wire version (OP_MSG from 6 on), replica set, mongos or mongod;
//! 2. `buildInfo` (allowed before authentication): the version;
//! 3. `listDatabases` with `nameOnly`: answered with a list → `mongodb-no-auth`, with the number of
//!    databases and a few names as evidence; `Unauthorized` / "requires authentication" is the safe
//!    case and becomes a detail.
//!
//! Messages are built and read by hand with the bounded BSON codec in `mongodb_bson.rs`.

#[path = "mongodb_bson.rs"]
pub(crate) mod bson;

use super::io::{self, ProbeError, Session};
use super::{Limits, ServiceInfo, Target};
use bson::{Document, Value};

/// OP_REPLY (answers to OP_QUERY).
const OP_REPLY: i32 = 1;
/// OP_QUERY (legacy).
const OP_QUERY: i32 = 2004;
/// OP_MSG (3.6+).
const OP_MSG: i32 = 2013;
/// Message header length.
const HEADER: usize = 16;
/// Database names shown in the evidence, at most.
const SHOWN_NAMES: usize = 5;

/// An OP_QUERY on `admin.$cmd` carrying the command `doc` (BSON).
pub(crate) fn op_query(request_id: i32, doc: &[u8]) -> Vec<u8> {
    let mut body = 0i32.to_le_bytes().to_vec(); // flags
    body.extend_from_slice(b"admin.$cmd\0"); // fullCollectionName
    body.extend_from_slice(&0i32.to_le_bytes()); // numberToSkip
    body.extend_from_slice(&(-1i32).to_le_bytes()); // numberToReturn: one document, close the cursor
    body.extend_from_slice(doc);
    frame(request_id, OP_QUERY, &body)
}

/// An OP_MSG with one body section carrying `doc` (BSON, with `$db`).
pub(crate) fn op_msg(request_id: i32, doc: &[u8]) -> Vec<u8> {
    let mut body = 0u32.to_le_bytes().to_vec(); // flagBits
    body.push(0); // section kind 0: body
    body.extend_from_slice(doc);
    frame(request_id, OP_MSG, &body)
}

/// Prefixes the standard message header.
fn frame(request_id: i32, op_code: i32, body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + HEADER) as i32).to_le_bytes().to_vec(); // messageLength
    out.extend_from_slice(&request_id.to_le_bytes()); // requestID
    out.extend_from_slice(&0i32.to_le_bytes()); // responseTo
    out.extend_from_slice(&op_code.to_le_bytes()); // opCode
    out.extend_from_slice(body);
    out
}

/// The message header: (length, responseTo, opCode).
pub(crate) fn parse_header(header: &[u8], cap: usize) -> Result<(usize, i32, i32), ProbeError> {
    let field = |i: usize| header.get(i..i + 4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let (Some(len), Some(to), Some(op)) = (field(0), field(8), field(12)) else { return Err(ProbeError::Closed) };
    match usize::try_from(len) {
        Ok(n) if n > HEADER && n <= cap => Ok((n, to, op)),
        _ => Err(ProbeError::Protocol(format!("MongoDB message length {len}"))),
    }
}

/// The first document of an OP_REPLY or OP_MSG body (after the header).
pub(crate) fn parse_reply(op_code: i32, body: &[u8]) -> Result<Document, String> {
    let doc = match op_code {
        // responseFlags (4), cursorID (8), startingFrom (4), numberReturned (4), documents
        OP_REPLY => body.get(20..).ok_or("short OP_REPLY")?,
        // flagBits (4), section kind 0, document
        OP_MSG if body.get(4) == Some(&0) => &body[5..],
        other => return Err(format!("MongoDB opcode {other}")),
    };
    bson::decode(doc).map(|(d, _)| d).map_err(|e| e.to_string())
}

/// Identifies MongoDB on `target`.
pub async fn identify(target: &Target, limits: &Limits) -> ServiceInfo {
    let mut info = ServiceInfo::for_port(target, "mongodb");
    if let Err(e) = run(target, limits, &mut info).await {
        info.note = Some(e.note());
    }
    info
}

/// The three commands.
async fn run(target: &Target, limits: &Limits, info: &mut ServiceInfo) -> Result<(), ProbeError> {
    let cap = limits.max_bytes;
    let mut s = Session::connect(target, limits).await?;
    let hello = command(&mut s, cap, 1, false, vec![("isMaster", Value::Int(1))]).await?;
    info.service = Some("mongodb".into());
    info.product = Some("MongoDB".into());
    let wire = bson::get_number(&hello, "maxWireVersion").unwrap_or(0.0);
    info.detail("max-wire-version", &wire.to_string());
    if let Some(set) = bson::get_str(&hello, "setName") {
        info.detail("replica-set", set);
    }
    if bson::get_str(&hello, "msg") == Some("isdbgrid") {
        info.detail("role", "mongos");
    }
    let op_msg = wire >= 6.0;

    let build = command(&mut s, cap, 2, op_msg, vec![("buildInfo", Value::Int(1))]).await?;
    match bson::get_str(&build, "version") {
        Some(v) => info.version = Some(io::sanitize(v, 40)),
        None => info.detail("buildinfo", &refusal(&build)),
    }

    let list = vec![("listDatabases", Value::Int(1)), ("nameOnly", Value::Bool(true))];
    let list = command(&mut s, cap, 3, op_msg, list).await?;
    match (bson::get_number(&list, "ok"), bson::get(&list, "databases")) {
        (Some(1.0), Some(Value::Array(dbs))) => {
            let names: Vec<String> = dbs
                .iter()
                .filter_map(|d| match d {
                    Value::Document(d) => bson::get_str(d, "name").map(|n| io::sanitize(n, 40)),
                    _ => None,
                })
                .collect();
            let shown = names.iter().take(SHOWN_NAMES).cloned().collect::<Vec<_>>().join(", ");
            let more = if names.len() > SHOWN_NAMES { ", …" } else { "" };
            info.detail("auth", "niet vereist");
            info.observe(
                "mongodb-no-auth",
                format!("listDatabases zonder aanmelding geeft {} database(s): {shown}{more}", dbs.len()),
                format!("listDatabases without logging in gives {} database(s): {shown}{more}", dbs.len()),
            );
        }
        _ => info.detail("auth", &format!("vereist ({})", refusal(&list))),
    }
    Ok(())
}

/// `Unauthorized: command listDatabases requires authentication`.
fn refusal(doc: &Document) -> String {
    let code = bson::get_str(doc, "codeName").unwrap_or("error");
    let message = bson::get_str(doc, "errmsg").or_else(|| bson::get_str(doc, "$err")).unwrap_or("");
    io::sanitize(&format!("{code}: {message}"), 160)
}

/// Sends one command on `admin` (OP_MSG or OP_QUERY) and reads its answer.
async fn command(
    s: &mut Session,
    cap: usize,
    id: i32,
    op_msg: bool,
    mut doc: Vec<(&str, Value)>,
) -> Result<Document, ProbeError> {
    let request = if op_msg {
        doc.push(("$db", Value::String("admin".into())));
        self::op_msg(id, &bson::encode(&doc))
    } else {
        op_query(id, &bson::encode(&doc))
    };
    s.write_all(&request).await?;
    let (len, to, op) = parse_header(&s.read_exact(HEADER).await?, cap)?;
    let body = s.read_exact(len - HEADER).await?;
    if to != id {
        return Err(ProbeError::Protocol(format!("MongoDB answer to request {to}, not {id}")));
    }
    parse_reply(op, &body).map_err(ProbeError::Protocol)
}

#[cfg(test)]
#[path = "mongodb_tests.rs"]
mod tests;
