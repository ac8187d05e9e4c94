//! Expansion of one window's schedule into occurrences: half-open UTC intervals.
//!
//! Owns [`Schedule`] (zone + calendar + tentative flag) and [`Occurrence`]. Calls `rule` for the
//! local start dates and `wallclock` for the one local→UTC formula. Does not merge occurrences
//! of different windows (that is `timeline`).

use super::rule::{Calendar, Rule, SlotEnd};
use super::wallclock::{resolve, Resolution};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

/// Seconds since the Unix epoch, UTC. The engine works in these; edges convert.
pub type UnixTime = i64;

/// The end of an open-ended occurrence (an emergency not yet switched off).
pub const OPEN_END: UnixTime = i64::MAX;

/// Longest a recurring occurrence may last (SCHEDULES.md rule 8); also the look-back margin
/// when expanding around an instant.
pub const MAX_RECURRING_SECS: i64 = 7 * 86_400;

/// One interval of maintenance `[start, end)`; `tentative_from` ≤ `end` marks the part from
/// there on as "possible" (equal to `end` when the whole occurrence is firm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub start: UnixTime,
    pub end: UnixTime,
    pub tentative_from: UnixTime,
    /// Index of the window in the snapshot.
    pub window: u32,
}

impl Occurrence {
    pub fn contains(&self, t: UnixTime) -> bool {
        self.start <= t && t < self.end
    }
    pub fn firm_end(&self) -> UnixTime {
        self.tentative_from.min(self.end)
    }
    pub fn is_tentative_after(&self, t: UnixTime) -> bool {
        self.tentative_from < self.end && self.end > t
    }
}

/// Everything about a window that decides *when* it is in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub zone: Tz,
    pub calendar: Calendar,
    /// The whole window is only "possible" (SCHEDULES.md rule 10).
    pub tentative: bool,
}

/// What happened to one local start date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expanded {
    Kept(Occurrence),
    /// Start and end fell into the same DST gap: the occurrence is empty (rule 5).
    DroppedInGap,
}

pub fn to_unix(t: DateTime<Utc>) -> UnixTime {
    t.timestamp()
}

pub fn from_unix(t: UnixTime) -> Option<DateTime<Utc>> {
    if t == OPEN_END {
        return None;
    }
    DateTime::from_timestamp(t, 0)
}

fn utc_date(t: UnixTime) -> NaiveDate {
    DateTime::from_timestamp(t, 0).map(|d| d.date_naive()).unwrap_or(if t < 0 {
        NaiveDate::MIN
    } else {
        NaiveDate::MAX
    })
}

impl Schedule {
    /// The occurrence starting on local `date` (which the calendar must produce).
    pub fn occurrence_on(&self, date: NaiveDate, window: u32) -> Expanded {
        let (start, end, tentative_from) = match &self.calendar.rule {
            Rule::Once { start, end, tentative_from } => {
                let s = self.at(*start);
                let e = end.map_or(OPEN_END, |e| self.at(e));
                (s, e, tentative_from.map(|t| self.at(t)))
            }
            _ => {
                let Some(slot) = self.calendar.slot() else { return Expanded::DroppedInGap };
                let s = self.at(slot.at.on(date));
                let e = match (slot.end, slot.local_end(date)) {
                    (SlotEnd::For(minutes), _) => s + i64::from(minutes) * 60,
                    (_, Some(local)) => self.at(local),
                    (_, None) => s,
                };
                (s, e, None)
            }
        };
        if end <= start {
            return Expanded::DroppedInGap;
        }
        let tentative_from = if self.tentative { start } else { tentative_from.map_or(end, |t| t.clamp(start, end)) };
        Expanded::Kept(Occurrence { start, end, tentative_from, window })
    }

    fn at(&self, local: NaiveDateTime) -> UnixTime {
        resolve(self.zone, local).0.timestamp()
    }

    /// Whether local `at` of the rule on `date` falls into a DST gap (for `check`).
    pub fn start_resolution(&self, date: NaiveDate) -> Option<Resolution> {
        let slot = self.calendar.slot()?;
        Some(resolve(self.zone, slot.at.on(date)).1)
    }

