//! The agent's side of the link to wijkpost (DESIGN.md, "Summary", "MQTT topics", "Delivery").
//!
//! - [`state`]: the state directory an enrollment fills: identity, keys (0600), certificates, outbox;
//! - [`enroll`]: `wijkagent enroll`: keys made here, a one-time token spent at wijkpost's `/v1/enroll`,
//!   the answer checked against the token's CA fingerprint before anything is written;
//! - [`push`]: puts a signed summary in the [`crate::outbox`] and delivers the outbox over MQTT with
//!   TLS and the client certificate, deleting each entry when its receipt arrives.

pub mod enroll;
pub mod push;
pub mod state;

use crate::i18n::Lang;

/// What can go wrong between the agent and wijkpost; [`UplinkError::message`] says it for people.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    /// The state directory has no enrollment yet.
    #[error("{dir} holds no enrollment (identity.json is missing)")]
    NotEnrolled {
        /// The state directory.
        dir: String,
    },
    /// The state directory already holds an enrollment.
    #[error("{dir} already holds the enrollment of agent {agent}")]
    AlreadyEnrolled {
        /// The state directory.
        dir: String,
        /// The agent enrolled there.
        agent: String,
    },
    /// A file of the state directory is missing, unreadable or damaged.
    #[error("{path}: {why}")]
    State {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The token cannot be read.
    #[error("the token is damaged or incomplete: {0}")]
    Token(String),
    /// wijkpost refused the enrollment.
    #[error("wijkpost refused the enrollment ({code}): {message}")]
    Refused {
        /// `token-unknown`, `token-used`, `token-expired`, `bad-request`.
        code: String,
        /// wijkpost's explanation.
        message: String,
    },
    /// wijkpost's answer does not fit the token or the keys made here.
    #[error("wijkpost's answer cannot be trusted: {0}")]
    Untrusted(String),
    /// wijkpost or the broker cannot be reached or broke off.
    #[error("{target} unreachable: {why}")]
    Unreachable {
        /// URL or broker address.
        target: String,
        /// The cause.
        why: String,
    },
    /// The outbox failed (full disk, permissions, ...).
    #[error(transparent)]
    Outbox(#[from] crate::outbox::OutboxError),
}

impl UplinkError {
    /// One line for people, in `lang`: what is wrong and what to do.
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (UplinkError::NotEnrolled { dir }, Lang::Nl) => {
                format!("{dir} bevat geen inschrijving. Schrijf de agent eerst in met `wijkagent enroll --collector URL --token TOKEN --state {dir}`.")
            }
            (UplinkError::NotEnrolled { dir }, Lang::En) => {
                format!("{dir} holds no enrollment. Enroll the agent first with `wijkagent enroll --collector URL --token TOKEN --state {dir}`.")
            }
            (UplinkError::AlreadyEnrolled { dir, agent }, Lang::Nl) => format!(
                "{dir} bevat al de inschrijving van agent {agent}. Gebruik een lege map, of verwijder die map bewust om opnieuw in te schrijven."
            ),
            (UplinkError::AlreadyEnrolled { dir, agent }, Lang::En) => format!(
                "{dir} already holds the enrollment of agent {agent}. Use an empty directory, or remove that one deliberately to enroll again."
            ),
            (UplinkError::Token(why), Lang::Nl) => {
                format!("Het token is beschadigd of onvolledig ({why}). Kopieer de volledige regel die begint met wijk1. opnieuw.")
            }
            (UplinkError::Token(why), Lang::En) => {
                format!("The token is damaged or incomplete ({why}). Copy the whole line starting with wijk1. again.")
            }
            (UplinkError::Refused { code, message }, lang) => refusal(code, message, lang),
            (UplinkError::Untrusted(why), Lang::Nl) => format!(
                "Het antwoord van wijkpost past niet bij het token ({why}). Er is niets bewaard; controleer het adres van wijkpost en vraag VVSG om raad."
            ),
            (UplinkError::Untrusted(why), Lang::En) => format!(
                "wijkpost's answer does not fit the token ({why}). Nothing was kept; check wijkpost's address and ask VVSG."
            ),
            (UplinkError::Unreachable { target, why }, Lang::Nl) => {
                format!("{target} is niet bereikbaar ({why}). Controleer het adres en de firewall; wat nog in de outbox staat, gaat bij de volgende poging mee.")
            }
            (UplinkError::Unreachable { target, why }, Lang::En) => {
                format!("{target} cannot be reached ({why}). Check the address and the firewall; whatever is in the outbox goes with the next attempt.")
            }
            (UplinkError::State { path, why }, Lang::Nl) => format!("{path}: {why}. Controleer de statusmap of schrijf opnieuw in."),
            (UplinkError::State { path, why }, Lang::En) => format!("{path}: {why}. Check the state directory or enroll again."),
            (UplinkError::Outbox(crate::outbox::OutboxError::Io { path, source }), lang)
                if crate::fsutil::is_disk_full(source) =>
            {
                let path = path.display();
                match lang {
                    Lang::Nl => format!(
                        "Outbox {path}: de schijf is vol. Maak ruimte vrij op die schijf (oude rapporten, logbestanden) en probeer opnieuw; wat al in de outbox stond, is intact en gaat mee bij de volgende push."
                    ),
                    Lang::En => format!(
                        "Outbox {path}: the disk is full. Free space on that disk (old reports, log files) and try again; what was already in the outbox is intact and goes with the next push."
                    ),
                }
            }
            (UplinkError::Outbox(e), Lang::Nl) => format!("Outbox: {e}. Maak ruimte vrij of herstel de rechten; er gaat niets verloren."),
            (UplinkError::Outbox(e), Lang::En) => format!("Outbox: {e}. Free some space or fix the permissions; nothing is lost."),
        }
    }
}

