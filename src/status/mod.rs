//! The status page and its feeds: what is going on, for people and for programs.
//!
//! Owns [`gather`] (from a `Compiled` snapshot, the open and recent incidents and `now` to one
//! [`Status`]: overall state, each tenant's state, active maintenance, upcoming windows (14 days)
//! and history (30 days)), [`shown`] (the windows the public may see, with when each last
//! changed) and the renderings: HTML (`html`), JSON (`json`), iCalendar (`ical`, RFC 5545, with
//! recurring windows as series: `series`) and Atom (`atom`, RFC 4287). Pure functions of their
//! inputs; the gateway serves them on the configured status host and path. Nothing here touches
//! a socket.
//!
//! Everything here is public, so [`Status`] holds only what the public may see (`audience`):
//! tenants with `public = true`, named by their public name; their incidents with the public
//! [`Cause`] only (a status [`Incident`] has no field for the detail, so an upstream address or
//! an error text cannot reach a rendering); windows that apply to a public tenant. The overall
//! state sums up exactly what is shown: a hidden tenant's incident or maintenance never turns it.

pub mod atom;
pub mod audience;
pub mod html;
pub mod ical;
pub mod series;

use crate::compiled::Compiled;
use crate::config::{Config, Language, Window};
use crate::health::{self, Cause};
use crate::pages::cause_words;
use crate::schedule::{Expanded, UnixTime, OPEN_END};
use audience::Audience;
use chrono_tz::Tz;
use serde::Serialize;

pub const UPCOMING_DAYS: i64 = 14;
pub const HISTORY_DAYS: i64 = 30;
/// At most this many entries per window in one list of the page: a daily window would flood
/// it (the last one says how many more; `status.json` lists them all).
pub const PER_WINDOW: usize = 3;
/// How far ahead `status.json` pages go (`?from=`): as far as the feeds list windows.
pub const PAGES_AHEAD_DAYS: i64 = 3 * 366;

/// Which occurrences the lists hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Upcoming: occurrences that start in `[from, until)`; `from` is `now` on the first page.
    pub from: UnixTime,
    pub until: UnixTime,
    /// Active and history (30 days back) only on the first page.
    pub first: bool,
    /// At most this many entries per window and list (the page), or all (`status.json`).
    pub per_window: Option<usize>,
}

impl Span {
    /// What the status page shows: now, 14 days ahead, at most [`PER_WINDOW`] per window.
    pub fn page(now: UnixTime) -> Span {
        Span { from: now, until: now + UPCOMING_DAYS * 86_400, first: true, per_window: Some(PER_WINDOW) }
    }

    /// A page of `status.json`: 14 days of upcoming from `from` (now for the first), all of them.
    /// `None` when `from` lies beyond [`PAGES_AHEAD_DAYS`].
    pub fn json(now: UnixTime, from: Option<UnixTime>) -> Option<Span> {
        let from = from.unwrap_or(now).max(now);
        (from < now + PAGES_AHEAD_DAYS * 86_400).then_some(Span {
            from,
            until: from + UPCOMING_DAYS * 86_400,
            first: from == now,
            per_window: None,
        })
    }

    /// Where the next page starts, while it is within [`PAGES_AHEAD_DAYS`].
    pub fn next(&self, now: UnixTime) -> Option<UnixTime> {
        (self.until < now + PAGES_AHEAD_DAYS * 86_400).then_some(self.until)
    }
}

/// How much of what is shown is disrupted: the banner's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    None,
    /// Some tenants, at most half of those shown.
    Partial,
    /// More than half of the tenants shown.
    Major,
}

impl Impact {
    fn of(disrupted: usize, shown: usize) -> Impact {
        match disrupted {
            0 => Impact::None,
            d if d * 2 > shown => Impact::Major,
            _ => Impact::Partial,
        }
    }
}

/// A disruption of a public tenant, as the status page shows it: without the detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub id: String,
    /// The tenant's id: a stable key for programs (`status.json`), never shown to people.
    pub tenant: String,
    /// The tenant's public name.
    pub name: String,
    pub start: UnixTime,
    pub end: Option<UnixTime>,
    pub cause: Cause,
    /// An incident an operator posted: its title and newest update in the page's language
    /// (pages show these instead of the cause's words).
    pub title: Option<String>,
    pub text: Option<String>,
    /// When its newest update was posted (operators' incidents).
    pub updated: Option<UnixTime>,
    /// An operator's incident of severity `info`: shown as a notice, its tenant stays
    /// operational (what it tells is not a disruption).
    pub notice: bool,
}

