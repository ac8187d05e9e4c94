//! Backpressure, with the real binary: a slow client slows its origin and a slow origin slows
//! its client, in every direction a body or a tunnel takes (HTTP/1.1 download and upload, both
//! directions of a WebSocket tunnel, h2c download and upload). Each test floods 256 MiB at a
//! peer that reads nothing and checks that (1) the sender is blocked after a bounded amount
//! (what the kernel's socket buffers on the path can hold, plus a little), (2) the gateway's
//! peak RSS (`VmHWM`, reset first) grows by less than [`RSS_GROWTH_KIB`], and (3) the path is
//! alive: once the peer reads, the sender moves on.
//!
//! Waits are polls with deadlines ("the sender stopped moving" has no signal to wait for); every
//! flood is bounded in bytes and time.

use crate::control::TempDir;
use crate::gateway_support::bounded;
use crate::lifecycle::{write_config, Running};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

/// What each flood offers: far more than every buffer on the path together.
const FLOOD: u64 = 256 * 1024 * 1024;
/// What the gateway's peak RSS may grow by while a flood is blocked (issue 16: 8 MiB).
const RSS_GROWTH_KIB: u64 = 8 * 1024;
/// The socket buffers the test's own peers ask for (the gateway's are the kernel's choice).
const PEER_BUFFER: u32 = 64 * 1024;
/// Bytes written per write by the flooding peers.
const PIECE: usize = 64 * 1024;

/// The most a loopback path through the gateway may hold with nobody reading at its end: the
/// gateway's two sockets at their largest (`tcp_rmem` and `tcp_wmem` maxima, autotuned by the
/// kernel), the peers' own (fixed) buffers, and 2 MiB for the gateway's and the kernel's
/// rounding. The flood is far beyond this.
fn allowance() -> u64 {
    let max = |file: &str| {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        text.split_whitespace().nth(2).and_then(|v| v.parse::<u64>().ok()).unwrap_or(6 * 1024 * 1024)
    };
    max("/proc/sys/net/ipv4/tcp_rmem") + max("/proc/sys/net/ipv4/tcp_wmem") + 4 * PEER_BUFFER as u64 + 2 * 1024 * 1024
}

/// Waits (polling, bounded) until `counter` has not moved for half a second; its value then.
async fn stalled(what: &str, counter: &AtomicU64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = counter.load(Ordering::Relaxed);
    let mut still_since = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = counter.load(Ordering::Relaxed);
        if now != last {
            (last, still_since) = (now, Instant::now());
        } else if still_since.elapsed() >= Duration::from_millis(500) && now > 0 {
            return now;
        }
    }
    panic!("{what} never stopped moving within 30 s (at {last} bytes)");
}

/// Waits (polling, bounded) until `counter` reaches `at_least`.
async fn reaches(what: &str, counter: &AtomicU64, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while counter.load(Ordering::Relaxed) < at_least {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {at_least} bytes after 30 s",
            counter.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The gateway binary with one tenant `a.test` on `origin`, warmed up by one request.
struct Gateway {
    running: Running,
    addr: SocketAddr,
    /// The RSS (kB) once warmed up, when the peak was reset.
    before: u64,
    _dir: TempDir,
}

impl Gateway {
    async fn start(name: &str, origin: SocketAddr) -> Gateway {
        let dir = TempDir::new(name);
        let config = write_config(&dir, "127.0.0.1:0", origin);
        let running = Running::start(&["run", "--config", &config]);
        let addr = running.listening();
        let mut warm = connect_small(addr).await;
        warm.write_all(b"GET /warm HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n").await.expect("warm up");
        let mut answer = Vec::new();
        bounded("the warm-up answer", warm.read_to_end(&mut answer)).await.expect("read the warm-up answer");
        assert!(answer.starts_with(b"HTTP/1.1 200 "), "{}", String::from_utf8_lossy(&answer));
        running.reset_peak();
        let before = running.kib("VmRSS:");
        Gateway { addr, running, before, _dir: dir }
    }

    /// Asserts the peak RSS grew by less than [`RSS_GROWTH_KIB`] since `start`.
    fn assert_flat(&self, what: &str) {
        let grew = self.running.kib("VmHWM:").saturating_sub(self.before);
        eprintln!("{what}: peak RSS +{grew} KiB");
        assert!(grew < RSS_GROWTH_KIB, "{what}: the gateway's peak RSS grew by {grew} KiB");
    }
}

/// A client connection with a small, fixed receive buffer (no autotuning).
async fn connect_small(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(PEER_BUFFER).expect("SO_RCVBUF");
    socket.set_send_buffer_size(PEER_BUFFER).expect("SO_SNDBUF");
    bounded("connect", socket.connect(addr)).await.expect("connect to the gateway")
}

/// What the flooding origin counts, and the gate that lets it read.
#[derive(Debug, Default)]
struct Counts {
    /// Bytes the origin's socket accepted from it.
    written: AtomicU64,
    /// Bytes the origin read.
    read: AtomicU64,
}

/// An origin on a socket with small, fixed buffers. Per path: `/warm` answers `ok`;
/// `/download` answers 200 with a [`FLOOD`] body; `/upload` reads its body only once `reading`
/// says so; `/ws-down` switches to a tunnel and floods it; `/ws-up` switches and reads only
/// once `reading` says so; `/ws-both` switches, floods and reads everything at once.
struct FloodOrigin {
    addr: SocketAddr,
    counts: Arc<Counts>,
    reading: watch::Sender<bool>,
}

impl FloodOrigin {
    async fn start() -> FloodOrigin {
        let socket = TcpSocket::new_v4().expect("socket");
        // Accepted sockets inherit these (Linux).
        socket.set_recv_buffer_size(PEER_BUFFER).expect("SO_RCVBUF");
        socket.set_send_buffer_size(PEER_BUFFER).expect("SO_SNDBUF");
        socket.bind("127.0.0.1:0".parse().expect("address")).expect("bind the origin");
        let listener: TcpListener = socket.listen(64).expect("listen");
        let addr = listener.local_addr().expect("address");
        let counts = Arc::new(Counts::default());
        let (reading, gate) = watch::channel(false);
        let shared = counts.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, shared.clone(), gate.clone()));
            }
        });
        FloodOrigin { addr, counts, reading }
    }

    fn start_reading(&self) {
        self.reading.send_replace(true);
    }
}

