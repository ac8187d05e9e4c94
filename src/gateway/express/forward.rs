//! One exchange with an upstream for the express lane: a connection (pooled or fresh), the
//! request written, the response head read and turned into the client's head (HTTP/1.1 bytes or
//! HTTP/2 fields), then, for an HTTP/1.1 client, the body relayed as it comes, framing kept (a
//! chunked body stays chunked; no decoding). `h2c` relays the body to an HTTP/2 client itself.

use super::chunked::Chunked;
use super::head::name_is;
use super::pool;
use crate::gateway::respond;
use crate::pages::Failure;
use bytes::{Buf, BytesMut};
use pingora::http::ResponseHeader;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Sleep;

/// Largest upstream response head.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
const MAX_RESPONSE_HEADERS: usize = 100;

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Until the upstream closes: the client's connection closes after it too.
    Close,
}

/// What one exchange needs to know.
#[derive(Debug)]
pub struct Exchange<'a> {
    pub app: u64,
    pub addr: SocketAddr,
    /// The whole request head for the upstream.
    pub request: &'a [u8],
    pub head_request: bool,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    /// What the client's head is marked with.
    pub stamp: Stamp<'a>,
}

/// The gateway's own fields on a relayed response.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    pub request_id: &'a crate::gateway::proxy::RequestId,
    pub generation: u64,
    /// The client's connection stays after this response (unless its body is close-delimited).
    pub keep_alive: bool,
}

/// An upstream's response head, read; the body (or its start) follows in `buf`.
#[derive(Debug)]
pub struct Reply {
    pub conn: TcpStream,
    /// The response as read so far; the head ends at `head_len`.
    pub buf: BytesMut,
    pub head_len: usize,
    pub status: u16,
    pub framing: Framing,
    /// The upstream keeps the connection after this response.
    pub reusable: bool,
}

/// Why an exchange failed, and whether it may be tried on another upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed {
    pub failure: Failure,
    pub status: u16,
    /// Nothing reached the upstream's application: a connect failure.
    pub before_request: bool,
}

fn failed(failure: Failure, status: u16) -> Failed {
    Failed { failure, status, before_request: false }
}

async fn connect(x: &Exchange<'_>) -> Result<TcpStream, Failed> {
    let refused = |failure, status| Failed { failure, status, before_request: true };
    match tokio::time::timeout(x.connect_timeout, TcpStream::connect(x.addr)).await {
        Err(_) => Err(refused(Failure::ConnectTimeout, 504)),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(refused(Failure::Refused, 502)),
        Ok(Err(_)) => Err(refused(Failure::Unavailable, 502)),
        Ok(Ok(conn)) => {
            let _ = conn.set_nodelay(true);
            Ok(conn)
        }
    }
}

/// The client's response head, made from the same parse as the exchange's own reading of it.
#[derive(Debug)]
pub enum ClientHead<'o> {
    /// HTTP/1.1: the head's bytes.
    H1(&'o mut Vec<u8>),
    /// HTTP/2: the fields, for pingora's HTTP/2 session.
    H2(&'o mut Option<ResponseHeader>),
}

impl ClientHead<'_> {
    pub fn reborrow(&mut self) -> ClientHead<'_> {
        match self {
            ClientHead::H1(out) => ClientHead::H1(out),
            ClientHead::H2(out) => ClientHead::H2(out),
        }
    }
}

/// Sends the request and reads the response head: on a pooled connection first, and on a
/// fresh one when the pooled one turns out closed before any answer. The client's head is
/// made from the same parse.
pub async fn exchange(
    x: &Exchange<'_>,
    mut buf: BytesMut,
    mut out: ClientHead<'_>,
    mut timer: Pin<&mut Sleep>,
) -> Result<Reply, Failed> {
    if let Some(conn) = pool::take(x.app, x.addr) {
        buf.clear();
        match attempt(x, conn, buf, out.reborrow(), timer.as_mut()).await {
            Ok(reply) => return Ok(reply),
            // Closed by the upstream while idle: nothing was answered, so ask again.
            Err((Some(b), _)) => buf = b,
            Err((None, f)) => return Err(f),
        }
    }
    let conn = connect(x).await?;
    buf.clear();
    attempt(x, conn, buf, out, timer).await.map_err(|(_, f)| f)
}

