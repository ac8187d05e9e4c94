//! Atom (RFC 4287) feed of announcements, one per language: one-off and emergency windows
//! (`once`, `dates`) from 30 days back on, and incidents of the last 30 days.
//!
//! Recurring routine windows are not announcements (they are in the calendar). An entry keeps
//! its id (`urn:hiatus:window:ID:START`, `urn:hiatus:incident:ID`) and its `updated` for as
//! long as its subject stays the same: a window's is when it last changed (`compiled::ledger`),
//! an incident's when it opened or closed. So a reader sees an entry as new or changed only
//! when it is. The feed's `updated` (and the `Last-Modified` it is served with) is the latest of
//! those, of any change to the configuration, and of the last time an entry aged out. Entries
//! have `content` (when, in the window's time and UTC; why; whom it affects) and an `alternate`
//! link to the status page in the feed's language; links are absolute (scheme, host, port as
//! the reader reached the status host). An incident's id is a key, as in `status.json`; its
//! title names the tenant by its public name and the cause in words.

use super::{Incident, Shown};
use crate::config::Language;
use crate::pages::cause_words;
use crate::schedule::{occurrence::from_unix, Expanded, Rule, UnixTime, OPEN_END};
use chrono::TimeZone;
use chrono_tz::Tz;

/// How long an ended window or incident stays in the feed.
pub const KEEP_SECS: i64 = super::HISTORY_DAYS * 86_400;
/// How far ahead announced windows are listed.
const AHEAD_SECS: i64 = 3 * 366 * 86_400;

fn time(t: UnixTime) -> String {
    from_unix(t).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
}

/// `t` on the wall clock of `zone`, with the zone's abbreviation.
fn wall(t: UnixTime, zone: Tz) -> String {
    zone.timestamp_opt(t, 0).single().map(|d| d.format("%Y-%m-%d %H:%M %Z").to_string()).unwrap_or_default()
}

pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The feed's words in `lang`.
struct Words {
    title: &'static str,
    since: &'static str,
    open: &'static str,
    affects: &'static str,
    possible: &'static str,
}

fn words(lang: Language) -> Words {
    match lang {
        Language::De => Words {
            title: "Wartungen und Störungen",
            since: "seit",
            open: "Ende noch nicht bekannt",
            affects: "Betrifft",
            possible: "möglich",
        },
        Language::En => Words {
            title: "Maintenance and incidents",
            since: "since",
            open: "end not known yet",
            affects: "Affects",
            possible: "possible",
        },
        Language::Nb => Words {
            title: "Vedlikehold og driftsforstyrrelser",
            since: "siden",
            open: "slutten er ikke kjent ennå",
            affects: "Gjelder",
            possible: "mulig",
        },
    }
}

/// What a feed is built from.
#[derive(Debug)]
pub struct Input<'a> {
    /// The windows the public may see.
    pub windows: &'a [Shown<'a>],
    /// Public incidents, newest first; older ones are looked at only for when they aged out.
    pub incidents: &'a [Incident],
    pub now: UnixTime,
    pub lang: Language,
    pub fallback: Language,
    /// The status page's absolute address without the trailing `/` (`http://status.example:8080/status`).
    pub base: &'a str,
    /// When the configuration's shown content last changed.
    pub any: UnixTime,
}

/// A feed and when its content last changed (its `updated` and `Last-Modified`).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub text: String,
    pub modified: UnixTime,
}

/// One `<entry>`.
fn entry(out: &mut String, id: &str, title: &str, updated: UnixTime, link: &str, content: &str) {
    out.push_str(&format!(
        "<entry>\n<id>{}</id>\n<title>{}</title>\n<updated>{}</updated>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n<content type=\"html\">{}</content>\n</entry>\n",
        xml(id),
        xml(title),
        time(updated),
        xml(link),
        xml(content)
    ));
}

