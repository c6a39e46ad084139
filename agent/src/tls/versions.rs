//! Protocol versions, and one hand-built ClientHello exchange on a fresh connection.
//!
//! [`hello_probe`] opens a connection (reaching the handshake as [`StartTls`] says), sends a
//! [`client_hello`](super::client_hello) offering exactly one version, and reads the server's
//! records one at a time, each with its exact length, so that no byte beyond what is needed is
//! read (or counted against the budget):
//! - a ServerHello → accepted (with the version and suite the server chose; a lower version than
//!   offered means that lower version is accepted, not the one offered);
//! - an Alert → refused, and the server speaks TLS; a close or a reset → refused;
//! - silence until the connection's deadline → refused ("no answer");
//! - anything else (HTTP, garbage, a record claiming too much) → odd, with a short note.
//!
//! When asked, the probe reads on to the Certificate message: in TLS ≤ 1.2 it travels in the
//! clear, so the chain of a server rustls cannot talk to is still seen.

use crate::probe::io::{ProbeError, Session};
use crate::probe::Target;

use super::client_hello::{self, Hello};
use super::server_hello::{record_header, Flight, ParseError};
use super::{Budget, StartTls};

/// A protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Version {
    /// SSL 3.0.
    Ssl3,
    /// TLS 1.0.
    Tls10,
    /// TLS 1.1.
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl Version {
    /// The versions a hand-built ClientHello asks about, newest first.
    pub(crate) const LEGACY: [Version; 4] = [Version::Tls12, Version::Tls11, Version::Tls10, Version::Ssl3];

    /// Its code on the wire.
    pub(crate) const fn wire(self) -> u16 {
        match self {
            Version::Ssl3 => 0x0300,
            Version::Tls10 => 0x0301,
            Version::Tls11 => 0x0302,
            Version::Tls12 => 0x0303,
            Version::Tls13 => 0x0304,
        }
    }

    /// The version of a wire code.
    pub(crate) fn from_wire(code: u16) -> Option<Version> {
        [Version::Ssl3, Version::Tls10, Version::Tls11, Version::Tls12, Version::Tls13]
            .into_iter()
            .find(|v| v.wire() == code)
    }

    /// Its name in reports: `SSLv3`, `TLSv1.0` … `TLSv1.3`.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Version::Ssl3 => "SSLv3",
            Version::Tls10 => "TLSv1.0",
            Version::Tls11 => "TLSv1.1",
            Version::Tls12 => "TLSv1.2",
            Version::Tls13 => "TLSv1.3",
        }
    }
}

/// How a server answered one hand-built ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HelloOutcome {
    /// A ServerHello.
    Accepted {
        /// Version chosen (wire code; may be lower than offered).
        version: u16,
        /// Suite chosen.
        suite: u16,
        /// Certificate chain (DER, leaf first, at most the first ten) when asked for and sent.
        chain: Vec<Vec<u8>>,
        /// How many certificates the server sent (0 when no chain was read).
        presented: usize,
    },
    /// An alert: the hello was not accepted.
    Alert {
        /// The alert's name.
        name: String,
        /// One of the usual refusals (protocol_version, handshake_failure, ...); others are
        /// worth a note.
        usual: bool,
    },
    /// A close, a reset or no answer: the hello was not accepted.
    Refused(String),
    /// Something that is not a sensible answer.
    Odd(String),
}

/// One connection: reach the handshake, send a ClientHello for `version` offering `suites`, read
/// the answer. `Err` only when the handshake could not be reached (connect, STARTTLS, budget).
pub(crate) async fn hello_probe(
    budget: &mut Budget,
    target: &Target,
    starttls: StartTls,
    version: Version,
    suites: &[u16],
    want_chain: bool,
) -> Result<HelloOutcome, ProbeError> {
    let hello = Hello { version, suites, server_name: budget.sni.as_deref(), random: rand::random() };
    let record = client_hello::build(&hello);
    let mut session = budget.open(target, starttls).await?;
    let outcome = exchange(&mut session, &record, want_chain).await;
    budget.spend(session.bytes_read());
    Ok(outcome)
}

