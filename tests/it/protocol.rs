//! HTTP/1.1 as any correct edge proxy must speak it, end to end on loopback sockets: message
//! framing (pipelining, chunked, close-delimited, HEAD, 1xx/204/304, large bodies), connection
//! management (keep-alive, `Connection: close`, HTTP/1.0, origins that close), ambiguous
//! framing (smuggling), hop-by-hop headers, odd but valid request shapes (byte by byte, absolute
//! form) and oversized heads.
//!
//! These pin the behaviour of every request path of the gateway (Pingora's and any of our own),
//! so a new path is checked against the same contract. Each test's comment says what it guards,
//! with the RFC 9110/9112 section where there is one.
//!
//! Most origins here are a [`ScriptedOrigin`] (shared with `protocol_h2`): it reads requests
//! (de-chunking bodies), records them, and answers with raw bytes chosen per request, so each
//! test controls the exact framing the gateway has to deal with.

use crate::gateway_support::{bounded, config, t0, tenant, Behaviour, Client, Origin, Response, TestGateway};
use crate::scripted_origin::{
    assert_same_body, bodiless_or_interim, chunked_parts, echo_text, ok, ok_echo, pattern, streamed_in_two_pieces,
    Reply, ScriptedOrigin,
};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// A gateway (h2c on, the default) with one tenant, `app.test`, in front of `upstream`.
async fn gateway_for(upstream: SocketAddr) -> TestGateway {
    TestGateway::start(&config("", &tenant("app", &["app.test"], &[upstream], "")), t0()).await
}

/// Reads responses until the final (non-1xx) one.
async fn final_response(client: &mut Client, head_only: bool) -> (Vec<u16>, Response) {
    let mut interim = Vec::new();
    loop {
        let r = client.response(head_only).await;
        if r.status >= 200 {
            return (interim, r);
        }
        interim.push(r.status);
    }
}

// =============================================================================================
// Message framing

/// RFC 9112 §9.3.2: a server must answer pipelined requests in the order received. Two GETs
/// in one write: two responses, in order, each with its own origin body and request id; the
/// connection then goes on. (Pingora's proxy, before Hiatus had its own lane, closed after the
/// first.)
#[tokio::test]
async fn two_pipelined_gets_are_both_answered_in_order() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    client.send(b"GET /first HTTP/1.1\r\nHost: app.test\r\n\r\nGET /second HTTP/1.1\r\nHost: app.test\r\n\r\n").await;
    let first = client.response(false).await;
    let second = client.response(false).await;
    assert_eq!((first.status, first.text().as_str()), (200, "o GET /first"));
    assert_eq!((second.status, second.text().as_str()), (200, "o GET /second"));
    assert_ne!(first.header("x-request-id"), second.header("x-request-id"), "one request id each");
    let third = client.request("GET", "app.test", "/third", &[]).await;
    assert_eq!((third.status, third.text().as_str()), (200, "o GET /third"));
    let paths: Vec<String> = origin.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/first", "/second", "/third"]);
}

/// RFC 9110 §7.6.1: hop-by-hop fields of the origin's response (`Connection` and the fields it
/// names, `Keep-Alive`, `Proxy-Connection`, `Upgrade` on a 200) are not relayed to the client,
/// for requests with and without a body.
#[tokio::test]
async fn hop_by_hop_response_headers_are_not_relayed() {
    let origin = ScriptedOrigin::start(|_| {
        Reply::keep(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: x-resp\r\nX-Resp: 1\r\nKeep-Alive: timeout=5\r\n\
              Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-End-To-End: kept\r\n\r\nok"
                .to_vec(),
        )
    })
    .await;
    let gw = gateway_for(origin.addr).await;
    for method in ["GET", "POST"] {
        let mut client = gw.client().await;
        let r = client.request(method, "app.test", "/", &[("Content-Length", "0")]).await;
        assert_eq!((r.status, r.text().as_str(), r.header("x-end-to-end")), (200, "ok", Some("kept")), "{method}");
        for name in ["x-resp", "keep-alive", "proxy-connection", "upgrade"] {
            assert_eq!(r.header(name), None, "{method}: {name} relayed: {:?}", r.headers);
        }
    }
}

/// RFC 9112 §6.1: a server must not send `Transfer-Encoding` in a response to an HTTP/1.0
/// request (an HTTP/1.0 client would take the chunk sizes for content). A chunked origin
/// answer reaches an HTTP/1.0 client close-delimited or with a `Content-Length`.
#[tokio::test]
async fn an_http_1_0_client_never_gets_a_chunked_response() {
    let origin = ScriptedOrigin::start(|_| {
        Reply::keep(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec(),
        )
    })
    .await;
    let gw = gateway_for(origin.addr).await;
    for keep_alive in ["", "Connection: keep-alive\r\n"] {
        let mut client = gw.client().await;
        client.send(format!("GET /chunked HTTP/1.0\r\nHost: app.test\r\n{keep_alive}\r\n").as_bytes()).await;
        let r = client.response(false).await;
        assert_eq!(r.header("transfer-encoding"), None, "{keep_alive:?}: {:?}", r.headers);
        assert_eq!((r.status, r.text().as_str()), (200, "hello world"), "{keep_alive:?}");
    }
}

