//! `wijkagent audit verify`.

use std::path::PathBuf;

use crate::audit;
use crate::i18n::Lang;

/// Verifies the hash chain; exit 0 when intact, 1 when broken or unreadable.
pub fn verify(log: Option<PathBuf>, lang: Lang) -> anyhow::Result<i32> {
    let path = log.unwrap_or_else(audit::default_path);
    match audit::verify(&path) {
        Ok(summary) => {
            let head = lang.pick("auditlog intact", "audit log intact");
            println!("{head}: {} ({} {})", path.display(), summary.lines, lang.pick("regels", "lines"));
            Ok(0)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(1)
        }
    }
}
