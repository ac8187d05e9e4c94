//! Warnings: things that are valid but probably not what the operator meant.
//!
//! `quick` runs at every load (cheap, per window): a rare nth weekday, an `except` that matches
//! nothing. `full` runs in `hiatus check` and expands schedules: occurrences dropped in a DST gap
//! (with their dates) and windows on one scope that partly overlap. Neither changes the
//! configuration.
//!
//! An occurrence wholly inside another (an update in the nightly slot, an incident that covers
//! it, an open-ended emergency) is what was meant and changes no page: the block is the outer
//! occurrence. Only a partial overlap makes a page show an end that neither window has alone,
//! so only that is worth a warning (the shipped configurations nest, and `check` is quiet on them).

use super::diagnostic::Report;
use super::model::{Config, Scope, Window};
use crate::schedule::{Expanded, MonthDay, Occurrence, Rule, UnixTime};
use chrono::{Datelike, Duration, NaiveDate};

fn file_of(config: &Config, w: &Window) -> String {
    config.sources.get(w.source).map(|p| p.display().to_string()).unwrap_or_default()
}

/// Local dates the calendar is worth inspecting over: its explicit dates and bounds, or the
/// years around today for an unbounded rule.
fn inspect_range(w: &Window, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let cal = &w.schedule.calendar;
    let mut explicit: Vec<NaiveDate> = cal.also.clone();
    explicit.extend(cal.except.dates.iter().copied());
    explicit.extend(cal.except.ranges.iter().flat_map(|&(a, b)| [a, b]));
    match &cal.rule {
        Rule::Once { start, .. } => explicit.push(start.date()),
        Rule::Dates { on, .. } => explicit.extend(on.iter().copied()),
        _ => {}
    }
    let lo = cal.from.or_else(|| explicit.iter().min().copied()).unwrap_or(today).min(today - Duration::days(366));
    let hi = cal.to.or_else(|| explicit.iter().max().copied()).unwrap_or(today).max(today + Duration::days(2 * 366));
    (lo, hi)
}

/// Cheap checks, run at every load.
pub fn quick(config: &Config, report: &mut Report) {
    let today = chrono::Utc::now().date_naive();
    for w in &config.windows {
        let file = file_of(config, w);
        let path = w.key_path();
        let cal = &w.schedule.calendar;
        if let Rule::Monthly { on: MonthDay::Nth(5, day), .. } = cal.rule {
            report.warn(
                &file,
                format!("{path}.monthly.on"),
                format!(
                    "\"5th {}\" exists in only some months; months without one are skipped, not moved",
                    day.to_string().to_lowercase()
                ),
            );
        }
        let (lo, hi) = inspect_range(w, today);
        for (i, &d) in cal.except.dates.iter().enumerate() {
            if !cal.would_start_on(d) {
                report.warn(
                    &file,
                    format!("{path}.except"),
                    format!("except date {d} matches no occurrence (entry {i})"),
                );
            }
        }
        for &(a, b) in &cal.except.ranges {
            let mut any = false;
            let mut d = a;
            // A range is inspected day by day, up to ten years: enough for any real exception.
            for _ in 0..3660 {
                if d > b || any {
                    break;
                }
                any = cal.would_start_on(d);
                d += Duration::days(1);
            }
            if !any {
                report.warn(&file, format!("{path}.except"), format!("except range {a}..{b} matches no occurrence"));
            }
        }
        for m in 1..=12u32 {
            if cal.except.months & (1 << (m - 1)) == 0 {
                continue;
            }
            let mut any = false;
            let mut d = lo;
            while d <= hi && !any {
                any = d.month() == m && cal.would_start_on(d);
                d += Duration::days(1);
            }
            if !any {
                let name = NaiveDate::from_ymd_opt(2000, m, 1)
                    .map(|d| d.format("%b").to_string().to_lowercase())
                    .unwrap_or_default();
                report.warn(
                    &file,
                    format!("{path}.except"),
                    format!("except month {name} matches no occurrence between {lo} and {hi}"),
                );
            }
        }
    }
}

fn expand(w: &Window, index: u32, lo: UnixTime, hi: UnixTime) -> (Vec<Occurrence>, Vec<NaiveDate>) {
    let mut occ = Vec::new();
    let mut dropped = Vec::new();
    w.schedule.expand(index, lo, hi, |date, e| match e {
        Expanded::Kept(o) => occ.push(o),
        Expanded::DroppedInGap => dropped.push(date),
    });
    (occ, dropped)
}

fn unix(d: NaiveDate) -> UnixTime {
    d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp())
}

/// Whether two scopes can apply to one request.
fn scopes_meet(config: &Config, a: &Scope, b: &Scope) -> bool {
    let (Scope::Some { tenants: ta, hosts: ha }, Scope::Some { tenants: tb, hosts: hb }) = (a, b) else {
        return true;
    };
    let tenant_hosts = |names: &Vec<String>| {
        config
            .tenants
            .iter()
            .filter(|t| names.contains(&t.id))
            .flat_map(|t| t.hosts.iter())
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
    };
    let hosts_a: Vec<String> = ha.iter().map(|h| h.to_string()).chain(tenant_hosts(ta)).collect();
    let hosts_b: Vec<String> = hb.iter().map(|h| h.to_string()).chain(tenant_hosts(tb)).collect();
    ta.iter().any(|t| tb.contains(t))
        || hosts_a.iter().any(|x| hosts_b.contains(x))
        || ha.iter().any(|p| hosts_b.iter().any(|h| p.matches(h)))
        || hb.iter().any(|p| hosts_a.iter().any(|h| p.matches(h)))
}

