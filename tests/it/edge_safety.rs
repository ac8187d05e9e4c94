//! Edge safety end to end, on loopback sockets with recording origins: who the client is
//! (`X-Forwarded-For` over several field lines), which tenant a request reaches (routing on the
//! path the origin will see, whatever its spelling), strict request framing and fields on every
//! request shape, and a bypass that leaks nothing (cookie scope and attributes, the cookie kept
//! from origins, the secret kept out of the access log).
//!
//! Where a rule applies to both client protocols it is checked on HTTP/1.1 and on h2c, with
//! `GET` (no body) and `POST` (a body) where the request shape could matter.

use crate::control::TempDir;
use crate::gateway_support::{bounded, config, t0, tenant, H2Client, Response, TestGateway};
use crate::scripted_origin::{ok_echo, Reply, ScriptedOrigin};
use std::net::SocketAddr;

/// An open-ended window (an emergency since midnight) for `tenants`: maintenance at T0.
fn emergency(tenants: &[&str]) -> String {
    let tenants: Vec<String> = tenants.iter().map(|t| format!("{t:?}")).collect();
    format!(
        "[[windows]]\nid = \"emergency\"\nscope = {{ tenants = [{}] }}\nonce = {{ start = \"2024-11-14T00:00\" }}\n\n",
        tenants.join(", ")
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    H1,
    H2,
}

/// An answer on either lane; `status` 0 when there was none (`text` then says why).
#[derive(Debug)]
struct Got {
    status: u16,
    marker: String,
    text: String,
    set_cookie: Option<String>,
}

/// One request on a fresh connection from `127.0.0.<from>`, on `lane`; a body only when not
/// empty (`Content-Length` on HTTP/1.1, DATA on h2c).
#[allow(clippy::too_many_arguments)]
async fn ask(
    gw: &TestGateway,
    lane: Lane,
    from: u8,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Got {
    match lane {
        Lane::H1 => {
            let mut client = gw.client_from(from).await;
            client.send_request(method, host, path, headers, body).await;
            match client.try_response(method == "HEAD").await {
                Ok(r) => got(&r),
                Err(e) => Got { status: 0, marker: "-".into(), text: e, set_cookie: None },
            }
        }
        Lane::H2 => {
            let mut h2 = H2Client::connect_from(gw.addr, from).await;
            let uri = format!("http://{host}{path}");
            match h2.try_request(method, &uri, headers, (!body.is_empty()).then_some(body)).await {
                Ok(r) => Got {
                    status: r.status,
                    marker: r.header("x-hiatus").unwrap_or("-").to_string(),
                    text: r.text(),
                    set_cookie: r.header("set-cookie").map(str::to_string),
                },
                Err(e) => Got { status: 0, marker: "-".into(), text: e, set_cookie: None },
            }
        }
    }
}

fn got(r: &Response) -> Got {
    Got {
        status: r.status,
        marker: r.marker().to_string(),
        text: r.text(),
        set_cookie: r.header("set-cookie").map(str::to_string),
    }
}

/// The body a request method gets here: `POST`s carry one, `GET`s none.
fn body_for(method: &str) -> &'static [u8] {
    if method == "POST" {
        b"form=1"
    } else {
        b""
    }
}

/// An origin that records every request and answers `200` with its method and target.
async fn echo() -> ScriptedOrigin {
    ScriptedOrigin::start(|seen| Reply::keep(ok_echo(seen))).await
}

/// What failed in a table test: every row is checked, and the test reports all that failed.
#[derive(Debug, Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        if got != want {
            self.0.push(format!("{what}: got {got:?}, want {want:?}"));
        }
    }

    fn none(self, title: &str) {
        assert!(self.0.is_empty(), "{title}: {} failure(s):\n  {}", self.0.len(), self.0.join("\n  "));
    }
}

// =============================================================================================
// 2. The client's address

/// `down.test` in maintenance with `10.9.9.9` allowlisted, `open.test` open; `127.0.0.2` is the
/// one trusted proxy.
async fn forwarding_gateway(down: SocketAddr, open: SocketAddr) -> TestGateway {
    let gateway = "trusted_proxies = [\"127.0.0.2\"]\n\n[gateway.bypass]\nallow = [\"10.9.9.9/32\"]\n";
    let body = tenant("down", &["down.test"], &[down], "")
        + &tenant("open", &["open.test"], &[open], "")
        + &emergency(&["down"]);
    TestGateway::start(&config(gateway, &body), t0()).await
}

