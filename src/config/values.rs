//! Parsers for the scalar values of a configuration file: zones, dates, times, durations,
//! weekdays, months, month days, languages, a URL's port. Each returns a message naming the
//! offending value.

use super::model::Language;
use super::suggest::edit_distance;
use crate::schedule::{MonthDay, WallTime};
use chrono::{NaiveDate, NaiveDateTime, Weekday};
use chrono_tz::Tz;

pub fn zone(text: &str) -> Result<Tz, String> {
    if let Ok(tz) = text.parse::<Tz>() {
        return Ok(tz);
    }
    let lower = text.to_ascii_lowercase();
    let best = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| (edit_distance(&lower, &tz.name().to_ascii_lowercase()), tz.name()))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, name)) if d <= 3 || name.eq_ignore_ascii_case(text) => {
            Err(format!("unknown time zone {text:?}; did you mean {name:?}?"))
        }
        _ => Err(format!("unknown time zone {text:?}; use an IANA name such as \"Europe/Berlin\" or \"UTC\"")),
    }
}

/// The port the authority of the URL `text` names, if any: `http::Uri` takes any digits as a
/// port (and then has none), so it is read from the text. An error for one that is no port
/// (empty, 0, above 65535); an IPv6 host's colons end at its `]`.
pub fn url_port(text: &str, authority: &http::uri::Authority) -> Result<Option<u16>, String> {
    let raw = authority.as_str();
    let after_host = raw.rsplit_once(']').map_or(raw, |(_, rest)| rest);
    match after_host.rsplit_once(':') {
        None => Ok(None),
        Some((_, p)) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!("{text:?}: the port must be 1 to 65535")),
        },
    }
}

pub fn language(text: &str) -> Result<Language, String> {
    Language::parse(text).ok_or_else(|| format!("unknown language {text:?}; supported: \"de\", \"en\", \"nb\""))
}

/// Whether `text` has exactly the digits and separators of `shape`, where `9` stands for a
/// digit: chrono's `%m`, `%H` and `%M` also take one digit (`"09:0"` would be 09:00).
fn shaped(text: &str, shape: &str) -> bool {
    text.len() == shape.len()
        && text.bytes().zip(shape.bytes()).all(|(c, s)| if s == b'9' { c.is_ascii_digit() } else { c == s })
}

/// `YYYY-MM-DD`, every field with all its digits.
pub fn date(text: &str) -> Result<NaiveDate, String> {
    let t = text.trim();
    let bad = || format!("{text:?} is not a date; write YYYY-MM-DD, e.g. \"2024-12-04\"");
    if !shaped(t, "9999-99-99") {
        return Err(bad());
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| bad())
}

/// A local date-time of a `once` window: `2024-11-14T00:34`, or to the second,
/// `2024-11-14T00:34:10` (what `hiatus emergency` writes: a switch is recorded to the second);
/// every field with all its digits.
pub fn date_time(text: &str) -> Result<NaiveDateTime, String> {
    let t = text.trim();
    let shapes = ["9999-99-99T99:99", "9999-99-99 99:99", "9999-99-99T99:99:99", "9999-99-99 99:99:99"];
    for (format, shape) in
        ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"].iter().zip(shapes)
    {
        if !shaped(t, shape) {
            continue;
        }
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, format) {
            // chrono reads `:60` as a leap second: no wall clock shows it.
            if dt.and_utc().timestamp_subsec_nanos() != 0 {
                return Err(format!("{text:?}: seconds run from 00 to 59"));
            }
            return Ok(dt);
        }
    }
    if t.ends_with('Z') || t.contains('+') || t.get(10..).is_some_and(|rest| rest.contains('-')) {
        return Err(format!("{text:?}: write a local time without offset; the window's zone says where it is"));
    }
    Err(format!(
        "{text:?} is not a local date and time; write YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS, e.g. \"2024-11-14T00:34\""
    ))
}

/// `1h30m`, `45m`, `2h`, `24h`: exact elapsed minutes; only `h` and `m` are accepted.
pub fn duration(text: &str) -> Result<u32, String> {
    let bad = || format!("{text:?} is not a duration; write e.g. \"1h30m\", \"45m\" or \"24h\" (h and m only)");
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut seen_h = false;
    let mut seen_m = false;
    for c in text.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            'h' | 'm' => {
                let n: u64 = digits.parse().map_err(|_| bad())?;
                digits.clear();
                if c == 'h' {
                    if seen_h || seen_m {
                        return Err(bad());
                    }
                    seen_h = true;
                    total = total.saturating_add(n.saturating_mul(60));
                } else {
                    if seen_m {
                        return Err(bad());
                    }
                    seen_m = true;
                    total = total.saturating_add(n);
                }
            }
            _ => return Err(bad()),
        }
    }
    if !digits.is_empty() || !(seen_h || seen_m) {
        return Err(bad());
    }
    if total == 0 {
        return Err(format!("{text:?}: a duration must be longer than zero"));
    }
    u32::try_from(total).map_err(|_| bad())
}

pub fn weekday(text: &str) -> Result<Weekday, String> {
    let day = match text.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return Err(format!("{text:?} is not a weekday; write mon, tue, wed, thu, fri, sat or sun")),
    };
    Ok(day)
}

