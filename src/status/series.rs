//! A window's schedule as iCalendar recurrences (RFC 5545): `RRULE` with `EXDATE` and `RDATE`
//! in the window's local time, so that a calendar shows "16:00–19:00 every 3rd Wednesday" as
//! one series, and single events for what a recurrence cannot say exactly.
//!
//! Owns [`map`]. Within a horizon, every date the recurrence set produces is checked against
//! the occurrence the schedule gives that date (`Schedule::occurrence_on`, what `upcoming` and the
//! engine use): a calendar client reads a local time in a DST gap with the offset before the gap
//! (RFC 5545 §3.3.5) where SCHEDULES.md takes the transition instant, and gives every instance
//! the length of the first one, in elapsed time (RFC 5545 §3.8.5.3) or, as some clients do, on
//! the wall clock, where a window ending at a wall-clock time is longer or shorter across a
//! change of offset. A date on which either reading differs from ours is excluded from the
//! series (`EXDATE`) and listed as a single event with UTC times; a date dropped in a gap is
//! only excluded. The series ends (`UNTIL`) with the horizon, so no instance outside the
//! checked range is ever shown: subscribers refresh and get the next range. Rendering is
//! `ical`'s business.

use crate::schedule::{Expanded, Occurrence, Rule, Schedule, SlotEnd, UnixTime};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Weekday};
use chrono_tz::Tz;

/// The end of every instance of a series, as written in the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// `DTEND` in local time (a wall-clock end); its distance to `DTSTART` is the length.
    Until(NaiveDateTime),
    /// `DURATION` in minutes (an exact length).
    Minutes(u32),
}

/// One recurring event: `DTSTART` and the dates of its recurrence set, all local times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// Tells two series of one window apart in UIDs (`""`, or a weekday).
    pub part: &'static str,
    pub start: NaiveDateTime,
    pub length: Length,
    /// The `RRULE` value up to `UNTIL` (`FREQ=WEEKLY;BYDAY=TU`); `None` for dates only.
    pub rule: Option<String>,
    /// The instant `UNTIL` names (the last instance's start at the latest).
    pub until: UnixTime,
    pub rdates: Vec<NaiveDateTime>,
    pub exdates: Vec<NaiveDateTime>,
}

/// A window as a calendar shows it: series and single occurrences.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapped {
    pub series: Vec<Series>,
    pub single: Vec<Occurrence>,
}

/// How a calendar client reads local time `t` in `zone`: a repeated time as its first pass
/// (as we do), a skipped one with the offset in force before the gap (RFC 5545 §3.3.5).
pub fn client_instant(zone: Tz, t: NaiveDateTime) -> UnixTime {
    match zone.from_local_datetime(&t) {
        chrono::LocalResult::Single(d) => d.timestamp(),
        chrono::LocalResult::Ambiguous(a, b) => a.timestamp().min(b.timestamp()),
        chrono::LocalResult::None => {
            // A day earlier lies before the gap and after any earlier change of offset.
            let before = zone.offset_from_utc_datetime(&(t - Duration::days(1))).fix().local_minus_utc();
            (t - Duration::seconds(i64::from(before))).and_utc().timestamp()
        }
    }
}

const BYDAY: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// The `RRULE` of a recurring rule (`None` for `once` and `dates`), restricted to `day` when
/// one weekday of a weekly rule gets a series of its own.
fn rrule(rule: &Rule, day: Option<Weekday>) -> Option<String> {
    match rule {
        Rule::Daily(_) => Some("FREQ=DAILY".to_string()),
        Rule::Weekly { days, .. } => {
            let list: Vec<&str> = (0..7)
                .filter_map(|i| {
                    let wd = Weekday::try_from(i as u8).ok()?;
                    (days.contains(wd) && day.is_none_or(|d| d == wd)).then_some(BYDAY[i])
                })
                .collect();
            Some(format!("FREQ=WEEKLY;BYDAY={}", list.join(",")))
        }
        Rule::Monthly { on, .. } => Some(match on {
            crate::schedule::MonthDay::Day(d) => format!("FREQ=MONTHLY;BYMONTHDAY={d}"),
            crate::schedule::MonthDay::Nth(n, wd) => {
                format!("FREQ=MONTHLY;BYDAY={n}{}", BYDAY[wd.num_days_from_monday() as usize])
            }
        }),
        Rule::Once { .. } | Rule::Dates { .. } => None,
    }
}