/// RFC 9112 §7.1: a chunked response (several chunks, one with a chunk extension, written in
/// pieces) reaches the client complete, and the client connection stays usable.
#[tokio::test]
async fn a_chunked_response_arrives_complete_and_the_connection_goes_on() {
    let big = pattern(40_000);
    let chunked_body = big.clone();
    let origin = ScriptedOrigin::start(move |seen| {
        if seen.path != "/chunked" {
            return Reply::keep(ok_echo(seen));
        }
        let mut middle = format!("{:x};name=value\r\n", chunked_body.len()).into_bytes();
        middle.extend_from_slice(&chunked_body);
        middle.extend_from_slice(b"\r\n");
        Reply::pieces(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec(),
            b"6\r\nhello \r\n".to_vec(),
            middle,
            b"3\r\nend\r\n".to_vec(),
            b"0\r\n\r\n".to_vec(),
        ])
    })
    .await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    let mut expected = b"hello ".to_vec();
    expected.extend_from_slice(&big);
    expected.extend_from_slice(b"end");
    for round in 0..2 {
        let r = client.request("GET", "app.test", "/chunked", &[]).await;
        assert_eq!(r.status, 200, "round {round}");
        assert_same_body(&format!("round {round}"), &r.body, &expected);
        let after = client.request("GET", "app.test", "/after", &[]).await;
        assert_eq!((after.status, after.text().as_str()), (200, "GET /after"), "round {round}");
    }
    assert_eq!(origin.paths(), ["/chunked", "/after", "/chunked", "/after"]);
}

/// Upstream connections are kept and reused: ten GETs from two clients in turn reach the origin
/// over one connection, and answers keep their own bodies. A HEAD's upstream connection is
/// not kept (an origin may send a body after a bodiless answer: `response` module doc): the
/// request after it opens a new one.
#[tokio::test]
async fn upstream_connections_are_reused() {
    let origin = ScriptedOrigin::start(|seen| match seen.method.as_str() {
        // A HEAD's answer: the length of what a GET would get, no body.
        "HEAD" => Reply::keep(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n".to_vec()),
        _ => Reply::keep(ok_echo(seen)),
    })
    .await;
    let gw = gateway_for(origin.addr).await;
    let (mut a, mut b) = (gw.client().await, gw.client().await);
    for i in 0..5 {
        for (client, name) in [(&mut a, "a"), (&mut b, "b")] {
            let path = format!("/{name}{i}");
            let r = client.request("GET", "app.test", &path, &[]).await;
            assert_eq!((r.status, r.text()), (200, format!("GET {path}")));
        }
    }
    assert_eq!(origin.accepted(), 1, "one upstream connection for requests one after another");
    let r = a.request("HEAD", "app.test", "/head", &[]).await;
    assert_eq!(r.status, 200);
    let r = b.request("GET", "app.test", "/last", &[]).await;
    assert_eq!(r.text(), "GET /last");
    assert_eq!(origin.accepted(), 2, "the HEAD took the pooled connection and did not give it back");
}

/// A body the origin streams (a piece, then more only later) reaches the client piece by
/// piece: the gateway gathers only what has already arrived, it never waits to fill a buffer.
/// The origin sends its second piece only once the client has shown it got the first.
#[tokio::test]
async fn a_streamed_body_is_not_held_back() {
    let (go_on, go) = watch::channel(false);
    let origin = ScriptedOrigin::start(move |_| streamed_in_two_pieces(&go)).await;
    let gw = gateway_for(origin.addr).await;
    let mut client = TcpStream::connect(gw.addr).await.expect("connect");
    client.write_all(b"GET /stream HTTP/1.1\r\nHost: app.test\r\n\r\n").await.expect("send");
    let mut got = Vec::new();
    let mut piece = [0u8; 1024];
    let seen = |got: &[u8], what: &[u8]| got.windows(what.len()).any(|w| w == what);
    bounded("the first piece before the origin sends the second", async {
        while !seen(&got, b"first") {
            let n = client.read(&mut piece).await.expect("read");
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&piece[..n]);
        }
    })
    .await;
    assert!(!seen(&got, b"second"));
    go_on.send_replace(true);
    bounded("the rest", async {
        while !got.ends_with(b"0\r\n\r\n") {
            let n = client.read(&mut piece).await.expect("read");
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&piece[..n]);
        }
    })
    .await;
    assert!(seen(&got, b"second"));
    assert_eq!(origin.paths(), ["/stream"], "one request reached the origin");
}

/// RFC 9112 §6.3 (rule 8): a response with neither `Content-Length` nor chunked coding ends
/// when the origin closes. The client gets the whole body, framed however the gateway likes;
/// if the gateway framed it, the client's connection stays usable, otherwise it is closed.
#[tokio::test]
async fn a_close_delimited_response_arrives_complete() {
    let body = pattern(20_000);
    let sent = body.clone();
    let origin = ScriptedOrigin::start(move |seen| {
        if seen.path != "/until-close" {
            return Reply::keep(ok_echo(seen));
        }
        let mut raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
        raw.extend_from_slice(&sent);
        Reply::close(raw)
    })
    .await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    let r = bounded("the close-delimited response", client.request("GET", "app.test", "/until-close", &[])).await;
    assert_eq!(r.status, 200);
    assert_same_body("close-delimited body", &r.body, &body);
    let framed = r.header("content-length").is_some() || r.header("transfer-encoding").is_some();
    if framed {
        let after = client.request("GET", "app.test", "/after", &[]).await;
        assert_eq!((after.status, after.text().as_str()), (200, "GET /after"));
    } else {
        assert!(client.closed().await, "an unframed response must end with the connection");
    }
}