/// One try on `conn`. `Err((Some(buf), _))`: the connection was dead before any answer.
async fn attempt(
    x: &Exchange<'_>,
    mut conn: TcpStream,
    mut buf: BytesMut,
    mut out: ClientHead<'_>,
    mut timer: Pin<&mut Sleep>,
) -> Result<Reply, (Option<BytesMut>, Failed)> {
    let reset = failed(Failure::Reset, 502);
    match within(x.write_timeout, conn.write_all(x.request)).await {
        None => return Err((None, failed(Failure::ReadTimeout, 504))),
        Some(Err(_)) => return Err((Some(buf), reset)),
        Some(Ok(())) => {}
    }
    // Whether the upstream has answered anything yet: a pooled connection that ends before
    // that was closed while idle, and the request may go again on a fresh one.
    let mut answered = false;
    loop {
        if !buf.is_empty() {
            match parse_head(&buf, x.head_request, Some((out.reborrow(), &x.stamp))) {
                Ok(Some((head_len, status, framing, reusable))) if status >= 200 => {
                    return Ok(Reply { conn, buf, head_len, status, framing, reusable });
                }
                // 100 Continue, 103 Early Hints: not forwarded; the final head follows (maybe
                // already in the buffer).
                Ok(Some((head_len, _, _, _))) => {
                    buf.advance(head_len);
                    continue;
                }
                Ok(None) if buf.len() < MAX_RESPONSE_HEAD => {}
                Ok(None) | Err(()) => return Err((None, failed(Failure::BadResponse, 502))),
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(READ_ROOM);
        }
        match read_within(&mut conn, &mut buf, timer.as_mut(), x.read_timeout).await {
            None => return Err((None, failed(Failure::ReadTimeout, 504))),
            Some(Err(_) | Ok(0)) if !answered => return Err((Some(buf), reset)),
            Some(Err(_) | Ok(0)) => return Err((None, reset)),
            Some(Ok(_)) => answered = true,
        }
    }
}

/// (head length, status, framing, reusable) once the head is complete; a final head is also
/// written into `client`'s buffer as the client's head.
#[allow(clippy::type_complexity)]
fn parse_head(
    buf: &[u8],
    head_request: bool,
    client: Option<(ClientHead<'_>, &Stamp<'_>)>,
) -> Result<Option<(usize, u16, Framing, bool)>, ()> {
    // Uninitialised slots: httparse writes the ones it uses (3 KiB not zeroed per response).
    let mut slots = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_RESPONSE_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut resp, buf, &mut slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let status = resp.code.ok_or(())?;
    if status == 101 {
        // Nothing asked to switch protocols.
        return Err(());
    }
    let mut reusable = resp.version == Some(1);
    let (mut length, mut chunked, mut coded) = (None, false, false);
    for h in resp.headers.iter() {
        // The length first: most fields are none of these three, and it rules them out at once.
        match h.name.len() {
            14 if name_is(h.name.as_bytes(), b"content-length") => {
                let v: u64 = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok()).ok_or(())?;
                if length.is_some_and(|l| l != v) {
                    return Err(());
                }
                length = Some(v);
            }
            17 if name_is(h.name.as_bytes(), b"transfer-encoding") => {
                coded = true;
                chunked = h
                    .value
                    .trim_ascii()
                    .rsplit(|&b| b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            }
            10 if name_is(h.name.as_bytes(), b"connection")
                && h.value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close")) =>
            {
                reusable = false;
            }
            _ => {}
        }
    }
    let framing = if head_request || status < 200 || status == 204 || status == 304 {
        Framing::None
    } else if coded {
        if chunked {
            Framing::Chunked
        } else {
            Framing::Close
        }
    } else {
        match length {
            Some(0) => Framing::None,
            Some(n) => Framing::Length(n),
            None => Framing::Close,
        }
    };
    match (client, status >= 200) {
        (Some((ClientHead::H1(out), stamp)), true) => {
            out.clear();
            client_head(&resp, status, out, stamp, stamp.keep_alive && framing != Framing::Close);
        }
        (Some((ClientHead::H2(out), stamp)), true) => {
            *out = Some(h2_head(&buf[..len], &resp, status, stamp).ok_or(())?)
        }
        _ => {}
    }
    Ok(Some((len, status, framing, reusable && framing != Framing::Close)))
}

/// Writes the client's response head into `out`: the upstream's status line and headers, less
/// hop-by-hop ones and markers only the gateway may set, plus ours.
fn client_head(resp: &httparse::Response<'_, '_>, status: u16, out: &mut Vec<u8>, stamp: &Stamp<'_>, keep_alive: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    let mut digits = [0u8; 20];
    out.extend_from_slice(crate::gateway::respond::decimal(u64::from(status), &mut digits));
    out.push(b' ');
    let reason = resp.reason.filter(|r| !r.is_empty());
    let canonical = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
    out.extend_from_slice(reason.or(canonical).unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    let dated = relayed_fields(resp.headers, &mut |name, value| super::wire::header(out, name, value));
    if !dated {
        super::wire::date(out);
    }
    super::wire::header(out, b"x-hiatus", b"proxied");
    super::wire::header(out, b"x-request-id", stamp.request_id.bytes());
    super::wire::header(out, b"x-hiatus-generation", crate::gateway::respond::decimal(stamp.generation, &mut digits));
    super::wire::header(out, b"connection", if keep_alive { b"keep-alive" } else { b"close" });
    out.extend_from_slice(b"\r\n");
}

/// Hands the upstream's response fields that go on to the client to `put`, for either lane:
/// all but hop-by-hop ones and markers only the gateway may set. `true` when a `Date` is among
/// them.
pub fn relayed_fields<F: FnMut(&[u8], &[u8]) + ?Sized>(headers: &[httparse::Header<'_>], put: &mut F) -> bool {
    // Hop-by-hop (RFC 9110 §7.6.1): `Connection` and the fields it names, `Keep-Alive`,
    // `Proxy-Connection`, `TE` (an HTTP/2 response head must not have it), `Upgrade` (nothing
    // was upgraded). A `Content-Length` beside a `Transfer-Encoding` is dropped (RFC 9112
    // §6.3): the chunked framing is what is relayed.
    let mut named: [&[u8]; 8] = [b""; 8];
    let mut named_len = 0;
    let mut coded = false;
    for h in headers {
        match h.name.len() {
            10 if name_is(h.name.as_bytes(), b"connection") => {
                for token in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    // `close` and `keep-alive` name no field worth looking for.
                    let plain = token.is_empty()
                        || token.eq_ignore_ascii_case(b"keep-alive")
                        || token.eq_ignore_ascii_case(b"close");
                    if !plain && named_len < named.len() {
                        named[named_len] = token;
                        named_len += 1;
                    }
                }
            }
            17 => coded |= name_is(h.name.as_bytes(), b"transfer-encoding"),
            _ => {}
        }
    }
    let named = &named[..named_len];
    let mut dated = false;
    for h in headers {
        let name = h.name.as_bytes();
        let skip = match name.len() {
            2 => name_is(name, b"te"),
            4 => {
                dated |= name_is(name, b"date");
                false
            }
            7 => name_is(name, b"upgrade"),
            8 => name_is(name, b"x-hiatus"),
            10 => name_is(name, b"connection") || name_is(name, b"keep-alive"),
            12 => name_is(name, b"x-request-id"),
            14 => coded && name_is(name, b"content-length"),
            16 => name_is(name, b"x-hiatus-failure") || name_is(name, b"proxy-connection"),
            19 => name_is(name, b"x-hiatus-generation"),
            _ => false,
        } || named.iter().any(|n| n.len() == name.len() && n.eq_ignore_ascii_case(name));
        if !skip {
            put(name, h.value);
        }
    }
    dated
}

/// The client's response head for HTTP/2: the relayed fields and our markers, in a header map
/// made directly (pingora's `insert_header` would convert every name again). Pingora's session
/// adds `Date` and drops what HTTP/2 forbids, such as `Transfer-Encoding`. `None` for a field
/// HTTP/2 cannot carry.
///
/// The values are slices of one copy of the upstream's head (`head`, which `resp` was parsed
/// from) rather than an allocation each.
fn h2_head(head: &[u8], resp: &httparse::Response<'_, '_>, status: u16, stamp: &Stamp<'_>) -> Option<ResponseHeader> {
    use http::header::{HeaderName, HeaderValue};
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = http::StatusCode::from_u16(status).ok()?;
    let fields = &mut parts.headers;
    fields.reserve(resp.headers.len() + 3);
    let shared = bytes::Bytes::copy_from_slice(head);
    // Where a value lies in `head` (every value httparse gives is a slice of it).
    let at = |v: &[u8]| (v.as_ptr() as usize).wrapping_sub(head.as_ptr() as usize);
    let mut broken = false;
    relayed_fields(resp.headers, &mut |name, value| {
        let start = at(value);
        let value = match start.checked_add(value.len()) {
            _ if value.is_empty() => Some(bytes::Bytes::new()),
            Some(end) if end <= shared.len() => Some(shared.slice(start..end)),
            _ => None,
        };
        match (HeaderName::from_bytes(name), value.map(HeaderValue::from_maybe_shared)) {
            (Ok(n), Some(Ok(v))) => {
                fields.append(n, v);
            }
            _ => broken = true,
        }
    });
    if broken {
        return None;
    }
    fields.insert(respond::X_HIATUS, HeaderValue::from_static("proxied"));
    fields.insert(respond::X_REQUEST_ID, crate::gateway::proxy::request_id_value(stamp.request_id));
    fields.insert(respond::X_HIATUS_GENERATION, HeaderValue::from(stamp.generation));
    Some(ResponseHeader::from(parts))
}

/// How a relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relayed {
    /// The whole body, and the upstream connection may be parked.
    Done { park: bool },
    /// Cut short (upstream or client): the client connection must close.
    Broken,
}

/// Most body bytes gathered before they are written. What the upstream has already sent is
/// read on (without waiting) up to this much and goes out with the head in one vectored write:
/// fewer, larger writes are what loopback TCP charges least for (one wake-up of the reader
/// instead of one per piece). Nothing waits to fill it, so streamed bodies are not held back.
pub const GATHER: usize = 64 * 1024;
/// Room the upstream buffer keeps for the next read.
pub const READ_ROOM: usize = 16 * 1024;

/// What the upstream's next read brought.
enum Got {
    Bytes,
    /// Nothing at hand now (only from a read that does not wait).
    Later,
    End,
    Failed,
}

/// Writes `out` (the client's head) and the body after it, reading the upstream as needed.
pub async fn relay<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
    reply: &mut Reply,
    out: &mut Vec<u8>,
    read_timeout: Duration,
    write_timeout: Duration,
    mut timer: Pin<&mut Sleep>,
) -> Relayed {
    let mut chunked = Chunked::default();
    let mut left = match reply.framing {
        Framing::Length(n) => n,
        _ => 0,
    };
    let buf = &mut reply.buf;
    // buf[start..framed]: body bytes to write; buf[framed..]: read, not yet framed.
    let (mut start, mut framed) = (reply.head_len, reply.head_len);
    let mut park = reply.reusable;
    loop {
        let new = &buf[framed..];
        let (take, done) = match reply.framing {
            Framing::None => (0, true),
            Framing::Length(_) => {
                let take = (new.len() as u64).min(left) as usize;
                left -= take as u64;
                (take, left == 0)
            }
            Framing::Chunked => match chunked.feed(new) {
                Ok(Some(end)) => (end, true),
                Ok(None) => (new.len(), false),
                Err(_) => return Relayed::Broken,
            },
            Framing::Close => (new.len(), false),
        };
        if take < new.len() {
            // More than the framing allows: the upstream is confused; never reuse it.
            park = false;
            buf.truncate(framed + take);
        }
        framed += take;
        if !done && framed - start < GATHER {
            // More may be at hand already: gather it before writing.
            match read(&mut reply.conn, buf, None).await {
                Got::Bytes => continue,
                Got::Later => {}
                // The end of a close-delimited body: what is gathered goes out now.
                Got::End if reply.framing == Framing::Close => {
                    let written = flush(client, out, &buf[start..framed], write_timeout).await;
                    return if written { Relayed::Done { park: false } } else { Relayed::Broken };
                }
                // Cut short: the client gets what came (the head says how much was meant),
                // then its connection closes, as on pingora's path.
                Got::End | Got::Failed => {
                    flush(client, out, &buf[start..framed], write_timeout).await;
                    return Relayed::Broken;
                }
            }
        }
        if !flush(client, out, &buf[start..framed], write_timeout).await {
            return Relayed::Broken;
        }
        if done {
            return Relayed::Done { park };
        }
        buf.clear();
        (start, framed) = (0, 0);
        match read(&mut reply.conn, buf, Some((timer.as_mut(), read_timeout))).await {
            Got::Bytes => {}
            Got::End if reply.framing == Framing::Close => return Relayed::Done { park: false },
            _ => return Relayed::Broken,
        }
    }
}