/// Maps window `index`'s schedule over the local dates `[first, last]`. `once` windows are a
/// single event whenever they are; `dates` windows cover their whole list.
pub fn map(schedule: &Schedule, index: u32, first: NaiveDate, last: NaiveDate) -> Mapped {
    let cal = &schedule.calendar;
    let mut out = Mapped::default();
    match &cal.rule {
        Rule::Once { start, .. } => {
            if let Expanded::Kept(o) = schedule.occurrence_on(start.date(), index) {
                if cal.starts_on(start.date()) {
                    out.single.push(o);
                }
            }
            return out;
        }
        Rule::Dates { on, .. } => {
            let (lo, hi) = (on.iter().chain(&cal.also).min(), on.iter().chain(&cal.also).max());
            if let (Some(lo), Some(hi)) = (lo, hi) {
                part(schedule, index, *lo, *hi, None, "", &mut out);
            }
            return out;
        }
        Rule::Weekly { days, slot } if matches!(slot.end, SlotEnd::UntilWeekday(..)) => {
            // Each weekday's occurrence has its own length: a series per weekday.
            for (i, name) in ["mo", "tu", "we", "th", "fr", "sa", "su"].into_iter().enumerate() {
                let Ok(wd) = Weekday::try_from(i as u8) else { continue };
                if days.contains(wd) {
                    part(schedule, index, first, last, Some(wd), name, &mut out);
                }
            }
        }
        _ => part(schedule, index, first, last, None, "", &mut out),
    }
    out
}

