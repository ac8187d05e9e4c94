//! HTTP/2 with prior knowledge (h2c) as an edge proxy must speak it, end to end on loopback
//! sockets: the h2c lane (`gateway::h2c`: every stream decided by the request core and proxied
//! over pooled HTTP/1.1).
//!
//! What is pinned: the upstream's answer relayed as HTTP/2 (status, exact body bytes whatever
//! the HTTP/1.1 framing — length, chunked with extensions and trailers, close-delimited — and
//! only end-to-end fields), flow control on large bodies, HEAD, 1xx/204/304, what the origin
//! receives (request line, `Host` from `:authority`, cookies joined, `X-Forwarded-*`, request
//! id, no HTTP/2-only or hop-by-hop fields), upstream connection reuse, concurrent streams
//! without head-of-line blocking, every stream shape (bodies, other methods, own assets, bodies
//! in maintenance and bodies cut short by a reset, never upstream as a partial request),
//! failures (refused, cut short, malformed, stalled, cancelled by the client) that end one
//! stream and never the connection or a pooled upstream connection, graceful shutdown and the
//! idle timeout.
//!
//! The origins are [`ScriptedOrigin`]s (shared with `protocol`): they record each request exactly
//! as it arrived and answer with raw bytes chosen per request (in separate writes where the test
//! says so), so each test controls the exact HTTP/1.1 framing the gateway has to turn into
//! HTTP/2. The client is the `h2` crate, with every wait bounded ([`bounded`]); nothing sleeps to
//! let time pass.

use crate::gateway_support::{bounded, config, dead_address, one_down_one_up, t0, tenant, TestGateway};
use crate::scripted_origin::{
    assert_same_body, bodiless_or_interim, chunked_parts, echo_text, ok, ok_echo, pattern, streamed_in_two_pieces,
    Reply, ScriptedOrigin, Then,
};
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

// =============================================================================================
// The gateway and an h2c client

/// A gateway (h2c on, the default) with one tenant, `app.test`, in front of `upstream`;
/// `extra` goes into the tenant's table.
async fn gateway_for(upstream: SocketAddr, extra: &str) -> TestGateway {
    TestGateway::start(&config("", &tenant("app", &["app.test"], &[upstream], extra)), t0()).await
}

/// `http://app.test` + `path`: the authority becomes `:authority`.
fn app(path: &str) -> String {
    format!("http://app.test{path}")
}

/// An h2c connection (prior knowledge) whose connection task can be watched.
struct H2 {
    send: h2::client::SendRequest<Bytes>,
    conn: Option<JoinHandle<Result<(), h2::Error>>>,
}

/// One stream's outcome as the client saw it.
#[derive(Debug)]
struct Fetched {
    /// `None` when the stream failed before a response head.
    status: Option<u16>,
    headers: http::HeaderMap,
    body: Vec<u8>,
    /// How the stream failed, if it did (before the head or inside the body); `None` for a
    /// clean end of stream.
    error: Option<h2::Error>,
}

impl Fetched {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn marker(&self) -> &str {
        self.header("x-hiatus").unwrap_or("-")
    }

    /// The response, which must have a head and a clean end of stream.
    fn complete(self, what: &str) -> Fetched {
        assert!(
            self.status.is_some() && self.error.is_none(),
            "{what}: not a complete response: status {:?}, error {:?}, {} body bytes ({:?})",
            self.status,
            self.error,
            self.body.len(),
            String::from_utf8_lossy(&self.body[..self.body.len().min(200)])
        );
        self
    }

    fn status(&self) -> u16 {
        self.status.unwrap_or(0)
    }
}

impl H2 {
    async fn connect(to: SocketAddr) -> H2 {
        let tcp = bounded("connect", TcpStream::connect(to)).await.expect("connect to the gateway");
        // As real h2 clients do: small frames (WINDOW_UPDATE) go out at once, not after an ACK.
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        let (send, connection) = bounded("h2 handshake", h2::client::handshake(tcp)).await.expect("h2 handshake");
        H2 { send, conn: Some(tokio::spawn(connection)) }
    }

