//! Delivery: one thread per target, so a target that is down or slow holds up only its own
//! queue — never the proxy (which this never runs on) nor another target.
//!
//! Owns the worker loop, the retry policy ([`classify`], [`backoff`]: pure, tested with numbers
//! instead of sleeps), the webhook signature ([`sign`]) and the per-target counters
//! ([`TargetStats`]). An attempt is one POST with the target's `timeout`; its answer decides:
//! 2xx done; 429 and 503 again after `Retry-After` (or the backoff); 408, 425, other 5xx,
//! timeouts and connection errors again after the backoff; other statuses refused for good.
//! A delivery still failing `give_up_after` after it was queued is given up. Every failure is
//! logged (the `log` facade), naming the target and event id, never the body.

use super::outbox::{Outbox, Outcome, Pending};
use crate::config::notify::{NotifyTarget, TargetKind};
use arc_swap::ArcSwap;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Counters of one target, read by whoever reports them (see README, "Notifications").
#[derive(Debug, Default)]
pub struct TargetStats {
    /// Deliveries a receiver accepted.
    pub sent: AtomicU64,
    /// Attempts that failed (each retry counts), plus deliveries refused or given up.
    pub failed: AtomicU64,
    /// Deliveries given up or refused for good.
    pub dropped: AtomicU64,
    /// Deliveries waiting now.
    pub queued: AtomicU64,
    /// When the oldest waiting delivery was queued (unix ms; 0: none waits).
    pub oldest_queued_ms: AtomicI64,
}

