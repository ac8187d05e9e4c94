//! A differential request smuggling suite: a table of raw HTTP/1.1 requests, each sent on a fresh
//! connection and, once it is answered and where the framing allows it, followed by an innocent
//! `GET /next` on the same connection (bytes the gateway left unread would sit in front of it),
//! against a recording origin ([`ScriptedOrigin`]: it reads `Content-Length` and chunked bodies and records every
//! request it could parse, with its body).
//!
//! Each row says what the gateway must decide, and the suite checks that the origin saw exactly
//! that:
//!
//! - [`Want::Refused`]: refused on its head: the client gets that 4xx, the connection closes,
//!   and the origin sees nothing at all (not even a connection).
//! - [`Want::RefusedInBody`]: refused on its body: the same, except that a streaming gateway may
//!   have sent the head on already; the origin never sees a complete request (the recording
//!   origin reads chunk sizes leniently, as many do: a malformed chunk passed on verbatim would
//!   be a complete request to it).
//! - [`Want::Forwarded`]: the client gets the origin's 200 for `/row`, then the answer to
//!   `GET /next`; the origin saw exactly two requests: `/row` with exactly those body bytes, then
//!   `GET /next` without a body.
//!
//! In every row a request hides where a parser that reads the framing differently would take it
//! for a request of its own (`GET /admin`, [`SMUGGLED`]); it never reaches the origin as one.
//! The expectations are strict (RFC 9110, RFC 9112): where the RFCs allow a recipient to repair
//! a message (bare LF, obs-fold, bare CR, NUL), an edge proxy in front of origins it does not
//! know refuses it, since the repair is exactly where two parsers disagree.

use crate::gateway_support::{config, t0, tenant, TestGateway};
use crate::scripted_origin::{ok_echo, Reply, ScriptedOrigin};

/// A request hidden in a body: `GET /admin`. 39 bytes (`0x27`).
const SMUGGLED: &str = "GET /admin HTTP/1.1\r\nHost: app.test\r\n\r\n";
/// The innocent request behind each row, on the same connection.
const NEXT: &str = "GET /next HTTP/1.1\r\nHost: app.test\r\n\r\n";

/// What the gateway must make of a row.
#[derive(Debug, Clone)]
enum Want {
    /// This status, the connection closed, nothing at the origin, not even a connection.
    Refused(u16),
    /// This status, the connection closed, no complete request at the origin.
    RefusedInBody(u16),
    /// 200; the origin saw `/row` (the row's method) with exactly these body bytes, then
    /// `GET /next`.
    Forwarded(Vec<u8>),
}

#[derive(Debug)]
struct Row {
    name: &'static str,
    raw: Vec<u8>,
    want: Want,
}

/// `METHOD /row HTTP/1.1`, `Host: app.test`, the `fields` (each line with its own ending), the
/// blank line, then `body`.
fn request(method: &str, fields: &str, body: &str) -> Vec<u8> {
    format!("{method} /row HTTP/1.1\r\nHost: app.test\r\n{fields}\r\n{body}").into_bytes()
}

fn post(fields: &str, body: &str) -> Vec<u8> {
    request("POST", fields, body)
}

