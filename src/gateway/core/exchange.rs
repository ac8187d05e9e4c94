//! One exchange with an upstream: a connection (pooled or fresh), the request head and its body
//! streamed, an early answer noticed, the response head read and turned into the client's head
//! (`response::parse`).
//!
//! While a body goes up, the upstream may answer early (a 413, a redirect, an error): the
//! gateway stops sending, relays that answer, and keeps neither connection (the upstream has an
//! unfinished request on it, the client an unread body). A body that ends early or cannot be
//! read leaves the upstream connection closed, never a partial request on a reused one.

use super::body::{BodyError, Piece, RequestBody};
use super::conn::{Peer, ReadHalf, UpstreamConn};
use super::io::{read_within, within};
use super::pool;
use super::response::{self, Asked, ClientHead, Framing, Stamp};
use crate::gateway::drain::{Lapse, Patience};
use crate::pages::Failure;
use bytes::{Buf, BytesMut};
use std::io::IoSlice;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Sleep;

/// Most response bytes gathered before they are written (`relay`); the buffer an exchange
/// starts with.
pub const GATHER: usize = 64 * 1024;
/// Room the upstream buffer keeps for the next read.
pub const READ_ROOM: usize = 16 * 1024;

/// What one exchange needs to know.
#[derive(Debug)]
pub struct Exchange<'a> {
    pub app: u64,
    pub addr: SocketAddr,
    /// The whole request head for the upstream.
    pub request: &'a [u8],
    pub asked: Asked,
    /// The request may be sent again on a fresh connection when a pooled one turns out closed
    /// before any answer (an idempotent method; the body, if any, still in hand).
    pub resend: bool,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    /// What the client's head is marked with.
    pub stamp: Stamp<'a>,
    /// TLS towards the upstream: whom to trust, the name to send and verify (`None`: plain).
    pub tls: Option<Peer<'a>>,
    /// A graceful stop: the client's head says `Connection: close` once it began; a wait for
    /// the answer gives up when its grace period is over.
    pub drain: &'a crate::gateway::drain::Drain,
}

/// An upstream's response head, read; the body (or its start) follows in `buf`.
#[derive(Debug)]
pub struct Reply {
    pub conn: UpstreamConn,
    /// The response as read so far; the head ends at `head_len`.
    pub buf: BytesMut,
    pub head_len: usize,
    pub status: u16,
    pub framing: Framing,
    /// The upstream connection may be parked after the body.
    pub reusable: bool,
    /// The upstream answered before the whole request body was sent: the client's body is
    /// not read to its end, so the client's connection must close after this answer.
    pub early: bool,
    /// The client's head said `Connection: keep-alive` (not after an early answer, nor once a
    /// graceful stop had begun when the head was made).
    pub keep_alive: bool,
    /// Body bytes relayed to the client so far (for the access log).
    pub sent: u64,
}

/// Why an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// The upstream: what the user is told, the status, why (for the log), and whether nothing
    /// reached the upstream's application (a connect failure: another upstream may be tried).
    /// `os`: the system's error number, when a system call failed (for the log).
    Upstream { failure: Failure, status: u16, why: &'static str, before_request: bool, os: Option<i32> },
    /// The client's body could not be read.
    Client(BodyError),
}

impl Failed {
    pub fn upstream(failure: Failure, status: u16) -> Failed {
        Failed::Upstream { failure, status, why: failure.code(), before_request: false, os: None }
    }

    fn because(failure: Failure, status: u16, why: &'static str) -> Failed {
        Failed::Upstream { failure, status, why, before_request: false, os: None }
    }
}

async fn connect(x: &Exchange<'_>) -> Result<UpstreamConn, Failed> {
    let refused = |failure, status, why, os| Failed::Upstream { failure, status, why, before_request: true, os };
    let conn = match tokio::time::timeout(x.connect_timeout, TcpStream::connect(x.addr)).await {
        Err(_) => return Err(refused(Failure::ConnectTimeout, 504, "connect timed out", None)),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(refused(Failure::Refused, 502, "connection refused", e.raw_os_error()))
        }
        Ok(Err(e)) => return Err(refused(Failure::Unavailable, 502, "connect failed", e.raw_os_error())),
        Ok(Ok(conn)) => conn,
    };
    let _ = conn.set_nodelay(true);
    let Some(peer) = &x.tls else { return Ok(UpstreamConn::Plain(conn)) };
    // The handshake gets a connect timeout of its own: it is the rest of setting up.
    match tokio::time::timeout(x.connect_timeout, UpstreamConn::handshake(conn, peer)).await {
        Err(_) => Err(refused(Failure::ConnectTimeout, 504, "TLS handshake timed out", None)),
        Ok(Err(e)) => Err(refused(Failure::Tls, 502, crate::compiled::upstream_tls::handshake_words(&e), None)),
        Ok(Ok(conn)) => Ok(conn),
    }
}