/// One series (of the dates on `day`, when given) and its single events.
fn part(
    schedule: &Schedule,
    index: u32,
    first: NaiveDate,
    last: NaiveDate,
    day: Option<Weekday>,
    name: &'static str,
    out: &mut Mapped,
) {
    let cal = &schedule.calendar;
    let zone = schedule.zone;
    let Some(slot) = cal.slot() else { return };
    let on_day = |d: NaiveDate| day.is_none_or(|wd| d.weekday() == wd);
    // Ours: the occurrence of every date that starts one.
    let mut ours: Vec<(NaiveDate, Occurrence)> = Vec::new();
    cal.for_each_start(first, last, |d| {
        if let (true, Expanded::Kept(o)) = (on_day(d), schedule.occurrence_on(d, index)) {
            ours.push((d, o));
        }
    });
    let rule = rrule(&cal.rule, day);
    // What the recurrence produces: the rule's dates, or for `dates` the listed ones.
    let recurring = rule.is_some();
    let produced = |d: NaiveDate| recurring && on_day(d) && cal.recurs(d);
    // The length a client gives every instance, read from the first one (`d0`).
    let wall = |d: NaiveDate| match slot.end {
        SlotEnd::For(m) => Duration::minutes(i64::from(m)),
        _ => slot.local_end(d).map_or(Duration::zero(), |e| e - slot.at.on(d)),
    };
    let agrees = |d: NaiveDate, o: &Occurrence, d0: NaiveDate| {
        let start = slot.at.on(d);
        let elapsed = match slot.end {
            SlotEnd::For(m) => i64::from(m) * 60,
            _ => client_instant(zone, slot.at.on(d0) + wall(d0)) - client_instant(zone, slot.at.on(d0)),
        };
        let cs = client_instant(zone, start);
        o.start == cs && o.end == cs + elapsed && o.end == client_instant(zone, start + wall(d0))
    };
    let d0 = ours.iter().find(|(d, o)| (!recurring || produced(*d)) && agrees(*d, o, *d)).map(|(d, _)| *d);
    let Some(d0) = d0 else {
        out.single.extend(ours.into_iter().map(|(_, o)| o));
        return;
    };
    let mut series = Series {
        part: name,
        start: slot.at.on(d0),
        length: match slot.end {
            SlotEnd::For(m) => Length::Minutes(m),
            _ => Length::Until(slot.at.on(d0) + wall(d0)),
        },
        rule,
        until: client_instant(zone, slot.at.on(last)),
        rdates: Vec::new(),
        exdates: Vec::new(),
    };
    let mut kept = ours.iter().peekable();
    let mut d = d0;
    while d <= last {
        while kept.peek().is_some_and(|(k, _)| *k < d) {
            if let Some((_, o)) = kept.next() {
                out.single.push(*o);
            }
        }
        let mine = kept.peek().filter(|(k, _)| *k == d).map(|(_, o)| *o);
        if mine.is_some() {
            kept.next();
        }
        let good = mine.filter(|o| d == d0 || agrees(d, o, d0));
        match (produced(d) || d == d0, good) {
            (true, Some(_)) => {}
            (true, None) => series.exdates.push(slot.at.on(d)),
            (false, Some(_)) => series.rdates.push(slot.at.on(d)),
            (false, None) => {}
        }
        if let (Some(o), None) = (mine, good) {
            out.single.push(o);
        }
        match d.succ_opt() {
            Some(n) => d = n,
            None => break,
        }
    }
    out.single.extend(kept.map(|(_, o)| *o));
    out.series.push(series);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Calendar, Except, MonthDay, Slot, WallTime};
    use chrono_tz::Europe::Berlin;

    fn t(s: &str) -> WallTime {
        WallTime::parse(s, true).expect("test literal")
    }
    fn d(s: &str) -> NaiveDate {
        s.parse().expect("test literal")
    }
    fn schedule(rule: Rule, except: Except, also: Vec<NaiveDate>) -> Schedule {
        Schedule { zone: Berlin, calendar: Calendar { rule, except, also, from: None, to: None }, tentative: false }
    }
    fn show(m: &Mapped) -> Vec<String> {
        let mut out: Vec<String> = m
            .series
            .iter()
            .map(|s| {
                format!(
                    "{} {:?} ex {:?} r {:?}",
                    s.start,
                    s.rule,
                    s.exdates.iter().map(|x| x.date().to_string()).collect::<Vec<_>>(),
                    s.rdates.iter().map(|x| x.date().to_string()).collect::<Vec<_>>()
                )
            })
            .collect();
        out.extend(m.single.iter().map(|o| format!("single {}..{}", o.start, o.end)));
        out
    }

    #[test]
    fn a_moved_date_and_a_month_off_become_exdate_and_rdate() {
        let slot = Slot { at: t("16:00"), end: SlotEnd::Until(t("19:00")) };
        let except = Except { dates: vec![d("2022-06-15")], ranges: vec![], months: 1 << 6 };
        let s = schedule(Rule::Monthly { on: MonthDay::Nth(3, Weekday::Wed), slot }, except, vec![d("2022-06-22")]);
        let m = map(&s, 0, d("2022-05-01"), d("2022-09-30"));
        assert_eq!(
            show(&m),
            ["2022-05-18 16:00:00 Some(\"FREQ=MONTHLY;BYDAY=3WE\") ex [\"2022-06-15\", \"2022-07-20\"] r [\"2022-06-22\"]"]
        );
    }

    #[test]
    fn instances_across_a_change_of_offset_are_single_events() {
        // Sat 22:30 → Sun 06:00 across the autumn fold lasts 8.5 h (20:30Z..05:00Z): clients would
        // make it 7.5.
        let slot = Slot { at: t("22:30"), end: SlotEnd::Until(t("06:00")) };
        let mut days = crate::schedule::WeekdaySet::default();
        days.insert(Weekday::Sat);
        let s = schedule(Rule::Weekly { days, slot }, Except::default(), vec![]);
        let m = map(&s, 0, d("2024-10-12"), d("2024-11-02"));
        assert_eq!(
            show(&m),
            [
                "2024-10-12 22:30:00 Some(\"FREQ=WEEKLY;BYDAY=SA\") ex [\"2024-10-26\"] r []",
                "single 1729974600..1730005200"
            ]
        );
        // Starting in the spring gap: ours is the transition instant, a client's an hour later.
        let slot = Slot { at: t("02:30"), end: SlotEnd::For(60) };
        let s = schedule(Rule::Daily(slot), Except::default(), vec![]);
        let m = map(&s, 0, d("2024-03-30"), d("2024-04-01"));
        assert_eq!(
            show(&m),
            ["2024-03-30 02:30:00 Some(\"FREQ=DAILY\") ex [\"2024-03-31\"] r []", "single 1711846800..1711850400"]
        );
        assert_eq!(client_instant(Berlin, slot.at.on(d("2024-03-31"))), 1_711_848_600);
        assert_eq!(crate::schedule::resolve(Berlin, slot.at.on(d("2024-03-31"))).0.timestamp(), 1_711_846_800);
    }
}
