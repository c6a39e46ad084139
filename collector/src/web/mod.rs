//! wijkpost's HTTP side.
//!
//! - [`enroll`]: `POST /v1/enroll` (JSON [`wijk_protocol::EnrollRequest`] → 200
//!   [`wijk_protocol::EnrollResponse`], or a 4xx [`wijk_protocol::enroll::EnrollRefusal`]);
//! - `GET /healthz`: `ok` while the process serves;
//! - [`listen`]: the listener — plain HTTP only on a loopback address, TLS (rustls, ring) anywhere
//!   else — and serving until cancelled;
//! - the dashboard for VVSG staff (documented in `docs/dashboard.md`):
//!   [`auth`] (login, logout, who is asking) over [`session`] (sessions, throttling);
//!   trend pages [`pages`], [`breakdown_page`], [`hygiene`], framed by [`layout`], with
//!   [`charts`] (server-side SVG), [`table`] (HTML and CSV) and [`words`] (Dutch and English);
//!   the JSON and CSV [`api`]; the administrators' page [`admin`]; [`metrics`] for Prometheus;
//!   [`query`] checks the parameters, [`reply`] holds the shared answers.
//!
//! [`router`] is the one place routes are added.

pub mod admin;
pub mod api;
pub mod auth;
pub mod breakdown_page;
pub mod charts;
pub mod enroll;
pub mod hygiene;
pub mod layout;
pub mod listen;
pub mod metrics;
pub mod pages;
pub mod query;
pub mod reply;
pub mod session;
pub mod table;
pub mod words;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_kanon;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::ca::Ca;
use crate::ingest::Stats;
use crate::store::Store;
use crate::trends::Index;

pub use listen::{WebError, WebListener};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the handlers share: the store connection of the web side, the CA, the broker address
/// handed to agents, the trends, the ingest counters and the dashboard's sessions.
#[derive(Clone)]
pub struct WebState {
    /// The web side's own store connection; used only inside `spawn_blocking`.
    pub store: Arc<Mutex<Box<dyn Store>>>,
    /// wijkpost's CA.
    pub ca: Arc<Ca>,
    /// `mqtts://HOST:PORT` agents publish to.
    pub broker_public: String,
    /// The k-anonymous trends over every stored summary, kept current by the ingest thread.
    pub trends: Arc<RwLock<Index>>,
    /// The ingest's counters, for `/metrics` (`None`: no ingest counters are shown).
    pub stats: Option<Arc<Stats>>,
    /// Sessions and login throttling.
    pub dashboard: Arc<Dashboard>,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState").field("broker_public", &self.broker_public).finish_non_exhaustive()
    }
}

/// The dashboard's in-memory state.
#[derive(Debug)]
pub struct Dashboard {
    /// Logged-in users.
    pub sessions: session::Sessions,
    /// Failed logins.
    pub throttle: session::Throttle,
    /// Whether the session cookie gets `Secure` (the listener serves TLS).
    pub secure_cookies: bool,
}

impl Dashboard {
    /// Sessions ending after [`session::IDLE`]; `secure_cookies` when served over TLS.
    pub fn new(secure_cookies: bool) -> Arc<Dashboard> {
        Dashboard::with_idle(secure_cookies, session::IDLE)
    }

    /// The same with another idle time.
    pub fn with_idle(secure_cookies: bool, idle: Duration) -> Arc<Dashboard> {
        Arc::new(Dashboard {
            sessions: session::Sessions::new(idle),
            throttle: session::Throttle::default(),
            secure_cookies,
        })
    }
}

/// All routes.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/favicon.svg", get(layout::favicon))
        .route("/favicon.ico", get(|| async { axum::http::StatusCode::NO_CONTENT }))
        .route("/v1/enroll", post(enroll::enroll))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/", get(pages::overview))
        .route("/weaknesses", get(pages::weaknesses))
        .route("/breakdown", get(breakdown_page::breakdown))
        .route("/tls", get(hygiene::tls))
        .route("/services", get(hygiene::services))
        .route("/advice", get(hygiene::advice))
        .route("/admin", get(admin::admin_page))
        .route("/admin/users", post(admin::add_user))
        .route("/admin/users/disable", post(admin::disable_user))
        .route("/api/v1/admin/agents", get(api::agents))
        .route("/api/v1/{table}", get(api::table_api))
        .route("/metrics", get(metrics::metrics))
        .layer(middleware::from_fn(headers))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Security headers on every answer, and the language cookie when `?lang=` chose one.
async fn headers(request: Request, next: Next) -> Response {
    let chosen = request.uri().query().and_then(|q| {
        q.split('&').find_map(|p| match p {
            "lang=en" => Some("en"),
            "lang=nl" => Some("nl"),
            _ => None,
        })
    });
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let csp = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(lang) = chosen {
        let cookie = format!("{}={lang}; Path=/; SameSite=Strict; Max-Age=31536000", auth::LANG_COOKIE);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            h.append(header::SET_COOKIE, v);
        }
    }
    response
}
