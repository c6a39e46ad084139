//! Production packet I/O: raw IP sockets for TCP and ICMP, AF_PACKET (pnet datalink) for ARP.
//!
//! Each receiving socket gets its own thread that reads without blocking (napping briefly when the
//! socket is empty, so a busy socket is drained in batches), parses what arrives with
//! [`super::packet`] and forwards [`Reply`]s on one channel. The threads stop when the
//! `stop` token is cancelled or the channel's receiver is dropped. Sending happens on the caller's
//! thread; a full kernel buffer (ENOBUFS) is waited out briefly rather than counted as sent.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pnet_base::MacAddr;
use pnet_datalink::{Channel, DataLinkSender, NetworkInterface};
use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::sync::CancellationToken;

use super::packet::{self, Probe, Reply};
use super::{NetError, PacketIo};
use crate::consent::Scope;

/// How long a receiver thread blocks before it checks whether to stop.
pub const READ_TIMEOUT: Duration = Duration::from_millis(50);

/// Send-only raw sockets per scan (one per sender thread on machines with up to this many cores).
const SEND_SOCKETS: usize = 4;

static NEXT_SLOT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How long an idle receiver naps before it reads again.
const IDLE_NAP: Duration = Duration::from_micros(500);

/// Capacity of the reply channel; a full channel drops replies rather than blocking a receiver.
const REPLY_QUEUE: usize = 1 << 13;

/// One directly attached IPv4 network on which ARP may ask.
struct ArpPort {
    net: ipnetwork::Ipv4Network,
    src_ip: Ipv4Addr,
    mac: MacAddr,
    tx: Mutex<Box<dyn DataLinkSender>>,
}

/// Raw sockets for one scan.
pub struct RawNet {
    /// Send-only IPPROTO_RAW sockets (they never receive, and each sender thread gets its own, so
    /// senders do not contend for one socket lock). We write the IPv4 header ourselves.
    send4: Vec<UdpSocket>,
    tcp6: Option<UdpSocket>,
    icmp4: UdpSocket,
    icmp6: Option<UdpSocket>,
    /// ARP ports; emptied by [`RawNet::close_arp`] once discovery is done.
    arp: std::sync::RwLock<Vec<ArpPort>>,
    arp_stop: CancellationToken,
}

impl std::fmt::Debug for RawNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let arp = self.arp.read().map(|a| a.len()).unwrap_or(0);
        f.debug_struct("RawNet").field("arp_networks", &arp).finish()
    }
}

fn raw_socket(domain: Domain, proto: Protocol, what: &'static str) -> Result<UdpSocket, NetError> {
    let open = || -> std::io::Result<UdpSocket> {
        let s = Socket::new(domain, Type::RAW, Some(proto))?;
        s.set_read_timeout(Some(READ_TIMEOUT))?;
        // Generous buffers: a burst of replies at a high rate must not overflow the socket.
        let _ = s.set_recv_buffer_size(8 << 20);
        let _ = s.set_send_buffer_size(4 << 20);
        Ok(UdpSocket::from(s))
    };
    open().map_err(|source| NetError::Open { what, source })
}

impl RawNet {
    /// Opens the sockets. Datalink channels for ARP are opened only on interfaces whose IPv4
    /// network holds a target of `scope`; `want_v6` opens the IPv6 sockets. Returns the sender and the
    /// channel on which parsed replies arrive.
    pub fn open(
        scope: &Scope,
        want_v6: bool,
        stop: CancellationToken,
    ) -> Result<(Arc<RawNet>, Receiver<Reply>), NetError> {
        let (tx, rx) = mpsc::sync_channel(REPLY_QUEUE);
        // Receives TCP over IPv4 (a raw IPPROTO_TCP socket gets a copy of every TCP segment); only
        // its reader thread keeps it. Sending goes through the IPPROTO_RAW sockets below.
        let tcp4 = raw_socket(Domain::IPV4, Protocol::TCP, "tcp/ipv4")?;
        let send4 = (0..SEND_SOCKETS)
            .map(|_| raw_socket(Domain::IPV4, Protocol::from(libc::IPPROTO_RAW), "raw/ipv4"))
            .collect::<Result<Vec<_>, _>>()?;
        let icmp4 = raw_socket(Domain::IPV4, Protocol::ICMPV4, "icmp/ipv4")?;
        let (tcp6, icmp6) = if want_v6 {
            (
                Some(raw_socket(Domain::IPV6, Protocol::TCP, "tcp/ipv6")?),
                Some(raw_socket(Domain::IPV6, Protocol::ICMPV6, "icmp/ipv6")?),
            )
        } else {
            (None, None)
        };
        spawn_reader(&tcp4, "tcp4", tx.clone(), stop.clone(), |b, _| packet::parse_tcp_v4(b))?;
        spawn_reader(&icmp4, "icmp4", tx.clone(), stop.clone(), |b, _| packet::parse_icmp_v4(b).filter(about_tcp))?;
        if let Some(s) = &tcp6 {
            spawn_reader(s, "tcp6", tx.clone(), stop.clone(), |b, src| packet::parse_tcp(src, b))?;
        }
        if let Some(s) = &icmp6 {
            spawn_reader(s, "icmp6", tx.clone(), stop.clone(), |b, src| match src {
                IpAddr::V6(v6) => packet::parse_icmp_v6(v6, b).filter(about_tcp),
                IpAddr::V4(_) => None,
            })?;
        }
        let arp_stop = stop.child_token();
        let arp = std::sync::RwLock::new(open_arp_ports(scope, &tx, &arp_stop)?);
        let net = RawNet { send4, tcp6, icmp4, icmp6, arp, arp_stop };
        Ok((Arc::new(net), rx))
    }

