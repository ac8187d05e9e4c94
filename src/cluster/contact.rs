//! What this node knows of its contact with etcd: connected or not, the operator document's
//! revision in force, when etcd last answered, whether it decides incidents. Shown three ways —
//! the metrics `hiatus_cluster_connected`, `hiatus_cluster_revision`,
//! `hiatus_cluster_last_contact_timestamp_seconds`, `hiatus_cluster_incident_keeper` (a
//! collector registered once), the `cluster`
//! section of the admin `/state`, and one log line per loss and per recovery.
//!
//! Atomics only: the loops write them, a scrape or `/state` reads them, nobody waits.

use crate::control::admin::StateSection;
use crate::telemetry::exposition::Family;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::Arc;

const UNKNOWN: u8 = 0;
const CONNECTED: u8 = 1;
const LOST: u8 = 2;

/// The contact's state; see the module doc.
#[derive(Debug)]
pub struct Contact {
    node: String,
    state: AtomicU8,
    /// The operator document's revision in force (0: none yet).
    revision: AtomicI64,
    /// Unix seconds of etcd's last answer (0: never).
    last_contact: AtomicI64,
    /// This node holds the incident keeper's lease (`incidents`).
    keeper: AtomicBool,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Contact {
    pub fn new(node: &str) -> Contact {
        Contact {
            node: node.to_string(),
            state: AtomicU8::new(UNKNOWN),
            revision: AtomicI64::new(0),
            last_contact: AtomicI64::new(0),
            keeper: AtomicBool::new(false),
        }
    }

    pub fn keeper(&self) -> bool {
        self.keeper.load(Ordering::Relaxed)
    }

    pub fn set_keeper(&self, keeper: bool) {
        self.keeper.store(keeper, Ordering::Relaxed);
    }

    pub fn connected(&self) -> bool {
        self.state.load(Ordering::Relaxed) == CONNECTED
    }

    pub fn revision(&self) -> i64 {
        self.revision.load(Ordering::Relaxed)
    }

    pub fn set_revision(&self, revision: i64) {
        self.revision.store(revision, Ordering::Relaxed);
    }

    /// etcd answered. Logs the first contact and each recovery once.
    pub fn reached(&self) {
        self.last_contact.store(now(), Ordering::Relaxed);
        match self.state.swap(CONNECTED, Ordering::Relaxed) {
            UNKNOWN => log::info!("cluster: node {} reached etcd", self.node),
            LOST => log::info!("cluster: node {} reached etcd again; converging on its state", self.node),
            _ => {}
        }
    }

    /// etcd did not answer. Logs the loss once (and a start without etcd), not every retry.
    pub fn lost(&self, why: &super::client::Error) {
        let revision = self.revision();
        match self.state.swap(LOST, Ordering::Relaxed) {
            UNKNOWN => log::warn!(
                "cluster: node {} cannot reach etcd at start ({why}); serving the last known state (revision {revision}) and retrying",
                self.node
            ),
            CONNECTED => log::warn!(
                "cluster: node {} lost etcd ({why}); serving the last known state (revision {revision}) and retrying",
                self.node
            ),
            _ => {}
        }
    }
}

impl StateSection for Contact {
    fn name(&self) -> &'static str {
        "cluster"
    }

    fn state(&self) -> serde_json::Value {
        let last = self.last_contact.load(Ordering::Relaxed);
        serde_json::json!({
            "node": self.node,
            "connected": self.connected(),
            "revision": self.revision(),
            "incident_keeper": self.keeper(),
            "last_contact": (last > 0).then(|| chrono::DateTime::from_timestamp(last, 0).map(|t| t.to_rfc3339())),
        })
    }
}

const FAMILIES: [Family; 4] = [
    Family::gauge(
        "hiatus_cluster_connected",
        "1 while etcd answers this node, else 0 (serving its last known state)",
        &[],
    ),
    Family::gauge("hiatus_cluster_revision", "The etcd revision of the operator document in force on this node", &[]),
    Family::gauge(
        "hiatus_cluster_last_contact_timestamp_seconds",
        "Unix time of etcd's last answer to this node (0: never)",
        &[],
    ),
    Family::gauge(
        "hiatus_cluster_incident_keeper",
        "1 while this node decides the cluster's incidents (holds the keeper lease), else 0",
        &[],
    ),
];

/// The metrics collector of a [`Contact`].
#[derive(Debug)]
pub struct ContactCollector {
    contact: Arc<Contact>,
    descs: Vec<Desc>,
}

/// Registers the cluster gauges into `metrics`' registry.
pub fn register(metrics: &crate::telemetry::metrics::Metrics, contact: Arc<Contact>) -> Result<(), prometheus::Error> {
    let descs = FAMILIES.iter().map(Family::desc).collect::<Result<_, _>>()?;
    metrics.registry.register(Box::new(ContactCollector { contact, descs }))
}

impl Collector for ContactCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let c = &self.contact;
        let values = [
            f64::from(u8::from(c.connected())),
            c.revision() as f64,
            c.last_contact.load(Ordering::Relaxed) as f64,
            f64::from(u8::from(c.keeper())),
        ];
        FAMILIES.iter().zip(values).map(|(f, v)| f.of(vec![f.sample(&[], v)])).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_and_recovery_show_in_state_and_metrics() {
        let c = Arc::new(Contact::new("a"));
        assert_eq!(c.state()["connected"], false);
        c.reached();
        c.set_revision(7);
        assert_eq!((c.state()["connected"].as_bool(), c.state()["revision"].as_i64()), (Some(true), Some(7)));
        c.lost(&super::super::client::Error::Unreachable("x".into()));
        assert!(!c.connected());
        let collector = ContactCollector { contact: c.clone(), descs: Vec::new() };
        let families = collector.collect();
        let value = |name: &str| {
            families.iter().find(|f| f.name() == name).map(|f| f.get_metric()[0].get_gauge().value()).unwrap_or(-1.0)
        };
        assert_eq!(value("hiatus_cluster_connected"), 0.0);
        assert_eq!(value("hiatus_cluster_revision"), 7.0);
        assert!(value("hiatus_cluster_last_contact_timestamp_seconds") > 0.0);
    }
}
