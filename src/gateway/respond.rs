//! Answers the gateway gives itself: maintenance pages, failure pages, unknown hosts, assets.
//!
//! Owns the response headers of each kind (status, `Retry-After`, `Cache-Control`, `Vary`,
//! `Content-Language`, the `X-Hiatus-*` markers that tell maintenance from failure) and the
//! per-tenant page cache: a page is rendered the first time a (block, language, format) is
//! asked for and then served as shared bytes until the block changes. Writing to the socket
//! is one function, [`write()`], which keeps keep-alive (no `respond_error`, PINGORA-NOTES).

use super::compiled::{Compiled, TenantRuntime};
use crate::config::{Language, Tenant, Window};
use crate::pages::{local_time, strings, Escape, Failure, Split, REQUEST_ID};
use crate::schedule::{occurrence::from_unix, UnixTime, Verdict};
use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use std::sync::Arc;

/// Response formats: `[html, json]` index.
pub const HTML: usize = 0;
pub const JSON: usize = 1;
const CONTENT_TYPES: [&str; 2] = ["text/html; charset=utf-8", "application/problem+json"];

/// What a cached page was rendered for; a different key means render again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageKey {
    pub window: Option<u32>,
    pub since: Option<UnixTime>,
    pub until: Option<UnixTime>,
    pub firm_until: Option<UnixTime>,
    pub tentative: bool,
    pub next: Option<(UnixTime, u32)>,
    pub failure: Option<(Failure, u16)>,
    /// `IncidentLog::version` when rendered: open incidents are shown on every page.
    pub incidents: u64,
}

impl PageKey {
    pub fn of(v: &Verdict, failure: Option<(Failure, u16)>, incidents: u64) -> PageKey {
        PageKey {
            window: v.window,
            since: v.since,
            until: v.until,
            firm_until: v.firm_until,
            tentative: v.tentative,
            next: v.next_start.zip(v.next_window),
            failure,
            incidents,
        }
    }
}

/// A page ready to send.
#[derive(Debug)]
pub struct Rendered {
    key: PageKey,
    pub body: Split,
    /// `Retry-After`: the HTTP-date of the end when known, else the configured delay in seconds.
    pub retry_after: Option<HeaderValue>,
}

/// One slot per (language, format) for maintenance pages and one for failure pages.
#[derive(Debug, Default)]
pub struct PageCache {
    maintenance: [ArcSwapOption<Rendered>; 6],
    failure: [ArcSwapOption<Rendered>; 6],
}

fn http_date(t: UnixTime) -> Option<String> {
    from_unix(t).map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
}

