//! wijkpost's HTTP side.
//!
//! - [`enroll`]: `POST /v1/enroll` (JSON [`wijk_protocol::EnrollRequest`] → 200
//!   [`wijk_protocol::EnrollResponse`], or a 4xx [`wijk_protocol::enroll::EnrollRefusal`]);
//! - `GET /healthz`: `ok` while the process serves;
//! - [`listen`]: the listener — plain HTTP only on a loopback address, TLS (rustls, ring) anywhere
//!   else — and serving until cancelled.
//!
//! [`router`] is the one place routes are added (the dashboard comes later).

pub mod enroll;
pub mod listen;

use std::sync::{Arc, Mutex, RwLock};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::ca::Ca;
use crate::store::Store;
use crate::trends::Index;

pub use listen::{WebError, WebListener};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the handlers share: the store connection of the web side, the CA, the broker address
/// handed to agents.
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
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState").field("broker_public", &self.broker_public).finish_non_exhaustive()
    }
}

/// All routes.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/v1/enroll", post(enroll::enroll))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
