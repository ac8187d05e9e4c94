//! Serving the status page and its feeds on the configured status host and path.
//!
//! Maps a path below the status path to one rendering of `status`: the page (`/`), `status.json`,
//! `calendar.ics` (all windows) or `calendar/<tenant>.ics` (one public tenant's), and
//! `feed.atom`. `?lang=de|en|nb` chooses the language over `Accept-Language` (a feed reader or
//! calendar subscribes to one address per language). Each is rendered once per generation,
//! minute, language and tenant and served from `statuscache` after that: a flood of the status
//! host costs a cache hit per request. What they may show (public tenants only, no incident
//! details) is `status`'s business. `status.json` pages by `?from=` (its `next` link).
//!
//! Every answer carries a strong `ETag` (a digest of the bytes) and a `Last-Modified` (feeds and
//! calendars: when their content last changed; the page and `status.json`: the minute they were
//! made for), and [`conditional`] answers a request that already has them with
//! 304 (RFC 9110 §13: `If-None-Match` first, `If-Modified-Since` only without it; GET and
//! HEAD). Their links are absolute: the scheme the client used (`X-Forwarded-Proto` from a
//! trusted proxy), the status host and the port the client named.

use crate::compiled::Compiled;
use crate::config::{Language, Tenant};
use crate::gateway::respond::{Answer, Marker};
use crate::gateway::statuscache::{Kind, Rendered, StatusCache, Wanted};
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
    /// The client takes gzip (`Accept-Encoding`, [`accepts_gzip`]).
    pub gzip: bool,
}

/// Whether `path`, on the status host (the caller has compared it), belongs to the status page.
pub fn owns(compiled: &Compiled, path: &str) -> bool {
    below(path, &compiled.config().gateway.status_path).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// `path` without the status path `prefix`, if it starts with it. Every request to the status
/// host asks this twice: the common empty prefix (the status host's root) compares nothing —
/// a library compare of zero bytes still costs a call, measurable in a flood.
fn below<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    if prefix.is_empty() {
        Some(path)
    } else {
        path.strip_prefix(prefix)
    }
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
    let port = asked.host.and_then(crate::hosts::port_of).map_or(String::new(), |p| format!(":{p}"));
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
        vary: Some("Accept-Encoding, Accept-Language"),
        retry_after: None,
        extra: Default::default(),
        body,
    }
}

/// A feed or calendar: with its validators.
fn validated(content_type: &'static str, lang: Language, text: String, modified: UnixTime) -> Answer {
    let tag = format!("\"{}\"", crate::compiled::ledger::digest(&text));
    let mut a = answer_of(200, content_type, lang, Bytes::from(text));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        a.extra.push(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(modified)) {
        a.extra.push(header::LAST_MODIFIED, v);
    }
    a
}

/// `?from=` of a `status.json` page: unix seconds; `Err` when present but not a number.
fn query_from(query: Option<&str>) -> Result<Option<UnixTime>, ()> {
    match query.and_then(|q| q.split('&').find_map(|p| p.strip_prefix("from="))) {
        None => Ok(None),
        Some(t) if !t.is_empty() && t.len() <= 12 && t.bytes().all(|b| b.is_ascii_digit()) => {
            t.parse().map(Some).map_err(|_| ())
        }
        Some(_) => Err(()),
    }
}

fn refused(lang: Language, text: &'static str) -> Answer {
    answer_of(400, "text/plain; charset=utf-8", lang, Bytes::from_static(text.as_bytes()))
}

