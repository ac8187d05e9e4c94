//! No byte crosses from one exchange to another: two tenants, `a.test` and `b.test`, share ONE
//! origin address, so they share the gateway's pooled upstream connections. The origin
//! misbehaves on every request of tenant a (a body on a HEAD answer, bytes after a 204 or 304,
//! a second response nobody asked for, an early response while the connection idles, a
//! `Connection` that names `Content-Length`, an unrequested `101`), at once or only after the
//! client has its answer, and answers tenant b's requests normally with a body naming their own
//! method and path. The tenants take turns, hundreds of times, over HTTP/1.1 and h2c clients,
//! with `GET`s and `POST`s (with bodies) mixed.
//!
//! What is pinned: ZERO of tenant b's answers hold anything but its own bytes (status 200, the
//! exact body), and the origin saw each of b's requests exactly once. Tenant a's answers may be
//! anything sane — its own answer, the gateway's failure page, a refused connection or reset
//! stream — but never b's bytes, never bytes planted for another exchange, and never a hang.
//!
//! The policy this holds the gateway to: an upstream connection is reused only when its previous
//! response was framed exactly, it was not a HEAD answer, and nothing unread is pending; bytes
//! that arrive on an idle pooled connection make the gateway drop it; an unrequested `101` from
//! the origin is answered with a 502 failure page.
//!
//! Every late write of the origin is announced ([`Reply::announce`]) and waited for before b
//! asks, so the bytes are in the gateway's socket when b's request could pick the connection:
//! no test here depends on a race. Nothing sleeps.

use crate::gateway_support::{bounded, config, t0, tenant, Client, H2Client, Seen, TestGateway};
use crate::scripted_origin::{ok, Reply, ScriptedOrigin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Turns per lane: a request of tenant a, then one of tenant b.
const PAIRS: usize = 400;
/// A lane stops after this many violations (the report shows the first ones).
const MOST_VIOLATIONS: usize = 3;

/// A complete response an origin sends where no response is due: if a later exchange reads it,
/// its client gets `planted`.
const PLANTED: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nplanted";
/// A response written before anything asked for it.
const EARLY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly";

/// What follows an answer that is complete without it, in the same write: [`PLANTED`] alone on
/// turns 0 and 1 of every four, behind 64 KiB + 1 of filler on turns 2 and 3 (more than one
/// read of the gateway takes, so some of it is still in the socket after the answer).
fn trailing(i: usize) -> Vec<u8> {
    if i % 4 < 2 {
        PLANTED.to_vec()
    } else {
        [vec![b'x'; 64 * 1024 + 1], PLANTED.to_vec()].concat()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    H1,
    H2,
}

impl Lane {
    fn name(self) -> &'static str {
        match self {
            Lane::H1 => "h1",
            Lane::H2 => "h2c",
        }
    }
}

/// What tenant a's client may get besides a refusal or the gateway's failure page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AWant {
    /// `200` without a body (the answer to HEAD).
    Head,
    /// `204` for an even turn, `304` for an odd one, without a body.
    Bodiless,
    /// `200` with a's own body, `a METHOD PATH`.
    Own,
    /// Only the gateway's failure page (or a refusal).
    FailureOnly,
}

/// How tenant a's origin misbehaves.
#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    /// The method of a's request in turn `i`.
    a_method: fn(usize) -> &'static str,
    /// a's answer in parts (each its own write), for the request and its turn.
    parts: fn(&Seen, usize) -> Vec<Vec<u8>>,
    /// Part 1 on is held until the client has the answer to the request.
    gated: bool,
    want: AWant,
}

fn head(_: usize) -> &'static str {
    "HEAD"
}

fn get_or_post(i: usize) -> &'static str {
    if i % 2 == 0 {
        "GET"
    } else {
        "POST"
    }
}

/// What the origin names a request by: `a GET /a/h1/3`.
fn own(tenant: &str, method: &str, path: &str) -> String {
    format!("{tenant} {method} {path}")
}

/// A HEAD answer's head saying a GET would get `len` bytes.
fn head_answer(len: usize) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").into_bytes()
}

/// `204` on an even turn, `304` on an odd one: heads that end their message.
fn bodiless(i: usize) -> Vec<u8> {
    if i % 2 == 0 {
        b"HTTP/1.1 204 No Content\r\nX-Note: empty\r\n\r\n".to_vec()
    } else {
        b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n".to_vec()
    }
}

fn own_answer(seen: &Seen) -> Vec<u8> {
    ok(own("a", &seen.method, &seen.path).as_bytes())
}