    /// Closes the ARP channels. An AF_PACKET socket sees a copy of every frame on its interface, which
    /// costs the port scan dearly at high rates; ARP is needed only during discovery.
    pub fn close_arp(&self) {
        self.arp_stop.cancel();
        if let Ok(mut ports) = self.arp.write() {
            ports.clear();
        }
    }

    /// This thread's send socket: threads are handed the sockets in turn on first use.
    fn send_socket(&self) -> &UdpSocket {
        thread_local! {
            static SLOT: usize = NEXT_SLOT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let slot = SLOT.with(|s| *s) % self.send4.len().max(1);
        &self.send4[slot]
    }

    /// The source address towards `dst`, from a per-thread cache (senders never wait on each
    /// other for it), bounded so that discovery of a large scope does not grow it without end.
    fn source_for(&self, dst: IpAddr) -> Result<IpAddr, NetError> {
        thread_local! {
            static SOURCES: std::cell::RefCell<HashMap<IpAddr, IpAddr>> = std::cell::RefCell::new(HashMap::new());
        }
        if let Some(src) = SOURCES.with(|m| m.borrow().get(&dst).copied()) {
            return Ok(src);
        }
        let src = super::source_address_for(dst)?;
        SOURCES.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() > 4096 {
                m.clear();
            }
            m.insert(dst, src);
        });
        Ok(src)
    }

    fn send_ip(&self, sock: &UdpSocket, dst: IpAddr, bytes: &[u8]) -> Result<(), NetError> {
        let to = SocketAddr::new(dst, 0);
        for attempt in 0..50 {
            match sock.send_to(bytes, to) {
                Ok(_) => return Ok(()),
                // The qdisc or socket buffer is full: wait for it to drain instead of losing the probe.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) || e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_micros(100 << attempt.min(6)));
                }
                Err(e) => return Err(NetError::Send(dst, e)),
            }
        }
        Err(NetError::Send(dst, std::io::Error::from_raw_os_error(libc::ENOBUFS)))
    }
}

impl PacketIo for RawNet {
    fn send(&self, probe: &Probe) -> Result<(), NetError> {
        match *probe {
            Probe::TcpSyn { dst, .. } | Probe::TcpAck { dst, .. } => {
                let src = self.source_for(dst)?;
                let mut buf = [0u8; 20];
                let n = packet::build_tcp(src, probe, &mut buf).ok_or(NetError::NoRoute(
                    dst,
                    std::io::Error::new(ErrorKind::InvalidInput, "address family mismatch"),
                ))?;
                match (src, dst) {
                    (IpAddr::V4(s4), IpAddr::V4(d4)) => {
                        let mut pkt = [0u8; 40];
                        pkt[..20].copy_from_slice(&packet::ipv4_header(s4, d4, 6, n));
                        pkt[20..20 + n].copy_from_slice(&buf[..n]);
                        self.send_ip(self.send_socket(), dst, &pkt[..20 + n])
                    }
                    _ => self.send_ip(self.tcp6.as_ref().ok_or_else(|| no_v6(dst))?, dst, &buf[..n]),
                }
            }
            Probe::Echo { dst, ident, seq } => {
                let pkt = packet::build_echo(dst, ident, seq);
                let sock = match dst {
                    IpAddr::V4(_) => &self.icmp4,
                    IpAddr::V6(_) => self.icmp6.as_ref().ok_or_else(|| no_v6(dst))?,
                };
                self.send_ip(sock, dst, &pkt)
            }
            Probe::Arp { dst } => {
                let ports = self.arp.read().map_err(|_| NetError::NotOnLink(dst))?;
                let port = ports.iter().find(|p| p.net.contains(dst)).ok_or(NetError::NotOnLink(dst))?;
                let frame = packet::build_arp(port.mac, port.src_ip, dst);
                let mut tx = port.tx.lock().map_err(|_| NetError::NotOnLink(dst))?;
                match tx.send_to(&frame, None) {
                    Some(Ok(())) => Ok(()),
                    Some(Err(e)) => Err(NetError::Send(IpAddr::V4(dst), e)),
                    None => Err(NetError::NotOnLink(dst)),
                }
            }
        }
    }

