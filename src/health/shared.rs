//! Incidents shared by several gateways (cluster mode): one node at a time decides them, every
//! node shows them.
//!
//! Owns the [`Keeper`] seam. A single gateway has none: its prober opens and closes incidents
//! in its own log. In cluster mode `crate::cluster::incidents` plugs one into the
//! [`IncidentLog`](super::IncidentLog) (`IncidentLog::share`): only the node that holds the
//! keeper's lease in etcd lets its prober open and close incidents, and publishes each change;
//! every node, that one included, takes the published incidents into its log
//! (`IncidentLog::adopt`). So an outage that every node's health checks see is one incident —
//! one id, one start, one end — on every status page, and one notification.

use super::incidents::Incident;

/// Who decides incidents, and where their changes go (see the module doc).
pub trait Keeper: Send + Sync + std::fmt::Debug {
    /// Whether this node's health checks open and close incidents now.
    fn decides(&self) -> bool;
    /// An incident this node opened or closed: to be published to the other nodes. Blocking
    /// (called off the async threads); one that cannot be published now is retried later.
    fn publish(&self, incident: &Incident);
}
