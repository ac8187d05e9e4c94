//! The express lane for HTTP/2 with prior knowledge (h2c): pingora's HTTP/2 framing and stream
//! acceptance, then each `GET`/`HEAD` stream without a body decided and answered here, the rest
//! handed to pingora's proxy stream by stream.
//!
//! Why: on h2c, pingora's proxy spends most of a request in its own machinery (a session and
//! its phases, header maps converted between versions), not in HTTP/2 (benches/load: plain
//! Pingora costs 1.26× nginx there). The lane keeps what HTTP/2 needs from pingora (its
//! handshake, its checks on each new stream, flow control, GOAWAY on shutdown) and does the
//! rest as the HTTP/1.1 lane does: [`decide`], our pages, and the same pooled HTTP/1.1
//! exchange with the upstream ([`Express::exchange`]). The upstream's body is sent on as DATA
//! frames; a chunked one is decoded first (`chunked`), and its trailers are dropped.

use super::chunked::Chunked;
use super::forward::{self, ClientHead, Framing, Relayed, Reply, READ_ROOM};
use super::{forwarded, head::Method, pool, Express, Forwarded, InFlight, OwnPage, Plan};
use crate::gateway::proxy::{cookies, decide, stamp, Decided, Request};
use crate::gateway::respond;
use crate::pages::Failure;
use crate::telemetry::Outcome;
use bytes::{Buf, Bytes};
use http::header;
use pingora::apps::HttpServerApp;
use pingora::http::RequestHeader;
use pingora::protocols::http::v2::server::{handshake, H2Accept, HttpSession};
use pingora::protocols::http::ServerSession;
use pingora::protocols::{Digest, Stream};
use pingora::server::ShutdownWatch;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::Sleep;

/// Streams refused as malformed before the connection is closed (pingora's own accept loop
/// allows the same number).
const MAX_REJECTED: usize = 32;

