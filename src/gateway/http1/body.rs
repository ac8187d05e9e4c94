//! An HTTP/1.1 client's request body as it goes to the upstream (`core::body::RequestBody`):
//! first what arrived with the head, then read from the socket piece by piece, each read
//! within `body_timeout`. A `Content-Length` body goes on as it comes; a chunked one is
//! decoded (strictly, `core::chunked`) and re-encoded.
//!
//! Bytes read past the body's end belong to the next request on the connection: they stay in
//! [`H1Body::leftover`] for the lane to put back in front of what it reads next.

use crate::gateway::core::body::{
    chunk_size_line, encode_chunk, read_body, BodyError, Parts, Piece, RequestBody, LAST_CHUNK,
};
use crate::gateway::core::chunked::Chunked;
use crate::gateway::drain::Drain;
use bytes::BytesMut;
use std::future::Future;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes read from the client at once.
const READ: usize = 64 * 1024;

#[derive(Debug, Clone)]
enum Framing {
    Length { left: u64 },
    Chunked(Chunked),
}

/// A request body on an HTTP/1.1 connection.
#[derive(Debug)]
pub struct H1Body<'a, S> {
    io: &'a mut S,
    /// What followed the head in the connection's buffer when the request was read.
    pre: &'a [u8],
    /// How much of `pre` is body that has been handed out.
    pre_at: usize,
    /// Read from the socket past `pre`; `more[more_at..]` is not handed out yet.
    more: &'a mut BytesMut,
    more_at: usize,
    framing: Framing,
    /// The framing as it began, for a rewind.
    initial: Framing,
    /// A chunked read re-encoded for the upstream, when it held more than one of the client's
    /// chunks (one chunk goes on where it lies, framed by `size_line`).
    encoded: Vec<u8>,
    /// The size line of the chunk handed out last: `size_line[size_from..]`.
    size_line: [u8; 18],
    size_from: usize,
    /// Where the data lies in a chunked read (kept to reuse its allocation).
    ranges: Vec<std::ops::Range<usize>>,
    done: bool,
    /// Data bytes handed out (`RequestBody::received`).
    received: u64,
    /// Something was read from the socket: the body is no longer all in hand.
    read_any: bool,
    timeout: Duration,
    /// A stop whose grace period may end while the body is read.
    drain: Option<&'a Drain>,
}

impl<'a, S: AsyncRead + Unpin + Send> H1Body<'a, S> {
    /// `length`: `Some(n)` for `Content-Length: n`, `None` for chunked.
    pub fn new(io: &'a mut S, pre: &'a [u8], more: &'a mut BytesMut, length: Option<u64>, timeout: Duration) -> Self {
        more.clear();
        let framing = match length {
            Some(left) => Framing::Length { left },
            None => Framing::Chunked(Chunked::default()),
        };
        H1Body {
            io,
            pre,
            pre_at: 0,
            more,
            more_at: 0,
            initial: framing.clone(),
            framing,
            encoded: Vec::new(),
            size_line: [0; 18],
            size_from: 0,
            ranges: Vec::new(),
            done: false,
            received: 0,
            read_any: false,
            timeout,
            drain: None,
        }
    }

    /// Gives up with `BodyError::Stopping` when `drain`'s grace period ends first.
    pub fn until_stopped(mut self, drain: &'a Drain) -> Self {
        self.drain = Some(drain);
        self
    }

    /// The whole body was read.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Bytes of the connection's buffer (`pre`) the body used.
    pub fn pre_used(&self) -> usize {
        self.pre_at
    }

    /// What was read past the body: the start of the next request.
    pub fn leftover(&self) -> &[u8] {
        self.more.get(self.more_at..).unwrap_or_default()
    }

    /// Where the bytes past the body begin in the lane's read-past buffer (`more`), when
    /// anything was read into it.
    pub fn more_from(&self) -> Option<usize> {
        self.read_any.then_some(self.more_at)
    }

