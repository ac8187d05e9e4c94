//! The data path: pingora's `ProxyHttp` hooks, each a request phase with one job.
//!
//! - `new_ctx`: load the one [`Compiled`] this request will see (one `ArcSwap` load).
//! - `request_filter`: host → tenant → verdict at the coarse `now`; answer maintenance, unknown
//!   hosts, bad requests and `/.hiatus/` assets ourselves, or let the request through.
//! - `upstream_peer`: round robin over the tenant's healthy upstreams, the next one on a
//!   retry. None healthy: `decide` says `NoUpstream` and `request_filter` answers the failure
//!   page at once (503, `no_upstream`), with no connect attempt and the client's connection kept.
//! - `fail_to_connect`: retry an idempotent request on another upstream.
//! - `upstream_request_filter`: `X-Forwarded-*` and the request id.
//! - `response_filter` / `response_body_filter`: mark proxied responses; optionally replace an
//!   upstream's 502/503/504 body by ours (its 503 is still *not* maintenance).
//! - `fail_to_proxy`: a failure page that says what happened.
//! - `logging`: the one place a finished request is seen (metrics and access log hang here).

use super::bypass::{self, BYPASS_PATH, COOKIE};
use super::negotiate;
use super::respond::{self, Marker, HTML, JSON};
use crate::clock::Clock;
use crate::compiled::{Compiled, NoPick};
use crate::config::Language;
use crate::hosts::{normalize_host, HOST_BUF_LEN};
use crate::pages::{Failure, ASSETS};
use crate::schedule::Verdict;
use crate::telemetry::accesslog::{AccessLog, Entry};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::Outcome;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorSource, ErrorType};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Per-request state; every phase reads the same `compiled`.
#[derive(Debug)]
pub struct RequestCtx {
    pub compiled: Arc<Compiled>,
    pub request_id: RequestId,
    pub started: Instant,
    pub tenant: Option<u32>,
    pub number: Option<u32>,
    pub verdict: Option<Verdict>,
    pub outcome: Outcome,
    pub lang: Language,
    pub format: usize,
    pub client: Option<IpAddr>,
    pub peer_trusted: bool,
    pub tries: usize,
    rr_start: usize,
    pub upstream: Option<SocketAddr>,
    pub upstream_started: Option<Instant>,
    pub upstream_status: Option<u16>,
    /// An upstream 5xx whose body is being replaced by ours.
    replacing: Option<Bytes>,
    /// The gateway has answered `Expect: 100-continue` itself.
    continued: bool,
}

/// The gateway service: shared state of all requests.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub current: Arc<ArcSwap<Compiled>>,
    pub clock: Clock,
    ids: Arc<RequestIds>,
    pub metrics: Option<Arc<Metrics>>,
    pub access_log: Option<AccessLog>,
}

#[derive(Debug)]
struct RequestIds {
    prefix: u32,
    counter: AtomicU64,
}

impl Gateway {
    pub fn new(current: Arc<ArcSwap<Compiled>>, clock: Clock) -> Gateway {
        // Distinct per process start so ids from restarts do not repeat.
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let prefix = seed ^ std::process::id().rotate_left(16);
        Gateway {
            current,
            clock,
            ids: Arc::new(RequestIds { prefix, counter: AtomicU64::new(0) }),
            metrics: None,
            access_log: None,
        }
    }

    /// Counts requests into `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Gateway {
        self.metrics = Some(metrics);
        self
    }

    /// Writes one access log line per request.
    pub fn with_access_log(mut self, log: Option<AccessLog>) -> Gateway {
        self.access_log = log;
        self
    }

    pub(crate) fn next_id(&self) -> RequestId {
        RequestId::new(self.ids.prefix, self.ids.counter.fetch_add(1, Ordering::Relaxed))
    }
}

/// A request's id: 8 hex digits that differ per process start, then 10 of a counter. Kept inline
/// (no allocation per request); reads as `&str` wherever one is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId([u8; 18]);

