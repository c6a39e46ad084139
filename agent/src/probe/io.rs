//! Bounded I/O for probes: every read has a deadline and counts against a byte budget.
//!
//! A [`Session`] wraps one connection (plain TCP, or any stream such as TLS) with the probe's
//! deadline and byte budget. Reads return what arrived, never more than the budget allows; a server
//! that stays silent costs the deadline, one that drips costs the deadline, one that floods costs the
//! byte budget. Text that comes from a server is passed through [`sanitize`] before anyone shows it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

use super::{Limits, Target};

/// Why a probe's exchange ended.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing listens (any more).
    #[error("refused")]
    Refused,
    /// The deadline passed.
    #[error("timeout")]
    Timeout,
    /// The byte budget is spent.
    #[error("byte-limit")]
    ByteLimit,
    /// The server reset the connection.
    #[error("reset")]
    Reset,
    /// The server closed the connection.
    #[error("closed")]
    Closed,
    /// The server's answer made no sense for the protocol.
    #[error("unexpected answer: {0}")]
    Protocol(String),
    /// Another I/O error.
    #[error("{0}")]
    Io(std::io::Error),
}

impl ProbeError {
    /// Short label for `ServiceInfo::note`.
    pub fn note(&self) -> String {
        match self {
            ProbeError::Protocol(what) => format!("unexpected answer: {}", sanitize(what, 80)),
            other => other.to_string(),
        }
    }
}

impl From<std::io::Error> for ProbeError {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::ConnectionRefused => ProbeError::Refused,
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => ProbeError::Reset,
            std::io::ErrorKind::UnexpectedEof => ProbeError::Closed,
            std::io::ErrorKind::TimedOut => ProbeError::Timeout,
            _ => ProbeError::Io(e),
        }
    }
}

/// A bounded conversation over one stream.
#[derive(Debug)]
pub struct Session<S = TcpStream> {
    stream: S,
    deadline: Instant,
    budget: usize,
    read: usize,
}

impl Session<TcpStream> {
    /// Connects to `target` within `limits.connect`; the session's deadline is `limits.deadline`.
    pub async fn connect(target: &Target, limits: &Limits) -> Result<Session, ProbeError> {
        Session::connect_addr(target.addr, limits).await
    }

    /// Connects to `addr`.
    pub async fn connect_addr(addr: SocketAddr, limits: &Limits) -> Result<Session, ProbeError> {
        let stream = match tokio::time::timeout(limits.connect, TcpStream::connect(addr)).await {
            Ok(s) => s?,
            Err(_) => return Err(ProbeError::Timeout),
        };
        let _ = stream.set_nodelay(true);
        Ok(Session::over(stream, limits))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    /// A session over an already open stream.
    pub fn over(stream: S, limits: &Limits) -> Session<S> {
        Session { stream, deadline: Instant::now() + limits.deadline, budget: limits.max_bytes, read: 0 }
    }

    /// Hands the stream on (e.g. to a TLS handshake after STARTTLS), with what is left of the
    /// deadline and budget.
    pub fn into_parts(self) -> (S, Limits) {
        let left = self.deadline.saturating_duration_since(Instant::now());
        (self.stream, Limits { connect: left, deadline: left, max_bytes: self.budget - self.read })
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> usize {
        self.read
    }

    /// Time left before the deadline.
    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Writes all of `bytes` before the deadline.
    pub async fn write_all(&mut self, bytes: &[u8]) -> Result<(), ProbeError> {
        match tokio::time::timeout_at(self.deadline, self.stream.write_all(bytes)).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(ProbeError::Timeout),
        }
    }

    /// Reads whatever arrives next (at most `max` bytes); waits until something arrives, the
    /// deadline passes or the server closes.
    pub async fn read_some(&mut self, max: usize) -> Result<Vec<u8>, ProbeError> {
        let room = self.budget.saturating_sub(self.read).min(max);
        if room == 0 {
            return Err(ProbeError::ByteLimit);
        }
        let mut buf = vec![0u8; room.min(16 * 1024)];
        match tokio::time::timeout_at(self.deadline, self.stream.read(&mut buf)).await {
            Err(_) => Err(ProbeError::Timeout),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(0)) => Err(ProbeError::Closed),
            Ok(Ok(n)) => {
                self.read += n;
                buf.truncate(n);
                Ok(buf)
            }
        }
    }