/// RFC 9110 §9.3.2, RFC 9112 §6.3: the answer to HEAD has no body whatever its
/// `Content-Length` says. The gateway must not wait for 1000 bytes that never come, must pass
/// the length on, and the next GET on the same connection must work.
#[tokio::test]
async fn head_with_a_content_length_and_no_body_then_get() {
    let origin = ScriptedOrigin::start(|seen| {
        if seen.method == "HEAD" {
            Reply::keep(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n".to_vec())
        } else {
            Reply::keep(ok(&pattern(1000)))
        }
    })
    .await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    for round in 0..2 {
        let head = bounded("the HEAD answer", client.request("HEAD", "app.test", "/doc", &[])).await;
        assert_eq!((head.status, head.header("content-length")), (200, Some("1000")), "round {round}");
        assert_eq!(head.marker(), "proxied");
        // No body bytes may follow: the GET's response must start right away.
        let get = client.request("GET", "app.test", "/doc", &[]).await;
        assert_eq!(get.status, 200, "round {round}");
        assert_same_body("GET after HEAD", &get.body, &pattern(1000));
    }
    let methods: Vec<String> = origin.seen().into_iter().map(|s| s.method).collect();
    assert_eq!(methods, ["HEAD", "GET", "HEAD", "GET"]);
}

/// RFC 9110 §15.3.5, §15.4.5, RFC 9112 §6.3: 204 and 304 end with their head (a 304 may carry
/// the representation's `Content-Length`); the gateway relays them and the connection stays
/// usable. A 204 carries neither `Content-Length` nor `Transfer-Encoding` (RFC 9110 §8.6,
/// RFC 9112 §6.1).
#[tokio::test]
async fn no_content_and_not_modified_are_relayed_and_the_connection_stays() {
    // `/204`, `/304`, `/304-with-length`; any other path echoes.
    let origin =
        ScriptedOrigin::start(|seen| bodiless_or_interim(&seen.path).unwrap_or_else(|| Reply::keep(ok_echo(seen))))
            .await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    let r = bounded("204", client.request("GET", "app.test", "/204", &[])).await;
    assert_eq!((r.status, r.header("x-note"), r.marker()), (204, Some("empty"), "proxied"));
    assert_eq!((r.header("content-length"), r.header("transfer-encoding")), (None, None), "204 framing headers");
    let next = client.request("GET", "app.test", "/after-204", &[]).await;
    assert_eq!((next.status, next.text().as_str()), (200, "GET /after-204"));
    for (path, etag) in [("/304", "\"v1\""), ("/304-with-length", "\"v2\"")] {
        let r = bounded(path, client.request("GET", "app.test", path, &[("If-None-Match", etag)])).await;
        assert_eq!((r.status, r.header("etag")), (304, Some(etag)), "{path}");
        assert_eq!(r.header("transfer-encoding"), None, "{path}");
        let next = client.request("GET", "app.test", "/after", &[]).await;
        assert_eq!((next.status, next.text().as_str()), (200, "GET /after"), "after {path}");
    }
    let seen = origin.seen();
    assert_eq!(seen.get(2).and_then(|s| s.header("if-none-match")), Some("\"v1\""), "conditional headers pass");
}

/// A 1 MiB response (with `Content-Length`, then chunked) arrives byte-exact: nothing lost,
/// duplicated or reordered across the gateway's buffers.
#[tokio::test]
async fn a_one_mebibyte_body_arrives_byte_exact() {
    const MIB: usize = 1 << 20;
    let origin = ScriptedOrigin::start(|seen| {
        let body = pattern(MIB);
        if seen.path == "/chunked" {
            // Uneven chunks: 64 KiB + 1 each.
            Reply::pieces(chunked_parts(&body, 64 * 1024 + 1))
        } else {
            Reply::keep(ok(&body))
        }
    })
    .await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    let expected = pattern(MIB);
    for path in ["/length", "/chunked", "/length"] {
        let r = bounded(path, client.request("GET", "app.test", path, &[])).await;
        assert_eq!(r.status, 200, "{path}");
        assert_same_body(path, &r.body, &expected);
    }
}

/// RFC 9112 §6: request bodies framed by `Content-Length` and by chunked coding (with a chunk
/// extension and a trailer section) reach the origin byte-exact, the response comes back, and
/// the connection is left at the next request's first byte.
#[tokio::test]
async fn post_bodies_reach_the_origin_exactly() {
    let origin = ScriptedOrigin::start(|seen| {
        Reply::keep(ok(format!("{} {} got {} bytes", seen.method, seen.path, seen.body.len()).as_bytes()))
    })
    .await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    // Content-Length, with bytes that look like framing inside.
    let body = b"first line\r\n\r\nGET /not-a-request HTTP/1.1\r\n\r\n\x00\xff binary".to_vec();
    client.send_request("POST", "app.test", "/length", &[("Content-Type", "application/octet-stream")], &body).await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.text()), (200, format!("POST /length got {} bytes", body.len())));
    // Chunked, head and chunks in separate writes.
    client.send(b"POST /chunked HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n").await;
    tokio::task::yield_now().await;
    client.send(b"5\r\nhello\r\n").await;
    tokio::task::yield_now().await;
    client.send(b"8;ext=\"x\"\r\n, world!\r\n1a\r\n\r\n0123456789\r\nabcdefghijkl\r\n").await;
    client.send(b"0\r\n\r\n").await;
    let chunked = b"hello, world!\r\n0123456789\r\nabcdefghijkl".to_vec();
    let r = client.response(false).await;
    assert_eq!((r.status, r.text()), (200, format!("POST /chunked got {} bytes", chunked.len())));
    // The next request on the same connection is read from the right place.
    let r = client.request("GET", "app.test", "/after", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (200, "GET /after got 0 bytes"));
    let seen = origin.seen();
    let got: Vec<(&str, &str, &[u8])> =
        seen.iter().map(|s| (s.method.as_str(), s.path.as_str(), s.body.as_slice())).collect();
    assert_eq!(got, [("POST", "/length", &body[..]), ("POST", "/chunked", &chunked[..]), ("GET", "/after", &[][..])]);
}

