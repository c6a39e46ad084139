//! Hostile fakes: TCP servers that misbehave in ways no real daemon can be configured to, so the lab
//! can show that every probe of the agent ends within its time and byte limits.
//!
//! - [`Mode::Tarpit`]: accepts, reads and discards whatever comes, never sends a byte.
//! - [`Mode::Drip`]: sends one byte per second of a greeting that never ends a line
//!   (`220-wijk-lab drip…`), reads nothing.
//! - [`Mode::Flood`]: sends up to [`FLOOD_BYTES`] of printable garbage (letters, no line end) as fast
//!   as the peer takes it, reads nothing.
//! - [`Mode::Reset`]: accepts, then closes at once with `SO_LINGER` 0, so the peer gets a TCP reset.
//! - [`Mode::TlsGarbage`]: waits for the client's first bytes (a ClientHello), answers with
//!   [`GARBAGE_BYTES`] of random bytes (any value, not only letters), then reads until the peer leaves.
//! - [`Mode::Utf8`]: speaks just enough FTP, SSH, Telnet, SMTP, HTTP, MQTT or Redis (by the port it
//!   was reached on) to be identified, with invalid UTF-8 in every text it sends
//!   ([`crate::hostile_text`]).
//!
//! Run by the program `hostile` (`tests/src/bin/hostile.rs`) inside a lab host's namespace:
//! `hostile <tarpit|drip|flood|reset|tls-garbage|utf8> --ports 21,22,… [--bind 0.0.0.0] [--lifetime-secs N]`.
//!
//! Everything is bounded: the server stops accepting and [`Server::run`] returns after its lifetime
//! (at most [`MAX_LIFETIME`], ten minutes; the program then exits, ending every connection); one
//! connection lasts at most [`CONNECTION_LIMIT`]; at most [`MAX_CONNECTIONS`] are served at once
//! (more are closed at once); every read and write has a one-second timeout so a loop can always
//! look at its deadline. Plain std threads: no runtime, nothing to configure.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The longest a hostile server lives.
pub const MAX_LIFETIME: Duration = Duration::from_secs(600);
/// The longest one connection is kept.
pub const CONNECTION_LIMIT: Duration = Duration::from_secs(300);
/// Connections served at once, at most.
pub const MAX_CONNECTIONS: usize = 128;
/// Bytes one flood connection sends at most.
pub const FLOOD_BYTES: usize = 64 * 1024 * 1024;
/// Bytes a tls-garbage connection sends in answer to the ClientHello.
pub const GARBAGE_BYTES: usize = 16 * 1024;
/// What a drip connection sends, one byte per second, over and over.
const DRIP_TEXT: &[u8] = b"220-wijk-lab drip ";
/// How often loops look at their deadline.
const TICK: Duration = Duration::from_secs(1);

/// How a hostile server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accepts, never speaks.
    Tarpit,
    /// One byte per second.
    Drip,
    /// Megabytes of garbage.
    Flood,
    /// A TCP reset right after the accept.
    Reset,
    /// Random bytes in answer to a ClientHello.
    TlsGarbage,
    /// Protocol answers with invalid UTF-8 in their text.
    Utf8,
}

impl Mode {
    /// Parses `tarpit`, `drip`, `flood`, `reset`, `tls-garbage` or `utf8`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "tarpit" => Some(Mode::Tarpit),
            "drip" => Some(Mode::Drip),
            "flood" => Some(Mode::Flood),
            "reset" => Some(Mode::Reset),
            "tls-garbage" => Some(Mode::TlsGarbage),
            "utf8" => Some(Mode::Utf8),
            _ => None,
        }
    }
}

/// What to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The misbehaviour.
    pub mode: Mode,
    /// Address to listen on.
    pub bind: IpAddr,
    /// TCP ports (0 = any free port, for tests).
    pub ports: Vec<u16>,
    /// How long to serve (at most [`MAX_LIFETIME`]).
    pub lifetime: Duration,
}

/// The usage line.
pub const USAGE: &str = "usage: hostile <tarpit|drip|flood|reset|tls-garbage|utf8> --ports P[,P…] [--bind ADDR] [--lifetime-secs N (≤ 600)]";

