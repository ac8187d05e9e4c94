//! The pages a tenant's requests get, rendered once and cached in its `TenantRuntime`: the
//! maintenance page and the failure page, per (block, language, format). A page is rendered the
//! first time it is asked for and then served as shared bytes until its key changes.
//!
//! A tenant's pages show its own open incident, never another tenant's, and only the incident's
//! public cause (a fixed phrase): its detail (upstream address, OS or resolver error) stays with
//! logs and the admin listener. Windows come from the tenant's own verdict.

use super::{Compiled, TenantRuntime};
use crate::config::{Language, Tenant, Window};
use crate::health::Incident;
use crate::pages::{cause_words, local_time, strings, Escape, Failure, Split, REQUEST_ID};
use crate::schedule::{occurrence::from_unix, UnixTime, Verdict};
use arc_swap::ArcSwapOption;
use http::HeaderValue;
use std::sync::Arc;

/// Response formats: `[html, json]` index.
pub const HTML: usize = 0;
pub const JSON: usize = 1;

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
    /// `IncidentLog::version` when rendered: a page shows its tenant's open incident. Any
    /// incident's change renders anew (rarely needed, always right): the version is one atomic
    /// load, while asking for the tenant's own incident takes the log's lock.
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

/// The open incident of `tenant` (one at most: the log opens one per tenant), as a list for the
/// templates. Another tenant's trouble is none of this tenant's visitors' business.
fn own_incidents(compiled: &Compiled, tenant: &Tenant) -> Vec<Incident> {
    compiled.health.incidents().open_for(&tenant.id).into_iter().collect()
}

/// Incidents as the HTML pages show them: the tenant's name, the cause's words, since when.
fn incidents_html(incidents: &[Incident], tenant: &Tenant, lang: Language) -> Vec<serde_json::Value> {
    incidents
        .iter()
        .map(|i| {
            serde_json::json!({
                "tenant": tenant.display_name(), "cause": cause_words(i.cause, lang),
                "since": local_time(i.start, tenant.zone, lang),
            })
        })
        .collect()
}

/// Incidents as problem+json shows them: the cause's code and words, since when (RFC 3339).
fn incidents_json(incidents: &[Incident], lang: Language) -> Vec<serde_json::Value> {
    incidents
        .iter()
        .map(|i| serde_json::json!({ "cause": i.cause, "title": cause_words(i.cause, lang), "since": rfc3339(Some(i.start)) }))
        .collect()
}

/// Why a tenant's page could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no tenant {0} in this configuration")]
    NoSuchTenant(u32),
    #[error(transparent)]
    Page(#[from] crate::pages::PageError),
}

/// The maintenance page for a tenant: from the cache when the block is the same.
pub fn maintenance_page(
    compiled: &Compiled,
    tenant_index: u32,
    verdict: &Verdict,
    lang: Language,
    format: usize,
    now: UnixTime,
) -> Result<Arc<Rendered>, RenderError> {
    let runtime = compiled.tenants.get(tenant_index as usize).ok_or(RenderError::NoSuchTenant(tenant_index))?;
    let slot = &runtime.cache.maintenance[Compiled::lang_index(lang) * 2 + format];
    let key = PageKey::of(verdict, None, compiled.health.incidents().version());
    cached(slot, key, || render_maintenance(compiled, runtime, tenant_index, verdict, lang, format, now, key))
}

/// The page in `slot` when it was rendered for `key`; else renders, stores and returns it.
/// A race between two requests renders twice and one store wins: both pages are right.
fn cached(
    slot: &ArcSwapOption<Rendered>,
    key: PageKey,
    render: impl FnOnce() -> Result<Rendered, RenderError>,
) -> Result<Arc<Rendered>, RenderError> {
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
) -> Result<Rendered, RenderError> {
    let config = compiled.config();
    let tenant: &Tenant = config.tenants.get(tenant_index as usize).ok_or(RenderError::NoSuchTenant(tenant_index))?;
    let fallback = config.defaults.language;
    let t = strings(lang);
    let window: Option<&Window> = v.window.and_then(|w| compiled.engine.window(w));
    let title = window.and_then(|w| w.title.get(lang, fallback)).unwrap_or(t.maintenance).to_string();
    let reason = window.and_then(|w| w.reason.get(lang, fallback)).map(str::to_string);
    let zone = tenant.zone;
    let when = |x: Option<UnixTime>| x.map(|x| local_time(x, zone, lang));
    let intro = t.intro.replace("{tenant}", tenant.display_name());
    let incidents = own_incidents(compiled, tenant);
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
            "status_url": super::status_link(config), "incidents": incidents_html(&incidents, tenant, lang),
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
            "incidents": incidents_json(&incidents, lang),
            "since": rfc3339(v.since),
            "until": rfc3339(v.until),
            "firm_until": rfc3339(v.firm_until),
            "tentative": v.tentative,
            "status_url": super::status_link(config),
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
) -> Result<Arc<Rendered>, RenderError> {
    let runtime = compiled.tenants.get(tenant_index as usize).ok_or(RenderError::NoSuchTenant(tenant_index))?;
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
) -> Result<Rendered, RenderError> {
    let config = compiled.config();
    let tenant = config.tenants.get(tenant_index as usize).ok_or(RenderError::NoSuchTenant(tenant_index))?;
    let fallback = config.defaults.language;
    let t = strings(lang);
    let (heading, text) = failure.words(lang);
    let text = text.replace("{tenant}", tenant.display_name()).replace("{status}", &status.to_string());
    let zone = tenant.zone;
    let incidents = own_incidents(compiled, tenant);
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
            "status_url": super::status_link(config), "incidents": incidents_html(&incidents, tenant, lang),
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
            "incidents": incidents_json(&incidents, lang),
            "maintenance": maintenance.as_ref().map(|(h, title, when)| serde_json::json!({"heading": h, "title": title, "when": when})),
        });
        Split::new(&json.to_string(), Escape::Json)
    };
    Ok(Rendered { key, body, retry_after: None })
}