/// RFC 9110 §15.2, RFC 9112 §4: interim 1xx responses (an unasked-for `100 Continue`, `103
/// Early Hints`) before the final one do not confuse the gateway: the client gets the final
/// 200 with its body (any interim responses it sees come first), and the connection goes on.
#[tokio::test]
async fn interim_responses_before_the_final_one() {
    // `/continue`, `/early-hints` (interim and final answer apart), `/together` (in one write:
    // the final one is already read); any other path echoes.
    let origin =
        ScriptedOrigin::start(|seen| bodiless_or_interim(&seen.path).unwrap_or_else(|| Reply::keep(ok_echo(seen))))
            .await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    for (path, text) in [("/continue", "after 100"), ("/early-hints", "after 103"), ("/together", "after both")] {
        client.send_request("GET", "app.test", path, &[], b"").await;
        let (interim, r) = bounded(path, final_response(&mut client, false)).await;
        assert_eq!((r.status, r.text().as_str(), r.marker()), (200, text, "proxied"), "{path} (interim {interim:?})");
        let next = client.request("GET", "app.test", "/after", &[]).await;
        assert_eq!((next.status, next.text().as_str()), (200, "GET /after"), "after {path}");
    }
}

/// RFC 9112 §6.1, §6.3, §5.1: request framing that two parsers could read differently is
/// refused with a 4xx and the connection closed, before anything reaches the origin: what
/// follows a head whose body length is unknown can only be guessed, and a guess is how requests
/// are smuggled past a proxy.
#[tokio::test]
async fn ambiguous_request_framing_is_refused_and_the_connection_closed() {
    let origin = ScriptedOrigin::start(|seen| Reply::keep(ok_echo(seen))).await;
    let gw = gateway_for(origin.addr).await;
    let cases: [(&str, &[u8]); 10] = [
        ("two different lengths", b"Content-Length: 2\r\nContent-Length: 3\r\n\r\nabc"),
        ("a list of lengths", b"Content-Length: 1, 2\r\n\r\nab"),
        ("a signed length", b"Content-Length: +2\r\n\r\nab"),
        ("a negative length", b"Content-Length: -1\r\n\r\nab"),
        ("a length that is no number", b"Content-Length: abc\r\n\r\nab"),
        ("a coding that is not chunked", b"Transfer-Encoding: gzip\r\n\r\nab"),
        ("chunked not last", b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
        ("an unknown coding", b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
        ("whitespace before the colon", b"Content-Length : 2\r\n\r\nab"),
        ("whitespace before the colon of Host", b"X-A: 1\r\nHost : app.test\r\n\r\n"),
    ];
    for (what, rest) in cases {
        let mut raw = b"POST /framing HTTP/1.1\r\nHost: app.test\r\n".to_vec();
        raw.extend_from_slice(rest);
        let mut client = gw.client().await;
        client.send(&raw).await;
        let r = bounded(what, client.try_response(false)).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!((400..500).contains(&r.status), "{what}: status {}", r.status);
        assert!(client.closed().await, "{what}: the connection stays open after a framing error");
    }
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request means faulty framing.
    let mut client = gw.client().await;
    client.send(b"POST /framing HTTP/1.0\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").await;
    let r = bounded("HTTP/1.0 chunked", client.try_response(false)).await.expect("an answer to HTTP/1.0 chunked");
    assert!((400..500).contains(&r.status), "HTTP/1.0 with Transfer-Encoding: status {}", r.status);
    assert!(client.closed().await, "HTTP/1.0 with Transfer-Encoding: the connection stays open");
    assert_eq!(origin.paths(), Vec::<String>::new(), "nothing reached the origin");
}

/// RFC 9112 §6.1, §6.3 (rule 3): with both `Content-Length` and chunked coding, the chunked
/// coding decides; the origin gets the chunked content without the `Content-Length`, and the
/// gateway closes the connection after the response (or refuses with a 400 and closes). Either
/// way a request hidden behind the body never reaches the origin.
#[tokio::test]
async fn content_length_beside_chunked_cannot_smuggle_a_request() {
    let origin = ScriptedOrigin::start(|seen| Reply::keep(ok_echo(seen))).await;
    let gw = gateway_for(origin.addr).await;
    let heads: [&[u8]; 2] = [
        b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 6\r\n",
    ];
    for head in heads {
        let shown = String::from_utf8_lossy(head).replace("\r\n", " ");
        let mut raw = b"POST /both HTTP/1.1\r\nHost: app.test\r\n".to_vec();
        raw.extend_from_slice(head);
        raw.extend_from_slice(b"\r\n3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: app.test\r\n\r\n");
        let mut client = gw.client().await;
        client.send(&raw).await;
        let r = bounded(&shown, client.try_response(false)).await.unwrap_or_else(|e| panic!("{shown}: {e}"));
        match r.status {
            400 => {}
            200 => {
                assert_eq!(r.text(), "POST /both", "{shown}");
                let seen = origin.seen().pop().expect("the POST");
                assert_eq!((seen.body.as_slice(), seen.header("content-length")), (&b"abc"[..], None), "{shown}");
            }
            other => panic!("{shown}: status {other}"),
        }
        assert!(client.closed().await, "{shown}: the connection stays open");
    }
    assert!(!origin.paths().iter().any(|p| p == "/smuggled"), "smuggled: {:?}", origin.paths());
}

/// RFC 9112 §6.3 (rule 5): a response whose length cannot be known (two different
/// `Content-Length`s, an invalid one) is never relayed with a guessed length: the gateway
/// answers 502 and closes its connection to the origin. The client's connection, whose request
/// was read whole, may stay (then it works) or close. With both `Content-Length` and chunked
/// coding (§6.3 rule 3) the chunked coding decides, or the answer is treated as an error; either
/// way the client gets an answer.
#[tokio::test]
async fn ambiguous_response_framing_is_an_upstream_error() {
    let answers: [(&str, &[u8]); 2] = [
        ("two lengths", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
        ("a bad length", b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello"),
    ];
    for (what, answer) in answers {
        // One origin each: the check that the gateway closed its connection counts them all.
        let origin = ScriptedOrigin::start(move |seen| {
            Reply::keep(if seen.path == "/bad" { answer.to_vec() } else { ok_echo(seen) })
        })
        .await;
        let gw = gateway_for(origin.addr).await;
        let mut client = gw.client().await;
        let r = bounded(what, client.request("GET", "app.test", "/bad", &[])).await;
        assert_eq!((r.status, r.header("x-hiatus-failure")), (502, Some("invalid_response")), "{what}");
        // The gateway closes its connection to the origin.
        origin.open_connections(0).await;
        if r.header("connection") == Some("close") {
            assert!(client.closed().await, "{what}: says close, stays open");
        } else {
            let next = client.request("GET", "app.test", "/after", &[]).await;
            assert_eq!((next.status, next.text().as_str()), (200, "GET /after"), "after {what}");
        }
    }
    let origin = ScriptedOrigin::start(|seen| {
        Reply::keep(if seen.path == "/both" {
            b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                .to_vec()
        } else {
            ok_echo(seen)
        })
    })
    .await;
    let gw = gateway_for(origin.addr).await;
    // The head alone first: a client that trusts the Content-Length would wait for 45 more bytes.
    let mut client = gw.client().await;
    client.send_request("GET", "app.test", "/both", &[], b"").await;
    let head = client.response(true).await;
    let framing = (head.header("content-length"), head.header("transfer-encoding"));
    assert!(framing.0.is_none() || framing.1.is_none(), "both framings relayed: {framing:?}");
    let mut client = gw.client().await;
    let r = bounded("the answer with both framings", client.request("GET", "app.test", "/both", &[])).await;
    match r.status {
        200 => {
            assert_eq!(r.text(), "hello", "chunked decides");
            assert_ne!(r.header("content-length"), Some("50"), "the origin's Content-Length is not passed on");
        }
        502 => assert_eq!(r.header("x-hiatus-failure"), Some("invalid_response")),
        other => panic!("both framings: status {other}"),
    }
    if r.header("connection") == Some("close") {
        assert!(client.closed().await, "says close, stays open");
        return;
    }
    let next = client.request("GET", "app.test", "/after", &[]).await;
    assert_eq!((next.status, next.text().as_str()), (200, "GET /after"));
}

// =============================================================================================
// Connection management

/// RFC 9112 §9.6: an origin that answers `Connection: close` and closes after every response
/// costs a new upstream connection per request, never the client's connection or a request.
#[tokio::test]
async fn an_origin_that_says_connection_close_every_time() {
    let origin = ScriptedOrigin::start(|seen| {
        let body = echo_text(seen);
        Reply::close(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()))
    })
    .await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    for i in 0..3 {
        let r = client.request("GET", "app.test", &format!("/{i}"), &[]).await;
        assert_eq!((r.status, r.text()), (200, format!("GET /{i}")));
        assert_eq!(r.header("connection"), Some("keep-alive"), "the origin's close is hop-by-hop");
    }
    assert_eq!((origin.paths().len(), origin.accepted()), (3, 3), "one upstream connection per request");
}

/// RFC 9112 §9.3, §9.3.1: an origin may close a keep-alive connection right after a response
/// without saying so. The gateway must not fail the next GET on the dead connection: it
/// notices, or retries on a fresh one.
#[tokio::test]
async fn an_origin_that_closes_silently_after_every_response() {
    let origin = ScriptedOrigin::start(|seen| Reply::close(ok_echo(seen))).await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    for i in 0..4 {
        let r = client.request("GET", "app.test", &format!("/{i}"), &[]).await;
        assert_eq!((r.status, r.text()), (200, format!("GET /{i}")), "request {i}");
    }
    assert_eq!(origin.paths(), ["/0", "/1", "/2", "/3"], "each GET reached the origin once");
}

/// RFC 9112 §9.3.1: the origin closes an idle pooled keep-alive connection (its keep-alive
/// timeout) between two requests; the next GET still gets 200 from a fresh connection.
#[tokio::test]
async fn an_origin_that_closes_its_idle_connection_between_requests() {
    let origin = ScriptedOrigin::start(|seen| Reply::keep(ok_echo(seen))).await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    for i in 0..3 {
        let r = client.request("GET", "app.test", &format!("/{i}"), &[]).await;
        assert_eq!((r.status, r.text()), (200, format!("GET /{i}")), "request {i}");
        origin.close_idle_connections().await;
    }
    assert_eq!(origin.paths(), ["/0", "/1", "/2"]);
    assert_eq!(origin.accepted(), 3, "a closed connection is not used again");
}

/// RFC 9112 §9.6: a request with `Connection: close` gets its response, and then the gateway
/// closes the connection.
#[tokio::test]
async fn connection_close_from_the_client_is_honoured() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    let first = client.request("GET", "app.test", "/kept", &[]).await;
    assert_eq!(first.status, 200);
    let r = client.request("GET", "app.test", "/last", &[("Connection", "close")]).await;
    assert_eq!((r.status, r.text().as_str()), (200, "o GET /last"));
    assert_eq!(r.header("connection"), Some("close"), "the gateway says it closes");
    assert!(client.closed().await, "the gateway closes the connection after the response");
    // The origin saw neither the client's `Connection: close` nor a bare Connection header.
    let seen = origin.seen().pop().expect("the last request");
    assert_ne!(seen.header("connection").map(str::to_ascii_lowercase).as_deref(), Some("close"));
}

/// RFC 9112 §9.3: an HTTP/1.0 request without `Connection: keep-alive` gets its answer and the
/// connection is closed afterwards; with keep-alive asked for, it stays.
#[tokio::test]
async fn http_1_0_closes_unless_keep_alive_is_asked_for() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    client.send(b"GET /old HTTP/1.0\r\nHost: app.test\r\nUser-Agent: old\r\n\r\n").await;
    let r = bounded("the HTTP/1.0 answer", client.try_response(false)).await.expect("a complete HTTP/1.0 answer");
    assert_eq!((r.status, r.text().as_str()), (200, "o GET /old"));
    assert!(client.closed().await, "HTTP/1.0 without keep-alive is closed after the answer");
    // Keep-alive asked for: a `Content-Length` answer, and the connection is kept.
    let mut client = gw.client().await;
    for path in ["/ka1", "/ka2"] {
        client
            .send(format!("GET {path} HTTP/1.0\r\nHost: app.test\r\nConnection: keep-alive\r\n\r\n").as_bytes())
            .await;
        let r = client.response(false).await;
        assert_eq!((r.status, r.text()), (200, format!("o GET {path}")));
        assert!(r.header("content-length").is_some(), "HTTP/1.0 has no chunked coding: {:?}", r.headers);
    }
}

// =============================================================================================
// Headers

/// RFC 9110 §7.6.1: hop-by-hop request fields (`Connection` and the fields it names,
/// `Keep-Alive`, `Proxy-Connection`, `TE`, `Upgrade`, `Proxy-Authorization`) are not forwarded
/// to the origin; end-to-end fields are.
#[tokio::test]
async fn hop_by_hop_request_headers_are_not_forwarded() {
    let origin = ScriptedOrigin::start(|seen| Reply::keep(ok_echo(seen))).await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    let headers = [
        ("Connection", "keep-alive, X-Custom"),
        ("X-Custom", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("TE", "trailers"),
        ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
        ("X-End-To-End", "kept"),
        ("Cache-Control", "no-cache"),
    ];
    let r = client.request("GET", "app.test", "/hop", &headers).await;
    assert_eq!(r.status, 200);
    let seen = origin.seen().pop().expect("the request");
    for name in ["x-custom", "keep-alive", "proxy-connection", "te", "proxy-authorization"] {
        assert_eq!(seen.header(name), None, "{name} must not reach the origin: {:?}", seen.headers);
    }
    if let Some(connection) = seen.header("connection") {
        assert!(!connection.to_ascii_lowercase().contains("x-custom"), "Connection: {connection}");
    }
    assert_eq!((seen.header("x-end-to-end"), seen.header("cache-control")), (Some("kept"), Some("no-cache")));
    // Without a `Connection` that names fields: the same.
    let r = client.request("GET", "app.test", "/hop", &headers[2..]).await;
    assert_eq!(r.status, 200);
    let seen = origin.seen().pop().expect("the request");
    for name in ["keep-alive", "proxy-connection", "te", "proxy-authorization"] {
        assert_eq!(seen.header(name), None, "{name} must not reach the origin: {:?}", seen.headers);
    }
    assert_eq!((seen.header("x-end-to-end"), seen.header("cache-control")), (Some("kept"), Some("no-cache")));
    // `Connection` may name several fields, over several lines.
    let r = client
        .request(
            "GET",
            "app.test",
            "/hop2",
            &[("Connection", "X-A"), ("Connection", "x-b"), ("X-A", "1"), ("X-B", "2")],
        )
        .await;
    assert_eq!(r.status, 200);
    let seen = origin.seen().pop().expect("the request");
    assert_eq!((seen.header("x-a"), seen.header("x-b")), (None, None), "{:?}", seen.headers);
}

/// The origin's response headers reach the client with their values (repeated fields
/// included); the gateway adds `x-hiatus: proxied` and the request's `x-request-id`, and an
/// origin cannot claim to be the gateway (`x-hiatus`, `x-hiatus-failure` are its own).
#[tokio::test]
async fn response_headers_are_kept_and_the_gateway_marks_its_own() {
    let origin = ScriptedOrigin::start(|_| {
        Reply::keep(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: max-age=60, public\r\nETag: \"abc\"\r\n\
              Set-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; Path=/; HttpOnly\r\nX-Multi: one\r\nX-Multi: two\r\n\
              Vary: Accept-Encoding\r\nContent-Type: text/plain; charset=utf-8\r\nX-Spaced: a  b\r\n\
              x-hiatus: maintenance\r\nx-hiatus-failure: connection_refused\r\n\r\nok"
                .to_vec(),
        )
    })
    .await;
    let gw = gateway_for(origin.addr).await;
    let r = gw.get("app.test", "/", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    let expected = [
        ("cache-control", vec!["max-age=60, public"]),
        ("etag", vec!["\"abc\""]),
        ("set-cookie", vec!["a=1; Path=/", "b=2; Path=/; HttpOnly"]),
        ("x-multi", vec!["one", "two"]),
        ("vary", vec!["Accept-Encoding"]),
        ("content-type", vec!["text/plain; charset=utf-8"]),
        ("x-spaced", vec!["a  b"]),
        ("x-hiatus", vec!["proxied"]),
        ("x-hiatus-failure", vec![]),
    ];
    for (name, values) in expected {
        assert_eq!(r.all(name), values, "{name}");
    }
    let id = r.all("x-request-id");
    let seen = origin.seen().pop().expect("the request");
    assert_eq!(id, [seen.header("x-request-id").expect("the origin got a request id")], "one id, the origin's");
}

// =============================================================================================
// Request shapes

/// RFC 9112 §2.2: a request may arrive in any number of pieces; one byte per TCP segment, with
/// the gateway running between bytes, is answered like any other (and then the next request).
#[tokio::test]
async fn a_request_written_one_byte_at_a_time_is_answered() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    client.send_byte_by_byte(b"GET /slow HTTP/1.1\r\nHost: app.test\r\nUser-Agent: byte-by-byte\r\n\r\n").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.text().as_str()), (200, "o GET /slow"));
    client.send_byte_by_byte(b"POST /slow-body HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\n\r\nhello").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.text().as_str()), (200, "o POST /slow-body"));
    assert_eq!(origin.seen().pop().map(|s| s.body), Some(b"hello".to_vec()));
}

