//! The scaled stack for the end-to-end tests: a Mosquitto of the test's own (TLS with wijkpost's CA,
//! client certificates, identity as user name, wijkpost's ACL) on a free loopback port, and a
//! PostgreSQL database of the test's own on this machine's server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::process::find_program;

/// Default server for the PostgreSQL tests (`WIJK_TEST_POSTGRES` overrides it).
pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A Mosquitto broker run by a test, killed when dropped.
#[derive(Debug)]
pub struct Mosquitto {
    child: Child,
    /// `mqtts://127.0.0.1:PORT`.
    pub url: String,
    /// Its log file.
    pub log: PathBuf,
    conf: PathBuf,
}

impl Mosquitto {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `mosquitto -c DIR/mosquitto.conf` trusting `ca`, serving `cert`/`key`, with `acl`.
    pub fn start(dir: &Path, ca: &Path, cert: &Path, key: &Path, acl: &str) -> Result<Mosquitto> {
        let program = find_program("mosquitto").context("mosquitto not installed (apt-get install mosquitto)")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        std::fs::create_dir_all(dir)?;
        let acl_path = dir.join("acl");
        std::fs::write(&acl_path, acl)?;
        let log = dir.join("mosquitto.log");
        let conf = dir.join("mosquitto.conf");
        let text = format!(
            "user root\nper_listener_settings false\nallow_anonymous false\npersistence false\nlog_dest file {log}\n\
             log_type error\nlog_type warning\nlog_type notice\nlog_type subscribe\n\
             listener {port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\nrequire_certificate true\n\
             use_identity_as_username true\nacl_file {acl}\n{settings}",
            settings = wijkpost::external::mosquitto_settings(),
            log = log.display(),
            ca = ca.display(),
            cert = cert.display(),
            key = key.display(),
            acl = acl_path.display()
        );
        std::fs::write(&conf, text)?;
        let mut m = Mosquitto { child: spawn(&program, &conf)?, url: format!("mqtts://127.0.0.1:{port}"), log, conf };
        m.wait_listening(port)?;
        Ok(m)
    }

    /// A Mosquitto in `dir` set up the way wijkpost's operator guide says, for the wijkpost whose data
    /// directory is `data`: wijkpost's CA (made there if new), a server certificate from it, wijkpost's
    /// own client certificate, and wijkpost's ACL.
    pub fn for_wijkpost(dir: &Path, data: &Path) -> Result<Mosquitto> {
        Mosquitto::for_wijkpost_with(dir, data, "")
    }

    /// [`Mosquitto::for_wijkpost`] with `extra_acl` lines after wijkpost's ACL (the benchmark's own
    /// topic for the raw broker rate).
    pub fn for_wijkpost_with(dir: &Path, data: &Path, extra_acl: &str) -> Result<Mosquitto> {
        let ca = wijkpost::ca::Ca::open_or_create(data)?;
        let server = ca.issue_server_cert(&[])?;
        wijkpost::external::service_identity(&ca, data)?;
        let acl = wijkpost::external::mosquitto_acl() + extra_acl;
        Mosquitto::start(dir, &ca.cert_path(), &server.cert_path, &server.key_path, &acl)
    }

    /// Stops it (SIGKILL) and starts it again on the same port with the same configuration.
    pub fn restart(&mut self) -> Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let program = find_program("mosquitto").context("mosquitto")?;
        self.child = spawn(&program, &self.conf)?;
        let port = self.url.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).context("port")?;
        self.wait_listening(port)
    }

    fn wait_listening(&mut self, port: u16) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = self.child.try_wait()? {
                let console = std::fs::read_to_string(self.conf.with_file_name("out.txt")).unwrap_or_default();
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                bail!("mosquitto exited with {status}: {console}{log}");
            }
            if Instant::now() > deadline {
                bail!("mosquitto not listening on {port} after 10 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

/// Starts mosquitto with its console output in `out.txt` beside the configuration.
fn spawn(program: &Path, conf: &Path) -> Result<Child> {
    let out = std::fs::File::create(conf.with_file_name("out.txt"))?;
    Ok(Command::new(program).arg("-c").arg(conf).stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out).spawn()?)
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PostgreSQL database of one test's own, dropped with this value.
#[derive(Debug)]
pub struct PgDatabase {
    admin: String,
    name: String,
    /// `postgres://…/NAME`.
    pub url: String,
}

impl PgDatabase {
    /// Creates `wijk_e2e_<pid>_<n>` on `$WIJK_TEST_POSTGRES` (default [`DEFAULT_POSTGRES`]); `None`
    /// with a SKIPPED line when no server answers, except under `CI=true`, where that is an error.
    pub fn create() -> Result<Option<PgDatabase>> {
        static N: AtomicU32 = AtomicU32::new(0);
        let admin = std::env::var("WIJK_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_string());
        let name = format!("wijk_e2e_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let created = psql(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .and_then(|()| psql(&admin, &format!("CREATE DATABASE {name}")));
        if let Err(e) = created {
            if std::env::var("CI").as_deref() == Ok("true") {
                bail!("PostgreSQL not usable at {admin} in CI: {e:#}");
            }
            crate::process::skip(&format!("SKIPPED: PostgreSQL not usable at {admin} ({e:#}); set WIJK_TEST_POSTGRES"));
            return Ok(None);
        }
        let url = format!("{}/{name}", admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin));
        Ok(Some(PgDatabase { admin, name, url }))
    }

    /// The server processes connected to this database now (one per connection).
    pub fn server_pids(&self) -> Result<Vec<u32>> {
        let sql = format!("SELECT pid FROM pg_stat_activity WHERE datname = '{}'", self.name);
        let out = psql_output(&self.admin, &["-At", "-c", &sql])?;
        out.lines().map(|l| l.trim().parse().with_context(|| format!("pid {l:?}"))).collect()
    }
}

fn psql(url: &str, sql: &str) -> Result<()> {
    psql_output(url, &["-q", "-c", sql]).map(|_| ())
}

/// What `psql URL ARGS` prints (stops at the first error).
fn psql_output(url: &str, args: &[&str]) -> Result<String> {
    let program = find_program("psql").context("psql not installed")?;
    let out = Command::new(program).arg(url).args(["-v", "ON_ERROR_STOP=1"]).args(args).output()?;
    if !out.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = psql(&self.admin, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}
