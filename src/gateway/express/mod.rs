//! The express lane: Hiatus's own HTTP/1.1 path for the requests nearly all traffic is made of,
//! in front of pingora's proxy, which keeps everything else.
//!
//! Why: pingora's general machinery (a header map per message, a session object, a task
//! wake-up per phase) costs 1.3–1.6× nginx's CPU per request on its own, and the issue's
//! target is nginx (benches/load). The lane reads a head with `httparse` into spans of the
//! connection's buffer, decides with the same [`decide`] as pingora's hooks, and either writes
//! the gateway's own page in one write or forwards to a pooled upstream connection and relays
//! the answer with its framing kept.
//!
//! What it takes: `GET`/`HEAD` over HTTP/1.1 without a body (see [`head`]), and the same as
//! streams of an h2c connection (`h2c`, on pingora's HTTP/2 framing). Everything else is
//! handed to pingora *per request*, with the bytes already read put back on the stream: bodies,
//! upgrades, HTTP/1.0, the status page and `/.hiatus/` assets (on h2c: per stream). After
//! pingora's answer the connection comes back to the lane. Both lanes answer with the
//! same pages, headers, metrics and access log lines (`respond::own_headers`,
//! `Gateway::record`); the integration tests run every request through this entry point.
//!
//! - `head`: parse and the lane's admission; `forward`: one upstream exchange and the relay;
//!   `chunked`: where a chunked body ends; `pool`: idle upstream connections per thread;
//!   `wire`: the bytes of our own answers; `h2c`: HTTP/2 streams.

mod chunked;
mod forward;
mod h2c;
pub mod head;
pub mod pool;
mod wire;

use self::forward::{Exchange, Framing, Relayed};
use self::head::{Head, Parsed};
use super::proxy::{decide, Action, Decided, Finished, Gateway, Request};
use super::respond::Marker;
use crate::compiled::{Compiled, NoPick};
use crate::pages::Failure;
use crate::telemetry::Outcome;
use async_trait::async_trait;
use bytes::{Buf, BytesMut};
use pingora::apps::{HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::Stream;
use pingora::proxy::HttpProxy;
use pingora::server::configuration::ServerConf;
use pingora::server::ShutdownWatch;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// The first bytes of an HTTP/2 connection with prior knowledge (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Distinguishes apps in one process: the per-thread pool is keyed by it.
static APPS: AtomicU64 = AtomicU64::new(1);

/// The server app on every listener: the express lane, and pingora's proxy behind it.
pub struct Express {
    gateway: Gateway,
    pingora: Arc<HttpProxy<Gateway>>,
    h2c: bool,
    id: u64,
}

impl std::fmt::Debug for Express {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Express").field("h2c", &self.h2c).field("id", &self.id).finish_non_exhaustive()
    }
}

/// What the connection loop does after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    KeepAlive,
    Close,
    /// Not this lane's: pingora answers it.
    Pingora,
}

impl Express {
    pub fn new(gateway: Gateway, conf: &Arc<ServerConf>, h2c: bool) -> Express {
        let mut proxy = pingora::proxy::http_proxy(conf, gateway.clone());
        proxy.server_options = Some(super::server::server_options(h2c));
        Express { gateway, pingora: Arc::new(proxy), h2c, id: APPS.fetch_add(1, Ordering::Relaxed) }
    }

