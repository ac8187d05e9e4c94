//! iCalendar (RFC 5545) feed of planned windows, for calendar subscriptions.
//!
//! A recurring window is a series in its own time zone (`series`): `DTSTART;TZID=…` with an
//! `RRULE` that ends (`UNTIL`) with the [`Horizon`], `EXDATE` for dates left out and `RDATE` for
//! dates added, and a `VTIMEZONE` written from the zone's own changes of offset over the dates it
//! covers (so a client needs no time-zone database of its own). A date whose instant a client
//! would read differently from SCHEDULES.md (DST) is a single event in UTC; `once` windows are
//! single events, whenever they are. An open-ended window (an emergency) ends at the next
//! check-in, the next full hour (`DTEND`, with `X-HIATUS-OPEN-END:TRUE`), and the calendar asks to
//! be fetched hourly while it has one (`REFRESH-INTERVAL`), daily otherwise. Each event carries
//! `X-HIATUS-WINDOW` (the window's id), a stable UID (`window@hiatus` for a series,
//! `window-start@hiatus` for a single event) and `DTSTAMP`/`LAST-MODIFIED` from the time the
//! window last changed, so the same configuration gives the same bytes all month (the horizon
//! moves on the first of a month). TEXT values escaped, lines folded at 75 octets, CRLF.

use super::series::{self, Length, Series};
use super::Shown;
use crate::config::Language;
use crate::schedule::{occurrence::from_unix, Occurrence, UnixTime, OPEN_END};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use std::collections::BTreeMap;
use std::fmt::Write;

/// How many months the calendar covers from the first of last month.
pub const HORIZON_MONTHS: u32 = 18;

/// The dates recurring windows are listed for: from the first of the previous month (UTC) for
/// [`HORIZON_MONTHS`] months; `since` is when this range began (the first of this month).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub since: UnixTime,
}

fn add_months(d: NaiveDate, months: u32) -> NaiveDate {
    let m0 = d.month0() + months;
    NaiveDate::from_ymd_opt(d.year() + (m0 / 12) as i32, m0 % 12 + 1, 1).unwrap_or(d)
}

impl Horizon {
    pub fn at(now: UnixTime) -> Horizon {
        let today = from_unix(now).map_or(NaiveDate::MIN, |d| d.date_naive());
        let this = today.with_day(1).unwrap_or(today);
        let first = this.checked_sub_months(chrono::Months::new(1)).unwrap_or(this);
        let last = add_months(first, HORIZON_MONTHS).pred_opt().unwrap_or(first);
        Horizon { first, last, since: this.and_time(chrono::NaiveTime::MIN).and_utc().timestamp() }
    }
}

/// The end an open-ended occurrence is given: the next full hour after `now` (and its start).
pub fn check_in(start: UnixTime, now: UnixTime) -> UnixTime {
    (now.max(start) / 3600 + 1) * 3600
}

fn stamp(t: UnixTime) -> String {
    from_unix(t).map(|d| d.format("%Y%m%dT%H%M%SZ").to_string()).unwrap_or_default()
}

fn local(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

/// RFC 5545 §3.3.11: backslash, semicolon, comma and newlines are escaped in TEXT.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets without splitting a character (§3.1).
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

/// The offset of `zone` at `t` in seconds, whether it is daylight time, and its abbreviation.
fn offset(zone: Tz, t: UnixTime) -> (i32, bool, String) {
    let naive = from_unix(t).map_or(NaiveDateTime::MIN, |d| d.naive_utc());
    let o = zone.offset_from_utc_datetime(&naive);
    let name = o.abbreviation().map_or_else(|| zone.name().to_string(), str::to_string);
    (o.fix().local_minus_utc(), !o.dst_offset().is_zero(), name)
}

/// The instants in `(lo, hi]` at which `zone` changes its offset (each the first instant of the
/// new one), found day by day and then to the second.
fn transitions(zone: Tz, lo: UnixTime, hi: UnixTime) -> Vec<UnixTime> {
    let mut out = Vec::new();
    let mut t = lo;
    while t < hi {
        let next = (t + 86_400).min(hi);
        if offset(zone, t).0 != offset(zone, next).0 {
            let (mut a, mut b) = (t, next);
            while b - a > 1 {
                let mid = a + (b - a) / 2;
                if offset(zone, mid).0 == offset(zone, t).0 {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            out.push(b);
        }
        t = next;
    }
    out
}

fn utc_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let s = secs.unsigned_abs();
    let (h, m, rest) = (s / 3600, s / 60 % 60, s % 60);
    if rest == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{rest:02}")
    }
}

/// One observance of a `VTIMEZONE`: from `at` (the transition instant) on, `after`.
fn observance(out: &mut String, zone: Tz, at: UnixTime, before: i32) {
    let (after, dst, name) = offset(zone, at);
    let kind = if dst { "DAYLIGHT" } else { "STANDARD" };
    // DTSTART is the onset in the local time in force before it (§3.6.5).
    let onset = from_unix(at + i64::from(before)).map_or(NaiveDateTime::MIN, |d| d.naive_utc());
    line(out, &format!("BEGIN:{kind}"));
    line(out, &format!("DTSTART:{}", local(onset)));
    line(out, &format!("TZOFFSETFROM:{}", utc_offset(before)));
    line(out, &format!("TZOFFSETTO:{}", utc_offset(after)));
    line(out, &format!("TZNAME:{}", text(&name)));
    line(out, &format!("END:{kind}"));
}

/// A `VTIMEZONE` for `zone` that is right over `[lo, hi]`.
fn vtimezone(out: &mut String, zone: Tz, lo: UnixTime, hi: UnixTime) {
    line(out, "BEGIN:VTIMEZONE");
    line(out, &format!("TZID:{}", zone.name()));
    line(out, &format!("X-LIC-LOCATION:{}", zone.name()));
    // The observance in force at `lo` begins at the last change before it (within two years),
    // or at the epoch for a zone that has not changed since.
    let earlier = transitions(zone, lo - 2 * 366 * 86_400, lo);
    match earlier.last() {
        Some(&at) => observance(out, zone, at, offset(zone, at - 1).0),
        None => observance(out, zone, 0, offset(zone, lo).0),
    }
    for at in transitions(zone, lo, hi) {
        observance(out, zone, at, offset(zone, at - 1).0);
    }
    line(out, "END:VTIMEZONE");
}

/// A calendar and when its content last changed (its `Last-Modified`).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub text: String,
    pub modified: UnixTime,
}

