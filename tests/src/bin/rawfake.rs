//! `rawfake`: packet-level hostility for the packets lab (duplicated SYN-ACKs, late SYN-ACKs, ICMP
//! unreachable storms). See `wijk_lab::rawfake`; started by the lab inside a host's namespace with
//! `ip netns exec <ns> rawfake <mode> --iface eth0 --peer <scanner> …`, stopped by the lab, and gone
//! after ten minutes whatever happens. It refuses to run outside a lab namespace.

use std::process::ExitCode;

use wijk_lab::rawfake::{self, Config};

fn main() -> ExitCode {
    match Config::from_args(std::env::args().skip(1)).and_then(rawfake::run) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rawfake: {e:#}");
            ExitCode::from(2)
        }
    }
}
