//! nmap's service fingerprint database, `nmap-service-probes`, read for one question: did nmap read
//! the version it reports from the service, or is it a constant of the database line that matched —
//! a guess from the fingerprint?
//!
//! A `match` (or `softmatch`) line names a service, a regular expression for the answer, and
//! templates for the product (`p/…/`), the version (`v/…/`) and more. A template fills in what the
//! expression captured (`$1`, `$P(1)`, `$SUBST(1,"_",".")`, `$I(1,">")`) or is a plain constant:
//! `match netbios-ssn m|…| p/Samba smbd/ v/4.6.2/` says "4.6.2" for every server whose answer looks
//! like that, whichever Samba it is; `v/$1/` copies what the server said.
//!
//! nmap's XML does not say which line matched, so this asks which lines *could have produced* what
//! nmap reported: same service name, a product template that can give nmap's product and a version
//! template that can give nmap's version (a constant must be equal; each substitution stands for any
//! text, none included). The version is a [`VersionSource::Guess`] only when such lines exist and every
//! one of them states it as a constant. When any of them could have captured it, it is
//! [`VersionSource::Read`]; when none could have produced it (a version script such as
//! `mqtt-subscribe` wrote it, or the database is another one) it is [`VersionSource::Unknown`] and
//! counted as read, so that a doubt never removes a version from the comparison.

use std::path::{Path, PathBuf};

/// One `match` or `softmatch` line, as far as this module needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchLine {
    /// Line number in the file (1-based).
    pub number: usize,
    /// Service name (`netbios-ssn`, `telnet`, …).
    pub service: String,
    /// Product template (`p/…/`), if any.
    pub product: Option<String>,
    /// Version template (`v/…/`), if any.
    pub version: Option<String>,
}

/// Where nmap's version for a port came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSource {
    /// A line that could have produced it captures the version from the answer.
    Read,
    /// Every line that could have produced it states the version as a constant: nmap guessed it
    /// from the fingerprint. The line numbers.
    Guess(Vec<usize>),
    /// No line of the database produces it (a script wrote it, or another database).
    Unknown,
}

impl VersionSource {
    /// A guess, not read from the service.
    pub fn is_guess(&self) -> bool {
        matches!(self, VersionSource::Guess(_))
    }
}

/// The `match` and `softmatch` lines of an `nmap-service-probes` file.
#[derive(Debug, Clone, Default)]
pub struct ServiceProbes {
    /// The file it was read from (empty for a text given directly).
    pub path: PathBuf,
    /// Every match and softmatch line that could be read.
    pub lines: Vec<MatchLine>,
}

impl ServiceProbes {
    /// Reads the database nmap uses: `$NMAPDIR/nmap-service-probes`, else the Debian and the
    /// source-install locations. `None` when none is readable.
    pub fn find() -> Option<ServiceProbes> {
        let mut places: Vec<PathBuf> = std::env::var_os("NMAPDIR").map(PathBuf::from).into_iter().collect();
        places.extend(["/usr/share/nmap", "/usr/local/share/nmap"].map(PathBuf::from));
        places.into_iter().find_map(|dir| ServiceProbes::read(&dir.join("nmap-service-probes")))
    }

    /// Reads `path`; `None` when it cannot be read.
    pub fn read(path: &Path) -> Option<ServiceProbes> {
        let bytes = std::fs::read(path).ok()?;
        let mut db = ServiceProbes::parse(&String::from_utf8_lossy(&bytes));
        db.path = path.to_path_buf();
        Some(db)
    }

    /// The match lines of a file's text.
    pub fn parse(text: &str) -> ServiceProbes {
        let lines = text.lines().enumerate().filter_map(|(i, l)| parse_line(i + 1, l)).collect();
        ServiceProbes { path: PathBuf::new(), lines }
    }

    /// Where the `version` nmap reported for a port it named `service` with `product` came from.
    pub fn version_source(&self, service: &str, product: Option<&str>, version: &str) -> VersionSource {
        let fits = |template: &Option<String>, value: Option<&str>| match (template, value) {
            (Some(t), v) => template_fits(t, v.unwrap_or("")),
            (None, v) => v.is_none_or(str::is_empty),
        };
        let candidates: Vec<&MatchLine> = self
            .lines
            .iter()
            .filter(|l| l.service == service && fits(&l.product, product) && fits(&l.version, Some(version)))
            .collect();
        if candidates.is_empty() {
            VersionSource::Unknown
        } else if candidates.iter().any(|l| l.version.as_deref().is_some_and(|v| !is_constant(v))) {
            VersionSource::Read
        } else {
            VersionSource::Guess(candidates.iter().map(|l| l.number).collect())
        }
    }
}