/// The lines shared by a series and a single event: texts, status, the window's id.
fn about(out: &mut String, w: &Shown<'_>, lang: Language, fallback: Language, tentative: bool) {
    let (title, reason) = w.texts(lang, fallback);
    line(out, &format!("SUMMARY:{}", text(&title)));
    let mut description = String::new();
    if let Some(r) = reason {
        let _ = writeln!(description, "{r}");
    }
    description.push_str(&w.affects);
    line(out, &format!("DESCRIPTION:{}", text(&description)));
    line(out, if tentative { "STATUS:TENTATIVE" } else { "STATUS:CONFIRMED" });
    line(out, "TRANSP:OPAQUE");
    line(out, &format!("X-HIATUS-WINDOW:{}", text(&w.window.id)));
}

fn series_event(out: &mut String, w: &Shown<'_>, s: &Series, zone: Tz, lang: Language, fallback: Language) {
    // UTC windows need no zone: their local times are UTC times.
    let utc = zone == Tz::UTC;
    let at = |name: &str, t: NaiveDateTime| {
        if utc {
            format!("{name}:{}Z", local(t))
        } else {
            format!("{name};TZID={}:{}", zone.name(), local(t))
        }
    };
    let list = |name: &str, ts: &[NaiveDateTime]| {
        let values: Vec<String> = ts.iter().map(|t| if utc { format!("{}Z", local(*t)) } else { local(*t) }).collect();
        let tz = if utc { String::new() } else { format!(";TZID={}", zone.name()) };
        format!("{name}{tz}:{}", values.join(","))
    };
    line(out, "BEGIN:VEVENT");
    let part = if s.part.is_empty() { String::new() } else { format!("-{}", s.part) };
    line(out, &format!("UID:{}{part}@hiatus", w.window.id));
    line(out, &format!("DTSTAMP:{}", stamp(w.changed)));
    line(out, &format!("LAST-MODIFIED:{}", stamp(w.changed)));
    line(out, &at("DTSTART", s.start));
    match s.length {
        Length::Until(end) => line(out, &at("DTEND", end)),
        Length::Minutes(m) => line(out, &format!("DURATION:PT{m}M")),
    }
    if let Some(rule) = &s.rule {
        line(out, &format!("RRULE:{rule};UNTIL={}", stamp(s.until)));
    }
    if !s.exdates.is_empty() {
        line(out, &list("EXDATE", &s.exdates));
    }
    if !s.rdates.is_empty() {
        line(out, &list("RDATE", &s.rdates));
    }
    about(out, w, lang, fallback, w.window.schedule.tentative);
    line(out, "END:VEVENT");
}

fn single_event(out: &mut String, w: &Shown<'_>, o: &Occurrence, now: UnixTime, lang: Language, fallback: Language) {
    line(out, "BEGIN:VEVENT");
    line(out, &format!("UID:{}-{}@hiatus", w.window.id, o.start));
    line(out, &format!("DTSTAMP:{}", stamp(w.changed)));
    line(out, &format!("LAST-MODIFIED:{}", stamp(w.changed)));
    line(out, &format!("DTSTART:{}", stamp(o.start)));
    if o.end == OPEN_END {
        line(out, &format!("DTEND:{}", stamp(check_in(o.start, now))));
        line(out, "X-HIATUS-OPEN-END:TRUE");
    } else {
        line(out, &format!("DTEND:{}", stamp(o.end)));
    }
    about(out, w, lang, fallback, o.tentative_from < o.end);
    line(out, "END:VEVENT");
}

