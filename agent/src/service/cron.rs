//! When scans are due: a five-field cron expression (`minute hour day-of-month month day-of-week`)
//! evaluated in a time zone (Europe/Brussels by default).
//!
//! Each field is `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of those.
//! Months may be named `jan`..`dec`, weekdays `sun`..`sat` or `mon`..`sun` (0 and 7 are Sunday).
//! As in Vixie cron, when both day-of-month and day-of-week are restricted, a day matching either
//! one counts. Daylight saving time: a local time that does not exist (spring forward) is skipped
//! for that day; one that exists twice (fall back) is taken once, at its first instant.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// How many days ahead [`Cron::next_after`] looks; every valid expression matches within this.
const HORIZON_DAYS: i64 = 366 * 5;

/// A parsed cron expression with its time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Day-of-month was not `*`.
    days_restricted: bool,
    /// Day-of-week was not `*`.
    weekdays_restricted: bool,
    tz: Tz,
    text: String,
}

/// Why an expression was refused, said for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{nl} / {en}")]
pub struct CronError {
    /// In Dutch.
    pub nl: String,
    /// In English.
    pub en: String,
}

fn refuse(nl: String, en: String) -> CronError {
    CronError { nl, en }
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cron {
    /// Parses `expr` for time zone `tz` (an IANA name).
    pub fn parse(expr: &str, tz: &str) -> Result<Cron, CronError> {
        let zone: Tz = tz.parse().map_err(|_| {
            refuse(
                format!("onbekende tijdzone \"{tz}\"; gebruik een IANA-naam zoals Europe/Brussels"),
                format!("unknown time zone \"{tz}\"; use an IANA name such as Europe/Brussels"),
            )
        })?;
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(refuse(
                format!(
                    "\"{expr}\" heeft {} velden; verwacht 5: minuut uur dag maand weekdag, bv. \"30 19 * * mon\"",
                    fields.len()
                ),
                format!(
                    "\"{expr}\" has {} fields; expected 5: minute hour day month weekday, e.g. \"30 19 * * mon\"",
                    fields.len()
                ),
            ));
        }
        let minutes = field(fields[0], "minuut/minute", 0, 59, &[])?;
        let hours = field(fields[1], "uur/hour", 0, 23, &[])?;
        let days = field(fields[2], "dag/day", 1, 31, &[])?;
        let months = field(fields[3], "maand/month", 1, 12, &MONTHS)?;
        let mut weekdays = field(fields[4], "weekdag/weekday", 0, 7, &WEEKDAYS)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1; // 7 is Sunday too
        }
        Ok(Cron {
            minutes,
            hours: u32::try_from(hours).unwrap_or(u32::MAX),
            days: u32::try_from(days).unwrap_or(u32::MAX),
            months: u16::try_from(months).unwrap_or(u16::MAX),
            weekdays: u8::try_from(weekdays & 0x7f).unwrap_or(0x7f),
            days_restricted: fields[2] != "*",
            weekdays_restricted: fields[4] != "*",
            tz: zone,
            text: expr.split_whitespace().collect::<Vec<_>>().join(" "),
        })
    }

    /// The expression as written (spaces normalised).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first time strictly after `t` that matches; `None` only if nothing matches within five
    /// years (e.g. `0 0 31 2 *`).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start_local = t.with_timezone(&self.tz).date_naive();
        for d in 0..HORIZON_DAYS {
            let date = start_local.checked_add_signed(Duration::days(d))?;
            if !self.day_matches(date) {
                continue;
            }
            for hour in (0..24).filter(|h| self.hours & (1 << h) != 0) {
                for minute in (0..60).filter(|m| self.minutes & (1 << m) != 0) {
                    let Some(time) = NaiveTime::from_hms_opt(hour, minute, 0) else { continue };
                    // `earliest` takes the first instant of a repeated hour and skips a missing one.
                    let Some(at) = self.tz.from_local_datetime(&date.and_time(time)).earliest() else { continue };
                    let at = at.with_timezone(&Utc);
                    if at > t {
                        return Some(at);
                    }
                }
            }
        }
        None
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }
}

/// Parses one field into a bit set of the allowed values.
fn field(text: &str, name: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u64, CronError> {
    let bad = |why_nl: &str, why_en: &str| {
        refuse(
            format!("veld {name} \"{text}\": {why_nl} (toegelaten {lo}-{hi})"),
            format!("field {name} \"{text}\": {why_en} (allowed {lo}-{hi})"),
        )
    };
    let value = |s: &str| -> Result<u32, CronError> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            // Month names count from 1, weekday names from 0 (Sunday).
            let i = u32::try_from(i).unwrap_or(0);
            return Ok(if names.len() == MONTHS.len() { i + 1 } else { i });
        }
        let v: u32 = s.parse().map_err(|_| bad("geen getal of naam", "not a number or name"))?;
        if v < lo || v > hi {
            return Err(bad("buiten het bereik", "out of range"));
        }
        Ok(v)
    };
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| bad("stap is geen getal", "step is not a number"))?;
                if step == 0 {
                    return Err(bad("stap 0", "step 0"));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (from, to) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if step > 1 { hi } else { v })
        };
        if from > to {
            return Err(bad("bereik loopt achteruit", "range runs backwards"));
        }
        for v in (from..=to).step_by(usize::try_from(step).unwrap_or(1)) {
            set |= 1 << v;
        }
    }
    Ok(set)
}