/// `X-Forwarded-For` may come in several field lines: they are one list, joined in order, and
/// the client is the first untrusted address from the right. An attacker behind the trusted
/// proxy writes `X-Forwarded-For: 10.9.9.9` (an allowlisted address) and the proxy appends a
/// line with the address it saw, `203.0.113.7`: that client stays in maintenance (reading only
/// the first line would let it through). A chain whose last untrusted hop is `10.9.9.9` passes
/// (trusted hops skipped). The origin gets the whole chain plus the peer, in one line. On
/// HTTP/1.1 and h2c, `GET` and `POST`.
#[tokio::test]
async fn forwarded_for_lines_are_one_chain_read_from_the_right() {
    let (down, open) = tokio::join!(echo(), echo());
    let gw = forwarding_gateway(down.addr, open.addr).await;
    const X: &str = "x-forwarded-for";
    // (X-Forwarded-For lines, whether the client is 10.9.9.9)
    let cases: [(&[&str], bool); 5] = [
        (&["10.9.9.9", "203.0.113.7"], false),
        (&["10.9.9.9, 203.0.113.7"], false),
        (&["203.0.113.7", "10.9.9.9"], true),
        (&["203.0.113.7, 10.9.9.9"], true),
        (&["10.9.9.9", "127.0.0.2"], true),
    ];
    let mut failures = Failures::default();
    for lane in [Lane::H1, Lane::H2] {
        for method in ["GET", "POST"] {
            for (lines, allowed) in cases {
                let headers: Vec<(&str, &str)> = lines.iter().map(|l| (X, *l)).collect();
                let what = format!("{lane:?} {method} from the trusted proxy, X-Forwarded-For {lines:?}");
                let before = down.seen().len();
                let r = ask(&gw, lane, 2, method, "down.test", "/", &headers, body_for(method)).await;
                let want = if allowed { (200, "proxied") } else { (503, "maintenance") };
                failures.check(&what, (r.status, r.marker.as_str()), want);
                failures.check(
                    &format!("{what}: requests at the origin"),
                    down.seen().len() - before,
                    usize::from(allowed),
                );
            }
            let what = format!("{lane:?} {method} to the open tenant, two lines");
            let headers = [(X, "10.9.9.9"), (X, "203.0.113.7")];
            let r = ask(&gw, lane, 2, method, "open.test", "/", &headers, body_for(method)).await;
            failures.check(&what, r.status, 200);
            let chain = open.last().all(X).join(" | ");
            failures.check(
                &format!("{what}: the origin's X-Forwarded-For"),
                chain.as_str(),
                "10.9.9.9, 203.0.113.7, 127.0.0.2",
            );
        }
    }
    failures.none("X-Forwarded-For from the trusted proxy");
}

/// A client that is not a trusted proxy cannot say who it is: its `X-Forwarded-For` (one line or
/// several, naming an allowlisted address) is ignored for the bypass and replaced by its own
/// address towards the origin. On HTTP/1.1 and h2c, `GET` and `POST`.
#[tokio::test]
async fn an_untrusted_clients_forwarded_for_is_replaced_by_its_address() {
    let (down, open) = tokio::join!(echo(), echo());
    let gw = forwarding_gateway(down.addr, open.addr).await;
    const X: &str = "x-forwarded-for";
    let chains: [&[&str]; 3] = [&["10.9.9.9"], &["203.0.113.7", "10.9.9.9"], &["10.9.9.9", "127.0.0.2"]];
    let mut failures = Failures::default();
    for lane in [Lane::H1, Lane::H2] {
        for method in ["GET", "POST"] {
            for lines in chains {
                let headers: Vec<(&str, &str)> = lines.iter().map(|l| (X, *l)).collect();
                let what = format!("{lane:?} {method} from 127.0.0.3, X-Forwarded-For {lines:?}");
                let r = ask(&gw, lane, 3, method, "down.test", "/", &headers, body_for(method)).await;
                failures.check(&what, (r.status, r.marker.as_str()), (503, "maintenance"));
                let r = ask(&gw, lane, 3, method, "open.test", "/", &headers, body_for(method)).await;
                failures.check(&format!("{what}, open tenant"), r.status, 200);
                failures.check(&format!("{what}: the origin's X-Forwarded-For"), open.last().all(X), vec!["127.0.0.3"]);
            }
        }
    }
    failures.check("requests at the origin in maintenance", down.seen().len(), 0);
    failures.none("X-Forwarded-For from an untrusted client");
}

