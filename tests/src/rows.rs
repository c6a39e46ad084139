//! PASS/FAIL rows for lab tests that check many things about one run: every row is checked and
//! printed before the test fails, so one run shows the whole state.

use std::fmt::Write as _;

/// Checked rows: (label, passed, what was seen).
#[derive(Debug, Default)]
pub struct Rows(Vec<(String, bool, String)>);

impl Rows {
    /// Records one row; `seen` is shown for every row in [`Rows::table`] (why it failed, or the
    /// figure that passed).
    pub fn check(&mut self, label: impl Into<String>, ok: bool, seen: impl Into<String>) {
        self.0.push((label.into(), ok, seen.into()));
    }

    /// Rows that failed.
    pub fn failed(&self) -> usize {
        self.0.iter().filter(|r| !r.1).count()
    }

    /// One line per row, `PASS label — seen` or `FAIL label — seen`, and a count.
    pub fn table(&self) -> String {
        let mut s = String::new();
        for (label, ok, seen) in &self.0 {
            let mark = if *ok { "PASS" } else { "FAIL" };
            let _ = writeln!(s, "{mark} {label}{}", if seen.is_empty() { String::new() } else { format!(" — {seen}") });
        }
        let _ = writeln!(s, "{} of {} rows pass", self.0.len() - self.failed(), self.0.len());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_and_show_what_was_seen() {
        let mut r = Rows::default();
        r.check("one", true, "1.0 s");
        r.check("two", false, "missing 22/tcp");
        assert_eq!(r.failed(), 1);
        assert_eq!(r.table(), "PASS one — 1.0 s\nFAIL two — missing 22/tcp\n1 of 2 rows pass\n");
    }
}
