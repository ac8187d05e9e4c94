//! A scripted raw HTTP/1.1 origin for the protocol tests (`protocol`, `protocol_h2`).
//!
//! A [`ScriptedOrigin`] reads each request (de-chunking a chunked body), records it exactly as it
//! arrived (request line, fields in order, content, which connection it came on) and answers
//! with raw bytes its script chooses per request: so each test controls the exact HTTP/1.1
//! framing the gateway has to deal with. A [`Reply`] may come in parts (separate writes), hold a
//! part until the test opens a gate, say when it is out (written or failed), and end by keeping,
//! closing, resetting or stalling the connection. The origin counts the connections it accepted
//! and those open now, and can close its idle connections as a keep-alive timeout would.
//!
//! Every wait it offers is bounded ([`bounded`]).

use crate::gateway_support::{bounded, read_head, Seen};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the origin does after its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Waits for the next request on the connection.
    Keep,
    /// Closes (FIN).
    Close,
    /// Resets (RST).
    Reset,
    /// Keeps the connection open and sends nothing more, ever.
    Hang,
}

/// What a [`ScriptedOrigin`] sends for one request.
#[derive(Debug)]
pub struct Reply {
    /// Written in order, each flushed, with a yield to the runtime between parts: the gateway
    /// can see a response arrive in pieces.
    parts: Vec<Vec<u8>>,
    /// (part, gate): waits until the gate turns `true` before writing that part.
    gates: Vec<(usize, watch::Receiver<bool>)>,
    /// Counted up once every part is written, or the writing failed.
    announce: Option<Arc<watch::Sender<u64>>>,
    then: Then,
}

impl Reply {
    /// These bytes; the connection stays open for the next request.
    pub fn keep(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply::pieces(vec![bytes.into()])
    }

    /// These bytes, then the origin closes the connection.
    pub fn close(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply::keep(bytes).then(Then::Close)
    }

    /// These pieces, written one after another; keep-alive.
    pub fn pieces(parts: Vec<Vec<u8>>) -> Reply {
        Reply { parts, gates: Vec::new(), announce: None, then: Then::Keep }
    }

    /// What the origin does once the reply is written.
    pub fn then(mut self, then: Then) -> Reply {
        self.then = then;
        self
    }

    /// Nothing is written before `gate` opens.
    pub fn after(self, gate: &watch::Receiver<bool>) -> Reply {
        self.hold(0, gate)
    }

    /// Part `part` (and what follows) is written only once `gate` opens.
    pub fn hold(mut self, part: usize, gate: &watch::Receiver<bool>) -> Reply {
        self.gates.push((part, gate.clone()));
        self
    }

    /// Counts `done` up by one once the reply is out: every part written (so on loopback it
    /// waits in the gateway's socket), or the writing failed. A test that waits for the count
    /// knows the bytes were sent before it goes on, without sleeping.
    pub fn announce(mut self, done: &Arc<watch::Sender<u64>>) -> Reply {
        self.announce = Some(done.clone());
        self
    }
}

/// Counts a reply's `announce` up when dropped: after its last write, or on the way out of a
/// failed one.
struct Announce(Option<Arc<watch::Sender<u64>>>);

impl Drop for Announce {
    fn drop(&mut self) {
        if let Some(done) = &self.0 {
            done.send_modify(|n| *n += 1);
        }
    }
}

/// `200 OK` with a `Content-Length` body.
pub fn ok(body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// The body [`ok_echo`] answers with: method and target.
pub fn echo_text(seen: &Seen) -> String {
    format!("{} {}", seen.method, seen.path)
}

/// `200 OK` whose body is the request's method and target.
pub fn ok_echo(seen: &Seen) -> Vec<u8> {
    ok(echo_text(seen).as_bytes())
}

/// A chunked `200 OK` carrying `body` in chunks of `size` bytes (the last may be shorter):
/// the head, each chunk and the last chunk are parts of their own.
pub fn chunked_parts(body: &[u8], size: usize) -> Vec<Vec<u8>> {
    let mut parts = vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()];
    for chunk in body.chunks(size) {
        let mut part = format!("{:x}\r\n", chunk.len()).into_bytes();
        part.extend_from_slice(chunk);
        part.extend_from_slice(b"\r\n");
        parts.push(part);
    }
    parts.push(b"0\r\n\r\n".to_vec());
    parts
}

