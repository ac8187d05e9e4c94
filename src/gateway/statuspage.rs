//! Serving the status page and its feeds on the configured status host and path.
//!
//! Maps a path below the status path to one rendering of `status`: the page (`/`), `status.json`,
//! `calendar.ics` (all windows) or `calendar/<tenant>.ics` (one public tenant's), and
//! `feed.atom`. `?lang=de|en|nb` chooses the language over `Accept-Language` (a feed reader or
//! calendar subscribes to one address per language). Rendered per request: these are read by
//! people, feed readers and calendars, not at proxy rates. What they may show (public tenants
//! only, no incident details) is `status`'s business.
//!
//! Feeds and calendars carry a strong `ETag` (a digest of the bytes) and a `Last-Modified` (when
//! their content last changed), and [`conditional`] answers a request that already has them with
//! 304 (RFC 9110 §13: `If-None-Match` first, `If-Modified-Since` only without it; GET and
//! HEAD). Their links are absolute: the scheme the client used (`X-Forwarded-Proto` from a
//! trusted proxy), the status host and the port the client named.

use crate::compiled::Compiled;
use crate::config::{Language, Tenant};
use crate::gateway::respond::{Answer, Marker};
use crate::schedule::{occurrence::from_unix, UnixTime};
use crate::status::{self, audience, Shown};
use crate::telemetry::Outcome;
use bytes::Bytes;
use http::{header, HeaderValue};

/// What the status page is asked, beyond the path.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    /// Canonical, below the status host.
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// As the client sent it (may carry a port).
    pub host: Option<&'a str>,
    /// Reached over TLS (a trusted proxy said so).
    pub secure: bool,
    /// Negotiated from `Accept-Language`; `?lang=` wins.
    pub lang: Language,
}

/// Whether `path` (already below the status host) belongs to the status page.
pub fn owns(compiled: &Compiled, host: &str, path: &str) -> bool {
    let g = &compiled.config().gateway;
    g.status_host.as_deref() == Some(host)
        && path.strip_prefix(g.status_path.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The language `?lang=` asks for, if it names one.
fn query_lang(query: Option<&str>) -> Option<Language> {
    query?.split('&').find_map(|p| p.strip_prefix("lang=")).and_then(Language::parse)
}

/// `scheme://status-host[:port]` + status path: where the client reached the status page.
fn base(compiled: &Compiled, asked: &Asked<'_>) -> String {
    let g = &compiled.config().gateway;
    let scheme = if asked.secure { "https" } else { "http" };
    // Only digits are taken from the client's Host; the name is the configured one.
    let port = asked
        .host
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(String::new(), |p| format!(":{p}"));
    format!("{scheme}://{}{port}{}", g.status_host.as_deref().unwrap_or("localhost"), g.status_path)
}

/// A window entry applies to `tenant`.
fn for_tenant<'c>(shown: &[Shown<'c>], tenant: &Tenant) -> Vec<Shown<'c>> {
    shown.iter().filter(|s| audience::applies(s.window, tenant)).cloned().collect()
}

fn calendar_title(lang: Language) -> &'static str {
    match lang {
        Language::De => "Wartungen",
        Language::En => "Maintenance",
        Language::Nb => "Vedlikehold",
    }
}

/// An HTTP date (RFC 9110 §5.6.7).
fn http_date(t: UnixTime) -> String {
    from_unix(t).map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).unwrap_or_default()
}

fn answer_of(status: u16, content_type: &'static str, lang: Language, body: Bytes) -> Answer {
    Answer {
        status,
        outcome: Outcome::Gateway,
        marker: Marker::Status,
        content_type,
        lang: Some(lang),
        cache_control: "no-cache",
        vary: Some("Accept-Language"),
        retry_after: None,
        extra: Vec::new(),
        body,
    }
}

/// A feed or calendar: with its validators.
fn validated(content_type: &'static str, lang: Language, text: String, modified: UnixTime) -> Answer {
    let tag = format!("\"{}\"", crate::compiled::ledger::digest(&text));
    let mut a = answer_of(200, content_type, lang, Bytes::from(text));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        a.extra.push((header::ETAG, v));
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(modified)) {
        a.extra.push((header::LAST_MODIFIED, v));
    }
    a
}