/// An answer that says which turn it is for: the number at the end of the path.
fn turn(path: &str) -> usize {
    path.rsplit('/').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// One tenant's client connection on one lane, made again after a refusal.
struct Asker<'g> {
    gw: &'g TestGateway,
    lane: Lane,
    host: &'static str,
    h1: Option<Client>,
    h2: Option<H2Client>,
}

/// An answer as either client saw it.
#[derive(Debug)]
struct Answer {
    status: u16,
    marker: String,
    body: Vec<u8>,
}

impl Answer {
    fn show(&self) -> String {
        let body = String::from_utf8_lossy(&self.body[..self.body.len().min(80)]).into_owned();
        format!("{} x-hiatus {} body {body:?} ({} bytes)", self.status, self.marker, self.body.len())
    }
}

/// Whether an error is a hang (a wait over the limit), not a refusal.
fn hang(error: &str) -> bool {
    error.starts_with("no data within") || error.starts_with("timed out")
}

/// Whether an error is a malformed answer, not a refusal (HTTP/1.1 only: h2 frames for us).
fn malformed(error: &str) -> bool {
    error.starts_with("bad ")
}

impl<'g> Asker<'g> {
    fn new(gw: &'g TestGateway, lane: Lane, host: &'static str) -> Asker<'g> {
        Asker { gw, lane, host, h1: None, h2: None }
    }

    /// The next request goes on a new connection.
    fn reset(&mut self) {
        self.h1 = None;
        self.h2 = None;
    }

    async fn ask(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Answer, String> {
        match self.lane {
            Lane::H1 => {
                let client = match &mut self.h1 {
                    Some(c) => c,
                    None => self.h1.insert(self.gw.client().await),
                };
                client.send_request(method, self.host, path, &[], body.unwrap_or_default()).await;
                match client.try_response(method == "HEAD").await {
                    Ok(r) => {
                        if r.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
                            self.h1 = None;
                        }
                        Ok(Answer { status: r.status, marker: r.marker().to_string(), body: r.body })
                    }
                    Err(e) => {
                        self.h1 = None;
                        Err(e)
                    }
                }
            }
            Lane::H2 => {
                let client = match &mut self.h2 {
                    Some(c) => c,
                    None => self.h2.insert(self.gw.h2().await),
                };
                let uri = format!("http://{}{path}", self.host);
                match client.try_request(method, &uri, &[], body).await {
                    Ok(r) => {
                        let marker = r.header("x-hiatus").unwrap_or("-").to_string();
                        Ok(Answer { status: r.status, marker, body: r.body })
                    }
                    Err(e) => {
                        self.h2 = None;
                        Err(e)
                    }
                }
            }
        }
    }
}

/// Why a's answer in turn `i` is not sane, if it is not.
fn judge_a(want: AWant, i: usize, method: &str, path: &str, got: &Result<Answer, String>) -> Option<String> {
    let r = match got {
        Err(e) if hang(e) || malformed(e) => return Some(format!("no sane answer: {e}")),
        // Refused: the connection closed or the stream was reset.
        Err(_) => return None,
        Ok(r) => r,
    };
    if r.body.windows(3).any(|w| w == b"b G" || w == b"b P") {
        return Some(format!("got tenant b's bytes: {}", r.show()));
    }
    if matches!(r.status, 502 | 504) && r.marker == "upstream-error" {
        return None;
    }
    let expected = match want {
        AWant::Head => Some((200, Vec::new())),
        AWant::Bodiless => Some((if i % 2 == 0 { 204 } else { 304 }, Vec::new())),
        AWant::Own => Some((200, own("a", method, path).into_bytes())),
        AWant::FailureOnly => None,
    };
    match expected {
        Some((status, body)) if r.status == status && r.body == body && r.marker == "proxied" => None,
        Some((status, body)) => Some(format!(
            "expected {status} proxied with body {:?} (or a failure page), got {}",
            String::from_utf8_lossy(&body),
            r.show()
        )),
        None => Some(format!("expected the 502 failure page, got {}", r.show())),
    }
}

