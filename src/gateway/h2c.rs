//! The h2c lane: HTTP/2 with prior knowledge. Pingora's HTTP/2 framing and stream acceptance
//! (its handshake, its checks on each new stream, flow control, GOAWAY on shutdown), then each
//! stream decided and answered by the request core, as the HTTP/1.1 lane does: [`decide`], the
//! gateway's answers, and the same pooled HTTP/1.1 exchange with the upstream
//! (`Core::exchange`), the request body streamed up from DATA frames.
//!
//! Why not pingora's proxy: it spends most of a request in its own machinery (a session and
//! its phases, header maps converted between versions), not in HTTP/2 (benches/load: plain
//! Pingora costs 1.26× nginx there). The upstream's body is sent on as DATA frames; a chunked
//! one is decoded first (`chunked`), and its trailers are dropped.

use super::core::body::{chunk_size_line, read_body, BodyError, Parts, Piece, RequestBody, LAST_CHUNK};
use super::core::chunked::Chunked;
use super::core::exchange::{Failed, Reply, GATHER, READ_ROOM};
use super::core::fields::{classify, Field};
use super::core::io::{read_within, within};
use super::core::relay::Relayed;
use super::core::response::{Asked, ClientHead, Framing};
use super::core::upstream::{self, BodyFraming, Outgoing};
use super::core::{pool, Core, InFlight, Plan};
use super::decide::{decide, Action, Decided, Request, FORWARDED_LINES};
use super::respond::{self, Answer};
use crate::pages::Failure;
use crate::telemetry::Outcome;
use bytes::{Buf, Bytes};
use http::header;
use pingora::http::RequestHeader;
use pingora::protocols::http::v2::server::{handshake, H2Accept, HttpSession};
use pingora::protocols::{Digest, Stream};
use pingora::server::ShutdownWatch;
use std::borrow::Cow;

/// The access log's protocol of every stream of this lane.
const PROTOCOL: &str = "HTTP/2.0";
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::Sleep;

/// Streams refused as malformed before the connection is closed (pingora's own accept loop
/// allows the same number).
const MAX_REJECTED: usize = 32;

/// One HTTP/2 connection (h2c with its preface already put back on `io`, or TLS with ALPN
/// `h2`), until the client closes it, it idles past the keep-alive timeout with no stream
/// open, or a shutdown has drained it.
pub(super) async fn connection(
    core: &Arc<Core>,
    io: Stream,
    peer: Option<IpAddr>,
    shutdown: &ShutdownWatch,
    tls: bool,
) {
    let digest = Arc::new(Digest {
        ssl_digest: None,
        timing_digest: io.get_timing_digest(),
        proxy_digest: io.get_proxy_digest(),
        socket_digest: io.get_socket_digest(),
    });
    let Ok(mut conn) = handshake(io, None).await else { return };
    let mut shutdown = shutdown.clone();
    let mut closing = *shutdown.borrow();
    if closing {
        conn.graceful_shutdown();
    }
    let open = Arc::new(AtomicUsize::new(0));
    let mut rejected = 0;
    // One timer for the connection, moved on only when it fires (not per stream).
    let idle_for = core.gateway.current.load().config().gateway.keepalive_timeout;
    let mut last = tokio::time::Instant::now();
    let idle = tokio::time::sleep(idle_for);
    tokio::pin!(idle);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.changed(), if !closing => {
                // GOAWAY; the streams in flight and those the client already sent still count.
                conn.graceful_shutdown();
                closing = true;
                continue;
            }
            // Polling this is also what drives the connection: frames of open streams go out.
            a = HttpSession::from_h2_conn(&mut conn, digest.clone()) => a,
            () = &mut idle => {
                if open.load(Ordering::Relaxed) == 0 && last.elapsed() >= idle_for {
                    return;
                }
                let now = tokio::time::Instant::now();
                idle.as_mut().reset(last.max(now) + idle_for);
                continue;
            }
        };
        match accepted {
            Ok(Some(H2Accept::Session(session))) => {
                last = tokio::time::Instant::now();
                let (core, open) = (core.clone(), Open::new(&open));
                // A task on this thread's runtime, like the connection's. Boxed: the stream's
                // future is several KiB, and a task moves its future when it is made and again
                // when it completes.
                tokio::spawn(Box::pin(async move {
                    let _open = open;
                    stream(&core, session, peer, tls).await;
                }));
            }
            Ok(Some(H2Accept::Rejected)) => {
                rejected += 1;
                if rejected >= MAX_REJECTED {
                    return;
                }
            }
            // Closed by the client, or broken.
            Ok(None) | Err(_) => return,
        }
    }
}

