//! Handing freed memory back to the system after the big rebuilds (start, reload, horizon) and
//! after a spike of client connections.
//!
//! A reload of a 10 000-tenant configuration briefly holds two configurations and the parser's
//! working set; allocators keep such freed memory for reuse, so without a nudge every reload's
//! peak would stay resident. The library has no allocator of its own (and no unsafe code): the
//! binary registers the call its allocator offers (`src/main.rs`), tests register nothing.
//!
//! Connections: each one's buffers live on the thread that serves it, and mimalloc hands a
//! thread's free pages back only when that thread calls into it. So each thread counts its
//! own connections ([`connection_opened`], [`connection_closed`]) and collects once most of a
//! spike is gone (measured with `benches/load/spike.sh`: 10 000 connections took 123 MiB that
//! stayed resident, idle, for good).

use std::cell::Cell;
use std::sync::OnceLock;

static RELEASE: OnceLock<fn()> = OnceLock::new();

/// Registers the allocator's "return free memory now"; the first registration stays.
pub fn set_release(f: fn()) {
    let _ = RELEASE.set(f);
}

/// Returns freed memory to the system, if the binary said how. Not for the request path: it
/// walks the allocator's free pages.
pub fn release() {
    if let Some(f) = RELEASE.get() {
        f();
    }
}

/// Below this many connections on a thread, no spike is worth a collection.
const SPIKE: usize = 64;

thread_local! {
    /// This thread's open connections, and their most since the last collection.
    static CONNECTIONS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// A client connection began on this thread.
pub fn connection_opened() {
    CONNECTIONS.with(|c| {
        let (open, most) = c.get();
        c.set((open + 1, most.max(open + 1)));
    });
}

/// A client connection on this thread ended; once a spike has shrunk to a quarter, the freed
/// memory goes back (a walk over this thread's heap: rare, and only after spikes).
pub fn connection_closed() {
    let collect = CONNECTIONS.with(|c| {
        let (open, most, collect) = closed(c.get());
        c.set((open, most));
        collect
    });
    if collect {
        release();
    }
}

/// The counts after a close, and whether a spike is over.
fn closed((open, most): (usize, usize)) -> (usize, usize, bool) {
    let open = open.saturating_sub(1);
    let spike_over = most >= SPIKE && open <= most / 4;
    (open, if spike_over { open } else { most }, spike_over)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn count() {
        CALLS.fetch_add(1, Ordering::Relaxed);
    }

    #[test]
    fn release_calls_what_was_registered_and_only_the_first() {
        super::set_release(count);
        super::set_release(|| panic!("a second registration must not replace the first"));
        let before = CALLS.load(Ordering::Relaxed);
        super::release();
        super::release();
        // At least these two: a test running a reload at the same time may add its own.
        assert!(CALLS.load(Ordering::Relaxed) - before >= 2);
    }

    #[test]
    fn a_spike_of_connections_is_collected_once_it_has_shrunk_to_a_quarter() {
        // 1000 open at most, then closing one by one: when does a close collect?
        let mut counts = (1000, 1000);
        let mut collected_at = Vec::new();
        while counts.0 > 0 {
            let (open, most, collect) = super::closed(counts);
            if collect {
                collected_at.push(open);
            }
            counts = (open, most);
        }
        // At a quarter of 1000, then of 250 (still a spike), and not below a spike's size.
        assert_eq!(collected_at, vec![250, 62]);
        // A thread that never had a spike never collects.
        assert!(!super::closed((100, 100)).2);
    }
}
