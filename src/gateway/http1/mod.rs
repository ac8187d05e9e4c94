//! The HTTP/1.1 lane: a client connection read request by request, each one decided and
//! answered by the request core (`core`). Every request shape takes this lane: bodies
//! (`Content-Length` and chunked, streamed both ways), `Expect: 100-continue`, WebSocket
//! upgrades, HTTP/1.0, pipelining, the gateway's own answers and the status page.
//!
//! A head is parsed into spans of the connection's buffer (`head`); the upstream head is made by
//! the core's one builder (`core::upstream`); the body streams through `body`; the response is
//! relayed with its framing kept (`core::relay`), or an upgraded connection is tunnelled.
//!
//! Connection rules: a head must be complete within `header_timeout` of its first byte (408),
//! an idle connection closes after `keepalive_timeout` (during a stop, after half a second:
//! `drain`, whose answers say `Connection: close`); a refused request (`head::Refusal`) and
//! an answer that leaves a body unread close the connection after a lingering read, so that
//! the client gets the answer rather than a reset (nginx's `lingering_close`).

pub mod body;
pub mod head;
pub mod wire;

use self::body::H1Body;
use self::head::{Body, Head, Refusal, Step};
use super::core::fields::{name_is, Field};
use super::core::io::write_all;
use super::core::relay::{relay, Relayed};
use super::core::response::{Asked, ClientHead, Framing};
use super::core::upstream::{self, BodyFraming, Outgoing};
use super::core::{buffers, exchange::Failed, pool, tunnel, Core, InFlight, Plan};
use super::decide::{decide, Action, Request, FORWARDED_LINES};
use super::drain::IDLE_BEFORE_CLOSING;
use super::respond::{Answer, Marker};
use super::statuspage;
use crate::telemetry::Outcome;
use bytes::{Buf, BytesMut};
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::borrow::Cow;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The first bytes of an HTTP/2 connection with prior knowledge (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long, and how much, a closing connection is read and discarded after its last answer.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;
/// How long a TLS connection's close_notify may take to leave before the socket just closes.
const CLOSE_NOTIFY: Duration = Duration::from_secs(1);

/// Bytes a connection's scratch buffers hold from the start (a response head with its
/// markers, an upstream request head with the forwarded fields).
const HEAD_ROOM: usize = 512;

/// How a wait for a request's bytes ended.
enum Waited {
    Read(std::io::Result<usize>),
    Timeout,
    /// A graceful stop began (only heard once idle for a while).
    Closing,
}

/// What the connection does after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The next request: `consumed` bytes of the buffer were this request's; what the body
    /// read past its end (`Scratch::more[more_from..]`) is the next request's start.
    KeepAlive {
        consumed: usize,
        more_from: Option<usize>,
    },
    Close,
    /// Close after reading what the client still sends for a while (its unread body).
    Linger,
}

/// What a connection keeps between its requests.
#[derive(Debug)]
struct Scratch {
    /// What goes to the client next.
    out: Vec<u8>,
    /// The request head for the upstream.
    request: Vec<u8>,
    /// A request body's bytes read past the connection's buffer.
    more: BytesMut,
    /// The deadline of upstream reads (`io::read_within`).
    upstream_timer: Pin<Box<tokio::time::Sleep>>,
}

/// How a connection reached the lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// A plain socket; `h2c`: one that opens with the HTTP/2 preface goes to the h2c lane.
    Plain { h2c: bool },
    /// TLS, ALPN `http/1.1` or none.
    Tls,
    /// TLS, ALPN `h2`: the HTTP/2 lane from the first byte.
    TlsH2,
}

