//! Wall-clock points and their one mapping to UTC (SCHEDULES.md rule 5).
//!
//! Owns: `WallTime` (minute of the day, `24:00` allowed as an end), parsing of `HH:MM`, and
//! [`resolve`], which maps a local date-time in an IANA zone to the first instant at which the
//! wall clock shows that time or later. Does not know about rules or windows.
//!
//! Why one formula: a skipped time (spring gap) maps to the transition instant and a repeated
//! time (autumn fold) to its first pass, so a window keeps its shape on both DST days and an
//! occurrence whose start and end fall in the same gap comes out empty (and is dropped).

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::fmt;

/// A time of day with minute precision; `1440` is `24:00` and only valid as an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WallTime(u16);

impl WallTime {
    pub const MIDNIGHT: WallTime = WallTime(0);
    pub const END_OF_DAY: WallTime = WallTime(1440);

    pub fn from_minutes(minutes: u16) -> Option<WallTime> {
        (minutes <= 1440).then_some(WallTime(minutes))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    /// Parses `HH:MM` (two digits each); `24:00` only when `allow_24` is set.
    pub fn parse(text: &str, allow_24: bool) -> Result<WallTime, String> {
        let bad = || format!("{text:?} is not a time of day; write HH:MM, e.g. \"00:34\"");
        let (h, m) = text.split_once(':').ok_or_else(bad)?;
        // Digits only: `u16::from_str` would also take a sign (`"+9:00"`).
        if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        if m > 59 || h > 24 {
            return Err(bad());
        }
        if h == 24 {
            if m != 0 {
                return Err(bad());
            }
            if !allow_24 {
                return Err(format!("{text:?}: 24:00 is only allowed as an end"));
            }
        }
        Ok(WallTime(h * 60 + m))
    }

    /// The local date-time of this wall time on `date` (`24:00` is the next day's midnight).
    pub fn on(self, date: NaiveDate) -> NaiveDateTime {
        date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(self.0))
    }
}

impl fmt::Display for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// How a local time met the zone's clock: used for `check` warnings and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The local time exists exactly once.
    Normal,
    /// The local time was skipped (spring gap); mapped to the transition instant.
    InGap,
    /// The local time happens twice (autumn fold); mapped to the first pass.
    InFold,
}

/// Maps `local` in `zone` to the first instant at which the wall clock shows `local` or later.
pub fn resolve(zone: Tz, local: NaiveDateTime) -> (DateTime<Utc>, Resolution) {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => (t.with_timezone(&Utc), Resolution::Normal),
        LocalResult::Ambiguous(first, second) => {
            let (a, b) = (first.with_timezone(&Utc), second.with_timezone(&Utc));
            (a.min(b), Resolution::InFold)
        }
        LocalResult::None => (gap_end(zone, local), Resolution::InGap),
    }
}

/// The transition instant of the gap that swallows `local`.
///
/// Found by search rather than from the tz tables' internals: walk back to the last minute
/// that exists before the gap, then bisect the UTC seconds for the first instant whose wall
/// time is `local` or later. Wall time is monotonic there (no fold sits right after a gap).
fn gap_end(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut before = local;
    // Gaps are at most a day long in the tz database (Samoa 2011); bound the walk anyway.
    for _ in 0..(26 * 60) {
        before -= Duration::minutes(1);
        if let Some(t) = zone.from_local_datetime(&before).earliest() {
            let mut lo = t.with_timezone(&Utc).timestamp(); // wall < local here
            let mut hi = lo + 2 * 86_400; // wall >= local here
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                let wall = zone.timestamp_opt(mid, 0).earliest().map(|d| d.naive_local());
                match wall {
                    Some(w) if w >= local => hi = mid,
                    _ => lo = mid,
                }
            }
            return DateTime::from_timestamp(hi, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
        }
    }
    // Unreachable with real tz data; fall back to reading the time with the zone's UTC offset
    // of the day before, which is still a well-defined instant.
    zone.from_local_datetime(&(local - Duration::days(1)))
        .earliest()
        .map(|t| t.with_timezone(&Utc) + Duration::days(1))
        .unwrap_or_else(|| local.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::{Berlin, Oslo};

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").expect("test literal")
    }

    fn check(zone: Tz, local: &str, expected_utc: &str, expected: Resolution) {
        let (got, how) = resolve(zone, dt(local));
        assert_eq!(
            (got.format("%Y-%m-%dT%H:%M:%SZ").to_string(), how),
            (expected_utc.to_string(), expected),
            "{zone} {local}"
        );
    }

    #[test]
    fn resolve_table() {
        use Resolution::*;
        let cases = [
            (Berlin, "2024-01-15T00:34", "2024-01-14T23:34:00Z", Normal),
            (Berlin, "2024-07-15T00:34", "2024-07-14T22:34:00Z", Normal),
            // spring gap 2024-03-31 02:00 -> 03:00 CEST: the transition is 01:00 UTC
            (Berlin, "2024-03-31T02:00", "2024-03-31T01:00:00Z", InGap),
            (Berlin, "2024-03-31T02:30", "2024-03-31T01:00:00Z", InGap),
            (Berlin, "2024-03-31T02:59", "2024-03-31T01:00:00Z", InGap),
            (Berlin, "2024-03-31T03:00", "2024-03-31T01:00:00Z", Normal),
            (Berlin, "2024-03-31T01:59", "2024-03-31T00:59:00Z", Normal),
            // autumn fold 2024-10-27 03:00 CEST -> 02:00 CET: first pass (CEST)
            (Berlin, "2024-10-27T02:00", "2024-10-27T00:00:00Z", InFold),
            (Berlin, "2024-10-27T02:30", "2024-10-27T00:30:00Z", InFold),
            (Berlin, "2024-10-27T03:00", "2024-10-27T02:00:00Z", Normal),
            (Oslo, "2025-03-30T02:15", "2025-03-30T01:00:00Z", InGap),
            (Oslo, "2025-10-26T02:15", "2025-10-26T00:15:00Z", InFold),
            (Oslo, "2026-03-29T02:00", "2026-03-29T01:00:00Z", InGap),
            (Oslo, "2026-10-25T02:59", "2026-10-25T00:59:00Z", InFold),
            (Tz::UTC, "2025-02-10T09:12", "2025-02-10T09:12:00Z", Normal),
            // a whole-day gap: Samoa skipped 2011-12-30
            (chrono_tz::Pacific::Apia, "2011-12-30T12:00", "2011-12-30T10:00:00Z", InGap),
        ];
        for (zone, local, utc, how) in cases {
            check(zone, local, utc, how);
        }
    }

    #[test]
    fn wall_time_parse() {
        let ok = [("00:00", false, 0), ("00:34", false, 34), ("23:59", false, 1439), ("24:00", true, 1440)];
        for (text, allow, minutes) in ok {
            assert_eq!(WallTime::parse(text, allow).map(WallTime::minutes), Ok(minutes), "{text}");
        }
        for (text, allow) in [
            ("24:00", false),
            ("24:01", true),
            ("7:00", false),
            ("07:60", false),
            ("0734", false),
            ("", false),
            ("ab:cd", false),
        ] {
            assert!(WallTime::parse(text, allow).is_err(), "{text} should be rejected");
        }
        assert_eq!(WallTime::parse("06:05", false).map(|t| t.to_string()), Ok("06:05".to_string()));
    }
}
