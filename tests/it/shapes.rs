//! Request shapes beyond a GET, end to end: a WebSocket upgrade carried both ways (and one the
//! origin declines, and the tunnel timeout), an origin that answers before the upload ends, a
//! body that stalls, one cut short, a body for a tenant in maintenance (never sent upstream), an
//! HTTP/1.0 upload, and `Expect: 100-continue` with a chunked body.

use crate::gateway_support::{bounded, config, one_down_one_up, t0, tenant, TestGateway};
use crate::scripted_origin::{ok, ok_echo, Reply, ScriptedOrigin};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads from `s` until `buf` holds a blank line; the bytes up to and including it.
async fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Vec<u8> {
    bounded("a head", async {
        loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let rest = buf.split_off(at + 4);
                return std::mem::replace(buf, rest);
            }
            let mut piece = [0u8; 4096];
            let n = s.read(&mut piece).await.expect("read a head");
            assert!(n > 0, "closed before a whole head: {:?}", String::from_utf8_lossy(buf));
            buf.extend_from_slice(&piece[..n]);
        }
    })
    .await
}

/// Reads from `s` until `buf` holds `n` bytes; those bytes.
async fn read_exactly(s: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> Vec<u8> {
    bounded("bytes", async {
        while buf.len() < n {
            let mut piece = [0u8; 4096];
            let got = s.read(&mut piece).await.expect("read");
            assert!(got > 0, "closed early: {:?}", String::from_utf8_lossy(buf));
            buf.extend_from_slice(&piece[..got]);
        }
        let rest = buf.split_off(n);
        std::mem::replace(buf, rest)
    })
    .await
}

/// An origin that switches every connection to an echo after `101`, greeting first; the heads
/// it received are kept.
async fn echo_origin() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let head = read_head(&mut s, &mut buf).await;
                seen.lock().expect("heads").push(String::from_utf8_lossy(&head).to_ascii_lowercase());
                let switch = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                               Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nhello-from-origin";
                if s.write_all(switch).await.is_err() {
                    return;
                }
                // Echo what came with the head, then everything after it, until the close.
                if s.write_all(&buf).await.is_err() {
                    return;
                }
                let mut piece = [0u8; 4096];
                while let Ok(n) = s.read(&mut piece).await {
                    if n == 0 || s.write_all(&piece[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, heads)
}

const UPGRADE: &str = "GET /socket HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A WebSocket upgrade: the origin gets the upgrade fields and the client's first frames sent
/// with the head, the client gets the `101` (marked proxied, upgrade fields kept) and then
/// bytes go both ways until the client closes; the origin then sees the close too.
#[tokio::test]
async fn a_websocket_upgrade_carries_bytes_both_ways() {
    let (origin, heads) = echo_origin().await;
    let gw = TestGateway::start(&config("", &tenant("app", &["app.test"], &[origin], "")), t0()).await;
    let mut client = TcpStream::connect(gw.addr).await.expect("connect");
    client.write_all(format!("{UPGRADE}early").as_bytes()).await.expect("send");
    let mut buf = Vec::new();
    let head = String::from_utf8_lossy(&read_head(&mut client, &mut buf).await).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101 "), "{head}");
    for field in
        ["connection: upgrade\r\n", "upgrade: websocket\r\n", "sec-websocket-accept: ", "x-hiatus: proxied\r\n"]
    {
        assert!(head.contains(field), "{field:?} missing: {head}");
    }
    assert_eq!(read_exactly(&mut client, &mut buf, 22).await, b"hello-from-originearly");
    for round in 0..3 {
        let frame = format!("ping {round}");
        client.write_all(frame.as_bytes()).await.expect("send a frame");
        assert_eq!(read_exactly(&mut client, &mut buf, frame.len()).await, frame.as_bytes(), "round {round}");
    }
    let at_origin = heads.lock().expect("heads")[0].clone();
    for field in
        ["connection: upgrade\r\n", "upgrade: websocket\r\n", "sec-websocket-key: dghl", "x-forwarded-for: 127.0.0.1"]
    {
        assert!(at_origin.contains(field), "{field:?} not sent upstream: {at_origin}");
    }
    client.shutdown().await.expect("close the write side");
    let closed = bounded("the tunnel closes after the client", async {
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.map(|_| rest)
    })
    .await;
    assert_eq!(closed.map(|r| r.len()).ok(), Some(0), "nothing after the close");
}

/// `tunnel_timeout` closes a tunnel in which nothing moved either way for that long, and only
/// such a tunnel: one with a frame every 100 ms lives on past it.
#[tokio::test]
async fn a_quiet_tunnel_closes_after_the_tunnel_timeout() {
    let (origin, _) = echo_origin().await;
    let gw =
        TestGateway::start(&config("tunnel_timeout = \"400ms\"", &tenant("app", &["app.test"], &[origin], "")), t0())
            .await;
    let open = |gw: SocketAddr| async move {
        let mut client = TcpStream::connect(gw).await.expect("connect");
        client.write_all(UPGRADE.as_bytes()).await.expect("send");
        let mut buf = Vec::new();
        read_head(&mut client, &mut buf).await;
        read_exactly(&mut client, &mut buf, 17).await;
        client
    };
    let mut busy = open(gw.addr).await;
    let mut buf = Vec::new();
    let started = std::time::Instant::now();
    for round in 0..12 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        busy.write_all(b"tick").await.expect("a frame while busy");
        assert_eq!(read_exactly(&mut busy, &mut buf, 4).await, b"tick", "round {round}");
    }
    assert!(started.elapsed() >= std::time::Duration::from_millis(1200), "the busy tunnel outlived the timeout");
    let mut quiet = open(gw.addr).await;
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let end = bounded("the quiet tunnel to close", quiet.read_to_end(&mut rest)).await;
    let took = started.elapsed();
    assert!(end.is_ok() && rest.is_empty(), "closed cleanly: {end:?} {rest:?}");
    assert!(took >= std::time::Duration::from_millis(350) && took < std::time::Duration::from_secs(2), "{took:?}");
}

/// An upgrade to a tenant in maintenance gets the maintenance page; nothing reaches the origin.
#[tokio::test]
async fn an_upgrade_in_maintenance_gets_the_maintenance_page() {
    let (origin, heads) = echo_origin().await;
    let window = "[[windows]]\nid = \"now\"\nonce = { start = \"2024-11-14T00:00\" }\n";
    let gw = TestGateway::start(&config("", &(tenant("app", &["app.test"], &[origin], "") + window)), t0()).await;
    let mut client = gw.client().await;
    client.send(UPGRADE.as_bytes()).await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.marker()), (503, "maintenance"));
    assert!(heads.lock().expect("heads").is_empty(), "the origin was asked");
}