/// One client connection, request by request (or handed to the HTTP/2 lane, see [`Entry`]).
pub async fn connection(core: &Arc<Core>, mut io: Stream, shutdown: &ShutdownWatch, entry: Entry) {
    // Only a plain socket can have its first bytes put back for the HTTP/2 lane.
    let h2c = entry == Entry::Plain { h2c: true } && io.as_any().is::<L4Stream>();
    let tls = matches!(entry, Entry::Tls | Entry::TlsH2);
    let peer = io.get_socket_digest().and_then(|d| d.peer_addr().and_then(|a| a.as_inet()).map(|a| a.ip()));
    let drain = &core.gateway.drain;
    let mut open = drain.open();
    if entry == Entry::TlsH2 {
        open.h2c();
        super::h2c::connection(core, io, peer, shutdown, true).await;
        return;
    }
    let mut buf = BytesMut::with_capacity(2048);
    // Room for the usual heads at once: grown from nothing they cost seven reallocations on
    // every connection, a tenth of a request on HTTP/1.0 (one request per connection).
    let mut scratch = Scratch {
        out: Vec::with_capacity(HEAD_ROOM),
        request: Vec::with_capacity(HEAD_ROOM),
        more: BytesMut::new(),
        upstream_timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
    };
    let mut first = true;
    // The connection's one head, parsed into again for every request.
    let mut head = Head::boxed();
    // When the head being read must be complete; set once its first byte is here.
    let mut head_deadline: Option<tokio::time::Instant> = None;
    // When the wait for the next request ends (`keepalive_timeout`), and whether it has lasted
    // `IDLE_BEFORE_CLOSING`: only then is the connection woken by a stop, and closed.
    let mut idle_end: Option<tokio::time::Instant> = None;
    let mut idle_long = false;
    // The connection's one timer for reading heads, moved on before each read.
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    loop {
        let parsed = loop {
            if !buf.is_empty() {
                if first && h2c && H2_PREFACE.starts_with(&buf[..buf.len().min(H2_PREFACE.len())]) {
                    if buf.len() >= H2_PREFACE.len() {
                        // HTTP/2 with prior knowledge: the whole connection is HTTP/2.
                        open.h2c();
                        if let Some(io) = rewound(io, &buf) {
                            super::h2c::connection(core, io, peer, shutdown, false).await;
                        }
                        return;
                    }
                } else {
                    match head::parse_into(&buf, &mut head) {
                        Step::Partial => {}
                        other => break other,
                    }
                }
            }
            let now = tokio::time::Instant::now();
            let deadline = {
                let current = core.gateway.current.load();
                let settings = &current.config().gateway;
                if buf.is_empty() {
                    let end = *idle_end.get_or_insert(now + settings.keepalive_timeout);
                    if idle_long {
                        end
                    } else {
                        end.min(now + IDLE_BEFORE_CLOSING)
                    }
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
                read = io.read_buf(&mut buf) => Waited::Read(read),
                () = &mut timer => Waited::Timeout,
                () = drain.closing(), if idle_long => Waited::Closing,
            };
            match read {
                Waited::Read(Ok(n)) if n > 0 => {}
                // Idle for a while: a stop under way closes it now, one to come wakes it.
                Waited::Timeout
                    if buf.is_empty()
                        && !idle_long
                        && !drain.is_closing()
                        && idle_end.is_some_and(|end| tokio::time::Instant::now() < end) =>
                {
                    idle_long = true;
                }
                Waited::Timeout if !buf.is_empty() => {
                    let refusal = Refusal { status: 408, text: "The request's header did not arrive in time.\n" };
                    refuse(core, &mut io, refusal).await;
                    return;
                }
                // Closed, failed, idle too long between requests, or idle during a stop.
                _ => return,
            }
        };
        first = false;
        head_deadline = None;
        idle_end = None;
        idle_long = false;
        match parsed {
            Step::Request => {}
            Step::Refused(refusal) => {
                refuse(core, &mut io, refusal).await;
                linger(&mut io).await;
                return;
            }
            Step::Partial => return,
        }
        let conn = Conn { peer, tls, closing: drain.is_closing() };
        match request(core, &mut io, &buf, &head, conn, &mut scratch).await {
            Next::KeepAlive { consumed, more_from } => {
                buf.advance(consumed.min(buf.len()));
                if let Some(at) = more_from {
                    buf.extend_from_slice(scratch.more.get(at..).unwrap_or_default());
                    // An upload's read buffer is not kept by an idle keep-alive connection.
                    scratch.more = BytesMut::new();
                }
            }
            Next::Close => {
                if tls {
                    // close_notify: the end is on purpose. OpenSSL takes an end without it for
                    // an error (HTTP/1.0, `Connection: close`) and then forgets the session, so
                    // its clients could never resume one.
                    let _ = tokio::time::timeout(CLOSE_NOTIFY, io.shutdown()).await;
                }
                return;
            }
            Next::Linger => {
                linger(&mut io).await;
                return;
            }
        }
    }
}

/// The answer to a head that is not read any further: plain text, then the connection closes.
/// Nothing of the request is trusted, not even its tenant.
async fn refuse(core: &Core, io: &mut Stream, refusal: Refusal) {
    let compiled = core.gateway.current.load_full();
    let id = core.gateway.next_id();
    let answer = Answer::plain(refusal.status, refusal.text);
    let out = &mut Vec::with_capacity(512);
    wire::answer(out, &answer, (id.bytes(), compiled.shown_generation()), None, false, false);
    let written = write_all(io, out, compiled.config().gateway.write_timeout).await;
    core.gateway.record(&crate::gateway::record::Finished {
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
        status: if written { refusal.status } else { 0 },
        request_id: &id,
        query: None,
        client: None,
        protocol: "-",
        user_agent: None,
        sent: if written { answer.body.len() as u64 } else { 0 },
        received: 0,
    });
}

/// Closes after the last answer without resetting it away: the write side first, then what
/// the client still sends is read and dropped for a while (a socket closed with unread data
/// sends a reset, which can destroy the answer in the client's buffer before it is read).
async fn linger(io: &mut Stream) {
    let _ = io.shutdown().await;
    // On the heap: an array here would be part of every connection's future, idle or not.
    let mut sink = vec![0u8; 16 * 1024];
    let mut read = 0;
    let _ = tokio::time::timeout(LINGER, async {
        while read < LINGER_BYTES {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}

/// The `X-Forwarded-For` lines of a head, the last [`FORWARDED_LINES`], in order.
fn forwarded_lines<'b>(head: &Head, buf: &'b [u8], lines: &mut [&'b str; FORWARDED_LINES]) -> usize {
    let mut n = 0;
    for (_, _, value) in head.fields().iter().filter(|(f, _, _)| *f == Field::XForwardedFor) {
        if n == FORWARDED_LINES {
            lines.rotate_left(1);
            n -= 1;
        }
        lines[n] = value.str(buf);
        n += 1;
    }
    n
}

/// An end-to-end field's lines joined with `, ` (the status host's validators and codings): one
/// line as it is, several (rare) joined anew.
fn end_to_end<'b>(head: &Head, buf: &'b [u8], lower: &[u8]) -> Option<Cow<'b, str>> {
    let mut lines = head
        .fields()
        .iter()
        .filter(|(f, name, _)| *f == Field::EndToEnd && name_is(name.bytes(buf), lower))
        .map(|(_, _, v)| v.str(buf));
    let first = lines.next()?;
    let Some(second) = lines.next() else { return Some(Cow::Borrowed(first)) };
    let mut joined = format!("{first}, {second}");
    for line in lines {
        joined.push_str(", ");
        joined.push_str(line);
    }
    Some(Cow::Owned(joined))
}

/// The request's cookies as one line: one field as it is, several joined (rare: allocates).
fn cookies<'b>(head: &Head, buf: &'b [u8]) -> Option<Cow<'b, str>> {
    let mut all = head.fields().iter().filter(|(f, _, _)| *f == Field::Cookie).map(|(_, _, v)| v.str(buf));
    let first = all.next()?;
    let Some(second) = all.next() else { return Some(first.into()) };
    let mut joined = format!("{first}; {second}");
    for v in all {
        joined.push_str("; ");
        joined.push_str(v);
    }
    Some(joined.into())
}

