//! `hiatus upcoming --config FILE [--host HOST] [--from RFC3339] [--days N] [--json]`.
//!
//! Lists occurrences one by one (not merged: an operator wants to see each window), with both
//! local and UTC times, and marks DST: an occurrence that starts in a gap, one that crosses a
//! change of UTC offset, and the first one after the clocks changed.

use super::{local, rfc3339};
use crate::engine::{BuildOptions, Snapshot};
use crate::hosts::normalize_host;
use crate::schedule::{resolve, Expanded, Resolution, Rule, UnixTime};
use chrono::{Offset, TimeZone};
use chrono_tz::Tz;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug)]
struct Item {
    window: u32,
    /// For an occurrence dropped in a DST gap: the transition instant it would have begun at.
    start: UnixTime,
    end: UnixTime,
    tentative: bool,
    dst: Option<String>,
    /// Lies wholly in a DST gap: listed (with its date in `dst`) but not an occurrence.
    dropped: bool,
}

fn offset(zone: Tz, t: UnixTime) -> i32 {
    zone.timestamp_opt(t.min(253_402_300_799), 0).single().map_or(0, |d| d.offset().fix().local_minus_utc())
}

fn show_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let m = secs.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

pub fn run(config: &Path, host: Option<&str>, path: &str, from: Option<&str>, days: u32, json: bool) -> ExitCode {
    let from = match super::instant(from) {
        Ok(t) => t.timestamp(),
        Err(e) => {
            eprintln!("error: --from: {e}");
            return ExitCode::from(1);
        }
    };
    let loaded = match super::load(config) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let to = from + i64::from(days.min(3660)) * 86_400;
    let snapshot = Snapshot::build(loaded.config, BuildOptions::around(from));
    let (normal, windows): (Option<String>, Vec<u32>) = match host {
        Some(h) => {
            let mut buf = [0u8; 256];
            let Some(n) = normalize_host(h, &mut buf).map(str::to_string) else {
                eprintln!("error: --host: {h:?} is not a valid host name");
                return ExitCode::from(1);
            };
            let route = snapshot.route(&n, path);
            let w = snapshot.windows_of(&route).to_vec();
            (Some(n), w)
        }
        None => (None, (0..snapshot.config.windows.len() as u32).collect()),
    };
    let items = collect(&snapshot, &windows, from, to);
    let tenant = host.and_then(|_| {
        let n = normal.as_deref()?;
        let route = snapshot.route(n, path);
        snapshot.tenant(&route).map(|t| t.id.clone())
    });
    if json {
        let list: Vec<serde_json::Value> = items
            .iter()
            .filter(|it| !it.dropped)
            .filter_map(|it| {
                let w = snapshot.window(it.window)?;
                let zone = w.schedule.zone;
                Some(serde_json::json!({
                    "window": w.id,
                    "zone": zone.name(),
                    "start": rfc3339(it.start),
                    "end": rfc3339(it.end),
                    "start_local": local(it.start, zone),
                    "end_local": if it.end == crate::schedule::OPEN_END { None } else { Some(local(it.end, zone)) },
                    "tentative": it.tentative,
                    "dst": it.dst,
                }))
            })
            .collect();
        let out = serde_json::json!({
            "host": normal,
            "tenant": tenant,
            "from": rfc3339(from),
            "to": rfc3339(to),
            "occurrences": list,
        });
        say!("{out}");
        return ExitCode::SUCCESS;
    }
    say!(
        "upcoming {} from {} for {days} day(s){}",
        normal.as_deref().map_or("for all windows".to_string(), |h| format!("for {h}{path}")),
        rfc3339(from).unwrap_or_default(),
        tenant.map_or(String::new(), |t| format!(" (tenant {t})"))
    );
    if items.is_empty() {
        say!("  nothing planned");
    }
    for it in &items {
        let Some(w) = snapshot.window(it.window) else { continue };
        if it.dropped {
            say!("  {:<20} {}", w.id, it.dst.as_deref().unwrap_or(""));
            continue;
        }
        let zone = w.schedule.zone;
        let end_local =
            if it.end == crate::schedule::OPEN_END { "open-ended".to_string() } else { local(it.end, zone) };
        say!(
            "  {:<20} {} → {}   UTC {} → {}{}{}",
            w.id,
            local(it.start, zone),
            end_local,
            rfc3339(it.start).unwrap_or_default(),
            rfc3339(it.end).unwrap_or_else(|| "open".to_string()),
            if it.tentative { "  [tentative]" } else { "" },
            it.dst.as_deref().map_or(String::new(), |d| format!("  [DST: {d}]")),
        );
    }
    ExitCode::SUCCESS
}

