//! The load benchmark's WebSocket row (`benches/load/run.sh`, scenario `ws`): an echo origin and
//! a bounded client in one small binary, the same for every proxy under test.
//!
//!   ws-bench origin --listen 127.0.0.1:9000
//!   ws-bench client --connect 127.0.0.1:8000 [--host ws.localhost] [--path /ws] [--connections 32]
//!                   [--messages 1000] [--size 32] [--duration 7] [--max-messages 20000000]
//!
//! The client opens `--connections` connections, each a loop of sessions until `--duration`
//! seconds have passed (or `--max-messages` went, over all): upgrade, then `--messages` masked
//! text frames of `--size` bytes, each sent when the echo of the one before has come back
//! (ping-pong, as wrk's requests), then a close frame. It prints messages per second in wrk's
//! words (`Requests/sec:`), latency percentiles and errors, for run.sh to parse.
//!
//! The origin answers an upgrade of the RFC 6455 sample key (the only key the client sends) with
//! its accept value, echoes every data frame unmasked, answers a ping with a pong and a close
//! with a close. Any other GET gets `200`, `/origin-status` the connections it accepted in
//! nginx's `stub_status` layout (run.sh counts origin connections that way). Framing (RFC 6455
//! §5.2) is written here: a benchmark needs a few dozen lines of it, not a crate.
//!
//! Both sides run one thread (tokio's current-thread runtime), as nginx's origin runs one worker.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// RFC 6455 §1.3's sample key and its accept value: the one upgrade this benchmark makes.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The largest head and the largest frame either side takes.
const MAX_HEAD: usize = 16 * 1024;
const MAX_PAYLOAD: u64 = 1024 * 1024;

const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ws-bench: no runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let done = match args.first().map(String::as_str) {
        Some("origin") => Options::parse(&args[1..]).and_then(|o| runtime.block_on(origin(o))),
        Some("client") => Options::parse(&args[1..]).and_then(|o| runtime.block_on(client(o))),
        _ => Err("usage: ws-bench origin --listen ADDR | ws-bench client --connect ADDR [options]".into()),
    };
    match done {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ws-bench: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// The command line of either side.
#[derive(Debug, Clone)]
struct Options {
    addr: Option<SocketAddr>,
    host: String,
    path: String,
    connections: usize,
    messages: usize,
    size: usize,
    duration: Duration,
    max_messages: u64,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            addr: None,
            host: "ws.localhost".into(),
            path: "/ws".into(),
            connections: 32,
            messages: 1000,
            size: 32,
            duration: Duration::from_secs(7),
            max_messages: 20_000_000,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || value.parse::<u64>().map_err(|_| format!("{flag}: not a number: {value}"));
            match flag.as_str() {
                "--listen" | "--connect" => o.addr = Some(value.parse().map_err(|_| format!("{flag}: {value}"))?),
                "--host" => o.host = value.clone(),
                "--path" => o.path = value.clone(),
                "--connections" => o.connections = number()?.clamp(1, 10_000) as usize,
                "--messages" => o.messages = number()?.clamp(1, 1_000_000) as usize,
                "--size" => o.size = number()?.clamp(1, 65_535) as usize,
                "--duration" => o.duration = Duration::from_secs(number()?.clamp(1, 600)),
                "--max-messages" => o.max_messages = number()?.max(1),
                _ => return Err(format!("unknown argument {flag}")),
            }
        }
        if o.addr.is_none() {
            return Err("--listen (origin) or --connect (client) is required".into());
        }
        Ok(o)
    }
}

// ------------------------------------------------------------------------------------- framing

/// A frame's header: `(fin and opcode byte, payload length, mask key, header length)`, or
/// `None` while `buf` does not hold all of it.
fn frame_header(buf: &[u8]) -> Option<(u8, u64, Option<[u8; 4]>, usize)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let (len, mut at) = match b1 & 0x7f {
        126 => (u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as u64, 4),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (n as u64, 2),
    };
    let mask = if b1 & 0x80 != 0 {
        let key: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(key)
    } else {
        None
    };
    Some((b0, len, mask, at))
}

/// Appends a frame with `payload`, masked with `mask` when given (a client's frames are).
fn put_frame(out: &mut Vec<u8>, fin_opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    out.push(fin_opcode);
    let bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(bit | n as u8),
        n if n <= u16::MAX as usize => {
            out.push(bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
}

/// Reads from `conn` into `buf` until it holds a head; the head's length.
async fn read_head(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(at + 4));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        if !read_more(conn, buf).await? {
            return Ok(None);
        }
    }
}