/// A month name (`jul`, `july`) or number (`7`) → 1..=12.
pub fn month(text: &str) -> Result<u32, String> {
    const NAMES: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let t = text.trim().to_ascii_lowercase();
    if let Ok(n) = t.parse::<u32>() {
        if (1..=12).contains(&n) {
            return Ok(n);
        }
    }
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    NAMES
        .iter()
        .zip(full.iter())
        .position(|(short, long)| t == *short || t == *long)
        .map(|i| i as u32 + 1)
        .ok_or_else(|| format!("{text:?} is not a month; write jan, feb, … dec"))
}

/// `15`, `-1`, `last`, `4th tue`, `last fri`.
pub fn month_day_text(text: &str) -> Result<MonthDay, String> {
    let t = text.trim().to_ascii_lowercase();
    if t == "last" {
        return Ok(MonthDay::Day(-1));
    }
    if let Ok(n) = t.parse::<i64>() {
        return month_day_number(n);
    }
    let bad =
        || format!("{text:?} is not a day of the month; write e.g. 15, -1, \"last\", \"4th tue\" or \"last fri\"");
    let (nth, day) = t.split_once(' ').ok_or_else(bad)?;
    let n = match nth {
        "1st" | "first" => 1,
        "2nd" | "second" => 2,
        "3rd" | "third" => 3,
        "4th" | "fourth" => 4,
        "5th" | "fifth" => 5,
        "last" => -1,
        _ => return Err(bad()),
    };
    Ok(MonthDay::Nth(n, weekday(day.trim())?))
}

pub fn month_day_number(n: i64) -> Result<MonthDay, String> {
    match i8::try_from(n) {
        Ok(d) if d != 0 && (-31..=31).contains(&d) => Ok(MonthDay::Day(d)),
        _ => Err(format!("{n} is not a day of the month; use 1..31, or -1..-31 counted from the end")),
    }
}

/// A time of day for `at` (no `24:00`).
pub fn start_time(text: &str) -> Result<WallTime, String> {
    WallTime::parse(text.trim(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [("1h30m", 90), ("45m", 45), ("2h", 120), ("24h", 1440), ("0h5m", 5)];
        for (text, minutes) in ok {
            assert_eq!(duration(text), Ok(minutes), "{text}");
        }
        for text in ["", "1d", "30s", "1.5h", "m", "1h1h", "5m2h", "0m", "90"] {
            assert!(duration(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn zones_suggest() {
        assert_eq!(zone("Europe/Oslo").map(|z| z.name()), Ok("Europe/Oslo"));
        assert_eq!(
            zone("Europe/Berln"),
            Err("unknown time zone \"Europe/Berln\"; did you mean \"Europe/Berlin\"?".into())
        );
        assert!(zone("Mars/Olympus").is_err_and(|e| e.contains("IANA")));
    }

    #[test]
    fn month_days() {
        assert_eq!(month_day_text("4th tue"), Ok(MonthDay::Nth(4, Weekday::Tue)));
        assert_eq!(month_day_text("last fri"), Ok(MonthDay::Nth(-1, Weekday::Fri)));
        assert_eq!(month_day_text("last"), Ok(MonthDay::Day(-1)));
        assert_eq!(month_day_text("-3"), Ok(MonthDay::Day(-3)));
        for bad in ["6th tue", "0", "32", "3rd xyz", "tue"] {
            assert!(month_day_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn date_times() {
        assert_eq!(date_time("2024-11-14T00:34").map(|d| d.to_string()), Ok("2024-11-14 00:34:00".into()));
        assert_eq!(date_time("2024-11-14T00:34:00").map(|d| d.to_string()), Ok("2024-11-14 00:34:00".into()));
        assert_eq!(date_time("2024-11-14T00:34:10").map(|d| d.to_string()), Ok("2024-11-14 00:34:10".into()));
        assert!(date_time("2024-11-14T00:34:60").is_err_and(|e| e.contains("00 to 59")));
        assert!(date_time("2024-11-14T00:34:10.5").is_err_and(|e| e.contains("HH:MM:SS")));
        assert!(date_time("2024-11-14T00:34:00Z").is_err_and(|e| e.contains("without offset")));
        assert!(date_time("14.11.2024 00:34").is_err());
    }

    /// Every field of a date, time or date-time has all its digits: chrono alone reads
    /// `"09:0"` as 09:00 and `"2024-1-4"` as 4 January.
    #[test]
    fn times_and_dates_have_all_their_digits() {
        for bad in ["2024-11-14T09:0", "2024-11-14T1:4", "2024-11-14T9:00", "2024-1-14T09:00", "2024-11-4 09:00"] {
            assert!(date_time(bad).is_err_and(|e| e.contains("YYYY-MM-DDTHH:MM")), "{bad}");
        }
        for bad in ["2024-1-4", "2024-01-4", "24-01-04", "+2024-01-04", "2024-01-04x"] {
            assert!(date(bad).is_err_and(|e| e.contains("YYYY-MM-DD")), "{bad}");
        }
        for bad in ["9:00", "09:0", "1:4", "+9:00", "09:+1", " 9:00", "0900", "09:00:00"] {
            assert!(start_time(bad).is_err_and(|e| e.contains("HH:MM")), "{bad}");
        }
        assert_eq!(start_time(" 09:05 ").map(|t| t.to_string()), Ok("09:05".into()));
        assert_eq!(date(" 2024-01-04").map(|d| d.to_string()), Ok("2024-01-04".into()));
    }
}
