//! Delivery marks: one event, one notification per target, whichever node noticed it.
//!
//! An event has the same id on every node (`notify::event`): a window's from its occurrence, an
//! incident's from the incident's id, which the incident keeper makes the same everywhere
//! (`incidents`). The node that creates `<prefix>/sent/<target>/<event id>` first
//! (create-if-absent txn) sends it.
//!
//! A mark holds `<node> <event id>`, so a node asked again about its own event (a restart's
//! catch-up) still claims it; its outbox then knows whether it was sent. When etcd does not
//! answer, the node sends: a duplicate is better than a notification nobody sends.

use super::client::Client;
use crate::notify::claims::Claims;
use crate::notify::event::Event;
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
        (format!("{}/sent/{target}/{}", self.prefix, event.id), format!("{} {}", self.node, event.id))
    }
}

impl Claims for Marks {
    fn claim(&self, target: &str, event: &Event) -> bool {
        let (key, mine) = self.mark(target, event);
        let answer = self.client.create_or_get(&key, &mine).map(|held| held.is_none_or(|v| v == mine));
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