    /// Opens a stream (with `body` as DATA when given) and returns the response to come.
    async fn open(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> h2::client::ResponseFuture {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (n, v) in headers {
            builder = builder.header(*n, *v);
        }
        let request = builder.body(()).expect("a valid request");
        let mut send = bounded("h2 ready", self.send.clone().ready()).await.expect("the h2 connection is ready");
        let (response, mut stream) = send.send_request(request, body.is_none()).expect("send the h2 request");
        if let Some(body) = body {
            stream.send_data(Bytes::copy_from_slice(body), true).expect("send the request body");
        }
        response
    }

    /// One request without a body, read to its end (or its failure).
    async fn fetch(&self, method: &str, uri: &str, headers: &[(&str, &str)]) -> Fetched {
        read_all(self.open(method, uri, headers, None).await).await
    }

    /// `GET uri`, which must complete.
    async fn get(&self, uri: &str) -> Fetched {
        self.fetch("GET", uri, &[]).await.complete(&format!("GET {uri}"))
    }

    /// Returns once the gateway has closed the connection (with or without GOAWAY).
    async fn closed_by_gateway(&mut self) {
        let conn = self.conn.take().expect("the connection task");
        let _ = bounded("the gateway closes the h2 connection", conn).await;
    }
}

/// Reads a response to its end, releasing flow-control capacity as the body comes.
async fn read_all(response: h2::client::ResponseFuture) -> Fetched {
    let response = match bounded("an h2 response head", response).await {
        Ok(r) => r,
        Err(e) => return Fetched { status: None, headers: http::HeaderMap::new(), body: Vec::new(), error: Some(e) },
    };
    let (parts, mut body) = response.into_parts();
    let mut bytes = Vec::new();
    let mut error = None;
    while let Some(chunk) = bounded("the h2 body", body.data()).await {
        match chunk {
            Ok(chunk) => {
                let _ = body.flow_control().release_capacity(chunk.len());
                bytes.extend_from_slice(&chunk);
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    Fetched { status: Some(parts.status.as_u16()), headers: parts.headers, body: bytes, error }
}

// =============================================================================================
// Relaying the upstream's answer

/// RFC 9113 §8.2.2, RFC 9110 §7.6.1: a `Content-Length` answer reaches the h2 client with its
/// status and exact body, marked `x-hiatus: proxied` with the request's id; connection-specific
/// fields (`Connection` and the fields it names, `Keep-Alive`, `Proxy-Connection`, `Upgrade`,
/// `Transfer-Encoding`) are not relayed (an h2 client must treat them as malformed); end-to-end
/// fields are, repeated ones as separate fields; the origin cannot claim the gateway's markers.
#[tokio::test]
async fn a_length_delimited_answer_is_relayed_with_its_end_to_end_fields_only() {
    let origin = ScriptedOrigin::start(|_| {
        Reply::keep(
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: text/plain\r\nConnection: x-secret\r\n\
              X-Secret: hidden\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\n\
              X-End-To-End: kept\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; Path=/; HttpOnly\r\n\
              Cache-Control: max-age=60, public\r\nx-hiatus: maintenance\r\nx-hiatus-failure: connection_refused\r\n\
              x-request-id: chosen-by-the-origin\r\n\r\nhello world"
                .to_vec(),
        )
    })
    .await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    for round in 0..2 {
        let r = h2.get(&app("/doc")).await;
        assert_eq!((r.status(), r.text().as_str()), (200, "hello world"), "round {round}");
        assert_eq!(r.header("content-length"), Some("11"), "round {round}");
        assert_eq!(r.all("x-hiatus"), ["proxied"], "round {round}");
        assert_eq!(r.all("x-hiatus-failure"), Vec::<&str>::new(), "round {round}");
        for name in ["connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "x-secret"] {
            assert_eq!(r.header(name), None, "round {round}: {name} relayed: {:?}", r.headers);
        }
        assert_eq!((r.header("x-end-to-end"), r.header("content-type")), (Some("kept"), Some("text/plain")));
        assert_eq!(r.all("set-cookie"), ["a=1; Path=/", "b=2; Path=/; HttpOnly"], "round {round}");
        assert_eq!(r.header("cache-control"), Some("max-age=60, public"));
        let ids = r.all("x-request-id");
        assert_eq!(ids.len(), 1, "round {round}: one request id: {ids:?}");
        assert_eq!(Some(ids[0]), origin.last().header("x-request-id"), "round {round}: the id the origin got");
        assert!(r.header("date").is_some(), "round {round}: a Date field");
    }
    assert_eq!(origin.accepted(), 1, "the upstream connection is kept for the second stream");
}

/// RFC 9112 §7.1, RFC 9113 §8.1: a chunked answer (chunk extensions, a quoted extension value
/// with `;` in it, a trailer section, every piece in its own write and cut at awkward places)
/// reaches the h2 client as exactly the decoded data, with no chunk framing in it, and a clean
/// end of stream. The upstream connection is then at the next response's first byte: it is
/// used again, and the next answers are right.
#[tokio::test]
async fn a_chunked_answer_arrives_as_exactly_its_decoded_data() {
    let origin = ScriptedOrigin::start(|got| {
        if got.path != "/chunked" {
            return Reply::keep(ok_echo(got));
        }
        Reply::pieces(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\nContent-Type: text/plain\r\n\r\n"
                .to_vec(),
            b"5;ext=1\r\nhel".to_vec(),
            b"lo\r\n".to_vec(),
            b"7;name=\"quoted;value\"\r\n, world\r".to_vec(),
            b"\n1".to_vec(),
            b"0\r\n0123456789abcdef\r\n".to_vec(),
            b"3\r\n!\r\n\r\n".to_vec(),
            b"0;last\r\nX-Checksum: abc\r\n".to_vec(),
            b"X-Other: 1\r\n\r\n".to_vec(),
        ])
    })
    .await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    for round in 0..2 {
        let r = h2.get(&app("/chunked")).await;
        assert_eq!(r.status(), 200, "round {round}");
        assert_eq!(r.text(), "hello, world0123456789abcdef!\r\n", "round {round}: the decoded data, nothing else");
        assert_eq!((r.header("transfer-encoding"), r.header("content-type")), (None, Some("text/plain")));
        let after = h2.get(&app("/after")).await;
        assert_eq!((after.status(), after.text().as_str()), (200, "GET /after"), "round {round}");
    }
    assert_eq!(origin.paths(), ["/chunked", "/after", "/chunked", "/after"]);
    assert_eq!(origin.accepted(), 1, "the chunked body's end (trailers included) was found exactly");
}

/// RFC 9112 §6.3 (rule 8): an answer with neither length nor chunked coding ends when the
/// origin closes; the h2 client gets all of it and a clean end of stream, and the next stream
/// (on a fresh upstream connection) is answered.
#[tokio::test]
async fn a_close_delimited_answer_arrives_complete_and_ends_cleanly() {
    let body = pattern(20_000);
    let sent = body.clone();
    let origin = ScriptedOrigin::start(move |got| {
        if got.path != "/until-close" {
            return Reply::keep(ok_echo(got));
        }
        Reply::pieces(vec![
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec(),
            sent[..7_000].to_vec(),
            sent[7_000..].to_vec(),
        ])
        .then(Then::Close)
    })
    .await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    let r = h2.get(&app("/until-close")).await;
    assert_eq!((r.status(), r.marker()), (200, "proxied"));
    assert_same_body("close-delimited body", &r.body, &body);
    if let Some(length) = r.header("content-length") {
        assert_eq!(length, body.len().to_string(), "a length, if given, is the real one");
    }
    let after = h2.get(&app("/after")).await;
    assert_eq!((after.status(), after.text().as_str()), (200, "GET /after"));
    assert_eq!(origin.accepted(), 2, "the closed upstream connection is not used again");
}

/// RFC 9113 §5.2: a 1 MiB body (with `Content-Length`, then chunked in uneven chunks) is far
/// more than the client's initial 64 KiB flow-control window; the gateway sends as the client
/// releases capacity, and the body arrives byte-exact, more than once on one connection.
#[tokio::test]
async fn a_one_mebibyte_body_arrives_byte_exact_under_flow_control() {
    const MIB: usize = 1 << 20;
    let origin = ScriptedOrigin::start(|got| {
        let body = pattern(MIB);
        if got.path != "/chunked" {
            return Reply::keep(ok(&body));
        }
        // Uneven chunks: 64 KiB + 1 each.
        Reply::pieces(chunked_parts(&body, 64 * 1024 + 1))
    })
    .await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    let expected = pattern(MIB);
    for path in ["/length", "/chunked", "/length"] {
        let r = h2.get(&app(path)).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_same_body(path, &r.body, &expected);
        if path == "/length" {
            assert_eq!(r.header("content-length"), Some(MIB.to_string().as_str()), "{path}");
        }
    }
}

/// RFC 9110 §9.3.2: HEAD over h2 to a proxied tenant: the origin sees `HEAD`, the client gets
/// the status and fields (the representation's `Content-Length` too) and no body, at once; the
/// next GET on the same connection gets its full body over the same upstream connection (the
/// gateway did not wait for, or leave behind, body bytes of the HEAD).
#[tokio::test]
async fn head_over_h2_gets_the_fields_and_no_body() {
    let origin = ScriptedOrigin::start(|got| match (got.method.as_str(), got.path.as_str()) {
        ("HEAD", "/chunked") => {
            Reply::keep(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: \"c\"\r\n\r\n".to_vec())
        }
        ("HEAD", _) => Reply::keep(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\nETag: \"h\"\r\n\r\n".to_vec(),
        ),
        _ => Reply::keep(ok(&pattern(1000))),
    })
    .await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    for round in 0..2 {
        let r = h2.fetch("HEAD", &app("/doc"), &[]).await.complete("HEAD /doc");
        assert_eq!((r.status(), r.body.len(), r.marker()), (200, 0, "proxied"), "round {round}");
        assert_eq!((r.header("content-length"), r.header("etag")), (Some("1000"), Some("\"h\"")), "round {round}");
        assert!(r.header("x-request-id").is_some(), "round {round}");
        let get = h2.get(&app("/doc")).await;
        assert_eq!(get.status(), 200, "round {round}");
        assert_same_body("GET after HEAD", &get.body, &pattern(1000));
    }
    let r = h2.fetch("HEAD", &app("/chunked"), &[]).await.complete("HEAD /chunked");
    assert_eq!((r.status(), r.body.len(), r.header("etag")), (200, 0, Some("\"c\"")));
    assert_eq!(r.header("transfer-encoding"), None);
    let get = h2.get(&app("/doc")).await;
    assert_eq!(get.body.len(), 1000);
    let methods: Vec<String> = origin.seen().into_iter().map(|g| g.method).collect();
    assert_eq!(methods, ["HEAD", "GET", "HEAD", "GET", "HEAD", "GET"]);
    // A HEAD's upstream connection is never kept (an origin may send a body after it), so each
    // HEAD takes the connection the GET before it parked, and each GET opens a new one.
    assert_eq!(origin.accepted(), 4, "every GET on a fresh connection after a HEAD");
}

/// RFC 9110 §15.3.5, §15.4.5, §15.2, RFC 9113 §8.1: 204 and 304 end with their head (a 304's
/// representation `Content-Length` is kept), an empty 200 ends cleanly, and interim answers
/// (`100 Continue`, `103 Early Hints`, apart or in one write with the final one) are followed
/// by the final answer with its body. All on one h2 connection and one upstream connection.
#[tokio::test]
async fn bodiless_and_interim_answers_over_h2() {
    // `/204`, `/304`, `/304-with-length`, `/empty`, `/continue`, `/early-hints`, `/together`;
    // any other path echoes.
    let origin =
        ScriptedOrigin::start(|got| bodiless_or_interim(&got.path).unwrap_or_else(|| Reply::keep(ok_echo(got)))).await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    let r = h2.get(&app("/204")).await;
    assert_eq!((r.status(), r.body.len(), r.header("x-note"), r.marker()), (204, 0, Some("empty"), "proxied"));
    assert_eq!(r.header("content-length"), None, "204 has no Content-Length (RFC 9110 §8.6)");
    for (path, etag) in [("/304", "\"v1\""), ("/304-with-length", "\"v2\"")] {
        let r = h2.fetch("GET", &app(path), &[("if-none-match", etag)]).await.complete(path);
        assert_eq!((r.status(), r.body.len(), r.header("etag")), (304, 0, Some(etag)), "{path}");
    }
    assert_eq!(origin.seen()[1].header("if-none-match"), Some("\"v1\""), "conditional fields pass");
    let r = h2.get(&app("/empty")).await;
    assert_eq!((r.status(), r.body.len()), (200, 0));
    for (path, text) in [("/continue", "after 100"), ("/early-hints", "after 103"), ("/together", "after both")] {
        let r = h2.get(&app(path)).await;
        assert_eq!((r.status(), r.text().as_str(), r.marker()), (200, text, "proxied"), "{path}");
    }
    let r = h2.get(&app("/last")).await;
    assert_eq!(r.text(), "GET /last");
    assert_eq!(origin.accepted(), 1, "every answer left the upstream connection reusable");
}

/// RFC 9110 §7.6.1: `TE` is a hop-by-hop field ("intermediaries SHOULD remove" it), and HTTP/2
/// forbids it in a response unless it is `trailers` (RFC 9113 §8.2.2). An origin that sends
/// one anyway must not cost the client its answer, with or without a request body: the field
/// is dropped, the rest relayed.
#[tokio::test]
async fn an_origins_te_response_field_does_not_break_the_h2_answer() {
    let origin = ScriptedOrigin::start(|got| {
        if got.path != "/te" {
            return Reply::keep(ok_echo(got));
        }
        Reply::keep(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTE: gzip\r\nX-End-To-End: kept\r\n\r\nok".to_vec())
    })
    .await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    let mut broken = Vec::new();
    for (method, body) in [("GET", None), ("POST", Some(&b"data"[..]))] {
        let r = read_all(h2.open(method, &app("/te"), &[], body).await).await;
        if r.status == Some(200) && r.error.is_none() {
            assert_eq!((r.text().as_str(), r.header("te"), r.header("x-end-to-end")), ("ok", None, Some("kept")));
        } else {
            broken.push(format!("{method}: status {:?}, error {:?}", r.status, r.error));
        }
        let after = h2.get(&app("/after")).await;
        assert_eq!(after.text(), "GET /after", "after {method}");
    }
    assert_eq!(origin.paths(), ["/te", "/after", "/te", "/after"]);
    assert!(broken.is_empty(), "an origin's `TE: gzip` broke the h2 answer: {broken:?}");
}

/// RFC 9113 §4.3, §6.10: a response head larger than one HTTP/2 frame (HEADERS plus
/// CONTINUATION) reaches the client whole, and a large request head (20 KiB of cookies in
/// several fields) reaches the origin whole.
#[tokio::test]
async fn large_heads_cross_in_both_directions() {
    let big = "v".repeat(20_000);
    let field = big.clone();
    let origin = ScriptedOrigin::start(move |got| {
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Big: {field}\r\nX-After: end\r\n\r\nok");
        if got.path == "/big-response" {
            Reply::keep(head.into_bytes())
        } else {
            Reply::keep(ok_echo(got))
        }
    })
    .await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    let r = h2.get(&app("/big-response")).await;
    assert_eq!((r.status(), r.text().as_str(), r.header("x-after")), (200, "ok", Some("end")));
    assert_eq!(r.header("x-big").map(str::len), Some(big.len()), "the large field whole");
    let cookies: Vec<String> = (0..5).map(|i| format!("c{i}={}", "x".repeat(4_000))).collect();
    let headers: Vec<(&str, &str)> = cookies.iter().map(|c| ("cookie", c.as_str())).collect();
    let r = h2.fetch("GET", &app("/big-request"), &headers).await.complete("a 20 KiB request head");
    assert_eq!(r.status(), 200);
    let got = origin.last();
    assert_eq!(got.all("cookie"), [cookies.join("; ")], "the cookies joined, whole");
}

// =============================================================================================
// What the origin receives

/// RFC 9113 §8.3.1, §8.2.3, §8.2.2, RFC 9112 §3.2: an h2 request becomes an HTTP/1.1 request in
/// origin form with the query (`GET /path?q=1 HTTP/1.1`), one `Host` equal to `:authority`
/// (port included), the cookies sent as separate h2 fields joined into one `cookie: a=1; b=2`
/// line, the gateway's `X-Forwarded-*` (a spoofing untrusted client's values replaced, its
/// `Forwarded` dropped), the gateway's request id (the one in the response, not the client's),
/// end-to-end fields kept, and no `te`, `connection`, `proxy-authorization` or pseudo-header.
#[tokio::test]
async fn what_the_origin_receives_from_an_h2_request() {
    let origin = ScriptedOrigin::start(|got| Reply::keep(ok_echo(got))).await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    let headers = [
        ("cookie", "a=1"),
        ("cookie", "b=2"),
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.test"),
        ("forwarded", "for=6.6.6.6;proto=https"),
        ("x-request-id", "chosen-by-the-client"),
        ("te", "trailers"),
        ("proxy-authorization", "Basic dXNlcjpwYXNz"),
        ("x-end-to-end", "kept"),
        ("accept", "text/html"),
        ("user-agent", "h2-test"),
    ];
    let r = h2.fetch("GET", &app("/path?q=1"), &headers).await.complete("GET /path?q=1");
    assert_eq!((r.status(), r.text().as_str()), (200, "GET /path?q=1"));
    let got = origin.last();
    assert_eq!(got.line, "GET /path?q=1 HTTP/1.1");
    assert_eq!(got.all("host"), ["app.test"], "one Host, the :authority");
    assert_eq!(got.all("cookie"), ["a=1; b=2"], "one cookie line (RFC 9113 §8.2.3)");
    assert_eq!(got.all("x-forwarded-for"), ["127.0.0.1"], "the spoofed chain replaced by the peer");
    assert_eq!(got.all("x-forwarded-proto"), ["http"]);
    assert_eq!(got.all("x-forwarded-host"), ["app.test"]);
    assert_eq!(got.all("forwarded"), ["for=127.0.0.1;proto=http;host=\"app.test\""], "the client's own dropped");
    assert_eq!(got.all("x-request-id"), [r.header("x-request-id").expect("the response's request id")]);
    for name in ["te", "connection", "proxy-authorization", "keep-alive", "transfer-encoding", "upgrade"] {
        assert_eq!(got.header(name), None, "{name} reached the origin: {:?}", got.headers);
    }
    assert!(got.headers.iter().all(|(n, _)| !n.starts_with(':')), "a pseudo-header: {:?}", got.headers);
    assert_eq!((got.header("x-end-to-end"), got.header("accept")), (Some("kept"), Some("text/html")));
    assert_eq!(got.header("user-agent"), Some("h2-test"));
    // One cookie field is passed as it is; an authority with a port stays whole.
    let r = h2.fetch("GET", "http://app.test:8080/port", &[("cookie", "only=1")]).await.complete("GET :8080/port");
    assert_eq!(r.status(), 200);
    let got = origin.last();
    assert_eq!(got.line, "GET /port HTTP/1.1");
    assert_eq!((got.all("host"), got.all("cookie")), (vec!["app.test:8080"], vec!["only=1"]));
    assert_eq!(got.header("x-forwarded-host"), Some("app.test:8080"));
}

/// The trusted-proxy rules hold on h2 too: from a configured trusted proxy, the client's
/// `X-Forwarded-For` chain is extended with the proxy itself, and its `-Proto`, `-Host` and
/// `Forwarded` are believed (`Forwarded` extended by the hop from the proxy).
#[tokio::test]
async fn a_trusted_proxy_over_h2_extends_the_forwarded_chain() {
    let origin = ScriptedOrigin::start(|got| Reply::keep(ok_echo(got))).await;
    let body = tenant("app", &["app.test"], &[origin.addr], "");
    let gw = TestGateway::start(&config("trusted_proxies = [\"127.0.0.1\"]", &body), t0()).await;
    let h2 = H2::connect(gw.addr).await;
    let headers = [
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "www.example"),
        ("forwarded", "for=203.0.113.7;proto=https"),
    ];
    let r = h2.fetch("GET", &app("/"), &headers).await.complete("GET / from a trusted proxy");
    assert_eq!(r.status(), 200);
    let got = origin.last();
    assert_eq!(got.all("x-forwarded-for"), ["203.0.113.7, 127.0.0.1"]);
    assert_eq!((got.all("x-forwarded-proto"), got.all("x-forwarded-host")), (vec!["https"], vec!["www.example"]));
    assert_eq!(got.all("forwarded"), ["for=203.0.113.7;proto=https, for=127.0.0.1;proto=http;host=\"app.test\""]);
}

/// RFC 9113 §8.3.1: a request whose `Host` disagrees with its `:authority` is malformed; it is
/// refused (or reset) and reaches no origin, whichever of the two names a tenant; the
/// connection serves the next stream.
#[tokio::test]
async fn host_disagreeing_with_authority_reaches_no_origin() {
    let (a, b) = tokio::join!(
        ScriptedOrigin::start(|got| Reply::keep(ok_echo(got))),
        ScriptedOrigin::start(|got| Reply::keep(ok_echo(got)))
    );
    let body = tenant("a", &["a.test"], &[a.addr], "") + &tenant("b", &["b.test"], &[b.addr], "");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let h2 = H2::connect(gw.addr).await;
    let r = h2.fetch("GET", "http://a.test/x", &[("host", "b.test")]).await;
    assert!(r.status.is_none_or(|s| (400..500).contains(&s)), "status {:?}", r.status);
    assert_eq!((a.seen().len(), b.seen().len()), (0, 0), "no origin got the malformed request");
    let r = h2.get("http://a.test/ok").await;
    assert_eq!((r.status(), r.text().as_str()), (200, "GET /ok"));
}

// =============================================================================================
// Upstream connections and concurrency

/// Upstream connections are pooled across streams and across h2 connections: sequential
/// requests from two h2 connections in turn reach the origin over one upstream connection, each
/// answer with its own body; a HEAD's upstream connection is not kept.
#[tokio::test]
async fn sequential_streams_from_two_connections_share_one_upstream_connection() {
    let origin = ScriptedOrigin::start(|got| match got.method.as_str() {
        "HEAD" => Reply::keep(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n".to_vec()),
        _ => Reply::keep(ok_echo(got)),
    })
    .await;
    let gw = gateway_for(origin.addr, "").await;
    let (a, b) = (H2::connect(gw.addr).await, H2::connect(gw.addr).await);
    for i in 0..5 {
        for (h2, name) in [(&a, "a"), (&b, "b")] {
            let path = format!("/{name}{i}");
            let r = h2.get(&app(&path)).await;
            assert_eq!((r.status(), r.text()), (200, format!("GET {path}")));
        }
    }
    assert_eq!(origin.accepted(), 1, "one upstream connection for requests one after another");
    let r = a.fetch("HEAD", &app("/head"), &[]).await.complete("HEAD");
    assert_eq!((r.status(), r.body.len()), (200, 0));
    let r = b.get(&app("/last")).await;
    assert_eq!(r.text(), "GET /last");
    assert_eq!(origin.seen().len(), 12);
    assert_eq!(origin.accepted(), 2, "the HEAD took the pooled connection and did not give it back");
}

/// RFC 9112 §9.6, §9.3.1: an origin that says `Connection: close` (and closes) is not reused;
/// one that closes silently after each answer is noticed (or the request repeated on a fresh
/// connection). Either way every h2 stream gets its answer and reaches the origin once.
#[tokio::test]
async fn origins_that_close_after_each_answer() {
    let says = ScriptedOrigin::start(|got| {
        let body = echo_text(got);
        Reply::close(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()))
    })
    .await;
    let silent = ScriptedOrigin::start(|got| Reply::close(ok_echo(got))).await;
    let body =
        tenant("says", &["says.test"], &[says.addr], "") + &tenant("silent", &["silent.test"], &[silent.addr], "");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let h2 = H2::connect(gw.addr).await;
    for i in 0..4 {
        for host in ["says.test", "silent.test"] {
            let r = h2.get(&format!("http://{host}/{i}")).await;
            assert_eq!((r.status(), r.text()), (200, format!("GET /{i}")), "{host} request {i}");
        }
    }
    assert_eq!(says.paths(), ["/0", "/1", "/2", "/3"]);
    assert_eq!(says.accepted(), 4, "an origin that says close is not reused");
    assert_eq!(silent.paths(), ["/0", "/1", "/2", "/3"], "each GET reached the origin once");
}

/// RFC 9113 §5: concurrent streams on one h2 connection are in flight at the same time. The
/// origin answers none until it holds all ten requests (it cannot, if the gateway serialises
/// streams), then each gets its own answer; the burst's upstream connections are pooled and
/// serve the next ten sequential streams without new connections.
#[tokio::test]
async fn concurrent_streams_each_get_their_own_answer() {
    const N: usize = 10;
    let (all_in, gate) = watch::channel(false);
    let count = AtomicUsize::new(0);
    let origin = ScriptedOrigin::start(move |got| {
        if count.fetch_add(1, Ordering::SeqCst) + 1 == N {
            all_in.send_replace(true);
        }
        Reply::keep(ok_echo(got)).after(&gate)
    })
    .await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    let mut pending = Vec::new();
    for i in 0..N {
        pending.push((i, h2.open("GET", &app(&format!("/s{i}")), &[], None).await));
    }
    // Read in reverse order: each stream's answer is its own whatever the order.
    for (i, response) in pending.into_iter().rev() {
        let r = read_all(response).await.complete(&format!("stream {i}"));
        assert_eq!((r.status(), r.text()), (200, format!("GET /s{i}")), "stream {i}");
    }
    assert_eq!(origin.accepted(), N, "one upstream connection per stream in flight");
    for i in 0..N {
        let r = h2.get(&app(&format!("/next{i}"))).await;
        assert_eq!(r.text(), format!("GET /next{i}"));
    }
    assert_eq!(origin.accepted(), N, "the burst's connections were pooled and reused");
}

/// No head-of-line blocking: a stream whose origin has not answered yet does not hold back
/// another stream on the same connection; the slow one is answered once its origin is.
#[tokio::test]
async fn a_slow_stream_does_not_hold_back_the_others() {
    let (release, gate) = watch::channel(false);
    let origin = ScriptedOrigin::start(move |got| {
        let reply = Reply::keep(ok_echo(got));
        if got.path == "/slow" {
            reply.after(&gate)
        } else {
            reply
        }
    })
    .await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    let slow = h2.open("GET", &app("/slow"), &[], None).await;
    origin.received(1).await;
    for path in ["/fast1", "/fast2"] {
        let r = h2.get(&app(path)).await;
        assert_eq!(r.text(), format!("GET {path}"));
    }
    release.send_replace(true);
    let r = read_all(slow).await.complete("/slow");
    assert_eq!((r.status(), r.text().as_str()), (200, "GET /slow"));
}

/// A body the origin streams (a piece, then more only later) reaches the h2 client piece by
/// piece: the origin sends its second piece only once the client holds the first.
#[tokio::test]
async fn a_streamed_body_is_not_held_back() {
    let (go_on, go) = watch::channel(false);
    let origin = ScriptedOrigin::start(move |_| streamed_in_two_pieces(&go)).await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    let response = h2.open("GET", &app("/stream"), &[], None).await;
    let response = bounded("the response head", response).await.expect("a response head");
    let mut body = response.into_body();
    let mut got = Vec::new();
    while got.len() < 5 {
        let chunk = bounded("the first piece before the origin sends the second", body.data())
            .await
            .expect("data, not the end")
            .expect("a data frame");
        let _ = body.flow_control().release_capacity(chunk.len());
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got, b"first");
    go_on.send_replace(true);
    while let Some(chunk) = bounded("the rest", body.data()).await {
        let chunk = chunk.expect("a data frame");
        let _ = body.flow_control().release_capacity(chunk.len());
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got, b"firstsecond");
}

// =============================================================================================
// Every stream shape

/// Every stream shape on one connection: a POST's body reaches the origin exactly (with and
/// without `content-length`), a bodiless PUT and DELETE reach it with their method, an asset is
/// the gateway's; GETs before and after.
#[tokio::test]
async fn streams_with_a_body_or_another_method_reach_the_origin_exactly() {
    let origin = ScriptedOrigin::start(|got| {
        Reply::keep(ok(format!("{} {} got {} bytes", got.method, got.path, got.body.len()).as_bytes()))
    })
    .await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    let r = h2.get(&app("/before")).await;
    assert_eq!(r.text(), "GET /before got 0 bytes");
    let body = b"first line\r\n\r\nGET /not-a-request HTTP/1.1\r\n\r\n\x00\xff binary".to_vec();
    let length = body.len().to_string();
    // (method, path, header fields, body)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, Option<&'a [u8]>);
    let cases: [Case<'_>; 4] = [
        ("POST", "/with-length", vec![("content-length", length.as_str())], Some(&body)),
        ("POST", "/without-length", vec![("content-type", "application/octet-stream")], Some(&body)),
        ("PUT", "/empty-put", vec![], None),
        ("DELETE", "/thing", vec![], None),
    ];
    for (method, path, headers, sent) in cases {
        let response = h2.open(method, &app(path), &headers, sent).await;
        let r = read_all(response).await.complete(&format!("{method} {path}"));
        let expected = format!("{method} {path} got {} bytes", sent.map_or(0, <[u8]>::len));
        assert_eq!((r.status(), r.text(), r.marker()), (200, expected, "proxied"), "{method} {path}");
        let got = origin.last();
        assert_eq!((got.method.as_str(), got.path.as_str()), (method, path));
        assert_eq!(got.body, sent.unwrap_or_default(), "{method} {path}: the body as sent");
        assert_eq!(got.header("host"), Some("app.test"), "{method} {path}");
    }
    let r = h2.get(&app("/.hiatus/hiatus.css")).await;
    assert_eq!((r.status(), r.marker()), (200, "gateway"), "the gateway's own asset");
    let r = h2.get(&app("/after")).await;
    assert_eq!(r.text(), "GET /after got 0 bytes");
    assert_eq!(origin.seen().len(), 6, "the asset did not reach the origin");
}

/// A request body for a tenant in maintenance never goes upstream over h2c either: a whole
/// body and one still on its way (announced, partly sent) each get the maintenance page; the
/// connection goes on, and only the open tenant's request reaches the origin. `Expect:
/// 100-continue` (which HTTP/2 carries as a field) goes no further than the gateway.
#[tokio::test]
async fn a_body_for_a_tenant_in_maintenance_never_goes_upstream_over_h2c() {
    let origin = ScriptedOrigin::start(|got| Reply::keep(ok_echo(got))).await;
    let gw = one_down_one_up(origin.addr, "app.test").await;
    let h2 = H2::connect(gw.addr).await;
    let whole =
        h2.open("POST", "http://down.test/form", &[("content-length", "19")], Some(b"name=value&secret=1")).await;
    let r = read_all(whole).await.complete("a whole body in maintenance");
    assert_eq!((r.status(), r.marker()), (503, "maintenance"));
    // Announced, a piece sent, the stream left open: answered without waiting for the rest.
    let request = http::Request::builder()
        .method("POST")
        .uri("http://down.test/big")
        .header("content-length", "100000")
        .body(())
        .expect("a request");
    let mut send = bounded("h2 ready", h2.send.clone().ready()).await.expect("ready");
    let (response, mut stream) = send.send_request(request, false).expect("send the head");
    stream.send_data(Bytes::from_static(b"start"), false).expect("a piece of the body");
    let r = read_all(response).await;
    assert_eq!((r.status(), r.marker()), (503, "maintenance"), "a body on its way in maintenance");
    let expecting = [("content-length", "3"), ("expect", "100-continue")];
    let r = read_all(h2.open("POST", &app("/form"), &expecting, Some(b"a=1")).await).await.complete("an open tenant");
    assert_eq!((r.status(), r.text().as_str()), (200, "POST /form"));
    let seen = origin.seen();
    assert_eq!(seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(), ["/form"], "only the open tenant's request");
    assert_eq!((seen[0].body.as_slice(), seen[0].header("expect")), (&b"a=1"[..], None));
}

/// A request body that ends early (the client resets its stream in the middle of it, with and
/// without `content-length`) leaves the origin with a closed connection, never a partial
/// request on one that is kept: the next requests reach the origin whole, on a fresh connection.
#[tokio::test]
async fn a_body_cut_short_by_a_reset_leaves_no_partial_request_upstream() {
    for length in [Some("100"), None] {
        let origin = ScriptedOrigin::start(|got| Reply::keep(ok_echo(got))).await;
        let gw = gateway_for(origin.addr, "").await;
        let h2 = H2::connect(gw.addr).await;
        let mut builder = http::Request::builder().method("POST").uri(app("/cut"));
        if let Some(n) = length {
            builder = builder.header("content-length", n);
        }
        let mut send = bounded("h2 ready", h2.send.clone().ready()).await.expect("ready");
        let (response, mut stream) = send.send_request(builder.body(()).expect("a request"), false).expect("the head");
        stream.send_data(Bytes::from_static(b"0123456789"), false).expect("a piece of the body");
        // The request is on its way upstream before the client gives up.
        origin.accepted_at_least(1).await;
        stream.send_reset(h2::Reason::CANCEL);
        drop(response);
        origin.open_connections(0).await;
        let r = read_all(h2.open("POST", &app("/later"), &[("content-length", "5")], Some(b"world")).await)
            .await
            .complete("after the cut");
        assert_eq!((r.status(), r.text().as_str()), (200, "POST /later"), "length {length:?}");
        let seen: Vec<(String, Vec<u8>)> = origin.seen().into_iter().map(|s| (s.path, s.body)).collect();
        assert_eq!(seen, [("/later".to_string(), b"world".to_vec())], "length {length:?}: what the origin saw");
        assert_eq!(origin.accepted(), 2, "length {length:?}: the cut request's connection was not reused");
    }
}

// =============================================================================================
// Failures: one stream ends, the connection goes on

/// A refused upstream gives the failure page over h2 (502, `upstream-error`,
/// `connection_refused`, the request id in the page, not cached); a HEAD gets its head only;
/// the same connection then serves a working tenant.
#[tokio::test]
async fn a_refused_upstream_gives_the_failure_page_and_the_connection_goes_on() {
    let origin = ScriptedOrigin::start(|got| Reply::keep(ok_echo(got))).await;
    let body =
        tenant("app", &["app.test"], &[origin.addr], "") + &tenant("dead", &["dead.test"], &[dead_address()], "");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let h2 = H2::connect(gw.addr).await;
    for round in 0..2 {
        let r = h2.get("http://dead.test/").await;
        assert_eq!(
            (r.status(), r.marker(), r.header("x-hiatus-failure")),
            (502, "upstream-error", Some("connection_refused")),
            "round {round}"
        );
        let id = r.header("x-request-id").expect("a request id");
        assert!(r.text().contains(id), "round {round}: the page shows the request id");
        assert_eq!(r.header("cache-control"), Some("no-store"), "round {round}");
        assert_eq!(r.header("content-length"), Some(r.body.len().to_string().as_str()), "round {round}");
        let head = h2.fetch("HEAD", "http://dead.test/", &[]).await.complete("HEAD dead.test");
        assert_eq!((head.status(), head.body.len(), head.marker()), (502, 0, "upstream-error"));
        let ok = h2.get(&app("/after")).await;
        assert_eq!((ok.status(), ok.text().as_str()), (200, "GET /after"), "round {round}");
    }
}

/// An answer whose body is cut short or malformed after its head went out (a length not
/// reached before the origin closes, a chunk cut by a close, a malformed chunk size, a reset
/// inside a close-delimited body, an origin that stalls past its read timeout) cannot be
/// finished: the gateway resets that stream (the client never sees a clean end of stream, so
/// it cannot take a truncated body for a whole one), the connection serves the next stream,
/// and the broken upstream connection is never used again.
#[tokio::test]
async fn a_body_cut_short_or_malformed_resets_only_its_stream() {
    let origin = ScriptedOrigin::start(|got| match got.path.as_str() {
        "/malformed" => Reply::pieces(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            b"5\r\nhello\r\n".to_vec(),
            b"zz\r\nnot a chunk\r\n0\r\n\r\n".to_vec(),
        ]),
        "/short-length" => {
            Reply::pieces(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec(), b"0123456789".to_vec()])
                .then(Then::Close)
        }
        "/chunk-cut" => Reply::pieces(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            b"a\r\n01234".to_vec(),
        ])
        .then(Then::Close),
        "/close-reset" => {
            Reply::pieces(vec![b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), b"partial".to_vec()]).then(Then::Reset)
        }
        "/stall" => {
            Reply::pieces(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec(), b"0123456789".to_vec()])
                .then(Then::Hang)
        }
        _ => Reply::keep(ok_echo(got)),
    })
    .await;
    let gw = gateway_for(origin.addr, "read_timeout = \"500ms\"").await;
    let h2 = H2::connect(gw.addr).await;
    let cases: [(&str, &[u8]); 5] = [
        ("/malformed", b"hello"),
        ("/short-length", b"0123456789"),
        ("/chunk-cut", b"01234"),
        ("/close-reset", b"partial"),
        ("/stall", b"0123456789"),
    ];
    for (path, sent) in cases {
        let r = h2.fetch("GET", &app(path), &[]).await;
        let Some(e) = &r.error else {
            panic!("{path}: a clean end of stream after {} bytes ({:?})", r.body.len(), r.text());
        };
        assert!(e.is_reset() && e.is_remote(), "{path}: the gateway resets the stream, got {e:?}");
        assert!(sent.starts_with(&r.body), "{path}: only what the origin sent: {:?}", r.text());
        if let Some(status) = r.status {
            assert_eq!(status, 200, "{path}");
        }
        let after = h2.get(&app("/after")).await;
        assert_eq!((after.status(), after.text().as_str()), (200, "GET /after"), "after {path}");
    }
    // A connection that carried a broken answer is never used again (a healthy pooled one may
    // well carry the next broken answer: that is fine).
    let seen = origin.seen();
    for (i, broken) in seen.iter().enumerate().filter(|(_, g)| g.path != "/after") {
        for (j, later) in seen.iter().enumerate().skip(i + 1) {
            assert_ne!(
                later.conn, broken.conn,
                "request {j} ({}) reused the connection of {}",
                later.path, broken.path
            );
        }
    }
}