    /// Whether the body is complete in what arrived with the head (`Content-Length` only).
    pub fn in_hand(pre: &[u8], length: Option<u64>) -> bool {
        length.is_some_and(|n| pre.len() as u64 >= n)
    }

    async fn read(&mut self) -> Result<(), BodyError> {
        self.more.clear();
        self.more_at = 0;
        self.more.reserve(READ);
        self.read_any = true;
        match read_body(self.drain, self.timeout, self.io.read_buf(self.more)).await? {
            Ok(0) | Err(_) => Err(BodyError::Closed),
            Ok(_) => Ok(()),
        }
    }

    async fn next_piece(&mut self) -> Result<Piece<'_>, BodyError> {
        loop {
            if self.done {
                return Ok(Piece::End);
            }
            if let Framing::Length { left: 0 } = self.framing {
                self.done = true;
                return Ok(Piece::End);
            }
            let in_pre = self.pre_at < self.pre.len();
            if !in_pre && self.more_at >= self.more.len() {
                self.read().await?;
                continue;
            }
            let (source, at): (&[u8], usize) =
                if in_pre { (self.pre, self.pre_at) } else { (&self.more[..], self.more_at) };
            let avail = &source[at..];
            // What goes out: the data at `range` of the source, as it is or as one chunk (its
            // size line already in `size_line`), or what `encoded` holds.
            enum Out {
                Plain(std::ops::Range<usize>),
                Chunk(std::ops::Range<usize>, bool),
                Encoded,
            }
            let (used, out) = match &mut self.framing {
                Framing::Length { left } => {
                    let take = (avail.len() as u64).min(*left) as usize;
                    *left -= take as u64;
                    (take, Out::Plain(at..at + take))
                }
                Framing::Chunked(chunked) => {
                    let ranges = &mut self.ranges;
                    ranges.clear();
                    let end = chunked.feed_with(avail, &mut |r| ranges.push(r)).map_err(|_| BodyError::Malformed)?;
                    self.done = end.is_some();
                    self.encoded.clear();
                    let out = match ranges.as_slice() {
                        [one] if !one.is_empty() => {
                            self.size_from =
                                self.size_line.len() - chunk_size_line(one.len(), &mut self.size_line).len();
                            Out::Chunk(at + one.start..at + one.end, self.done)
                        }
                        _ => {
                            encode_chunk(&mut self.encoded, ranges.iter().map(|r| &avail[r.clone()]));
                            if self.done {
                                self.encoded.extend_from_slice(LAST_CHUNK);
                            }
                            Out::Encoded
                        }
                    };
                    (end.unwrap_or(avail.len()), out)
                }
            };
            if in_pre {
                self.pre_at += used;
            } else {
                self.more_at += used;
            }
            self.received += match &out {
                Out::Plain(range) | Out::Chunk(range, _) => range.len() as u64,
                Out::Encoded => self.ranges.iter().map(|r| r.len() as u64).sum(),
            };
            match out {
                Out::Plain(range) if !range.is_empty() => {
                    let source: &[u8] = if in_pre { self.pre } else { &self.more[..] };
                    return Ok(Piece::Bytes(Parts::one(&source[range])));
                }
                Out::Chunk(range, last) => {
                    let source: &[u8] = if in_pre { self.pre } else { &self.more[..] };
                    return Ok(Piece::Bytes(Parts::chunk(&self.size_line[self.size_from..], &source[range], last)));
                }
                Out::Encoded if !self.encoded.is_empty() => return Ok(Piece::Bytes(Parts::one(&self.encoded))),
                _ => {}
            }
        }
    }
}

