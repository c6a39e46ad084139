//! The `utf8` hostile mode: just enough of FTP, SSH, Telnet, SMTP, HTTP, MQTT and Redis (chosen by
//! the port the client reached, see [`crate::addressing::UTF8_PORTS`]) for the agent to identify
//! the service, with invalid UTF-8 in every text the agent reads: greetings and banners, product
//! versions, replies to its commands, the HTTP `Server` header and page title, Redis' `INFO` and
//! the MQTT broker version. The broken bytes are [`BAD`]: a lone `0xff`, a lone `0xfe`, and `0xc3`
//! followed by `(` (a lead byte without its continuation). Telnet never gets `0xff` (its IAC byte).
//!
//! Each conversation is bounded like every hostile connection: one-second reads, the connection's
//! deadline, at most [`MAX_REQUEST`] bytes kept from the client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use crate::hostile::is_timeout;

/// The invalid UTF-8 put into every text.
pub const BAD: &[u8] = b"\xff\xfe\xc3\x28";
/// Bytes of one client request kept at most.
const MAX_REQUEST: usize = 16 * 1024;

/// Serves one connection by the port it was accepted on.
pub(crate) fn serve(stream: &mut TcpStream, deadline: Instant) -> std::io::Result<()> {
    let mut c = Conn { stream, buf: Vec::new(), deadline };
    match c.stream.local_addr()?.port() {
        21 => ftp(&mut c),
        22 => ssh(&mut c),
        23 => telnet(&mut c),
        25 => smtp(&mut c),
        80 => http(&mut c),
        1883 => mqtt(&mut c),
        6379 => redis(&mut c),
        _ => {
            c.send(&text(&[b"Gemeente ", BAD, b" onbekende dienst\r\n"]))?;
            c.drain()
        }
    }
}

/// `parts` joined.
fn text(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// One connection with what the client sent and not yet used.
struct Conn<'a> {
    stream: &'a mut TcpStream,
    buf: Vec<u8>,
    deadline: Instant,
}

impl Conn<'_> {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads more from the client; false when it left, the deadline passed or it sent too much.
    fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 4096];
        while Instant::now() < self.deadline && self.buf.len() < MAX_REQUEST {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// The next line the client sent (without its line end), `None` once it left.
    fn line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Reads and discards until the client leaves or the deadline passes.
    fn drain(&mut self) -> std::io::Result<()> {
        while self.fill()? {
            self.buf.clear();
        }
        Ok(())
    }
}

/// The command word of a line, upper case.
fn verb(line: &[u8]) -> String {
    let word = line.split(|&b| b == b' ').next().unwrap_or_default();
    String::from_utf8_lossy(word).to_ascii_uppercase()
}

fn ftp(c: &mut Conn<'_>) -> std::io::Result<()> {
    c.send(&text(&[b"220 (vsFTPd 3.0.", BAD, b") Gemeente ", BAD, b" FTP\r\n"]))?;
    while let Some(line) = c.line()? {
        let reply = match verb(&line).as_str() {
            "FEAT" => text(&[b"211-Features ", BAD, b":\r\n UTF8\r\n211 End ", BAD, b"\r\n"]),
            "USER" => text(&[b"530 Geen toegang ", BAD, b"\r\n"]),
            "QUIT" => {
                c.send(&text(&[b"221 Tot ziens ", BAD, b"\r\n"]))?;
                return Ok(());
            }
            _ => text(&[b"500 Onbekend commando ", BAD, b"\r\n"]),
        };
        c.send(&reply)?;
    }
    Ok(())
}

/// The version line, then the connection ends once the client has spoken (no key exchange).
fn ssh(c: &mut Conn<'_>) -> std::io::Result<()> {
    c.send(&text(&[b"SSH-2.0-OpenSSH_9.2", BAD, b" Debian-", BAD, b"\r\n"]))?;
    c.fill()?;
    Ok(())
}

fn telnet(c: &mut Conn<'_>) -> std::io::Result<()> {
    c.send(b"\r\nGemeente \xfe\xc3\x28 Kortrijk \x80\xbf\r\nlogin: ")?;
    c.drain()
}

