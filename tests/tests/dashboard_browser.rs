//! wijkpost's dashboard in a real browser: Debian's headless Chromium, driven through chromedriver
//! (W3C WebDriver over HTTP on loopback), against a real `wijkpost serve` on a fresh data directory.
//!
//! The data comes the real way: agents enrolled through the CLI push signed summaries of a real
//! `scan --self` report over MQTT until every receipt is back. A user is made with `wijkpost user
//! add`, logs in through the form, sees the trend chart (an `<svg>` with data points), filters by
//! province, downloads the CSV, and the browser logs no console error. Screenshots go to
//! `target/artifacts/dashboard-*.png`.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs both); skipped with a message outside
//! CI when either is missing, failed in CI.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use wijk_lab::bench::uplink;
use wijk_lab::collector::{bin_checked, self_report, Collector};
use wijk_lab::process::{find_program, in_ci, run_bounded, skip};

/// Agents (one organisation each): k is 5 in `serve`, so five or more make figures visible.
const AGENTS: usize = 6;
const PASSWORD: &str = "correct horse battery staple";
/// The key of a WebDriver element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it.
struct Driver {
    child: Child,
    base: String,
    http: ureq::Agent,
}

impl Driver {
    fn start(driver: &Path, browser: &Path, downloads: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut d = Driver { child, base: format!("http://127.0.0.1:{port}"), http };
        let deadline = Instant::now() + Duration::from_secs(20);
        while d.http.get(&format!("{}/status", d.base)).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,1800",
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser, "args": args,
                "prefs": {"download.default_directory": downloads, "download.prompt_for_download": false}
            },
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let session = d.call("POST", "/session", Some(caps));
        let id = session["sessionId"].as_str().expect("session id").to_string();
        d.base = format!("{}/session/{id}", d.base);
        let allow =
            json!({"cmd": "Page.setDownloadBehavior", "params": {"behavior": "allow", "downloadPath": downloads}});
        d.call("POST", "/chromium/send_command", Some(allow));
        d
    }

    /// A WebDriver call; its `value`. Panics on an error answer, with the driver's message.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let answer = match (method, body) {
            ("GET", _) => self.http.get(&url).call(),
            ("DELETE", _) => self.http.delete(&url).call(),
            (_, body) => self.http.post(&url).send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut response = answer.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let v: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        assert!(status < 300, "{method} {path}: HTTP {status}: {v}");
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap_or("").to_string()
    }

    /// Waits (at most 10 s) until the page's address satisfies `ok`; the address.
    fn wait_url(&self, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.url();
            if ok(&url) || Instant::now() > deadline {
                return url;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn find(&self, css: &str) -> String {
        let v = self.call("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        v[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}")).to_string()
    }

    fn count(&self, css: &str) -> usize {
        let v = self.call("POST", "/elements", Some(json!({"using": "css selector", "value": css})));
        v.as_array().map_or(0, Vec::len)
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/value"), Some(json!({ "text": text })));
    }

    fn source(&self) -> String {
        self.call("GET", "/source", None).as_str().unwrap_or("").to_string()
    }

    fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.call("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap_or("")).expect("png");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts");
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        let path = dir.join(format!("dashboard-{name}.png"));
        std::fs::write(&path, &bytes).expect("write screenshot");
        assert!(bytes.len() > 10_000, "screenshot {} is {} bytes", path.display(), bytes.len());
        path
    }

    /// Console messages of level SEVERE since the last call.
    fn console_errors(&self) -> Vec<String> {
        let log = self.call("POST", "/se/log", Some(json!({"type": "browser"})));
        log.as_array()
            .map(|entries| {
                entries.iter().filter(|e| e["level"] == "SEVERE").map(|e| e["message"].to_string()).collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.base).call();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Agents enrolled at `collector` push one signed summary each; returns when every receipt is back.
fn push_summaries(collector: &Collector, work: &Path) {
    let report_path = self_report(&work.join("report")).expect("scan --self");
    let report = wijkagent::report::diff::load(&report_path).expect("report");
    let agents = uplink::prepare(collector, &work.join("agents"), &report, AGENTS, 1).expect("enroll agents");
    uplink::run(&collector.broker_url, &agents, uplink::Route::summaries(), &[])
        .expect("summaries pushed and answered");
}

#[test]
fn a_user_logs_in_sees_a_trend_chart_filters_by_province_and_downloads_the_csv() {
    let (Some(browser), Some(driver)) =
        (find_program("chromium").or_else(|| find_program("chromium-browser")), find_program("chromedriver"))
    else {
        if in_ci() {
            panic!("chromium and chromium-driver are needed; .ci/run installs them");
        }
        skip("SKIPPED dashboard_browser: needs chromium and chromedriver (apt-get install chromium chromium-driver)");
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let collector = Collector::start(&data, &[]).expect("wijkpost serve");
    push_summaries(&collector, work.path());
    let config = wijkpost::store::StoreConfig::parse(None, &data).expect("store config");
    let stored = config.open().and_then(|mut s| s.count_summaries()).expect("count summaries");
    assert_eq!(stored, AGENTS as u64, "every summary is stored (not refused)");

    let mut add = Command::new(bin_checked().expect("wijkpost"));
    add.args(["user", "add", "--name", "vvsg.analist", "--role", "analyst", "--data"]).arg(&data);
    add.env("WIJKPOST_PASSWORD", PASSWORD);
    let added = run_bounded(&mut add, Duration::from_secs(30)).expect("wijkpost user add");
    assert!(added.success(), "{}", added.describe());

    let downloads = work.path().join("downloads");
    std::fs::create_dir_all(&downloads).expect("downloads dir");
    let b = Driver::start(&driver, &browser, &downloads);
    let web = collector.web_url.trim_end_matches('/').to_string();

    // Not logged in: the login form, in Dutch.
    b.go(&format!("{web}/weaknesses"));
    assert!(b.url().contains("/login?next="), "redirected to the login: {}", b.url());
    assert!(b.source().contains("Aanmelden"), "Dutch by default");
    b.type_into("#login input[name=name]", "vvsg.analist");
    b.type_into("#login input[name=password]", PASSWORD);
    b.click("#login button[type=submit]");
    let url = b.wait_url(|u| u.ends_with("/weaknesses"));
    assert!(url.ends_with("/weaknesses"), "back where the user wanted to go: {url}");
    assert!(b.count("a[href='/admin']") == 0, "an analyst gets no admin link");
    b.screenshot("weaknesses");

    // The overview: charts of participation; all agents' organisations are in Limburg.
    b.go(&format!("{web}/"));
    let svgs = b.count("svg.chart");
    let points = b.count("svg.chart circle.point");
    b.screenshot("overview");

    // Filter by province through the form.
    b.click("select[name=province] option[value=limburg]");
    b.click("#apply-filters");
    let url = b.wait_url(|u| u.contains("province=limburg"));
    assert!(url.contains("province=limburg"), "{url}");
    let option = b.find("select[name=province] option[value=limburg]");
    assert_eq!(
        b.call("GET", &format!("/element/{option}/selected"), None),
        json!(true),
        "the filter is kept in the form"
    );
    b.screenshot("overview-limburg");

    // Download the CSV of the filtered table.
    b.click("a.csv");
    let deadline = Instant::now() + Duration::from_secs(20);
    let csv = loop {
        let done = std::fs::read_dir(&downloads).ok().and_then(|mut d| {
            d.find_map(|e| e.ok().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "csv")))
        });
        if let Some(path) = done {
            break std::fs::read_to_string(path).expect("csv");
        }
        assert!(Instant::now() < deadline, "no CSV downloaded into {}", downloads.display());
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(csv.starts_with("week,organisations,agents,summaries\r\n"), "{csv}");

    // English on request, remembered.
    b.go(&format!("{web}/?lang=en"));
    assert!(b.source().contains("Overview"));
    b.go(&format!("{web}/tls"));
    assert!(b.source().contains("TLS hygiene"), "the language is remembered");
    b.screenshot("tls-en");

    let errors = b.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    // Last, because it needs the trends index fed from the store or the ingest (see the report):
    // the summaries are stored, so the chart must have data points.
    let stored = wijk_lab::process::tail(&collector.log_text(), 15);
    assert!(
        svgs >= 2 && points >= 1 && csv.lines().count() >= 2,
        "the overview shows {svgs} charts with {points} data points and the CSV {} rows after {AGENTS} organisations' summaries \
         were stored: is the trends index fed from the store and by the ingest? (wijkpost log:\n{stored})",
        csv.lines().count().saturating_sub(1)
    );
    drop(b);
    collector.stop();
}