/// `Forwarded` (RFC 7239) goes upstream beside `X-Forwarded-*`, in one line. An untrusted
/// client's own `Forwarded` (claiming an allowlisted address, `https`, another host) is dropped
/// and replaced by one element with its address; a trusted proxy's elements are kept and the
/// gateway appends the hop from that proxy; with no `Forwarded` of its own, the trusted proxy's
/// `X-Forwarded-For` and `-Proto` describe the client. On HTTP/1.1 and h2c, `GET` and `POST`.
#[tokio::test]
async fn forwarded_is_set_upstream_and_trusted_only_from_trusted_proxies() {
    let (down, open) = tokio::join!(echo(), echo());
    let gw = forwarding_gateway(down.addr, open.addr).await;
    const F: &str = "forwarded";
    let spoof = "for=10.9.9.9;proto=https;host=evil.test";
    // (client's last octet, its fields, the origin's `Forwarded` lines)
    type Case<'a> = (u8, &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case<'_>; 5] = [
        (3, &[], &["for=127.0.0.3;proto=http;host=\"open.test\""]),
        (3, &[(F, spoof)], &["for=127.0.0.3;proto=http;host=\"open.test\""]),
        (3, &[(F, spoof), ("x-forwarded-proto", "https")], &["for=127.0.0.3;proto=http;host=\"open.test\""]),
        (
            2,
            &[(F, "for=203.0.113.7;proto=https"), (F, "for=\"[2001:db8::7]\"")],
            &["for=203.0.113.7;proto=https, for=\"[2001:db8::7]\", for=127.0.0.2;proto=http;host=\"open.test\""],
        ),
        (
            2,
            &[("x-forwarded-for", "203.0.113.7"), ("x-forwarded-proto", "https")],
            &["for=203.0.113.7;proto=https;host=\"open.test\""],
        ),
    ];
    let mut failures = Failures::default();
    for lane in [Lane::H1, Lane::H2] {
        for method in ["GET", "POST"] {
            for (from, headers, want) in cases {
                let what = format!("{lane:?} {method} from 127.0.0.{from} with {headers:?}");
                let r = ask(&gw, lane, from, method, "open.test", "/", headers, body_for(method)).await;
                failures.check(&what, r.status, 200);
                failures.check(&format!("{what}: the origin's Forwarded"), open.last().all(F), want.to_vec());
            }
            let what = format!("{lane:?} {method} spoofing into maintenance");
            let r = ask(&gw, lane, 3, method, "down.test", "/", &[(F, spoof)], body_for(method)).await;
            failures.check(&what, (r.status, r.marker.as_str()), (503, "maintenance"));
        }
    }
    failures.none("Forwarded");
}

// =============================================================================================
// 3. Routing on the path the origin sees

/// `shared.test`: `mandant-a` under `/mandant-a` in maintenance, `rest` for the rest of the host,
/// open; each with a recording origin.
async fn shared_host() -> (ScriptedOrigin, ScriptedOrigin, TestGateway) {
    let (a, rest) = tokio::join!(echo(), echo());
    let body = tenant("mandant-a", &["shared.test"], &[a.addr], "path = \"/mandant-a\"")
        + &tenant("rest", &["shared.test"], &[rest.addr], "")
        + &emergency(&["mandant-a"]);
    let gw = TestGateway::start(&config("", &body), t0()).await;
    (a, rest, gw)
}

/// A tenant under a path prefix is chosen by the path its origin will resolve, not by how the
/// request spells it: a percent-encoded letter, doubled slashes, dot segments (plain or
/// encoded), an encoded slash or backslash. Each spelling of a way into `/mandant-a` gets
/// mandant-a's maintenance page or a 400, and reaches NEITHER origin (an origin that decodes or
/// normalises would serve mandant-a's pages past its maintenance). A plain path of the other
/// tenant reaches it as sent. On HTTP/1.1 and h2c, `GET` and `POST`.
#[tokio::test]
async fn routing_follows_the_path_the_origin_sees() {
    let (a, rest, gw) = shared_host().await;
    let spellings = [
        "/%6dandant-a/x",
        "//mandant-a/x",
        "/./mandant-a/x",
        "/x/../mandant-a/x",
        "/mandant-a%2Fx",
        "/mandant-a%5Cx",
        "/x/..%2Fmandant-a/x",
        "/%2e/mandant-a/x",
    ];
    let mut failures = Vec::new();
    for lane in [Lane::H1, Lane::H2] {
        for method in ["GET", "POST"] {
            let r = ask(&gw, lane, 1, method, "shared.test", "/mandant-a/x", &[], body_for(method)).await;
            assert_eq!((r.status, r.marker.as_str()), (503, "maintenance"), "{lane:?} {method} /mandant-a/x");
            for path in spellings {
                let before = (a.seen().len(), rest.seen().len());
                let r = ask(&gw, lane, 1, method, "shared.test", path, &[], body_for(method)).await;
                let refused = matches!((r.status, r.marker.as_str()), (503, "maintenance") | (400, _));
                let after = (a.seen().len(), rest.seen().len());
                if !refused || after != before {
                    failures.push(format!(
                        "{lane:?} {method} {path}: {} {} (origins mandant-a/rest got {}/{} request(s))",
                        r.status,
                        r.marker,
                        after.0 - before.0,
                        after.1 - before.1
                    ));
                }
            }
            let r = ask(&gw, lane, 1, method, "shared.test", "/other/x", &[], body_for(method)).await;
            assert_eq!((r.status, r.text), (200, format!("{method} /other/x")), "{lane:?} {method} /other/x");
            assert_eq!(rest.last().path, "/other/x", "{lane:?} {method}: the path as sent");
        }
    }
    assert!(failures.is_empty(), "{} spelling(s) got past the prefix:\n  {}", failures.len(), failures.join("\n  "));
    assert_eq!(a.seen().len(), 0, "mandant-a's origin is in maintenance");
}