/// The answer for the status page path in `asked` at `now`: from `cache` when it holds this
/// generation's rendering of this minute, else rendered once and kept there.
pub fn answer(compiled: &Compiled, asked: &Asked<'_>, now: UnixTime, cache: &StatusCache) -> Answer {
    let config = compiled.config();
    let g = &config.gateway;
    let lang = query_lang(asked.query).unwrap_or(asked.lang);
    let rest = below(asked.path, &g.status_path).unwrap_or(asked.path);
    let (generation, tenants) = (compiled.generation, config.tenants.len());
    let cached = |kind, variant: &str, render: &dyn Fn() -> Answer| {
        cache.answer(Wanted { kind, lang, generation, tenants, now }, variant, asked.gzip, || {
            let plain = render();
            let gzip = gzipped(&plain);
            Rendered { plain, gzip }
        })
    };
    match rest {
        "" | "/" | "/index.html" => cached(Kind::Page, "", &|| render(compiled, lang, now, Rendering::Page)),
        "/status.json" => {
            let Ok(from) = query_from(asked.query) else {
                return refused(lang, "from: unix seconds, as the `next` link of status.json gives them\n");
            };
            let Some(span) = status::Span::json(now, from) else {
                return refused(lang, "from: status.json pages reach three years ahead\n");
            };
            let variant = from.map(|f| f.to_string()).unwrap_or_default();
            cached(Kind::Json, &variant, &|| render(compiled, lang, now, Rendering::Json(span)))
        }
        "/calendar.ics" => cached(Kind::Calendar, "", &|| render(compiled, lang, now, Rendering::Calendar(None))),
        "/feed.atom" => {
            let base = base(compiled, asked);
            cached(Kind::Feed, &base, &|| render(compiled, lang, now, Rendering::Feed(&base)))
        }
        other => match other
            .strip_prefix("/calendar/")
            .and_then(|t| t.strip_suffix(".ics"))
            .and_then(|id| config.tenants.iter().position(|t| t.id == id && t.public))
        {
            // The id is in the address (a key that stays); the calendar's name is the public one.
            // A hidden tenant's calendar is as unknown as a tenant that does not exist.
            Some(t) => cached(Kind::TenantCalendar(t as u32), "", &|| {
                render(compiled, lang, now, Rendering::Calendar(Some(t)))
            }),
            None => answer_of(404, "text/plain; charset=utf-8", lang, Bytes::from_static(b"not found\n")),
        },
    }
}

/// What [`render`] makes.
#[derive(Debug, Clone, Copy)]
enum Rendering<'b> {
    Page,
    Json(status::Span),
    /// All windows, or one tenant's (its index).
    Calendar(Option<usize>),
    /// With its absolute base URL.
    Feed(&'b str),
}

/// Renders one answer of the status host (a cache miss).
fn render(compiled: &Compiled, lang: Language, now: UnixTime, what: Rendering<'_>) -> Answer {
    let config = compiled.config();
    let g = &config.gateway;
    let fallback = config.defaults.language;
    let incidents = compiled.health.incidents();
    let any = compiled.changed.any;
    let recent = || incidents.recent(now - status::HISTORY_DAYS * 86_400);
    match what {
        Rendering::Page => {
            let s = status::gather(compiled, &recent(), now, lang, status::Span::page(now));
            match status::html::render(&compiled.pages, &s, lang, g.status_path.as_str()) {
                Ok(html) => validated("text/html; charset=utf-8", lang, html, minute_of(now)),
                Err(e) => answer_of(
                    500,
                    "text/plain; charset=utf-8",
                    lang,
                    Bytes::from(format!("status page template: {e}\n")),
                ),
            }
        }
        Rendering::Json(span) => {
            let s = status::gather(compiled, &recent(), now, lang, span);
            validated("application/json", lang, status::json(&s, g.status_path.as_str()), minute_of(now))
        }
        Rendering::Calendar(tenant) => {
            let shown = status::shown(compiled);
            let (name, windows) = match tenant.and_then(|t| config.tenants.get(t)) {
                Some(t) => (t.display_name(), for_tenant(&shown, t)),
                None => (calendar_title(lang), shown),
            };
            let r = status::ical::calendar(name, &windows, now, lang, fallback, any);
            validated("text/calendar; charset=utf-8", lang, r.text, r.modified)
        }
        Rendering::Feed(base) => {
            let shown = status::shown(compiled);
            // Older incidents too: when one aged out is when the feed last changed.
            let since = now - status::atom::KEEP_SECS - 400 * 86_400;
            let logged = incidents.recent(since);
            let public = status::shown_incidents(config, &audience::Audience::new(config), &logged, lang, since);
            let input = status::atom::Input { windows: &shown, incidents: &public, now, lang, fallback, base, any };
            let r = status::atom::feed(&input);
            validated("application/atom+xml; charset=utf-8", lang, r.text, r.modified)
        }
    }
}

/// Bodies smaller than this are sent as they are: coding them saves next to nothing.
const GZIP_FROM: usize = 512;

/// Whether an `Accept-Encoding` value takes gzip (RFC 9110 §12.5.3): `gzip` (or `x-gzip`) with
/// a weight above 0, or `*` above 0 when gzip is not named.
pub fn accepts_gzip(field: Option<&str>) -> bool {
    let Some(field) = field else { return false };
    let mut star = false;
    for item in field.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let weight = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .next()
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok());
        let wanted = weight.is_some_and(|q| q > 0.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return wanted;
        }
        if coding == "*" {
            star = wanted;
        }
    }
    star
}