/// Runs a case on both lanes and asserts that nothing crossed.
async fn check(case: Case) {
    // Announced a-replies out, a-replies asked for, gates of held parts not yet opened.
    let done = Arc::new(watch::Sender::new(0u64));
    let asked = Arc::new(AtomicU64::new(0));
    let gates: Arc<Mutex<Vec<watch::Sender<bool>>>> = Arc::default();
    let origin = {
        let (done, asked, gates) = (done.clone(), asked.clone(), gates.clone());
        ScriptedOrigin::start(move |seen| {
            if seen.header("host") == Some("b.test") {
                return Reply::keep(ok(own("b", &seen.method, &seen.path).as_bytes()));
            }
            asked.fetch_add(1, Ordering::SeqCst);
            let reply = Reply::pieces((case.parts)(seen, turn(&seen.path))).announce(&done);
            if !case.gated {
                return reply;
            }
            let (open, gate) = watch::channel(false);
            if let Ok(mut g) = gates.lock() {
                g.push(open);
            }
            reply.hold(1, &gate)
        })
        .await
    };
    let body = tenant("a", &["a.test"], &[origin.addr], "") + &tenant("b", &["b.test"], &[origin.addr], "");
    let gw = TestGateway::start(&config("", &body), t0()).await;
    let mut violations = Vec::new();
    // (path, body) of every request of b that was sent.
    let mut sent_b: Vec<(String, Vec<u8>)> = Vec::new();
    for lane in [Lane::H1, Lane::H2] {
        let (mut a, mut b) = (Asker::new(&gw, lane, "a.test"), Asker::new(&gw, lane, "b.test"));
        let mut found = 0;
        for i in 0..PAIRS {
            let method = (case.a_method)(i);
            let path = format!("/a/{}/{i}", lane.name());
            let a_body = format!("a-body-{i}");
            let got = a.ask(method, &path, (method == "POST").then_some(a_body.as_bytes())).await;
            if let Some(why) = judge_a(case.want, i, method, &path, &got) {
                violations.push(format!("{} turn {i}: a {method} {path}: {why}", lane.name()));
                found += 1;
                a.reset();
                if matches!(&got, Err(e) if hang(e)) || found >= MOST_VIOLATIONS {
                    break;
                }
            }
            // What a's origin still has to send goes out now, and is in the gateway's socket
            // before b asks; a yield lets the runtime's I/O driver see it arrive.
            let held: Vec<watch::Sender<bool>> = gates.lock().map(|mut g| g.drain(..).collect()).unwrap_or_default();
            for gate in held {
                gate.send_replace(true);
            }
            let target = asked.load(Ordering::SeqCst);
            bounded("the origin's answer to a is out", done.subscribe().wait_for(|n| *n >= target))
                .await
                .map(|_| ())
                .expect("the announcements");
            tokio::task::yield_now().await;

            // b asks with the request shape a's request had (a body or none): the pooled
            // connection a's request left (or not) is the one b's may take.
            let method = if method == "HEAD" { "GET" } else { method };
            let path = format!("/b/{}/{i}", lane.name());
            let b_body = format!("b-body-{i}").into_bytes();
            let sent_body = if method == "POST" { b_body.clone() } else { Vec::new() };
            sent_b.push((path.clone(), sent_body));
            let got = b.ask(method, &path, (method == "POST").then_some(&b_body[..])).await;
            let want = own("b", method, &path);
            let why = match &got {
                Ok(r) if r.status == 200 && r.body == want.as_bytes() && r.marker == "proxied" => continue,
                Ok(r) => format!("expected 200 proxied {want:?}, got {}", r.show()),
                Err(e) => format!("no answer: {e}"),
            };
            violations.push(format!("{} turn {i}: b {method} {path}: {why}", lane.name()));
            found += 1;
            b.reset();
            if matches!(&got, Err(e) if hang(e)) || found >= MOST_VIOLATIONS {
                break;
            }
        }
    }
    // Each of b's requests reached the origin exactly once, with its body.
    let seen = origin.seen();
    for (path, body) in &sent_b {
        let got: Vec<&Seen> = seen.iter().filter(|s| &s.path == path).collect();
        if got.len() != 1 || got[0].body != *body {
            let bodies: Vec<String> = got.iter().map(|s| String::from_utf8_lossy(&s.body).into_owned()).collect();
            violations.push(format!("the origin saw b's {path} {} time(s), bodies {bodies:?}", got.len()));
        }
    }
    assert!(
        violations.is_empty(),
        "{}: {} violation(s) (a lane stops after {MOST_VIOLATIONS} or a hang):\n  {}",
        case.name,
        violations.len(),
        violations.join("\n  ")
    );
}

/// (i) A body on a HEAD answer, in the same write as its head (the planted response, with or
/// without filler before it: [`trailing`]). The connection is never reused after a HEAD answer.
#[tokio::test]
async fn a_body_on_a_head_answer_in_the_same_write() {
    fn parts(_: &Seen, i: usize) -> Vec<Vec<u8>> {
        let body = trailing(i);
        vec![[head_answer(body.len()), body].concat()]
    }
    check(Case { name: "HEAD answer with a body, one write", a_method: head, parts, gated: false, want: AWant::Head })
        .await;
}