/// What a request knows of its connection.
#[derive(Debug, Clone, Copy)]
struct Conn {
    peer: Option<IpAddr>,
    /// It came over TLS.
    tls: bool,
    /// A graceful stop is under way.
    closing: bool,
}

/// Decides and answers one request.
async fn request(core: &Core, io: &mut Stream, buf: &[u8], head: &Head, conn: Conn, scratch: &mut Scratch) -> Next {
    let Conn { peer, tls, closing } = conn;
    let started = Instant::now();
    let compiled = core.gateway.current.load_full();
    let now = core.gateway.clock.now();
    let text = |s: Option<head::Span>| s.map(|s| s.str(buf));
    // A `Host` that is not ASCII reads as "" (a bad request); one that is absent as none (an
    // HTTP/1.0 request may leave it out: `decide`).
    let host = text(head.authority.or(head.host)).or(head.host_sent.then_some(""));
    let path = if head.path.is_empty() { "/" } else { head.path.str(buf) };
    let mut lines = [""; FORWARDED_LINES];
    let count = forwarded_lines(head, buf, &mut lines);
    let cookie = cookies(head, buf);
    let input = Request {
        host,
        path,
        accept: text(head.accept),
        accept_language: text(head.accept_language),
        forwarded_for: &lines[..count],
        forwarded_proto: text(head.forwarded_proto),
        cookie: cookie.as_deref(),
        peer,
        tls,
    };
    let d = decide(&compiled, &input, now);
    // Only the status host's answers come in codings (`statuspage`): no lookup for the rest.
    let accept_encoding = (d.action == Action::Status).then(|| end_to_end(head, buf, b"accept-encoding")).flatten();
    let method = head.method.str(buf);
    let tenant = d.route.and_then(|r| r.tenant);
    let mut req = InFlight {
        compiled: &compiled,
        method,
        head_request: method == "HEAD",
        host,
        path,
        query: text(head.query),
        accept: input.accept,
        accept_language: input.accept_language,
        accept_encoding: accept_encoding.as_deref(),
        started,
        tenant,
        verdict: d.verdict,
        request_id: core.gateway.next_id(),
        keep_alive: head.keep_alive() && !closing,
        hsts: super::core::hsts(&compiled, tenant, tls),
        peer,
        client: d.client,
        protocol: if head.http10 { "HTTP/1.0" } else { "HTTP/1.1" },
        user_agent: if core.gateway.access_log.is_some() { user_agent(head, buf) } else { None },
        sent: 0,
        received: 0,
        upstream: None,
        upstream_started: None,
    };
    let pre = &buf[head.len..];
    let length = match head.body {
        Body::None => Some(0),
        Body::Length(n) => Some(n),
        Body::Chunked => None,
    };
    // The body's end, when it is already in the buffer: such a request may be answered without
    // reading anything more, and the connection goes on.
    let in_hand = H1Body::<Stream>::in_hand(pre, length).then(|| length.unwrap_or(0) as usize);
    match core.plan(&req, &d, now) {
        Plan::Answer(a) => {
            let a = if a.marker == Marker::Status {
                let get = matches!(method, "GET" | "HEAD");
                let (inm, ims) = (end_to_end(head, buf, b"if-none-match"), end_to_end(head, buf, b"if-modified-since"));
                statuspage::conditional(a, get, inm.as_deref(), ims.as_deref())
            } else {
                a
            };
            req.keep_alive &= in_hand.is_some();
            let written = send(io, &mut req, &a, &mut scratch.out).await;
            core.record(&req, a.outcome, if written { a.status } else { 0 });
            match (written, req.keep_alive, in_hand) {
                (true, true, Some(n)) => Next::KeepAlive { consumed: head.len + n, more_from: None },
                (true, _, None) => Next::Linger,
                _ => Next::Close,
            }
        }
        Plan::Proxy(outcome) => proxy(core, io, buf, head, &mut req, &d, outcome, in_hand, scratch).await,
    }
}