/// `match SERVICE m<d>REGEX<d>[flags] p/…/ v/…/ …` (or `softmatch`); `None` for any other line.
fn parse_line(number: usize, line: &str) -> Option<MatchLine> {
    let rest = line.strip_prefix("match ").or_else(|| line.strip_prefix("softmatch "))?;
    let (service, rest) = rest.trim_start().split_once(' ')?;
    // The expression: `m`, a delimiter, everything up to the next delimiter (nmap does not escape it).
    let rest = rest.trim_start().strip_prefix('m')?;
    let delim = rest.chars().next()?;
    let rest = &rest[delim.len_utf8()..];
    let end = rest.find(delim)?;
    let rest = &rest[end + delim.len_utf8()..];
    // Flags (`i`, `s`) up to the first space, then the fields.
    let mut rest = rest.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let (mut product, mut version) = (None, None);
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let (key, after) = match rest.strip_prefix("cpe:") {
            Some(after) => ("cpe", after),
            None => {
                let key = rest.get(..1)?;
                (key, &rest[1..])
            }
        };
        let delim = after.chars().next()?;
        let body = &after[delim.len_utf8()..];
        let end = body.find(delim)?;
        match key {
            "p" => product = Some(body[..end].to_string()),
            "v" => version = Some(body[..end].to_string()),
            _ => {}
        }
        rest = &body[end + delim.len_utf8()..];
        if key == "cpe" {
            rest = rest.strip_prefix('a').unwrap_or(rest);
        }
    }
    Some(MatchLine { number, service: service.to_string(), product, version })
}

/// One piece of a template: text as written, or a substitution (any text).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(char),
    Any,
}

/// A template as pieces: `$1`, `$P(1)`, `$SUBST(1,"_",".")` and `$I(1,">")` become [`Piece::Any`].
fn pieces(template: &str) -> Vec<Piece> {
    let chars: Vec<char> = template.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            let rest: String = chars[i + 1..].iter().collect();
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                out.push(Piece::Any);
                i += 2;
                continue;
            }
            if ["P(", "SUBST(", "I("].iter().any(|f| rest.starts_with(f)) {
                // Up to the closing parenthesis outside quotes.
                let mut j = i + 1;
                let mut quoted = false;
                while j < chars.len() && (quoted || chars[j] != ')') {
                    if chars[j] == '"' {
                        quoted = !quoted;
                    }
                    j += 1;
                }
                out.push(Piece::Any);
                i = j + 1;
                continue;
            }
        }
        out.push(Piece::Text(chars[i]));
        i += 1;
    }
    out
}

/// A template with no substitution: a constant.
pub fn is_constant(template: &str) -> bool {
    !pieces(template).contains(&Piece::Any)
}