impl RequestId {
    pub fn new(prefix: u32, counter: u64) -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        // 72 bits: 32 of the prefix, 40 of the counter.
        let digits = (u128::from(prefix) << 40) | u128::from(counter & 0xff_ffff_ffff);
        let mut out = [0u8; 18];
        for (i, d) in out.iter_mut().enumerate() {
            *d = HEX[((digits >> (4 * (17 - i))) & 0xf) as usize];
        }
        RequestId(out)
    }

    pub fn as_str(&self) -> &str {
        // Only hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The id's bytes, for a header line: no UTF-8 check (`as_str` makes one each time).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for RequestId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request id as a header value marked never to be indexed: HPACK (h2) would otherwise
/// put every response's unique id into the connection's table, evicting the entries that do
/// repeat, and search the table on every response. The h2c load benchmark spent a tenth of its
/// user time there.
pub(crate) fn request_id_value(id: &RequestId) -> http::HeaderValue {
    let mut v = http::HeaderValue::from_bytes(id.bytes()).unwrap_or(http::HeaderValue::from_static("-"));
    v.set_sensitive(true);
    v
}

/// Marks a response with the configuration generation that decided it.
pub(crate) fn stamp(h: &mut ResponseHeader, generation: u64) -> pingora::Result<()> {
    h.insert_header(respond::X_HIATUS_GENERATION, http::HeaderValue::from(generation))
}

/// The host a request names: HTTP/2's `:authority`, else the `Host` header.
fn host_of(req: &RequestHeader) -> Option<&str> {
    req.uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| req.headers.get(http::header::HOST).and_then(|v| v.to_str().ok()))
}

/// The request's cookies as one line: the one `Cookie` field, or several joined with `; ` (HTTP/2
/// sends each cookie in a field of its own, RFC 9113 §8.2.3, and the bypass cookie may be any).
pub(crate) fn cookies(req: &RequestHeader) -> Option<std::borrow::Cow<'_, str>> {
    let mut all = req.headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    let first = all.next()?;
    let Some(second) = all.next() else { return Some(first.into()) };
    let mut joined = format!("{first}; {second}");
    for v in all {
        joined.push_str("; ");
        joined.push_str(v);
    }
    Some(joined.into())
}

fn header_str(req: &RequestHeader, name: http::header::HeaderName) -> Option<&str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn is_idempotent(m: &http::Method) -> bool {
    matches!(
        *m,
        http::Method::GET
            | http::Method::HEAD
            | http::Method::OPTIONS
            | http::Method::PUT
            | http::Method::DELETE
            | http::Method::TRACE
    )
}

/// Maps pingora's error types to what we tell the user, and the status for it.
pub fn classify(e: &Error) -> (Failure, u16) {
    match e.etype() {
        ErrorType::ConnectRefused => (Failure::Refused, 502),
        ErrorType::ConnectTimedout => (Failure::ConnectTimeout, 504),
        ErrorType::ReadTimedout | ErrorType::WriteTimedout => (Failure::ReadTimeout, 504),
        ErrorType::ConnectionClosed | ErrorType::ReadError | ErrorType::WriteError => (Failure::Reset, 502),
        ErrorType::InvalidHTTPHeader | ErrorType::H1Error | ErrorType::H2Error | ErrorType::InvalidH2 => {
            (Failure::BadResponse, 502)
        }
        _ => (Failure::Unavailable, 502),
    }
}

/// Removes an upstream response's hop-by-hop fields (RFC 9110 §7.6.1): those its `Connection`
/// names, `Keep-Alive`, `Proxy-Connection`, `TE` (HTTP/2 refuses a response head with it), and
/// `Upgrade` unless protocols were switched.
/// (Pingora writes its own `Connection`.) The express lane does the same in `forward`.
fn strip_hop_by_hop(resp: &mut ResponseHeader) {
    let named: Vec<String> = resp
        .headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty() && t != "close" && t != "keep-alive")
        .collect();
    for name in named {
        resp.remove_header(name.as_str());
    }
    resp.remove_header("keep-alive");
    resp.remove_header("proxy-connection");
    resp.remove_header(&http::header::TE);
    if resp.status != http::StatusCode::SWITCHING_PROTOCOLS {
        resp.remove_header(&http::header::UPGRADE);
    }
}

/// The parts of a request the decision reads.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `:authority` or `Host`, as sent.
    pub host: Option<&'a str>,
    pub path: &'a str,
    pub accept: Option<&'a str>,
    pub accept_language: Option<&'a str>,
    pub forwarded_for: Option<&'a str>,
    pub cookie: Option<&'a str>,
    /// The socket peer.
    pub peer: Option<IpAddr>,
}

