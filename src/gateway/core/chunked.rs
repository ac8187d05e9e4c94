//! Where a chunked body ends, and where its data lies. An upstream's chunked body goes to an
//! HTTP/1.1 client as it is (no decoding and re-encoding): the gateway only needs to know where
//! the last chunk and the trailers end, so that it can stop reading and keep both connections.
//! Towards an HTTP/2 or HTTP/1.0 client, and for a client's chunked request body, only the
//! chunks' data goes on ([`Chunked::feed_with`]): a request body is re-encoded by the gateway,
//! so the upstream never sees the client's sizes, extensions or trailers. A pure state machine
//! fed the bytes as they arrive, in pieces of any size; strict (RFC 9112 §7.1): CRLF line ends,
//! hex sizes without sign, prefix or leading space, no control characters in extensions or
//! trailer lines.

/// Longest chunk-size line (size, extensions) accepted; more is a broken upstream.
const MAX_LINE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In the size's hex digits.
    Size,
    /// After the size: extensions up to CR.
    Extension,
    /// CR seen, LF expected.
    SizeLf,
    /// In the data; how much is left.
    Data(u64),
    /// After the data: CR then LF.
    DataCr,
    DataLf,
    /// After the last chunk: at the start of a trailer line (or the final CRLF).
    TrailerStart,
    /// In a trailer field line.
    Trailer,
    TrailerLf,
    /// The final CRLF's LF.
    EndLf,
    Done,
}

/// The framing of one chunked body.
#[derive(Debug, Clone)]
pub struct Chunked {
    state: State,
    size: u64,
    digits: usize,
    line: usize,
}

/// The bytes are not a chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl Default for Chunked {
    fn default() -> Self {
        Chunked { state: State::Size, size: 0, digits: 0, line: 0 }
    }
}

impl Chunked {
    /// Reads `data`, the next bytes of the body. `Some(n)`: the body ends after `n` of them.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<usize>, Malformed> {
        self.feed_with(data, &mut |_| {})
    }

    /// [`Chunked::feed`], and `on_data` learns where in `data` each piece of chunk data lies
    /// (in order; a chunk split over two feeds comes as two pieces). Trailers are not data.
    pub fn feed_with(
        &mut self,
        data: &[u8],
        on_data: &mut dyn FnMut(std::ops::Range<usize>),
    ) -> Result<Option<usize>, Malformed> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            self.state = match self.state {
                State::Size => match hex(b) {
                    Some(d) => {
                        self.digits += 1;
                        if self.digits > 15 {
                            return Err(Malformed);
                        }
                        self.size = self.size * 16 + u64::from(d);
                        State::Size
                    }
                    None if self.digits == 0 => return Err(Malformed),
                    None if b == b'\r' => State::SizeLf,
                    None if b == b';' || b == b' ' || b == b'\t' => State::Extension,
                    None => return Err(Malformed),
                },
                State::Extension => {
                    self.line += 1;
                    if self.line > MAX_LINE {
                        return Err(Malformed);
                    }
                    match b {
                        b'\r' => State::SizeLf,
                        _ if control(b) => return Err(Malformed),
                        _ => State::Extension,
                    }
                }
                State::SizeLf if b == b'\n' => {
                    let size = std::mem::take(&mut self.size);
                    (self.digits, self.line) = (0, 0);
                    if size == 0 {
                        State::TrailerStart
                    } else {
                        State::Data(size)
                    }
                }
                State::Data(left) => {
                    // Skip the data in one step.
                    let take = (data.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                    on_data(i..i + take);
                    i += take;
                    let left = left - take as u64;
                    self.state = if left == 0 { State::DataCr } else { State::Data(left) };
                    continue;
                }
                State::DataCr if b == b'\r' => State::DataLf,
                State::DataLf if b == b'\n' => State::Size,
                State::TrailerStart if b == b'\r' => State::EndLf,
                State::TrailerStart if control(b) => return Err(Malformed),
                State::TrailerStart => State::Trailer,
                State::Trailer => {
                    self.line += 1;
                    if self.line > MAX_LINE {
                        return Err(Malformed);
                    }
                    match b {
                        b'\r' => State::TrailerLf,
                        _ if control(b) => return Err(Malformed),
                        _ => State::Trailer,
                    }
                }
                State::TrailerLf if b == b'\n' => {
                    self.line = 0;
                    State::TrailerStart
                }
                State::EndLf if b == b'\n' => {
                    self.state = State::Done;
                    return Ok(Some(i + 1));
                }
                State::Done => return Ok(Some(0)),
                _ => return Err(Malformed),
            };
            i += 1;
        }
        Ok(if self.state == State::Done { Some(0) } else { None })
    }
}

