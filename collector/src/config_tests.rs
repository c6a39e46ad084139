use std::path::Path;

use clap::Parser;

use super::*;
use crate::cli::{Cli, Command};

/// `wijkpost serve ARGS…` as clap parses it.
fn args(extra: &[&str]) -> ServeArgs {
    let cli = Cli::try_parse_from(["wijkpost", "serve"].iter().chain(extra)).expect("valid command line");
    match cli.command {
        Command::Serve(a) => a,
        other => panic!("not serve: {other:?}"),
    }
}

fn settings(text: &str, extra: &[&str]) -> Result<Settings, ConfigError> {
    let path = Path::new("/etc/wijkpost/wijkpost.toml");
    combine(&args(extra), Some((path, from_toml(text, path)?)))
}

#[test]
fn the_default_file_parses_to_the_documented_values() {
    let file = from_toml(EXAMPLE, Path::new("wijkpost.toml")).expect("the shipped example parses");
    assert_eq!(file.lang, Some(FileLang::Nl));
    assert_eq!(file.k, Some(5));
    let s = settings(EXAMPLE, &["--config", "/etc/wijkpost/wijkpost.toml"]).expect("usable");
    assert_eq!(s.serve.data_dir, Path::new("/var/lib/wijkpost"));
    assert_eq!(s.serve.database, StoreConfig::Sqlite("/var/lib/wijkpost/wijkpost.db".into()));
    assert_eq!(s.serve.web.to_string(), DEFAULT_WEB);
    assert_eq!(s.serve.mqtt.to_string(), DEFAULT_MQTT);
    assert_eq!(s.serve.instance, DEFAULT_INSTANCE);
    assert_eq!(s.serve.trends.k, 5);
    assert_eq!(s.lang, Some(Lang::Nl));
    assert!(s.serve.web_tls.is_none() && s.serve.external_broker.is_none() && s.serve.server_names.is_empty());
}

#[test]
fn every_commented_key_of_the_default_file_is_a_real_key() {
    // Uncommenting the examples must give a file that parses, with each value where it belongs.
    let text: String = EXAMPLE
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.contains(" = ") => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let f = from_toml(&text, Path::new("x.toml")).expect("every key known");
    assert_eq!(f.database.as_deref(), Some("postgres://wijkpost@db/wijkpost"));
    assert_eq!(f.web.tls_cert.as_deref(), Some(Path::new("/etc/wijkpost/tls/web.crt")));
    assert_eq!(f.web.tls_key.as_deref(), Some(Path::new("/etc/wijkpost/tls/web.key")));
    assert_eq!(f.mqtt.broker.as_deref(), Some("mqtts://mosquitto:8883"));
    assert_eq!(f.mqtt.instance.as_deref(), Some("1"));
    assert_eq!(f.mqtt.public.as_deref(), Some("mqtts://wijkpost.example.be:8883"));
    assert_eq!(f.mqtt.server_names, Some(vec!["wijkpost.example.be".to_string()]));
}

#[test]
fn without_a_file_the_flags_and_their_defaults_are_as_before() {
    let s = combine(&args(&["--data", "d"]), None).expect("usable");
    assert_eq!(s.serve.data_dir, Path::new("d"));
    assert_eq!(s.serve.database, StoreConfig::Sqlite(Path::new("d").join("wijkpost.db")));
    assert_eq!(s.serve.web.to_string(), "127.0.0.1:8080");
    assert_eq!(s.serve.mqtt.to_string(), "127.0.0.1:8883");
    assert_eq!(s.serve.instance, "1");
    assert_eq!(s.serve.trends, crate::trends::Options::default());
    assert!(s.file.is_none() && s.lang.is_none());
}

#[test]
fn an_empty_file_gives_the_defaults_and_needs_data() {
    assert!(matches!(settings("", &["--config", "c"]), Err(ConfigError::NoData)));
    let s = settings("", &["--config", "c", "--data", "/srv/wp"]).expect("usable");
    assert_eq!(s.serve.trends.k, DEFAULT_K);
    assert_eq!(s.serve.web.to_string(), DEFAULT_WEB);
}

