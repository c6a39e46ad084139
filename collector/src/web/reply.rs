//! Small pieces the dashboard handlers share: running a store call on a blocking thread, reading a
//! cookie, and the error answers (HTML for pages, JSON `{"error": …, "message": …}` under `/api/`
//! and `/metrics`), each saying what to do.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use maud::html;

use super::query::BadParam;
use super::WebState;
use crate::i18n::Lang;
use crate::store::{Store, StoreError};

/// Runs `f` with the web side's store connection on a blocking thread; a failure is a 503.
pub async fn store_call<T: Send + 'static>(
    state: &WebState,
    f: impl FnOnce(&mut dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Response> {
    let store = state.store.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let mut guard = store.lock().map_err(|_| StoreError::Damaged("store lock poisoned".into()))?;
        f(guard.as_mut())
    })
    .await;
    match joined {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::warn!("dashboard: store: {e}");
            Err(error(
                true,
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the store is unavailable; try again shortly",
            ))
        }
        Err(e) => {
            tracing::warn!("dashboard: store task: {e}");
            Err(error(
                true,
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the store is unavailable; try again shortly",
            ))
        }
    }
}

/// The value of cookie `name`, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// An error answer: JSON when `api`, else a short HTML page.
pub fn error(api: bool, status: StatusCode, code: &str, message: &str) -> Response {
    if api {
        let body = serde_json::json!({ "error": code, "message": message });
        return (status, Json(body)).into_response();
    }
    let page = html! {
        (maud::DOCTYPE)
        html { head { meta charset="utf-8"; title { (status.as_u16()) " — wijkpost" } }
               body { h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) } p.error { (message) } p { a href="/" { "wijkpost" } } } }
    };
    (status, Html(page.into_string())).into_response()
}

/// 403 for a user whose role does not allow this.
pub fn forbidden(api: bool, lang: Lang) -> Response {
    let message = lang.pick(
        "Geen toegang: deze pagina is enkel voor beheerders (rol admin).",
        "Forbidden: this page is for administrators (role admin) only.",
    );
    error(api, StatusCode::FORBIDDEN, "forbidden", message)
}

/// 400 naming the parameter and what it accepts.
pub fn bad_param(api: bool, e: &BadParam) -> Response {
    error(api, StatusCode::BAD_REQUEST, "bad-parameter", &e.to_string())
}

/// 403 for a POST without the session's CSRF token or from another origin.
pub fn csrf_refused(api: bool) -> Response {
    error(
        api,
        StatusCode::FORBIDDEN,
        "csrf",
        "this form is stale or came from another site: reload the page and send it again",
    )
}

/// Whether a POST comes from this site: its `Origin` (when sent) names the `Host` it was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    !host.is_empty() && origin_host == host
}
