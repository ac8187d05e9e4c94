//! `Idempotency-Key` on `POST` (draft-ietf-httpapi-idempotency-key-header): a retried request
//! gets the first one's answer instead of doing the change twice.
//!
//! Owns [`Keys`]: per key, a fingerprint of the request (method, path, body) and the answer
//! once there is one, kept in memory for [`KEEP`]. The same key with the same request replays
//! the answer; with another request it is a 422; while the first is still being answered, a 409.
//! At most [`MAX_KEYS`] keys are kept: the oldest answered one makes room (an operator's
//! retries come within minutes; a flood of keys cannot grow the map). Keys are not persisted:
//! after a restart a retry is a new request, checked against the operator file as it is then
//! (a repeated `POST emergencies` with an `id` is refused as taken).

use crate::control::http::Answer;
use blake2::{Blake2s256, Digest};
use std::collections::HashMap;
use std::sync::Mutex;

/// How long an answer is replayed (seconds).
pub const KEEP: i64 = 24 * 3600;
/// The most keys kept at once.
pub const MAX_KEYS: usize = 1024;
/// The longest key accepted (characters).
pub const MAX_KEY_LEN: usize = 255;

#[derive(Debug)]
struct Entry {
    fingerprint: [u8; 16],
    /// `None` while the first request is being answered.
    answer: Option<Answer>,
    at: i64,
}

/// What to do with a request that carries a key.
#[derive(Debug, PartialEq)]
pub enum Claim {
    /// First seen: answer it, then [`Keys::finish`].
    New,
    Replay(Answer),
    /// The key was used for another request.
    Mismatch,
    /// The first request with this key is still being answered.
    InFlight,
    /// No room: every kept key is still being answered.
    Full,
}

/// The keys seen and their answers.
#[derive(Debug, Default)]
pub struct Keys {
    entries: Mutex<HashMap<String, Entry>>,
}

/// The fingerprint of a request: what "the same request" means.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> [u8; 16] {
    let hash = Blake2s256::new()
        .chain_update(method.as_bytes())
        .chain_update(b"\n")
        .chain_update(path.as_bytes())
        .chain_update(b"\n")
        .chain_update(body)
        .finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&hash[..16]);
    out
}

impl Keys {
    pub fn claim(&self, key: &str, fingerprint: [u8; 16], now: i64) -> Claim {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, e| e.answer.is_none() || e.at + KEEP > now);
        if let Some(e) = entries.get(key) {
            return match (&e.answer, e.fingerprint == fingerprint) {
                (_, false) => Claim::Mismatch,
                (None, true) => Claim::InFlight,
                (Some(a), true) => Claim::Replay(a.clone()),
            };
        }
        if entries.len() >= MAX_KEYS {
            let oldest = entries.iter().filter(|(_, e)| e.answer.is_some()).min_by_key(|(_, e)| e.at);
            match oldest.map(|(k, _)| k.clone()) {
                Some(k) => {
                    entries.remove(&k);
                }
                None => return Claim::Full,
            }
        }
        entries.insert(key.to_string(), Entry { fingerprint, answer: None, at: now });
        Claim::New
    }

    /// Keeps `answer` for replays; an answer that changed nothing (a 5xx, a conflict) frees
    /// the key instead, so a retry is tried again.
    pub fn finish(&self, key: &str, answer: &Answer, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if answer.status >= 500 || answer.status == 409 || answer.status == 412 {
            entries.remove(key);
        } else if let Some(e) = entries.get_mut(key) {
            e.answer = Some(answer.clone());
            e.at = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_mismatch_in_flight_and_expiry() {
        let keys = Keys::default();
        let a = fingerprint("POST", "/api/v1/emergencies", b"{}");
        let b = fingerprint("POST", "/api/v1/emergencies", b"{ }");
        assert_eq!(keys.claim("k", a, 0), Claim::New);
        assert_eq!(keys.claim("k", a, 1), Claim::InFlight);
        let answer = Answer::new(201, "application/json", "{\"id\":1}");
        keys.finish("k", &answer, 1);
        assert_eq!(keys.claim("k", a, 2), Claim::Replay(answer.clone()));
        assert_eq!(keys.claim("k", b, 2), Claim::Mismatch);
        assert_eq!(keys.claim("k", a, 1 + KEEP), Claim::New, "forgotten after KEEP");
        keys.finish("k", &Answer::new(503, "text/plain", ""), 3);
        assert_eq!(keys.claim("k", a, 4), Claim::New, "a failure is not replayed");
    }

    #[test]
    fn bounded() {
        let keys = Keys::default();
        let f = fingerprint("POST", "/", b"");
        for i in 0..MAX_KEYS {
            assert_eq!(keys.claim(&i.to_string(), f, 0), Claim::New);
        }
        assert_eq!(keys.claim("more", f, 0), Claim::Full);
        keys.finish("7", &Answer::new(201, "application/json", ""), 0);
        assert_eq!(keys.claim("more", f, 0), Claim::New, "the answered key made room");
        assert_eq!(keys.claim("7", f, 0), Claim::Full, "its own entry went to make room");
    }
}
