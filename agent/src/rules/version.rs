//! Version strings as services state them (`9.2p1`, `1.22.1`, `2.4.49`, `8.0.33-0ubuntu0.22.04.2`),
//! and how they compare.
//!
//! A version is split into the *upstream* version and a *revision*:
//! - A leading `v` or `V` is dropped. The upstream version runs up to the first `-`, `+`, `~`, space or
//!   `(`, except that a pre-release word right after a `-` still belongs to it (`8.0.0-rc1`,
//!   `1.0.0-beta.2`); the rest is the revision (`0ubuntu0.22.04.2`, `Debian-2+deb12u3`, `(Unix)`), kept
//!   but never compared. Distributions backport security fixes without changing the upstream version, so a
//!   revision that names a distribution ([`Version::from_distribution`]) is a reason for caution, not
//!   for a different order.
//! - The upstream version must start with a digit; it is cut into runs of digits and runs of ASCII
//!   letters; `.` and `_` only separate. Anything else makes it no version ([`Version::parse`] gives
//!   `None`), as does a number above `u64` or more than 32 parts.
//!
//! Comparison goes part by part, a missing part counting as `0`, so `1.2` = `1.2.0`:
//! - numbers compare as numbers: `2.4.9 < 2.4.49`;
//! - pre-release words (`dev` < `alpha` < `beta` < `pre` < `rc`, also `preview`, `snapshot`, any case)
//!   come before everything else at their place: `1.3.6rc1 < 1.3.6`, `1.3.2rc3 < 1.3.2`;
//! - other letters are post-release and sit between `0` and `1` at their place, among themselves in
//!   alphabetical order: `9.7 < 9.7p1 < 9.7p2 < 9.8`, `1.0.1 < 1.0.1a < 1.0.1f < 1.0.2`,
//!   `1.3.3b < 1.3.3c`. A single letter is therefore never a beta: write `beta`.
//!
//! Equality follows the order (`1.2` == `1.2.0`, revisions ignored), so [`Version`] is `Ord` and `Eq`
//! consistently.

use std::cmp::Ordering;
use std::fmt;

/// Most parts a version may have.
const MAX_PARTS: usize = 32;

/// One part of an upstream version.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// A number.
    Num(u64),
    /// A pre-release word with its rank (`dev` 0 … `rc` 4), lowercased.
    Pre(u8, String),
    /// Any other letters, lowercased.
    Post(String),
}

/// A parsed version; see the module documentation for the rules.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    parts: Vec<Part>,
    revision: Option<String>,
}

impl Version {
    /// Parses `text`; `None` when it does not start with a digit (after an optional `v`) or is not
    /// made of digits, letters, `.` and `_` up to its revision.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let body = text.strip_prefix(['v', 'V']).unwrap_or(text);
        let stops = ['-', '+', '~', ' ', '('];
        let mut cut = body.find(stops).unwrap_or(body.len());
        if let Some(after) = body[cut..].strip_prefix('-') {
            let word = after.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after.len());
            if matches!(letters(&after[..word]), Part::Pre(..)) {
                cut += 1 + after.find(stops).unwrap_or(after.len());
            }
        }
        let (upstream, rest) = body.split_at(cut);
        let upstream = upstream.replacen('-', ".", 1);
        let upstream = upstream.as_str();
        let revision = rest.trim_start_matches(['-', '+', '~', ' ']).trim();
        if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let mut parts = Vec::new();
        let mut chars = upstream.char_indices().peekable();
        while let Some(&(start, c)) = chars.peek() {
            let same_kind = |x: char| if c.is_ascii_digit() { x.is_ascii_digit() } else { x.is_ascii_alphabetic() };
            if c == '.' || c == '_' {
                chars.next();
                continue;
            }
            if !c.is_ascii_alphanumeric() {
                return None;
            }
            let mut end = start;
            while let Some(&(i, x)) = chars.peek() {
                if !same_kind(x) {
                    break;
                }
                end = i + x.len_utf8();
                chars.next();
            }
            let run = &upstream[start..end];
            parts.push(if c.is_ascii_digit() { Part::Num(run.parse().ok()?) } else { letters(run) });
            if parts.len() > MAX_PARTS {
                return None;
            }
        }
        Some(Version { text: text.to_string(), parts, revision: (!revision.is_empty()).then(|| revision.to_string()) })
    }

    /// The text as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What follows the upstream version (`0ubuntu0.22.04.2`), if anything.
    pub fn revision(&self) -> Option<&str> {
        self.revision.as_deref()
    }

    /// Whether the revision names a distribution package (Debian, Ubuntu, Red Hat and derivatives,
    /// SUSE, Alpine, FreeBSD ports), whose maintainers may have backported fixes.
    pub fn from_distribution(&self) -> bool {
        self.revision.as_deref().is_some_and(names_distribution)
    }
}

