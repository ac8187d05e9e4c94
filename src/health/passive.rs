//! Passive health: what proxied requests tell of an upstream, without any probe.
//!
//! Owns [`Passive`], three atomics per upstream that the request path writes: failed requests
//! in a row, the instant until which the upstream is marked down, and the kind of its latest
//! failure. The semantics are nginx's `max_fails`/`fail_timeout`: `failures` failed requests in
//! a row (refused, timed out, reset; an own 5xx when the operator opts in) mark it down for
//! `cooldown`; while marked down it is left out when another upstream is up; the first request
//! after the cool-down is a trial (one more failure marks it down again at once); any request it
//! answers resets it. A tenant whose every upstream is marked down still gets its requests tried
//! (`compiled::TenantRuntime::pick`): passive marks only steer traffic, they never shut a tenant.
//!
//! Cheap by design: a successful request costs one relaxed load; only failures write. Pure
//! functions of `now` (the coarse clock's seconds): no IO, no clock of its own.

use super::cause::Cause;
use crate::config::gateway::Passive as Limits;
use crate::schedule::UnixTime;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU8, Ordering};

/// A failure's cause is kept as a small number (an index into `Cause::ALL`).
fn cause_index(cause: Cause) -> u8 {
    Cause::ALL.iter().position(|c| *c == cause).unwrap_or(0) as u8
}

/// The passive state of one upstream.
#[derive(Debug, Default)]
pub struct Passive {
    /// Failed requests in a row.
    fails: AtomicU32,
    /// Marked down until this instant (unix seconds, exclusive); 0: never marked.
    down_until: AtomicI64,
    /// The latest failure's cause (`Cause::ALL` index).
    cause: AtomicU8,
}

impl Passive {
    /// Whether requests may go to this upstream at `now` (not marked down).
    #[inline]
    pub fn usable(&self, now: UnixTime) -> bool {
        self.down_until.load(Ordering::Relaxed) <= now
    }

    /// A request this upstream answered (an own 5xx counts only as [`Self::failed`] when the
    /// operator said so). One load when nothing was failing: the common case writes nothing.
    #[inline]
    pub fn succeeded(&self) -> bool {
        if self.fails.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.fails.store(0, Ordering::Relaxed);
        self.down_until.swap(0, Ordering::Relaxed) != 0
    }

    /// A request that failed at `now` with `cause`. Returns `true` when this failure marked the
    /// upstream down (it was usable before): the caller logs that once.
    pub fn failed(&self, cause: Cause, now: UnixTime, limits: &Limits) -> bool {
        self.cause.store(cause_index(cause), Ordering::Relaxed);
        if limits.failures == 0 {
            return false;
        }
        // Saturates instead of wrapping: a long outage must not read as a fresh start.
        let n = self.fails.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if n >= u32::MAX / 2 {
            self.fails.store(limits.failures, Ordering::Relaxed);
        }
        if n < limits.failures {
            return false;
        }
        let until = now.saturating_add(limits.cooldown.as_secs().max(1) as i64);
        let before = self.down_until.swap(until, Ordering::Relaxed);
        before <= now
    }

    /// The cause of the marking when this upstream is marked down at `now`.
    pub fn down(&self, now: UnixTime) -> Option<Cause> {
        (!self.usable(now)).then(|| Cause::ALL[usize::from(self.cause.load(Ordering::Relaxed)) % Cause::ALL.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Feeds events into a fresh state: `f` a failure, `s` a success, `+` ten seconds pass;
    /// after each it renders `u` usable or `d` marked down (`D` when that event marked it).
    fn check(failures: u32, events: &str, expected: &str) {
        let limits = Limits { failures, cooldown: Duration::from_secs(10), count_5xx: false };
        let p = Passive::default();
        let mut now = 1_000;
        let got: String = events
            .chars()
            .map(|e| {
                let marked = match e {
                    'f' => p.failed(Cause::Unreachable, now, &limits),
                    's' => {
                        p.succeeded();
                        false
                    }
                    _ => {
                        now += 10;
                        false
                    }
                };
                match (marked, p.usable(now)) {
                    (true, _) => 'D',
                    (false, true) => 'u',
                    (false, false) => 'd',
                }
            })
            .collect();
        assert_eq!(got, expected, "failures {failures}: {events}");
    }

    #[test]
    fn failures_in_a_row_mark_down_and_time_or_success_lifts_it() {
        let cases = [
            // Fewer than `failures` in a row: still usable; a success starts the count again.
            (3, "ff", "uu"),
            (3, "ffsff", "uuuuu"),
            (3, "fff", "uuD"),
            // The cool-down ends by itself; the trial that fails marks it down at once.
            (3, "fff+", "uuDu"),
            (3, "fff+f", "uuDuD"),
            // A success (the trial, or any answer) lifts the mark and resets the count.
            (3, "fffsf", "uuDuu"),
            (3, "fff+sff", "uuDuuuu"),
            // Further failures while down keep it down, not marked again.
            (2, "ffff", "uDdd"),
            // 0: passive health off.
            (0, "fffff", "uuuuu"),
        ];
        for (failures, events, expected) in cases {
            check(failures, events, expected);
        }
    }

    #[test]
    fn the_cause_of_the_latest_failure_is_kept() {
        let limits = Limits { failures: 1, cooldown: Duration::from_secs(5), count_5xx: false };
        let p = Passive::default();
        assert_eq!(p.down(0), None);
        p.failed(Cause::Timeout, 100, &limits);
        assert_eq!(p.down(100), Some(Cause::Timeout));
        assert_eq!(p.down(104), Some(Cause::Timeout));
        assert_eq!(p.down(105), None, "the cool-down is over");
        p.failed(Cause::Errors, 200, &limits);
        assert_eq!(p.down(200), Some(Cause::Errors));
        assert!(p.succeeded(), "a success lifts a mark");
        assert_eq!(p.down(200), None);
        assert!(!p.succeeded(), "nothing to lift");
    }
}
