use super::*;
use crate::probe::fake;

/// OP_REPLY to request 1: `{ismaster: true, maxWireVersion: 5, ok: 1.0}` (MongoDB 3.4).
const IS_MASTER_REPLY: [u8; 84] = [
    0x54, 0x00, 0x00, 0x00, // messageLength 84
    0x10, 0x00, 0x00, 0x00, // requestID 16
    0x01, 0x00, 0x00, 0x00, // responseTo 1
    0x01, 0x00, 0x00, 0x00, // opCode 1: OP_REPLY
    0x08, 0x00, 0x00, 0x00, // responseFlags: AwaitCapable
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // cursorID 0
    0x00, 0x00, 0x00, 0x00, // startingFrom 0
    0x01, 0x00, 0x00, 0x00, // numberReturned 1
    0x30, 0x00, 0x00, 0x00, // document length 48
    0x08, b'i', b's', b'm', b'a', b's', b't', b'e', b'r', 0x00, 0x01, // bool ismaster true
    0x10, b'm', b'a', b'x', b'W', b'i', b'r', b'e', b'V', b'e', b'r', b's', b'i', b'o', b'n', 0x00, // int32
    0x05, 0x00, 0x00, 0x00, //   5
    0x01, b'o', b'k', 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, // double ok 1.0
    0x00, // end of document
];

#[test]
fn builds_an_op_query() {
    let q = op_query(1, &bson::encode(&[("isMaster", Value::Int(1))]));
    assert_eq!(i32::from_le_bytes([q[0], q[1], q[2], q[3]]) as usize, q.len());
    assert_eq!(&q[12..16], &OP_QUERY.to_le_bytes());
    assert_eq!(&q[20..31], b"admin.$cmd\0");
    assert_eq!(&q[35..39], &[0xff, 0xff, 0xff, 0xff]); // numberToReturn -1
}

#[test]
fn parses_an_op_reply() {
    let (len, to, op) = parse_header(&IS_MASTER_REPLY, 64 * 1024).expect("header");
    assert_eq!((len, to, op), (84, 1, OP_REPLY));
    let doc = parse_reply(op, &IS_MASTER_REPLY[16..]).expect("doc");
    assert_eq!(bson::get(&doc, "ismaster"), Some(&Value::Bool(true)));
    assert_eq!(bson::get_number(&doc, "maxWireVersion"), Some(5.0));
}

#[test]
fn refuses_bad_headers_and_bodies() {
    let mut huge = IS_MASTER_REPLY;
    huge[..4].copy_from_slice(&0x7fff_ffffi32.to_le_bytes());
    assert!(matches!(parse_header(&huge, 64 * 1024), Err(ProbeError::Protocol(_))));
    huge[..4].copy_from_slice(&(-1i32).to_le_bytes());
    assert!(matches!(parse_header(&huge, 64 * 1024), Err(ProbeError::Protocol(_))));
    assert!(matches!(parse_header(&IS_MASTER_REPLY, 50), Err(ProbeError::Protocol(_))));
    assert!(matches!(parse_header(&IS_MASTER_REPLY[..10], 1024), Err(ProbeError::Closed)));
    for cut in 16..IS_MASTER_REPLY.len() {
        assert!(parse_reply(OP_REPLY, &IS_MASTER_REPLY[16..cut]).is_err(), "cut at {cut}");
    }
    assert!(parse_reply(2012, &IS_MASTER_REPLY[16..]).is_err());
    assert!(parse_reply(OP_MSG, b"\x00\x00\x00\x00\x01junk").is_err());
}

/// A fake mongod: wire version `wire`; `open` lets anyone list databases.
fn answer(wire: i64, open: bool, request: &[u8]) -> Option<Vec<u8>> {
    let (_, _, op) = parse_header(request, 1 << 20).ok()?;
    let id = i32::from_le_bytes(request.get(4..8)?.try_into().ok()?);
    let doc = match op {
        OP_QUERY => {
            let name_end = 20 + request[20..].iter().position(|&b| b == 0)?;
            &request[name_end + 9..]
        }
        OP_MSG => request.get(21..)?,
        _ => return None,
    };
    let (doc, _) = bson::decode(doc).ok()?;
    let reply: Vec<(&str, Value)> = match doc.first()?.0.as_str() {
        "isMaster" => {
            vec![("ismaster", Value::Bool(true)), ("maxWireVersion", Value::Int(wire)), ("ok", Value::Double(1.0))]
        }
        "buildInfo" => vec![("version", Value::String("7.0.5".into())), ("ok", Value::Double(1.0))],
        "listDatabases" if open => {
            let db = |n: &str| Value::Document(vec![("name".into(), Value::String(n.into()))]);
            vec![
                ("databases", Value::Array(vec![db("admin"), db("config"), db("gemeente")])),
                ("ok", Value::Double(1.0)),
            ]
        }
        "listDatabases" => vec![
            ("ok", Value::Double(0.0)),
            ("errmsg", Value::String("command listDatabases requires authentication".into())),
            ("code", Value::Int(13)),
            ("codeName", Value::String("Unauthorized".into())),
        ],
        _ => return None,
    };
    let body = bson::encode(&reply);
    let mut out = if op == OP_QUERY {
        let mut b = vec![0u8; 20];
        b[16] = 1; // numberReturned 1
        b.extend(body);
        frame(77, OP_REPLY, &b)
    } else {
        op_msg(77, &body)
    };
    out[8..12].copy_from_slice(&id.to_le_bytes()); // responseTo
    Some(out)
}

#[tokio::test]
async fn databases_listed_without_login_are_a_finding() {
    let server = fake::answering(|req| answer(17, true, req)).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.note, None);
    assert_eq!((info.product.as_deref(), info.version.as_deref()), (Some("MongoDB"), Some("7.0.5")));
    let obs = info.observations.iter().find(|o| o.weakness == "mongodb-no-auth").expect("finding");
    assert!(obs.evidence.nl.ends_with("geeft 3 database(s): admin, config, gemeente"), "{:?}", obs.evidence);
    assert!(obs.evidence.en.ends_with("gives 3 database(s): admin, config, gemeente"), "{:?}", obs.evidence);
}

#[tokio::test]
async fn an_old_server_requiring_auth_is_no_finding() {
    let server = fake::answering(|req| answer(5, false, req)).await;
    let info = identify(&server.target, &fake::deadline(2000)).await;
    assert_eq!(info.note, None);
    assert_eq!(info.details.get("max-wire-version").map(String::as_str), Some("5"));
    assert!(info.observations.is_empty());
    assert_eq!(
        info.details.get("auth").map(String::as_str),
        Some("vereist (Unauthorized: command listDatabases requires authentication)")
    );
}

#[tokio::test]
async fn a_silent_server_ends_within_the_limits() {
    let server = fake::silent().await;
    let info = fake::times_out(&server.target, 300, 800, identify).await;
    assert!(info.observations.is_empty());
}
