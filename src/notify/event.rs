//! The one definition of what a notification is about: an [`Event`] with a stable id.
//!
//! Owns [`Event`], [`Subject`] and the id rule. An id is a hash of what the event is (kind,
//! window and occurrence start, lead; or the incident's id), never of when it was noticed, so
//! the same event seen again — after a reload, a restart, at a second look — has the same id,
//! and the outbox sends it to a target once. Finding events is `announce`, `control::windows`
//! and `mod.rs`'s incident diff; sending them is `deliver`.

use crate::config::notify::{EventKind, Severity};
use crate::health::cause::Cause;
use crate::schedule::UnixTime;
use blake2::{Blake2s256, Digest};

/// What a window event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Window {
        id: String,
        /// The occurrence's start and end (`OPEN_END` when open).
        start: UnixTime,
        end: UnixTime,
        /// Seconds before `start` (announcements only).
        lead: Option<i64>,
        /// `None`: every tenant; else the tenants the window's scope names.
        tenants: Option<Vec<String>>,
    },
    Incident {
        id: String,
        tenant: String,
        cause: Cause,
        start: i64,
        end: Option<i64>,
    },
}

/// Something worth telling, once per target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// 32 hex digits, the same whenever the same thing is seen (see the module doc).
    pub id: String,
    pub kind: EventKind,
    /// The moment the event is about (an announcement: when its lead time was entered).
    pub at: UnixTime,
    pub subject: Subject,
}

impl Event {
    pub fn new(kind: EventKind, at: UnixTime, subject: Subject) -> Event {
        let key = match &subject {
            Subject::Window { id, start, lead, .. } => {
                format!("{}\n{id}\n{start}\n{}", kind.name(), lead.unwrap_or(0))
            }
            Subject::Incident { id, .. } => format!("{}\n{id}", kind.name()),
        };
        Event { id: stable_id(&key), kind, at, subject }
    }

    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }

    /// Whether a target for `tenants` (`None`: all) hears of it, and about which of them:
    /// `Some(list)` of the tenants both name (`None` inside: the event is for every tenant and so
    /// is the target), `None` when the event is none of the target's business.
    pub fn tenants_for(&self, target: Option<&[String]>) -> Option<Option<Vec<String>>> {
        let mine: Option<Vec<String>> = match &self.subject {
            Subject::Window { tenants, .. } => tenants.clone(),
            Subject::Incident { tenant, .. } => Some(vec![tenant.clone()]),
        };
        match (mine, target) {
            (mine, None) => Some(mine),
            (None, Some(t)) => Some(Some(t.to_vec())),
            (Some(m), Some(t)) => {
                let both: Vec<String> = m.into_iter().filter(|x| t.contains(x)).collect();
                (!both.is_empty()).then_some(Some(both))
            }
        }
    }
}

/// 128 bits of BLAKE2s over the key, in hex (blake2 is in the tree for the bypass cookie).
fn stable_id(key: &str) -> String {
    let hash = Blake2s256::new().chain_update(b"hiatus-event-v1\n").chain_update(key.as_bytes()).finalize();
    hash.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: UnixTime, lead: Option<i64>, tenants: Option<Vec<String>>) -> Subject {
        Subject::Window { id: "night".into(), start, end: start + 3600, lead, tenants }
    }

    #[test]
    fn ids_depend_on_what_not_when() {
        let a = Event::new(EventKind::WindowStarted, 100, window(100, None, None));
        let noticed_later = Event::new(EventKind::WindowStarted, 250, window(100, None, None));
        assert_eq!(a.id, noticed_later.id);
        assert_eq!(a.id.len(), 32);
        let next = Event::new(EventKind::WindowStarted, 200, window(200, None, None));
        let ended = Event::new(EventKind::WindowEnded, 100, window(100, None, None));
        let lead1 = Event::new(EventKind::WindowAnnounced, 0, window(100, Some(86_400), None));
        let lead7 = Event::new(EventKind::WindowAnnounced, 0, window(100, Some(7 * 86_400), None));
        let ids = [&a.id, &next.id, &ended.id, &lead1.id, &lead7.id];
        for (i, x) in ids.iter().enumerate() {
            for y in &ids[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }

    #[test]
    fn a_tenant_target_hears_only_of_its_tenants() {
        let e = Event::new(EventKind::WindowStarted, 1, window(1, None, Some(vec!["a".into(), "b".into()])));
        let b = ["b".to_string()];
        let c = ["c".to_string()];
        assert_eq!(e.tenants_for(Some(&b)), Some(Some(vec!["b".to_string()])));
        assert_eq!(e.tenants_for(Some(&c)), None);
        assert_eq!(e.tenants_for(None), Some(Some(vec!["a".to_string(), "b".to_string()])));
        let all = Event::new(EventKind::WindowStarted, 1, window(1, None, None));
        assert_eq!(all.tenants_for(Some(&c)), Some(Some(vec!["c".to_string()])));
        assert_eq!(all.tenants_for(None), Some(None));
    }
}
