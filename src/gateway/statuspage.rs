//! Serving the status page and its feeds on the configured status host and path.
//!
//! Maps a path below the status path to one rendering of `status`: the page (`/`), `status.json`,
//! `calendar.ics` (all windows) or `calendar/<tenant>.ics` (one public tenant's), and
//! `feed.atom`. Rendered per request: these are read by people and feed readers, not at proxy
//! rates. What they may show (public tenants only, no incident details) is `status`'s business.

use crate::compiled::Compiled;
use crate::config::{Language, Tenant};
use crate::health::Incident;
use crate::schedule::UnixTime;
use crate::status::{self, audience, Entry};
use bytes::Bytes;

/// A response: status, content type, body.
pub type Answer = (u16, &'static str, Bytes);

/// Whether `path` (already below the status host) belongs to the status page.
pub fn owns(compiled: &Compiled, host: &str, path: &str) -> bool {
    let g = &compiled.config().gateway;
    g.status_host.as_deref() == Some(host)
        && path.strip_prefix(g.status_path.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Entries of windows that apply to `tenant` (the entries are of shown windows already).
fn for_tenant<'e>(compiled: &Compiled, tenant: &Tenant, entries: impl Iterator<Item = &'e Entry>) -> Vec<Entry> {
    let windows = &compiled.config().windows;
    entries
        .filter(|e| windows.iter().find(|w| w.id == e.window).is_some_and(|w| audience::applies(w, tenant)))
        .cloned()
        .collect()
}

/// The answer for `path` below the status path; `incidents` are the log's recent ones.
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
            (
                200,
                "application/atom+xml; charset=utf-8",
                Bytes::from(status::atom::feed(
                    "Maintenance and incidents",
                    &format!("{base}/feed.atom"),
                    &announce,
                    &s,
                )),
            )
        }
        other => match other
            .strip_prefix("/calendar/")
            .and_then(|t| t.strip_suffix(".ics"))
            .and_then(|id| compiled.config().tenants.iter().find(|t| t.id == id && t.public))
        {
            // The id is in the address (a key that stays); the calendar's name is the public one.
            // A hidden tenant's calendar is as unknown as a tenant that does not exist.
            Some(tenant) => {
                let all = calendar_entries();
                let mine = for_tenant(compiled, tenant, all.iter());
                let name = format!("Maintenance: {}", tenant.display_name());
                (200, "text/calendar; charset=utf-8", Bytes::from(status::ical::calendar(&name, &mine, &s)))
            }
            _ => (404, "text/plain; charset=utf-8", Bytes::from_static(b"not found\n")),
        },
    }
}
