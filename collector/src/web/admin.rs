//! The administrators' page, the only page that names organisations: `GET /admin` lists issued
//! tokens (never their secrets), enrolled agents with their organisation, and the users;
//! `POST /admin/users` adds an analyst and `POST /admin/users/disable` disables one (both forms carry
//! the session's CSRF token). Administrators themselves are added and disabled with the CLI
//! (`wijkpost user`), so the web side can never create or lock out an administrator.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::html;
use serde::Deserialize;

use super::auth::{post_refused, Admin};
use super::layout::{page, Frame};
use super::reply::{error, store_call};
use super::WebState;
use crate::trends::MIN_K;
use crate::users::{check_name, hash_password, NewUser, Role};

fn time(t: chrono::DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::Brussels).format("%Y-%m-%d %H:%M").to_string()
}

/// `GET /admin`.
pub async fn admin_page(State(state): State<WebState>, Admin(viewer): Admin, uri: Uri) -> Response {
    let listed = store_call(&state, |store| Ok((store.tokens()?, store.agents()?, store.users()?))).await;
    let (tokens, agents, users) = match listed {
        Ok(l) => l,
        Err(r) => return r,
    };
    let lang = viewer.lang;
    let l = |nl, en| lang.pick(nl, en);
    let k = state.trends.read().map(|i| i.k()).unwrap_or(crate::trends::DEFAULT_K);
    let frame = Frame { lang, viewer: Some(&viewer), k, demo: k < MIN_K, path: uri.path(), query: "" };
    let body = html! {
        p.note { (l("Deze pagina noemt organisaties: enkel voor beheerders, nooit doorgeven.",
                    "This page names organisations: for administrators only, never pass it on.")) }
        h2 { (l("Ingeschreven agenten", "Enrolled agents")) }
        table id="agents" {
            thead { tr { th { "id" } th { (l("organisatie", "organisation")) } th { "sector" } th { (l("grootte", "size")) } th { (l("provincie", "province")) } th { (l("ingeschreven", "enrolled")) } } }
            tbody { @for a in &agents { tr { td { code { (a.id) } } td { (a.org.name) } td { (a.org.sector) } td { (a.org.size_class) } td { (a.org.province) } td { (time(a.enrolled_at)) } } } }
        }
        h2 { (l("Tokens", "Tokens")) }
        table id="tokens" {
            thead { tr { th { "id" } th { (l("organisatie", "organisation")) } th { (l("uitgegeven", "issued")) } th { (l("geldig tot", "valid until")) } th { (l("gebruikt door", "used by")) } } }
            tbody { @for t in &tokens { tr { td { code { (t.id) } } td { (t.org.name) } td { (time(t.created_at)) } td { (time(t.expires_at)) } td { (t.used_by.as_deref().unwrap_or("–")) } } } }
        }
        h2 { (l("Gebruikers", "Users")) }
        table id="users" {
            thead { tr { th { (l("naam", "name")) } th { (l("rol", "role")) } th { (l("sinds", "since")) } th { (l("status", "state")) } th {} } }
            tbody { @for u in &users { tr {
                td { (u.name) } td { (u.role) } td { (time(u.created_at)) }
                td { @if u.disabled { (l("uitgeschakeld", "disabled")) } @else { (l("actief", "active")) } }
                td { @if u.role == Role::Analyst && !u.disabled {
                    form method="post" action="/admin/users/disable" {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        input type="hidden" name="name" value=(u.name);
                        button type="submit" { (l("Uitschakelen", "Disable")) }
                    }
                } }
            } } }
        }
        h3 { (l("Analist toevoegen", "Add an analyst")) }
        form method="post" action="/admin/users" id="add-user" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label { (l("Naam", "Name")) " " input type="text" name="name" required pattern="[a-z0-9][a-z0-9._-]{0,63}"; } " "
            label { (l("Wachtwoord (minstens 12 tekens)", "Password (at least 12 characters)")) " " input type="password" name="password" autocomplete="new-password" required minlength="12"; } " "
            button type="submit" { (l("Toevoegen", "Add")) }
        }
        p.note { (l("Beheerders voeg je toe met de opdrachtregel: wijkpost user add --role admin.",
                    "Administrators are added on the command line: wijkpost user add --role admin.")) }
    };
    Html(page(&frame, l("Beheer", "Administration"), body).into_string()).into_response()
}

/// Form of `POST /admin/users`.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    csrf: String,
    name: String,
    password: String,
}

/// `POST /admin/users`: adds an analyst.
pub async fn add_user(
    State(state): State<WebState>,
    Admin(viewer): Admin,
    headers: HeaderMap,
    Form(form): Form<AddForm>,
) -> Response {
    if let Some(refused) = post_refused(&headers, &viewer, &form.csrf) {
        return refused;
    }
    let lang = viewer.lang;
    if let Err(e) = check_name(&form.name) {
        return error(false, StatusCode::BAD_REQUEST, "bad-name", &e.to_string());
    }
    let password = form.password;
    let hash = match tokio::task::spawn_blocking(move || hash_password(&password)).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return error(false, StatusCode::BAD_REQUEST, "bad-password", &e.to_string()),
        Err(_) => return error(false, StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again"),
    };
    let user = NewUser { name: form.name.clone(), password_hash: hash, role: Role::Analyst, created_at: Utc::now() };
    match store_call(&state, move |store| store.insert_user(&user)).await {
        Ok(true) => {
            tracing::info!(by = %viewer.user, user = %form.name, "dashboard: analyst added");
            Redirect::to("/admin").into_response()
        }
        Ok(false) => error(
            false,
            StatusCode::CONFLICT,
            "name-taken",
            lang.pick("Die naam bestaat al; kies een andere.", "That name exists already; choose another."),
        ),
        Err(r) => r,
    }
}

/// Form of `POST /admin/users/disable`.
#[derive(Debug, Deserialize)]
pub struct DisableForm {
    csrf: String,
    name: String,
}

/// `POST /admin/users/disable`: disables an analyst and ends their sessions.
pub async fn disable_user(
    State(state): State<WebState>,
    Admin(viewer): Admin,
    headers: HeaderMap,
    Form(form): Form<DisableForm>,
) -> Response {
    if let Some(refused) = post_refused(&headers, &viewer, &form.csrf) {
        return refused;
    }
    let name = form.name.clone();
    let done = store_call(&state, move |store| match store.user(&name)? {
        Some(u) if u.role == Role::Analyst => store.set_user_disabled(&name, true),
        _ => Ok(false),
    })
    .await;
    match done {
        Ok(true) => {
            state.dashboard.sessions.remove_user(&form.name);
            tracing::info!(by = %viewer.user, user = %form.name, "dashboard: analyst disabled");
            Redirect::to("/admin").into_response()
        }
        Ok(false) => error(
            false,
            StatusCode::BAD_REQUEST,
            "not-an-analyst",
            viewer.lang.pick(
                "Geen analist met die naam; beheerders schakel je uit met wijkpost user disable.",
                "No analyst of that name; administrators are disabled with wijkpost user disable.",
            ),
        ),
        Err(r) => r,
    }
}