/// A path that cannot be decoded (`%zz`) or decodes to a NUL is refused with 400 and reaches no
/// origin. On HTTP/1.1 and h2c, `GET` and `POST`.
#[tokio::test]
async fn undecodable_paths_are_refused() {
    let (a, rest, gw) = shared_host().await;
    let mut failures = Failures::default();
    for lane in [Lane::H1, Lane::H2] {
        for method in ["GET", "POST"] {
            for path in ["/a%zz", "/%00"] {
                let r = ask(&gw, lane, 1, method, "shared.test", path, &[], body_for(method)).await;
                failures.check(&format!("{lane:?} {method} {path}"), r.status, 400);
            }
        }
    }
    failures.check("requests at the origins", (a.seen().len(), rest.seen().len()), (0, 0));
    failures.none("undecodable paths");
}

// =============================================================================================
// 4. Strict framing and fields, on every request shape (raw HTTP/1.1)

/// A gateway with one open tenant, `a.test`, in front of `upstream`.
async fn strict_gateway(upstream: SocketAddr) -> TestGateway {
    TestGateway::start(&config("", &tenant("a", &["a.test"], &[upstream], "")), t0()).await
}

/// Sends `raw` on a fresh connection: the answer (or why there was none) and whether the
/// gateway then closed the connection.
async fn send_raw(gw: &TestGateway, raw: &[u8]) -> (Result<Response, String>, bool) {
    let mut client = gw.client().await;
    client.send(raw).await;
    let r = bounded("an answer", client.try_response(false)).await;
    let closed = r.is_ok() && client.closed().await;
    (r, closed)
}

/// The status of an answer and whether the connection closed after it; `Err` as the status
/// when there was no answer (a silent close, a hang).
fn outcome((r, closed): (Result<Response, String>, bool)) -> (Result<u16, String>, bool) {
    (r.map(|r| r.status), closed)
}

/// Names with `_` are dropped before the origin by default: `X_Forwarded_For` would read as
/// `X-Forwarded-For` to origins (and CGI-style frameworks) that fold `_` into `-`, and
/// `Content_Length` as a second length. The request itself is served. `GET` and `POST`.
#[tokio::test]
async fn field_names_with_underscores_are_not_forwarded() {
    let origin = echo().await;
    let gw = strict_gateway(origin.addr).await;
    for method in ["GET", "POST"] {
        let body = if method == "POST" { "Content-Length: 5\r\n\r\nhello" } else { "\r\n" };
        let raw = format!(
            "{method} /u HTTP/1.1\r\nHost: a.test\r\nX_Forwarded_For: 6.6.6.6\r\nContent_Length: 5\r\n\
             X_Custom: 1\r\n{body}"
        );
        let (r, _) = send_raw(&gw, raw.as_bytes()).await;
        let r = r.unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!((r.status, r.text()), (200, format!("{method} /u")), "{method}");
        let seen = origin.last();
        let underscored: Vec<&(String, String)> = seen.headers.iter().filter(|(n, _)| n.contains('_')).collect();
        assert!(underscored.is_empty(), "{method}: forwarded {underscored:?}");
        assert_eq!(seen.all("x-forwarded-for"), ["127.0.0.1"], "{method}");
        assert_eq!(seen.body, if method == "POST" { &b"hello"[..] } else { b"" }, "{method}");
    }
}

/// A `Content-Length` that is not one plain decimal number (`+5`, a list `5, 5`, two lines
/// `5`, hex `0x5`) makes the body's end unknowable between two parsers: 400, the connection
/// closes, and the origin sees nothing (not even the request hidden behind). `GET` and `POST`.
#[tokio::test]
async fn content_lengths_that_are_not_one_plain_number_are_refused() {
    let origin = echo().await;
    let gw = strict_gateway(origin.addr).await;
    let lengths: [&str; 4] = [
        "Content-Length: +5\r\n",
        "Content-Length: 5, 5\r\n",
        "Content-Length: 5\r\nContent-Length: 5\r\n",
        "Content-Length: 0x5\r\n",
    ];
    let mut failures = Failures::default();
    for method in ["GET", "POST"] {
        for length in lengths {
            let raw = format!(
                "{method} /cl HTTP/1.1\r\nHost: a.test\r\n{length}\r\n\
                 helloGET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n"
            );
            let what = format!("{method} with {length:?}: status, closed");
            failures.check(&what, outcome(send_raw(&gw, raw.as_bytes()).await), (Ok(400), true));
        }
    }
    failures.check("requests at the origin", origin.paths(), Vec::new());
    failures.check("connections to the origin", origin.accepted(), 0);
    failures.none("Content-Length that is not one plain number");
}