/// The occurrences of `windows` that intersect `[from, to)`, and those dropped in a DST gap
/// whose transition instant lies in it, in order of start.
fn collect(snapshot: &Snapshot, windows: &[u32], from: UnixTime, to: UnixTime) -> Vec<Item> {
    let mut items = Vec::new();
    for &i in windows {
        let Some(w) = snapshot.window(i) else { continue };
        let zone = w.schedule.zone;
        let mut previous: Option<i32> = None;
        w.schedule.expand(i, from, to, |date, e| {
            let Expanded::Kept(o) = e else {
                // `expand` reports drops from its whole look-back; keep those of the range.
                let local = match &w.schedule.calendar.rule {
                    Rule::Once { start, .. } => *start,
                    _ => match w.schedule.calendar.slot() {
                        Some(s) => s.at.on(date),
                        None => return,
                    },
                };
                let at = resolve(zone, local).0.timestamp();
                if from <= at && at < to {
                    let dst = Some(format!("{date}: dropped, lies wholly in the DST gap"));
                    items.push(Item { window: i, start: at, end: at, tentative: false, dst, dropped: true });
                }
                return;
            };
            let (off_start, off_end) = (offset(zone, o.start), offset(zone, o.end));
            let in_gap = w.schedule.calendar.slot().is_some_and(|s| resolve(zone, s.at.on(date)).1 == Resolution::InGap)
                || matches!(w.schedule.calendar.rule, Rule::Once { start, .. } if resolve(zone, start).1 == Resolution::InGap);
            let dst = if in_gap {
                Some("starts in the DST gap: begins at the transition".to_string())
            } else if o.end != crate::schedule::OPEN_END && off_start != off_end {
                Some(format!("crosses a DST change (UTC{} → UTC{})", show_offset(off_start), show_offset(off_end)))
            } else if previous.is_some_and(|p| p != off_start) {
                Some(format!("clocks changed since the previous one (now UTC{})", show_offset(off_start)))
            } else {
                None
            };
            previous = Some(off_start);
            let tentative = o.tentative_from < o.end;
            items.push(Item { window: i, start: o.start, end: o.end, tentative, dst, dropped: false });
        });
    }
    items.retain(|it| it.dropped || it.start >= from || it.end > from);
    items.sort_by_key(|it| (it.start, it.window));
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> UnixTime {
        chrono::DateTime::parse_from_rfc3339(s).map(|d| d.timestamp()).expect("test literal")
    }

    #[test]
    fn drops_are_listed_in_their_range_and_order() {
        let text = "[defaults]\nzone = \"Europe/Berlin\"\n[[windows]]\nid = \"empty\"\ndaily = { at = \"02:10\", until = \"02:50\" }\n";
        let loaded = crate::config::load_str(text, "t.toml", Path::new(".")).expect("valid");
        let snapshot = Snapshot::build(loaded.config, BuildOptions::around(ts("2025-03-29T00:00:00Z")));
        let show = |from: &str, to: &str| -> Vec<String> {
            collect(&snapshot, &[0], ts(from), ts(to))
                .iter()
                .map(|it| {
                    format!("{} {}", rfc3339(it.start).unwrap_or_default(), if it.dropped { "dropped" } else { "kept" })
                })
                .collect()
        };
        assert_eq!(
            show("2025-03-29T00:00:00Z", "2025-03-31T12:00:00Z"),
            ["2025-03-29T01:10:00Z kept", "2025-03-30T01:00:00Z dropped", "2025-03-31T00:10:00Z kept"]
        );
        // A week later the drop of 30 March is history, not upcoming.
        assert_eq!(show("2025-04-05T00:00:00Z", "2025-04-06T00:00:00Z"), ["2025-04-05T00:10:00Z kept"]);
    }
}