impl<S: AsyncRead + Unpin + Send> RequestBody for H1Body<'_, S> {
    fn next(&mut self) -> impl Future<Output = Result<Piece<'_>, BodyError>> + Send {
        self.next_piece()
    }

    fn rewind(&mut self) -> bool {
        if self.read_any {
            return false;
        }
        self.pre_at = 0;
        self.framing = self.initial.clone();
        self.done = false;
        self.received = 0;
        true
    }

    fn received(&self) -> u64 {
        self.received
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads every piece of a body given in `pre` and on a socket-like reader.
    async fn drain(pre: &[u8], rest: &[u8], length: Option<u64>) -> Result<(Vec<u8>, Vec<u8>), BodyError> {
        let mut io = rest;
        let mut more = BytesMut::new();
        let mut body = H1Body::new(&mut io, pre, &mut more, length, Duration::from_secs(1));
        let mut out = Vec::new();
        while let Piece::Bytes(b) = body.next().await? {
            b.copy_to(&mut out);
        }
        let mut after = pre[body.pre_used()..].to_vec();
        after.extend_from_slice(body.leftover());
        // What the body did not read stays on the socket for the next request.
        drop(body);
        after.extend_from_slice(io);
        Ok((out, after))
    }

    #[tokio::test]
    async fn a_length_body_is_handed_on_as_it_is_and_the_next_request_stays() {
        for cut in 0..=11 {
            let all = b"hello worldGET /next";
            let (pre, rest) = all.split_at(cut);
            let (out, after) = drain(pre, rest, Some(11)).await.unwrap_or_else(|e| panic!("{cut}: {e:?}"));
            assert_eq!((out.as_slice(), after.as_slice()), (&b"hello world"[..], &b"GET /next"[..]), "{cut}");
        }
    }

    #[tokio::test]
    async fn a_chunked_body_is_re_encoded_without_extensions_or_trailers() {
        let all = b"5;ext=\"x\"\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\nGET /next";
        for cut in 0..all.len() - 9 {
            let (pre, rest) = all.split_at(cut);
            let (out, after) = drain(pre, rest, None).await.unwrap_or_else(|e| panic!("{cut}: {e:?}"));
            let mut data = Vec::new();
            let mut c = Chunked::default();
            assert!(
                matches!(c.feed_with(&out, &mut |r| data.extend_from_slice(&out[r])), Ok(Some(n)) if n == out.len()),
                "{cut}: {:?}",
                String::from_utf8_lossy(&out)
            );
            assert_eq!(data, b"hello world", "{cut}");
            assert!(!out.windows(3).any(|w| w == b"ext") && !out.windows(5).any(|w| w == b"X-Sum"), "{cut}");
            assert_eq!(after, b"GET /next", "{cut}");
        }
    }

    #[tokio::test]
    async fn chunks_of_different_sizes_in_separate_reads_keep_their_own_size_lines() {
        // A big chunk, then small ones: each goes on where it lies, framed by its own size.
        let big = vec![b'x'; 0x4000];
        let mut first = b"4000\r\n".to_vec();
        first.extend_from_slice(&big);
        first.extend_from_slice(b"\r\n");
        let (out, _) = drain(&first, b"5\r\nhello\r\n0\r\n\r\n", None).await.unwrap_or_else(|e| panic!("{e:?}"));
        let mut expected = first.clone();
        expected.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
    }

    #[tokio::test]
    async fn broken_or_short_bodies_are_errors() {
        assert_eq!(drain(b"5\r\nhelloXX", b"", None).await.err(), Some(BodyError::Malformed));
        assert_eq!(drain(b"hel", b"", Some(5)).await.err(), Some(BodyError::Closed));
        assert_eq!(drain(b"5\r\nhel", b"", None).await.err(), Some(BodyError::Closed));
    }

    #[tokio::test]
    async fn many_small_chunks_in_one_read_all_arrive() {
        let mut all = Vec::new();
        let mut expected = Vec::new();
        for i in 0..40u8 {
            all.extend_from_slice(b"1\r\n");
            all.push(b'a' + i % 26);
            expected.push(b'a' + i % 26);
            all.extend_from_slice(b"\r\n");
        }
        all.extend_from_slice(b"0\r\n\r\n");
        let (out, _) = drain(&all, b"", None).await.unwrap_or_else(|e| panic!("{e:?}"));
        let mut data = Vec::new();
        let _ = Chunked::default().feed_with(&out, &mut |r| data.extend_from_slice(&out[r]));
        assert_eq!(data, expected);
    }
}