/// Reads more of the upstream's answer into `buf`: waiting up to the duration on the timer
/// (`read_within`), or with `None` only what is there now.
async fn read(conn: &mut TcpStream, buf: &mut BytesMut, wait: Option<(Pin<&mut Sleep>, Duration)>) -> Got {
    if buf.capacity() - buf.len() < READ_ROOM {
        buf.reserve(GATHER);
    }
    let result = match wait {
        None => match conn.try_read_buf(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Got::Later,
            other => other,
        },
        Some((timer, limit)) => match read_within(conn, buf, timer, limit).await {
            Some(r) => r,
            None => return Got::Failed,
        },
    };
    match result {
        Ok(0) => Got::End,
        Ok(_) => Got::Bytes,
        Err(_) => Got::Failed,
    }
}

/// Reads what the upstream sends next into `buf`, `None` when nothing came within `limit`.
///
/// `timer` is the caller's, kept for a whole client connection (or HTTP/2 stream) and moved on
/// before each read: moving a timer's deadline later is an atomic store in tokio, where a
/// `timeout` per read is an insert into its timer wheel and a removal each time.
pub async fn read_within(
    conn: &mut TcpStream,
    buf: &mut BytesMut,
    mut timer: Pin<&mut Sleep>,
    limit: Duration,
) -> Option<std::io::Result<usize>> {
    timer.as_mut().reset(tokio::time::Instant::now() + limit);
    tokio::select! {
        biased;
        read = conn.read_buf(buf) => Some(read),
        () = timer => None,
    }
}

