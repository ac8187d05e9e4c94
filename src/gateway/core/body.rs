//! Request bodies as they go to the upstream: the one interface ([`RequestBody`]) each lane
//! implements over its client (HTTP/1.1: `http1::body`, h2c: DATA frames), and the chunked
//! re-encoding both use.
//!
//! A body is streamed: a piece is read from the client only when the previous one is written
//! to the upstream, so a slow upstream slows the client (TCP's flow control, or HTTP/2's) and
//! nothing is buffered beyond one read. A chunked body is re-encoded by the gateway (the data
//! of one read as one chunk, no extensions, no trailers): the upstream never sees the client's
//! framing, so nothing a client hides in it can be read differently there.

use std::future::Future;

/// The next bytes of a body, ready for the upstream.
#[derive(Debug)]
pub enum Piece<'a> {
    Bytes(Parts<'a>),
    /// The body is complete (everything before was handed out).
    End,
}

/// Up to four slices that go to the upstream in order, in one vectored write: a re-encoded
/// chunk is its size line, the client's data where it already lies, and its end — the data is
/// not copied to put a frame around it (a 16 KiB chunk copied cost a third of a request).
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    slices: [&'a [u8]; 4],
    count: usize,
}

impl<'a> Parts<'a> {
    pub fn one(bytes: &'a [u8]) -> Parts<'a> {
        Parts { slices: [bytes, &[], &[], &[]], count: 1 }
    }

    /// One chunk of `data` (its size line made by [`chunk_size_line`]), and the last chunk
    /// after it when the body ends with it.
    pub fn chunk(size_line: &'a [u8], data: &'a [u8], last: bool) -> Parts<'a> {
        let end: &[u8] = if last { b"\r\n0\r\n\r\n" } else { b"\r\n" };
        Parts { slices: [size_line, data, end, &[]], count: 3 }
    }

    pub fn slices(&self) -> &[&'a [u8]] {
        &self.slices[..self.count]
    }

    /// How many bytes the parts hold together.
    pub fn len(&self) -> usize {
        self.slices().iter().map(|s| s.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parts one after the other (for tests and small bodies).
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        for s in self.slices() {
            out.extend_from_slice(s);
        }
    }
}

/// The size line of a chunk of `len` bytes ("1a2\r\n"), written into `buf`.
pub fn chunk_size_line(len: usize, buf: &mut [u8; 18]) -> &[u8] {
    let mut at = buf.len() - 2;
    buf[at..].copy_from_slice(b"\r\n");
    let mut n = len;
    loop {
        at -= 1;
        buf[at] = b"0123456789abcdef"[n % 16];
        n /= 16;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
}

/// Why a client's body could not be read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Not valid framing (a broken chunk): 400, and the client's connection closes.
    Malformed,
    /// Nothing came for `body_timeout`: 408.
    Timeout,
    /// The client went away (closed, reset, or its HTTP/2 stream was reset).
    Closed,
    /// The grace period of a stop ended before the body did: 503.
    Stopping,
}

impl BodyError {
    /// The answer for the client, when one can still go out.
    pub fn status(self) -> u16 {
        match self {
            BodyError::Malformed | BodyError::Closed => 400,
            BodyError::Timeout => 408,
            BodyError::Stopping => 503,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            BodyError::Malformed => "The request's body is not framed correctly.\n",
            BodyError::Timeout => "The request's body did not arrive in time.\n",
            BodyError::Closed => "The request's body ended early.\n",
            BodyError::Stopping => {
                "The gateway is restarting and the request's body did not arrive before it stopped. Please send it again in a moment.\n"
            }
        }
    }

    /// What the gateway did with the request, for metrics and the log.
    pub fn outcome(self) -> crate::telemetry::Outcome {
        match self {
            BodyError::Stopping => crate::telemetry::Outcome::Stopped,
            _ => crate::telemetry::Outcome::BadRequest,
        }
    }
}

/// `read` within `limit`; looked at every `EXPIRY_CHECK` for the end of a stop's grace period
/// (`drain`, when given), on the one timer the wait has anyway.
pub async fn read_body<F: Future>(
    drain: Option<&crate::gateway::drain::Drain>,
    limit: std::time::Duration,
    read: F,
) -> Result<F::Output, BodyError> {
    use crate::gateway::drain::{Lapse, Patience};
    let mut read = std::pin::pin!(read);
    let mut patience = Patience::new(limit);
    loop {
        match tokio::time::timeout(patience.step(), read.as_mut()).await {
            Ok(v) => return Ok(v),
            Err(_) => match patience.lapsed(drain) {
                Lapse::Again => {}
                Lapse::Stopped => return Err(BodyError::Stopping),
                Lapse::Over => return Err(BodyError::Timeout),
            },
        }
    }
}

/// A client's request body, read piece by piece.
pub trait RequestBody {
    /// The next bytes as they go to the upstream (a chunked body re-encoded), or `End`.
    fn next(&mut self) -> impl Future<Output = Result<Piece<'_>, BodyError>> + Send;
    /// Starts again from the first byte, for a request sent again on a fresh connection;
    /// `false` when the body was not all in hand (some of it came from the client already and
    /// is gone).
    fn rewind(&mut self) -> bool;
    /// The body's data bytes handed out so far (without chunked framing), for the metrics;
    /// a rewind starts again from 0.
    fn received(&self) -> u64;
}

/// A request without a body.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBody;

impl RequestBody for NoBody {
    #[allow(clippy::manual_async_fn)]
    fn next(&mut self) -> impl Future<Output = Result<Piece<'_>, BodyError>> + Send {
        async { Ok(Piece::End) }
    }

    fn rewind(&mut self) -> bool {
        true
    }

    fn received(&self) -> u64 {
        0
    }
}

/// Appends one chunk holding `data` (the pieces in order) to `out`; nothing for no data (an
/// empty chunk would end the body).
pub fn encode_chunk<'d>(out: &mut Vec<u8>, data: impl Iterator<Item = &'d [u8]> + Clone) {
    let len: usize = data.clone().map(<[u8]>::len).sum();
    if len == 0 {
        return;
    }
    out.extend_from_slice(chunk_size_line(len, &mut [0; 18]));
    for d in data {
        out.extend_from_slice(d);
    }
    out.extend_from_slice(b"\r\n");
}

/// The end of a chunked body: the last chunk and no trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_carry_their_size_in_hex() {
        let mut out = Vec::new();
        encode_chunk(&mut out, [&b"hello"[..], b" world"].into_iter());
        encode_chunk(&mut out, std::iter::empty());
        let big = vec![b'x'; 300];
        encode_chunk(&mut out, std::iter::once(&big[..]));
        let mut expected = b"b\r\nhello world\r\n12c\r\n".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"\r\n");
        assert_eq!(out, expected);
    }

    #[test]
    fn a_chunk_in_parts_is_the_chunk_encoded() {
        let data = vec![b'y'; 0x4000];
        for last in [false, true] {
            let mut line = [0; 18];
            let mut parts = Vec::new();
            Parts::chunk(chunk_size_line(data.len(), &mut line), &data, last).copy_to(&mut parts);
            let mut encoded = Vec::new();
            encode_chunk(&mut encoded, std::iter::once(&data[..]));
            if last {
                encoded.extend_from_slice(LAST_CHUNK);
            }
            assert_eq!(parts, encoded);
        }
        assert_eq!(chunk_size_line(usize::MAX, &mut [0; 18]), b"ffffffffffffffff\r\n");
        assert_eq!(chunk_size_line(0, &mut [0; 18]), b"0\r\n");
    }
}
