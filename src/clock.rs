//! Where "now" comes from: the wall clock, read coarsely, or a clock a test sets by hand.
//!
//! Maintenance follows UTC wall time, so schedule decisions never use `Instant`. The hot path
//! reads one atomic word ([`Clock::now`]); a ticker refreshes the coarse clock (SCHEDULES.md:
//! "read the wall clock coarsely, not `SystemTime::now()` per request"). Tests use
//! [`Clock::manual`] and move time with `set`/`advance` instead of sleeping.

use crate::schedule::UnixTime;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A shared, cheap source of the current UTC second.
#[derive(Debug, Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    secs: AtomicI64,
    manual: bool,
}

fn system_now() -> UnixTime {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl Clock {
    /// The wall clock; call [`Clock::tick`] regularly (a background ticker does).
    pub fn system() -> Clock {
        Clock { inner: Arc::new(Inner { secs: AtomicI64::new(system_now()), manual: false }) }
    }

    /// A clock that only moves when told to.
    pub fn manual(at: UnixTime) -> Clock {
        Clock { inner: Arc::new(Inner { secs: AtomicI64::new(at), manual: true }) }
    }

    #[inline]
    pub fn now(&self) -> UnixTime {
        self.inner.secs.load(Ordering::Relaxed)
    }

    /// Re-reads the wall clock (no effect on a manual clock).
    pub fn tick(&self) {
        if !self.inner.manual {
            self.inner.secs.store(system_now(), Ordering::Relaxed);
        }
    }

    pub fn is_manual(&self) -> bool {
        self.inner.manual
    }

    /// Sets a manual clock (no effect on the system clock).
    pub fn set(&self, at: UnixTime) {
        if self.inner.manual {
            self.inner.secs.store(at, Ordering::Relaxed);
        }
    }

    pub fn advance(&self, secs: i64) {
        if self.inner.manual {
            self.inner.secs.fetch_add(secs, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_moves_only_when_told() {
        let c = Clock::manual(1_000);
        c.tick();
        assert_eq!(c.now(), 1_000);
        c.advance(60);
        assert_eq!(c.now(), 1_060);
        c.set(5);
        assert_eq!(c.now(), 5);
        let s = Clock::system();
        s.set(5);
        assert!(s.now() > 1_700_000_000, "the system clock ignores set");
    }
}
