//! The frame every dashboard page shares: head with inline CSS (no external file, no script),
//! navigation by role, the language switch, the demo banner ("Demo: k = N" whenever k is below
//! the minimum only a demo index may use), the logout form with its CSRF token, and the filter
//! form. Everything is rendered with maud, which escapes every value it inserts.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::auth::Viewer;
use super::query::{encode, Params};
use super::words;
use crate::i18n::Lang;
use crate::org::{Province, Sector, SizeClass};
use crate::users::Role;

/// Inline style sheet (the Content-Security-Policy allows inline styles, and nothing else inline).
const CSS: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
header{background:#0b4f6c;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header a{color:#fff} header nav a{margin-right:.8rem} header form{margin:0}
main{padding:1rem;max-width:72rem} .banner{background:#ffd54f;padding:.5rem 1rem;font-weight:bold}
table{border-collapse:collapse;margin:.5rem 0 1rem;background:#fff} th,td{border:1px solid #ccd;padding:.2rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left} td.suppressed{color:#777;font-style:italic}
.chart{width:100%;max-width:44rem;background:#fff;border:1px solid #ccd;margin:.5rem 0}
.chart .series{fill:none;stroke:#0b4f6c;stroke-width:2} .chart .point{fill:#0b4f6c} .chart .bar{fill:#2a7fa8}
.chart .grid{stroke:#dde} .chart text{font-size:11px;fill:#334} .chart .gap{fill:#999;font-style:italic}
form.filters{display:flex;gap:.6rem;flex-wrap:wrap;align-items:end;background:#fff;padding:.6rem;border:1px solid #ccd}
form.filters label{display:flex;flex-direction:column;font-size:.85rem} .note{color:#555;font-size:.9rem}
.error{background:#fdd;padding:.5rem 1rem}
";

/// `GET /favicon.svg`: a small house, in the header's colour.
pub async fn favicon() -> impl axum::response::IntoResponse {
    const SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">\
        <path fill=\"#0b4f6c\" d=\"M8 1 1 7h2v8h4v-5h2v5h4V7h2z\"/></svg>";
    ([(axum::http::header::CONTENT_TYPE, "image/svg+xml")], SVG)
}

/// What the frame needs to know about the request.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The reader's language.
    pub lang: Lang,
    /// Who is logged in, if anyone.
    pub viewer: Option<&'a Viewer>,
    /// The k in force.
    pub k: u32,
    /// Whether the index runs as a demo (k below the minimum).
    pub demo: bool,
    /// This page's path (for the language switch).
    pub path: &'a str,
    /// This page's query without `lang` (for the language switch).
    pub query: &'a str,
}

/// A whole page.
pub fn page(frame: &Frame<'_>, title: &str, body: Markup) -> Markup {
    let l = |nl, en| frame.lang.pick(nl, en);
    let (other, other_name) = match frame.lang {
        Lang::Nl => ("en", "English"),
        Lang::En => ("nl", "Nederlands"),
    };
    let sep = if frame.query.is_empty() { "" } else { "&" };
    let switch = format!("{}?{}{sep}lang={other}", frame.path, frame.query);
    html! {
        (DOCTYPE)
        html lang=(l("nl", "en")) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — wijkpost" }
                link rel="icon" href="/favicon.svg" type="image/svg+xml";
                style { (PreEscaped(CSS)) }
            }
            body {
                @if frame.demo {
                    div.banner role="status" id="demo-banner" {
                        "Demo: k = " (frame.k) " — "
                        (l("geen echte k-anonimiteit; enkel voor demonstraties", "not real k-anonymity; for demonstrations only"))
                    }
                }
                header {
                    strong { "wijkpost" }
                    @if let Some(v) = frame.viewer {
                        nav {
                            a href="/" { (l("Overzicht", "Overview")) }
                            a href="/weaknesses" { (l("Zwaktes", "Weaknesses")) }
                            a href="/breakdown" { (l("Uitsplitsing", "Breakdowns")) }
                            a href="/tls" { "TLS" }
                            a href="/services" { (l("Diensten", "Services")) }
                            a href="/advice" { (l("Advies", "Advice")) }
                            @if v.role == Role::Admin { a href="/admin" { (l("Beheer", "Administration")) } }
                        }
                        span { (v.user) " (" (v.role) ")" }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(v.csrf);
                            button type="submit" { (l("Afmelden", "Log out")) }
                        }
                    }
                    a href=(switch) hreflang=(other) id="lang-switch" { (other_name) }
                }
                main {
                    h1 { (title) }
                    (body)
                    p.note { (l("Cijfers met minder dan k organisaties worden verborgen en tonen “< k”.",
                                "Figures with fewer than k organisations are hidden and read “< k”.")) " k = " (frame.k) }
                }
            }
        }
    }
}

/// The filter form (GET to `action`), keeping the page's own parameters as hidden fields.
pub fn filters(lang: Lang, params: &Params, action: &str, keep: &[(&str, Option<&str>)]) -> Markup {
    let l = |nl, en| lang.pick(nl, en);
    let select = |name: &str, label: &str, current: &Option<String>, values: Vec<&'static str>| {
        html! {
            label { (label)
                select name=(name) {
                    option value="" { (l("alle", "all")) }
                    @for v in values {
                        option value=(v) selected[current.as_deref() == Some(v)] { (words::group(v, lang)) }
                    }
                }
            }
        }
    };
    html! {
        form.filters method="get" action=(action) {
            @for (name, value) in keep { @if let Some(v) = value { input type="hidden" name=(name) value=(v); } }
            (select("sector", l("Sector", "Sector"), &params.sector, Sector::ALL.iter().map(|s| s.as_str()).collect()))
            (select("size", l("Grootte", "Size class"), &params.size, SizeClass::ALL.iter().map(|s| s.as_str()).collect()))
            (select("province", l("Provincie", "Province"), &params.province, Province::ALL.iter().map(|s| s.as_str()).collect()))
            label { (l("Van week", "From week")) input type="text" name="from" placeholder="2026-W01" size="9" value=[params.from.as_deref()]; }
            label { (l("Tot week", "To week")) input type="text" name="to" placeholder="2026-W52" size="9" value=[params.to.as_deref()]; }
            button type="submit" id="apply-filters" { (l("Toepassen", "Apply")) }
        }
    }
}

/// A download link for the CSV of an API table with the current filters and extra parameters.
pub fn csv_link(lang: Lang, table: &str, params: &Params, extra: &[(&str, &str)]) -> Markup {
    let mut query = params.filter_query();
    for (k, v) in extra {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!("{k}={}", encode(v)));
    }
    let href = format!("/api/v1/{table}.csv{}{query}", if query.is_empty() { "" } else { "?" });
    html! { p { a.csv href=(href) download { (lang.pick("Download als CSV", "Download as CSV")) } } }
}
