//! Idle upstream connections, kept per thread: the pool policy of both lanes.
//!
//! Each proxy thread runs its own single-threaded runtime (`server::WORK_STEALING`), and a
//! socket wakes the runtime it was registered with: a connection taken on another thread
//! would cost a cross-thread wake-up per read. So the pool is a thread-local, and a connection
//! only ever serves requests on the thread that opened it. Entries are keyed by the app's id
//! as well, so two gateways in one process (tests) never share a socket.
//!
//! A connection is parked only after an exchange that ended exactly (`response::Head::reusable`
//! and the whole body relayed). While it idles, nothing may arrive: bytes or a close from the
//! upstream while no request is outstanding mean the origin is confused (a body after a
//! bodiless answer, an unsolicited response) or done with the connection, and whatever they
//! are must never become the answer to the next request — maybe another tenant's. nginx and
//! HAProxy close an idle upstream connection on any read event; here the event is noticed when
//! the connection is taken ([`take`]): tokio records a socket's readiness as the event loop
//! sees it, so a `try_read` costs no system call when nothing came, and a connection that shows
//! anything at all is dropped and the next one tried.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// How long an idle connection is kept (pingora's path keeps them as long).
pub const IDLE: Duration = Duration::from_secs(60);
/// Idle connections kept per upstream and thread.
const PER_UPSTREAM: usize = 32;
/// Above this many idle connections on a thread, expired ones are swept on the next put.
const SWEEP_ABOVE: usize = 256;

type Key = (u64, SocketAddr);

#[derive(Default)]
struct Idle {
    by_upstream: HashMap<Key, Vec<(TcpStream, Instant)>, BuildHasherDefault<KeyHasher>>,
    count: usize,
}

/// A cheap hash for pool keys: they come from the configuration, not from clients, so
/// SipHash's protection against chosen keys buys nothing here (and costs two hashes a request).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

thread_local! {
    static POOL: RefCell<Idle> = RefCell::new(Idle::default());
}

/// The most recently parked connection to `addr` that has not idled too long and on which
/// nothing arrived while it idled.
pub fn take(app: u64, addr: SocketAddr) -> Option<TcpStream> {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let list = p.by_upstream.get_mut(&(app, addr))?;
        let mut taken = None;
        let mut dropped = 0;
        while let Some((conn, since)) = list.pop() {
            dropped += 1;
            if since.elapsed() < IDLE && quiet(&conn) {
                taken = Some(conn);
                break;
            }
        }
        p.count -= dropped;
        taken
    })
}

/// Nothing arrived on an idle connection: no bytes, no close, no error. No system call unless
/// the event loop saw the socket become readable.
fn quiet(conn: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(conn.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Parks a connection whose last exchange ended cleanly.
pub fn put(app: u64, addr: SocketAddr, conn: TcpStream) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.count >= SWEEP_ABOVE {
            p.by_upstream.retain(|_, list| {
                list.retain(|(_, since)| since.elapsed() < IDLE);
                !list.is_empty()
            });
            p.count = p.by_upstream.values().map(Vec::len).sum();
        }
        let list = p.by_upstream.entry((app, addr)).or_default();
        if list.len() >= PER_UPSTREAM {
            return;
        }
        list.push((conn, Instant::now()));
        p.count += 1;
    })
}
