//! Time windows of a consent: when scanning is allowed.
//!
//! Each `[[window]]` table has `days` (`mon`..`sun`), `from` and `until` (`"HH:MM"`) and an
//! optional `timezone` (IANA name, default `Europe/Brussels`). Times are evaluated in the zone's
//! local time on the local date:
//!
//! - `until` later than `from`: the window runs that day from `from` to `until`;
//! - `until` earlier than `from`: it passes midnight and ends the next day (`days` names the day it
//!   *starts*: `fri 19:00-06:00` runs Friday evening to Saturday morning);
//! - `until` equal to `from`: a whole day of 24 hours.
//!
//! Daylight saving time: a local time that does not exist (spring forward) means the next valid
//! instant (`02:30` on the last Sunday of March in Brussels is `03:00` CEST). A local time that
//! exists twice (fall back) resolves to the shorter window: a start takes the later instant, an end
//! the earlier one.
//!
//! Overlapping or touching windows (also of different tables) form one block, so a scan is not
//! paused at midnight between two adjacent windows. A [`Schedule`] without windows is never open.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::ConsentError;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAYS_NL: [&str; 7] = ["ma", "di", "wo", "do", "vr", "za", "zo"];
/// Days before and after `now` that are laid out to answer a query; a block that stays open
/// longer than this (around the clock) reports its end at the horizon.
const BEHIND: i64 = 2;
const AHEAD: i64 = 16;

/// One `[[window]]` table, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Bit `i` set: the window starts on weekday `i` (0 = Monday).
    days: u8,
    from: NaiveTime,
    until: NaiveTime,
    tz: Tz,
}

impl Window {
    /// Validates one table; `field` names it in errors (e.g. `window[1]`).
    pub fn new(
        days: &[String],
        from: &str,
        until: &str,
        timezone: Option<&str>,
        field: &str,
    ) -> Result<Window, ConsentError> {
        let mut mask = 0u8;
        for d in days {
            let i = DAYS.iter().position(|x| x == d).ok_or_else(|| ConsentError::InvalidField {
                field: format!("{field}.days"),
                nl: format!("onbekende dag \"{d}\"; toegelaten: {}", DAYS.join(", ")),
                en: format!("unknown day \"{d}\"; allowed: {}", DAYS.join(", ")),
            })?;
            mask |= 1 << i;
        }
        if mask == 0 {
            return Err(ConsentError::InvalidField {
                field: format!("{field}.days"),
                nl: "noem minstens één dag (mon..sun)".into(),
                en: "name at least one day (mon..sun)".into(),
            });
        }
        let tz_name = timezone.unwrap_or("Europe/Brussels");
        let tz: Tz = tz_name.parse().map_err(|_| ConsentError::InvalidField {
            field: format!("{field}.timezone"),
            nl: format!("onbekende tijdzone \"{tz_name}\"; gebruik een IANA-naam zoals Europe/Brussels"),
            en: format!("unknown time zone \"{tz_name}\"; use an IANA name such as Europe/Brussels"),
        })?;
        Ok(Window {
            days: mask,
            from: parse_hhmm(from, &format!("{field}.from"))?,
            until: parse_hhmm(until, &format!("{field}.until"))?,
            tz,
        })
    }

    /// Human description, e.g. `ma,di,wo,do,vr 19:00-06:00 (+1 dag) Europe/Brussels`.
    pub fn describe(&self) -> String {
        let days: Vec<&str> =
            (0..7).filter(|i| self.days & (1 << i) != 0).filter_map(|i| DAYS_NL.get(i)).copied().collect();
        let span = if self.until == self.from {
            format!("{}-{} (24 u)", self.from.format("%H:%M"), self.until.format("%H:%M"))
        } else if self.until < self.from {
            format!("{}-{} (+1 dag)", self.from.format("%H:%M"), self.until.format("%H:%M"))
        } else {
            format!("{}-{}", self.from.format("%H:%M"), self.until.format("%H:%M"))
        };
        format!("{} {} {}", days.join(","), span, self.tz.name())
    }

    /// The occurrence starting on local `date`, in UTC, if the window starts that weekday.
    fn occurrence(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if self.days & (1 << date.weekday().num_days_from_monday()) == 0 {
            return None;
        }
        let end_date = if self.until <= self.from { date.succ_opt()? } else { date };
        let start = resolve(self.tz, date.and_time(self.from), true)?;
        let end = resolve(self.tz, end_date.and_time(self.until), false)?;
        (start < end).then_some((start, end))
    }
}

