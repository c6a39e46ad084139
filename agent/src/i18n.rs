//! The language of what people read: Dutch by default, English on request.

use serde::{Deserialize, Serialize};

/// Output language for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Nederlands (default).
    #[default]
    Nl,
    /// English.
    En,
}

impl Lang {
    /// Picks the Dutch or the English text.
    pub fn pick<'a>(self, nl: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Nl => nl,
            Lang::En => en,
        }
    }
}

/// One text said in both languages, for text that is written before the reader's language is known
/// (a probe's evidence, kept until the report is written). Technical tokens (protocol, cipher and
/// algorithm names) and text the server sent stay as they are in both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    /// Nederlands.
    pub nl: String,
    /// English.
    pub en: String,
}

impl Said {
    /// The Dutch and the English text.
    pub fn new(nl: impl Into<String>, en: impl Into<String>) -> Said {
        Said { nl: nl.into(), en: en.into() }
    }

    /// Text that reads the same in both languages (a list of algorithm names, a server's words).
    pub fn same(text: impl Into<String>) -> Said {
        let text = text.into();
        Said { nl: text.clone(), en: text }
    }

    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        lang.pick(&self.nl, &self.en)
    }

    /// Both texts changed by `f` (trimming, joining, ...).
    pub fn map(&self, mut f: impl FnMut(&str) -> String) -> Said {
        Said { nl: f(&self.nl), en: f(&self.en) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn said_picks_the_language() {
        let s = Said::new("poort open", "port open");
        assert_eq!((s.get(Lang::Nl), s.get(Lang::En)), ("poort open", "port open"));
        assert_eq!(Said::same("TLS_RSA_WITH_RC4_128_SHA").get(Lang::Nl), "TLS_RSA_WITH_RC4_128_SHA");
        assert_eq!(s.map(|t| t.to_uppercase()).get(Lang::En), "PORT OPEN");
    }
}