/// Counts a stream as open while it lives (the idle timeout waits for none to be open).
struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(count: &Arc<AtomicUsize>) -> Open {
        count.fetch_add(1, Ordering::Relaxed);
        Open(count.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One stream, decided and answered.
async fn stream(core: &Core, mut s: HttpSession, peer: Option<IpAddr>, tls: bool) {
    // The request head, taken out of the session so that the session can be written while the
    // request is read; a placeholder of no cost stands in.
    let placeholder = RequestHeader::from(http::Request::new(()).into_parts().0);
    let rh = std::mem::replace(s.req_header_mut(), placeholder);
    let started = Instant::now();
    let compiled = core.gateway.current.load_full();
    let generation = compiled.shown_generation();
    // Methods and targets refused as on HTTP/1.1 (RFC 9113 §8.5: CONNECT is for tunnels, and
    // the extended CONNECT of WebSockets over HTTP/2 is not offered).
    let refused = match (&rh.method, rh.uri.path()) {
        (&http::Method::TRACE, _) => Some((405, "TRACE is not allowed here.\n")),
        (&http::Method::CONNECT, _) => Some((400, "CONNECT is not served here.\n")),
        (m, "*") if m != http::Method::OPTIONS => Some((400, "The request's target is not one this gateway serves.\n")),
        _ => None,
    };
    if let Some((status, text)) = refused {
        let id = core.gateway.next_id();
        let a = Answer::plain(status, text);
        let limit = compiled.config().gateway.write_timeout;
        let written = write_answer(&mut s, &a, (&id, generation), None, false, limit).await;
        return core.gateway.record(&crate::gateway::record::Finished {
            compiled: &compiled,
            tenant: None,
            verdict: None,
            outcome: Outcome::BadRequest,
            upstream: None,
            upstream_time: None,
            started,
            host: "",
            method: rh.method.as_str(),
            path: "",
            status: if written { status } else { 0 },
            request_id: &id,
            query: None,
            client: peer,
            protocol: PROTOCOL,
            user_agent: None,
            sent: if written { a.body.len() as u64 } else { 0 },
            received: 0,
        });
    }
    let now = core.gateway.clock.now();
    let text = |name: header::HeaderName| rh.headers.get(name).and_then(|v| v.to_str().ok());
    // Neither `:authority` nor a readable `Host`: a bad request (as "", which names no host).
    // Only an HTTP/1.0 request may name none (`decide`).
    let host = rh.uri.authority().map(|a| a.as_str()).or_else(|| text(header::HOST)).or(Some(""));
    let mut lines = [""; FORWARDED_LINES];
    let mut count = 0;
    for v in rh.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()) {
        if count == FORWARDED_LINES {
            lines.rotate_left(1);
            count -= 1;
        }
        lines[count] = v;
        count += 1;
    }
    let cookie = cookies(&rh);
    let input = Request {
        host,
        path: rh.uri.path(),
        accept: text(header::ACCEPT),
        accept_language: text(header::ACCEPT_LANGUAGE),
        forwarded_for: &lines[..count],
        forwarded_proto: text(header::HeaderName::from_static("x-forwarded-proto")),
        cookie: cookie.as_deref(),
        peer,
        tls,
    };
    let d = decide(&compiled, &input, now);
    // Only the status host's answers come in codings (`statuspage`): no lookup for the rest.
    let accept_encoding = (d.action == Action::Status).then(|| joined(&rh, header::ACCEPT_ENCODING)).flatten();
    let tenant = d.route.and_then(|r| r.tenant);
    let mut req = InFlight {
        compiled: &compiled,
        method: rh.method.as_str(),
        head_request: rh.method == http::Method::HEAD,
        host,
        path: input.path,
        query: rh.uri.query(),
        accept: input.accept,
        accept_language: input.accept_language,
        accept_encoding: accept_encoding.as_deref(),
        started,
        tenant,
        verdict: d.verdict,
        request_id: core.gateway.next_id(),
        keep_alive: true,
        hsts: super::core::hsts(&compiled, tenant, tls),
        peer,
        client: d.client,
        protocol: PROTOCOL,
        user_agent: if core.gateway.access_log.is_some() { text(header::USER_AGENT) } else { None },
        sent: 0,
        received: 0,
        upstream: None,
        upstream_started: None,
    };
    match core.plan(&req, &d, now) {
        Plan::Answer(a) if a.marker == respond::Marker::Status => {
            let (inm, ims) = (joined(&rh, header::IF_NONE_MATCH), joined(&rh, header::IF_MODIFIED_SINCE));
            let get = rh.method == http::Method::GET || rh.method == http::Method::HEAD;
            let a = super::statuspage::conditional(a, get, inm.as_deref(), ims.as_deref());
            send(core, &mut s, &mut req, &a).await
        }
        Plan::Answer(a) => send(core, &mut s, &mut req, &a).await,
        Plan::Proxy(outcome) => forward(core, &mut s, &mut req, &rh, &d, outcome).await,
    }
}

/// Every line of field `name` as one value (joined with `, `), if any.
fn joined(rh: &RequestHeader, name: header::HeaderName) -> Option<String> {
    let lines: Vec<&str> = rh.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
    (!lines.is_empty()).then(|| lines.join(", "))
}

/// The request's cookies as one line: HTTP/2 sends each cookie in a field of its own (RFC 9113
/// §8.2.3), and the bypass cookie may be any of them.
fn cookies(rh: &RequestHeader) -> Option<Cow<'_, str>> {
    let mut all = rh.headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    let first = all.next()?;
    let Some(second) = all.next() else { return Some(first.into()) };
    let mut joined = format!("{first}; {second}");
    for v in all {
        joined.push_str("; ");
        joined.push_str(v);
    }
    Some(joined.into())
}