/// An origin that declines the upgrade answers as usual: the client gets that answer, and the
/// connection goes on with the next request.
#[tokio::test]
async fn an_upgrade_the_origin_declines_is_an_ordinary_answer() {
    let origin = ScriptedOrigin::start(|seen| Reply::keep(ok_echo(seen))).await;
    let gw = TestGateway::start(&config("", &tenant("app", &["app.test"], &[origin.addr], "")), t0()).await;
    let mut client = gw.client().await;
    client.send(UPGRADE.as_bytes()).await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.text().as_str()), (200, "GET /socket"));
    let next = client.request("GET", "app.test", "/next", &[]).await;
    assert_eq!((next.status, next.text().as_str()), (200, "GET /next"));
    assert_eq!(origin.last().header("upgrade"), None, "the second request asked for nothing");
}

/// An origin that answers while the body is still coming (a 413 after reading the head, then
/// reading on) gets its answer to the client at once; the upload stops there and the client's
/// connection closes after the answer (the rest of its body is never read).
#[tokio::test]
async fn an_answer_before_the_upload_ends_reaches_the_client() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let origin = listener.local_addr().expect("address");
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let _ = read_head(&mut s, &mut buf).await;
            let _ = s.write_all(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nbig!").await;
            // Read on (and drop) what comes, as a server draining an unwanted body does.
            let mut sink = vec![0u8; 65536];
            while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
        }
    });
    let gw = TestGateway::start(&config("", &tenant("app", &["app.test"], &[origin], "")), t0()).await;
    let client = TcpStream::connect(gw.addr).await.expect("connect");
    let total = 64 * 1024 * 1024;
    let (mut reader, mut writer) = client.into_split();
    let head = format!("POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: {total}\r\n\r\n");
    writer.write_all(head.as_bytes()).await.expect("send the head");
    // The upload goes on in the background; it stops when the gateway stops reading.
    let upload = tokio::spawn(async move {
        let piece = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            match tokio::time::timeout(std::time::Duration::from_secs(2), writer.write_all(&piece)).await {
                Ok(Ok(())) => sent += piece.len(),
                _ => break,
            }
        }
        sent
    });
    let answer = bounded("the answer, then the close", async {
        let mut all = Vec::new();
        reader.read_to_end(&mut all).await.map(|_| all)
    })
    .await
    .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 413 ") && answer.ends_with("\r\n\r\nbig!"), "{answer}");
    assert!(answer.contains("connection: close\r\n"), "{answer}");
    let sent = bounded("the upload stops", upload).await.expect("the uploader");
    assert!(sent < total, "the whole upload was read: {sent} bytes");
}

/// A body that stalls is answered 408 after `body_timeout`, and the origin never gets a
/// complete request.
#[tokio::test]
async fn a_body_that_stalls_gets_408() {
    let origin = ScriptedOrigin::start(|seen| Reply::keep(ok_echo(seen))).await;
    let body = tenant("app", &["app.test"], &[origin.addr], "");
    let gw = TestGateway::start(&config("body_timeout = \"300ms\"", &body), t0()).await;
    let mut client = gw.client().await;
    client.send(b"POST /slow HTTP/1.1\r\nHost: app.test\r\nContent-Length: 100\r\n\r\n0123456789").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.header("connection")), (408, Some("close")));
    assert!(client.closed().await);
    assert!(origin.seen().is_empty(), "a partial request reached the origin: {:?}", origin.paths());
}

