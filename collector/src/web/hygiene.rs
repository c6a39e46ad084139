//! `GET /tls` (TLS hygiene per week), `GET /services` (exposed service kinds per week) and
//! `GET /advice` (the sector's priorities: weaknesses ranked by prevalence × severity weight).
//! Bars show the latest week in the selection (priorities: the current state); the tables show
//! every week.

use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::Response;
use maud::html;

use super::auth::Viewer;
use super::charts::{self, Point};
use super::layout::csv_link;
use super::pages::Ctx;
use super::query::Params;
use super::reply::bad_param;
use super::{table, words, WebState};
use crate::trends::WeekShares;

/// Which per-week shares a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tls,
    Services,
}

/// `GET /tls`.
pub async fn tls(State(state): State<WebState>, viewer: Viewer, uri: Uri, Query(params): Query<Params>) -> Response {
    shares_page(state, viewer, uri, params, Kind::Tls).await
}

/// `GET /services`.
pub async fn services(
    State(state): State<WebState>,
    viewer: Viewer,
    uri: Uri,
    Query(params): Query<Params>,
) -> Response {
    shares_page(state, viewer, uri, params, Kind::Services).await
}

async fn shares_page(state: WebState, viewer: Viewer, uri: Uri, params: Params, kind: Kind) -> Response {
    let ctx = match Ctx::new(&state, viewer, &uri, params) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let lang = ctx.viewer.lang;
    let weeks: Vec<WeekShares> = match kind {
        Kind::Tls => ctx.index.tls_hygiene(&ctx.filter),
        Kind::Services => ctx.index.service_exposure(&ctx.filter),
    };
    let (title, csv) = match kind {
        Kind::Tls => (ctx.l("TLS-hygiëne", "TLS hygiene"), "tls"),
        Kind::Services => (ctx.l("Blootgestelde diensten", "Exposed services"), "services"),
    };
    let k = ctx.index.k();
    let body = html! {
        (ctx.filters(&[]))
        @match weeks.last() {
            None => (ctx.empty()),
            Some(last) => {
                h2 { (ctx.l("Aandeel organisaties, week", "Share of organisations, week")) " " (last.week) }
                @let points: Vec<Point> = last.items.iter().map(|i| Point {
                    label: if kind == Kind::Tls { words::tls_check(&i.name, lang) } else { i.name.clone() },
                    value: i.share.value().map(|s| s.pct),
                }).collect();
                (charts::bars(title, &points, true, k))
                (table::shares(&weeks).html(lang))
                (csv_link(lang, csv, &ctx.params, &[]))
            }
        }
    };
    ctx.render(title, body)
}

/// `GET /advice?top=N`.
pub async fn advice(State(state): State<WebState>, viewer: Viewer, uri: Uri, Query(params): Query<Params>) -> Response {
    let ctx = match Ctx::new(&state, viewer, &uri, params) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let top = match ctx.params.top() {
        Ok(t) => t,
        Err(e) => return bad_param(false, &e),
    };
    let lang = ctx.viewer.lang;
    let priorities = ctx.index.priorities(&ctx.filter, top);
    let k = ctx.index.k();
    let body = html! {
        (ctx.filters(&[]))
        p.note { (ctx.l("Zwaktes gerangschikt naar aandeel getroffen organisaties × gewicht van de ernst (info 0, laag 1, middel 2, hoog 4, kritiek 8). Dit is waar VVSG's toolkit en opleidingen het meest opleveren.",
                        "Weaknesses ranked by share of organisations affected × severity weight (info 0, low 1, medium 2, high 4, critical 8). This is where VVSG's toolkit and training pay off most.")) }
        @match &priorities {
            None => (ctx.empty()),
            Some(p) => {
                h2 { (ctx.l("Prioriteiten", "Priorities")) " (" (p.from) " – " (p.to) ")" }
                @let points: Vec<Point> = p.ranked.iter().map(|r| Point { label: r.id.clone(), value: r.prevalence.value().map(|s| s.pct) }).collect();
                (charts::bars(ctx.l("Prioriteiten", "Priorities"), &points, true, k))
                (table::priorities(p).html(lang))
                (csv_link(lang, "priorities", &ctx.params, &[("top", &top.to_string())]))
            }
        }
    };
    ctx.render(ctx.l("Sectoradvies", "Sector advice"), body)
}
