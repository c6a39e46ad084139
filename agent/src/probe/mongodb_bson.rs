//! A tiny BSON codec (bsonspec.org 1.1) for the MongoDB probe: enough to send `{isMaster: 1}`-like
//! commands and to read the answers.
//!
//! The decoder is bounded: every length is checked against the bytes actually there before anything
//! is read, nesting stops at [`MAX_DEPTH`], a document holds at most [`MAX_ELEMENTS`] elements, and
//! values the probe has no use for (binary, ObjectId, dates, regexes, ...) are skipped over by their
//! declared size and kept only as their type byte.

/// Deepest nesting of documents and arrays read.
pub const MAX_DEPTH: usize = 8;
/// Most elements read from one document or array.
pub const MAX_ELEMENTS: usize = 1024;

/// A BSON value, as far as the probe cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// 0x01 double.
    Double(f64),
    /// 0x02 UTF-8 string (lossy).
    String(String),
    /// 0x03 embedded document.
    Document(Document),
    /// 0x04 array (its keys dropped).
    Array(Vec<Value>),
    /// 0x08 boolean.
    Bool(bool),
    /// 0x10 int32 or 0x12 int64.
    Int(i64),
    /// 0x0A null.
    Null,
    /// Any other type, skipped; the type byte.
    Other(u8),
}

/// A document: its elements in order.
pub type Document = Vec<(String, Value)>;

/// Why bytes are not BSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BsonError {
    /// A length points past the end, or the bytes end early.
    #[error("truncated BSON")]
    Truncated,
    /// A length that cannot be right (negative, too small, no terminator).
    #[error("malformed BSON")]
    Malformed,
    /// Nested too deeply or too many elements.
    #[error("BSON beyond the probe's limits")]
    TooLarge,
    /// An unknown element type.
    #[error("unknown BSON type {0:#04x}")]
    UnknownType(u8),
}

/// The value of `key` in `doc`.
pub fn get<'a>(doc: &'a Document, key: &str) -> Option<&'a Value> {
    doc.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// `doc[key]` as text, if it is a string.
pub fn get_str<'a>(doc: &'a Document, key: &str) -> Option<&'a str> {
    match get(doc, key)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// `doc[key]` as a number, if it is one.