fn refusal(code: &str, message: &str, lang: Lang) -> String {
    match (code, lang) {
        ("token-used", Lang::Nl) => "Dit token is al gebruikt. Een token dient voor één inschrijving: vraag VVSG een nieuw.".into(),
        ("token-used", Lang::En) => "This token has been used already. A token serves one enrollment: ask VVSG for a new one.".into(),
        ("token-expired", Lang::Nl) => "Dit token is verlopen. Vraag VVSG een nieuw token.".into(),
        ("token-expired", Lang::En) => "This token has expired. Ask VVSG for a new token.".into(),
        ("token-unknown", Lang::Nl) => {
            "wijkpost kent dit token niet (of het geheim klopt niet). Kopieer het token opnieuw of vraag VVSG een nieuw.".into()
        }
        ("token-unknown", Lang::En) => {
            "wijkpost does not know this token (or its secret is wrong). Copy the token again or ask VVSG for a new one.".into()
        }
        (_, Lang::Nl) => format!("wijkpost weigerde de inschrijving ({code}): {message}"),
        (_, Lang::En) => format!("wijkpost refused the enrollment ({code}): {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_under_the_outbox_says_so_and_names_the_file() {
        let path = std::path::PathBuf::from("/var/lib/wijkagent/outbox/00000000000000000007.json");
        let full = || {
            UplinkError::Outbox(crate::outbox::OutboxError::Io {
                path: path.clone(),
                source: std::io::Error::from_raw_os_error(28),
            })
        };
        let nl = full().message(Lang::Nl);
        assert!(nl.contains("00000000000000000007.json: de schijf is vol. Maak ruimte vrij"), "{nl}");
        let en = full().message(Lang::En);
        assert!(en.contains("the disk is full. Free space on that disk"), "{en}");
        let denied =
            UplinkError::Outbox(crate::outbox::OutboxError::Io { path, source: std::io::Error::from_raw_os_error(13) });
        assert!(denied.message(Lang::En).contains("fix the permissions"), "{}", denied.message(Lang::En));
    }
}