#[test]
fn a_flag_wins_over_the_file() {
    let text = r#"
        data = "/var/lib/wijkpost"
        database = "postgres://a@db/a"
        k = 7
        [web]
        listen = "127.0.0.1:9000"
        [mqtt]
        listen = "127.0.0.1:9001"
        instance = "file"
        public = "mqtts://file.example:8883"
        server_names = ["file.example"]
    "#;
    let from_file = settings(text, &["--config", "c"]).expect("usable");
    assert_eq!(from_file.serve.trends.k, 7);
    assert_eq!(from_file.serve.web.port(), 9000);
    assert_eq!(from_file.serve.server_names, ["file.example"]);
    let s = settings(
        text,
        &[
            "--config",
            "c",
            "--data",
            "/other",
            "--database",
            "postgres://b@db/b",
            "--k",
            "9",
            "--web",
            "127.0.0.1:0",
            "--mqtt",
            "127.0.0.1:1",
            "--instance",
            "flag",
            "--broker-public",
            "mqtts://flag.example:8883",
            "--server-name",
            "flag.example",
        ],
    )
    .expect("usable");
    assert_eq!(s.serve.data_dir, Path::new("/other"));
    assert_eq!(s.serve.database, StoreConfig::Postgres("postgres://b@db/b".into()));
    assert_eq!(s.serve.trends.k, 9);
    assert_eq!(s.serve.web.port(), 0);
    assert_eq!(s.serve.mqtt.port(), 1);
    assert_eq!(s.serve.instance, "flag");
    assert_eq!(s.serve.broker_public.as_deref(), Some("mqtts://flag.example:8883"));
    assert_eq!(s.serve.server_names, ["flag.example"]);
}

#[test]
fn relative_paths_in_the_file_are_taken_from_its_directory() {
    let text = r#"
        data = "state"
        database = "sqlite:db/w.db"
        [web]
        tls_cert = "tls/web.crt"
        tls_key = "/abs/web.key"
    "#;
    let path = Path::new("/etc/wijkpost/wijkpost.toml");
    let s = combine(&args(&["--config", "x"]), Some((path, from_toml(text, path).expect("parses")))).expect("usable");
    assert_eq!(s.serve.data_dir, Path::new("/etc/wijkpost/state"));
    assert_eq!(s.serve.database, StoreConfig::Sqlite("/etc/wijkpost/db/w.db".into()));
    let tls = s.serve.web_tls.expect("tls");
    assert_eq!(tls.0, Path::new("/etc/wijkpost/tls/web.crt"));
    assert_eq!(tls.1, Path::new("/abs/web.key"));
    // A path on the command line stays as given (relative to where the service starts).
    let s = combine(&args(&["--config", "x", "--data", "here"]), Some((path, from_toml(text, path).expect("ok"))))
        .expect("usable");
    assert_eq!(s.serve.data_dir, Path::new("here"));
}

#[test]
fn an_unknown_key_is_named_with_its_line_in_both_languages() {
    let text = "lang = \"nl\"\ndata = \"/d\"\nkk = 5\n";
    let err = from_toml(text, Path::new("/etc/wijkpost/wijkpost.toml")).expect_err("typo refused");
    assert!(matches!(err, ConfigError::Syntax { line: 3, .. }), "{err:?}");
    let en = err.to_string();
    assert!(en.starts_with("/etc/wijkpost/wijkpost.toml, line 3: unknown field `kk`"), "{en}");
    assert!(en.contains("`k`") && en.contains("fix that line"), "{en}");
    let nl = err.dutch();
    assert!(nl.starts_with("/etc/wijkpost/wijkpost.toml, regel 3: onbekende sleutel `kk`"), "{nl}");
    assert!(nl.contains("(toegelaten: `lang`, `data`, `database`, `k`, `web`, `mqtt`)"), "{nl}");
    assert!(nl.contains("verbeter die regel"), "{nl}");
    assert!(!en.contains('\n') && !nl.contains('\n'), "one line each");

    let err = from_toml("[web]\nlisten = \"127.0.0.1:1\"\ntls_crt = \"x\"\n", Path::new("w.toml")).expect_err("typo");
    assert!(err.to_string().contains("line 3: unknown field `tls_crt`"), "{err}");
    let err = from_toml("[mqtt]\nbrokr = \"x\"\n", Path::new("w.toml")).expect_err("typo");
    assert!(err.to_string().contains("line 2: unknown field `brokr`"), "{err}");
}