/// One h2c connection (its preface already put back on `io`), until the client closes it, it
/// idles past the keep-alive timeout with no stream open, or a shutdown has drained it.
pub(super) async fn connection(app: &Arc<Express>, io: Stream, peer: Option<IpAddr>, shutdown: &ShutdownWatch) {
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
    let idle_for = app.gateway.current.load().config().gateway.keepalive_timeout;
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
                let (app, shutdown, open) = (app.clone(), shutdown.clone(), Open::new(&open));
                // A task on this thread's runtime, like the connection's. Boxed: the stream's
                // future is several KiB, and a task moves its future when it is made and again
                // when it completes.
                tokio::spawn(Box::pin(async move {
                    let _open = open;
                    stream(&app, session, peer, &shutdown).await;
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

/// One stream: decided and answered here, or pingora's.
async fn stream(app: &Arc<Express>, mut s: HttpSession, peer: Option<IpAddr>, shutdown: &ShutdownWatch) {
    let method = match s.req_header().method {
        http::Method::GET => Method::Get,
        http::Method::HEAD => Method::Head,
        _ => return to_pingora(app, s, shutdown).await,
    };
    if !s.is_body_empty() {
        return to_pingora(app, s, shutdown).await;
    }
    // The request head, taken out of the session so that the session can be written while the
    // request is read; a placeholder of no cost stands in.
    let placeholder = RequestHeader::from(http::Request::new(()).into_parts().0);
    let rh = std::mem::replace(s.req_header_mut(), placeholder);
    let started = Instant::now();
    let compiled = app.gateway.current.load_full();
    let now = app.gateway.clock.now();
    let cookies = cookies(&rh);
    let input = Request::of(&rh, cookies.as_deref(), peer);
    let d = decide(&compiled, &input, now);
    let mut req = InFlight::new(app, &compiled, &input, &d, method, started);
    let planned = app.plan(&req, &d, now);
    match planned {
        Plan::Own(page) => send_own(app, &mut s, &req, page, d.lang, d.format).await,
        Plan::Proxy(outcome) => forward(app, &mut s, &mut req, &rh, &d, outcome).await,
        Plan::Pingora => {
            *s.req_header_mut() = rh;
            to_pingora(app, s, shutdown).await;
        }
    }
}

async fn to_pingora(app: &Arc<Express>, s: HttpSession, shutdown: &ShutdownWatch) {
    app.pingora.process_new_http(ServerSession::new_http2(s), shutdown).await;
}

/// One of the gateway's own pages as a response on this stream.
async fn send_own(
    app: &Express,
    s: &mut HttpSession,
    req: &InFlight<'_>,
    page: OwnPage,
    lang: crate::config::Language,
    format: usize,
) {
    let head = respond::header(
        page.status,
        format,
        Some(lang),
        page.body.len(),
        page.marker,
        &req.request_id,
        page.retry_after.as_ref(),
    )
    .and_then(|mut h| {
        stamp(&mut h, req.compiled.generation)?;
        Ok(h)
    });
    let head_request = req.method == Method::Head;
    let written = match head {
        Ok(h) => match s.write_response_header(Box::new(h), head_request) {
            Ok(()) if head_request => true,
            Ok(()) => write_body(s, page.body, true, req).await,
            Err(_) => false,
        },
        Err(_) => false,
    };
    app.record(req, page.outcome, if written { page.status } else { 0 });
}

/// `data` on the stream within the write timeout. A timer only when the write has to wait
/// (for the client's flow-control window).
async fn write_body(s: &mut HttpSession, data: Bytes, end: bool, req: &InFlight<'_>) -> bool {
    let limit = req.compiled.config().gateway.write_timeout;
    matches!(forward::within(limit, s.write_body(data, end)).await, Some(Ok(())))
}

/// To the tenant's upstreams over HTTP/1.1, the answer sent on as this stream's response.
async fn forward(
    app: &Express,
    s: &mut HttpSession,
    req: &mut InFlight<'_>,
    rh: &RequestHeader,
    d: &Decided,
    outcome: Outcome,
) {
    let Some(runtime) = req.tenant.and_then(|t| req.compiled.tenants.get(t as usize)) else {
        return fail(app, s, req, Failure::Unavailable, 502).await;
    };
    let mut request = Vec::with_capacity(512);
    upstream_request(&mut request, req, rh, d);
    let mut head = None;
    // The stream's one timer for upstream reads (`forward::read_within`).
    let mut timer = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
    let mut reply = match app.exchange(req, runtime, d, &request, ClientHead::H2(&mut head), timer.as_mut()).await {
        Ok(reply) => reply,
        Err((failure, status)) => return fail(app, s, req, failure, status).await,
    };
    if req.replaces(reply.status) {
        return fail(app, s, req, Failure::UpstreamStatus, reply.status).await;
    }
    let written = head.is_some_and(|h| s.write_response_header(Box::new(h), reply.framing == Framing::None).is_ok());
    if !written {
        // Nothing went out: the stream is reset when the session drops.
        return app.record(req, outcome, 0);
    }
    let relayed = relay(s, &mut reply, runtime.read_timeout, req, timer).await;
    if let (Relayed::Done { park: true }, Some(addr)) = (relayed, req.upstream) {
        pool::put(app.id, addr, reply.conn);
    }
    app.record(req, outcome, reply.status);
}

/// The failure page for what went wrong upstream.
async fn fail(app: &Express, s: &mut HttpSession, req: &InFlight<'_>, failure: Failure, status: u16) {
    let (lang, format) = req.negotiate();
    match req.failure_page(failure, status, lang, format) {
        Some(page) => send_own(app, s, req, page, lang, format).await,
        // Dropping the session resets the stream: the client sees a failed request.
        None => app.record(req, Outcome::UpstreamError(failure), 0),
    }
}

/// The HTTP/1.1 request head for the upstream from an HTTP/2 request: the `:authority` as
/// `Host`, the cookies in one field, less what HTTP/2 forbids or the gateway sets itself.
fn upstream_request(up: &mut Vec<u8>, req: &InFlight<'_>, rh: &RequestHeader, d: &Decided) {
    up.extend_from_slice(req.method.as_str().as_bytes());
    up.push(b' ');
    up.extend_from_slice(rh.raw_path());
    up.extend_from_slice(b" HTTP/1.1\r\n");
    let host = req.host.map(str::as_bytes);
    if !rh.headers.contains_key(header::HOST) {
        if let Some(h) = host {
            super::wire::header(up, b"host", h);
        }
    }
    let mut cookies_done = false;
    // The client's `X-Forwarded-*` (the first of each), taken on the way for `forwarded`.
    let mut sent = Forwarded { chain: None, proto: None, host: None, authority: host };
    for (name, value) in &rh.headers {
        let hop = matches!(
            *name,
            header::CONNECTION | header::TE | header::TRANSFER_ENCODING | header::UPGRADE | header::PROXY_AUTHORIZATION
        );
        if hop || (!d.peer_trusted && name == header::FORWARDED) {
            continue;
        }
        if name == header::COOKIE {
            if !cookies_done {
                cookies_done = true;
                up.extend_from_slice(b"cookie: ");
                for (i, v) in rh.headers.get_all(header::COOKIE).iter().enumerate() {
                    if i > 0 {
                        up.extend_from_slice(b"; ");
                    }
                    up.extend_from_slice(v.as_bytes());
                }
                up.extend_from_slice(b"\r\n");
            }
            continue;
        }
        let seen = match name.as_str() {
            "keep-alive" | "proxy-connection" | "x-request-id" => continue,
            "x-forwarded-for" => &mut sent.chain,
            "x-forwarded-proto" => &mut sent.proto,
            "x-forwarded-host" => &mut sent.host,
            _ => {
                super::wire::header(up, name.as_str().as_bytes(), value.as_bytes());
                continue;
            }
        };
        seen.get_or_insert(value.as_bytes());
    }
    forwarded(up, req, d, &sent);
}

/// The upstream's body after the head, as DATA frames, as it comes. `Done { park }` when it all
/// went out and the upstream connection may be kept.
async fn relay(
    s: &mut HttpSession,
    reply: &mut Reply,
    read_timeout: Duration,
    req: &InFlight<'_>,
    mut timer: Pin<&mut Sleep>,
) -> Relayed {
    if reply.framing == Framing::None {
        return Relayed::Done { park: reply.reusable };
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
        if (!data.is_empty() || done) && !write_body(s, data, done, req).await {
            return Relayed::Broken;
        }
        if done {
            return Relayed::Done { park };
        }
        if buf.capacity() < READ_ROOM {
            buf.reserve(forward::GATHER);
        }
        match forward::read_within(&mut reply.conn, buf, timer.as_mut(), read_timeout).await {
            Some(Ok(0)) if reply.framing == Framing::Close => {
                return if write_body(s, Bytes::new(), true, req).await {
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