/// A `Content-Length` body that ends early (the client closes after 10 of 100 bytes, once the
/// request is upstream) leaves the origin with a closed connection, never a partial request on
/// a kept one: the next request arrives whole on a fresh connection. (Chunked bodies cut
/// short: `edge_safety`.)
#[tokio::test]
async fn a_length_body_cut_short_leaves_no_partial_request_upstream() {
    let origin = ScriptedOrigin::start(|seen| Reply::keep(ok_echo(seen))).await;
    let gw = TestGateway::start(&config("", &tenant("app", &["app.test"], &[origin.addr], "")), t0()).await;
    let mut client = gw.client().await;
    client.send(b"POST /cut HTTP/1.1\r\nHost: app.test\r\nContent-Length: 100\r\n\r\n0123456789").await;
    origin.accepted_at_least(1).await;
    drop(client);
    origin.open_connections(0).await;
    let mut client = gw.client().await;
    client.send_request("POST", "app.test", "/later", &[], b"world").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.text().as_str()), (200, "POST /later"));
    let seen: Vec<(String, Vec<u8>)> = origin.seen().into_iter().map(|s| (s.path, s.body)).collect();
    assert_eq!(seen, [("/later".to_string(), b"world".to_vec())], "what the origin saw");
    assert_eq!(origin.accepted(), 2, "the cut request's connection was not reused");
}

/// A request body for a tenant in maintenance never goes upstream: the client gets the
/// maintenance page, and when the body was complete the connection goes on.
#[tokio::test]
async fn a_body_for_a_tenant_in_maintenance_is_never_sent_upstream() {
    let origin = ScriptedOrigin::start(|seen| Reply::keep(ok_echo(seen))).await;
    let gw = one_down_one_up(origin.addr, "up.test").await;
    let mut client = gw.client().await;
    client.send_request("POST", "down.test", "/form", &[], b"name=value&secret=1").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.marker(), r.header("connection")), (503, "maintenance", Some("keep-alive")));
    client.send_request("POST", "up.test", "/form", &[], b"a=1").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.text().as_str()), (200, "POST /form"));
    assert_eq!(origin.seen().len(), 1, "only the open tenant's request went upstream");
    assert_eq!(origin.last().body, b"a=1");
    // A body still on its way (announced, not sent): the page, then the connection closes.
    let mut client = gw.client().await;
    client.send(b"POST /big HTTP/1.1\r\nHost: down.test\r\nContent-Length: 100000\r\n\r\nstart").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.header("connection")), (503, Some("close")));
    assert!(client.closed().await);
    assert_eq!(origin.seen().len(), 1);
}

/// An HTTP/1.0 upload with `Content-Length`: the body arrives exactly, a chunked answer comes
/// back de-chunked and close-delimited.
#[tokio::test]
async fn an_http_1_0_upload_and_a_chunked_answer() {
    let origin = ScriptedOrigin::start(|seen| {
        let text = format!("got {} bytes", seen.body.len());
        Reply::keep(format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{text}\r\n0\r\n\r\n",
            text.len()
        ))
    })
    .await;
    let gw = TestGateway::start(&config("", &tenant("app", &["app.test"], &[origin.addr], "")), t0()).await;
    let mut client = gw.client().await;
    client
        .send(b"POST /old HTTP/1.0\r\nHost: app.test\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello")
        .await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.text().as_str(), r.header("transfer-encoding")), (200, "got 5 bytes", None));
    assert!(client.closed().await, "close-delimited");
    assert_eq!(origin.last().body, b"hello");
}

/// `Expect: 100-continue` with a chunked body sent only after the `100`: the gateway says
/// `100 Continue` itself, the body follows, the origin gets it without the expectation.
#[tokio::test]
async fn expect_100_continue_with_a_chunked_body() {
    let origin = ScriptedOrigin::start(|seen| {
        Reply::keep(ok(format!("got {:?}", String::from_utf8_lossy(&seen.body)).as_bytes()))
    })
    .await;
    let gw = TestGateway::start(&config("", &tenant("app", &["app.test"], &[origin.addr], "")), t0()).await;
    let mut client = gw.client().await;
    client
        .send(b"PUT /doc HTTP/1.1\r\nHost: app.test\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await;
    let interim = client.response(true).await;
    assert_eq!(interim.status, 100);
    client.send(b"3\r\nabc\r\n0\r\n\r\n").await;
    let r = client.response(false).await;
    assert_eq!((r.status, r.text().as_str()), (200, "got \"abc\""));
    assert_eq!(origin.last().header("expect"), None);
    assert_eq!(origin.last().header("transfer-encoding"), Some("chunked"));
}