    /// Reads until `done(&so_far)` holds, `max` bytes arrived, the server closes or the deadline
    /// passes. Returns what arrived if `done` held or anything arrived before the close; an error
    /// only when nothing at all arrived (or the budget ran out first).
    pub async fn read_until(&mut self, max: usize, done: impl Fn(&[u8]) -> bool) -> Result<Vec<u8>, ProbeError> {
        let mut got = Vec::new();
        loop {
            if done(&got) {
                return Ok(got);
            }
            if got.len() >= max {
                return if got.is_empty() { Err(ProbeError::ByteLimit) } else { Ok(got) };
            }
            match self.read_some(max - got.len()).await {
                Ok(chunk) => got.extend_from_slice(&chunk),
                Err(ProbeError::Closed) if !got.is_empty() => return Ok(got),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads one line (through `\n`, at most 4 KiB).
    pub async fn read_line(&mut self) -> Result<Vec<u8>, ProbeError> {
        self.read_until(4096, |b| b.contains(&b'\n')).await
    }

    /// Reads exactly `n` bytes.
    pub async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, ProbeError> {
        let got = self.read_until(n, |b| b.len() >= n).await?;
        if got.len() < n {
            return Err(ProbeError::Closed);
        }
        Ok(got)
    }
}

/// Sends one datagram to `target` and waits for one answer within the limits.
pub async fn udp_exchange(target: &Target, payload: &[u8], limits: &Limits) -> Result<Vec<u8>, ProbeError> {
    let bind: SocketAddr = if target.addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(target.addr).await?;
    sock.send(payload).await?;
    let mut buf = vec![0u8; limits.max_bytes.min(65536)];
    match tokio::time::timeout(limits.deadline, sock.recv(&mut buf)).await {
        Err(_) => Err(ProbeError::Timeout),
        Ok(Err(e)) => Err(e.into()),
        Ok(Ok(n)) => {
            buf.truncate(n);
            Ok(buf)
        }
    }
}

/// Server text made safe to show: invalid UTF-8 replaced, control characters dropped (tabs become
/// spaces), whitespace runs collapsed, cut to `max` characters with an ellipsis.
pub fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut last_space = false;
    for c in text.chars() {
        let c = if c == '\t' || c == '\n' || c == '\r' { ' ' } else { c };
        if c.is_control() {
            continue;
        }
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        if out.chars().count() >= max {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out.trim().to_string()
}

/// [`sanitize`] for bytes that may not be UTF-8.
pub fn sanitize_bytes(bytes: &[u8], max: usize) -> String {
    sanitize(&String::from_utf8_lossy(bytes), max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake;

    #[test]
    fn sanitize_drops_controls_and_cuts() {
        assert_eq!(sanitize("SSH-2.0-OpenSSH_9.2\r\n\x1b[31m", 100), "SSH-2.0-OpenSSH_9.2 [31m");
        assert_eq!(sanitize("abcdef", 3), "abc…");
        assert_eq!(sanitize_bytes(&[0x66, 0xff, 0x6f], 10), "f\u{fffd}o");
    }

    #[tokio::test]
    async fn a_silent_server_costs_the_deadline_and_no_more() {
        let server = fake::silent().await;
        let mut s = Session::connect_addr(server.target.addr, &fake::limits(300, 1024)).await.expect("connect");
        let started = std::time::Instant::now();
        assert!(matches!(s.read_line().await, Err(ProbeError::Timeout)));
        assert!(started.elapsed() < Duration::from_millis(600));
    }

    #[tokio::test]
    async fn a_flooding_server_costs_the_byte_budget_and_no_more() {
        let server = fake::flood(b"").await;
        let mut s = Session::connect_addr(server.target.addr, &fake::limits(5000, 4096)).await.expect("connect");
        let line = s.read_line().await.expect("some bytes");
        assert_eq!(line.len(), 4096, "no newline: stops at the line cap, which equals the budget here");
        assert!(matches!(s.read_some(10).await, Err(ProbeError::ByteLimit)));
        assert_eq!(s.bytes_read(), 4096);
    }
}