/// Writes the client's head if it has not gone yet (`out`, emptied once written) and the body
/// bytes gathered; nothing to write is not a write.
async fn flush<C: AsyncWrite + Unpin>(client: &mut C, out: &mut Vec<u8>, body: &[u8], timeout: Duration) -> bool {
    if out.is_empty() && body.is_empty() {
        return true;
    }
    let written = write_parts(client, &[out.as_slice(), body], timeout).await;
    out.clear();
    written
}

/// Writes and flushes `bytes` to the client within `timeout`; `false` when that failed.
pub async fn write_all<C: AsyncWrite + Unpin>(client: &mut C, bytes: &[u8], timeout: Duration) -> bool {
    write_parts(client, &[bytes], timeout).await
}

/// Writes the parts in order (vectored: one system call for all of them when the socket takes
/// it) and flushes, within `timeout`; `false` when that failed.
async fn write_parts<C: AsyncWrite + Unpin>(client: &mut C, parts: &[&[u8]], timeout: Duration) -> bool {
    let io = async {
        let mut slices = [std::io::IoSlice::new(&[]), std::io::IoSlice::new(&[])];
        let mut count = 0;
        for p in parts.iter().filter(|p| !p.is_empty()).take(slices.len()) {
            slices[count] = std::io::IoSlice::new(p);
            count += 1;
        }
        let mut slices = &mut slices[..count];
        while !slices.is_empty() {
            let n = client.write_vectored(slices).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            std::io::IoSlice::advance_slices(&mut slices, n);
        }
        client.flush().await
    };
    matches!(within(timeout, io).await, Some(Ok(())))
}

