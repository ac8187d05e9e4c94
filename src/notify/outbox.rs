//! The outbox: every (target, event) ever queued, and what became of it, in memory and — with
//! `[gateway] state_dir` — in `notify-outbox.jsonl`, so nothing queued is lost to a crash and
//! nothing delivered is sent again after a restart.
//!
//! Owns the file format and [`Outbox`]. Lines are appended with one `write` and fsync'd before
//! the call returns (the pattern of `health::incidents`): `queued` (with the payload as it will
//! be sent), `attempt` (the backoff's state after a failure) and `done` (sent, refused or given
//! up). At open the file is read back (a torn last line is dropped with a warning), then
//! rewritten whole — pending deliveries and the ids of the last [`RETAIN_MS`] — into a temporary
//! file that is synced and renamed over it, so it does not grow for as long as the gateway runs.
//!
//! Delivery is at least once: a crash between a receiver's 2xx and the `done` line sends that
//! event again after the restart, with the same `X-Hiatus-Event-Id` for the receiver to drop.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const FILE_NAME: &str = "notify-outbox.jsonl";

/// How long a delivered id is remembered: far beyond the longest lead time and the incident
/// history (90 days), so no event can come back after its id was forgotten.
pub const RETAIN_MS: i64 = 400 * 86_400_000;

/// One delivery waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub target: String,
    pub id: String,
    pub kind: String,
    /// Unix milliseconds when it was queued: the deadline counts from here.
    pub queued: i64,
    /// The request body, fixed when queued so every attempt sends the same bytes.
    pub body: String,
    pub attempts: u32,
    /// Unix milliseconds of the next attempt.
    pub next: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Line {
    Queued { target: String, id: String, kind: String, queued: i64, body: String },
    Attempt { target: String, id: String, attempts: u32, next: i64 },
    Done { target: String, id: String, queued: i64, outcome: String },
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// The receiver refused it for good (a 4xx other than 408, 425 and 429).
    Refused,
    /// Still failing at the target's `give_up_after`.
    GaveUp,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Refused => "refused",
            Outcome::GaveUp => "gave_up",
        }
    }
}

#[derive(Debug)]
struct Inner {
    /// Every (target, id) known, with when it was queued.
    known: HashMap<(String, String), i64>,
    /// Queued and not done yet.
    pending: HashMap<(String, String), Pending>,
    file: Option<File>,
}

/// Shared by the notifier (which queues) and each target's worker (which finishes).
#[derive(Debug)]
pub struct Outbox {
    inner: Mutex<Inner>,
    path: Option<PathBuf>,
}

fn key(target: &str, id: &str) -> (String, String) {
    (target.to_string(), id.to_string())
}

impl Outbox {
    /// An outbox that lives as long as the process (no `state_dir`).
    pub fn in_memory() -> Outbox {
        Outbox { inner: Mutex::new(Inner { known: HashMap::new(), pending: HashMap::new(), file: None }), path: None }
    }