/// Local wall-clock minute of `t` in `tz`, for messages (`2026-12-07 19:30`).
pub fn local_minute(t: DateTime<Utc>, tz: &Tz) -> String {
    let l = t.with_timezone(tz);
    format!("{:04}-{:02}-{:02} {:02}:{:02}", l.year(), l.month(), l.day(), l.hour(), l.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn weekly_monday_evening_in_brussels() {
        let c = Cron::parse("30 19 * * mon", "Europe/Brussels").expect("parse");
        // 2026-11-30 is a Monday; 19:30 CET = 18:30 UTC.
        assert_eq!(c.next_after(at("2026-11-30T10:00:00Z")), Some(at("2026-11-30T18:30:00Z")));
        assert_eq!(c.next_after(at("2026-11-30T18:30:00Z")), Some(at("2026-12-07T18:30:00Z")));
        // Summer time: 19:30 CEST = 17:30 UTC.
        assert_eq!(c.next_after(at("2026-06-01T00:00:00Z")), Some(at("2026-06-01T17:30:00Z")));
    }

    #[test]
    fn lists_ranges_steps_and_names() {
        let c = Cron::parse("0,30 8-10/2 * JAN-mar 1-5", "UTC").expect("parse");
        let mut t = at("2027-01-01T00:00:00Z"); // a Friday
        let mut seen = Vec::new();
        for _ in 0..5 {
            t = c.next_after(t).expect("next");
            seen.push(t);
        }
        let want = ["2027-01-01T08:00:00Z", "2027-01-01T08:30:00Z", "2027-01-01T10:00:00Z", "2027-01-01T10:30:00Z"];
        assert_eq!(seen[..4], want.map(at));
        assert_eq!(seen[4], at("2027-01-04T08:00:00Z"), "the weekend is skipped");
        let sunday = Cron::parse("0 0 * * 7", "UTC").expect("parse");
        assert_eq!(sunday.next_after(at("2027-01-01T00:00:00Z")), Some(at("2027-01-03T00:00:00Z")));
    }

    #[test]
    fn day_of_month_or_weekday_when_both_are_given() {
        let c = Cron::parse("0 12 1 * mon", "UTC").expect("parse");
        // 2027-02-01 is a Monday and the first; after it comes Monday the 8th, then March 1st.
        let mut t = at("2027-01-31T13:00:00Z");
        let mut seen = Vec::new();
        for _ in 0..6 {
            t = c.next_after(t).expect("next");
            seen.push(t.format("%m-%d").to_string());
        }
        assert_eq!(seen, ["02-01", "02-08", "02-15", "02-22", "03-01", "03-08"]);
    }

    #[test]
    fn daylight_saving_gaps_and_repeats() {
        // 02:30 does not exist on 2027-03-28 in Brussels: that day is skipped.
        let c = Cron::parse("30 2 * * *", "Europe/Brussels").expect("parse");
        assert_eq!(c.next_after(at("2027-03-27T02:00:00Z")), Some(at("2027-03-29T00:30:00Z")));
        // 02:30 exists twice on 2027-10-31: taken once, at its first instant (CEST, 00:30 UTC).
        assert_eq!(c.next_after(at("2027-10-30T12:00:00Z")), Some(at("2027-10-31T00:30:00Z")));
        assert_eq!(c.next_after(at("2027-10-31T00:30:00Z")), Some(at("2027-11-01T01:30:00Z")));
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        let cases = [
            ("30 19 * *", "4 velden"),
            ("60 19 * * mon", "buiten het bereik"),
            ("30 19 * * maandag", "geen getal of naam"),
            ("*/0 * * * *", "stap 0"),
            ("30 20-19 * * *", "achteruit"),
        ];
        for (expr, want) in cases {
            let e = Cron::parse(expr, "Europe/Brussels").expect_err(expr);
            assert!(e.nl.contains(want), "{expr}: {}", e.nl);
            assert!(!e.en.is_empty());
        }
        assert!(Cron::parse("0 0 * * *", "Europe/Gent").expect_err("tz").en.contains("time zone"));
        let never = Cron::parse("0 0 31 2 *", "UTC").expect("parses");
        assert_eq!(never.next_after(at("2027-01-01T00:00:00Z")), None);
    }
}
