//! The `--ports` flag: a comma-separated list of ports and ranges, TCP unless prefixed with `U:`.
//!
//! Accepted pieces: `22`, `8000-8100`, `T:443` / `t:443` (TCP), `U:53` / `u:161-162` (UDP). Spaces
//! around pieces, prefixes and dashes are tolerated. Each piece carries its own prefix: unlike nmap,
//! where `U:53,161` makes 161 UDP too, here `161` is TCP. Port 0, ports above 65535, reversed ranges,
//! empty pieces and anything else are refused with a [`PortSpecError`] naming the piece.
//!
//! Whether the resulting list fits the consent is [`super::narrowest_profile`]'s job.

use super::{PortList, Proto};

/// The accepted form, as shown in every error.
const FORM_NL: &str = "verwacht bv. 22,80,8000-8100,U:53 (T: of geen voorvoegsel = TCP, U: = UDP, poorten 1-65535)";
const FORM_EN: &str = "expected e.g. 22,80,8000-8100,U:53 (T: or no prefix = TCP, U: = UDP, ports 1-65535)";

/// A `--ports` value that cannot be used. One line: Dutch, then English after " / ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortSpecError {
    /// Nothing was given.
    #[error("lege poortlijst; {FORM_NL} / empty port list; {FORM_EN}")]
    Empty,
    /// Two commas in a row, or a comma at the start or end.
    #[error(
        "lege waarde tussen komma's in \"{spec}\"; {FORM_NL} / empty item between commas in \"{spec}\"; {FORM_EN}"
    )]
    EmptyPiece {
        /// The whole value.
        spec: String,
    },
    /// A prefix other than `T:` or `U:`.
    #[error("onbekend protocol in \"{piece}\"; {FORM_NL} / unknown protocol in \"{piece}\"; {FORM_EN}")]
    UnknownProtocol {
        /// The offending piece.
        piece: String,
    },
    /// Port 0.
    #[error("poort 0 bestaat niet in \"{piece}\"; {FORM_NL} / port 0 does not exist in \"{piece}\"; {FORM_EN}")]
    Zero {
        /// The offending piece.
        piece: String,
    },
    /// A port above 65535.
    #[error("poort boven 65535 in \"{piece}\"; {FORM_NL} / port above 65535 in \"{piece}\"; {FORM_EN}")]
    TooLarge {
        /// The offending piece.
        piece: String,
    },
    /// A range whose start lies after its end.
    #[error("omgekeerd bereik \"{piece}\": begin ligt na einde; {FORM_NL} / reversed range \"{piece}\": start lies after end; {FORM_EN}")]
    Reversed {
        /// The offending piece.
        piece: String,
    },
    /// Not a number or a range.
    #[error("\"{piece}\" is geen poort of bereik; {FORM_NL} / \"{piece}\" is not a port or range; {FORM_EN}")]
    Garbage {
        /// The offending piece.
        piece: String,
    },
}

/// Why a port or range (without prefix) is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeProblem {
    Zero,
    TooLarge,
    Reversed,
    Garbage,
}

/// Parses the `--ports` flag into a sorted, deduplicated [`PortList`].
pub fn parse_port_spec(spec: &str) -> Result<PortList, PortSpecError> {
    if spec.trim().is_empty() {
        return Err(PortSpecError::Empty);
    }
    let mut tcp = Vec::new();
    let mut udp = Vec::new();
    for raw in spec.split(',') {
        let piece = raw.trim();
        if piece.is_empty() {
            return Err(PortSpecError::EmptyPiece { spec: spec.to_string() });
        }
        let named = || piece.to_string();
        let (proto, rest) = match piece.split_once(':') {
            None => (Proto::Tcp, piece),
            Some((prefix, rest)) => match prefix.trim() {
                "T" | "t" => (Proto::Tcp, rest),
                "U" | "u" => (Proto::Udp, rest),
                _ => return Err(PortSpecError::UnknownProtocol { piece: named() }),
            },
        };
        let (low, high) = parse_range(rest).map_err(|problem| match problem {
            RangeProblem::Zero => PortSpecError::Zero { piece: named() },
            RangeProblem::TooLarge => PortSpecError::TooLarge { piece: named() },
            RangeProblem::Reversed => PortSpecError::Reversed { piece: named() },
            RangeProblem::Garbage => PortSpecError::Garbage { piece: named() },
        })?;
        let list = if proto == Proto::Tcp { &mut tcp } else { &mut udp };
        list.extend(low..=high);
    }
    Ok(PortList::new(tcp, udp))
}

/// Parses `"22"` or `"8000-8100"` (spaces tolerated) into an inclusive range of ports 1-65535.
pub(crate) fn parse_range(text: &str) -> Result<(u16, u16), RangeProblem> {
    let (low, high) = match text.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => {
            let p = port(text)?;
            (p, p)
        }
    };
    if low > high {
        return Err(RangeProblem::Reversed);
    }
    Ok((low, high))
}

/// One port number: ASCII digits only, 1-65535.
fn port(text: &str) -> Result<u16, RangeProblem> {
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RangeProblem::Garbage);
    }
    // Only digits, so parsing can only fail by overflow.
    let value = digits.parse::<u64>().unwrap_or(u64::MAX);
    match value {
        0 => Err(RangeProblem::Zero),
        1..=65535 => u16::try_from(value).map_err(|_| RangeProblem::TooLarge),
        _ => Err(RangeProblem::TooLarge),
    }
}