impl<'a> Request<'a> {
    /// What the decision reads of a request pingora has parsed (either lane, any version);
    /// `cookies` from [`cookies`], which may have to join several fields.
    pub(crate) fn of(req: &'a RequestHeader, cookies: Option<&'a str>, peer: Option<IpAddr>) -> Request<'a> {
        Request {
            host: host_of(req),
            path: req.uri.path(),
            accept: header_str(req, http::header::ACCEPT),
            accept_language: header_str(req, http::header::ACCEPT_LANGUAGE),
            forwarded_for: header_str(req, http::header::HeaderName::from_static("x-forwarded-for")),
            cookie: cookies,
            peer,
        }
    }
}

/// What to do with a request before any upstream is involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// No usable host: 400.
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
    /// `no_upstream`, with no connect attempt. Answered here, not from `upstream_peer`'s error:
    /// pingora's failure path would also close the client's connection on every such request.
    NoUpstream,
    /// To the upstream; `bypass` when in maintenance but let through.
    Proxy { bypass: bool },
}

/// The decision and what it was made from.
#[derive(Debug, Clone, Copy)]
pub struct Decided {
    pub action: Action,
    pub lang: Language,
    pub format: usize,
    pub client: Option<IpAddr>,
    pub peer_trusted: bool,
    pub route: Option<crate::engine::Route>,
    pub verdict: Option<Verdict>,
}