/// Whether `text` names a distribution or a distribution package revision.
pub fn names_distribution(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    const WORDS: [&str; 11] = [
        "debian",
        "ubuntu",
        "raspbian",
        "red hat",
        "rhel",
        "centos",
        "rocky",
        "almalinux",
        "suse",
        "alpine",
        "freebsd",
    ];
    if WORDS.iter().any(|w| t.contains(w)) {
        return true;
    }
    // Package release tags: Debian `+deb12u3`, `~deb11u1`; Red Hat `el7`, `el8_9`, `fc39`, `amzn2`.
    ["deb", "el", "fc", "amzn"].iter().any(|tag| {
        t.match_indices(tag).any(|(i, _)| {
            let before = t[..i].chars().next_back();
            let after = t[i + tag.len()..].chars().next();
            !before.is_some_and(|b| b.is_ascii_alphabetic()) && after.is_some_and(|a| a.is_ascii_digit())
        })
    })
}

fn letters(run: &str) -> Part {
    let lower = run.to_ascii_lowercase();
    let rank = match lower.as_str() {
        "dev" | "snapshot" => Some(0),
        "alpha" => Some(1),
        "beta" => Some(2),
        "pre" | "preview" => Some(3),
        "rc" => Some(4),
        _ => None,
    };
    match rank {
        Some(r) => Part::Pre(r, lower),
        None => Part::Post(lower),
    }
}