    /// One client connection, request by request.
    async fn connection(self: &Arc<Self>, mut io: Stream, shutdown: &ShutdownWatch) {
        if !io.as_any().is::<L4Stream>() {
            // Only a plain socket can have bytes put back (TLS is not served here).
            ServerApp::process_new(&self.pingora, io, shutdown).await;
            return;
        }
        let peer = io.get_socket_digest().and_then(|d| d.peer_addr().and_then(|a| a.as_inet()).map(|a| a.ip()));
        let mut buf = BytesMut::with_capacity(2048);
        let mut scratch = Scratch::new();
        let mut first = true;
        // When the head being read must be complete; set once its first byte is here.
        let mut head_deadline: Option<tokio::time::Instant> = None;
        // The connection's one timer for reading heads, moved on before each read.
        let timer = tokio::time::sleep(std::time::Duration::ZERO);
        tokio::pin!(timer);
        loop {
            let parsed = loop {
                if !buf.is_empty() {
                    if first && self.h2c && H2_PREFACE.starts_with(&buf[..buf.len().min(H2_PREFACE.len())]) {
                        if buf.len() >= H2_PREFACE.len() {
                            // HTTP/2 with prior knowledge: the whole connection is HTTP/2.
                            if let Some(io) = rewound(io, &buf) {
                                h2c::connection(self, io, peer, shutdown).await;
                            }
                            return;
                        }
                    } else {
                        match head::parse(&buf) {
                            Parsed::Partial => {}
                            other => break other,
                        }
                    }
                }
                let now = tokio::time::Instant::now();
                let deadline = {
                    let current = self.gateway.current.load();
                    let settings = &current.config().gateway;
                    if buf.is_empty() {
                        now + settings.keepalive_timeout
                    } else {
                        // A head has begun: all of it within `header_timeout` of its first byte,
                        // however slowly it trickles in (not per read: "slowloris").
                        *head_deadline.get_or_insert(now + settings.header_timeout)
                    }
                };
                // Moving a timer's deadline later is an atomic store; a new timer per read
                // would be an insert into tokio's wheel and a removal from it each time.
                timer.as_mut().reset(deadline);
                if buf.capacity() - buf.len() < 1024 {
                    buf.reserve(4096);
                }
                let read = tokio::select! {
                    biased;
                    read = io.read_buf(&mut buf) => Some(read),
                    () = &mut timer => None,
                };
                match read {
                    Some(Ok(n)) if n > 0 => {}
                    None if !buf.is_empty() => {
                        self.refuse(&mut io, 408, "The request's header did not arrive in time.\n").await;
                        return;
                    }
                    // Closed, failed or idle too long between requests.
                    _ => return,
                }
            };
            first = false;
            head_deadline = None;
            if let Parsed::TooLarge = parsed {
                let text = format!("The request's header is larger than {} KiB.\n", head::MAX_HEAD / 1024);
                self.refuse(&mut io, 431, &text).await;
                return;
            }
            let next = match &parsed {
                Parsed::Express(head) => {
                    let closing = *shutdown.borrow();
                    let next = self.answer(&mut io, &buf, head, peer, closing, &mut scratch).await;
                    if next != Next::Pingora {
                        buf.advance(head.len);
                    }
                    next
                }
                _ => Next::Pingora,
            };
            match next {
                Next::KeepAlive => {}
                Next::Close => return,
                Next::Pingora => {
                    let Some(back) = rewound(io, &buf) else { return };
                    buf.clear();
                    let mut session = ServerSession::new_http1(back);
                    let keepalive = self.gateway.current.load().config().gateway.keepalive_timeout.as_secs();
                    session.set_keepalive(if *shutdown.borrow() { None } else { Some(keepalive) });
                    match self.pingora.process_new_http(session, shutdown).await {
                        Some(reused) => io = reused.consume().0,
                        None => return,
                    }
                }
            }
        }
    }

