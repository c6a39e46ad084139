//! `wijkagent ports`: what a profile scans, printed for people and in `--ports` syntax for tools.

use std::process::Command;

fn wijkagent(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wijkagent")).args(args).output().expect("run wijkagent");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn the_list_form_is_valid_ports_syntax_and_names_every_port_of_the_profile() {
    let list = wijkagent(&["ports", "--profile", "quick", "--list"]);
    let parsed = wijkagent::ports::parse_port_spec(list.trim()).expect("--list output parses as --ports");
    let quick = wijkagent::ports::profile_ports(wijkagent::ports::Profile::Quick);
    assert_eq!((parsed.tcp, parsed.udp), (quick.tcp.clone(), quick.udp.clone()));
    let table = wijkagent(&["--lang", "en", "ports", "--profile", "quick"]);
    assert_eq!(table.lines().count(), quick.tcp.len() + quick.udp.len());
    let telnet = table.lines().find(|l| l.starts_with("23/tcp\t")).expect("telnet listed");
    assert!(telnet.contains("telnet") && telnet.to_lowercase().contains("clear"), "{telnet}");
}
