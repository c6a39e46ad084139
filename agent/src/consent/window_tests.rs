//! Tests of `consent::window`. December dates are CET (UTC+1), summer dates CEST (UTC+2).

use super::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
}

fn w(days: &[&str], from: &str, until: &str, tz: Option<&str>) -> Window {
    let days: Vec<String> = days.iter().map(|d| d.to_string()).collect();
    Window::new(&days, from, until, tz, "window[1]").expect("valid window")
}

fn weekdays_evening() -> Schedule {
    Schedule::new(vec![w(&["mon", "tue", "wed", "thu", "fri"], "19:00", "06:00", None)])
}

#[test]
fn evening_window_passes_midnight() {
    let s = weekdays_evening();
    // Monday 2026-12-07 20:00 Brussels.
    let now = t("2026-12-07T20:00:00+01:00");
    assert!(s.is_open(now));
    assert_eq!(s.current_end(now), Some(t("2026-12-08T06:00:00+01:00")));
    assert_eq!(s.next_open(now), Some(t("2026-12-08T19:00:00+01:00")));
    // Tuesday 05:59 still in Monday's window, 06:00 closed.
    assert!(s.is_open(t("2026-12-08T05:59:00+01:00")));
    assert!(!s.is_open(t("2026-12-08T06:00:00+01:00")));
    assert_eq!(s.current_end(t("2026-12-08T06:00:00+01:00")), None);
    // Monday before 19:00: next is the same evening; exactly 19:00 is open.
    assert_eq!(s.next_open(t("2026-12-07T18:59:00+01:00")), Some(t("2026-12-07T19:00:00+01:00")));
    assert!(s.is_open(t("2026-12-07T19:00:00+01:00")));
}

#[test]
fn weekend_is_closed_and_friday_runs_into_saturday() {
    let s = weekdays_evening();
    assert!(s.is_open(t("2026-12-12T05:59:00+01:00")));
    let sat = t("2026-12-12T12:00:00+01:00");
    assert!(!s.is_open(sat));
    assert_eq!(s.next_open(sat), Some(t("2026-12-14T19:00:00+01:00")));
}

#[test]
fn sunday_to_monday_wrap() {
    let s = Schedule::new(vec![w(&["sun"], "22:00", "02:00", None)]);
    assert!(s.is_open(t("2026-12-13T23:00:00+01:00")));
    assert!(s.is_open(t("2026-12-14T01:00:00+01:00")));
    assert_eq!(s.current_end(t("2026-12-14T01:00:00+01:00")), Some(t("2026-12-14T02:00:00+01:00")));
    assert_eq!(s.next_open(t("2026-12-14T01:00:00+01:00")), Some(t("2026-12-20T22:00:00+01:00")));
    // A Monday window seen from Sunday.
    let m = Schedule::new(vec![w(&["mon"], "08:00", "09:00", None)]);
    assert_eq!(m.next_open(t("2026-12-13T23:00:00+01:00")), Some(t("2026-12-14T08:00:00+01:00")));
}

#[test]
fn equal_times_mean_a_whole_day_and_touching_windows_merge() {
    let s = Schedule::new(vec![w(&["wed"], "08:00", "08:00", None)]);
    assert_eq!(s.current_end(t("2026-12-09T08:00:00+01:00")), Some(t("2026-12-10T08:00:00+01:00")));
    let s = Schedule::new(vec![w(&["mon"], "00:00", "00:00", None), w(&["tue"], "00:00", "12:00", None)]);
    let now = t("2026-12-07T10:00:00+01:00");
    assert_eq!(s.current_end(now), Some(t("2026-12-08T12:00:00+01:00")));
    assert_eq!(s.next_open(now), Some(t("2026-12-14T00:00:00+01:00")));
}

#[test]
fn spring_forward_in_brussels() {
    // Sunday 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    let s = Schedule::new(vec![w(&["sat"], "19:00", "06:00", None)]);
    let now = t("2026-03-28T20:00:00Z");
    assert!(s.is_open(t("2026-03-28T18:00:00Z")));
    assert_eq!(s.current_end(now), Some(t("2026-03-29T04:00:00Z")));
    // 02:30 does not exist that night: the window starts at the next valid instant, 03:00 CEST.
    let s = Schedule::new(vec![w(&["sun"], "02:30", "04:00", None)]);
    assert_eq!(s.next_open(t("2026-03-28T12:00:00Z")), Some(t("2026-03-29T01:00:00Z")));
    assert!(!s.is_open(t("2026-03-29T00:59:00Z")));
    assert_eq!(s.current_end(t("2026-03-29T01:00:00Z")), Some(t("2026-03-29T02:00:00Z")));
}

#[test]
fn fall_back_in_brussels() {
    // Sunday 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC).
    let s = Schedule::new(vec![w(&["sat"], "19:00", "06:00", None)]);
    assert_eq!(s.next_open(t("2026-10-24T12:00:00Z")), Some(t("2026-10-24T17:00:00Z")));
    assert_eq!(s.current_end(t("2026-10-24T17:00:00Z")), Some(t("2026-10-25T05:00:00Z")));
    // 02:30 happens twice: the start takes the later one (CET), so the window is not lengthened.
    let s = Schedule::new(vec![w(&["sun"], "02:30", "05:00", None)]);
    assert!(!s.is_open(t("2026-10-25T00:30:00Z")));
    assert_eq!(s.next_open(t("2026-10-24T12:00:00Z")), Some(t("2026-10-25T01:30:00Z")));
    assert_eq!(s.current_end(t("2026-10-25T01:30:00Z")), Some(t("2026-10-25T04:00:00Z")));
}

#[test]
fn other_time_zone() {
    let s = Schedule::new(vec![w(&["mon"], "19:00", "20:00", Some("UTC"))]);
    assert!(s.is_open(t("2026-12-07T19:30:00Z")));
    assert!(!s.is_open(t("2026-12-07T21:30:00+01:00")));
}

#[test]
fn always_and_never() {
    let a = Schedule::always();
    let now = t("2026-12-07T12:00:00Z");
    assert!(a.is_open(now) && a.current_end(now).is_some_and(|e| e > now) && a.next_open(now).is_none());
    let n = Schedule::default();
    assert!(n.is_never() && !n.is_open(now) && n.next_open(now).is_none() && n.current_end(now).is_none());
}

#[test]
fn validation_and_description() {
    let bad = |days: &[&str], from: &str, tz: Option<&str>| {
        let days: Vec<String> = days.iter().map(|d| d.to_string()).collect();
        Window::new(&days, from, "06:00", tz, "window[2]").is_err()
    };
    assert!(bad(&[], "19:00", None));
    assert!(bad(&["Mon"], "19:00", None));
    assert!(bad(&["mon"], "9:00", None));
    assert!(bad(&["mon"], "19:60", None));
    assert!(bad(&["mon"], "19:00", Some("Mars/Olympus")));
    assert_eq!(weekdays_evening().describe(), "ma,di,wo,do,vr 19:00-06:00 (+1 dag) Europe/Brussels");
    assert_eq!(brussels_nl(&t("2026-12-07T18:00:00Z")), "ma 2026-12-07 19:00 (Europe/Brussels)");
    assert_eq!(brussels_en(&t("2026-12-07T18:00:00Z")), "Mon 2026-12-07 19:00 (Europe/Brussels)");
}
