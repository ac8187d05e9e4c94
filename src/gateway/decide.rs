//! The decision: what the gateway does with a request, as a pure function of the snapshot, the
//! request's head and `now` ([`decide`]). Both lanes (HTTP/1.1 and h2c) call it with the same
//! inputs ([`Request`]) and act on its answer ([`Decided`]); benchmarks call it directly.
//!
//! Routing runs on the path every plausible origin reading agrees on (`path::route_by`): the
//! origin receives the path as sent, so a spelling that two readings would send to different
//! tenants is refused (400), never routed to one of them.

use super::bypass;
use super::negotiate;
use super::path::{self, PathError};
use super::respond::{HTML, JSON};
use crate::compiled::Compiled;
use crate::config::Language;
use crate::hosts::{normalize_host, HOST_BUF_LEN};
use crate::schedule::{UnixTime, Verdict};
use std::net::IpAddr;

/// Most `X-Forwarded-For` field lines read: the chain is walked from the right, so only the
/// last lines can matter (a trusted proxy appends its line last).
pub const FORWARDED_LINES: usize = 8;

/// Where ACME's HTTP-01 challenges are asked for: never redirected to HTTPS.
pub const ACME_CHALLENGE: &str = "/.well-known/acme-challenge/";

/// The parts of a request the decision reads, whichever lane it came on.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `:authority`, the absolute-form target's authority, or `Host`, as sent.
    pub host: Option<&'a str>,
    /// The path as sent, without the query.
    pub path: &'a str,
    pub accept: Option<&'a str>,
    pub accept_language: Option<&'a str>,
    /// Every `X-Forwarded-For` field line, in order (the last [`FORWARDED_LINES`]).
    pub forwarded_for: &'a [&'a str],
    /// The first `X-Forwarded-Proto`, believed only from a trusted proxy.
    pub forwarded_proto: Option<&'a str>,
    /// The request's cookies as one line (several fields joined with `; `).
    pub cookie: Option<&'a str>,
    /// The socket peer.
    pub peer: Option<IpAddr>,
    /// The connection is TLS on one of the gateway's own listeners.
    pub tls: bool,
}

/// What to do with a request before any upstream is involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// No usable host, or a path that cannot be routed safely: 400.
    BadRequest,
    /// `/.hiatus/…`: served by the gateway itself.
    Own,
    /// The status page or one of its feeds.
    Status,
    /// No tenant claims the host: never forwarded.
    UnknownHost,
    /// The maintenance page.
    Maintenance,
    /// Every upstream of the tenant is known down (health checks): the failure page, 503
    /// `no_upstream`, with no connect attempt.
    NoUpstream,
    /// Plain HTTP to a tenant with `https_redirect`: to the same URL over HTTPS.
    HttpsRedirect,
    /// To the upstream; `bypass` when in maintenance but let through.
    Proxy { bypass: bool },
}

/// The decision and what it was made from.
#[derive(Debug, Clone, Copy)]
pub struct Decided {
    pub action: Action,
    pub lang: Language,
    pub format: usize,
    /// The client as the trusted proxies vouch for it ([`bypass::client_ip`]).
    pub client: Option<IpAddr>,
    /// The socket peer is a configured trusted proxy (its `X-Forwarded-*` are believed).
    pub peer_trusted: bool,
    /// The request reached the edge over TLS: on our own TLS listener, or (on a plain
    /// connection only) a trusted proxy's `X-Forwarded-Proto: https`.
    pub secure: bool,
    /// On our own TLS listener.
    pub tls: bool,
    pub route: Option<crate::engine::Route>,
    pub verdict: Option<Verdict>,
}

