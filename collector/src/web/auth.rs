//! Logging in and out, and who is asking: the [`Viewer`] extractor (any logged-in user) and
//! [`Admin`] (role admin, else 403).
//!
//! - `GET /login`, `POST /login` (form `name`, `password`, `next`): a refused login says the same
//!   whatever was wrong (unknown name, wrong password, disabled user) and costs the same time;
//!   failures are throttled per user name ([`super::session::Throttle`]); a success starts a
//!   session and sets the cookie `wijkpost_session` (`HttpOnly; SameSite=Strict; Path=/`, plus
//!   `Secure` when served over TLS or behind a proxy saying `X-Forwarded-Proto: https`).
//! - `POST /logout` (form `csrf`): ends the session.
//! - Every request with a session looks its user up in the store again: a user disabled (by the CLI
//!   or the admin page) or demoted loses access at the next request.
//! - POSTs are refused without the session's CSRF token or with an `Origin` of another site.
//!
//! Without a session, pages redirect to `/login?next=…`; `/api/…` and `/metrics` answer 401.

use std::time::Instant;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::layout::{page, Frame};
use super::query::encode;
use super::reply::{cookie, csrf_refused, error, forbidden, same_origin, store_call};
use super::session::same_secret;
use super::WebState;
use crate::i18n::Lang;
use crate::users::{verify_password, verify_unknown, Role};

/// The session cookie.
pub const SESSION_COOKIE: &str = "wijkpost_session";
/// The language cookie (`nl` or `en`).
pub const LANG_COOKIE: &str = "wijkpost_lang";

/// A logged-in user making this request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// User name.
    pub user: String,
    /// Role, as stored now.
    pub role: Role,
    /// The session's CSRF token.
    pub csrf: String,
    /// The reader's language.
    pub lang: Lang,
    session: String,
}

/// A logged-in administrator.
#[derive(Debug, Clone)]
pub struct Admin(pub Viewer);

/// Whether a path answers in JSON (or text for machines) rather than HTML.
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

#[derive(Debug, Deserialize)]
struct LangParam {
    lang: Option<String>,
}

/// The language of a request: `?lang=`, else the cookie, else Dutch.
pub fn lang_of(uri: &axum::http::Uri, headers: &HeaderMap) -> Lang {
    let asked = Query::<LangParam>::try_from_uri(uri).ok().and_then(|q| q.0.lang);
    match asked.as_deref().or(cookie(headers, LANG_COOKIE)) {
        Some("en") => Lang::En,
        _ => Lang::Nl,
    }
}

impl FromRequestParts<WebState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Viewer, Response> {
        let lang = lang_of(&parts.uri, &parts.headers);
        let api = is_api(parts.uri.path());
        let unauthenticated = || {
            if api {
                return error(
                    true,
                    StatusCode::UNAUTHORIZED,
                    "login-required",
                    "log in at /login first (session cookie)",
                );
            }
            let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            Redirect::to(&format!("/login?next={}", encode(next))).into_response()
        };
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string) else {
            return Err(unauthenticated());
        };
        let sessions = &state.dashboard.sessions;
        let Some(session) = sessions.get(&id, Instant::now()) else { return Err(unauthenticated()) };
        let name = session.user.clone();
        let user = store_call(state, move |store| store.user(&name)).await?;
        match user {
            Some(u) if !u.disabled => Ok(Viewer { user: u.name, role: u.role, csrf: session.csrf, lang, session: id }),
            _ => {
                sessions.remove(&id);
                Err(unauthenticated())
            }
        }
    }
}

impl FromRequestParts<WebState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Admin, Response> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        if viewer.role != Role::Admin {
            return Err(forbidden(is_api(parts.uri.path()), viewer.lang));
        }
        Ok(Admin(viewer))
    }
}

/// The refusal of a POST from another origin or without the viewer's CSRF token; `None` when it
/// may go ahead.
pub fn post_refused(headers: &HeaderMap, viewer: &Viewer, token: &str) -> Option<Response> {
    (!(same_origin(headers) && same_secret(token, &viewer.csrf))).then(|| csrf_refused(false))
}

