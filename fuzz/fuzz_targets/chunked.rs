//! The chunked decoder, `hiatus::gateway::core::chunked::Chunked`, fed in pieces as a socket
//! hands them over.
//!
//! Input: two bytes of a cut point (little endian), one byte of a piece size, then the body.
//!
//! Beyond no panic and no hang, for every input:
//! - the verdict (malformed, not ended yet, or ended after `n` bytes) and the data `feed_with`
//!   shows are the same whether the body comes in one piece, in two cut at the fuzzer's point,
//!   or in pieces of 1 to 16 bytes: where a read happens to end must never matter;
//! - an ended body ends within the input, and after its end the decoder says "ended" again;
//! - the data re-encoded as the gateway sends a request body upstream (`encode_chunk`, then the
//!   last chunk) decodes to the same data and ends exactly at its end.
#![no_main]

use hiatus::gateway::core::body::{encode_chunk, LAST_CHUNK};
use hiatus::gateway::core::chunked::{Chunked, Malformed};
use libfuzzer_sys::fuzz_target;

type Verdict = (Result<Option<usize>, Malformed>, Vec<u8>);

/// Feeds `body` in the given pieces (their lengths add up to the body's); the end as an offset
/// into `body`, and the data, as the decoder shows them.
fn decode(body: &[u8], pieces: impl Iterator<Item = usize>) -> Verdict {
    let mut c = Chunked::default();
    let mut data = Vec::new();
    let mut at = 0;
    for n in pieces {
        let piece = &body[at..at + n];
        match c.feed_with(piece, &mut |r| data.extend_from_slice(&piece[r])) {
            Ok(Some(end)) => {
                assert!(end <= n, "an end of {end} in a piece of {n}");
                assert_eq!(c.feed(b"more"), Ok(Some(0)), "after the end");
                return (Ok(Some(at + end)), data);
            }
            Ok(None) => at += n,
            Err(e) => return (Err(e), data),
        }
    }
    (Ok(None), data)
}

fuzz_target!(|input: &[u8]| {
    let [lo, hi, step, ref body @ ..] = *input else { return };
    let len = body.len();
    let cut = usize::from(u16::from_le_bytes([lo, hi])) % (len + 1);
    let step = usize::from(step % 16) + 1;

    let whole = decode(body, std::iter::once(len));
    let halves = decode(body, [cut, len - cut].into_iter());
    assert_eq!(halves, whole, "cut at {cut}");
    let small = decode(body, (0..len).step_by(step).map(|at| step.min(len - at)));
    assert_eq!(small, whole, "pieces of {step}");

    if let (Ok(Some(end)), data) = whole {
        assert!(end > 0 && end <= len && data.len() < end);
        let mut encoded = Vec::new();
        encode_chunk(&mut encoded, std::iter::once(&data[..]));
        encoded.extend_from_slice(LAST_CHUNK);
        assert_eq!(decode(&encoded, std::iter::once(encoded.len())), (Ok(Some(encoded.len())), data));
    }
});