const SWITCH: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

async fn serve(mut conn: TcpStream, counts: Arc<Counts>, gate: watch::Receiver<bool>) {
    let mut head = Vec::new();
    let mut piece = vec![0u8; PIECE];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut piece).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&piece[..n]),
        }
    }
    let path = String::from_utf8_lossy(&head).split(' ').nth(1).unwrap_or("").to_string();
    let (mut rd, mut wr) = conn.into_split();
    match path.as_str() {
        "/download" => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {FLOOD}\r\n\r\n");
            if wr.write_all(head.as_bytes()).await.is_ok() {
                flood(&mut wr, &counts.written).await;
            }
        }
        "/upload" => {
            sink(&mut rd, &counts.read, gate).await;
        }
        "/ws-down" => {
            if wr.write_all(SWITCH).await.is_ok() {
                flood(&mut wr, &counts.written).await;
            }
        }
        "/ws-up" => {
            if wr.write_all(SWITCH).await.is_ok() {
                sink(&mut rd, &counts.read, gate).await;
            }
        }
        "/ws-both" => {
            if wr.write_all(SWITCH).await.is_ok() {
                let (open, gate) = watch::channel(true);
                drop(open);
                tokio::join!(flood(&mut wr, &counts.written), sink(&mut rd, &counts.read, gate));
            }
        }
        _ => {
            let _ = wr.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n").await;
        }
    }
}