/// The sort key of a part, `None` being a missing part (= `0`): pre-release < 0 < post-release < 1.
fn key(p: Option<&Part>) -> (u8, u64, u8, &str) {
    match p {
        Some(Part::Pre(rank, word)) => (0, 0, *rank, word),
        None => (1, 0, 0, ""),
        Some(Part::Post(word)) => (1, 0, 1, word),
        Some(Part::Num(n)) => (1, *n, 0, ""),
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        (0..n)
            .map(|i| key(self.parts.get(i)).cmp(&key(other.parts.get(i))))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Compares two version strings; `None` when either is not a version.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(Version::parse(a)?.cmp(&Version::parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    #[track_caller]
    fn ascending(list: &[&str]) {
        for pair in list.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
            assert!(v(pair[1]) > v(pair[0]), "{} > {}", pair[1], pair[0]);
        }
    }

    #[test]
    fn numbers_compare_as_numbers_not_text() {
        ascending(&["1.9", "1.10", "1.22.1", "2.4.9", "2.4.49", "2.4.50", "2.4.100", "10.0"]);
    }

    #[test]
    fn missing_parts_count_as_zero() {
        assert_eq!(v("1.2"), v("1.2.0"));
        assert_eq!(v("1.2"), v("1.2.0.0"));
        assert_eq!(compare("6.0", "6"), Some(Ordering::Equal));
        ascending(&["1.2", "1.2.0.1"]);
    }

    #[test]
    fn openssh_portable_patch_levels() {
        ascending(&[
            "4.3p2", "4.4p1", "7.7p1", "7.8", "7.8p1", "8.4p1", "8.5p1", "9.2p1", "9.7", "9.7p1", "9.7p2", "9.8p1",
        ]);
    }

    #[test]
    fn letter_releases_sort_after_the_number_and_alphabetically() {
        ascending(&["1.0.1", "1.0.1a", "1.0.1f", "1.0.1g", "1.0.2", "1.0.2k"]);
        ascending(&["1.3.3", "1.3.3b", "1.3.3c", "1.3.4"]);
    }

    #[test]
    fn pre_releases_sort_before_the_release() {
        ascending(&["1.3.2rc3", "1.3.2", "1.3.5rc4", "1.3.5", "1.3.5a"]);
        ascending(&["2.0dev", "2.0alpha1", "2.0alpha2", "2.0beta", "2.0pre1", "2.0rc1", "2.0rc2", "2.0", "2.0.1"]);
        ascending(&["8.0.0-rc1", "8.0.0-rc2", "8.0.0"]);
        ascending(&["1.0.0-beta.2", "1.0.0-beta.10", "1.0.0"]);
        assert_eq!(v("8.0.0-rc1").revision(), None, "a pre-release after '-' belongs to the version");
        assert_eq!(v("8.0.0-rc1+build5").revision(), Some("build5"));
        assert_eq!(v("2.0RC1"), v("2.0rc1"));
    }

    #[test]
    fn distribution_revisions_are_kept_but_not_compared() {
        let ubuntu = v("8.0.33-0ubuntu0.22.04.2");
        assert_eq!(ubuntu, v("8.0.33"));
        assert_eq!(ubuntu.revision(), Some("0ubuntu0.22.04.2"));
        assert!(ubuntu.from_distribution());
        let debian = v("9.2p1 Debian-2+deb12u3");
        assert_eq!(debian, v("9.2p1"));
        assert!(debian.from_distribution());
        assert!(v("7.4p1-el7_9").from_distribution(), "Red Hat release tag");
        assert!(v("1.20.1-14.el9").from_distribution());
        let apache = v("2.4.49 (Unix)");
        assert_eq!(apache, v("2.4.49"));
        assert_eq!(apache.revision(), Some("(Unix)"));
        assert!(!apache.from_distribution());
        assert!(!v("1.22.1").from_distribution());
        assert!(!v("3.0.2-fips").from_distribution(), "a build tag is no distribution");
        assert!(!names_distribution("model"), "'el' inside a word is no release tag");
        assert!(!names_distribution("Debug console"), "'deb' inside a word is no release tag");
        assert!(names_distribution("SSH-2.0-OpenSSH_8.4p1 Raspbian-5+deb11u3"));
        assert!(v("1.18.0-6.1+deb11u3").from_distribution());
    }

    #[test]
    fn leading_v_and_spaces_are_ignored() {
        assert_eq!(v(" v1.4.2 "), v("1.4.2"));
        assert_eq!(v("V7"), v("7.0"));
        assert_eq!(v("v1.4.2").as_str(), "v1.4.2");
    }

    #[test]
    fn text_that_is_no_version_is_refused() {
        for bad in ["", "v", "Ubuntu", "latest", ".1", "1.2$", "1.2/3", "99999999999999999999999", "é1"] {
            assert!(Version::parse(bad).is_none(), "{bad:?}");
        }
        let long = vec!["1"; 40].join(".");
        assert!(Version::parse(&long).is_none(), "too many parts");
        assert_eq!(compare("1.0", "x"), None);
    }

    #[test]
    fn the_order_is_total_and_consistent_with_equality() {
        let all = ["1.2", "1.2.0", "1.2a", "1.2.1", "1.2rc1", "1.2p1", "1.2.0a", "1.3", "1.2beta"].map(v);
        for a in &all {
            for b in &all {
                assert_eq!(a.cmp(b), b.cmp(a).reverse(), "{a} vs {b}");
                assert_eq!(a == b, a.cmp(b).is_eq());
                for c in &all {
                    if a <= b && b <= c {
                        assert!(a <= c, "transitive: {a} <= {b} <= {c}");
                    }
                }
            }
        }
    }
}
