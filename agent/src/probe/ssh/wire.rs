//! SSH wire format (RFC 4251, 4253) without I/O: the version line, data types, the unencrypted
//! binary packet and KEXINIT. Every length from the server is checked before it is used.

/// Largest packet accepted (RFC 4253 §6.1 asks implementations to handle 35000 bytes).
pub const MAX_PACKET: usize = 35_000;

/// Message numbers used here.
pub mod msg {
    pub const DISCONNECT: u8 = 1;
    pub const IGNORE: u8 = 2;
    pub const UNIMPLEMENTED: u8 = 3;
    pub const DEBUG: u8 = 4;
    pub const SERVICE_REQUEST: u8 = 5;
    pub const SERVICE_ACCEPT: u8 = 6;
    pub const EXT_INFO: u8 = 7;
    pub const KEXINIT: u8 = 20;
    pub const NEWKEYS: u8 = 21;
    pub const KEX_ECDH_INIT: u8 = 30;
    pub const KEX_ECDH_REPLY: u8 = 31;
    pub const USERAUTH_REQUEST: u8 = 50;
    pub const USERAUTH_FAILURE: u8 = 51;
    pub const USERAUTH_SUCCESS: u8 = 52;
    pub const USERAUTH_BANNER: u8 = 53;
}

/// The identification line `SSH-protoversion-softwareversion SP comments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// `2.0`, `1.99`, `1.5`.
    pub proto: String,
    /// `OpenSSH_9.2p1`.
    pub software: String,
    /// `Debian-2+deb12u3`, if any.
    pub comment: Option<String>,
}

/// Parses an identification line (with or without its line end). `None` unless it starts `SSH-`.
pub fn parse_version(line: &[u8]) -> Option<Version> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']);
    let rest = text.strip_prefix("SSH-")?;
    let (proto, rest) = rest.split_once('-')?;
    let (software, comment) = match rest.split_once(' ') {
        Some((s, c)) => (s, Some(c.trim().to_string()).filter(|c| !c.is_empty())),
        None => (rest, None),
    };
    if proto.is_empty() || software.is_empty() {
        return None;
    }
    Some(Version { proto: proto.to_string(), software: software.to_string(), comment })
}

/// Product and version from the software part: `OpenSSH_9.2p1` → (`OpenSSH`, `9.2p1`),
/// `dropbear_2022.83` → (`Dropbear sshd`, `2022.83`); unknown software keeps its name.
pub fn product(software: &str) -> (String, Option<String>) {
    let bytes = software.as_bytes();
    let split = (0..bytes.len().saturating_sub(1))
        .find(|&i| (bytes[i] == b'_' || bytes[i] == b'-') && bytes[i + 1].is_ascii_digit());
    let (name, version) = match split {
        Some(i) => (&software[..i], Some(software[i + 1..].to_string())),
        None => (software, None),
    };
    let name = match name.to_ascii_lowercase().as_str() {
        "openssh" => "OpenSSH".to_string(),
        "openssh_for_windows" => "OpenSSH for Windows".to_string(),
        "dropbear" => "Dropbear sshd".to_string(),
        "libssh" => "libssh".to_string(),
        "cisco" => "Cisco SSH".to_string(),
        "rosssh" => "MikroTik RouterOS sshd".to_string(),
        _ => name.to_string(),
    };
    (name, version)
}

