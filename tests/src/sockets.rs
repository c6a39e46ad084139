//! The listening TCP sockets of a running process, read from `/proc` (no `ss` needed): the
//! process's socket inodes from `/proc/PID/fd`, matched against `/proc/PID/net/tcp` and `tcp6`
//! (the tables of the process's own network namespace).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::{Context, Result};

/// `st` of a listening socket in `/proc/net/tcp`.
const LISTEN: &str = "0A";

/// Every TCP address process `pid` listens on.
pub fn listening(pid: u32) -> Result<Vec<SocketAddr>> {
    let inodes = socket_inodes(pid)?;
    let mut found = Vec::new();
    for table in ["tcp", "tcp6"] {
        let path = format!("/proc/{pid}/net/{table}");
        let text = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else { continue };
            if *state == LISTEN && inodes.contains(*inode) {
                found.push(parse_local(local).with_context(|| format!("{path}: odd address {local}"))?);
            }
        }
    }
    Ok(found)
}

fn socket_inodes(pid: u32) -> Result<HashSet<String>> {
    let dir = format!("/proc/{pid}/fd");
    let mut inodes = HashSet::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("read {dir}"))? {
        let Ok(target) = std::fs::read_link(entry?.path()) else { continue };
        let target = target.to_string_lossy();
        if let Some(inode) = target.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
            inodes.insert(inode.to_string());
        }
    }
    Ok(inodes)
}

/// `0100007F:1F90` (IPv4) or 32 hex digits then the port (IPv6): each 32-bit word of the address
/// is printed as the number its bytes make in host order, so its native bytes are the address's.
fn parse_local(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> =
        (0..addr.len() / 8).map(|i| u32::from_str_radix(&addr[i * 8..i * 8 + 8], 16)).collect::<Result<_, _>>().ok()?;
    let ip = match words.as_slice() {
        [a] => IpAddr::V4(Ipv4Addr::from(a.to_ne_bytes())),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (i, w) in [a, b, c, d].iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernels_address_notation() {
        assert_eq!(parse_local("0100007F:1F90"), Some("127.0.0.1:8080".parse().expect("address")));
        assert_eq!(parse_local("00000000:22B3"), Some("0.0.0.0:8883".parse().expect("address")));
        assert_eq!(parse_local("00000000000000000000000001000000:0016"), Some("[::1]:22".parse().expect("address")));
        assert_eq!(parse_local("zz:1"), None);
    }

    #[test]
    fn finds_a_listener_of_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let found = listening(std::process::id()).expect("listening");
        assert!(found.contains(&addr), "{addr} in {found:?}");
        drop(listener);
        assert!(!listening(std::process::id()).expect("listening").contains(&addr));
    }
}