/// A client that cancels a stream (RST_STREAM) in the middle of a large body: the gateway stops
/// relaying and drops that upstream connection (its unread rest would poison the next request
/// on it), and the next streams, on the same h2 connection and another, get their own answers.
#[tokio::test]
async fn a_stream_cancelled_mid_body_does_not_poison_the_upstream_pool() {
    const MIB: usize = 1 << 20;
    let origin = ScriptedOrigin::start(|got| match got.path.as_str() {
        "/big" => Reply::keep(ok(&pattern(MIB))),
        _ => Reply::keep(ok_echo(got)),
    })
    .await;
    let gw = gateway_for(origin.addr, "").await;
    let h2 = H2::connect(gw.addr).await;
    let response = h2.open("GET", &app("/big"), &[], None).await;
    let response = bounded("the /big head", response).await.expect("a response head");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let first = bounded("the first piece of /big", body.data()).await.expect("data").expect("a data frame");
    assert!(!first.is_empty() && first.len() < MIB);
    // Dropping the body (and with it the last reference to the stream) sends RST_STREAM.
    drop(body);
    origin.open_connections(0).await;
    for h2 in [&h2, &H2::connect(gw.addr).await] {
        let r = h2.get(&app("/small")).await;
        assert_eq!((r.status(), r.text().as_str()), (200, "GET /small"));
    }
    assert_eq!(origin.accepted(), 2, "the cancelled stream's connection was not reused");
}