fn parse_hhmm(s: &str, field: &str) -> Result<NaiveTime, ConsentError> {
    let b = s.as_bytes();
    let ok = b.len() == 5 && b[2] == b':' && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit());
    let t = ok.then(|| {
        let h = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
        let m = u32::from(b[3] - b'0') * 10 + u32::from(b[4] - b'0');
        NaiveTime::from_hms_opt(h, m, 0)
    });
    t.flatten().ok_or_else(|| ConsentError::InvalidField {
        field: field.into(),
        nl: format!("\"{s}\" is geen tijd; schrijf \"HH:MM\" van 00:00 tot 23:59"),
        en: format!("\"{s}\" is not a time; write \"HH:MM\" from 00:00 to 23:59"),
    })
}

/// Local time to UTC: gaps move to the next valid instant, overlaps take the later (`late`) or
/// earlier instant.
fn resolve(tz: Tz, local: NaiveDateTime, late: bool) -> Option<DateTime<Utc>> {
    let mut t = local;
    // Gaps are at most a day long; step by minutes (all real transitions fall on whole minutes).
    for _ in 0..=(48 * 60) {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(x) => return Some(x.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
                return Some(if late { a.max(b) } else { a.min(b) });
            }
            LocalResult::None => t = t.checked_add_signed(Duration::minutes(1))?,
        }
    }
    None
}

/// All windows of a consent.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    windows: Vec<Window>,
    always: bool,
}

impl Schedule {
    /// A schedule from validated windows; empty means never open.
    pub fn new(windows: Vec<Window>) -> Schedule {
        Schedule { windows, always: false }
    }

    /// Always open (the implicit consent of `scan --self`).
    pub fn always() -> Schedule {
        Schedule { windows: Vec::new(), always: true }
    }

    /// Whether this schedule can never open (no `[[window]]` at all).
    pub fn is_never(&self) -> bool {
        !self.always && self.windows.is_empty()
    }

    /// The windows (empty for [`Schedule::always`]).
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// One line for humans (Dutch day names), windows separated by `; `.
    pub fn describe(&self) -> String {
        if self.always {
            return "altijd open / always open".into();
        }
        if self.windows.is_empty() {
            return "geen venster: nooit scannen / no window: never scan".into();
        }
        self.windows.iter().map(Window::describe).collect::<Vec<_>>().join("; ")
    }

    /// Whether scanning is allowed at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.always || self.blocks(now).iter().any(|&(s, e)| s <= now && now < e)
    }

    /// When the window open at `now` closes (the end of its block of touching windows); `None`
    /// if closed. For [`Schedule::always`] this is 9999-12-31.
    pub fn current_end(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.always {
            return Some(far_future());
        }
        self.blocks(now).into_iter().find(|&(s, e)| s <= now && now < e).map(|(_, e)| e)
    }

    /// Start of the next window: the first after `now` if closed, or the first after the current
    /// block if open. `None` without windows (or for [`Schedule::always`]).
    pub fn next_open(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.always {
            return None;
        }
        let blocks = self.blocks(now);
        let after = blocks.iter().find(|&&(s, e)| s <= now && now < e).map_or(now, |&(_, e)| e);
        blocks.into_iter().map(|(s, _)| s).find(|&s| s > after)
    }

    /// Occurrences around `now`, sorted and merged into blocks.
    fn blocks(&self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut occ = Vec::new();
        for w in &self.windows {
            let today = now.with_timezone(&w.tz).date_naive();
            for d in -BEHIND..=AHEAD {
                if let Some(o) = today.checked_add_signed(Duration::days(d)).and_then(|date| w.occurrence(date)) {
                    occ.push(o);
                }
            }
        }
        occ.sort();
        let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(occ.len());
        for (s, e) in occ {
            match out.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => out.push((s, e)),
            }
        }
        out
    }
}

fn far_future() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map_or(DateTime::<Utc>::MAX_UTC, |n| n.and_utc())
}

/// `t` in Europe/Brussels as Dutch text: `ma 2026-12-07 19:00 (Europe/Brussels)`.
pub fn brussels_nl(t: &DateTime<Utc>) -> String {
    let l = t.with_timezone(&chrono_tz::Europe::Brussels);
    let day = DAYS_NL.get(l.weekday().num_days_from_monday() as usize).copied().unwrap_or("");
    format!("{day} {} (Europe/Brussels)", l.format("%Y-%m-%d %H:%M"))
}

/// `t` in Europe/Brussels as English text: `Mon 2026-12-07 19:00 (Europe/Brussels)`.
pub fn brussels_en(t: &DateTime<Utc>) -> String {
    let l = t.with_timezone(&chrono_tz::Europe::Brussels);
    format!("{} (Europe/Brussels)", l.format("%a %Y-%m-%d %H:%M"))
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