/// `fut` within `limit`, `None` when it took longer. Polled once before a timer is set: most
/// writes here complete at once, and a timer costs a clock read and a trip through the wheel.
pub async fn within<F: std::future::Future>(limit: Duration, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
    match first {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => tokio::time::timeout(limit, fut).await.ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_follows_rfc_9112_section_6_3() {
        let cases: [(&str, bool, Framing, bool); 9] = [
            ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, Framing::Length(5), true),
            ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, Framing::None, true),
            ("HTTP/1.1 204 No Content\r\n\r\n", false, Framing::None, true),
            ("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, Framing::None, true),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n",
                false,
                Framing::Chunked,
                true,
            ),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, Framing::Close, false),
            ("HTTP/1.1 200 OK\r\n\r\n", false, Framing::Close, false),
            ("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", false, Framing::Length(1), false),
            ("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, Framing::Length(1), false),
        ];
        for (head, head_request, framing, reusable) in cases {
            let parsed = parse_head(head.as_bytes(), head_request, None);
            assert_eq!(
                parsed,
                Ok(Some((
                    head.len(),
                    if head.contains("204") {
                        204
                    } else if head.contains("304") {
                        304
                    } else {
                        200
                    },
                    framing,
                    reusable
                ))),
                "{head:?}"
            );
        }
    }

    /// The HTTP/2 head carries the relayed fields with their values, empty ones too, and the
    /// gateway's markers.
    #[test]
    fn the_http2_head_carries_the_relayed_fields() {
        let head = "HTTP/1.1 200 OK\r\nServer: o\r\nX-Empty:\r\nConnection: keep-alive\r\nSet-Cookie: a=1\r\n\
                    Set-Cookie: b=2\r\nX-Custom-Name: v w\r\nContent-Length: 2\r\n\r\n";
        let mut slots = [httparse::EMPTY_HEADER; 16];
        let mut resp = httparse::Response::new(&mut slots);
        assert!(matches!(resp.parse(head.as_bytes()), Ok(httparse::Status::Complete(_))));
        let id = crate::gateway::proxy::RequestId::new(1, 2);
        let stamp = Stamp { request_id: &id, generation: 7, keep_alive: true };
        let h = h2_head(head.as_bytes(), &resp, 200, &stamp).expect("a head");
        let all = |name: &str| {
            h.headers.get_all(name).iter().map(|v| v.to_str().unwrap_or("?").to_string()).collect::<Vec<_>>()
        };
        assert_eq!(h.status.as_u16(), 200);
        assert_eq!(all("server"), ["o"]);
        assert_eq!(all("x-empty"), [""]);
        assert_eq!(all("set-cookie"), ["a=1", "b=2"]);
        assert_eq!(all("x-custom-name"), ["v w"]);
        assert_eq!(all("content-length"), ["2"]);
        assert!(all("connection").is_empty());
        assert_eq!((all("x-hiatus"), all("x-hiatus-generation")), (vec!["proxied".to_string()], vec!["7".to_string()]));
        assert_eq!(all("x-request-id"), [id.as_str()]);
    }

    #[test]
    fn conflicting_lengths_and_switching_protocols_are_bad_responses() {
        for head in [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "garbage\r\n\r\n",
        ] {
            assert_eq!(parse_head(head.as_bytes(), false, None), Err(()), "{head:?}");
        }
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", false, None), Ok(None));
    }
}
