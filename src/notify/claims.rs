//! Claims: in cluster mode several gateways see the same events (each one's ticker, each one's
//! health checks), and a target must hear of each once. Before an event is queued for a target
//! the [`Claims`] of the process are asked whether this node sends it; `crate::cluster::marks`
//! answers through etcd. A single gateway has none and queues everything.
//!
//! The claims are process-wide, set once by the binary before the control plane starts
//! ([`share`]): the notifier is made inside the ticker, far from the wiring, and a process has
//! one cluster. In-process tests never set them.

use super::event::Event;
use std::sync::{Arc, OnceLock};

/// Who sends an event to a target.
pub trait Claims: Send + Sync + std::fmt::Debug {
    /// Whether this node sends `event` to `target` (blocking; called off the request path).
    fn claim(&self, target: &str, event: &Event) -> bool;
}

static SHARED: OnceLock<Arc<dyn Claims>> = OnceLock::new();

/// Sets the process's claims (the first call wins).
pub fn share(claims: Arc<dyn Claims>) {
    let _ = SHARED.set(claims);
}

/// The process's claims, if any.
pub(crate) fn shared() -> Option<Arc<dyn Claims>> {
    SHARED.get().cloned()
}