/// Whether `template` can give `value` (constants equal, substitutions any text).
pub fn template_fits(template: &str, value: &str) -> bool {
    let p = pieces(template);
    let v: Vec<char> = value.chars().collect();
    // fit[j]: the pieces so far can give v[..j].
    let mut fit = vec![false; v.len() + 1];
    fit[0] = true;
    for piece in &p {
        let mut next = vec![false; v.len() + 1];
        for j in 0..=v.len() {
            next[j] = match piece {
                Piece::Any => fit[j] || (j > 0 && next[j - 1]),
                Piece::Text(c) => j > 0 && fit[j - 1] && v[j - 1] == *c,
            };
        }
        fit = next;
    }
    fit[v.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as nmap 7.93 has them (expressions shortened where only their end matters).
    const SAMPLE: &str = r#"# comment
Probe TCP SMBProgNeg q|\0\0\0\xa4\xff\x53\x4d\x42|
match netbios-ssn m|^\0\0\0.\xffSMBr\0\0\0\0\x88..\0\0[-\w. ]*\0+@\x06\0\0\x01\0\x11\x06\0.{42}(.*)\0\0(.*)\0\0$|s p/Samba smbd/ v/3.X - 4.X/ i/workgroup: $P(1)/ h/$P(2)/ cpe:/a:samba:samba/
match netbios-ssn m|^\0\0\0.\xffSMBr\0\0\0\0\x88..\0\0\0\0\0\0\0\0\0\0\0\0\0\0@\x06\0\0\x01\0\x01\xff\xff\0\0$|s p/Samba smbd/ v/4.6.2/ cpe:/a:samba:samba:4.6.2/
match ssh m|^SSH-([\d.]+)-OpenSSH_([\w._-]+) Debian-(\S*)\r?\n| p/OpenSSH/ v/$2 Debian $3/ i/protocol $1/ o/Linux/ cpe:/a:openbsd:openssh:$2/ cpe:/o:debian:debian_linux/
match ftp m|^220 \(vsFTPd (\d[-.\w]+)\)\r\n| p/vsftpd/ v/$1/ o/Unix/ cpe:/a:beasts:vsftpd:$1/
match telnet m|^\xff\xfd\x01\xff\xfd\x1f\xff\xfd!\xff\xfb\x01\xff\xfb\x03\(none\) login: | p/BusyBox telnetd/ v/1.0/ cpe:/a:busybox:busybox:1.0/a
softmatch telnet m|^\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03[^\xff]| p/BusyBox telnetd/ v/1.14.0 or later/ cpe:/a:busybox:busybox:1.14.0 or later/a
match http m=^HTTP/1\.[01] \d\d\d .*\r\nServer: nginx/([\d.]+)\r\n=s p/nginx/ v/$1/ cpe:/a:igor_sysoev:nginx:$1/
match fake m|^x| p|a/b| v/$SUBST(1,"_",".")/
match fake m|^y| p/$I(1,">") kit/ v/2.0/
"#;

    #[test]
    fn match_lines_are_read_with_their_templates() {
        let db = ServiceProbes::parse(SAMPLE);
        assert_eq!(db.lines.len(), 9, "comments and Probe lines skipped");
        let samba = &db.lines[1];
        assert_eq!((samba.number, samba.service.as_str()), (4, "netbios-ssn"));
        assert_eq!((samba.product.as_deref(), samba.version.as_deref()), (Some("Samba smbd"), Some("4.6.2")));
        assert_eq!(db.lines[2].version.as_deref(), Some("$2 Debian $3"));
        assert_eq!(db.lines[5].product.as_deref(), Some("BusyBox telnetd"), "softmatch lines count too");
        assert_eq!(db.lines[6].service, "http", "another delimiter (=)");
        assert_eq!(db.lines[7].product.as_deref(), Some("a/b"), "a field with its own delimiter");
        assert!(parse_line(1, "match broken m|never closed").is_none());
    }

    #[test]
    fn templates_fit_constants_exactly_and_substitutions_loosely() {
        assert!(is_constant("4.6.2") && is_constant("3.X - 4.X") && is_constant("1.14.0 or later"));
        assert!(!is_constant("$1") && !is_constant("$2 Debian $3") && !is_constant(r#"$SUBST(1,"_",".")"#));
        assert!(!is_constant("$P(1)") && !is_constant(r#"$I(1,">") kit"#));
        assert!(is_constant("cost $ 5"), "a lone dollar is text");
        assert!(template_fits("4.6.2", "4.6.2") && !template_fits("4.6.2", "4.17.12"));
        assert!(template_fits("$2 Debian $3", "9.2p1 Debian 2+deb12u3"));
        assert!(!template_fits("$2 Debian $3", "9.2p1 Ubuntu 3"));
        assert!(template_fits("$1", "") && template_fits("$1", "anything"));
        assert!(template_fits(r#"$I(1,">") kit"#, "ACME kit") && !template_fits(r#"$I(1,">") kit"#, "ACME kits"));
    }

    #[test]
    fn versions_are_guesses_only_when_every_fitting_line_states_them() {
        let db = ServiceProbes::parse(SAMPLE);
        let src = |service, product, version| db.version_source(service, product, version);
        assert_eq!(src("netbios-ssn", Some("Samba smbd"), "4.6.2"), VersionSource::Guess(vec![4]));
        assert_eq!(src("netbios-ssn", Some("Samba smbd"), "3.X - 4.X"), VersionSource::Guess(vec![3]));
        assert_eq!(src("telnet", Some("BusyBox telnetd"), "1.14.0 or later"), VersionSource::Guess(vec![8]));
        assert_eq!(src("ssh", Some("OpenSSH"), "9.2p1 Debian 2+deb12u3"), VersionSource::Read);
        assert_eq!(src("ftp", Some("vsftpd"), "3.0.3"), VersionSource::Read);
        assert_eq!(src("http", Some("nginx"), "1.22.1"), VersionSource::Read);
        // The product must fit too: another product with the same constant is not a candidate.
        assert_eq!(src("netbios-ssn", Some("Windows smbd"), "4.6.2"), VersionSource::Unknown);
        // A version the mqtt-subscribe script wrote into the name: no line produces it.
        assert_eq!(src("mosquitto version 2.0.11", None, "2.0.11"), VersionSource::Unknown);
        // A constant line and a capturing line that both fit: it may have been read.
        let both = ServiceProbes::parse(&format!("{SAMPLE}match ftp m|^220 x| p/vsftpd/ v/3.0.3/\n"));
        assert_eq!(both.version_source("ftp", Some("vsftpd"), "3.0.3"), VersionSource::Read);
        assert!(VersionSource::Guess(vec![1]).is_guess() && !VersionSource::Unknown.is_guess());
    }

    #[test]
    fn the_installed_database_if_any_names_the_samba_guess() {
        // Only where nmap is installed (CI installs it); the figures of the bench depend on it.
        let Some(db) = ServiceProbes::find() else { return };
        let text = std::fs::read_to_string(&db.path).unwrap_or_default();
        let written = text.lines().filter(|l| l.starts_with("match ") || l.starts_with("softmatch ")).count();
        assert!(written > 1000, "{written} lines in {}", db.path.display());
        assert_eq!(db.lines.len(), written, "every match line read");
        assert!(db.version_source("netbios-ssn", Some("Samba smbd"), "4.6.2").is_guess());
        assert!(db.version_source("netbios-ssn", Some("Samba smbd"), "3.X - 4.X").is_guess());
        assert_eq!(db.version_source("ssh", Some("OpenSSH"), "9.2p1 Debian 2+deb12u3"), VersionSource::Read);
        assert_eq!(db.version_source("ftp", Some("vsftpd"), "3.0.3"), VersionSource::Read);
    }
}
