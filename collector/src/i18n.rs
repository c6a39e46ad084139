//! The language of what people read: Dutch by default, English with `--lang en` (or
//! `WIJKPOST_LANG=en`). Enrollment refusals sent to agents stay English: the agent translates them
//! by their code.

/// Output language for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
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