/// The state of everything, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    Operational,
    Maintenance,
    Disruption,
}

/// One occurrence of a window, for the lists.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub window: String,
    pub title: String,
    pub reason: Option<String>,
    /// Who is affected, in words.
    pub affects: String,
    pub start: UnixTime,
    /// `None`: open-ended.
    pub end: Option<UnixTime>,
    pub tentative: bool,
    #[serde(skip)]
    pub zone: Tz,
    /// How many more occurrences of this window the list left out.
    pub more: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantRow {
    /// A stable key for programs (`status.json`); people read `name`.
    pub id: String,
    pub name: String,
    pub state: Overall,
    pub window: Option<String>,
    pub until: Option<UnixTime>,
    pub since: Option<UnixTime>,
    pub cause: Option<Cause>,
    pub next_start: Option<UnixTime>,
    #[serde(skip)]
    pub zone: Tz,
}

/// Everything the status page and feeds show.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub now: UnixTime,
    pub overall: Overall,
    /// How widely the disruption reaches, by share of tenants shown (one of several tenants
    /// down is `partial`).
    pub impact: Impact,
    /// Which occurrences the lists hold.
    #[serde(skip)]
    pub span: Span,
    pub tenants: Vec<TenantRow>,
    pub active: Vec<Entry>,
    pub upcoming: Vec<Entry>,
    pub history: Vec<Entry>,
    pub incidents: Vec<Incident>,
    #[serde(skip)]
    pub zone: Tz,
    /// The language of the texts.
    #[serde(skip)]
    pub lang: Language,
}

impl Status {
    /// The public words for `cause` in the status's language.
    pub fn cause_words(&self, cause: Cause) -> &'static str {
        cause_words(cause, self.lang)
    }
}

/// The windows the public may see, each with its index and who it affects in words.
fn shown_windows<'c>(
    config: &'c Config,
    audience: &'c Audience<'c>,
) -> impl Iterator<Item = (usize, &'c Window, String)> + 'c {
    config.windows.iter().enumerate().filter_map(|(i, w)| audience.affects(w).map(|a| (i, w, a)))
}

/// A window the public may see, with what feeds and calendars say of it.
#[derive(Debug, Clone)]
pub struct Shown<'c> {
    pub index: u32,
    pub window: &'c Window,
    /// Who it affects, in words.
    pub affects: String,
    /// When it last changed (`compiled::ledger`).
    pub changed: UnixTime,
}

impl Shown<'_> {
    /// Title and reason in `lang` (else the default language; the id when untitled).
    pub fn texts(&self, lang: Language, fallback: Language) -> (String, Option<String>) {
        let w = self.window;
        (w.title.get(lang, fallback).unwrap_or(&w.id).to_string(), w.reason.get(lang, fallback).map(str::to_string))
    }
}

/// The windows the public may see, in configuration order.
pub fn shown(compiled: &Compiled) -> Vec<Shown<'_>> {
    let config = compiled.config();
    let audience = Audience::new(config);
    let mut out = Vec::new();
    for (i, w) in config.windows.iter().enumerate() {
        if let Some(affects) = audience.affects(w) {
            let changed = compiled.changed.windows.get(i).copied().unwrap_or(compiled.changed.any);
            out.push(Shown { index: i as u32, window: w, affects, changed });
        }
    }
    out
}

/// Public tenants' incidents only, by name, without the detail; newest first.
pub fn public_incidents<'i>(
    audience: &Audience<'_>,
    incidents: impl Iterator<Item = &'i health::Incident>,
) -> Vec<Incident> {
    let mut out: Vec<Incident> = incidents
        .filter_map(|i| {
            let tenant = audience.public(&i.tenant)?;
            Some(Incident {
                id: i.id.clone(),
                tenant: tenant.id.clone(),
                name: tenant.display_name().to_string(),
                start: i.start,
                end: i.end,
                cause: i.cause,
                title: None,
                text: None,
                updated: None,
                notice: false,
            })
        })
        .collect();
    out.sort_by_key(|i| std::cmp::Reverse(i.start));
    out
}