/// The calendar named `name` of `windows` (shown windows), texts in `lang`; `any` is when the
/// configuration's shown content last changed (`compiled::ledger`).
pub fn calendar(
    name: &str,
    windows: &[Shown<'_>],
    now: UnixTime,
    lang: Language,
    fallback: Language,
    any: UnixTime,
) -> Rendered {
    let horizon = Horizon::at(now);
    let mapped: Vec<(&Shown<'_>, series::Mapped)> =
        windows.iter().map(|w| (w, series::map(&w.window.schedule, w.index, horizon.first, horizon.last))).collect();
    let open = mapped.iter().any(|(_, m)| m.single.iter().any(|o| o.end == OPEN_END));
    let refresh = if open { "PT1H" } else { "P1D" };
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//Hiatus//Maintenance windows//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, &format!("NAME:{}", text(name)));
    line(&mut out, &format!("X-WR-CALNAME:{}", text(name)));
    line(&mut out, &format!("REFRESH-INTERVAL;VALUE=DURATION:{refresh}"));
    line(&mut out, &format!("X-PUBLISHED-TTL:{refresh}"));
    // Each zone of a series, over the instants its series cover.
    let mut zones: BTreeMap<&str, (Tz, UnixTime, UnixTime)> = BTreeMap::new();
    for (w, m) in &mapped {
        let zone = w.window.schedule.zone;
        for s in m.series.iter().filter(|_| zone != Tz::UTC) {
            let lo = series::client_instant(zone, s.start) - 86_400;
            let last = s.rdates.iter().chain(&s.exdates).map(|t| series::client_instant(zone, *t)).max();
            let hi = s.until.max(last.unwrap_or(s.until)) + 8 * 86_400;
            let e = zones.entry(zone.name()).or_insert((zone, lo, hi));
            (e.1, e.2) = (e.1.min(lo), e.2.max(hi));
        }
    }
    for (zone, lo, hi) in zones.values() {
        vtimezone(&mut out, *zone, *lo, *hi);
    }
    let mut singles: Vec<(&Shown<'_>, &Occurrence)> = Vec::new();
    for (w, m) in &mapped {
        for s in &m.series {
            series_event(&mut out, w, s, w.window.schedule.zone, lang, fallback);
        }
        singles.extend(m.single.iter().map(|o| (*w, o)));
    }
    singles.sort_by_key(|(w, o)| (o.start, w.index));
    for (w, o) in singles {
        single_event(&mut out, w, o, now, lang, fallback);
    }
    line(&mut out, "END:VCALENDAR");
    let hour = if open { check_in(now, now) - 3600 } else { 0 };
    Rendered { text: out, modified: any.max(horizon.since).max(hour).min(now) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_escaping() {
        let mut out = String::new();
        line(&mut out, &format!("SUMMARY:{}", text(&"Wartung; Teil 1, Ä\\".repeat(6))));
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{l:?} is {} octets", l.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert!(unfolded.starts_with("SUMMARY:Wartung\\; Teil 1\\, Ä\\\\Wartung"), "{unfolded}");
        assert_eq!(text("a\nb"), "a\\nb");
    }

    #[test]
    fn horizon_moves_on_the_first_of_a_month() {
        // 2025-03-15T12:00Z and 2025-03-31T23:59Z: the same range; 2025-04-01T00:00Z: the next.
        let a = Horizon::at(1_742_040_000);
        assert_eq!((a.first.to_string(), a.last.to_string()), ("2025-02-01".into(), "2026-07-31".into()));
        assert_eq!(a, Horizon::at(1_743_465_599));
        assert_eq!(Horizon::at(1_743_465_600).since, 1_743_465_600);
    }

    #[test]
    fn vtimezone_has_the_zones_changes() {
        let mut out = String::new();
        // 2024-01-01 .. 2024-12-31 in Berlin: in force CET since 2023-10-29, then two changes.
        vtimezone(&mut out, chrono_tz::Europe::Berlin, 1_704_067_200, 1_735_603_200);
        let starts: Vec<&str> = out.split("\r\n").filter(|l| l.starts_with("DTSTART:")).collect();
        assert_eq!(starts, ["DTSTART:20231029T030000", "DTSTART:20240331T020000", "DTSTART:20241027T030000"]);
        assert!(out.contains("TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST"), "{out}");
        let mut utc = String::new();
        vtimezone(&mut utc, Tz::UTC, 1_704_067_200, 1_735_603_200);
        assert!(utc.contains("DTSTART:19700101T000000\r\nTZOFFSETFROM:+0000\r\nTZOFFSETTO:+0000"), "{utc}");
    }
}
