//! The dashboard through its router, without a socket: logins, sessions, roles, CSRF, throttling
//! and `/metrics`. The k-anonymity and escaping tests are in `tests_kanon.rs`; both share the
//! harness here.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::{TimeZone, Utc};
use tower::ServiceExt as _;
use wijk_protocol::summary::{Counts, Severity, WeaknessCount};
use wijk_protocol::Summary;

use super::{router, Dashboard, WebState};
use crate::ingest::Stats;
use crate::org::{Org, Province, Sector, SizeClass};
use crate::store::sqlite::SqliteStore;
use crate::store::{NewAgent, NewToken, Store};
use crate::trends::{FactRow, Index, Options};
use crate::users::{hash_password, NewUser, Role};

/// The password every test user has.
pub(super) const PASSWORD: &str = "correct horse battery";

/// A router over a fresh store with users `an` (admin) and `piet` (analyst) and `rows` in an index
/// with `k` (demo allowed).
pub(super) struct Harness {
    _tmp: tempfile::TempDir,
    pub(super) state: WebState,
    pub(super) app: Router,
}

pub(super) fn harness(k: u32, rows: &[FactRow], idle: Duration) -> Harness {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut store = SqliteStore::open(&tmp.path().join("wijkpost.db")).expect("store");
    let hash = hash_password(PASSWORD).expect("hash");
    for (name, role) in [("an", Role::Admin), ("piet", Role::Analyst)] {
        let user = NewUser { name: name.into(), password_hash: hash.clone(), role, created_at: Utc::now() };
        assert!(store.insert_user(&user).expect("user"));
    }
    // Every organisation of the rows is enrolled, so the admin page has something to name.
    let mut seen = std::collections::HashSet::new();
    for r in rows.iter().filter(|r| seen.insert(r.agent.clone())) {
        let org = Org { name: r.org.clone(), sector: r.sector, size_class: r.size_class, province: r.province };
        let now = Utc::now();
        let token = NewToken {
            id: format!("t{}", r.agent),
            secret_hash: "h".into(),
            org,
            created_at: now,
            expires_at: now + chrono::Duration::days(1),
        };
        store.insert_token(&token).expect("token");
        let agent = NewAgent { id: r.agent.clone(), signing_key: [1; 32], cert_serial: "01".into() };
        store.enroll_agent(&token.id, "h", now, &agent).expect("enroll");
    }
    let mut index = Index::with_options(Options { k, demo: true, ..Options::default() }).expect("index");
    index.extend(rows).expect("rows");
    let ca = crate::ca::Ca::open_or_create(&tmp.path().join("ca")).expect("ca");
    let stats = Arc::new(Stats::default());
    stats.stored.store(7, std::sync::atomic::Ordering::Relaxed);
    stats.lag_ms.store(1250, std::sync::atomic::Ordering::Relaxed);
    // One agent over a budget of one message: three of its four dropped.
    let mut throttle =
        crate::ingest::throttle::Throttle::new(crate::ingest::throttle::Budget { rate: 1, burst: 1 }, stats.clone());
    for _ in 0..4 {
        throttle.admit(wijk_protocol::topics::summary("f100df100df100df100df100").as_bytes());
    }
    let state = WebState {
        store: Arc::new(Mutex::new(Box::new(store) as Box<dyn Store>)),
        ca: Arc::new(ca),
        broker_public: "mqtts://127.0.0.1:8883".into(),
        trends: Arc::new(RwLock::new(index)),
        stats: Some(stats),
        dashboard: Dashboard::with_idle(false, idle),
    };
    Harness { _tmp: tmp, app: router(state.clone()), state }
}

/// A summary row of organisation `org` (agent id derived from it) for `week`.
pub(super) fn fact(org: &str, province: Province, week: &str, weakness: Option<&str>) -> FactRow {
    let agent = format!("{:0>24}", hex::encode(org.as_bytes()).chars().rev().take(24).collect::<String>());
    let mut summary = Summary {
        schema: wijk_protocol::SUMMARY_SCHEMA.to_string(),
        agent: agent.clone(),
        seq: 1,
        week: week.to_string(),
        agent_version: "0.1.0".into(),
        profile: "standard".into(),
        complete: true,
        counts: Counts { hosts_alive: 10, open_services: 10, tls_endpoints: 1 },
        services: Vec::new(),
        weaknesses: Vec::new(),
        tls: Default::default(),
    };
    if let Some(id) = weakness {
        summary.weaknesses.push(WeaknessCount { id: id.into(), severity: Severity::High, hosts: 2 });
    }
    let seq = week.bytes().map(u64::from).sum();
    summary.seq = seq;
    FactRow {
        org: org.to_string(),
        sector: Sector::Gemeente,
        size_class: SizeClass::UpTo25k,
        province,
        agent,
        week: week.to_string(),
        seq,
        received_at: Utc.timestamp_opt(1_790_000_000, 0).single().unwrap_or_default(),
        summary,
    }
}