/// `Transfer-Encoding: chunked` beside a `Content-Length` (either first) is refused with 400 and
/// the connection closes: the request smuggling classic (CL.TE / TE.CL). `GET` and `POST`.
#[tokio::test]
async fn chunked_beside_a_content_length_is_refused() {
    let origin = echo().await;
    let gw = strict_gateway(origin.addr).await;
    let heads =
        ["Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n"];
    let mut failures = Failures::default();
    for method in ["GET", "POST"] {
        for head in heads {
            let raw = format!(
                "{method} /both HTTP/1.1\r\nHost: a.test\r\n{head}\r\n3\r\nabc\r\n0\r\n\r\n\
                 GET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n"
            );
            let what = format!("{method} with {head:?}: status, closed");
            failures.check(&what, outcome(send_raw(&gw, raw.as_bytes()).await), (Ok(400), true));
        }
    }
    failures.check("requests at the origin", origin.paths(), Vec::new());
    failures.check("connections to the origin", origin.accepted(), 0);
    failures.none("chunked beside Content-Length");
}

/// `TRACE` would echo the request (cookies and all) back through the edge: 405. `CONNECT` asks
/// for a tunnel an edge proxy does not offer: 400. Neither reaches the origin.
#[tokio::test]
async fn trace_and_connect_are_refused() {
    let origin = echo().await;
    let gw = strict_gateway(origin.addr).await;
    let cases: [(&str, &[u8], u16); 3] = [
        ("TRACE", b"TRACE /x HTTP/1.1\r\nHost: a.test\r\nCookie: session=secret\r\n\r\n", 405),
        ("TRACE with a body", b"TRACE /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello", 405),
        ("CONNECT", b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n", 400),
    ];
    let mut failures = Failures::default();
    for (what, raw, status) in cases {
        failures.check(what, outcome(send_raw(&gw, raw).await).0, Ok(status));
    }
    failures.check("requests at the origin", origin.paths(), Vec::new());
    failures.check("connections to the origin", origin.accepted(), 0);
    failures.none("TRACE and CONNECT");
}

/// RFC 9112 §3.2.4: the asterisk form is only for a server-wide `OPTIONS`. `GET *` is refused
/// with 400 and reaches no origin; `OPTIONS *` is forwarded as `OPTIONS * HTTP/1.1`.
#[tokio::test]
async fn the_asterisk_form_is_only_for_options() {
    let origin = echo().await;
    let gw = strict_gateway(origin.addr).await;
    let (r, _) = send_raw(&gw, b"GET * HTTP/1.1\r\nHost: a.test\r\n\r\n").await;
    let r = r.unwrap_or_else(|e| panic!("GET *: no answer: {e}"));
    assert_eq!(r.status, 400, "GET *: {}", r.text());
    assert_eq!((origin.paths(), origin.accepted()), (Vec::new(), 0), "GET * reached the origin");
    let (r, _) = send_raw(&gw, b"OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n").await;
    let r = r.unwrap_or_else(|e| panic!("OPTIONS *: no answer: {e}"));
    assert_eq!((r.status, r.text().as_str()), (200, "OPTIONS *"), "OPTIONS *");
    assert_eq!(origin.last().line, "OPTIONS * HTTP/1.1");
}

/// A chunked request body that breaks its framing (a size line that is no hex number, data not
/// followed by CRLF) is answered with 400 — never a silent close, so the client knows — and the
/// connection closes; the origin never sees a complete request (a forwarded prefix ended with a
/// last chunk would be a request the client never sent). `GET` and `POST`.
#[tokio::test]
async fn a_malformed_chunked_body_is_answered_with_400() {
    let origin = echo().await;
    let gw = strict_gateway(origin.addr).await;
    let bodies: [(&str, &str); 2] = [
        ("a bad size line", "5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n"),
        ("no CRLF after the data", "5\r\nhelloXX5\r\nworld\r\n0\r\n\r\n"),
    ];
    let mut failures = Failures::default();
    for method in ["GET", "POST"] {
        for (what, body) in bodies {
            let raw = format!("{method} /chunks HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n{body}");
            let what = format!("{method}, {what}: status, closed");
            failures.check(&what, outcome(send_raw(&gw, raw.as_bytes()).await), (Ok(400), true));
        }
    }
    failures.check("complete requests at the origin", origin.paths(), Vec::new());
    failures.none("malformed chunked bodies");
}

/// A chunked body that ends early (the client closes mid-chunk) leaves the origin with a closed
/// connection, never a partial request on a connection that is kept: the next requests reach the
/// origin whole, with exactly their bodies, and the cut one never completes.
#[tokio::test]
async fn a_chunked_body_cut_short_leaves_no_partial_request_upstream() {
    for method in ["POST", "GET"] {
        // Fresh ones each time: every upstream connection open is one the cut request used.
        let origin = echo().await;
        let gw = strict_gateway(origin.addr).await;
        let mut client = gw.client().await;
        let head = format!("{method} /cut HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
        client.send(head.as_bytes()).await;
        drop(client);
        origin.open_connections(0).await;
        let mut client = gw.client().await;
        client.send_request("POST", "a.test", "/later", &[], b"world").await;
        let r = client.response(false).await;
        assert_eq!((r.status, r.text().as_str()), (200, "POST /later"), "after a cut {method}");
        let r = client.request("GET", "a.test", "/later-get", &[]).await;
        assert_eq!((r.status, r.text().as_str()), (200, "GET /later-get"), "after a cut {method}");
        let seen: Vec<(String, String, Vec<u8>)> =
            origin.seen().into_iter().map(|s| (s.method, s.path, s.body)).collect();
        let expected = [
            ("POST".to_string(), "/later".to_string(), b"world".to_vec()),
            ("GET".to_string(), "/later-get".to_string(), Vec::new()),
        ];
        assert_eq!(seen, expected, "after a cut {method}: what the origin saw, in order");
    }
}

/// An origin that answers `101 Switching Protocols` to a request that asked for no upgrade gets
/// the client the 502 failure page, never a 101 or a tunnel. `GET` and `POST`.
#[tokio::test]
async fn an_unrequested_101_from_the_origin_is_a_502() {
    let origin = ScriptedOrigin::start(|seen| {
        if seen.path == "/switch" {
            Reply::keep(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".to_vec(),
            )
        } else {
            Reply::keep(ok_echo(seen))
        }
    })
    .await;
    let gw = strict_gateway(origin.addr).await;
    for method in ["GET", "POST"] {
        let mut client = gw.client().await;
        client.send_request(method, "a.test", "/switch", &[], body_for(method)).await;
        let r = bounded("the answer to a 101", client.try_response(false))
            .await
            .unwrap_or_else(|e| panic!("{method}: no answer: {e}"));
        assert_eq!((r.status, r.marker()), (502, "upstream-error"), "{method}: {:?}", r.headers);
        let r = gw.get("a.test", "/after", &[]).await;
        assert_eq!((r.status, r.text().as_str()), (200, "GET /after"), "after {method}");
    }
}

/// RFC 9110 §7.6.1: hop-by-hop fields go no further than the next hop, in either direction:
/// `Connection` and every field it names (`X-Secret`), `Keep-Alive`, `TE`, `Proxy-Connection`,
/// and `Upgrade` where no websocket upgrade happens (an `h2c` upgrade, named in `Connection` or
/// not). End-to-end fields pass. `GET` and `POST`.
#[tokio::test]
async fn hop_by_hop_fields_are_removed_both_ways() {
    let origin = ScriptedOrigin::start(|seen| {
        let body = format!("{} {}", seen.method, seen.path);
        Reply::keep(format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: x-resp\r\nX-Resp: 1\r\nKeep-Alive: timeout=5\r\n\
             Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTE: trailers\r\nX-End-To-End: kept\r\n\r\n{body}",
            body.len()
        ))
    })
    .await;
    let gw = strict_gateway(origin.addr).await;
    let connections = ["keep-alive, x-secret", "Upgrade, X-Secret"];
    for method in ["GET", "POST"] {
        for connection in connections {
            let what = format!("{method} with Connection: {connection}");
            let headers = [
                ("Connection", connection),
                ("X-Secret", "1"),
                ("Keep-Alive", "timeout=5"),
                ("TE", "trailers"),
                ("Proxy-Connection", "keep-alive"),
                ("Upgrade", "h2c"),
                ("X-End-To-End", "kept"),
            ];
            let mut client = gw.client().await;
            client.send_request(method, "a.test", "/hop", &headers, body_for(method)).await;
            let r = bounded(&what, client.try_response(false)).await.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!((r.status, r.text()), (200, format!("{method} /hop")), "{what}");
            for name in ["x-resp", "keep-alive", "proxy-connection", "upgrade", "te"] {
                assert_eq!(r.header(name), None, "{what}: the response's {name} relayed: {:?}", r.headers);
            }
            assert_eq!(r.header("x-end-to-end"), Some("kept"), "{what}");
            let seen = origin.last();
            for name in ["x-secret", "keep-alive", "te", "proxy-connection", "upgrade"] {
                assert_eq!(seen.header(name), None, "{what}: {name} reached the origin: {:?}", seen.headers);
            }
            for value in seen.all("connection") {
                let value = value.to_ascii_lowercase();
                assert!(!value.contains("x-secret") && !value.contains("upgrade"), "{what}: Connection: {value}");
            }
            assert_eq!(seen.header("x-end-to-end"), Some("kept"), "{what}");
        }
    }
}

// =============================================================================================
// 5. Bypass without leaks

const SECRET: &str = "edge-safety-bypass-secret-0123";

/// `a.test` and `b.test`, both in maintenance, each with a recording origin; a bypass secret;
/// `127.0.0.2` is the trusted proxy. `extra` goes into `[gateway]`.
async fn bypass_gateway(a: SocketAddr, b: SocketAddr, extra: &str) -> TestGateway {
    let gateway = format!(
        "trusted_proxies = [\"127.0.0.2\"]\n{extra}\n\n[gateway.bypass]\nsecret = \"{SECRET}\"\ncookie_ttl = \"1h\"\n"
    );
    let body = tenant("a", &["a.test"], &[a], "") + &tenant("b", &["b.test"], &[b], "") + &emergency(&["a", "b"]);
    TestGateway::start(&config(&gateway, &body), t0()).await
}

/// The cookie's attributes, lower-cased, without the `name=value` pair.
fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect()
}

