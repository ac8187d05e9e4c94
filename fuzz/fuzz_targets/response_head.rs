//! The upstream response head parser, `hiatus::gateway::core::response::parse`, and the client
//! head it writes from the same parse.
//!
//! Input: one flags byte (bit 0: the request was `HEAD`; bit 1: the client asked to upgrade;
//! bit 2: the client speaks HTTP/1.0; bit 3: keep-alive), two bytes of a cut point (little
//! endian), then the bytes the upstream sent.
//!
//! Beyond no panic and no hang, for every input:
//! - a prefix (at the fuzzer's cut, and one byte short of the head) is `Ok(None)` or the same
//!   answer: reading in pieces never turns into another verdict;
//! - a head lies within the input and `MAX_RESPONSE_HEAD`, its status within 100-599; an interim
//!   head has no body; no body for `HEAD`, 101, 204, 304; a final head leaves a reusable
//!   connection only when its body does not end at the close and it did not answer a `HEAD`;
//! - the client's HTTP/1.1 head is one well-formed head (no second head smuggled in through a
//!   relayed field) that reads back with the same status and the framing the gateway meant;
//! - the HTTP/2 head is made from the same parse: the same answer, or a bad response for a field
//!   HTTP/2 cannot carry.
#![no_main]

use hiatus::gateway::core::response::{
    parse, Asked, ClientHead, Framing, Head, Stamp, MAX_RESPONSE_HEAD, MAX_RESPONSE_HEADERS,
};
use hiatus::gateway::record::RequestId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let [flags, lo, hi, ref buf @ ..] = *input else { return };
    let asked = Asked { head_request: flags & 1 != 0, upgrade: flags & 2 != 0 };
    let id = RequestId::new(1, 2);
    let stamp =
        Stamp { request_id: &id, generation: Some(7), keep_alive: flags & 8 != 0, http10: flags & 4 != 0, hsts: None };

    let whole = parse(buf, asked, None);
    let cut = usize::from(u16::from_le_bytes([lo, hi])) % (buf.len() + 1);
    let part = parse(&buf[..cut], asked, None);
    assert!(part == Ok(None) || part == whole, "cut at {cut}: {part:?}, whole: {whole:?}");

    let Ok(Some(head)) = whole else { return };
    let Head { len, status, framing, reusable } = head;
    assert!(len > 0 && len <= buf.len() && len <= MAX_RESPONSE_HEAD, "{head:?} in {} bytes", buf.len());
    assert!((100..=599).contains(&status), "{head:?}");
    assert_eq!(parse(&buf[..len - 1], asked, None), Ok(None), "one byte short of the head");
    assert_eq!(parse(&buf[..len], asked, None), whole, "the head alone");
    let interim = status < 200 && status != 101;
    if interim || asked.head_request || matches!(status, 101 | 204 | 304) {
        assert_eq!(framing, Framing::None, "{head:?}");
    }
    // An interim head says nothing about the connection: the final head decides.
    if reusable && !interim {
        assert!(framing != Framing::Close && !asked.head_request && status != 101, "{head:?}");
    }

    let mut out = Vec::new();
    assert_eq!(parse(buf, asked, Some((ClientHead::H1(&mut out), &stamp))), whole);
    if interim {
        // Not forwarded: the final head follows; nothing is written for the client.
        assert!(out.is_empty());
    } else {
        // One head: httparse with room for every field (the gateway adds up to six of its own
        // to the upstream's hundred, so our own limit is not the point here).
        let mut slots = [httparse::EMPTY_HEADER; 2 * MAX_RESPONSE_HEADERS];
        let mut read = httparse::Response::new(&mut slots);
        let text = || String::from_utf8_lossy(&out).into_owned();
        match read.parse(&out) {
            Ok(httparse::Status::Complete(n)) => assert_eq!(n, out.len(), "more than one head:\n{}", text()),
            other => panic!("the client's head does not read back: {other:?}\n{}", text()),
        }
        assert_eq!(read.code, Some(status));
        if read.headers.len() <= MAX_RESPONSE_HEADERS {
            let again = parse(&out, asked, None);
            let Ok(Some(client)) = again else { panic!("the client's head is refused: {again:?}\n{}", text()) };
            // An HTTP/1.0 client gets a chunked body de-chunked, ended by the close.
            let meant = if stamp.http10 && framing == Framing::Chunked { Framing::Close } else { framing };
            assert_eq!(client.framing, meant, "{}", text());
        }
    }

    let mut fields = None;
    match parse(buf, asked, Some((ClientHead::H2(&mut fields), &stamp))) {
        Ok(h) => {
            assert_eq!(Ok(h), whole);
            if !interim {
                assert_eq!(fields.map(|f| f.status.as_u16()), Some(status));
            }
        }
        // Only a final head can be refused for HTTP/2, and only by what HTTP/2 cannot carry.
        Err(_) => assert!(!interim),
    }
});