impl Config {
    /// Parses the program's arguments (without the program name).
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Config> {
        let mut args = args.into_iter();
        let mode = args.next().and_then(|m| Mode::parse(&m)).with_context(|| USAGE.to_string())?;
        let mut cfg =
            Config { mode, bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED), ports: Vec::new(), lifetime: MAX_LIFETIME };
        while let Some(flag) = args.next() {
            let value = args.next().with_context(|| format!("{flag} needs a value; {USAGE}"))?;
            match flag.as_str() {
                "--ports" => {
                    cfg.ports = value
                        .split(',')
                        .map(|p| p.trim().parse::<u16>().with_context(|| format!("bad port {p:?}")))
                        .collect::<Result<_>>()?
                }
                "--bind" => cfg.bind = value.parse().with_context(|| format!("bad address {value:?}"))?,
                "--lifetime-secs" => {
                    let secs: u64 = value.parse().with_context(|| format!("bad lifetime {value:?}"))?;
                    cfg.lifetime = Duration::from_secs(secs).min(MAX_LIFETIME);
                }
                other => bail!("unknown option {other:?}; {USAGE}"),
            }
        }
        if cfg.ports.is_empty() {
            bail!("no ports; {USAGE}");
        }
        Ok(cfg)
    }
}

/// Bound listeners, ready to serve.
#[derive(Debug)]
pub struct Server {
    mode: Mode,
    listeners: Vec<TcpListener>,
    lifetime: Duration,
}

impl Server {
    /// Binds every port of `cfg` (all or nothing).
    pub fn bind(cfg: &Config) -> Result<Server> {
        let listeners = cfg
            .ports
            .iter()
            .map(|&p| {
                let l = TcpListener::bind(SocketAddr::new(cfg.bind, p)).with_context(|| format!("binding port {p}"))?;
                l.set_nonblocking(true)?;
                Ok(l)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Server { mode: cfg.mode, listeners, lifetime: cfg.lifetime.min(MAX_LIFETIME) })
    }

    /// The bound addresses, in the order of the ports.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().filter_map(|l| l.local_addr().ok()).collect()
    }

    /// Serves until the lifetime has passed, then returns (connections still open end with their own
    /// limits, or when the program exits).
    pub fn run(self) {
        let end = Instant::now() + self.lifetime;
        let active = Arc::new(AtomicUsize::new(0));
        let acceptors: Vec<_> = self
            .listeners
            .into_iter()
            .map(|l| {
                let active = active.clone();
                let mode = self.mode;
                thread::spawn(move || accept_loop(l, mode, end, &active))
            })
            .collect();
        for a in acceptors {
            let _ = a.join();
        }
    }
}