/// Visits the secret URL on `host` from `127.0.0.<from>`: the `name=value` of the cookie issued.
async fn bypass_cookie(gw: &TestGateway, from: u8, host: &str) -> String {
    let r = gw.client_from(from).await.request("GET", host, &format!("/.hiatus/bypass/{SECRET}"), &[]).await;
    assert_eq!(r.status, 303, "the secret URL on {host}");
    let set_cookie = r.header("set-cookie").expect("a bypass cookie");
    set_cookie.split(';').next().unwrap_or_default().trim().to_string()
}

/// The secret URL answers 303 with a `hiatus_bypass` cookie that scripts cannot read
/// (`HttpOnly`) and cross-site requests do not carry (`SameSite=Lax`); `Secure` exactly when a
/// trusted proxy says the client came over HTTPS (`X-Forwarded-Proto: https`), never because an
/// untrusted client says so (a `Secure` cookie over plain HTTP would be dropped by the browser,
/// and a missing one over HTTPS could leak to plain HTTP).
#[tokio::test]
async fn the_bypass_cookie_is_http_only_lax_and_secure_only_behind_https() {
    let (a, b) = tokio::join!(echo(), echo());
    let gw = bypass_gateway(a.addr, b.addr, "").await;
    // (client address, X-Forwarded-Proto, Secure)
    let cases = [
        (3, None, false),
        (3, Some("https"), false),
        (2, Some("https"), true),
        (2, Some("http"), false),
        (2, None, false),
    ];
    for lane in [Lane::H1, Lane::H2] {
        for (from, proto, secure) in cases {
            let what = format!("{lane:?} from 127.0.0.{from}, X-Forwarded-Proto {proto:?}");
            let headers: Vec<(&str, &str)> = proto.iter().map(|p| ("x-forwarded-proto", *p)).collect();
            let r = ask(&gw, lane, from, "GET", "a.test", &format!("/.hiatus/bypass/{SECRET}"), &headers, b"").await;
            assert_eq!(r.status, 303, "{what}: {}", r.text);
            let set_cookie = r.set_cookie.unwrap_or_else(|| panic!("{what}: no cookie"));
            assert!(set_cookie.starts_with("hiatus_bypass="), "{what}: {set_cookie}");
            let attributes = attributes(&set_cookie);
            assert!(attributes.iter().any(|a| a == "httponly"), "{what}: {set_cookie}");
            assert!(attributes.iter().any(|a| a == "samesite=lax"), "{what}: {set_cookie}");
            assert_eq!(attributes.iter().any(|a| a == "secure"), secure, "{what}: {set_cookie}");
        }
    }
}