/// Writes up to [`FLOOD`] bytes, counting what the socket accepts, until a write fails.
async fn flood<W: AsyncWriteExt + Unpin>(w: &mut W, written: &AtomicU64) {
    let piece = vec![b'x'; PIECE];
    let mut left = FLOOD;
    while left > 0 {
        let want = (left as usize).min(PIECE);
        match w.write(&piece[..want]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                left -= n as u64;
                written.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    }
}

/// Reads nothing until `gate` says so (or its sender is gone), then everything, counting.
async fn sink<R: AsyncReadExt + Unpin>(r: &mut R, read: &AtomicU64, mut gate: watch::Receiver<bool>) {
    let _ = gate.wait_for(|open| *open).await;
    let mut piece = vec![0u8; PIECE];
    loop {
        match r.read(&mut piece).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                read.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    }
}

/// Reads and drops `n` bytes (bounded in time).
async fn read_some<R: AsyncReadExt + Unpin>(what: &str, r: &mut R, n: u64) {
    let read = async {
        let mut piece = vec![0u8; PIECE];
        let mut got = 0u64;
        while got < n {
            match r.read(&mut piece).await {
                Ok(0) | Err(_) => return got,
                Ok(k) => got += k as u64,
            }
        }
        got
    };
    let got = tokio::time::timeout(Duration::from_secs(30), read).await.unwrap_or(0);
    assert!(got >= n, "{what}: read {got} of {n} bytes");
}

/// Reads a response or `101` head from `conn`; its first line. What came after it is dropped
/// (the test counts bytes, not contents).
async fn read_head(conn: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    bounded("a head", async {
        while !head.ends_with(b"\r\n\r\n") {
            let n = conn.read(&mut byte).await.expect("read a head");
            assert!(n > 0, "closed before a head: {:?}", String::from_utf8_lossy(&head));
            head.push(byte[0]);
        }
    })
    .await;
    String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string()
}

/// Asserts that `sent` (what a flooding peer got rid of) is bounded.
fn assert_blocked(what: &str, sent: u64) {
    let allowed = allowance();
    eprintln!("{what}: blocked after {} KiB (allowed {} KiB)", sent >> 10, allowed >> 10);
    assert!(
        sent < allowed,
        "{what}: {} MiB went before the sender was blocked (allowed {} MiB)",
        sent >> 20,
        allowed >> 20
    );
}

const UPGRADE: &str = "HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_nothing_blocks_its_download_at_the_origin() {
    let origin = FloodOrigin::start().await;
    let gw = Gateway::start("bp-download", origin.addr).await;
    let mut client = connect_small(gw.addr).await;
    client.write_all(b"GET /download HTTP/1.1\r\nHost: a.test\r\n\r\n").await.expect("ask");
    let written = stalled("the origin's download", &origin.counts.written).await;
    assert_blocked("a download nobody reads", written);
    gw.assert_flat("a download nobody reads");
    // Alive: what the client reads lets the origin go on by about as much.
    assert!(read_head(&mut client).await.starts_with("HTTP/1.1 200 "));
    read_some("the download", &mut client, 32 << 20).await;
    reaches("the origin after the client read 32 MiB", &origin.counts.written, written + (16 << 20)).await;
    gw.assert_flat("a download read slowly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_reads_nothing_blocks_the_clients_upload() {
    let origin = FloodOrigin::start().await;
    let gw = Gateway::start("bp-upload", origin.addr).await;
    let client = connect_small(gw.addr).await;
    let (_rd, mut wr) = client.into_split();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let upload = tokio::spawn(async move {
        let head = format!("POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: {FLOOD}\r\n\r\n");
        if wr.write_all(head.as_bytes()).await.is_ok() {
            flood(&mut wr, &counter).await;
        }
    });
    let accepted = stalled("the client's upload", &sent).await;
    assert_blocked("an upload the origin does not read", accepted);
    assert_eq!(origin.counts.read.load(Ordering::Relaxed), 0, "the origin has read nothing yet");
    gw.assert_flat("an upload the origin does not read");
    origin.start_reading();
    reaches("the client's upload once the origin reads", &sent, accepted + (32 << 20)).await;
    gw.assert_flat("an upload read slowly");
    upload.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_blocks_each_direction_at_its_sender() {
    let origin = FloodOrigin::start().await;
    let gw = Gateway::start("bp-tunnel", origin.addr).await;

    // Down: the origin floods, the client reads nothing.
    let mut down = connect_small(gw.addr).await;
    down.write_all(format!("GET /ws-down {UPGRADE}").as_bytes()).await.expect("upgrade");
    assert!(read_head(&mut down).await.starts_with("HTTP/1.1 101 "));
    let written = stalled("the origin's side of the tunnel", &origin.counts.written).await;
    assert_blocked("a tunnel whose client reads nothing", written);
    gw.assert_flat("a tunnel whose client reads nothing");
    read_some("the tunnel down", &mut down, 32 << 20).await;
    reaches("the origin after the client read 32 MiB", &origin.counts.written, written + (16 << 20)).await;
    drop(down);

    // Up: the client floods, the origin reads nothing.
    let up = connect_small(gw.addr).await;
    let (mut rd, mut wr) = up.into_split();
    wr.write_all(format!("GET /ws-up {UPGRADE}").as_bytes()).await.expect("upgrade");
    let mut head = vec![0u8; SWITCH.len() + 64];
    let n = bounded("the 101", rd.read(&mut head)).await.expect("read the 101");
    assert!(head[..n].starts_with(b"HTTP/1.1 101 "), "{}", String::from_utf8_lossy(&head[..n]));
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let flooding = tokio::spawn(async move { flood(&mut wr, &counter).await });
    let accepted = stalled("the client's side of the tunnel", &sent).await;
    assert_blocked("a tunnel whose origin reads nothing", accepted);
    gw.assert_flat("a tunnel whose origin reads nothing");
    origin.start_reading();
    reaches("the client once the origin reads", &sent, accepted + (32 << 20)).await;
    flooding.abort();
    gw.assert_flat("both directions of a tunnel");
}

/// A blocked direction holds up only itself: the client uploads while the origin floods a
/// download the client does not read; the upload goes on to its end (as it would without the
/// gateway between them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_tunnel_direction_does_not_stop_the_other() {
    const UP: u64 = 64 << 20;
    let origin = FloodOrigin::start().await;
    let gw = Gateway::start("bp-tunnel-both", origin.addr).await;
    let client = connect_small(gw.addr).await;
    let (mut rd, mut wr) = client.into_split();
    wr.write_all(format!("GET /ws-both {UPGRADE}").as_bytes()).await.expect("upgrade");
    let mut head = vec![0u8; SWITCH.len()];
    bounded("the 101", rd.read_exact(&mut head)).await.expect("read the 101");
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{}", String::from_utf8_lossy(&head));
    // The download fills every buffer towards the client, who does not read it.
    stalled("the origin's download", &origin.counts.written).await;
    let piece = vec![b'u'; PIECE];
    let upload = async {
        let mut sent = 0u64;
        while sent < UP {
            wr.write_all(&piece).await.expect("upload");
            sent += PIECE as u64;
        }
    };
    let went = tokio::time::timeout(Duration::from_secs(30), upload).await;
    assert!(
        went.is_ok(),
        "the upload stopped: {} of {UP} bytes read by the origin",
        origin.counts.read.load(Ordering::Relaxed)
    );
    reaches("the origin reads the whole upload", &origin.counts.read, UP).await;
    drop(rd);
}

/// A stream of an h2c connection whose client stopped reading the connection: the client
/// offers a huge flow-control window, so only the gateway's own bound on a stream's send
/// buffer (and TCP) holds the download back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2c_client_that_stops_reading_blocks_its_download_at_the_origin() {
    let origin = FloodOrigin::start().await;
    let gw = Gateway::start("bp-h2c-download", origin.addr).await;
    let tcp = connect_small(gw.addr).await;
    let (mut send, mut connection) = bounded(
        "h2 handshake",
        h2::client::Builder::new()
            .initial_window_size(1 << 30)
            .initial_connection_window_size(1 << 30)
            .handshake::<_, bytes::Bytes>(tcp),
    )
    .await
    .expect("h2 handshake");
    // The connection is driven until `pause` says stop; then it is kept, not polled: nothing
    // more is read from the socket.
    let (pause, mut paused) = watch::channel(false);
    let (_hold, mut held) = watch::channel(());
    let driver = tokio::spawn(async move {
        tokio::select! {
            _ = &mut connection => return,
            _ = paused.wait_for(|p| *p) => {}
        }
        let _ = held.changed().await;
        drop(connection);
    });
    let uri = format!("http://a.test:{}/download", gw.addr.port());
    let request = http::Request::builder().uri(uri).body(()).expect("a request");
    send = bounded("h2 ready", send.ready()).await.expect("ready");
    let (response, _) = send.send_request(request, true).expect("send the request");
    let response = bounded("the response head", response).await.expect("a response");
    assert_eq!(response.status(), 200);
    pause.send_replace(true);
    let written = stalled("the origin's download over h2c", &origin.counts.written).await;
    assert_blocked("an h2c download nobody reads", written);
    gw.assert_flat("an h2c download nobody reads");
    driver.abort();
}

