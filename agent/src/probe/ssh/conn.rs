//! An SSH connection as the probe sees it: a bounded [`Session`] plus a buffer, read as version
//! lines and then as binary packets, plain until NEWKEYS and `chacha20-poly1305@openssh.com` after.

use super::chacha::{PacketCipher, TAG};
use super::wire::{self, msg, Framed, MAX_PACKET};
use crate::probe::http::Stream;
use crate::probe::io::{ProbeError, Session};

/// Longest version or pre-version line accepted (RFC 4253 allows 255 characters).
const MAX_LINE: usize = 1024;

/// A probe's SSH connection.
#[derive(Debug)]
pub struct Conn<S> {
    session: Session<S>,
    buf: Vec<u8>,
    seq_out: u32,
    seq_in: u32,
    out: Option<PacketCipher>,
    inn: Option<PacketCipher>,
}

impl<S: Stream> Conn<S> {
    /// Wraps `session`.
    pub fn new(session: Session<S>) -> Conn<S> {
        Conn { session, buf: Vec::new(), seq_out: 0, seq_in: 0, out: None, inn: None }
    }

    /// Sends raw bytes (the version line).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ProbeError> {
        self.session.write_all(bytes).await
    }

    async fn fill(&mut self) -> Result<(), ProbeError> {
        let chunk = self.session.read_some(16 * 1024).await?;
        self.buf.extend_from_slice(&chunk);
        Ok(())
    }

    /// The next line, through its `\n`.
    pub async fn line(&mut self) -> Result<Vec<u8>, ProbeError> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                return Ok(self.buf.drain(..=i).collect());
            }
            if self.buf.len() > MAX_LINE {
                return Err(ProbeError::Protocol(String::from_utf8_lossy(&self.buf[..80]).into()));
            }
            self.fill().await?;
        }
    }

    /// Sends one packet, encrypted once keys are set.
    pub async fn send(&mut self, payload: &[u8]) -> Result<(), ProbeError> {
        let bytes = match &self.out {
            None => wire::packet(payload),
            Some(cipher) => cipher.seal(self.seq_out, payload),
        };
        self.seq_out = self.seq_out.wrapping_add(1);
        self.session.write_all(&bytes).await
    }

    /// Switches both directions to `chacha20-poly1305@openssh.com` (after both NEWKEYS).
    pub fn set_keys(&mut self, out: PacketCipher, inn: PacketCipher) {
        self.out = Some(out);
        self.inn = Some(inn);
    }

    /// The next packet's payload (never empty).
    pub async fn recv(&mut self) -> Result<Vec<u8>, ProbeError> {
        let payload = match self.inn.clone() {
            None => loop {
                match wire::unframe(&self.buf) {
                    Framed::Packet { payload, used } => {
                        self.buf.drain(..used);
                        break payload;
                    }
                    Framed::Incomplete => self.fill().await?,
                    Framed::Invalid => return Err(ProbeError::Protocol("invalid SSH packet length".into())),
                }
            },
            Some(cipher) => {
                while self.buf.len() < 4 {
                    self.fill().await?;
                }
                let len = cipher.length(self.seq_in, [self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
                if !(8..=MAX_PACKET).contains(&len) || len % 8 != 0 {
                    return Err(ProbeError::Protocol("invalid SSH packet length".into()));
                }
                while self.buf.len() < 4 + len + TAG {
                    self.fill().await?;
                }
                let sealed: Vec<u8> = self.buf.drain(..4 + len + TAG).collect();
                cipher.open(self.seq_in, &sealed).ok_or_else(|| ProbeError::Protocol("SSH packet MAC".into()))?
            }
        };
        self.seq_in = self.seq_in.wrapping_add(1);
        if payload.is_empty() {
            return Err(ProbeError::Protocol("empty SSH packet".into()));
        }
        Ok(payload)
    }

    /// The next packet that matters: IGNORE, DEBUG, UNIMPLEMENTED and EXT_INFO are skipped (at most
    /// 32 of them); DISCONNECT ends the conversation with its reason.
    pub async fn recv_msg(&mut self) -> Result<Vec<u8>, ProbeError> {
        for _ in 0..32 {
            let payload = self.recv().await?;
            match payload[0] {
                msg::IGNORE | msg::DEBUG | msg::UNIMPLEMENTED | msg::EXT_INFO => continue,
                msg::DISCONNECT => {
                    let reason = wire::disconnect_reason(&payload).unwrap_or_default();
                    return Err(ProbeError::Protocol(format!("disconnect: {reason}")));
                }
                _ => return Ok(payload),
            }
        }
        Err(ProbeError::Protocol("only SSH ignore/debug messages".into()))
    }

    /// Says goodbye (DISCONNECT, "by application") once packets are being exchanged; best effort.
    pub async fn disconnect(&mut self) {
        let bye = wire::Writer::msg(msg::DISCONNECT).u32(11).string(b"").string(b"").0;
        let _ = self.send(&bye).await;
    }
}
