//! `GET /breakdown?by=…&measure=…`: one figure over the selected weeks for the whole filtered
//! population and per sector, size class or province, as bars and a table, with the trends
//! engine's complementary suppression (a hidden group stays hidden, the chart shows `< k`).

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
use crate::trends::{Dimension, Measure, TlsCheck};

/// `GET /breakdown`.
pub async fn breakdown(
    State(state): State<WebState>,
    viewer: Viewer,
    uri: Uri,
    Query(params): Query<Params>,
) -> Response {
    let ctx = match Ctx::new(&state, viewer, &uri, params) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let (by, measure) = match (ctx.params.by(), ctx.params.measure()) {
        (Ok(b), Ok(m)) => (b, m),
        (Err(e), _) | (_, Err(e)) => return bad_param(false, &e),
    };
    let lang = ctx.viewer.lang;
    let by_slug = match by {
        Dimension::Sector => "sector",
        Dimension::SizeClass => "size-class",
        Dimension::Province => "province",
    };
    // What can be measured: participation, every weakness, TLS check and service kind seen.
    let mut measures: Vec<(String, String)> = vec![("participation".into(), ctx.l("Deelname", "Participation").into())];
    let mut ids: Vec<String> = ctx
        .index
        .prevalence(&ctx.filter, None)
        .unwrap_or_default()
        .iter()
        .flat_map(|w| w.weaknesses.iter().map(|c| c.id.clone()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    measures
        .extend(ids.into_iter().map(|id| (format!("weakness:{id}"), format!("{}: {id}", ctx.l("Zwakte", "Weakness")))));
    measures.extend(
        TlsCheck::ALL
            .iter()
            .map(|c| (format!("tls:{}", c.as_str()), format!("TLS: {}", words::tls_check(c.as_str(), lang)))),
    );
    let mut kinds: Vec<String> =
        ctx.index.service_exposure(&ctx.filter).iter().flat_map(|w| w.items.iter().map(|i| i.name.clone())).collect();
    kinds.sort_unstable();
    kinds.dedup();
    measures
        .extend(kinds.into_iter().map(|s| (format!("service:{s}"), format!("{}: {s}", ctx.l("Dienst", "Service")))));

    let label = measure.label();
    let result = match ctx.index.breakdown(&ctx.filter, &measure, by) {
        Ok(r) => r,
        Err(e) => return bad_param(false, &super::query::BadParam { name: "measure", accepts: e.to_string() }),
    };
    let participation = measure == Measure::Participation;
    let k = ctx.index.k();
    let body = html! {
        form.filters method="get" action="/breakdown" {
            label { (ctx.l("Uitgesplitst naar", "Broken down by"))
                select name="by" id="by" {
                    @for d in ["sector", "size-class", "province"] { option value=(d) selected[d == by_slug] { (words::dimension(d, lang)) } }
                }
            }
            label { (ctx.l("Wat", "What"))
                select name="measure" id="measure" {
                    @for (value, name) in &measures { option value=(value) selected[*value == label] { (name) } }
                }
            }
            @for (name, value) in [("sector", &ctx.params.sector), ("size", &ctx.params.size), ("province", &ctx.params.province), ("from", &ctx.params.from), ("to", &ctx.params.to)] {
                @if let Some(v) = value { input type="hidden" name=(name) value=(v); }
            }
            button type="submit" { (ctx.l("Tonen", "Show")) }
        }
        (ctx.filters(&[("by", Some(by_slug)), ("measure", Some(&label))]))
        @match &result {
            None => (ctx.empty()),
            Some(b) => {
                h2 { (words::dimension(by_slug, lang)) " — " code { (label) } " (" (b.from) " – " (b.to) ")" }
                @let points: Vec<Point> = std::iter::once(("total", &b.total)).chain(b.parts.iter().map(|p| (p.group, &p.share)))
                    .map(|(g, cell)| Point {
                        label: words::group(g, lang),
                        value: cell.value().map(|s| if participation { f64::from(s.matching) } else { s.pct }),
                    })
                    .collect();
                (charts::bars(&label, &points, !participation, k))
                (table::breakdown(b).html(lang))
                (csv_link(lang, "breakdown", &ctx.params, &[("by", by_slug), ("measure", &label)]))
            }
        }
    };
    ctx.render(ctx.l("Uitsplitsing", "Breakdowns"), body)
}
