//! One exchange with an upstream for the express lane: a connection (pooled or fresh), the
//! request written, the response head read and turned into the client's head, then the body
//! relayed as it comes, framing kept (a chunked body stays chunked; no decoding).

use super::chunked::Chunked;
use super::pool;
use crate::pages::Failure;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

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

/// Sends the request and reads the response head: on a pooled connection first, and on a
/// fresh one when the pooled one turns out closed before any answer.
pub async fn exchange(x: &Exchange<'_>, mut buf: BytesMut) -> Result<Reply, Failed> {
    if let Some(conn) = pool::take(x.app, x.addr) {
        buf.clear();
        match attempt(x, conn, buf).await {
            Ok(reply) => return Ok(reply),
            // Closed by the upstream while idle: nothing was answered, so ask again.
            Err((Some(b), _)) => buf = b,
            Err((None, f)) => return Err(f),
        }
    }
    let conn = connect(x).await?;
    buf.clear();
    attempt(x, conn, buf).await.map_err(|(_, f)| f)
}

/// One try on `conn`. `Err((Some(buf), _))`: the connection was dead before any answer.
async fn attempt(
    x: &Exchange<'_>,
    mut conn: TcpStream,
    mut buf: BytesMut,
) -> Result<Reply, (Option<BytesMut>, Failed)> {
    let reset = failed(Failure::Reset, 502);
    match tokio::time::timeout(x.write_timeout, conn.write_all(x.request)).await {
        Err(_) => return Err((None, failed(Failure::ReadTimeout, 504))),
        Ok(Err(_)) => return Err((Some(buf), reset)),
        Ok(Ok(())) => {}
    }
    loop {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        let n = match tokio::time::timeout(x.read_timeout, conn.read_buf(&mut buf)).await {
            Err(_) => return Err((None, failed(Failure::ReadTimeout, 504))),
            Ok(Err(_)) | Ok(Ok(0)) if buf.is_empty() => return Err((Some(buf), reset)),
            Ok(Err(_)) | Ok(Ok(0)) => return Err((None, reset)),
            Ok(Ok(n)) => n,
        };
        debug_assert!(n > 0);
        match parse_head(&buf, x.head_request) {
            Ok(Some((head_len, status, framing, reusable))) if status >= 200 => {
                return Ok(Reply { conn, buf, head_len, status, framing, reusable });
            }
            // 100 Continue, 103 Early Hints: informational, not forwarded; the final head follows.
            Ok(Some((head_len, _, _, _))) => {
                let _ = buf.split_to(head_len);
            }
            Ok(None) if buf.len() < MAX_RESPONSE_HEAD => {}
            Ok(None) | Err(()) => return Err((None, failed(Failure::BadResponse, 502))),
        }
    }
}

/// (head length, status, framing, reusable) once the head is complete.
#[allow(clippy::type_complexity)]
fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<(usize, u16, Framing, bool)>, ()> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    let len = match resp.parse(buf) {
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
        if h.name.eq_ignore_ascii_case("content-length") {
            let v: u64 = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok()).ok_or(())?;
            if length.is_some_and(|l| l != v) {
                return Err(());
            }
            length = Some(v);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            coded = true;
            chunked = h
                .value
                .trim_ascii()
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection")
            && h.value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
        {
            reusable = false;
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
    Ok(Some((len, status, framing, reusable && framing != Framing::Close)))
}

/// Writes the client's response head for `reply` into `out`: the upstream's status line and
/// headers, less hop-by-hop ones and markers only the gateway may set, plus ours.
pub fn client_head(reply: &Reply, out: &mut Vec<u8>, request_id: &str, generation: u64, keep_alive: bool) {
    let mut slots = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    // Parsed before; cannot fail on the same bytes.
    let _ = resp.parse(&reply.buf[..reply.head_len]);
    out.extend_from_slice(b"HTTP/1.1 ");
    let mut digits = [0u8; 20];
    out.extend_from_slice(crate::gateway::respond::decimal(u64::from(reply.status), &mut digits));
    out.push(b' ');
    let reason = resp.reason.filter(|r| !r.is_empty());
    let canonical = http::StatusCode::from_u16(reply.status).ok().and_then(|s| s.canonical_reason());
    out.extend_from_slice(reason.or(canonical).unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    // Hop-by-hop (RFC 9110 §7.6.1): `Connection` and the fields it names, `Keep-Alive`,
    // `Proxy-Connection`, `Upgrade` (nothing was upgraded). A `Content-Length` beside a
    // `Transfer-Encoding` is dropped (RFC 9112 §6.3): the chunked framing is what is relayed.
    let mut named: [&[u8]; 8] = [b""; 8];
    let mut named_len = 0;
    let mut coded = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if !token.is_empty() && named_len < named.len() {
                    named[named_len] = token;
                    named_len += 1;
                }
            }
        }
        coded |= h.name.eq_ignore_ascii_case("transfer-encoding");
    }
    let named = &named[..named_len];
    let mut dated = false;
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        let skip = match name.len() {
            4 => {
                dated |= name.eq_ignore_ascii_case(b"date");
                false
            }
            7 => name.eq_ignore_ascii_case(b"upgrade"),
            8 => name.eq_ignore_ascii_case(b"x-hiatus"),
            10 => name.eq_ignore_ascii_case(b"connection") || name.eq_ignore_ascii_case(b"keep-alive"),
            12 => name.eq_ignore_ascii_case(b"x-request-id"),
            14 => coded && name.eq_ignore_ascii_case(b"content-length"),
            16 => name.eq_ignore_ascii_case(b"x-hiatus-failure") || name.eq_ignore_ascii_case(b"proxy-connection"),
            19 => name.eq_ignore_ascii_case(b"x-hiatus-generation"),
            _ => false,
        } || named.iter().any(|n| n.eq_ignore_ascii_case(name));
        if !skip {
            super::wire::header(out, name, h.value);
        }
    }
    if !dated {
        super::wire::date(out);
    }
    super::wire::header(out, b"x-hiatus", b"proxied");
    super::wire::header(out, b"x-request-id", request_id.as_bytes());
    super::wire::header(out, b"x-hiatus-generation", crate::gateway::respond::decimal(generation, &mut digits));
    super::wire::header(out, b"connection", if keep_alive { b"keep-alive" } else { b"close" });
    out.extend_from_slice(b"\r\n");
}