/// What the public sees of the health checks' `logged` incidents and the operators' ones
/// that had not ended by `lo`; newest first.
pub fn shown_incidents(
    config: &crate::config::Config,
    audience: &Audience<'_>,
    logged: &[health::Incident],
    lang: Language,
    lo: UnixTime,
) -> Vec<Incident> {
    let mut out = public_incidents(audience, logged.iter().filter(|i| i.end.is_none_or(|e| e > lo)));
    out.extend(operator_incidents(config, audience, lang, lo));
    out.sort_by_key(|i| std::cmp::Reverse(i.start));
    out
}

/// The incidents operators posted (`[[incidents]]`), one per public tenant they affect (with
/// the id `INCIDENT:TENANT` when they affect several), texts in `lang`.
fn operator_incidents(
    config: &crate::config::Config,
    audience: &Audience<'_>,
    lang: Language,
    lo: UnixTime,
) -> Vec<Incident> {
    let fallback = config.defaults.language;
    let mut out = Vec::new();
    for x in config.incidents.iter().filter(|x| x.end.is_none_or(|e| e > lo)) {
        for t in x.tenants.iter().filter_map(|t| audience.public(t)) {
            out.push(Incident {
                id: if x.tenants.len() == 1 { x.id.clone() } else { format!("{}:{}", x.id, t.id) },
                tenant: t.id.clone(),
                name: t.display_name().to_string(),
                start: x.start,
                end: x.end,
                cause: Cause::Unavailable,
                title: x.title.get(lang, fallback).map(str::to_string),
                text: x.latest(lang, fallback).map(str::to_string),
                updated: x.updates.last().map(|u| u.at),
                notice: x.severity == crate::config::notify::Severity::Info,
            });
        }
    }
    out
}

/// Collects the status at `now` from the incident log's `incidents`, texts in `lang`, lists as
/// `span` says. A tenant is disrupted while it has an open incident (active health checks, or
/// an operator's above `info`, which is a notice) or
/// requests marked every upstream of it down (passive health, `health::passive`).
pub fn gather(
    compiled: &Compiled,
    incidents: &[health::Incident],
    now: UnixTime,
    lang: Language,
    span: Span,
) -> Status {
    let config = compiled.config();
    let fallback = config.defaults.language;
    let engine = &compiled.engine;
    let audience = Audience::new(config);
    let lo = now - HISTORY_DAYS * 86_400;
    let hi = span.until;
    let expand_from = if span.first { lo } else { span.from };
    let (mut active, mut upcoming, mut history) = (Vec::new(), Vec::new(), Vec::new());
    for (i, w, affects) in shown_windows(config, &audience) {
        let entry = |start: UnixTime, end: UnixTime, tentative: bool| Entry {
            window: w.id.clone(),
            title: w.title.get(lang, fallback).unwrap_or(&w.id).to_string(),
            reason: w.reason.get(lang, fallback).map(str::to_string),
            affects: affects.clone(),
            start,
            end: (end != OPEN_END).then_some(end),
            tentative,
            zone: w.schedule.zone,
            more: 0,
        };
        let (mut up, mut past) = (Vec::new(), Vec::new());
        w.schedule.expand(i as u32, expand_from, hi, |_, e| {
            let Expanded::Kept(o) = e else { return };
            let tentative = o.tentative_from < o.end;
            if o.start <= now && now < o.end {
                if span.first {
                    active.push(entry(o.start, o.end, tentative));
                }
            } else if o.start > now && o.start >= span.from && o.start < hi {
                up.push(entry(o.start, o.end, tentative));
            } else if span.first && o.end <= now && o.end > lo {
                past.push(entry(o.start, o.end, tentative));
            }
        });
        let cap = |mut list: Vec<Entry>, newest_first: bool| {
            if newest_first {
                list.reverse();
            }
            let Some(keep) = span.per_window else { return list };
            let more = list.len().saturating_sub(keep);
            list.truncate(keep);
            if let Some(last) = list.last_mut() {
                last.more = more;
            }
            list
        };
        upcoming.extend(cap(up, false));
        history.extend(cap(past, true));
    }
    upcoming.sort_by_key(|e| e.start);
    history.sort_by_key(|e| std::cmp::Reverse(e.start));
    let incidents = shown_incidents(config, &audience, incidents, lang, lo);
    let tenants: Vec<TenantRow> = config
        .tenants
        .iter()
        .enumerate()
        .filter(|(_, t)| t.public)
        .map(|(i, t)| {
            let v = engine.verdict(&engine.route_of_tenant(i as u32), now);
            let open = incidents.iter().find(|x| x.tenant == t.id && x.end.is_none() && !x.notice);
            let passive = compiled.tenants.get(i).and_then(|r| r.passively_down(now));
            let state = if open.is_some() || passive.is_some() {
                Overall::Disruption
            } else if v.is_maintenance() {
                Overall::Maintenance
            } else {
                Overall::Operational
            };
            TenantRow {
                id: t.id.clone(),
                name: t.display_name().to_string(),
                state,
                window: v
                    .window
                    .and_then(|w| engine.window(w))
                    .map(|w| w.title.get(lang, fallback).unwrap_or(&w.id).to_string()),
                until: v.until,
                since: open.map(|x| x.start).or(v.since),
                cause: open.map(|x| x.cause).or(passive),
                next_start: v.next_start,
                zone: t.zone,
            }
        })
        .collect();
    let overall = tenants
        .iter()
        .map(|t| t.state)
        .chain(active.iter().map(|_| Overall::Maintenance))
        .max()
        .unwrap_or(Overall::Operational);
    let disrupted = tenants.iter().filter(|t| t.state == Overall::Disruption).count();
    let impact = Impact::of(disrupted, tenants.len());
    Status {
        now,
        overall,
        impact,
        span,
        tenants,
        active,
        upcoming,
        history,
        incidents,
        zone: config.defaults.zone,
        lang,
    }
}