fn rfc3339(t: Option<UnixTime>) -> Option<String> {
    t.and_then(from_unix).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Open incidents as pages show them (at most three, with their tenants' names), in `zone`.
fn open_incidents(compiled: &Compiled, zone: chrono_tz::Tz, lang: Language) -> Vec<serde_json::Value> {
    let config = compiled.config();
    compiled
        .health
        .incidents()
        .open()
        .iter()
        .take(3)
        .map(|i| {
            let name = config.tenants.iter().find(|t| t.id == i.tenant).map_or(i.tenant.as_str(), |t| t.display_name());
            serde_json::json!({ "tenant": name, "cause": i.cause, "since": local_time(i.start, zone, lang) })
        })
        .collect()
}

/// The maintenance page for a tenant: from the cache when the block is the same.
pub fn maintenance_page(
    compiled: &Compiled,
    tenant_index: u32,
    verdict: &Verdict,
    lang: Language,
    format: usize,
    now: UnixTime,
) -> Result<Arc<Rendered>, String> {
    let runtime = compiled.tenants.get(tenant_index as usize).ok_or("no such tenant")?;
    let slot = &runtime.cache.maintenance[Compiled::lang_index(lang) * 2 + format];
    let key = PageKey::of(verdict, None, compiled.health.incidents().version());
    cached(slot, key, || render_maintenance(compiled, runtime, tenant_index, verdict, lang, format, now, key))
}

/// The page in `slot` when it was rendered for `key`; else renders, stores and returns it.
/// A race between two requests renders twice and one store wins: both pages are right.
fn cached(
    slot: &ArcSwapOption<Rendered>,
    key: PageKey,
    render: impl FnOnce() -> Result<Rendered, String>,
) -> Result<Arc<Rendered>, String> {
    if let Some(r) = slot.load().as_ref() {
        if r.key == key {
            return Ok(r.clone());
        }
    }
    let rendered = Arc::new(render()?);
    slot.store(Some(rendered.clone()));
    Ok(rendered)
}

#[allow(clippy::too_many_arguments)]
fn render_maintenance(
    compiled: &Compiled,
    runtime: &TenantRuntime,
    tenant_index: u32,
    v: &Verdict,
    lang: Language,
    format: usize,
    now: UnixTime,
    key: PageKey,
) -> Result<Rendered, String> {
    let config = compiled.config();
    let tenant: &Tenant = config.tenants.get(tenant_index as usize).ok_or("no such tenant")?;
    let fallback = config.defaults.language;
    let t = strings(lang);
    let window: Option<&Window> = v.window.and_then(|w| compiled.engine.window(w));
    let title = window.and_then(|w| w.title.get(lang, fallback)).unwrap_or(t.maintenance).to_string();
    let reason = window.and_then(|w| w.reason.get(lang, fallback)).map(str::to_string);
    let zone = tenant.zone;
    let when = |x: Option<UnixTime>| x.map(|x| local_time(x, zone, lang));
    let intro = t.intro.replace("{tenant}", tenant.display_name());
    // The reload: at the end (script), and a periodic refresh as a fallback without script.
    let refresh = v.until.map_or(300, |u| (u - now).clamp(30, 300));
    // A known end is a date; an open-ended one a delay, which stays true however long the
    // cached page is served.
    let retry_after = match v.until {
        Some(u) => http_date(u).and_then(|d| HeaderValue::from_str(&d).ok()),
        None => config.gateway.retry_after_open_ended.map(|d| HeaderValue::from(d.as_secs())),
    };
    let body = if format == HTML {
        let view = serde_json::json!({
            "lang": lang.code(), "t": t, "tenant": tenant.display_name(), "title": title, "intro": intro,
            "reason": reason, "since": when(v.since), "until": when(v.until), "firm_until": when(v.firm_until),
            "tentative": v.tentative, "until_epoch": v.until, "refresh_secs": refresh,
            "status_url": config.gateway.status_url, "incidents": open_incidents(compiled, zone, lang),
        });
        Split::new(&runtime.pages.render("maintenance.html", &view)?, Escape::Html)
    } else {
        let json = serde_json::json!({
            "type": "urn:hiatus:maintenance",
            "title": title,
            "status": 503,
            "detail": reason.unwrap_or(intro),
            "tenant": tenant.id,
            "window": window.map(|w| w.id.as_str()),
            "since": rfc3339(v.since),
            "until": rfc3339(v.until),
            "firm_until": rfc3339(v.firm_until),
            "tentative": v.tentative,
            "status_url": config.gateway.status_url,
        });
        Split::new(&json.to_string(), Escape::Json)
    };
    Ok(Rendered { key, body, retry_after })
}

/// The failure page for a tenant (502/504), with any active or upcoming maintenance.
pub fn failure_page(
    compiled: &Compiled,
    tenant_index: u32,
    verdict: &Verdict,
    failure: Failure,
    status: u16,
    lang: Language,
    format: usize,
) -> Result<Arc<Rendered>, String> {
    let runtime = compiled.tenants.get(tenant_index as usize).ok_or("no such tenant")?;
    let slot = &runtime.cache.failure[Compiled::lang_index(lang) * 2 + format];
    let key = PageKey::of(verdict, Some((failure, status)), compiled.health.incidents().version());
    cached(slot, key, || render_failure(compiled, runtime, tenant_index, verdict, failure, status, lang, format, key))
}

#[allow(clippy::too_many_arguments)]
fn render_failure(
    compiled: &Compiled,
    runtime: &TenantRuntime,
    tenant_index: u32,
    verdict: &Verdict,
    failure: Failure,
    status: u16,
    lang: Language,
    format: usize,
    key: PageKey,
) -> Result<Rendered, String> {
    let config = compiled.config();
    let tenant = config.tenants.get(tenant_index as usize).ok_or("no such tenant")?;
    let fallback = config.defaults.language;
    let t = strings(lang);
    let (heading, text) = failure.words(lang);
    let text = text.replace("{tenant}", tenant.display_name()).replace("{status}", &status.to_string());
    let zone = tenant.zone;
    // Maintenance in force (bypassed, or the upstream failed anyway) or coming up.
    let maintenance = if verdict.is_maintenance() {
        verdict.window.and_then(|w| compiled.engine.window(w)).map(|w| {
            let title = w.title.get(lang, fallback).unwrap_or(t.maintenance);
            let when = verdict.until.map(|u| format!("{} {}", t.expected_end, local_time(u, zone, lang)));
            (t.active_maintenance, title.to_string(), when)
        })
    } else {
        verdict.next_window.and_then(|w| compiled.engine.window(w)).zip(verdict.next_start).map(|(w, s)| {
            let title = w.title.get(lang, fallback).unwrap_or(t.maintenance);
            (t.upcoming_maintenance, title.to_string(), Some(local_time(s, zone, lang)))
        })
    };
    let body = if format == HTML {
        let view = serde_json::json!({
            "lang": lang.code(), "t": t, "tenant": tenant.display_name(), "status": status, "heading": heading,
            "text": text, "failure": failure.code(), "request_id": REQUEST_ID,
            "maintenance": maintenance.as_ref().map(|(h, title, when)| serde_json::json!({"heading": h, "title": title, "when": when})),
            "status_url": config.gateway.status_url, "incidents": open_incidents(compiled, zone, lang),
        });
        Split::new(&runtime.pages.render("error.html", &view)?, Escape::Html)
    } else {
        let json = serde_json::json!({
            "type": format!("urn:hiatus:{}", failure.code()),
            "title": heading,
            "status": status,
            "detail": text,
            "tenant": tenant.id,
            "request_id": REQUEST_ID,
            "maintenance": maintenance.as_ref().map(|(h, title, when)| serde_json::json!({"heading": h, "title": title, "when": when})),
        });
        Split::new(&json.to_string(), Escape::Json)
    };
    Ok(Rendered { key, body, retry_after: None })
}

/// How a response of the gateway's own is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Maintenance,
    Failure(Failure),
    UnknownHost,
    BadRequest,
    Own,
}

/// A header value of one of our own answers: constant text, or bytes of this response.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// Known at compile time: pingora's path takes it without a copy.
    Static(&'static str),
    Bytes(&'a [u8]),
    Header(&'a HeaderValue),
}

impl Value<'_> {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Value::Static(s) => s.as_bytes(),
            Value::Bytes(b) => b,
            Value::Header(h) => h.as_bytes(),
        }
    }
}

