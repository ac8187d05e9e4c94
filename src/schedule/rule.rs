//! The validated form of a window's schedule: what recurs, when it starts, when it ends.
//!
//! Owns the domain types [`Rule`], [`Slot`], [`SlotEnd`], [`MonthDay`], [`Except`] and the
//! calendar arithmetic that turns a rule into local start dates (SCHEDULES.md rules 3, 6–8).
//! Does not map to UTC (that is `wallclock`) nor merge anything (that is `timeline`).
//!
//! These types carry no serde derives: the config module parses the file into its own types
//! and validates into these, so a value of this module is always well-formed.

use super::wallclock::WallTime;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};

/// A recurrence rule, keyed by the local start date of each occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// One occurrence; `end: None` is an open-ended emergency.
    Once {
        start: NaiveDateTime,
        end: Option<NaiveDateTime>,
        tentative_from: Option<NaiveDateTime>,
    },
    Daily(Slot),
    Weekly {
        days: WeekdaySet,
        slot: Slot,
    },
    Monthly {
        on: MonthDay,
        slot: Slot,
    },
    /// An explicit list of local start dates, sorted and without duplicates.
    Dates {
        on: Vec<NaiveDate>,
        slot: Slot,
    },
}

/// Start time and end of a recurring occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub at: WallTime,
    pub end: SlotEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotEnd {
    /// Wall-clock end; at or before `at` means the next day.
    Until(WallTime),
    /// Wall-clock end on the next given weekday (weekly windows: `tue 22:30` → `wed 06:00`).
    UntilWeekday(Weekday, WallTime),
    /// Exact elapsed time in minutes.
    For(u32),
}

impl Slot {
    /// The local end of an occurrence that starts on `date`, or `None` for an exact duration.
    pub fn local_end(&self, date: NaiveDate) -> Option<NaiveDateTime> {
        match self.end {
            SlotEnd::Until(until) if until > self.at => Some(until.on(date)),
            SlotEnd::Until(until) => Some(until.on(date + Duration::days(1))),
            SlotEnd::UntilWeekday(day, until) => {
                let ahead = (7 + day.num_days_from_monday() - date.weekday().num_days_from_monday()) % 7;
                let ahead = if ahead == 0 && until <= self.at { 7 } else { ahead };
                Some(until.on(date + Duration::days(i64::from(ahead))))
            }
            SlotEnd::For(_) => None,
        }
    }

    /// Upper bound of an occurrence's length in minutes; used to enforce the 7-day cap.
    pub fn max_minutes(&self) -> u32 {
        match self.end {
            SlotEnd::For(minutes) => minutes,
            // Wall-clock ends: the nominal length; DST may move it by the size of a shift.
            // The length of a weekday-bound end depends on the start day: take the longest.
            _ => (1..=7)
                .filter_map(|day| NaiveDate::from_ymd_opt(2024, 1, day)) // 2024-01-01 is a Monday
                .map(|date| {
                    let start = self.at.on(date);
                    let end = self.local_end(date).unwrap_or(start);
                    u32::try_from((end - start).num_minutes()).unwrap_or(u32::MAX)
                })
                .max()
                .unwrap_or(0),
        }
    }
}

/// A set of weekdays as a bit mask (bit 0 = Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WeekdaySet(u8);

impl WeekdaySet {
    pub fn insert(&mut self, day: Weekday) {
        self.0 |= 1 << day.num_days_from_monday();
    }
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Which day of a month: a day number (negative counts from the end, `-1` = last) or the
/// nth weekday (`1..=5`, `-1` = last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthDay {
    Day(i8),
    Nth(i8, Weekday),
}

impl MonthDay {
    /// The date in the given month, or `None` when it does not exist there (never moved).
    pub fn in_month(self, year: i32, month: u32) -> Option<NaiveDate> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let len = month_len(year, month)?;
        match self {
            MonthDay::Day(d) if d > 0 => NaiveDate::from_ymd_opt(year, month, u32::from(d.unsigned_abs())),
            MonthDay::Day(d) => {
                let day = i64::from(len) + 1 + i64::from(d);
                (day >= 1).then(|| first + Duration::days(day - 1))
            }
            MonthDay::Nth(n, weekday) if n > 0 => {
                let offset = (7 + weekday.num_days_from_monday() - first.weekday().num_days_from_monday()) % 7;
                let day = offset + 1 + 7 * (u32::from(n.unsigned_abs()) - 1);
                (day <= len).then(|| first + Duration::days(i64::from(day - 1)))
            }
            MonthDay::Nth(_, weekday) => {
                let last = first + Duration::days(i64::from(len) - 1);
                let back = (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
                Some(last - Duration::days(i64::from(back)))
            }
        }
    }
}

