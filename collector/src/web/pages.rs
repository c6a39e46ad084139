//! The dashboard's trend pages for every logged-in user, server-rendered: `/` (participation and
//! summaries per week) and `/weaknesses` (prevalence of one weakness per week). The breakdowns are
//! in [`super::breakdown_page`], TLS, services and advice in [`super::hygiene`]. Each page reads
//! the trends index under its read lock, takes the filters of [`super::query::Params`], shows charts
//! ([`super::charts`]) and tables ([`super::table`]) and links the same table as CSV.

use std::sync::RwLockReadGuard;

use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};

use super::auth::Viewer;
use super::charts::{self, Point};
use super::layout::{csv_link, filters, page, Frame};
use super::query::Params;
use super::reply::{bad_param, error};
use super::{table, WebState};
use crate::trends::{Cell, Filter, Index, MIN_K};

/// What a page handler has at hand: the index, the filter, the viewer, the request.
pub struct Ctx<'a> {
    /// The index, read-locked.
    pub index: RwLockReadGuard<'a, Index>,
    /// The checked filter.
    pub filter: Filter,
    /// The raw parameters.
    pub params: Params,
    /// Who asks.
    pub viewer: Viewer,
    path: String,
    query: String,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("path", &self.path).finish_non_exhaustive()
    }
}

impl<'a> Ctx<'a> {
    /// Checks the parameters and read-locks the index (400 or 503 otherwise).
    pub fn new(state: &'a WebState, viewer: Viewer, uri: &Uri, params: Params) -> Result<Ctx<'a>, Box<Response>> {
        let filter = params.filter().map_err(|e| bad_param(false, &e))?;
        let index = state.trends.read().map_err(|_| {
            error(
                false,
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the trends index is unavailable; restart wijkpost",
            )
        })?;
        let query = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("lang="))
            .collect::<Vec<_>>()
            .join("&");
        Ok(Ctx { index, filter, params, viewer, path: uri.path().to_string(), query })
    }

    /// The page around `body`.
    pub fn render(&self, title: &str, body: Markup) -> Response {
        let k = self.index.k();
        let frame = Frame {
            lang: self.viewer.lang,
            viewer: Some(&self.viewer),
            k,
            demo: k < MIN_K,
            path: &self.path,
            query: &self.query,
        };
        Html(page(&frame, title, body).into_string()).into_response()
    }

    /// Picks the Dutch or English text.
    pub fn l(&self, nl: &'static str, en: &'static str) -> &'static str {
        self.viewer.lang.pick(nl, en)
    }

    /// The filter form for this page, keeping `keep`.
    pub fn filters(&self, keep: &[(&str, Option<&str>)]) -> Markup {
        filters(self.viewer.lang, &self.params, &self.path, keep)
    }

    /// "No figures for this selection" in the reader's language.
    pub fn empty(&self) -> Markup {
        html! { p.note id="no-data" { (self.l("Geen cijfers voor deze selectie (nog geen samenvattingen?).",
        "No figures for this selection (no summaries yet?).")) } }
    }
}

/// A count cell as a chart value.
pub fn count_value(cell: &Cell<u32>) -> Option<f64> {
    cell.value().map(|v| f64::from(*v))
}

/// `GET /`: organisations and summaries per week.
pub async fn overview(
    State(state): State<WebState>,
    viewer: Viewer,
    uri: Uri,
    Query(params): Query<Params>,
) -> Response {
    let ctx = match Ctx::new(&state, viewer, &uri, params) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let weeks = ctx.index.participation(&ctx.filter);
    let k = ctx.index.k();
    let orgs: Vec<Point> =
        weeks.iter().map(|w| Point { label: w.week.to_string(), value: count_value(&w.organisations) }).collect();
    let sums: Vec<Point> =
        weeks.iter().map(|w| Point { label: w.week.to_string(), value: count_value(&w.summaries) }).collect();
    let body = html! {
        (ctx.filters(&[]))
        @if weeks.is_empty() { (ctx.empty()) } @else {
            h2 { (ctx.l("Deelnemende organisaties per week", "Participating organisations per week")) }
            (charts::line(ctx.l("Organisaties per week", "Organisations per week"), &orgs, false, k))
            h2 { (ctx.l("Samenvattingen per week", "Summaries per week")) }
            (charts::line(ctx.l("Samenvattingen per week", "Summaries per week"), &sums, false, k))
            (table::participation(&weeks).html(ctx.viewer.lang))
        }
        (csv_link(ctx.viewer.lang, "participation", &ctx.params, &[]))
    };
    ctx.render(ctx.l("Overzicht", "Overview"), body)
}

/// `GET /weaknesses?weakness=ID`: one weakness's prevalence per week (default: the first id).
pub async fn weaknesses(
    State(state): State<WebState>,
    viewer: Viewer,
    uri: Uri,
    Query(params): Query<Params>,
) -> Response {
    let ctx = match Ctx::new(&state, viewer, &uri, params) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let chosen = match ctx.params.weakness() {
        Ok(w) => w,
        Err(e) => return bad_param(false, &e),
    };
    let all = ctx.index.prevalence(&ctx.filter, None).unwrap_or_default();
    let mut ids: Vec<String> = all.iter().flat_map(|w| w.weaknesses.iter().map(|c| c.id.clone())).collect();
    ids.sort_unstable();
    ids.dedup();
    let Some(id) = chosen.or_else(|| ids.first().cloned()) else {
        let body = html! { (ctx.filters(&[])) (ctx.empty()) };
        return ctx.render(ctx.l("Zwaktes door de tijd", "Weaknesses over time"), body);
    };
    let weeks = ctx.index.prevalence(&ctx.filter, Some(&id)).unwrap_or_default();
    let k = ctx.index.k();
    let points: Vec<Point> = weeks
        .iter()
        .map(|w| {
            let value = w.weaknesses.iter().find(|c| c.id == id).and_then(|c| c.prevalence.value().map(|s| s.pct));
            Point { label: w.week.to_string(), value }
        })
        .collect();
    let body = html! {
        form.filters method="get" action="/weaknesses" {
            label { (ctx.l("Zwakte", "Weakness"))
                select name="weakness" id="weakness" {
                    @for w in &ids { option value=(w) selected[*w == id] { (w) } }
                }
            }
            @for (name, value) in [("sector", &ctx.params.sector), ("size", &ctx.params.size), ("province", &ctx.params.province), ("from", &ctx.params.from), ("to", &ctx.params.to)] {
                @if let Some(v) = value { input type="hidden" name=(name) value=(v); }
            }
            button type="submit" { (ctx.l("Tonen", "Show")) }
        }
        (ctx.filters(&[("weakness", Some(&id))]))
        h2 { (ctx.l("Aandeel getroffen organisaties per week", "Share of organisations affected per week")) ": " code { (id) } }
        @if weeks.is_empty() { (ctx.empty()) } @else {
            (charts::line(&format!("{} {id}", ctx.l("Prevalentie van", "Prevalence of")), &points, true, k))
            (table::prevalence(&weeks).html(ctx.viewer.lang))
            (csv_link(ctx.viewer.lang, "prevalence", &ctx.params, &[("weakness", &id)]))
        }
    };
    ctx.render(ctx.l("Zwaktes door de tijd", "Weaknesses over time"), body)
}
