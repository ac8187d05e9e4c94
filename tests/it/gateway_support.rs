//! The gateway test harness: the real request path in-process, real origins, a raw client.
//!
//! - [`TestGateway`]: configuration text → `Compiled` → `Gateway` with a manual clock, served by
//!   `server::serve` on `127.0.0.1:0`; dropping it stops the accept loop. A `[gateway]
//!   access_log` file in the configuration is written as `hiatus run` would.
//! - [`Origin`]: a small HTTP/1.1 server on an ephemeral loopback port that records what it
//!   receives and answers according to a [`Behaviour`] (ok, slow, reset, garbage, …); for
//!   answers scripted byte by byte, see `scripted_origin`.
//! - [`Client`]: HTTP/1.1 over a raw TCP stream, so malformed requests can be written byte by
//!   byte; it reads one response (head + `Content-Length`/chunked body) at a time, keep-alive.
//! - [`H2Client`]: h2c with prior knowledge (the `h2` crate).
//!
//! Every network wait is bounded by [`LIMIT`]; nothing sleeps to let time pass (tests move the
//! manual clock). Only loopback addresses are used.

use arc_swap::ArcSwap;
use hiatus::clock::Clock;
use hiatus::compiled::Compiled;
use hiatus::gateway::{server, Gateway};
use hiatus::schedule::UnixTime;
use hiatus::telemetry::accesslog::AccessLog;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// The longest any single network step of a test may take.
pub const LIMIT: Duration = Duration::from_secs(5);

/// Awaits `f` for at most [`LIMIT`]; a hang fails the test with `what`.
pub async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(LIMIT, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {LIMIT:?}: {what}"),
    }
}

