//! Answers for the gateway's own paths, whichever host: `/.hiatus/` assets, the bypass cookie
//! (`/.hiatus/bypass/<secret>`), a 404 for anything else there; and the status page with its
//! feeds on the status host.
//!
//! The bypass cookie is bound to one tenant: the one the redirect target (`?to=/path`, a plain
//! path on the same host; `/` when absent) routes to on this host. It is host-only (no
//! `Domain`), scoped to that tenant's path prefix, `HttpOnly`, `SameSite=Lax`, and `Secure`
//! when the request reached the edge over TLS.

use super::InFlight;
use crate::compiled::Compiled;
use crate::gateway::bypass::{self, BYPASS_PATH, COOKIE};
use crate::gateway::decide::Decided;
use crate::gateway::path;
use crate::gateway::respond::{Answer, Marker};
use crate::gateway::statuscache::StatusCache;
use crate::gateway::statuspage;
use crate::hosts::{normalize_host, HOST_BUF_LEN};
use crate::pages::ASSETS;
use crate::schedule::UnixTime;
use crate::telemetry::Outcome;
use bytes::Bytes;
use http::{header, HeaderValue};

/// The answer for a path below `/.hiatus/` (`path` canonical, `query` as sent).
pub fn hiatus_path(req: &InFlight<'_>, d: &Decided, path: &str, query: Option<&str>, now: UnixTime) -> Answer {
    let compiled = req.compiled;
    let rest = path.strip_prefix("/.hiatus/").unwrap_or("");
    if let Some((_, content_type, bytes)) = ASSETS.iter().find(|(name, _, _)| *name == rest) {
        return Answer {
            status: 200,
            outcome: Outcome::Gateway,
            marker: Marker::Own,
            content_type,
            lang: None,
            cache_control: "public, max-age=3600",
            vary: None,
            retry_after: None,
            extra: Default::default(),
            body: Bytes::from_static(bytes),
        };
    }
    let settings = &compiled.config().gateway;
    if let (Some(presented), Some(secret)) = (path.strip_prefix(BYPASS_PATH), settings.bypass.secret.as_deref()) {
        if bypass::secret_matches(presented, secret) {
            if let Some(answer) = bypass_cookie(req, d, secret, query, now) {
                return answer;
            }
        }
    }
    not_found(compiled, req, d)
}

fn not_found(compiled: &Compiled, req: &InFlight<'_>, d: &Decided) -> Answer {
    let page = &compiled.shared.not_found[Compiled::lang_index(d.lang)][d.format];
    Answer::page(404, Outcome::Gateway, Marker::Own, d.format, d.lang, page.fill(&req.request_id, ""))
}

/// The redirect that sets the bypass cookie, for the tenant `?to=` routes to; `None` when no
/// tenant claims it (the caller answers 404: nothing to bypass).
fn bypass_cookie(req: &InFlight<'_>, d: &Decided, secret: &str, query: Option<&str>, now: UnixTime) -> Option<Answer> {
    let compiled = req.compiled;
    let settings = &compiled.config().gateway;
    let to =
        query.and_then(|q| q.split('&').find_map(|p| p.strip_prefix("to="))).filter(|t| plain_target(t)).unwrap_or("/");
    let mut buf = [0u8; HOST_BUF_LEN];
    let host = normalize_host(req.host?, &mut buf)?;
    let route = path::route_by(to, |p| compiled.engine.route(host, p)).ok()?;
    let index = route.tenant.or(compiled.default_tenant)?;
    let tenant = compiled.config().tenants.get(index as usize)?;
    let ttl = settings.bypass.cookie_ttl.as_secs() as i64;
    let value = bypass::issue(secret, &tenant.id, now + ttl);
    let scope = tenant.path_prefix.as_deref().unwrap_or("/");
    let secure = if d.secure { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={value}; Path={scope}; Max-Age={ttl}; HttpOnly; SameSite=Lax{secure}");
    let extra = vec![
        (header::LOCATION, HeaderValue::from_str(to).ok()?),
        (header::SET_COOKIE, HeaderValue::from_str(&cookie).ok()?),
    ];
    Some(redirect(303, extra, Bytes::new()))
}

/// A redirect of the gateway's own, never cached.
fn redirect(status: u16, extra: Vec<(header::HeaderName, HeaderValue)>, body: Bytes) -> Answer {
    Answer {
        status,
        outcome: Outcome::Gateway,
        marker: Marker::Own,
        content_type: "text/plain; charset=utf-8",
        lang: None,
        cache_control: "no-store",
        vary: None,
        retry_after: None,
        extra: extra.into(),
        body,
    }
}

/// The same URL over HTTPS (`https_redirect`): 301 for `GET` and `HEAD`, 308 for the rest
/// (a 301 may turn a `POST` into a `GET`; a 308 keeps the method and the body). The host is
/// the normalised one the request was routed by, the port the first TLS listener's.
pub fn https_redirect(req: &InFlight<'_>) -> Answer {
    let mut buf = [0u8; HOST_BUF_LEN];
    let host = req.host.and_then(|h| normalize_host(h, &mut buf)).unwrap_or_default();
    let port = match req.compiled.https_port {
        443 => String::new(),
        p => format!(":{p}"),
    };
    let query = req.query.map(|q| format!("?{q}")).unwrap_or_default();
    let location = format!("https://{host}{port}{}{query}", req.path);
    let status = if matches!(req.method, "GET" | "HEAD") { 301 } else { 308 };
    // The path and query passed the lane's parser (no controls); a value a header cannot carry
    // still gets no redirect to somewhere else.
    let Ok(value) = HeaderValue::from_bytes(location.as_bytes()) else {
        return Answer::plain(400, "The request's target cannot be redirected.\n");
    };
    redirect(status, vec![(header::LOCATION, value)], Bytes::from_static(b"This site is served over HTTPS.\n"))
}

/// A redirect target the gateway sends a browser to: a path on this host, nothing that a
/// browser would read as another host (`//evil`, `/\evil`) or another scheme.
fn plain_target(to: &str) -> bool {
    to.starts_with('/')
        && !to.starts_with("//")
        && !to.starts_with("/\\")
        && to.bytes().all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'"')
}

/// The status page or one of its feeds (`path` canonical); `statuspage` builds the answer.
pub fn status(req: &InFlight<'_>, d: &Decided, path: &str, now: UnixTime, cache: &StatusCache) -> Answer {
    let gzip = statuspage::accepts_gzip(req.accept_encoding);
    let asked = statuspage::Asked { path, query: req.query, host: req.host, secure: d.secure, lang: d.lang, gzip };
    statuspage::answer(req.compiled, &asked, now, cache)
}

#[cfg(test)]
mod tests {
    #[test]
    fn redirect_targets_stay_on_the_host() {
        for (to, ok) in [
            ("/", true),
            ("/mandant-a/", true),
            ("/a?b=c", true),
            ("//evil.example/", false),
            ("/\\evil.example/", false),
            ("https://evil.example/", false),
            ("/a b", false),
            ("", false),
        ] {
            assert_eq!(super::plain_target(to), ok, "{to:?}");
        }
    }
}