/// The span in which a window can have occurrences, as UTC seconds; `None` for an unbounded
/// recurring rule.
fn active_span(w: &Window) -> Option<(UnixTime, UnixTime)> {
    let cal = &w.schedule.calendar;
    let far = 8 * 86_400; // a local date's occurrence ends at most 8 days after its UTC midnight
    let span = match &cal.rule {
        Rule::Once { start, end, .. } => {
            let s = start.and_utc().timestamp() - 86_400;
            (s, end.map_or(UnixTime::MAX, |e| e.and_utc().timestamp() + 86_400))
        }
        Rule::Dates { on, .. } => {
            let first = on.first().copied().into_iter().chain(cal.also.first().copied()).min()?;
            let last = on.last().copied().into_iter().chain(cal.also.last().copied()).max()?;
            (unix(first) - 86_400, unix(last) + far)
        }
        _ => {
            let lo = cal.from.map(unix).map(|t| t - 86_400);
            let hi = cal.to.map(|d| unix(d) + far);
            match (lo, hi, cal.also.first(), cal.also.last()) {
                (Some(lo), Some(hi), first, last) => {
                    (first.map_or(lo, |f| lo.min(unix(*f))), last.map_or(hi, |l| hi.max(unix(*l) + far)))
                }
                (Some(lo), None, first, _) => (first.map_or(lo, |f| lo.min(unix(*f))), UnixTime::MAX),
                (None, Some(hi), _, last) => (UnixTime::MIN, last.map_or(hi, |l| hi.max(unix(*l) + far))),
                (None, None, _, _) => return None,
            }
        }
    };
    Some(span)
}

/// Expanding checks, run by `hiatus check`: DST drops and overlaps on one scope.
pub fn full(config: &Config, now: UnixTime, report: &mut Report) {
    let today = chrono::DateTime::from_timestamp(now, 0).map_or(NaiveDate::MIN, |d| d.date_naive());
    for (i, w) in config.windows.iter().enumerate() {
        let (lo, hi) = inspect_range(w, today);
        let (_, dropped) = expand(w, i as u32, unix(lo), unix(hi + Duration::days(1)));
        if !dropped.is_empty() {
            let shown: Vec<String> = dropped.iter().take(3).map(|d| d.to_string()).collect();
            let more = if dropped.len() > 3 { format!(" (and {} more)", dropped.len() - 3) } else { String::new() };
            report.warn(
                &file_of(config, w),
                w.key_path(),
                format!(
                    "the occurrence on {}{more} lies wholly in the {} DST gap and is dropped",
                    shown.join(", "),
                    w.schedule.zone.name()
                ),
            );
        }
    }
    // Partial overlaps: each pair that can meet, over the span both can have occurrences in (three
    // years at most; from a year before today when neither is bounded).
    let spans: Vec<Option<(UnixTime, UnixTime)>> = config.windows.iter().map(active_span).collect();
    let default_lo = now - 366 * 86_400;
    let limit = 3 * 366 * 86_400;
    for i in 0..config.windows.len() {
        for j in (i + 1)..config.windows.len() {
            let (a, b) = (&config.windows[i], &config.windows[j]);
            if !scopes_meet(config, &a.scope, &b.scope) {
                continue;
            }
            let (lo, hi) = match (spans[i], spans[j]) {
                (None, None) => (default_lo, default_lo + limit),
                (Some(s), None) | (None, Some(s)) => s,
                (Some(x), Some(y)) => (x.0.max(y.0), x.1.min(y.1)),
            };
            let lo = if lo == UnixTime::MIN { default_lo } else { lo };
            let hi = hi.min(lo.saturating_add(limit));
            if lo >= hi {
                continue;
            }
            let (ea, _) = expand(a, i as u32, lo, hi);
            let (eb, _) = expand(b, j as u32, lo, hi);
            if let Some(at) = first_partial_overlap(&ea, &eb) {
                let when = chrono::DateTime::from_timestamp(at, 0)
                    .map(|d| d.with_timezone(&a.schedule.zone).format("%Y-%m-%d %H:%M %Z").to_string())
                    .unwrap_or_default();
                report.warn(
                    &file_of(config, b),
                    b.key_path(),
                    format!("window {:?} partly overlaps window {:?} on a shared scope (first at {when}); the page shows the merged end", b.id, a.id),
                );
            }
        }
    }
}

/// The start of the first overlap of an occurrence of `a` with one of `b` where neither lies
/// wholly inside the other. Both lists are sorted by start.
fn first_partial_overlap(a: &[Occurrence], b: &[Occurrence]) -> Option<UnixTime> {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (&a[i], &b[j]);
        let nested = (x.start <= y.start && y.end <= x.end) || (y.start <= x.start && x.end <= y.end);
        if x.start < y.end && y.start < x.end && !nested {
            return Some(x.start.max(y.start));
        }
        if x.end <= y.end {
            i += 1;
        } else {
            j += 1;
        }
    }
    None
}