/// An h2c upload that the origin does not read: the gateway stops taking DATA, and the client's
/// flow-control window stays closed (the client sends only what it was given room for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_reads_nothing_blocks_an_h2c_upload() {
    let origin = FloodOrigin::start().await;
    let gw = Gateway::start("bp-h2c-upload", origin.addr).await;
    let tcp = connect_small(gw.addr).await;
    let (send, connection) = bounded("h2 handshake", h2::client::handshake(tcp)).await.expect("h2 handshake");
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let uri = format!("http://a.test:{}/upload", gw.addr.port());
    let request =
        http::Request::builder().method("POST").uri(uri).header("content-length", FLOOD).body(()).expect("a request");
    let mut send = bounded("h2 ready", send.ready()).await.expect("ready");
    let (_response, mut stream) = send.send_request(request, false).expect("send the request");
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let upload = tokio::spawn(async move {
        let piece = bytes::Bytes::from(vec![b'u'; PIECE]);
        let mut left = FLOOD;
        while left > 0 {
            stream.reserve_capacity((left as usize).min(PIECE));
            let Some(Ok(room)) = std::future::poll_fn(|cx| stream.poll_capacity(cx)).await else { return };
            let n = room.min(left as usize).min(PIECE);
            if stream.send_data(piece.slice(..n), left == n as u64).is_err() {
                return;
            }
            left -= n as u64;
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    let accepted = stalled("the h2c upload", &sent).await;
    assert_blocked("an h2c upload the origin does not read", accepted);
    gw.assert_flat("an h2c upload the origin does not read");
    origin.start_reading();
    reaches("the h2c upload once the origin reads", &sent, accepted + (32 << 20)).await;
    gw.assert_flat("an h2c upload read slowly");
    upload.abort();
    driver.abort();
}