pub fn get_number(doc: &Document, key: &str) -> Option<f64> {
    match get(doc, key)? {
        Value::Double(d) => Some(*d),
        Value::Int(i) => Some(*i as f64),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// Encodes a document.
pub fn encode(doc: &[(&str, Value)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (key, value) in doc {
        encode_element(&mut body, key, value);
    }
    finish(body)
}

fn finish(mut body: Vec<u8>) -> Vec<u8> {
    body.push(0x00);
    let mut out = ((body.len() + 4) as i32).to_le_bytes().to_vec();
    out.extend(body);
    out
}

fn encode_element(out: &mut Vec<u8>, key: &str, value: &Value) {
    let (tag, bytes): (u8, Vec<u8>) = match value {
        Value::Double(d) => (0x01, d.to_le_bytes().to_vec()),
        Value::String(s) => {
            let mut b = ((s.len() + 1) as i32).to_le_bytes().to_vec();
            b.extend_from_slice(s.as_bytes());
            b.push(0);
            (0x02, b)
        }
        Value::Document(d) => {
            let pairs: Vec<(&str, Value)> = d.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            (0x03, encode(&pairs))
        }
        Value::Array(items) => {
            let mut body = Vec::new();
            for (i, v) in items.iter().enumerate() {
                encode_element(&mut body, &i.to_string(), v);
            }
            (0x04, finish(body))
        }
        Value::Bool(b) => (0x08, vec![u8::from(*b)]),
        Value::Int(i) => match i32::try_from(*i) {
            Ok(small) => (0x10, small.to_le_bytes().to_vec()),
            Err(_) => (0x12, i.to_le_bytes().to_vec()),
        },
        Value::Null | Value::Other(_) => (0x0a, Vec::new()),
    };
    out.push(tag);
    out.extend_from_slice(key.as_bytes());
    out.push(0);
    out.extend(bytes);
}

/// Decodes the document at the start of `bytes`; returns it and the bytes it took.
pub fn decode(bytes: &[u8]) -> Result<(Document, usize), BsonError> {
    let len = doc_len(bytes)?;
    Ok((decode_body(&bytes[4..len - 1], 0)?, len))
}

/// The declared length of the document at the start of `bytes`, checked against what is there.
fn doc_len(bytes: &[u8]) -> Result<usize, BsonError> {
    let len = read_i32(bytes, 0)?;
    let len = usize::try_from(len).map_err(|_| BsonError::Malformed)?;
    if len < 5 {
        return Err(BsonError::Malformed);
    }
    if len > bytes.len() {
        return Err(BsonError::Truncated);
    }
    if bytes[len - 1] != 0 {
        return Err(BsonError::Malformed);
    }
    Ok(len)
}

fn read_i32(bytes: &[u8], at: usize) -> Result<i32, BsonError> {
    let b = bytes.get(at..at + 4).ok_or(BsonError::Truncated)?;
    Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn take<'a>(bytes: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], BsonError> {
    let end = at.checked_add(n).ok_or(BsonError::Truncated)?;
    let out = bytes.get(*at..end).ok_or(BsonError::Truncated)?;
    *at = end;
    Ok(out)
}

fn cstring(bytes: &[u8], at: &mut usize) -> Result<String, BsonError> {
    let rest = bytes.get(*at..).ok_or(BsonError::Truncated)?;
    let end = rest.iter().position(|&b| b == 0).ok_or(BsonError::Truncated)?;
    *at += end + 1;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

fn string(bytes: &[u8], at: &mut usize) -> Result<String, BsonError> {
    let len = usize::try_from(read_i32(bytes, *at)?).map_err(|_| BsonError::Malformed)?;
    *at += 4;
    if len == 0 {
        return Err(BsonError::Malformed);
    }
    let raw = take(bytes, at, len)?;
    Ok(String::from_utf8_lossy(&raw[..len - 1]).into_owned())
}

/// Decodes the elements between a document's length and its terminator.
fn decode_body(bytes: &[u8], depth: usize) -> Result<Document, BsonError> {
    if depth >= MAX_DEPTH {
        return Err(BsonError::TooLarge);
    }
    let mut doc = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if doc.len() >= MAX_ELEMENTS {
            return Err(BsonError::TooLarge);
        }
        let tag = bytes[at];
        at += 1;
        let key = cstring(bytes, &mut at)?;
        let fixed = |n: usize, at: &mut usize| take(bytes, at, n);
        let value = match tag {
            0x01 => Value::Double(f64::from_le_bytes(fixed(8, &mut at)?.try_into().map_err(|_| BsonError::Truncated)?)),
            0x02 => Value::String(string(bytes, &mut at)?),
            0x03 | 0x04 => {
                let len = doc_len(bytes.get(at..).ok_or(BsonError::Truncated)?)?;
                let inner = decode_body(&bytes[at + 4..at + len - 1], depth + 1)?;
                at += len;
                if tag == 0x03 {
                    Value::Document(inner)
                } else {
                    Value::Array(inner.into_iter().map(|(_, v)| v).collect())
                }
            }
            0x08 => Value::Bool(fixed(1, &mut at)?[0] != 0),
            0x10 => {
                let v = read_i32(bytes, at)?;
                at += 4;
                Value::Int(i64::from(v))
            }
            0x12 => Value::Int(i64::from_le_bytes(fixed(8, &mut at)?.try_into().map_err(|_| BsonError::Truncated)?)),
            0x0a => Value::Null,
            0x06 | 0xff | 0x7f => Value::Other(tag),
            0x05 => {
                let len = usize::try_from(read_i32(bytes, at)?).map_err(|_| BsonError::Malformed)?;
                at += 4;
                fixed(len.checked_add(1).ok_or(BsonError::Truncated)?, &mut at)?;
                Value::Other(tag)
            }
            0x07 | 0x09 | 0x11 | 0x13 => {
                fixed(
                    if tag == 0x07 {
                        12
                    } else if tag == 0x13 {
                        16
                    } else {
                        8
                    },
                    &mut at,
                )?;
                Value::Other(tag)
            }
            0x0b => {
                cstring(bytes, &mut at)?;
                cstring(bytes, &mut at)?;
                Value::Other(tag)
            }
            0x0c => {
                string(bytes, &mut at)?;
                fixed(12, &mut at)?;
                Value::Other(tag)
            }
            0x0d | 0x0e => {
                string(bytes, &mut at)?;
                Value::Other(tag)
            }
            0x0f => {
                let len = usize::try_from(read_i32(bytes, at)?).map_err(|_| BsonError::Malformed)?;
                fixed(len.max(4), &mut at)?;
                Value::Other(tag)
            }
            other => return Err(BsonError::UnknownType(other)),
        };
        doc.push((key, value));
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{"ok": 1.0, "version": "7.0.5"}`.
    const BUILD_INFO: [u8; 36] = [
        0x24, 0x00, 0x00, 0x00, // document length 36
        0x01, b'o', b'k', 0x00, // double "ok"
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, //   1.0
        0x02, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x00, // string "version"
        0x06, 0x00, 0x00, 0x00, //   length 6
        b'7', b'.', b'0', b'.', b'5', 0x00, //   "7.0.5"
        0x00, // end of document
    ];

    #[test]
    fn decodes_a_fixture_and_round_trips() {
        let (doc, used) = decode(&BUILD_INFO).expect("doc");
        assert_eq!(used, 36);
        assert_eq!(get_number(&doc, "ok"), Some(1.0));
        assert_eq!(get_str(&doc, "version"), Some("7.0.5"));
        assert_eq!(encode(&[("ok", Value::Double(1.0)), ("version", Value::String("7.0.5".into()))]), BUILD_INFO);

        let nested = encode(&[
            ("databases", Value::Array(vec![Value::Document(vec![("name".into(), Value::String("admin".into()))])])),
            ("big", Value::Int(1 << 40)),
            ("flag", Value::Bool(true)),
            ("nothing", Value::Null),
        ]);
        let (doc, _) = decode(&nested).expect("nested");
        let Some(Value::Array(items)) = get(&doc, "databases") else { panic!("array") };
        assert!(matches!(&items[0], Value::Document(d) if get_str(d, "name") == Some("admin")));
        assert_eq!(get(&doc, "big"), Some(&Value::Int(1 << 40)));
        assert_eq!(get(&doc, "nothing"), Some(&Value::Null));
    }

    #[test]
    fn skips_values_it_does_not_need() {
        let mut body = vec![0x07, b'i', 0x00];
        body.extend_from_slice(&[0xab; 12]); // ObjectId
        body.extend_from_slice(&[0x05, b'b', 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0xde, 0xad]); // binary, 2 bytes
        body.extend_from_slice(&[0x09, b'd', 0x00, 1, 2, 3, 4, 5, 6, 7, 8]); // datetime
        let doc = finish(body);
        let (decoded, _) = decode(&doc).expect("doc");
        assert_eq!(
            decoded.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
            vec![Value::Other(0x07), Value::Other(0x05), Value::Other(0x09)]
        );
    }

    #[test]
    fn refuses_truncated_oversized_deep_and_unknown_input() {
        for cut in 0..BUILD_INFO.len() {
            assert!(decode(&BUILD_INFO[..cut]).is_err(), "cut at {cut}");
        }
        // a document claiming 2 GiB
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0x7f, 0x00]), Err(BsonError::Truncated));
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0xff, 0x00]), Err(BsonError::Malformed));
        // a string claiming 2 GiB inside a small document
        let mut s = BUILD_INFO;
        s[25..29].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(decode(&s), Err(BsonError::Truncated));
        // a binary claiming i32::MAX bytes
        assert!(decode(&finish(vec![0x05, b'b', 0x00, 0xff, 0xff, 0xff, 0x7f, 0x00])).is_err());
        // unknown type 0x42
        assert_eq!(decode(&finish(vec![0x42, b'x', 0x00])), Err(BsonError::UnknownType(0x42)));
        // nesting deeper than the limit
        let mut deep = encode(&[("x", Value::Null)]);
        for _ in 0..MAX_DEPTH + 1 {
            let mut body = vec![0x03, b'd', 0x00];
            body.extend(deep);
            deep = finish(body);
        }
        assert_eq!(decode(&deep), Err(BsonError::TooLarge));
    }
}