/// An answer: status, `Set-Cookie` values, `Location`, body.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) cookies: Vec<String>,
    pub(super) location: Option<String>,
    pub(super) body: String,
}

pub(super) async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let header_values = |name| {
        response.headers().get_all(name).iter().filter_map(|v| v.to_str().ok().map(str::to_string)).collect::<Vec<_>>()
    };
    let cookies = header_values(header::SET_COOKIE);
    let location = header_values(header::LOCATION).pop();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22).await.expect("body");
    Answer { status, cookies, location, body: String::from_utf8_lossy(&bytes).into_owned() }
}

pub(super) fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path).header(header::HOST, "dash.test");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::empty()).expect("request")
}

pub(super) fn post(path: &str, cookie: Option<&str>, form: &str) -> Request<Body> {
    let mut r = Request::post(path)
        .header(header::HOST, "dash.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::from(form.to_string())).expect("request")
}

/// Logs `name` in; the `Cookie` header value of the session.
pub(super) async fn login(h: &Harness, name: &str) -> String {
    let a = send(&h.app, post("/login", None, &format!("name={name}&password=correct+horse+battery&next=%2F"))).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let set = a.cookies.iter().find(|c| c.starts_with("wijkpost_session=")).expect("session cookie");
    set.split(';').next().expect("pair").to_string()
}

/// The CSRF token on a page.
pub(super) fn csrf_of(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("csrf field") + "name=\"csrf\" value=\"".len();
    body[at..at + 64].to_string()
}

#[tokio::test]
async fn wrong_passwords_unknown_and_disabled_users_get_the_same_refusal() {
    let h = harness(5, &[], crate::web::session::IDLE);
    h.state.store.lock().expect("lock").set_user_disabled("piet", true).expect("disable");
    let mut bodies = Vec::new();
    for form in [
        "name=an&password=wrong+password+1",
        "name=nobody&password=correct+horse+battery",
        "name=piet&password=correct+horse+battery",
    ] {
        let a = send(&h.app, post("/login", None, form)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{form}");
        assert!(!a.cookies.iter().any(|c| c.starts_with("wijkpost_session=")), "{form}");
        bodies.push(a.body.contains("Aanmelden mislukt"));
    }
    assert_eq!(bodies, vec![true; 3]);
}

#[tokio::test]
async fn a_session_cookie_is_httponly_strict_and_secure_over_tls() {
    let h = harness(5, &[], crate::web::session::IDLE);
    let a = send(&h.app, post("/login", None, "name=an&password=correct+horse+battery&next=%2Ftls")).await;
    assert_eq!(a.location.as_deref(), Some("/tls"));
    let c = a.cookies.iter().find(|c| c.starts_with("wijkpost_session=")).expect("cookie");
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"), "{c}");
    assert!(!c.contains("Secure"), "plain loopback: {c}");
    let id = c.split(';').next().and_then(|p| p.split_once('=')).map(|(_, v)| v.len());
    assert_eq!(id, Some(64), "256 bits in hex");

    let mut state = h.state.clone();
    state.dashboard = Dashboard::new(true);
    let a =
        send(&router(state), post("/login", None, "name=an&password=correct+horse+battery&next=%2F%2Fevil.example"))
            .await;
    assert_eq!(a.location.as_deref(), Some("/"), "no open redirect");
    assert!(a.cookies.iter().any(|c| c.starts_with("wijkpost_session=") && c.contains("; Secure")));
}

#[tokio::test]
async fn without_a_session_pages_redirect_and_apis_answer_401() {
    let h = harness(5, &[], crate::web::session::IDLE);
    let a = send(&h.app, get("/tls?province=limburg", None)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.location.as_deref(), Some("/login?next=%2Ftls%3Fprovince%3Dlimburg"));
    for path in ["/api/v1/participation", "/api/v1/admin/agents", "/metrics"] {
        assert_eq!(send(&h.app, get(path, None)).await.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let forged = send(&h.app, get("/", Some("wijkpost_session=00"))).await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn analysts_are_forbidden_from_admin_pages_and_apis() {
    let h = harness(5, &[], crate::web::session::IDLE);
    let piet = login(&h, "piet").await;
    let home = send(&h.app, get("/", Some(&piet))).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(!home.body.contains("href=\"/admin\""), "no admin link for analysts");
    let csrf = csrf_of(&home.body);
    for path in ["/admin", "/api/v1/admin/agents", "/metrics"] {
        assert_eq!(send(&h.app, get(path, Some(&piet))).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let add = post("/admin/users", Some(&piet), &format!("csrf={csrf}&name=eve&password=correct+horse+battery"));
    assert_eq!(send(&h.app, add).await.status, StatusCode::FORBIDDEN);
    let an = login(&h, "an").await;
    assert_eq!(send(&h.app, get("/admin", Some(&an))).await.status, StatusCode::OK);
    assert_eq!(send(&h.app, get("/api/v1/admin/agents", Some(&an))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn sessions_expire_and_disabled_users_lose_theirs() {
    let h = harness(5, &[], Duration::ZERO);
    let an = login(&h, "an").await;
    assert_eq!(send(&h.app, get("/", Some(&an))).await.status, StatusCode::SEE_OTHER, "idle limit 0: expired");

    let h = harness(5, &[], crate::web::session::IDLE);
    let piet = login(&h, "piet").await;
    assert_eq!(send(&h.app, get("/api/v1/tls", Some(&piet))).await.status, StatusCode::OK);
    h.state.store.lock().expect("lock").set_user_disabled("piet", true).expect("disable");
    assert_eq!(send(&h.app, get("/api/v1/tls", Some(&piet))).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn posts_need_the_session_csrf_token_and_this_origin() {
    let h = harness(5, &[], crate::web::session::IDLE);
    let an = login(&h, "an").await;
    let csrf = csrf_of(&send(&h.app, get("/admin", Some(&an))).await.body);
    let form = |token: &str| format!("csrf={token}&name=eve&password=correct+horse+battery");
    assert_eq!(
        send(&h.app, post("/admin/users", Some(&an), &form(&"0".repeat(64)))).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(send(&h.app, post("/admin/users", Some(&an), "name=eve&password=x")).await.status.as_u16() / 100, 4);
    let mut cross = post("/admin/users", Some(&an), &form(&csrf));
    cross.headers_mut().insert(header::ORIGIN, "https://evil.example".parse().expect("origin"));
    assert_eq!(send(&h.app, cross).await.status, StatusCode::FORBIDDEN);
    assert_eq!(h.state.store.lock().expect("lock").user("eve").expect("read"), None);

    let added = send(&h.app, post("/admin/users", Some(&an), &form(&csrf))).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let eve = h.state.store.lock().expect("lock").user("eve").expect("read").expect("added");
    assert_eq!(eve.role, Role::Analyst);

    assert_eq!(send(&h.app, post("/logout", Some(&an), "csrf=wrong")).await.status, StatusCode::FORBIDDEN);
    let out = send(&h.app, post("/logout", Some(&an), &format!("csrf={csrf}"))).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(send(&h.app, get("/", Some(&an))).await.status, StatusCode::SEE_OTHER, "logged out");
}

#[tokio::test]
async fn repeated_failures_are_throttled_even_with_the_right_password() {
    let h = harness(5, &[], crate::web::session::IDLE);
    for _ in 0..crate::web::session::FREE_FAILURES {
        assert_eq!(
            send(&h.app, post("/login", None, "name=an&password=wrong+password+1")).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let a = send(&h.app, post("/login", None, "name=an&password=correct+horse+battery")).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.body.contains("Te veel mislukte pogingen"), "{}", a.body);
    assert_eq!(
        send(&h.app, post("/login", None, "name=piet&password=correct+horse+battery")).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn metrics_need_an_admin_and_speak_prometheus() {
    let h = harness(5, &[], crate::web::session::IDLE);
    let an = login(&h, "an").await;
    let m = send(&h.app, get("/metrics", Some(&an))).await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(
        m.body.contains("# TYPE wijkpost_ingest_stored_total counter\nwijkpost_ingest_stored_total 7\n"),
        "{}",
        m.body
    );
    assert!(
        m.body.contains("# TYPE wijkpost_ingest_lag_seconds gauge\nwijkpost_ingest_lag_seconds 1.250\n"),
        "{}",
        m.body
    );
    assert!(m.body.contains("wijkpost_summaries_stored 0"), "{}", m.body);
    for line in [
        "wijkpost_throttled_total 3\n",
        "wijkpost_throttled_agents 1\n",
        "wijkpost_throttled_agent_dropped{agent=\"f100df100df100df100df100\"} 3\n",
        "wijkpost_ingest_store_failing 0\n",
    ] {
        assert!(m.body.contains(line), "{line} missing:\n{}", m.body);
    }
    use base64::Engine as _;
    let basic = |cred: &str| {
        let mut r = get("/metrics", None);
        let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(cred));
        r.headers_mut().insert(header::AUTHORIZATION, value.parse().expect("header"));
        r
    };
    assert_eq!(send(&h.app, basic("an:correct horse battery")).await.status, StatusCode::OK);
    assert_eq!(send(&h.app, basic("piet:correct horse battery")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&h.app, basic("an:wrong")).await.status, StatusCode::UNAUTHORIZED);
}
