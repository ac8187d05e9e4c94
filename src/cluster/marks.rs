//! Delivery marks: one event, one notification per target, whichever node noticed it.
//!
//! - A window or emergency event has the same id on every node (`notify::event`): the node that
//!   creates `<prefix>/sent/<target>/<event id>` first (create-if-absent txn) sends it.
//! - An incident is opened by each node's own health checks, at its own second, with its own
//!   id: the tenant's incident for a target is one key, `<prefix>/incidents/<tenant>/<target>`.
//!   The node that creates it sends "opened" and, deleting it when its incident ends (a
//!   compare-on-value txn), "resolved"; the other nodes' incidents of that tenant stay quiet.
//!
//! A mark holds `<node> <incident or event id>`, so a node asked again about its own event
//! (a restart's catch-up) still claims it; its outbox then knows whether it was sent. When
//! etcd does not answer, the node sends: a duplicate is better than a notification nobody sends.

use super::client::Client;
use crate::config::notify::EventKind;
use crate::notify::claims::Claims;
use crate::notify::event::{Event, Subject};
use std::sync::Arc;

/// The marks of one node.
#[derive(Debug)]
pub struct Marks {
    pub client: Arc<Client>,
    pub prefix: String,
    pub node: String,
}

impl Marks {
    /// The key and the value of `event`'s mark for `target`.
    fn mark(&self, target: &str, event: &Event) -> (String, String) {
        match &event.subject {
            Subject::Incident { id, tenant, .. } => {
                (format!("{}/incidents/{tenant}/{target}", self.prefix), format!("{} {id}", self.node))
            }
            Subject::Window { .. } => {
                (format!("{}/sent/{target}/{}", self.prefix, event.id), format!("{} {}", self.node, event.id))
            }
        }
    }
}

impl Claims for Marks {
    fn claim(&self, target: &str, event: &Event) -> bool {
        let (key, mine) = self.mark(target, event);
        let answer = if event.kind == EventKind::IncidentResolved {
            self.client.delete_if(&key, &mine)
        } else {
            self.client.create_or_get(&key, &mine).map(|held| held.is_none_or(|v| v == mine))
        };
        match answer {
            Ok(mine) => {
                if !mine {
                    log::info!("notify: target {target}: {} {} is another node's to send", event.kind.name(), event.id);
                }
                mine
            }
            Err(e) => {
                log::warn!(
                    "notify: target {target}: {} {}: no mark ({e}); sending it anyway",
                    event.kind.name(),
                    event.id
                );
                true
            }
        }
    }
}