/// A control character other than a tab: never part of an extension or a trailer line (a bare
/// LF there is how one parser's line end becomes another's data).
fn control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `body` in the given piece sizes; the end as an offset into `body`.
    fn end_of(body: &[u8], pieces: &[usize]) -> Result<Option<usize>, Malformed> {
        decode(body, pieces).map(|(end, _)| end)
    }

    /// Feeds `body` in the given piece sizes; the end, and the data as `feed_with` shows it.
    fn decode(body: &[u8], pieces: &[usize]) -> Result<(Option<usize>, Vec<u8>), Malformed> {
        let mut c = Chunked::default();
        let mut at = 0;
        let mut sizes = pieces.iter().copied().cycle();
        let mut data = Vec::new();
        while at < body.len() {
            let n = sizes.next().unwrap_or(1).clamp(1, body.len() - at);
            let piece = &body[at..at + n];
            if let Some(end) = c.feed_with(piece, &mut |r| data.extend_from_slice(&piece[r]))? {
                return Ok((Some(at + end), data));
            }
            at += n;
        }
        Ok((None, data))
    }

    #[test]
    fn data_comes_without_sizes_extensions_or_trailers() {
        let body = b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n";
        for piece in 1..body.len() {
            assert_eq!(
                decode(body, &[piece]),
                Ok((Some(body.len()), b"hello0123456789".to_vec())),
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn finds_the_end_with_extensions_and_trailers_and_ignores_what_follows() {
        let body = b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\nHTTP/1.1 200 OK";
        let end = body.len() - "HTTP/1.1 200 OK".len();
        for piece in 1..body.len() {
            assert_eq!(end_of(body, &[piece]), Ok(Some(end)), "pieces of {piece}");
        }
    }

    #[test]
    fn an_unfinished_body_is_not_ended() {
        assert_eq!(end_of(b"5\r\nhel", &[2]), Ok(None));
        assert_eq!(end_of(b"0\r\nX: 1\r\n", &[1]), Ok(None));
    }

    #[test]
    fn broken_framing_is_malformed() {
        for body in [
            &b"x\r\n"[..],
            b"5\r\nhelloXX",
            b"\r\n",
            b"1234567890abcdef0\r\n",
            b"5\rX",
            b"5\nhello\r\n",
            b"+5\r\nhello\r\n",
            b"0x5\r\nhello\r\n",
            b" 5\r\nhello\r\n",
            b"5;a\nb\r\nhello\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"0\r\nX: a\nb\r\n\r\n",
            b"0\r\n\n",
        ] {
            assert_eq!(end_of(body, &[3]), Err(Malformed), "{:?}", String::from_utf8_lossy(body));
        }
    }

    proptest! {
        /// Any chunking of any data, in pieces of any size, ends exactly after the last CRLF.
        #[test]
        fn any_encoding_in_any_pieces(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..8),
            pieces in proptest::collection::vec(1usize..64, 1..8),
            upper in any::<bool>(),
        ) {
            let mut body = Vec::new();
            for c in &chunks {
                let size = if upper { format!("{:X}", c.len()) } else { format!("{:x}", c.len()) };
                body.extend_from_slice(size.as_bytes());
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(c);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"0\r\n\r\n");
            let end = body.len();
            body.extend_from_slice(b"next");
            prop_assert_eq!(decode(&body, &pieces), Ok((Some(end), chunks.concat())));
        }

        /// Any bytes (and bytes from the framing's own alphabet, which reach further), in pieces
        /// of any size: no panic, and the verdict and the data are those of one piece: where a
        /// read happens to end never matters. `cargo fuzz` (fuzz/) goes much further; this runs
        /// on every `cargo test`.
        #[test]
        fn any_bytes_in_any_pieces_read_as_in_one(
            body in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300),
                proptest::collection::vec(proptest::sample::select(b"0123456789aF;= \t\r\n\r\nX:".to_vec()), 0..300),
            ],
            pieces in proptest::collection::vec(1usize..32, 1..8),
        ) {
            prop_assert_eq!(decode(&body, &pieces), decode(&body, &[body.len()]));
        }
    }
}