/// A chunked `200 OK` streamed in two pieces: the head with the chunk `first` at once, the
/// chunk `second` and the end only once `go` opens.
pub fn streamed_in_two_pieces(go: &watch::Receiver<bool>) -> Reply {
    Reply::pieces(vec![
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n".to_vec(),
        b"6\r\nsecond\r\n0\r\n\r\n".to_vec(),
    ])
    .hold(1, go)
}

/// The answers without a body, or with interim answers before the final one, that both
/// protocol suites pin, by path; `None` for any other path.
///
/// - `/204`: `204 No Content` with `X-Note: empty`.
/// - `/304`, `/304-with-length`: `304 Not Modified` with `ETag: "v1"`, resp. `"v2"` and the
///   representation's `Content-Length: 1234`.
/// - `/empty`: `200 OK` with `Content-Length: 0`.
/// - `/continue`, `/early-hints`: `100 Continue`, resp. `103 Early Hints` (with a `Link`), then
///   in another write `200 OK` with `after 100`, resp. `after 103`.
/// - `/together`: `100 Continue` and `200 OK` with `after both` in one write (the final answer
///   is already read when the interim one is).
pub fn bodiless_or_interim(path: &str) -> Option<Reply> {
    let reply = match path {
        "/204" => Reply::keep(b"HTTP/1.1 204 No Content\r\nX-Note: empty\r\n\r\n".to_vec()),
        "/304" => Reply::keep(b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n".to_vec()),
        "/304-with-length" => {
            Reply::keep(b"HTTP/1.1 304 Not Modified\r\nETag: \"v2\"\r\nContent-Length: 1234\r\n\r\n".to_vec())
        }
        "/empty" => Reply::keep(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()),
        "/continue" => Reply::pieces(vec![b"HTTP/1.1 100 Continue\r\n\r\n".to_vec(), ok(b"after 100")]),
        "/early-hints" => Reply::pieces(vec![
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n".to_vec(),
            ok(b"after 103"),
        ]),
        "/together" => Reply::keep([b"HTTP/1.1 100 Continue\r\n\r\n".to_vec(), ok(b"after both")].concat()),
        _ => return None,
    };
    Some(reply)
}

/// `n` bytes of a pattern that does not repeat at any power-of-two stride.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ (i >> 11) as u8).collect()
}

/// Asserts two bodies are byte-identical without printing a megabyte when they are not.
pub fn assert_same_body(what: &str, got: &[u8], expected: &[u8]) {
    let first_difference = got.iter().zip(expected).position(|(a, b)| a != b);
    assert!(
        got == expected,
        "{what}: {} bytes, expected {}; first difference at {first_difference:?}",
        got.len(),
        expected.len()
    );
}

type Script = dyn Fn(&Seen) -> Reply + Send + Sync;

/// An HTTP/1.1 origin on `127.0.0.1:0` answering each request with what its script returns;
/// stops when dropped. Request bodies are read by `Content-Length` or de-chunked (`Seen::body`
/// is the content).
pub struct ScriptedOrigin {
    pub addr: SocketAddr,
    seen: Arc<watch::Sender<Vec<Seen>>>,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
    /// Connections open now (closed by either side: the count drops when the origin sees it).
    open: Arc<watch::Sender<usize>>,
    /// Bumped to make every connection waiting for its next request close.
    close_idle: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl Drop for ScriptedOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts a connection as open until dropped.
struct OpenGuard(Arc<watch::Sender<usize>>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

impl ScriptedOrigin {
    pub async fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> ScriptedOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an origin");
        let addr = listener.local_addr().expect("origin address");
        let script: Arc<Script> = Arc::new(script);
        let seen = Arc::new(watch::Sender::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(watch::Sender::new(0usize));
        let (close_idle, _) = watch::channel(0u64);
        let (record, count, gauge, closer) = (seen.clone(), accepted.clone(), open.clone(), close_idle.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let conn = count.fetch_add(1, Ordering::SeqCst);
                gauge.send_modify(|n| *n += 1);
                let guard = OpenGuard(gauge.clone());
                let (script, record, order) = (script.clone(), record.clone(), closer.subscribe());
                tokio::spawn(async move {
                    let _ = scripted_connection(stream, conn, &*script, &record, order).await;
                    drop(guard);
                });
            }
        });
        ScriptedOrigin { addr, seen, accepted, open, close_idle, task }
    }