    /// An answer to a head that cannot be read: 431 for one over [`head::MAX_HEAD`], 408 for one
    /// that does not arrive within `header_timeout`. The connection then closes (the rest of the
    /// head is never read). Plain text: nothing of the request is known, not even its tenant.
    async fn refuse(&self, io: &mut Stream, status: u16, body: &str) {
        let compiled = self.gateway.current.load_full();
        let id = self.gateway.next_id();
        let out = &mut Vec::with_capacity(512);
        wire::status_line(out, status);
        wire::header(out, b"content-type", b"text/plain; charset=utf-8");
        wire::header(out, b"content-length", body.len().to_string().as_bytes());
        wire::header(out, b"x-hiatus", b"bad-request");
        wire::header(out, b"x-request-id", id.as_bytes());
        wire::date(out);
        wire::header(out, b"connection", b"close");
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body.as_bytes());
        let written = forward::write_all(io, out, compiled.config().gateway.write_timeout).await;
        self.gateway.record(&Finished {
            compiled: &compiled,
            tenant: None,
            verdict: None,
            outcome: Outcome::BadRequest,
            upstream: None,
            upstream_time: None,
            started: Instant::now(),
            host: "",
            method: "",
            path: "",
            status: if written { status } else { 0 },
            request_id: &id,
        });
    }

    /// Decides and answers one request of this lane.
    async fn answer(
        &self,
        io: &mut Stream,
        buf: &[u8],
        head: &Head,
        peer: Option<IpAddr>,
        closing: bool,
        scratch: &mut Scratch,
    ) -> Next {
        let started = Instant::now();
        let compiled = self.gateway.current.load_full();
        let now = self.gateway.clock.now();
        let text = |s: Option<head::Span>| s.map(|s| s.str(buf));
        let input = Request {
            host: text(head.host),
            path: head.path.str(buf),
            accept: text(head.accept),
            accept_language: text(head.accept_language),
            forwarded_for: text(head.forwarded_for),
            cookie: text(head.cookie),
            peer,
        };
        let d = decide(&compiled, &input, now);
        let mut req = InFlight::new(self, &compiled, &input, &d, head.method, started);
        req.keep_alive = !head.close && !closing;
        let own = match self.plan(&req, &d, now) {
            Plan::Pingora => return Next::Pingora,
            Plan::Own(page) => page,
            Plan::Proxy(outcome) => return self.forward(io, &mut req, head, buf, &d, outcome, scratch).await,
        };
        self.send_own(io, &mut req, own, d.lang, d.format, scratch).await
    }

    /// What a decided request gets, for either lane: one of our pages, the upstream's answer, or
    /// pingora's handling (the status page, `/.hiatus/`, and pages that cannot be rendered).
    fn plan(&self, req: &InFlight<'_>, d: &Decided, now: crate::schedule::UnixTime) -> Plan {
        let compiled = req.compiled;
        let lang = Compiled::lang_index(d.lang);
        let raw_host = req.host.unwrap_or("");
        let page =
            |status, body: bytes::Bytes, marker, outcome| OwnPage { status, body, marker, outcome, retry_after: None };
        Plan::Own(match d.action {
            Action::Own | Action::Status => return Plan::Pingora,
            Action::BadRequest => {
                let body = compiled.shared.bad_request[lang][d.format].fill(&req.request_id, "");
                page(400, body, Marker::BadRequest, Outcome::BadRequest)
            }
            Action::UnknownHost => {
                let body = compiled.shared.unknown_host[lang][d.format].fill(&req.request_id, raw_host);
                let status = compiled.config().gateway.unknown_host_status;
                page(status, body, Marker::UnknownHost, Outcome::UnknownHost)
            }
            Action::Maintenance => {
                let (Some(t), Some(verdict)) = (req.tenant, d.verdict) else { return Plan::Pingora };
                let Ok(rendered) =
                    crate::compiled::pages::maintenance_page(compiled, t, &verdict, d.lang, d.format, now)
                else {
                    return Plan::Pingora;
                };
                let body = rendered.body.fill(&req.request_id, raw_host);
                let mut p = page(503, body, Marker::Maintenance, Outcome::Maintenance);
                p.retry_after = rendered.retry_after.clone();
                p
            }
            Action::NoUpstream => match req.failure_page(Failure::Unavailable, 503, d.lang, d.format) {
                Some(p) => p,
                None => return Plan::Pingora,
            },
            Action::Proxy { bypass } => return Plan::Proxy(if bypass { Outcome::Bypass } else { Outcome::Proxied }),
        })
    }

    /// Writes one of the gateway's own pages and records the request.
    async fn send_own(
        &self,
        io: &mut Stream,
        req: &mut InFlight<'_>,
        page: OwnPage,
        lang: crate::config::Language,
        format: usize,
        scratch: &mut Scratch,
    ) -> Next {
        let out = &mut scratch.out;
        out.clear();
        wire::own(
            out,
            &wire::Own {
                status: page.status,
                format,
                lang,
                marker: page.marker,
                request_id: &req.request_id,
                retry_after: page.retry_after.as_ref(),
                generation: req.compiled.generation,
                body: &page.body,
                head_request: req.method == head::Method::Head,
                keep_alive: req.keep_alive,
            },
        );
        let written = forward::write_all(io, out, req.compiled.config().gateway.write_timeout).await;
        self.record(req, page.outcome, if written { page.status } else { 0 });
        if written && req.keep_alive {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    /// To the tenant's upstreams, the answer relayed; a failure page when none answers.
    #[allow(clippy::too_many_arguments)]
    async fn forward(
        &self,
        io: &mut Stream,
        req: &mut InFlight<'_>,
        head: &Head,
        buf: &[u8],
        d: &Decided,
        outcome: Outcome,
        scratch: &mut Scratch,
    ) -> Next {
        let Some(runtime) = req.tenant.and_then(|t| req.compiled.tenants.get(t as usize)) else {
            return Next::Pingora;
        };
        upstream_request(&mut scratch.request, req, head, buf, d);
        let timer = scratch.upstream_timer.as_mut();
        let mut reply = match self
            .exchange(req, runtime, d, &scratch.request, forward::ClientHead::H1(&mut scratch.out), timer)
            .await
        {
            Ok(reply) => reply,
            Err((failure, status)) => return self.fail(io, req, failure, status, scratch).await,
        };
        if req.replaces(reply.status) {
            // Ours instead of the upstream's error; its connection is not kept (body unread).
            return self.fail(io, req, Failure::UpstreamStatus, reply.status, scratch).await;
        }
        let keep_alive = req.keep_alive && reply.framing != Framing::Close;
        let settings = &req.compiled.config().gateway;
        let out = &mut scratch.out;
        let timer = scratch.upstream_timer.as_mut();
        let relayed = forward::relay(io, &mut reply, out, runtime.read_timeout, settings.write_timeout, timer).await;
        let status = reply.status;
        match relayed {
            Relayed::Done { park } => {
                if park {
                    if let Some(addr) = req.upstream {
                        pool::put(self.id, addr, reply.conn);
                    }
                }
                self.record(req, outcome, status);
                if keep_alive {
                    Next::KeepAlive
                } else {
                    Next::Close
                }
            }
            Relayed::Broken => {
                self.record(req, outcome, status);
                Next::Close
            }
        }
    }

    /// One exchange with the tenant's upstreams, for either lane: the next healthy one, another
    /// on a connect failure (once each, at most three). The client's head is made from the
    /// same parse (`client_head`).
    async fn exchange(
        &self,
        req: &mut InFlight<'_>,
        runtime: &crate::compiled::TenantRuntime,
        d: &Decided,
        request: &[u8],
        mut client_head: forward::ClientHead<'_>,
        mut timer: Pin<&mut tokio::time::Sleep>,
    ) -> Result<forward::Reply, (Failure, u16)> {
        let settings = &req.compiled.config().gateway;
        let number = d.route.and_then(|r| r.number);
        let start = runtime.next.fetch_add(1, Ordering::Relaxed);
        let most = runtime.upstream_count().clamp(1, 3);
        let mut tries = 0;
        loop {
            let addr = match runtime.pick(start, tries, number) {
                Ok(a) => a,
                Err(NoPick::Unhealthy) => return Err((Failure::Unavailable, 503)),
                Err(NoPick::Unusable(_)) => return Err((Failure::Unavailable, 502)),
            };
            tries += 1;
            req.upstream = Some(addr);
            req.upstream_started = Some(Instant::now());
            let x = Exchange {
                app: self.id,
                addr,
                request,
                head_request: req.method == head::Method::Head,
                connect_timeout: runtime.connect_timeout,
                read_timeout: runtime.read_timeout,
                write_timeout: settings.write_timeout,
                stamp: forward::Stamp {
                    request_id: &req.request_id,
                    generation: req.compiled.generation,
                    keep_alive: req.keep_alive,
                },
            };
            let buf = BytesMut::with_capacity(forward::GATHER);
            match forward::exchange(&x, buf, client_head.reborrow(), timer.as_mut()).await {
                Ok(reply) => return Ok(reply),
                Err(f) if f.before_request && tries < most => continue,
                Err(f) => return Err((f.failure, f.status)),
            }
        }
    }

    /// The failure page for what went wrong upstream; the client's connection stays.
    async fn fail(
        &self,
        io: &mut Stream,
        req: &mut InFlight<'_>,
        failure: Failure,
        status: u16,
        scratch: &mut Scratch,
    ) -> Next {
        let (lang, format) = req.negotiate();
        match req.failure_page(failure, status, lang, format) {
            Some(page) => self.send_own(io, req, page, lang, format, scratch).await,
            None => Next::Close,
        }
    }

    fn record(&self, req: &InFlight<'_>, outcome: Outcome, status: u16) {
        self.gateway.record(&Finished {
            compiled: req.compiled,
            tenant: req.tenant,
            verdict: req.verdict,
            outcome,
            upstream: req.upstream,
            upstream_time: req.upstream_started.map(|s| s.elapsed()),
            started: req.started,
            host: req.host.unwrap_or(""),
            method: req.method.as_str(),
            path: req.path,
            status,
            request_id: &req.request_id,
        });
    }
}

/// What a decided request gets.
#[derive(Debug)]
enum Plan {
    Own(OwnPage),
    Proxy(Outcome),
    Pingora,
}

/// What a connection keeps between its requests.
#[derive(Debug)]
struct Scratch {
    /// What goes to the client next.
    out: Vec<u8>,
    /// The request head for the upstream.
    request: Vec<u8>,
    /// The deadline of upstream reads (`forward::read_within`).
    upstream_timer: Pin<Box<tokio::time::Sleep>>,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch { out: Vec::new(), request: Vec::new(), upstream_timer: Box::pin(tokio::time::sleep(Duration::ZERO)) }
    }
}