    /// Calls `f` for every local start date whose occurrence may intersect `[t0, t1)`, with
    /// what it expanded to. Occurrences that end before `t0` may be included; callers filter.
    pub fn expand(&self, window: u32, t0: UnixTime, t1: UnixTime, mut f: impl FnMut(NaiveDate, Expanded)) {
        if let Rule::Once { start, .. } = &self.calendar.rule {
            // One occurrence of any length: include it whenever it intersects.
            let date = start.date();
            if !self.calendar.starts_on(date) {
                return;
            }
            let exp = self.occurrence_on(date, window);
            match exp {
                Expanded::Kept(o) if o.start < t1 && o.end > t0 => f(date, exp),
                Expanded::DroppedInGap => f(date, exp),
                Expanded::Kept(_) => {}
            }
            return;
        }
        // Local dates can differ from UTC dates by up to a day; a recurring occurrence lasts
        // at most 7 days, so starting 8 days earlier catches everything reaching t0.
        let first = utc_date(t0) - Duration::days(8);
        let last = utc_date(t1.saturating_sub(1)) + Duration::days(1);
        self.calendar.for_each_start(first, last, |date| {
            let exp = self.occurrence_on(date, window);
            if let Expanded::Kept(o) = exp {
                if o.start >= t1 || o.end <= t0 {
                    return;
                }
            }
            f(date, exp)
        });
    }