/// Writes an answer of the gateway's own on the stream; `false` when it could not go out.
async fn write_answer(
    s: &mut HttpSession,
    a: &Answer,
    (id, generation): (&crate::gateway::record::RequestId, Option<u64>),
    hsts: Option<&http::HeaderValue>,
    head_request: bool,
    limit: Duration,
) -> bool {
    let Ok(h) = respond::header(a, id.bytes(), generation, hsts) else { return false };
    let bodiless = head_request || a.body.is_empty();
    match s.write_response_header(Box::new(h), bodiless) {
        Ok(()) if bodiless => true,
        Ok(()) => write_body(s, a.body.clone(), true, limit).await,
        Err(_) => false,
    }
}

/// One of the gateway's own answers as the stream's response, recorded.
async fn send(core: &Core, s: &mut HttpSession, req: &mut InFlight<'_>, a: &Answer) {
    let limit = req.compiled.config().gateway.write_timeout;
    let stamp = (&req.request_id, req.compiled.shown_generation());
    let written = write_answer(s, a, stamp, req.hsts, req.head_request, limit).await;
    if written && !req.head_request {
        req.sent = a.body.len() as u64;
    }
    core.record(req, a.outcome, if written { a.status } else { 0 });
}

/// `data` on the stream within `limit`. A timer only when the write has to wait (for the
/// client's flow-control window).
async fn write_body(s: &mut HttpSession, data: Bytes, end: bool, limit: Duration) -> bool {
    matches!(within(limit, s.write_body(data, end)).await, Some(Ok(())))
}

/// A stream's request body: DATA frames as they come, each within `body_timeout`; re-encoded
/// as chunks when the upstream gets it chunked.
struct H2Body<'s> {
    s: &'s mut HttpSession,
    chunked: bool,
    /// The last DATA frame read (as it goes, for a `Content-Length` body).
    data: Bytes,
    /// The size line of the chunk `data` goes up in.
    size_line: [u8; 18],
    done: bool,
    read_any: bool,
    /// Data bytes handed out (`RequestBody::received`).
    received: u64,
    timeout: Duration,
    drain: &'s crate::gateway::drain::Drain,
}