/// `/status.json`. Tenants and incidents carry the tenant's id as a stable key for programs
/// beside its public name; causes are codes (`unreachable`, `timeout`, `errors`,
/// `unavailable`) with their words. Never an upstream address or an error text.
///
/// Complete within its `horizon`: every occurrence (none left out per window), upcoming ones
/// starting in `[horizon.from, horizon.until)`; `next` (a path below `base`, the status path)
/// is the page of the following 14 days, `null` after three years.
pub fn json(status: &Status, base: &str) -> String {
    let fmt = |t: Option<UnixTime>| t.and_then(crate::schedule::occurrence::from_unix).map(|d| d.to_rfc3339());
    let entry = |e: &Entry| {
        serde_json::json!({
            "window": e.window, "title": e.title, "reason": e.reason, "affects": e.affects,
            "start": fmt(Some(e.start)), "end": fmt(e.end), "tentative": e.tentative,
        })
    };
    let span = status.span;
    let history_from = span.first.then(|| status.now - HISTORY_DAYS * 86_400);
    serde_json::json!({
        "generated_at": fmt(Some(status.now)),
        "overall": status.overall,
        "impact": status.impact,
        "horizon": {
            "history_from": fmt(history_from), "from": fmt(Some(span.from)), "until": fmt(Some(span.until)),
        },
        "next": span.next(status.now).map(|t| format!("{base}/status.json?from={t}")),
        "tenants": status.tenants.iter().map(|t| serde_json::json!({
            "id": t.id, "name": t.name, "state": t.state, "window": t.window, "until": fmt(t.until),
            "since": fmt(t.since), "cause": t.cause, "cause_text": t.cause.map(|c| status.cause_words(c)),
            "next_start": fmt(t.next_start),
        })).collect::<Vec<_>>(),
        "active": status.active.iter().map(entry).collect::<Vec<_>>(),
        "upcoming": status.upcoming.iter().map(entry).collect::<Vec<_>>(),
        "history": status.history.iter().map(entry).collect::<Vec<_>>(),
        "incidents": status.incidents.iter().map(|i| serde_json::json!({
            "id": i.id, "tenant": i.tenant, "name": i.name, "start": fmt(Some(i.start)), "end": fmt(i.end),
            "cause": i.cause, "cause_text": status.cause_words(i.cause), "title": i.title, "text": i.text, "notice": i.notice,
        })).collect::<Vec<_>>(),
    })
    .to_string()
}