/// One read appended to `buf`; `false` at the end of the stream.
async fn read_more(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let at = buf.len();
    buf.resize(at + 16 * 1024, 0);
    let n = conn.read(&mut buf[at..]).await?;
    buf.truncate(at + n);
    Ok(n > 0)
}

// -------------------------------------------------------------------------------------- origin

async fn origin(o: Options) -> Result<(), String> {
    let addr = o.addr.ok_or("--listen is required")?;
    let listener = TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("ws-bench origin: listening on {}", listener.local_addr().map_err(|e| e.to_string())?);
    let accepted = Arc::new(AtomicU64::new(0));
    loop {
        let Ok((conn, _)) = listener.accept().await else { continue };
        let _ = conn.set_nodelay(true);
        accepted.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(serve(conn, accepted.clone()));
    }
}

/// Requests on one origin connection, then the echo once upgraded.
async fn serve(mut conn: TcpStream, accepted: Arc<AtomicU64>) {
    let mut buf = Vec::with_capacity(4096);
    loop {
        let Ok(Some(len)) = read_head(&mut conn, &mut buf).await else { return };
        let head = String::from_utf8_lossy(&buf[..len]).to_ascii_lowercase();
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let field = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')).map(|v| v.trim().to_string()))
        };
        let upgrade = field("upgrade").is_some_and(|u| u == "websocket");
        let key_ok = field("sec-websocket-key").is_some_and(|k| k == KEY.to_ascii_lowercase());
        // Bodies are not expected here: a request with one is answered and the connection closed.
        let bodied = field("content-length").is_some_and(|v| v != "0") || field("transfer-encoding").is_some();
        buf.drain(..len);
        if upgrade && key_ok {
            let switch = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n"
            );
            if conn.write_all(switch.as_bytes()).await.is_ok() {
                echo(&mut conn, buf).await;
            }
            return;
        }
        let (status, body) = match (upgrade, path.as_str()) {
            (true, _) => ("400 Bad Request", "only the RFC 6455 sample key is served\n".to_string()),
            (false, "/origin-status") => {
                let n = accepted.load(Ordering::Relaxed);
                ("200 OK", format!("Active connections: 0 \nserver accepts handled requests\n {n} {n} {n} \n"))
            }
            _ => ("200 OK", "ws echo origin\n".to_string()),
        };
        let close = upgrade || bodied;
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        if conn.write_all(answer.as_bytes()).await.is_err() || close {
            return;
        }
    }
}

/// Echoes every frame that arrives (unmasked), a pong for a ping, a close for a close; the
/// frames in one read go back in one write.
async fn echo(conn: &mut TcpStream, mut buf: Vec<u8>) {
    let mut out = Vec::with_capacity(4096);
    let mut payload = Vec::new();
    loop {
        let mut at = 0;
        let mut closing = false;
        while let Some((b0, len, mask, head)) = frame_header(&buf[at..]) {
            if len > MAX_PAYLOAD {
                return;
            }
            let end = at + head + len as usize;
            if buf.len() < end {
                break;
            }
            payload.clear();
            payload.extend_from_slice(&buf[at + head..end]);
            if let Some(key) = mask {
                payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= key[i % 4]);
            }
            let reply = match b0 & 0x0f {
                PING => 0x80 | PONG,
                CLOSE => {
                    closing = true;
                    0x80 | CLOSE
                }
                PONG => 0,
                _ => b0,
            };
            if reply != 0 {
                put_frame(&mut out, reply, &payload, None);
            }
            at = end;
            if closing {
                break;
            }
        }
        buf.drain(..at);
        if !out.is_empty() {
            if conn.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if closing || !matches!(read_more(conn, &mut buf).await, Ok(true)) {
            return;
        }
    }
}

// -------------------------------------------------------------------------------------- client

/// What one connection's loop did.
#[derive(Debug, Default)]
struct Tally {
    messages: u64,
    sessions: u64,
    errors: u64,
    /// Round trip of each message, in microseconds.
    latencies: Vec<u32>,
}

