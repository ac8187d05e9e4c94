//! When a name needs an order: no certificate, or one within `renew_before` of its expiry —
//! and not while a failure's back-off runs. Pure: `now` is an argument (the manager passes its
//! `Clock`'s), so the schedule is tested with a manual clock.
//!
//! Back-off after a failure: 1 min, doubling to at most a day (Let's Encrypt allows 5 failed
//! validations per name and hour). A CA that says `rateLimited` (or 429) is not asked again
//! for at least an hour, or until the time its message names.

use std::collections::HashMap;
use std::time::Duration;

/// The first wait after a failure.
pub const FIRST_BACKOFF: i64 = 60;
/// The longest wait between attempts.
pub const MOST_BACKOFF: i64 = 86_400;
/// The least wait after the CA said its rate limit was reached.
pub const RATE_LIMITED: i64 = 3600;

/// Failures in a row of one name, and when it may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    pub failures: u32,
    pub next: i64,
}

/// Whether a certificate expiring at `not_after` needs renewing at `now`.
pub fn due(not_after: Option<i64>, now: i64, renew_before: Duration) -> bool {
    match not_after {
        None => true,
        Some(t) => now >= t.saturating_sub(i64::try_from(renew_before.as_secs()).unwrap_or(i64::MAX)),
    }
}

/// The back-off state of every name.
#[derive(Debug, Default)]
pub struct Schedule {
    attempts: HashMap<String, Attempts>,
}

impl Schedule {
    /// The names to order now: due, and not waiting out a back-off. `expiry` gives a name's
    /// certificate's `notAfter` (`None`: none yet).
    pub fn wanted<'a>(
        &self,
        names: &'a [String],
        expiry: impl Fn(&str) -> Option<i64>,
        now: i64,
        renew_before: Duration,
    ) -> Vec<&'a str> {
        names
            .iter()
            .map(String::as_str)
            .filter(|n| due(expiry(n), now, renew_before))
            .filter(|n| self.attempts.get(*n).is_none_or(|a| now >= a.next))
            .collect()
    }

    /// Records a failure at `now`; `retry_at`: the CA's rate limit ends then (`Some` only when
    /// it said so). Returns when the name may be tried again.
    pub fn failed(&mut self, name: &str, now: i64, rate_limited: Option<Option<i64>>) -> i64 {
        let failures = self.attempts.get(name).map_or(0, |a| a.failures).saturating_add(1);
        let shift = (failures - 1).min(20);
        let mut wait = FIRST_BACKOFF.saturating_mul(1 << shift).min(MOST_BACKOFF);
        if let Some(until) = rate_limited {
            let named = until.map_or(0, |t| t - now);
            wait = wait.max(RATE_LIMITED).max(named).min(7 * MOST_BACKOFF);
        }
        let next = now + wait;
        self.attempts.insert(name.to_string(), Attempts { failures, next });
        next
    }

    pub fn succeeded(&mut self, name: &str) {
        self.attempts.remove(name);
    }

    /// When the manager should look again at the latest: the earliest back-off end, or
    /// `now + idle`.
    pub fn next_look(&self, now: i64, idle: i64) -> i64 {
        self.attempts.values().map(|a| a.next).filter(|&t| t > now).fold(now + idle, i64::min)
    }
}

/// The time a CA's rate-limit message names ("retry after 2026-01-02 03:04:05 UTC", as Let's
/// Encrypt writes it), Unix seconds.
pub fn retry_after_in(detail: &str) -> Option<i64> {
    let at = detail.find("retry after ")? + "retry after ".len();
    let text = detail.get(at..at + 19)?;
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok().map(|t| t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    const DAY: i64 = 86_400;

    #[test]
    fn renewal_and_back_off_on_a_manual_clock() {
        let clock = Clock::manual(1_800_000_000);
        let before = Duration::from_secs(30 * DAY as u64);
        let names = vec!["a.test".to_string(), "b.test".to_string()];
        // a.test: valid for 60 more days; b.test: none yet.
        let expires = clock.now() + 60 * DAY;
        let expiry = |n: &str| (n == "a.test").then_some(expires);
        let mut s = Schedule::default();
        assert_eq!(s.wanted(&names, expiry, clock.now(), before), ["b.test"]);
        // b.test fails: 1 min, then 2, 4 ... between attempts.
        assert_eq!(s.failed("b.test", clock.now(), None), clock.now() + 60);
        assert!(s.wanted(&names, expiry, clock.now(), before).is_empty());
        assert_eq!(s.next_look(clock.now(), 3600), clock.now() + 60);
        clock.advance(60);
        assert_eq!(s.wanted(&names, expiry, clock.now(), before), ["b.test"]);
        assert_eq!(s.failed("b.test", clock.now(), None), clock.now() + 120);
        for _ in 0..30 {
            s.failed("b.test", clock.now(), None);
        }
        assert_eq!(s.failed("b.test", clock.now(), None), clock.now() + MOST_BACKOFF, "capped at a day");
        s.succeeded("b.test");
        assert_eq!(s.wanted(&names, expiry, clock.now(), before), ["b.test"]);
        // a.test becomes due 30 days before its expiry, not a second earlier.
        clock.set(expires - 30 * DAY - 1);
        assert!(!s.wanted(&names, expiry, clock.now(), before).contains(&"a.test"));
        clock.advance(1);
        assert!(s.wanted(&names, expiry, clock.now(), before).contains(&"a.test"));
    }

    #[test]
    fn a_rate_limit_waits_at_least_an_hour_or_until_the_time_named() {
        let now = 1_800_000_000;
        let mut s = Schedule::default();
        assert_eq!(s.failed("a", now, Some(None)), now + RATE_LIMITED);
        assert_eq!(s.failed("b", now, Some(Some(now + 5 * 3600))), now + 5 * 3600);
        let detail = "too many certificates already issued: retry after 2027-01-15 17:30:00 UTC";
        assert_eq!(retry_after_in(detail), Some(1_800_034_200));
        assert_eq!(retry_after_in("no time here"), None);
    }
}