/// The headers of one of the gateway's own answers, handed to `put` one by one: the same set
/// whether pingora writes them ([`header`]) or the express lane does (`express::wire`).
#[allow(clippy::too_many_arguments)]
pub fn own_headers(
    format: usize,
    lang: Option<Language>,
    body_len: usize,
    marker: Marker,
    request_id: &str,
    retry_after: Option<&HeaderValue>,
    put: &mut dyn FnMut(&HeaderName, Value<'_>),
) {
    use http::header;
    put(&header::CONTENT_TYPE, Value::Static(CONTENT_TYPES[format.min(1)]));
    let mut digits = [0u8; 20];
    put(&header::CONTENT_LENGTH, Value::Bytes(decimal(body_len as u64, &mut digits)));
    put(&header::CACHE_CONTROL, Value::Static("no-store"));
    put(&header::VARY, Value::Static("Accept, Accept-Language"));
    if let Some(l) = lang {
        put(&header::CONTENT_LANGUAGE, Value::Static(l.code()));
    }
    if let Some(r) = retry_after {
        put(&header::RETRY_AFTER, Value::Header(r));
    }
    let decision = match marker {
        Marker::Maintenance => "maintenance",
        Marker::Failure(_) => "upstream-error",
        Marker::UnknownHost => "unknown-host",
        Marker::BadRequest => "bad-request",
        Marker::Own => "gateway",
    };
    put(&X_HIATUS, Value::Static(decision));
    if let Marker::Failure(f) = marker {
        put(&X_HIATUS_FAILURE, Value::Static(f.code()));
    }
    put(&X_REQUEST_ID, Value::Bytes(request_id.as_bytes()));
}

/// `n` in decimal, written into the end of `buf` (no allocation).
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// Builds the response header for one of the gateway's own answers (pingora's path).
pub fn header(
    status: u16,
    format: usize,
    lang: Option<Language>,
    body_len: usize,
    marker: Marker,
    request_id: &str,
    retry_after: Option<&HeaderValue>,
) -> pingora::Result<ResponseHeader> {
    let mut h = ResponseHeader::build_no_case(status, Some(10))?;
    let mut failed = None;
    own_headers(format, lang, body_len, marker, request_id, retry_after, &mut |name, value| {
        let value = match value {
            Value::Static(s) => Ok(HeaderValue::from_static(s)),
            Value::Header(v) => Ok(v.clone()),
            Value::Bytes(b) => HeaderValue::from_bytes(b),
        };
        let inserted = value
            .map_err(|e| pingora::Error::because(pingora::ErrorType::InternalError, "header value", e))
            .and_then(|mut v| {
                // Unique per response: never worth a place in HPACK's table (see proxy.rs).
                v.set_sensitive(*name == X_REQUEST_ID);
                h.insert_header(name.clone(), v)
            });
        if let Err(e) = inserted {
            failed.get_or_insert(e);
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(h),
    }
}

pub const X_HIATUS: HeaderName = HeaderName::from_static("x-hiatus");
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_HIATUS_GENERATION: HeaderName = HeaderName::from_static("x-hiatus-generation");
pub const X_HIATUS_FAILURE: HeaderName = HeaderName::from_static("x-hiatus-failure");

/// Writes a complete response; a HEAD request gets the headers only (h2 does not strip bodies).
pub async fn write(session: &mut Session, header: ResponseHeader, body: Bytes) -> pingora::Result<()> {
    let head = session.req_header().method == http::Method::HEAD;
    // A request body nobody read would make pingora close the connection: drain it instead.
    session.set_close_on_response_before_downstream_finish(false);
    session.write_response_header(Box::new(header), false).await?;
    session.write_response_body(if head { None } else { Some(body) }, true).await?;
    Ok(())
}