/// A request in progress, on either lane: what its answer and its record need.
#[derive(Debug)]
struct InFlight<'a> {
    compiled: &'a Arc<Compiled>,
    method: head::Method,
    host: Option<&'a str>,
    /// Without the query.
    path: &'a str,
    accept: Option<&'a str>,
    accept_language: Option<&'a str>,
    started: Instant,
    tenant: Option<u32>,
    verdict: Option<crate::schedule::Verdict>,
    request_id: super::proxy::RequestId,
    keep_alive: bool,
    /// The socket peer.
    peer: Option<IpAddr>,
    upstream: Option<std::net::SocketAddr>,
    upstream_started: Option<Instant>,
}

/// A page of the gateway's own, ready to write.
#[derive(Debug)]
struct OwnPage {
    status: u16,
    body: bytes::Bytes,
    marker: Marker,
    outcome: Outcome,
    retry_after: Option<http::HeaderValue>,
}

impl<'a> InFlight<'a> {
    fn new(
        app: &Express,
        compiled: &'a Arc<Compiled>,
        input: &Request<'a>,
        d: &Decided,
        method: head::Method,
        started: Instant,
    ) -> InFlight<'a> {
        InFlight {
            compiled,
            method,
            host: input.host,
            path: input.path,
            accept: input.accept,
            accept_language: input.accept_language,
            started,
            tenant: d.route.and_then(|r| r.tenant),
            verdict: d.verdict,
            request_id: app.gateway.next_id(),
            keep_alive: true,
            peer: input.peer,
            upstream: None,
            upstream_started: None,
        }
    }

    /// Language and format of a page decided after the request phase (proxied requests skip
    /// the negotiation until then).
    fn negotiate(&self) -> (crate::config::Language, usize) {
        super::proxy::negotiate(self.compiled, self.accept, self.accept_language, self.tenant)
    }

    /// Whether the gateway answers instead of the upstream's error status (a tenant option).
    fn replaces(&self, status: u16) -> bool {
        // The status first: the tenant's options are only read for an error status.
        matches!(status, 502..=504)
            && self
                .tenant
                .and_then(|t| self.compiled.config().tenants.get(t as usize))
                .is_some_and(|t| t.options.replace_upstream_errors)
    }

    fn failure_page(
        &self,
        failure: Failure,
        status: u16,
        lang: crate::config::Language,
        format: usize,
    ) -> Option<OwnPage> {
        let (t, verdict) = (self.tenant?, self.verdict?);
        let rendered =
            crate::compiled::pages::failure_page(self.compiled, t, &verdict, failure, status, lang, format).ok()?;
        Some(OwnPage {
            status,
            body: rendered.body.fill(&self.request_id, ""),
            marker: Marker::Failure(failure),
            outcome: Outcome::UpstreamError(failure),
            retry_after: None,
        })
    }
}

