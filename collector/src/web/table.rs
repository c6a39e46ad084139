//! The dashboard's tables, built once from a trends result and shown two ways: as an HTML table
//! (headings in the reader's language) and as CSV (stable English column names, documented in
//! `docs/dashboard.md`). A suppressed cell reads `< k` in both, never 0 or empty.
//!
//! CSV follows RFC 4180 (comma, CRLF, quotes doubled) and is safe to open in a spreadsheet: a cell
//! starting with `=`, `+`, `-`, `@`, tab or carriage return is prefixed with `'`, so it is never
//! taken for a formula.

use maud::{html, Markup};

use super::words;
use crate::i18n::Lang;
use crate::trends::{Breakdown, Cell, Priorities, Share, WeekParticipation, WeekPrevalence, WeekShares};

/// Columns and rows of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column names (CSV header; translated for HTML by [`heading`]).
    pub columns: Vec<&'static str>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The table as CSV.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let line = |cells: &mut dyn Iterator<Item = &str>, out: &mut String| {
            let cells: Vec<String> = cells.map(csv_cell).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        };
        line(&mut self.columns.iter().copied(), &mut out);
        for row in &self.rows {
            line(&mut row.iter().map(String::as_str), &mut out);
        }
        out
    }

    /// The table as HTML (escaped by maud).
    pub fn html(&self, lang: Lang) -> Markup {
        html! {
            table {
                thead { tr { @for c in &self.columns { th scope="col" { (heading(c, lang)) } } } }
                tbody {
                    @for row in &self.rows {
                        tr { @for (column, cell) in self.columns.iter().zip(row) {
                            td class=[(cell.starts_with('<')).then_some("suppressed")] { (shown(column, cell, lang)) }
                        } }
                    }
                }
            }
        }
    }
}

/// One CSV cell: formula-looking text defused with `'`, quoted when it must be.
pub fn csv_cell(text: &str) -> String {
    let defused = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// A cell as people read it: groups, severities and TLS checks translated, the rest as is.
fn shown(column: &str, cell: &str, lang: Lang) -> String {
    match column {
        "group" => words::group(cell, lang),
        "severity" => words::severity(cell, lang).to_string(),
        "name" => words::tls_check(cell, lang),
        _ => cell.to_string(),
    }
}

/// A column heading in the reader's language.
pub fn heading(column: &str, lang: Lang) -> &str {
    let l = |nl, en| lang.pick(nl, en);
    match column {
        "week" => l("week", "week"),
        "organisations" => l("organisaties", "organisations"),
        "agents" => l("agenten", "agents"),
        "summaries" => l("samenvattingen", "summaries"),
        "weakness" => l("zwakte", "weakness"),
        "severity" => l("ernst", "severity"),
        "matching" => l("getroffen", "matching"),
        "pct" => "%",
        "hosts_mean" => l("hosts (gemiddeld)", "hosts (mean)"),
        "hosts_median" => l("hosts (mediaan)", "hosts (median)"),
        "name" => l("naam", "name"),
        "group" => l("groep", "group"),
        "rank" => l("rang", "rank"),
        "weight" => l("gewicht", "weight"),
        other => other,
    }
}

/// A count, or `< k`.
pub fn count(cell: &Cell<u32>) -> String {
    match cell {
        Cell::Value(n) => n.to_string(),
        Cell::Suppressed { k } => format!("< {k}"),
    }
}

/// A share as three cells (organisations, matching, percent), each `< k` when hidden.
pub fn share(cell: &Cell<Share>) -> [String; 3] {
    match cell {
        Cell::Value(s) => [s.organisations.to_string(), s.matching.to_string(), format!("{:.1}", s.pct)],
        Cell::Suppressed { k } => std::array::from_fn(|_| format!("< {k}")),
    }
}

/// Participation per week.
pub fn participation(weeks: &[WeekParticipation]) -> Table {
    Table {
        columns: vec!["week", "organisations", "agents", "summaries"],
        rows: weeks
            .iter()
            .map(|w| vec![w.week.to_string(), count(&w.organisations), count(&w.agents), count(&w.summaries)])
            .collect(),
    }
}

/// Prevalence per week and weakness.
pub fn prevalence(weeks: &[WeekPrevalence]) -> Table {
    let mut rows = Vec::new();
    for w in weeks {
        for c in &w.weaknesses {
            let [orgs, matching, pct] = share(&c.prevalence);
            let (mean, median) = match &c.hosts {
                Some(Cell::Value(h)) => (format!("{:.1}", h.mean), format!("{:.1}", h.median)),
                Some(Cell::Suppressed { k }) => (format!("< {k}"), format!("< {k}")),
                None => (String::new(), String::new()),
            };
            let severity = serde_json::to_value(c.severity).ok().and_then(|v| v.as_str().map(str::to_string));
            rows.push(vec![
                w.week.to_string(),
                c.id.clone(),
                severity.unwrap_or_default(),
                orgs,
                matching,
                pct,
                mean,
                median,
            ]);
        }
    }
    Table {
        columns: vec!["week", "weakness", "severity", "organisations", "matching", "pct", "hosts_mean", "hosts_median"],
        rows,
    }
}

/// Shares per week (TLS checks or service kinds).
pub fn shares(weeks: &[WeekShares]) -> Table {
    let mut rows = Vec::new();
    for w in weeks {
        for item in &w.items {
            let [orgs, matching, pct] = share(&item.share);
            rows.push(vec![w.week.to_string(), item.name.clone(), orgs, matching, pct]);
        }
    }
    Table { columns: vec!["week", "name", "organisations", "matching", "pct"], rows }
}

/// A breakdown: the total first (group `total`), then each group.
pub fn breakdown(b: &Breakdown) -> Table {
    let line = |group: &str, cell: &Cell<Share>| {
        let [orgs, matching, pct] = share(cell);
        vec![group.to_string(), orgs, matching, pct]
    };
    let mut rows = vec![line("total", &b.total)];
    rows.extend(b.parts.iter().map(|p| line(p.group, &p.share)));
    Table { columns: vec!["group", "organisations", "matching", "pct"], rows }
}

/// Priorities, highest score first.
pub fn priorities(p: &Priorities) -> Table {
    let rows = p
        .ranked
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let [orgs, matching, pct] = share(&r.prevalence);
            let severity = serde_json::to_value(r.severity).ok().and_then(|v| v.as_str().map(str::to_string));
            vec![
                (i + 1).to_string(),
                r.id.clone(),
                severity.unwrap_or_default(),
                r.weight.to_string(),
                orgs,
                matching,
                pct,
            ]
        })
        .collect();
    Table { columns: vec!["rank", "weakness", "severity", "weight", "organisations", "matching", "pct"], rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_defuses_formulas_and_quotes() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("< 5"), "< 5");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        let t = Table { columns: vec!["week", "pct"], rows: vec![vec!["2026-W01".into(), "< 5".into()]] };
        assert_eq!(t.to_csv(), "week,pct\r\n2026-W01,< 5\r\n");
    }

    #[test]
    fn html_escapes_cells() {
        let t = Table { columns: vec!["name"], rows: vec![vec!["<img src=x onerror=alert(1)>".into()]] };
        let html = t.html(Lang::En).into_string();
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img"), "{html}");
    }
}
