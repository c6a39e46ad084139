//! ISO weeks (`YYYY-Www`) as small ordinals, so a range of weeks is a range of integers and a week
//! costs four bytes in the index.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, Weekday};

use super::TrendsError;

/// Days from the Common Era of Monday 2000-01-03, the first day of ISO week 2000-W01.
const EPOCH_DAYS_FROM_CE: i32 = 730_122;

/// An ISO week, counted in weeks since 2000-W01. Parsed from and shown as `YYYY-Www`; only weeks the
/// protocol accepts (years 2000-2199) can be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoWeek(u32);

impl IsoWeek {
    /// Parses `YYYY-Www`; a week that does not exist (W53 of a short year) is refused.
    pub fn parse(text: &str) -> Result<IsoWeek, TrendsError> {
        let bad = || TrendsError::BadWeek(text.chars().filter(char::is_ascii_alphanumeric).take(16).collect());
        if !wijk_protocol::summary::is_iso_week(text) {
            return Err(bad());
        }
        let (Ok(year), Ok(week)) = (text[..4].parse::<i32>(), text[6..].parse::<u32>()) else { return Err(bad()) };
        let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
        let days = monday.num_days_from_ce() - EPOCH_DAYS_FROM_CE;
        u32::try_from(days / 7).map(IsoWeek).map_err(|_| bad())
    }

    /// Weeks since 2000-W01.
    pub fn ordinal(self) -> u32 {
        self.0
    }

    /// The week `ordinal` weeks after 2000-W01.
    pub(crate) fn from_ordinal(ordinal: u32) -> IsoWeek {
        IsoWeek(ordinal)
    }

    /// The week `n` weeks earlier, or 2000-W01.
    pub(crate) fn minus(self, n: u32) -> IsoWeek {
        IsoWeek(self.0.saturating_sub(n))
    }
}

impl FromStr for IsoWeek {
    type Err = TrendsError;

    fn from_str(s: &str) -> Result<IsoWeek, TrendsError> {
        IsoWeek::parse(s)
    }
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = i64::from(EPOCH_DAYS_FROM_CE) + 7 * i64::from(self.0);
        match i32::try_from(days).ok().and_then(NaiveDate::from_num_days_from_ce_opt) {
            Some(monday) => {
                let w = monday.iso_week();
                write!(f, "{:04}-W{:02}", w.year(), w.week())
            }
            None => f.write_str("out-of-range"),
        }
    }
}

impl serde::Serialize for IsoWeek {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_is_monday_of_2000_w01() {
        let monday = NaiveDate::from_isoywd_opt(2000, 1, Weekday::Mon).expect("exists");
        assert_eq!(monday.num_days_from_ce(), EPOCH_DAYS_FROM_CE);
        assert_eq!(IsoWeek::parse("2000-W01").expect("valid").ordinal(), 0);
    }

    #[test]
    fn weeks_round_trip_across_long_years() {
        // 2020 and 2026 have 53 ISO weeks.
        for text in ["2020-W53", "2021-W01", "2026-W53", "2027-W01", "2199-W52", "2000-W52"] {
            assert_eq!(IsoWeek::parse(text).expect(text).to_string(), text);
        }
        let a = IsoWeek::parse("2020-W53").expect("valid");
        let b = IsoWeek::parse("2021-W01").expect("valid");
        assert_eq!(b.ordinal(), a.ordinal() + 1);
        for o in 0..600 {
            let w = IsoWeek::from_ordinal(o);
            assert_eq!(IsoWeek::parse(&w.to_string()).expect("round trip"), w);
        }
    }

    #[test]
    fn strangers_are_refused_without_being_echoed() {
        for bad in ["2021-W53", "2021-W00", "1999-W10", "2021W10", "<b>2021-W1</b>", ""] {
            let err = IsoWeek::parse(bad).expect_err(bad);
            assert!(!err.to_string().contains('<'), "{err}");
        }
    }
}