/// The request head for the upstream: the client's, less hop-by-hop headers, plus the
/// `X-Forwarded-*` set and the request id (a trusted proxy's chain extended, anyone else's
/// replaced: the same rules as pingora's path, `upstream_request_filter`).
fn upstream_request(up: &mut Vec<u8>, req: &InFlight<'_>, head: &Head, buf: &[u8], d: &Decided) {
    up.clear();
    up.extend_from_slice(head.method.as_str().as_bytes());
    up.push(b' ');
    up.extend_from_slice(head.target.bytes(buf));
    up.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in head.passed() {
        let name = name.bytes(buf);
        // RFC 7239's header says the same as X-Forwarded-*: only a trusted proxy may set it.
        if !d.peer_trusted && name.eq_ignore_ascii_case(b"forwarded") {
            continue;
        }
        wire::header(up, name, value.bytes(buf));
    }
    let text = |s: Option<head::Span>| s.map(|s| s.bytes(buf));
    let sent = Forwarded {
        chain: text(head.forwarded_for),
        proto: text(head.forwarded_proto),
        host: text(head.forwarded_host),
        authority: text(head.host),
    };
    forwarded(up, req, d, &sent);
}

/// What a client sent about the proxies before it, and the host it asked for.
#[derive(Debug, Clone, Copy)]
struct Forwarded<'a> {
    /// `X-Forwarded-For`, `-Proto`, `-Host`.
    chain: Option<&'a [u8]>,
    proto: Option<&'a [u8]>,
    host: Option<&'a [u8]>,
    /// `Host` (HTTP/1.1) or `:authority` (HTTP/2).
    authority: Option<&'a [u8]>,
}