/// Loopback addresses other than 127.0.0.1 (all of 127/8 is loopback on Linux).
pub fn lo(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

// ---------------------------------------------------------------------------------------------
// Configuration text for gateway tests

/// The instant gateway tests start at: 2024-11-14 10:00 UTC, a Thursday.
pub fn t0() -> i64 {
    crate::support::at("2024-11-14T10:00Z")
}

/// A configuration: `[gateway]` keys (and its sub-tables), then tenants and windows. Timeouts are
/// short (connect 1 s, read 2 s) so failing origins fail fast.
pub fn config(gateway: &str, body: &str) -> String {
    format!(
        "[defaults]\nzone = \"Europe/Berlin\"\nlanguage = \"en\"\n\n[gateway]\nconnect_timeout = \"1s\"\n\
         read_timeout = \"2s\"\n{gateway}\n\n{body}"
    )
}

/// A `[[tenants]]` table.
pub fn tenant(id: &str, hosts: &[&str], upstreams: &[SocketAddr], extra: &str) -> String {
    let hosts: Vec<String> = hosts.iter().map(|h| format!("{h:?}")).collect();
    let ups: Vec<String> = upstreams.iter().map(|u| format!("\"{u}\"")).collect();
    format!("[[tenants]]\nid = \"{id}\"\nhosts = [{}]\nupstreams = [{}]\n{extra}\n\n", hosts.join(", "), ups.join(", "))
}

// ---------------------------------------------------------------------------------------------
// The gateway

/// A gateway with two tenants on `upstream`: `down` (`down.test`), in maintenance since before
/// [`t0`], and `up` (`up_host`), open.
pub async fn one_down_one_up(upstream: SocketAddr, up_host: &str) -> TestGateway {
    let window =
        "[[windows]]\nid = \"now\"\nscope = { tenants = [\"down\"] }\nonce = { start = \"2024-11-14T00:00\" }\n";
    let body = tenant("down", &["down.test"], &[upstream], "") + &tenant("up", &[up_host], &[upstream], "") + window;
    TestGateway::start(&config("", &body), t0()).await
}

/// A gateway serving one configuration on an ephemeral port until dropped.
#[derive(Debug)]
pub struct TestGateway {
    pub addr: SocketAddr,
    pub clock: Clock,
    /// The configuration in force (health checks probe its upstreams: `health::probe_once`).
    pub current: Arc<ArcSwap<Compiled>>,
    /// The status host's answers (`renders()` counts what was rendered).
    pub status_cache: Arc<hiatus::gateway::statuscache::StatusCache>,
    stop: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl TestGateway {
    /// Loads configuration text (which must be valid) and serves it with the clock at `now`.
    pub async fn start(config_text: &str, now: UnixTime) -> TestGateway {
        let loaded = crate::support::load(config_text);
        let compiled = Compiled::build(loaded.config, now, 1).unwrap_or_else(|e| panic!("build: {e}"));
        TestGateway::serve(compiled, now).await
    }

    /// Serves a compiled configuration with the clock at `now`.
    pub async fn serve(compiled: Compiled, now: UnixTime) -> TestGateway {
        let access_log =
            AccessLog::start(&compiled.config().gateway.access_log, compiled.config().gateway.access_log_format)
                .unwrap_or_else(|e| panic!("access log: {e}"));
        let clock = Clock::manual(now);
        let current = Arc::new(ArcSwap::from_pointee(compiled));
        let gateway = Gateway::new(current.clone(), clock.clone()).with_access_log(access_log);
        let status_cache = gateway.status_cache.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the gateway");
        let addr = listener.local_addr().expect("gateway address");
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(server::serve(listener, gateway, shutdown));
        TestGateway { addr, clock, current, status_cache, stop, task }
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr, None).await
    }

    /// A client whose connection comes from another loopback address (`127.0.0.<last>`).
    pub async fn client_from(&self, last: u8) -> Client {
        Client::connect(self.addr, Some(lo(last))).await
    }

    /// One GET on a fresh connection.
    pub async fn get(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        self.client().await.request("GET", host, path, headers).await
    }

    pub async fn h2(&self) -> H2Client {
        H2Client::connect(self.addr).await
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Origins

/// How an origin answers each request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// 200 with a body naming the origin, method and path; keep-alive.
    Ok,
    /// This status, with a body of its own and spoofed `x-hiatus: maintenance` and
    /// `x-hiatus-failure` headers.
    Status(u16),
    /// This status with an empty body (`Content-Length: 0`).
    EmptyStatus(u16),
    /// This status with a chunked body.
    ChunkedStatus(u16),
    /// Sleeps this long, then answers like `Ok`.
    Slow(Duration),
    /// Reads the request, then resets the connection (RST).
    Reset,
    /// Reads the request, then closes without a byte of response.
    Close,
    /// Answers with a garbage status line.
    Garbage,
    /// Sends a head promising 1000 bytes, 10 of them, then closes.
    HalfBody,
}

/// What an origin received: one request, as it arrived.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request line as sent, e.g. `GET /x?q=1 HTTP/1.1`.
    pub line: String,
    pub method: String,
    /// The request target as sent (origin form, or absolute form).
    pub path: String,
    /// In order, names lower-cased, values trimmed; repeated fields stay apart.
    pub headers: Vec<(String, String)>,
    /// The content (a [`ScriptedOrigin`](crate::scripted_origin::ScriptedOrigin) de-chunks it).
    pub body: Vec<u8>,
    /// Which connection to the origin it came on (0: the first one accepted).
    pub conn: usize,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a field, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

/// A test origin; stops when dropped.
#[derive(Debug)]
pub struct Origin {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Origin {
    /// An origin on `127.0.0.1:0`.
    pub async fn start(name: &str, behaviour: Behaviour) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an origin");
        Origin::serve(listener, name, behaviour)
    }

    /// An origin on a given address (`None` when it is taken).
    pub async fn start_on(addr: SocketAddr, name: &str, behaviour: Behaviour) -> Option<Origin> {
        let listener = TcpListener::bind(addr).await.ok()?;
        Some(Origin::serve(listener, name, behaviour))
    }

    fn serve(listener: TcpListener, name: &str, behaviour: Behaviour) -> Origin {
        let addr = listener.local_addr().expect("origin address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (record, who) = (seen.clone(), name.to_string());
        let task = tokio::spawn(async move {
            let mut accepted = 0;
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let conn = accepted;
                accepted += 1;
                let (record, who, behaviour) = (record.clone(), who.clone(), behaviour.clone());
                tokio::spawn(async move {
                    let _ = origin_connection(stream, conn, &who, &behaviour, &record).await;
                });
            }
        });
        Origin { addr, seen, task }
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn hits(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(0)
    }
}

/// Reads a request head: the request line (exactly as sent, without its line end), method,
/// target and headers (names lower-cased, values trimmed); the body is left empty and `conn` 0
/// for the caller to fill in. `None` on a clean close before its first line; an error on a close
/// inside it.
pub async fn read_head<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<Seen>> {
    let mut lines = Vec::new();
    loop {
        // Bytes, not `read_line`: header values may be any octets (obs-text).
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).await? == 0 {
            if lines.is_empty() {
                return Ok(None);
            }
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed inside a head"));
        }
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        // Only the line end: a test may check the request line byte for byte.
        lines.push(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string());
    }
    let line = lines.first().cloned().unwrap_or_default();
    let mut words = line.split(' ');
    let (method, path) = (words.next().unwrap_or("").to_string(), words.next().unwrap_or("").to_string());
    let headers = lines
        .iter()
        .skip(1)
        .filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string())))
        .collect();
    Ok(Some(Seen { line, method, path, headers, body: Vec::new(), conn: 0 }))
}