/// The cookie issued on tenant a's host lets the browser through a's maintenance, and only a's:
/// presented on tenant b's host (also in maintenance) it gets b's 503, and the other way round.
/// On HTTP/1.1 and h2c, `GET` and `POST`.
#[tokio::test]
async fn the_bypass_cookie_passes_only_the_tenant_it_was_issued_for() {
    let (a, b) = tokio::join!(echo(), echo());
    let gw = bypass_gateway(a.addr, b.addr, "").await;
    let (for_a, for_b) = (bypass_cookie(&gw, 3, "a.test").await, bypass_cookie(&gw, 3, "b.test").await);
    for lane in [Lane::H1, Lane::H2] {
        for method in ["GET", "POST"] {
            for (cookie, own, other) in [(&for_a, "a.test", "b.test"), (&for_b, "b.test", "a.test")] {
                let headers = [("cookie", cookie.as_str())];
                let r = ask(&gw, lane, 3, method, own, "/admin", &headers, body_for(method)).await;
                assert_eq!(
                    (r.status, r.text),
                    (200, format!("{method} /admin")),
                    "{lane:?} {method}: {own}'s cookie on {own}"
                );
                let r = ask(&gw, lane, 3, method, other, "/admin", &headers, body_for(method)).await;
                assert_eq!(
                    (r.status, r.marker.as_str()),
                    (503, "maintenance"),
                    "{lane:?} {method}: {own}'s cookie on {other}"
                );
            }
        }
    }
}