// =============================================================================================
// Connection lifecycle

/// A graceful shutdown (the gateway stopping) lets a stream in flight finish with its whole
/// answer (GOAWAY, not a reset), and then the connection is closed.
#[tokio::test]
async fn shutdown_lets_a_stream_in_flight_finish_then_closes() {
    let (release, gate) = watch::channel(false);
    let origin = ScriptedOrigin::start(move |_| Reply::keep(ok(&pattern(100_000))).after(&gate)).await;
    let gw = gateway_for(origin.addr, "").await;
    let mut h2 = H2::connect(gw.addr).await;
    let held = h2.open("GET", &app("/held"), &[], None).await;
    origin.received(1).await;
    drop(gw);
    release.send_replace(true);
    let r = read_all(held).await.complete("the stream in flight at shutdown");
    assert_eq!(r.status(), 200);
    assert_same_body("the answer in flight", &r.body, &pattern(100_000));
    h2.closed_by_gateway().await;
}

/// An h2 connection with no stream open is closed after the keep-alive timeout.
#[tokio::test]
async fn an_idle_h2_connection_is_closed_after_the_keepalive_timeout() {
    let origin = ScriptedOrigin::start(|got| Reply::keep(ok_echo(got))).await;
    let body = tenant("app", &["app.test"], &[origin.addr], "");
    let gw = TestGateway::start(&config("keepalive_timeout = \"300ms\"", &body), t0()).await;
    let mut h2 = H2::connect(gw.addr).await;
    let r = h2.get(&app("/once")).await;
    assert_eq!(r.text(), "GET /once");
    h2.closed_by_gateway().await;
}