/// The request phase as a pure function of the snapshot, the request and `now`: routing,
/// the verdict, bypass, language and format.
pub fn decide(compiled: &Compiled, req: &Request<'_>, now: UnixTime) -> Decided {
    let config = compiled.config();
    let settings = &config.gateway;
    let peer_trusted = req.peer.is_some_and(|p| settings.trusted_proxies.iter().any(|c| c.contains(p)));
    let client = bypass::client_ip(req.peer, req.forwarded_for, &settings.trusted_proxies);
    let secure = req.tls || peer_trusted && req.forwarded_proto.is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    let mut d = Decided {
        action: Action::BadRequest,
        lang: config.defaults.language,
        format: HTML,
        client,
        peer_trusted,
        secure,
        tls: req.tls,
        route: None,
        verdict: None,
    };
    let mut buf = [0u8; HOST_BUF_LEN];
    // No host at all: only HTTP/1.0 may leave it out (the lanes refuse or pass "" otherwise).
    // It names no tenant's host: the default tenant serves it, or the unknown-host page. A host
    // that does not read as one is a bad request.
    let host = match req.host {
        Some(h) => normalize_host(h, &mut buf),
        None => Some(""),
    };
    if let Some(host) = host {
        d.action = route(compiled, req, host, client, now, &mut d);
    }
    // Only answers of our own need a language and a format: proxied requests skip the parsing.
    if !matches!(d.action, Action::Proxy { .. }) {
        (d.lang, d.format) = negotiate(compiled, req.accept, req.accept_language, d.route.and_then(|r| r.tenant));
    }
    d
}

/// The action for a request to `host` (normalised); fills in the route and verdict.
fn route(
    compiled: &Compiled,
    req: &Request<'_>,
    host: &str,
    client: Option<IpAddr>,
    now: UnixTime,
    d: &mut Decided,
) -> Action {
    let routes = compiled.engine.host_routes(host);
    // Most hosts have no path-prefix tenant: there the path decides nothing, and only an escape
    // needs a look (a malformed one is 400 everywhere). Otherwise, and on the status host, the
    // gateway's own paths in any spelling an origin would read the same way, and a tenant only
    // when every reading of the path agrees (`path`).
    let status_host = compiled.config().gateway.status_host.as_deref() == Some(host);
    let simple = !routes.by_path() && !status_host && memchr::memchr(b'%', req.path.as_bytes()).is_none();
    let plain = simple
        || match path::plain(req.path) {
            Ok(plain) => plain,
            Err(_) => return Action::BadRequest,
        };
    let canonical = if plain {
        std::borrow::Cow::Borrowed(req.path)
    } else {
        match path::canonical(req.path) {
            Ok(c) => c,
            Err(_) => return Action::BadRequest,
        }
    };
    if canonical.starts_with("/.hiatus/") {
        return Action::Own;
    }
    if status_host && super::statuspage::owns(compiled, &canonical) {
        return Action::Status;
    }
    let routed = if plain { Ok(routes.route(req.path)) } else { path::route_by(req.path, |p| routes.route(p)) };
    let mut route = match routed {
        Ok(r) => r,
        Err(PathError::Invalid(_) | PathError::Ambiguous) => return Action::BadRequest,
    };
    if route.tenant.is_none() {
        route.tenant = compiled.default_tenant;
    }
    d.route = Some(route);
    let Some(tenant) = route.tenant else { return Action::UnknownHost };
    // Before maintenance: the page is then shown over HTTPS. ACME's HTTP-01 challenges must
    // reach their answer over plain HTTP (RFC 8555 §8.3).
    if !d.secure
        && compiled.tenants.get(tenant as usize).is_some_and(|r| r.https_redirect)
        && !canonical.starts_with(ACME_CHALLENGE)
    {
        return Action::HttpsRedirect;
    }
    let verdict = compiled.engine.verdict(&route, now);
    d.verdict = Some(verdict);
    let maintenance = verdict.is_maintenance();
    if maintenance {
        let settings = &compiled.config().gateway;
        let id = compiled.config().tenants.get(tenant as usize).map_or("", |t| t.id.as_str());
        if !bypass::passes(&settings.bypass, req.path, client, req.cookie, id, now) {
            return Action::Maintenance;
        }
    }
    if compiled.tenants.get(tenant as usize).is_some_and(|r| r.all_unhealthy()) {
        Action::NoUpstream
    } else {
        Action::Proxy { bypass: maintenance }
    }
}

/// Language and format of a page: `Accept-Language`, else the tenant's language, else the
/// default; JSON when `Accept` prefers it.
pub fn negotiate(
    compiled: &Compiled,
    accept: Option<&str>,
    accept_language: Option<&str>,
    tenant: Option<u32>,
) -> (Language, usize) {
    let config = compiled.config();
    let lang = negotiate::language(accept_language)
        .or_else(|| tenant.and_then(|t| config.tenants.get(t as usize)).map(|t| t.language))
        .unwrap_or(config.defaults.language);
    (lang, if negotiate::prefers_json(accept) { JSON } else { HTML })
}
