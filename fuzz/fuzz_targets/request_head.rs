//! The request head parser, `hiatus::gateway::http1::head::parse`, on arbitrary bytes (the
//! input is what a client sent, as it is: the corpus holds real request heads).
//!
//! Beyond no panic and no hang, for every input:
//! - a head lies within the input and within `MAX_HEAD`, ends in the blank line, and every line
//!   of it ends in CRLF (a bare LF is where a proxy in front and the gateway would split fields
//!   differently);
//! - every span it hands out lies inside the head;
//! - its framing is the one reading a smuggler cannot bend: at most one `Host`, at most one
//!   `Content-Length` or one `Transfer-Encoding` (exactly `chunked`), never both, no transfer
//!   coding on HTTP/1.0, and `body` says what the field says;
//! - what follows the head does not change it (the head alone parses the same);
//! - a cut before the blank line is `Partial` (a head is only ever taken whole), and a prefix
//!   of a refused input is `Partial` or refused too, never a request;
//! - a refusal has one of the statuses the module documents.
#![no_main]

use hiatus::gateway::core::fields::Field;
use hiatus::gateway::http1::head::{parse, Body, Head, Parsed, Span, MAX_HEAD};
use libfuzzer_sys::fuzz_target;

/// What a head says, to compare two parses of the same bytes.
fn summary<'b>(h: &Head, buf: &'b [u8]) -> impl PartialEq + std::fmt::Debug + 'b {
    let opt = |s: Option<Span>| s.map(|s| s.bytes(buf));
    (
        h.len,
        h.method.bytes(buf),
        h.http10,
        h.target.bytes(buf),
        h.path.bytes(buf),
        (opt(h.query), opt(h.authority), opt(h.host), opt(h.upgrade)),
        h.body,
        (h.keep_alive(), h.expect_continue, h.fields_len),
    )
}

fn inside(span: Span, buf: &[u8], len: usize) -> bool {
    let bytes = span.bytes(buf);
    // An empty span may sit anywhere; a non-empty one is a sub-slice of the head.
    bytes.is_empty() || {
        let start = bytes.as_ptr() as usize - buf.as_ptr() as usize;
        start + bytes.len() <= len
    }
}

fuzz_target!(|buf: &[u8]| {
    match parse(buf) {
        Parsed::Partial => assert!(buf.len() < MAX_HEAD, "a partial head of {} bytes", buf.len()),
        Parsed::Refused(r) => {
            assert!([400, 405, 417, 431, 501, 505].contains(&r.status), "{r:?}");
            assert!(!r.text.is_empty() && r.text.ends_with('\n'), "{r:?}");
            // A shorter input is refused as well or still partial: it never becomes a request.
            let cut = buf.len() / 2;
            assert!(!matches!(parse(&buf[..cut]), Parsed::Request(_)), "a prefix of a refused input was taken");
        }
        Parsed::Request(h) => {
            let len = h.len;
            assert!(len <= buf.len() && len <= MAX_HEAD, "head of {len} bytes in {}", buf.len());
            let head = &buf[..len];
            assert!(head.ends_with(b"\r\n\r\n"), "a head that does not end in the blank line");
            for (at, _) in head.iter().enumerate().filter(|(_, &b)| b == b'\n') {
                assert!(at > 0 && head[at - 1] == b'\r', "a bare LF at {at}");
            }
            let spans = [h.method, h.target, h.path].into_iter().chain(
                [h.query, h.authority, h.host, h.accept, h.accept_language, h.forwarded_proto, h.upgrade]
                    .into_iter()
                    .flatten(),
            );
            for s in spans.chain(h.fields().iter().flat_map(|(_, n, v)| [*n, *v])) {
                assert!(inside(s, buf, len), "a span outside the head");
            }
            assert!(std::str::from_utf8(h.target.bytes(buf)).is_ok(), "a target that is not UTF-8");

            let count = |field: Field| h.fields().iter().filter(|f| f.0 == field).count();
            let (lengths, codings, hosts) =
                (count(Field::ContentLength), count(Field::TransferEncoding), count(Field::Host));
            assert!(
                hosts <= 1 && lengths <= 1 && codings <= 1 && lengths + codings <= 1,
                "framing fields: {lengths} CL, {codings} TE, {hosts} Host"
            );
            assert!(!(h.http10 && codings > 0), "a transfer coding on HTTP/1.0");
            let value = |field: Field| {
                h.fields().iter().find(|f| f.0 == field).map(|f| f.2.bytes(buf).trim_ascii()).unwrap_or_default()
            };
            match h.body {
                Body::None => assert_eq!(lengths + codings, 0),
                Body::Chunked => assert!(value(Field::TransferEncoding).eq_ignore_ascii_case(b"chunked")),
                Body::Length(n) => {
                    let said =
                        std::str::from_utf8(value(Field::ContentLength)).ok().and_then(|v| v.parse::<u64>().ok());
                    assert_eq!(said, Some(n));
                }
            }

            // The head alone: the same head (what follows it is the body or the next request).
            match parse(head) {
                Parsed::Request(again) => assert_eq!(summary(&again, buf), summary(&h, buf)),
                other => panic!("the head alone parses as {other:?}"),
            }
            // Any cut before the blank line's end is a head not yet whole.
            for cut in [len - 1, len / 2, buf.iter().position(|&b| b == b'\n').unwrap_or(0)] {
                if cut < len {
                    assert!(matches!(parse(&buf[..cut]), Parsed::Partial), "a cut at {cut} of {len} is not partial");
                }
            }
        }
    }
});
