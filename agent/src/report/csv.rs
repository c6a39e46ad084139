//! `findings.csv`: one row per finding, for spreadsheets and ticketing systems.
//!
//! RFC 4180: a header row, comma-separated fields, CRLF line ends; a field holding a comma, a double
//! quote, CR or LF is enclosed in double quotes, with its quotes doubled. UTF-8 without a byte order
//! mark. (Excel with a Belgian locale expects `;`: open the file through Data > From Text/CSV, which
//! asks.)
//!
//! Spreadsheet formula injection: evidence comes from scanned servers, and a field starting with
//! `=`, `+`, `-`, `@`, tab or CR would be run as a formula by Excel or LibreOffice. Such a field gets a
//! leading `'`, the usual neutraliser (OWASP, "CSV Injection").
//!
//! Columns: `id`, `severity`, `title`, `host`, `port`, `protocol`, `evidence`, `advice`, `references`
//! (labels joined with `; `). Rows in the order of the report (most severe first); title, evidence
//! and advice in the language asked for.

use std::borrow::Cow;

use super::Report;
use crate::i18n::Lang;

/// The header row.
pub const HEADER: [&str; 9] =
    ["id", "severity", "title", "host", "port", "protocol", "evidence", "advice", "references"];

/// Renders every finding of `report` as CSV, titles, evidence and advice in `lang`.
pub fn render(report: &Report, lang: Lang) -> String {
    let mut out = String::new();
    row(&mut out, HEADER.iter().map(|h| Cow::Borrowed(*h)));
    for f in &report.findings {
        let (title, advice) = f.texts(lang);
        let fields = [
            Cow::Borrowed(f.id.as_str()),
            Cow::Borrowed(f.severity.as_str()),
            Cow::Borrowed(title),
            Cow::Owned(f.host.to_string()),
            Cow::Owned(f.port.map(|p| p.to_string()).unwrap_or_default()),
            Cow::Borrowed(f.protocol.map(|p| p.as_str()).unwrap_or("")),
            Cow::Borrowed(f.evidence_in(lang)),
            Cow::Borrowed(advice),
            Cow::Owned(f.references.labels().join("; ")),
        ];
        row(&mut out, fields.into_iter());
    }
    out
}

fn row<'a>(out: &mut String, fields: impl Iterator<Item = Cow<'a, str>>) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field(&f));
    }
    out.push_str("\r\n");
}

/// One field, neutralised against formulas and quoted when RFC 4180 requires it.
pub fn field(value: &str) -> Cow<'_, str> {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let value: Cow<'_, str> = if formula { Cow::Owned(format!("'{value}")) } else { Cow::Borrowed(value) };
    if value.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", value.replace('"', "\"\"")))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    /// A minimal RFC 4180 reader, to check the output round-trips.
    fn parse(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                (true, '"') => quoted = false,
                (true, c) => cur.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut cur)),
                (false, '\r') => {
                    assert_eq!(chars.next(), Some('\n'), "CR only as part of CRLF");
                    row.push(std::mem::take(&mut cur));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => cur.push(c),
            }
        }
        assert!(cur.is_empty() && row.is_empty(), "ends with CRLF");
        rows
    }

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(field(""), "");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(field("=1+1"), "'=1+1");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("-2"), "'-2");
        assert_eq!(field("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
        assert_eq!(field("1=1"), "1=1", "only a leading sign matters");
    }

    #[test]
    fn one_row_per_finding_after_the_header() {
        let r = fixtures::report();
        let text = render(&r, Lang::Nl);
        assert!(text.ends_with("\r\n"));
        let rows = parse(&text);
        assert_eq!(rows.len(), r.findings.len() + 1);
        assert_eq!(rows[0], HEADER);
        for (row, f) in rows[1..].iter().zip(&r.findings) {
            assert_eq!(row.len(), HEADER.len());
            assert_eq!((row[0].as_str(), row[1].as_str()), (f.id.as_str(), f.severity.as_str()));
            assert_eq!(row[3], f.host.to_string());
            assert_eq!(row[4], f.port.map(|p| p.to_string()).unwrap_or_default());
            let evidence = if f.evidence.starts_with('=') { format!("'{}", f.evidence) } else { f.evidence.clone() };
            assert_eq!(row[6], evidence, "evidence survives quoting");
        }
        let telnet = &rows[3];
        assert_eq!(telnet[2], "Telnet staat open");
        assert_eq!(telnet[6], "login, \"quoted\"\nsecond line");
        assert!(telnet[8].starts_with("CyFun PR.DS-02; CyFun PR.PS-01; CIS 4.6"), "{}", telnet[8]);
        let en = parse(&render(&r, Lang::En));
        assert_eq!(en[2][2], "Telnet is enabled");
        assert_eq!(rows[2][6], "poort 23/tcp open, herkend als telnet");
        assert_eq!(en[2][6], "port 23/tcp open, identified as telnet", "evidence in the language asked for");
        assert_eq!(en[3][6], telnet[6], "evidence in one language only stays as written");
        assert_eq!(en[5][2], "made-up-weakness", "the id stands in for an unknown weakness without title");
    }
}