/// The bypass cookie is the gateway's: the origin never receives `hiatus_bypass` (a tenant's
/// application, or anyone reading its logs, could use it on every tenant), while the other
/// cookies of the same request arrive, in order. HTTP/1.1 sends one `Cookie` line, h2c a field
/// per cookie. `GET` and `POST`.
#[tokio::test]
async fn the_bypass_cookie_never_reaches_the_origin() {
    let (a, b) = tokio::join!(echo(), echo());
    let gw = bypass_gateway(a.addr, b.addr, "").await;
    let cookie = bypass_cookie(&gw, 3, "a.test").await;
    let line = format!("theme=dark; {cookie}; lang=de");
    for method in ["GET", "POST"] {
        let h1 = [("Cookie", line.as_str())];
        let h2 = [("cookie", "theme=dark"), ("cookie", cookie.as_str()), ("cookie", "lang=de")];
        for (lane, headers) in [(Lane::H1, &h1[..]), (Lane::H2, &h2[..])] {
            let what = format!("{lane:?} {method}");
            let r = ask(&gw, lane, 3, method, "a.test", "/app", headers, body_for(method)).await;
            assert_eq!(r.status, 200, "{what}: {}", r.text);
            let seen = a.last();
            assert_eq!(seen.all("cookie"), ["theme=dark; lang=de"], "{what}: the other cookies, in order, one line");
            assert!(!seen.headers.iter().any(|(_, v)| v.contains("hiatus_bypass")), "{what}: {:?}", seen.headers);
        }
        // The bypass cookie alone: no cookie is left for the origin.
        let r =
            ask(&gw, Lane::H1, 3, method, "a.test", "/alone", &[("Cookie", cookie.as_str())], body_for(method)).await;
        assert_eq!(r.status, 200, "{method} with the bypass cookie alone: {}", r.text);
        let seen = a.last();
        assert!(seen.all("cookie").iter().all(|c| !c.contains("hiatus_bypass")), "{method}: {:?}", seen.headers);
    }
}

/// Returns the access log's text once it has `lines` lines (the writer is a thread of its own).
async fn log_lines(path: &std::path::Path, lines: usize) -> String {
    bounded(&format!("{lines} access log line(s)"), async {
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.lines().count() >= lines {
                return text;
            }
            // The log is a file another thread writes: polled, every wait bounded above.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
}

/// The secret never appears in the access log: not for the URL that issues the cookie (with a
/// query too, over HTTP/1.1 and h2c), not for a near miss (a wrong secret that starts with the
/// right one), not for requests that carry the cookie.
#[tokio::test]
async fn the_bypass_secret_never_reaches_the_access_log() {
    let (a, b) = tokio::join!(echo(), echo());
    let dir = TempDir::new("edge-safety-log");
    let log = dir.0.join("access.log");
    let gw = bypass_gateway(a.addr, b.addr, &format!("access_log = {:?}", log.display().to_string())).await;
    let paths = [
        format!("/.hiatus/bypass/{SECRET}"),
        format!("/.hiatus/bypass/{SECRET}?next=/admin"),
        format!("/.hiatus/bypass/{SECRET}x"),
    ];
    let mut requests = 0;
    for lane in [Lane::H1, Lane::H2] {
        for path in &paths {
            let r = ask(&gw, lane, 3, "GET", "a.test", path, &[], b"").await;
            assert_ne!(r.status, 0, "{lane:?} {path}: {}", r.text);
            requests += 1;
        }
    }
    let cookie = bypass_cookie(&gw, 3, "a.test").await;
    let r = ask(&gw, Lane::H1, 3, "GET", "a.test", "/with-cookie", &[("Cookie", cookie.as_str())], b"").await;
    assert_eq!(r.status, 200);
    requests += 2;
    let text = log_lines(&log, requests).await;
    assert!(!text.contains(SECRET), "the secret is in the access log:\n{text}");
    assert!(a.paths().iter().all(|p| !p.contains(SECRET)), "the secret reached the origin: {:?}", a.paths());
}