/// `a` gzip-coded, made once per rendering: its own strong `ETag` (another representation,
/// RFC 9110 §8.8.3), `Content-Encoding`, the same `Last-Modified`. `None` when the body is small
/// or coding does not make it smaller.
fn gzipped(a: &Answer) -> Option<Answer> {
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;
    if a.status != 200 || a.body.len() < GZIP_FROM {
        return None;
    }
    let mut coder = GzEncoder::new(Vec::with_capacity(a.body.len() / 3), Compression::best());
    coder.write_all(&a.body).ok()?;
    let coded = coder.finish().ok()?;
    if coded.len() >= a.body.len() {
        return None;
    }
    let mut g = a.clone();
    g.body = Bytes::from(coded);
    if let Some(tag) = g.extra.get(&header::ETAG) {
        let tag = tag.to_str().ok()?.trim_end_matches('"');
        let coded = HeaderValue::from_str(&format!("{tag}-gzip\"")).ok()?;
        g.extra.set(&header::ETAG, coded);
    }
    g.extra.push(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    Some(g)
}

/// The start of `now`'s minute: the page and `status.json` are made per minute, so that is
/// when what they show last changed.
fn minute_of(now: UnixTime) -> UnixTime {
    now - now.rem_euclid(60)
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
    if if_none_match.is_none() && if_modified_since.is_none() {
        return a;
    }
    let find = |name: &header::HeaderName| a.extra.get(name).and_then(|v| v.to_str().ok());
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
    fn gzip_is_taken_when_named_or_starred_with_a_weight_above_zero() {
        let cases = [
            (None, false),
            (Some(""), false),
            (Some("gzip, deflate, br, zstd"), true),
            (Some("br;q=1.0, GZIP;q=0.5"), true),
            (Some("x-gzip"), true),
            (Some("gzip;q=0"), false),
            (Some("gzip; q=0.000"), false),
            (Some("deflate, br"), false),
            (Some("*"), true),
            (Some("*;q=0"), false),
            (Some("gzip;q=0, *"), false),
            (Some("identity"), false),
            (Some("gzip;q=nonsense"), false),
        ];
        for (field, takes) in cases {
            assert_eq!(accepts_gzip(field), takes, "{field:?}");
        }
    }

    #[test]
    fn a_coded_answer_inflates_to_the_same_bytes_under_its_own_tag() {
        use std::io::Read;
        let text = "<p>maintenance</p>\n".repeat(100);
        let plain = validated("text/html; charset=utf-8", Language::En, text.clone(), 60);
        let coded = gzipped(&plain).expect("a page of 2 KB is worth coding");
        assert!(coded.body.len() < plain.body.len() / 4, "{} bytes", coded.body.len());
        let mut inflated = String::new();
        flate2::read::GzDecoder::new(&coded.body[..]).read_to_string(&mut inflated).expect("gzip");
        assert_eq!(inflated, text);
        let field = |a: &Answer, n: &header::HeaderName| a.extra.get(n).map(|v| v.to_str().unwrap_or("").to_string());
        let (tag, coded_tag) = (field(&plain, &header::ETAG).expect("tag"), field(&coded, &header::ETAG).expect("tag"));
        assert_ne!(tag, coded_tag, "another representation, another strong tag");
        assert_eq!(coded_tag, format!("{}-gzip\"", tag.trim_end_matches('"')));
        assert_eq!(field(&coded, &header::CONTENT_ENCODING).as_deref(), Some("gzip"));
        assert_eq!(field(&coded, &header::LAST_MODIFIED), field(&plain, &header::LAST_MODIFIED));
        assert_eq!(field(&plain, &header::CONTENT_ENCODING), None);
        assert_eq!(coded.vary, Some("Accept-Encoding, Accept-Language"));
        // Small bodies are not worth it.
        assert!(gzipped(&validated("text/html", Language::En, "short".into(), 60)).is_none());
    }

    #[test]
    fn validators_decide_304() {
        let fresh = || {
            let mut a = answer_of(200, "application/atom+xml; charset=utf-8", Language::En, Bytes::from_static(b"x"));
            a.extra.push(header::ETAG, HeaderValue::from_static("\"abc\""));
            a.extra.push(header::LAST_MODIFIED, HeaderValue::from_static("Thu, 14 Nov 2024 10:00:00 GMT"));
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
        // An answer without an ETag (a 404, a refusal) is never turned.
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
