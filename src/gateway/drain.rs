//! Draining: what a graceful stop does with the connections the gateway still has (SIGTERM, and
//! the old process of an upgrade once it has handed its listeners over).
//!
//! Pingora stops accepting and flips every connection's shutdown watch, and the process calls
//! [`Drain::begin`]; from then on each lane answers with `Connection: close` (HTTP/1.1) or
//! GOAWAY (h2c), and an HTTP/1.1 connection idle between requests for [`IDLE_BEFORE_CLOSING`]
//! is closed. [`Drain`] counts the open client connections, so the process can leave as soon
//! as the last one is done instead of sleeping the whole grace period, and at the end of the
//! grace period it tells the requests still waiting for an upstream to give up
//! ([`Drain::expire`], seen within [`EXPIRY_CHECK`]): their clients get a 503 page that says the
//! gateway is restarting rather than a bare close.
//!
//! None of this costs a request anything while no stop is under way: a request reads two
//! flags, and only a connection idle for a while registers to be woken by a stop.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// During a stop, an HTTP/1.1 connection idle between requests this long is closed: a client
/// that is busy sends its next request at once and gets its answer with `Connection: close`.
/// Closing a connection that has just been answered would race with a request already on its
/// way (the client sees a reset and cannot tell whether it was served). Also how long a
/// connection idles before it registers to be woken by a stop (a busy one never does).
pub const IDLE_BEFORE_CLOSING: Duration = Duration::from_millis(500);

/// How often a request waiting for its upstream's answer looks whether the grace period of a
/// stop has ended (a timer it has anyway; within [`LAST_WORDS`]).
pub const EXPIRY_CHECK: Duration = Duration::from_millis(250);

/// How long answers of requests cut at the end of the grace period may take to be written.
pub const LAST_WORDS: Duration = Duration::from_secs(2);

/// A wait of at most `limit`, taken in steps of [`EXPIRY_CHECK`] so that the end of a stop's
/// grace period is seen on the waiter's own timer (no registration with the drain).
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    limit: Duration,
    waited: Duration,
}

/// What a step of [`Patience`] that ran out means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lapse {
    /// Wait another step.
    Again,
    /// The grace period of a stop is over: give up with a 503.
    Stopped,
    /// `limit` has passed: a timeout.
    Over,
}

impl Patience {
    pub fn new(limit: Duration) -> Patience {
        Patience { limit, waited: Duration::ZERO }
    }

    /// How long the next step may wait.
    pub fn step(&self) -> Duration {
        self.limit.saturating_sub(self.waited).min(EXPIRY_CHECK)
    }

    /// A step ran out with nothing to show.
    pub fn lapsed(&mut self, drain: Option<&Drain>) -> Lapse {
        let step = self.step();
        if drain.is_some_and(Drain::is_expired) {
            Lapse::Stopped
        } else if self.waited + step < self.limit {
            self.waited += step;
            Lapse::Again
        } else {
            Lapse::Over
        }
    }

    /// Something arrived: the full `limit` again.
    pub fn reset(&mut self) {
        self.waited = Duration::ZERO;
    }
}

/// Open client connections, the start of a stop and the end of its grace period, shared by
/// every connection.
#[derive(Debug, Default)]
pub struct Drain {
    closing: AtomicBool,
    open: AtomicUsize,
    /// Of the open connections, those on the h2c lane (the rest are HTTP/1.x), for the
    /// `hiatus_open_connections{protocol}` gauge.
    h2c: AtomicUsize,
    expired: AtomicBool,
}

/// Every thread's wake-up for drain events ([`WAKE`]), for [`wake_all`].
static THREADS: Mutex<Vec<&'static Notify>> = Mutex::new(Vec::new());

thread_local! {
    /// This thread's wake-up for drain events. Every proxied request and every idle keep-alive
    /// wait registers with one, so it is one per thread: a mutex no other core touches (one
    /// `Notify` for the process would be a lock both cores take twice per request). Made on a
    /// thread's first wait and kept (a few dozen bytes per thread that ever waited).
    static WAKE: &'static Notify = {
        let wake: &'static Notify = Box::leak(Box::new(Notify::new()));
        THREADS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(wake);
        wake
    };
}

fn wake_all() {
    for wake in THREADS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
        wake.notify_waiters();
    }
}

/// Resolves once `flag` is set (and [`wake_all`] called after setting it).
async fn until(flag: &AtomicBool) {
    let wake = WAKE.with(|w| *w);
    loop {
        // Made before the check: `notify_waiters` reaches every `Notified` that exists when it
        // is called, polled or not.
        let woken = wake.notified();
        if flag.load(Ordering::Acquire) {
            return;
        }
        woken.await;
    }
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every connection finished within the grace period.
    Finished,
    /// The grace period ended with connections open; they were told to give up.
    Expired { open: usize },
}

impl Drain {
    pub fn new() -> Arc<Drain> {
        Arc::new(Drain::default())
    }