#[test]
fn values_of_the_wrong_kind_are_refused_with_their_line() {
    for (text, line, says) in [
        ("k = \"vijf\"\n", 1, "invalid type"),
        ("data = \"/d\"\n[web]\nlisten = \"localhost\"\n", 3, "socket address"),
        ("lang = \"fr\"\n", 1, "unknown variant `fr`"),
        ("k = 5\nk = 6\n", 2, "duplicate key"),
        ("[web\n", 1, ""),
    ] {
        match from_toml(text, Path::new("w.toml")) {
            Err(ConfigError::Syntax { line: l, message, .. }) => {
                assert_eq!(l, line, "{text:?}: {message}");
                assert!(message.contains(says), "{text:?}: {message}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn k_below_three_is_refused_naming_the_file() {
    let err = settings("data = \"/d\"\nk = 2\n", &["--config", "c"]).expect_err("k = 2 refused");
    assert!(matches!(err, ConfigError::KTooSmall { k: 2, .. }));
    assert!(err.to_string().contains("k = 2 (/etc/wijkpost/wijkpost.toml) is too small"), "{err}");
    assert!(err.dutch().contains("vraagt k >= 3"), "{}", err.dutch());
    assert!(settings("data = \"/d\"\nk = 3\n", &["--config", "c"]).is_ok());
}

#[test]
fn half_a_tls_pair_and_a_bad_database_are_refused() {
    let err = settings("data = \"/d\"\n[web]\ntls_cert = \"c.pem\"\n", &["--config", "c"]).expect_err("half");
    assert!(matches!(err, ConfigError::TlsHalf), "{err:?}");
    let err = settings("data = \"/d\"\ndatabase = \"mysql://x\"\n", &["--config", "c"]).expect_err("bad url");
    assert!(err.dutch().contains("sqlite:PAD of postgres://"), "{}", err.dutch());
}

#[test]
fn a_missing_file_is_named() {
    let err = read(Path::new("/nonexistent/wijkpost.toml")).expect_err("missing");
    assert!(err.to_string().starts_with("cannot read /nonexistent/wijkpost.toml"), "{err}");
    assert!(err.dutch().starts_with("kan /nonexistent/wijkpost.toml niet lezen"), "{}", err.dutch());
}

#[test]
fn only_addresses_database_broker_and_data_need_a_restart() {
    let base = settings(EXAMPLE, &["--config", "c"]).expect("usable").serve;
    let mut k_only = base.clone();
    k_only.trends.k = 9;
    assert!(restart_keys(&base, &k_only).is_empty());
    let moved = settings(&EXAMPLE.replace("127.0.0.1:8080", "127.0.0.1:9090"), &["--config", "c"]).expect("ok").serve;
    assert_eq!(
        restart_keys(&base, &moved),
        [NeedsRestart { key: "web.listen", running: "127.0.0.1:8080".into(), wanted: "127.0.0.1:9090".into() }]
    );
    let mut all = moved.clone();
    all.data_dir = "/elsewhere".into();
    all.database = StoreConfig::Postgres("postgres://u:secret@db/w".into());
    all.mqtt = "127.0.0.1:1".parse().expect("addr");
    all.external_broker = Some("mqtts://m:8883".into());
    all.instance = "2".into();
    all.broker_public = Some("mqtts://p:8883".into());
    all.server_names = vec!["p".into()];
    all.web_tls = Some(("c".into(), "k".into()));
    all.budget = crate::ingest::throttle::Budget::OFF;
    let keys: Vec<_> = restart_keys(&base, &all).into_iter().map(|r| (r.key, r.wanted)).collect();
    let names: Vec<_> = keys.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        [
            "data",
            "database",
            "web.listen",
            "web.tls_cert/web.tls_key",
            "mqtt.listen",
            "mqtt.broker",
            "mqtt.instance",
            "mqtt.public",
            "mqtt.server_names",
            "mqtt.agent_rate/mqtt.agent_burst"
        ]
    );
    assert!(!keys.iter().any(|(_, v)| v.contains("secret")), "passwords are not logged: {keys:?}");
}

#[test]
fn the_agent_budget_comes_from_flags_over_the_file_and_a_zero_burst_is_refused() {
    use crate::ingest::throttle::{Budget, DEFAULT_BURST, DEFAULT_RATE};
    let default = settings(EXAMPLE, &["--config", "c"]).expect("usable").serve.budget;
    assert_eq!(default, Budget { rate: DEFAULT_RATE, burst: DEFAULT_BURST });
    let file = "data = \"/d\"\n[mqtt]\nagent_rate = 3\nagent_burst = 30\n";
    assert_eq!(settings(file, &["--config", "c"]).expect("ok").serve.budget, Budget { rate: 3, burst: 30 });
    let flags = settings(file, &["--config", "c", "--agent-rate", "0"]).expect("ok").serve.budget;
    assert_eq!(flags.describe(), "off");
    let err = settings(file, &["--config", "c", "--agent-burst", "0"]).expect_err("zero burst");
    assert!(err.to_string().contains("--agent-burst"), "{err}");
    assert!(err.dutch().contains("laat niets door"), "{}", err.dutch());
}
