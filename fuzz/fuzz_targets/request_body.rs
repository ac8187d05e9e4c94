//! A client's request body on the HTTP/1.1 lane, `hiatus::gateway::http1::body::H1Body`: what
//! arrived with the head, then reads from the socket, a chunked body decoded and re-encoded for
//! the upstream. Driven over a `&[u8]` "socket" on a current-thread runtime (the reads never
//! wait, so the body timeout never fires).
//!
//! Input: one mode byte (bit 0: a `Content-Length` body, else chunked), two bytes of the length
//! and two of the cut between what came with the head and what is on the socket (little
//! endian), then the bytes the client sent after its head.
//!
//! Beyond no panic and no hang, for every input:
//! - a chunked body is read whole exactly when the decoder fed everything at once ends it
//!   (malformed and cut-short bodies are errors, `Malformed` and `Closed`); then what goes
//!   upstream is one well-formed chunked body carrying the same data, and what follows the
//!   body is left for the next request, byte for byte;
//! - a `Content-Length` body is its first `n` bytes, the rest left for the next request;
//! - a body can be sent again (`rewind`) exactly when it came whole with the head, and then
//!   it is the same bytes again.
#![no_main]

use bytes::BytesMut;
use hiatus::gateway::core::body::{BodyError, Piece, RequestBody};
use hiatus::gateway::core::chunked::Chunked;
use hiatus::gateway::http1::body::H1Body;
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

thread_local! {
    // One runtime for all inputs: building one per input would be most of the time spent.
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
}

/// Every piece of the body until its end.
async fn all<S: tokio::io::AsyncRead + Unpin + Send>(body: &mut H1Body<'_, S>) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    while let Piece::Bytes(b) = body.next().await? {
        b.copy_to(&mut out);
    }
    Ok(out)
}

/// What the body sent upstream, what was left after it, and whether it could be sent again.
fn drain(pre: &[u8], socket: &[u8], length: Option<u64>) -> Result<(Vec<u8>, Vec<u8>, bool), BodyError> {
    RUNTIME.with(|rt| {
        rt.block_on(async {
            let mut io = socket;
            let mut more = BytesMut::new();
            let mut body = H1Body::new(&mut io, pre, &mut more, length, Duration::from_secs(1));
            let out = all(&mut body).await?;
            let rewound = body.rewind();
            if rewound {
                assert_eq!(all(&mut body).await.as_ref(), Ok(&out), "the body sent again differs");
            }
            let mut after = pre[body.pre_used()..].to_vec();
            after.extend_from_slice(body.leftover());
            drop(body);
            // What was never read is still on the socket.
            after.extend_from_slice(io);
            Ok((out, after, rewound))
        })
    })
}

/// The data of a chunked body and where it ends, read in one piece.
fn decode(body: &[u8]) -> (Result<Option<usize>, ()>, Vec<u8>) {
    let mut data = Vec::new();
    let end = Chunked::default().feed_with(body, &mut |r| data.extend_from_slice(&body[r])).map_err(|_| ());
    (end, data)
}

fuzz_target!(|input: &[u8]| {
    let [mode, n_lo, n_hi, cut_lo, cut_hi, ref sent @ ..] = *input else { return };
    let cut = usize::from(u16::from_le_bytes([cut_lo, cut_hi])) % (sent.len() + 1);
    let (pre, socket) = sent.split_at(cut);
    let length = (mode & 1 != 0).then(|| u64::from(u16::from_le_bytes([n_lo, n_hi])));
    let got = drain(pre, socket, length);
    match length {
        Some(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > sent.len() {
                assert_eq!(got, Err(BodyError::Closed));
                return;
            }
            assert_eq!(got, Ok((sent[..n].to_vec(), sent[n..].to_vec(), n <= cut)));
        }
        None => match decode(sent) {
            (Err(()), _) => assert_eq!(got, Err(BodyError::Malformed)),
            (Ok(None), _) => assert_eq!(got, Err(BodyError::Closed)),
            (Ok(Some(end)), data) => {
                let Ok((out, after, rewound)) = got else { panic!("a whole body was refused: {got:?}") };
                assert_eq!(after, &sent[end..], "what follows the body");
                assert_eq!(rewound, end <= cut);
                let (again, upstream) = decode(&out);
                assert_eq!(again, Ok(Some(out.len())), "what goes upstream is not one chunked body");
                assert_eq!(upstream, data, "what goes upstream carries other data");
            }
        },
    }
});