/// An address nothing listens on (bound, then released).
pub fn dead_address() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("address")
}

async fn origin_connection(
    stream: TcpStream,
    conn: usize,
    name: &str,
    behaviour: &Behaviour,
    record: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let Some(head) = read_head(&mut reader).await? else { return Ok(()) };
        let length = head.header("content-length").and_then(|v| v.parse().ok());
        let mut body = vec![0u8; length.unwrap_or(0)];
        reader.read_exact(&mut body).await?;
        let (method, path) = (head.method.clone(), head.path.clone());
        let seen = Seen { body, conn, ..head };
        if let Ok(mut r) = record.lock() {
            r.push(seen);
        }
        let ok = |body: String| {
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nx-origin: {name}\r\n\r\n{body}", body.len())
        };
        let stream = reader.get_mut();
        match behaviour {
            Behaviour::Ok => stream.write_all(ok(format!("{name} {method} {path}")).as_bytes()).await?,
            Behaviour::Slow(d) => {
                tokio::time::sleep(*d).await;
                stream.write_all(ok(format!("{name} {method} {path}")).as_bytes()).await?;
            }
            Behaviour::Status(code) => {
                let body = format!("origin {name} says {code}");
                let head = format!(
                    "HTTP/1.1 {code} Whatever\r\nContent-Length: {}\r\nx-origin: {name}\r\nx-hiatus: maintenance\r\nx-hiatus-failure: connection_refused\r\n\r\n",
                    body.len()
                );
                stream.write_all(format!("{head}{body}").as_bytes()).await?;
            }
            Behaviour::EmptyStatus(code) => {
                stream.write_all(format!("HTTP/1.1 {code} Whatever\r\nContent-Length: 0\r\n\r\n").as_bytes()).await?;
            }
            Behaviour::ChunkedStatus(code) => {
                let head =
                    format!("HTTP/1.1 {code} Whatever\r\nTransfer-Encoding: chunked\r\nx-origin: {name}\r\n\r\n");
                let body = format!("7\r\nchunked\r\n{:x}\r\n says {code}\r\n0\r\n\r\n", " says 503".len());
                stream.write_all(format!("{head}{body}").as_bytes()).await?;
            }
            Behaviour::Reset => {
                stream.set_zero_linger()?;
                return Ok(());
            }
            Behaviour::Close => return Ok(()),
            Behaviour::Garbage => {
                stream.write_all(b"NONSENSE 999 <html>\r\n\r\n").await?;
                return Ok(());
            }
            Behaviour::HalfBody => {
                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789").await?;
                stream.flush().await?;
                return Ok(());
            }
        }
        stream.flush().await?;
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 client

/// One response as the client saw it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// `x-hiatus`, or `-` when absent.
    pub fn marker(&self) -> &str {
        self.header("x-hiatus").unwrap_or("-")
    }
}