/// The `Set-Cookie` value for the session `value` (`max_age` 0 deletes it).
fn session_cookie(state: &WebState, headers: &HeaderMap, value: &str, max_age: Option<u32>) -> HeaderValue {
    let proxied_tls = headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let secure = if state.dashboard.secure_cookies || proxied_tls { "; Secure" } else { "" };
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    let text = format!("{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/{secure}{age}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("wijkpost_session=; Max-Age=0"))
}

/// Only local paths are followed after login (no `//host` or `https://…`).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

/// Query of `GET /login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

fn login_page(state: &WebState, lang: Lang, next: &str, message: Option<&str>) -> Html<String> {
    let l = |nl, en| lang.pick(nl, en);
    let k = state.trends.read().map(|i| i.k()).unwrap_or(crate::trends::DEFAULT_K);
    let query = format!("next={}", encode(next));
    let frame = Frame { lang, viewer: None, k, demo: k < crate::trends::MIN_K, path: "/login", query: &query };
    let body = html! {
        @if let Some(m) = message { p.error role="alert" { (m) } }
        form method="post" action="/login" id="login" {
            input type="hidden" name="next" value=(next);
            p { label { (l("Gebruikersnaam", "User name")) br; input type="text" name="name" autocomplete="username" required; } }
            p { label { (l("Wachtwoord", "Password")) br; input type="password" name="password" autocomplete="current-password" required; } }
            p { button type="submit" { (l("Aanmelden", "Log in")) } }
        }
    };
    Html(page(&frame, l("Aanmelden", "Log in"), body).into_string())
}

/// `GET /login`.
pub async fn login_form(
    State(state): State<WebState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(q): Query<LoginQuery>,
) -> Response {
    login_page(&state, lang_of(&uri, &headers), safe_next(q.next.as_deref()), None).into_response()
}

/// Form of `POST /login`.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    next: Option<String>,
}

/// `POST /login`.
pub async fn login(
    State(state): State<WebState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = lang_of(&uri, &headers);
    let next = safe_next(form.next.as_deref()).to_string();
    if !same_origin(&headers) {
        return csrf_refused(false);
    }
    let name = form.name.trim().chars().take(64).collect::<String>();
    let key = format!("user:{name}");
    let throttle = &state.dashboard.throttle;
    if let Some(wait) = throttle.wait(&key, Instant::now()) {
        let secs = wait.as_secs().max(1);
        let msg = format!(
            "{} {secs} s.",
            lang.pick("Te veel mislukte pogingen: probeer opnieuw over", "Too many failed attempts: try again in")
        );
        return (StatusCode::TOO_MANY_REQUESTS, login_page(&state, lang, &next, Some(&msg))).into_response();
    }
    let lookup = name.clone();
    let user = match store_call(&state, move |store| store.user(&lookup)).await {
        Ok(u) => u,
        Err(response) => return response,
    };
    let password = form.password;
    let checked = tokio::task::spawn_blocking(move || match user {
        Some(u) if !u.disabled => verify_password(&u.password_hash, &password).then_some(u),
        Some(u) => {
            let _ = verify_password(&u.password_hash, &password);
            None
        }
        None => {
            verify_unknown(&password);
            None
        }
    })
    .await
    .ok()
    .flatten();
    let Some(user) = checked else {
        throttle.failed(&key, Instant::now());
        tracing::info!(user = %name, "dashboard: login refused");
        let msg = lang.pick(
            "Aanmelden mislukt: naam of wachtwoord onjuist, of de gebruiker is uitgeschakeld.",
            "Login failed: wrong name or password, or the user is disabled.",
        );
        return (StatusCode::UNAUTHORIZED, login_page(&state, lang, &next, Some(msg))).into_response();
    };
    throttle.succeeded(&key);
    tracing::info!(user = %user.name, role = %user.role, "dashboard: login");
    let id = state.dashboard.sessions.create(&user.name, user.role, Instant::now());
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, &headers, &id, None));
    response
}

/// Form of `POST /logout` and of the admin forms.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    pub csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<WebState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = post_refused(&headers, &viewer, &form.csrf) {
        return refused;
    }
    state.dashboard.sessions.remove(&viewer.session);
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, &headers, "", Some(0)));
    response
}