/// (ii) A body on a HEAD answer sent only once the client has the HEAD answer: the connection
/// idles in the pool when the planted response (`HTTP/1.1 200 OK … planted`) arrives. It must
/// not have been parked at all (a HEAD answer), and bytes on an idle connection drop it anyway.
#[tokio::test]
async fn a_body_on_a_head_answer_sent_after_the_client_has_it() {
    fn parts(_: &Seen, _: usize) -> Vec<Vec<u8>> {
        vec![head_answer(PLANTED.len()), PLANTED.to_vec()]
    }
    check(Case { name: "HEAD answer with a late body", a_method: head, parts, gated: true, want: AWant::Head }).await;
}

/// (iii) Bytes after a 204 (even turns) or a 304 (odd turns), in the same write ([`trailing`]):
/// those heads end their message, so what follows is pending, and the connection is not reused.
#[tokio::test]
async fn bytes_after_a_204_or_304_in_the_same_write() {
    fn parts(_: &Seen, i: usize) -> Vec<Vec<u8>> {
        vec![[bodiless(i), trailing(i)].concat()]
    }
    check(Case {
        name: "bytes after 204/304, one write",
        a_method: get_or_post,
        parts,
        gated: false,
        want: AWant::Bodiless,
    })
    .await;
}

/// (iii) Bytes after a 204 or a 304 sent once the client has the answer, while the connection
/// idles in the pool: the gateway drops it, b never reads them.
#[tokio::test]
async fn bytes_after_a_204_or_304_sent_after_the_client_has_it() {
    fn parts(_: &Seen, i: usize) -> Vec<Vec<u8>> {
        vec![bodiless(i), PLANTED.to_vec()]
    }
    check(Case {
        name: "bytes after 204/304, two writes",
        a_method: get_or_post,
        parts,
        gated: true,
        want: AWant::Bodiless,
    })
    .await;
}

/// (iv) A second, unsolicited response right behind a normal `Content-Length` one, in the same
/// write ([`trailing`]): more than the framing allows, so the connection is not reused.
#[tokio::test]
async fn a_second_response_in_the_same_write() {
    fn parts(seen: &Seen, i: usize) -> Vec<Vec<u8>> {
        vec![[own_answer(seen), trailing(i)].concat()]
    }
    check(Case { name: "second response, one write", a_method: get_or_post, parts, gated: false, want: AWant::Own })
        .await;
}

/// (iv) A second, unsolicited response sent once the client has the first, while the connection
/// idles in the pool: bytes on an idle connection make the gateway drop it.
#[tokio::test]
async fn a_second_response_sent_after_the_client_has_the_first() {
    fn parts(seen: &Seen, _: usize) -> Vec<Vec<u8>> {
        vec![own_answer(seen), PLANTED.to_vec()]
    }
    check(Case { name: "second response, two writes", a_method: get_or_post, parts, gated: true, want: AWant::Own })
        .await;
}

/// (v) An early response: right after answering, in a write of its own, the origin sends an
/// answer to a request nobody has made yet (`early`), whether the gateway is still relaying or
/// has parked the connection. b never gets it.
#[tokio::test]
async fn an_early_response_while_the_connection_idles() {
    fn parts(seen: &Seen, _: usize) -> Vec<Vec<u8>> {
        vec![own_answer(seen), EARLY.to_vec()]
    }
    check(Case { name: "early response", a_method: get_or_post, parts, gated: false, want: AWant::Own }).await;
}

/// (vi) `Connection: content-length` beside a `Content-Length`: a connection option may not
/// take the message's framing away. Whatever the gateway makes of it, the client can frame the
/// answer (no hang), and b's exchanges stay b's.
#[tokio::test]
async fn a_connection_header_naming_content_length() {
    fn parts(seen: &Seen, _: usize) -> Vec<Vec<u8>> {
        let body = own("a", &seen.method, &seen.path);
        let head = format!("HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: {}\r\n\r\n", body.len());
        vec![[head.into_bytes(), body.into_bytes()].concat()]
    }
    check(Case { name: "Connection: content-length", a_method: get_or_post, parts, gated: false, want: AWant::Own })
        .await;
}

/// An unrequested `101 Switching Protocols` (nothing asked to upgrade), the planted response
/// behind it: the client gets the 502 failure page, never the 101 or a tunnel to the origin,
/// and the connection is not reused.
#[tokio::test]
async fn an_unrequested_101() {
    fn parts(_: &Seen, _: usize) -> Vec<Vec<u8>> {
        let switch = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        vec![[switch.to_vec(), PLANTED.to_vec()].concat()]
    }
    check(Case { name: "unrequested 101", a_method: get_or_post, parts, gated: false, want: AWant::FailureOnly }).await;
}