impl H2Body<'_> {
    async fn next_piece(&mut self) -> Result<Piece<'_>, BodyError> {
        loop {
            if self.done {
                return Ok(Piece::End);
            }
            self.read_any = true;
            match read_body(Some(self.drain), self.timeout, self.s.read_body_bytes()).await? {
                Err(_) => return Err(BodyError::Closed),
                Ok(None) => {
                    self.done = true;
                    if self.chunked {
                        return Ok(Piece::Bytes(Parts::one(LAST_CHUNK)));
                    }
                    return Ok(Piece::End);
                }
                Ok(Some(data)) if data.is_empty() => continue,
                Ok(Some(data)) => {
                    self.received += data.len() as u64;
                    self.data = data;
                    if self.chunked {
                        let from = self.size_line.len() - chunk_size_line(self.data.len(), &mut self.size_line).len();
                        return Ok(Piece::Bytes(Parts::chunk(&self.size_line[from..], &self.data, false)));
                    }
                    return Ok(Piece::Bytes(Parts::one(&self.data)));
                }
            }
        }
    }
}

impl RequestBody for H2Body<'_> {
    fn next(&mut self) -> impl Future<Output = Result<Piece<'_>, BodyError>> + Send {
        self.next_piece()
    }

    fn rewind(&mut self) -> bool {
        !self.read_any
    }

    fn received(&self) -> u64 {
        self.received
    }
}

/// To the tenant's upstreams over HTTP/1.1, the answer sent on as this stream's response.
async fn forward(
    core: &Core,
    s: &mut HttpSession,
    req: &mut InFlight<'_>,
    rh: &RequestHeader,
    d: &Decided,
    outcome: Outcome,
) {
    let settings = &req.compiled.config().gateway;
    let Some(runtime) = req.tenant.and_then(|t| req.compiled.tenants.get(t as usize)) else {
        return fail(core, s, req, Failure::Unavailable, 502).await;
    };
    let length =
        rh.headers.get(header::CONTENT_LENGTH).and_then(|v| super::core::response::digits(v.as_bytes().trim_ascii()));
    let framing = match (s.is_body_empty(), length) {
        (_, Some(n)) => BodyFraming::Length(n),
        (true, None) => BodyFraming::None,
        (false, None) => BodyFraming::Chunked,
    };
    let target_path = rh.raw_path();
    let outgoing = Outgoing {
        method: rh.method.as_str().as_bytes(),
        target: if target_path.is_empty() { b"/" } else { target_path },
        host: req.host.map(str::as_bytes),
        framing,
        upgrade: None,
        allow_underscores: settings.underscores_in_headers,
    };
    let mut request = Vec::with_capacity(512);
    upstream::head(&mut request, &outgoing, &MapFields(&rh.headers), req, d);
    let mut head = None;
    // The stream's one timer for upstream reads (`io::read_within`).
    let mut timer = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
    let asked = Asked { head_request: req.head_request, upgrade: false };
    let result = {
        let mut body = H2Body {
            s: &mut *s,
            chunked: framing == BodyFraming::Chunked,
            data: Bytes::new(),
            size_line: [0; 18],
            done: framing == BodyFraming::None,
            read_any: false,
            received: 0,
            timeout: settings.body_timeout,
            drain: &core.gateway.drain,
        };
        let result = core
            .exchange(req, runtime, d, &request, &mut body, asked, false, ClientHead::H2(&mut head), timer.as_mut())
            .await;
        req.received = body.received();
        result
    };
    let mut reply = match result {
        Ok(reply) => reply,
        Err(Failed::Client(BodyError::Closed)) => return core.record(req, Outcome::BadRequest, 0),
        Err(Failed::Client(e)) => {
            let mut a = Answer::plain(e.status(), e.text());
            a.outcome = e.outcome();
            return send(core, s, req, &a).await;
        }
        Err(Failed::Upstream { failure, status, .. }) => return fail(core, s, req, failure, status).await,
    };
    if req.replaces(reply.status) {
        return fail(core, s, req, Failure::UpstreamStatus, reply.status).await;
    }
    let written = head.is_some_and(|h| s.write_response_header(Box::new(h), reply.framing == Framing::None).is_ok());
    if !written {
        // Nothing went out: the stream is reset when the session drops.
        return core.record(req, outcome, 0);
    }
    let relayed = relay(s, &mut reply, runtime.read_timeout, settings.write_timeout, timer).await;
    if let (Relayed::Done { park: true }, Some(addr)) = (relayed, req.upstream) {
        pool::put(core.id, addr, reply.conn);
    }
    req.sent = reply.sent;
    core.record(req, outcome, reply.status);
}

