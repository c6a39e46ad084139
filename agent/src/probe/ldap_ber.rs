//! A minimal BER codec (X.690) for the two protocols that need one, LDAP and SNMP.
//!
//! Only what those protocols use: single-byte tags (tag numbers below 31), definite lengths in short
//! form or long form of at most four bytes, and integers of at most eight bytes. Everything else is a
//! clean [`BerError`], never a panic. The reader borrows from its input and never allocates, so a
//! length field that claims gigabytes costs nothing: it is compared with what is actually there.

/// Why a BER structure could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BerError {
    /// The input ends inside a header or a value.
    #[error("truncated BER")]
    Truncated,
    /// A multi-byte tag, an indefinite length, or a length of more than four bytes.
    #[error("unsupported BER form")]
    Unsupported,
    /// Another tag than the one the structure needs.
    #[error("unexpected BER tag {got:#04x} (wanted {wanted:#04x})")]
    Tag {
        /// The tag the structure needs.
        wanted: u8,
        /// The tag found.
        got: u8,
    },
    /// An integer that is empty or longer than eight bytes.
    #[error("BER integer out of range")]
    Integer,
}

/// One tag-length-value, its value borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag byte (class, constructed bit, number).
    pub tag: u8,
    /// The content octets.
    pub value: &'a [u8],
}

/// The header of the TLV at the start of `input`: `(header length, content length)`, or `None`
/// when more bytes are needed to know. Used to frame messages read from a stream.
pub fn header(input: &[u8]) -> Result<Option<(usize, usize)>, BerError> {
    let Some(&tag) = input.first() else { return Ok(None) };
    if tag & 0x1f == 0x1f {
        return Err(BerError::Unsupported);
    }
    let Some(&first) = input.get(1) else { return Ok(None) };
    if first < 0x80 {
        return Ok(Some((2, usize::from(first))));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return Err(BerError::Unsupported);
    }
    let Some(bytes) = input.get(2..2 + n) else { return Ok(None) };
    let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    Ok(Some((2 + n, len)))
}

/// Splits the first TLV off `input`; returns it and the rest.
pub fn split(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), BerError> {
    let (head, len) = header(input)?.ok_or(BerError::Truncated)?;
    let end = head.checked_add(len).ok_or(BerError::Truncated)?;
    let value = input.get(head..end).ok_or(BerError::Truncated)?;
    Ok((Tlv { tag: input[0], value }, &input[end..]))
}

/// Reads the TLVs of a constructed value one after the other.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over the content octets `input`.
    pub fn new(input: &'a [u8]) -> Reader<'a> {
        Reader { rest: input }
    }

    /// Whether every TLV has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next TLV.
    pub fn next_tlv(&mut self) -> Result<Tlv<'a>, BerError> {
        let (tlv, rest) = split(self.rest)?;
        self.rest = rest;
        Ok(tlv)
    }

    /// The value of the next TLV, which must carry `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<&'a [u8], BerError> {
        let tlv = self.next_tlv()?;
        if tlv.tag != tag {
            return Err(BerError::Tag { wanted: tag, got: tlv.tag });
        }
        Ok(tlv.value)
    }

    /// The next TLV, an integer (or enumerated) with `tag`.
    pub fn integer(&mut self, tag: u8) -> Result<i64, BerError> {
        integer(self.expect(tag)?)
    }
}

/// The two's-complement integer in the content octets `value` (one to eight bytes).
pub fn integer(value: &[u8]) -> Result<i64, BerError> {
    if value.is_empty() || value.len() > 8 {
        return Err(BerError::Integer);
    }
    let negative = value[0] & 0x80 != 0;
    let start: i64 = if negative { -1 } else { 0 };
    Ok(value.iter().fold(start, |acc, &b| (acc << 8) | i64::from(b)))
}

/// Encodes one TLV.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Encodes a constructed TLV from already encoded parts.
pub fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// Encodes an integer (or enumerated) in the fewest octets.
pub fn integer_tlv(tag: u8, value: i64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    tlv(tag, &bytes[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        // 04 03 "abc": OCTET STRING, short length
        let (t, rest) = split(&[0x04, 0x03, b'a', b'b', b'c', 0xee]).expect("tlv");
        assert_eq!((t.tag, t.value, rest), (0x04, &b"abc"[..], &[0xee][..]));
        // 04 81 80 <128 bytes>: long form, one length byte
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(b'x', 128));
        assert_eq!(split(&long).expect("long").0.value.len(), 128);
    }

    #[test]
    fn refuses_truncated_oversized_and_odd_forms_without_panicking() {
        assert_eq!(split(&[]), Err(BerError::Truncated));
        assert_eq!(split(&[0x30]), Err(BerError::Truncated));
        // claims 3 bytes, has 1
        assert_eq!(split(&[0x04, 0x03, b'a']), Err(BerError::Truncated));
        // claims 4 GiB - 1 bytes: nothing allocated, just refused
        assert_eq!(split(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00]), Err(BerError::Truncated));
        // indefinite length, 5-byte length, multi-byte tag
        assert_eq!(split(&[0x30, 0x80, 0x00, 0x00]), Err(BerError::Unsupported));
        assert_eq!(split(&[0x30, 0x85, 1, 1, 1, 1, 1]), Err(BerError::Unsupported));
        assert_eq!(split(&[0x1f, 0x01, 0x00]), Err(BerError::Unsupported));
        // header needs more bytes: None, not an error
        assert_eq!(header(&[0x30, 0x82, 0x01]), Ok(None));
        assert_eq!(header(&[0x30, 0x82, 0x01, 0x00]), Ok(Some((4, 256))));
    }

    #[test]
    fn integers_round_trip() {
        for v in [0i64, 1, 127, 128, 255, 256, -1, -128, -129, 0x776b_6167, i64::MAX, i64::MIN] {
            let enc = integer_tlv(0x02, v);
            let (t, _) = split(&enc).expect("int");
            assert_eq!(integer(t.value), Ok(v), "{v}");
        }
        assert_eq!(integer_tlv(0x02, 3), vec![0x02, 0x01, 0x03]);
        assert_eq!(integer_tlv(0x02, 128), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer(&[]), Err(BerError::Integer));
        assert_eq!(integer(&[0; 9]), Err(BerError::Integer));
    }

    #[test]
    fn encodes_long_lengths_and_reads_them_back() {
        let content = vec![0u8; 300];
        let enc = tlv(0x04, &content);
        assert_eq!(&enc[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let mut r = Reader::new(&enc);
        assert_eq!(r.expect(0x04).expect("value").len(), 300);
        assert!(r.is_empty());
        assert_eq!(Reader::new(&enc).expect(0x30), Err(BerError::Tag { wanted: 0x30, got: 0x04 }));
    }
}
