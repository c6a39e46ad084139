//! `hostile`: a misbehaving TCP server for the services and hostile labs (tarpit, drip, flood, reset,
//! tls-garbage or utf8 on a list of ports). See `wijk_lab::hostile`; started by the lab inside a
//! host's namespace with `ip netns exec <ns> hostile <mode> --ports …`, stopped by the lab, and gone
//! after ten minutes whatever happens.

use std::process::ExitCode;

use wijk_lab::hostile::{Config, Server};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostile: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cfg = Config::from_args(std::env::args().skip(1))?;
    let server = Server::bind(&cfg)?;
    let addrs: Vec<String> = server.local_addrs().iter().map(|a| a.to_string()).collect();
    println!("hostile {:?} for {:?} on {}", cfg.mode, cfg.lifetime, addrs.join(" "));
    server.run();
    println!("hostile {:?}: lifetime over, exiting", cfg.mode);
    // Returning from main ends the process and with it every connection still being served.
    Ok(())
}