/// How a relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relayed {
    /// The whole body, and the upstream connection may be parked.
    Done { park: bool },
    /// Cut short (upstream or client): the client connection must close.
    Broken,
}

/// Writes `out` (the client's head) and the body after it, reading the upstream as needed.
pub async fn relay<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
    reply: &mut Reply,
    out: &mut Vec<u8>,
    read_timeout: Duration,
    write_timeout: Duration,
) -> Relayed {
    let mut chunked = Chunked::default();
    let mut left = match reply.framing {
        Framing::Length(n) => n,
        _ => 0,
    };
    // The body bytes that came with the head go out with it, in one write.
    let mut data = reply.buf.split_off(reply.head_len);
    let mut park = reply.reusable;
    let mut first = true;
    loop {
        let (take, done) = match reply.framing {
            Framing::None => (0, true),
            Framing::Length(_) => {
                let take = (data.len() as u64).min(left) as usize;
                left -= take as u64;
                (take, left == 0)
            }
            Framing::Chunked => match chunked.feed(&data) {
                Ok(Some(end)) => (end, true),
                Ok(None) => (data.len(), false),
                Err(_) => return Relayed::Broken,
            },
            Framing::Close => (data.len(), false),
        };
        if take < data.len() {
            // More than the framing allows: the upstream is confused; never reuse it.
            park = false;
        }
        if first {
            out.extend_from_slice(&data[..take]);
            first = false;
            if !write_all(client, out, write_timeout).await {
                return Relayed::Broken;
            }
        } else if take > 0 && !write_all(client, &data[..take], write_timeout).await {
            return Relayed::Broken;
        }
        if done {
            return Relayed::Done { park };
        }
        data.clear();
        if data.capacity() < 16 * 1024 {
            data.reserve(16 * 1024);
        }
        match tokio::time::timeout(read_timeout, reply.conn.read_buf(&mut data)).await {
            Ok(Ok(0)) if reply.framing == Framing::Close => return Relayed::Done { park: false },
            Ok(Ok(n)) if n > 0 => {}
            _ => return Relayed::Broken,
        }
    }
}

/// Writes and flushes `bytes` to the client within `timeout`; `false` when that failed.
pub async fn write_all<C: AsyncWrite + Unpin>(client: &mut C, bytes: &[u8], timeout: Duration) -> bool {
    let io = async {
        client.write_all(bytes).await?;
        client.flush().await
    };
    matches!(tokio::time::timeout(timeout, io).await, Ok(Ok(())))
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
            let parsed = parse_head(head.as_bytes(), head_request);
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

    #[test]
    fn conflicting_lengths_and_switching_protocols_are_bad_responses() {
        for head in [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "garbage\r\n\r\n",
        ] {
            assert_eq!(parse_head(head.as_bytes(), false), Err(()), "{head:?}");
        }
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", false), Ok(None));
    }
}
