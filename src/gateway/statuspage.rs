//! Serving the status page and its feeds on the configured status host and path.
//!
//! Maps a path below the status path to one rendering of `status`: the page (`/`), `status.json`,
//! `calendar.ics` (all windows) or `calendar/<tenant>.ics` (one tenant's), and `feed.atom`.
//! Rendered per request: these are read by people and feed readers, not at proxy rates.

use crate::compiled::Compiled;
use crate::config::{Language, Scope};
use crate::hosts::PatternKind;
use crate::schedule::UnixTime;
use crate::status::{self, Entry, Incident};
use bytes::Bytes;

/// A response: status, content type, body.
pub type Answer = (u16, &'static str, Bytes);

/// Whether `path` (already below the status host) belongs to the status page.
pub fn owns(compiled: &Compiled, host: &str, path: &str) -> bool {
    let g = &compiled.config().gateway;
    g.status_host.as_deref() == Some(host)
        && path.strip_prefix(g.status_path.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether two host patterns can name the same host.
fn patterns_meet(a: &crate::hosts::HostPattern, b: &crate::hosts::HostPattern) -> bool {
    match (a.kind(), b.kind()) {
        (
            PatternKind::Range { prefix: p1, lo: l1, hi: h1, suffix: s1 },
            PatternKind::Range { prefix: p2, lo: l2, hi: h2, suffix: s2 },
        ) => p1 == p2 && s1 == s2 && l1 <= h2 && l2 <= h1,
        (PatternKind::Exact(h), _) => b.matches(h),
        (_, PatternKind::Exact(h)) => a.matches(h),
        _ => a.matches(&b.to_string()) || b.matches(&a.to_string()),
    }
}

/// Entries of windows that can apply to tenant `id`.
fn for_tenant<'e>(compiled: &Compiled, id: &str, entries: impl Iterator<Item = &'e Entry>) -> Vec<Entry> {
    let config = compiled.config();
    let Some(tenant) = config.tenants.iter().find(|t| t.id == id) else { return Vec::new() };
    entries
        .filter(|e| {
            config.windows.iter().find(|w| w.id == e.window).is_some_and(|w| match &w.scope {
                Scope::All => true,
                Scope::Some { tenants, hosts } => {
                    tenants.iter().any(|t| t == id)
                        || hosts.iter().any(|p| tenant.hosts.iter().any(|h| patterns_meet(p, h)))
                }
            })
        })
        .cloned()
        .collect()
}

/// The answer for `path` below the status path.
pub fn answer(compiled: &Compiled, path: &str, lang: Language, now: UnixTime, incidents: &[Incident]) -> Answer {
    let g = &compiled.config().gateway;
    let rest = path.strip_prefix(g.status_path.as_str()).unwrap_or(path);
    let base = g.status_path.as_str();
    let s = status::gather(compiled, incidents, now, lang);
    let calendar_entries = || {
        // The calendar reaches further ahead than the page: subscribers plan with it.
        let mut long = status::gather_range(compiled, now, lang, 30, 180);
        long.sort_by_key(|e| e.start);
        long
    };
    match rest {
        "" | "/" | "/index.html" => match status::html::render(&compiled.pages, &s, lang, base) {
            Ok(html) => (200, "text/html; charset=utf-8", Bytes::from(html)),
            Err(e) => (500, "text/plain; charset=utf-8", Bytes::from(format!("status page template: {e}\n"))),
        },
        "/status.json" => (200, "application/json", Bytes::from(status::json(&s))),
        "/calendar.ics" => (
            200,
            "text/calendar; charset=utf-8",
            Bytes::from(status::ical::calendar("Maintenance", &calendar_entries(), &s)),
        ),
        "/feed.atom" => {
            let announce: Vec<&Entry> = s
                .active
                .iter()
                .chain(s.upcoming.iter())
                .chain(s.history.iter())
                .filter(|e| {
                    compiled.config().windows.iter().find(|w| w.id == e.window).is_some_and(|w| {
                        matches!(
                            w.schedule.calendar.rule,
                            crate::schedule::Rule::Once { .. } | crate::schedule::Rule::Dates { .. }
                        )
                    })
                })
                .collect();
            let words = if lang == Language::De { ("bis", "seit") } else { ("until", "since") };
            (
                200,
                "application/atom+xml; charset=utf-8",
                Bytes::from(status::atom::feed(
                    "Maintenance and incidents",
                    &format!("{base}/feed.atom"),
                    &announce,
                    &s,
                    words,
                )),
            )
        }
        other => match other.strip_prefix("/calendar/").and_then(|t| t.strip_suffix(".ics")) {
            Some(id) if compiled.config().tenants.iter().any(|t| t.id == id) => {
                let all = calendar_entries();
                let mine = for_tenant(compiled, id, all.iter());
                (
                    200,
                    "text/calendar; charset=utf-8",
                    Bytes::from(status::ical::calendar(&format!("Maintenance: {id}"), &mine, &s)),
                )
            }
            _ => (404, "text/plain; charset=utf-8", Bytes::from_static(b"not found\n")),
        },
    }
}