/// The end of an upstream request head, for either lane: the `X-Forwarded-*` set and the
/// request id, then the blank line.
fn forwarded(up: &mut Vec<u8>, req: &InFlight<'_>, d: &Decided, sent: &Forwarded<'_>) {
    up.extend_from_slice(b"x-forwarded-for: ");
    match (d.peer_trusted, sent.chain) {
        (true, Some(chain)) => {
            up.extend_from_slice(chain);
            up.extend_from_slice(b", ");
            // The trusted peer itself joins the chain.
            if let Some(p) = req.peer {
                wire::ip(up, p);
            }
        }
        _ => {
            if let Some(c) = d.client {
                wire::ip(up, c);
            }
        }
    }
    up.extend_from_slice(b"\r\n");
    let proto = match (d.peer_trusted, sent.proto) {
        (true, Some(p)) => p,
        _ => b"http",
    };
    wire::header(up, b"x-forwarded-proto", proto);
    let host = match (d.peer_trusted, sent.host) {
        (true, Some(h)) => Some(h),
        _ => sent.authority,
    };
    if let Some(h) = host {
        wire::header(up, b"x-forwarded-host", h);
    }
    wire::header(up, b"x-request-id", req.request_id.bytes());
    up.extend_from_slice(b"\r\n");
}

/// `io` with `bytes` put back in front of what is still unread.
fn rewound(io: Stream, bytes: &[u8]) -> Option<Stream> {
    let mut l4 = io.into_any().downcast::<L4Stream>().ok()?;
    l4.rewind(bytes);
    Some(l4)
}

#[async_trait]
impl ServerApp for Express {
    async fn process_new(self: &Arc<Self>, io: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        self.connection(io, shutdown).await;
        None
    }

    async fn cleanup(&self) {
        ServerApp::cleanup(&*self.pingora).await;
    }
}