fn smtp(c: &mut Conn<'_>) -> std::io::Result<()> {
    c.send(&text(&[b"220 mail.gemeente", BAD, b".test ESMTP Postfix ", BAD, b"\r\n"]))?;
    while let Some(line) = c.line()? {
        let reply = match verb(&line).as_str() {
            "EHLO" | "HELO" => {
                text(&[b"250-mail.gemeente", BAD, b".test hallo ", BAD, b"\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"])
            }
            "QUIT" => {
                c.send(&text(&[b"221 2.0.0 Tot ziens ", BAD, b"\r\n"]))?;
                return Ok(());
            }
            _ => text(&[b"502 5.5.2 Onbekend ", BAD, b"\r\n"]),
        };
        c.send(&reply)?;
    }
    Ok(())
}

/// One answer per connection, whatever was asked, then close.
fn http(c: &mut Conn<'_>) -> std::io::Result<()> {
    while !c.buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if !c.fill()? {
            return Ok(());
        }
    }
    let body = text(&[
        b"<!doctype html><html><head><title>Gemeente ",
        BAD,
        b" loket</title></head><body>",
        BAD,
        b"</body></html>\n",
    ]);
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    c.send(&text(&[head.as_bytes(), b"Server: nginx/1.22.", BAD, b" (Gemeente ", BAD, b")\r\n\r\n", &body]))
}

/// MQTT 3.1.1: CONNACK accepted, SUBACK and a retained version PUBLISH for every SUBSCRIBE, until
/// DISCONNECT.
fn mqtt(c: &mut Conn<'_>) -> std::io::Result<()> {
    loop {
        let Some((kind, body)) = mqtt_packet(&mut c.buf) else {
            if !c.fill()? {
                return Ok(());
            }
            continue;
        };
        match kind >> 4 {
            1 => c.send(&[0x20, 0x02, 0x00, 0x00])?,
            8 => {
                let id = body.get(..2).unwrap_or(&[0, 1]).to_vec();
                c.send(&[0x90, 0x03, id[0], id[1], 0x00])?;
                let topic: &[u8] = b"$SYS/broker/version";
                let payload = text(&[b"mosquitto version 2.0.", BAD]);
                let len = 2 + topic.len() + payload.len();
                let mut publish = vec![0x31, len as u8, 0x00, topic.len() as u8];
                publish.extend_from_slice(topic);
                publish.extend_from_slice(&payload);
                c.send(&publish)?;
            }
            14 => return Ok(()),
            _ => {}
        }
    }
}

/// Takes one whole MQTT packet (first byte, body) off the front of `buf`.
fn mqtt_packet(buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    let (mut len, mut shift, mut i) = (0usize, 0u32, 1usize);
    loop {
        let b = *buf.get(i)?;
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            buf.clear();
            return None;
        }
    }
    if buf.len() < i + len {
        return None;
    }
    let kind = buf[0];
    let body = buf[i..i + len].to_vec();
    buf.drain(..i + len);
    Some((kind, body))
}

/// RESP: `+PONG`, an `INFO` bulk string, `+OK` to QUIT.
fn redis(c: &mut Conn<'_>) -> std::io::Result<()> {
    while c.fill()? {
        let seen = String::from_utf8_lossy(&c.buf).to_ascii_uppercase();
        c.buf.clear();
        if seen.contains("PING") {
            c.send(b"+PONG\r\n")?;
        }
        if seen.contains("INFO") {
            let info = text(&[b"# Server\r\nredis_version:7.0.", BAD, b"\r\nos:Linux ", BAD, b"\r\n"]);
            c.send(&text(&[format!("${}\r\n", info.len()).as_bytes(), &info, b"\r\n"]))?;
        }
        if seen.contains("QUIT") {
            return c.send(b"+OK\r\n");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_packets_are_taken_whole() {
        let mut buf = vec![0x10, 0x02, 0xaa, 0xbb, 0x82, 0x03, 0x00];
        assert_eq!(mqtt_packet(&mut buf), Some((0x10, vec![0xaa, 0xbb])));
        assert_eq!(mqtt_packet(&mut buf), None, "the SUBSCRIBE is not complete yet");
        buf.extend_from_slice(&[0x01, 0x00]);
        assert_eq!(mqtt_packet(&mut buf), Some((0x82, vec![0x00, 0x01, 0x00])));
        assert!(buf.is_empty());
    }

    #[test]
    fn the_bad_bytes_are_not_utf8() {
        assert_eq!(String::from_utf8_lossy(BAD).matches(char::REPLACEMENT_CHARACTER).count(), 3);
        assert_eq!(verb(b"ehlo wijkagent"), "EHLO");
    }
}