/// Number of days in a month, from the calendar (never from elapsed time).
pub fn month_len(year: i32, month: u32) -> Option<u32> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    u32::try_from((next - first).num_days()).ok()
}

/// Local start dates removed from a rule: single dates, inclusive ranges, whole months.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Except {
    pub dates: Vec<NaiveDate>,
    pub ranges: Vec<(NaiveDate, NaiveDate)>,
    /// Bit `m - 1` set for month `m`.
    pub months: u16,
}

impl Except {
    pub fn excludes(&self, date: NaiveDate) -> bool {
        self.months & (1 << date.month0()) != 0
            || self.dates.binary_search(&date).is_ok()
            || self.ranges.iter().any(|&(a, b)| a <= date && date <= b)
    }
    pub fn is_empty(&self) -> bool {
        self.dates.is_empty() && self.ranges.is_empty() && self.months == 0
    }
}

/// A rule with its calendar modifiers: what the expansion actually iterates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub rule: Rule,
    pub except: Except,
    /// Extra local start dates, sorted (recurring rules only).
    pub also: Vec<NaiveDate>,
    /// Effective bounds of the recurrence, inclusive local dates.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Calendar {
    /// Whether the recurrence itself (before `except`, `also` and bounds) starts on `date`.
    fn recurs_on(&self, date: NaiveDate) -> bool {
        match &self.rule {
            Rule::Once { start, .. } => start.date() == date,
            Rule::Daily(_) => true,
            Rule::Weekly { days, .. } => days.contains(date.weekday()),
            Rule::Monthly { on, .. } => on.in_month(date.year(), date.month()) == Some(date),
            Rule::Dates { on, .. } => on.binary_search(&date).is_ok(),
        }
    }

    fn in_bounds(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= date) && self.to.is_none_or(|t| date <= t)
    }

    /// Whether the recurrence within its bounds starts on `date`, before `except` and `also`:
    /// the dates an iCalendar `RRULE` of the rule produces (`status::series`).
    pub fn recurs(&self, date: NaiveDate) -> bool {
        self.recurs_on(date) && self.in_bounds(date)
    }

    /// Whether an occurrence starts on this local date (SCHEDULES.md rule 7: `except` wins).
    pub fn starts_on(&self, date: NaiveDate) -> bool {
        if self.except.excludes(date) {
            return false;
        }
        (self.recurs_on(date) && self.in_bounds(date)) || self.also.binary_search(&date).is_ok()
    }

    /// Whether the recurrence, unmodified by `except`, would start on `date` (for warnings).
    pub fn would_start_on(&self, date: NaiveDate) -> bool {
        (self.recurs_on(date) && self.in_bounds(date)) || self.also.binary_search(&date).is_ok()
    }

    /// Calls `f` with every local start date in `[first, last]`, in order.
    pub fn for_each_start(&self, first: NaiveDate, last: NaiveDate, mut f: impl FnMut(NaiveDate)) {
        let first = match self.from {
            // `also` dates may lie outside the bounds, so only clamp when there are none.
            Some(from) if self.also.is_empty() => first.max(from),
            _ => first,
        };
        let last = match self.to {
            Some(to) if self.also.is_empty() => last.min(to),
            _ => last,
        };
        if first > last {
            return;
        }
        match &self.rule {
            Rule::Once { start, .. } => {
                let d = start.date();
                if first <= d && d <= last && !self.except.excludes(d) {
                    f(d);
                }
            }
            Rule::Dates { on, .. } => {
                // Merge the two sorted lists `on` and `also` without allocating.
                let (mut i, mut j) = (on.partition_point(|d| *d < first), self.also.partition_point(|d| *d < first));
                loop {
                    let next = match (on.get(i), self.also.get(j)) {
                        (Some(a), Some(b)) if a <= b => {
                            if a == b {
                                j += 1;
                            }
                            i += 1;
                            (*a, true)
                        }
                        (_, Some(b)) => {
                            j += 1;
                            (*b, false)
                        }
                        (Some(a), None) => {
                            i += 1;
                            (*a, true)
                        }
                        (None, None) => break,
                    };
                    let (d, from_rule) = next;
                    if d > last {
                        break;
                    }
                    let keep = if from_rule { self.starts_on(d) } else { !self.except.excludes(d) };
                    if keep {
                        f(d);
                    }
                }
            }
            Rule::Monthly { on, .. } => {
                // Visit months, not days: one date per month at most.
                let mut y = first.year();
                let mut m = first.month();
                let mut also = self.also.partition_point(|d| *d < first);
                loop {
                    let hit = on.in_month(y, m).filter(|d| first <= *d && *d <= last);
                    // Emit `also` dates that come before this month's date, in order.
                    let month_end = NaiveDate::from_ymd_opt(y, m, 1)
                        .and_then(|d| month_len(y, m).map(|len| d + Duration::days(i64::from(len) - 1)));
                    let Some(month_end) = month_end else { break };
                    while let Some(&a) = self.also.get(also) {
                        if a > month_end.min(last) || hit.is_some_and(|h| a >= h) {
                            break;
                        }
                        if !self.except.excludes(a) {
                            f(a);
                        }
                        also += 1;
                    }
                    if let Some(h) = hit {
                        if self.also.get(also) == Some(&h) {
                            also += 1;
                        }
                        if self.starts_on(h) {
                            f(h);
                        }
                    }
                    if month_end >= last {
                        // Remaining `also` dates of the last month after its rule date.
                        while let Some(&a) = self.also.get(also) {
                            if a > last {
                                break;
                            }
                            if !self.except.excludes(a) {
                                f(a);
                            }
                            also += 1;
                        }
                        break;
                    }
                    (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                }
            }
            Rule::Daily(_) | Rule::Weekly { .. } => {
                let mut d = first;
                while d <= last {
                    if self.starts_on(d) {
                        f(d);
                    }
                    match d.succ_opt() {
                        Some(n) => d = n,
                        None => break,
                    }
                }
            }
        }
    }

    /// The slot of a recurring rule (`None` for `once`).
    pub fn slot(&self) -> Option<&Slot> {
        match &self.rule {
            Rule::Once { .. } => None,
            Rule::Daily(s)
            | Rule::Weekly { slot: s, .. }
            | Rule::Monthly { slot: s, .. }
            | Rule::Dates { slot: s, .. } => Some(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test literal")
    }

    fn check_month_day(on: MonthDay, year: i32, month: u32, expected: Option<&str>) {
        assert_eq!(on.in_month(year, month), expected.map(d), "{on:?} in {year}-{month}");
    }

    #[test]
    fn month_day_table() {
        use Weekday::*;
        let cases: &[(MonthDay, i32, u32, Option<&str>)] = &[
            (MonthDay::Day(15), 2024, 2, Some("2024-02-15")),
            (MonthDay::Day(31), 2024, 4, None), // 31 April does not exist: skipped
            (MonthDay::Day(29), 2023, 2, None),
            (MonthDay::Day(29), 2024, 2, Some("2024-02-29")),
            (MonthDay::Day(-1), 2024, 2, Some("2024-02-29")),
            (MonthDay::Day(-1), 2023, 2, Some("2023-02-28")),
            (MonthDay::Day(-2), 2024, 12, Some("2024-12-30")),
            (MonthDay::Day(-31), 2024, 4, None),
            (MonthDay::Nth(4, Tue), 2022, 6, Some("2022-06-28")),
            (MonthDay::Nth(3, Wed), 2022, 6, Some("2022-06-15")),
            (MonthDay::Nth(3, Wed), 2022, 1, Some("2022-01-19")),
            (MonthDay::Nth(1, Mon), 2024, 7, Some("2024-07-01")),
            (MonthDay::Nth(5, Tue), 2024, 4, Some("2024-04-30")),
            (MonthDay::Nth(5, Tue), 2024, 5, None), // no 5th Tuesday: skipped, never moved
            (MonthDay::Nth(-1, Fri), 2024, 11, Some("2024-11-29")),
            (MonthDay::Nth(-1, Sun), 2024, 3, Some("2024-03-31")),
        ];
        for &(on, y, m, expected) in cases {
            check_month_day(on, y, m, expected);
        }
    }

    fn starts(cal: &Calendar, first: &str, last: &str) -> Vec<String> {
        let mut out = Vec::new();
        cal.for_each_start(d(first), d(last), |day| out.push(day.to_string()));
        out
    }

    fn slot() -> Slot {
        Slot {
            at: WallTime::from_minutes(16 * 60).expect("valid"),
            end: SlotEnd::Until(WallTime::from_minutes(19 * 60).expect("valid")),
        }
    }

    #[test]
    fn gat_visma_2022_matches_the_published_list() {
        // seed 004: every 3rd Wednesday, 22 June instead of 15 June, nothing in July. The
        // published list also moves December to the 14th (Microsoft's patch day), which the
        // prose does not mention: the rule needs a second moved date to match it.
        let cal = Calendar {
            rule: Rule::Monthly { on: MonthDay::Nth(3, Weekday::Wed), slot: slot() },
            except: Except { dates: vec![d("2022-06-15"), d("2022-12-21")], ranges: vec![], months: 1 << 6 },
            also: vec![d("2022-06-22"), d("2022-12-14")],
            from: None,
            to: None,
        };
        let expected = [
            "2022-01-19",
            "2022-02-16",
            "2022-03-16",
            "2022-04-20",
            "2022-05-18",
            "2022-06-22",
            "2022-08-17",
            "2022-09-21",
            "2022-10-19",
            "2022-11-16",
            "2022-12-14",
        ];
        assert_eq!(starts(&cal, "2022-01-01", "2022-12-31"), expected);
    }

    #[test]
    fn bounds_except_and_also() {
        let mut days = WeekdaySet::default();
        days.insert(Weekday::Tue);
        days.insert(Weekday::Wed);
        let cal = Calendar {
            rule: Rule::Weekly { days, slot: slot() },
            except: Except { dates: vec![], ranges: vec![(d("2024-11-12"), d("2024-11-13"))], months: 0 },
            also: vec![d("2024-11-30")],
            from: Some(d("2024-11-05")),
            to: Some(d("2024-11-20")),
        };
        assert_eq!(
            starts(&cal, "2024-11-01", "2024-12-31"),
            ["2024-11-05", "2024-11-06", "2024-11-19", "2024-11-20", "2024-11-30"]
        );
        let dates = Calendar {
            rule: Rule::Dates { on: vec![d("2024-12-02"), d("2024-12-04"), d("2024-12-06")], slot: slot() },
            except: Except { dates: vec![d("2024-12-04")], ranges: vec![], months: 0 },
            also: vec![d("2024-12-03"), d("2024-12-06")],
            from: None,
            to: None,
        };
        assert_eq!(starts(&dates, "2024-12-01", "2024-12-31"), ["2024-12-02", "2024-12-03", "2024-12-06"]);
        assert_eq!(starts(&dates, "2024-12-05", "2024-12-31"), ["2024-12-06"]);
    }

    #[test]
    fn slot_ends() {
        let t = |h: u16, m: u16| WallTime::from_minutes(h * 60 + m).expect("valid");
        let tue = d("2024-11-05");
        let cases = [
            (Slot { at: t(22, 30), end: SlotEnd::Until(t(6, 0)) }, Some("2024-11-06 06:00:00")),
            (Slot { at: t(0, 34), end: SlotEnd::Until(t(0, 55)) }, Some("2024-11-05 00:55:00")),
            (Slot { at: t(16, 0), end: SlotEnd::Until(WallTime::END_OF_DAY) }, Some("2024-11-06 00:00:00")),
            (Slot { at: t(22, 30), end: SlotEnd::UntilWeekday(Weekday::Wed, t(6, 0)) }, Some("2024-11-06 06:00:00")),
            (Slot { at: t(18, 0), end: SlotEnd::UntilWeekday(Weekday::Mon, t(6, 0)) }, Some("2024-11-11 06:00:00")),
            (Slot { at: t(18, 0), end: SlotEnd::UntilWeekday(Weekday::Tue, t(6, 0)) }, Some("2024-11-12 06:00:00")),
            (Slot { at: t(6, 0), end: SlotEnd::UntilWeekday(Weekday::Tue, t(18, 0)) }, Some("2024-11-05 18:00:00")),
            (Slot { at: t(17, 0), end: SlotEnd::For(60) }, None),
        ];
        for (slot, expected) in cases {
            assert_eq!(slot.local_end(tue).map(|e| e.to_string()), expected.map(str::to_string), "{slot:?}");
        }
        assert_eq!(
            Slot { at: t(18, 0), end: SlotEnd::UntilWeekday(Weekday::Tue, t(6, 0)) }.max_minutes(),
            6 * 24 * 60 + 12 * 60
        );
    }
}