fn accept_loop(listener: TcpListener, mode: Mode, end: Instant, active: &Arc<AtomicUsize>) {
    while Instant::now() < end {
        match listener.accept() {
            Ok((stream, _)) => {
                if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    active.fetch_sub(1, Ordering::SeqCst);
                    continue; // dropped: closed at once
                }
                let active = active.clone();
                let deadline = (Instant::now() + CONNECTION_LIMIT).min(end);
                thread::spawn(move || {
                    let _ = serve(stream, mode, deadline);
                    active.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// One connection, until `deadline`, the peer leaves, or (flood) the byte cap.
fn serve(mut stream: TcpStream, mode: Mode, deadline: Instant) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    if mode == Mode::Reset {
        // Closing with a zero linger time sends a RST instead of a FIN.
        socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
        drop(stream);
        return Ok(());
    }
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(TICK))?;
    match mode {
        Mode::Tarpit => {
            let mut buf = [0u8; 4096];
            while Instant::now() < deadline {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if is_timeout(&e) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Mode::Drip => {
            for &b in DRIP_TEXT.iter().cycle() {
                if Instant::now() >= deadline {
                    break;
                }
                stream.write_all(&[b])?;
                thread::sleep(TICK);
            }
        }
        Mode::Reset => {}
        Mode::TlsGarbage => tls_garbage(&mut stream, deadline)?,
        Mode::Utf8 => crate::hostile_text::serve(&mut stream, deadline)?,
        Mode::Flood => {
            let chunk = garbage(64 * 1024);
            let mut sent = 0;
            while sent < FLOOD_BYTES && Instant::now() < deadline {
                match stream.write(&chunk) {
                    Ok(0) => break,
                    Ok(n) => sent += n,
                    Err(e) if is_timeout(&e) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

/// Waits for the client's first bytes, answers with [`GARBAGE_BYTES`] random bytes, then reads and
/// discards until the peer leaves or the deadline passes.
fn tls_garbage(stream: &mut TcpStream, deadline: Instant) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    let mut answered = false;
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(_) if !answered => {
                stream.write_all(&random_bytes(GARBAGE_BYTES))?;
                answered = true;
            }
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub(crate) fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted)
}

/// A xorshift stream (the same every time, so a failure can be replayed).
fn xorshift() -> impl Iterator<Item = u32> {
    let mut x: u32 = 0x9e37_79b9;
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    })
}

/// `n` printable letters from a xorshift stream: no line end, no protocol a parser could follow.
fn garbage(n: usize) -> Vec<u8> {
    xorshift().take(n).map(|x| b'A' + (x % 26) as u8).collect()
}

/// `n` bytes of any value from a xorshift stream.
fn random_bytes(n: usize) -> Vec<u8> {
    xorshift().take(n).map(|x| (x >> 11) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server for `mode` on a free loopback port, living `secs` seconds.
    fn start(mode: Mode, secs: u64) -> SocketAddr {
        let cfg =
            Config { mode, bind: IpAddr::V4(Ipv4Addr::LOCALHOST), ports: vec![0], lifetime: Duration::from_secs(secs) };
        let server = Server::bind(&cfg).expect("bind");
        let addr = server.local_addrs()[0];
        thread::spawn(move || server.run());
        addr
    }

    fn read_for(addr: SocketAddr, limit: Duration, cap: usize) -> Vec<u8> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        let start = Instant::now();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while start.elapsed() < limit && got.len() < cap {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if is_timeout(&e) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        got
    }

    #[test]
    fn parses_arguments_and_caps_the_lifetime() {
        let args = ["drip", "--ports", "21,22", "--lifetime-secs", "99999"].map(String::from);
        let cfg = Config::from_args(args).expect("parse");
        assert_eq!(cfg.mode, Mode::Drip);
        assert_eq!(cfg.ports, [21, 22]);
        assert_eq!(cfg.lifetime, MAX_LIFETIME);
        assert!(Config::from_args(["tarpit".to_string()]).is_err(), "no ports");
        assert!(Config::from_args(["slow".to_string()]).is_err(), "unknown mode");
    }

    #[test]
    fn tarpit_never_speaks() {
        let addr = start(Mode::Tarpit, 10);
        assert!(read_for(addr, Duration::from_millis(1500), 1).is_empty());
    }

    #[test]
    fn drip_sends_about_one_byte_per_second_without_a_line_end() {
        let addr = start(Mode::Drip, 10);
        let got = read_for(addr, Duration::from_millis(2500), 100);
        assert!((2..=4).contains(&got.len()), "{got:?}");
        assert!(got.starts_with(b"22") && !got.contains(&b'\n'));
    }

    #[test]
    fn flood_sends_megabytes_of_letters() {
        let addr = start(Mode::Flood, 10);
        let got = read_for(addr, Duration::from_secs(5), 4 * 1024 * 1024);
        assert!(got.len() >= 4 * 1024 * 1024, "only {} bytes", got.len());
        assert!(got.iter().all(u8::is_ascii_uppercase));
    }

    #[test]
    fn reset_resets_every_connection() {
        let addr = start(Mode::Reset, 10);
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        let mut buf = [0u8; 16];
        let err = s.read(&mut buf).expect_err("a reset, not data or a clean close");
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    }

    #[test]
    fn tls_garbage_answers_a_hello_with_random_bytes_once() {
        let addr = start(Mode::TlsGarbage, 10);
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
        s.write_all(b"\x16\x03\x01\x00\x05hello").expect("hello");
        s.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if is_timeout(&e) && got.len() >= GARBAGE_BYTES => break,
                Err(e) if is_timeout(&e) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        assert_eq!(got.len(), GARBAGE_BYTES);
        assert!(got.iter().any(|b| !b.is_ascii()), "bytes of any value, not only text");
    }

    #[test]
    fn server_stops_at_the_end_of_its_lifetime() {
        let cfg = Config {
            mode: Mode::Tarpit,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: vec![0],
            lifetime: Duration::from_millis(300),
        };
        let start = Instant::now();
        Server::bind(&cfg).expect("bind").run();
        assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
    }
}