/// RFC 9112 §3.2.2: a request in absolute form is routed by its authority (here equal to
/// `Host`) to that tenant.
#[tokio::test]
async fn absolute_form_is_routed_by_its_authority() {
    let (app, other) = tokio::join!(Origin::start("app", Behaviour::Ok), Origin::start("other", Behaviour::Ok));
    let body =
        tenant("app", &["app.example"], &[app.addr], "") + &tenant("other", &["other.example"], &[other.addr], "");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let mut client = gw.client().await;
    client.send(b"GET http://app.example/x?q=1 HTTP/1.1\r\nHost: app.example\r\n\r\n").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.header("x-origin"), r.marker()), (200, Some("app"), "proxied"));
    client.send(b"GET http://other.example:8080/y HTTP/1.1\r\nHost: other.example:8080\r\n\r\n").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.header("x-origin")), (200, Some("other")));
    assert_eq!((app.hits(), other.hits()), (1, 1));
    let seen = app.seen().pop().expect("the request");
    assert_eq!(seen.header("host"), Some("app.example"));
    assert_eq!(seen.path, "/x?q=1", "origin form towards the origin (RFC 9112 §3.2.1)");
}

/// A request head beyond any sane size (a 1.5 MiB header line; Pingora's limit is 1 MiB, a
/// stricter one is better) is refused with a 4xx (400, or 431: RFC 6585 §5), without a panic
/// and without reaching the origin; other connections are served as before.
#[tokio::test]
async fn an_oversized_request_head_is_refused() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    let mut raw = b"GET /big HTTP/1.1\r\nHost: app.test\r\nX-Big: ".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 1536 * 1024));
    raw.extend_from_slice(b"\r\n\r\n");
    client.send(&raw).await;
    let r = bounded("the answer to a huge head", client.try_response(false))
        .await
        .unwrap_or_else(|e| panic!("no answer to a huge request head: {e}"));
    assert!(matches!(r.status, 400 | 431), "status {}", r.status);
    let other = gw.get("app.test", "/after", &[]).await;
    assert_eq!((other.status, other.text().as_str()), (200, "o GET /after"));
    assert_eq!(origin.hits(), 1, "the huge request did not reach the origin");
}

