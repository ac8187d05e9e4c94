//! A response body relayed to an HTTP/1.x client as it comes, behind the client's head.
//!
//! The framing is kept (a chunked body stays chunked: no decoding and re-encoding), except for
//! an HTTP/1.0 client, which cannot read chunks: it gets the data alone, and the connection
//! closes after it. What the upstream has already sent is gathered (up to `GATHER`) and goes
//! out in one vectored write with the head: fewer, larger writes are what loopback TCP charges
//! least for. Nothing waits to fill the buffer, so a streamed body is never held back.

use super::chunked::Chunked;
use super::exchange::{Reply, GATHER, READ_ROOM};
use super::io::{read_within, write_parts};
use super::response::Framing;
use bytes::BytesMut;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::Sleep;

/// How a relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relayed {
    /// The whole body, and whether the upstream connection may be parked.
    Done { park: bool },
    /// Cut short (upstream or client): the client connection must close.
    Broken,
}

/// What the upstream's next read brought.
enum Got {
    Bytes,
    /// Nothing at hand now (only from a read that does not wait).
    Later,
    End,
    Failed,
}

/// Writes `out` (the client's head) and the body after it, reading the upstream as needed.
/// `dechunk`: a chunked body goes out as its data alone (an HTTP/1.0 client).
pub async fn relay<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
    reply: &mut Reply,
    out: &mut Vec<u8>,
    dechunk: bool,
    read_timeout: Duration,
    write_timeout: Duration,
    mut timer: Pin<&mut Sleep>,
) -> Relayed {
    let mut chunked = Chunked::default();
    let mut left = match reply.framing {
        Framing::Length(n) => n,
        _ => 0,
    };
    let dechunk = dechunk && reply.framing == Framing::Chunked;
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    let buf = &mut reply.buf;
    // buf[start..framed]: body bytes to write; buf[framed..]: read, not yet framed.
    let (mut start, mut framed) = (reply.head_len, reply.head_len);
    let mut park = reply.reusable;
    loop {
        let new_len = buf.len() - framed;
        let (take, done) = match reply.framing {
            Framing::None => (0, true),
            Framing::Length(_) => {
                let take = (new_len as u64).min(left) as usize;
                left -= take as u64;
                (take, left == 0)
            }
            Framing::Chunked if dechunk => {
                ranges.clear();
                let end = match chunked.feed_with(&buf[framed..], &mut |r| ranges.push(r)) {
                    Ok(end) => end,
                    Err(_) => return Relayed::Broken,
                };
                if end.is_some_and(|e| e < new_len) {
                    park = false;
                }
                // The data moved together to where the framing began.
                let mut at = framed;
                for r in &ranges {
                    buf.copy_within(framed + r.start..framed + r.end, at);
                    at += r.len();
                }
                // Truncated to the data: nothing after the end remains.
                buf.truncate(at);
                framed = at;
                (0, end.is_some())
            }
            Framing::Chunked => match chunked.feed(&buf[framed..]) {
                Ok(Some(end)) => (end, true),
                Ok(None) => (new_len, false),
                Err(_) => return Relayed::Broken,
            },
            Framing::Close => (new_len, false),
        };
        if !dechunk && take < new_len {
            // More than the framing allows: the upstream is confused; never reuse it.
            park = false;
            buf.truncate(framed + take);
        }
        if !dechunk {
            framed += take;
        }
        if !done && framed - start < GATHER {
            // More may be at hand already: gather it before writing.
            match read(&mut reply.conn, buf, None).await {
                Got::Bytes => continue,
                Got::Later => {}
                // The end of a close-delimited body (or of the data an HTTP/1.0 client gets
                // close-delimited): what is gathered goes out now.
                Got::End if reply.framing == Framing::Close => {
                    let written = flush(client, out, &buf[start..framed], write_timeout).await;
                    reply.sent += (framed - start) as u64;
                    return if written { Relayed::Done { park: false } } else { Relayed::Broken };
                }
                // Cut short: the client gets what came (the head says how much was meant),
                // then its connection closes.
                Got::End | Got::Failed => {
                    if flush(client, out, &buf[start..framed], write_timeout).await {
                        reply.sent += (framed - start) as u64;
                    }
                    return Relayed::Broken;
                }
            }
        }
        if !flush(client, out, &buf[start..framed], write_timeout).await {
            return Relayed::Broken;
        }
        reply.sent += (framed - start) as u64;
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
async fn read(
    conn: &mut super::conn::UpstreamConn,
    buf: &mut BytesMut,
    wait: Option<(Pin<&mut Sleep>, Duration)>,
) -> Got {
    if buf.capacity() - buf.len() < READ_ROOM {
        buf.reserve(GATHER);
    }
    let result = match wait {
        // Polled once, not `try_read_buf`: a short read through the reactor also marks the
        // socket drained, so the pool's check on the next take costs no system call.
        None => {
            let mut read = std::pin::pin!(conn.read_buf(buf));
            match std::future::poll_fn(|cx| std::task::Poll::Ready(read.as_mut().poll(cx))).await {
                std::task::Poll::Ready(r) => r,
                std::task::Poll::Pending => return Got::Later,
            }
        }
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