impl TargetStats {
    /// Seconds the oldest waiting delivery has waited at `now_ms` (0 when none waits).
    pub fn oldest_age_secs(&self, now_ms: i64) -> i64 {
        match self.oldest_queued_ms.load(Ordering::Relaxed) {
            0 => 0,
            t => (now_ms - t).max(0) / 1000,
        }
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// What an attempt's result means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Again later; `Some`: the receiver said when (`Retry-After`, seconds).
    Retry(Option<Duration>),
    Refused,
}

/// An HTTP status (or `None`: no answer — a timeout or a connection error) as a [`Verdict`].
pub fn classify(status: Option<u16>, retry_after: Option<&str>) -> Verdict {
    let after = retry_after.and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
    match status {
        Some(200..=299) => Verdict::Done,
        Some(429) | Some(503) => Verdict::Retry(after),
        None | Some(408) | Some(425) | Some(500..=599) => Verdict::Retry(None),
        Some(_) => Verdict::Refused,
    }
}

/// The wait before attempt `attempts + 1`: `min · 2^(attempts-1)`, capped at `max`, then
/// "equal jitter" — half of it fixed, half spread by `jitter` in [0, 1) — so targets that failed
/// together do not all come back at once, and no wait is shorter than half the step.
pub fn backoff(attempts: u32, min: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    let step = min.saturating_mul(1u32 << exp).min(max);
    let half = step / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: what `X-Hiatus-Signature` says.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new(); // HMAC takes a key of any length; this is not reached.
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A cheap jitter source: the clock's nanoseconds, mixed (no crate needed for a spread).
fn jitter() -> f64 {
    let n = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as u64);
    let x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    x as f64 / (1u64 << 53) as f64
}

/// What a worker receives.
#[derive(Debug)]
pub enum Message {
    Deliver(Pending),
}

/// Runs one target's deliveries until its channel closes (the target left the configuration).
/// `queue`: what the outbox held for the target when the worker was made — read by the caller
/// before anything new is queued, so nothing arrives both ways (it would be sent twice).
pub fn run(
    target: Arc<ArcSwap<NotifyTarget>>,
    mut queue: Vec<Pending>,
    inbox: Receiver<Message>,
    outbox: Arc<Outbox>,
    stats: Arc<TargetStats>,
) {
    loop {
        let now = now_ms();
        update_gauges(&stats, &queue);
        let wait = queue
            .iter()
            .map(|p| p.next)
            .min()
            .map_or(Duration::from_secs(3600), |next| Duration::from_millis((next - now).max(0) as u64));
        match inbox.recv_timeout(wait) {
            Ok(Message::Deliver(p)) => queue.push(p),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        while let Ok(Message::Deliver(p)) = inbox.try_recv() {
            queue.push(p);
        }
        update_gauges(&stats, &queue);
        // The oldest due first; one at a time, so a receiver sees a target's events in order.
        queue.sort_by_key(|p| (p.next, p.queued));
        while let Some(p) = queue.first().filter(|p| p.next <= now_ms()).cloned() {
            queue.remove(0);
            let t = target.load_full();
            if let Some(p) = attempt(&t, p, &outbox, &stats) {
                queue.push(p);
            }
            update_gauges(&stats, &queue);
        }
    }
}

fn update_gauges(stats: &TargetStats, queue: &[Pending]) {
    stats.queued.store(queue.len() as u64, Ordering::Relaxed);
    stats.oldest_queued_ms.store(queue.iter().map(|p| p.queued).min().unwrap_or(0), Ordering::Relaxed);
}

/// One attempt; the delivery back when it is to be tried again.
fn attempt(t: &NotifyTarget, mut p: Pending, outbox: &Outbox, stats: &TargetStats) -> Option<Pending> {
    let (verdict, what) = post(t, &p);
    match verdict {
        Verdict::Done => {
            outbox.finish(&p, Outcome::Sent);
            stats.sent.fetch_add(1, Ordering::Relaxed);
            None
        }
        Verdict::Refused => {
            outbox.finish(&p, Outcome::Refused);
            stats.failed.fetch_add(1, Ordering::Relaxed);
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            log::error!("notify: target {}: event {} ({}) refused for good: {what}", t.id, p.id, p.kind);
            None
        }
        Verdict::Retry(after) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            p.attempts = p.attempts.saturating_add(1);
            let wait = after.unwrap_or_else(|| backoff(p.attempts, t.retry_min, t.retry_max, jitter()));
            let now = now_ms();
            p.next = now.saturating_add(wait.as_millis() as i64);
            let deadline = p.queued.saturating_add(t.give_up_after.as_millis() as i64);
            if p.next > deadline {
                outbox.finish(&p, Outcome::GaveUp);
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                log::error!(
                    "notify: target {}: event {} ({}) given up after {} attempts: {what}",
                    t.id,
                    p.id,
                    p.kind,
                    p.attempts
                );
                return None;
            }
            log::warn!(
                "notify: target {}: event {} ({}) attempt {} failed: {what}; next in {} ms",
                t.id,
                p.id,
                p.kind,
                p.attempts,
                wait.as_millis()
            );
            outbox.attempted(&p);
            Some(p)
        }
    }
}

/// One attempt: a POST, or for an e-mail target a letter over SMTP; its verdict and, for the
/// log, what happened.
fn post(t: &NotifyTarget, p: &Pending) -> (Verdict, String) {
    if let Some(mail) = &t.mail {
        return super::smtp::send(mail, t.timeout, &p.body);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(t.timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("hiatus/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut request = agent.post(&t.url).header("Content-Type", "application/json").header("X-Hiatus-Event-Id", &p.id);
    if let (TargetKind::Webhook, Some(secret)) = (t.kind, &t.secret) {
        let ts = now_ms() / 1000;
        request = request
            .header("X-Hiatus-Timestamp", ts.to_string())
            .header("X-Hiatus-Signature", sign(secret, ts, &p.body));
    }
    match request.send(p.body.as_bytes()) {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            let mut verdict = classify(Some(status), after.as_deref());
            // Discord says when in its JSON body (`retry_after`, seconds with a fraction).
            if let (429, TargetKind::Discord) = (status, t.kind) {
                let body = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
                if let Some(d) = retry_after_json(&body) {
                    verdict = Verdict::Retry(Some(d));
                }
            }
            (verdict, format!("HTTP {status}"))
        }
        Err(e) => (classify(None, None), e.to_string()),
    }
}

/// `{"retry_after": 1.5, ...}` (Discord's 429 body) as a wait, at most a day.
pub fn retry_after_json(body: &str) -> Option<Duration> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let secs = v.get("retry_after")?.as_f64()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        assert_eq!(classify(Some(200), None), Verdict::Done);
        assert_eq!(classify(Some(204), None), Verdict::Done);
        assert_eq!(classify(Some(429), Some("7")), Verdict::Retry(Some(Duration::from_secs(7))));
        assert_eq!(classify(Some(503), Some("Wed, 21 Oct 2015 07:28:00 GMT")), Verdict::Retry(None));
        for s in [None, Some(500), Some(502), Some(408), Some(425)] {
            assert_eq!(classify(s, None), Verdict::Retry(None), "{s:?}");
        }
        for s in [301, 400, 401, 404, 410] {
            assert_eq!(classify(Some(s), None), Verdict::Refused, "{s}");
        }
    }

    #[test]
    fn discords_retry_after_is_read_from_its_body() {
        assert_eq!(
            retry_after_json(r#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}"#),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(retry_after_json(r#"{"retry_after": 1e12}"#), Some(Duration::from_secs(86_400)));
        for bad in ["", "{}", r#"{"retry_after": -1}"#, r#"{"retry_after": "2"}"#, "<html>"] {
            assert_eq!(retry_after_json(bad), None, "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_with_equal_jitter() {
        let (min, max) = (Duration::from_secs(5), Duration::from_secs(60));
        let at = |n, j| backoff(n, min, max, j).as_millis();
        assert_eq!([at(1, 0.0), at(2, 0.0), at(3, 0.0), at(4, 0.0), at(5, 0.0)], [2500, 5000, 10_000, 20_000, 30_000]);
        assert_eq!(at(1, 0.999_999), 4999, "at most the step");
        assert_eq!(at(40, 0.5), 45_000, "capped, no overflow");
        assert!((0..100).map(|_| jitter()).all(|j| (0.0..1.0).contains(&j)));
    }

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2 ("Jefe", "what do ya want for nothing?"), split at the dot we add:
        // the HMAC runs over "<timestamp>.<body>".
        assert_eq!(sign("Jefe", 0, "what do ya want for nothing?").len(), "sha256=".len() + 64, "hex of 32 bytes");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"what do ya want for nothing?");
        let rfc: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(rfc, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_ne!(sign("Jefe", 1, "x"), sign("Jefe", 2, "x"), "the timestamp is signed");
        assert_ne!(sign("Jefe", 1, "x"), sign("Jeff", 1, "x"));
    }
}