/// The request phase as a pure function of the snapshot, the request and `now`: routing,
/// the verdict, bypass, language and format. `request_filter` acts on it; benchmarks call it.
pub fn decide(compiled: &Compiled, req: &Request<'_>, now: crate::schedule::UnixTime) -> Decided {
    let config = compiled.config();
    let settings = &config.gateway;
    let peer_trusted = req.peer.is_some_and(|p| settings.trusted_proxies.iter().any(|c| c.contains(p)));
    let client = bypass::client_ip(req.peer, req.forwarded_for, &settings.trusted_proxies);
    let mut d = Decided {
        action: Action::BadRequest,
        lang: config.defaults.language,
        format: HTML,
        client,
        peer_trusted,
        route: None,
        verdict: None,
    };
    let mut buf = [0u8; HOST_BUF_LEN];
    let host = req.host.and_then(|h| normalize_host(h, &mut buf));
    if let Some(host) = host {
        if req.path.starts_with("/.hiatus/") {
            d.action = Action::Own;
        } else if super::statuspage::owns(compiled, host, req.path) {
            d.action = Action::Status;
        } else {
            let mut route = compiled.engine.route(host, req.path);
            if route.tenant.is_none() {
                route.tenant = compiled.default_tenant;
            }
            d.route = Some(route);
            d.action = match route.tenant {
                None => Action::UnknownHost,
                Some(tenant) => {
                    let verdict = compiled.engine.verdict(&route, now);
                    d.verdict = Some(verdict);
                    let maintenance = verdict.is_maintenance();
                    if maintenance && !bypass::passes(&settings.bypass, req.path, client, req.cookie, now) {
                        Action::Maintenance
                    } else if compiled.tenants.get(tenant as usize).is_some_and(|r| r.all_unhealthy()) {
                        Action::NoUpstream
                    } else {
                        Action::Proxy { bypass: maintenance }
                    }
                }
            };
        }
    }
    // Only answers of our own need a language and a format: proxied requests skip the parsing.
    if !matches!(d.action, Action::Proxy { .. }) {
        (d.lang, d.format) = negotiate(compiled, req.accept, req.accept_language, d.route.and_then(|r| r.tenant));
    }
    d
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

impl Gateway {
    /// Language and format for a page decided after the request phase (a failure page).
    fn negotiate_late(&self, session: &Session, ctx: &mut RequestCtx) {
        let req = session.req_header();
        let (lang, format) = negotiate(
            &ctx.compiled,
            header_str(req, http::header::ACCEPT),
            header_str(req, http::header::ACCEPT_LANGUAGE),
            ctx.tenant,
        );
        ctx.lang = lang;
        ctx.format = format;
    }

    /// Sends one of the gateway's own pages; `Ok(true)` for `request_filter`.
    async fn send(
        &self,
        session: &mut Session,
        ctx: &RequestCtx,
        status: u16,
        body: Bytes,
        marker: Marker,
        retry_after: Option<&http::HeaderValue>,
    ) -> pingora::Result<bool> {
        let mut h =
            respond::header(status, ctx.format, Some(ctx.lang), body.len(), marker, &ctx.request_id, retry_after)?;
        stamp(&mut h, ctx.compiled.generation)?;
        respond::write(session, h, body).await?;
        Ok(true)
    }

    async fn serve_own(&self, session: &mut Session, ctx: &mut RequestCtx, path: &str) -> pingora::Result<bool> {
        ctx.outcome = Outcome::Gateway;
        let rest = &path["/.hiatus/".len()..];
        if let Some((_, content_type, bytes)) = ASSETS.iter().find(|(name, _, _)| *name == rest) {
            let mut h = ResponseHeader::build(200, Some(4))?;
            h.insert_header(http::header::CONTENT_TYPE, *content_type)?;
            h.insert_header(http::header::CONTENT_LENGTH, bytes.len())?;
            h.insert_header(http::header::CACHE_CONTROL, "public, max-age=3600")?;
            h.insert_header("x-hiatus", "gateway")?;
            respond::write(session, h, Bytes::from_static(bytes)).await?;
            return Ok(true);
        }
        let settings = &ctx.compiled.config().gateway;
        if let (Some(presented), Some(secret)) = (path.strip_prefix(BYPASS_PATH), settings.bypass.secret.as_deref()) {
            if bypass::secret_matches(presented, secret) {
                let ttl = settings.bypass.cookie_ttl.as_secs() as i64;
                let value = bypass::issue(secret, self.clock.now() + ttl);
                let mut h = ResponseHeader::build(303, Some(5))?;
                h.insert_header(http::header::LOCATION, "/")?;
                h.insert_header(
                    http::header::SET_COOKIE,
                    format!("{COOKIE}={value}; Path=/; Max-Age={ttl}; HttpOnly; SameSite=Lax"),
                )?;
                h.insert_header(http::header::CONTENT_LENGTH, 0)?;
                h.insert_header(http::header::CACHE_CONTROL, "no-store")?;
                h.insert_header("x-hiatus", "gateway")?;
                respond::write(session, h, Bytes::new()).await?;
                return Ok(true);
            }
        }
        let page = &ctx.compiled.shared.not_found[Compiled::lang_index(ctx.lang)][ctx.format];
        let body = page.fill(&ctx.request_id, "");
        self.send(session, ctx, 404, body, Marker::Own, None).await
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        let compiled = self.current.load_full();
        let lang = compiled.config().defaults.language;
        RequestCtx {
            compiled,
            request_id: self.next_id(),
            started: Instant::now(),
            tenant: None,
            number: None,
            verdict: None,
            outcome: Outcome::Pending,
            lang,
            format: HTML,
            client: None,
            peer_trusted: false,
            tries: 0,
            rr_start: 0,
            upstream: None,
            upstream_started: None,
            upstream_status: None,
            replacing: None,
            continued: false,
        }
    }

    async fn early_request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> pingora::Result<()> {
        // Downstream keep-alive idles forever unless set per request (pingora #447); do not
        // switch an HTTP/1.0 request that did not ask for keep-alive to it.
        if session.get_keepalive().is_some() {
            session.set_keepalive(Some(ctx.compiled.config().gateway.keepalive_timeout.as_secs()));
        }
        Ok(())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> pingora::Result<bool> {
        let compiled = ctx.compiled.clone();
        let now = self.clock.now();
        let req = session.req_header();
        let cookies = cookies(req);
        let peer = session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip());
        let input = Request::of(req, cookies.as_deref(), peer);
        let d = decide(&compiled, &input, now);
        ctx.lang = d.lang;
        ctx.format = d.format;
        ctx.client = d.client;
        ctx.peer_trusted = d.peer_trusted;
        ctx.tenant = d.route.and_then(|r| r.tenant);
        ctx.number = d.route.and_then(|r| r.number);
        ctx.verdict = d.verdict;
        let lang = Compiled::lang_index(ctx.lang);
        match d.action {
            Action::BadRequest => {
                ctx.outcome = Outcome::BadRequest;
                let body = compiled.shared.bad_request[lang][ctx.format].fill(&ctx.request_id, "");
                self.send(session, ctx, 400, body, Marker::BadRequest, None).await
            }
            Action::Own => {
                let path = session.req_header().uri.path().to_string();
                self.serve_own(session, ctx, &path).await
            }
            Action::Status => {
                ctx.outcome = Outcome::Gateway;
                let path = session.req_header().uri.path().to_string();
                let incidents = compiled.health.incidents().recent(now - crate::status::HISTORY_DAYS * 86_400);
                let (status, content_type, body) =
                    super::statuspage::answer(&compiled, &path, ctx.lang, now, &incidents);
                let mut h = ResponseHeader::build_no_case(status, Some(6))?;
                h.insert_header(http::header::CONTENT_TYPE, content_type)?;
                h.insert_header(http::header::CONTENT_LENGTH, body.len())?;
                h.insert_header(http::header::CACHE_CONTROL, "no-cache")?;
                h.insert_header(http::header::VARY, "Accept-Language")?;
                h.insert_header(http::header::CONTENT_LANGUAGE, ctx.lang.code())?;
                h.insert_header(respond::X_HIATUS, "status")?;
                stamp(&mut h, ctx.compiled.generation)?;
                respond::write(session, h, body).await?;
                Ok(true)
            }
            Action::UnknownHost => {
                ctx.outcome = Outcome::UnknownHost;
                let raw_host = host_of(session.req_header()).unwrap_or("");
                let body = compiled.shared.unknown_host[lang][ctx.format].fill(&ctx.request_id, raw_host);
                let status = compiled.config().gateway.unknown_host_status;
                self.send(session, ctx, status, body, Marker::UnknownHost, None).await
            }
            Action::Maintenance => {
                ctx.outcome = Outcome::Maintenance;
                let (Some(tenant), Some(verdict)) = (ctx.tenant, ctx.verdict) else {
                    return Err(Error::explain(ErrorType::InternalError, "maintenance without tenant"));
                };
                let page =
                    crate::compiled::pages::maintenance_page(&compiled, tenant, &verdict, ctx.lang, ctx.format, now)
                        .map_err(|e| Error::explain(ErrorType::InternalError, e))?;
                let body = page.body.fill(&ctx.request_id, host_of(session.req_header()).unwrap_or(""));
                self.send(session, ctx, 503, body, Marker::Maintenance, page.retry_after.as_ref()).await
            }
            Action::NoUpstream => {
                let failure = Failure::Unavailable;
                ctx.outcome = Outcome::UpstreamError(failure);
                let (Some(tenant), Some(verdict)) = (ctx.tenant, ctx.verdict) else {
                    return Err(Error::explain(ErrorType::InternalError, "no upstream without tenant"));
                };
                let page = crate::compiled::pages::failure_page(
                    &compiled, tenant, &verdict, failure, 503, ctx.lang, ctx.format,
                )
                .map_err(|e| Error::explain(ErrorType::InternalError, e))?;
                let body = page.body.fill(&ctx.request_id, "");
                self.send(session, ctx, 503, body, Marker::Failure(failure), None).await
            }
            Action::Proxy { bypass } => {
                ctx.outcome = if bypass { Outcome::Bypass } else { Outcome::Proxied };
                // `Expect: 100-continue`: the client holds its body back until told to go on.
                // The gateway says so itself once it knows the request is proxied, as nginx
                // does; many origins never answer 100, and clients then wait (curl: a second).
                let req = session.req_header();
                if req.version == http::Version::HTTP_11
                    && req
                        .headers
                        .get(http::header::EXPECT)
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
                {
                    session.write_continue_response().await?;
                    ctx.continued = true;
                }
                Ok(false)
            }
        }
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut RequestCtx) -> pingora::Result<Box<HttpPeer>> {
        let tenant = ctx.tenant.ok_or_else(|| Error::explain(ErrorType::InternalError, "no tenant"))?;
        let runtime = ctx
            .compiled
            .tenants
            .get(tenant as usize)
            .ok_or_else(|| Error::explain(ErrorType::InternalError, "no tenant runtime"))?;
        if ctx.tries == 0 {
            ctx.rr_start = runtime.next.fetch_add(1, Ordering::Relaxed);
        }
        let addr = runtime.pick(ctx.rr_start, ctx.tries, ctx.number).map_err(|e| match e {
            // Known down: the failure page now, not after a connect timeout. 503 (not 502): no
            // upstream was asked, the gateway knows the service is unavailable for the moment,
            // as HAProxy and Envoy say it; `x-hiatus: upstream-error` tells it from maintenance.
            NoPick::Unhealthy => Error::explain(ErrorType::HTTPStatus(503), "no healthy upstream"),
            NoPick::Unusable(why) => Error::explain(ErrorType::ConnectNoRoute, why),
        })?;
        ctx.tries += 1;
        ctx.upstream = Some(addr);
        ctx.upstream_started = Some(Instant::now());
        let mut peer = HttpPeer::new(addr, false, String::new());
        peer.options.connection_timeout = Some(runtime.connect_timeout);
        peer.options.read_timeout = Some(runtime.read_timeout);
        peer.options.write_timeout = Some(ctx.compiled.config().gateway.write_timeout);
        peer.options.idle_timeout = Some(std::time::Duration::from_secs(60));
        Ok(Box::new(peer))
    }

    fn fail_to_connect(
        &self,
        session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        let upstreams = ctx.tenant.and_then(|t| ctx.compiled.tenants.get(t as usize)).map_or(1, |r| r.upstream_count());
        // Another upstream, once each, for requests that may be repeated.
        if ctx.tries < upstreams.min(3) && is_idempotent(&session.req_header().method) {
            e.set_retry(true);
        }
        e
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        up: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        let req = session.req_header();
        let client = ctx.client.map(|c| c.to_string()).unwrap_or_default();
        // A trusted proxy's chain is extended; anyone else's is replaced (no spoofing).
        let xff = match (ctx.peer_trusted, header_str(req, http::header::HeaderName::from_static("x-forwarded-for"))) {
            (true, Some(chain)) => {
                let peer =
                    session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip().to_string()).unwrap_or_default();
                format!("{chain}, {peer}")
            }
            _ => client,
        };
        up.insert_header("x-forwarded-for", xff)?;
        if !ctx.peer_trusted {
            // RFC 7239's header says the same as X-Forwarded-*: only a trusted proxy may set it.
            up.remove_header("forwarded");
        }
        let proto =
            match (ctx.peer_trusted, header_str(req, http::header::HeaderName::from_static("x-forwarded-proto"))) {
                (true, Some(p)) => http::HeaderValue::from_str(p).ok(),
                _ => None,
            };
        up.insert_header("x-forwarded-proto", proto.unwrap_or(http::HeaderValue::from_static("http")))?;
        let host = match (ctx.peer_trusted, header_str(req, http::header::HeaderName::from_static("x-forwarded-host")))
        {
            (true, Some(h)) => Some(h.to_string()),
            _ => host_of(req).map(str::to_string),
        };
        if let Some(h) = host {
            up.insert_header("x-forwarded-host", h)?;
        }
        up.insert_header("x-request-id", ctx.request_id.as_str())?;
        if ctx.continued {
            // Already answered: the origin's own 100 would reach the client a second time.
            up.remove_header(&http::header::EXPECT);
        }
        // Towards an origin server the target is in origin form (RFC 9112 §3.2.1), also for a
        // request that came in absolute form (routing has read its authority already).
        // Pingora keeps such a target verbatim for the wire, beside a `uri` of its path and
        // query: serialising from the `uri` sends the origin form.
        if !matches!(up.raw_path().first(), Some(b'/') | Some(b'*')) && up.method != http::Method::CONNECT {
            let uri = up.uri.clone();
            up.set_uri(uri);
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        let status = resp.status.as_u16();
        ctx.upstream_status = Some(status);
        let replace = ctx
            .tenant
            .and_then(|t| ctx.compiled.config().tenants.get(t as usize))
            .is_some_and(|t| t.options.replace_upstream_errors);
        if replace && matches!(status, 502..=504) {
            self.negotiate_late(session, ctx);
            if let (Some(tenant), Some(verdict)) = (ctx.tenant, ctx.verdict) {
                let page = crate::compiled::pages::failure_page(
                    &ctx.compiled,
                    tenant,
                    &verdict,
                    Failure::UpstreamStatus,
                    status,
                    ctx.lang,
                    ctx.format,
                )
                .map_err(|e| Error::explain(ErrorType::InternalError, e))?;
                let body = page.body.fill(&ctx.request_id, "");
                let h = respond::header(
                    status,
                    ctx.format,
                    Some(ctx.lang),
                    body.len(),
                    Marker::Failure(Failure::UpstreamStatus),
                    &ctx.request_id,
                    None,
                )?;
                // An upstream answer with `Content-Length: 0` ends with its header: pingora runs
                // no body filter after it, so our body could never be sent (the client would get
                // a head promising bytes that never come). Send the whole page here instead;
                // pingora's own write of the header after this filter is then a no-op.
                let no_body_follows = session.req_header().method != http::Method::HEAD
                    && resp
                        .headers
                        .get(http::header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.trim().parse::<u64>() == Ok(0));
                *resp = h;
                stamp(resp, ctx.compiled.generation)?;
                ctx.outcome = Outcome::UpstreamError(Failure::UpstreamStatus);
                if no_body_follows {
                    respond::write(session, resp.clone(), body).await?;
                } else {
                    ctx.replacing = Some(body);
                }
                return Ok(());
            }
        }
        strip_hop_by_hop(resp);
        // An HTTP/1.0 client cannot read chunked framing (RFC 9112 §6.1): without the header,
        // pingora sends the body as it is and closes the connection after it.
        if session.req_header().version == http::Version::HTTP_10
            && resp.headers.contains_key(http::header::TRANSFER_ENCODING)
        {
            resp.remove_header(&http::header::TRANSFER_ENCODING);
            session.set_keepalive(None);
        }
        // Upstream answers are marked as such: an upstream's own 503 is never "maintenance",
        // and it cannot claim a gateway failure either.
        resp.insert_header("x-hiatus", "proxied")?;
        resp.remove_header("x-hiatus-failure");
        resp.insert_header(respond::X_REQUEST_ID, request_id_value(&ctx.request_id))?;
        stamp(resp, ctx.compiled.generation)
    }

    fn response_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<Option<std::time::Duration>> {
        if ctx.replacing.is_some() {
            let head = session.req_header().method == http::Method::HEAD;
            *body = if end_of_stream && !head { ctx.replacing.take() } else { None };
        }
        Ok(None)
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut RequestCtx) -> FailToProxy {
        if session.response_written().is_some() || *e.esource() == ErrorSource::Downstream {
            return FailToProxy { error_code: 0, can_reuse_downstream: false };
        }
        let (failure, status) = match e.etype() {
            ErrorType::HTTPStatus(code) => (Failure::Unavailable, *code),
            _ => classify(e),
        };
        self.negotiate_late(session, ctx);
        ctx.outcome = Outcome::UpstreamError(failure);
        // After an upstream failure pingora closes the client connection; say so.
        if ctx.tries > 0 {
            session.set_keepalive(None);
        }
        let body = match (ctx.tenant, ctx.verdict) {
            (Some(tenant), Some(verdict)) => crate::compiled::pages::failure_page(
                &ctx.compiled,
                tenant,
                &verdict,
                failure,
                status,
                ctx.lang,
                ctx.format,
            )
            .map(|p| p.body.fill(&ctx.request_id, ""))
            .unwrap_or_else(|_| Bytes::from_static(b"upstream failure")),
            _ => Bytes::from_static(b"gateway failure"),
        };
        if let Ok(mut h) = respond::header(
            status,
            ctx.format,
            Some(ctx.lang),
            body.len(),
            Marker::Failure(failure),
            &ctx.request_id,
            None,
        ) {
            let _ = stamp(&mut h, ctx.compiled.generation);
            let _ = respond::write(session, h, body).await;
        }
        FailToProxy { error_code: status, can_reuse_downstream: ctx.tries == 0 }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        let req = session.req_header();
        self.record(&Finished {
            compiled: &ctx.compiled,
            tenant: ctx.tenant,
            verdict: ctx.verdict,
            outcome: ctx.outcome,
            upstream: ctx.upstream,
            upstream_time: ctx.upstream_started.map(|s| s.elapsed()),
            started: ctx.started,
            host: host_of(req).unwrap_or(""),
            method: req.method.as_str(),
            path: req.uri.path(),
            status: session.response_written().map_or(0, |r| r.status.as_u16()),
            request_id: &ctx.request_id,
        });
    }
}

/// A finished request as metrics and the access log see it, whichever lane served it.
#[derive(Debug)]
pub struct Finished<'a> {
    pub compiled: &'a Compiled,
    pub tenant: Option<u32>,
    pub verdict: Option<Verdict>,
    pub outcome: Outcome,
    pub upstream: Option<SocketAddr>,
    pub upstream_time: Option<std::time::Duration>,
    pub started: Instant,
    pub host: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// 0 when no response was written.
    pub status: u16,
    pub request_id: &'a RequestId,
}