    fn on_link(&self, ip: Ipv4Addr) -> bool {
        self.arp.read().map(|ports| ports.iter().any(|p| p.net.contains(ip))).unwrap_or(false)
    }
}

/// Whether an ICMP reply can concern a sweep: echo replies, and unreachables about TCP. Only the
/// raw sweeps read this channel (the UDP scan learns of unreachables through its own sockets), so
/// a storm of unreachables about anything else is dropped here and never crowds the channel.
fn about_tcp(reply: &Reply) -> bool {
    !matches!(reply, Reply::Unreachable { proto, .. } if *proto != 6)
}

fn no_v6(dst: IpAddr) -> NetError {
    NetError::NoRoute(dst, std::io::Error::new(ErrorKind::Unsupported, "IPv6 sockets not opened"))
}

fn spawn_reader(
    sock: &UdpSocket,
    name: &'static str,
    tx: SyncSender<Reply>,
    stop: CancellationToken,
    parse: impl Fn(&[u8], IpAddr) -> Option<Reply> + Send + 'static,
) -> Result<(), NetError> {
    let sock = sock.try_clone().map_err(|source| NetError::Open { what: name, source })?;
    // Non-blocking with a short nap when empty: at high rates the reader drains a batch per wakeup
    // instead of being woken by the kernel for every single packet.
    sock.set_nonblocking(true).map_err(|source| NetError::Open { what: name, source })?;
    std::thread::Builder::new()
        .name(format!("rx-{name}"))
        .spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !stop.is_cancelled() {
                match sock.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        if let Some(reply) = parse(&buf[..n], from.ip()) {
                            if let Err(mpsc::TrySendError::Disconnected(_)) = tx.try_send(reply) {
                                return;
                            }
                        }
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                        std::thread::sleep(IDLE_NAP);
                    }
                    Err(e) => {
                        tracing::warn!(socket = name, error = %e, "ontvangen mislukt / receive failed");
                        std::thread::sleep(READ_TIMEOUT);
                    }
                }
            }
        })
        .map_err(|source| NetError::Open { what: name, source })?;
    Ok(())
}

/// Whether any target of `scope` lies inside `net` (compares ranges, never enumerates addresses).
fn scope_touches(scope: &Scope, net: &ipnetwork::Ipv4Network) -> bool {
    let (lo, hi) = (IpAddr::V4(net.network()), IpAddr::V4(net.broadcast()));
    scope.target_ranges().iter().any(|r| r.start <= hi && r.end >= lo && r.start.is_ipv4())
}

fn open_arp_ports(scope: &Scope, tx: &SyncSender<Reply>, stop: &CancellationToken) -> Result<Vec<ArpPort>, NetError> {
    let mut ports = Vec::new();
    for iface in pnet_datalink::interfaces() {
        if !iface.is_up() || iface.is_loopback() {
            continue;
        }
        let Some(mac) = iface.mac.filter(|m| *m != MacAddr::zero()) else { continue };
        for ipn in &iface.ips {
            let ipnetwork::IpNetwork::V4(net) = *ipn else { continue };
            if net.prefix() >= 31 || !scope_touches(scope, &net) {
                continue;
            }
            let txl = open_datalink(&iface, tx.clone(), stop.clone())?;
            ports.push(ArpPort { net, src_ip: net.ip(), mac, tx: Mutex::new(txl) });
        }
    }
    Ok(ports)
}

fn open_datalink(
    iface: &NetworkInterface,
    tx: SyncSender<Reply>,
    stop: CancellationToken,
) -> Result<Box<dyn DataLinkSender>, NetError> {
    let config = pnet_datalink::Config { read_timeout: Some(READ_TIMEOUT), ..Default::default() };
    let open_err = |source| NetError::Open { what: "arp/datalink", source };
    let (dl_tx, mut dl_rx) = match pnet_datalink::channel(iface, config).map_err(open_err)? {
        Channel::Ethernet(t, r) => (t, r),
        _ => return Err(open_err(std::io::Error::new(ErrorKind::Unsupported, "not an Ethernet channel"))),
    };
    std::thread::Builder::new()
        .name(format!("rx-arp-{}", iface.name))
        .spawn(move || {
            while !stop.is_cancelled() {
                match dl_rx.next() {
                    Ok(frame) => {
                        if let Some(reply) = packet::parse_arp(frame) {
                            if let Err(mpsc::TrySendError::Disconnected(_)) = tx.try_send(reply) {
                                return;
                            }
                        }
                    }
                    Err(e)
                        if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "ARP ontvangen mislukt / ARP receive failed");
                        std::thread::sleep(READ_TIMEOUT);
                    }
                }
            }
        })
        .map_err(open_err)?;
    Ok(dl_tx)
}
