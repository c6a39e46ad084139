//! What the dashboard shows: k-anonymity through the pages, the API and CSV (a cell of fewer than
//! k organisations reads `< 5`, never 0), nothing an analyst can reach names an organisation or
//! agent, values built to inject HTML come out escaped, the demo banner and both languages.

use axum::http::StatusCode;

use super::tests::{fact, get, harness, login, send};
use crate::org::Province;
use crate::trends::FactRow;
use crate::web::session::IDLE;

/// Week 10: seven organisations in Antwerpen (three with telnet open) and two in Limburg; week 11:
/// three organisations only. One organisation's name is built to inject HTML.
fn population() -> Vec<FactRow> {
    let mut rows = Vec::new();
    for i in 0..7 {
        let weak = (i < 3).then_some("telnet-open");
        let name = if i == 0 { "<script>alert('org')</script>".to_string() } else { format!("gem-antw-{i}") };
        rows.push(fact(&name, Province::Antwerpen, "2026-W10", weak));
    }
    for i in 0..2 {
        rows.push(fact(&format!("gem-limb-{i}"), Province::Limburg, "2026-W10", Some("telnet-open")));
    }
    for i in 0..3 {
        rows.push(fact(&format!("gem-antw-{i}x"), Province::Antwerpen, "2026-W11", None));
    }
    rows
}

#[tokio::test]
async fn small_cells_read_below_k_in_json_csv_and_pages_never_zero() {
    let h = harness(5, &population(), IDLE);
    let piet = login(&h, "piet").await;

    let json = send(&h.app, get("/api/v1/participation", Some(&piet))).await;
    assert_eq!(json.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&json.body).expect("json");
    assert_eq!(v["schema"], "wijkpost.dashboard/1");
    assert_eq!(v["k"], 5);
    assert_eq!(v["data"][0]["organisations"], 9);
    assert_eq!(v["data"][1]["week"], "2026-W11");
    assert_eq!(v["data"][1]["organisations"], "< 5", "three organisations: hidden");

    let limburg = send(&h.app, get("/api/v1/prevalence.csv?province=limburg&weakness=telnet-open", Some(&piet))).await;
    assert_eq!(limburg.status, StatusCode::OK);
    let line = limburg.body.lines().nth(1).expect("a row");
    assert_eq!(line, "2026-W10,telnet-open,high,< 5,< 5,< 5,< 5,< 5", "{}", limburg.body);

    let by_province = send(
        &h.app,
        get("/api/v1/breakdown.csv?by=province&measure=participation&from=2026-W10&to=2026-W10", Some(&piet)),
    )
    .await;
    assert!(by_province.body.contains("\r\nlimburg,< 5,< 5,< 5\r\n"), "{}", by_province.body);
    assert!(!by_province.body.contains(",0,"), "{}", by_province.body);

    let page = send(&h.app, get("/?province=limburg", Some(&piet))).await;
    assert!(page.body.contains("&lt; 5"), "{}", page.body);
    assert!(!page.body.contains("<td>0</td>"));
}

#[tokio::test]
async fn no_page_or_api_an_analyst_reaches_names_an_organisation_or_agent() {
    let rows = population();
    let h = harness(5, &rows, IDLE);
    let piet = login(&h, "piet").await;
    let paths = [
        "/",
        "/weaknesses",
        "/weaknesses?weakness=telnet-open",
        "/breakdown",
        "/breakdown?by=province&measure=weakness:telnet-open",
        "/tls",
        "/services",
        "/advice",
        "/login",
        "/api/v1/participation",
        "/api/v1/prevalence",
        "/api/v1/breakdown",
        "/api/v1/tls",
        "/api/v1/services",
        "/api/v1/priorities",
        "/api/v1/priorities.csv",
        "/api/v1/prevalence.csv",
        "/admin",
        "/api/v1/admin/agents",
        "/metrics",
    ];
    for path in paths {
        let a = send(&h.app, get(path, Some(&piet))).await;
        for r in &rows {
            assert!(!a.body.contains(&r.org) && !a.body.contains("alert('org')"), "{path} names {}", r.org);
            assert!(!a.body.contains(&r.agent), "{path} names agent {}", r.agent);
        }
    }
    // Administrators do see them, escaped.
    let an = login(&h, "an").await;
    let admin = send(&h.app, get("/admin", Some(&an))).await;
    assert!(admin.body.contains("gem-limb-1") && admin.body.contains(&rows[1].agent));
    assert!(admin.body.contains("&lt;script&gt;alert('org')&lt;/script&gt;"), "escaped");
    assert!(!admin.body.contains("<script>"), "never raw");
}

#[tokio::test]
async fn parameters_built_to_inject_html_are_refused_and_never_echoed_raw() {
    let h = harness(5, &population(), IDLE);
    let an = login(&h, "an").await;
    let evil = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    for path in [
        format!("/?sector={evil}"),
        format!("/weaknesses?weakness={evil}"),
        format!("/breakdown?measure=weakness:{evil}"),
        format!("/api/v1/tls?province={evil}"),
        format!("/login?next={evil}"),
    ] {
        let a = send(&h.app, get(&path, Some(&an))).await;
        assert!(!a.body.contains("<script>alert(1)"), "{path}: {}", a.body);
    }
    let a = send(&h.app, get(&format!("/?sector={evil}"), Some(&an))).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("parameter sector: one of: gemeente, ocmw"), "says what to send: {}", a.body);
}

#[tokio::test]
async fn charts_banner_and_languages() {
    let h = harness(2, &population(), IDLE);
    let an = login(&h, "an").await;
    let page = send(&h.app, get("/weaknesses?weakness=telnet-open", Some(&an))).await;
    assert!(page.body.contains("Demo: k = 2"), "demo banner");
    assert!(page.body.contains("<svg") && page.body.contains("class=\"point\""), "a chart with points");
    assert!(page.body.contains("Zwaktes door de tijd") && page.body.contains("lang=\"nl\""), "Dutch by default");
    let en = send(&h.app, get("/weaknesses?weakness=telnet-open&lang=en", Some(&an))).await;
    assert!(en.body.contains("Weaknesses over time") && en.body.contains("lang=\"en\""));
    assert!(en.cookies.iter().any(|c| c.starts_with("wijkpost_lang=en")), "remembered");
    let remembered = send(&h.app, get("/", Some(&format!("{an}; wijkpost_lang=en")))).await;
    assert!(remembered.body.contains("Overview"));

    let k5 = harness(5, &population(), IDLE);
    let an = login(&k5, "an").await;
    assert!(!send(&k5.app, get("/", Some(&an))).await.body.contains("Demo: k ="));
}