async fn client(o: Options) -> Result<(), String> {
    let addr = o.addr.ok_or("--connect is required")?;
    let started = Instant::now();
    let deadline = started + o.duration;
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for k in 0..o.connections {
        let (o, sent) = (o.clone(), sent.clone());
        tasks.push(tokio::spawn(async move { connection_loop(addr, &o, deadline, &sent, k as u32 + 1).await }));
    }
    let mut all = Tally::default();
    for t in tasks {
        let t = t.await.map_err(|e| format!("a connection task failed: {e}"))?;
        all.messages += t.messages;
        all.sessions += t.sessions;
        all.errors += t.errors;
        all.latencies.extend(t.latencies);
    }
    let took = started.elapsed().as_secs_f64();
    all.latencies.sort_unstable();
    let pct = |p: f64| {
        let n = all.latencies.len();
        if n == 0 {
            return 0.0;
        }
        all.latencies[((n as f64 * p).ceil() as usize).clamp(1, n) - 1] as f64 / 1000.0
    };
    println!("{} messages of {} bytes echoed in {took:.2}s over {} connections", all.messages, o.size, o.connections);
    println!("Requests/sec: {:.2}", all.messages as f64 / took);
    println!("Latency p50: {:.3} ms  p99: {:.3} ms", pct(0.50), pct(0.99));
    println!("Sessions: {} (upgrade, {} messages, close)", all.sessions, o.messages);
    println!("Errors: {}", all.errors);
    Ok(())
}

/// Sessions on fresh connections, one after the other, until the deadline or the message bound.
async fn connection_loop(addr: SocketAddr, o: &Options, deadline: Instant, sent: &AtomicU64, seed: u32) -> Tally {
    let mut tally = Tally::default();
    let mut rng = seed.wrapping_mul(2_654_435_761) | 1;
    while Instant::now() < deadline && sent.load(Ordering::Relaxed) < o.max_messages {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(
            left + Duration::from_secs(2),
            session(addr, o, deadline, sent, &mut rng, &mut tally),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => {
                tally.errors += 1;
                // Not a busy loop against a proxy that refuses.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tally
}

/// One session: upgrade, ping-pong of `o.messages` frames (fewer when the deadline comes), close.
async fn session(
    addr: SocketAddr,
    o: &Options,
    deadline: Instant,
    sent: &AtomicU64,
    rng: &mut u32,
    tally: &mut Tally,
) -> Result<(), String> {
    let mut conn = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let _ = conn.set_nodelay(true);
    let upgrade = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        o.path, o.host
    );
    conn.write_all(upgrade.as_bytes()).await.map_err(|e| format!("upgrade: {e}"))?;
    let mut buf = Vec::with_capacity(4096);
    let len = read_head(&mut conn, &mut buf).await.map_err(|e| format!("101: {e}"))?.ok_or("no 101 head")?;
    if !buf.starts_with(b"HTTP/1.1 101 ") {
        return Err(format!("not a 101: {}", String::from_utf8_lossy(&buf[..len.min(80)])));
    }
    buf.drain(..len);
    let payload = vec![b'm'; o.size];
    let mut out = Vec::with_capacity(o.size + 16);
    for _ in 0..o.messages {
        if Instant::now() >= deadline || sent.fetch_add(1, Ordering::Relaxed) >= o.max_messages {
            break;
        }
        *rng ^= *rng << 13;
        *rng ^= *rng >> 17;
        *rng ^= *rng << 5;
        out.clear();
        put_frame(&mut out, 0x80 | TEXT, &payload, Some(rng.to_be_bytes()));
        let t0 = Instant::now();
        conn.write_all(&out).await.map_err(|e| format!("send: {e}"))?;
        let (b0, got) = read_frame(&mut conn, &mut buf).await?;
        if b0 != 0x80 | TEXT || got != payload {
            return Err("the echo differs from the message".into());
        }
        tally.latencies.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
        tally.messages += 1;
    }
    out.clear();
    put_frame(&mut out, 0x80 | CLOSE, &1000u16.to_be_bytes(), Some(rng.to_be_bytes()));
    conn.write_all(&out).await.map_err(|e| format!("close: {e}"))?;
    let (b0, _) = read_frame(&mut conn, &mut buf).await?;
    if b0 & 0x0f != CLOSE {
        return Err("no close frame back".into());
    }
    tally.sessions += 1;
    Ok(())
}

/// The next frame from `conn` (an origin's: unmasked); its first byte and payload.
async fn read_frame(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(u8, Vec<u8>), String> {
    loop {
        if let Some((b0, len, None, head)) = frame_header(buf) {
            if len > MAX_PAYLOAD {
                return Err("an echo frame too large".into());
            }
            let end = head + len as usize;
            if buf.len() >= end {
                let payload = buf[head..end].to_vec();
                buf.drain(..end);
                return Ok((b0, payload));
            }
        } else if frame_header(buf).is_some() {
            return Err("a masked frame from the origin".into());
        }
        if !read_more(conn, buf).await.map_err(|e| format!("read: {e}"))? {
            return Err("closed before the echo".into());
        }
    }
}