/// HTTP/1.1 over one TCP connection; requests are written raw.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub async fn connect(to: SocketAddr, from: Option<IpAddr>) -> Client {
        let stream = match from {
            None => bounded("connect", TcpStream::connect(to)).await.expect("connect to the gateway"),
            Some(ip) => {
                let socket = TcpSocket::new_v4().expect("socket");
                socket.bind(SocketAddr::new(ip, 0)).unwrap_or_else(|e| panic!("bind the client to {ip}: {e}"));
                bounded("connect", socket.connect(to)).await.expect("connect to the gateway")
            }
        };
        Client { stream, buf: Vec::new() }
    }

    /// Writes raw bytes.
    pub async fn send(&mut self, raw: &[u8]) {
        bounded("write", self.stream.write_all(raw)).await.expect("write the request");
    }

    /// Writes raw bytes one byte per write (Nagle off, so each is its own segment), yielding to
    /// the runtime after each: the server sees the request arrive in 1-byte pieces.
    pub async fn send_byte_by_byte(&mut self, raw: &[u8]) {
        self.stream.set_nodelay(true).expect("TCP_NODELAY");
        for byte in raw {
            bounded("write a byte", self.stream.write_all(std::slice::from_ref(byte))).await.expect("write a byte");
            bounded("flush", self.stream.flush()).await.expect("flush");
            tokio::task::yield_now().await;
        }
    }

    /// Writes `raw` one byte every `gap` (Nagle off) until all of it is sent or the server has
    /// answered or closed; how many bytes went. What the server sent stays for `response`.
    pub async fn send_slowly(&mut self, raw: &[u8], gap: Duration) -> usize {
        self.stream.set_nodelay(true).expect("TCP_NODELAY");
        let mut tick = tokio::time::interval(gap);
        for (sent, byte) in raw.iter().enumerate() {
            tick.tick().await;
            let mut peek = [0u8; 512];
            match self.stream.try_read(&mut peek) {
                Ok(0) => return sent,
                Ok(n) => {
                    self.buf.extend_from_slice(&peek[..n]);
                    return sent;
                }
                Err(_) => {}
            }
            if self.stream.write_all(std::slice::from_ref(byte)).await.is_err() {
                return sent;
            }
        }
        raw.len()
    }

    /// Writes a request (`Host` first, then `headers`, and a `Content-Length` for a body).
    pub async fn send_request(&mut self, method: &str, host: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
        for (n, v) in headers {
            raw.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() {
            raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        raw.push_str("\r\n");
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(body);
        self.send(&bytes).await;
    }

    /// Sends a request and reads its response (a HEAD response has no body).
    pub async fn request(&mut self, method: &str, host: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        self.send_request(method, host, path, headers, b"").await;
        self.response(method == "HEAD").await
    }

    /// Reads one complete response; panics on a hang, an early close or a malformed response.
    pub async fn response(&mut self, head_only: bool) -> Response {
        match self.try_response(head_only).await {
            Ok(r) => r,
            Err(e) => panic!("no complete response: {e}"),
        }
    }

    /// Reads one response; `Err` says what was incomplete (bodies read so far included).
    pub async fn try_response(&mut self, head_only: bool) -> Result<Response, String> {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            if self.fill().await? == 0 {
                return Err(format!("closed before the end of the head: {:?}", String::from_utf8_lossy(&self.buf)));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_string(), v.trim().to_string())))
            .collect();
        let mut response = Response { status, headers, body: Vec::new() };
        if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
            return Ok(response);
        }
        if let Some(length) = response.header("content-length") {
            let length: usize = length.parse().map_err(|_| format!("bad content-length {length:?}"))?;
            while self.buf.len() < length {
                if self.fill().await? == 0 {
                    response.body = std::mem::take(&mut self.buf);
                    return Err(format!("closed after {} of {length} body bytes", response.body.len()));
                }
            }
            response.body = self.buf.drain(..length).collect();
        } else if response.header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
            response.body = self.chunked().await?;
        } else {
            while self.fill().await? > 0 {}
            response.body = std::mem::take(&mut self.buf);
        }
        Ok(response)
    }

    async fn chunked(&mut self) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                if self.fill().await? == 0 {
                    return Err("closed inside a chunk size".to_string());
                }
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            self.buf.drain(..line_end + 2);
            while self.buf.len() < size + 2 {
                if self.fill().await? == 0 {
                    return Err("closed inside a chunk".to_string());
                }
            }
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
            if size == 0 {
                return Ok(body);
            }
        }
    }

    async fn fill(&mut self) -> Result<usize, String> {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(LIMIT, self.stream.read(&mut chunk))
            .await
            .map_err(|_| format!("no data within {LIMIT:?}"))?
            .map_err(|e| format!("read: {e}"))?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Whether the server closes the connection (EOF or reset) within a second, sending
    /// nothing more; `false` when it stays open or sends bytes.
    pub async fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(1), self.stream.read(&mut byte)).await;
        self.buf.is_empty() && matches!(read, Ok(Ok(0) | Err(_)))
    }
}