    /// Reads `dir/notify-outbox.jsonl` back and rewrites it compacted; appends from then on.
    pub fn open(dir: &Path, now_ms: i64) -> Result<Outbox, String> {
        let path = dir.join(FILE_NAME);
        let fail = |what: &str, e: std::io::Error| format!("{}: cannot {what}: {e}", path.display());
        std::fs::create_dir_all(dir).map_err(|e| format!("state_dir {}: cannot create it: {e}", dir.display()))?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(fail("read it", e)),
        };
        let mut known = HashMap::new();
        let mut pending: HashMap<(String, String), Pending> = HashMap::new();
        let mut done = HashSet::new();
        for (n, raw) in bytes.split(|b| *b == b'\n').enumerate() {
            if raw.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Line>(raw) {
                Ok(Line::Queued { target, id, kind, queued, body }) => {
                    let k = key(&target, &id);
                    known.insert(k.clone(), queued);
                    pending.insert(k, Pending { target, id, kind, queued, body, attempts: 0, next: queued });
                }
                Ok(Line::Attempt { target, id, attempts, next }) => {
                    if let Some(p) = pending.get_mut(&key(&target, &id)) {
                        p.attempts = attempts;
                        p.next = next;
                    }
                }
                Ok(Line::Done { target, id, queued, .. }) => {
                    let k = key(&target, &id);
                    known.insert(k.clone(), queued);
                    pending.remove(&k);
                    done.insert(k);
                }
                Err(e) => log::warn!("notify: {}: line {} skipped (torn or damaged): {e}", path.display(), n + 1),
            }
        }
        known.retain(|k, queued| pending.contains_key(k) || *queued >= now_ms - RETAIN_MS);
        let mut lines = Vec::new();
        for ((target, id), queued) in &known {
            if !pending.contains_key(&(target.clone(), id.clone())) {
                let line =
                    Line::Done { target: target.clone(), id: id.clone(), queued: *queued, outcome: "kept".into() };
                lines.push(line);
            }
        }
        let mut waiting: Vec<&Pending> = pending.values().collect();
        waiting.sort_by_key(|p| p.queued);
        for p in waiting {
            lines.push(Line::Queued {
                target: p.target.clone(),
                id: p.id.clone(),
                kind: p.kind.clone(),
                queued: p.queued,
                body: p.body.clone(),
            });
            if p.attempts > 0 {
                lines.push(Line::Attempt {
                    target: p.target.clone(),
                    id: p.id.clone(),
                    attempts: p.attempts,
                    next: p.next,
                });
            }
        }
        rewrite(dir, &path, &lines).map_err(|e| fail("write it anew", e))?;
        let file = OpenOptions::new().append(true).open(&path).map_err(|e| fail("open it", e))?;
        Ok(Outbox { inner: Mutex::new(Inner { known, pending, file: Some(file) }), path: Some(path) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change is one insert or remove: a panic elsewhere cannot leave it half-done.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a delivery unless this target already had this event; `None` when it had.
    pub fn queue(&self, target: &str, id: &str, kind: &str, body: String, now_ms: i64) -> Option<Pending> {
        let mut inner = self.lock();
        let k = key(target, id);
        if inner.known.contains_key(&k) {
            return None;
        }
        let p = Pending {
            target: target.to_string(),
            id: id.to_string(),
            kind: kind.to_string(),
            queued: now_ms,
            body,
            attempts: 0,
            next: now_ms,
        };
        let line = Line::Queued {
            target: p.target.clone(),
            id: p.id.clone(),
            kind: p.kind.clone(),
            queued: now_ms,
            body: p.body.clone(),
        };
        self.append(&mut inner, &line);
        inner.known.insert(k.clone(), now_ms);
        inner.pending.insert(k, p.clone());
        Some(p)
    }

    /// A failed attempt: the backoff's state, so a restart goes on from it.
    pub fn attempted(&self, p: &Pending) {
        let mut inner = self.lock();
        let line = Line::Attempt { target: p.target.clone(), id: p.id.clone(), attempts: p.attempts, next: p.next };
        self.append(&mut inner, &line);
        if let Some(q) = inner.pending.get_mut(&key(&p.target, &p.id)) {
            q.attempts = p.attempts;
            q.next = p.next;
        }
    }

    pub fn finish(&self, p: &Pending, outcome: Outcome) {
        let mut inner = self.lock();
        let line =
            Line::Done { target: p.target.clone(), id: p.id.clone(), queued: p.queued, outcome: outcome.name().into() };
        self.append(&mut inner, &line);
        inner.pending.remove(&key(&p.target, &p.id));
    }

    /// What waits for `target`, oldest first.
    pub fn pending_for(&self, target: &str) -> Vec<Pending> {
        let mut out: Vec<Pending> = self.lock().pending.values().filter(|p| p.target == target).cloned().collect();
        out.sort_by_key(|p| p.queued);
        out
    }

    /// Appends one line and syncs it. A failure is logged: the delivery goes on from memory,
    /// and a full disk must not stop the gateway.
    fn append(&self, inner: &mut Inner, line: &Line) {
        let Some(file) = inner.file.as_mut() else { return };
        let written = serde_json::to_vec(line).map_err(std::io::Error::other).and_then(|mut bytes| {
            bytes.push(b'\n');
            file.write_all(&bytes)?;
            file.sync_data()
        });
        if let Err(e) = written {
            let at = self.path.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
            log::error!("notify: cannot write {at}: {e}");
        }
    }
}

/// The whole file anew: a temporary file beside it, synced, renamed over it, the folder synced.
fn rewrite(dir: &Path, path: &Path, lines: &[Line]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    let mut f = File::create(&tmp)?;
    let mut bytes = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut bytes, line).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
    }
    f.write_all(&bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    File::open(dir).and_then(|d| d.sync_all())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hiatus-outbox-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn an_id_is_queued_once_per_target_also_after_a_reopen() {
        let d = dir("once");
        let o = Outbox::open(&d, 1_000).expect("open");
        let a = o.queue("hook", "e1", "window.started", "{}".into(), 1_000).expect("new");
        assert!(o.queue("hook", "e1", "window.started", "{}".into(), 1_001).is_none(), "twice");
        assert!(o.queue("chat", "e1", "window.started", "{}".into(), 1_001).is_some(), "another target");
        o.queue("hook", "e2", "window.ended", "{\"n\":2}".into(), 1_002).expect("new");
        o.finish(&a, Outcome::Sent);
        let mut b = o.pending_for("hook").remove(0);
        b.attempts = 3;
        b.next = 9_000;
        o.attempted(&b);
        drop(o);
        // A torn last line (a crash while writing) is dropped, not fatal.
        let mut f = OpenOptions::new().append(true).open(d.join(FILE_NAME)).expect("append");
        f.write_all(b"{\"op\":\"queued\",\"tar").expect("write");
        drop(f);
        let o = Outbox::open(&d, 2_000).expect("reopen");
        assert!(o.queue("hook", "e1", "window.started", "{}".into(), 2_000).is_none(), "sent before the restart");
        let left = o.pending_for("hook");
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].id.as_str(), left[0].attempts, left[0].next), ("e2", 3, 9_000));
        assert_eq!(left[0].body, "{\"n\":2}");
        assert_eq!(o.pending_for("chat").len(), 1);
        // Ids older than the retention are forgotten at the next open.
        drop(o);
        let o = Outbox::open(&d, 1_000 + RETAIN_MS + 10).expect("reopen");
        assert!(o.queue("hook", "e1", "window.started", "{}".into(), 5).is_some(), "forgotten");
        let _ = std::fs::remove_dir_all(&d);
    }
}