/// Writes one of the gateway's answers; `false` when it could not be written.
async fn send(io: &mut Stream, req: &mut InFlight<'_>, a: &Answer, out: &mut Vec<u8>) -> bool {
    out.clear();
    let stamp = (req.request_id.bytes(), req.compiled.shown_generation());
    wire::answer(out, a, stamp, req.hsts, req.head_request, req.keep_alive);
    let written = write_all(io, out, req.compiled.config().gateway.write_timeout).await;
    if written && !req.head_request {
        req.sent = a.body.len() as u64;
    }
    written
}

/// The `User-Agent` of a head, for the access log (the head keeps no span of it: nothing else
/// reads it).
fn user_agent<'b>(head: &Head, buf: &'b [u8]) -> Option<&'b str> {
    head.fields().iter().find(|(_, name, _)| name_is(name.bytes(buf), b"user-agent")).map(|(_, _, v)| v.str(buf))
}

/// To the tenant's upstreams, the answer relayed; a failure page when none answers.
#[allow(clippy::too_many_arguments)]
async fn proxy(
    core: &Core,
    io: &mut Stream,
    buf: &[u8],
    head: &Head,
    req: &mut InFlight<'_>,
    d: &super::decide::Decided,
    outcome: Outcome,
    in_hand: Option<usize>,
    scratch: &mut Scratch,
) -> Next {
    let compiled = req.compiled;
    let settings = &compiled.config().gateway;
    let Some(runtime) = req.tenant.and_then(|t| compiled.tenants.get(t as usize)) else {
        let (lang, format) = req.negotiate();
        let a = req.failure(crate::pages::Failure::Unavailable, 502, lang, format);
        return answer_without_upstream(core, io, req, &a, in_hand, head, scratch).await;
    };
    let Scratch { out, request, more, upstream_timer } = scratch;
    // The target upstream: the origin form; an absolute-form target without a path is `/`.
    let target = head.target.bytes(buf);
    let rooted;
    let target = if target.first().is_some_and(|&b| b == b'/' || b == b'*') {
        target
    } else {
        rooted = [b"/", target].concat();
        &rooted[..]
    };
    let outgoing = Outgoing {
        method: head.method.bytes(buf),
        target,
        host: head.authority.or(head.host).map(|h| h.bytes(buf)),
        framing: match head.body {
            Body::None => BodyFraming::None,
            Body::Length(n) => BodyFraming::Length(n),
            Body::Chunked => BodyFraming::Chunked,
        },
        upgrade: head.upgrade.map(|u| u.bytes(buf)),
        allow_underscores: settings.underscores_in_headers,
    };
    upstream::head(request, &outgoing, &HeadFields { head, buf }, req, d);
    let pre = &buf[head.len..];
    // `Expect: 100-continue`: the client holds its body back until told to go on. The gateway
    // says so itself once it knows the request is proxied, as nginx does (many origins never
    // answer 100, and clients then wait), unless the body is here already.
    if head.expect_continue
        && head.body != Body::None
        && pre.is_empty()
        && !write_all(io, b"HTTP/1.1 100 Continue\r\n\r\n", settings.write_timeout).await
    {
        core.record(req, outcome, 0);
        return Next::Close;
    }
    let length = match head.body {
        Body::None => Some(0),
        Body::Length(n) => Some(n),
        Body::Chunked => None,
    };
    let asked = Asked { head_request: req.head_request, upgrade: head.upgrade.is_some() };
    let (result, body_end) = {
        let mut body = H1Body::new(io, pre, more, length, settings.body_timeout).until_stopped(&core.gateway.drain);
        let result = core
            .exchange(
                req,
                runtime,
                d,
                request,
                &mut body,
                asked,
                head.http10,
                ClientHead::H1(out),
                upstream_timer.as_mut(),
            )
            .await;
        let end = body.done().then(|| (body.pre_used(), body.more_from()));
        req.received = crate::gateway::core::body::RequestBody::received(&body);
        (result, end)
    };
    // Where the next request starts, when this one's body was read to its end (or is in hand).
    let next = |consumed_body: usize, more_from: Option<usize>| Next::KeepAlive {
        consumed: head.len + consumed_body,
        more_from,
    };
    let body_end = body_end.or(in_hand.map(|n| (n, None)));
    let mut reply = match result {
        Ok(reply) => reply,
        Err(Failed::Client(e)) => {
            req.keep_alive = false;
            if e == crate::gateway::core::body::BodyError::Closed {
                core.record(req, Outcome::BadRequest, 0);
                return Next::Close;
            }
            let mut a = Answer::plain(e.status(), e.text());
            a.outcome = e.outcome();
            let written = send(io, req, &a, out).await;
            core.record(req, a.outcome, if written { a.status } else { 0 });
            return Next::Linger;
        }
        Err(Failed::Upstream { failure, status, .. }) => {
            let (lang, format) = req.negotiate();
            let a = req.failure(failure, status, lang, format);
            req.keep_alive &= body_end.is_some() && failure != crate::pages::Failure::Stopping;
            let written = send(io, req, &a, out).await;
            core.record(req, a.outcome, if written { a.status } else { 0 });
            return match (written, req.keep_alive, body_end) {
                (true, true, Some((used, more_from))) => next(used, more_from),
                (true, _, None) => Next::Linger,
                _ => Next::Close,
            };
        }
    };
    if req.replaces(reply.status) {
        // Ours instead of the upstream's error; its connection is not kept (body unread).
        let (lang, format) = req.negotiate();
        let a = req.failure(crate::pages::Failure::UpstreamStatus, reply.status, lang, format);
        req.keep_alive &= body_end.is_some() && !reply.early;
        let written = send(io, req, &a, out).await;
        core.record(req, a.outcome, if written { a.status } else { 0 });
        return match (written, req.keep_alive, body_end) {
            (true, true, Some((used, more_from))) => next(used, more_from),
            (true, _, _) if body_end.is_none() || reply.early => Next::Linger,
            _ => Next::Close,
        };
    }
    if reply.status == 101 {
        // A WebSocket: the head goes out, then bytes both ways until both sides are done.
        if !write_all(io, out, settings.write_timeout).await {
            core.record(req, outcome, 0);
            return Next::Close;
        }
        let early_up = reply.buf.get(reply.head_len..).unwrap_or_default().to_vec();
        let carried = tunnel::tunnel(io, pre, &mut reply.conn, &early_up, settings.tunnel_timeout).await;
        log::debug!("tunnel of request {} carried {} bytes up, {} down", req.request_id, carried.up, carried.down);
        req.sent = carried.down as u64;
        req.received += carried.up as u64;
        core.record(req, outcome, 101);
        return Next::Close;
    }
    let relayed =
        relay(io, &mut reply, out, head.http10, runtime.read_timeout, settings.write_timeout, upstream_timer.as_mut())
            .await;
    let status = reply.status;
    req.sent = reply.sent;
    core.record(req, outcome, status);
    buffers::give(std::mem::take(&mut reply.buf));
    match relayed {
        Relayed::Done { park } => {
            if park && body_end.is_some() {
                if let Some(addr) = req.upstream {
                    pool::put(core.id, addr, reply.conn);
                }
            }
            let framed = match reply.framing {
                Framing::Close => false,
                Framing::Chunked => !head.http10,
                _ => true,
            };
            match (reply.keep_alive && framed, body_end) {
                (true, Some((used, more_from))) => next(used, more_from),
                (_, None) => Next::Linger,
                _ => Next::Close,
            }
        }
        Relayed::Broken => Next::Close,
    }
}