/// The feed in `input.lang`.
pub fn feed(input: &Input<'_>) -> Rendered {
    let Input { windows, incidents, now, lang, fallback, base, any } = *input;
    let w = words(lang);
    let page = format!("{base}/?lang={}", lang.code());
    let mut items: Vec<(UnixTime, UnixTime, String)> = Vec::new();
    // The last instant ≤ now at which an entry left the feed: the content changed then too.
    let mut aged_out = 0;
    for s in windows {
        let schedule = &s.window.schedule;
        if !matches!(schedule.calendar.rule, Rule::Once { .. } | Rule::Dates { .. }) {
            continue;
        }
        let (title, reason) = s.texts(lang, fallback);
        schedule.expand(s.index, now - KEEP_SECS - 400 * 86_400, now + AHEAD_SECS, |_, e| {
            let Expanded::Kept(o) = e else { return };
            if o.end != OPEN_END && o.end + KEEP_SECS <= now {
                aged_out = aged_out.max(o.end + KEEP_SECS);
                return;
            }
            let zone = schedule.zone;
            let when = if o.end == OPEN_END {
                format!("{} {} ({})", w.since, wall(o.start, zone), w.open)
            } else {
                format!("{} – {}", wall(o.start, zone), wall(o.end, zone))
            };
            let utc = if o.end == OPEN_END { time(o.start) } else { format!("{} – {}", time(o.start), time(o.end)) };
            let mut content = format!("<p>{} <small>(UTC {})</small></p>", xml(&when), xml(&utc));
            if o.tentative_from < o.end {
                content.push_str(&format!("<p>{}: {} {}</p>", w.possible, w.since, xml(&wall(o.tentative_from, zone))));
            }
            if let Some(r) = &reason {
                content.push_str(&format!("<p>{}</p>", xml(r)));
            }
            content.push_str(&format!("<p>{}: {}</p>", w.affects, xml(&s.affects)));
            let mut text = String::new();
            let id = format!("urn:hiatus:window:{}:{}", s.window.id, o.start);
            entry(&mut text, &id, &title, s.changed, &page, &content);
            items.push((s.changed, o.start, text));
        });
    }
    for i in incidents {
        let Incident { id, name, start, end, cause, title, text: said, updated: posted, .. } = i;
        if let Some(e) = end.filter(|e| e + KEEP_SECS <= now) {
            aged_out = aged_out.max(e + KEEP_SECS);
            continue;
        }
        // An operator's update changes the entry too.
        let updated = end.unwrap_or(*start).max(posted.unwrap_or(*start));
        let state = match end {
            Some(e) => format!("{} – {}", time(*start), time(*e)),
            None => format!("{} {} ({})", w.since, time(*start), w.open),
        };
        let mut text = String::new();
        let title = format!("{name}: {}", title.as_deref().unwrap_or(cause_words(*cause, lang)));
        entry(
            &mut text,
            &format!("urn:hiatus:incident:{id}"),
            &title,
            updated,
            &page,
            &match said {
                Some(said) => format!("<p>{}</p><p>{}</p>", xml(&state), xml(said)),
                None => format!("<p>{}</p>", xml(&state)),
            },
        );
        items.push((updated, *start, text));
    }
    items.sort_by_key(|(updated, start, _)| std::cmp::Reverse((*updated, *start)));
    let newest = items.iter().map(|(t, _, _)| *t).max().unwrap_or(0);
    let modified = newest.max(any).max(aged_out).min(now);
    let code = lang.code();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{code}\">\n"
    );
    out.push_str(&format!(
        "<title>{}</title>\n<id>urn:hiatus:feed:{code}</id>\n<updated>{}</updated>\n<author><name>Hiatus</name></author>\n",
        xml(w.title),
        time(modified)
    ));
    out.push_str(&format!(
        "<link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        xml(&format!("{base}/feed.atom?lang={code}")),
        xml(&page)
    ));
    for other in Language::ALL.iter().filter(|l| **l != lang) {
        out.push_str(&format!(
            "<link rel=\"alternate\" type=\"application/atom+xml\" hreflang=\"{0}\" href=\"{1}\"/>\n",
            other.code(),
            xml(&format!("{base}/feed.atom?lang={}", other.code()))
        ));
    }
    for (_, _, item) in items {
        out.push_str(&item);
    }
    out.push_str("</feed>\n");
    Rendered { text: out, modified }
}