/// A chunked body whose one chunk is [`SMUGGLED`]: a parser that does not read it as chunked
/// sees `27` and then a request.
fn chunked_smuggled() -> String {
    format!("{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len())
}

/// A chunked body that ends at once, [`SMUGGLED`] behind it: a parser that reads it as chunked
/// takes `GET /admin` for the next request; one that reads the `Content-Length` does not.
fn empty_chunked_then_smuggled() -> String {
    format!("0\r\n\r\n{SMUGGLED}")
}

fn refused(name: &'static str, raw: Vec<u8>, status: u16) -> Row {
    Row { name, raw, want: Want::Refused(status) }
}

fn refused_in_body(name: &'static str, raw: Vec<u8>, status: u16) -> Row {
    Row { name, raw, want: Want::RefusedInBody(status) }
}

fn forwarded(name: &'static str, raw: Vec<u8>, body: &[u8]) -> Row {
    Row { name, raw, want: Want::Forwarded(body.to_vec()) }
}

/// Runs the rows, each on a fresh gateway and origin, and reports every row that went wrong.
async fn check(rows: Vec<Row>) {
    let mut failures = Vec::new();
    let mut origins = Vec::new();
    for row in rows {
        let origin = ScriptedOrigin::start(|seen| Reply::keep(ok_echo(seen))).await;
        let gw = TestGateway::start(&config("", &tenant("app", &["app.test"], &[origin.addr], "")), t0()).await;
        let mut client = gw.client().await;
        client.send(&row.raw).await;
        let first = client.try_response(false).await;
        // Accepted (rightly or not): the next request on the same connection shows any desync.
        let second = match &first {
            Ok(r) if r.status == 200 => {
                client.send(NEXT.as_bytes()).await;
                Some(client.try_response(false).await)
            }
            _ => None,
        };
        let name = row.name;
        match &row.want {
            Want::Refused(status) | Want::RefusedInBody(status) => {
                match &first {
                    Ok(r) if r.status == *status => {
                        if !client.closed().await {
                            failures.push(format!("{name}: {status}, but the connection stays open"));
                        }
                    }
                    Ok(r) => failures.push(format!("{name}: want {status}, got {} {:?}", r.status, r.text())),
                    Err(e) => failures.push(format!("{name}: want {status}, got no answer: {e}")),
                }
                let head_refused = matches!(row.want, Want::Refused(_));
                if (head_refused && origin.accepted() > 0) || !origin.seen().is_empty() {
                    let paths = origin.paths();
                    failures.push(format!(
                        "{name}: refused, but the origin got {} connection(s), requests {paths:?}",
                        origin.accepted()
                    ));
                }
            }
            Want::Forwarded(body) => {
                let method = String::from_utf8_lossy(&row.raw).split(' ').next().unwrap_or_default().to_string();
                let want_first = format!("{method} /row");
                match &first {
                    Ok(r) if r.status == 200 && r.text() == want_first => match &second {
                        Some(Ok(r)) if r.status == 200 && r.text() == "GET /next" => {}
                        Some(Ok(r)) => failures.push(format!("{name}: GET /next got {} {:?}", r.status, r.text())),
                        Some(Err(e)) => failures.push(format!("{name}: GET /next got no answer: {e}")),
                        None => failures.push(format!("{name}: GET /next was not sent")),
                    },
                    Ok(r) => failures.push(format!("{name}: want 200 {want_first:?}, got {} {:?}", r.status, r.text())),
                    Err(e) => failures.push(format!("{name}: want 200, got no answer: {e}")),
                }
                let seen: Vec<(String, String, Vec<u8>)> =
                    origin.seen().into_iter().map(|s| (s.method, s.path, s.body)).collect();
                let want = vec![(method, "/row".to_string(), body.clone()), ("GET".into(), "/next".into(), Vec::new())];
                if seen != want {
                    let show = |v: &[(String, String, Vec<u8>)]| -> Vec<String> {
                        v.iter().map(|(m, p, b)| format!("{m} {p} {:?}", String::from_utf8_lossy(b))).collect()
                    };
                    failures.push(format!("{name}: the origin saw {:?}, want {:?}", show(&seen), show(&want)));
                }
            }
        }
        origins.push((name, origin));
    }
    // Nothing arrives late, and the hidden request never arrives as one of its own.
    for (name, origin) in &origins {
        if origin.paths().iter().any(|p| p == "/admin") {
            failures.push(format!("{name}: the hidden GET /admin reached the origin: {:?}", origin.paths()));
        }
    }
    assert!(failures.is_empty(), "{} row(s) failed:\n  {}", failures.len(), failures.join("\n  "));
}

/// CL.TE and TE.CL: `Content-Length` beside `Transfer-Encoding` (RFC 9112 §6.1: a request with
/// both is refused, or its connection closed after it; strict: 400), also with a coding that is
/// not chunked, and duplicated framing or routing fields that disagree (RFC 9112 §6.3, §3.2).
#[tokio::test]
async fn conflicting_framing_fields_are_refused() {
    let cl_te = empty_chunked_then_smuggled();
    let te_cl = chunked_smuggled();
    let two_lengths_body = format!("hello{SMUGGLED}");
    check(vec![
        refused(
            "CL.TE",
            post(&format!("Content-Length: {}\r\nTransfer-Encoding: chunked\r\n", cl_te.len()), &cl_te),
            400,
        ),
        refused("TE.CL", post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", &te_cl), 400),
        refused(
            "CL beside TE: xchunked",
            post(&format!("Content-Length: {}\r\nTransfer-Encoding: xchunked\r\n", cl_te.len()), &cl_te),
            400,
        ),
        refused(
            "two Content-Lengths that differ",
            post(&format!("Content-Length: 5\r\nContent-Length: {}\r\n", two_lengths_body.len()), &two_lengths_body),
            400,
        ),
        refused(
            "two Content-Lengths that agree",
            post("Content-Length: 5\r\nContent-Length: 5\r\n", &two_lengths_body),
            400,
        ),
        refused("two Host lines", post("Host: evil.test\r\nContent-Length: 5\r\n", "hello"), 400),
    ])
    .await;
}

/// TE.TE: `Transfer-Encoding` spelled so that one parser sees chunked and another does not. A
/// value that is exactly chunked, with optional whitespace around it or the name in any case, is
/// read as chunked (the body forwarded exactly); anything else is refused: an unknown coding,
/// chunked not last, chunked twice (two lines), whitespace before the colon, a value folded
/// onto the next line.
#[tokio::test]
async fn transfer_encoding_obfuscations() {
    let smuggled = chunked_smuggled();
    let hidden = empty_chunked_then_smuggled();
    let body = SMUGGLED.as_bytes();
    check(vec![
        refused("Transfer-Encoding: xchunked", post("Transfer-Encoding: xchunked\r\n", &hidden), 400),
        forwarded("Transfer-Encoding:  chunked (more space)", post("Transfer-Encoding:  chunked\r\n", &smuggled), body),
        refused("Transfer-Encoding: chunked, identity", post("Transfer-Encoding: chunked, identity\r\n", &hidden), 400),
        forwarded("Transfer-Encoding:<TAB>chunked", post("Transfer-Encoding:\tchunked\r\n", &smuggled), body),
        refused("Transfer-Encoding : chunked", post("Transfer-Encoding : chunked\r\n", &hidden), 400),
        refused(
            "two Transfer-Encoding: chunked lines",
            post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", &hidden),
            400,
        ),
        refused(
            "Transfer-Encoding: chunked, then a line with identity",
            post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", &hidden),
            400,
        ),
        forwarded("Transfer-encoding: chunked", post("Transfer-encoding: chunked\r\n", &smuggled), body),
        forwarded("tRANSFER-eNCODING: CHUNKED", post("tRANSFER-eNCODING: CHUNKED\r\n", &smuggled), body),
        refused(
            "Transfer-Encoding folded onto the next line",
            post("Transfer-Encoding:\r\n chunked\r\n", &hidden),
            400,
        ),
    ])
    .await;
}

/// Line endings and bytes two parsers read differently: obs-fold (RFC 9112 §5.2), bare LF
/// (§2.2), bare CR (§2.2), NUL in a value (RFC 9110 §5.5), a head over 32 KiB (431). Each would
/// let a field — here the `Content-Length` that hides `GET /admin` — be seen by one parser and
/// not the other.
#[tokio::test]
async fn malformed_heads_are_refused() {
    let hidden = format!("hello{SMUGGLED}");
    let length = hidden.len();
    let bare_lf = format!("POST /row HTTP/1.1\nHost: app.test\nContent-Length: {length}\n\n{hidden}").into_bytes();
    let big = format!("X-Big: {}\r\nContent-Length: 5\r\n", "a".repeat(40 * 1024));
    check(vec![
        refused("obs-fold", post(&format!("X-Folded: a\r\n b\r\nContent-Length: {length}\r\n"), &hidden), 400),
        refused(
            "obs-fold that hides a Content-Length",
            post(&format!("X-Folded: a\r\n Content-Length: 0\r\nContent-Length: {length}\r\n"), &hidden),
            400,
        ),
        refused("bare LF line endings", bare_lf, 400),
        refused(
            "a bare LF inside a field line",
            post(&format!("X-A: 1\nContent-Length: 5\r\nX-B: {length}\r\n"), &hidden),
            400,
        ),
        refused(
            "a bare CR in a value",
            post(&format!("X-A: a\rContent-Length: 5\r\nContent-Length: {length}\r\n"), &hidden),
            400,
        ),
        refused("NUL in a value", post(&format!("X-A: a\0b\r\nContent-Length: {length}\r\n"), &hidden), 400),
        refused("a head over 32 KiB", post(&big, "hello"), 431),
    ])
    .await;
}

/// Chunk sizes are bare hex digits (RFC 9112 §7.1): a leading `+`, a `0x` prefix, leading
/// spaces, a size past 64 bits, a chunk extension ended by a bare LF, data not followed by CRLF
/// — each refused with 400, never a silent close (a lenient parser reads a different body
/// length, and what follows becomes a request).
#[tokio::test]
async fn chunk_size_syntax_is_strict() {
    let te = "Transfer-Encoding: chunked\r\n";
    let after = |body: &str| format!("{body}{SMUGGLED}");
    check(vec![
        refused_in_body("chunk size +5", post(te, &after("+5\r\nhello\r\n0\r\n\r\n")), 400),
        refused_in_body("chunk size 0x5", post(te, &after("0x5\r\nhello\r\n0\r\n\r\n")), 400),
        refused_in_body("chunk size with a leading space", post(te, &after(" 5\r\nhello\r\n0\r\n\r\n")), 400),
        refused_in_body("chunk size past 64 bits", post(te, &after("10000000000000005\r\nhello\r\n0\r\n\r\n")), 400),
        refused_in_body("chunk extension ended by a bare LF", post(te, &after("5;a=b\nhello\r\n0\r\n\r\n")), 400),
        refused_in_body("chunk data not followed by CRLF", post(te, &after("5\r\nhello0\r\n\r\n")), 400),
        refused_in_body("chunk data followed by a bare LF", post(te, &after("5\r\nhello\n0\r\n\r\n")), 400),
    ])
    .await;
}

/// Framing that is valid, however unusual, is honoured exactly: a `Content-Length` with leading
/// zeros (`005` is 5), a `GET` with a body (forwarded with it, never read as the next request),
/// chunked bodies with an extension, a trailer section, a size with leading zeros, and a
/// `Content-Length` body that holds a request. The origin gets exactly the body bytes, then
/// `GET /next`.
#[tokio::test]
async fn valid_framings_are_honoured_exactly() {
    let te = "Transfer-Encoding: chunked\r\n";
    let with_request = format!("hello{SMUGGLED}");
    let extension = format!("{:x};name=value\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len());
    check(vec![
        forwarded("Content-Length: 005", post("Content-Length: 005\r\n", "hello"), b"hello"),
        forwarded(
            "GET with a body",
            request("GET", &format!("Content-Length: {}\r\n", SMUGGLED.len()), SMUGGLED),
            SMUGGLED.as_bytes(),
        ),
        forwarded("a chunk extension", post(te, &extension), SMUGGLED.as_bytes()),
        forwarded("a trailer section", post(te, "5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"), b"hello"),
        forwarded("chunk size 005", post(te, "005\r\nhello\r\n0\r\n\r\n"), b"hello"),
        forwarded(
            "a Content-Length body holding a request",
            post(&format!("Content-Length: {}\r\n", with_request.len()), &with_request),
            with_request.as_bytes(),
        ),
    ])
    .await;
}
