//! A log line per key at most every so often: an upstream that fails every request says so
//! once per period, with how many failures the period kept quiet, instead of a line per request.
//!
//! Owns [`Limiter`], pure over the `now` it is given (a test moves time by hand). It is asked
//! only on a failure, never on a request that went well, and only when the line would be
//! written at all (`log::log_enabled!`), so its lock is off the hot path.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many keys are remembered before the quiet ones are forgotten: `{n}` upstreams may be
/// thousands of addresses.
const KEYS: usize = 4096;

#[derive(Debug)]
pub struct Limiter<K> {
    every: Duration,
    keys: Mutex<HashMap<K, Period>>,
}

/// One key's current period.
#[derive(Debug, Clone, Copy)]
struct Period {
    since: Instant,
    quiet: u64,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn new(every: Duration) -> Limiter<K> {
        Limiter { every, keys: Mutex::new(HashMap::new()) }
    }

    /// `Some(n)` when a line about `key` may be written now, `n` the events kept quiet since
    /// the last line; `None` when this one is to be kept quiet (and is counted).
    pub fn admit(&self, key: &K, now: Instant) -> Option<u64> {
        let mut keys = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = keys.get_mut(key) {
            if now.saturating_duration_since(p.since) < self.every {
                p.quiet += 1;
                return None;
            }
            let quiet = p.quiet;
            *p = Period { since: now, quiet: 0 };
            return Some(quiet);
        }
        if keys.len() >= KEYS {
            // Periods that are over: their next event gets a line anyway. What they kept quiet
            // is lost, which a burst over thousands of upstreams can afford.
            keys.retain(|_, p| now.saturating_duration_since(p.since) < self.every);
        }
        keys.insert(key.clone(), Period { since: now, quiet: 0 });
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_key_and_period_with_the_count_kept_quiet() {
        let l = Limiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_millis(s);
        assert_eq!(l.admit(&"a", at(0)), Some(0));
        assert_eq!(l.admit(&"a", at(1)), None);
        assert_eq!(l.admit(&"b", at(2)), Some(0), "another key has its own period");
        assert_eq!(l.admit(&"a", at(9_999)), None);
        assert_eq!(l.admit(&"a", at(10_000)), Some(2), "two kept quiet");
        assert_eq!(l.admit(&"a", at(10_001)), None);
        assert_eq!(l.admit(&"a", at(30_000)), Some(1));
    }

    #[test]
    fn the_keys_remembered_are_bounded() {
        let l = Limiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        for k in 0..KEYS as u32 {
            l.admit(&k, t0);
        }
        let later = t0 + Duration::from_secs(11);
        assert_eq!(l.admit(&u32::MAX, later), Some(0));
        let kept = l.keys.lock().map(|k| k.len()).unwrap_or(0);
        assert_eq!(kept, 1, "the periods that were over are forgotten");
    }
}