/// A 100 KiB header line is refused with 431 (RFC 6585 §5; the gateway reads at most 32 KiB of
/// head), without a panic; other connections are served as before. (Pingora alone forwarded
/// heads up to 1 MiB.)
#[tokio::test]
async fn a_100_kib_header_line_is_refused() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = gateway_for(origin.addr).await;
    for method in ["GET", "POST"] {
        let mut client = gw.client().await;
        let mut raw = format!("{method} /big HTTP/1.1\r\nHost: app.test\r\nX-Big: ").into_bytes();
        raw.extend(std::iter::repeat_n(b'a', 100 * 1024));
        raw.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
        client.send(&raw).await;
        let r = bounded("the answer to a huge header", client.try_response(false))
            .await
            .unwrap_or_else(|e| panic!("no answer to a 100 KiB header line: {e}"));
        assert_eq!((r.status, r.marker()), (431, "bad-request"), "{method}");
        assert!(r.text().contains("larger than 32 KiB"), "{method}: says what happened: {}", r.text());
    }
    let other = gw.get("app.test", "/after", &[]).await;
    assert_eq!((other.status, other.text().as_str()), (200, "o GET /after"));
    assert_eq!(origin.hits(), 1, "the huge requests did not reach the origin");
}

/// A head that trickles in is cut off `header_timeout` after its first byte with a 408, however
/// often a byte arrives ("slowloris": before, each read had the whole keep-alive timeout). The
/// time between requests is still the keep-alive timeout's.
#[tokio::test]
async fn a_head_that_trickles_in_is_cut_off_after_the_header_timeout() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let body = tenant("app", &["app.test"], &[origin.addr], "");
    let gw = TestGateway::start(&config("keepalive_timeout = \"5s\"\nheader_timeout = \"300ms\"", &body), t0()).await;

    let mut slow = gw.client().await;
    let started = std::time::Instant::now();
    let head =
        b"GET /slow HTTP/1.1\r\nHost: app.test\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    // One byte every 50 ms: the whole head would take over 4 s, each gap far below keep-alive.
    let sent = slow.send_slowly(head, std::time::Duration::from_millis(50)).await;
    let r = bounded("the answer to a trickling head", slow.try_response(false))
        .await
        .unwrap_or_else(|e| panic!("no 408 for a head trickling in ({sent} of {} bytes sent): {e}", head.len()));
    assert_eq!((r.status, r.marker()), (408, "bad-request"));
    assert!(r.text().contains("did not arrive in time"), "says what happened: {}", r.text());
    assert!(sent < head.len(), "cut off before the head was complete");
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "cut off after {:?}", started.elapsed());
    assert_eq!(origin.hits(), 0);

    // Idle between requests longer than header_timeout: still the keep-alive timeout.
    let mut client = gw.client().await;
    let first = client.request("GET", "app.test", "/one", &[]).await;
    assert_eq!(first.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let second = client.request("GET", "app.test", "/two", &[]).await;
    assert_eq!((second.status, second.text().as_str()), (200, "o GET /two"));
}

/// With h2c on (the default), a complete HTTP/1.1 request shorter than the 24-byte HTTP/2
/// preface gets its answer (here the 400 page: there is no Host) at once.
///
/// Failed with pingora's own listener app (7c59b1c): pingora reads 24 bytes before it decides
/// between HTTP/2 and HTTP/1 and waits for more. `GET` already differs from the preface's
/// `PRI` at the first byte, so a proxy can tell.
#[tokio::test]
async fn h2c_on_a_request_shorter_than_the_h2_preface_is_answered() {
    let origin = Origin::start("o", Behaviour::Ok).await;
    let gw = gateway_for(origin.addr).await;
    let mut client = gw.client().await;
    client.send(b"GET / HTTP/1.1\r\n\r\n").await;
    let r = bounded("the answer to an 18-byte request", client.try_response(false))
        .await
        .unwrap_or_else(|e| panic!("no answer to an 18-byte request with h2c on: {e}"));
    assert_eq!((r.status, r.marker()), (400, "bad-request"));
    assert_eq!(origin.hits(), 0);
}