    /// Every request received so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.borrow().clone()
    }

    /// The last request received.
    pub fn last(&self) -> Seen {
        self.seen().pop().expect("the origin got a request")
    }

    /// The targets of every request received so far, in order.
    pub fn paths(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.path).collect()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Returns once the origin has accepted `n` connections (polled: a request may be on its way
    /// on one without being complete).
    pub async fn accepted_at_least(&self, n: usize) {
        bounded(&format!("the origin accepts {n} connection(s)"), async {
            while self.accepted() < n {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await;
    }

    /// Returns once the origin has received `n` requests.
    pub async fn received(&self, n: usize) {
        let mut seen = self.seen.subscribe();
        bounded(&format!("the origin receives {n} request(s)"), seen.wait_for(|s| s.len() >= n))
            .await
            .expect("the origin's record");
    }

    /// Returns once `n` connections to the origin are open (0: every one closed by either side).
    pub async fn open_connections(&self, n: usize) {
        let mut open = self.open.subscribe();
        bounded(&format!("{n} open upstream connection(s)"), open.wait_for(|c| *c == n))
            .await
            .expect("the origin's connection count");
    }

    /// Closes every connection that waits for its next request (as an origin's keep-alive
    /// timeout would), and returns once all of them are closed on the origin's side.
    pub async fn close_idle_connections(&self) {
        self.close_idle.send_modify(|g| *g += 1);
        let mut open = self.open.subscribe();
        bounded("the origin closes its idle connections", open.wait_for(|n| *n == 0))
            .await
            .expect("the origin's connection count");
    }
}

async fn scripted_connection(
    stream: TcpStream,
    conn: usize,
    script: &Script,
    record: &watch::Sender<Vec<Seen>>,
    mut close_idle: watch::Receiver<u64>,
) -> std::io::Result<()> {
    // Each part its own segment: the gateway sees the pieces the script chose.
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream);
    loop {
        // Idle between requests: wait for the next one's first byte, or the order to close.
        let close = tokio::select! {
            ready = reader.fill_buf() => ready?.is_empty(),
            _ = close_idle.changed() => true,
        };
        if close {
            return Ok(());
        }
        let Some(request) = read_request(&mut reader, conn).await? else { return Ok(()) };
        let reply = script(&request);
        record.send_modify(|s| s.push(request));
        let mut gates = reply.gates;
        let announce = Announce(reply.announce);
        let stream = reader.get_mut();
        for (i, part) in reply.parts.iter().enumerate() {
            if i > 0 {
                tokio::task::yield_now().await;
            }
            for (_, gate) in gates.iter_mut().filter(|(at, _)| *at == i) {
                let _ = gate.wait_for(|open| *open).await;
            }
            stream.write_all(part).await?;
            stream.flush().await?;
        }
        drop(announce);
        match reply.then {
            Then::Keep => {}
            Then::Close => {
                stream.shutdown().await?;
                return Ok(());
            }
            Then::Reset => {
                stream.set_zero_linger()?;
                return Ok(());
            }
            Then::Hang => std::future::pending::<()>().await,
        }
    }
}

/// Reads one request; `None` on a clean close before its first line.
async fn read_request(r: &mut BufReader<TcpStream>, conn: usize) -> std::io::Result<Option<Seen>> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let Some(head) = read_head(r).await? else { return Ok(None) };
    let value = |name: &str| head.header(name).map(str::to_ascii_lowercase);
    let mut body = Vec::new();
    if value("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        loop {
            let mut size_line = Vec::new();
            r.read_until(b'\n', &mut size_line).await?;
            let text = String::from_utf8_lossy(&size_line).into_owned();
            let size = usize::from_str_radix(text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad(format!("bad chunk size line {text:?}")))?;
            if size == 0 {
                // Trailer fields, up to the empty line.
                loop {
                    let mut line = Vec::new();
                    if r.read_until(b'\n', &mut line).await? == 0 || line == b"\r\n" || line == b"\n" {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..]).await?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).await?;
        }
    } else if let Some(length) = value("content-length") {
        let length: usize = length.parse().map_err(|_| bad(format!("bad content-length {length:?}")))?;
        body = vec![0u8; length];
        r.read_exact(&mut body).await?;
    }
    Ok(Some(Seen { body, conn, ..head }))
}