    /// Counts a client connection as open until the guard is dropped.
    pub fn open(self: &Arc<Self>) -> Open {
        self.open.fetch_add(1, Ordering::Relaxed);
        crate::memory::connection_opened();
        Open { drain: self.clone(), h2c: false }
    }

    /// A graceful stop began: answers from now on close their connection, idle ones close.
    pub fn begin(&self) {
        if !self.closing.swap(true, Ordering::AcqRel) {
            wake_all();
        }
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    /// Resolves once [`Drain::begin`] was called.
    pub async fn closing(&self) {
        until(&self.closing).await;
    }

    /// Client connections open now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Client connections open now, (HTTP/1.x, h2c). Two loads, not one snapshot: a scrape
    /// may see a connection that is becoming h2c in neither or both for a moment.
    pub fn open_by_lane(&self) -> (usize, usize) {
        let h2c = self.h2c.load(Ordering::Relaxed);
        (self.open_connections().saturating_sub(h2c), h2c)
    }

    /// The grace period is over: every request waiting for an upstream gives up (within
    /// [`EXPIRY_CHECK`]).
    pub fn expire(&self) {
        self.expired.store(true, Ordering::Release);
    }

    pub fn is_expired(&self) -> bool {
        self.expired.load(Ordering::Acquire)
    }

    /// Waits (blocking this thread, polling) until no connection is open or `grace` has passed;
    /// then expires the rest and gives their answers [`LAST_WORDS`] to go out.
    pub fn wait(&self, grace: Duration) -> Drained {
        const POLL: Duration = Duration::from_millis(10);
        // No connection open for this long: one accepted just before the listeners stopped
        // has begun by then (it is counted once its task runs, a moment after the accept).
        const QUIET: Duration = Duration::from_millis(100);
        let until = |deadline: Instant| {
            let mut quiet_since = None;
            while Instant::now() < deadline {
                if self.open_connections() > 0 {
                    quiet_since = None;
                } else if quiet_since.get_or_insert_with(Instant::now).elapsed() >= QUIET {
                    return;
                }
                std::thread::sleep(POLL);
            }
        };
        until(Instant::now() + grace);
        let open = self.open_connections();
        if open == 0 {
            return Drained::Finished;
        }
        self.expire();
        until(Instant::now() + LAST_WORDS);
        Drained::Expired { open }
    }
}

/// An open client connection (see [`Drain::open`]).
#[derive(Debug)]
pub struct Open {
    drain: Arc<Drain>,
    h2c: bool,
}

impl Open {
    /// The connection is on the h2c lane from now on (it opened with the HTTP/2 preface).
    pub fn h2c(&mut self) {
        if !self.h2c {
            self.h2c = true;
            self.drain.h2c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if self.h2c {
            self.drain.h2c.fetch_sub(1, Ordering::Relaxed);
        }
        self.drain.open.fetch_sub(1, Ordering::Relaxed);
        crate::memory::connection_closed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drain_ends_when_the_last_connection_closes() {
        let drain = Drain::new();
        let open = drain.open();
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            drop(open);
        });
        let started = Instant::now();
        assert_eq!(drain.wait(Duration::from_secs(30)), Drained::Finished);
        assert!(started.elapsed() < Duration::from_secs(10), "did not wait the grace period out");
        assert!(!drain.is_expired());
        closer.join().expect("join");
    }

    #[tokio::test]
    async fn a_stop_wakes_a_waiter_that_exists_and_one_that_comes_later() {
        let drain = Drain::new();
        let early = tokio::spawn({
            let d = drain.clone();
            async move { d.closing().await }
        });
        tokio::task::yield_now().await;
        drain.begin();
        tokio::time::timeout(Duration::from_secs(10), early).await.expect("woken").expect("join");
        tokio::time::timeout(Duration::from_secs(1), drain.closing()).await.expect("already begun");
    }

    #[test]
    fn patience_waits_its_limit_in_steps_and_gives_up_when_the_grace_period_ends() {
        let mut p = Patience::new(Duration::from_millis(600));
        let steps: Vec<_> = std::iter::from_fn(|| {
            let step = p.step();
            (p.lapsed(None) == Lapse::Again).then_some(step)
        })
        .collect();
        assert_eq!(steps, [EXPIRY_CHECK, EXPIRY_CHECK], "then 100 ms more and over");
        let drain = Drain::new();
        let mut p = Patience::new(Duration::from_secs(60));
        assert_eq!(p.lapsed(Some(&drain)), Lapse::Again);
        drain.expire();
        assert_eq!(p.lapsed(Some(&drain)), Lapse::Stopped);
    }

    #[test]
    fn the_grace_period_ends_with_connections_open() {
        let drain = Drain::new();
        let open = drain.open();
        let d = drain.clone();
        let outcome = std::thread::spawn(move || d.wait(Duration::from_millis(20)));
        while !drain.is_expired() {
            std::thread::yield_now();
        }
        drop(open);
        assert_eq!(outcome.join().expect("join"), Drained::Expired { open: 1 });
    }
}
