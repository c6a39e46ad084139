//! The report's "how you compare" section: wijkpost's latest advice for this agent (the sector's
//! priorities with VVSG's toolkit links, and where this organisation stands against organisations of
//! its sector and size class). Figures wijkpost withheld for k-anonymity read "< k", never 0.

use std::fmt::Write;

use wijk_protocol::advice::{Advice, Link};

use super::html::escape;
use crate::i18n::Lang;
use crate::rules;

/// Appends the section for `advice`.
pub(super) fn section(out: &mut String, advice: &Advice, lang: Lang) {
    let t = |nl: &'static str, en: &'static str| lang.pick(nl, en);
    let _ = write!(
        out,
        "<section id=\"compare\">\n<h2>{}</h2>\n<p>{} <strong>{}</strong>, {} {}. {}</p>\n",
        t("Hoe u zich verhoudt", "How you compare"),
        t("Vergeleken met organisaties uit", "Compared with organisations of"),
        escape(&advice.peer_group),
        t("week", "week"),
        escape(&advice.week),
        escape(lang.pick(
            &format!(
                "Cijfers waar minder dan {k} organisaties aan bijdragen, toont wijkpost niet (\u{201c}< {k}\u{201d}).",
                k = advice.k
            ),
            &format!(
                "wijkpost withholds figures fewer than {k} organisations contribute to (\u{201c}< {k}\u{201d}).",
                k = advice.k
            ),
        )),
    );
    if advice.priorities.is_empty() {
        let _ = writeln!(
            out,
            "<p>{}</p>\n</section>",
            t("Nog geen prioriteiten voor uw sector.", "No priorities for your sector yet.")
        );
        return;
    }
    let _ = write!(
        out,
        "<table>\n<thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>\n",
        t("Zwakheid (prioriteit in de sector)", "Weakness (sector priority)"),
        t("Organisaties getroffen", "Organisations affected"),
        t("Bij u", "You"),
        t("Collega's die het oplosten", "Peers who fixed it"),
        t("Toolkit", "Toolkit"),
    );
    for p in &advice.priorities {
        let title = rules::catalog().get(&p.id).map_or_else(|| p.id.clone(), |w| w.title(lang).to_string());
        let position = advice.position.iter().find(|pos| pos.id == p.id);
        let you = match position.map(|pos| pos.you_have_it) {
            Some(true) => t("ja", "yes"),
            Some(false) => t("nee", "no"),
            None => "–",
        };
        let _ = writeln!(
            out,
            "<tr><td>{} <span class=\"meta\">({})</span></td><td>{}</td><td>{you}</td><td>{}</td><td>{}</td></tr>",
            escape(&title),
            escape(p.severity.as_str()),
            pct(p.organisations_pct, advice.k),
            pct(position.and_then(|pos| pos.peers_fixed_pct), advice.k),
            links(&p.links),
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// A percentage, or "< k" when wijkpost withheld it.
fn pct(value: Option<u8>, k: u32) -> String {
    value.map_or_else(|| format!("&lt; {k}"), |v| format!("{v} %"))
}

/// Toolkit links; only `https://` addresses become links.
fn links(links: &[Link]) -> String {
    links
        .iter()
        .map(|l| {
            if l.url.starts_with("https://") {
                format!("<a href=\"{}\">{}</a>", escape(&l.url), escape(&l.title))
            } else {
                escape(&l.title)
            }
        })
        .collect::<Vec<_>>()
        .join("<br>")
}