/// The answer for the status page path in `asked` at `now`.
pub fn answer(compiled: &Compiled, asked: &Asked<'_>, now: UnixTime) -> Answer {
    let config = compiled.config();
    let g = &config.gateway;
    let lang = query_lang(asked.query).unwrap_or(asked.lang);
    let fallback = config.defaults.language;
    let rest = asked.path.strip_prefix(g.status_path.as_str()).unwrap_or(asked.path);
    let incidents = compiled.health.incidents();
    let any = compiled.changed.any;
    let calendar = |name: &str, windows: &[Shown<'_>]| {
        let r = status::ical::calendar(name, windows, now, lang, fallback, any);
        validated("text/calendar; charset=utf-8", lang, r.text, r.modified)
    };
    match rest {
        "" | "/" | "/index.html" => {
            let s = status::gather(compiled, &incidents.recent(now - status::HISTORY_DAYS * 86_400), now, lang);
            match status::html::render(&compiled.pages, &s, lang, g.status_path.as_str()) {
                Ok(html) => answer_of(200, "text/html; charset=utf-8", lang, Bytes::from(html)),
                Err(e) => answer_of(
                    500,
                    "text/plain; charset=utf-8",
                    lang,
                    Bytes::from(format!("status page template: {e}\n")),
                ),
            }
        }
        "/status.json" => {
            let s = status::gather(compiled, &incidents.recent(now - status::HISTORY_DAYS * 86_400), now, lang);
            answer_of(200, "application/json", lang, Bytes::from(status::json(&s)))
        }
        "/calendar.ics" => calendar(calendar_title(lang), &status::shown(compiled)),
        "/feed.atom" => {
            let shown = status::shown(compiled);
            // Older incidents too: when one aged out is when the feed last changed.
            let logged = incidents.recent(now - status::atom::KEEP_SECS - 400 * 86_400);
            let public = status::public_incidents(&audience::Audience::new(config), logged.iter());
            let base = base(compiled, asked);
            let input =
                status::atom::Input { windows: &shown, incidents: &public, now, lang, fallback, base: &base, any };
            let r = status::atom::feed(&input);
            validated("application/atom+xml; charset=utf-8", lang, r.text, r.modified)
        }
        other => match other
            .strip_prefix("/calendar/")
            .and_then(|t| t.strip_suffix(".ics"))
            .and_then(|id| config.tenants.iter().find(|t| t.id == id && t.public))
        {
            // The id is in the address (a key that stays); the calendar's name is the public one.
            // A hidden tenant's calendar is as unknown as a tenant that does not exist.
            Some(tenant) => calendar(tenant.display_name(), &for_tenant(&status::shown(compiled), tenant)),
            None => answer_of(404, "text/plain; charset=utf-8", lang, Bytes::from_static(b"not found\n")),
        },
    }
}

/// The entity tags of an `If-None-Match` value match `tag` (weak comparison, `*` for any).
fn none_match(field: &str, tag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    field.split(',').any(|t| t.trim() == "*" || strip(t) == strip(tag))
}

/// `a` as the client's validators make it: a 304 (no body, the same validators and caching
/// fields) when the client's copy is current, else `a` as it is. Only a feed or calendar (an
/// answer with an `ETag`) to GET or HEAD is ever turned.
pub fn conditional(
    mut a: Answer,
    get_or_head: bool,
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
) -> Answer {
    let find = |name: &header::HeaderName| a.extra.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.to_str().ok());
    let (Some(tag), true, 200) = (find(&header::ETAG), get_or_head, a.status) else { return a };
    let current = match (if_none_match, if_modified_since) {
        (Some(inm), _) => none_match(inm, tag),
        (None, Some(ims)) => {
            let since = chrono::DateTime::parse_from_rfc2822(ims.trim()).map(|d| d.timestamp());
            let modified = find(&header::LAST_MODIFIED)
                .and_then(|m| chrono::DateTime::parse_from_rfc2822(m).ok())
                .map(|d| d.timestamp());
            matches!((since, modified), (Ok(s), Some(m)) if m <= s)
        }
        (None, None) => false,
    };
    if current {
        a.status = 304;
        a.body = Bytes::new();
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_decide_304() {
        let fresh = || {
            let mut a = answer_of(200, "application/atom+xml; charset=utf-8", Language::En, Bytes::from_static(b"x"));
            a.extra.push((header::ETAG, HeaderValue::from_static("\"abc\"")));
            a.extra.push((header::LAST_MODIFIED, HeaderValue::from_static("Thu, 14 Nov 2024 10:00:00 GMT")));
            a
        };
        let cases: &[(bool, Option<&str>, Option<&str>, u16)] = &[
            (true, None, None, 200),
            (true, Some("\"abc\""), None, 304),
            (true, Some("W/\"abc\""), None, 304),
            (true, Some("\"x\", \"abc\""), None, 304),
            (true, Some("*"), None, 304),
            (true, Some("\"old\""), None, 200),
            // If-None-Match decides when present, even against a matching date.
            (true, Some("\"old\""), Some("Thu, 14 Nov 2024 10:00:00 GMT"), 200),
            (true, None, Some("Thu, 14 Nov 2024 10:00:00 GMT"), 304),
            (true, None, Some("Thu, 14 Nov 2024 11:00:00 GMT"), 304),
            (true, None, Some("Thu, 14 Nov 2024 09:59:59 GMT"), 200),
            (true, None, Some("yesterday"), 200),
            (false, Some("\"abc\""), None, 200),
        ];
        for &(get, inm, ims, status) in cases {
            let a = conditional(fresh(), get, inm, ims);
            assert_eq!(a.status, status, "{get} {inm:?} {ims:?}");
            assert_eq!(a.body.is_empty(), status == 304);
        }
        // An answer without an ETag (the page, status.json) is never turned.
        let page = answer_of(200, "text/html; charset=utf-8", Language::En, Bytes::from_static(b"x"));
        assert_eq!(conditional(page, true, Some("*"), None).status, 200);
    }

    #[test]
    fn query_names_the_language() {
        assert_eq!(query_lang(Some("lang=nb")), Some(Language::Nb));
        assert_eq!(query_lang(Some("x=1&lang=EN")), Some(Language::En));
        assert_eq!(query_lang(Some("lang=fr")), None);
        assert_eq!(query_lang(None), None);
    }
}
