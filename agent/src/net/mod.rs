//! Raw packets behind one trait, and what the scanner needs to know about this machine's network.
//!
//! [`PacketIo`] sends [`Probe`]s; replies arrive, parsed, on a channel handed out at construction.
//! Production uses [`raw::RawNet`] (raw IP sockets and an AF_PACKET channel for ARP, each receiver on
//! its own thread with a read timeout, since a blocking receive cannot be cancelled). Unit tests use
//! [`fake::FakeNet`], a simulated network. Every implementation is wrapped in [`ScopedIo`], which
//! refuses any probe whose target is outside the consent *before* it reaches a socket.

pub mod fake;
pub mod packet;
pub mod raw;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};

pub use packet::{Probe, Reply};
pub use pnet_base::MacAddr;

use crate::consent::Scope;

/// Errors of the packet layer.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A probe was addressed outside the consent: a bug upstream, refused here.
    #[error("pakket naar {0} geweigerd: buiten de toestemming / probe to {0} refused: outside the consent")]
    OutOfScope(IpAddr),
    /// No route or no local address towards a target.
    #[error("geen route naar {0}: {1} / no route to {0}: {1}")]
    NoRoute(IpAddr, std::io::Error),
    /// ARP asked for an address that is not on a directly attached network.
    #[error("{0} ligt niet op een rechtstreeks aangesloten netwerk / {0} is not on a directly attached network")]
    NotOnLink(Ipv4Addr),
    /// The kernel refused to send (after retrying when its buffers were full).
    #[error("verzenden naar {0} mislukt: {1} / sending to {0} failed: {1}")]
    Send(IpAddr, std::io::Error),
    /// Opening a raw socket or datalink channel failed.
    #[error("ruwe socket openen mislukt ({what}): {source} / opening raw socket failed")]
    Open {
        /// Which socket.
        what: &'static str,
        /// Cause.
        source: std::io::Error,
    },
}

/// Sends probes. Replies arrive on the channel returned by the implementation's constructor.
pub trait PacketIo: Send + Sync {
    /// Puts one probe on the wire.
    fn send(&self, probe: &Probe) -> Result<(), NetError>;
    /// Whether ARP can ask for `ip` (it is on a directly attached IPv4 network).
    fn on_link(&self, ip: Ipv4Addr) -> bool;
}

impl<T: PacketIo + ?Sized> PacketIo for std::sync::Arc<T> {
    fn send(&self, probe: &Probe) -> Result<(), NetError> {
        (**self).send(probe)
    }
    fn on_link(&self, ip: Ipv4Addr) -> bool {
        (**self).on_link(ip)
    }
}

/// The scope guard in front of every packet: refuses and counts probes to non-targets.
#[derive(Debug)]
pub struct ScopedIo<T> {
    inner: T,
    scope: Scope,
    refused: AtomicU64,
}

impl<T: PacketIo> ScopedIo<T> {
    /// Wraps `inner` so that only targets of `scope` can be probed.
    pub fn new(inner: T, scope: Scope) -> Self {
        ScopedIo { inner, scope, refused: AtomicU64::new(0) }
    }

    /// How many probes were refused (must stay zero; non-zero means a bug upstream).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

impl<T: PacketIo> PacketIo for ScopedIo<T> {
    fn send(&self, probe: &Probe) -> Result<(), NetError> {
        let target = probe.target();
        if !self.scope.contains(target) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(NetError::OutOfScope(target));
        }
        self.inner.send(probe)
    }

    fn on_link(&self, ip: Ipv4Addr) -> bool {
        self.inner.on_link(ip)
    }
}

/// Whether this process may open raw sockets (root, or CAP_NET_RAW as under systemd): the
/// capability is in the effective set *and* the kernel actually hands out a raw socket (a container
/// or seccomp profile may still refuse).
pub fn has_raw_privileges() -> bool {
    has_cap_net_raw()
        && socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::RAW, Some(socket2::Protocol::ICMPV4)).is_ok()
}

fn has_cap_net_raw() -> bool {
    const CAP_NET_RAW: u32 = 13;
    let effective = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0);
    effective & (1 << CAP_NET_RAW) != 0
}

/// The local address the kernel would use towards `dst`. Sends nothing: a UDP `connect` only
/// consults the routing table.
pub fn source_address_for(dst: IpAddr) -> Result<IpAddr, NetError> {
    let bind: SocketAddr = match dst {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(bind).map_err(|e| NetError::NoRoute(dst, e))?;
    sock.connect((dst, 9)).map_err(|e| NetError::NoRoute(dst, e))?;
    let local = sock.local_addr().map_err(|e| NetError::NoRoute(dst, e))?;
    Ok(local.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Probe>>);

    impl PacketIo for Recorder {
        fn send(&self, probe: &Probe) -> Result<(), NetError> {
            self.0.lock().expect("lock").push(*probe);
            Ok(())
        }
        fn on_link(&self, _ip: Ipv4Addr) -> bool {
            true
        }
    }

    #[test]
    fn the_scope_guard_lets_targets_through_and_refuses_everything_else() {
        let scope = Scope::new(&["198.18.0.0/24".into()], &["198.18.0.9".into()], &[]).expect("scope");
        let io = ScopedIo::new(Recorder::default(), scope);
        let inside = Probe::Echo { dst: "198.18.0.8".parse().expect("ip"), ident: 1, seq: 1 };
        let excluded = Probe::Arp { dst: "198.18.0.9".parse().expect("ip") };
        let outside = Probe::TcpSyn { dst: "198.18.1.1".parse().expect("ip"), dport: 22, sport: 1, seq: 1 };
        assert!(io.send(&inside).is_ok());
        assert!(matches!(io.send(&excluded), Err(NetError::OutOfScope(_))));
        assert!(matches!(io.send(&outside), Err(NetError::OutOfScope(_))));
        assert_eq!(io.refused(), 2);
        assert_eq!(*io.inner.0.lock().expect("lock"), vec![inside]);
    }
}
