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
//!
//! A TLS connection is taken only by an exchange that wants the same trust and name (SNI) it
//! was opened with (`conn::UpstreamConn::serves`): two tenants on one address with different
//! names never share one. A list holds mostly one kind, so the newest entry nearly always fits.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::conn::{Peer, UpstreamConn};

/// How long an idle connection is kept (pingora's path keeps them as long).
pub const IDLE: Duration = Duration::from_secs(60);
/// Idle connections kept per upstream and thread: as many as were busy at once, up to this.
/// An HTTP/2 client has many requests in flight on one connection (32 clients × 10 streams
/// kept 320 upstream exchanges busy), and a pool smaller than that closes the surplus after
/// every answer and opens it again for the next (at 32: 13 000 new origin connections a
/// second). Never more than the recent concurrency is held: what the origin served at once.
const PER_UPSTREAM: usize = 512;
/// Idle connections kept on a thread over all upstreams (file descriptors are finite).
const PER_THREAD: usize = 4096;
/// Above this many idle connections on a thread, expired ones are swept, at most once a
/// [`SWEEP_EVERY`].
const SWEEP_ABOVE: usize = 256;
const SWEEP_EVERY: Duration = Duration::from_secs(1);

type Key = (u64, SocketAddr);

#[derive(Default)]
struct Idle {
    by_upstream: HashMap<Key, Vec<(UpstreamConn, Instant)>, BuildHasherDefault<KeyHasher>>,
    count: usize,
    swept: Option<Instant>,
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

/// The most recently parked connection to `addr` for `peer` (`None`: plain) that has not
/// idled too long and on which nothing arrived while it idled.
pub fn take(app: u64, addr: SocketAddr, peer: Option<&Peer<'_>>) -> Option<UpstreamConn> {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let list = p.by_upstream.get_mut(&(app, addr))?;
        let mut taken = None;
        let mut dropped = 0;
        let mut i = list.len();
        while i > 0 {
            i -= 1;
            if !list[i].0.serves(peer) {
                continue;
            }
            // The newest fitting entry: the last one, unless kinds are mixed on this address.
            let (mut conn, since) = list.remove(i);
            dropped += 1;
            if since.elapsed() < IDLE && conn.quiet() {
                taken = Some(conn);
                break;
            }
        }
        p.count -= dropped;
        taken
    })
}

/// Parks a connection whose last exchange ended cleanly.
pub fn put(app: u64, addr: SocketAddr, conn: UpstreamConn) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let now = Instant::now();
        if p.count >= SWEEP_ABOVE && p.swept.is_none_or(|at| now.duration_since(at) >= SWEEP_EVERY) {
            p.by_upstream.retain(|_, list| {
                list.retain(|(_, since)| now.duration_since(*since) < IDLE);
                !list.is_empty()
            });
            p.count = p.by_upstream.values().map(Vec::len).sum();
            p.swept = Some(now);
        }
        if p.count >= PER_THREAD {
            return;
        }
        let list = p.by_upstream.entry((app, addr)).or_default();
        if list.len() >= PER_UPSTREAM {
            return;
        }
        list.push((conn, now));
        p.count += 1;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpStream;

    #[tokio::test(flavor = "current_thread")]
    async fn as_many_as_were_busy_are_kept_up_to_the_cap_and_the_newest_first() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut accepted = Vec::new();
        let mut conns = Vec::new();
        for _ in 0..PER_UPSTREAM + 20 {
            let conn = TcpStream::connect(addr).await.expect("connect");
            accepted.push(listener.accept().await.expect("accept").0);
            conns.push(conn);
        }
        let ports: Vec<u16> = conns.iter().map(|c| c.local_addr().expect("local").port()).collect();
        // More were busy at once than the cap (an HTTP/2 client has many streams in flight).
        const APP: u64 = 0x5eed;
        for conn in conns {
            put(APP, addr, UpstreamConn::Plain(conn));
        }
        let mut taken = Vec::new();
        while let Some(conn) = take(APP, addr, None) {
            let UpstreamConn::Plain(conn) = conn else { panic!("parked plain") };
            taken.push(conn.local_addr().expect("local").port());
        }
        assert_eq!(taken.len(), PER_UPSTREAM, "kept up to the cap, the surplus closed");
        assert_eq!(taken[0], ports[PER_UPSTREAM - 1], "the most recently parked first");
        // Another app's key never sees them.
        assert!(take(APP + 1, addr, None).is_none());
    }
}