// ---------------------------------------------------------------------------------------------
// h2c client

/// An h2c connection (prior knowledge).
#[derive(Debug)]
pub struct H2Client {
    send: h2::client::SendRequest<bytes::Bytes>,
}

/// An HTTP/2 response.
#[derive(Debug)]
pub struct H2Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl H2Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl H2Client {
    pub async fn connect(to: SocketAddr) -> H2Client {
        let tcp = bounded("connect", TcpStream::connect(to)).await.expect("connect to the gateway");
        H2Client::handshake(tcp).await
    }

    /// An h2c connection from another loopback address (`127.0.0.<last>`).
    pub async fn connect_from(to: SocketAddr, last: u8) -> H2Client {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(lo(last), 0)).unwrap_or_else(|e| panic!("bind the client to {}: {e}", lo(last)));
        let tcp = bounded("connect", socket.connect(to)).await.expect("connect to the gateway");
        H2Client::handshake(tcp).await
    }

    async fn handshake(tcp: TcpStream) -> H2Client {
        let (send, connection) = bounded("h2 handshake", h2::client::handshake(tcp)).await.expect("h2 handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        H2Client { send }
    }

    /// Sends a request without a body; `uri` is absolute, its authority becomes `:authority`.
    pub async fn request(&mut self, method: &str, uri: &str, headers: &[(&str, &str)]) -> H2Response {
        match self.try_request(method, uri, headers, None).await {
            Ok(r) => r,
            Err(e) => panic!("{method} {uri}: {e}"),
        }
    }

    /// Sends a request (with `body` as DATA when given) and reads the whole response; `Err` says
    /// what went wrong (the connection, a reset stream, a wait over [`LIMIT`]) instead of
    /// panicking, for tests where a refusal is an acceptable answer.
    pub async fn try_request(
        &mut self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<H2Response, String> {
        let within = |what: &'static str| move |_| format!("timed out after {LIMIT:?}: {what}");
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (n, v) in headers {
            builder = builder.header(*n, *v);
        }
        let request = builder.body(()).map_err(|e| format!("not a valid request: {e}"))?;
        let ready = tokio::time::timeout(LIMIT, self.send.clone().ready())
            .await
            .map_err(within("h2 ready"))?
            .map_err(|e| format!("the h2 connection: {e}"))?;
        self.send = ready;
        let (response, mut stream) =
            self.send.send_request(request, body.is_none()).map_err(|e| format!("send the h2 request: {e}"))?;
        if let Some(body) = body {
            stream
                .send_data(bytes::Bytes::copy_from_slice(body), true)
                .map_err(|e| format!("send the request body: {e}"))?;
        }
        let response = tokio::time::timeout(LIMIT, response)
            .await
            .map_err(within("h2 response"))?
            .map_err(|e| format!("no h2 response: {e}"))?;
        let (parts, mut body) = response.into_parts();
        let mut bytes = Vec::new();
        while let Some(chunk) = tokio::time::timeout(LIMIT, body.data()).await.map_err(within("h2 body"))? {
            let chunk = chunk.map_err(|e| format!("h2 body after {} bytes: {e}", bytes.len()))?;
            let _ = body.flow_control().release_capacity(chunk.len());
            bytes.extend_from_slice(&chunk);
        }
        Ok(H2Response { status: parts.status.as_u16(), headers: parts.headers, body: bytes })
    }
}