/// An HTTP/2 request's fields (names lower case, no `Connection`: HTTP/2 has none).
struct MapFields<'h>(&'h http::HeaderMap);

impl upstream::Fields for MapFields<'_> {
    fn each(&self, mut f: impl FnMut(Field, &[u8], &[u8])) {
        for (name, value) in self.0 {
            let name = name.as_str().as_bytes();
            f(classify(name), name, value.as_bytes());
        }
    }

    fn named(&self, _: &[u8]) -> bool {
        false
    }
}

/// The failure page for what went wrong upstream.
async fn fail(core: &Core, s: &mut HttpSession, req: &mut InFlight<'_>, failure: Failure, status: u16) {
    let (lang, format) = req.negotiate();
    let a = req.failure(failure, status, lang, format);
    send(core, s, req, &a).await;
}

/// The upstream's body after the head, as DATA frames, as it comes. `Done { park }` when it all
/// went out and the upstream connection may be kept.
async fn relay(
    s: &mut HttpSession,
    reply: &mut Reply,
    read_timeout: Duration,
    write_timeout: Duration,
    mut timer: Pin<&mut Sleep>,
) -> Relayed {
    if reply.framing == Framing::None {
        return Relayed::Done { park: reply.reusable && reply.buf.len() == reply.head_len };
    }
    let buf = &mut reply.buf;
    buf.advance(reply.head_len);
    let mut left = match reply.framing {
        Framing::Length(n) => n,
        _ => 0,
    };
    let mut chunked = Chunked::default();
    let mut pieces: Vec<std::ops::Range<usize>> = Vec::new();
    let mut park = reply.reusable;
    loop {
        let done = match reply.framing {
            Framing::None => true,
            Framing::Length(_) => {
                let take = (buf.len() as u64).min(left) as usize;
                left -= take as u64;
                if take < buf.len() {
                    // More than the length said: the upstream is confused; never reuse it.
                    park = false;
                    buf.truncate(take);
                }
                left == 0
            }
            Framing::Close => false,
            Framing::Chunked => {
                pieces.clear();
                let end = match chunked.feed_with(buf, &mut |r| pieces.push(r)) {
                    Ok(end) => end,
                    Err(_) => return Relayed::Broken,
                };
                if end.is_some_and(|e| e < buf.len()) {
                    park = false;
                }
                // The chunks' data moved together to the front: one DATA frame's worth.
                let mut at = 0;
                for r in &pieces {
                    let len = r.len();
                    buf.copy_within(r.clone(), at);
                    at += len;
                }
                buf.truncate(at);
                end.is_some()
            }
        };
        let data = buf.split().freeze();
        let n = data.len() as u64;
        if (!data.is_empty() || done) && !write_body(s, data, done, write_timeout).await {
            return Relayed::Broken;
        }
        reply.sent += n;
        if done {
            return Relayed::Done { park };
        }
        if buf.capacity() < READ_ROOM {
            buf.reserve(GATHER);
        }
        match read_within(&mut reply.conn, buf, timer.as_mut(), read_timeout).await {
            Some(Ok(0)) if reply.framing == Framing::Close => {
                return if write_body(s, Bytes::new(), true, write_timeout).await {
                    Relayed::Done { park: false }
                } else {
                    Relayed::Broken
                };
            }
            Some(Ok(n)) if n > 0 => {}
            // Cut short: the stream is reset when the session drops, so the client knows.
            _ => return Relayed::Broken,
        }
    }
}