/// Sends `client_hello` and reads the server's flight on an open session.
pub(crate) async fn exchange<S>(session: &mut Session<S>, client_hello: &[u8], want_chain: bool) -> HelloOutcome
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    if let Err(e) = session.write_all(client_hello).await {
        return HelloOutcome::Refused(e.note());
    }
    let mut flight = Flight::default();
    let stopped = loop {
        if flight.complete(want_chain) {
            break None;
        }
        match read_record(session, &mut flight).await {
            Ok(()) => {}
            Err(stop) => break Some(stop),
        }
    };
    match (flight.hello, flight.alert, stopped) {
        // A ServerHello counts whatever came after it (a close before the chain, say).
        (Some(h), _, _) => HelloOutcome::Accepted {
            version: h.version,
            suite: h.suite,
            chain: flight.certificates.unwrap_or_default(),
            presented: flight.presented,
        },
        (None, Some(alert), _) => HelloOutcome::Alert { name: alert.name(), usual: alert.is_refusal() },
        (None, None, Some(Stop::Io(ProbeError::Timeout))) => HelloOutcome::Refused("no answer".into()),
        (None, None, Some(Stop::Io(ProbeError::ByteLimit))) => HelloOutcome::Odd("byte limit reached".into()),
        (None, None, Some(Stop::Io(e))) => HelloOutcome::Refused(e.note()),
        (None, None, Some(Stop::Parse(e))) => HelloOutcome::Odd(e.to_string()),
        (None, None, None) => HelloOutcome::Odd("no ServerHello".into()),
    }
}

/// Why reading the flight stopped.
enum Stop {
    Io(ProbeError),
    Parse(ParseError),
}

/// Reads one record (header, then exactly its fragment) into `flight`.
async fn read_record<S>(session: &mut Session<S>, flight: &mut Flight) -> Result<(), Stop>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    let head = session.read_exact(5).await.map_err(Stop::Io)?;
    let header = record_header(&head).map_err(Stop::Parse)?;
    let fragment = session.read_exact(header.len).await.map_err(Stop::Io)?;
    flight.push(&header, &fragment).map_err(Stop::Parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake;

    /// A session to a server that reads a hello and answers `reply`, then waits.
    async fn against(reply: Vec<u8>, want_chain: bool) -> (HelloOutcome, usize) {
        let server = fake::answering(move |_| Some(reply.clone())).await;
        let mut session = Session::connect(&server.target, &fake::limits(500, 4096)).await.expect("connect");
        let hello = client_hello::build(&Hello {
            version: Version::Tls10,
            suites: &[0x000a],
            server_name: None,
            random: [1; 32],
        });
        let out = exchange(&mut session, &hello, want_chain).await;
        drop(server);
        (out, session.bytes_read())
    }

    #[tokio::test]
    async fn a_server_hello_is_accepted_and_nothing_more_is_read() {
        let mut reply = super::super::server_hello::tests::tls10_3des_hello();
        reply.extend_from_slice(b"trailing bytes that must stay unread");
        let (out, read) = against(reply, false).await;
        assert_eq!(out, HelloOutcome::Accepted { version: 0x0301, suite: 0x000a, chain: vec![], presented: 0 });
        assert_eq!(read, 47, "the ServerHello record and no byte more");
    }

    #[tokio::test]
    async fn an_alert_is_a_refusal_and_silence_is_no_answer() {
        let (out, _) = against(vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28], false).await;
        assert_eq!(out, HelloOutcome::Alert { name: "handshake_failure".into(), usual: true });
        let (out, _) = against(vec![], false).await;
        assert_eq!(out, HelloOutcome::Refused("no answer".into()));
    }

    #[tokio::test]
    async fn http_is_odd() {
        let (out, read) = against(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), false).await;
        assert!(matches!(out, HelloOutcome::Odd(ref n) if n.starts_with("not TLS")), "{out:?}");
        assert_eq!(read, 5);
    }

    #[test]
    fn version_codes_round_trip() {
        for v in Version::LEGACY.into_iter().chain([Version::Tls13]) {
            assert_eq!(Version::from_wire(v.wire()), Some(v));
        }
        assert_eq!(Version::from_wire(0x0200), None);
        assert!(Version::Ssl3 < Version::Tls13);
    }
}