    /// The first occurrence start at or after `t`, searching at most `limit_days` ahead.
    pub fn first_start_at_or_after(&self, window: u32, t: UnixTime, limit_days: i64) -> Option<UnixTime> {
        let mut span = 8 * 86_400i64;
        let limit = limit_days.saturating_mul(86_400);
        let mut lo = t;
        loop {
            let hi = t.saturating_add(span.min(limit));
            let mut best: Option<UnixTime> = None;
            self.expand(window, lo, hi, |_, exp| {
                if let Expanded::Kept(o) = exp {
                    if o.start >= t && o.start < hi {
                        best = Some(best.map_or(o.start, |b| b.min(o.start)));
                    }
                }
            });
            if best.is_some() || span >= limit {
                return best;
            }
            lo = hi;
            span = span.saturating_mul(4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::rule::{Except, MonthDay, Slot, WeekdaySet};
    use crate::schedule::wallclock::WallTime;
    use chrono::Weekday;
    use chrono_tz::Europe::{Berlin, Oslo};

    fn t(s: &str) -> WallTime {
        WallTime::parse(s, true).expect("test literal")
    }
    fn ts(s: &str) -> UnixTime {
        DateTime::parse_from_rfc3339(s).expect("test literal").timestamp()
    }
    fn show(u: UnixTime) -> String {
        from_unix(u).map_or("open".to_string(), |d| d.format("%Y-%m-%dT%H:%MZ").to_string())
    }
    fn cal(rule: Rule) -> Calendar {
        Calendar { rule, except: Except::default(), also: vec![], from: None, to: None }
    }

    /// Expands over `[from, to)` and renders each date as `date start..end` or `date dropped`.
    fn check(zone: Tz, rule: Rule, from: &str, to: &str, expected: &[&str]) {
        let sched = Schedule { zone, calendar: cal(rule), tentative: false };
        let mut got = Vec::new();
        sched.expand(0, ts(from), ts(to), |date, exp| {
            got.push(match exp {
                Expanded::Kept(o) => format!("{date} {}..{}", show(o.start), show(o.end)),
                Expanded::DroppedInGap => format!("{date} dropped"),
            })
        });
        assert_eq!(got, expected, "{zone}");
    }

    #[test]
    fn daily_across_spring_gap_berlin_2024() {
        let rule = Rule::Daily(Slot { at: t("02:30"), end: SlotEnd::Until(t("03:30")) });
        check(
            Berlin,
            rule,
            "2024-03-30T00:00:00Z",
            "2024-04-01T12:00:00Z",
            &[
                "2024-03-30 2024-03-30T01:30Z..2024-03-30T02:30Z",
                // 02:30 skipped → 03:00 CEST = 01:00Z; end 03:30 CEST = 01:30Z (shortened, not moved)
                "2024-03-31 2024-03-31T01:00Z..2024-03-31T01:30Z",
                "2024-04-01 2024-04-01T00:30Z..2024-04-01T01:30Z",
            ],
        );
        // 02:10–02:50 lies wholly in the gap: empty, dropped (not moved to 03:10–03:50)
        let rule = Rule::Daily(Slot { at: t("02:10"), end: SlotEnd::Until(t("02:50")) });
        check(Berlin, rule, "2024-03-31T00:00:00Z", "2024-03-31T12:00:00Z", &["2024-03-31 dropped"]);
        // an exact duration keeps its length from the transition instant
        let rule = Rule::Daily(Slot { at: t("02:10"), end: SlotEnd::For(40) });
        check(
            Berlin,
            rule,
            "2024-03-31T00:00:00Z",
            "2024-03-31T12:00:00Z",
            &["2024-03-31 2024-03-31T01:00Z..2024-03-31T01:40Z"],
        );
    }

    #[test]
    fn autumn_fold_first_pass() {
        // Oslo 2025-10-26: 03:00 CEST → 02:00 CET. 02:15–02:45 means the first pass only.
        let rule = Rule::Daily(Slot { at: t("02:15"), end: SlotEnd::Until(t("02:45")) });
        check(
            Oslo,
            rule,
            "2025-10-26T00:00:00Z",
            "2025-10-26T12:00:00Z",
            &["2025-10-26 2025-10-26T00:15Z..2025-10-26T00:45Z"],
        );
        // A night window across the fold lasts one hour longer in elapsed time.
        let rule = Rule::Daily(Slot { at: t("22:30"), end: SlotEnd::Until(t("06:00")) });
        check(
            Berlin,
            rule,
            "2024-10-26T12:00:00Z",
            "2024-10-27T12:00:00Z",
            &["2024-10-26 2024-10-26T20:30Z..2024-10-27T05:00Z"],
        );
        // 01:30 → 02:30 on fold day: end in the fold = first pass, so 1 h elapsed
        let rule = Rule::Daily(Slot { at: t("01:30"), end: SlotEnd::Until(t("02:30")) });
        check(
            Berlin,
            rule,
            "2026-10-25T00:00:00Z",
            "2026-10-25T12:00:00Z",
            &["2026-10-25 2026-10-24T23:30Z..2026-10-25T00:30Z"],
        );
    }

    #[test]
    fn weekly_monthly_once() {
        let mut days = WeekdaySet::default();
        days.insert(Weekday::Tue);
        let rule =
            Rule::Weekly { days, slot: Slot { at: t("22:30"), end: SlotEnd::UntilWeekday(Weekday::Wed, t("06:00")) } };
        check(
            Berlin,
            rule,
            "2024-11-05T00:00:00Z",
            "2024-11-13T00:00:00Z",
            &["2024-11-05 2024-11-05T21:30Z..2024-11-06T05:00Z", "2024-11-12 2024-11-12T21:30Z..2024-11-13T05:00Z"],
        );
        let rule =
            Rule::Monthly { on: MonthDay::Nth(4, Weekday::Tue), slot: Slot { at: t("17:00"), end: SlotEnd::For(60) } };
        check(
            Oslo,
            rule,
            "2026-03-01T00:00:00Z",
            "2026-05-01T00:00:00Z",
            &["2026-03-24 2026-03-24T16:00Z..2026-03-24T17:00Z", "2026-04-28 2026-04-28T15:00Z..2026-04-28T16:00Z"],
        );
        let rule = Rule::Once { start: "2025-02-10T09:12:00".parse().expect("lit"), end: None, tentative_from: None };
        check(Tz::UTC, rule, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", &["2025-02-10 2025-02-10T09:12Z..open"]);
    }

    #[test]
    fn first_start_search() {
        let rule = Rule::Dates {
            on: vec!["2027-06-01".parse().expect("lit")],
            slot: Slot { at: t("04:30"), end: SlotEnd::Until(t("06:30")) },
        };
        let sched = Schedule { zone: Berlin, calendar: cal(rule), tentative: false };
        assert_eq!(
            sched.first_start_at_or_after(0, ts("2026-01-01T00:00:00Z"), 800).map(show),
            Some("2027-06-01T02:30Z".to_string())
        );
        assert_eq!(sched.first_start_at_or_after(0, ts("2026-01-01T00:00:00Z"), 100), None);
    }
}