impl Gateway {
    /// Counts a finished request into the metrics and writes its access log line.
    pub fn record(&self, f: &Finished<'_>) {
        let config = f.compiled.config();
        // The tenant's id only when it is needed (its first count in a configuration, a log line):
        // with many tenants, reading its configuration is a cache miss on every request.
        let tenant = || f.tenant.and_then(|t| config.tenants.get(t as usize)).map(|t| t.id.as_str());
        let label = || tenant().unwrap_or("-");
        if let Some(m) = &self.metrics {
            // The tenant's counters hang off its runtime, which the request has just used (a
            // cache line already at hand); the first request of each configuration finds them.
            let counts = match f.tenant {
                None => Some(&*m.unrouted),
                Some(t) => {
                    f.compiled.tenants.get(t as usize).map(|r| &**r.counts.get_or_init(|| m.tenants.of(label())))
                }
            };
            if let Some(counts) = counts {
                counts.request(f.outcome.index());
                if let Some(d) = f.upstream_time {
                    counts.upstream_time(d);
                }
                if let Outcome::UpstreamError(failure) = f.outcome {
                    counts.upstream_error(Failure::ALL.iter().position(|x| *x == failure).unwrap_or(0));
                }
            }
            if let Some(d) = f.upstream_time {
                m.upstream_seconds.observe(d.as_secs_f64());
            }
        }
        if let Some(log) = &self.access_log {
            let window =
                f.verdict.and_then(|v| v.window).and_then(|w| f.compiled.engine.window(w)).map(|w| w.id.as_str());
            let entry = Entry {
                time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                tenant: tenant(),
                host: f.host,
                method: f.method,
                path: f.path,
                status: f.status,
                decision: f.outcome.label(),
                window,
                upstream: f.upstream.map(|u| u.to_string()),
                upstream_ms: f.upstream_time.map(|d| d.as_secs_f64() * 1000.0),
                total_ms: f.started.elapsed().as_secs_f64() * 1000.0,
                request_id: f.request_id.as_str(),
            };
            if !log.log(&entry) {
                if let Some(m) = &self.metrics {
                    m.access_log_dropped.inc();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{request_id_value, RequestId};

    #[test]
    fn request_ids_are_never_indexed_by_hpack() {
        let id = RequestId::new(0xabcd, 42);
        let v = request_id_value(&id);
        assert_eq!((v.to_str().ok(), v.is_sensitive()), (Some(id.as_str()), true));
        let h = super::respond::header(503, 0, None, 0, super::Marker::Maintenance, id.as_str(), None)
            .unwrap_or_else(|e| panic!("{e}"));
        let own = h.headers.get(super::respond::X_REQUEST_ID).map(|v| (v.to_str().ok(), v.is_sensitive()));
        assert_eq!(own, Some((Some(id.as_str()), true)));
        assert!(!h.headers.get(http::header::CONTENT_TYPE).is_some_and(|v| v.is_sensitive()));
    }

    #[test]
    fn request_ids_are_the_prefix_then_ten_digits_of_the_counter() {
        for (prefix, counter) in [(0, 0), (0xdead_beef, 1), (u32::MAX, u64::MAX), (0x0102_0304, 0x12_3456_789a)] {
            let id = RequestId::new(prefix, counter);
            assert_eq!(id.as_str(), format!("{:08x}{:010x}", prefix, counter & 0xff_ffff_ffff));
            assert_eq!(id.to_string(), id.as_str());
        }
        assert_ne!(RequestId::new(7, 1), RequestId::new(7, 2));
    }
}