/// A bounds-checked reader of SSH data types.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }

    /// A byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }

    /// A big-endian uint32.
    pub fn u32(&mut self) -> Option<u32> {
        self.bytes(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `string`: uint32 length and that many bytes.
    pub fn string(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.bytes(n)
    }

    /// A `name-list` (comma-separated names), at most 256 names.
    pub fn name_list(&mut self) -> Option<Vec<String>> {
        let raw = self.string()?;
        if raw.is_empty() {
            return Some(Vec::new());
        }
        Some(raw.split(|&b| b == b',').take(256).map(|n| String::from_utf8_lossy(n).into_owned()).collect())
    }
}

/// Writes SSH data types.
#[derive(Debug, Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    /// A message that starts with `msg`.
    pub fn msg(msg: u8) -> Writer {
        Writer(vec![msg])
    }

    /// A byte.
    pub fn u8(mut self, b: u8) -> Writer {
        self.0.push(b);
        self
    }

    /// A uint32.
    pub fn u32(mut self, v: u32) -> Writer {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Raw bytes.
    pub fn raw(mut self, b: &[u8]) -> Writer {
        self.0.extend_from_slice(b);
        self
    }

    /// A `string`.
    pub fn string(self, b: &[u8]) -> Writer {
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        self.u32(len).raw(b)
    }

    /// An `mpint` from unsigned big-endian bytes (leading zeros dropped, a zero byte added when the
    /// top bit is set).
    pub fn mpint(self, unsigned: &[u8]) -> Writer {
        let first = unsigned.iter().position(|&b| b != 0).unwrap_or(unsigned.len());
        let digits = &unsigned[first..];
        if digits.first().is_some_and(|&b| b & 0x80 != 0) {
            let mut v = vec![0u8];
            v.extend_from_slice(digits);
            self.string(&v)
        } else {
            self.string(digits)
        }
    }
}

/// Frames `payload` as an unencrypted binary packet (block size 8, at least 4 bytes of padding).
pub fn packet(payload: &[u8]) -> Vec<u8> {
    let pad = 8 - (4 + 1 + payload.len()) % 8;
    let pad = if pad < 4 { pad + 8 } else { pad };
    let len = u32::try_from(1 + payload.len() + pad).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(4 + len as usize);
    out.extend_from_slice(&len.to_be_bytes());
    out.push(pad as u8);
    out.extend_from_slice(payload);
    out.resize(out.len() + pad, 0);
    out
}

/// The outcome of looking for an unencrypted packet at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed {
    /// A whole packet: its payload and the bytes it took.
    Packet { payload: Vec<u8>, used: usize },
    /// More bytes are needed.
    Incomplete,
    /// The lengths make no sense.
    Invalid,
}

/// Finds the unencrypted packet at the start of `buf`.
pub fn unframe(buf: &[u8]) -> Framed {
    let Some(len) = buf.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize) else {
        return Framed::Incomplete;
    };
    if !(2..=MAX_PACKET).contains(&len) {
        return Framed::Invalid;
    }
    let Some(&pad) = buf.get(4) else { return Framed::Incomplete };
    if pad as usize + 1 >= len {
        return Framed::Invalid;
    }
    if buf.len() < 4 + len {
        return Framed::Incomplete;
    }
    Framed::Packet { payload: buf[5..4 + len - pad as usize].to_vec(), used: 4 + len }
}

/// The algorithm lists of a KEXINIT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KexInit {
    /// Key exchange methods.
    pub kex: Vec<String>,
    /// Host key algorithms.
    pub host_key: Vec<String>,
    /// Ciphers, client to server and server to client.
    pub ciphers: [Vec<String>; 2],
    /// MACs, both directions.
    pub macs: [Vec<String>; 2],
    /// Compression, both directions.
    pub compression: [Vec<String>; 2],
}

/// Parses a KEXINIT payload (message number included).
pub fn parse_kexinit(payload: &[u8]) -> Option<KexInit> {
    let mut r = Reader::new(payload);
    if r.u8()? != msg::KEXINIT {
        return None;
    }
    r.bytes(16)?; // cookie
    Some(KexInit {
        kex: r.name_list()?,
        host_key: r.name_list()?,
        ciphers: [r.name_list()?, r.name_list()?],
        macs: [r.name_list()?, r.name_list()?],
        compression: [r.name_list()?, r.name_list()?],
    })
}

/// The reason text of a DISCONNECT payload.
pub fn disconnect_reason(payload: &[u8]) -> Option<String> {
    let mut r = Reader::new(payload);
    (r.u8()? == msg::DISCONNECT).then_some(())?;
    r.u32()?;
    Some(String::from_utf8_lossy(r.string()?).into_owned())
}