/// An answer for a proxied request that cannot go anywhere; the connection goes on when the
/// body is in hand.
async fn answer_without_upstream(
    core: &Core,
    io: &mut Stream,
    req: &mut InFlight<'_>,
    a: &Answer,
    in_hand: Option<usize>,
    head: &Head,
    scratch: &mut Scratch,
) -> Next {
    req.keep_alive &= in_hand.is_some();
    let written = send(io, req, a, &mut scratch.out).await;
    core.record(req, a.outcome, if written { a.status } else { 0 });
    match (written, req.keep_alive, in_hand) {
        (true, true, Some(n)) => Next::KeepAlive { consumed: head.len + n, more_from: None },
        (true, _, None) => Next::Linger,
        _ => Next::Close,
    }
}

/// A head's fields for the upstream head builder.
struct HeadFields<'h> {
    head: &'h Head,
    buf: &'h [u8],
}

impl upstream::Fields for HeadFields<'_> {
    fn each(&self, mut f: impl FnMut(Field, &[u8], &[u8])) {
        for (field, name, value) in self.head.fields() {
            f(*field, name.bytes(self.buf), value.bytes(self.buf));
        }
    }

    fn named(&self, name: &[u8]) -> bool {
        self.head.connection.any_named() && self.head.connection.names(self.buf, name)
    }
}

/// `io` with `bytes` put back in front of what is still unread.
fn rewound(io: Stream, bytes: &[u8]) -> Option<Stream> {
    let mut l4 = io.into_any().downcast::<L4Stream>().ok()?;
    l4.rewind(bytes);
    Some(l4)
}