/// Sends the request and reads the response head: on a pooled connection first, and on a
/// fresh one when the pooled one turns out closed before any answer and the request may go
/// again. The client's head is made from the same parse.
pub async fn exchange<B: RequestBody>(
    x: &Exchange<'_>,
    body: &mut B,
    mut buf: BytesMut,
    mut out: ClientHead<'_>,
    mut timer: Pin<&mut Sleep>,
) -> Result<Reply, Failed> {
    if let Some(conn) = pool::take(x.app, x.addr, x.tls.as_ref()) {
        buf.clear();
        match attempt(x, conn, body, buf, out.reborrow(), timer.as_mut()).await {
            Ok(reply) => return Ok(reply),
            // Closed by the upstream while idle: nothing was answered, so ask again.
            Err((Some(b), f)) => {
                if !(x.resend && body.rewind()) {
                    return Err(f);
                }
                buf = b;
            }
            Err((None, f)) => return Err(f),
        }
    }
    let conn = connect(x).await?;
    buf.clear();
    attempt(x, conn, body, buf, out, timer).await.map_err(|(_, f)| f)
}

/// How sending the body ended.
enum Sent {
    /// All of it.
    Whole,
    /// The upstream started answering first (its bytes are in the response buffer).
    Early,
}

/// One try on `conn`. `Err((Some(buf), _))`: the connection was dead before any answer.
async fn attempt<B: RequestBody>(
    x: &Exchange<'_>,
    mut conn: UpstreamConn,
    body: &mut B,
    mut buf: BytesMut,
    mut out: ClientHead<'_>,
    mut timer: Pin<&mut Sleep>,
) -> Result<Reply, (Option<BytesMut>, Failed)> {
    let reset = Failed::because(Failure::Reset, 502, "connection closed before an answer");
    let sent = match send(x, &mut conn, body, &mut buf).await {
        Ok(sent) => sent,
        Err(Sending::Dead) => return Err((Some(buf), reset)),
        Err(Sending::Failed(f)) => return Err((None, f)),
    };
    let mut stamp = x.stamp;
    let early = matches!(sent, Sent::Early);
    stamp.keep_alive &= !early;
    // Whether the upstream has answered anything yet: a pooled connection that ends before
    // that was closed while idle, and the request may go again on a fresh one.
    let mut answered = !buf.is_empty();
    // The wait for the answer goes in steps (`Patience`), so that the end of a stop's grace
    // period is seen without registering every request with the drain (a lock taken and
    // released per request); a step costs nothing when the answer comes sooner (the timer's
    // deadline is moved either way).
    let mut patience = Patience::new(x.read_timeout);
    loop {
        if !buf.is_empty() {
            // Checked as late as possible: a stop that began while the upstream worked counts.
            stamp.keep_alive &= !x.drain.is_closing();
            match response::parse(&buf, x.asked, Some((out.reborrow(), &stamp))) {
                Ok(Some(head)) if head.status >= 200 || head.status == 101 => {
                    return Ok(Reply {
                        conn,
                        buf,
                        head_len: head.len,
                        status: head.status,
                        framing: head.framing,
                        reusable: head.reusable && !early,
                        early,
                        keep_alive: stamp.keep_alive,
                        sent: 0,
                    });
                }
                // 100 Continue, 103 Early Hints: not forwarded; the final head follows (maybe
                // already in the buffer).
                Ok(Some(head)) => {
                    buf.advance(head.len);
                    continue;
                }
                Ok(None) => {}
                Err(bad) => return Err((None, Failed::because(Failure::BadResponse, 502, bad.0))),
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(READ_ROOM);
        }
        match read_within(&mut conn, &mut buf, timer.as_mut(), patience.step()).await {
            None => match patience.lapsed(Some(x.drain)) {
                Lapse::Again => {}
                Lapse::Stopped => {
                    return Err((None, Failed::because(Failure::Stopping, 503, "the grace period of a stop ended")))
                }
                Lapse::Over => return Err((None, Failed::because(Failure::ReadTimeout, 504, "no answer in time"))),
            },
            Some(Err(_) | Ok(0)) if !answered => return Err((Some(buf), reset)),
            Some(Err(_) | Ok(0)) => return Err((None, reset)),
            Some(Ok(_)) => {
                answered = true;
                patience.reset();
            }
        }
    }
}

/// Why the request did not go out whole.
enum Sending {
    /// The connection was closed or reset before anything was answered.
    Dead,
    Failed(Failed),
}

/// Writes the request head and streams the body, watching the upstream for an early answer.
async fn send<B: RequestBody>(
    x: &Exchange<'_>,
    conn: &mut UpstreamConn,
    body: &mut B,
    answer: &mut BytesMut,
) -> Result<Sent, Sending> {
    let write_failed = |e: Option<std::io::Error>| match e {
        None => Sending::Failed(Failed::because(Failure::ReadTimeout, 504, "request write timed out")),
        Some(_) => Sending::Dead,
    };
    // The head, with the first piece of the body when it is at hand at once (one write for a
    // small request, as most are).
    let first = {
        let next = std::pin::pin!(body.next());
        match poll_once(next).await {
            Some(Ok(Piece::Bytes(b))) => Some(b),
            Some(Ok(Piece::End)) => match within(x.write_timeout, write_flushed(conn, x.request)).await {
                Some(Ok(())) => return Ok(Sent::Whole),
                Some(Err(e)) => return Err(write_failed(Some(e))),
                None => return Err(write_failed(None)),
            },
            Some(Err(e)) => return Err(Sending::Failed(Failed::Client(e))),
            None => None,
        }
    };
    let mut parts = [x.request, &[], &[], &[], &[]];
    for (slot, part) in parts[1..].iter_mut().zip(first.iter().flat_map(|p| p.slices())) {
        *slot = part;
    }
    match write_vectored_all(conn, &parts, x.write_timeout).await {
        Ok(()) => {}
        Err(e) => return Err(write_failed(e)),
    }
    let (mut rd, mut wr) = conn.split();
    loop {
        let piece = tokio::select! {
            biased;
            r = arrived(&mut rd, answer) => {
                if early_answer(r, answer)? {
                    return Ok(Sent::Early);
                }
                continue;
            }
            p = body.next() => p,
        };
        let parts = match piece {
            Ok(Piece::Bytes(b)) => b,
            Ok(Piece::End) => return Ok(Sent::Whole),
            Err(e) => return Err(Sending::Failed(Failed::Client(e))),
        };
        let write = within(x.write_timeout, async {
            let mut slices = [IoSlice::new(&[]); 4];
            let count = fill(&mut slices, parts.slices());
            let mut slices = &mut slices[..count];
            while !slices.is_empty() {
                let written = tokio::select! {
                    biased;
                    r = arrived(&mut rd, answer) => {
                        if early_answer(r, answer).map_err(|_| std::io::Error::other("upstream closed"))? {
                            return Ok(true);
                        }
                        continue;
                    }
                    n = wr.write_vectored(slices) => n?,
                };
                if written == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                IoSlice::advance_slices(&mut slices, written);
            }
            // TLS may hold the last records back until flushed; plain TCP has nothing to flush.
            wr.flush().await?;
            Ok::<bool, std::io::Error>(false)
        })
        .await;
        match write {
            Some(Ok(false)) => {}
            Some(Ok(true)) => return Ok(Sent::Early),
            // The upstream went away in the middle of the body.
            Some(Err(_)) => {
                return Err(Sending::Failed(Failed::because(Failure::Reset, 502, "closed during the body")))
            }
            None => return Err(write_failed(None)),
        }
    }
}

/// Bytes the upstream sent while the body goes up, appended to `answer`.
async fn arrived(rd: &mut ReadHalf<'_>, answer: &mut BytesMut) -> std::io::Result<usize> {
    if answer.capacity() - answer.len() < 4096 {
        answer.reserve(READ_ROOM);
    }
    rd.arrived(answer).await
}

/// The upstream sent something while the body goes up (`read`): `true` when it has begun a
/// final answer (its bytes are in `answer`); `false` for only interim answers (100 Continue:
/// the body goes on).
fn early_answer(read: std::io::Result<usize>, answer: &mut BytesMut) -> Result<bool, Sending> {
    match read {
        Ok(0) | Err(_) => {
            return Err(Sending::Failed(Failed::because(Failure::Reset, 502, "closed during the body")));
        }
        Ok(_) => {}
    }
    // Interim heads are dropped; anything else (a final head, or a part of one) is an answer.
    loop {
        match response::parse(answer, Asked::default(), None) {
            Ok(Some(h)) if h.status < 200 && h.status != 101 => answer.advance(h.len),
            _ => return Ok(!answer.is_empty()),
        }
    }
}

/// Polls `fut` once: its output when it is ready at once.
async fn poll_once<F: std::future::Future>(mut fut: Pin<&mut F>) -> Option<F::Output> {
    match std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// The non-empty `parts` in `slices`, in order: how many there are. The arrays here have room
/// for the most parts a write has (a head and a piece's four).
fn fill<'a>(slices: &mut [IoSlice<'a>], parts: &[&'a [u8]]) -> usize {
    let mut count = 0;
    for p in parts.iter().filter(|p| !p.is_empty()) {
        // Dropping a part would send a body with a hole in it: never.
        assert!(count < slices.len(), "more parts than room for them");
        slices[count] = IoSlice::new(p);
        count += 1;
    }
    count
}

/// Writes `bytes` and flushes them (TLS may hold records back until flushed).
async fn write_flushed(conn: &mut UpstreamConn, bytes: &[u8]) -> std::io::Result<()> {
    conn.write_all(bytes).await?;
    conn.flush().await
}

/// Writes the parts in order within `timeout`: `Err(None)` when it took longer.
async fn write_vectored_all(
    conn: &mut UpstreamConn,
    parts: &[&[u8]],
    timeout: Duration,
) -> Result<(), Option<std::io::Error>> {
    let io = async {
        let mut slices = [IoSlice::new(&[]); 5];
        let count = fill(&mut slices, parts);
        let mut slices = &mut slices[..count];
        while !slices.is_empty() {
            let n = conn.write_vectored(slices).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut slices, n);
        }
        conn.flush().await
    };
    match within(timeout, io).await {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(Some(e)),
        None => Err(None),
    }
}
